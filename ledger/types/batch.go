package types

import (
	"fmt"
)

// Limits of a transaction batch (the batch topic's message). They bound
// what a receiver decodes before it checks anything else.
const (
	// MaxBatchBytes bounds a batch's whole encoding.
	MaxBatchBytes = 64 << 10
	// MaxBatchTxs bounds the transactions in one batch.
	MaxBatchTxs = 1024
)

// TxBatch is a list of signed transactions that a gateway or an authority
// disseminates as one gossip message. It encodes as the CBOR array
// [chain_id, [tx, ...]] where each tx is a byte string holding one
// transaction's canonical encoding (Tx.Encode). A batch has at least one
// transaction, at most MaxBatchTxs, and at most MaxBatchBytes in all.
type TxBatch struct {
	_       struct{} `cbor:",toarray"`
	ChainID string
	Txs     [][]byte
}

// Encode returns the batch's canonical encoding.
func (b *TxBatch) Encode() []byte { return marshal(b) }

// BatchOverhead bounds the bytes a batch's encoding adds to its
// transactions' encodings: the array headers and the chain ID (at most
// MaxChainIDLen) plus a byte-string header of at most 5 bytes for each
// transaction. A batch builder that keeps
// BatchOverhead(n)+sum(len(tx)) <= MaxBatchBytes stays within the limit.
func BatchOverhead(n int) int { return 1 + 9 + MaxChainIDLen + 9 + 5*n }

// DecodeTxBatch decodes a batch and each of its transactions, cheapest
// checks first: the size, the canonical encoding of the whole, the count,
// the chain ID, then each transaction's decoding (DecodeTx). It checks no
// signature. On success txs[i] is the decoded Txs[i].
func DecodeTxBatch(chainID string, data []byte) (*TxBatch, []*Tx, error) {
	if len(data) > MaxBatchBytes {
		return nil, nil, fmt.Errorf("%w: batch of %d bytes exceeds %d", ErrOversize, len(data), MaxBatchBytes)
	}
	var b TxBatch
	if err := unmarshalCanonical(data, &b); err != nil {
		return nil, nil, fmt.Errorf("batch: %w", err)
	}
	if len(b.Txs) == 0 || len(b.Txs) > MaxBatchTxs {
		return nil, nil, fmt.Errorf("%w: batch of %d transactions (1 to %d)", ErrBadBatch, len(b.Txs), MaxBatchTxs)
	}
	if b.ChainID != chainID {
		return nil, nil, fmt.Errorf("%w: batch for chain %q", ErrWrongChain, b.ChainID)
	}
	txs := make([]*Tx, len(b.Txs))
	for i, raw := range b.Txs {
		tx, err := DecodeTx(raw)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: transaction %d: %w", ErrBadBatch, i, err)
		}
		txs[i] = tx
	}
	return &b, txs, nil
}

// BatchTxs returns the transaction encodings of a batch without decoding
// them or checking the chain ID (for observers such as the simulator's
// tracer; a node uses DecodeTxBatch).
func BatchTxs(data []byte) ([][]byte, error) {
	if len(data) > MaxBatchBytes {
		return nil, fmt.Errorf("%w: batch of %d bytes exceeds %d", ErrOversize, len(data), MaxBatchBytes)
	}
	var b TxBatch
	if err := decMode.Unmarshal(data, &b); err != nil {
		return nil, fmt.Errorf("batch: %w: %v", ErrUndecodable, err)
	}
	return b.Txs, nil
}

// CompactBlock is a sealed block that names its transactions by hash
// instead of carrying them: what the block topic carries, since every
// node already holds most of a new block's transactions from the batch
// topic. It encodes as the CBOR array [header, seal, [tx_hash, ...]],
// each hash the 32-byte Tx.Hash of the transaction at that position. A
// receiver rebuilds the Block from its mempool, fetches what it lacks
// (the pull protocol), and checks the rebuilt block's transaction root
// against the header like any other block.
type CompactBlock struct {
	_        struct{} `cbor:",toarray"`
	Header   Header
	Seal     []byte
	TxHashes []Hash
}

// MaxCompactBlockBytes bounds a compact block's encoding: a header, a
// seal and MaxBlockTxs hashes of 33 bytes each with room to spare.
const MaxCompactBlockBytes = 64<<10 + MaxBlockTxs*(32+2)

// Compact returns the block's compact form.
func (b *Block) Compact() *CompactBlock {
	hs := make([]Hash, len(b.Txs))
	for i, tx := range b.Txs {
		hs[i] = tx.Hash()
	}
	return &CompactBlock{Header: b.Header, Seal: b.Seal, TxHashes: hs}
}

// Encode returns the compact block's canonical encoding.
func (c *CompactBlock) Encode() []byte { return marshal(c) }

// Hash returns the block's hash (its header's).
func (c *CompactBlock) Hash() Hash { return c.Header.Hash() }

// DecodeCompactBlock decodes a compact block and checks what needs no
// state and no transactions: size, canonical encoding, the header's
// fields, the seal's length, and that the header's transaction count
// matches the hashes.
func DecodeCompactBlock(data []byte) (*CompactBlock, error) {
	if len(data) > MaxCompactBlockBytes {
		return nil, fmt.Errorf("%w: compact block of %d bytes exceeds %d", ErrOversize, len(data), MaxCompactBlockBytes)
	}
	var c CompactBlock
	if err := unmarshalCanonical(data, &c); err != nil {
		return nil, fmt.Errorf("compact block: %w", err)
	}
	if err := c.Header.checkFields(); err != nil {
		return nil, err
	}
	if len(c.TxHashes) != int(c.Header.TxCount) || len(c.TxHashes) > MaxBlockTxs {
		return nil, fmt.Errorf("%w: header counts %d transactions, compact block names %d (limit %d)", ErrBadBlock, c.Header.TxCount, len(c.TxHashes), MaxBlockTxs)
	}
	if len(c.Seal) != 64 {
		return nil, fmt.Errorf("%w: seal of %d bytes", ErrBadBlock, len(c.Seal))
	}
	return &c, nil
}

// Assemble returns the full block from the compact one and its
// transactions in order (txs[i] must have hash TxHashes[i]). It checks the
// hashes and the transaction root: a transaction with the right hash but
// another signature than the proposer's gives a different root
// (ErrBadBlock), and the caller fetches the block whole instead.
func (c *CompactBlock) Assemble(txs []*Tx) (*Block, error) {
	if len(txs) != len(c.TxHashes) {
		return nil, fmt.Errorf("%w: %d transactions for %d hashes", ErrBadBlock, len(txs), len(c.TxHashes))
	}
	enc := make([][]byte, len(txs))
	for i, tx := range txs {
		if tx == nil || tx.Hash() != c.TxHashes[i] {
			return nil, fmt.Errorf("%w: transaction %d does not have hash %s", ErrBadBlock, i, c.TxHashes[i])
		}
		enc[i] = tx.Encode()
	}
	if root := TxRoot(enc); root != c.Header.TxRoot {
		return nil, fmt.Errorf("%w: transaction root %s, header says %s", ErrBadBlock, root, c.Header.TxRoot)
	}
	return &Block{Header: c.Header, Txs: txs, Seal: c.Seal}, nil
}

// Limits of the pull protocol's messages.
const (
	// MaxPullHashes bounds the hashes one pull request names (a block's
	// worth is MaxBlockTxs; a node asks in several requests).
	MaxPullHashes = 4096
	// MaxPullRequestBytes bounds a pull request's encoding.
	MaxPullRequestBytes = MaxPullHashes*(32+2) + 256
	// MaxPullResponseBytes bounds a pull response's encoding; a server
	// stops adding transactions before it.
	MaxPullResponseBytes = 4 << 20
	// MaxPullNonces bounds the nonces one gap request covers.
	MaxPullNonces = 256
)

// PullRequest asks a peer for transactions: those with the given hashes,
// or, when Count is above 0, the sender's pending transactions with
// nonces From to From+Count-1 (a nonce gap). It encodes as the CBOR array
// [[hash, ...], sender, from, count]; the sender is an empty byte string
// in a request by hash.
type PullRequest struct {
	_      struct{} `cbor:",toarray"`
	Hashes []Hash
	Sender []byte
	From   uint64
	Count  uint32
}

// PullResponse answers a PullRequest: one byte string per requested hash
// (empty where the peer has no such transaction), or, for a gap request,
// the transactions it has of that sender, in nonce order. It encodes as
// the CBOR array [[tx, ...]].
type PullResponse struct {
	_   struct{} `cbor:",toarray"`
	Txs [][]byte
}

// Encode returns the request's canonical encoding.
func (r *PullRequest) Encode() []byte { return marshal(r) }

// Encode returns the response's canonical encoding.
func (r *PullResponse) Encode() []byte { return marshal(r) }

// DecodePullRequest decodes a request and checks its bounds: size, form,
// at most MaxPullHashes hashes, a gap request with a 32-byte sender and
// at most MaxPullNonces nonces and no hashes.
func DecodePullRequest(data []byte) (*PullRequest, error) {
	if len(data) > MaxPullRequestBytes {
		return nil, fmt.Errorf("%w: pull request of %d bytes", ErrOversize, len(data))
	}
	var r PullRequest
	if err := unmarshalCanonical(data, &r); err != nil {
		return nil, fmt.Errorf("pull request: %w", err)
	}
	switch {
	case len(r.Hashes) > MaxPullHashes:
		return nil, fmt.Errorf("%w: pull request names %d hashes (limit %d)", ErrOversize, len(r.Hashes), MaxPullHashes)
	case r.Count == 0 && (len(r.Sender) != 0 || r.From != 0 || len(r.Hashes) == 0):
		return nil, fmt.Errorf("%w: pull request by hash with a sender or no hash", ErrUndecodable)
	case r.Count > 0 && (len(r.Hashes) != 0 || len(r.Sender) != 32 || r.From == 0 || r.Count > MaxPullNonces):
		return nil, fmt.Errorf("%w: gap request needs a 32-byte sender, a nonce from 1 and 1 to %d nonces", ErrUndecodable, MaxPullNonces)
	}
	return &r, nil
}

// DecodePullResponse decodes a response, bounded by MaxPullResponseBytes,
// and decodes each non-empty transaction. want is the number of entries
// a request by hash expects (0 for a gap request: any number up to
// MaxPullNonces). Entries that are empty are nil in the result.
func DecodePullResponse(data []byte, want int) ([]*Tx, error) {
	if len(data) > MaxPullResponseBytes {
		return nil, fmt.Errorf("%w: pull response of %d bytes", ErrOversize, len(data))
	}
	var r PullResponse
	if err := unmarshalCanonical(data, &r); err != nil {
		return nil, fmt.Errorf("pull response: %w", err)
	}
	if want > 0 && len(r.Txs) != want || want == 0 && len(r.Txs) > MaxPullNonces {
		return nil, fmt.Errorf("%w: pull response of %d entries, want %d", ErrUndecodable, len(r.Txs), want)
	}
	out := make([]*Tx, len(r.Txs))
	for i, raw := range r.Txs {
		if len(raw) == 0 {
			continue
		}
		tx, err := DecodeTx(raw)
		if err != nil {
			return nil, fmt.Errorf("pull response entry %d: %w", i, err)
		}
		out[i] = tx
	}
	return out, nil
}
