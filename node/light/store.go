package light

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/cockroachdb/pebble/v2"
	"github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"
	dssync "github.com/ipfs/go-datastore/sync"
	pebbleds "github.com/ipfs/go-ds-pebble"

	"github.com/sixdomain/sixdomain/ledger/types"
)

// The light node's store keys (one go-datastore, pebble without fsync):
//
//	/trust            the trust (JSON of consensus.Trust)
//	/head             the latest verified final header
//	/gap              [low, high]: the heights whose headers are still to fetch
//	/h/<height>       a header (8-byte big-endian height)
//	/q/<seq>          a queued signed transaction (the in-memory node's queue;
//	                  with a data directory the queue is node/outbox's file)
//	/r/<nonce>        the receipt of a recorded reading
var (
	keyTrust = datastore.NewKey("/trust")
	keyHead  = datastore.NewKey("/head")
	keyGap   = datastore.NewKey("/gap")
)

func heightKey(prefix string, h uint64) datastore.Key {
	return datastore.NewKey(fmt.Sprintf("%s/%016x", prefix, h))
}

// OpenStore opens (creating if need be) the light node's pebble store in
// dir, without fsync: what a power loss takes is fetched again from a
// gateway, except readings queued in the last moments before it. The
// caches are small (a light node idles in a few megabytes).
func OpenStore(dir string) (datastore.Batching, error) {
	opts := &pebble.Options{MemTableSize: 1 << 20, MaxOpenFiles: 64}
	d, err := pebbleds.NewDatastore(dir, pebbleds.WithPebbleOpts(opts), pebbleds.WithCacheSize(1<<20),
		pebbleds.WithPebbleWriteOptions(pebble.NoSync))
	if err != nil {
		return nil, fmt.Errorf("light: opening %s: %w", dir, err)
	}
	return d, nil
}

// NewMemoryStore returns an in-memory store (tests).
func NewMemoryStore() datastore.Batching { return dssync.MutexWrap(datastore.NewMapDatastore()) }

// Queue is the store-and-forward queue of signed transactions not yet
// proven final: appended in nonce order, read and removed from the head.
type Queue interface {
	Append(ctx context.Context, item []byte) error
	// Peek returns up to n items from the head, oldest first.
	Peek(ctx context.Context, n int) ([][]byte, error)
	// Remove drops the n oldest items.
	Remove(ctx context.Context, n int) error
	Len() int
}

// ErrQueueFull: the queue holds its limit of items.
var ErrQueueFull = errors.New("light: queue full")

// dsQueue is a Queue in the light node's datastore under /q.
type dsQueue struct {
	mu         sync.Mutex
	d          datastore.Batching
	head, tail uint64 // items are head..tail-1
	max        int
}

// NewDatastoreQueue opens the queue kept in d under /q, holding at most
// max items.
func NewDatastoreQueue(ctx context.Context, d datastore.Batching, max int) (Queue, error) {
	q := &dsQueue{d: d, max: max}
	res, err := d.Query(ctx, query.Query{Prefix: "/q", KeysOnly: true, Orders: []query.Order{query.OrderByKey{}}})
	if err != nil {
		return nil, fmt.Errorf("light: queue: %w", err)
	}
	defer res.Close()
	first := true
	for r := range res.Next() {
		if r.Error != nil {
			return nil, fmt.Errorf("light: queue: %w", r.Error)
		}
		var seq uint64
		if _, err := fmt.Sscanf(datastore.NewKey(r.Key).BaseNamespace(), "%016x", &seq); err != nil {
			return nil, fmt.Errorf("light: queue: bad key %s", r.Key)
		}
		if first {
			q.head, first = seq, false
		}
		q.tail = seq + 1
	}
	return q, nil
}

func (q *dsQueue) Append(ctx context.Context, item []byte) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if int(q.tail-q.head) >= q.max {
		return fmt.Errorf("%w: %d items", ErrQueueFull, q.max)
	}
	if err := q.d.Put(ctx, heightKey("/q", q.tail), item); err != nil {
		return fmt.Errorf("light: queue: %w", err)
	}
	q.tail++
	return nil
}

func (q *dsQueue) Peek(ctx context.Context, n int) ([][]byte, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out [][]byte
	for s := q.head; s < q.tail && len(out) < n; s++ {
		v, err := q.d.Get(ctx, heightKey("/q", s))
		if err != nil {
			return nil, fmt.Errorf("light: queue item %d: %w", s, err)
		}
		out = append(out, v)
	}
	return out, nil
}

func (q *dsQueue) Remove(ctx context.Context, n int) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	b, err := q.d.Batch(ctx)
	if err != nil {
		return err
	}
	k := 0
	for ; k < n && q.head+uint64(k) < q.tail; k++ {
		if err := b.Delete(ctx, heightKey("/q", q.head+uint64(k))); err != nil {
			return err
		}
	}
	if err := b.Commit(ctx); err != nil {
		return fmt.Errorf("light: queue: %w", err)
	}
	q.head += uint64(k)
	return nil
}

func (q *dsQueue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return int(q.tail - q.head)
}

// last returns the newest item (nil if none).
func (q *dsQueue) last(ctx context.Context) ([]byte, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.tail == q.head {
		return nil, nil
	}
	return q.d.Get(ctx, heightKey("/q", q.tail-1))
}

// Receipt is what the light node keeps of a reading it proved final.
type Receipt struct {
	_         struct{}   `cbor:",toarray"`
	Hash      types.Hash `json:"hash"`
	Nonce     uint64     `json:"nonce"`
	Timestamp int64      `json:"timestamp_ms"`  // the device's time of the reading
	Height    uint64     `json:"height"`        // the final block that holds it
	BlockTime int64      `json:"block_time_ms"` // the inclusion time: that block's time
	// Replaced, if not zero, is the hash of a reading the chain refused for
	// good; this receipt is of the filler record that took its nonce.
	Replaced types.Hash `json:"replaced,omitempty"`
}

// gap is a range of heights whose headers are still to be fetched; the
// header at High+1 is held (or High+1 is the head).
type gap struct {
	_    struct{} `cbor:",toarray"`
	Low  uint64
	High uint64
}

func getOpt(ctx context.Context, d datastore.Datastore, k datastore.Key) ([]byte, error) {
	v, err := d.Get(ctx, k)
	if errors.Is(err, datastore.ErrNotFound) {
		return nil, nil
	}
	return v, err
}
