package mempool

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger/types"
)

const chainID = "test-chain"

// t0 is the timestamp of test transactions unless a test says otherwise.
var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func newKey(t testing.TB) *identity.PrivateKey {
	t.Helper()
	k, err := identity.Generate(nil)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// newTx returns a signed data-record transaction and its encoded size.
// value varies the payload so that equal nonces give different hashes.
func newTx(t testing.TB, key *identity.PrivateKey, nonce uint64, ts time.Time, value string) (*types.Tx, int) {
	t.Helper()
	tx, err := types.NewDataRecordTx(chainID, nonce, ts.UnixMilli(),
		types.DataRecord{Stream: "temperature/room1", ContentType: "text/plain", Value: []byte(value)})
	if err != nil {
		t.Fatal(err)
	}
	tx.Sign(key)
	return tx, len(tx.Encode())
}

// addNew makes and adds a transaction of key with the given nonce.
func addNew(t testing.TB, p *Pool, key *identity.PrivateKey, nonce uint64, committed uint64) *types.Tx {
	t.Helper()
	tx, size := newTx(t, key, nonce, t0, "")
	mustAdd(t, p, tx, size, committed)
	return tx
}

func mustAdd(t testing.TB, p *Pool, tx *types.Tx, size int, committed uint64) {
	t.Helper()
	if err := p.Add(tx, size, committed); err != nil {
		t.Fatalf("Add(nonce %d): %v", tx.Nonce, err)
	}
}

// checkInvariants verifies that the pool's indexes agree with each other.
func checkInvariants(t testing.TB, p *Pool) {
	t.Helper()
	p.mu.RLock()
	defer p.mu.RUnlock()
	n, bytes := 0, 0
	for key, a := range p.senders {
		if a.key != key {
			t.Errorf("account filed under %x has key %x", key[:4], a.key[:4])
		}
		if len(a.txs) == 0 {
			t.Errorf("empty account %x kept", key[:4])
		}
		listed := 0
		var prevSeq uint64
		for e := a.head; e != nil; e = e.next {
			listed++
			if e.seq <= prevSeq {
				t.Errorf("arrival list out of order")
			}
			prevSeq = e.seq
			if e.next == nil && a.tail != e {
				t.Errorf("tail is not the last entry")
			}
		}
		if listed != len(a.txs) {
			t.Errorf("arrival list has %d entries, nonce map %d", listed, len(a.txs))
		}
		for nonce, e := range a.txs {
			if e.tx.Nonce != nonce || e.acct != a || e.tx.Sender != key {
				t.Errorf("entry for nonce %d misfiled", nonce)
			}
			if nonce <= a.known {
				t.Errorf("pending nonce %d not above committed %d", nonce, a.known)
			}
			if p.byHash[e.hash] != e {
				t.Errorf("entry for nonce %d missing from hash index", nonce)
			}
			if p.byTime[e.class][e.heapIdx] != e {
				t.Errorf("entry for nonce %d misplaced in time heap", nonce)
			}
			n++
			bytes += e.size
		}
	}
	if n != len(p.byHash) || n != len(p.byTime[0])+len(p.byTime[1]) {
		t.Errorf("accounts hold %d, hash index %d, time heaps %d+%d", n, len(p.byHash), len(p.byTime[0]), len(p.byTime[1]))
	}
	if bytes != p.bytes {
		t.Errorf("entries sum to %d bytes, pool counts %d", bytes, p.bytes)
	}
}

func TestDefaults(t *testing.T) {
	p := New(Config{})
	want := Config{MaxTxs: 50000, MaxBytes: 64 << 20, MaxPerSender: 1000, MaxNonceAhead: 1000, HighWaterPercent: 80, DropRecord: 100_000}
	if p.cfg != want {
		t.Errorf("defaults %+v, want %+v", p.cfg, want)
	}
	p = New(Config{MaxTxs: 7, MaxBytes: -1, MaxPerSender: 3, MaxNonceAhead: 9})
	want = Config{MaxTxs: 7, MaxBytes: 64 << 20, MaxPerSender: 3, MaxNonceAhead: 9, HighWaterPercent: 80, DropRecord: 1000}
	if p.cfg != want {
		t.Errorf("config %+v, want %+v", p.cfg, want)
	}
	if got := New(Config{MaxTxs: 10_000}).cfg.DropRecord; got != 20_000 {
		t.Errorf("drop record of a 10,000-transaction pool: %d, want 20000", got)
	}
}

func TestAddGetHas(t *testing.T) {
	p := New(Config{})
	k := newKey(t)
	tx, size := newTx(t, k, 1, t0, "a")
	other, _ := newTx(t, k, 2, t0, "b")
	if p.Has(tx.Hash()) || p.Len() != 0 || p.Bytes() != 0 {
		t.Fatal("new pool is not empty")
	}
	if _, ok := p.Get(tx.Hash()); ok {
		t.Fatal("Get on empty pool")
	}
	mustAdd(t, p, tx, size, 0)
	if !p.Has(tx.Hash()) {
		t.Error("Has = false after Add")
	}
	if got, ok := p.Get(tx.Hash()); !ok || got != tx {
		t.Errorf("Get = %p, %v; want %p, true", got, ok, tx)
	}
	if p.Has(other.Hash()) {
		t.Error("Has(other) = true")
	}
	if p.Len() != 1 || p.Bytes() != size {
		t.Errorf("Len, Bytes = %d, %d; want 1, %d", p.Len(), p.Bytes(), size)
	}
	// A non-positive size makes the pool measure the transaction itself.
	mustAdd(t, p, other, 0, 0)
	if want := size + len(other.Encode()); p.Bytes() != want {
		t.Errorf("Bytes = %d, want %d", p.Bytes(), want)
	}
	if err := p.Add(nil, 10, 0); err == nil {
		t.Error("Add(nil) succeeded")
	}
	checkInvariants(t, p)
}

func TestAddErrors(t *testing.T) {
	k := newKey(t)
	tx := func(nonce uint64, value string) (*types.Tx, int) { return newTx(t, k, nonce, t0, value) }
	_, size := tx(1, "")

	tests := []struct {
		name      string
		cfg       Config
		setup     func(t *testing.T, p *Pool) // transactions added first
		nonce     uint64
		value     string
		committed uint64
		want      error
	}{
		{name: "accepted", nonce: 1},
		{name: "accepted ahead with gap", nonce: 5, committed: 2},
		{name: "duplicate", nonce: 1,
			setup: func(t *testing.T, p *Pool) { addNew(t, p, k, 1, 0) }, want: ErrDuplicate},
		{name: "replayed nonce equal", nonce: 3, committed: 3, want: types.ErrReplayedNonce},
		{name: "replayed nonce below", nonce: 2, committed: 3, want: types.ErrReplayedNonce},
		{name: "zero nonce", nonce: 0, want: types.ErrReplayedNonce},
		{name: "replayed against committed told earlier", nonce: 4, committed: 0,
			setup: func(t *testing.T, p *Pool) {
				addNew(t, p, k, 6, 0)
				p.Committed(k.Public(), 4)
			}, want: types.ErrReplayedNonce},
		{name: "nonce at limit", cfg: Config{MaxNonceAhead: 10}, nonce: 15, committed: 5},
		{name: "nonce too far", cfg: Config{MaxNonceAhead: 10}, nonce: 16, committed: 5, want: ErrNonceTooFar},
		{name: "nonce too far default", nonce: 1002, committed: 1, want: ErrNonceTooFar},
		{name: "nonce too far near max", nonce: math.MaxUint64, committed: 0, want: ErrNonceTooFar},
		{name: "conflict", nonce: 1, value: "other",
			setup: func(t *testing.T, p *Pool) { addNew(t, p, k, 1, 0) }, want: ErrNonceConflict},
		{name: "sender full", cfg: Config{MaxPerSender: 2}, nonce: 3,
			setup: func(t *testing.T, p *Pool) {
				addNew(t, p, k, 1, 0)
				addNew(t, p, k, 2, 0)
			}, want: ErrSenderFull},
		{name: "sender full frees up when committed", cfg: Config{MaxPerSender: 2}, nonce: 3, committed: 1,
			setup: func(t *testing.T, p *Pool) {
				addNew(t, p, k, 1, 0)
				addNew(t, p, k, 2, 0)
			}},
		{name: "full by count", cfg: Config{MaxTxs: 2}, nonce: 1,
			setup: func(t *testing.T, p *Pool) {
				addNew(t, p, newKey(t), 1, 0)
				addNew(t, p, newKey(t), 1, 0)
			}, want: ErrFull},
		{name: "full by bytes", cfg: Config{MaxBytes: 2*size - 1}, nonce: 1,
			setup: func(t *testing.T, p *Pool) { addNew(t, p, newKey(t), 1, 0) }, want: ErrFull},
		{name: "bytes exactly at limit", cfg: Config{MaxBytes: 2 * size}, nonce: 1,
			setup: func(t *testing.T, p *Pool) { addNew(t, p, newKey(t), 1, 0) }},
		{name: "larger than the whole pool", cfg: Config{MaxBytes: size - 1}, nonce: 1, want: ErrFull},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := New(tt.cfg)
			if tt.setup != nil {
				tt.setup(t, p)
			}
			n, b := p.Len(), p.Bytes()
			x, sz := tx(tt.nonce, tt.value)
			err := p.Add(x, sz, tt.committed)
			switch {
			case tt.want == nil && err != nil:
				t.Fatalf("Add: %v", err)
			case tt.want != nil && !errors.Is(err, tt.want):
				t.Fatalf("Add = %v, want %v", err, tt.want)
			case tt.want != nil:
				t.Logf("Add: %v", err)
				if !errors.Is(err, ErrDuplicate) && p.Has(x.Hash()) {
					t.Error("refused transaction is pending")
				}
				if p.Len() > n || p.Bytes() > b {
					t.Errorf("refused Add grew the pool: %d, %d -> %d, %d", n, b, p.Len(), p.Bytes())
				}
			default:
				if !p.Has(x.Hash()) {
					t.Error("accepted transaction is not pending")
				}
			}
			checkInvariants(t, p)
		})
	}
}

func TestConflictFirstWins(t *testing.T) {
	p := New(Config{})
	k := newKey(t)
	a, sa := newTx(t, k, 1, t0, "first")
	b, sb := newTx(t, k, 1, t0, "second")
	mustAdd(t, p, a, sa, 0)
	if err := p.Add(b, sb, 0); !errors.Is(err, ErrNonceConflict) {
		t.Fatalf("Add(second) = %v, want ErrNonceConflict", err)
	}
	if !p.Has(a.Hash()) || p.Has(b.Hash()) || p.Len() != 1 {
		t.Error("the first transaction did not win")
	}
}

func TestPendingNonce(t *testing.T) {
	k := newKey(t)
	tests := []struct {
		name      string
		nonces    []uint64 // pending, added with committed 0
		committed uint64
		want      uint64
	}{
		{"no transactions", nil, 0, 0},
		{"no transactions, committed", nil, 7, 7},
		{"contiguous", []uint64{1, 2, 3}, 0, 3},
		{"out of order arrival", []uint64{3, 1, 2}, 0, 3},
		{"gap", []uint64{1, 2, 4, 5}, 0, 2},
		{"gap at start", []uint64{2, 3}, 0, 0},
		{"from committed", []uint64{4, 5, 7}, 3, 5},
		{"committed past the run", []uint64{1, 2, 4, 5}, 3, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := New(Config{})
			for _, n := range tt.nonces {
				addNew(t, p, k, n, 0)
			}
			if got := p.PendingNonce(k.Public(), tt.committed); got != tt.want {
				t.Errorf("PendingNonce = %d, want %d", got, tt.want)
			}
		})
	}

	// A committed nonce the pool was told of beats a stale argument.
	p := New(Config{})
	for n := uint64(1); n <= 5; n++ {
		addNew(t, p, k, n, 0)
	}
	p.Committed(k.Public(), 2)
	if got := p.PendingNonce(k.Public(), 0); got != 5 {
		t.Errorf("PendingNonce after Committed(2) with stale 0 = %d, want 5", got)
	}
	if got := p.PendingNonce(newKey(t).Public(), 9); got != 9 {
		t.Errorf("PendingNonce of unknown sender = %d, want 9", got)
	}
}

// fixture is a pool with named senders whose transactions are recorded by
// (sender, nonce), so that tests can spell expected selections.
type fixture struct {
	t      *testing.T
	p      *Pool
	keys   map[string]*identity.PrivateKey
	names  map[identity.PublicKey]string
	commit map[identity.PublicKey]uint64
	sizes  map[types.Hash]int
}

func newFixture(t *testing.T, cfg Config, senders ...string) *fixture {
	f := &fixture{t: t, p: New(cfg), keys: map[string]*identity.PrivateKey{},
		names: map[identity.PublicKey]string{}, commit: map[identity.PublicKey]uint64{}, sizes: map[types.Hash]int{}}
	for _, s := range senders {
		k := newKey(t)
		f.keys[s] = k
		f.names[k.Public()] = s
	}
	return f
}

// add adds "A1 B1 A2 ..." in order: sender name then nonce.
func (f *fixture) add(spec ...string) {
	f.t.Helper()
	for _, s := range spec {
		var name string
		var nonce uint64
		if _, err := fmt.Sscanf(s, "%1s%d", &name, &nonce); err != nil {
			f.t.Fatalf("bad spec %q: %v", s, err)
		}
		k := f.keys[name]
		tx, size := newTx(f.t, k, nonce, t0, "")
		mustAdd(f.t, f.p, tx, size, f.commit[k.Public()])
		f.sizes[tx.Hash()] = size
	}
}

func (f *fixture) committed(k identity.PublicKey) uint64 { return f.commit[k] }

func (f *fixture) selectSpec(max, maxBytes int) []string {
	var out []string
	for _, tx := range f.p.Select(max, maxBytes, f.committed) {
		out = append(out, fmt.Sprintf("%s%d", f.names[tx.Sender], tx.Nonce))
	}
	return out
}

func TestSelect(t *testing.T) {
	const big = 1 << 30
	tests := []struct {
		name      string
		adds      []string
		committed map[string]uint64 // in place before the adds
		later     map[string]uint64 // passed to Select only
		max       int
		want      []string
	}{
		{name: "empty", max: 10},
		{name: "single sender in nonce order", adds: []string{"A3", "A1", "A2"}, max: 10, want: []string{"A1", "A2", "A3"}},
		{name: "gap stops the run", adds: []string{"A1", "A2", "A4", "A5"}, max: 10, want: []string{"A1", "A2"}},
		{name: "gap at start excludes sender", adds: []string{"A2", "A3", "B1"}, max: 10, want: []string{"B1"}},
		{name: "run starts after committed", adds: []string{"A4", "A5", "A7"}, committed: map[string]uint64{"A": 3},
			max: 10, want: []string{"A4", "A5"}},
		{name: "committed from Select's callback", adds: []string{"A1", "A2", "A3", "A4"}, later: map[string]uint64{"A": 2},
			max: 10, want: []string{"A3", "A4"}},
		{name: "round robin", adds: []string{"A1", "A2", "A3", "A4", "B1", "B2", "C1"}, max: 10,
			want: []string{"A1", "B1", "C1", "A2", "B2", "A3", "A4"}},
		{name: "senders by oldest arrival", adds: []string{"C1", "B1", "A1", "A2", "B2", "C2"}, max: 10,
			want: []string{"C1", "B1", "A1", "C2", "B2", "A2"}},
		{name: "oldest arrival counts even if it is a later nonce", adds: []string{"A2", "B1", "A1"}, max: 10,
			want: []string{"A1", "B1", "A2"}},
		{name: "max", adds: []string{"A1", "A2", "A3", "B1", "B2", "C1"}, max: 4, want: []string{"A1", "B1", "C1", "A2"}},
		{name: "max one", adds: []string{"A1", "B1"}, max: 1, want: []string{"A1"}},
		{name: "max zero", adds: []string{"A1"}, max: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, Config{}, "A", "B", "C")
			for name, n := range tt.committed {
				f.commit[f.keys[name].Public()] = n
			}
			f.add(tt.adds...)
			for name, n := range tt.later {
				f.commit[f.keys[name].Public()] = n
			}
			got := f.selectSpec(tt.max, big)
			if !slices.Equal(got, tt.want) {
				t.Errorf("Select = %v, want %v", got, tt.want)
			}
			if p := f.p; p.Len() != len(tt.adds) {
				t.Errorf("Select removed transactions: Len = %d, want %d", p.Len(), len(tt.adds))
			}
		})
	}
}

func TestSelectOrderAfterCommit(t *testing.T) {
	// A's oldest pending transaction goes, so B, whose oldest is now older
	// than A's, comes first.
	f := newFixture(t, Config{}, "A", "B")
	f.add("A1", "B1", "A2")
	f.p.Committed(f.keys["A"].Public(), 1)
	f.commit[f.keys["A"].Public()] = 1
	if got, want := f.selectSpec(10, 1<<30), []string{"B1", "A2"}; !slices.Equal(got, want) {
		t.Errorf("Select = %v, want %v", got, want)
	}
}

func TestSelectMaxBytes(t *testing.T) {
	f := newFixture(t, Config{}, "A", "B", "C")
	// Give A a large second transaction; everything else is small.
	f.add("A1", "B1", "C1")
	k := f.keys["A"]
	bigTx, bigSize := newTx(t, k, 2, t0, string(make([]byte, 4000)))
	mustAdd(t, f.p, bigTx, bigSize, 0)
	f.add("A3", "B2", "C2")
	// Every small transaction has the same encoded size.
	_, s := newTx(t, f.keys["B"], 1, t0, "")

	tests := []struct {
		maxBytes int
		want     []string
	}{
		{0, nil},
		{s - 1, nil},
		{s, []string{"A1"}},
		{3 * s, []string{"A1", "B1", "C1"}},
		// A2 does not fit: A's run ends there, B and C go on.
		{5 * s, []string{"A1", "B1", "C1", "B2", "C2"}},
		{3*s + bigSize, []string{"A1", "B1", "C1", "A2"}},
		{5*s + bigSize, []string{"A1", "B1", "C1", "A2", "B2", "C2"}},
		{6*s + bigSize, []string{"A1", "B1", "C1", "A2", "B2", "C2", "A3"}},
	}
	for _, tt := range tests {
		got := f.selectSpec(100, tt.maxBytes)
		if !slices.Equal(got, tt.want) {
			t.Errorf("Select(maxBytes %d) = %v, want %v", tt.maxBytes, got, tt.want)
		}
		total := 0
		for _, tx := range f.p.Select(100, tt.maxBytes, f.committed) {
			total += len(tx.Encode())
		}
		if total > tt.maxBytes {
			t.Errorf("Select(maxBytes %d) returned %d bytes", tt.maxBytes, total)
		}
	}
}

func TestSelectDeterministic(t *testing.T) {
	// Two pools fed the same transactions in the same order select the
	// same, every time, whatever the map iteration order.
	keys := make([]*identity.PrivateKey, 40)
	for i := range keys {
		keys[i] = newKey(t)
	}
	var txs []*types.Tx
	for n := uint64(1); n <= 5; n++ {
		for i, k := range keys {
			if i%7 == 3 && n == 3 {
				continue // gaps for some senders
			}
			tx, _ := newTx(t, k, n, t0, "")
			txs = append(txs, tx)
		}
	}
	// Shuffle deterministically so that arrival order is not nonce order.
	for i := range txs {
		j := (i * 7919) % len(txs)
		txs[i], txs[j] = txs[j], txs[i]
	}
	p1, p2 := New(Config{}), New(Config{})
	for _, tx := range txs {
		mustAdd(t, p1, tx, 0, 0)
		mustAdd(t, p2, tx, 0, 0)
	}
	none := func(identity.PublicKey) uint64 { return 0 }
	want := p1.Select(1000, 1<<30, none)
	if len(want) == 0 {
		t.Fatal("nothing selected")
	}
	for i := 0; i < 50; i++ {
		p := p1
		if i%2 == 1 {
			p = p2
		}
		if got := p.Select(1000, 1<<30, none); !slices.Equal(got, want) {
			t.Fatalf("Select run %d differs", i)
		}
	}
	// Each sender's transactions come in nonce order, starting at 1, without gaps.
	next := map[identity.PublicKey]uint64{}
	for _, tx := range want {
		if tx.Nonce != next[tx.Sender]+1 {
			t.Fatalf("sender got nonce %d after %d", tx.Nonce, next[tx.Sender])
		}
		next[tx.Sender] = tx.Nonce
	}
	if len(next) != len(keys) {
		t.Errorf("%d senders selected, want %d", len(next), len(keys))
	}
}

func TestCommitted(t *testing.T) {
	f := newFixture(t, Config{}, "A", "B")
	f.add("A1", "A2", "A3", "A5", "B1", "B2")
	a, b := f.keys["A"].Public(), f.keys["B"].Public()

	f.p.Committed(a, 2)
	if f.p.Len() != 4 {
		t.Errorf("Len = %d after Committed(A, 2), want 4", f.p.Len())
	}
	checkInvariants(t, f.p)
	f.commit[a] = 2
	if got, want := f.selectSpec(10, 1<<30), []string{"A3", "B1", "B2"}; !slices.Equal(got, want) {
		t.Errorf("Select = %v, want %v", got, want)
	}
	// Committed of an unknown sender, or below what is known, is a no-op.
	f.p.Committed(newKey(t).Public(), 100)
	f.p.Committed(a, 1)
	if f.p.Len() != 4 {
		t.Errorf("Len = %d, want 4", f.p.Len())
	}
	// A far jump takes the scanning path and removes the gapped tail too.
	f.p.Committed(a, 1_000_000)
	f.p.Committed(b, 2)
	if f.p.Len() != 0 || f.p.Bytes() != 0 {
		t.Errorf("Len, Bytes = %d, %d after committing everything", f.p.Len(), f.p.Bytes())
	}
	checkInvariants(t, f.p)
	if len(f.p.senders) != 0 {
		t.Errorf("%d empty accounts kept", len(f.p.senders))
	}

	// Committed up to the maximum nonce does not loop forever.
	f.add("A7")
	f.p.Committed(a, math.MaxUint64)
	if f.p.Len() != 0 {
		t.Error("Committed(MaxUint64) left a transaction")
	}
}

func TestAddDropsStale(t *testing.T) {
	// A later Add with a higher committed nonce drops what it has made
	// unsealable.
	f := newFixture(t, Config{}, "A")
	f.add("A1", "A2", "A3")
	tx, size := newTx(t, f.keys["A"], 4, t0, "")
	mustAdd(t, f.p, tx, size, 2)
	if f.p.Len() != 2 {
		t.Errorf("Len = %d, want 2 (A3, A4)", f.p.Len())
	}
	checkInvariants(t, f.p)
	// Committing everything via Add leaves just the new transaction.
	tx, size = newTx(t, f.keys["A"], 10, t0, "")
	mustAdd(t, f.p, tx, size, 9)
	if f.p.Len() != 1 || !f.p.Has(tx.Hash()) {
		t.Errorf("Len = %d, want 1", f.p.Len())
	}
	checkInvariants(t, f.p)
}

func TestExpire(t *testing.T) {
	w := types.TimeWindow{Future: 30 * time.Second, Past: 10 * time.Minute}
	now := t0.Add(time.Hour)
	k1, k2 := newKey(t), newKey(t)
	p := New(Config{})
	offsets := []struct {
		key   *identity.PrivateKey
		nonce uint64
		age   time.Duration
	}{
		{k1, 1, 20 * time.Minute},
		{k1, 2, 11 * time.Minute},
		{k1, 3, 10*time.Minute + time.Millisecond},
		{k1, 4, 10 * time.Minute}, // exactly at the limit: still valid
		{k2, 1, 5 * time.Minute},
		{k2, 2, 15 * time.Minute},
		{k2, 3, -time.Minute}, // in the future: not Expire's business
		{k2, 4, -time.Hour},
	}
	var kept []*types.Tx
	wantExpired := 0
	for _, o := range offsets {
		tx, size := newTx(t, o.key, o.nonce, now.Add(-o.age), "")
		mustAdd(t, p, tx, size, 0)
		if err := tx.CheckTime(now, w); errors.Is(err, types.ErrTimeInPast) {
			wantExpired++
		} else {
			kept = append(kept, tx)
		}
	}
	if wantExpired != 4 {
		t.Fatalf("test setup: %d expire by CheckTime, want 4", wantExpired)
	}
	if n := p.Expire(now, w); n != wantExpired {
		t.Errorf("Expire = %d, want %d", n, wantExpired)
	}
	if p.Len() != len(kept) {
		t.Errorf("Len = %d, want %d", p.Len(), len(kept))
	}
	for _, tx := range kept {
		if !p.Has(tx.Hash()) {
			t.Errorf("%d of a sender expired, should not", tx.Nonce)
		}
	}
	checkInvariants(t, p)
	if n := p.Expire(now, w); n != 0 {
		t.Errorf("second Expire = %d, want 0", n)
	}
	if n := p.Expire(now.Add(2*time.Hour), w); n != len(kept) {
		t.Errorf("late Expire = %d, want %d", n, len(kept))
	}
	if p.Len() != 0 || p.Bytes() != 0 || len(p.senders) != 0 {
		t.Errorf("pool not empty after everything expired")
	}
}

func TestConcurrent(t *testing.T) {
	const (
		senders   = 32
		perSender = 60
	)
	p := New(Config{MaxPerSender: perSender})
	keys := make([]*identity.PrivateKey, senders)
	txs := make([][]*types.Tx, senders)
	for i := range keys {
		keys[i] = newKey(t)
		for n := uint64(1); n <= perSender; n++ {
			tx, _ := newTx(t, keys[i], n, t0, "")
			txs[i] = append(txs[i], tx)
		}
	}

	var wg sync.WaitGroup
	stop := make(chan struct{})
	// Readers and housekeeping run while adders add.
	wg.Add(1)
	go func() {
		defer wg.Done()
		none := func(identity.PublicKey) uint64 { return 0 }
		for {
			select {
			case <-stop:
				return
			default:
			}
			for _, tx := range p.Select(500, 1<<20, none) {
				p.Has(tx.Hash())
			}
			p.PendingNonce(keys[0].Public(), 0)
			p.Expire(t0.Add(-time.Hour), types.TimeWindow{Past: time.Minute})
			_, _ = p.Len(), p.Bytes()
		}
	}()
	// Every transaction is offered by three goroutines at once, in
	// different orders; exactly one Add of each must succeed.
	var mu sync.Mutex
	accepted := map[types.Hash]int{}
	var adders sync.WaitGroup
	for g := 0; g < 3*senders; g++ {
		adders.Add(1)
		go func() {
			defer adders.Done()
			row := txs[g%senders]
			for j := range row {
				tx := row[j]
				if g/senders == 1 {
					tx = row[len(row)-1-j]
				}
				err := p.Add(tx, 0, 0)
				switch {
				case err == nil:
					mu.Lock()
					accepted[tx.Hash()]++
					mu.Unlock()
				case !errors.Is(err, ErrDuplicate):
					t.Errorf("Add: %v", err)
				}
			}
		}()
	}
	adders.Wait()
	close(stop)
	wg.Wait()

	if len(accepted) != senders*perSender || p.Len() != senders*perSender {
		t.Errorf("accepted %d, Len %d, want %d", len(accepted), p.Len(), senders*perSender)
	}
	for h, n := range accepted {
		if n != 1 {
			t.Errorf("%s accepted %d times", h, n)
		}
	}
	checkInvariants(t, p)

	// Concurrent commits drain the pool.
	var committers sync.WaitGroup
	for _, k := range keys {
		committers.Add(1)
		go func() {
			defer committers.Done()
			for n := uint64(10); n <= perSender; n += 10 {
				p.Committed(k.Public(), n)
			}
		}()
	}
	committers.Wait()
	if p.Len() != 0 || p.Bytes() != 0 {
		t.Errorf("Len, Bytes = %d, %d after committing everything", p.Len(), p.Bytes())
	}
	checkInvariants(t, p)
}

// benchTxs returns unsigned transactions for senders×nonces: the pool does
// not verify signatures, and signing would dominate the setup.
func benchTxs(senders, nonces int) []*types.Tx {
	txs := make([]*types.Tx, 0, senders*nonces)
	for n := 1; n <= nonces; n++ {
		for s := 0; s < senders; s++ {
			tx, err := types.NewDataRecordTx(chainID, uint64(n), t0.UnixMilli()+int64(s),
				types.DataRecord{Stream: "temperature/room1", ContentType: "application/json", Value: []byte(`{"c":21.5}`)})
			if err != nil {
				panic(err)
			}
			tx.Sender = identity.PublicKey{byte(s), byte(s >> 8), byte(s >> 16), 1}
			tx.Signature = make([]byte, 64)
			txs = append(txs, tx)
		}
	}
	return txs
}

func BenchmarkAdd(b *testing.B) {
	txs := benchTxs(1000, 50)
	sizes := make([]int, len(txs))
	for i, tx := range txs {
		sizes[i] = len(tx.Encode())
	}
	var p *Pool
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		j := i % len(txs)
		if j == 0 {
			b.StopTimer()
			p = New(Config{})
			b.StartTimer()
		}
		if err := p.Add(txs[j], sizes[j], 0); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAddParallel(b *testing.B) {
	txs := benchTxs(1000, 50)
	p := New(Config{MaxTxs: len(txs)})
	b.ReportAllocs()
	b.ResetTimer()
	var next sync.Mutex
	i := 0
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			next.Lock()
			j := i % len(txs)
			i++
			next.Unlock()
			// Once every transaction is in, Adds are duplicates: still the
			// hash and the locked lookup.
			_ = p.Add(txs[j], 100, 0)
		}
	})
}

func BenchmarkSelect10k(b *testing.B) {
	txs := benchTxs(1000, 10)
	p := New(Config{})
	for _, tx := range txs {
		if err := p.Add(tx, 0, 0); err != nil {
			b.Fatal(err)
		}
	}
	none := func(identity.PublicKey) uint64 { return 0 }
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if got := p.Select(10_000, 64<<20, none); len(got) != 10_000 {
			b.Fatalf("selected %d", len(got))
		}
	}
}

func TestSelectUsesKnownCommitted(t *testing.T) {
	// Committed told the pool more than the callback (a stale state read)
	// knows; the pool's knowledge wins. A nil callback relies on it alone.
	f := newFixture(t, Config{}, "A")
	f.add("A1", "A2", "A3", "A4")
	f.p.Committed(f.keys["A"].Public(), 2)
	if got, want := f.selectSpec(10, 1<<30), []string{"A3", "A4"}; !slices.Equal(got, want) {
		t.Errorf("Select = %v, want %v", got, want)
	}
	if got := f.p.Select(10, 1<<30, nil); len(got) != 2 || got[0].Nonce != 3 {
		t.Errorf("Select(nil callback) = %d transactions", len(got))
	}
}

func TestMaxNonce(t *testing.T) {
	// The last possible nonce neither overflows nor loops.
	p := New(Config{})
	k := newKey(t)
	const last = math.MaxUint64
	addNew(t, p, k, last-1, last-2)
	addNew(t, p, k, last, last-2)
	if got := p.PendingNonce(k.Public(), last-2); got != last {
		t.Errorf("PendingNonce = %d, want MaxUint64", got)
	}
	got := p.Select(10, 1<<30, func(identity.PublicKey) uint64 { return last - 2 })
	if len(got) != 2 || got[0].Nonce != last-1 || got[1].Nonce != last {
		t.Errorf("Select returned %d transactions", len(got))
	}
	if got := p.Select(10, 1<<30, func(identity.PublicKey) uint64 { return last }); len(got) != 0 {
		t.Errorf("Select with everything committed returned %d", len(got))
	}
	p.Committed(k.Public(), last)
	if p.Len() != 0 {
		t.Errorf("Len = %d, want 0", p.Len())
	}
}

func TestRewindAcceptsTransactionsOfAbandonedBlocks(t *testing.T) {
	p := New(Config{})
	k, _ := identity.Generate(nil)
	var txs []*types.Tx
	for n := uint64(1); n <= 4; n++ {
		tx, _ := types.NewDataRecordTx("c", n, 1, types.DataRecord{Stream: "s"})
		tx.Sign(k)
		txs = append(txs, tx)
	}
	for _, tx := range txs {
		if err := p.Add(tx, 0, 0); err != nil {
			t.Fatal(err)
		}
	}
	// Nonces 1-2 are sealed into a block that then loses a reorg.
	p.Committed(k.Public(), 2)
	if err := p.Add(txs[0], 0, 0); !errors.Is(err, types.ErrReplayedNonce) {
		t.Fatalf("before rewind: %v", err)
	}
	p.Rewind(k.Public(), 0)
	for _, tx := range txs[:2] {
		if err := p.Add(tx, 0, 0); err != nil {
			t.Fatalf("after rewind: %v", err)
		}
	}
	if got := p.PendingNonce(k.Public(), 0); got != 4 {
		t.Fatalf("pending nonce %d, want 4", got)
	}
}

// TestExpireForwardWindow: with a genesis forwarding window
// (TimeWindow.RecordPast), a data record is kept for that long and every
// other type for Past, each exactly as CheckTime decides.
func TestExpireForwardWindow(t *testing.T) {
	w := types.TimeWindow{Future: 30 * time.Second, Past: 10 * time.Minute, RecordPast: 24 * time.Hour}
	now := t0.Add(48 * time.Hour)
	k1, k2 := newKey(t), newKey(t)
	p := New(Config{})
	other := func(key *identity.PrivateKey, nonce uint64, ts time.Time) *types.Tx {
		tx := &types.Tx{Version: types.TxVersion, ChainID: chainID, Type: types.TxDID, Nonce: nonce, Timestamp: ts.UnixMilli(), Payload: []byte{0xa0}}
		tx.Sign(key)
		return tx
	}
	var all []*types.Tx
	for i, age := range []time.Duration{25 * time.Hour, 24*time.Hour + time.Millisecond, 24 * time.Hour, 11 * time.Minute, time.Minute} {
		tx, size := newTx(t, k1, uint64(i+1), now.Add(-age), "")
		mustAdd(t, p, tx, size, 0)
		all = append(all, tx)
	}
	for i, age := range []time.Duration{12 * time.Hour, 10*time.Minute + time.Millisecond, 10 * time.Minute, time.Minute} {
		tx := other(k2, uint64(i+1), now.Add(-age))
		mustAdd(t, p, tx, 0, 0)
		all = append(all, tx)
	}
	want := 0
	for _, tx := range all {
		if errors.Is(tx.CheckTime(now, w), types.ErrTimeInPast) {
			want++
		}
	}
	if want != 4 {
		t.Fatalf("test setup: %d expire by CheckTime, want 4", want)
	}
	if n := p.Expire(now, w); n != want {
		t.Fatalf("Expire = %d, want %d", n, want)
	}
	for _, tx := range all {
		expired := errors.Is(tx.CheckTime(now, w), types.ErrTimeInPast)
		if p.Has(tx.Hash()) == expired {
			t.Errorf("%v nonce %d aged %s: pending %v", tx.Type, tx.Nonce, now.Sub(tx.Time()), !expired)
		}
	}
	checkInvariants(t, p)
	// Without the forwarding window, records expire after Past too.
	if n := p.Expire(now, types.TimeWindow{Future: w.Future, Past: w.Past}); n != 2 {
		t.Fatalf("Expire without forwarding = %d, want 2", n)
	}
	checkInvariants(t, p)
}
