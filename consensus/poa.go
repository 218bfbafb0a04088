package consensus

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger/types"
)

// Errors of the Proof-of-Authority header rules, beside ErrWrongChain,
// ErrTooEarly, ErrFutureBlock and ErrBadSeal.
var (
	// ErrWrongDifficulty: difficulty 2 on a block sealed out of turn, or 1 on
	// one sealed in turn.
	ErrWrongDifficulty = errors.New("wrong difficulty")
	// ErrWrongParent: a header whose height or parent hash does not follow
	// the parent it is checked against.
	ErrWrongParent = errors.New("header does not follow its parent")
)

// PoA holds the stateless header rules of the Proof-of-Authority engine
// (after go-ethereum's clique.go): what can be checked with the genesis, a
// header, its parent and the snapshot after the parent. The snapshot itself
// (who may seal, votes) is Snapshot's and Snapshots' business.
type PoA struct {
	chainID     string
	slot        time.Duration
	epoch       uint64
	genesisHash types.Hash
	genesisTime time.Time
	signers     []identity.PublicKey
}

// NewPoA returns the rules of the chain a genesis defines.
func NewPoA(g *types.Genesis) (*PoA, error) {
	if err := g.Validate(); err != nil {
		return nil, err
	}
	return &PoA{chainID: g.ChainID, slot: g.Slot(), epoch: g.Epoch, genesisHash: g.Hash(),
		genesisTime: time.UnixMilli(g.GenesisTime.UnixMilli()), signers: g.AuthorityKeys()}, nil
}

// GenesisSnapshot returns the snapshot at height 0: the genesis authorities
// and no votes.
func (p *PoA) GenesisSnapshot() *Snapshot {
	return NewSnapshot(p.epoch, 0, p.genesisHash, p.signers)
}

// Slot returns the minimum interval between blocks.
func (p *PoA) Slot() time.Duration { return p.slot }

// Epoch returns the checkpoint interval in blocks.
func (p *PoA) Epoch() uint64 { return p.epoch }

// GenesisHash returns the genesis hash, the parent of block 1.
func (p *PoA) GenesisHash() types.Hash { return p.genesisHash }

// IsCheckpoint reports whether the block at height is an epoch block.
func (p *PoA) IsCheckpoint(height uint64) bool { return height%p.epoch == 0 }

// VerifySeal checks what needs no parent and no snapshot, as a gossip
// validator does on arrival: the chain ID, the fixed-form fields (version,
// difficulty 1 or 2, vote and checkpoint shape for the header's height) and
// the seal under the header's proposer. Whether the proposer may seal is a
// question for the snapshot (VerifyHeader).
func (p *PoA) VerifySeal(h *types.Header, seal []byte) error {
	if err := p.checkFixed(h); err != nil {
		return err
	}
	return verifySeal(h, seal)
}

func verifySeal(h *types.Header, seal []byte) error {
	if err := h.VerifySeal(seal); err != nil {
		return fmt.Errorf("%w: %w", ErrBadSeal, err)
	}
	return nil
}

// checkFixed checks the chain ID and the fields whose form depends only on
// the header and the genesis.
func (p *PoA) checkFixed(h *types.Header) error {
	if h.ChainID != p.chainID {
		return fmt.Errorf("%w: %q, this chain is %q", ErrWrongChain, h.ChainID, p.chainID)
	}
	if h.Version != types.BlockVersion {
		return fmt.Errorf("%w: header version %d", types.ErrBadVersion, h.Version)
	}
	if h.Height == 0 {
		return fmt.Errorf("%w: height 0 is the genesis", ErrWrongParent)
	}
	if h.Difficulty != types.DiffInTurn && h.Difficulty != types.DiffNoTurn {
		return fmt.Errorf("%w: %d", ErrWrongDifficulty, h.Difficulty)
	}
	if len(h.VoteTarget) != 0 && len(h.VoteTarget) != len(identity.PublicKey{}) || len(h.VoteTarget) == 0 && h.VoteAdd {
		return fmt.Errorf("%w: vote target of %d bytes, add %t", types.ErrBadBlock, len(h.VoteTarget), h.VoteAdd)
	}
	if p.IsCheckpoint(h.Height) {
		if len(h.VoteTarget) != 0 {
			return fmt.Errorf("%w: epoch block %d carries a vote", ErrInvalidCheckpoint, h.Height)
		}
		if len(h.Checkpoint) == 0 || len(h.Checkpoint) > MaxSigners {
			return fmt.Errorf("%w: epoch block %d lists %d authorities", ErrInvalidCheckpoint, h.Height, len(h.Checkpoint))
		}
	} else if len(h.Checkpoint) != 0 {
		return fmt.Errorf("%w: block %d is not an epoch block but lists %d authorities", ErrInvalidCheckpoint, h.Height, len(h.Checkpoint))
	}
	return nil
}

// VerifyHeader checks h against its parent and snap, the snapshot after the
// parent. parent is nil for height 1, whose parent is the genesis (hash and
// time). It checks the chain ID and fixed fields, the height and parent
// link, that the time is at least one slot after the parent's and at most
// FutureAllowance after now, that the proposer is a signer not among the
// recent ones, the difficulty (2 in turn, 1 out of turn), that epoch blocks
// list exactly snap's signers and carry no vote, and the seal. Errors wrap
// the sentinels of this package (and types.ErrBadVersion, types.ErrBadBlock
// for malformed fields).
func (p *PoA) VerifyHeader(snap *Snapshot, parent *types.Header, h *types.Header, seal []byte, now time.Time) error {
	if err := p.checkFixed(h); err != nil {
		return err
	}
	parentHeight, parentHash, parentTime := uint64(0), p.genesisHash, p.genesisTime.UnixMilli()
	if parent != nil {
		parentHeight, parentHash, parentTime = parent.Height, parent.Hash(), parent.Time
	}
	if h.Height != parentHeight+1 {
		return fmt.Errorf("%w: height %d after parent height %d", ErrWrongParent, h.Height, parentHeight)
	}
	if h.Parent != parentHash {
		return fmt.Errorf("%w: parent %s, expected %s", ErrWrongParent, h.Parent, parentHash)
	}
	if snap.Height != parentHeight || snap.Hash != parentHash {
		return fmt.Errorf("%w: snapshot after block %d (%s) given for a header after block %d (%s)",
			ErrInvalidVotingChain, snap.Height, snap.Hash, parentHeight, parentHash)
	}
	if earliest := parentTime + p.slot.Milliseconds(); h.Time < earliest {
		return fmt.Errorf("%w: %d < %d", ErrTooEarly, h.Time, earliest)
	}
	if limit := now.Add(FutureAllowance).UnixMilli(); h.Time > limit {
		return fmt.Errorf("%w: %s ahead", ErrFutureBlock, time.Duration(h.Time-now.UnixMilli())*time.Millisecond)
	}
	if !snap.IsSigner(h.Proposer) {
		return fmt.Errorf("%w: %s at height %d", ErrUnauthorizedSigner, h.Proposer.DID(), h.Height)
	}
	if snap.RecentlySigned(h.Height, h.Proposer) {
		return fmt.Errorf("%w: %s at height %d", ErrRecentlySigned, h.Proposer.DID(), h.Height)
	}
	if want := difficulty(snap, h.Height, h.Proposer); h.Difficulty != want {
		return fmt.Errorf("%w: %d at height %d, want %d", ErrWrongDifficulty, h.Difficulty, h.Height, want)
	}
	if p.IsCheckpoint(h.Height) && !slices.Equal(h.Checkpoint, snap.Signers) {
		return fmt.Errorf("%w: epoch block %d lists %d keys that are not the %d signers", ErrInvalidCheckpoint, h.Height, len(h.Checkpoint), len(snap.Signers))
	}
	return verifySeal(h, seal)
}

func difficulty(snap *Snapshot, height uint64, k identity.PublicKey) uint8 {
	if snap.InTurn(height, k) {
		return types.DiffInTurn
	}
	return types.DiffNoTurn
}

// SealTime returns when self may seal the block after the parent (height
// parentHeight, time parentTime), given snap, the snapshot after the parent,
// and false if self is not a signer or sealing would break the recent-signer
// rule. In turn it is parentTime + slot. Out of turn it is later by half a
// slot plus a wiggle drawn from r uniformly in [0, SignerLimit * slot/4),
// so the in-turn signer's block usually wins and out-of-turn signers rarely
// collide (geth's wiggleTime). A nil r draws from math/rand/v2's global
// source.
func (p *PoA) SealTime(snap *Snapshot, self identity.PublicKey, parentHeight uint64, parentTime time.Time, r *rand.Rand) (time.Time, bool) {
	height := parentHeight + 1
	if !snap.IsSigner(self) || snap.RecentlySigned(height, self) {
		return time.Time{}, false
	}
	at := parentTime.Add(p.slot)
	if snap.InTurn(height, self) {
		return at, true
	}
	at = at.Add(p.slot / 2)
	if wiggle := int64(snap.SignerLimit()) * int64(p.slot/4); wiggle > 0 {
		if r != nil {
			at = at.Add(time.Duration(r.Int64N(wiggle)))
		} else {
			at = at.Add(time.Duration(rand.Int64N(wiggle)))
		}
	}
	return at, true
}

// Prepare fills the consensus fields of a header its proposer is about to
// seal; h.Height and h.Proposer must be set, snap is the snapshot after the
// parent. It sets the difficulty; on epoch blocks the checkpoint list (the
// signers) and no vote; on others no checkpoint and at most one vote from
// proposals (target -> add). Proposals that would be no-ops under snap, or
// on which the proposer's identical vote is already pending, are skipped;
// of the rest, sorted by key, the one at index height mod count is voted
// on, so that successive blocks vote on all of them.
func (p *PoA) Prepare(snap *Snapshot, h *types.Header, proposals map[identity.PublicKey]bool) {
	h.Difficulty = difficulty(snap, h.Height, h.Proposer)
	h.VoteTarget, h.VoteAdd, h.Checkpoint = nil, false, nil
	if p.IsCheckpoint(h.Height) {
		h.Checkpoint = slices.Clone(snap.Signers)
		return
	}
	var open []identity.PublicKey
	for target, add := range proposals {
		if snap.validVote(target, add) && !snap.hasVote(h.Proposer, target) {
			open = append(open, target)
		}
	}
	if len(open) == 0 {
		return
	}
	slices.SortFunc(open, comparePK)
	target := open[h.Height%uint64(len(open))]
	h.VoteTarget, h.VoteAdd = target.Bytes(), proposals[target]
}
