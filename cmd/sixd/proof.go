package main

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/sixdomain/sixdomain/consensus"
	"github.com/sixdomain/sixdomain/ledger/types"
	"github.com/sixdomain/sixdomain/node"
)

// maxProofFile bounds how much of a proof file is read.
const maxProofFile = 4 << 20

func newProofCmd() *cobra.Command {
	return groupCmd("proof", "Get and verify transaction inclusion proofs", newProofGetCmd(), newProofVerifyCmd())
}

func newProofGetCmd() *cobra.Command {
	var (
		af  apiFlags
		out string
	)
	cmd := &cobra.Command{
		Use:   "get TXHASH [--out FILE] [--api URL]",
		Short: "Fetch the inclusion proof of a committed transaction",
		Long: `get fetches the inclusion proof of a committed transaction from the node and
writes it as JSON to --out FILE, or to stdout. Check it offline with
'sixd proof verify'.`,
		Args: exactArgs(1, "the transaction hash (64 hex digits)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			hash, err := types.ParseHash(strings.TrimSpace(args[0]))
			if err != nil {
				return fmt.Errorf("transaction hash %q: %w", truncate(args[0], 80), err)
			}
			c, err := af.client()
			if err != nil {
				return err
			}
			var p types.TxProof
			if err := c.getJSON(cmd.Context(), "/v1/proofs/"+hash.String(), &p); err != nil {
				return err
			}
			if p.TxHash != hash {
				return fmt.Errorf("the node answered with the proof of %s, not %s", p.TxHash, hash)
			}
			return writeProofOut(cmd, out, &p, fmt.Sprintf("proof of tx %s (block %d)", hash, p.Height))
		},
	}
	af.add(cmd)
	cmd.Flags().StringVar(&out, "out", "", "file to write the proof to (default stdout)")
	return cmd
}

func newProofVerifyCmd() *cobra.Command {
	var genesisFile, home string
	var sealOnly bool
	cmd := &cobra.Command{
		Use:   "verify FILE [--genesis GENESIS.toml]",
		Short: "Verify a transaction inclusion proof and its block's finality offline",
		Long: `verify checks a proof written by 'sixd proof get' against a genesis file,
with no network: the transaction's signature, its Merkle path to the block's
transaction root, and that the block is final — the finality certificate
(votes of more than 2/3 of the authorities) of the block or of a descendant
linked to it by headers, and, across every authority-set change since the
genesis, the handoff that certifies the new set (docs/PROTOCOL.md, Proofs
of finality). FILE "-" reads stdin.

--seal-only accepts a proof without a finality proof and checks only that a
genesis authority sealed the block (the check of earlier versions; it shows
that one authority signed the block, not that it is final).

It exits 0 and prints what the proof shows if it is valid, and exits 1 with
the reason otherwise. --genesis defaults to the home directory's genesis.`,
		Args: exactArgs(1, "the proof file (or - for stdin)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			g, err := verifierGenesis(genesisFile, home)
			if err != nil {
				return err
			}
			p, err := readProof(cmd.InOrStdin(), args[0])
			if err != nil {
				return err
			}
			var (
				h     *types.Header
				tx    *types.Tx
				final string
			)
			switch {
			case p.Finality != nil:
				h, tx, _, err = consensus.VerifyFinalTxProof(consensus.GenesisTrust(g), p)
				final = fmt.Sprintf("final (certificate of %d votes", len(p.Finality.Final.Votes))
				if n := len(p.Finality.Handoffs); n > 0 {
					final += fmt.Sprintf(", %d authority-set handoffs", n)
				}
				final += ")"
			case sealOnly:
				h, tx, err = consensus.VerifyProof(g, nil, p)
				final = "sealed (finality not checked: --seal-only)"
			default:
				err = fmt.Errorf("%w: the proof carries no finality proof; fetch it again with 'sixd proof get' (or pass --seal-only to check the seal alone)", consensus.ErrNotProvenFinal)
			}
			if err != nil {
				if !errors.Is(err, types.ErrBadProof) {
					err = fmt.Errorf("%w: %w", types.ErrBadProof, err)
				}
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "valid: tx %s in block %d (%s), %s, sealed by %s at %s; sender %s nonce %d; %s\n",
				tx.Hash(), h.Height, h.Hash(), final, h.Proposer.DID(), h.BlockTime().UTC().Format(timeLayout),
				tx.Sender.DID(), tx.Nonce, describePayload(tx))
			return nil
		},
	}
	cmd.Flags().StringVar(&genesisFile, "genesis", "", "genesis file of the chain (default <home>/genesis.toml)")
	cmd.Flags().BoolVar(&sealOnly, "seal-only", false, "accept a proof without finality, checking only the seal by a genesis authority")
	addHomeFlag(cmd, &home)
	return cmd
}

// writeProofOut writes a proof as indented JSON to stdout (out "" or "-")
// or atomically to the file out, then says what it wrote where.
func writeProofOut(cmd *cobra.Command, out string, proof any, what string) error {
	data, err := json.MarshalIndent(proof, "", "  ")
	if err != nil {
		return err
	}
	data = append(data, '\n')
	if out == "" || out == "-" {
		_, err := cmd.OutOrStdout().Write(data)
		return err
	}
	if err := writeFileAtomic(out, data, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "wrote %s to %s\n", what, out)
	return nil
}

// verifierGenesis loads the genesis an offline verifier checks against:
// --genesis, or the home's.
func verifierGenesis(genesisFile, home string) (*types.Genesis, error) {
	if genesisFile == "" {
		var err error
		if genesisFile, err = defaultGenesisFile(home); err != nil {
			return nil, err
		}
	}
	return types.LoadGenesis(genesisFile)
}

// defaultGenesisFile returns the genesis of the home directory: genesis_file
// of its config.toml, else genesis.toml.
func defaultGenesisFile(homeFlag string) (string, error) {
	home, err := resolveHome(homeFlag)
	if err != nil {
		return "", fmt.Errorf("no --genesis given: %w", err)
	}
	path := filepath.Join(home, genesisFileName)
	if cfg, ok, err := loadConfigIfPresent(home); err == nil && ok {
		path = cfg.GenesisFile
	}
	if ok, _ := fileExists(path); !ok {
		return "", fmt.Errorf("no --genesis given and there is no %s", path)
	}
	return path, nil
}

// readProof reads and strictly decodes a proof file ("-" is stdin).
func readProof(stdin io.Reader, path string) (*types.TxProof, error) {
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
	data, err := io.ReadAll(io.LimitReader(r, maxProofFile+1))
	if err != nil {
		return nil, fmt.Errorf("reading proof %s: %w", name, err)
	}
	if len(data) > maxProofFile {
		return nil, fmt.Errorf("proof %s is larger than %d bytes", name, maxProofFile)
	}
	p, err := node.DecodeProofJSON(data) // the decoding POST /v1/proofs/verify applies
	if err != nil {
		return nil, fmt.Errorf("invalid proof: %s: %w", name, err)
	}
	return p, nil
}

// describePayload summarises a transaction's payload for `proof verify`.
func describePayload(tx *types.Tx) string {
	if tx.Type != types.TxDataRecord {
		return fmt.Sprintf("type %s, %d payload bytes", tx.Type, len(tx.Payload))
	}
	rec, err := types.DecodeDataRecord(tx.Payload)
	if err != nil {
		return fmt.Sprintf("record payload does not decode: %v", err)
	}
	v := "0x" + hex.EncodeToString(rec.Value)
	if utf8.Valid(rec.Value) {
		v = quoteIfNeeded(string(rec.Value))
	}
	s := fmt.Sprintf("record stream=%s value=%s", rec.Stream, v)
	if rec.ContentType != "" {
		s += " content_type=" + quoteIfNeeded(rec.ContentType)
	}
	return s
}

// writeFileAtomic writes data to path through a temporary file in the same
// directory, replacing path.
func writeFileAtomic(path string, data []byte, perm os.FileMode) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return err
	}
	if err = tmp.Chmod(perm); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if fi, serr := os.Stat(path); serr == nil && fi.IsDir() {
		return errors.New(path + " is a directory")
	}
	return os.Rename(tmp.Name(), path)
}
