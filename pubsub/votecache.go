package pubsub

import (
	"crypto/sha256"

	"github.com/sixdomain/sixdomain/ledger/types"
)

// VoteCache remembers finality votes whose signatures verified, so that
// the same vote arriving again inside certificates (each certificate
// message carries up to types.MaxCertificates links' votes, and every node
// gossips its own) is not verified again. The key is the SHA-256 of the
// vote's whole encoding, signature included, so an entry never vouches for
// another signature. It holds at most its capacity, forgetting the oldest
// first. Safe for concurrent use; a nil cache verifies every time.
type VoteCache struct{ set *types.VerifiedSet }

// NewVoteCache returns a cache of up to capacity votes.
func NewVoteCache(capacity int) *VoteCache { return &VoteCache{set: types.NewVerifiedSet(capacity)} }

// Verify checks v's signature, consulting and filling the cache.
func (c *VoteCache) Verify(v *types.FinalityVote) error {
	if c == nil {
		return v.VerifySignature()
	}
	return c.set.Check(sha256.Sum256(v.Encode()), v.VerifySignature)
}
