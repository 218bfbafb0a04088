package smt

import (
	"errors"
	"fmt"
)

// Errors. Every error of Verify, VerifyHash, DecodeProof and
// Proof.UnmarshalJSON wraps ErrBadProof, and exactly one of
// ErrMalformedProof (the bytes or the structure are not a canonical proof)
// and ErrProofMismatch (a well-formed proof that does not prove the claim
// against that root). ErrProofMismatch is refined by ErrRootMismatch,
// ErrKeyMismatch and ErrValueMismatch, which wrap it.
var (
	// ErrMissingNode: a NodeReader does not hold the node asked for.
	ErrMissingNode = errors.New("smt: missing node")
	// ErrCorruptNode: a stored node is not a valid encoding, does not hash
	// to the hash it was read under, or breaks the tree's shape.
	ErrCorruptNode = errors.New("smt: corrupt node")
	// ErrKeyTooLong: a key is longer than MaxKeyLen bytes.
	ErrKeyTooLong = errors.New("smt: key too long")
	// ErrDuplicateKey: one Update batch holds the same key twice.
	ErrDuplicateKey = errors.New("smt: duplicate key in batch")
	// ErrBadHash: text that is not 64 hex digits where a hash was expected.
	ErrBadHash = errors.New("smt: bad hash")

	// ErrBadProof: a proof was refused (the root of all proof errors).
	ErrBadProof = errors.New("smt: bad proof")
	// ErrMalformedProof: not a canonical, well-formed proof (undecodable,
	// oversize, non-canonical encoding, inconsistent bitmap, depth > 256,
	// a shape no compact tree has).
	ErrMalformedProof = fmt.Errorf("%w: malformed", ErrBadProof)
	// ErrProofMismatch: a well-formed proof that does not prove the claim.
	ErrProofMismatch = fmt.Errorf("%w: mismatch", ErrBadProof)
	// ErrRootMismatch: the proof recomputes another root than the one given
	// (a proof of another tree, a stale or a tampered proof).
	ErrRootMismatch = fmt.Errorf("%w: root mismatch", ErrProofMismatch)
	// ErrKeyMismatch: the proof is not about this key (its leaf's path does
	// not lie on the key's path).
	ErrKeyMismatch = fmt.Errorf("%w: key mismatch", ErrProofMismatch)
	// ErrValueMismatch: the proof is about this key but shows another value,
	// shows the key absent when a value was claimed, or present when absence
	// was claimed.
	ErrValueMismatch = fmt.Errorf("%w: value mismatch", ErrProofMismatch)
)
