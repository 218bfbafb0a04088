package ledger

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"reflect"
	"slices"
	"testing"

	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger/types"
)

// doubleVote returns evidence that offender voted for two targets at
// height target: salt tells pairs apart.
func doubleVote(tb testing.TB, chain string, offender *identity.PrivateKey, target uint64, salt byte) *types.Evidence {
	tb.Helper()
	a := &types.FinalityVote{ChainID: chain, Source: types.Checkpoint{Height: target - 1, Hash: types.Hash{salt}},
		Target: types.Checkpoint{Height: target, Hash: types.Hash{1, salt}}}
	b := &types.FinalityVote{ChainID: chain, Source: a.Source, Target: types.Checkpoint{Height: target, Hash: types.Hash{2, salt}}}
	a.Sign(offender)
	b.Sign(offender)
	e, err := types.NewEvidence(a, b)
	if err != nil {
		tb.Fatal(err)
	}
	return e
}

// evidenceTx returns reporter's signed evidence transaction.
func (f *fixture) evidenceTx(tb testing.TB, reporter *identity.PrivateKey, nonce uint64, ts int64, e *types.Evidence) *types.Tx {
	tb.Helper()
	tx := types.NewEvidenceTx(f.p.ChainID, nonce, ts, e)
	tx.Sign(reporter)
	return tx
}

// evidenceChain builds three blocks: block 1 holds records and evidence
// against offender x (reported by k0), block 2 records only, block 3
// evidence against x again (reported by k1) and against y (by k0), with a
// record between them.
func evidenceChain(tb testing.TB, f *fixture, x, y *identity.PrivateKey) []step {
	tb.Helper()
	k0, k1 := f.keys[0], f.keys[1]
	st := GenesisState(f.g)
	nonces := memNonces{}
	var out []step
	blocks := [][]func(at int64) *types.Tx{
		{
			func(at int64) *types.Tx { return f.tx(tb, k0, nonces[k0.Public()]+1, at, "temp") },
			func(at int64) *types.Tx {
				return f.evidenceTx(tb, k0, nonces[k0.Public()]+2, at, doubleVote(tb, f.p.ChainID, x, 5, 1))
			},
			func(at int64) *types.Tx { return f.tx(tb, k1, nonces[k1.Public()]+1, at, "hum") },
		},
		{
			func(at int64) *types.Tx { return f.tx(tb, k1, nonces[k1.Public()]+1, at, "hum") },
		},
		{
			func(at int64) *types.Tx {
				return f.evidenceTx(tb, k1, nonces[k1.Public()]+1, at, doubleVote(tb, f.p.ChainID, x, 9, 2))
			},
			func(at int64) *types.Tx { return f.tx(tb, k0, nonces[k0.Public()]+1, at, "temp") },
			func(at int64) *types.Tx {
				return f.evidenceTx(tb, k0, nonces[k0.Public()]+2, at, doubleVote(tb, f.p.ChainID, y, 9, 3))
			},
		},
	}
	for _, mk := range blocks {
		at := st.LastBlockTime + f.g.SlotMillis
		var txs []*types.Tx
		for _, m := range mk {
			txs = append(txs, m(at))
		}
		b, next, ch, skipped := propose(st, nonces, f.p, txs, at, f.auth.Public())
		if len(skipped) > 0 || len(b.Txs) != len(txs) {
			tb.Fatalf("block %d: skipped %v", b.Header.Height, skipped)
		}
		out = append(out, step{f.seal(b), next, ch})
		maps.Copy(nonces, ch.Nonces)
		st = next
	}
	return out
}

func TestApplyRecordsEvidence(t *testing.T) {
	f := newFixture(t, 2)
	x, y := newKey(t), newKey(t)
	steps := evidenceChain(t, f, x, y)
	st := GenesisState(f.g)
	nonces := memNonces{}
	type want struct {
		offender identity.PublicKey
		index    uint32
	}
	wants := [][]want{{{x.Public(), 1}}, nil, {{x.Public(), 0}, {y.Public(), 2}}}
	for i, s := range steps {
		b, err := types.DecodeBlock(s.b.Encode())
		if err != nil {
			t.Fatal(err)
		}
		next, ch, err := Apply(st, nonces, f.p, b)
		if err != nil {
			t.Fatalf("block %d: %v", i+1, err)
		}
		if next != s.next || !reflect.DeepEqual(ch, s.ch) {
			t.Fatalf("block %d: Apply and Propose disagree", i+1)
		}
		if len(ch.Evidence) != len(wants[i]) {
			t.Fatalf("block %d: evidence %+v", i+1, ch.Evidence)
		}
		for j, e := range ch.Evidence {
			w := wants[i][j]
			tx := b.Txs[e.Index]
			if e.Offender != w.offender || e.Index != w.index || e.Height != next.Height || e.TxHash != tx.Hash() || tx.Type != types.TxEvidence {
				t.Fatalf("block %d: evidence %d = %+v", i+1, j, e)
			}
		}
		// Evidence is no record; its sender's nonce advances all the same.
		for _, r := range ch.Records {
			if b.Txs[r.Index].Type != types.TxDataRecord {
				t.Fatalf("block %d: record entry for %+v", i+1, r)
			}
		}
		for _, tx := range b.Txs {
			if ch.Nonces[tx.Sender] < tx.Nonce {
				t.Fatalf("block %d: nonce of %s is %d", i+1, tx.Sender.DID(), ch.Nonces[tx.Sender])
			}
		}
		maps.Copy(nonces, ch.Nonces)
		st = next
	}
	if nonces[f.keys[0].Public()] != 4 || nonces[f.keys[1].Public()] != 3 {
		t.Fatalf("nonces %v", nonces)
	}
}

func TestApplyRejectsBadEvidence(t *testing.T) {
	f := newFixture(t, 1)
	k0, x := f.keys[0], newKey(t)
	st := GenesisState(f.g)
	at := st.LastBlockTime + 1000
	good := doubleVote(t, f.p.ChainID, x, 5, 1)

	withTxs := func(txs ...*types.Tx) *types.Block { return assemble(st, f.p, txs, at) }
	sameVote := &types.Evidence{A: good.A, B: good.A}
	forged := func() *types.Evidence {
		v, err := types.DecodeVote(good.B)
		if err != nil {
			t.Fatal(err)
		}
		v.Signature = k0.Sign(v.SignBytes())
		return &types.Evidence{A: good.A, B: v.Encode()}
	}()
	otherChain := doubleVote(t, "other-chain", x, 5, 1)
	tests := []struct {
		name  string
		block *types.Block
		want  error
	}{
		{"nonce gap", withTxs(f.evidenceTx(t, k0, 2, at, good)), types.ErrNonceGap},
		{"replayed nonce", withTxs(f.tx(t, k0, 1, at, "temp"), f.evidenceTx(t, k0, 1, at, good)), types.ErrReplayedNonce},
		{"one vote twice", withTxs(f.evidenceTx(t, k0, 1, at, sameVote)), types.ErrBadPayload},
		{"forged vote", withTxs(f.evidenceTx(t, k0, 1, at, forged)), types.ErrBadSignature},
		{"votes of another chain", withTxs(f.evidenceTx(t, k0, 1, at, otherChain)), types.ErrWrongChain},
		{"timestamp out of window", withTxs(f.evidenceTx(t, k0, 1, at+f.p.Window.Future.Milliseconds()+1, good)), types.ErrTimeInFuture},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, ch, err := Apply(st, memNonces{}, f.p, tc.block)
			if !errors.Is(err, types.ErrBadBlock) || !errors.Is(err, tc.want) || ch != nil {
				t.Fatalf("Apply: %v, want %v", err, tc.want)
			}
			// Propose skips the transaction with the same reason.
			b, _, ch, skipped := propose(st, memNonces{}, f.p, tc.block.Txs, at, f.auth.Public())
			last := tc.block.Txs[len(tc.block.Txs)-1]
			if len(skipped) != 1 || skipped[0].Tx != last || !errors.Is(skipped[0].Err, tc.want) || len(ch.Evidence) != 0 {
				t.Fatalf("Propose: block of %d, skipped %v", len(b.Txs), skipped)
			}
		})
	}
}

func TestStoreEvidence(t *testing.T) {
	f := newFixture(t, 2)
	x, y := newKey(t), newKey(t)
	steps := evidenceChain(t, f, x, y)
	var wantX, wantY []EvidenceEntry
	for _, s := range steps {
		for _, e := range s.ch.Evidence {
			switch e.Offender {
			case x.Public():
				wantX = append(wantX, e)
			case y.Public():
				wantY = append(wantY, e)
			}
		}
	}
	if len(wantX) != 2 || len(wantY) != 1 || wantX[0].Height != 1 || wantX[1].Height != 3 {
		t.Fatalf("fixture: %+v %+v", wantX, wantY)
	}
	wantOffenders := []identity.PublicKey{x.Public(), y.Public()}
	slices.SortFunc(wantOffenders, func(a, b identity.PublicKey) int { return bytes.Compare(a[:], b[:]) })

	check := func(t *testing.T, s *Store) {
		t.Helper()
		ctx := context.Background()
		for _, c := range []struct {
			k    identity.PublicKey
			want []EvidenceEntry
		}{{x.Public(), wantX}, {y.Public(), wantY}, {newKey(t).Public(), nil}, {f.keys[0].Public(), nil}} {
			got, err := s.Evidence(ctx, c.k)
			if err != nil || !reflect.DeepEqual(got, c.want) {
				t.Fatalf("Evidence(%s) = %+v, %v; want %+v", c.k.DID(), got, err, c.want)
			}
			for _, e := range got {
				tx, h, i, err := s.Tx(ctx, e.TxHash)
				if err != nil || h != e.Height || i != e.Index || tx.Type != types.TxEvidence {
					t.Fatalf("Tx(%s): %v", e.TxHash, err)
				}
				if off, _, _, err := types.DecodeEvidence(f.p.ChainID, tx.Payload); err != nil || off != c.k {
					t.Fatalf("stored evidence: %v", err)
				}
			}
		}
		got, err := s.Offenders(ctx)
		if err != nil || !slices.Equal(got, wantOffenders) {
			t.Fatalf("Offenders = %v, %v", got, err)
		}
		// Records are unaffected by the evidence next to them.
		recs, err := s.Records(ctx, f.keys[0].Public(), "", 0, 0)
		if err != nil || len(recs) != 2 || recs[0].Nonce != 1 || recs[1].Nonce != 3 {
			t.Fatalf("records of k0: %+v, %v", recs, err)
		}
	}
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			ctx := context.Background()
			d, reopen := be.open(t)
			s, err := Open(ctx, d, f.g)
			if err != nil {
				t.Fatal(err)
			}
			if got, err := s.Offenders(ctx); err != nil || len(got) != 0 {
				t.Fatalf("Offenders of a fresh store = %v, %v", got, err)
			}
			commitAll(t, s, f.p, steps[:1])
			if got, err := s.Evidence(ctx, x.Public()); err != nil || !reflect.DeepEqual(got, wantX[:1]) {
				t.Fatalf("after block 1: %+v, %v", got, err)
			}
			if got, err := s.Offenders(ctx); err != nil || !slices.Equal(got, []identity.PublicKey{x.Public()}) {
				t.Fatalf("Offenders after block 1 = %v, %v", got, err)
			}
			commitAll(t, s, f.p, steps[1:])
			check(t, s)
			s, err = Open(ctx, reopen(), f.g)
			if err != nil {
				t.Fatal(err)
			}
			check(t, s)
		})
	}
}

func TestStoreCommitRefusesForeignEvidence(t *testing.T) {
	f := newFixture(t, 2)
	x, y := newKey(t), newKey(t)
	steps := evidenceChain(t, f, x, y)
	b1 := steps[0]
	e := b1.ch.Evidence[0]
	edit := func(mut func(*EvidenceEntry)) *Changes {
		ch := *b1.ch
		ch.Evidence = slices.Clone(ch.Evidence)
		mut(&ch.Evidence[0])
		return &ch
	}
	tests := map[string]*Changes{
		"wrong height":         edit(func(e *EvidenceEntry) { e.Height = 2 }),
		"index out of range":   edit(func(e *EvidenceEntry) { e.Index = uint32(len(b1.b.Txs)) }),
		"index of a record tx": edit(func(e *EvidenceEntry) { e.Index = 0 }),
		"wrong hash":           edit(func(e *EvidenceEntry) { e.TxHash[0] ^= 1 }),
	}
	if e.Index == 0 {
		t.Fatal("fixture: evidence must not be the first transaction")
	}
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			ctx := context.Background()
			d, _ := be.open(t)
			s, err := Open(ctx, d, f.g)
			if err != nil {
				t.Fatal(err)
			}
			for name, ch := range tests {
				if err := s.Commit(ctx, b1.b, b1.next, ch); err == nil {
					t.Fatalf("%s: committed", name)
				}
				if s.State() != GenesisState(f.g) {
					t.Fatalf("%s: state changed", name)
				}
				if got, err := s.Offenders(ctx); err != nil || len(got) != 0 {
					t.Fatalf("%s: offenders %v, %v", name, got, err)
				}
			}
			commitAll(t, s, f.p, steps)
		})
	}
}

// TestApplyCommitVoteEvidence: evidence built from commit votes (source ==
// target, the finality gadget's second round) is judged on FFG epochs:
// two commits for different blocks at one height, and a normal vote
// around a commit, are evidence against their voter; a commit and a
// normal vote for another block at its height are not.
func TestApplyCommitVoteEvidence(t *testing.T) {
	f := newFixture(t, 1)
	k0, x := f.keys[0], newKey(t)
	st := GenesisState(f.g)
	at := st.LastBlockTime + 1000
	vote := func(s uint64, sh byte, tg uint64, th byte) *types.FinalityVote {
		v := &types.FinalityVote{ChainID: f.p.ChainID, Source: types.Checkpoint{Height: s, Hash: types.Hash{sh}},
			Target: types.Checkpoint{Height: tg, Hash: types.Hash{th}}}
		v.Sign(x)
		return v
	}
	evidence := func(a, b *types.FinalityVote) *types.Evidence {
		e, err := types.NewEvidence(a, b)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	double := evidence(vote(7, 1, 7, 1), vote(7, 2, 7, 2))
	surround := evidence(vote(6, 6, 8, 3), vote(7, 1, 7, 1))
	txs := []*types.Tx{f.evidenceTx(t, k0, 1, at, double), f.evidenceTx(t, k0, 2, at, surround)}
	b, _, ch, skipped := propose(st, memNonces{}, f.p, txs, at, f.auth.Public())
	if len(skipped) != 0 || len(b.Txs) != 2 {
		t.Fatalf("skipped %v", skipped)
	}
	if _, ach, err := Apply(st, memNonces{}, f.p, f.seal(b)); err != nil || !reflect.DeepEqual(ach, ch) {
		t.Fatalf("Apply: %v", err)
	}
	if len(ch.Evidence) != 2 || ch.Evidence[0].Offender != x.Public() || ch.Evidence[1].Offender != x.Public() {
		t.Fatalf("evidence %+v", ch.Evidence)
	}
	// Not conflicting on epochs: refused as a bad payload.
	a, c := vote(6, 6, 7, 2), vote(7, 1, 7, 1)
	ha, hc := a.Hash(), c.Hash()
	if bytes.Compare(ha[:], hc[:]) > 0 {
		a, c = c, a
	}
	none := &types.Evidence{A: a.Encode(), B: c.Encode()}
	_, ch, err := Apply(st, memNonces{}, f.p, assemble(st, f.p, []*types.Tx{f.evidenceTx(t, k0, 1, at, none)}, at))
	if !errors.Is(err, types.ErrBadPayload) || ch != nil {
		t.Fatalf("a commit and a normal vote at its height: %v", err)
	}
}
