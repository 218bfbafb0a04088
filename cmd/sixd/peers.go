package main

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"unicode"

	"github.com/spf13/cobra"

	"github.com/sixdomain/sixdomain/node"
)

func newPeersCmd() *cobra.Command {
	var (
		af        apiFlags
		asJSON    bool
		protocols bool
	)
	cmd := &cobra.Command{
		Use:   "peers [--api URL] [--json] [--protocols]",
		Short: "List the node's connected peers: role, direction, latency, score, address, agent",
		Long: `peers asks a running node for GET /v1/peers and prints one line per
connected peer, sorted by role (authority, bootstrap, device, gateway,
unknown), then peer ID: its peer ID, role (authority when its key is in the
head's authority set, else the role its agent names), the direction of its
first connection, the latency the node measured (- when not yet measured),
the GossipSub score the node gives it, the remote address of its first
connection and its agent. --protocols also lists each peer's protocols
after the table. --json prints the node's JSON answer as it is.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := af.client()
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			var resp node.PeersResponse
			if done, err := fetchOrEcho(cmd.Context(), c, "/v1/peers", asJSON, out, &resp); done || err != nil {
				return err
			}
			return printPeers(out, resp.Peers, protocols)
		},
	}
	af.add(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the node's JSON answer")
	cmd.Flags().BoolVar(&protocols, "protocols", false, "list each peer's protocols too")
	return cmd
}

// sortPeers orders peers by role, then peer ID.
func sortPeers(peers []node.PeerJSON) {
	slices.SortFunc(peers, func(a, b node.PeerJSON) int {
		return cmp.Or(strings.Compare(a.Role, b.Role), strings.Compare(a.PeerID, b.PeerID))
	})
}

func printPeers(out io.Writer, peers []node.PeerJSON, protocols bool) error {
	if len(peers) == 0 {
		_, err := fmt.Fprintln(out, "no connected peers")
		return err
	}
	peers = slices.Clone(peers)
	sortPeers(peers)
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "PEER ID\tROLE\tDIRECTION\tLATENCY\tSCORE\tADDRESS\tAGENT")
	for _, p := range peers {
		latency := "-"
		if p.LatencyMs > 0 {
			latency = strconv.FormatFloat(p.LatencyMs, 'f', 1, 64) + "ms"
		}
		addr := "-"
		if len(p.Addrs) > 0 {
			addr = p.Addrs[0]
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%.2f\t%s\t%s\n", printable(p.PeerID), printable(p.Role), printable(p.Direction),
			latency, p.Score, printable(addr), printable(p.Agent))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if !protocols {
		return nil
	}
	for _, p := range peers {
		fmt.Fprintf(out, "\nprotocols of %s (%s):\n", printable(p.PeerID), printable(p.Role))
		if len(p.Protocols) == 0 {
			fmt.Fprintln(out, "  (none known)")
		}
		for _, pr := range p.Protocols {
			fmt.Fprintf(out, "  %s\n", printable(pr))
		}
	}
	return nil
}

// printable keeps a peer-supplied string (an agent, a protocol) on one
// cell of one line: "-" when empty, quoted when it has tabs, line breaks
// or other non-printable characters. Spaces are kept (an agent has some).
func printable(s string) string {
	if s == "" {
		return "-"
	}
	if strings.ContainsFunc(s, func(r rune) bool { return r != ' ' && (unicode.IsSpace(r) || !unicode.IsPrint(r)) }) {
		return strconv.Quote(s)
	}
	return s
}
