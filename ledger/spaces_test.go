package ledger

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"
)

// failingDS fails every batch commit after the first ok ones (ok < 0: never).
type failingDS struct {
	datastore.Batching
	ok atomic.Int64
}

var errInjected = errors.New("injected batch failure")

func (f *failingDS) Batch(ctx context.Context) (datastore.Batch, error) {
	b, err := f.Batching.Batch(ctx)
	if err != nil {
		return nil, err
	}
	return &failingBatch{Batch: b, f: f}, nil
}

type failingBatch struct {
	datastore.Batch
	f *failingDS
}

func (b *failingBatch) Commit(ctx context.Context) error {
	if b.f.ok.Load() >= 0 && b.f.ok.Add(-1) < 0 {
		return errInjected
	}
	return b.Batch.Commit(ctx)
}

// dump returns every key and value of d.
func dump(t *testing.T, d datastore.Datastore) map[string][]byte {
	t.Helper()
	res, err := d.Query(context.Background(), query.Query{})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	out := map[string][]byte{}
	for r := range res.Next() {
		if r.Error != nil {
			t.Fatal(r.Error)
		}
		out[r.Key] = r.Value
	}
	return out
}

// TestMigrateFlat opens a store written in the flat layout (by Open over
// the bare datastore, the old code path, with a chain and a consensus
// record beside it) through Split: after a failed migration the old layout
// is whole; after a successful one every ledger key sits under /ledger,
// the others are untouched, the store reads the same chain, and a second
// Split is a no-op.
func TestMigrateFlat(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 2)
	steps := buildChain(t, f, 4)
	for _, be := range backends {
		if strings.Contains(be.name, "namespaced") {
			continue
		}
		t.Run(be.name, func(t *testing.T) {
			d, reopen := be.open(t)
			s, err := Open(ctx, d, f.g)
			if err != nil {
				t.Fatal(err)
			}
			commitAll(t, s, f.p, steps)
			others := map[string][]byte{"/chain/tip-td": {0x04}, "/chain/own-vote": {1, 2}, "/consensus/snapshot/ab": {3}}
			for k, v := range others {
				if err := d.Put(ctx, datastore.NewKey(k), v); err != nil {
					t.Fatal(err)
				}
			}
			d = reopen()
			before := dump(t, d)

			fd := &failingDS{Batching: d}
			if _, err := Split(ctx, fd); !errors.Is(err, errInjected) {
				t.Fatalf("Split with a failing batch: %v", err)
			}
			if after := dump(t, d); !maps.EqualFunc(before, after, bytes.Equal) {
				t.Fatal("a failed migration changed the datastore")
			}

			d = reopen()
			sp, err := Split(ctx, d)
			if err != nil {
				t.Fatal(err)
			}
			d = reopen()
			after := dump(t, d)
			if len(after) != len(before) {
				t.Fatalf("%d keys after the migration, %d before", len(after), len(before))
			}
			for k, v := range before {
				want := "/ledger" + k
				if _, ok := others[k]; ok {
					want = k
				}
				if !bytes.Equal(after[want], v) {
					t.Fatalf("key %s: not moved to %s", k, want)
				}
			}
			if moved, err := MigrateFlat(ctx, d); err != nil || moved {
				t.Fatalf("second migration: moved %v, %v", moved, err)
			}
			sp, err = Split(ctx, d)
			if err != nil {
				t.Fatal(err)
			}
			s, err = Open(ctx, sp.Ledger, f.g)
			if err != nil {
				t.Fatal(err)
			}
			checkStore(t, s, f, steps)
			if v, err := sp.Chain.Get(ctx, datastore.NewKey("/tip-td")); err != nil || !bytes.Equal(v, []byte{4}) {
				t.Fatalf("chain record: %x, %v", v, err)
			}
			if v, err := sp.Consensus.Get(ctx, datastore.NewKey("/snapshot/ab")); err != nil || !bytes.Equal(v, []byte{3}) {
				t.Fatalf("consensus record: %x, %v", v, err)
			}
		})
	}
}

// TestMigrateRefusesBothLayouts: a datastore with a ledger at its root and
// under /ledger is not guessed at.
func TestMigrateRefusesBothLayouts(t *testing.T) {
	ctx := context.Background()
	d := NewMemory()
	for _, k := range []string{"/meta/genesis", "/ledger/meta/genesis"} {
		if err := d.Put(ctx, datastore.NewKey(k), []byte{1}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Split(ctx, d); err == nil {
		t.Fatal("Split accepted both layouts")
	}
}

// TestCommitWrites: a caller's records join the block's batch: written
// with it, under the caller's namespace; refused when outside the store's
// datastore; lost with it when the batch fails.
func TestCommitWrites(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 1)
	steps := buildChain(t, f, 2)
	fd := &failingDS{Batching: NewMemory()}
	fd.ok.Store(-1)
	sp, err := Split(ctx, fd)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(ctx, sp.Ledger, f.g)
	if err != nil {
		t.Fatal(err)
	}
	key := datastore.NewKey("/tip-td")
	x := steps[0]
	if !s.Joins(sp.Chain) || !s.Joins(fd) || s.Joins(NewMemory()) {
		t.Fatal("Joins is wrong")
	}
	if err := s.Commit(ctx, x.b, x.next, x.ch, Write{DS: NewMemory(), Key: key, Value: []byte{1}}); err == nil {
		t.Fatal("Commit accepted a write to another datastore")
	}
	fd.ok.Store(0)
	if err := s.Commit(ctx, x.b, x.next, x.ch, Write{DS: sp.Chain, Key: key, Value: []byte{1}}); !errors.Is(err, errInjected) {
		t.Fatalf("Commit over a failing batch: %v", err)
	}
	if s.State().Height != 0 {
		t.Fatal("State moved after a failed commit")
	}
	if ok, _ := fd.Has(ctx, datastore.NewKey("/chain/tip-td")); ok {
		t.Fatal("the caller's record was written without its block")
	}
	fd.ok.Store(-1)
	if err := s.Commit(ctx, x.b, x.next, x.ch, Write{DS: sp.Chain, Key: key, Value: []byte{1}}); err != nil {
		t.Fatal(err)
	}
	if v, err := fd.Get(ctx, datastore.NewKey("/chain/tip-td")); err != nil || !bytes.Equal(v, []byte{1}) {
		t.Fatalf("the caller's record: %x, %v", v, err)
	}
	if ok, _ := fd.Has(ctx, datastore.NewKey("/ledger/meta/head")); !ok {
		t.Fatal("the head is not under /ledger")
	}
}

type ctxKey struct{}

// ctxDS records whether each read carried the ctxKey value.
type ctxDS struct {
	datastore.Batching
	reads, tagged atomic.Int64
}

func (d *ctxDS) Get(ctx context.Context, k datastore.Key) ([]byte, error) {
	d.reads.Add(1)
	if ctx.Value(ctxKey{}) != nil {
		d.tagged.Add(1)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return d.Batching.Get(ctx, k)
}

// TestStoreContext: the reads behind the context-free NonceReader and
// DIDReader use the context Open was given (its values), and keep working
// once the opener cancelled it.
func TestStoreContext(t *testing.T) {
	f := newFixture(t, 1)
	d := &ctxDS{Batching: NewMemory()}
	ctx, cancel := context.WithCancel(context.WithValue(context.Background(), ctxKey{}, 1))
	s, err := Open(ctx, d, f.g)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	d.reads.Store(0)
	d.tagged.Store(0)
	if _, err := s.Nonce(f.keys[0].Public()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DID(f.keys[0].Public()); err != nil {
		t.Fatal(err)
	}
	if r, tg := d.reads.Load(), d.tagged.Load(); r == 0 || tg != r {
		t.Fatalf("%d of %d reads carried the store's context", tg, r)
	}
}
