// Package identity owns the cryptographic identity of a sixdomain node:
//
//   - Ed25519 key pairs (PublicKey, PrivateKey) and their conversions to
//     go-libp2p keys and peer IDs and to X25519 key-agreement keys;
//   - key files: PEM-encoded PKCS #8 private keys written atomically with
//     mode 0600 and refused when readable by group or others, optionally
//     encrypted under a passphrase (scrypt and XChaCha20-Poly1305);
//   - did:key identifiers (did:key:z6Mk...) for Ed25519 keys, and their
//     mapping to and from libp2p peer IDs;
//   - W3C DID Core documents for those identifiers, in the Multikey
//     representation of the did:key method specification;
//   - signature verification by one rule, ZIP-215, for every Ed25519
//     signature of the system: PublicKey.Verify one at a time, Batch and
//     VerifyBatch many at once (curve25519-voi's cofactored batch
//     equation), with the same verdict for each signature either way;
//   - envelopes: payloads encrypted to the keyAgreement keys of one or more
//     did:key identities with HPKE (RFC 9180) and ChaCha20-Poly1305
//     (Encrypt, Envelope.Decrypt).
//
// A node's peer ID, its DID and its public key are three spellings of the
// same 32 bytes: PublicKey.PeerID, PublicKey.DID, PeerIDToDID, DIDToPeerID,
// ParseDID and PublicKeyFromPeerID convert between them losslessly.
//
// Only Ed25519 is supported. Peer IDs of other key types (RSA, secp256k1,
// ECDSA) and peer IDs that do not inline their public key are refused with
// ErrNotEd25519.
//
// Every function that accepts external input (bytes, strings, files, peer
// IDs) reports malformed input as an error wrapping one of the package's
// sentinel errors and never panics. The zero PrivateKey is not a valid key;
// obtain keys from Generate, FromSeed, ParseSeedHex, FromLibp2p,
// LoadKeyFile or LoadKeyFileWithPassphrase.
//
// This package is a leaf: it imports nothing else from sixdomain, so any
// other package may depend on it.
package identity
