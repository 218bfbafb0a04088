package pubsub

import (
	"errors"
	"testing"
	"time"

	lp2pps "github.com/libp2p/go-libp2p-pubsub"

	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger/types"
)

// TestCheckBatch: a batch's transactions are judged one by one with their
// signatures verified together; the verdict rejects a batch holding what
// no honest batcher sends, ignores one that brings nothing new, and
// accepts the rest.
func TestCheckBatch(t *testing.T) {
	now := time.Now()
	k, _ := identity.Generate(nil)
	pool := map[types.Hash]bool{}
	mk := func() *TxChecker {
		c := newChecker(now, map[identity.PublicKey]uint64{k.Public(): 2})
		c.Known = func(h types.Hash) bool { return pool[h] }
		c.Admit = func(tx *types.Tx, _ int) error { pool[tx.Hash()] = true; return nil }
		c.Verify = types.VerifyTxs
		return c
	}
	good := []*types.Tx{record(t, k, chain, 3, now), record(t, k, chain, 4, now), record(t, k, chain, 5, now)}
	replayed := record(t, k, chain, 2, now)
	forged := record(t, k, chain, 6, now)
	forged.Signature[0] ^= 1
	sizes := func(txs []*types.Tx) []int {
		s := make([]int, len(txs))
		for i, tx := range txs {
			s[i] = len(tx.Encode())
		}
		return s
	}

	c := mk()
	r := c.CheckBatch(append([]*types.Tx{replayed}, good...), sizes(append([]*types.Tx{replayed}, good...)))
	if r.Admitted != 3 || r.First != nil || !errors.Is(r.Errs[0], types.ErrReplayedNonce) {
		t.Fatalf("good batch: admitted %d, first %v, errs %v", r.Admitted, r.First, r.Errs)
	}
	if v := BatchVerdict(r); v != lp2pps.ValidationAccept {
		t.Fatalf("good batch verdict %v", v)
	}
	// The same again: nothing new.
	r = c.CheckBatch(good, sizes(good))
	if r.Admitted != 0 || BatchVerdict(r) != lp2pps.ValidationIgnore || !errors.Is(r.Errs[1], ErrDuplicate) {
		t.Fatalf("repeat: admitted %d, verdict %v, errs %v", r.Admitted, BatchVerdict(r), r.Errs)
	}
	// A forged signature rejects the batch; the valid ones are still taken.
	pool = map[types.Hash]bool{}
	c = mk()
	mixed := []*types.Tx{good[0], forged, good[1]}
	r = c.CheckBatch(mixed, sizes(mixed))
	if !errors.Is(r.First, types.ErrBadSignature) || BatchVerdict(r) != lp2pps.ValidationReject || r.Admitted != 2 {
		t.Fatalf("forged: first %v, verdict %v, admitted %d", r.First, BatchVerdict(r), r.Admitted)
	}
	if pool[forged.Hash()] {
		t.Fatal("a forged transaction was admitted")
	}
	// The default verifier (one check each) gives the same verdicts.
	pool = map[types.Hash]bool{}
	c = mk()
	c.Verify = nil
	r = c.CheckBatch(mixed, sizes(mixed))
	if !errors.Is(r.First, types.ErrBadSignature) || r.Admitted != 2 {
		t.Fatalf("default verifier: first %v, admitted %d", r.First, r.Admitted)
	}
}
