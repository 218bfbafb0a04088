package smt

import (
	"context"
	"encoding/binary"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	pebbleds "github.com/ipfs/go-ds-pebble"
)

const (
	benchKeys  = 1_000_000
	benchBlock = 10_000
	benchBatch = 100_000 // keys per Update while building the tree
)

// benchKey is key i of the benchmark trees: 12 bytes, "acct" + i.
func benchKey(i int) []byte {
	k := make([]byte, 12)
	copy(k, "acct")
	binary.BigEndian.PutUint64(k[4:], uint64(i))
	return k
}

// benchValue is a 16-byte value derived from i and a version.
func benchValue(i, version int) []byte {
	v := make([]byte, 16)
	binary.BigEndian.PutUint64(v, uint64(i))
	binary.BigEndian.PutUint64(v[8:], uint64(version))
	return v
}

// buildTree makes a tree of n keys in MapNodes, benchBatch keys per Update,
// keeping only the latest tree's nodes.
func buildTree(tb testing.TB, n int) (MapNodes, Hash) {
	store, root := MapNodes{}, Empty
	for lo := 0; lo < n; lo += benchBatch {
		ops := make([]Op, 0, benchBatch)
		for i := lo; i < min(lo+benchBatch, n); i++ {
			ops = append(ops, Op{Key: benchKey(i), Value: benchValue(i, 0)})
		}
		r, created, stale, err := Update(store, root, ops)
		if err != nil {
			tb.Fatal(err)
		}
		store.Apply(created, stale)
		root = r
	}
	return store, root
}

// blockOps is a block of benchBlock distinct changes to a tree of n keys:
// with mixed, 60% updates of existing keys, 20% inserts of new keys and 20%
// deletes; otherwise all updates.
func blockOps(rng *rand.Rand, n, version int, mixed bool) []Op {
	ops := make([]Op, 0, benchBlock)
	seen := make(map[int]bool, benchBlock)
	for len(ops) < benchBlock {
		i := rng.IntN(n)
		if seen[i] {
			continue
		}
		seen[i] = true
		switch r := len(ops) % 10; {
		case !mixed || r < 6:
			ops = append(ops, Op{Key: benchKey(i), Value: benchValue(i, version)})
		case r < 8:
			ops = append(ops, Op{Key: benchKey(n + version*benchBlock + len(ops)), Value: benchValue(i, version)})
		default:
			ops = append(ops, Op{Key: benchKey(i)})
		}
	}
	return ops
}

// countingReader counts node reads.
type countingReader struct {
	r NodeReader
	n int
}

func (c *countingReader) Node(h Hash) ([]byte, error) { c.n++; return c.r.Node(h) }

// proofSizes returns the mean encoded proof size, in bytes, for 1,000 random
// present keys and 1,000 absent keys.
func proofSizes(tb testing.TB, r NodeReader, root Hash, n int) (present, absent float64) {
	rng := rand.New(rand.NewPCG(7, 7))
	var sp, sa int
	for range 1000 {
		p, err := Prove(r, root, benchKey(rng.IntN(n)))
		if err != nil {
			tb.Fatal(err)
		}
		sp += len(p.Encode())
		q, err := Prove(r, root, benchKey(n+10_000_000+rng.IntN(n)))
		if err != nil {
			tb.Fatal(err)
		}
		sa += len(q.Encode())
	}
	return float64(sp) / 1000, float64(sa) / 1000
}

// BenchmarkUpdate1M: a tree of 1,000,000 keys with its nodes in memory
// (MapNodes); one op is one block of 10,000 changes applied with Update
// (the root computation: node reads, hashing, the new nodes). Each block
// starts from the same 1M-key tree. Metrics: the nodes a block creates and
// leaves stale, its node reads, the mean proof size for a present and an
// absent key, and the time to build the tree (outside the timer).
func BenchmarkUpdate1M(b *testing.B) {
	if testing.Short() {
		b.Skip("builds a 1M-key tree; skipped with -short")
	}
	start := time.Now()
	store, root := buildTree(b, benchKeys)
	setup := time.Since(start)
	proofB, absentB := proofSizes(b, store, root, benchKeys)
	for _, bc := range []struct {
		name  string
		mixed bool
	}{{"updates", false}, {"mixed", true}} {
		b.Run(bc.name, func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 1))
			blocks := make([][]Op, 4)
			for i := range blocks {
				blocks[i] = blockOps(rng, benchKeys, i+1, bc.mixed)
			}
			cr := &countingReader{r: store}
			_, created, stale, err := Update(cr, root, blocks[0])
			if err != nil {
				b.Fatal(err)
			}
			i := 0
			cpu0 := cpuTime()
			for b.Loop() {
				if _, _, _, err := Update(store, root, blocks[i%len(blocks)]); err != nil {
					b.Fatal(err)
				}
				i++
			}
			// CPU time of the process (GC included) per block: on a shared
			// machine a steadier figure than the wall time of ns/op.
			b.ReportMetric(float64((cpuTime()-cpu0).Milliseconds())/float64(i), "cpu-ms/op")
			b.ReportMetric(float64(len(created)), "created/op")
			b.ReportMetric(float64(len(stale)), "stale/op")
			b.ReportMetric(float64(cr.n), "reads/op")
			b.ReportMetric(proofB, "proof-B")
			b.ReportMetric(absentB, "absent-proof-B")
			b.ReportMetric(setup.Seconds(), "setup-s")
			b.ReportMetric(float64(len(store)), "nodes")
		})
	}
}

// BenchmarkUpdate1MPebble: the same 1M-key tree with its nodes in pebble
// (go-ds-pebble, synced writes as the ledger opens it), with pebble's
// default block cache and with a 256 MiB one. One op is one block of 10,000
// updates: Update reading nodes through DSNodes, then one batch that writes
// the created nodes and deletes the stale ones, committed with sync. Blocks
// follow each other (each starts from the previous root).
func BenchmarkUpdate1MPebble(b *testing.B) {
	if testing.Short() {
		b.Skip("builds a 1M-key tree; skipped with -short")
	}
	ctx := context.Background()
	start := time.Now()
	mem, memRoot := buildTree(b, benchKeys)
	buildTime := time.Since(start)
	for _, bc := range []struct {
		name string
		opts []pebbleds.Option
	}{
		{"cache=default", nil},
		{"cache=256MiB", []pebbleds.Option{pebbleds.WithCacheSize(256 << 20)}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			start := time.Now()
			opts := append([]pebbleds.Option{pebbleds.WithPebbleWriteOptions(pebble.Sync)}, bc.opts...)
			ds, err := pebbleds.NewDatastore(b.TempDir(), opts...)
			if err != nil {
				b.Fatal(err)
			}
			defer ds.Close()
			batch, err := ds.Batch(ctx)
			if err != nil {
				b.Fatal(err)
			}
			n := 0
			for h, enc := range mem {
				if err := batch.Put(ctx, NodeKey(h), enc); err != nil {
					b.Fatal(err)
				}
				if n++; n%100_000 == 0 {
					if err := batch.Commit(ctx); err != nil {
						b.Fatal(err)
					}
					if batch, err = ds.Batch(ctx); err != nil {
						b.Fatal(err)
					}
				}
			}
			if err := batch.Commit(ctx); err != nil {
				b.Fatal(err)
			}
			setup := buildTime + time.Since(start)
			root := memRoot
			nodes := DSNodes{Ctx: ctx, DS: ds}
			proofB, _ := proofSizes(b, nodes, root, benchKeys)
			rng := rand.New(rand.NewPCG(2, 2))
			var tUpdate, tWrite time.Duration
			var created int
			version := 0
			cpu0 := cpuTime()
			for b.Loop() {
				b.StopTimer()
				version++
				ops := blockOps(rng, benchKeys, version, false)
				b.StartTimer()
				t0 := time.Now()
				r, c, stale, err := Update(nodes, root, ops)
				if err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				batch, err := ds.Batch(ctx)
				if err != nil {
					b.Fatal(err)
				}
				if err := PutNodes(ctx, batch, c); err != nil {
					b.Fatal(err)
				}
				if err := DeleteNodes(ctx, batch, stale); err != nil {
					b.Fatal(err)
				}
				if err := batch.Commit(ctx); err != nil {
					b.Fatal(err)
				}
				tUpdate += t1.Sub(t0)
				tWrite += time.Since(t1)
				created += len(c)
				root = r
			}
			b.ReportMetric(float64((cpuTime()-cpu0).Milliseconds())/float64(version), "cpu-ms/op")
			b.ReportMetric(float64(tUpdate.Milliseconds())/float64(version), "update-ms/op")
			b.ReportMetric(float64(tWrite.Milliseconds())/float64(version), "write-ms/op")
			b.ReportMetric(float64(created)/float64(version), "created/op")
			b.ReportMetric(proofB, "proof-B")
			b.ReportMetric(setup.Seconds(), "setup-s")
		})
	}
}

// BenchmarkUpdate10kInto100k is a quick figure (also under -short): a block
// of 10,000 updates into a 100,000-key tree in memory.
func BenchmarkUpdate10kInto100k(b *testing.B) {
	store, root := buildTree(b, 100_000)
	rng := rand.New(rand.NewPCG(3, 3))
	ops := blockOps(rng, 100_000, 1, false)
	for b.Loop() {
		if _, _, _, err := Update(store, root, ops); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkProve and BenchmarkVerify: one proof in a 100,000-key tree.
func BenchmarkProve(b *testing.B) {
	store, root := buildTree(b, 100_000)
	i := 0
	for b.Loop() {
		if _, err := Prove(store, root, benchKey(i%100_000)); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkVerify(b *testing.B) {
	store, root := buildTree(b, 100_000)
	key := benchKey(4242)
	p, err := Prove(store, root, key)
	if err != nil {
		b.Fatal(err)
	}
	value := benchValue(4242, 0)
	for b.Loop() {
		if err := p.Verify(root, key, value); err != nil {
			b.Fatal(err)
		}
	}
}
