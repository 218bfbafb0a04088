package consensus

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger/types"
)

// Errors returned by header checks.
var (
	ErrWrongProposer = errors.New("block sealed by the wrong authority")
	ErrNotAuthority  = errors.New("proposer is not an authority")
	ErrTooEarly      = errors.New("block time earlier than parent time plus one slot")
	ErrFutureBlock   = errors.New("block time too far ahead of the local clock")
	ErrBadSeal       = errors.New("bad seal")
	ErrWrongChain    = errors.New("block for another chain")
)

// FutureAllowance is how far ahead of the local clock a block's time may be.
const FutureAllowance = 2 * time.Second

// Engine is what the node needs from a block-sealing rule.
type Engine interface {
	// Authorities returns the current authority set in turn order.
	Authorities() []identity.PublicKey
	// IsAuthority reports whether k may seal blocks.
	IsAuthority(k identity.PublicKey) bool
	// Proposer returns the authority expected to seal the block at height.
	Proposer(height uint64) identity.PublicKey
	// NextSealTime returns the earliest time self may seal the block after
	// a parent with the given height and time, and false if it is not
	// self's turn.
	NextSealTime(self identity.PublicKey, parentHeight uint64, parentTime time.Time) (time.Time, bool)
	// VerifySeal checks chain, proposer and seal of a header without its
	// parent: what a gossip validator can check on arrival.
	VerifySeal(h *types.Header, seal []byte) error
	// VerifyTiming checks a header's time against its parent's and the
	// local clock reading now.
	VerifyTiming(parentTime int64, h *types.Header, now time.Time) error
}

// RoundRobin is the Engine of the foundation: fixed authorities from the
// genesis take turns by height.
type RoundRobin struct {
	chainID     string
	slot        time.Duration
	authorities []identity.PublicKey
}

var _ Engine = (*RoundRobin)(nil)

// NewRoundRobin builds the schedule from a genesis.
func NewRoundRobin(g *types.Genesis) (*RoundRobin, error) {
	if err := g.Validate(); err != nil {
		return nil, err
	}
	return &RoundRobin{chainID: g.ChainID, slot: g.Slot(), authorities: g.AuthorityKeys()}, nil
}

// Authorities returns the authorities in turn order (a copy).
func (r *RoundRobin) Authorities() []identity.PublicKey {
	return append([]identity.PublicKey(nil), r.authorities...)
}

// IsAuthority reports whether k is an authority.
func (r *RoundRobin) IsAuthority(k identity.PublicKey) bool {
	for _, a := range r.authorities {
		if a == k {
			return true
		}
	}
	return false
}

// Proposer returns authorities[height mod N].
func (r *RoundRobin) Proposer(height uint64) identity.PublicKey {
	return r.authorities[height%uint64(len(r.authorities))]
}

// NextSealTime returns parentTime + slot when self is the proposer of the
// next height.
func (r *RoundRobin) NextSealTime(self identity.PublicKey, parentHeight uint64, parentTime time.Time) (time.Time, bool) {
	if r.Proposer(parentHeight+1) != self {
		return time.Time{}, false
	}
	return parentTime.Add(r.slot), true
}

// VerifySeal checks the chain ID, that the proposer is the in-turn
// authority for the header's height, and the seal.
func (r *RoundRobin) VerifySeal(h *types.Header, seal []byte) error {
	if h.ChainID != r.chainID {
		return fmt.Errorf("%w: %q, this chain is %q", ErrWrongChain, h.ChainID, r.chainID)
	}
	if !r.IsAuthority(h.Proposer) {
		return fmt.Errorf("%w: %s", ErrNotAuthority, h.Proposer.DID())
	}
	if want := r.Proposer(h.Height); !bytes.Equal(want[:], h.Proposer[:]) {
		return fmt.Errorf("%w: height %d belongs to %s, sealed by %s", ErrWrongProposer, h.Height, want.DID(), h.Proposer.DID())
	}
	if err := h.VerifySeal(seal); err != nil {
		return fmt.Errorf("%w: %w", ErrBadSeal, err)
	}
	return nil
}

// VerifyTiming checks that the header is at least one slot after its parent
// and not more than FutureAllowance ahead of now.
func (r *RoundRobin) VerifyTiming(parentTime int64, h *types.Header, now time.Time) error {
	if earliest := parentTime + r.slot.Milliseconds(); h.Time < earliest {
		return fmt.Errorf("%w: %d < %d", ErrTooEarly, h.Time, earliest)
	}
	if limit := now.Add(FutureAllowance).UnixMilli(); h.Time > limit {
		return fmt.Errorf("%w: %s ahead", ErrFutureBlock, time.Duration(h.Time-now.UnixMilli())*time.Millisecond)
	}
	return nil
}

// VerifyProof checks a transaction inclusion proof offline against a
// genesis: the Merkle path, the signature of the transaction, the header's
// seal, and that the sealer was the authority whose turn it was.
func VerifyProof(g *types.Genesis, p *types.TxProof) (*types.Header, *types.Tx, error) {
	engine, err := NewRoundRobin(g)
	if err != nil {
		return nil, nil, err
	}
	h, tx, err := p.Verify()
	if err != nil {
		return nil, nil, err
	}
	if err := engine.VerifySeal(h, p.Seal); err != nil {
		return nil, nil, fmt.Errorf("%w: %w", types.ErrBadProof, err)
	}
	return h, tx, nil
}
