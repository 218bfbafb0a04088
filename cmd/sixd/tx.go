package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger/types"
	"github.com/sixdomain/sixdomain/node"
)

// pollInterval is how often --wait asks for a transaction's status when
// the node has no event stream, and the pause before subscribing again.
const pollInterval = 200 * time.Millisecond

func newTxCmd() *cobra.Command {
	var (
		af                   apiFlags
		stream, value, ctype string
		encryptTo            []string
		wait                 bool
		timeout              time.Duration
	)
	record := &cobra.Command{
		Use:   "record --stream S --value V [--content-type T] [--encrypt-to DID ...] [--wait] [--api URL] [--home DIR]",
		Short: "Sign a data record with the node key and submit it",
		Long: `record builds a data-record transaction (stream, content type and value),
signs it with the node key of the home directory (key_file of config.toml,
else node.key), and submits it to the node's API. The chain ID comes from the
node's /v1/status and the nonce from /v1/nonces/<did>.

With --encrypt-to (repeatable) the value and its content type are encrypted
(HPKE, X25519 key agreement) to the current keys of those DIDs, which the node
resolves: only they can read it, with 'sixd records decrypt'. Everyone still
sees that the record exists, its sender, stream and time, and the recipients'
keys.

It prints the transaction hash. With --wait it then follows the node's event
stream until the transaction is committed and prints the block height.`,
		Example: `  sixd tx record --stream temp --value 21.5 --wait
  sixd tx record --home ./dev1 --api http://127.0.0.1:8645 --stream room1/co2 --value '{"ppm":612}' --content-type application/json
  sixd tx record --stream door/log --value 'opened by badge 4711' --encrypt-to did:key:z6Mk... --wait`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if wait && timeout <= 0 {
				return fmt.Errorf("--timeout must be positive, got %s", timeout)
			}
			home, err := resolveHome(af.home)
			if err != nil {
				return err
			}
			_, key, err := loadHomeKey(home)
			if err != nil {
				return err
			}
			rec := types.DataRecord{Stream: stream, ContentType: ctype, Value: []byte(value)}
			if err := rec.Validate(); err != nil {
				return err
			}
			var recipients []string
			for _, r := range encryptTo {
				if _, err := parseKeyRef(r); err != nil {
					return fmt.Errorf("--encrypt-to: %w", err)
				}
				recipients = append(recipients, r)
			}
			c, err := af.client()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			build := func(string) (types.DataRecord, error) { return rec, nil }
			if len(recipients) > 0 {
				build = func(chainID string) (types.DataRecord, error) {
					return sealRecord(ctx, c, chainID, key, rec, recipients)
				}
			}
			hash, err := submitRecord(ctx, c, key, build, time.Now())
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintln(out, hash)
			if !wait {
				return nil
			}
			st, err := waitCommitted(ctx, c, hash, key.Public().DID(), timeout)
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "committed in block %d\n", st.Height)
			return nil
		},
	}
	f := record.Flags()
	f.StringVar(&stream, "stream", "", "stream name, e.g. temperature/room1 (required)")
	f.StringVar(&value, "value", "", "record value (required; may be empty)")
	f.StringVar(&ctype, "content-type", "", "media type of the value, e.g. application/json")
	f.StringArrayVar(&encryptTo, "encrypt-to", nil, "encrypt the value to this DID or peer ID (repeatable)")
	f.BoolVar(&wait, "wait", false, "wait until the transaction is committed and print its block height")
	f.DurationVar(&timeout, "timeout", 30*time.Second, "how long --wait waits")
	af.add(record)
	_ = record.MarkFlagRequired("stream") // fails only for an undefined flag
	_ = record.MarkFlagRequired("value")  // fails only for an undefined flag
	return groupCmd("tx", "Build, sign and submit transactions", record)
}

// submitRecord asks the node for the chain ID and the next nonce, then
// signs the record that build returns for the chain ID and submits it. It
// returns the transaction hash.
func submitRecord(ctx context.Context, c *apiClient, key *identity.PrivateKey, build func(chainID string) (types.DataRecord, error), now time.Time) (types.Hash, error) {
	var status node.StatusResponse
	if err := c.getJSON(ctx, "/v1/status", &status); err != nil {
		return types.Hash{}, fmt.Errorf("reading the chain ID: %w", err)
	}
	rec, err := build(status.ChainID)
	if err != nil {
		return types.Hash{}, err
	}
	nonce, err := nextNonce(ctx, c, key.Public().DID())
	if err != nil {
		return types.Hash{}, err
	}
	tx, err := types.NewDataRecordTx(status.ChainID, nonce, now.UnixMilli(), rec)
	if err != nil {
		return types.Hash{}, err
	}
	tx.Sign(key)
	return postTx(ctx, c, tx, "record")
}

// sealRecord encrypts rec's content type and value to the current keys of
// the recipients (DIDs or peer IDs), which the node resolves.
func sealRecord(ctx context.Context, c *apiClient, chainID string, key *identity.PrivateKey, rec types.DataRecord, recipients []string) (types.DataRecord, error) {
	var keys []identity.PublicKey
	for _, ref := range recipients {
		r, err := resolveDID(ctx, c, ref, time.Time{}, 0)
		if err != nil {
			return types.DataRecord{}, fmt.Errorf("--encrypt-to: %w", err)
		}
		if r.Registered && !r.Active() {
			return types.DataRecord{}, fmt.Errorf("--encrypt-to: %s is %s; refusing to encrypt to it", r.Canonical.DID(), admissionState(r))
		}
		if !slices.Contains(keys, r.Key) {
			keys = append(keys, r.Key)
		}
	}
	sealed, err := types.NewSealedRecord(rand.Reader, chainID, key.Public(), rec.Stream, rec.ContentType, rec.Value, keys)
	if err != nil {
		return types.DataRecord{}, fmt.Errorf("encrypting the record: %w", err)
	}
	return sealed, nil
}
