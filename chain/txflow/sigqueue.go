package txflow

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/sixdomain/sixdomain/ledger/types"
)

// ErrSigQueueClosed: the queue was closed.
var ErrSigQueueClosed = errors.New("signature queue closed")

// SigQueue verifies the signatures of transactions that arrive one at a
// time (API submissions, single gossiped transactions) or in small
// gossiped batches together: its goroutine takes the first waiting
// request and every request queued behind it (until maxBatch
// transactions) and verifies them in one batch (batch Ed25519 costs less
// per signature the larger the batch). A lone
// transaction is verified at once, so an idle node adds no delay; under
// load the callers' transactions share batches. Close stops it.
type SigQueue struct {
	verify   func([]*types.Tx) []error
	in       chan sigReq
	maxBatch int
	pending  atomic.Int64 // transactions queued and not yet verified
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
}

type sigReq struct {
	txs []*types.Tx
	out chan []error
}

// NewSigQueue starts a queue that verifies with verify (one error per
// transaction, or nil when all are valid: types.VerifyTxs with the node's
// cache) at most maxBatch at a time.
func NewSigQueue(verify func([]*types.Tx) []error, maxBatch int) *SigQueue {
	ctx, cancel := context.WithCancel(context.Background())
	q := &SigQueue{verify: verify, in: make(chan sigReq, 1024), maxBatch: max(1, maxBatch), ctx: ctx, cancel: cancel}
	q.wg.Add(1)
	go q.run()
	return q
}

// Verify verifies tx's signature and returns its verdict, or ctx's error
// if ctx ends first.
func (q *SigQueue) Verify(ctx context.Context, tx *types.Tx) error {
	errs, err := q.VerifyMany(ctx, []*types.Tx{tx})
	if err != nil {
		return err
	}
	return errs[0]
}

// VerifyMany verifies the signatures of txs (a gossiped batch) together
// with what other callers queued meanwhile, and returns one verdict per
// transaction (nil: valid), or ctx's error if ctx ends first.
func (q *SigQueue) VerifyMany(ctx context.Context, txs []*types.Tx) ([]error, error) {
	r := sigReq{txs: txs, out: make(chan []error, 1)}
	q.pending.Add(int64(len(txs)))
	select {
	case q.in <- r:
	case <-ctx.Done():
		q.pending.Add(-int64(len(txs)))
		return nil, ctx.Err()
	case <-q.ctx.Done():
		return nil, ErrSigQueueClosed
	}
	select {
	case errs := <-r.out:
		return errs, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-q.ctx.Done():
		return nil, ErrSigQueueClosed
	}
}

// Pending returns how many transactions wait for their verdict: the
// node's measure of how far its signature checks lag behind what
// arrives.
func (q *SigQueue) Pending() int { return int(q.pending.Load()) }

// Close stops the queue's goroutine.
func (q *SigQueue) Close() {
	q.cancel()
	q.wg.Wait()
}

func (q *SigQueue) run() {
	defer q.wg.Done()
	var reqs []sigReq
	var txs []*types.Tx
	for {
		reqs, txs = reqs[:0], txs[:0]
		select {
		case <-q.ctx.Done():
			return
		case r := <-q.in:
			reqs = append(reqs, r)
			txs = append(txs, r.txs...)
		}
	drain:
		for len(txs) < q.maxBatch {
			select {
			case r := <-q.in:
				reqs = append(reqs, r)
				txs = append(txs, r.txs...)
			default:
				break drain
			}
		}
		errs := q.verify(txs)
		q.pending.Add(-int64(len(txs)))
		for _, r := range reqs {
			out := make([]error, len(r.txs))
			if errs != nil {
				copy(out, errs[:len(r.txs)])
				errs = errs[len(r.txs):]
			}
			r.out <- out
		}
	}
}
