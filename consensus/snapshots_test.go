package consensus

import (
	"context"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"

	"github.com/sixdomain/sixdomain/ledger/types"
)

// headersFrom is a HeaderReader holding only a chain's headers from a
// height on.
type headersFrom struct {
	c    *testChain
	from uint64
}

func (r headersFrom) Header(hash types.Hash) (*types.Header, bool) {
	h, ok := r.c.byHash[hash]
	if !ok || h.Height < r.from {
		return nil, false
	}
	return h, true
}

// noHeaders is a HeaderReader that knows nothing.
type noHeaders struct{}

func (noHeaders) Header(types.Hash) (*types.Header, bool) { return nil, false }

// chainLength crosses two checkpoint intervals.
const chainLength = 3000

func (c *testChain) checkAt(t *testing.T, s *Snapshots, height uint64, r HeaderReader) {
	t.Helper()
	hash := c.poa.GenesisHash()
	if height > 0 {
		hash = c.headers[height-1].Hash()
	}
	got, err := s.At(height, hash, r)
	if err != nil {
		t.Fatalf("At(%d): %v", height, err)
	}
	if !sameSnapshot(got, c.snaps[height]) {
		t.Fatalf("At(%d) differs from the fold from genesis", height)
	}
}

func TestSnapshotsAt(t *testing.T) {
	c := votingChain(t, chainLength)
	heights := []uint64{chainLength, 0, 1, 1023, 1024, 1025, 2048, chainLength - 1}
	r := rand.New(rand.NewPCG(5, 5))
	for range 20 {
		heights = append(heights, r.Uint64N(chainLength+1))
	}
	for _, tc := range []struct {
		name string
		ds   datastore.Datastore
	}{{"no datastore", nil}, {"datastore", dssync.MutexWrap(datastore.NewMapDatastore())}} {
		t.Run(tc.name, func(t *testing.T) {
			s := NewSnapshots(context.Background(), c.poa, tc.ds)
			for _, h := range heights {
				c.checkAt(t, s, h, c)
			}
			// Cached now: no headers needed.
			c.checkAt(t, s, chainLength, noHeaders{})
			if tc.ds == nil {
				return
			}
			// Checkpoints were stored at 1024 and 2048 only.
			ctx := context.Background()
			for h := uint64(1000); h <= chainLength; h++ {
				has, err := tc.ds.Has(ctx, snapshotKey(c.headers[h-1].Hash()))
				if err != nil || has != (h%CheckpointInterval == 0) {
					t.Fatalf("checkpoint at %d: %v %v", h, has, err)
				}
			}
			// A fresh cache reloads from the checkpoints: with headers only
			// above 2048, and with none at all for 2048 itself.
			fresh := NewSnapshots(context.Background(), c.poa, tc.ds)
			c.checkAt(t, fresh, chainLength, headersFrom{c, 2049})
			c.checkAt(t, NewSnapshots(context.Background(), c.poa, tc.ds), 2048, noHeaders{})
			c.checkAt(t, NewSnapshots(context.Background(), c.poa, tc.ds), 1500, headersFrom{c, 1025})
			// Without the checkpoint the same reader is not enough.
			if _, err := NewSnapshots(context.Background(), c.poa, nil).At(chainLength, c.headers[chainLength-1].Hash(), headersFrom{c, 2049}); !errors.Is(err, ErrUnknownAncestor) {
				t.Fatalf("no datastore, partial headers: %v", err)
			}
		})
	}
}

func TestSnapshotsConcurrent(t *testing.T) {
	c := votingChain(t, 1200)
	s := NewSnapshots(context.Background(), c.poa, dssync.MutexWrap(datastore.NewMapDatastore()))
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 0))
			for range 20 {
				h := r.Uint64N(1201)
				hash := c.poa.GenesisHash()
				if h > 0 {
					hash = c.headers[h-1].Hash()
				}
				got, err := s.At(h, hash, c)
				if err != nil || !sameSnapshot(got, c.snaps[h]) {
					errs <- errors.Join(errors.New("wrong snapshot"), err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// endless is a HeaderReader of an unbounded chain of headers whose hashes
// encode their heights.
type endless struct{}

func endlessHash(height uint64) types.Hash {
	var h types.Hash
	binary.BigEndian.PutUint64(h[:], height+1)
	return h
}

func (endless) Header(hash types.Hash) (*types.Header, bool) {
	height := binary.BigEndian.Uint64(hash[:]) - 1
	return &types.Header{Height: height, Parent: endlessHash(height - 1)}, true
}

func TestSnapshotsAtErrors(t *testing.T) {
	c := newTestChain(t, 4, 3, 100)
	c.grow(t, 10, rand.New(rand.NewPCG(1, 1)), 0, noProposals)
	ds := dssync.MutexWrap(datastore.NewMapDatastore())
	s := NewSnapshots(context.Background(), c.poa, ds)
	hash := c.headers[9].Hash()

	if _, err := s.At(0, types.Hash{1}, c); !errors.Is(err, ErrUnknownAncestor) {
		t.Fatalf("wrong genesis: %v", err)
	}
	if _, err := s.At(10, hash, headersFrom{c, 5}); !errors.Is(err, ErrUnknownAncestor) {
		t.Fatalf("missing header: %v", err)
	}
	if _, err := s.At(11, hash, c); !errors.Is(err, ErrInvalidVotingChain) {
		t.Fatalf("wrong height: %v", err)
	}
	if _, err := s.At(200_000, endlessHash(200_000), endless{}); !errors.Is(err, ErrUnknownAncestor) {
		t.Fatalf("endless walk: %v", err)
	}
	// Headers that break the voting rules.
	bad := *c.headers[4]
	bad.Proposer = poaKey(t, 3).Public()
	forged := &testChain{byHash: map[types.Hash]*types.Header{bad.Hash(): &bad}}
	for _, h := range c.headers[:4] {
		forged.byHash[h.Hash()] = h
	}
	if _, err := s.At(5, bad.Hash(), forged); !errors.Is(err, ErrUnauthorizedSigner) {
		t.Fatalf("unauthorized header: %v", err)
	}
	// A corrupt checkpoint is an error, not silently skipped.
	long := votingChain(t, CheckpointInterval)
	cp := long.headers[CheckpointInterval-1].Hash()
	ds2 := dssync.MutexWrap(datastore.NewMapDatastore())
	if err := ds2.Put(context.Background(), snapshotKey(cp), []byte{0x80}); err != nil {
		t.Fatal(err)
	}
	if _, err := NewSnapshots(context.Background(), long.poa, ds2).At(CheckpointInterval, cp, long); !errors.Is(err, types.ErrUndecodable) {
		t.Fatalf("corrupt checkpoint: %v", err)
	}
	// So is a checkpoint of another block.
	if err := ds2.Put(context.Background(), snapshotKey(cp), long.snaps[5].Encode()); err != nil {
		t.Fatal(err)
	}
	if _, err := NewSnapshots(context.Background(), long.poa, ds2).At(CheckpointInterval, cp, long); !errors.Is(err, types.ErrUndecodable) {
		t.Fatalf("misplaced checkpoint: %v", err)
	}
}

type ctxKey struct{}

// ctxPutDS counts the writes that carried the ctxKey value.
type ctxPutDS struct {
	datastore.Batching
	puts, tagged int
}

func (d *ctxPutDS) Put(ctx context.Context, k datastore.Key, v []byte) error {
	d.puts++
	if ctx.Value(ctxKey{}) != nil {
		d.tagged++
	}
	return d.Batching.Put(ctx, k, v)
}

// TestSnapshotsContext: checkpoints are written with the context the
// cache was built with, not a Background of their own.
func TestSnapshotsContext(t *testing.T) {
	c := votingChain(t, CheckpointInterval+1)
	d := &ctxPutDS{Batching: dssync.MutexWrap(datastore.NewMapDatastore())}
	s := NewSnapshots(context.WithValue(context.Background(), ctxKey{}, 1), c.poa, d)
	if _, err := s.At(CheckpointInterval, c.headers[CheckpointInterval-1].Hash(), c); err != nil {
		t.Fatal(err)
	}
	if d.puts == 0 || d.tagged != d.puts {
		t.Fatalf("%d of %d checkpoint writes carried the cache's context", d.tagged, d.puts)
	}
}
