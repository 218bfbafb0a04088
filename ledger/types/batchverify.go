package types

import (
	"crypto/sha256"
	"fmt"
	"runtime"
	"sync"

	"github.com/sixdomain/sixdomain/identity"
)

// batchMinChunk is the fewest transactions VerifyTxs gives one goroutine:
// with fewer than twice as many, it works on the calling goroutine alone.
const batchMinChunk = 32

// txCheck is VerifyTxs's state for one transaction.
type txCheck struct {
	key  [32]byte                     // sigKey(tx)
	msg  [len(txSignDomain) + 32]byte // tx.SignBytes()
	err  error
	skip bool // cached, or refused before verification
}

// VerifyTxs checks the signatures of txs exactly as Tx.VerifySignature
// does, one by one, and returns nil if all of them verify; otherwise it
// returns one error per transaction, nil for those that verify and, for the
// others, the error VerifySignature returns (wrapping ErrBadSignature, or a
// DID approval's error). A nil transaction gets an error wrapping
// ErrBadSignature.
//
// Transactions whose signature cache (may be nil) already holds them are not
// verified again; those that verify are remembered in it. The rest are
// verified in batches (identity.Batch: ZIP-215, the rule of
// identity.PublicKey.Verify, so a batch and single verification agree on
// every signature), split over up to runtime.GOMAXPROCS(0) goroutines when
// there are at least 2*32 of them. When a batch fails, its invalid
// transactions are found by single verification. Registry transactions
// (TxDID), which carry approval signatures too, are verified one by one.
// Every goroutine VerifyTxs starts has ended when it returns.
func VerifyTxs(txs []*Tx, cache *SigCache) []error {
	n := len(txs)
	if n == 0 {
		return nil
	}
	cs := make([]txCheck, n)
	parallel(n, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			prepareCheck(txs[i], &cs[i])
		}
	})

	pending := make([]int, 0, n)
	if cache != nil {
		cache.set.mu.Lock()
		for i := range cs {
			if !cs[i].skip {
				_, cs[i].skip = cache.set.set[cs[i].key]
			}
		}
		cache.set.mu.Unlock()
	}
	for i := range cs {
		if !cs[i].skip {
			pending = append(pending, i)
		}
	}

	parallel(len(pending), func(lo, hi int) { verifyChunk(txs, cs, pending[lo:hi]) })

	failed := false
	if cache != nil {
		cache.set.mu.Lock()
		for _, i := range pending {
			if cs[i].err == nil {
				cache.set.addLocked(cs[i].key)
			}
		}
		cache.set.mu.Unlock()
	}
	for i := range cs {
		failed = failed || cs[i].err != nil
	}
	if !failed {
		return nil
	}
	errs := make([]error, n)
	for i := range cs {
		errs[i] = cs[i].err
	}
	return errs
}

// prepareCheck computes tx's cache key and signed message (one hash of the
// body for both).
func prepareCheck(tx *Tx, c *txCheck) {
	if tx == nil {
		c.err, c.skip = fmt.Errorf("%w: no transaction", ErrBadSignature), true
		return
	}
	h := tx.Hash()
	if len(tx.Signature) <= 64 {
		// sigKey without a heap-allocated hash state.
		var buf [32 + 64]byte
		copy(buf[:], h[:])
		n := 32 + copy(buf[32:], tx.Signature)
		c.key = sha256.Sum256(buf[:n])
	} else {
		c.key = sigKey(tx)
	}
	copy(c.msg[:], txSignDomain)
	copy(c.msg[len(txSignDomain):], h[:])
}

// verifyChunk verifies the transactions txs[i] for i in idx, setting
// cs[i].err.
func verifyChunk(txs []*Tx, cs []txCheck, idx []int) {
	if len(idx) == 0 {
		return
	}
	b := identity.NewBatch(len(idx))
	for _, i := range idx {
		tx := txs[i]
		if tx.Type == TxDID {
			cs[i].err = tx.VerifySignature()
			continue
		}
		b.Add(tx.Sender, cs[i].msg[:], tx.Signature)
	}
	if b.Len() == 0 {
		return
	}
	allOK, ok := b.Verify()
	if allOK {
		return
	}
	j := 0
	for _, i := range idx {
		if txs[i].Type == TxDID {
			continue
		}
		if !ok[j] {
			// Single verification decides (the batch agrees with it) and
			// words the error as VerifySignature always does.
			cs[i].err = txs[i].VerifySignature()
		}
		j++
	}
}

// parallel calls f on consecutive ranges [lo, hi) covering [0, n): on the
// calling goroutine alone when n < 2*batchMinChunk, else split over up to
// runtime.GOMAXPROCS(0) goroutines, the caller being one of them. It
// returns when every call has.
func parallel(n int, f func(lo, hi int)) {
	chunks := min(runtime.GOMAXPROCS(0), n/batchMinChunk)
	if chunks <= 1 {
		f(0, n)
		return
	}
	var wg sync.WaitGroup
	for c := 1; c < chunks; c++ {
		lo, hi := c*n/chunks, (c+1)*n/chunks
		wg.Go(func() { f(lo, hi) })
	}
	f(0, n/chunks)
	wg.Wait()
}
