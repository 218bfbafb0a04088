package types

import (
	"crypto/sha256"
	"fmt"
	"sync"
)

// VerifiedSet remembers the keys of checks that passed, so that a check
// is not run twice. It holds at most its capacity, forgetting the oldest
// first. Safe for concurrent use.
type VerifiedSet struct {
	mu    sync.Mutex
	cap   int
	set   map[[32]byte]struct{}
	order [][32]byte
	next  int
}

// NewVerifiedSet returns a set of up to capacity keys.
func NewVerifiedSet(capacity int) *VerifiedSet {
	capacity = max(capacity, 1)
	return &VerifiedSet{cap: capacity, set: make(map[[32]byte]struct{}, min(capacity, 1<<16))}
}

// Check returns nil if key passed before; otherwise it runs verify and
// remembers key if verify passes. verify runs outside the lock.
func (s *VerifiedSet) Check(key [32]byte, verify func() error) error {
	s.mu.Lock()
	_, ok := s.set[key]
	s.mu.Unlock()
	if ok {
		return nil
	}
	if err := verify(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addLocked(key)
	return nil
}

// addLocked remembers key; s.mu must be held.
func (s *VerifiedSet) addLocked(key [32]byte) {
	if _, ok := s.set[key]; ok {
		return
	}
	if len(s.order) < s.cap {
		s.order = append(s.order, key)
	} else {
		delete(s.set, s.order[s.next])
		s.order[s.next] = key
		s.next = (s.next + 1) % s.cap
	}
	s.set[key] = struct{}{}
}

// Len returns the number of keys held.
func (s *VerifiedSet) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.set)
}

// SigCache remembers transactions whose signatures verified, so that a
// transaction checked when it was gossiped is not verified again when the
// block that includes it is applied. The key covers the transaction hash
// and the signature bytes, so a cached entry never vouches for another
// signature. It holds at most its capacity, forgetting the oldest first.
// Safe for concurrent use.
type SigCache struct{ set *VerifiedSet }

// NewSigCache returns a cache holding up to capacity entries.
func NewSigCache(capacity int) *SigCache { return &SigCache{set: NewVerifiedSet(capacity)} }

func sigKey(tx *Tx) [32]byte {
	h := tx.Hash()
	d := sha256.New()
	d.Write(h[:])
	d.Write(tx.Signature)
	var k [32]byte
	d.Sum(k[:0])
	return k
}

// Verify checks tx's signature, consulting and filling the cache.
func (c *SigCache) Verify(tx *Tx) error { return c.set.Check(sigKey(tx), tx.VerifySignature) }

// Len returns the number of cached entries.
func (c *SigCache) Len() int { return c.set.Len() }

// VerifyTxs checks every transaction of b: fields for the block's chain and
// signature. Signatures go through the package function VerifyTxs: those
// the cache holds (checked when gossiped) are not verified again, the rest
// are batch-verified and remembered. The error is the one a check of each
// transaction in order, fields then signature, meets first.
func (b *Block) VerifyTxs(sigs *SigCache) error {
	first, basic := len(b.Txs), error(nil)
	for i, tx := range b.Txs {
		if tx == nil {
			first, basic = i, fmt.Errorf("%w: no transaction", ErrBadSignature)
			break
		}
		if err := tx.ValidateBasic(b.Header.ChainID); err != nil {
			first, basic = i, err
			break
		}
	}
	for i, err := range VerifyTxs(b.Txs[:first], sigs) {
		if err != nil {
			return fmt.Errorf("%w: tx %d: %w", ErrBadBlock, i, err)
		}
	}
	if basic != nil {
		return fmt.Errorf("%w: tx %d: %w", ErrBadBlock, first, basic)
	}
	return nil
}
