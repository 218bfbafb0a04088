package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/sixdomain/sixdomain/node"
)

func newStatusCmd() *cobra.Command {
	var (
		af     apiFlags
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "status [--api URL] [--json]",
		Short: "Print the node's status: heights, sync, peers, role",
		Long: `status asks a running node for GET /v1/status and prints its head and
finalized heights, whether it is still catching up with its peers (and the
finalized height they reported), its peer count, whether it is an
authority, its role, version, peer ID and the addresses it advertises.
--json prints the node's JSON answer as it is.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := af.client()
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			var s node.StatusResponse
			if done, err := fetchOrEcho(cmd.Context(), c, "/v1/status", asJSON, out, &s); done || err != nil {
				return err
			}
			return printStatus(out, &s)
		},
	}
	af.add(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the node's JSON answer")
	return cmd
}

func printStatus(out io.Writer, s *node.StatusResponse) error {
	sync := "no"
	if s.CatchingUp {
		sync = fmt.Sprintf("yes (peers finalized %d)", s.SyncTarget)
	}
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	for _, row := range [][2]string{
		{"chain:", s.ChainID},
		{"height:", fmt.Sprintf("%d (%s)", s.Height, s.HeadHash)},
		{"finalized:", fmt.Sprint(s.Finalized)},
		{"catching up:", sync},
		{"peers:", fmt.Sprint(s.Peers)},
		{"authority:", yesNo(s.Authority)},
		{"role:", string(s.Role)},
		{"version:", s.Version},
		{"peer ID:", s.PeerID},
		{"mempool:", fmt.Sprint(s.Mempool)},
	} {
		fmt.Fprintf(w, "%s\t%s\n", row[0], row[1])
	}
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(out, "addresses:")
	for _, a := range s.ListenAddrs {
		fmt.Fprintf(out, "  %s\n", a)
	}
	return nil
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
