package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sixdomain/sixdomain/ledger/assets"
	"github.com/sixdomain/sixdomain/ledger/types"
	"github.com/sixdomain/sixdomain/node"
)

// Native assets (ledger/assets): asset transactions signed with the home
// key, and the denomination and balance reads of the API.

func newAssetCmd() *cobra.Command {
	c := groupCmd("asset", "Native assets: issue, mint, send, burn, freeze, clawback, device assets, balances",
		newAssetIssueCmd(), newAssetMintCmd(), newAssetSendCmd(), newAssetBurnCmd(),
		newAssetFreezeCmd(assets.OpFreeze), newAssetFreezeCmd(assets.OpUnfreeze), newAssetClawbackCmd(),
		newAssetRenounceCmd(), newAssetBindDeviceCmd(), newAssetTransferDeviceCmd(),
		newAssetBalanceCmd(), newAssetInfoCmd())
	c.Long = `asset works with the ledger's native assets: fungible denominations with an
issuer DID, decimals, a maximum supply, a mint authority and optional freeze
and clawback powers (which the issuer may renounce for good), and
device-bound assets, one per registered device DID, owned by its controller.

Commands that change state sign an asset transaction with the home's node
key and submit it to the node's API; with --wait they wait until it is
committed and print its receipt. An operation the ledger refuses (too little
balance, not the issuer, ...) is still included: it consumes its nonce and
its receipt says why (the command then fails). Amounts are integers in the
denomination's base units (10^decimals base units make one unit).

Accounts are DIDs (a registered DID's balances are held by its ID, so that a
key rotation keeps them), peer IDs, or a contract's 0x address.`
	return c
}

// parseAmount parses an amount in base units: a positive integer.
func parseAmount(s string) (uint64, error) {
	n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 64)
	if err != nil || n == 0 {
		if strings.ContainsAny(s, ".,eE") {
			return 0, fmt.Errorf("amount %q: amounts are positive integers in base units (10^decimals base units make one unit)", truncate(s, 40))
		}
		return 0, fmt.Errorf("amount %q: want a positive integer below 2^64", truncate(s, 40))
	}
	return n, nil
}

// checkDenomName refuses a name no denomination can have.
func checkDenomName(name string) error {
	if err := assets.ValidDenomName(name); err != nil {
		return fmt.Errorf("denomination %q: 2 to 16 bytes of a-z, 0-9 and '-', starting with a letter", truncate(name, 40))
	}
	return nil
}

// getDenom reads a denomination; an unknown one is a clear error.
func getDenom(ctx context.Context, c *apiClient, name string) (*node.DenomJSON, error) {
	if err := checkDenomName(name); err != nil {
		return nil, err
	}
	var d node.DenomJSON
	if err := c.getJSON(ctx, "/v1/assets/"+url.PathEscape(name), &d); err != nil {
		if isHTTPStatus(err, http.StatusNotFound) {
			return nil, fmt.Errorf("unknown denomination %q (issue it first with 'sixd asset issue')", name)
		}
		return nil, fmt.Errorf("reading denomination %q: %w", name, err)
	}
	return &d, nil
}

// resolveAccount maps a DID, peer ID or 0x address to the asset account
// that holds its balances, as the ledger does: a registered DID's ID
// (asked of the node), else the key; an address as it is.
func resolveAccount(ctx context.Context, c *apiClient, ref string) (assets.Account, error) {
	ref = strings.TrimSpace(ref)
	if rest, ok := strings.CutPrefix(ref, "0x"); ok {
		b, err := hex.DecodeString(rest)
		if err != nil || len(b) != 32 {
			return assets.Account{}, fmt.Errorf("address %q: want 0x and 64 hex digits", truncate(ref, 80))
		}
		return assets.Account(b), nil
	}
	if _, err := parseKeyRef(ref); err != nil {
		return assets.Account{}, fmt.Errorf("%w, nor a 0x address", err)
	}
	r, err := resolveDID(ctx, c, ref, time.Time{}, 0)
	if err != nil {
		return assets.Account{}, err
	}
	return assets.Account(r.Canonical), nil
}

// assetSession opens a signing session and runs an asset operation
// through it: validate, submit, report.
func runAssetOp(cmd *cobra.Command, of *opFlags, build func(ctx context.Context, s *regSession) (*assets.Op, error)) error {
	ctx := cmd.Context()
	s, err := openSession(ctx, of)
	if err != nil {
		return err
	}
	op, err := build(ctx, s)
	if err != nil {
		return err
	}
	if err := op.Validate(); err != nil {
		return err
	}
	tx, err := s.submitTx(ctx, types.TxAsset, op.Encode(), "asset "+op.Kind.String())
	if err != nil {
		return err
	}
	_, err = s.finish(cmd, tx)
	return err
}

func newAssetIssueCmd() *cobra.Command {
	var (
		of        opFlags
		maxSupply uint64
		decimals  uint8
		powers    []string
		mintAuth  string
	)
	cmd := &cobra.Command{
		Use:   "issue DENOM --max-supply N [--decimals D] [--powers freeze,clawback] [--mint-authority DID|0xADDR] [--wait]",
		Short: "Issue a new fungible denomination (the home key's DID is the issuer)",
		Long: `issue creates a denomination named DENOM (2 to 16 bytes of a-z, 0-9 and '-',
starting with a letter). The issuer is the home key's DID, which must be
registered ('sixd did register'). The mint authority (default: the issuer)
mints up to --max-supply base units; --powers asks for the issuer's freeze and
clawback powers, which it may later renounce for good ('sixd asset renounce').`,
		Example: `  sixd asset issue credit --max-supply 1000000 --decimals 2 --wait
  sixd asset issue kwh --max-supply 5000000 --powers freeze,clawback --mint-authority 0x9c1f...`,
		Args: exactArgs(1, "a denomination name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if err := checkDenomName(name); err != nil {
				return err
			}
			if maxSupply == 0 {
				return fmt.Errorf("--max-supply must be at least 1")
			}
			if decimals > assets.MaxDecimals {
				return fmt.Errorf("--decimals %d: at most %d", decimals, assets.MaxDecimals)
			}
			var p assets.Powers
			for _, name := range powers {
				switch strings.TrimSpace(name) {
				case "freeze":
					p |= assets.PowerFreeze
				case "clawback":
					p |= assets.PowerClawback
				case "":
				default:
					return fmt.Errorf("--powers %q: only freeze and clawback may be asked for (mint is always held)", name)
				}
			}
			return runAssetOp(cmd, &of, func(ctx context.Context, s *regSession) (*assets.Op, error) {
				var d node.DenomJSON
				err := s.c.getJSON(ctx, "/v1/assets/"+url.PathEscape(name), &d)
				switch {
				case err == nil:
					return nil, fmt.Errorf("denomination %q exists already (issued by %s)", name, d.Issuer)
				case !isHTTPStatus(err, http.StatusNotFound):
					return nil, err
				}
				if r, err := s.resolve(ctx, s.did()); err != nil {
					return nil, err
				} else if !r.Registered {
					return nil, fmt.Errorf("the issuer %s is not registered: register it first ('sixd did register')", s.did())
				}
				op := &assets.Op{Kind: assets.OpIssue, Denom: name, Decimals: decimals, MaxSupply: maxSupply, Powers: p}
				if mintAuth != "" {
					a, err := resolveAccount(ctx, s.c, mintAuth)
					if err != nil {
						return nil, fmt.Errorf("--mint-authority: %w", err)
					}
					op.Account = a[:]
				}
				return op, nil
			})
		},
	}
	f := cmd.Flags()
	f.Uint64Var(&maxSupply, "max-supply", 0, "maximum supply in base units (required)")
	f.Uint8Var(&decimals, "decimals", 0, "decimals for display (0 to 18): 10^decimals base units make one unit")
	f.StringSliceVar(&powers, "powers", nil, "issuer powers to hold: freeze, clawback (comma-separated)")
	f.StringVar(&mintAuth, "mint-authority", "", "who may mint: a DID, peer ID or 0x contract address (default: the issuer)")
	_ = cmd.MarkFlagRequired("max-supply") // fails only for an undefined flag
	of.add(cmd)
	return cmd
}

// amountCmd builds the commands DENOM AMOUNT [--to ACCOUNT].
func amountCmd(kind assets.OpKind, use, short, long, example, toFlag, toHelp string) *cobra.Command {
	var (
		of opFlags
		to string
	)
	cmd := &cobra.Command{
		Use: use, Short: short, Long: long, Example: example,
		Args: exactArgs(2, "a denomination and an amount"),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if err := checkDenomName(name); err != nil {
				return err
			}
			amount, err := parseAmount(args[1])
			if err != nil {
				return err
			}
			return runAssetOp(cmd, &of, func(ctx context.Context, s *regSession) (*assets.Op, error) {
				if _, err := getDenom(ctx, s.c, name); err != nil {
					return nil, err
				}
				op := &assets.Op{Kind: kind, Denom: name, Amount: amount}
				if toFlag != "" {
					a, err := resolveAccount(ctx, s.c, to)
					if err != nil {
						return nil, fmt.Errorf("--%s: %w", toFlag, err)
					}
					if kind == assets.OpClawback {
						op.Account = a[:]
					} else {
						op.To = a[:]
					}
				}
				return op, nil
			})
		},
	}
	if toFlag != "" {
		cmd.Flags().StringVar(&to, toFlag, "", toHelp+" (required)")
		_ = cmd.MarkFlagRequired(toFlag) // fails only for an undefined flag
	}
	of.add(cmd)
	return cmd
}

func newAssetMintCmd() *cobra.Command {
	return amountCmd(assets.OpMint, "mint DENOM AMOUNT --to DID|0xADDR [--wait]",
		"Mint new units of a denomination to an account (the mint authority only)",
		`mint creates AMOUNT base units of DENOM in the account --to, within the
denomination's maximum supply. Only the mint authority may mint.`,
		`  sixd asset mint credit 100000 --to did:key:z6Mk... --wait`, "to", "the recipient: a DID, peer ID or 0x contract address")
}

func newAssetSendCmd() *cobra.Command {
	return amountCmd(assets.OpSend, "send DENOM AMOUNT --to DID|0xADDR [--wait]",
		"Send units of a denomination from the home key's account",
		`send moves AMOUNT base units of DENOM from the home key's account (its DID's,
if registered) to --to: a DID, a peer ID or a contract's 0x address.`,
		`  sixd asset send credit 250 --to did:key:z6Mk... --wait
  sixd asset send credit 50 --to 0x9c1f...`, "to", "the recipient: a DID, peer ID or 0x contract address")
}

func newAssetBurnCmd() *cobra.Command {
	return amountCmd(assets.OpBurn, "burn DENOM AMOUNT [--wait]",
		"Destroy units of a denomination from the home key's account",
		`burn destroys AMOUNT base units of DENOM from the home key's account; the
supply shrinks by as much.`,
		`  sixd asset burn credit 10 --wait`, "", "")
}

func newAssetClawbackCmd() *cobra.Command {
	return amountCmd(assets.OpClawback, "clawback DENOM AMOUNT --from DID|0xADDR [--wait]",
		"Take units of a denomination back from an account (the issuer, while it holds clawback)",
		`clawback moves AMOUNT base units of DENOM from the account --from to the
issuer. Only the issuer may, and only while the denomination holds the
clawback power (issued with --powers clawback, not renounced).`,
		`  sixd asset clawback kwh 40 --from did:key:z6Mk... --wait`, "from", "the account to take from: a DID, peer ID or 0x address")
}

func newAssetFreezeCmd(kind assets.OpKind) *cobra.Command {
	var of opFlags
	verb := kind.String()
	short := "Freeze an account in a denomination (the issuer, while it holds freeze)"
	long := `freeze stops ACCOUNT from sending, burning or paying fees in DENOM (it can
still receive, and be clawed back). Only the issuer may, while the
denomination holds the freeze power.`
	if kind == assets.OpUnfreeze {
		short = "Unfreeze a frozen account in a denomination (the issuer)"
		long = `unfreeze lets a frozen ACCOUNT send DENOM again. Only the issuer may; it still
can after renouncing freeze.`
	}
	cmd := &cobra.Command{
		Use:     verb + " DENOM ACCOUNT [--wait]",
		Short:   short,
		Long:    long,
		Example: "  sixd asset " + verb + " kwh did:key:z6Mk... --wait",
		Args:    exactArgs(2, "a denomination and an account"),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if err := checkDenomName(name); err != nil {
				return err
			}
			return runAssetOp(cmd, &of, func(ctx context.Context, s *regSession) (*assets.Op, error) {
				if _, err := getDenom(ctx, s.c, name); err != nil {
					return nil, err
				}
				a, err := resolveAccount(ctx, s.c, args[1])
				if err != nil {
					return nil, err
				}
				return &assets.Op{Kind: kind, Denom: name, Account: a[:]}, nil
			})
		},
	}
	of.add(cmd)
	return cmd
}

func newAssetRenounceCmd() *cobra.Command {
	var of opFlags
	cmd := &cobra.Command{
		Use:   "renounce DENOM mint|freeze|clawback [--wait]",
		Short: "Renounce a power of a denomination for good (the issuer)",
		Long: `renounce gives up one power of DENOM for good: mint (no one can mint any
more), freeze (no new freezes; unfreezing stays possible) or clawback.`,
		Example: `  sixd asset renounce kwh clawback --wait`,
		Args:    exactArgs(2, "a denomination and a power (mint, freeze or clawback)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if err := checkDenomName(name); err != nil {
				return err
			}
			var p assets.Powers
			switch args[1] {
			case "mint":
				p = assets.PowerMint
			case "freeze":
				p = assets.PowerFreeze
			case "clawback":
				p = assets.PowerClawback
			default:
				return fmt.Errorf("power %q: want mint, freeze or clawback", truncate(args[1], 40))
			}
			return runAssetOp(cmd, &of, func(ctx context.Context, s *regSession) (*assets.Op, error) {
				if _, err := getDenom(ctx, s.c, name); err != nil {
					return nil, err
				}
				return &assets.Op{Kind: assets.OpRenounce, Denom: name, Powers: p}, nil
			})
		},
	}
	of.add(cmd)
	return cmd
}

// deviceID resolves a device DID to its ID; it must be registered.
func deviceID(ctx context.Context, c *apiClient, ref string) (assets.Account, error) {
	r, err := resolveDID(ctx, c, ref, time.Time{}, 0)
	if err != nil {
		return assets.Account{}, err
	}
	if !r.Registered {
		return assets.Account{}, fmt.Errorf("%s is not registered: a device asset needs a registered device DID", r.Key.DID())
	}
	if r.Props.Role != types.EntityDevice.String() {
		return assets.Account{}, fmt.Errorf("%s has role %s, not device", r.Canonical.DID(), r.Props.Role)
	}
	return assets.Account(r.Canonical), nil
}

func newAssetBindDeviceCmd() *cobra.Command {
	var of opFlags
	cmd := &cobra.Command{
		Use:   "bind-device DID [--wait]",
		Short: "Create the device-bound asset of a registered device DID (its sole controller)",
		Long: `bind-device creates the non-fungible asset of the device DID, owned by the
DID's controller. The home key must be the device DID's sole controller.`,
		Example: `  sixd asset bind-device did:key:z6Mk... --wait`,
		Args:    exactArgs(1, "a device DID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := parseKeyRef(args[0]); err != nil {
				return err
			}
			return runAssetOp(cmd, &of, func(ctx context.Context, s *regSession) (*assets.Op, error) {
				id, err := deviceID(ctx, s.c, args[0])
				if err != nil {
					return nil, err
				}
				return &assets.Op{Kind: assets.OpBindDevice, Account: id[:]}, nil
			})
		},
	}
	of.add(cmd)
	return cmd
}

func newAssetTransferDeviceCmd() *cobra.Command {
	var (
		of opFlags
		to string
	)
	cmd := &cobra.Command{
		Use:   "transfer-device DID --to DID [--wait]",
		Short: "Transfer a device-bound asset; the new owner becomes the device DID's controller",
		Long: `transfer-device hands the device asset of DID to --to. In the same
transaction the new owner becomes the device DID's sole controller: selling a
device hands over control of its identity.`,
		Example: `  sixd asset transfer-device did:key:z6MkDevice... --to did:key:z6MkBuyer... --wait`,
		Args:    exactArgs(1, "a device DID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := parseKeyRef(args[0]); err != nil {
				return err
			}
			return runAssetOp(cmd, &of, func(ctx context.Context, s *regSession) (*assets.Op, error) {
				id, err := deviceID(ctx, s.c, args[0])
				if err != nil {
					return nil, err
				}
				owner, err := resolveAccount(ctx, s.c, to)
				if err != nil {
					return nil, fmt.Errorf("--to: %w", err)
				}
				return &assets.Op{Kind: assets.OpTransferDevice, Account: id[:], To: owner[:]}, nil
			})
		},
	}
	cmd.Flags().StringVar(&to, "to", "", "the new owner: a DID or peer ID (required)")
	_ = cmd.MarkFlagRequired("to") // fails only for an undefined flag
	of.add(cmd)
	return cmd
}

func newAssetBalanceCmd() *cobra.Command {
	var (
		af     apiFlags
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "balance DENOM ACCOUNT [--json] [--api URL]",
		Short: "Print an account's balance of a denomination",
		Long: `balance prints the balance of ACCOUNT (a DID, peer ID or contract 0x address)
in DENOM, in base units, and in units when the denomination has decimals.`,
		Example: `  sixd asset balance credit did:key:z6Mk...
  sixd asset balance credit 0x9c1f... --json`,
		Args: exactArgs(2, "a denomination and an account"),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if err := checkDenomName(name); err != nil {
				return err
			}
			c, err := af.client()
			if err != nil {
				return err
			}
			path := "/v1/assets/" + url.PathEscape(name) + "/balances/" + url.PathEscape(strings.TrimSpace(args[1]))
			raw, err := c.getRaw(cmd.Context(), path)
			if err != nil {
				if isHTTPStatus(err, http.StatusNotFound) {
					return fmt.Errorf("unknown denomination %q", name)
				}
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				_, err := out.Write(raw)
				return err
			}
			var b node.BalanceJSON
			if err := decodeBody(raw, &b); err != nil {
				return err
			}
			line := fmt.Sprintf("%d %s", b.Balance, b.Denom)
			if b.Decimals > 0 {
				line += " (" + formatUnits(b.Balance, b.Decimals) + " units)"
			}
			if b.Frozen {
				line += ", frozen"
			}
			fmt.Fprintln(out, line)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the node's JSON answer")
	af.add(cmd)
	return cmd
}

// formatUnits shows base units as units with decimals places.
func formatUnits(n uint64, decimals uint8) string {
	s := strconv.FormatUint(n, 10)
	d := int(decimals)
	if len(s) <= d {
		s = strings.Repeat("0", d-len(s)+1) + s
	}
	return s[:len(s)-d] + "." + s[len(s)-d:]
}

func newAssetInfoCmd() *cobra.Command {
	var (
		af     apiFlags
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:     "info DENOM [--json] [--api URL]",
		Short:   "Print a denomination: issuer, decimals, supply, mint authority and powers",
		Example: `  sixd asset info credit`,
		Args:    exactArgs(1, "a denomination"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := af.client()
			if err != nil {
				return err
			}
			d, err := getDenom(cmd.Context(), c, args[0])
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := jsonEncoder(out)
				return enc.Encode(d)
			}
			mint := d.MintAuthority
			if mint == "" {
				mint = "none (renounced)"
			}
			fmt.Fprintf(out, "denom:           %s\n", d.Denom)
			fmt.Fprintf(out, "issuer:          %s\n", d.Issuer)
			fmt.Fprintf(out, "decimals:        %d\n", d.Decimals)
			fmt.Fprintf(out, "supply:          %d of %d\n", d.Supply, d.MaxSupply)
			fmt.Fprintf(out, "mint authority:  %s\n", mint)
			fmt.Fprintf(out, "powers:          %s\n", listOrNone(d.Powers))
			fmt.Fprintf(out, "renounced:       %s\n", listOrNone(d.Renounced))
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the denomination as JSON")
	af.add(cmd)
	return cmd
}
