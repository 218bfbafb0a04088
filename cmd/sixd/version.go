package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/sixdomain/sixdomain/node"
)

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the versions of sixd, Go and libp2p",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "sixd %s\n", node.Version)
			bi, ok := debug.ReadBuildInfo()
			if ok {
				for _, s := range bi.Settings {
					if s.Key == "vcs.revision" {
						fmt.Fprintf(out, "commit:           %s\n", s.Value)
					}
				}
			}
			fmt.Fprintf(out, "go:               %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
			fmt.Fprintf(out, "go-libp2p:        %s\n", moduleVersion(bi, ok, "github.com/libp2p/go-libp2p"))
			fmt.Fprintf(out, "go-libp2p-pubsub: %s\n", moduleVersion(bi, ok, "github.com/libp2p/go-libp2p-pubsub"))
			return nil
		},
	}
}

// moduleVersion returns the version of module path linked into the binary.
func moduleVersion(bi *debug.BuildInfo, ok bool, path string) string {
	if !ok {
		return "unknown (no build information)"
	}
	for _, m := range bi.Deps {
		if m.Path != path {
			continue
		}
		if m.Replace != nil {
			return fmt.Sprintf("%s (replaced by %s %s)", m.Version, m.Replace.Path, m.Replace.Version)
		}
		return m.Version
	}
	return "unknown (not in build information)"
}
