package consensus

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger/types"
)

var poaGenesisTime = time.UnixMilli(1_767_225_600_000)

// poaKey returns the i-th deterministic test key of this file.
func poaKey(t testing.TB, i int) *identity.PrivateKey {
	t.Helper()
	seed := sha256.Sum256(fmt.Appendf(nil, "poa test key %d", i))
	k, err := identity.FromSeed(seed[:])
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// testChain is a chain sealed by the PoA rules, with the snapshot after
// every block; it is also the HeaderReader of its blocks.
type testChain struct {
	poa     *PoA
	keys    map[identity.PublicKey]*identity.PrivateKey
	headers []*types.Header // headers[i] is at height i+1
	seals   [][]byte
	snaps   []*Snapshot // snaps[i] is the snapshot after height i
	byHash  map[types.Hash]*types.Header
}

// newTestChain returns an empty chain over a genesis with the first
// authorities of nkeys keys and the given epoch.
func newTestChain(t testing.TB, nkeys, authorities int, epoch uint64) *testChain {
	t.Helper()
	c := &testChain{keys: map[identity.PublicKey]*identity.PrivateKey{}, byHash: map[types.Hash]*types.Header{}}
	var auth []identity.PublicKey
	for i := range nkeys {
		k := poaKey(t, i)
		c.keys[k.Public()] = k
		if i < authorities {
			auth = append(auth, k.Public())
		}
	}
	g := types.NewGenesis("poa-test", poaGenesisTime, auth...)
	g.Epoch = epoch
	p, err := NewPoA(g)
	if err != nil {
		t.Fatal(err)
	}
	c.poa = p
	c.snaps = []*Snapshot{p.GenesisSnapshot()}
	return c
}

func (c *testChain) Header(hash types.Hash) (*types.Header, bool) {
	h, ok := c.byHash[hash]
	return h, ok
}

func (c *testChain) head() (*types.Header, *Snapshot) {
	snap := c.snaps[len(c.snaps)-1]
	if len(c.headers) == 0 {
		return nil, snap
	}
	return c.headers[len(c.headers)-1], snap
}

// next builds, prepares and seals the header after the head by signer at
// time at, without adding it.
func (c *testChain) next(signer identity.PublicKey, at time.Time, proposals map[identity.PublicKey]bool) (*types.Header, []byte) {
	parent, snap := c.head()
	h := &types.Header{Version: types.BlockVersion, ChainID: "poa-test", Height: snap.Height + 1, Parent: snap.Hash,
		Time: at.UnixMilli(), Proposer: signer}
	if parent == nil {
		h.Parent = c.poa.GenesisHash()
	}
	c.poa.Prepare(snap, h, proposals)
	return h, c.keys[signer].Sign(h.SealBytes())
}

// parentTime returns the head's time (the genesis time at height 0).
func (c *testChain) parentTime() time.Time {
	if parent, _ := c.head(); parent != nil {
		return parent.BlockTime()
	}
	return poaGenesisTime
}

// add verifies a header against the head and appends it.
func (c *testChain) add(t testing.TB, h *types.Header, seal []byte) {
	t.Helper()
	parent, snap := c.head()
	if err := c.poa.VerifyHeader(snap, parent, h, seal, h.BlockTime()); err != nil {
		t.Fatalf("block %d refused: %v", h.Height, err)
	}
	next, err := snap.Apply([]*types.Header{h})
	if err != nil {
		t.Fatalf("block %d verified but does not apply: %v", h.Height, err)
	}
	c.headers, c.seals, c.snaps = append(c.headers, h), append(c.seals, seal), append(c.snaps, next)
	c.byHash[h.Hash()] = h
}

// grow seals n more blocks. Each block goes to the signer whose SealTime is
// earliest, except that with probability skip the in-turn signer is
// offline. proposals(height) gives the proposals every signer pushes.
func (c *testChain) grow(t testing.TB, n int, r *rand.Rand, skip float64, proposals func(uint64) map[identity.PublicKey]bool) {
	t.Helper()
	for range n {
		_, snap := c.head()
		offline := r.Float64() < skip
		var best identity.PublicKey
		var bestAt time.Time
		for _, s := range snap.Signers {
			at, ok := c.poa.SealTime(snap, s, snap.Height, c.parentTime(), r)
			if !ok || offline && snap.InTurn(snap.Height+1, s) {
				continue
			}
			if bestAt.IsZero() || at.Before(bestAt) {
				best, bestAt = s, at
			}
		}
		if bestAt.IsZero() {
			t.Fatalf("nobody may seal block %d", snap.Height+1)
		}
		h, seal := c.next(best, bestAt, proposals(snap.Height+1))
		c.add(t, h, seal)
	}
}

func noProposals(uint64) map[identity.PublicKey]bool { return nil }

func TestNewPoA(t *testing.T) {
	c := newTestChain(t, 3, 3, 100)
	g := c.snaps[0]
	if g.Height != 0 || g.Epoch != 100 || len(g.Signers) != 3 || !slices.IsSortedFunc(g.Signers, comparePK) {
		t.Fatalf("genesis snapshot %+v", g)
	}
	if c.poa.Slot() != time.Second {
		t.Fatalf("slot %v", c.poa.Slot())
	}
	if _, err := NewPoA(&types.Genesis{ChainID: "x"}); !errors.Is(err, types.ErrBadGenesis) {
		t.Fatalf("invalid genesis accepted: %v", err)
	}
}

func TestVerifyHeader(t *testing.T) {
	c := newTestChain(t, 4, 3, 4)
	c.grow(t, 3, rand.New(rand.NewPCG(1, 1)), 0, noProposals)
	signers := c.snaps[0].Signers
	// In-turn: height h is signers[h%3]; block 3 was sealed by signers[0]
	// and block 2 by signers[2].
	for i, h := range c.headers {
		if h.Proposer != signers[(i+1)%3] || h.Difficulty != types.DiffInTurn {
			t.Fatalf("block %d not sealed in turn", h.Height)
		}
	}
	stranger := poaKey(t, 3)
	slot := c.poa.Slot().Milliseconds()

	type tc struct {
		name   string
		parent int // height of the parent
		signer identity.PublicKey
		mutate func(h *types.Header)
		snap   *Snapshot // default: the snapshot after the parent
		seal   func(seal []byte)
		now    int64 // offset from the header time, ms
		want   error
	}
	wrongCheckpoint := slices.Clone(signers)
	wrongCheckpoint[0] = stranger.Public()
	cases := []tc{
		{name: "in turn", parent: 2, signer: signers[0]},
		{name: "out of turn", parent: 2, signer: signers[1]},
		{name: "first block", parent: 0, signer: signers[1]},
		{name: "epoch block", parent: 3, signer: signers[1]},
		{name: "vote", parent: 2, signer: signers[0], mutate: func(h *types.Header) { h.VoteTarget, h.VoteAdd = stranger.Public().Bytes(), true }},
		{name: "at the future limit", parent: 2, signer: signers[0], now: -FutureAllowance.Milliseconds()},
		{name: "wrong chain", parent: 2, signer: signers[0], mutate: func(h *types.Header) { h.ChainID = "other" }, want: ErrWrongChain},
		{name: "bad version", parent: 2, signer: signers[0], mutate: func(h *types.Header) { h.Version = 2 }, want: types.ErrBadVersion},
		{name: "vote add without target", parent: 2, signer: signers[0], mutate: func(h *types.Header) { h.VoteAdd = true }, want: types.ErrBadBlock},
		{name: "short vote target", parent: 2, signer: signers[0], mutate: func(h *types.Header) { h.VoteTarget = []byte{1} }, want: types.ErrBadBlock},
		{name: "wrong height", parent: 2, signer: signers[0], mutate: func(h *types.Header) { h.Height = 5 }, want: ErrWrongParent},
		{name: "height 0", parent: 0, signer: signers[1], mutate: func(h *types.Header) { h.Height = 0 }, want: ErrWrongParent},
		{name: "wrong parent", parent: 2, signer: signers[0], mutate: func(h *types.Header) { h.Parent[0] ^= 1 }, want: ErrWrongParent},
		{name: "first block not on genesis", parent: 0, signer: signers[1], mutate: func(h *types.Header) { h.Parent = types.Hash{} }, want: ErrWrongParent},
		{name: "snapshot of another block", parent: 2, signer: signers[0], snap: c.snaps[3], want: ErrInvalidVotingChain},
		{name: "too early", parent: 2, signer: signers[0], mutate: func(h *types.Header) { h.Time-- }, want: ErrTooEarly},
		{name: "first block too early", parent: 0, signer: signers[1], mutate: func(h *types.Header) { h.Time-- }, want: ErrTooEarly},
		{name: "future", parent: 2, signer: signers[0], now: -FutureAllowance.Milliseconds() - 1, want: ErrFutureBlock},
		{name: "unauthorized", parent: 2, signer: stranger.Public(), want: ErrUnauthorizedSigner},
		{name: "recently signed", parent: 2, signer: signers[2], want: ErrRecentlySigned},
		{name: "in turn with difficulty 1", parent: 2, signer: signers[0], mutate: func(h *types.Header) { h.Difficulty = types.DiffNoTurn }, want: ErrWrongDifficulty},
		{name: "out of turn with difficulty 2", parent: 2, signer: signers[1], mutate: func(h *types.Header) { h.Difficulty = types.DiffInTurn }, want: ErrWrongDifficulty},
		{name: "difficulty 3", parent: 2, signer: signers[0], mutate: func(h *types.Header) { h.Difficulty = 3 }, want: ErrWrongDifficulty},
		{name: "checkpoint missing", parent: 3, signer: signers[1], mutate: func(h *types.Header) { h.Checkpoint = nil }, want: ErrInvalidCheckpoint},
		{name: "checkpoint wrong", parent: 3, signer: signers[1], mutate: func(h *types.Header) { h.Checkpoint = wrongCheckpoint }, want: ErrInvalidCheckpoint},
		{name: "checkpoint short", parent: 3, signer: signers[1], mutate: func(h *types.Header) { h.Checkpoint = h.Checkpoint[1:] }, want: ErrInvalidCheckpoint},
		{name: "checkpoint unsorted", parent: 3, signer: signers[1], mutate: func(h *types.Header) { slices.Reverse(h.Checkpoint) }, want: ErrInvalidCheckpoint},
		{name: "checkpoint with vote", parent: 3, signer: signers[1], mutate: func(h *types.Header) { h.VoteTarget = stranger.Public().Bytes() }, want: ErrInvalidCheckpoint},
		{name: "checkpoint off epoch", parent: 2, signer: signers[0], mutate: func(h *types.Header) { h.Checkpoint = slices.Clone(signers) }, want: ErrInvalidCheckpoint},
		{name: "bad seal", parent: 2, signer: signers[0], seal: func(s []byte) { s[0] ^= 1 }, want: ErrBadSeal},
		{name: "no seal", parent: 2, signer: signers[0], seal: func(s []byte) { clear(s) }, want: ErrBadSeal},
	}
	keys := map[identity.PublicKey]*identity.PrivateKey{stranger.Public(): stranger}
	for k, v := range c.keys {
		keys[k] = v
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var parent *types.Header
			parentHash, parentTime := c.poa.GenesisHash(), poaGenesisTime.UnixMilli()
			if tc.parent > 0 {
				parent = c.headers[tc.parent-1]
				parentHash, parentTime = parent.Hash(), parent.Time
			}
			snap := c.snaps[tc.parent]
			h := &types.Header{Version: types.BlockVersion, ChainID: "poa-test", Height: uint64(tc.parent) + 1,
				Parent: parentHash, Time: parentTime + slot, Proposer: tc.signer}
			c.poa.Prepare(snap, h, nil)
			if tc.mutate != nil {
				tc.mutate(h)
			}
			seal := keys[tc.signer].Sign(h.SealBytes())
			if tc.seal != nil {
				tc.seal(seal)
			}
			if tc.snap != nil {
				snap = tc.snap
			}
			err := c.poa.VerifyHeader(snap, parent, h, seal, h.BlockTime().Add(time.Duration(tc.now)*time.Millisecond))
			if tc.want == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if err := c.poa.VerifySeal(h, seal); err != nil {
					t.Fatalf("VerifySeal: %v", err)
				}
				if _, err := snap.Apply([]*types.Header{h}); err != nil {
					t.Fatalf("verified header does not apply: %v", err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			// The snapshot fold enforces the voting rules too.
			switch tc.want {
			case ErrUnauthorizedSigner, ErrRecentlySigned, ErrInvalidCheckpoint:
				if _, err := snap.Apply([]*types.Header{h}); !errors.Is(err, tc.want) {
					t.Fatalf("Apply: got %v, want %v", err, tc.want)
				}
			}
		})
	}
}

func TestVerifySealStateless(t *testing.T) {
	c := newTestChain(t, 4, 3, 4)
	c.grow(t, 4, rand.New(rand.NewPCG(1, 1)), 0, noProposals)
	for i, h := range c.headers {
		if err := c.poa.VerifySeal(h, c.seals[i]); err != nil {
			t.Fatalf("block %d: %v", h.Height, err)
		}
	}
	// No authority check: a stranger's well-formed header passes.
	stranger := poaKey(t, 3)
	h := *c.headers[0]
	h.Proposer = stranger.Public()
	if err := c.poa.VerifySeal(&h, stranger.Sign(h.SealBytes())); err != nil {
		t.Fatalf("stranger's seal: %v", err)
	}
	if err := c.poa.VerifySeal(&h, c.seals[0]); !errors.Is(err, ErrBadSeal) {
		t.Fatalf("seal of another proposer: %v", err)
	}
	other := *c.headers[0]
	other.ChainID = "other"
	if err := c.poa.VerifySeal(&other, c.keys[other.Proposer].Sign(other.SealBytes())); !errors.Is(err, ErrWrongChain) {
		t.Fatalf("other chain: %v", err)
	}
	epoch := *c.headers[3]
	epoch.Checkpoint = nil
	if err := c.poa.VerifySeal(&epoch, c.keys[epoch.Proposer].Sign(epoch.SealBytes())); !errors.Is(err, ErrInvalidCheckpoint) {
		t.Fatalf("epoch block without checkpoint: %v", err)
	}
}

func TestSealTime(t *testing.T) {
	c := newTestChain(t, 6, 5, 1000)
	c.grow(t, 7, rand.New(rand.NewPCG(1, 1)), 0, noProposals)
	_, snap := c.head()
	parentTime := c.parentTime()
	slot := c.poa.Slot()
	height := snap.Height + 1
	// Wiggle range: SignerLimit (3) quarter slots after one and a half slots.
	lo, hi := parentTime.Add(slot+slot/2), parentTime.Add(slot+slot/2+3*slot/4)

	times := func(seed uint64) map[identity.PublicKey]time.Time {
		r := rand.New(rand.NewPCG(seed, 0))
		out := map[identity.PublicKey]time.Time{}
		for _, k := range slices.SortedFunc(maps.Keys(c.keys), comparePK) {
			if at, ok := c.poa.SealTime(snap, k, snap.Height, parentTime, r); ok {
				out[k] = at
			}
		}
		return out
	}
	got := times(7)
	// Five signers, limit 3: the signers of the last two blocks must wait,
	// and the stranger never seals.
	if len(got) != 3 {
		t.Fatalf("%d signers may seal, want 3", len(got))
	}
	for k, at := range got {
		switch {
		case !snap.IsSigner(k) || snap.RecentlySigned(height, k):
			t.Fatalf("%s may seal", k)
		case snap.InTurn(height, k):
			if !at.Equal(parentTime.Add(slot)) {
				t.Fatalf("in turn at %v, want parent + slot", at.Sub(parentTime))
			}
		case at.Before(lo) || !at.Before(hi):
			t.Fatalf("out of turn at %v, outside [%v, %v)", at.Sub(parentTime), lo.Sub(parentTime), hi.Sub(parentTime))
		}
	}
	for _, k := range []identity.PublicKey{c.headers[len(c.headers)-1].Proposer, c.headers[len(c.headers)-2].Proposer, poaKey(t, 5).Public()} {
		if _, ok := got[k]; ok {
			t.Fatalf("recent signer or stranger may seal")
		}
	}
	// The same seed gives the same times; over many seeds the wiggle
	// covers its range.
	for seed := uint64(0); seed < 5; seed++ {
		a, b := times(seed), times(seed)
		for k := range a {
			if !a[k].Equal(b[k]) {
				t.Fatalf("seed %d: times differ", seed)
			}
		}
	}
	var minW, maxW time.Duration = hi.Sub(lo), 0
	for seed := uint64(0); seed < 200; seed++ {
		for k, at := range times(seed) {
			if !snap.InTurn(height, k) {
				minW, maxW = min(minW, at.Sub(lo)), max(maxW, at.Sub(lo))
			}
		}
	}
	if minW > hi.Sub(lo)/10 || maxW < hi.Sub(lo)*9/10 {
		t.Fatalf("wiggle spans [%v, %v] of [0, %v)", minW, maxW, hi.Sub(lo))
	}
	// nil r still works.
	for k := range got {
		if _, ok := c.poa.SealTime(snap, k, snap.Height, parentTime, nil); !ok {
			t.Fatal("nil rand")
		}
	}
}

func TestPrepareRotatesVotes(t *testing.T) {
	c := newTestChain(t, 8, 5, 1000)
	signers := c.snaps[0].Signers
	s0 := signers[0]
	proposals := map[identity.PublicKey]bool{
		poaKey(t, 5).Public(): true,  // add
		poaKey(t, 6).Public(): true,  // add
		signers[4]:            false, // drop
		signers[3]:            true,  // no-op: already a signer
		poaKey(t, 7).Public(): false, // no-op: not a signer
	}
	meaningful := []identity.PublicKey{poaKey(t, 5).Public(), poaKey(t, 6).Public(), signers[4]}
	slices.SortFunc(meaningful, comparePK)

	// Against one snapshot, successive heights vote on every meaningful
	// proposal in turn.
	snap := c.snaps[0]
	seen := map[identity.PublicKey]bool{}
	for height := uint64(1); height <= 3; height++ {
		h := &types.Header{Height: height, Proposer: s0}
		c.poa.Prepare(snap, h, proposals)
		target, add, ok := h.Vote()
		if !ok || target != meaningful[height%3] || add != proposals[target] {
			t.Fatalf("height %d: vote %v %v %v", height, ok, target, add)
		}
		seen[target] = true
	}
	if len(seen) != 3 {
		t.Fatalf("voted on %d proposals, want 3", len(seen))
	}

	// Along a chain, a signer does not repeat a pending vote, so each
	// signer votes on every proposal within three of its blocks.
	c.grow(t, 15, rand.New(rand.NewPCG(3, 3)), 0, func(uint64) map[identity.PublicKey]bool { return proposals })
	_, snap = c.head()
	for _, k := range []identity.PublicKey{poaKey(t, 5).Public(), poaKey(t, 6).Public()} {
		if !snap.IsSigner(k) {
			t.Fatalf("proposal to add %s did not pass", k)
		}
	}
	if snap.IsSigner(signers[4]) {
		t.Fatal("proposal to drop did not pass")
	}
	// All proposals done: no vote.
	h := &types.Header{Height: snap.Height + 1, Proposer: snap.Signers[0]}
	c.poa.Prepare(snap, h, proposals)
	if _, _, ok := h.Vote(); ok || h.Checkpoint != nil {
		t.Fatalf("vote without a meaningful proposal: %x", h.VoteTarget)
	}

	// Epoch blocks carry the signers and no vote.
	e := newTestChain(t, 8, 5, 4)
	e.grow(t, 3, rand.New(rand.NewPCG(1, 2)), 0, noProposals)
	_, snap = e.head()
	h = &types.Header{Height: 4, Proposer: snap.Signers[0], VoteTarget: poaKey(t, 5).Public().Bytes(), VoteAdd: true}
	e.poa.Prepare(snap, h, proposals)
	if _, _, ok := h.Vote(); ok || !slices.Equal(h.Checkpoint, snap.Signers) {
		t.Fatalf("epoch block: vote %v, checkpoint of %d", ok, len(h.Checkpoint))
	}
}
