package consensus

import (
	"bytes"
	"errors"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger/types"
)

// votingChain grows a chain of n blocks with epoch 100 in which the
// signers keep voting keys in and out (between 3 and 7 of 9 keys) and the
// in-turn signer is offline a fifth of the time.
func votingChain(t testing.TB, n int) *testChain {
	t.Helper()
	c := newTestChain(t, 9, 5, 100)
	r := rand.New(rand.NewPCG(42, 42))
	pr := rand.New(rand.NewPCG(7, 7))
	all := slices.SortedFunc(maps.Keys(c.keys), comparePK)
	var proposals map[identity.PublicKey]bool
	c.grow(t, n, r, 0.2, func(height uint64) map[identity.PublicKey]bool {
		if height%60 != 1 {
			return proposals
		}
		_, snap := c.head()
		proposals = map[identity.PublicKey]bool{}
		var in, out []identity.PublicKey
		for _, k := range all {
			if snap.IsSigner(k) {
				in = append(in, k)
			} else {
				out = append(out, k)
			}
		}
		if len(in) < 7 {
			proposals[out[pr.IntN(len(out))]] = true
		}
		if len(in) > 3 {
			proposals[in[pr.IntN(len(in))]] = false
		}
		return proposals
	})
	return c
}

// sameSnapshot reports whether a and b hold the same state.
func sameSnapshot(a, b *Snapshot) bool {
	return bytes.Equal(a.Encode(), b.Encode()) && maps.Equal(a.Tally, b.Tally)
}

func TestVotingChainChangesSigners(t *testing.T) {
	c := votingChain(t, 600)
	changes, outOfTurn, votes := 0, 0, 0
	for i, h := range c.headers {
		if !slices.Equal(c.snaps[i].Signers, c.snaps[i+1].Signers) {
			changes++
		}
		if h.Difficulty == types.DiffNoTurn {
			outOfTurn++
		}
		if _, _, ok := h.Vote(); ok {
			votes++
		}
	}
	if changes < 10 || outOfTurn < 60 || votes < 50 {
		t.Fatalf("%d signer changes, %d out-of-turn blocks, %d votes in 600 blocks", changes, outOfTurn, votes)
	}
	// One fold of all headers equals the block-by-block fold.
	snap, err := c.snaps[0].Apply(c.headers)
	if err != nil {
		t.Fatal(err)
	}
	if !sameSnapshot(snap, c.snaps[len(c.snaps)-1]) {
		t.Fatal("batch fold differs from block-by-block fold")
	}
}

func TestSnapshotCopyIndependent(t *testing.T) {
	c := votingChain(t, 40)
	var orig *Snapshot
	for _, s := range c.snaps {
		if len(s.Votes) > 0 && len(s.Tally) > 0 {
			orig = s
		}
	}
	if orig == nil {
		t.Fatal("no snapshot with votes")
	}
	before, tally := orig.Encode(), maps.Clone(orig.Tally)
	cp := orig.Copy()
	if !sameSnapshot(cp, orig) {
		t.Fatal("copy differs")
	}
	cp.Signers[0][0] ^= 1
	cp.Signers = append(cp.Signers, identity.PublicKey{})
	cp.Votes[0].Add = !cp.Votes[0].Add
	cp.Votes = append(cp.Votes, Vote{})
	for h := range cp.Recents {
		cp.Recents[h] = identity.PublicKey{}
	}
	cp.Recents[1<<40] = identity.PublicKey{}
	for k := range cp.Tally {
		cp.Tally[k] = Tally{Votes: 99}
	}
	cp.Tally[identity.PublicKey{}] = Tally{}
	cp.Height++
	if !bytes.Equal(orig.Encode(), before) || !maps.Equal(orig.Tally, tally) {
		t.Fatal("changing the copy changed the original")
	}

	// Apply does not change its receiver either.
	snap := c.snaps[10]
	before, tally = snap.Encode(), maps.Clone(snap.Tally)
	if _, err := snap.Apply(c.headers[10:]); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(snap.Encode(), before) || !maps.Equal(snap.Tally, tally) {
		t.Fatal("Apply changed its receiver")
	}
	// Nor does a failing Apply.
	if _, err := snap.Apply(c.headers[11:]); !errors.Is(err, ErrInvalidVotingChain) {
		t.Fatalf("gap: %v", err)
	}
	if !bytes.Equal(snap.Encode(), before) || !maps.Equal(snap.Tally, tally) {
		t.Fatal("failing Apply changed its receiver")
	}
}

func TestSnapshotAccessors(t *testing.T) {
	ks := []identity.PublicKey{poaKey(t, 0).Public(), poaKey(t, 1).Public(), poaKey(t, 2).Public(), poaKey(t, 1).Public()}
	s := NewSnapshot(30000, 0, types.Hash{1}, ks)
	if len(s.Signers) != 3 || !slices.IsSortedFunc(s.Signers, comparePK) {
		t.Fatal("signers not sorted and deduplicated")
	}
	if s.SignerLimit() != 2 {
		t.Fatalf("limit %d", s.SignerLimit())
	}
	for h := uint64(0); h < 6; h++ {
		for i, k := range s.Signers {
			if s.InTurn(h, k) != (h%3 == uint64(i)) {
				t.Fatalf("height %d signer %d: in turn %v", h, i, s.InTurn(h, k))
			}
		}
	}
	if s.IsSigner(poaKey(t, 3).Public()) || s.InTurn(0, poaKey(t, 3).Public()) || !s.IsSigner(ks[2]) {
		t.Fatal("IsSigner / InTurn of a stranger")
	}
	s.Recents[5] = s.Signers[0]
	for _, c := range []struct {
		height uint64
		k      identity.PublicKey
		want   bool
	}{{6, s.Signers[0], true}, {7, s.Signers[0], false}, {6, s.Signers[1], false}} {
		if got := s.RecentlySigned(c.height, c.k); got != c.want {
			t.Fatalf("RecentlySigned(%d): %v", c.height, got)
		}
	}
	empty := NewSnapshot(10, 0, types.Hash{}, nil)
	if empty.InTurn(0, identity.PublicKey{}) || empty.SignerLimit() != 1 {
		t.Fatal("empty signer set")
	}
	// An empty batch gives an equal snapshot.
	if got, err := s.Apply(nil); err != nil || !sameSnapshot(got, s) || got == s {
		t.Fatalf("empty Apply: %v", err)
	}
}

func TestApplyRejectsBrokenChains(t *testing.T) {
	c := newTestChain(t, 3, 3, 4)
	c.grow(t, 5, rand.New(rand.NewPCG(1, 1)), 0, noProposals)
	g := c.snaps[0]
	mod := func(i int, f func(h *types.Header)) []*types.Header {
		hs := slices.Clone(c.headers)
		h := *hs[i]
		f(&h)
		hs[i] = &h
		return hs
	}
	for name, tc := range map[string]struct {
		headers []*types.Header
		want    error
	}{
		"gap":                      {append(slices.Clone(c.headers[:2]), c.headers[3:]...), ErrInvalidVotingChain},
		"not after the snapshot":   {c.headers[1:], ErrInvalidVotingChain},
		"wrong parent":             {mod(2, func(h *types.Header) { h.Parent[0] ^= 1 }), ErrInvalidVotingChain},
		"forked child":             {mod(1, func(h *types.Header) { h.Time++ }), ErrInvalidVotingChain},
		"epoch block with vote":    {mod(3, func(h *types.Header) { h.VoteTarget = h.Proposer.Bytes() }), ErrInvalidCheckpoint},
		"epoch block without list": {mod(3, func(h *types.Header) { h.Checkpoint = nil }), ErrInvalidCheckpoint},
		"list off epoch":           {mod(2, func(h *types.Header) { h.Checkpoint = g.Signers }), ErrInvalidCheckpoint},
		"unauthorized":             {mod(4, func(h *types.Header) { h.Proposer = poaKey(t, 5).Public() }), ErrUnauthorizedSigner},
		"recent":                   {mod(4, func(h *types.Header) { h.Proposer = c.headers[3].Proposer }), ErrRecentlySigned},
	} {
		if _, err := g.Apply(tc.headers); !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", name, err, tc.want)
		}
	}
}

func TestSnapshotEncodeRoundTrip(t *testing.T) {
	c := votingChain(t, 400)
	snaps := append(slices.Clone(c.snaps), NewSnapshot(0, 0, types.Hash{}, nil), NewSnapshot(7, 1<<60, types.Hash{9}, []identity.PublicKey{{1}}))
	withVotes := 0
	for _, s := range snaps {
		enc := s.Encode()
		got, err := DecodeSnapshot(enc)
		if err != nil {
			t.Fatalf("height %d: %v", s.Height, err)
		}
		if !sameSnapshot(got, s) || got.Height != s.Height || got.Hash != s.Hash || got.Epoch != s.Epoch {
			t.Fatalf("height %d: round trip differs", s.Height)
		}
		if len(s.Votes) > 0 {
			withVotes++
		}
		// The decoded snapshot folds on like the original.
		if int(s.Height) < len(c.headers) && s.Height > 0 && s.Height%37 == 0 {
			a, errA := s.Apply(c.headers[s.Height:])
			b, errB := got.Apply(c.headers[s.Height:])
			if errA != nil || errB != nil || !sameSnapshot(a, b) {
				t.Fatalf("height %d: folds differ: %v %v", s.Height, errA, errB)
			}
		}
	}
	if withVotes < 30 {
		t.Fatalf("only %d snapshots with votes", withVotes)
	}
}

func TestDecodeSnapshotRejects(t *testing.T) {
	a, b, x := poaKey(t, 0).Public(), poaKey(t, 1).Public(), poaKey(t, 2).Public()
	signers := []identity.PublicKey{a, b}
	slices.SortFunc(signers, comparePK)
	good := func() snapshotWire {
		return snapshotWire{Version: snapshotVersion, Epoch: 100, Height: 150, Hash: types.Hash{1}, Signers: slices.Clone(signers),
			Recents: []recentWire{{Height: 149, Signer: a}, {Height: 150, Signer: b}},
			Votes:   []voteWire{{Signer: a, Height: 120, Target: x, Add: true}, {Signer: b, Height: 121, Target: x, Add: true}, {Signer: b, Height: 130, Target: a}}}
	}
	enc := func(w snapshotWire) []byte {
		out, err := snapEnc.Marshal(w)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	s, err := DecodeSnapshot(enc(good()))
	if err != nil {
		t.Fatal(err)
	}
	if s.Tally[x] != (Tally{Add: true, Votes: 2}) || s.Tally[a] != (Tally{Votes: 1}) || len(s.Tally) != 2 {
		t.Fatalf("tally %v", s.Tally)
	}
	cases := map[string]func(w *snapshotWire){
		"version":             func(w *snapshotWire) { w.Version = 2 },
		"unsorted signers":    func(w *snapshotWire) { slices.Reverse(w.Signers) },
		"duplicate signer":    func(w *snapshotWire) { w.Signers = []identity.PublicKey{a, a} },
		"too many signers":    func(w *snapshotWire) { w.Signers = make([]identity.PublicKey, MaxSigners+1) },
		"recent in future":    func(w *snapshotWire) { w.Recents[1].Height = 151 },
		"recent too old":      func(w *snapshotWire) { w.Recents[0].Height = 148 },
		"recents unsorted":    func(w *snapshotWire) { w.Recents[0], w.Recents[1] = w.Recents[1], w.Recents[0] },
		"recent twice":        func(w *snapshotWire) { w.Recents[1].Signer = a },
		"vote by non-signer":  func(w *snapshotWire) { w.Votes[0].Signer = x },
		"vote before epoch":   func(w *snapshotWire) { w.Votes[0].Height = 100 },
		"vote in future":      func(w *snapshotWire) { w.Votes[0].Height = 151 },
		"duplicate vote":      func(w *snapshotWire) { w.Votes[1].Signer = a },
		"votes out of order":  func(w *snapshotWire) { w.Votes[0].Height = 125 },
		"two votes per block": func(w *snapshotWire) { w.Votes[1].Height = 120 },
		"votes both ways":     func(w *snapshotWire) { w.Votes[1].Add = false },
		"epoch block's votes": func(w *snapshotWire) { w.Height, w.Recents = 200, nil },
	}
	for name, f := range cases {
		w := good()
		f(&w)
		if _, err := DecodeSnapshot(enc(w)); !errors.Is(err, types.ErrUndecodable) {
			t.Errorf("%s: got %v", name, err)
		}
	}
	e := enc(good())
	for name, c := range map[string]struct {
		b    []byte
		want error
	}{
		"empty":          {nil, types.ErrUndecodable},
		"truncated":      {e[:len(e)-1], types.ErrUndecodable},
		"trailing":       {append(slices.Clone(e), 0), types.ErrUndecodable},
		"not an array":   {[]byte{0xa0}, types.ErrUndecodable},
		"short key":      {bytes.Replace(slices.Clone(e), append([]byte{0x58, 0x20}, x[:]...), append([]byte{0x58, 0x1f}, x[1:]...), 1), types.ErrNonCanonical},
		"non-minimal":    {append([]byte{0x87, 0x18, 0x01}, e[2:]...), types.ErrNonCanonical},
		"indefinite":     {append(append([]byte{0x9f}, e[1:]...), 0xff), types.ErrUndecodable},
		"oversize input": {make([]byte, maxSnapshotBytes+1), types.ErrOversize},
	} {
		if _, err := DecodeSnapshot(c.b); !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", name, err, c.want)
		}
	}
}

func FuzzDecodeSnapshot(f *testing.F) {
	c := votingChain(f, 120)
	for i := 0; i < len(c.snaps); i += 15 {
		f.Add(c.snaps[i].Encode())
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := DecodeSnapshot(b)
		if err != nil {
			return
		}
		if !bytes.Equal(s.Encode(), b) {
			t.Fatal("decoded snapshot encodes differently")
		}
		again, err := DecodeSnapshot(s.Copy().Encode())
		if err != nil || !sameSnapshot(again, s) {
			t.Fatalf("re-decoding: %v", err)
		}
		// Whatever decodes can be folded on without panicking.
		h := &types.Header{Height: s.Height + 1, Parent: s.Hash, Difficulty: types.DiffNoTurn}
		for _, k := range s.Signers {
			h.Proposer = k
			if s.isCheckpoint(h.Height) {
				h.Checkpoint = s.Signers
			}
			_, _ = s.Apply([]*types.Header{h})
		}
	})
}

// TestDropShrinksRecentWindow: when a drop shrinks the signer limit, the
// recent entry that left the smaller window is forgotten at once, so its
// signer may seal the next block.
func TestDropShrinksRecentWindow(t *testing.T) {
	a, b, c, d := letterKey(t, "A"), letterKey(t, "B"), letterKey(t, "C"), letterKey(t, "D")
	snap := NewSnapshot(30000, 0, types.Hash{}, []identity.PublicKey{a, b, c, d})
	parent := snap.Hash
	var headers []*types.Header
	for i, signer := range []identity.PublicKey{a, b, c, a} {
		h := &types.Header{Version: types.BlockVersion, Height: uint64(i + 1), Parent: parent, Proposer: signer}
		if i < 3 {
			h.VoteTarget = d.Bytes()
		}
		headers, parent = append(headers, h), h.Hash()
	}
	after3, err := snap.Apply(headers[:3])
	if err != nil {
		t.Fatal(err)
	}
	if len(after3.Signers) != 3 || after3.IsSigner(d) {
		t.Fatal("D not dropped")
	}
	if want := map[uint64]identity.PublicKey{2: b, 3: c}; !maps.Equal(after3.Recents, want) {
		t.Fatalf("recents %v, want blocks 2 and 3", slices.Sorted(maps.Keys(after3.Recents)))
	}
	if _, err := after3.Apply(headers[3:]); err != nil {
		t.Fatalf("A seals block 4: %v", err)
	}
}
