package devnet

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger/types"
)

// errTxBytes: a reading cannot be padded to exactly Options.TxBytes.
var errTxBytes = errors.New("cannot pad the reading to the requested transaction size")

// signedReading builds a sensor reading's transaction and signs it. With
// txBytes > 0 it first pads the reading's JSON value with trailing spaces
// (still the same JSON) so that the signed transaction encodes to exactly
// txBytes bytes: `sixd devnet --tx-bytes`, which `make bench-compare` uses
// to give CometBFT transactions of the same size. It signs once.
func signedReading(chainID string, nonce uint64, at int64, value string, key *identity.PrivateKey, txBytes int) (*types.Tx, error) {
	v := []byte(value)
	build := func() (*types.Tx, error) {
		return types.NewDataRecordTx(chainID, nonce, at,
			types.DataRecord{Stream: "temperature", ContentType: "application/json", Value: v})
	}
	tx, err := build()
	if err != nil {
		return nil, err
	}
	if txBytes > 0 {
		// An Ed25519 signature is always 64 bytes: measure with a
		// placeholder, sign the final one.
		tx.Sender, tx.Signature = key.Public(), make([]byte, 64)
		for range 4 { // a CBOR length header can grow by a byte or two as the value grows
			n := len(tx.Encode())
			if n == txBytes {
				break
			}
			pad := len(v) + txBytes - n
			if pad < len(value) {
				return nil, fmt.Errorf("%w: the reading alone takes %d bytes, more than %d", errTxBytes, n, txBytes)
			}
			v = append([]byte(value), bytes.Repeat([]byte{' '}, pad-len(value))...)
			if tx, err = build(); err != nil {
				return nil, err
			}
			tx.Sender, tx.Signature = key.Public(), make([]byte, 64)
		}
		if n := len(tx.Encode()); n != txBytes {
			return nil, fmt.Errorf("%w: %d bytes is not reachable (a CBOR length header grows there), got %d", errTxBytes, txBytes, n)
		}
	}
	tx.Sign(key)
	return tx, nil
}

// checkTxBytes refuses a --tx-bytes smaller than the largest reading the
// run can sign (its nonces grow with rate × duration) or larger than a
// transaction may be.
func checkTxBytes(o Options) error {
	if o.TxBytes == 0 {
		return nil
	}
	if o.TxBytes < 0 || o.TxBytes > types.MaxTxBytes {
		return fmt.Errorf("--tx-bytes must be in [0, %d]", types.MaxTxBytes)
	}
	maxNonce := uint64(math.MaxUint32)
	if o.Duration > 0 {
		maxNonce = uint64(o.Rate*o.Duration.Seconds()) + 1
	}
	key, err := identity.Generate(nil)
	if err != nil {
		return err
	}
	chainID := o.ChainID
	if chainID == "" {
		chainID = "sixdomain-devnet"
	}
	value := fmt.Sprintf(`{"celsius":%.2f,"seq":%d}`, 20.0, maxNonce)
	if _, err := signedReading(chainID, maxNonce, time.Now().UnixMilli(), value, key, o.TxBytes); err != nil {
		return fmt.Errorf("--tx-bytes %d: %w", o.TxBytes, err)
	}
	return nil
}
