package types

import (
	"fmt"

	"github.com/sixdomain/sixdomain/ledger/merkle"
)

// TxProof proves that a transaction is in a sealed block: the transaction's
// signed encoding, its place in the block's Merkle tree, the audit path, and
// the sealed header. It marshals to JSON with hex byte strings; anyone can
// check it offline (Verify, then check the proposer against the genesis
// authorities: consensus.VerifyProof does both).
type TxProof struct {
	ChainID  string   `json:"chain_id"`
	Height   uint64   `json:"height"`
	TxHash   Hash     `json:"tx_hash"`
	Tx       HexBytes `json:"tx"`
	Index    uint64   `json:"index"`
	TreeSize uint64   `json:"tree_size"`
	Path     []Hash   `json:"path"`
	Header   HexBytes `json:"header"`
	Seal     HexBytes `json:"seal"`
	// Finality, when present, proves the block final
	// (consensus.VerifyFinality).
	Finality *FinalityProof `json:"finality,omitempty"`
}

// NewTxProof builds the proof for transaction index of a block.
func NewTxProof(b *Block, index int) (*TxProof, error) {
	leaves := b.EncodedTxs()
	path, err := merkle.Path(leaves, index)
	if err != nil {
		return nil, err
	}
	p := &TxProof{ChainID: b.Header.ChainID, Height: b.Header.Height, TxHash: b.Txs[index].Hash(),
		Tx: leaves[index], Index: uint64(index), TreeSize: uint64(len(leaves)),
		Header: b.Header.Encode(), Seal: b.Seal}
	for _, h := range path {
		p.Path = append(p.Path, Hash(h))
	}
	return p, nil
}

// Verify checks the proof's internal consistency: the transaction decodes,
// has the claimed hash and a valid signature, its audit path leads to the
// header's transaction root for the header's transaction count, and the
// header is sealed by its proposer. It returns the header and transaction
// so that the caller can check the proposer against the authorities.
func (p *TxProof) Verify() (*Header, *Tx, error) {
	h, err := DecodeHeader(p.Header)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrBadProof, err)
	}
	if h.ChainID != p.ChainID || h.Height != p.Height {
		return nil, nil, fmt.Errorf("%w: header is chain %q height %d, proof claims %q height %d", ErrBadProof, h.ChainID, h.Height, p.ChainID, p.Height)
	}
	tx, err := DecodeTx(p.Tx)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrBadProof, err)
	}
	if tx.Hash() != p.TxHash {
		return nil, nil, fmt.Errorf("%w: transaction hashes to %s, proof claims %s", ErrBadProof, tx.Hash(), p.TxHash)
	}
	if err := tx.VerifySignature(); err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrBadProof, err)
	}
	if p.TreeSize != uint64(h.TxCount) {
		return nil, nil, fmt.Errorf("%w: tree size %d, header counts %d transactions", ErrBadProof, p.TreeSize, h.TxCount)
	}
	path := make([][merkle.HashSize]byte, len(p.Path))
	for i, x := range p.Path {
		path[i] = x
	}
	if err := merkle.Verify(h.TxRoot, p.Tx, p.Index, p.TreeSize, path); err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrBadProof, err)
	}
	if err := h.VerifySeal(p.Seal); err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrBadProof, err)
	}
	return h, tx, nil
}
