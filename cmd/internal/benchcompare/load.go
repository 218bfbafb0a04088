package benchcompare

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// minTxBytes is the smallest transaction size the driver makes: room for
// a unique key, "=" and a value.
const minTxBytes = 32

// kvTx returns CometBFT's transaction number seq of a run: a kvstore
// key=value pair of exactly size bytes, unique by its key.
func kvTx(run int, seq uint64, size int) ([]byte, error) {
	key := "bench" + strconv.Itoa(run) + "-" + strconv.FormatUint(seq, 10) + "="
	if size < minTxBytes || len(key)+1 > size {
		return nil, fmt.Errorf("transaction size %d too small for key %q", size, key)
	}
	tx := make([]byte, size)
	copy(tx, key)
	for i := len(key); i < size; i++ {
		tx[i] = 'v'
	}
	return tx, nil
}

// tracker records when each transaction was sent and when it committed.
type tracker struct {
	mu        sync.Mutex
	sent      map[[32]byte]time.Time
	latencies []time.Duration
	last      time.Time
}

func newTracker() *tracker { return &tracker{sent: map[[32]byte]time.Time{}} }

func (t *tracker) add(h [32]byte, at time.Time) {
	t.mu.Lock()
	t.sent[h] = at
	t.mu.Unlock()
}

func (t *tracker) forget(h [32]byte) {
	t.mu.Lock()
	delete(t.sent, h)
	t.mu.Unlock()
}

// committed records a block's transactions seen committed at at; those
// not sent by this run are ignored.
func (t *tracker) committed(txs [][]byte, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, tx := range txs {
		h := sha256.Sum256(tx)
		if t0, ok := t.sent[h]; ok {
			t.latencies = append(t.latencies, at.Sub(t0))
			delete(t.sent, h)
			t.last = at
		}
	}
}

func (t *tracker) pending() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.sent)
}

// loadConfig is one CometBFT load run.
type loadConfig struct {
	RPC      []string // validators' RPC URLs; transactions go round-robin
	Rate     float64
	Duration time.Duration
	Slot     time.Duration
	TxBytes  int
	Conns    int // HTTP connections (and senders) per validator
	Batch    int // at most this many transactions per HTTP request (a JSON-RPC batch)
	Run      int // makes keys unique across runs
}

// runLoad offers cfg.Rate transactions per second for cfg.Duration and
// watches node 0's blocks until what was accepted commits or the drain
// time (ten slots plus five seconds, as sixd devnet) passes.
func runLoad(ctx context.Context, cfg loadConfig, startHeight int64) (Result, error) {
	if len(cfg.RPC) == 0 || cfg.Conns < 1 || cfg.Batch < 1 || cfg.Rate <= 0 {
		return Result{}, errors.New("load: no validators, connections, batch or rate")
	}
	c := newRPCClient(len(cfg.RPC), cfg.Conns+1)
	defer c.close()
	tr := newTracker()
	var refused, failed, sent, requests atomic.Int64
	var errMu sync.Mutex
	var errEx, refusedEx string

	if _, err := kvTx(cfg.Run, uint64(cfg.Rate*cfg.Duration.Seconds())+1, cfg.TxBytes); err != nil {
		return Result{}, err
	}
	// The watcher polls node 0 for each next block.
	watchCtx, stopWatch := context.WithCancel(ctx)
	var watchErr error
	var blocks int64
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		h := startHeight + 1
		var failingSince time.Time
		for watchCtx.Err() == nil {
			// The block was committed before this request reached node 0:
			// its start is the commit time, up to the 5 ms between polls.
			asked := time.Now()
			txs, err := c.block(watchCtx, cfg.RPC[0], h)
			switch {
			case err == nil:
				tr.committed(txs, asked)
				h++
				blocks++
				failingSince = time.Time{}
				continue
			case errors.Is(err, ErrNoBlockYet):
				failingSince = time.Time{}
			case watchCtx.Err() != nil:
				return
			case failingSince.IsZero():
				failingSince = time.Now() // a loaded node may fail a request; try again
			case time.Since(failingSince) > 10*time.Second:
				watchErr = err
				return
			}
			select {
			case <-watchCtx.Done():
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()

	note := func(err error) {
		errMu.Lock()
		defer errMu.Unlock()
		if errors.Is(err, ErrMempoolFull) {
			refused.Add(1)
			if refusedEx == "" {
				refusedEx = err.Error()
			}
			return
		}
		failed.Add(1)
		if errEx == "" {
			errEx = err.Error()
		}
	}

	// Senders: cfg.Conns per validator, each taking transactions from its
	// validator's queue. The pacer fills the queues round-robin.
	loadCtx, stopLoad := context.WithTimeout(ctx, cfg.Duration)
	defer stopLoad()
	type job struct {
		tx []byte
		h  [32]byte
		id uint64
	}
	queues := make([]chan job, len(cfg.RPC))
	var senders sync.WaitGroup
	for i := range cfg.RPC {
		queues[i] = make(chan job, 4096)
		for range cfg.Conns {
			senders.Add(1)
			go func(url string, q <-chan job) {
				defer senders.Done()
				batch := make([]job, 0, cfg.Batch)
				txs := make([][]byte, 0, cfg.Batch)
				for {
					batch, txs = batch[:0], txs[:0]
					select {
					case <-loadCtx.Done():
						return
					case j := <-q:
						batch = append(batch, j)
					}
					// What queued up while the last request was out goes in
					// this one, up to cfg.Batch.
				more:
					for len(batch) < cfg.Batch {
						select {
						case j := <-q:
							batch = append(batch, j)
						default:
							break more
						}
					}
					now := time.Now()
					for _, j := range batch {
						tr.add(j.h, now)
						txs = append(txs, j.tx)
					}
					// The request outlives the load's end (ctx, not loadCtx):
					// a transaction is not cut off half sent.
					errs, err := c.broadcast(ctx, url, txs, batch[0].id)
					sent.Add(int64(len(batch)))
					requests.Add(1)
					for k, j := range batch {
						e := err // the whole request failed
						if e == nil {
							e = errs[k]
						}
						if e != nil {
							tr.forget(j.h)
							note(e)
						}
					}
				}
			}(cfg.RPC[i], queues[i])
		}
	}

	start := time.Now()
	var made uint64
	var paceErr error
	var backlog int64
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
pace:
	for {
		select {
		case <-loadCtx.Done():
			break pace
		case <-tick.C:
		}
		due := uint64(cfg.Rate * time.Since(start).Seconds())
		for ; made < due; made++ {
			tx, err := kvTx(cfg.Run, made, cfg.TxBytes)
			if err != nil {
				paceErr = err
				stopLoad()
				break pace
			}
			j := job{tx: tx, h: sha256.Sum256(tx), id: made}
			select {
			case queues[made%uint64(len(queues))] <- j:
			default:
				// The senders cannot keep up: the transaction is not offered.
				backlog++
			}
		}
	}
	senders.Wait()
	loadEnd := time.Now()
	for _, q := range queues {
		backlog += int64(len(q)) // queued, never sent
	}

	drain := time.Now().Add(10*cfg.Slot + 5*time.Second)
wait:
	for tr.pending() > 0 && time.Now().Before(drain) && ctx.Err() == nil {
		select {
		case <-watchDone: // the watcher failed
			break wait
		case <-time.After(20 * time.Millisecond):
		}
	}
	stopWatch()
	<-watchDone
	if paceErr != nil {
		return Result{}, paceErr
	}
	if watchErr != nil {
		return Result{}, fmt.Errorf("watching blocks: %w", watchErr)
	}
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}

	tr.mu.Lock()
	defer tr.mu.Unlock()
	r := summarize(tr.latencies, start, tr.last)
	r.Offered = cfg.Rate
	r.Sent = int(sent.Load())
	r.NotSent = int(backlog)
	r.Refused = int(refused.Load())
	r.Errors = int(failed.Load())
	r.Uncommitted = len(tr.sent)
	r.Blocks = blocks
	r.Requests = int(requests.Load())
	r.DurationSec = loadEnd.Sub(start).Seconds()
	r.RefusedExample, r.ErrorExample = refusedEx, errEx
	return r, nil
}
