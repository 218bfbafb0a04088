package types

import (
	"crypto/sha256"
	"fmt"
	"sync"
)

// SigCache remembers transactions whose signatures verified, so that a
// transaction checked when it was gossiped is not verified again when the
// block that includes it is applied. The key covers the transaction hash
// and the signature bytes, so a cached entry never vouches for another
// signature. It holds at most its capacity, forgetting the oldest first.
// Safe for concurrent use.
type SigCache struct {
	mu    sync.Mutex
	cap   int
	set   map[[32]byte]struct{}
	order [][32]byte
	next  int
}

// NewSigCache returns a cache holding up to capacity entries.
func NewSigCache(capacity int) *SigCache {
	if capacity < 1 {
		capacity = 1
	}
	return &SigCache{cap: capacity, set: make(map[[32]byte]struct{}, capacity)}
}

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
func (c *SigCache) Verify(tx *Tx) error {
	k := sigKey(tx)
	c.mu.Lock()
	_, ok := c.set[k]
	c.mu.Unlock()
	if ok {
		return nil
	}
	if err := tx.VerifySignature(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.set[k]; ok {
		return nil
	}
	if len(c.order) < c.cap {
		c.order = append(c.order, k)
	} else {
		delete(c.set, c.order[c.next])
		c.order[c.next] = k
		c.next = (c.next + 1) % c.cap
	}
	c.set[k] = struct{}{}
	return nil
}

// Len returns the number of cached entries.
func (c *SigCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.set)
}

// VerifyTxs checks every transaction of b: fields for the block's chain and
// signature (through the cache).
func (b *Block) VerifyTxs(sigs *SigCache) error {
	for i, tx := range b.Txs {
		if err := tx.ValidateBasic(b.Header.ChainID); err != nil {
			return fmt.Errorf("%w: tx %d: %w", ErrBadBlock, i, err)
		}
		if err := sigs.Verify(tx); err != nil {
			return fmt.Errorf("%w: tx %d: %w", ErrBadBlock, i, err)
		}
	}
	return nil
}
