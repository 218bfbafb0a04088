package smt

import (
	"crypto/sha256"
	"fmt"
)

// Node encodings (see the package doc).
const (
	tagLeaf     = 0x00
	tagInternal = 0x01
	// NodeSize is the length of every node encoding: a tag byte and two hashes.
	NodeSize = 1 + 2*len(Hash{})
	// MaxDepth is the depth of the deepest possible node (a path has 256 bits).
	MaxDepth = 8 * len(Hash{})
)

// NodeReader gives a stored node's encoding by its hash. A reader that does
// not hold the node returns an error wrapping ErrMissingNode. The tree never
// modifies the returned slice.
type NodeReader interface {
	Node(h Hash) ([]byte, error)
}

// MapNodes is an in-memory NodeReader, handy to collect Update's output.
// It is not safe for concurrent writes.
type MapNodes map[Hash][]byte

// Node returns the encoding stored under h or an error wrapping ErrMissingNode.
func (m MapNodes) Node(h Hash) ([]byte, error) {
	b, ok := m[h]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrMissingNode, h)
	}
	return b, nil
}

// Apply stores created and deletes stale: the output of one Update, for a
// store that keeps only the latest tree.
func (m MapNodes) Apply(created map[Hash][]byte, stale []Hash) {
	for _, h := range stale {
		delete(m, h)
	}
	for h, b := range created {
		m[h] = b
	}
}

// LeafEncoding returns the encoding of the leaf for a key with path path
// whose value hashes to valueHash: 0x00 || path || valueHash.
func LeafEncoding(path, valueHash Hash) []byte {
	b := make([]byte, NodeSize)
	b[0] = tagLeaf
	copy(b[1:33], path[:])
	copy(b[33:], valueHash[:])
	return b
}

// InternalEncoding returns the encoding of an internal node with children
// left and right (either may be Empty): 0x01 || left || right.
func InternalEncoding(left, right Hash) []byte {
	b := make([]byte, NodeSize)
	b[0] = tagInternal
	copy(b[1:33], left[:])
	copy(b[33:], right[:])
	return b
}

// leafHash and internalHash hash an encoding without allocating it.
func leafHash(path, valueHash *Hash) Hash {
	var b [NodeSize]byte
	b[0] = tagLeaf
	copy(b[1:33], path[:])
	copy(b[33:], valueHash[:])
	return sha256.Sum256(b[:])
}

func internalHash(left, right *Hash) Hash {
	var b [NodeSize]byte
	b[0] = tagInternal
	copy(b[1:33], left[:])
	copy(b[33:], right[:])
	return sha256.Sum256(b[:])
}

// node is a decoded node: a leaf (a = path, b = value hash) or an internal
// node (a = left child, b = right child).
type node struct {
	leaf bool
	a, b Hash
}

// readNode reads and checks the node stored under h (h must not be Empty).
func readNode(r NodeReader, h Hash) (node, error) {
	enc, err := r.Node(h)
	if err != nil {
		return node{}, fmt.Errorf("smt: reading node %s: %w", h, err)
	}
	return decodeNode(h, enc)
}

// decodeNode checks that enc is a node encoding hashing to h.
func decodeNode(h Hash, enc []byte) (node, error) {
	if len(enc) != NodeSize {
		return node{}, fmt.Errorf("%w: node %s has %d bytes, want %d", ErrCorruptNode, h, len(enc), NodeSize)
	}
	if enc[0] != tagLeaf && enc[0] != tagInternal {
		return node{}, fmt.Errorf("%w: node %s has tag %#x", ErrCorruptNode, h, enc[0])
	}
	if sha256.Sum256(enc) != h {
		return node{}, fmt.Errorf("%w: node stored under %s does not hash to it", ErrCorruptNode, h)
	}
	n := node{leaf: enc[0] == tagLeaf, a: Hash(enc[1:33]), b: Hash(enc[33:])}
	if !n.leaf && n.a == Empty && n.b == Empty {
		return node{}, fmt.Errorf("%w: internal node %s has two empty children", ErrCorruptNode, h)
	}
	return n, nil
}
