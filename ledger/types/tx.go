package types

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/sixdomain/sixdomain/identity"
)

// Limits of a transaction. They are part of the protocol: every node
// enforces the same ones.
const (
	// TxVersion is the only transaction version this code accepts.
	TxVersion = 1
	// MaxTxBytes bounds a transaction's whole encoding, signature included
	// (a contract deploy's payload is the largest).
	MaxTxBytes = 40 * 1024
	// MaxChainIDLen bounds the chain ID.
	MaxChainIDLen = 64
	// MaxPayloadBytes bounds a transaction's payload, except a deploy's
	// (MaxDeployPayloadBytes).
	MaxPayloadBytes = 18 * 1024
)

// TxType says how a transaction's payload is to be read.
type TxType uint8

// Transaction types.
const (
	// TxDataRecord carries a DataRecord: a timestamped sensor reading.
	TxDataRecord TxType = 1
	// TxEvidence carries Evidence: two conflicting finality votes by one
	// authority.
	TxEvidence TxType = 2
	// TxAsset carries a native-asset operation (package ledger/assets:
	// issue, mint, burn, send, multi-send, freeze, clawback, renounce,
	// device-bound assets). Its state rules are the ledger's: a refused
	// operation is still included, consumes its nonce, changes nothing
	// else and has a failure receipt.
	TxAsset TxType = 4
)

func (t TxType) String() string {
	switch t {
	case TxDataRecord:
		return "record"
	case TxEvidence:
		return "evidence"
	case TxDID:
		return "did"
	case TxAsset:
		return "asset"
	case TxDeploy:
		return "deploy"
	case TxCall:
		return "call"
	case TxFeeGrant:
		return "fee-grant"
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// Tx is a signed, timestamped transaction. It encodes as the CBOR array
// [version, chain_id, type, sender, nonce, timestamp, payload, signature].
type Tx struct {
	_         struct{} `cbor:",toarray"`
	Version   uint8
	ChainID   string
	Type      TxType
	Sender    identity.PublicKey // Ed25519 key of the signer; its did:key is the sender's DID
	Nonce     uint64             // 1 for the sender's first transaction, then +1 each
	Timestamp int64              // milliseconds since the Unix epoch, set by the device
	Payload   []byte             // canonical encoding of the type's payload (DataRecord, ...)
	Signature []byte             // Ed25519 over SignBytes()

	// bodyHash is Hash(), computed once by DecodeTx for the transactions
	// that arrive from the network and are read by many goroutines (it is
	// never set later, so reading it needs no lock). Sign clears it. It is
	// not part of the encoding.
	bodyHash *Hash
	// raw is the encoding DecodeTx read, returned by Encode while the
	// signature still matches its last 64 bytes (a test that alters the
	// signature of a decoded transaction gets a fresh encoding). Sign
	// clears it.
	raw []byte
}

// txBody is the unsigned part of a transaction: the same array without its
// last element. Its encoding is what the transaction hash covers.
type txBody struct {
	_         struct{} `cbor:",toarray"`
	Version   uint8
	ChainID   string
	Type      TxType
	Sender    identity.PublicKey
	Nonce     uint64
	Timestamp int64
	Payload   []byte
}

func (tx *Tx) body() txBody {
	return txBody{Version: tx.Version, ChainID: tx.ChainID, Type: tx.Type, Sender: tx.Sender,
		Nonce: tx.Nonce, Timestamp: tx.Timestamp, Payload: tx.Payload}
}

// BodyBytes returns the canonical encoding of the unsigned transaction.
func (tx *Tx) BodyBytes() []byte { return marshal(tx.body()) }

// Hash returns SHA-256 of the unsigned transaction's canonical encoding.
// It identifies the transaction; the signature is not part of it.
func (tx *Tx) Hash() Hash {
	if tx.bodyHash != nil {
		return *tx.bodyHash
	}
	return sha256.Sum256(tx.BodyBytes())
}

// txSignDomain separates transaction signatures from every other use of a key.
const txSignDomain = "SIXDOMAIN-TX-V1\x00"

// SignBytes returns the message the sender signs: a domain tag followed by
// the transaction hash.
func (tx *Tx) SignBytes() []byte {
	h := tx.Hash()
	return append([]byte(txSignDomain), h[:]...)
}

// Sign sets the sender to key's public key and signs the transaction.
func (tx *Tx) Sign(key *identity.PrivateKey) {
	tx.Sender = key.Public()
	tx.bodyHash, tx.raw = nil, nil
	tx.Signature = key.Sign(tx.SignBytes())
}

// Encode returns the canonical encoding of the signed transaction. The
// caller must not modify it: for a decoded transaction it is the bytes it
// was decoded from.
func (tx *Tx) Encode() []byte {
	if r := tx.raw; len(r) > 64 && len(tx.Signature) == 64 && bytes.Equal(r[len(r)-64:], tx.Signature) {
		return r
	}
	return marshal(tx)
}

// Time returns the transaction's timestamp as a time.Time.
func (tx *Tx) Time() time.Time { return time.UnixMilli(tx.Timestamp) }

// DecodeTx decodes a transaction, cheapest checks first: size, then CBOR
// structure and canonical form. It does not check the signature or any
// field's meaning; see ValidateBasic and VerifySignature.
func DecodeTx(data []byte) (*Tx, error) {
	if len(data) > MaxTxBytes {
		return nil, fmt.Errorf("%w: transaction of %d bytes exceeds %d", ErrOversize, len(data), MaxTxBytes)
	}
	var tx Tx
	if err := unmarshalCanonical(data, &tx); err != nil {
		return nil, fmt.Errorf("transaction: %w", err)
	}
	// A decoded transaction is not changed afterwards (callers that want
	// another one build it), so its hash is computed here once.
	h := Hash(sha256.Sum256(tx.BodyBytes()))
	tx.bodyHash = &h
	tx.raw = bytes.Clone(data)
	return &tx, nil
}

// ValidateBasic checks everything about a transaction that needs neither
// state, clock nor signature verification: version, chain ID, type, fields
// and payload.
func (tx *Tx) ValidateBasic(chainID string) error {
	if tx.Version != TxVersion {
		return fmt.Errorf("%w: %d", ErrBadVersion, tx.Version)
	}
	if tx.ChainID != chainID {
		return fmt.Errorf("%w: %q, this chain is %q", ErrWrongChain, tx.ChainID, chainID)
	}
	if len(tx.Signature) != 64 {
		return fmt.Errorf("%w: signature of %d bytes", ErrBadSignature, len(tx.Signature))
	}
	if tx.Nonce == 0 {
		return ErrZeroNonce
	}
	if limit := maxPayload(tx.Type); len(tx.Payload) > limit {
		return fmt.Errorf("%w: payload of %d bytes exceeds %d", ErrOversize, len(tx.Payload), limit)
	}
	switch tx.Type {
	case TxDataRecord:
		if _, err := DecodeDataRecord(tx.Payload); err != nil {
			return err
		}
	case TxEvidence:
		if _, _, _, err := DecodeEvidence(chainID, tx.Payload); err != nil {
			return err
		}
	case TxDID:
		if _, err := DecodeDIDOp(tx.Payload); err != nil {
			return err
		}
	case TxAsset:
		// Decoded and checked by the ledger (ledger/assets.DecodeOp).
		if len(tx.Payload) == 0 {
			return fmt.Errorf("%w: empty asset operation", ErrBadPayload)
		}
	case TxDeploy:
		if _, err := DecodeDeploy(tx.Payload); err != nil {
			return err
		}
	case TxCall:
		if _, err := DecodeCall(tx.Payload); err != nil {
			return err
		}
	case TxFeeGrant:
		g, err := DecodeFeeGrant(tx.Payload)
		if err != nil {
			return err
		}
		if g.Grantee == tx.Sender {
			return fmt.Errorf("%w: a fee grant to its own sender", ErrBadPayload)
		}
	default:
		return fmt.Errorf("%w: %d", ErrUnknownType, tx.Type)
	}
	return nil
}

// VerifySignature checks the sender's signature and, for a registry
// transaction (TxDID), its approvals' signatures.
func (tx *Tx) VerifySignature() error {
	if !tx.Sender.Verify(tx.SignBytes(), tx.Signature) {
		return fmt.Errorf("%w: does not verify under sender %s", ErrBadSignature, tx.Sender.DID())
	}
	if tx.Type == TxDID {
		op, err := DecodeDIDOp(tx.Payload)
		if err != nil {
			return err
		}
		return op.VerifyApprovals(tx.ChainID)
	}
	return nil
}

// TimeWindow is how far a transaction's timestamp may lie from a reference
// time (a node's clock when gossiped, the block's time when applied).
type TimeWindow struct {
	// Future bounds how far ahead of the reference any transaction's
	// timestamp may be (a device clock running ahead).
	Future time.Duration
	// Past bounds how far behind the reference a transaction's timestamp
	// may be.
	Past time.Duration
	// RecordPast, if longer than Past, bounds instead how far behind the
	// reference a data record's (TxDataRecord's) timestamp may be: a device
	// that was offline forwards the readings it signed meanwhile (the
	// genesis max_forward_age_ms). Other types keep Past.
	RecordPast time.Duration
}

// PastFor returns how far behind the reference time a transaction of type
// t may be: RecordPast for a data record if it is longer than Past, else
// Past.
func (w TimeWindow) PastFor(t TxType) time.Duration {
	if t == TxDataRecord && w.RecordPast > w.Past {
		return w.RecordPast
	}
	return w.Past
}

// CheckTime checks the transaction's timestamp against ref and w: at most
// w.Future ahead of ref (ErrTimeInFuture), at most w.PastFor(tx.Type)
// behind it (ErrTimeInPast). Both bounds are inclusive.
func (tx *Tx) CheckTime(ref time.Time, w TimeWindow) error {
	ts := tx.Time()
	if ts.After(ref.Add(w.Future)) {
		return fmt.Errorf("%w: %s is %s ahead (limit %s)", ErrTimeInFuture, ts.UTC().Format(time.RFC3339Nano), ts.Sub(ref).Round(time.Millisecond), w.Future)
	}
	if past := w.PastFor(tx.Type); ts.Before(ref.Add(-past)) {
		what := "limit"
		if past != w.Past {
			what = "limit for a forwarded data record"
		}
		return fmt.Errorf("%w: %s is %s behind (%s %s)", ErrTimeInPast, ts.UTC().Format(time.RFC3339Nano), ref.Sub(ts).Round(time.Millisecond), what, past)
	}
	return nil
}

// maxPayload is the payload bound of a transaction type.
func maxPayload(t TxType) int {
	if t == TxDeploy {
		return MaxDeployPayloadBytes
	}
	return MaxPayloadBytes
}
