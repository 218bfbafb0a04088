package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/spf13/cobra"

	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger/types"
)

func newDIDCmd() *cobra.Command {
	doc := &cobra.Command{
		Use:   "doc DID|PEER-ID",
		Short: "Print the DID document of a did:key or Ed25519 peer ID (offline)",
		Long: `doc prints the W3C DID document of an Ed25519 did:key as indented JSON. A
libp2p peer ID of an Ed25519 key is accepted too and converted to its did:key.
It needs no network: a did:key document is derived from the key itself.`,
		Example: `  sixd did doc did:key:z6MktwupdmLXVVqTzCw4i46r4uGyosGXRnR3XjN4Zq7oMMsw
  sixd did doc 12D3KooW...`,
		Args: exactArgs(1, "one did:key or peer ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			pub, err := parseKeyRef(args[0])
			if err != nil {
				return err
			}
			d, err := identity.ResolveKeyDocument(pub.DID())
			if err != nil {
				return err
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			return enc.Encode(d)
		},
	}
	c := groupCmd("did", "DIDs: did:key documents and the ledger's DID registry", doc,
		newDIDResolveCmd(), newDIDRegisterCmd(), newDIDRequestCmd(), newDIDOnboardCmd(), newDIDAdmitCmd(),
		newDIDRevokeCmd(), newDIDStateCmd(types.OpDeactivate), newDIDStateCmd(types.OpReactivate),
		newDIDRotateCmd(), newDIDServiceCmd())
	c.Long = `did works with DIDs: the did:key of every Ed25519 key, and the ledger's DID
registry, where a DID gets an ISO/IEC 30141 domain, a role, controllers,
services, key rotation and, on chains with admission = "admitted", an
admission.

Registry commands sign with the node key of the home directory and submit to
the node's API (--api, default from the home's config.toml). Commands that
change a DID apply to its current version, which they read from the node.

Onboarding a device on an admitted chain:
  device$  sixd did request --domain sensing --role device --out req.json
  gateway$ sixd did onboard req.json --wait`
	return c
}

// parseKeyRef accepts an Ed25519 did:key or an Ed25519 peer ID.
func parseKeyRef(s string) (identity.PublicKey, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "did:") {
		return identity.ParseDID(s)
	}
	id, err := peer.Decode(s)
	if err != nil {
		return identity.PublicKey{}, fmt.Errorf("%q is neither a did:key (did:key:z6Mk...) nor a peer ID", truncate(s, 80))
	}
	return identity.PublicKeyFromPeerID(id)
}

// truncate shortens s to at most n runes for messages.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
