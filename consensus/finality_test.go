package consensus

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger/types"
)

const ffgChain = "ffg-test"

// ffgKeys returns n deterministic keys; tag keeps sets apart.
func ffgKeys(tb testing.TB, tag string, n int) []*identity.PrivateKey {
	tb.Helper()
	out := make([]*identity.PrivateKey, n)
	for i := range out {
		seed := sha256.Sum256(fmt.Appendf(nil, "finality test key %s %d", tag, i))
		k, err := identity.FromSeed(seed[:])
		if err != nil {
			tb.Fatal(err)
		}
		out[i] = k
	}
	return out
}

func ffgPubs(ks []*identity.PrivateKey) []identity.PublicKey {
	out := make([]identity.PublicKey, len(ks))
	for i, k := range ks {
		out[i] = k.Public()
	}
	return out
}

// ffgTree is an in-memory block tree implementing BlockInfo. Every block
// has the same voters unless votersAt says otherwise.
type ffgTree struct {
	genesis  types.Checkpoint
	parent   map[types.Checkpoint]types.Checkpoint
	children map[types.Checkpoint][]types.Checkpoint
	voters   []identity.PublicKey
	votersAt map[types.Checkpoint][]identity.PublicKey
	n        int
}

func newFFGTree(voters []identity.PublicKey) *ffgTree {
	g := types.Checkpoint{Height: 0, Hash: sha256.Sum256([]byte("genesis"))}
	return &ffgTree{genesis: g, parent: map[types.Checkpoint]types.Checkpoint{g: {}},
		children: map[types.Checkpoint][]types.Checkpoint{}, voters: voters, votersAt: map[types.Checkpoint][]identity.PublicKey{}}
}

// add returns a new child of p.
func (t *ffgTree) add(p types.Checkpoint) types.Checkpoint {
	t.n++
	c := types.Checkpoint{Height: p.Height + 1, Hash: sha256.Sum256(fmt.Appendf(p.Hash[:], "%d", t.n))}
	t.parent[c] = p
	t.children[p] = append(t.children[p], c)
	return c
}

// chain returns n new blocks, each a child of the previous, from p.
func (t *ffgTree) chain(p types.Checkpoint, n int) []types.Checkpoint {
	out := make([]types.Checkpoint, n)
	for i := range out {
		p = t.add(p)
		out[i] = p
	}
	return out
}

func (t *ffgTree) Known(c types.Checkpoint) bool { _, ok := t.parent[c]; return ok }

func (t *ffgTree) IsAncestor(a, b types.Checkpoint) bool {
	if !t.Known(a) || !t.Known(b) {
		return false
	}
	for b.Height > a.Height {
		b = t.parent[b]
	}
	return a == b
}

func (t *ffgTree) Voters(c types.Checkpoint) ([]identity.PublicKey, bool) {
	if !t.Known(c) {
		return nil, false
	}
	if v, ok := t.votersAt[c]; ok {
		return v, true
	}
	return t.voters, true
}

// ffgView is one node's view of a tree: the blocks it has received.
type ffgView struct {
	tree  *ffgTree
	known map[types.Checkpoint]bool
}

func newFFGView(t *ffgTree) *ffgView {
	return &ffgView{tree: t, known: map[types.Checkpoint]bool{t.genesis: true}}
}

func (v *ffgView) Known(c types.Checkpoint) bool { return v.known[c] }

func (v *ffgView) IsAncestor(a, b types.Checkpoint) bool {
	return v.known[a] && v.known[b] && v.tree.IsAncestor(a, b)
}

func (v *ffgView) Voters(c types.Checkpoint) ([]identity.PublicKey, bool) {
	if !v.known[c] {
		return nil, false
	}
	return v.tree.Voters(c)
}

func ffgSign(k *identity.PrivateKey, s, t types.Checkpoint) *types.FinalityVote {
	v := &types.FinalityVote{ChainID: ffgChain, Source: s, Target: t}
	v.Sign(k)
	return v
}

// ffgAdd adds the votes of keys for s → t and returns the merged update.
func ffgAdd(tb testing.TB, f *Finality, info BlockInfo, keys []*identity.PrivateKey, s, t types.Checkpoint) Update {
	tb.Helper()
	var all Update
	for _, k := range keys {
		u, err := f.AddVote(ffgSign(k, s, t), info)
		if err != nil {
			tb.Fatalf("vote of %s for %d → %d: %v", k.Public().DID(), s.Height, t.Height, err)
		}
		all.Justified = append(all.Justified, u.Justified...)
		all.Evidence = append(all.Evidence, u.Evidence...)
		if u.Finalized != nil {
			all.Finalized = u.Finalized
		}
	}
	return all
}

func TestFinalityThreshold(t *testing.T) {
	for _, c := range []struct{ voters, need int }{{1, 1}, {3, 3}, {4, 3}, {5, 4}, {6, 5}, {7, 5}, {10, 7}} {
		t.Run(fmt.Sprintf("%d voters", c.voters), func(t *testing.T) {
			ks := ffgKeys(t, "threshold", c.voters)
			tree := newFFGTree(ffgPubs(ks))
			b1 := tree.add(tree.genesis)
			f := NewFinality(tree.genesis)
			if f.Justified() != tree.genesis || f.Finalized() != tree.genesis || !f.IsJustified(tree.genesis) {
				t.Fatal("genesis is not justified and finalized")
			}
			if u := ffgAdd(t, f, tree, ks[:c.need-1], tree.genesis, b1); len(u.Justified) != 0 || f.IsJustified(b1) {
				t.Fatalf("%d of %d votes justified", c.need-1, c.voters)
			}
			u := ffgAdd(t, f, tree, ks[c.need-1:c.need], tree.genesis, b1)
			if !slices.Equal(u.Justified, []types.Checkpoint{b1}) || !f.IsJustified(b1) || f.Justified() != b1 {
				t.Fatalf("%d of %d votes: update %+v", c.need, c.voters, u)
			}
			// The genesis was final already.
			if u.Finalized != nil || f.Finalized() != tree.genesis {
				t.Fatalf("finalized %+v", u.Finalized)
			}
			// Later votes change nothing.
			if u := ffgAdd(t, f, tree, ks[c.need:], tree.genesis, b1); len(u.Justified) != 0 || u.Finalized != nil {
				t.Fatalf("late votes: %+v", u)
			}
			if cert := f.Certificate(b1); len(cert) != c.need {
				t.Fatalf("certificate of %d votes", len(cert))
			}
		})
	}
}

func TestFinalityDirectAndSkipLinks(t *testing.T) {
	ks := ffgKeys(t, "links", 4)
	tree := newFFGTree(ffgPubs(ks))
	g := tree.genesis
	b := append([]types.Checkpoint{g}, tree.chain(g, 6)...)
	f := NewFinality(g)
	three := ks[:3]

	ffgAdd(t, f, tree, three, g, b[1])
	// Skip link b1 → b3: justifies b3, finalizes nothing.
	u := ffgAdd(t, f, tree, three, b[1], b[3])
	if !slices.Equal(u.Justified, []types.Checkpoint{b[3]}) || u.Finalized != nil || f.Finalized() != g {
		t.Fatalf("skip link: %+v, finalized %d", u, f.Finalized().Height)
	}
	// Direct link b3 → b4: finalizes b3.
	u = ffgAdd(t, f, tree, three, b[3], b[4])
	if !slices.Equal(u.Justified, []types.Checkpoint{b[4]}) || u.Finalized == nil || *u.Finalized != b[3] || f.Finalized() != b[3] {
		t.Fatalf("direct link: %+v", u)
	}
	if f.Justified() != b[4] {
		t.Fatalf("justified %d", f.Justified().Height)
	}
	// A direct link into a checkpoint justified already (b4 → b6 first,
	// then b5 ... no: b4 → b6 justifies b6; b5 is never justified, so
	// b5 → b6 cannot finalize b5).
	ffgAdd(t, f, tree, three, b[4], b[6])
	if u := ffgAdd(t, f, tree, ks[1:], b[5], b[6]); u.Finalized != nil || f.Finalized() != b[3] {
		t.Fatalf("link from an unjustified source finalized %+v", u.Finalized)
	}
}

// TestFinalityDirectLinkIntoJustified: a direct link finalizes its source
// even if its target was justified before by a skip link.
func TestFinalityDirectLinkIntoJustified(t *testing.T) {
	ks := ffgKeys(t, "into", 4)
	tree := newFFGTree(ffgPubs(ks))
	g := tree.genesis
	b := append([]types.Checkpoint{g}, tree.chain(g, 2)...)
	f := NewFinality(g)
	ffgAdd(t, f, tree, ks[:3], g, b[1])
	ffgAdd(t, f, tree, ks[1:], g, b[2])
	if !f.IsJustified(b[2]) || f.Finalized() != g {
		t.Fatal("setup")
	}
	u := ffgAdd(t, f, tree, ks[:3], b[1], b[2])
	if len(u.Justified) != 0 || u.Finalized == nil || *u.Finalized != b[1] {
		t.Fatalf("update %+v", u)
	}
	if len(u.Evidence) != 0 {
		t.Fatal("same-target votes reported as conflicting")
	}
	// The certificate stays the one of the first justification.
	if cert := f.Certificate(b[2]); len(cert) != 3 || cert[0].Source != g {
		t.Fatalf("certificate of b2: %+v", cert)
	}
}

func TestFinalityChainOf100(t *testing.T) {
	ks := ffgKeys(t, "chain", 4)
	tree := newFFGTree(ffgPubs(ks))
	b := append([]types.Checkpoint{tree.genesis}, tree.chain(tree.genesis, 100)...)
	f := NewFinality(tree.genesis)
	for h := 1; h <= 100; h++ {
		// A different 3 of 4 each time.
		voters := slices.Delete(slices.Clone(ks), h%4, h%4+1)
		u := ffgAdd(t, f, tree, voters, b[h-1], b[h])
		if !slices.Equal(u.Justified, []types.Checkpoint{b[h]}) {
			t.Fatalf("height %d: justified %+v", h, u.Justified)
		}
		if h > 1 && (u.Finalized == nil || *u.Finalized != b[h-1]) {
			t.Fatalf("height %d: finalized %+v", h, u.Finalized)
		}
		if f.Justified() != b[h] || f.Finalized() != b[h-1] {
			t.Fatalf("height %d: justified %d, finalized %d", h, f.Justified().Height, f.Finalized().Height)
		}
	}
}

func TestFinalityBuffersVotesBeforeBlocks(t *testing.T) {
	ks := ffgKeys(t, "buffer", 4)
	tree := newFFGTree(ffgPubs(ks))
	g := tree.genesis
	b := append([]types.Checkpoint{g}, tree.chain(g, 3)...)
	view := newFFGView(tree)
	f := NewFinality(g)

	// Votes for g → b1 and b1 → b2 arrive before either block.
	for _, l := range [][2]types.Checkpoint{{b[1], b[2]}, {g, b[1]}} {
		if u := ffgAdd(t, f, view, ks[:3], l[0], l[1]); len(u.Justified) != 0 {
			t.Fatalf("justified unknown blocks: %+v", u)
		}
	}
	if u := f.Retry(view); len(u.Justified) != 0 {
		t.Fatal("Retry without blocks justified")
	}
	view.known[b[1]] = true
	u := f.Retry(view)
	if !slices.Equal(u.Justified, []types.Checkpoint{b[1]}) || u.Finalized != nil {
		t.Fatalf("after b1: %+v", u)
	}
	view.known[b[2]] = true
	u = f.Retry(view)
	if !slices.Equal(u.Justified, []types.Checkpoint{b[2]}) || u.Finalized == nil || *u.Finalized != b[1] {
		t.Fatalf("after b2: %+v", u)
	}
	if len(f.pending) != 0 {
		t.Fatalf("%d votes still pending", len(f.pending))
	}

	// Votes whose blocks are known but whose source is not justified yet
	// wait for the source, then cascade in one update.
	view.known[b[3]] = true
	g2 := NewFinality(g)
	if u := ffgAdd(t, g2, view, ks[:3], b[2], b[3]); len(u.Justified) != 0 {
		t.Fatal("link from an unjustified source justified")
	}
	if u := ffgAdd(t, g2, view, ks[:3], b[1], b[2]); len(u.Justified) != 0 {
		t.Fatal("link from an unjustified source justified")
	}
	u = ffgAdd(t, g2, view, ks[:3], g, b[1])
	if !slices.Equal(u.Justified, b[1:4]) || u.Finalized == nil || *u.Finalized != b[2] {
		t.Fatalf("cascade: justified %v, finalized %+v", u.Justified, u.Finalized)
	}
}

func TestFinalityPendingBounds(t *testing.T) {
	ks := ffgKeys(t, "bounds", 10)
	tree := newFFGTree(ffgPubs(ks))
	g := tree.genesis
	b1 := tree.add(g)
	view := newFFGView(tree)
	f := NewFinality(g)
	f.maxPending = 5
	// 10 votes for an unknown block: the 5 oldest are dropped.
	for _, k := range ks {
		if _, err := f.AddVote(ffgSign(k, g, b1), view); err != nil {
			t.Fatal(err)
		}
	}
	if len(f.pending) != 5 {
		t.Fatalf("%d pending", len(f.pending))
	}
	view.known[b1] = true
	f.Retry(view)
	if l := f.links[ffgLinkKey{g, b1}]; l == nil || len(l.voted) != 5 || f.IsJustified(b1) {
		t.Fatal("dropped votes counted, or 5 of 10 justified")
	}
	for _, k := range ks[:5] {
		if _, ok := f.links[ffgLinkKey{g, b1}].voted[k.Public()]; ok {
			t.Fatal("an old vote survived")
		}
	}
	// Dropped votes may come again.
	u := ffgAdd(t, f, view, ks[:2], g, b1)
	if !slices.Equal(u.Justified, []types.Checkpoint{b1}) {
		t.Fatalf("re-sent votes: %+v", u)
	}

	// Per voter and target height: a few, then ignored.
	f = NewFinality(g)
	k := ks[0]
	for i := range 10 {
		s := types.Checkpoint{Height: 1, Hash: types.Hash{byte(i)}}
		tgt := types.Checkpoint{Height: 7, Hash: types.Hash{0xee}}
		if _, err := f.AddVote(ffgSign(k, s, tgt), view); err != nil {
			t.Fatal(err)
		}
	}
	if len(f.pending) != finalityMaxPerHeight || len(f.byVoter[k.Public()]) != finalityMaxPerHeight {
		t.Fatalf("%d pending for one voter and height", len(f.pending))
	}
}

func TestFinalityRefusesNonVoters(t *testing.T) {
	ks := ffgKeys(t, "voters", 4)
	stranger := ffgKeys(t, "stranger", 1)[0]
	tree := newFFGTree(ffgPubs(ks))
	g := tree.genesis
	b := append([]types.Checkpoint{g}, tree.chain(g, 2)...)
	f := NewFinality(g)
	if _, err := f.AddVote(ffgSign(stranger, g, b[1]), tree); !errors.Is(err, ErrNotVoter) {
		t.Fatalf("stranger's vote: %v", err)
	}
	ffgAdd(t, f, tree, ks[:2], g, b[1])
	if f.IsJustified(b[1]) {
		t.Fatal("stranger counted")
	}
	// Voters are those of the source: an authority added at b1 votes on
	// links from b1, not from g.
	tree.votersAt[b[1]] = append(ffgPubs(ks), stranger.Public())
	if _, err := f.AddVote(ffgSign(stranger, g, b[1]), tree); !errors.Is(err, ErrNotVoter) {
		t.Fatalf("stranger's vote from g: %v", err)
	}
	ffgAdd(t, f, tree, ks[2:3], g, b[1])
	if u := ffgAdd(t, f, tree, append([]*identity.PrivateKey{stranger}, ks[:3]...), b[1], b[2]); u.Finalized == nil {
		t.Fatal("4 of 5 voters of b1 did not finalize it")
	}

	// A stranger's vote buffered before its source is known is dropped on
	// Retry.
	other := ffgKeys(t, "stranger", 2)[1]
	view := newFFGView(tree)
	f = NewFinality(g)
	ffgAdd(t, f, view, ks[:3], g, b[1])
	ffgAdd(t, f, view, append([]*identity.PrivateKey{other}, ks[:2]...), b[1], b[2])
	view.known[b[1]] = true
	view.known[b[2]] = true
	if u := f.Retry(view); !slices.Equal(u.Justified, []types.Checkpoint{b[1]}) || len(f.byVoter[other.Public()]) != 0 {
		t.Fatalf("stranger counted after Retry: %+v", u)
	}

	// Malformed links.
	if _, err := f.AddVote(ffgSign(ks[0], b[2], b[1]), tree); !errors.Is(err, types.ErrBadVote) {
		t.Fatalf("target below source: %v", err)
	}
	if _, err := f.AddVote(ffgSign(ks[0], b[1], types.Checkpoint{Height: b[1].Height, Hash: types.Hash{0xee}}), tree); !errors.Is(err, types.ErrBadVote) {
		t.Fatalf("target at the source's height, another block: %v", err)
	}
	fork := tree.add(g)
	fork2 := tree.add(fork)
	if _, err := f.AddVote(ffgSign(ks[3], b[1], fork2), tree); !errors.Is(err, types.ErrBadVote) {
		t.Fatalf("source not an ancestor: %v", err)
	}
	if _, err := f.AddVote(nil, tree); !errors.Is(err, types.ErrBadVote) {
		t.Fatal("nil vote")
	}
}

func checkEvidence(t *testing.T, u Update, offender identity.PublicKey, kind string) {
	t.Helper()
	if len(u.Evidence) != 1 {
		t.Fatalf("%d pieces of evidence", len(u.Evidence))
	}
	off, a, b, err := types.DecodeEvidence(ffgChain, u.Evidence[0].Encode())
	if err != nil || off != offender {
		t.Fatalf("evidence: %v", err)
	}
	if k, _ := types.Conflict(a, b); k != kind {
		t.Fatalf("evidence of a %q vote, want %q", k, kind)
	}
	// It is a valid ledger transaction.
	tx := types.NewEvidenceTx(ffgChain, 1, 1_767_225_600_000, u.Evidence[0])
	tx.Sign(ffgKeys(t, "reporter", 1)[0])
	if err := tx.ValidateBasic(ffgChain); err != nil {
		t.Fatal(err)
	}
}

func TestFinalityEvidence(t *testing.T) {
	ks := ffgKeys(t, "evidence", 4)
	tree := newFFGTree(ffgPubs(ks))
	g := tree.genesis
	b := append([]types.Checkpoint{g}, tree.chain(g, 3)...)
	fork := tree.add(g)

	t.Run("double", func(t *testing.T) {
		f := NewFinality(g)
		ffgAdd(t, f, tree, ks[:1], g, b[1])
		u, err := f.AddVote(ffgSign(ks[0], g, fork), tree)
		if err != nil {
			t.Fatal(err)
		}
		checkEvidence(t, u, ks[0].Public(), "double")
		// Not counted: two more votes for the fork do not justify it.
		if u := ffgAdd(t, f, tree, ks[1:3], g, fork); len(u.Justified) != 0 || f.IsJustified(fork) {
			t.Fatal("double vote counted")
		}
		// Re-sent, it yields no new evidence.
		if u, err := f.AddVote(ffgSign(ks[0], g, fork), tree); err != nil || len(u.Evidence) != 0 {
			t.Fatalf("re-sent double vote: %+v, %v", u, err)
		}
		// The first vote still counts.
		if l := f.links[ffgLinkKey{g, b[1]}]; l == nil || len(l.voted) != 1 {
			t.Fatal("first vote not counted")
		}
		if l := f.links[ffgLinkKey{g, fork}]; l == nil || len(l.voted) != 2 {
			t.Fatal("double vote counted")
		}
	})
	t.Run("surrounded", func(t *testing.T) {
		f := NewFinality(g)
		ffgAdd(t, f, tree, ks[:3], g, b[1])
		ffgAdd(t, f, tree, ks[:1], g, b[3])
		u, err := f.AddVote(ffgSign(ks[0], b[1], b[2]), tree)
		if err != nil {
			t.Fatal(err)
		}
		checkEvidence(t, u, ks[0].Public(), "surround")
		if u := ffgAdd(t, f, tree, ks[1:3], b[1], b[2]); u.Finalized != nil || f.IsJustified(b[2]) {
			t.Fatal("surrounded vote counted")
		}
	})
	t.Run("surrounding", func(t *testing.T) {
		f := NewFinality(g)
		ffgAdd(t, f, tree, ks[:3], g, b[1])
		ffgAdd(t, f, tree, ks[3:], b[1], b[2])
		u, err := f.AddVote(ffgSign(ks[3], g, b[3]), tree)
		if err != nil {
			t.Fatal(err)
		}
		checkEvidence(t, u, ks[3].Public(), "surround")
		if u := ffgAdd(t, f, tree, ks[:2], g, b[3]); len(u.Justified) != 0 {
			t.Fatal("surrounding vote counted")
		}
	})
	t.Run("pending", func(t *testing.T) {
		// Conflicts are found among buffered votes too.
		view := newFFGView(tree)
		f := NewFinality(g)
		ffgAdd(t, f, view, ks[:1], g, b[1])
		u, err := f.AddVote(ffgSign(ks[0], g, fork), view)
		if err != nil {
			t.Fatal(err)
		}
		checkEvidence(t, u, ks[0].Public(), "double")
	})
}

// TestFinalityConflictingFinality reaches the safety alarm the only way
// an observer that sees all votes can: a change of the voter set (here a
// fork whose b-side keeps the old authorities and whose a-side replaced
// them all), so that no single voter signed conflicting votes.
func TestFinalityConflictingFinality(t *testing.T) {
	old := ffgKeys(t, "old", 4)
	fresh := ffgKeys(t, "fresh", 4)
	tree := newFFGTree(ffgPubs(old))
	g := tree.genesis
	a := tree.chain(g, 2)
	bs := tree.chain(g, 4)
	tree.votersAt[a[0]] = ffgPubs(fresh)
	tree.votersAt[a[1]] = ffgPubs(fresh)
	f := NewFinality(g)

	ffgAdd(t, f, tree, old[:3], g, a[0])
	ffgAdd(t, f, tree, old[:3], g, bs[2])
	if !f.IsJustified(a[0]) || !f.IsJustified(bs[2]) || f.Justified() != bs[2] {
		t.Fatal("setup")
	}
	u := ffgAdd(t, f, tree, fresh[:3], a[0], a[1])
	if u.Finalized == nil || *u.Finalized != a[0] {
		t.Fatalf("a1 not finalized: %+v", u)
	}
	// The highest justified checkpoint follows the finalized chain.
	if f.Justified() != a[1] {
		t.Fatalf("justified %d/%s after finalizing a1", f.Justified().Height, f.Justified().Hash)
	}
	// A checkpoint conflicting with the finalized one is not justified.
	if u := ffgAdd(t, f, tree, old[:3], g, bs[1]); len(u.Justified) != 0 || f.IsJustified(bs[1]) {
		t.Fatal("justified a checkpoint conflicting with the finalized one")
	}
	// b3 → b4 would finalize b3: the alarm.
	var err error
	for _, k := range old[:3] {
		if u, err = f.AddVote(ffgSign(k, bs[2], bs[3]), tree); err != nil {
			break
		}
	}
	if !errors.Is(err, ErrConflictingFinality) || !errors.Is(u.Err, ErrConflictingFinality) {
		t.Fatalf("no alarm: %v", err)
	}
	if f.Finalized() != a[0] || f.IsJustified(bs[3]) || u.Finalized != nil {
		t.Fatal("conflicting checkpoint finalized or justified")
	}
	if len(u.Evidence) != 0 {
		t.Fatal("evidence without conflicting votes")
	}
	// Retry reports the alarm in the update.
	view := newFFGView(tree)
	for c := range tree.parent {
		view.known[c] = true
	}
	delete(view.known, bs[3])
	f = NewFinality(g)
	ffgAdd(t, f, view, old[:3], g, a[0])
	ffgAdd(t, f, view, old[:3], g, bs[2])
	ffgAdd(t, f, view, fresh[:3], a[0], a[1])
	ffgAdd(t, f, view, old[:3], bs[2], bs[3])
	view.known[bs[3]] = true
	if u := f.Retry(view); !errors.Is(u.Err, ErrConflictingFinality) {
		t.Fatalf("Retry: %+v", u)
	}
}

func TestNextVote(t *testing.T) {
	ks := ffgKeys(t, "next", 4)
	self := ks[0].Public()
	tree := newFFGTree(ffgPubs(ks))
	g := tree.genesis
	b := append([]types.Checkpoint{g}, tree.chain(g, 6)...)
	fork := tree.chain(b[1], 5) // heights 2..6
	f := NewFinality(g)

	if _, ok := f.NextVote(ffgChain, self, g, tree); ok {
		t.Fatal("voted for the finalized checkpoint")
	}
	if _, ok := f.NextVote(ffgChain, self, types.Checkpoint{Height: 9}, tree); ok {
		t.Fatal("voted for an unknown head")
	}
	if _, ok := f.NextVote(ffgChain, ffgKeys(t, "stranger", 1)[0].Public(), b[1], tree); ok {
		t.Fatal("a non-voter voted")
	}
	v, ok := f.NextVote(ffgChain, self, b[2], tree)
	if !ok || v.Source != g || v.Target != b[2] || v.Voter != self || v.ChainID != ffgChain || v.Signature != nil {
		t.Fatalf("first vote %+v, %v", v, ok)
	}
	if last, ok := f.OwnLastVote(); !ok || last.Hash() != v.Hash() {
		t.Fatal("OwnLastVote")
	}
	if _, ok := f.NextVote(ffgChain, self, b[2], tree); ok {
		t.Fatal("voted twice for one target")
	}
	if _, ok := f.NextVote(ffgChain, self, fork[0], tree); ok {
		t.Fatal("double vote at height 2")
	}
	if _, ok := f.NextVote(ffgChain, self, b[1], tree); ok {
		t.Fatal("voted for a lower target")
	}
	// Justify b3 (by others) and b1: the source follows the head's chain.
	ffgAdd(t, f, tree, ks[1:], g, b[1])
	ffgAdd(t, f, tree, ks[1:], b[1], b[3])
	v, ok = f.NextVote(ffgChain, self, b[4], tree)
	if !ok || v.Source != b[3] || v.Target != b[4] {
		t.Fatalf("vote %+v, %v", v, ok)
	}
	// Switching to the fork: its highest justified ancestor is b1, below
	// the last source b3: voting could surround, so no vote.
	if _, ok := f.NextVote(ffgChain, self, fork[4], tree); ok {
		t.Fatal("voted on a fork with a lower source")
	}

	// After a restart, the persisted last vote keeps NextVote safe.
	last, _ := f.OwnLastVote()
	r := NewFinality(g)
	ffgAdd(t, r, tree, ks[1:], g, b[1])
	r.SetOwnLastVote(last)
	if _, ok := r.NextVote(ffgChain, self, b[4], tree); ok {
		t.Fatal("restarted authority voted for its last target height again")
	}
	if _, ok := r.NextVote(ffgChain, self, b[5], tree); ok {
		t.Fatal("restarted authority voted with a lower source (b1 < b3)")
	}
	ffgAdd(t, r, tree, ks[1:], b[1], b[3])
	if v, ok := r.NextVote(ffgChain, self, b[5], tree); !ok || v.Source != b[3] {
		t.Fatalf("restarted vote %+v, %v", v, ok)
	}
	// Without SetOwnLastVote, self's own votes seen by the gadget still
	// guard it.
	r = NewFinality(g)
	if _, err := r.AddVote(ffgSign(ks[0], g, b[4]), tree); err != nil {
		t.Fatal(err)
	}
	ffgAdd(t, r, tree, ks[1:], g, b[1])
	ffgAdd(t, r, tree, ks[1:], b[1], b[2])
	if _, ok := r.NextVote(ffgChain, self, b[3], tree); ok {
		t.Fatal("voted b2 → b3 inside its own g → b4")
	}

	// Heads that leave the finalized chain get no vote.
	ffgAdd(t, f, tree, ks[1:], b[3], b[4])
	if f.Finalized() != b[3] {
		t.Fatal("setup")
	}
	if _, ok := f.NextVote(ffgChain, self, fork[4], tree); ok {
		t.Fatal("voted for a head that conflicts with the finalized checkpoint")
	}
	if v, ok := f.NextVote(ffgChain, self, b[6], tree); !ok || v.Source != b[4] {
		t.Fatalf("vote %+v, %v", v, ok)
	}
}

// ffgTestConflict is types.Conflict for one voter on one chain, without
// hashing, written out on FFG epochs: block h is epoch 2h, a commit
// vote's target epoch 2h+1.
func ffgTestConflict(a, b *types.FinalityVote) bool {
	if a.Source == b.Source && a.Target == b.Target {
		return false
	}
	epochs := func(v *types.FinalityVote) (s, t uint64) {
		s, t = 2*v.Source.Height, 2*v.Target.Height
		if v.Source == v.Target {
			t++
		}
		return s, t
	}
	as, at := epochs(a)
	bs, bt := epochs(b)
	if at == bt && a.Target.Hash != b.Target.Hash {
		return true
	}
	return as < bs && bt < at || bs < as && at < bt
}

// TestNextVoteNeverConflicts: over random trees with forks, random
// justified sets, finalizations, restarts and random heads, no two votes
// NextVote and NextCommit return for one authority conflict.
func TestNextVoteNeverConflicts(t *testing.T) {
	ks := ffgKeys(t, "property", 4)
	self := ks[0].Public()
	for seed := range uint64(3) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 42))
			tree := newFFGTree(ffgPubs(ks))
			blocks := []types.Checkpoint{tree.genesis}
			f := NewFinality(tree.genesis)
			var votes []*types.FinalityVote
			commits := 0
			for step := range 10_000 {
				switch x := r.IntN(100); {
				case x < 35: // a block on a random recent block (forks) that keeps the finalized one
					p := blocks[max(0, len(blocks)-1-r.IntN(min(len(blocks), 6)))]
					if !tree.IsAncestor(f.Finalized(), p) {
						p = f.Finalized()
					}
					blocks = append(blocks, tree.add(p))
				case x < 48: // some checkpoint on the finalized chain becomes justified
					c := blocks[len(blocks)-1-r.IntN(min(len(blocks), 20))]
					if f.compatible(c, tree) {
						f.justified[c] = &ffgJustification{}
						if c.Height > f.highest.Height {
							f.highest = c
						}
					}
				case x < 50: // a justified checkpoint becomes finalized
					for c := range f.justified {
						if c.Height > f.finalized.Height && tree.IsAncestor(f.finalized, c) && r.IntN(2) == 0 {
							f.finalized = c
							f.finish(&Update{Finalized: &c}, tree)
							f.Prune(c.Height)
							break
						}
					}
				case x < 52: // restart with the persisted last vote
					last, ok := f.OwnLastVote()
					g := NewFinality(f.finalized)
					for c, j := range f.justified {
						g.justified[c] = j
					}
					g.highest = f.highest
					if ok {
						g.SetOwnLastVote(last)
					}
					f = g
				default: // a new head, often on another branch; a commit vote now and then
					head := blocks[len(blocks)-1-r.IntN(min(len(blocks), 12))]
					var v types.FinalityVote
					var ok bool
					if r.IntN(3) == 0 {
						v, ok = f.NextCommit(ffgChain, self, head, tree)
						if ok && (!v.IsCommit() || !f.IsJustified(v.Source) || !tree.IsAncestor(v.Source, head) ||
							v.Source.Height <= f.Finalized().Height) {
							t.Fatalf("step %d: bad commit vote at %d", step, v.Source.Height)
						}
						commits += b2i(ok)
					} else {
						v, ok = f.NextVote(ffgChain, self, head, tree)
						if ok && (v.Target != head || v.Target.Height <= v.Source.Height || !f.IsJustified(v.Source) ||
							!tree.IsAncestor(v.Source, v.Target) || !tree.IsAncestor(f.Finalized(), v.Target)) {
							t.Fatalf("step %d: bad vote %d → %d", step, v.Source.Height, v.Target.Height)
						}
					}
					if !ok {
						continue
					}
					for _, old := range votes {
						if ffgTestConflict(old, &v) {
							t.Fatalf("step %d: vote %d → %d conflicts with %d → %d", step,
								v.Source.Height, v.Target.Height, old.Source.Height, old.Target.Height)
						}
					}
					if n := len(votes); n > 0 {
						if _, bad := types.Conflict(votes[n-1], &v); bad {
							t.Fatalf("step %d: types.Conflict disagrees", step)
						}
					}
					votes = append(votes, &v)
				}
			}
			if len(votes) < 300 || commits < 20 || f.Finalized().Height < 50 {
				t.Fatalf("only %d votes (%d commits), finalized %d: the test exercised little", len(votes), commits, f.Finalized().Height)
			}
			t.Logf("%d blocks, %d votes (%d commits), finalized at %d", len(blocks), len(votes), commits, f.Finalized().Height)
		})
	}
}

// ffgNode is an honest authority with its own view and gadget, and the
// blocks and votes in flight to it.
type ffgNode struct {
	key    *identity.PrivateKey
	group  int // side of the partition, while there is one
	view   *ffgView
	fin    *Finality
	leaves map[types.Checkpoint]bool // known blocks without known children
	blocks []ffgInFlight
	votes  []ffgInFlight // votes and certificates
}

// ffgInFlight is a block, a vote or a certificate due at a step.
type ffgInFlight struct {
	due   int
	block types.Checkpoint
	vote  *types.FinalityVote
	cert  []*types.FinalityVote
}

// head is the node's fork choice: the highest leaf above its highest
// justified checkpoint (lowest hash first among equals), or, if chaos, a
// random leaf above its finalized one.
func (nd *ffgNode) head(r *rand.Rand, chaos bool) (types.Checkpoint, bool) {
	fin, from := nd.fin.Finalized(), nd.fin.Justified()
	if chaos {
		from = fin
	}
	var cands []types.Checkpoint
	for c := range nd.leaves {
		if c.Height < fin.Height {
			delete(nd.leaves, c) // never again a head
			continue
		}
		if c.Height >= from.Height && nd.view.IsAncestor(from, c) {
			cands = append(cands, c)
		}
	}
	if len(cands) == 0 {
		return types.Checkpoint{}, false
	}
	slices.SortFunc(cands, func(a, b types.Checkpoint) int {
		if a.Height != b.Height {
			return cmpHeight(b.Height, a.Height)
		}
		return slices.Compare(a.Hash[:], b.Hash[:])
	})
	if from == fin && len(cands) > 1 {
		return cands[r.IntN(len(cands))], true
	}
	return cands[0], true
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func cmpHeight(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// TestFinalityByzantineSafety: 3f+1 authorities, f of them byzantine:
// they equivocate freely (double and surround votes, different votes to
// different nodes), back honest votes (during the partition, each side's
// on that side) and fork the chain. Honest authorities follow NextVote on
// their own partial views, gossip the certificates of what they justify,
// and get blocks, votes and certificates late and out of order. The run
// has three phases: chaos (a random fork choice one time in four), a
// partition of the honest nodes into two groups that see different
// forks, and calm (a sane fork choice, one random choice in 50). No two
// honest nodes ever finalize conflicting checkpoints, no alarm fires, all
// evidence names byzantine authorities, and in the calm phase finality
// keeps up with the chain. (With f+1 byzantine authorities the same runs
// do finalize conflicting checkpoints: the check has teeth.)
func TestFinalityByzantineSafety(t *testing.T) {
	for _, fByz := range []int{1, 2, 3} {
		for seed := range uint64(3) {
			t.Run(fmt.Sprintf("f=%d/seed=%d", fByz, seed), func(t *testing.T) {
				ffgSafetyRun(t, fByz, seed, 1200, ffgSimOpts{})
			})
		}
	}
}

// TestFinalityLossyNetwork: the same, but votes and certificates are lost
// (one in ten, and all that cross the partition) and honest nodes restart
// from their finalized checkpoint, restoring only their last vote and
// their Certificates. Anti-entropy — each node gossips its Certificates
// once per block — keeps the honest views together, so that finality
// resumes after the partition.
func TestFinalityLossyNetwork(t *testing.T) {
	for _, fByz := range []int{1, 2} {
		for seed := range uint64(3) {
			t.Run(fmt.Sprintf("f=%d/seed=%d", fByz, seed), func(t *testing.T) {
				ffgSafetyRun(t, fByz, seed+10, 1200, ffgSimOpts{drop: 0.1, restarts: true, antiEntropy: true})
			})
		}
	}
}

// ffgSimOpts are the network faults of a simulation run.
type ffgSimOpts struct {
	drop        float64 // votes and certificates lost, besides those crossing the partition
	restarts    bool    // honest nodes restart now and then
	antiEntropy bool    // nodes gossip their Certificates once per block
}

func ffgSafetyRun(t *testing.T, fByz int, seed uint64, steps int, opts ffgSimOpts) {
	const blockEvery = 6 // steps per block; delays are 0-2 steps
	r := rand.New(rand.NewPCG(seed, uint64(fByz)))
	n := 3*fByz + 1
	ks := ffgKeys(t, fmt.Sprintf("safety-%d", fByz), n)
	byz, honest := ks[:fByz], ks[fByz:]
	isByz := map[identity.PublicKey]bool{}
	for _, k := range byz {
		isByz[k.Public()] = true
	}
	tree := newFFGTree(ffgPubs(ks))
	blocks := []types.Checkpoint{tree.genesis}
	nodes := make([]*ffgNode, len(honest))
	for i, k := range honest {
		nodes[i] = &ffgNode{key: k, group: i % 2, view: newFFGView(tree), fin: NewFinality(tree.genesis),
			leaves: map[types.Checkpoint]bool{tree.genesis: true}}
	}
	// The partition: steps [partFrom, partTo).
	partFrom, partTo := steps/3, steps/2
	partitioned := func(step int) bool { return step >= partFrom && step < partTo }
	// send schedules something for a node: 0-2 steps late, or after the
	// partition if it is sent across it.
	send := func(step int, from int, to *ffgNode, x ffgInFlight) {
		x.due = step + r.IntN(3)
		lossy := x.block == (types.Checkpoint{}) && opts.drop > 0 // blocks come by sync
		if from >= 0 && partitioned(step) && nodes[from].group != to.group {
			if lossy {
				return
			}
			x.due = partTo + r.IntN(3)
		}
		if lossy && r.Float64() < opts.drop {
			return
		}
		if x.vote != nil || x.cert != nil {
			to.votes = append(to.votes, x)
		} else {
			to.blocks = append(to.blocks, x)
		}
	}

	everFinal := map[types.Checkpoint]bool{tree.genesis: true}
	honestCommits := 0
	evidence, finalizedAfterPartition := 0, 0
	var calmFrom uint64 // highest finalized when the partition ends
	certs, restarts := 0, 0
	check := func(step, who int, u Update, err error) {
		if err != nil && !errors.Is(err, ErrNotVoter) && !errors.Is(err, types.ErrBadVote) {
			t.Fatalf("step %d, node %d: %v", step, who, err)
		}
		// Gossip the certificate of every newly justified checkpoint.
		for _, c := range u.Justified {
			cert := nodes[who].fin.Certificate(c)
			if cert == nil {
				continue // justified as the source of a certificate
			}
			for j, to := range nodes {
				if j != who {
					send(step, who, to, ffgInFlight{cert: cert})
				}
			}
		}
		if u.Err != nil {
			t.Fatalf("step %d, node %d: alarm %v", step, who, u.Err)
		}
		for _, e := range u.Evidence {
			off, _, _, err := types.DecodeEvidence(ffgChain, e.Encode())
			if err != nil || !isByz[off] {
				t.Fatalf("step %d, node %d: evidence against an honest authority (%v)", step, who, err)
			}
			evidence++
		}
		if u.Finalized == nil {
			return
		}
		c := *u.Finalized
		for o := range everFinal {
			if !tree.IsAncestor(o, c) && !tree.IsAncestor(c, o) {
				t.Fatalf("step %d, node %d: finalized %d/%s conflicts with %d/%s", step, who, c.Height, c.Hash, o.Height, o.Hash)
			}
		}
		everFinal[c] = true
		if step >= partTo {
			finalizedAfterPartition++
		}
	}

	for step := range steps {
		if step == partTo {
			for c := range everFinal {
				calmFrom = max(calmFrom, c.Height)
			}
		}
		// A new block every blockEvery steps: by an honest proposer on its
		// fork choice, or by a byzantine one on any recent block.
		if step%blockEvery == 0 {
			proposer := r.IntN(n)
			var parent types.Checkpoint
			from := -1
			if proposer < fByz {
				parent = blocks[len(blocks)-1-r.IntN(min(len(blocks), 8))]
			} else if h, ok := nodes[proposer-fByz].head(r, false); ok {
				parent, from = h, proposer-fByz
			} else {
				parent, from = nodes[proposer-fByz].fin.Finalized(), proposer-fByz
			}
			c := tree.add(parent)
			blocks = append(blocks, c)
			for _, to := range nodes {
				send(step, from, to, ffgInFlight{block: c})
			}
		}
		for i, nd := range nodes {
			if opts.restarts && r.IntN(300) == 0 {
				// Restart from the finalized checkpoint with the persisted
				// last vote and certificates.
				own, ok := nd.fin.OwnLastVote()
				certs := nd.fin.Certificates()
				nd.fin = NewFinality(nd.fin.Finalized())
				if ok {
					nd.fin.SetOwnLastVote(own)
				}
				for _, c := range certs {
					if _, err := nd.fin.AddCertificate(ffgChain, c, nd.view); err != nil {
						t.Fatalf("step %d, node %d: restoring a certificate: %v", step, i, err)
					}
				}
				restarts++
			}
			if opts.antiEntropy && step%blockEvery == i%blockEvery {
				for _, c := range nd.fin.Certificates() {
					for j, to := range nodes {
						if j != i {
							send(step, i, to, ffgInFlight{cert: c})
						}
					}
				}
			}
			// Blocks due whose parent is known.
			grew := true
			for grew {
				grew = false
				rest := nd.blocks[:0]
				for _, x := range nd.blocks {
					if x.due > step || !nd.view.known[tree.parent[x.block]] {
						rest = append(rest, x)
						continue
					}
					if !nd.view.known[x.block] {
						nd.view.known[x.block] = true
						nd.leaves[x.block] = true
						delete(nd.leaves, tree.parent[x.block])
						grew = true
					}
				}
				nd.blocks = rest
				if grew {
					check(step, i, nd.fin.Retry(nd.view), nil)
				}
			}
			// Votes due, in random order.
			r.Shuffle(len(nd.votes), func(a, b int) { nd.votes[a], nd.votes[b] = nd.votes[b], nd.votes[a] })
			rest := nd.votes[:0]
			for _, x := range nd.votes {
				if x.due > step {
					rest = append(rest, x)
					continue
				}
				if x.cert != nil {
					u, err := nd.fin.AddCertificate(ffgChain, x.cert, nd.view)
					if errors.Is(err, ErrUnknownCheckpoint) {
						x.due = step + 1 // again once the blocks are in
						rest = append(rest, x)
						continue
					}
					if err != nil {
						t.Fatalf("step %d, node %d: certificate: %v", step, i, err)
					}
					certs++
					check(step, i, u, nil)
					continue
				}
				u, err := nd.fin.AddVote(x.vote, nd.view)
				check(step, i, u, err)
			}
			nd.votes = rest
			// Vote for the head, then commit-vote the highest justified
			// block if the rules allow.
			chaos := step < partFrom && r.IntN(4) == 0 || r.IntN(50) == 0
			if head, ok := nd.head(r, chaos); ok {
				var mine []types.FinalityVote
				if v, ok := nd.fin.NextVote(ffgChain, nd.key.Public(), head, nd.view); ok {
					mine = append(mine, v)
				}
				if v, ok := nd.fin.NextCommit(ffgChain, nd.key.Public(), head, nd.view); ok {
					mine = append(mine, v)
					honestCommits++
				}
				for _, v := range mine {
					v.Sign(nd.key)
					for _, to := range nodes {
						send(step, i, to, ffgInFlight{vote: &v})
					}
					// Byzantine authorities often back it, on its side of the
					// partition: while there is one, they vote for both sides'
					// links (double and surround votes) to help each side.
					for _, k := range byz {
						if partitioned(step) || r.IntN(3) > 0 {
							m := ffgSign(k, v.Source, v.Target)
							for _, to := range nodes {
								send(step, i, to, ffgInFlight{vote: m})
							}
						}
					}
				}
			}
			nd.fin.Prune(nd.fin.Finalized().Height)
		}
		// Outside the partition, byzantine votes also go for random links
		// from checkpoints some node justified (or any recent block) to
		// any later recent block, and for commits on random recent blocks.
		for _, k := range byz {
			if partitioned(step) {
				break
			}
			if r.IntN(2) == 0 {
				c := blocks[len(blocks)-1-r.IntN(min(len(blocks), 10))]
				v := ffgSign(k, c, c)
				for _, to := range nodes {
					send(step+r.IntN(3), -1, to, ffgInFlight{vote: v})
				}
			}
			for range 2 {
				src := nodes[r.IntN(len(nodes))].fin.Justified()
				if r.IntN(4) == 0 {
					src = blocks[len(blocks)-1-r.IntN(min(len(blocks), 10))]
				}
				var cands []types.Checkpoint
				for _, c := range blocks[max(0, len(blocks)-10):] {
					if c.Height > src.Height && tree.IsAncestor(src, c) {
						cands = append(cands, c)
					}
				}
				if len(cands) == 0 {
					continue
				}
				// Sent to a random half at once; gossip relays it to the
				// others a little later.
				v := ffgSign(k, src, cands[r.IntN(len(cands))])
				for _, to := range nodes {
					x := ffgInFlight{vote: v}
					if r.IntN(2) == 0 {
						send(step, -1, to, x)
					} else {
						send(step+1+r.IntN(4), -1, to, x)
					}
				}
			}
		}
	}
	maxFinal := uint64(0)
	for c := range everFinal {
		maxFinal = max(maxFinal, c.Height)
	}
	t.Logf("%d blocks, tip at %d, finalized %d at the end of the partition and %d at the end (%d finalizations after it), %d pieces of evidence, %d certificates, %d restarts, %d honest commit votes",
		len(blocks), blocks[len(blocks)-1].Height, calmFrom, maxFinal, finalizedAfterPartition, evidence, certs, restarts, honestCommits)
	if maxFinal < calmFrom+uint64(steps-partTo)/blockEvery/2 {
		t.Fatalf("finality did not keep up in the calm phase: from %d to %d in %d blocks", calmFrom, maxFinal, (steps-partTo)/blockEvery)
	}
}

func TestVerifyCertificate(t *testing.T) {
	ks := ffgKeys(t, "cert", 4)
	voters := ffgPubs(ks)
	tree := newFFGTree(voters)
	g := tree.genesis
	b := append([]types.Checkpoint{g}, tree.chain(g, 2)...)
	f := NewFinality(g)
	ffgAdd(t, f, tree, ks[:3], g, b[1])
	ffgAdd(t, f, tree, ks[3:], g, b[1]) // late, not in the certificate
	cert := f.Certificate(b[1])
	if len(cert) != 3 {
		t.Fatalf("certificate of %d votes", len(cert))
	}
	s, tg, err := VerifyCertificate(ffgChain, cert, voters)
	if err != nil || s != g || tg != b[1] {
		t.Fatalf("VerifyCertificate = %d → %d, %v", s.Height, tg.Height, err)
	}
	if f.Certificate(g) != nil || f.Certificate(b[2]) != nil {
		t.Fatal("certificate of the genesis or of an unjustified block")
	}
	// Certificates are copies.
	cert[0].Signature[0] ^= 1
	if _, _, err := VerifyCertificate(ffgChain, f.Certificate(b[1]), voters); err != nil {
		t.Fatal("Certificate returned the gadget's own votes")
	}
	cert = f.Certificate(b[1])

	others := ffgPubs(ffgKeys(t, "cert-others", 4))
	bigger := append(slices.Clone(voters), ffgPubs(ffgKeys(t, "cert-more", 2))...)
	flipped := slices.Clone(cert)
	bad := *cert[1]
	bad.Signature = slices.Clone(bad.Signature)
	bad.Signature[5] ^= 1
	flipped[1] = &bad
	mixed := slices.Clone(cert)
	mixed[2] = ffgSign(ks[2], g, b[2])
	otherSource := slices.Clone(cert)
	otherSource[2] = ffgSign(ks[2], b[1], b[2])
	wrongChain := slices.Clone(cert)
	wc := &types.FinalityVote{ChainID: "other", Source: g, Target: b[1]}
	wc.Sign(ks[2])
	wrongChain[2] = wc
	inverted := []*types.FinalityVote{{ChainID: ffgChain, Source: b[1], Target: g}}
	cases := []struct {
		name   string
		votes  []*types.FinalityVote
		voters []identity.PublicKey
		want   error
	}{
		{"too few", cert[:2], voters, nil},
		{"none", nil, voters, nil},
		{"wrong voters", cert, others, ErrNotVoter},
		{"too few of a bigger set", cert, bigger, nil},
		{"duplicate voter", append(slices.Clone(cert), cert[0]), voters, nil},
		{"bad signature", flipped, voters, types.ErrBadSignature},
		{"mixed targets", mixed, voters, nil},
		{"mixed sources", otherSource, voters, nil},
		{"wrong chain", wrongChain, voters, types.ErrWrongChain},
		{"inverted link", inverted, voters, types.ErrBadVote},
		{"nil vote", append(slices.Clone(cert[:2]), nil), voters, nil},
		{"no voters", cert, nil, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, tg, err := VerifyCertificate(ffgChain, c.votes, c.voters)
			if !errors.Is(err, ErrBadCertificate) || c.want != nil && !errors.Is(err, c.want) {
				t.Fatalf("VerifyCertificate: %v, want %v", err, c.want)
			}
			if s != (types.Checkpoint{}) || tg != (types.Checkpoint{}) {
				t.Fatal("checkpoints returned with an error")
			}
		})
	}
	if _, _, err := VerifyCertificate("other", cert, voters); !errors.Is(err, types.ErrWrongChain) {
		t.Fatalf("certificate of another chain: %v", err)
	}
	// All four votes also make a certificate.
	all := append(slices.Clone(cert), ffgSign(ks[3], g, b[1]))
	if _, _, err := VerifyCertificate(ffgChain, all, voters); err != nil {
		t.Fatal(err)
	}
}

// TestFinalityCertificateHealsSplitViews: a byzantine authority's double
// vote, seen in different orders, leaves two honest nodes with different
// justified checkpoints; a certificate reconciles them.
func TestFinalityCertificateHealsSplitViews(t *testing.T) {
	ks := ffgKeys(t, "split", 4)
	byz, h := ks[0], ks[1:]
	voters := ffgPubs(ks)
	tree := newFFGTree(voters)
	g := tree.genesis
	b1, fork := tree.add(g), tree.add(g)
	b2 := tree.add(b1)
	x, y := NewFinality(g), NewFinality(g)
	v, vFork := ffgSign(byz, g, b1), ffgSign(byz, g, fork)

	// x: two honest votes and the byzantine one justify b1. y saw the
	// byzantine vote for the fork first, so it refuses the one for b1.
	ffgAdd(t, x, tree, h[:2], g, b1)
	if u, _ := x.AddVote(v, tree); !slices.Equal(u.Justified, []types.Checkpoint{b1}) {
		t.Fatal("x did not justify b1")
	}
	y.AddVote(vFork, tree)
	ffgAdd(t, y, tree, h[:2], g, b1)
	if u, _ := y.AddVote(v, tree); len(u.Evidence) != 1 || y.IsJustified(b1) {
		t.Fatal("y counted the conflicting vote")
	}
	// The third honest authority had already moved on to b2: without help,
	// x votes b1 → b2 and y g → b2 forever.
	if v, ok := y.NextVote(ffgChain, h[2].Public(), b2, tree); !ok || v.Source != g {
		t.Fatal("setup")
	}

	cert := x.Certificate(b1)
	// Errors first: blocks unknown, too few votes, a bad signature.
	view := newFFGView(tree)
	if _, err := y.AddCertificate(ffgChain, cert, view); !errors.Is(err, ErrUnknownCheckpoint) {
		t.Fatalf("unknown blocks: %v", err)
	}
	if _, err := y.AddCertificate(ffgChain, cert[:2], tree); !errors.Is(err, ErrBadCertificate) {
		t.Fatalf("two votes: %v", err)
	}
	forged := slices.Clone(cert)
	bad := *cert[0]
	bad.Signature = slices.Clone(bad.Signature)
	bad.Signature[0] ^= 1
	forged[0] = &bad
	if _, err := y.AddCertificate(ffgChain, forged, tree); !errors.Is(err, types.ErrBadSignature) {
		t.Fatalf("forged vote: %v", err)
	}
	if _, err := y.AddCertificate("other", cert, tree); !errors.Is(err, types.ErrWrongChain) {
		t.Fatalf("other chain: %v", err)
	}
	if y.IsJustified(b1) {
		t.Fatal("a bad certificate justified b1")
	}

	u, err := y.AddCertificate(ffgChain, cert, tree)
	if err != nil || !slices.Equal(u.Justified, []types.Checkpoint{b1}) || !y.IsJustified(b1) {
		t.Fatalf("certificate: %+v, %v", u, err)
	}
	if len(u.Evidence) != 0 {
		t.Fatal("the double vote was reported twice")
	}
	// Again: nothing new.
	if u, err := y.AddCertificate(ffgChain, cert, tree); err != nil || len(u.Justified) != 0 {
		t.Fatalf("certificate again: %+v, %v", u, err)
	}
	// A direct-link certificate finalizes.
	ffgAdd(t, x, tree, h, b1, b2)
	u, err = y.AddCertificate(ffgChain, x.Certificate(b2), tree)
	if err != nil || u.Finalized == nil || *u.Finalized != b1 || y.Finalized() != b1 {
		t.Fatalf("direct-link certificate: %+v, %v", u, err)
	}
	// Votes of the certificate held as pending count at once, even before
	// the Retry their blocks' arrival calls for.
	w := NewFinality(g)
	wv := newFFGView(tree)
	ffgAdd(t, w, wv, []*identity.PrivateKey{h[0]}, g, b1)
	w.AddVote(v, wv)
	wv.known[b1] = true
	if u, err := w.AddCertificate(ffgChain, cert, wv); err != nil || !slices.Equal(u.Justified, []types.Checkpoint{b1}) {
		t.Fatalf("certificate over pending votes: %+v, %v", u, err)
	}
	if u := w.Retry(wv); len(u.Justified) != 0 || slices.ContainsFunc(w.pending, func(r *ffgVote) bool { return r != nil }) {
		t.Fatal("votes left pending")
	}
	if l := w.links[ffgLinkKey{g, b1}]; l == nil || len(l.voted) != 3 {
		t.Fatal("certificate votes not counted once each")
	}
	// A certificate with a non-voter fails.
	z := NewFinality(g)
	tree.votersAt[g] = voters[1:]
	if _, err := z.AddCertificate(ffgChain, cert, tree); !errors.Is(err, ErrNotVoter) {
		t.Fatalf("certificate with a non-voter: %v", err)
	}
}

// TestFinalityCertificates: Certificates lets a restarted gadget regain
// its justified checkpoints and a lagging one catch up.
func TestFinalityCertificates(t *testing.T) {
	ks := ffgKeys(t, "certs", 4)
	tree := newFFGTree(ffgPubs(ks))
	g := tree.genesis
	b := append([]types.Checkpoint{g}, tree.chain(g, 8)...)
	f := NewFinality(g)
	if len(f.Certificates()) != 0 {
		t.Fatal("certificates of a fresh gadget")
	}
	lagging := NewFinality(g)
	for h := 1; h <= 5; h++ {
		ffgAdd(t, f, tree, ks[:3], b[h-1], b[h])
		if h <= 2 {
			ffgAdd(t, lagging, tree, ks[:3], b[h-1], b[h])
		}
	}
	// A skip link above: b5 → b7 justifies b7 and finalizes nothing.
	ffgAdd(t, f, tree, ks[:3], b[5], b[7])
	if f.Finalized() != b[4] || f.Justified() != b[7] {
		t.Fatalf("setup: finalized %d, justified %d", f.Finalized().Height, f.Justified().Height)
	}
	certs := f.Certificates()
	if len(certs) != 2 || certs[0][0].Source != b[4] || certs[0][0].Target != b[5] || certs[1][0].Target != b[7] {
		t.Fatalf("%d certificates", len(certs))
	}
	for _, c := range certs {
		if _, _, err := VerifyCertificate(ffgChain, c, ffgPubs(ks)); err != nil {
			t.Fatal(err)
		}
	}
	// A restart from the finalized checkpoint.
	r := NewFinality(f.Finalized())
	for _, c := range certs {
		if _, err := r.AddCertificate(ffgChain, c, tree); err != nil {
			t.Fatal(err)
		}
	}
	if r.Justified() != b[7] || r.Finalized() != b[4] || !r.IsJustified(b[5]) {
		t.Fatalf("restored: justified %d, finalized %d", r.Justified().Height, r.Finalized().Height)
	}
	// A gadget that finalized only b1 catches up: the first certificate's
	// source b4 counts as justified, and its direct link finalizes it.
	if lagging.Finalized() != b[1] {
		t.Fatal("setup")
	}
	var fin *types.Checkpoint
	for _, c := range certs {
		u, err := lagging.AddCertificate(ffgChain, c, tree)
		if err != nil {
			t.Fatal(err)
		}
		if u.Finalized != nil {
			fin = u.Finalized
		}
	}
	if fin == nil || *fin != b[4] || lagging.Finalized() != b[4] || lagging.Justified() != b[7] {
		t.Fatalf("caught up: justified %d, finalized %d", lagging.Justified().Height, lagging.Finalized().Height)
	}
	// A certificate whose source conflicts with the finalized checkpoint
	// does not make that source justified.
	fork := tree.chain(b[3], 2)
	forkCert := []*types.FinalityVote{ffgSign(ks[0], fork[0], fork[1]), ffgSign(ks[1], fork[0], fork[1]), ffgSign(ks[2], fork[0], fork[1])}
	r = NewFinality(b[4])
	if u, err := r.AddCertificate(ffgChain, forkCert, tree); err != nil || len(u.Justified) != 0 || r.IsJustified(fork[0]) || r.IsJustified(fork[1]) {
		t.Fatalf("conflicting certificate: %+v, %v", u, err)
	}
}

func TestFinalityPrune(t *testing.T) {
	ks := ffgKeys(t, "prune", 4)
	tree := newFFGTree(ffgPubs(ks))
	b := append([]types.Checkpoint{tree.genesis}, tree.chain(tree.genesis, 100)...)
	f := NewFinality(tree.genesis)
	for h := 1; h <= 100; h++ {
		// A fourth, late vote for an old link, and a skip link that never
		// completes, leave bookkeeping for Prune.
		ffgAdd(t, f, tree, ks[:3], b[h-1], b[h])
		if h >= 3 {
			ffgAdd(t, f, tree, ks[3:], b[h-3], b[h-1])
		}
		if f.Finalized() != b[max(h-1, 0)] || f.Justified() != b[h] {
			t.Fatalf("height %d: finalized %d, justified %d", h, f.Finalized().Height, f.Justified().Height)
		}
		f.Prune(f.Finalized().Height)
		// Votes stay for conflict detection finalityEvidenceWindow heights
		// below the pruned one: about two a height, each counted in seen.
		if len(f.links) > 3 || len(f.seen) > 8+4*finalityEvidenceWindow || len(f.justified) > 3 ||
			len(f.byVoter[ks[0].Public()]) > 2+finalityEvidenceWindow {
			t.Fatalf("height %d: %d links, %d seen, %d justified after Prune", h, len(f.links), len(f.seen), len(f.justified))
		}
	}
	if f.IsJustified(b[50]) || !f.IsJustified(b[99]) || !f.IsJustified(b[100]) {
		t.Fatal("IsJustified after Prune")
	}
	if cert := f.Certificate(f.Finalized()); len(cert) != 3 {
		t.Fatal("the finalized checkpoint lost its certificate")
	}
	// Votes for pruned targets are ignored; Prune above the finalized
	// height is capped.
	if u, err := f.AddVote(ffgSign(ks[3], b[10], b[20]), tree); err != nil || len(u.Justified) != 0 {
		t.Fatalf("pruned vote: %+v, %v", u, err)
	}
	f.Prune(1000)
	if f.pruned != 99 || !f.IsJustified(b[100]) {
		t.Fatalf("Prune(1000) pruned to %d", f.pruned)
	}
	more := tree.chain(b[100], 2)
	ffgAdd(t, f, tree, ks[:3], b[100], more[0])
	if f.Finalized() != b[100] {
		t.Fatal("no finality after Prune")
	}
	// Conflicts with votes kept after Prune are still found.
	f.Prune(f.Finalized().Height)
	if u, _ := f.AddVote(ffgSign(ks[0], b[98], more[1]), tree); len(u.Evidence) != 1 {
		t.Fatal("no evidence of a vote surrounding a kept one")
	}
}

// TestFinalityEvidenceAfterFinal: an equivocator's second vote for a
// height that became final (and was pruned) before the vote arrived still
// meets the first: the pair is evidence.
func TestFinalityEvidenceAfterFinal(t *testing.T) {
	ks := ffgKeys(t, "late", 4)
	tree := newFFGTree(ffgPubs(ks))
	b := append([]types.Checkpoint{tree.genesis}, tree.chain(tree.genesis, 5)...)
	f := NewFinality(tree.genesis)
	for h := 1; h <= 5; h++ {
		ffgAdd(t, f, tree, ks, b[h-1], b[h])
	}
	f.Prune(f.Finalized().Height)
	if f.Finalized().Height < 3 {
		t.Fatalf("finalized %d", f.Finalized().Height)
	}
	other := types.Checkpoint{Height: 3, Hash: types.Hash{0xee}}
	u, err := f.AddVote(ffgSign(ks[2], b[2], other), tree)
	if err != nil {
		t.Fatal(err)
	}
	if len(u.Evidence) != 1 {
		t.Fatalf("%d pieces of evidence for a double vote at a final height", len(u.Evidence))
	}
}
