// Package types defines what travels between sixdomain peers and what the
// ledger stores: transactions, data records, block headers, blocks, the
// genesis document and transaction inclusion proofs, together with their one
// canonical binary encoding.
//
// Everything that is signed or hashed is encoded as CBOR in the core
// deterministic profile (RFC 8949 section 4.2.1): definite lengths, shortest
// integer forms, no tags, no floats, no maps. Structures are CBOR arrays
// whose element order is fixed by their Go field order; docs/ENCODING.md
// documents them field by field for other implementations. Decoders bound
// the input size before decoding, forbid indefinite lengths and tags, and
// re-encode what they decoded to insist that the input was canonical, so a
// value has exactly one encoding and therefore exactly one hash.
//
// The package owns the stateless checks of a transaction (size, encoding,
// chain ID, fields, signature, timestamp window). State-dependent checks
// (nonces) belong to package ledger, proposer rules to package consensus.
//
// Imports: the standard library, fxamacker/cbor, go-toml, and from
// sixdomain only identity and ledger/merkle.
package types
