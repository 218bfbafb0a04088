package types

import (
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger/merkle"
)

// Limits of a block.
const (
	// BlockVersion is the only block version this code accepts.
	BlockVersion = 1
	// MaxBlockTxs bounds the transactions in one block.
	MaxBlockTxs = 20000
	// MaxBlockBytes bounds a block's whole encoding.
	MaxBlockBytes = 4 << 20
)

// Header is a block header. It encodes as the CBOR array
// [version, chain_id, height, parent, time, proposer, difficulty,
// vote_target, vote_add, checkpoint, tx_root, state_root, tx_count].
type Header struct {
	_        struct{} `cbor:",toarray"`
	Version  uint8
	ChainID  string
	Height   uint64             // 1 for the first block after genesis
	Parent   Hash               // hash of the previous header; the genesis hash for height 1
	Time     int64              // milliseconds since the Unix epoch
	Proposer identity.PublicKey // the authority that sealed the block
	// Difficulty is 2 when the proposer sealed in its turn, 1 out of turn;
	// fork choice prefers the chain with the larger sum.
	Difficulty uint8
	// VoteTarget is empty (no vote) or the 32-byte key the proposer votes
	// to add to (VoteAdd) or drop from the authority set (EIP-225).
	VoteTarget []byte
	VoteAdd    bool
	// Checkpoint lists the authority set, sorted, on epoch blocks (height
	// a multiple of the genesis epoch) and is empty on all others.
	Checkpoint []identity.PublicKey
	TxRoot     Hash   // RFC 6962 Merkle head over the transactions' signed encodings
	StateRoot  Hash   // commitment to the state after applying the block (see package ledger)
	TxCount    uint32 // number of transactions; binds the Merkle tree size
}

// Difficulties of in-turn and out-of-turn blocks.
const (
	DiffInTurn    = 2
	DiffNoTurn    = 1
	maxCheckpoint = 1024
)

// Vote returns the header's authority vote, if any.
func (h *Header) Vote() (target identity.PublicKey, add bool, ok bool) {
	if len(h.VoteTarget) != 32 {
		return target, false, false
	}
	copy(target[:], h.VoteTarget)
	return target, h.VoteAdd, true
}

// Encode returns the header's canonical encoding.
func (h *Header) Encode() []byte { return marshal(h) }

// Hash returns SHA-256 of the header's canonical encoding: the block hash.
func (h *Header) Hash() Hash { return sha256.Sum256(h.Encode()) }

// BlockTime returns the header's time as a time.Time.
func (h *Header) BlockTime() time.Time { return time.UnixMilli(h.Time) }

// sealDomain separates block seals from every other use of a key.
const sealDomain = "SIXDOMAIN-BLOCK-V1\x00"

// SealBytes returns the message the proposer signs: a domain tag followed
// by the block hash.
func (h *Header) SealBytes() []byte {
	bh := h.Hash()
	return append([]byte(sealDomain), bh[:]...)
}

// VerifySeal checks that seal is the proposer's signature of the header.
func (h *Header) VerifySeal(seal []byte) error {
	if len(seal) != 64 || !h.Proposer.Verify(h.SealBytes(), seal) {
		return fmt.Errorf("%w: seal does not verify under proposer %s", ErrBadBlock, h.Proposer.DID())
	}
	return nil
}

// DecodeHeader decodes a header and checks its fixed fields.
func DecodeHeader(data []byte) (*Header, error) {
	if len(data) > 1024 {
		return nil, fmt.Errorf("%w: header of %d bytes", ErrOversize, len(data))
	}
	var h Header
	if err := unmarshalCanonical(data, &h); err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	if err := h.checkFields(); err != nil {
		return nil, err
	}
	return &h, nil
}

// checkFields checks the header's fixed-form fields.
func (h *Header) checkFields() error {
	if h.Version != BlockVersion {
		return fmt.Errorf("%w: header version %d", ErrBadVersion, h.Version)
	}
	if h.Difficulty != DiffInTurn && h.Difficulty != DiffNoTurn {
		return fmt.Errorf("%w: difficulty %d", ErrBadBlock, h.Difficulty)
	}
	if len(h.VoteTarget) != 0 && len(h.VoteTarget) != 32 {
		return fmt.Errorf("%w: vote target of %d bytes", ErrBadBlock, len(h.VoteTarget))
	}
	if len(h.VoteTarget) == 0 && h.VoteAdd {
		return fmt.Errorf("%w: vote_add set without a vote target", ErrBadBlock)
	}
	if len(h.Checkpoint) > maxCheckpoint {
		return fmt.Errorf("%w: checkpoint lists %d authorities", ErrBadBlock, len(h.Checkpoint))
	}
	return nil
}

// Block is a header, its transactions and the proposer's seal.
// It encodes as the CBOR array [header, [tx bytes...], seal], where each
// transaction is embedded as a byte string holding its signed encoding.
type Block struct {
	Header Header
	Txs    []*Tx
	Seal   []byte
}

type blockWire struct {
	_      struct{} `cbor:",toarray"`
	Header Header
	Txs    [][]byte
	Seal   []byte
}

// EncodedTxs returns the signed encodings of the block's transactions, the
// leaves of its Merkle tree.
func (b *Block) EncodedTxs() [][]byte {
	out := make([][]byte, len(b.Txs))
	for i, tx := range b.Txs {
		out[i] = tx.Encode()
	}
	return out
}

// Encode returns the block's canonical encoding.
func (b *Block) Encode() []byte {
	return marshal(blockWire{Header: b.Header, Txs: b.EncodedTxs(), Seal: b.Seal})
}

// Hash returns the block hash (the header hash).
func (b *Block) Hash() Hash { return b.Header.Hash() }

// TxRoot computes the Merkle head of encoded transactions.
func TxRoot(encodedTxs [][]byte) Hash { return Hash(merkle.Root(encodedTxs)) }

// DecodeBlock decodes a block and checks what needs no state: size,
// canonical encoding, version, transaction count and encodings, and that
// the transaction root matches. It checks neither seals nor signatures.
func DecodeBlock(data []byte) (*Block, error) {
	if len(data) > MaxBlockBytes {
		return nil, fmt.Errorf("%w: block of %d bytes exceeds %d", ErrOversize, len(data), MaxBlockBytes)
	}
	var w blockWire
	if err := unmarshalCanonical(data, &w); err != nil {
		return nil, fmt.Errorf("block: %w", err)
	}
	if err := w.Header.checkFields(); err != nil {
		return nil, err
	}
	if len(w.Txs) != int(w.Header.TxCount) || len(w.Txs) > MaxBlockTxs {
		return nil, fmt.Errorf("%w: header counts %d transactions, block holds %d (limit %d)", ErrBadBlock, w.Header.TxCount, len(w.Txs), MaxBlockTxs)
	}
	if len(w.Seal) != 64 {
		return nil, fmt.Errorf("%w: seal of %d bytes", ErrBadBlock, len(w.Seal))
	}
	b := &Block{Header: w.Header, Txs: make([]*Tx, len(w.Txs)), Seal: w.Seal}
	for i, raw := range w.Txs {
		tx, err := DecodeTx(raw)
		if err != nil {
			return nil, fmt.Errorf("%w: transaction %d: %w", ErrBadBlock, i, err)
		}
		b.Txs[i] = tx
	}
	if root := TxRoot(w.Txs); root != w.Header.TxRoot {
		return nil, fmt.Errorf("%w: transaction root %s, header says %s", ErrBadBlock, root, w.Header.TxRoot)
	}
	return b, nil
}
