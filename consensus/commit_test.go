package consensus

import (
	"errors"
	"slices"
	"testing"

	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger/types"
)

// ffgCommit adds the commit votes of keys for c (source == target == c).
func ffgCommit(tb testing.TB, f *Finality, info BlockInfo, keys []*identity.PrivateKey, c types.Checkpoint) Update {
	tb.Helper()
	return ffgAdd(tb, f, info, keys, c, c)
}

// TestFinalityCommitRound is the table of the commit round: normal votes
// justify a block, commit votes on it finalize it within its height,
// without waiting for a child.
func TestFinalityCommitRound(t *testing.T) {
	ks := ffgKeys(t, "commit", 4)
	tree := newFFGTree(ffgPubs(ks))
	g := tree.genesis
	b := append([]types.Checkpoint{g}, tree.chain(g, 4)...)

	type step struct {
		keys   []*identity.PrivateKey
		s, t   types.Checkpoint
		commit bool // commit votes on s (t ignored)
	}
	cases := []struct {
		name          string
		steps         []step
		wantJustified []types.Checkpoint // IsJustified after the steps
		wantFinal     types.Checkpoint   // Finalized after the steps
		finalAt       int                // the step whose update finalized it (-1: none)
	}{
		{"justify then commit finalizes at the same height",
			[]step{{ks[:3], g, b[1], false}, {ks[:3], b[1], b[1], true}},
			[]types.Checkpoint{b[1]}, b[1], 1},
		{"two commit votes of four are not enough",
			[]step{{ks[:3], g, b[1], false}, {ks[:2], b[1], b[1], true}},
			[]types.Checkpoint{b[1]}, g, -1},
		{"a commit link without justification finalizes nothing",
			[]step{{ks, b[1], b[1], true}},
			nil, g, -1},
		{"a commit link on a block whose justification is short finalizes nothing",
			[]step{{ks[:2], g, b[1], false}, {ks, b[1], b[1], true}},
			nil, g, -1},
		{"commit votes before justification count once it comes",
			[]step{{ks, b[1], b[1], true}, {ks[:3], g, b[1], false}},
			[]types.Checkpoint{b[1]}, b[1], 1},
		{"a commit on a skip-justified block finalizes it",
			[]step{{ks[:3], g, b[3], false}, {ks[1:], b[3], b[3], true}},
			[]types.Checkpoint{b[3]}, b[3], 1},
		{"commits at two heights: the higher one wins",
			[]step{{ks[:3], g, b[1], false}, {ks[:3], b[1], b[2], false}, {ks[:3], b[2], b[2], true}, {ks[:3], b[1], b[1], true}},
			[]types.Checkpoint{b[1], b[2]}, b[2], 2},
		{"the direct-child rule still finalizes",
			[]step{{ks[:3], g, b[1], false}, {ks[:3], b[1], b[2], false}},
			[]types.Checkpoint{b[1], b[2]}, b[1], 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := NewFinality(g)
			finalAt := -1
			for i, s := range c.steps {
				var u Update
				if s.commit {
					u = ffgCommit(t, f, tree, s.keys, s.s)
				} else {
					u = ffgAdd(t, f, tree, s.keys, s.s, s.t)
				}
				if len(u.Evidence) > 0 {
					t.Fatalf("step %d: evidence %d", i, len(u.Evidence))
				}
				if u.Finalized != nil {
					finalAt = i
				}
			}
			for _, j := range c.wantJustified {
				if !f.IsJustified(j) {
					t.Errorf("%d not justified", j.Height)
				}
			}
			if len(c.wantJustified) == 0 && f.Justified() != g {
				t.Errorf("justified %d", f.Justified().Height)
			}
			if f.Finalized() != c.wantFinal || finalAt != c.finalAt {
				t.Fatalf("finalized %d at step %d, want %d at step %d", f.Finalized().Height, finalAt, c.wantFinal.Height, c.finalAt)
			}
			if c.wantFinal == g {
				return
			}
			// What finalized it is the link a proof carries, and the first
			// of Certificates.
			cert := f.FinalizingCertificate()
			fin, ok := FinalizedBy(cert)
			if !ok || fin != c.wantFinal {
				t.Fatalf("finalizing certificate %d → %d", cert[0].Source.Height, cert[0].Target.Height)
			}
			if s, tg, err := VerifyCertificate(ffgChain, cert, ffgPubs(ks)); err != nil || s != fin || !(tg == fin || tg.Height == fin.Height+1) {
				t.Fatalf("VerifyCertificate: %v", err)
			}
			same := func(a, b *types.FinalityVote) bool { return a.Hash() == b.Hash() }
			if certs := f.Certificates(); len(certs) == 0 || !slices.EqualFunc(certs[0], cert, same) {
				t.Fatal("Certificates does not start with the finalizing certificate")
			}
		})
	}
}

// TestFinalityCommitEvidence: conflicting commit votes (two blocks at one
// height) and a normal vote around a commit vote are evidence; a commit
// vote next to the same voter's normal vote for another block at its
// height, or from it, is not.
func TestFinalityCommitEvidence(t *testing.T) {
	ks := ffgKeys(t, "commit-evidence", 4)
	tree := newFFGTree(ffgPubs(ks))
	g := tree.genesis
	b := append([]types.Checkpoint{g}, tree.chain(g, 4)...)
	fork := tree.chain(g, 2) // fork[0] at height 1, fork[1] at 2
	x := ks[0]
	cases := []struct {
		name  string
		first *types.FinalityVote
		then  *types.FinalityVote
		kind  string // "" for no evidence
	}{
		{"two commits at one height", ffgSign(x, b[2], b[2]), ffgSign(x, fork[1], fork[1]), "double"},
		{"normal vote surrounds a commit", ffgSign(x, b[2], b[2]), ffgSign(x, b[1], b[3]), "surround"},
		{"commit inside an earlier normal vote", ffgSign(x, g, b[4]), ffgSign(x, b[2], b[2]), "surround"},
		{"commit and a normal vote for another block at its height", ffgSign(x, g, fork[1]), ffgSign(x, b[2], b[2]), ""},
		{"commit and a normal vote for its block", ffgSign(x, b[1], b[2]), ffgSign(x, b[2], b[2]), ""},
		{"a normal vote from the committed block", ffgSign(x, b[2], b[2]), ffgSign(x, b[2], b[4]), ""},
		{"commits at two heights", ffgSign(x, b[2], b[2]), ffgSign(x, b[3], b[3]), ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := NewFinality(g)
			if u, err := f.AddVote(c.first, tree); err != nil || len(u.Evidence) != 0 {
				t.Fatalf("first vote: %v, %+v", err, u)
			}
			u, err := f.AddVote(c.then, tree)
			if err != nil {
				t.Fatal(err)
			}
			if c.kind == "" {
				if len(u.Evidence) != 0 {
					t.Fatalf("evidence against votes that do not conflict")
				}
				return
			}
			checkEvidence(t, u, x.Public(), c.kind)
		})
	}

	// A conflicting commit vote is not counted: with the equivocator's
	// commit for the fork held, its commit for b2 does not make the
	// third.
	f := NewFinality(g)
	ffgAdd(t, f, tree, ks[:3], g, b[1])
	ffgAdd(t, f, tree, ks[:3], b[1], b[2])
	if u, err := f.AddVote(ffgSign(x, fork[1], fork[1]), tree); err != nil || len(u.Evidence) != 0 {
		t.Fatalf("%v %+v", err, u)
	}
	ffgCommit(t, f, tree, ks[1:3], b[2])
	u, err := f.AddVote(ffgSign(x, b[2], b[2]), tree)
	if err != nil || len(u.Evidence) != 1 || u.Finalized != nil || f.Finalized() == b[2] {
		t.Fatalf("the equivocator's second commit: %v, %+v", err, u)
	}
	if u := ffgCommit(t, f, tree, ks[3:], b[2]); u.Finalized == nil || *u.Finalized != b[2] {
		t.Fatal("three honest commits did not finalize")
	}
}

// TestFinalityCommitCertificate: a gadget that missed the round learns the
// finalization from the commit certificate alone (the lagging peer of
// sync); the certificate's block counts as justified.
func TestFinalityCommitCertificate(t *testing.T) {
	ks := ffgKeys(t, "commit-cert", 4)
	tree := newFFGTree(ffgPubs(ks))
	g := tree.genesis
	b := append([]types.Checkpoint{g}, tree.chain(g, 3)...)
	f := NewFinality(g)
	ffgAdd(t, f, tree, ks[:3], g, b[1])
	ffgAdd(t, f, tree, ks[:3], b[1], b[2])
	ffgCommit(t, f, tree, ks[1:], b[2])
	cert := f.FinalizingCertificate()
	if len(cert) != 3 || !cert[0].IsCommit() {
		t.Fatalf("finalizing certificate %+v", cert)
	}

	lag := NewFinality(g)
	u, err := lag.AddCertificate(ffgChain, cert, tree)
	if err != nil || u.Finalized == nil || *u.Finalized != b[2] || !lag.IsJustified(b[2]) {
		t.Fatalf("commit certificate on a lagging gadget: %v, %+v", err, u)
	}
	// Again: nothing new.
	if u, err := lag.AddCertificate(ffgChain, cert, tree); err != nil || u.Finalized != nil || len(u.Justified) != 0 {
		t.Fatalf("again: %v, %+v", err, u)
	}
	// A forged commit certificate (too few votes, a vote of another link)
	// is refused.
	if _, err := NewFinality(g).AddCertificate(ffgChain, cert[:2], tree); !errors.Is(err, ErrBadCertificate) {
		t.Fatalf("two of four: %v", err)
	}
	mixed := append(slices.Clone(cert[:2]), ffgSign(ks[0], b[1], b[2]))
	if _, _, err := VerifyCertificate(ffgChain, mixed, ffgPubs(ks)); !errors.Is(err, ErrBadCertificate) {
		t.Fatalf("a commit certificate with a normal vote: %v", err)
	}
	bad := []*types.FinalityVote{ffgSign(ks[0], b[2], types.Checkpoint{Height: 2, Hash: types.Hash{7}})}
	if _, _, err := VerifyCertificate(ffgChain, bad, ffgPubs(ks)[:1]); !errors.Is(err, types.ErrBadVote) {
		t.Fatalf("a link to another block at the source's height: %v", err)
	}
}

// TestNextCommit: the rules of an honest commit vote.
func TestNextCommit(t *testing.T) {
	ks := ffgKeys(t, "next-commit", 4)
	self := ks[0].Public()
	tree := newFFGTree(ffgPubs(ks))
	g := tree.genesis
	b := append([]types.Checkpoint{g}, tree.chain(g, 5)...)
	fork := tree.chain(b[1], 2) // fork[1] at height 3, off b[1]

	f := NewFinality(g)
	if _, ok := f.NextCommit(ffgChain, self, b[1], tree); ok {
		t.Fatal("commit on the finalized genesis")
	}
	v, ok := f.NextVote(ffgChain, self, b[1], tree)
	if !ok || v.Source != g {
		t.Fatal("first vote")
	}
	if _, ok := f.NextCommit(ffgChain, self, b[1], tree); ok {
		t.Fatal("commit on a block not justified")
	}
	ffgAdd(t, f, tree, ks[1:], g, b[1])
	c, ok := f.NextCommit(ffgChain, self, b[1], tree)
	if !ok || !c.IsCommit() || c.Source != b[1] {
		t.Fatalf("commit %+v, %v", c, ok)
	}
	if own, _ := f.OwnLastVote(); own.Hash() != c.Hash() {
		t.Fatal("the commit vote is not the own last vote")
	}
	if _, ok := f.NextCommit(ffgChain, self, b[1], tree); ok {
		t.Fatal("a second commit at one height")
	}
	// The next normal vote comes from the committed block.
	if v, ok := f.NextVote(ffgChain, self, b[2], tree); !ok || v.Source != b[1] || v.Target != b[2] {
		t.Fatalf("vote after the commit %+v, %v", v, ok)
	}
	// Its own normal vote's target is above b2 once it voted for b3: no
	// commit on b2 then (that vote, from b1 to b3, would surround it).
	if _, ok := f.NextVote(ffgChain, self, b[3], tree); !ok {
		t.Fatal("vote for b3")
	}
	ffgAdd(t, f, tree, ks[1:], b[1], b[2])
	if f.Justified() != b[2] {
		t.Fatal("b2 not justified")
	}
	if _, ok := f.NextCommit(ffgChain, self, b[3], tree); ok {
		t.Fatal("committed b2 under its own vote b1 → b3")
	}
	// b3 justified: commit on it from head b3 or a descendant, not from a
	// head off its chain.
	ffgAdd(t, f, tree, ks[1:], b[2], b[3])
	if _, ok := f.NextCommit(ffgChain, self, fork[1], tree); ok {
		t.Fatal("commit on a block off the head's chain")
	}
	c3, ok := f.NextCommit(ffgChain, self, b[4], tree)
	if !ok || c3.Source != b[3] {
		t.Fatalf("commit on b3 from head b4: %+v, %v", c3, ok)
	}
	// After a restart with the commit as its last vote: no second commit
	// at that height, and normal votes from at or above it.
	r := NewFinality(g)
	for _, cert := range f.Certificates() {
		if _, err := r.AddCertificate(ffgChain, cert, tree); err != nil {
			t.Fatal(err)
		}
	}
	r.SetOwnLastVote(c3)
	if _, ok := r.NextCommit(ffgChain, self, b[4], tree); ok {
		t.Fatal("commit again after a restart")
	}
	if v, ok := r.NextVote(ffgChain, self, b[4], tree); !ok || v.Source != b[3] {
		t.Fatalf("vote after the restart %+v, %v", v, ok)
	}
	// A non-voter never commits.
	stranger := ffgKeys(t, "stranger-commit", 1)[0].Public()
	if _, ok := r.NextCommit(ffgChain, stranger, b[4], tree); ok {
		t.Fatal("a stranger's commit")
	}
}
