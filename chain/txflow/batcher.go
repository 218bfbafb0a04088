package txflow

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/sixdomain/sixdomain/clock"
	"github.com/sixdomain/sixdomain/ledger/types"
)

// ErrBatcherFull: the batcher's input queue is full; the transaction is
// not lost (it is in the mempool) but waits for the node's rebroadcast.
var ErrBatcherFull = errors.New("batcher queue full")

// ErrBatcherClosed: the batcher was closed.
var ErrBatcherClosed = errors.New("batcher closed")

// BatchConfig bounds the batches a Batcher forms.
type BatchConfig struct {
	// MaxTxs is the most transactions in a batch (at most
	// types.MaxBatchTxs). Default 512.
	MaxTxs int
	// MaxBytes is the most bytes in a batch's encoding (at most
	// types.MaxBatchBytes). Default types.MaxBatchBytes.
	MaxBytes int
	// MaxAge is how long the first transaction of a batch waits for
	// others before the batch leaves. Default 20 ms. A transaction that
	// arrives after the batcher was idle for MaxAge leaves at once.
	MaxAge time.Duration
	// Queue is the input queue's length. Default 16384.
	Queue int
}

// Validate reports whether the configuration, with defaults for its zero
// fields, is within bounds.
func (c BatchConfig) Validate() error {
	_, err := c.withDefaults()
	return err
}

func (c BatchConfig) withDefaults() (BatchConfig, error) {
	if c.MaxTxs == 0 {
		c.MaxTxs = 512
	}
	if c.MaxBytes == 0 {
		c.MaxBytes = types.MaxBatchBytes
	}
	if c.MaxAge == 0 {
		c.MaxAge = 20 * time.Millisecond
	}
	if c.Queue == 0 {
		c.Queue = 16384
	}
	switch {
	case c.MaxTxs < 1 || c.MaxTxs > types.MaxBatchTxs:
		return c, fmt.Errorf("txflow: batch count %d out of 1..%d", c.MaxTxs, types.MaxBatchTxs)
	case c.MaxBytes < types.MaxTxBytes+types.BatchOverhead(1) || c.MaxBytes > types.MaxBatchBytes:
		return c, fmt.Errorf("txflow: batch bytes %d out of %d..%d", c.MaxBytes, types.MaxTxBytes+types.BatchOverhead(1), types.MaxBatchBytes)
	case c.MaxAge < 0 || c.MaxAge > time.Second:
		return c, fmt.Errorf("txflow: batch age %s out of 0..1s", c.MaxAge)
	case c.Queue < 1:
		return c, fmt.Errorf("txflow: batch queue %d below 1", c.Queue)
	}
	return c, nil
}

// Flush describes one batch that left: its encoding, how many
// transactions it holds, and why it left ("full", "age" or "idle").
type Flush struct {
	Data   []byte
	Txs    int
	Reason string
}

// Batcher forms batches of encoded transactions and hands each to its
// output function, from its own goroutine, which Close stops.
type Batcher struct {
	cfg     BatchConfig
	chainID string
	clk     clock.Clock
	out     func(Flush)
	in      chan []byte

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// NewBatcher starts a batcher for chainID whose batches go to out. out is
// called from the batcher's goroutine, one batch at a time.
func NewBatcher(chainID string, cfg BatchConfig, clk clock.Clock, out func(Flush)) (*Batcher, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if clk == nil || out == nil {
		return nil, errors.New("txflow: batcher needs a clock and an output")
	}
	ctx, cancel := context.WithCancel(context.Background())
	b := &Batcher{cfg: cfg, chainID: chainID, clk: clk, out: out, in: make(chan []byte, cfg.Queue), ctx: ctx, cancel: cancel}
	b.wg.Add(1)
	go b.run()
	return b, nil
}

// Add queues one transaction's encoding. It never blocks: a full queue
// answers ErrBatcherFull.
func (b *Batcher) Add(tx []byte) error {
	if b.ctx.Err() != nil {
		return ErrBatcherClosed
	}
	if len(tx) > types.MaxTxBytes {
		return fmt.Errorf("%w: transaction of %d bytes", types.ErrOversize, len(tx))
	}
	select {
	case b.in <- tx:
		return nil
	default:
		return ErrBatcherFull
	}
}

// Queued returns how many transactions wait in the input queue.
func (b *Batcher) Queued() int { return len(b.in) }

// Close stops the batcher's goroutine; transactions still queued are
// dropped (they remain in the mempool).
func (b *Batcher) Close() {
	b.cancel()
	b.wg.Wait()
}

func (b *Batcher) run() {
	defer b.wg.Done()
	timer := b.clk.NewTimer(time.Hour)
	timer.Stop()
	var (
		pending   [][]byte
		bytes     int
		armed     bool
		lastFlush time.Time
	)
	flush := func(reason string) {
		if len(pending) == 0 {
			return
		}
		data := (&types.TxBatch{ChainID: b.chainID, Txs: pending}).Encode()
		b.out(Flush{Data: data, Txs: len(pending), Reason: reason})
		pending, bytes = nil, 0
		if armed {
			timer.Stop()
			armed = false
		}
		lastFlush = b.clk.Now()
	}
	add := func(tx []byte) {
		if len(pending) > 0 && (len(pending) >= b.cfg.MaxTxs ||
			types.BatchOverhead(len(pending)+1)+bytes+len(tx) > b.cfg.MaxBytes) {
			flush("full")
		}
		pending = append(pending, tx)
		bytes += len(tx)
		if len(pending) >= b.cfg.MaxTxs {
			flush("full")
		}
	}
	for {
		select {
		case <-b.ctx.Done():
			return
		case tx := <-b.in:
			idle := len(pending) == 0 && b.clk.Now().Sub(lastFlush) >= b.cfg.MaxAge
			add(tx)
			// Take what else is queued already.
		drain:
			for range b.cfg.MaxTxs {
				select {
				case tx := <-b.in:
					add(tx)
				default:
					break drain
				}
			}
			switch {
			case idle:
				flush("idle")
			case len(pending) > 0 && !armed:
				timer.Reset(b.cfg.MaxAge)
				armed = true
			}
		case <-timer.C():
			armed = false
			flush("age")
		}
	}
}
