package mempool

import (
	"cmp"
	"container/heap"
	"container/list"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger/types"
)

// Default limits.
const (
	DefaultMaxTxs        = 50_000
	DefaultMaxBytes      = 64 << 20
	DefaultMaxPerSender  = 1000
	DefaultMaxNonceAhead = 1000
	// DefaultHighWaterPercent: Admit refuses newcomers (ErrBusy) once the
	// pool holds 80 % of MaxTxs or MaxBytes.
	DefaultHighWaterPercent = 80
	// DefaultDropRecord is the most dropped transactions the pool
	// remembers the reason of (Dropped) by default: twice MaxTxs, at
	// least 1,000 and at most this. A record costs about 150 bytes.
	DefaultDropRecord = 100_000
)

// Config bounds a Pool. Zero (or negative) fields take the defaults.
type Config struct {
	MaxTxs        int    // most pending transactions; default 50000
	MaxBytes      int    // most bytes pending, the sum of len(tx.Encode()); default 64 MiB
	MaxPerSender  int    // most pending transactions of one sender; default 1000
	MaxNonceAhead uint64 // refuse a nonce above committed+MaxNonceAhead; default 1000
	// HighWaterPercent is the high-water mark, in percent of MaxTxs and of
	// MaxBytes, above which Admit refuses new transactions with ErrBusy
	// (except the one that fills a sender's first nonce gap); 1 to 100,
	// default 80. 100 puts the mark at the hard cap.
	HighWaterPercent int
	// DropRecord is how many dropped transactions (expired, nonce taken)
	// the pool remembers the reason of, least recently dropped forgotten
	// first; default twice MaxTxs, between 1000 and DefaultDropRecord.
	DropRecord int
}

// Validate reports a field out of range. Zero fields are valid: they take
// the defaults.
func (c Config) Validate() error {
	if c.MaxTxs < 0 || c.MaxBytes < 0 || c.MaxPerSender < 0 || c.DropRecord < 0 {
		return fmt.Errorf("mempool limits %+v: none may be negative", c)
	}
	if c.HighWaterPercent < 0 || c.HighWaterPercent > 100 {
		return fmt.Errorf("mempool high-water mark %d %%: want 1 to 100 (0 for the default, %d)", c.HighWaterPercent, DefaultHighWaterPercent)
	}
	return nil
}

// HighWater returns the high-water mark in transactions and in bytes: the
// pool is above it when it holds at least txs transactions, or when a
// transaction would take it over bytes.
func (c Config) HighWater() (txs, bytes int) {
	c = c.withDefaults()
	txs = max(1, int(int64(c.MaxTxs)*int64(c.HighWaterPercent)/100))
	bytes = int(int64(c.MaxBytes) * int64(c.HighWaterPercent) / 100)
	return txs, bytes
}

func (c Config) withDefaults() Config {
	if c.MaxTxs <= 0 {
		c.MaxTxs = DefaultMaxTxs
	}
	if c.MaxBytes <= 0 {
		c.MaxBytes = DefaultMaxBytes
	}
	if c.MaxPerSender <= 0 {
		c.MaxPerSender = DefaultMaxPerSender
	}
	if c.MaxNonceAhead == 0 {
		c.MaxNonceAhead = DefaultMaxNonceAhead
	}
	if c.HighWaterPercent <= 0 {
		c.HighWaterPercent = DefaultHighWaterPercent
	}
	c.HighWaterPercent = min(c.HighWaterPercent, 100)
	if c.DropRecord <= 0 {
		c.DropRecord = min(max(2*c.MaxTxs, 1000), DefaultDropRecord)
	}
	return c
}

// Reasons Add refuses a transaction, besides types.ErrReplayedNonce. Add
// wraps them with detail; match them with errors.Is.
var (
	// ErrDuplicate: a transaction with the same hash is already pending.
	ErrDuplicate = errors.New("mempool: transaction already pending")
	// ErrFull: the pool holds MaxTxs transactions or the transaction would
	// take it over MaxBytes.
	ErrFull = errors.New("mempool: pool is full")
	// ErrBusy: the pool is above its high-water mark (Config.HighWaterPercent)
	// and Admit takes no new transaction but the one that fills the first
	// nonce gap of a sender with later nonces pending. Retry later.
	ErrBusy = errors.New("mempool: pool above high-water mark")
	// ErrSenderFull: the sender already has MaxPerSender pending transactions.
	ErrSenderFull = errors.New("mempool: too many pending transactions from sender")
	// ErrNonceTooFar: the nonce is more than MaxNonceAhead above the
	// sender's committed nonce.
	ErrNonceTooFar = errors.New("mempool: nonce too far ahead")
	// ErrNonceConflict: a different transaction with the same sender and
	// nonce is already pending. The first one wins.
	ErrNonceConflict = errors.New("mempool: another transaction with this sender and nonce is pending")
)

// entry is one pending transaction.
type entry struct {
	tx   *types.Tx
	hash types.Hash
	size int
	seq  uint64 // arrival order, unique within the pool
	acct *account

	class      int    // which of Pool.byTime holds it (timeClass)
	heapIdx    int    // index in Pool.byTime[class]
	prev, next *entry // the account's arrival list
}

// account holds one sender's pending transactions.
type account struct {
	key identity.PublicKey
	// known is the highest committed nonce the pool was told of for this
	// sender; every pending nonce is above it.
	known      uint64
	txs        map[uint64]*entry // by nonce
	head, tail *entry            // arrival order, oldest first
}

// Pool is a bounded pool of pending transactions. The zero value is not
// usable; call New. A Pool is safe for concurrent use.
//
// The pool keeps the *types.Tx it is given and hands the same pointer out
// from Get and Select: nobody may modify a transaction once added.
type Pool struct {
	cfg Config

	mu      sync.RWMutex
	byHash  map[types.Hash]*entry
	senders map[identity.PublicKey]*account
	// byTime holds data records (0) and every other type (1), oldest
	// timestamp first, for Expire: the two may have different past
	// bounds (types.TimeWindow.PastFor).
	byTime [2]timeHeap
	bytes  int
	seq    uint64

	// hwTxs and hwBytes are the high-water mark (Config.HighWater).
	hwTxs, hwBytes int
	// dropped remembers why pending transactions left without being
	// sealed: a bounded LRU, most recently dropped at the front.
	dropped   map[types.Hash]*list.Element
	dropOrder *list.List // of dropRecord
}

// Reasons a pending transaction left the pool without being sealed here,
// as Dropped reports them. The pool never evicts or replaces a pending
// transaction (the first of a sender and nonce wins, a full pool refuses
// newcomers), so these are the only two.
const (
	// DropExpired: its timestamp fell out of the chain's time window
	// (Expire) before a block took it.
	DropExpired = "expired"
	// DropNonceTaken: the head chain committed its sender's nonce, and
	// the block that did hold no other copy of it here; unless the
	// transaction itself is in that block (the caller checks the chain
	// first), another transaction of the sender took the nonce.
	DropNonceTaken = "nonce_taken"
)

type dropRecord struct {
	hash   types.Hash
	reason string
}

// New returns an empty pool with cfg's limits; zero fields take defaults.
func New(cfg Config) *Pool {
	p := &Pool{
		cfg:       cfg.withDefaults(),
		byHash:    make(map[types.Hash]*entry),
		senders:   make(map[identity.PublicKey]*account),
		dropped:   make(map[types.Hash]*list.Element),
		dropOrder: list.New(),
	}
	p.hwTxs, p.hwBytes = p.cfg.HighWater()
	return p
}

// Add inserts tx, which the caller has validated (encoding, chain,
// signature, timestamp). size is len(tx.Encode()), passed in to avoid
// encoding again; if it is not positive, Add encodes tx to find it.
// committed is the sender's last committed nonce; if the pool was told of
// a higher one (by Committed or an earlier Add), that one is used.
//
// Add refuses, in this order of checks, a transaction already pending
// (ErrDuplicate), a nonce not above committed (types.ErrReplayedNonce), a
// nonce more than MaxNonceAhead above committed (ErrNonceTooFar), a
// different pending transaction with the same sender and nonce
// (ErrNonceConflict), a sender with MaxPerSender pending transactions
// (ErrSenderFull) and a full pool (ErrFull). Errors wrap these sentinels
// with detail.
//
// Add also drops the sender's pending transactions with nonces up to
// committed, which can no longer be sealed.
func (p *Pool) Add(tx *types.Tx, size int, committed uint64) error {
	return p.add(tx, size, committed, false)
}

// Admit is Add for a transaction that arrives new (from a client or from
// gossip), with back-pressure: when the pool is above its high-water mark
// (it holds HighWater's transactions, or tx would take it over
// HighWater's bytes) it refuses tx with ErrBusy, after Add's other checks
// but before ErrFull, unless tx fills its sender's first nonce gap (all
// its nonces from committed+1 to tx.Nonce-1 are pending and a later one
// is too), so that no transaction already accepted waits on a refused
// one. That one is still bounded by MaxTxs and MaxBytes. Add without the
// mark is for transactions the pool already took once (those of blocks
// that left the head chain).
func (p *Pool) Admit(tx *types.Tx, size int, committed uint64) error {
	return p.add(tx, size, committed, true)
}

// Busy reports whether the pool is at or above its high-water mark in
// transactions or bytes: Admit then refuses most new transactions.
func (p *Pool) Busy() bool {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return len(p.byHash) >= p.hwTxs || p.bytes >= p.hwBytes
}

func (p *Pool) add(tx *types.Tx, size int, committed uint64, highWater bool) error {
	if tx == nil {
		return errors.New("mempool: nil transaction")
	}
	if size <= 0 {
		size = len(tx.Encode())
	}
	h := tx.Hash() // encoding and hashing are the expensive part: outside the lock

	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.byHash[h]; ok {
		return fmt.Errorf("%w: %s", ErrDuplicate, h)
	}
	a := p.senders[tx.Sender]
	if a != nil && a.known > committed {
		committed = a.known
	}
	if tx.Nonce <= committed {
		return fmt.Errorf("mempool: %w: nonce %d, sender has committed %d", types.ErrReplayedNonce, tx.Nonce, committed)
	}
	if tx.Nonce-committed > p.cfg.MaxNonceAhead {
		return fmt.Errorf("%w: nonce %d, sender has committed %d, limit is %d ahead", ErrNonceTooFar, tx.Nonce, committed, p.cfg.MaxNonceAhead)
	}
	if a != nil {
		p.raise(a, committed)
		if len(a.txs) == 0 {
			a = nil // raise dropped the account
		}
	}
	if a != nil {
		if e := a.txs[tx.Nonce]; e != nil {
			return fmt.Errorf("%w: nonce %d is taken by %s", ErrNonceConflict, tx.Nonce, e.hash)
		}
		if len(a.txs) >= p.cfg.MaxPerSender {
			return fmt.Errorf("%w: %d pending (limit %d)", ErrSenderFull, len(a.txs), p.cfg.MaxPerSender)
		}
	}
	if highWater && (len(p.byHash) >= p.hwTxs || size > p.hwBytes-p.bytes) && !fillsGap(a, committed, tx.Nonce) {
		return fmt.Errorf("%w: %d transactions of %d bytes pending (high-water mark %d transactions, %d bytes)",
			ErrBusy, len(p.byHash), p.bytes, p.hwTxs, p.hwBytes)
	}
	if len(p.byHash) >= p.cfg.MaxTxs {
		return fmt.Errorf("%w: %d transactions pending (limit %d)", ErrFull, len(p.byHash), p.cfg.MaxTxs)
	}
	if size > p.cfg.MaxBytes-p.bytes {
		return fmt.Errorf("%w: %d bytes pending, transaction of %d bytes exceeds the limit of %d", ErrFull, p.bytes, size, p.cfg.MaxBytes)
	}

	if a == nil {
		a = &account{key: tx.Sender, known: committed, txs: make(map[uint64]*entry)}
		p.senders[tx.Sender] = a
	}
	p.seq++
	e := &entry{tx: tx, hash: h, size: size, seq: p.seq, acct: a, prev: a.tail, class: timeClass(tx.Type)}
	if a.tail != nil {
		a.tail.next = e
	} else {
		a.head = e
	}
	a.tail = e
	a.txs[tx.Nonce] = e
	p.byHash[h] = e
	heap.Push(&p.byTime[e.class], e)
	p.bytes += size
	if el := p.dropped[h]; el != nil { // back after a reorg
		p.dropOrder.Remove(el)
		delete(p.dropped, h)
	}
	return nil
}

// fillsGap reports whether nonce is a's first missing nonce above
// committed while a holds a later one: every nonce in (committed, nonce)
// is pending, and a holds more than those. a's pending nonces are all
// above committed (add raised it). It costs O(nonce-committed), at most
// MaxPerSender.
func fillsGap(a *account, committed, nonce uint64) bool {
	if a == nil || nonce <= committed {
		return false
	}
	below := nonce - committed - 1
	if below >= uint64(len(a.txs)) {
		return false // nothing pending above nonce
	}
	for n := committed + 1; n < nonce; n++ {
		if _, ok := a.txs[n]; !ok {
			return false
		}
	}
	return true
}

// Dropped returns why the pending transaction with hash h left the pool
// without a block of this pool's chain sealing it (DropExpired,
// DropNonceTaken), if the pool still remembers: it keeps the last
// Config.DropRecord reasons. A transaction the pool takes again (after a
// reorg) is forgotten. For DropNonceTaken the caller checks first whether
// the chain holds the transaction itself.
func (p *Pool) Dropped(h types.Hash) (string, bool) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if el := p.dropped[h]; el != nil {
		return el.Value.(dropRecord).reason, true
	}
	return "", false
}

// Forget drops the dropped-reason records of hs (transactions a final
// block committed, say), so that the record keeps room for the others.
func (p *Pool) Forget(hs ...types.Hash) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, h := range hs {
		if el := p.dropped[h]; el != nil {
			p.dropOrder.Remove(el)
			delete(p.dropped, h)
		}
	}
}

// recordDrop remembers why h left, forgetting the oldest record when full.
func (p *Pool) recordDrop(h types.Hash, reason string) {
	if el := p.dropped[h]; el != nil {
		el.Value = dropRecord{hash: h, reason: reason}
		p.dropOrder.MoveToFront(el)
		return
	}
	if p.dropOrder.Len() >= p.cfg.DropRecord {
		old := p.dropOrder.Back()
		p.dropOrder.Remove(old)
		delete(p.dropped, old.Value.(dropRecord).hash)
	}
	p.dropped[h] = p.dropOrder.PushFront(dropRecord{hash: h, reason: reason})
}

// Has reports whether a transaction with hash h is pending.
func (p *Pool) Has(h types.Hash) bool {
	p.mu.RLock()
	defer p.mu.RUnlock()
	_, ok := p.byHash[h]
	return ok
}

// Get returns the pending transaction with hash h.
func (p *Pool) Get(h types.Hash) (*types.Tx, bool) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if e, ok := p.byHash[h]; ok {
		return e.tx, true
	}
	return nil, false
}

// PendingNonce returns the highest nonce n such that committed+1 through n
// are all pending for sender, or committed if committed+1 is not. As in
// Add, committed is raised to the highest committed nonce the pool was
// told of. The sender's next transaction should carry n+1. It costs
// O(n-committed), at most MaxPerSender.
func (p *Pool) PendingNonce(sender identity.PublicKey, committed uint64) uint64 {
	p.mu.RLock()
	defer p.mu.RUnlock()
	a := p.senders[sender]
	if a == nil {
		return committed
	}
	n := max(committed, a.known)
	for n < math.MaxUint64 {
		if _, ok := a.txs[n+1]; !ok {
			break
		}
		n++
	}
	return n
}

// Select returns up to max transactions, of at most maxBytes in total,
// ready to be sealed in this order, and removes nothing. For each sender
// it takes the contiguous run of pending nonces from committed(sender)+1
// (or from the higher committed nonce the pool was told of) in nonce
// order; a missing nonce ends the run, and so does a transaction that
// would exceed maxBytes. Runs are interleaved round robin: first every
// sender's first transaction, then every sender's second, and so on, with
// senders ordered by the arrival of their oldest pending transaction. The
// result depends only on the pool's content, the order it arrived in, and
// committed.
//
// committed is called once per pending sender with the pool's lock held:
// it must not call the pool. Select returns nil if max or maxBytes is not
// positive. It costs O(selected + senders·log senders).
func (p *Pool) Select(max, maxBytes int, committed func(identity.PublicKey) uint64) []*types.Tx {
	if max <= 0 || maxBytes <= 0 {
		return nil
	}
	p.mu.RLock()
	defer p.mu.RUnlock()

	type cursor struct {
		a    *account
		next uint64 // next nonce of the sender's run
	}
	curs := make([]cursor, 0, len(p.senders))
	for _, a := range p.senders {
		c := a.known
		if committed != nil {
			c = maxU64(c, committed(a.key))
		}
		if c == math.MaxUint64 {
			continue
		}
		if _, ok := a.txs[c+1]; ok {
			curs = append(curs, cursor{a: a, next: c + 1})
		}
	}
	slices.SortFunc(curs, func(x, y cursor) int { return cmp.Compare(x.a.head.seq, y.a.head.seq) })

	out := make([]*types.Tx, 0, min(max, len(p.byHash)))
	total := 0
	for len(curs) > 0 && len(out) < max {
		k := 0
		for _, c := range curs {
			if len(out) == max {
				break
			}
			e := c.a.txs[c.next]
			if e == nil || e.size > maxBytes-total {
				continue // the run ends here
			}
			out = append(out, e.tx)
			total += e.size
			if c.next == math.MaxUint64 {
				continue
			}
			c.next++
			curs[k] = c
			k++
		}
		curs = curs[:k]
	}
	return out
}

// Committed tells the pool that sender's last committed nonce is now n: it
// removes the sender's pending transactions with nonces up to n, and
// later calls and Adds treat nonces up to n as committed while the sender
// has pending transactions. Call it once per sender of each block. It
// costs O(min(removed, pending of sender)).
func (p *Pool) Committed(sender identity.PublicKey, n uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if a := p.senders[sender]; a != nil {
		p.raise(a, n)
	}
}

// Rewind tells the pool that sender's last committed nonce fell back to n:
// the head moved to a fork holding fewer of the sender's transactions, and
// those of the abandoned blocks are to be added again. Nonces above n are
// then accepted again by Add.
func (p *Pool) Rewind(sender identity.PublicKey, n uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if a := p.senders[sender]; a != nil && a.known > n {
		a.known = n
	}
}

// Expire removes the transactions whose timestamp is now too far in the
// past for w (CheckTime(now, w) fails with types.ErrTimeInPast: a data
// record is kept for w.PastFor(types.TxDataRecord), the genesis
// forwarding window, every other type for w.Past) and returns how many it
// removed. It costs O(removed·log n).
func (p *Pool) Expire(now time.Time, w types.TimeWindow) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for class, typ := range [2]types.TxType{types.TxDataRecord, types.TxDID} {
		cutoff := now.Add(-w.PastFor(typ))
		for len(p.byTime[class]) > 0 {
			e := p.byTime[class][0]
			if !e.tx.Time().Before(cutoff) { // CheckTime's ErrTimeInPast test
				break
			}
			p.remove(e)
			p.recordDrop(e.hash, DropExpired)
			n++
		}
	}
	return n
}

// timeClass is the index in Pool.byTime of a transaction of type t.
func timeClass(t types.TxType) int {
	if t == types.TxDataRecord {
		return 0
	}
	return 1
}

// Len returns the number of pending transactions.
func (p *Pool) Len() int {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return len(p.byHash)
}

// Bytes returns the total encoded size of the pending transactions.
func (p *Pool) Bytes() int {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.bytes
}

// raise records that a's last committed nonce is n and drops a's pending
// transactions with nonces up to n; if that empties a, a is dropped too.
// Pending nonces are all above a.known, so only (a.known, n] is searched,
// by nonce or by scanning a's transactions, whichever is shorter.
func (p *Pool) raise(a *account, n uint64) {
	if n <= a.known {
		return
	}
	if d := n - a.known; d <= uint64(len(a.txs)) {
		for i := uint64(1); i <= d; i++ {
			if e := a.txs[a.known+i]; e != nil {
				p.remove(e)
				p.recordDrop(e.hash, DropNonceTaken)
			}
		}
	} else {
		for nonce, e := range a.txs {
			if nonce <= n {
				p.remove(e)
				p.recordDrop(e.hash, DropNonceTaken)
			}
		}
	}
	a.known = n
}

// remove drops e from every index, and its account once empty.
func (p *Pool) remove(e *entry) {
	a := e.acct
	delete(a.txs, e.tx.Nonce)
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		a.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		a.tail = e.prev
	}
	e.prev, e.next = nil, nil
	delete(p.byHash, e.hash)
	heap.Remove(&p.byTime[e.class], e.heapIdx)
	p.bytes -= e.size
	if len(a.txs) == 0 {
		delete(p.senders, a.key)
	}
}

func maxU64(a, b uint64) uint64 {
	if a > b {
		return a
	}
	return b
}

// timeHeap orders entries by timestamp, then arrival.
type timeHeap []*entry

func (h timeHeap) Len() int { return len(h) }
func (h timeHeap) Less(i, j int) bool {
	if h[i].tx.Timestamp != h[j].tx.Timestamp {
		return h[i].tx.Timestamp < h[j].tx.Timestamp
	}
	return h[i].seq < h[j].seq
}
func (h timeHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].heapIdx = i
	h[j].heapIdx = j
}
func (h *timeHeap) Push(x any) {
	e := x.(*entry)
	e.heapIdx = len(*h)
	*h = append(*h, e)
}
func (h *timeHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	e.heapIdx = -1
	return e
}
