package smt

import (
	"math/rand/v2"
	"testing"

	"pgregory.net/rapid"
)

// TestUpdateProperties drives random batches of inserts, updates and
// deletes (in random order) into the tree and checks after every batch the
// root against the reference, Update's created/stale accounting, Get, and
// that every proof (membership and non-membership) verifies and fails for a
// wrong value, another root and a tampered sibling.
func TestUpdateProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		// A small pool of keys makes updates, deletes and re-inserts common.
		pool := rapid.SliceOfNDistinct(rapid.StringN(0, 6, -1), 1, 48, rapid.ID[string]).Draw(t, "pool")
		value := rapid.OneOf(
			rapid.SampledFrom([]string{"", "a", "b"}),
			rapid.StringN(0, 12, -1),
		)
		md := newModel()
		batches := rapid.IntRange(1, 6).Draw(t, "batches")
		for range batches {
			keys := rapid.SliceOfDistinct(rapid.SampledFrom(pool), rapid.ID[string]).Draw(t, "keys")
			ops := make([]Op, 0, len(keys))
			for _, k := range keys {
				if rapid.IntRange(0, 3).Draw(t, "op") == 0 {
					ops = append(ops, Op{Key: []byte(k)})
				} else {
					ops = append(ops, Op{Key: []byte(k), Value: []byte(value.Draw(t, "value"))})
				}
			}
			ops = rapid.Permutation(ops).Draw(t, "order")
			prev := md.root
			md.apply(t, ops)
			for _, k := range pool {
				md.checkKey(t, []byte(k), prev)
			}
			md.checkKey(t, []byte("absent key, not in the pool"), prev)
		}
	})
}

// TestUpdateSplitIntoBatches: applying a set of ops in one batch or split
// into several gives one root.
func TestUpdateSplitIntoBatches(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(0, 300).Draw(t, "n")
		ops := make([]Op, n)
		for i := range ops {
			ops[i] = Op{Key: keyN(i), Value: keyN(i + 1)}
		}
		whole, _, _, err := Update(MapNodes{}, Empty, ops)
		if err != nil {
			t.Fatal(err)
		}
		store, root := MapNodes{}, Empty
		for rest := rapid.Permutation(ops).Draw(t, "order"); len(rest) > 0; {
			k := rapid.IntRange(1, len(rest)).Draw(t, "batch")
			var created map[Hash][]byte
			var stale []Hash
			if root, created, stale, err = Update(store, root, rest[:k]); err != nil {
				t.Fatal(err)
			}
			store.Apply(created, stale)
			rest = rest[k:]
		}
		if root != whole {
			t.Fatalf("batched root %s, whole %s", root, whole)
		}
	})
}

// TestLargeRandomBatches: batches of 1,000 mixed ops over a pool of 5,000
// keys, against the reference, with Get and proofs checked on a sample.
func TestLargeRandomBatches(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	md := newModel()
	for range 8 {
		ops := make([]Op, 0, 1000)
		for _, i := range rng.Perm(5000)[:1000] {
			if rng.IntN(4) == 0 {
				ops = append(ops, Op{Key: keyN(i)})
			} else {
				ops = append(ops, Op{Key: keyN(i), Value: keyN(rng.IntN(1 << 20))})
			}
		}
		prev := md.root
		md.apply(t, ops)
		for range 50 {
			md.checkKey(t, keyN(rng.IntN(6000)), prev)
		}
	}
}
