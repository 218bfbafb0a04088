package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/sixdomain/sixdomain/node"
)

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version and commit of sixd, and the versions of Go and libp2p",
		Long: `version prints the sixdomain release, the commit the binary was built from
(set by 'make build', else the Go toolchain's VCS stamp, else "unknown"), and
the versions of Go, go-libp2p and go-libp2p-pubsub it was built with.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			bi, ok := debug.ReadBuildInfo()
			return printVersion(cmd.OutOrStdout(), node.Version, node.BuildCommit(), bi, ok)
		},
	}
}

// printVersion writes what 'sixd version' prints.
func printVersion(out io.Writer, version, commit string, bi *debug.BuildInfo, ok bool) error {
	lines := []string{
		"sixd " + version,
		"commit:           " + commit,
		fmt.Sprintf("go:               %s %s/%s", runtime.Version(), runtime.GOOS, runtime.GOARCH),
		"go-libp2p:        " + moduleVersion(bi, ok, "github.com/libp2p/go-libp2p"),
		"go-libp2p-pubsub: " + moduleVersion(bi, ok, "github.com/libp2p/go-libp2p-pubsub"),
	}
	for _, l := range lines {
		if _, err := fmt.Fprintln(out, l); err != nil {
			return fmt.Errorf("writing the version: %w", err)
		}
	}
	return nil
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
