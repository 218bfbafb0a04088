package smt

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
)

// Hash is a SHA-256 digest: a node hash, a key's path or a value hash.
type Hash [32]byte

// Empty is the all-zero hash: the root of the empty tree and the hash of
// every empty subtree. It is never stored.
var Empty Hash

// String returns h as 64 lowercase hex digits.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// IsEmpty reports whether h is Empty.
func (h Hash) IsEmpty() bool { return h == Empty }

// MarshalText encodes h as 64 lowercase hex digits.
func (h Hash) MarshalText() ([]byte, error) { return hex.AppendEncode(nil, h[:]), nil }

// UnmarshalText decodes exactly 64 hex digits; anything else is ErrBadHash.
func (h *Hash) UnmarshalText(b []byte) error {
	if len(b) != 2*len(h) {
		return fmt.Errorf("%w: %d characters, want %d hex digits", ErrBadHash, len(b), 2*len(h))
	}
	var out Hash
	if _, err := hex.Decode(out[:], b); err != nil {
		return fmt.Errorf("%w: %v", ErrBadHash, err)
	}
	*h = out
	return nil
}

// ParseHash decodes 64 hex digits.
func ParseHash(s string) (Hash, error) {
	var h Hash
	err := h.UnmarshalText([]byte(s))
	return h, err
}

// KeyPath returns the path of key in the tree: SHA-256(key).
func KeyPath(key []byte) Hash { return sha256.Sum256(key) }

// HashValue returns what the tree stores for value: SHA-256(value).
func HashValue(value []byte) Hash { return sha256.Sum256(value) }

// bit returns bit i (0 = most significant bit of byte 0) of h.
func bit(h *Hash, i int) byte { return (h[i>>3] >> (7 - uint(i&7))) & 1 }

// samePrefix reports whether a and b agree on their first n bits.
func samePrefix(a, b *Hash, n int) bool {
	full := n >> 3
	for i := 0; i < full; i++ {
		if a[i] != b[i] {
			return false
		}
	}
	if rem := n & 7; rem != 0 {
		mask := byte(0xff) << (8 - uint(rem))
		return (a[full]^b[full])&mask == 0
	}
	return true
}
