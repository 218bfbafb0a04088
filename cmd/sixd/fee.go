package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sixdomain/sixdomain/ledger/types"
	"github.com/sixdomain/sixdomain/node"
)

func newFeeCmd() *cobra.Command {
	c := groupCmd("fee", "Fees on a chain whose genesis sets [fees]: sponsor a device's fees", newFeeGrantCmd())
	c.Long = `fee works with the fees of a chain whose genesis has a [fees] table
(docs/PROTOCOL.md, Fees): every transaction that is not free pays for its gas
in the fee denomination, to the sealing authority (less the share of the
sender's gateway). Balances of the fee denomination are asset balances:
'sixd asset balance <denom> <did>'.`
	return c
}

func newFeeGrantCmd() *cobra.Command {
	var (
		of        opFlags
		allowance uint64
		expires   uint64
	)
	cmd := &cobra.Command{
		Use:   "grant GRANTEE --allowance N [--expires HEIGHT] [--wait]",
		Short: "Pay the fees of another key or DID (a gateway for its devices)",
		Long: `grant signs, with the home's node key, a fee grant: this node pays the
fees of GRANTEE (a did:key or a peer ID) up to --allowance base units of the
fee denomination in all, until block --expires (0: no end). A device with a
grant needs no balance. --allowance 0 revokes this node's grant. A grantee has
one grant at a time: another sponsor's live grant is not replaced (the
transaction's receipt says fee_grant_taken).`,
		Args: exactArgs(1, "the grantee: a did:key or a peer ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			grantee, err := node.ParseSender(args[0])
			if err != nil {
				return fmt.Errorf("grantee %q: %w", args[0], err)
			}
			ctx := cmd.Context()
			s, err := openSession(ctx, &of)
			if err != nil {
				return err
			}
			if grantee == s.key.Public() {
				return fmt.Errorf("a node cannot grant its own fees")
			}
			g := &types.FeeGrant{Grantee: grantee, Allowance: allowance, Expires: expires}
			tx, err := s.submitTx(ctx, types.TxFeeGrant, g.Encode(), "fee grant")
			if err != nil {
				return err
			}
			_, err = s.finish(cmd, tx)
			return err
		},
	}
	of.add(cmd)
	cmd.Flags().Uint64Var(&allowance, "allowance", 0, "the most this node pays for the grantee, in base units (0 revokes)")
	cmd.Flags().Uint64Var(&expires, "expires", 0, "the last block the grant pays in (0: no end)")
	return cmd
}
