package mempool

import (
	"errors"
	"testing"
	"time"

	"github.com/sixdomain/sixdomain/ledger/types"
)

func TestConfigValidateAndHighWater(t *testing.T) {
	for _, c := range []Config{{HighWaterPercent: -1}, {HighWaterPercent: 101}, {MaxTxs: -1}, {DropRecord: -5}} {
		if err := c.Validate(); err == nil {
			t.Errorf("Validate(%+v) = nil", c)
		}
	}
	for _, c := range []Config{{}, {HighWaterPercent: 1}, {HighWaterPercent: 100}} {
		if err := c.Validate(); err != nil {
			t.Errorf("Validate(%+v) = %v", c, err)
		}
	}
	if txs, bytes := (Config{MaxTxs: 10, MaxBytes: 1000}).HighWater(); txs != 8 || bytes != 800 {
		t.Errorf("HighWater of 10 txs, 1000 bytes at the default = %d, %d; want 8, 800", txs, bytes)
	}
	if txs, bytes := (Config{MaxTxs: 10, MaxBytes: 1000, HighWaterPercent: 100}).HighWater(); txs != 10 || bytes != 1000 {
		t.Errorf("HighWater at 100 %% = %d, %d; want the hard cap", txs, bytes)
	}
	if txs, _ := (Config{MaxTxs: 1, HighWaterPercent: 1}).HighWater(); txs != 1 {
		t.Errorf("HighWater of a one-transaction pool = %d, want 1", txs)
	}
}

// TestAdmitHighWater: above the mark Admit refuses newcomers with ErrBusy
// (before the hard cap), Add still takes them up to the cap, and the pool
// leaves busy once it drains.
func TestAdmitHighWater(t *testing.T) {
	p := New(Config{MaxTxs: 10, HighWaterPercent: 50})
	for i := range 5 {
		tx, size := newTx(t, newKey(t), 1, t0, "")
		if err := p.Admit(tx, size, 0); err != nil {
			t.Fatalf("Admit %d below the mark: %v", i, err)
		}
	}
	if !p.Busy() {
		t.Fatal("5 of 10 at a 50 % mark: not busy")
	}
	late := newKey(t)
	tx, size := newTx(t, late, 1, t0, "")
	err := p.Admit(tx, size, 0)
	if !errors.Is(err, ErrBusy) || errors.Is(err, ErrFull) {
		t.Fatalf("Admit above the mark = %v, want ErrBusy", err)
	}
	if p.Has(tx.Hash()) || p.Len() != 5 {
		t.Fatalf("a refused transaction is pending (len %d)", p.Len())
	}
	// Add (a reorg's) ignores the mark but not the cap.
	for i := range 5 {
		tx, size := newTx(t, newKey(t), 1, t0, "")
		if err := p.Add(tx, size, 0); err != nil {
			t.Fatalf("Add %d above the mark: %v", i, err)
		}
	}
	tx2, size2 := newTx(t, newKey(t), 1, t0, "")
	if err := p.Add(tx2, size2, 0); !errors.Is(err, ErrFull) {
		t.Fatalf("Add at the cap = %v, want ErrFull", err)
	}
	if err := p.Admit(tx2, size2, 0); !errors.Is(err, ErrBusy) {
		t.Fatalf("Admit at the cap = %v, want ErrBusy (the mark is checked first)", err)
	}
	// Draining below the mark lets newcomers in again.
	p.Expire(t0.Add(time.Hour), types.TimeWindow{Past: time.Minute, Future: time.Minute})
	if p.Len() != 0 || p.Busy() {
		t.Fatalf("after expiry: len %d, busy %v", p.Len(), p.Busy())
	}
	if err := p.Admit(tx, size, 0); err != nil {
		t.Fatalf("Admit after draining: %v", err)
	}
	checkInvariants(t, p)
}

// TestAdmitHighWaterBytes: the mark applies to bytes as well.
func TestAdmitHighWaterBytes(t *testing.T) {
	_, size := newTx(t, newKey(t), 1, t0, "")
	p := New(Config{MaxTxs: 1000, MaxBytes: 10 * size, HighWaterPercent: 30}) // 3 transactions' bytes
	for range 3 {
		tx, sz := newTx(t, newKey(t), 1, t0, "")
		if err := p.Admit(tx, sz, 0); err != nil {
			t.Fatal(err)
		}
	}
	tx, sz := newTx(t, newKey(t), 1, t0, "")
	if err := p.Admit(tx, sz, 0); !errors.Is(err, ErrBusy) {
		t.Fatalf("Admit over the byte mark = %v, want ErrBusy", err)
	}
}

// TestAdmitHighWaterFillsGap: above the mark, the transaction that fills a
// sender's first nonce gap is still taken (so that the later ones it holds
// back can be sealed); the next nonce of a contiguous run, a second gap
// and a new sender are not.
func TestAdmitHighWaterFillsGap(t *testing.T) {
	p := New(Config{MaxTxs: 10, HighWaterPercent: 40}) // busy at 4
	k := newKey(t)
	for _, n := range []uint64{1, 2, 4, 6} {
		tx, size := newTx(t, k, n, t0, "")
		if err := p.Admit(tx, size, 0); err != nil {
			t.Fatalf("Admit nonce %d: %v", n, err)
		}
	}
	if !p.Busy() {
		t.Fatal("not busy at the mark")
	}
	try := func(n uint64, committed uint64) error {
		tx, size := newTx(t, k, n, t0, "x")
		return p.Admit(tx, size, committed)
	}
	if err := try(5, 0); !errors.Is(err, ErrBusy) {
		t.Errorf("nonce 5 (a second gap, behind 3) = %v, want ErrBusy", err)
	}
	if err := try(7, 0); !errors.Is(err, ErrBusy) {
		t.Errorf("nonce 7 (after the last) = %v, want ErrBusy", err)
	}
	if err := try(3, 0); err != nil {
		t.Errorf("nonce 3 (fills the first gap) = %v, want taken", err)
	}
	if err := try(5, 0); err != nil {
		t.Errorf("nonce 5 (now the first gap) = %v, want taken", err)
	}
	if err := try(7, 0); !errors.Is(err, ErrBusy) {
		t.Errorf("nonce 7 (contiguous run, no gap) = %v, want ErrBusy", err)
	}
	other := newKey(t)
	tx, size := newTx(t, other, 1, t0, "")
	if err := p.Admit(tx, size, 0); !errors.Is(err, ErrBusy) {
		t.Errorf("new sender = %v, want ErrBusy", err)
	}
	if got := p.PendingNonce(k.Public(), 0); got != 6 {
		t.Errorf("PendingNonce = %d, want 6 (the gaps filled)", got)
	}
	checkInvariants(t, p)
}

// TestDropped: a pending transaction that expires, or whose nonce the
// chain commits, is remembered with the reason; one taken back (a reorg)
// or forgotten is not; the record is bounded, least recent out first.
func TestDropped(t *testing.T) {
	p := New(Config{DropRecord: 3})
	k := newKey(t)
	old, size := newTx(t, k, 1, t0, "old")
	mustAdd(t, p, old, size, 0)
	other := newKey(t)
	taken := addNew(t, p, other, 1, 0)
	if _, ok := p.Dropped(old.Hash()); ok {
		t.Fatal("a pending transaction is recorded as dropped")
	}
	p.Expire(t0.Add(time.Hour), types.TimeWindow{Past: time.Minute, Future: time.Minute})
	if r, ok := p.Dropped(old.Hash()); !ok || r != DropExpired {
		t.Fatalf("expired: Dropped = %q, %v", r, ok)
	}
	if r, ok := p.Dropped(taken.Hash()); !ok || r != DropExpired {
		t.Fatalf("expired: Dropped = %q, %v", r, ok)
	}
	// Nonce taken: another transaction of the sender with nonce 1 commits.
	k2 := newKey(t)
	mine := addNew(t, p, k2, 1, 0)
	p.Committed(k2.Public(), 1)
	if r, ok := p.Dropped(mine.Hash()); !ok || r != DropNonceTaken {
		t.Fatalf("nonce taken: Dropped = %q, %v", r, ok)
	}
	// Taken back after a reorg: forgotten.
	p.Rewind(k2.Public(), 0)
	mustAdd(t, p, mine, 0, 0)
	if _, ok := p.Dropped(mine.Hash()); ok {
		t.Fatal("a transaction taken back is still recorded as dropped")
	}
	// Bounded: a fourth record pushes out the oldest (old).
	k3 := newKey(t)
	a := addNew(t, p, k3, 1, 0)
	b := addNew(t, p, k3, 2, 0)
	p.Committed(k3.Public(), 2)
	if _, ok := p.Dropped(old.Hash()); ok {
		t.Error("the record grew past its bound")
	}
	for _, h := range []types.Hash{taken.Hash(), a.Hash(), b.Hash()} {
		if _, ok := p.Dropped(h); !ok {
			t.Errorf("record of %s lost", h)
		}
	}
	p.Forget(a.Hash(), b.Hash())
	if _, ok := p.Dropped(a.Hash()); ok {
		t.Error("Forget kept the record")
	}
	if _, ok := p.Dropped(taken.Hash()); !ok {
		t.Error("Forget dropped another record")
	}
	checkInvariants(t, p)
}
