package merkle

import (
	"crypto/sha256"
	"errors"
	"fmt"
)

// HashSize is the size of every hash in the tree.
const HashSize = sha256.Size

// MaxPathLen bounds the length of an audit path (a tree of 2^64 leaves).
const MaxPathLen = 64

// ErrInvalidProof is returned when an inclusion proof does not lead to the
// expected root.
var ErrInvalidProof = errors.New("merkle: invalid inclusion proof")

// LeafHash returns SHA-256(0x00 || data).
func LeafHash(data []byte) [HashSize]byte {
	h := sha256.New()
	h.Write([]byte{0x00})
	h.Write(data)
	var out [HashSize]byte
	h.Sum(out[:0])
	return out
}

// NodeHash returns SHA-256(0x01 || left || right).
func NodeHash(left, right [HashSize]byte) [HashSize]byte {
	var buf [1 + 2*HashSize]byte
	buf[0] = 0x01
	copy(buf[1:], left[:])
	copy(buf[1+HashSize:], right[:])
	return sha256.Sum256(buf[:])
}

// Root returns the Merkle tree head of the leaves.
func Root(leaves [][]byte) [HashSize]byte {
	if len(leaves) == 0 {
		return sha256.Sum256(nil)
	}
	level := make([][HashSize]byte, len(leaves))
	for i, l := range leaves {
		level[i] = LeafHash(l)
	}
	return rootOfHashes(level)
}

// rootOfHashes folds a level of leaf hashes into the RFC 6962 head. Pairing
// adjacent nodes and promoting an odd last node unchanged yields exactly the
// RFC's split at the largest power of two below n.
func rootOfHashes(level [][HashSize]byte) [HashSize]byte {
	for len(level) > 1 {
		next := make([][HashSize]byte, 0, (len(level)+1)/2)
		for i := 0; i+1 < len(level); i += 2 {
			next = append(next, NodeHash(level[i], level[i+1]))
		}
		if len(level)%2 == 1 {
			next = append(next, level[len(level)-1])
		}
		level = next
	}
	return level[0]
}

// Path returns the audit path for leaf index in a tree of the given leaves
// (RFC 6962 section 2.1.1), ordered from the leaf level up.
func Path(leaves [][]byte, index int) ([][HashSize]byte, error) {
	if index < 0 || index >= len(leaves) {
		return nil, fmt.Errorf("merkle: index %d out of range for %d leaves", index, len(leaves))
	}
	level := make([][HashSize]byte, len(leaves))
	for i, l := range leaves {
		level[i] = LeafHash(l)
	}
	var path [][HashSize]byte
	for len(level) > 1 {
		sibling := index ^ 1
		if sibling < len(level) {
			path = append(path, level[sibling])
		}
		next := make([][HashSize]byte, 0, (len(level)+1)/2)
		for i := 0; i+1 < len(level); i += 2 {
			next = append(next, NodeHash(level[i], level[i+1]))
		}
		if len(level)%2 == 1 {
			next = append(next, level[len(level)-1])
		}
		level = next
		index /= 2
	}
	return path, nil
}

// RootFromPath recomputes the tree head from a leaf's data, its index, the
// tree size and its audit path (RFC 9162 section 2.1.3.2).
func RootFromPath(leaf []byte, index, size uint64, path [][HashSize]byte) ([HashSize]byte, error) {
	var zero [HashSize]byte
	if index >= size {
		return zero, fmt.Errorf("%w: index %d not below tree size %d", ErrInvalidProof, index, size)
	}
	if len(path) > MaxPathLen {
		return zero, fmt.Errorf("%w: path of %d hashes is too long", ErrInvalidProof, len(path))
	}
	fn, sn := index, size-1
	r := LeafHash(leaf)
	for _, p := range path {
		if sn == 0 {
			return zero, fmt.Errorf("%w: path longer than the tree is deep", ErrInvalidProof)
		}
		if fn&1 == 1 || fn == sn {
			r = NodeHash(p, r)
			if fn&1 == 0 {
				// Skip the levels where this node was promoted unchanged:
				// repeat the shift until fn is odd or zero.
				for {
					fn >>= 1
					sn >>= 1
					if fn&1 == 1 || fn == 0 {
						break
					}
				}
			}
		} else {
			r = NodeHash(r, p)
		}
		fn >>= 1
		sn >>= 1
	}
	if sn != 0 {
		return zero, fmt.Errorf("%w: path shorter than the tree is deep", ErrInvalidProof)
	}
	return r, nil
}

// Verify checks that leaf sits at index in the tree of the given size whose
// head is root.
func Verify(root [HashSize]byte, leaf []byte, index, size uint64, path [][HashSize]byte) error {
	got, err := RootFromPath(leaf, index, size, path)
	if err != nil {
		return err
	}
	if got != root {
		return fmt.Errorf("%w: path leads to a different root", ErrInvalidProof)
	}
	return nil
}
