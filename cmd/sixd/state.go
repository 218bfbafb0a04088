package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/sixdomain/sixdomain/consensus"
	"github.com/sixdomain/sixdomain/ledger"
	"github.com/sixdomain/sixdomain/ledger/types"
	"github.com/sixdomain/sixdomain/node"
)

func newStateCmd() *cobra.Command {
	return groupCmd("state", "Get and verify proofs of the state tree (nonces, DID records, the authority set)",
		newStateProofCmd(), newStateVerifyCmd())
}

func newStateProofCmd() *cobra.Command {
	var (
		af     apiFlags
		out    string
		height uint64
	)
	cmd := &cobra.Command{
		Use:   "proof KEY [--height H] [--out FILE] [--api URL]",
		Short: "Fetch the proof of a state key's value, with its block's finality",
		Long: `proof fetches from the node the value of one key of the state tree after a
finalized block (the head by default), or its absence, proven against the
block's state root, with the proof that the block is final. KEY is one of

  nonce/<did or peer ID>    a sender's last committed nonce
  did/<did>                 a DID's latest registry record
  didkey/<did>              the DID a key belongs or belonged to
  authorities               the authority set
  0x<hex>                   any key, raw

It writes the proof as JSON to --out FILE, or to stdout. Check it offline
with 'sixd state verify'.`,
		Args: exactArgs(1, "the state key, e.g. nonce/did:key:z6Mk... or authorities"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := ledger.ParseStateKey(args[0], node.ParseSender); err != nil {
				return err
			}
			c, err := af.client()
			if err != nil {
				return err
			}
			q := url.Values{"key": {args[0]}}
			if height > 0 {
				q.Set("height", strconv.FormatUint(height, 10))
			}
			var p types.StateProof
			if err := c.getJSON(cmd.Context(), "/v1/state/proof?"+q.Encode(), &p); err != nil {
				return err
			}
			return writeProofOut(cmd, out, &p, fmt.Sprintf("the proof of %s at block %d", args[0], p.Height))
		},
	}
	af.add(cmd)
	cmd.Flags().StringVar(&out, "out", "", "file to write the proof to (default stdout)")
	cmd.Flags().Uint64Var(&height, "height", 0, "the block after which to prove the key (default the finalized head)")
	return cmd
}

func newStateVerifyCmd() *cobra.Command {
	var (
		genesisFile, home string
		maxAge            time.Duration
		minHeight         uint64
	)
	cmd := &cobra.Command{
		Use:   "verify FILE [--genesis GENESIS.toml] [--max-age D] [--min-height H]",
		Short: "Verify a state proof offline, with only the genesis",
		Long: `verify checks a proof written by 'sixd state proof' with no network and
nothing but the genesis file: the key's value (or absence) against the
block's state root, and the block's finality from the genesis authorities,
across every authority-set change since (docs/PROTOCOL.md).

A proof can be valid and still stale: --max-age refuses a block older than
D (against this machine's clock), --min-height one below H.

It exits 0 and prints the value if the proof is valid, and exits 1 with the
reason otherwise.`,
		Args: exactArgs(1, "the proof file (or - for stdin)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			g, err := verifierGenesis(genesisFile, home)
			if err != nil {
				return err
			}
			p, err := readStateProof(cmd.InOrStdin(), args[0])
			if err != nil {
				return err
			}
			_, h, err := consensus.VerifyStateProof(consensus.GenesisTrust(g), p)
			if err != nil {
				if !errors.Is(err, types.ErrBadProof) {
					err = fmt.Errorf("%w: %w", types.ErrBadProof, err)
				}
				return err
			}
			if h.Height < minHeight {
				return fmt.Errorf("%w: the proof is of block %d, below --min-height %d", consensus.ErrStaleProof, h.Height, minHeight)
			}
			if age := time.Since(h.BlockTime()); maxAge > 0 && age > maxAge {
				return fmt.Errorf("%w: block %d is %s old, more than --max-age %s", consensus.ErrStaleProof, h.Height, age.Round(time.Second), maxAge)
			}
			name := ledger.DescribeStateKey(p.Key)
			val := "absent"
			if p.Present {
				val = describeStateValue(p.Key, p.Value)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "valid: %s = %s after block %d (%s, %s), final\n",
				name, val, h.Height, h.Hash(), h.BlockTime().UTC().Format(timeLayout))
			return nil
		},
	}
	cmd.Flags().StringVar(&genesisFile, "genesis", "", "genesis file of the chain (default <home>/genesis.toml)")
	cmd.Flags().DurationVar(&maxAge, "max-age", 0, "refuse a proof of a block older than this (0: any age)")
	cmd.Flags().Uint64Var(&minHeight, "min-height", 0, "refuse a proof of a block below this height")
	addHomeFlag(cmd, &home)
	return cmd
}

// describeStateValue prints a proven value for people.
func describeStateValue(key, value []byte) string {
	switch {
	case bytes.HasPrefix(key, []byte("nonce/")) && len(value) == 8:
		var n uint64
		for _, b := range value {
			n = n<<8 | uint64(b)
		}
		return strconv.FormatUint(n, 10)
	case string(key) == "authorities":
		set, err := ledger.DecodeAuthorities(value)
		if err == nil {
			s := fmt.Sprintf("%d authorities:", len(set))
			for _, k := range set {
				s += " " + k.DID()
			}
			return s
		}
	case bytes.HasPrefix(key, []byte("did/")):
		if rec, err := types.DecodeDIDRecord(value); err == nil {
			return fmt.Sprintf("DID record version %d (%s)", rec.Version, rec.DID())
		}
	}
	return "0x" + hex.EncodeToString(value)
}

// readStateProof reads and strictly decodes a state proof file ("-" is
// stdin).
func readStateProof(stdin io.Reader, path string) (*types.StateProof, error) {
	var r io.Reader = stdin
	name := "stdin"
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r, name = f, path
	}
	data, err := io.ReadAll(io.LimitReader(r, types.MaxStateProofBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading proof %s: %w", name, err)
	}
	if len(data) > types.MaxStateProofBytes {
		return nil, fmt.Errorf("proof %s is larger than %d bytes", name, types.MaxStateProofBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var p types.StateProof
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("invalid proof: %s: not a state proof JSON document: %w", name, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("invalid proof: %s: data after the proof document", name)
	}
	if len(p.Key) == 0 || len(p.Header) == 0 || len(p.Proof) == 0 {
		return nil, fmt.Errorf("invalid proof: %s: key, header and proof are required", name)
	}
	if p.Finality == nil {
		return nil, fmt.Errorf("%w: %s carries no finality proof; fetch it again with 'sixd state proof'", consensus.ErrNotProvenFinal, name)
	}
	return &p, nil
}
