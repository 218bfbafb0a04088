// Package smt owns sixdomain's authenticated state tree: a compact sparse
// Merkle tree over 256-bit key paths (the shape of Diem's and Aptos's
// Jellyfish Merkle tree and of Libra's sparse Merkle tree, with binary
// nodes), its batch update, reads, and membership and non-membership
// proofs with their encodings.
//
// It imports only the standard library, github.com/fxamacker/cbor/v2 (the
// proof encoding) and github.com/ipfs/go-datastore (the DSNodes adapter).
// It knows nothing of blocks, transactions or what keys mean: the ledger
// chooses the keys and values and where the nodes are stored.
//
// # Keys, values and paths
//
// A key is 0..MaxKeyLen (1024) bytes; a value any byte string, the empty
// one included (a nil Op.Value deletes). The tree stores neither: a key's
// path is SHA-256(key), 256 bits read most significant bit first (bit 7 of
// byte 0 is depth 0), bit d = 0 going left and 1 going right at depth d;
// a value is represented by its value hash SHA-256(value).
//
// # Nodes
//
// Every node encoding is 65 bytes, and a node's hash is SHA-256 of its
// encoding:
//
//	leaf      0x00 || path (32 bytes) || value hash (32 bytes)
//	internal  0x01 || left child hash (32 bytes) || right child hash (32 bytes)
//
// The empty subtree has the hash Empty (32 zero bytes) and is never stored;
// an internal node's child may be Empty. The root of the empty tree is
// Empty.
//
// The tree is compact: a subtree that holds exactly one leaf is that leaf
// (placed at the shallowest depth where it is alone), and an internal node
// has at least two leaves below it. So the root of a tree with leaves S at
// a position of depth d is, recursively,
//
//	root(S, d) = Empty                                  if S is empty
//	           = SHA-256(0x00 || path || value hash)    if S is one leaf
//	           = SHA-256(0x01 || root(S0, d+1) || root(S1, d+1))   otherwise
//
// where S0 and S1 are the leaves of S whose path has bit d equal to 0 and
// 1. Two keys whose paths share their first k bits thus get a chain of k
// internal nodes with one Empty child above the node that separates them.
// The root depends only on the set of (key, value) pairs, never on the
// order of updates. A node's position follows from its content, so a node
// hash occurs at most once in a tree.
//
// # Update
//
// Update applies a batch of Ops: it hashes the keys, sorts the batch by
// path, and descends from the root splitting the sorted batch by one path
// bit per level, so that only the subtrees the batch touches are read and
// rewritten: about (changed keys) x log2(keys in the tree) node reads and
// hashes. Inserting a key where a leaf sits splits that leaf down to the
// depth where the two paths diverge; deleting collapses an internal node
// left with a single leaf into that leaf, up to the shallowest depth where
// it is alone. Update returns the new root, the nodes it created (to
// persist) and the old nodes the new tree no longer references (stale).
// Every node that Update, Get and Prove read is checked against the hash
// it was read under, and an internal node at depth 256 is refused
// (ErrCorruptNode), so a damaged store yields an error, not a panic or
// a walk past the end of a path.
//
// Pruning: stale lists what left the tree in one version. A node can come
// back in a later version (a key deleted and later written again with the
// same value and neighbours recreates the same leaf and internal nodes), and
// Update then lists it as created again; a pruner that deletes the stale
// nodes of version v after later versions were written must not delete a
// hash that a version after v created again (or must count references).
//
// # Proofs
//
// Prove walks from the root along the key's path and stops at an empty
// subtree or a leaf, at depth D (0..256). The proof holds the D siblings
// met on the way (Siblings[i] is the child, at depth i+1, of the node at
// depth i that is not on the path; Empty if that subtree is empty) and, if
// the walk ended at a leaf, that leaf's path and value hash. If the leaf's
// path is the key's path the proof shows the key present with that value
// hash (membership); if it is another path sharing the key's first D bits,
// or there is no leaf (an empty subtree), it shows the key absent
// (non-membership).
//
// Verify recomputes the root: start from the leaf's hash (or Empty), and
// for i = D-1 down to 0 hash it with Siblings[i] as an internal node, on the
// left if the key path's bit i is 0 and on the right if it is 1; the result
// must equal the trusted root. A proof whose last sibling (depth D-1) is
// Empty is refused as malformed: no compact tree has that shape.
//
// The encoding of a proof is canonical CBOR (RFC 8949 core deterministic
// encoding) of a 4-element array:
//
//	[ depth,      unsigned integer D, 0..256
//	  bitmap,     byte string of ceil(D/8) bytes: bit i (most significant
//	              bit of byte 0 first) is 1 iff Siblings[i] is not Empty;
//	              the bits after D are 0
//	  siblings,   byte string: the non-Empty siblings' 32-byte hashes
//	              concatenated, in order of depth from the root
//	              (32 x number of 1 bits in bitmap)
//	  leaf ]      byte string: empty if the walk ended at an empty subtree,
//	              otherwise 64 bytes: the leaf's path || value hash
//
// DecodeProof accepts only that encoding: at most MaxProofSize (8,299)
// bytes, checked before decoding; no indefinite lengths or tags; the bytes
// must be the canonical encoding of what they decode to; the bitmap's
// length and unused bits, the siblings' length and the leaf's length must
// agree; a sibling marked non-empty must not be all zero; and the last
// sibling must not be Empty. A proof takes 32 bytes per non-empty sibling,
// ceil(D/8) bytes of bitmap, 64 bytes of leaf if it ended at a leaf, and
// 5 to 13 bytes of CBOR framing; in a tree of n random keys the walk ends
// at a depth of about log2(n).
//
// In JSON a proof is the same fields with hex strings (lowercase):
//
//	{"depth": D, "bitmap": "hex", "siblings": ["hex", ...],
//	 "leaf": {"path": "hex", "value_hash": "hex"} or null}
//
// # Errors
//
// Proof errors all wrap ErrBadProof, and either ErrMalformedProof or
// ErrProofMismatch; the latter is refined by ErrRootMismatch (another
// tree, a stale or a tampered proof), ErrKeyMismatch (a proof about
// another key) and ErrValueMismatch (the key has another value, or is
// absent when a value was claimed, or present when absence was claimed).
// Reading nodes yields ErrMissingNode (wrapped) or ErrCorruptNode.
//
// # Storage
//
// Nodes are read through a NodeReader. MapNodes keeps them in memory;
// DSNodes reads them from a go-datastore under NodeKey(h) = "/" + hex(h),
// inside whatever namespace the caller wraps the datastore in; PutNodes and
// DeleteNodes write Update's output into a batch.
package smt
