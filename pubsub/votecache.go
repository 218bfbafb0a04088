package pubsub

import (
	"crypto/sha256"
	"sync"

	"github.com/sixdomain/sixdomain/ledger/types"
)

// VoteCache remembers finality votes whose signatures verified, so that
// the same vote arriving again inside certificates (each certificate
// message carries up to types.MaxCertificates links' votes, and every node
// gossips its own) is not verified again. The key is the SHA-256 of the
// vote's whole encoding, signature included, so an entry never vouches for
// another signature. It holds at most its capacity, forgetting the oldest
// first. Safe for concurrent use; a nil cache verifies every time.
type VoteCache struct {
	mu    sync.Mutex
	cap   int
	set   map[[32]byte]struct{}
	order [][32]byte
	next  int
}

// NewVoteCache returns a cache of up to capacity votes.
func NewVoteCache(capacity int) *VoteCache {
	return &VoteCache{cap: max(capacity, 1), set: map[[32]byte]struct{}{}}
}

// Verify checks v's signature, consulting and filling the cache.
func (c *VoteCache) Verify(v *types.FinalityVote) error {
	if c == nil {
		return v.VerifySignature()
	}
	k := sha256.Sum256(v.Encode())
	c.mu.Lock()
	_, ok := c.set[k]
	c.mu.Unlock()
	if ok {
		return nil
	}
	if err := v.VerifySignature(); err != nil {
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
