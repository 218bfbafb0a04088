package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"
)

// idOutput is the JSON form of `sixd id --json`.
type idOutput struct {
	PeerID      string   `json:"peer_id"`
	DID         string   `json:"did"`
	KeyFile     string   `json:"key_file"`
	ListenAddrs []string `json:"listen_addrs"`
}

func newIDCmd() *cobra.Command {
	var (
		home   string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "id [--home DIR] [--json]",
		Short: "Print the node's peer ID, DID and listen addresses",
		Long: `id prints the peer ID and did:key of the node key in the home directory, and
the p2p listen addresses of its config.toml with /p2p/<peer ID> appended
(addresses with port 0 or 0.0.0.0 are printed as configured).`,
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
			o := idOutput{PeerID: pub.PeerID().String(), DID: pub.DID(), KeyFile: path, ListenAddrs: []string{}}
			if hasConfig {
				for _, a := range cfg.P2P.Listen {
					o.ListenAddrs = append(o.ListenAddrs, a+"/p2p/"+o.PeerID)
				}
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
				fmt.Fprintf(out, "listen:  (no %s in %s)\n", configFileName, home)
				return nil
			}
			fmt.Fprintln(out, "listen:")
			for _, a := range o.ListenAddrs {
				fmt.Fprintf(out, "  %s\n", a)
			}
			return nil
		},
	}
	addHomeFlag(cmd, &home)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
