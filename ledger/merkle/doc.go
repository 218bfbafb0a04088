// Package merkle implements the binary Merkle tree of RFC 6962 / RFC 9162
// (Certificate Transparency) over a list of byte strings: the tree head,
// inclusion (audit) paths and their verification.
//
// Leaves are hashed as SHA-256(0x00 || data) and interior nodes as
// SHA-256(0x01 || left || right), so that a leaf can never be passed off as
// an interior node (second-preimage resistance). The head of the empty tree
// is SHA-256 of the empty string.
//
// The package imports only the standard library; anything that needs a
// transaction root or an offline inclusion check uses it.
package merkle
