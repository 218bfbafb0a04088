package txflow

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sixdomain/sixdomain/clock"
	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger/types"
)

func txs(t *testing.T, n int, value int) []*types.Tx {
	t.Helper()
	k, err := identity.Generate(bytes.NewReader(bytes.Repeat([]byte{3}, 64)))
	if err != nil {
		t.Fatal(err)
	}
	out := make([]*types.Tx, n)
	for i := range out {
		tx, err := types.NewDataRecordTx("flow", uint64(i+1), 1_700_000_000_000, types.DataRecord{Stream: "s", Value: bytes.Repeat([]byte{'x'}, value)})
		if err != nil {
			t.Fatal(err)
		}
		tx.Sign(k)
		out[i] = tx
	}
	return out
}

type sink struct {
	mu  sync.Mutex
	got []Flush
}

func (s *sink) out(f Flush) { s.mu.Lock(); s.got = append(s.got, f); s.mu.Unlock() }
func (s *sink) wait(t *testing.T, n int) []Flush {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.mu.Lock()
		k := len(s.got)
		cp := append([]Flush(nil), s.got...)
		s.mu.Unlock()
		if k >= n {
			return cp
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited for %d batches, have %d", n, k)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestBatcherFlushes: a transaction after an idle spell leaves at once; a
// full batch leaves at once; a partial one leaves after MaxAge; every
// batch decodes to the transactions added, in order.
func TestBatcherFlushes(t *testing.T) {
	s := &sink{}
	b, err := NewBatcher("flow", BatchConfig{MaxTxs: 4, MaxAge: 300 * time.Millisecond}, clock.Real(), s.out)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	all := txs(t, 6, 10)
	if err := b.Add(all[0].Encode()); err != nil {
		t.Fatal(err)
	}
	got := s.wait(t, 1)
	if got[0].Reason != "idle" || got[0].Txs != 1 {
		t.Fatalf("first flush %q with %d txs", got[0].Reason, got[0].Txs)
	}
	// Right after a flush the batcher is not idle: four fill a batch.
	for _, tx := range all[1:5] {
		if err := b.Add(tx.Encode()); err != nil {
			t.Fatal(err)
		}
	}
	got = s.wait(t, 2)
	if got[1].Reason != "full" || got[1].Txs != 4 {
		t.Fatalf("second flush %q with %d txs", got[1].Reason, got[1].Txs)
	}
	if err := b.Add(all[5].Encode()); err != nil {
		t.Fatal(err)
	}
	got = s.wait(t, 3)
	if got[2].Reason != "age" || got[2].Txs != 1 {
		t.Fatalf("third flush %q with %d txs", got[2].Reason, got[2].Txs)
	}
	var seen []types.Hash
	for _, f := range got {
		_, dec, err := types.DecodeTxBatch("flow", f.Data)
		if err != nil {
			t.Fatal(err)
		}
		for _, tx := range dec {
			seen = append(seen, tx.Hash())
		}
	}
	for i, tx := range all {
		if seen[i] != tx.Hash() {
			t.Fatalf("transaction %d out of order or lost", i)
		}
	}
}

// TestBatcherBytes: batches never exceed MaxBytes, whatever the sizes.
func TestBatcherBytes(t *testing.T) {
	s := &sink{}
	max := types.MaxTxBytes + types.BatchOverhead(1)
	b, err := NewBatcher("flow", BatchConfig{MaxTxs: 1024, MaxBytes: max, MaxAge: 200 * time.Millisecond}, clock.Real(), s.out)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	big := txs(t, 12, 9000) // about 9 KB each: four fit
	for _, tx := range big {
		if err := b.Add(tx.Encode()); err != nil {
			t.Fatal(err)
		}
	}
	total := 0
	for total < len(big) {
		got := s.wait(t, 1)
		total = 0
		for _, f := range got {
			if len(f.Data) > max {
				t.Fatalf("batch of %d bytes exceeds %d", len(f.Data), max)
			}
			total += f.Txs
		}
	}
	if total != len(big) {
		t.Fatalf("%d of %d transactions batched", total, len(big))
	}
}

func TestBatcherConfigAndClose(t *testing.T) {
	for _, c := range []BatchConfig{{MaxTxs: types.MaxBatchTxs + 1}, {MaxBytes: types.MaxBatchBytes + 1}, {MaxBytes: 100}, {MaxAge: 2 * time.Second}, {Queue: -1}} {
		if err := c.Validate(); err == nil {
			t.Fatalf("%+v accepted", c)
		}
	}
	s := &sink{}
	b, err := NewBatcher("flow", BatchConfig{Queue: 1, MaxAge: time.Second}, clock.Real(), s.out)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Add(make([]byte, types.MaxTxBytes+1)); !errors.Is(err, types.ErrOversize) {
		t.Fatalf("oversize: %v", err)
	}
	b.Close()
	if err := b.Add([]byte{1}); !errors.Is(err, ErrBatcherClosed) {
		t.Fatalf("after close: %v", err)
	}
}

type mapPool map[types.Hash]*types.Tx

func (m mapPool) Tx(h types.Hash) (*types.Tx, bool) { tx, ok := m[h]; return tx, ok }

// fakePeers answers pulls from per-peer maps; a peer without a map fails.
type fakePeers struct {
	mu    sync.Mutex
	have  map[string]map[types.Hash]*types.Tx
	slow  map[string]bool
	asked []string
}

func (f *fakePeers) Fetch(ctx context.Context, p string, hs []types.Hash) ([]*types.Tx, error) {
	f.mu.Lock()
	f.asked = append(f.asked, p)
	have, slow := f.have[p], f.slow[p]
	f.mu.Unlock()
	if slow {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if have == nil {
		return nil, fmt.Errorf("peer %s does not answer", p)
	}
	out := make([]*types.Tx, len(hs))
	for i, h := range hs {
		out[i] = have[h]
	}
	return out, nil
}

func compact(t *testing.T, all []*types.Tx) *types.CompactBlock {
	enc := make([][]byte, len(all))
	for i, tx := range all {
		enc[i] = tx.Encode()
	}
	b := &types.Block{Header: types.Header{Version: types.BlockVersion, ChainID: "flow", Height: 1, Time: 1, Difficulty: 2,
		TxCount: uint32(len(all)), TxRoot: types.TxRoot(enc)}, Txs: all, Seal: make([]byte, 64)}
	return b.Compact()
}

// TestAssemble: a compact block is rebuilt from the pool and, for what is
// missing, from peers in order: one that fails or stalls is passed over,
// a partial answer is completed by the next, an answer with the wrong
// transaction for a hash counts for nothing.
func TestAssemble(t *testing.T) {
	all := txs(t, 6, 5)
	cb := compact(t, all)
	pool := mapPool{all[0].Hash(): all[0], all[1].Hash(): all[1]}
	wrong := txs(t, 1, 99)[0]
	peers := &fakePeers{
		have: map[string]map[types.Hash]*types.Tx{
			"partial": {all[2].Hash(): all[2], all[3].Hash(): wrong},
			"rest":    {all[3].Hash(): all[3], all[4].Hash(): all[4], all[5].Hash(): all[5]},
		},
		slow: map[string]bool{"slow": true},
	}
	a := &Assembler{Pool: pool, Fetch: peers, PerPeer: 100 * time.Millisecond, MaxPeers: 5}
	b, st, err := a.Assemble(context.Background(), cb, []string{"down", "slow", "partial", "partial", "rest", "never"})
	if err != nil {
		t.Fatal(err)
	}
	if b.Hash() != cb.Hash() || len(b.Txs) != 6 {
		t.Fatal("rebuilt block differs")
	}
	if st.Missing != 4 || st.Pulled != 4 || st.Asked != 4 || st.Failed != 2 {
		t.Fatalf("stats %+v", st)
	}
	if len(peers.asked) != 4 || peers.asked[3] != "rest" {
		t.Fatalf("asked %v", peers.asked)
	}
	// Nobody has them.
	_, st, err = (&Assembler{Pool: mapPool{}, Fetch: peers, PerPeer: 50 * time.Millisecond, MaxPeers: 2}).
		Assemble(context.Background(), cb, []string{"down", "slow", "rest"})
	if !errors.Is(err, ErrMissingTxs) || st.Asked != 2 {
		t.Fatalf("err %v, stats %+v", err, st)
	}
	// Everything in the pool: no peer is asked.
	full := mapPool{}
	for _, tx := range all {
		full[tx.Hash()] = tx
	}
	peers.asked = nil
	if _, st, err = (&Assembler{Pool: full, Fetch: peers}).Assemble(context.Background(), cb, []string{"rest"}); err != nil || st.Asked != 0 {
		t.Fatalf("from the pool: %v, %+v", err, st)
	}
	// The same body with another signature gives another root.
	other := *all[5]
	other.Signature = append([]byte(nil), other.Signature...)
	other.Signature[63] ^= 0x40
	full[all[5].Hash()] = &other
	if _, _, err := (&Assembler{Pool: full, Fetch: peers}).Assemble(context.Background(), cb, nil); !errors.Is(err, types.ErrBadBlock) {
		t.Fatalf("other signature: %v", err)
	}
}

// TestSigQueue: concurrent callers' transactions are verified together
// and each caller gets the verdicts of its own, in order.
func TestSigQueue(t *testing.T) {
	var mu sync.Mutex
	var sizes []int
	q := NewSigQueue(func(txs []*types.Tx) []error {
		mu.Lock()
		sizes = append(sizes, len(txs))
		mu.Unlock()
		return types.VerifyTxs(txs, nil)
	}, 64)
	defer q.Close()
	all := txs(t, 40, 5)
	bad := *all[7]
	bad.Signature = append([]byte(nil), bad.Signature...)
	bad.Signature[0] ^= 1
	all[7] = &bad
	var wg sync.WaitGroup
	results := make([][]error, 8)
	for c := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs, err := q.VerifyMany(context.Background(), all[c*5:c*5+5])
			if err != nil {
				t.Error(err)
			}
			results[c] = errs
		}()
	}
	wg.Wait()
	for c, errs := range results {
		for i, err := range errs {
			if want := c*5+i == 7; (err != nil) != want {
				t.Fatalf("caller %d tx %d: err %v", c, i, err)
			}
		}
	}
	if err := q.Verify(context.Background(), all[0]); err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, s := range sizes {
		total += s
	}
	if total != 41 {
		t.Fatalf("verified %d transactions in %d batches, want 41", total, len(sizes))
	}
	q.Close()
	if err := q.Verify(context.Background(), all[0]); !errors.Is(err, ErrSigQueueClosed) {
		t.Fatalf("after close: %v", err)
	}
}

// TestSigQueuePending: Pending counts the transactions waiting for a
// verdict, so that a node can refuse new ones while it lags.
func TestSigQueuePending(t *testing.T) {
	release := make(chan struct{})
	q := NewSigQueue(func(txs []*types.Tx) []error {
		<-release
		return nil
	}, 4)
	defer q.Close()
	all := txs(t, 3, 5)
	done := make(chan error, 3)
	for _, tx := range all {
		go func() { done <- q.Verify(context.Background(), tx) }()
	}
	deadline := time.Now().Add(10 * time.Second)
	for q.Pending() != 3 {
		if time.Now().After(deadline) {
			t.Fatalf("pending %d, want 3", q.Pending())
		}
		time.Sleep(time.Millisecond)
	}
	close(release)
	for range all {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if p := q.Pending(); p != 0 {
		t.Fatalf("pending %d after the verdicts", p)
	}
}
