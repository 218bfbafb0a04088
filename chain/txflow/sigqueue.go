package txflow

import (
	"context"
	"errors"
	"sync"

	"github.com/sixdomain/sixdomain/ledger/types"
)

// ErrSigQueueClosed: the queue was closed.
var ErrSigQueueClosed = errors.New("signature queue closed")

// SigQueue verifies the signatures of transactions that arrive one at a
// time (API submissions, single gossiped transactions) together: its
// goroutine takes the first waiting transaction and everything queued
// behind it (up to MaxBatch) and verifies them in one batch. A lone
// transaction is verified at once, so an idle node adds no delay; under
// load the callers' transactions share batches. Close stops it.
type SigQueue struct {
	verify   func([]*types.Tx) []error
	in       chan sigReq
	maxBatch int
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
}

type sigReq struct {
	tx  *types.Tx
	out chan error
}

// NewSigQueue starts a queue that verifies with verify (one error per
// transaction, or nil when all are valid: types.VerifyTxs with the node's
// cache) at most maxBatch at a time.
func NewSigQueue(verify func([]*types.Tx) []error, maxBatch int) *SigQueue {
	ctx, cancel := context.WithCancel(context.Background())
	q := &SigQueue{verify: verify, in: make(chan sigReq, 4*maxBatch), maxBatch: max(1, maxBatch), ctx: ctx, cancel: cancel}
	q.wg.Add(1)
	go q.run()
	return q
}

// Verify verifies tx's signature and returns its verdict, or ctx's error
// if ctx ends first.
func (q *SigQueue) Verify(ctx context.Context, tx *types.Tx) error {
	r := sigReq{tx: tx, out: make(chan error, 1)}
	select {
	case q.in <- r:
	case <-ctx.Done():
		return ctx.Err()
	case <-q.ctx.Done():
		return ErrSigQueueClosed
	}
	select {
	case err := <-r.out:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-q.ctx.Done():
		return ErrSigQueueClosed
	}
}

// Close stops the queue's goroutine.
func (q *SigQueue) Close() {
	q.cancel()
	q.wg.Wait()
}

func (q *SigQueue) run() {
	defer q.wg.Done()
	reqs := make([]sigReq, 0, q.maxBatch)
	txs := make([]*types.Tx, 0, q.maxBatch)
	for {
		reqs, txs = reqs[:0], txs[:0]
		select {
		case <-q.ctx.Done():
			return
		case r := <-q.in:
			reqs = append(reqs, r)
		}
	drain:
		for len(reqs) < q.maxBatch {
			select {
			case r := <-q.in:
				reqs = append(reqs, r)
			default:
				break drain
			}
		}
		for _, r := range reqs {
			txs = append(txs, r.tx)
		}
		errs := q.verify(txs)
		for i, r := range reqs {
			var err error
			if errs != nil {
				err = errs[i]
			}
			r.out <- err
		}
	}
}
