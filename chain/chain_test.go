package chain_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/ipfs/go-datastore"

	"github.com/sixdomain/sixdomain/chain"
	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger"
	"github.com/sixdomain/sixdomain/ledger/types"
	"github.com/sixdomain/sixdomain/mempool"
)

var errCrashed = errors.New("crashed")

// crashingDS stops after its first n writes (a Put, a Delete or a batch
// commit each count one), as a process killed there would: every later
// write fails and leaves nothing behind.
type crashingDS struct {
	datastore.Batching
	left atomic.Int64
}

func (d *crashingDS) write() bool { return d.left.Add(-1) >= 0 }

func (d *crashingDS) Put(ctx context.Context, k datastore.Key, v []byte) error {
	if !d.write() {
		return errCrashed
	}
	return d.Batching.Put(ctx, k, v)
}

func (d *crashingDS) Delete(ctx context.Context, k datastore.Key) error {
	if !d.write() {
		return errCrashed
	}
	return d.Batching.Delete(ctx, k)
}

func (d *crashingDS) Sync(ctx context.Context, k datastore.Key) error {
	if d.left.Load() < 0 {
		return errCrashed
	}
	return d.Batching.Sync(ctx, k)
}

func (d *crashingDS) Batch(ctx context.Context) (datastore.Batch, error) {
	b, err := d.Batching.Batch(ctx)
	if err != nil {
		return nil, err
	}
	return crashingBatch{b, d}, nil
}

type crashingBatch struct {
	datastore.Batch
	d *crashingDS
}

func (b crashingBatch) Commit(ctx context.Context) error {
	if !b.d.write() {
		return errCrashed
	}
	return b.Batch.Commit(ctx)
}

type node struct {
	store *ledger.Store
	chain *chain.Chain
	sp    *ledger.Spaces
}

func open(t *testing.T, d datastore.Batching, g *types.Genesis, key *identity.PrivateKey, now func() time.Time) (*node, error) {
	t.Helper()
	ctx := context.Background()
	sp, err := ledger.Split(ctx, d)
	if err != nil {
		return nil, err
	}
	st, err := ledger.Open(ctx, sp.Ledger, g)
	if err != nil {
		return nil, err
	}
	c, err := chain.New(ctx, chain.Config{Genesis: g, Key: key, Store: st, Datastore: sp.Chain, Snapshots: sp.Consensus,
		Pool: mempool.New(mempool.Config{}), Sigs: types.NewSigCache(1024), Now: now})
	if err != nil {
		return nil, err
	}
	return &node{st, c, sp}, nil
}

// storedTD reads the chain's total difficulty record from the root
// datastore and sums the difficulties of the stored blocks.
func storedTD(t *testing.T, d datastore.Datastore, st *ledger.Store) (record, sum uint64) {
	t.Helper()
	ctx := context.Background()
	raw, err := d.Get(ctx, datastore.NewKey("/chain/tip-td"))
	switch {
	case errors.Is(err, datastore.ErrNotFound):
	case err != nil:
		t.Fatal(err)
	default:
		if err := cbor.Unmarshal(raw, &record); err != nil {
			t.Fatal(err)
		}
	}
	for h := uint64(1); h <= st.State().Height; h++ {
		hd, err := st.Header(ctx, h)
		if err != nil {
			t.Fatal(err)
		}
		sum += uint64(hd.Difficulty)
	}
	return record, sum
}

// TestCrashKeepsHeadAndTD runs a one-authority chain over a datastore that
// crashes after its n-th write, for every n over the first blocks, then
// reopens the datastore: the store's head and the chain's total difficulty
// record must agree (they are written in one batch), no block the chain
// reported committed may be missing, and the reopened chain goes on from
// there.
func TestCrashKeepsHeadAndTD(t *testing.T) {
	key, err := identity.Generate(nil)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.UnixMilli(1_750_000_000_000).UTC()
	g := types.NewGenesis("sixdomain-crash", t0, key.Public())
	const blocks = 6
	for n := int64(1); n <= 4*blocks; n++ {
		mem := ledger.NewMemory()
		d := &crashingDS{Batching: mem}
		d.left.Store(n)
		now := t0
		clock := func() time.Time { return now }
		nd, err := open(t, d, g, key, clock)
		if err != nil {
			t.Fatalf("n=%d: %v", n, err)
		}
		var reported uint64
		for i := 0; i < 4*blocks && d.left.Load() >= 0; i++ {
			now = nd.chain.NextWake()
			nd.chain.Tick()
			for _, c := range nd.chain.TakeEvents().Committed {
				reported = c.Block.Header.Height
			}
		}
		// Reopen what survived the crash.
		re, err := open(t, mem, g, key, clock)
		if err != nil {
			t.Fatalf("n=%d: reopening: %v", n, err)
		}
		head := re.store.State().Height
		if head < reported {
			t.Fatalf("n=%d: block %d reported committed, the store holds %d", n, reported, head)
		}
		if record, sum := storedTD(t, mem, re.store); record != sum {
			t.Fatalf("n=%d: head %d has total difficulty %d, the record says %d", n, head, sum, record)
		}
		if f := re.chain.Finalized(); f.Height != head {
			t.Fatalf("n=%d: reopened chain finalized at %d, store head %d", n, f.Height, head)
		}
		for i := 0; i < 8; i++ {
			now = re.chain.NextWake()
			re.chain.Tick()
		}
		if re.store.State().Height <= head {
			t.Fatalf("n=%d: the reopened chain did not go on from %d", n, head)
		}
		if record, sum := storedTD(t, mem, re.store); record != sum {
			t.Fatalf("n=%d: after reopening, total difficulty %d, the record says %d", n, sum, record)
		}
	}
}

// TestNewRefusesForeignDatastore: a chain whose datastore cannot join the
// store's commit batch is refused at once rather than failing at every
// finalization.
func TestNewRefusesForeignDatastore(t *testing.T) {
	key, err := identity.Generate(nil)
	if err != nil {
		t.Fatal(err)
	}
	g := types.NewGenesis("sixdomain-crash", time.UnixMilli(1_750_000_000_000), key.Public())
	st, err := ledger.Open(context.Background(), ledger.NewMemory(), g)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := chain.New(context.Background(), chain.Config{Genesis: g, Key: key, Store: st, Datastore: ledger.NewMemory(),
		Pool: mempool.New(mempool.Config{}), Sigs: types.NewSigCache(16)}); err == nil {
		t.Fatal("chain.New accepted a datastore outside the store's")
	}
}

type ctxKey struct{}

// ctxBatchDS counts the batches (block commits, votes) and how many were
// opened with the ctxKey value.
type ctxBatchDS struct {
	datastore.Batching
	batches, tagged atomic.Int64
}

func (d *ctxBatchDS) Batch(ctx context.Context) (datastore.Batch, error) {
	d.batches.Add(1)
	if ctx.Value(ctxKey{}) != nil {
		d.tagged.Add(1)
	}
	return d.Batching.Batch(ctx)
}

// TestChainContext: the store writes inside the chain's synchronous steps
// use the context New was given (its values), not Background, and go on
// once that context is cancelled.
func TestChainContext(t *testing.T) {
	key, err := identity.Generate(nil)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.UnixMilli(1_750_000_000_000).UTC()
	g := types.NewGenesis("sixdomain-ctx", t0, key.Public())
	d := &ctxBatchDS{Batching: ledger.NewMemory()}
	ctx, cancel := context.WithCancel(context.WithValue(context.Background(), ctxKey{}, 1))
	sp, err := ledger.Split(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	st, err := ledger.Open(ctx, sp.Ledger, g)
	if err != nil {
		t.Fatal(err)
	}
	now := t0
	c, err := chain.New(ctx, chain.Config{Genesis: g, Key: key, Store: st, Datastore: sp.Chain, Snapshots: sp.Consensus,
		Pool: mempool.New(mempool.Config{}), Sigs: types.NewSigCache(64), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	d.batches.Store(0)
	d.tagged.Store(0)
	for range 6 {
		now = c.NextWake()
		c.Tick()
	}
	if st.State().Height == 0 {
		t.Fatal("nothing finalized after New's context was cancelled")
	}
	if b, tg := d.batches.Load(), d.tagged.Load(); b == 0 || tg != b {
		t.Fatalf("%d of %d batches carried the chain's context", tg, b)
	}
}
