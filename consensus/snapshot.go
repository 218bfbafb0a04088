package consensus

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/fxamacker/cbor/v2"

	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger/types"
)

// Errors of the authority snapshot (EIP-225 voting).
var (
	// ErrUnauthorizedSigner: the header's proposer is not an authority.
	ErrUnauthorizedSigner = errors.New("unauthorized signer")
	// ErrRecentlySigned: the proposer sealed one of the last SignerLimit-1
	// blocks.
	ErrRecentlySigned = errors.New("recently signed")
	// ErrInvalidVotingChain: headers that do not extend the snapshot one
	// height at a time by parent hash.
	ErrInvalidVotingChain = errors.New("invalid voting chain")
	// ErrInvalidCheckpoint: an epoch block that carries a vote or does not
	// list the authority set exactly, or another block that lists one.
	ErrInvalidCheckpoint = errors.New("invalid checkpoint")
)

// MaxSigners bounds the authority set: a header's checkpoint list holds at
// most this many keys (types.DecodeHeader refuses more), so a vote to add a
// signer beyond it is not meaningful and is not counted. This is the one
// departure from clique, which has no bound.
const MaxSigners = 1024

// Vote is an authority vote recorded in a snapshot: Signer, in the block at
// Height, voted to add (Add) or drop Target.
type Vote struct {
	Signer identity.PublicKey
	Height uint64
	Target identity.PublicKey
	Add    bool
}

// Tally is the running count of the votes on one target; all of them have
// the same direction.
type Tally struct {
	Add   bool
	Votes int
}

// Snapshot is the authority state after the block (Height, Hash): the
// signers, who sealed the recent blocks, and the pending votes. It follows
// go-ethereum's clique snapshot (EIP-225). A snapshot returned by Apply or
// Snapshots.At is shared: treat it as read-only and Copy it to change it.
type Snapshot struct {
	Epoch   uint64                        // checkpoint interval; 0 means no checkpoints
	Height  uint64                        // height of the block the snapshot follows
	Hash    types.Hash                    // hash of that block (the genesis hash at height 0)
	Signers []identity.PublicKey          // authorities, sorted by key bytes: the turn order
	Recents map[uint64]identity.PublicKey // height -> signer, for the last SignerLimit blocks
	Votes   []Vote                        // pending votes, in the order they were cast
	Tally   map[identity.PublicKey]Tally  // target -> count of Votes on it
}

// NewSnapshot returns the snapshot of a checkpoint: signers (sorted and
// deduplicated here) and no votes or recent signers.
func NewSnapshot(epoch, height uint64, hash types.Hash, signers []identity.PublicKey) *Snapshot {
	s := slices.Clone(signers)
	slices.SortFunc(s, comparePK)
	return &Snapshot{
		Epoch:   epoch,
		Height:  height,
		Hash:    hash,
		Signers: slices.Compact(s),
		Recents: map[uint64]identity.PublicKey{},
		Tally:   map[identity.PublicKey]Tally{},
	}
}

func comparePK(a, b identity.PublicKey) int { return bytes.Compare(a[:], b[:]) }

// Copy returns a deep copy of s.
func (s *Snapshot) Copy() *Snapshot {
	c := *s
	c.Signers = slices.Clone(s.Signers)
	c.Votes = slices.Clone(s.Votes)
	c.Recents = maps.Clone(s.Recents)
	c.Tally = maps.Clone(s.Tally)
	if c.Recents == nil {
		c.Recents = map[uint64]identity.PublicKey{}
	}
	if c.Tally == nil {
		c.Tally = map[identity.PublicKey]Tally{}
	}
	return &c
}

// isCheckpoint reports whether height is an epoch block.
func (s *Snapshot) isCheckpoint(height uint64) bool {
	return s.Epoch != 0 && height%s.Epoch == 0
}

// IsSigner reports whether k is an authority.
func (s *Snapshot) IsSigner(k identity.PublicKey) bool {
	_, ok := slices.BinarySearchFunc(s.Signers, k, comparePK)
	return ok
}

// InTurn reports whether k is the in-turn signer of height:
// Signers[height mod len(Signers)].
func (s *Snapshot) InTurn(height uint64, k identity.PublicKey) bool {
	if len(s.Signers) == 0 {
		return false
	}
	return s.Signers[height%uint64(len(s.Signers))] == k
}

// SignerLimit is floor(N/2)+1: a signer seals at most one block in any
// SignerLimit consecutive blocks.
func (s *Snapshot) SignerLimit() int { return len(s.Signers)/2 + 1 }

// RecentlySigned reports whether k sealing the block at height, the block
// after the snapshot, would break the recent-signer rule.
func (s *Snapshot) RecentlySigned(height uint64, k identity.PublicKey) bool {
	limit := uint64(s.SignerLimit())
	for seen, signer := range s.Recents {
		if signer == k && (height < limit || seen > height-limit) {
			return true
		}
	}
	return false
}

// validVote reports whether a vote would change the signer set if it
// passed: adding a non-signer (while the set is below MaxSigners) or
// dropping a signer.
func (s *Snapshot) validVote(target identity.PublicKey, add bool) bool {
	if s.IsSigner(target) {
		return !add
	}
	return add && len(s.Signers) < MaxSigners
}

// hasVote reports whether signer has a pending vote on target. Pending
// votes are meaningful, so a meaningful proposal on the target is the same
// vote.
func (s *Snapshot) hasVote(signer, target identity.PublicKey) bool {
	return slices.ContainsFunc(s.Votes, func(v Vote) bool { return v.Signer == signer && v.Target == target })
}

// cast counts a meaningful vote into the tally.
func (s *Snapshot) cast(target identity.PublicKey, add bool) bool {
	if !s.validVote(target, add) {
		return false
	}
	t, ok := s.Tally[target]
	if !ok {
		t = Tally{Add: add}
	}
	t.Votes++
	s.Tally[target] = t
	return true
}

// uncast removes a vote from the tally.
func (s *Snapshot) uncast(target identity.PublicKey, add bool) {
	t, ok := s.Tally[target]
	if !ok || t.Add != add {
		return
	}
	if t.Votes > 1 {
		t.Votes--
		s.Tally[target] = t
	} else {
		delete(s.Tally, target)
	}
}

// evictRecent forgets the signer of the block that left the recent window
// when the block at height is sealed.
func (s *Snapshot) evictRecent(height uint64) {
	if limit := uint64(s.SignerLimit()); height >= limit {
		delete(s.Recents, height-limit)
	}
}

// Apply folds headers into a new snapshot; s is not modified. The headers
// must extend s one height at a time by parent hash (ErrInvalidVotingChain).
// The header's proposer is taken as its signer: seals are the caller's to
// verify. Per header, as clique does: an epoch block clears all votes
// first and must list the signers and carry no vote (ErrInvalidCheckpoint;
// other blocks list none); the proposer must be a signer
// (ErrUnauthorizedSigner) that did not seal a recent block
// (ErrRecentlySigned); its vote, if meaningful, replaces its earlier vote
// on the same target; when more than half the signers agree the target is
// added or dropped and the votes on it cleared. A dropped signer's own
// votes are discarded. Only the current block's target can change.
func (s *Snapshot) Apply(headers []*types.Header) (*Snapshot, error) {
	snap := s.Copy()
	for _, h := range headers {
		n := h.Height
		if n != snap.Height+1 || h.Parent != snap.Hash {
			return nil, fmt.Errorf("%w: header %d with parent %s does not follow block %d (%s)",
				ErrInvalidVotingChain, n, h.Parent, snap.Height, snap.Hash)
		}
		target, add, voted := h.Vote()
		if snap.isCheckpoint(n) {
			snap.Votes = nil
			clear(snap.Tally)
			if voted {
				return nil, fmt.Errorf("%w: epoch block %d carries a vote", ErrInvalidCheckpoint, n)
			}
			if !slices.Equal(h.Checkpoint, snap.Signers) {
				return nil, fmt.Errorf("%w: epoch block %d lists %d keys, not the %d signers", ErrInvalidCheckpoint, n, len(h.Checkpoint), len(snap.Signers))
			}
		} else if len(h.Checkpoint) != 0 {
			return nil, fmt.Errorf("%w: block %d is not an epoch block but lists %d keys", ErrInvalidCheckpoint, n, len(h.Checkpoint))
		}

		signer := h.Proposer
		snap.evictRecent(n)
		if !snap.IsSigner(signer) {
			return nil, fmt.Errorf("%w: %s at height %d", ErrUnauthorizedSigner, signer.DID(), n)
		}
		if snap.RecentlySigned(n, signer) {
			return nil, fmt.Errorf("%w: %s at height %d", ErrRecentlySigned, signer.DID(), n)
		}
		snap.Recents[n] = signer

		snap.Height, snap.Hash = n, h.Hash()
		if !voted {
			continue
		}
		// One vote per signer and target: the new one replaces the old.
		for i, v := range snap.Votes {
			if v.Signer == signer && v.Target == target {
				snap.uncast(v.Target, v.Add)
				snap.Votes = slices.Delete(snap.Votes, i, i+1)
				break
			}
		}
		if snap.cast(target, add) {
			snap.Votes = append(snap.Votes, Vote{Signer: signer, Height: n, Target: target, Add: add})
		}
		// A tally that reached a majority (possibly earlier, when a drop
		// shrank the set) passes when its target is touched.
		t := snap.Tally[target]
		if t.Votes <= len(snap.Signers)/2 {
			continue
		}
		if t.Add {
			i, _ := slices.BinarySearchFunc(snap.Signers, target, comparePK)
			snap.Signers = slices.Insert(snap.Signers, i, target)
		} else {
			i, _ := slices.BinarySearchFunc(snap.Signers, target, comparePK)
			snap.Signers = slices.Delete(snap.Signers, i, i+1)
			// The window shrank with the set.
			snap.evictRecent(n)
			snap.Votes = slices.DeleteFunc(snap.Votes, func(v Vote) bool {
				if v.Signer == target {
					snap.uncast(v.Target, v.Add)
					return true
				}
				return false
			})
		}
		snap.Votes = slices.DeleteFunc(snap.Votes, func(v Vote) bool { return v.Target == target })
		delete(snap.Tally, target)
	}
	return snap, nil
}

// Encoding of snapshots (datastore checkpoints): the CBOR array
// [version, epoch, height, hash, [signers], [[height, signer]...] ascending,
// [[signer, height, target, add]...] in cast order]. The tally is derived
// from the votes on decoding.
const (
	snapshotVersion = 1
	// maxSnapshotVotes bounds the pending votes: at most one per block
	// since the last checkpoint, and epochs are at most 1,000,000 blocks.
	maxSnapshotVotes = 1_000_000
	maxSnapshotBytes = 1 + 9 + 9 + 34 + 3 + MaxSigners*33 + 3 + MaxSigners*(1+9+33) + 5 + maxSnapshotVotes*(1+33+9+33+1)
)

type snapshotWire struct {
	_       struct{} `cbor:",toarray"`
	Version uint8
	Epoch   uint64
	Height  uint64
	Hash    types.Hash
	Signers []identity.PublicKey
	Recents []recentWire
	Votes   []voteWire
}

type recentWire struct {
	_      struct{} `cbor:",toarray"`
	Height uint64
	Signer identity.PublicKey
}

type voteWire struct {
	_      struct{} `cbor:",toarray"`
	Signer identity.PublicKey
	Height uint64
	Target identity.PublicKey
	Add    bool
}

var (
	snapEnc cbor.EncMode
	snapDec cbor.DecMode
)

func init() {
	var err error
	if snapEnc, err = cbor.CoreDetEncOptions().EncMode(); err != nil {
		panic(err)
	}
	snapDec, err = cbor.DecOptions{
		MaxNestedLevels:   4,
		MaxArrayElements:  maxSnapshotVotes,
		MaxMapPairs:       16,
		IndefLength:       cbor.IndefLengthForbidden,
		TagsMd:            cbor.TagsForbidden,
		UTF8:              cbor.UTF8RejectInvalid,
		ExtraReturnErrors: cbor.ExtraDecErrorUnknownField,
	}.DecMode()
	if err != nil {
		panic(err)
	}
}

// Encode returns the snapshot's deterministic encoding.
func (s *Snapshot) Encode() []byte {
	w := snapshotWire{Version: snapshotVersion, Epoch: s.Epoch, Height: s.Height, Hash: s.Hash, Signers: s.Signers}
	for _, h := range slices.Sorted(maps.Keys(s.Recents)) {
		w.Recents = append(w.Recents, recentWire{Height: h, Signer: s.Recents[h]})
	}
	for _, v := range s.Votes {
		w.Votes = append(w.Votes, voteWire{Signer: v.Signer, Height: v.Height, Target: v.Target, Add: v.Add})
	}
	b, err := snapEnc.Marshal(w)
	if err != nil {
		panic(fmt.Sprintf("consensus: encoding snapshot: %v", err)) // fixed struct; cannot fail
	}
	return b
}

// DecodeSnapshot decodes what Encode returned. It accepts only the
// canonical encoding of a snapshot Apply could have produced: signers
// sorted and at most MaxSigners, recent signers distinct and within the
// window, votes from signers in blocks since the last checkpoint, one per
// block in block order, at most one per signer and target, and all votes
// on a target in one direction.
func DecodeSnapshot(b []byte) (*Snapshot, error) {
	if len(b) > maxSnapshotBytes {
		return nil, fmt.Errorf("snapshot: %w: %d bytes", types.ErrOversize, len(b))
	}
	var w snapshotWire
	if err := snapDec.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("snapshot: %w: %v", types.ErrUndecodable, err)
	}
	if again, err := snapEnc.Marshal(w); err != nil || !bytes.Equal(again, b) {
		return nil, fmt.Errorf("snapshot: %w", types.ErrNonCanonical)
	}
	bad := func(format string, a ...any) (*Snapshot, error) {
		return nil, fmt.Errorf("snapshot: %w: "+format, append([]any{types.ErrUndecodable}, a...)...)
	}
	if w.Version != snapshotVersion {
		return bad("version %d", w.Version)
	}
	if len(w.Signers) > MaxSigners {
		return bad("%d signers", len(w.Signers))
	}
	for i := 1; i < len(w.Signers); i++ {
		if comparePK(w.Signers[i-1], w.Signers[i]) >= 0 {
			return bad("signers not sorted")
		}
	}
	s := NewSnapshot(w.Epoch, w.Height, w.Hash, w.Signers)
	limit := uint64(s.SignerLimit())
	for i, r := range w.Recents {
		if r.Height > s.Height || s.Height-r.Height >= limit || i > 0 && r.Height <= w.Recents[i-1].Height {
			return bad("recent signer at height %d", r.Height)
		}
		for _, seen := range s.Recents {
			if seen == r.Signer {
				return bad("signer recent twice")
			}
		}
		s.Recents[r.Height] = r.Signer
	}
	var since uint64 // votes are cast after the last checkpoint
	if s.Epoch != 0 {
		since = s.Height - s.Height%s.Epoch
	}
	type cast struct{ signer, target identity.PublicKey }
	seen := map[cast]bool{}
	for i, v := range w.Votes {
		// One vote per block, kept in block order.
		if v.Height <= since || v.Height > s.Height || i > 0 && v.Height <= w.Votes[i-1].Height ||
			!s.IsSigner(v.Signer) || seen[cast{v.Signer, v.Target}] {
			return bad("vote by %s at height %d", v.Signer.DID(), v.Height)
		}
		seen[cast{v.Signer, v.Target}] = true
		t, ok := s.Tally[v.Target]
		if ok && t.Add != v.Add {
			return bad("votes in both directions on one target")
		}
		s.Tally[v.Target] = Tally{Add: v.Add, Votes: t.Votes + 1}
		s.Votes = append(s.Votes, Vote{Signer: v.Signer, Height: v.Height, Target: v.Target, Add: v.Add})
	}
	return s, nil
}
