package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sixdomain/sixdomain/node"
)

// idOutput is the JSON form of `sixd id --json`.
type idOutput struct {
	PeerID      string   `json:"peer_id"`
	DID         string   `json:"did"`
	KeyFile     string   `json:"key_file"`
	ListenAddrs []string `json:"listen_addrs"` // p2p.listen as configured, with /p2p/<peer ID>
	// Addrs are what other peers should dial: p2p.announce if set, else
	// p2p.listen with wildcard hosts expanded to this machine's interface
	// addresses, without p2p.no_announce, each with /p2p/<peer ID>.
	Addrs []string `json:"addrs"`
}

func newIDCmd() *cobra.Command {
	var (
		home   string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "id [--home DIR] [--json]",
		Short: "Print the node's peer ID, DID and the addresses peers should dial",
		Long: `id prints the peer ID and did:key of the node key in the home directory, and
the addresses other peers should dial to reach the node, with /p2p/<peer ID>
appended: p2p.announce of its config.toml if set, else p2p.listen with the
wildcard hosts 0.0.0.0 and :: replaced by this machine's interface
addresses (loopback only when there is no other), in both cases without the
addresses p2p.no_announce removes. Port 0 is printed as configured: the port
is only known once the node runs (GET /v1/status lists the bound ones).
--json also lists p2p.listen as configured.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			home, err := resolveHome(home)
			if err != nil {
				return err
			}
			cfg, hasConfig, err := loadConfigIfPresent(home)
			if err != nil {
				return err
			}
			path, key, err := loadHomeKey(home)
			if err != nil {
				return err
			}
			pub := key.Public()
			o := idOutput{PeerID: pub.PeerID().String(), DID: pub.DID(), KeyFile: path, ListenAddrs: []string{}, Addrs: []string{}}
			if hasConfig {
				for _, a := range cfg.P2P.Listen {
					o.ListenAddrs = append(o.ListenAddrs, a+"/p2p/"+o.PeerID)
				}
				addrs, err := node.DialAddrs(pub.PeerID(), cfg.P2P.Listen, cfg.P2P.Announce, cfg.P2P.NoAnnounce)
				if err != nil {
					return err
				}
				o.Addrs = append(o.Addrs, addrs...)
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(o)
			}
			fmt.Fprintf(out, "peer ID: %s\n", o.PeerID)
			fmt.Fprintf(out, "DID:     %s\n", o.DID)
			fmt.Fprintf(out, "key:     %s\n", o.KeyFile)
			if !hasConfig {
				fmt.Fprintf(out, "dial:    (no %s in %s)\n", configFileName, home)
				return nil
			}
			fmt.Fprintln(out, "dial:")
			for _, a := range o.Addrs {
				fmt.Fprintf(out, "  %s\n", a)
			}
			if len(o.Addrs) == 0 {
				fmt.Fprintln(out, "  (none: every address is removed by p2p.no_announce)")
			}
			return nil
		},
	}
	addHomeFlag(cmd, &home)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
