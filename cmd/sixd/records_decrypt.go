package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger/types"
	"github.com/sixdomain/sixdomain/node"
)

// decryptedRecord is the JSON form of `sixd records decrypt --json`.
type decryptedRecord struct {
	TxHash      types.Hash     `json:"tx_hash"`
	Status      string         `json:"status"`
	Height      uint64         `json:"height,omitempty"`
	Sender      string         `json:"sender"`
	Nonce       uint64         `json:"nonce"`
	Timestamp   int64          `json:"timestamp_ms"`
	Stream      string         `json:"stream"`
	ContentType string         `json:"content_type,omitempty"`
	Value       *string        `json:"value,omitempty"`     // when valid UTF-8
	ValueHex    types.HexBytes `json:"value_hex,omitempty"` // otherwise
}

func newRecordsDecryptCmd() *cobra.Command {
	var (
		af      apiFlags
		keyFile string
		asJSON  bool
	)
	cmd := &cobra.Command{
		Use:   "decrypt TX-HASH [--home DIR | --key FILE] [--api URL] [--json]",
		Short: "Decrypt an encrypted record sent to this key",
		Long: `decrypt fetches the transaction TX-HASH from the node, and decrypts its
record, encrypted with 'sixd tx record --encrypt-to', with the node key of the
home directory or the key in --key FILE (an encrypted key file is read with
$SIXD_PASSPHRASE_FILE or $SIXD_PASSPHRASE). The key must be one the record
was encrypted to. Decryption also checks that the record was sealed for this
chain, sender and stream.

It writes the plaintext value to stdout as it is (raw bytes, no newline added).
--json prints the stream, the real content type, the value (value_hex if it
is not UTF-8), the sender and the block height instead.`,
		Example: `  sixd records decrypt 3f1c...e9 --home ./app > reading.json
  sixd records decrypt 3f1c...e9 --key ./operator.key --api http://gw:8645 --json`,
		Args: exactArgs(1, "the transaction hash (64 hex digits)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			hash, err := types.ParseHash(strings.TrimSpace(args[0]))
			if err != nil {
				return fmt.Errorf("transaction hash %q: want 64 hex digits", truncate(args[0], 80))
			}
			var key *identity.PrivateKey
			if keyFile != "" {
				if key, err = loadKey(keyFile, "key"); err != nil {
					return err
				}
			} else {
				home, err := resolveHome(af.home)
				if err != nil {
					return err
				}
				if _, key, err = loadHomeKey(home); err != nil {
					return err
				}
			}
			c, err := af.client()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			var st node.TxStatus
			if err := c.getJSON(ctx, "/v1/txs/"+hash.String(), &st); err != nil {
				return fmt.Errorf("transaction %s: %w", hash, err)
			}
			if st.Tx == nil || st.Tx.Record == nil || st.Tx.Record.ContentType != types.EnvelopeContentType {
				return fmt.Errorf("transaction %s is not an encrypted record", hash)
			}
			p := st.Tx.Record
			rec := types.DataRecord{Stream: p.Stream, ContentType: p.ContentType, Value: p.ValueHex}
			if len(rec.Value) == 0 && p.Value != "" {
				rec.Value = []byte(p.Value)
			}
			sender, err := identity.ParseDID(st.Tx.Sender)
			if err != nil {
				return fmt.Errorf("transaction %s: sender: %w", hash, err)
			}
			recipients, err := rec.Recipients()
			if err != nil {
				return fmt.Errorf("transaction %s: %w", hash, err)
			}
			me := key.Public()
			if !slices.Contains(recipients, me) {
				return fmt.Errorf("this key (%s) is not among the record's %d recipients", me.DID(), len(recipients))
			}
			var status node.StatusResponse
			if err := c.getJSON(ctx, "/v1/status", &status); err != nil {
				return fmt.Errorf("reading the chain ID: %w", err)
			}
			ctype, value, err := types.OpenSealedRecord(key, status.ChainID, sender, &rec)
			if err != nil {
				if errors.Is(err, identity.ErrDecrypt) {
					return fmt.Errorf("transaction %s: the record does not decrypt with %s for chain %q, sender %s and stream %q: %w", hash, me.DID(), status.ChainID, sender.DID(), rec.Stream, err)
				}
				return fmt.Errorf("transaction %s: %w", hash, err)
			}
			out := cmd.OutOrStdout()
			if !asJSON {
				_, err := out.Write(value)
				return err
			}
			d := decryptedRecord{TxHash: hash, Status: st.Status, Height: st.Height, Sender: sender.DID(), Nonce: st.Tx.Nonce,
				Timestamp: st.Tx.Timestamp, Stream: rec.Stream, ContentType: ctype}
			if utf8.Valid(value) {
				v := string(value)
				d.Value = &v
			} else {
				d.ValueHex = value
			}
			enc := json.NewEncoder(out)
			enc.SetIndent("", "  ")
			return enc.Encode(d)
		},
	}
	af.add(cmd)
	cmd.Flags().StringVar(&keyFile, "key", "", "key file to decrypt with instead of the home's node key")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the record and its decrypted value as JSON")
	return cmd
}
