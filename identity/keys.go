package identity

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"

	"filippo.io/edwards25519"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/crypto/pb"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Sentinel errors. Errors returned by this package wrap one of these (test
// with errors.Is) and add a specific reason.
var (
	// ErrBadPublicKey reports bytes that are not an Ed25519 public key.
	ErrBadPublicKey = errors.New("identity: bad Ed25519 public key")
	// ErrBadSeed reports a private key seed of the wrong size or encoding.
	ErrBadSeed = errors.New("identity: bad Ed25519 seed")
	// ErrNotEd25519 reports a key, peer ID or key file of another key type.
	ErrNotEd25519 = errors.New("identity: not an Ed25519 key")
	// ErrMalformedDID reports a string that is not an Ed25519 did:key.
	ErrMalformedDID = errors.New("identity: malformed did:key")
	// ErrInsecurePermissions reports a key file readable or writable by
	// group or others.
	ErrInsecurePermissions = errors.New("identity: insecure key file permissions")
	// ErrKeyExists reports an attempt to overwrite an existing key file.
	ErrKeyExists = errors.New("identity: key file already exists")
)

// PublicKey is a raw 32-byte Ed25519 public key (RFC 8032 encoding).
//
// Values obtained from PublicKeyFromBytes, ParseDID or PublicKeyFromPeerID
// are known to encode a point on the curve. A PublicKey built by hand may
// not; Verify then returns false and X25519 an error.
type PublicKey [ed25519.PublicKeySize]byte

// PublicKeyFromBytes returns the public key encoded in b. It fails with
// ErrBadPublicKey unless b is 32 bytes encoding a point on edwards25519.
func PublicKeyFromBytes(b []byte) (PublicKey, error) {
	var p PublicKey
	if len(b) != len(p) {
		return p, fmt.Errorf("%w: got %d bytes, want %d", ErrBadPublicKey, len(b), len(p))
	}
	if _, err := new(edwards25519.Point).SetBytes(b); err != nil {
		return p, fmt.Errorf("%w: not a point on edwards25519", ErrBadPublicKey)
	}
	copy(p[:], b)
	return p, nil
}

// Bytes returns a copy of the 32 key bytes.
func (p PublicKey) Bytes() []byte {
	return append([]byte(nil), p[:]...)
}

// Verify reports whether sig is a valid Ed25519 signature of msg by p under
// the ZIP-215 rule (see verify.go and docs/PROTOCOL.md, "Signature
// verification rule"): the one rule every signature of the system is judged
// by, single or in a Batch. It returns false, rather than panicking, for
// signatures of the wrong size.
func (p PublicKey) Verify(msg, sig []byte) bool {
	if len(sig) != ed25519.SignatureSize {
		return false
	}
	return verifyZIP215(p, msg, sig)
}

// String returns the did:key form of p, as DID does.
func (p PublicKey) String() string {
	return p.DID()
}

// Libp2p returns p as a go-libp2p public key.
func (p PublicKey) Libp2p() crypto.PubKey {
	// UnmarshalEd25519PublicKey only fails on a length other than 32, and it
	// keeps the slice it is given, so hand it a fresh copy.
	k, err := crypto.UnmarshalEd25519PublicKey(p.Bytes())
	if err != nil {
		panic("identity: unreachable: " + err.Error())
	}
	return k
}

// PeerID returns the libp2p peer ID of p. Ed25519 keys are short enough to be
// inlined, so the peer ID is the identity multihash of the protobuf-encoded
// libp2p public key, and the key can be recovered from it.
func (p PublicKey) PeerID() peer.ID {
	// Spelled out rather than via peer.IDFromPublicKey so the result does not
	// depend on the mutable peer.AdvancedEnableInlining global:
	//
	//	0x00 0x24  multihash: identity, 36-byte digest
	//	0x08 0x01  protobuf field 1 (Type), varint KeyType_Ed25519
	//	0x12 0x20  protobuf field 2 (Data), 32 bytes
	b := make([]byte, 0, 6+len(p))
	b = append(b, 0x00, 0x24, 0x08, byte(pb.KeyType_Ed25519), 0x12, 0x20)
	b = append(b, p[:]...)
	return peer.ID(b)
}

// X25519 returns the X25519 (RFC 7748) public key corresponding to p: the
// Montgomery u-coordinate of the birationally equivalent point. It fails
// with ErrBadPublicKey if p does not encode a point on the curve.
func (p PublicKey) X25519() ([]byte, error) {
	pt, err := new(edwards25519.Point).SetBytes(p[:])
	if err != nil {
		return nil, fmt.Errorf("%w: not a point on edwards25519", ErrBadPublicKey)
	}
	return pt.BytesMontgomery(), nil
}

// PrivateKey is an Ed25519 private key. The zero value is not a usable key.
//
// Its String and GoString methods never print key material, so a key can
// not leak through fmt or a logger by accident.
type PrivateKey struct {
	k ed25519.PrivateKey
}

// Generate returns a new key whose 32-byte seed is read from r, or from
// crypto/rand if r is nil. Unlike crypto/ed25519.GenerateKey since Go 1.26,
// a non-nil r is always honoured, so a deterministic reader gives a
// deterministic key (useful in tests).
func Generate(r io.Reader) (*PrivateKey, error) {
	if r == nil {
		r = rand.Reader
	}
	seed := make([]byte, ed25519.SeedSize)
	if _, err := io.ReadFull(r, seed); err != nil {
		return nil, fmt.Errorf("identity: reading key seed: %w", err)
	}
	return FromSeed(seed)
}

// FromSeed returns the key derived from a 32-byte RFC 8032 seed (the form
// stored by Seed). It fails with ErrBadSeed for any other length.
func FromSeed(seed []byte) (*PrivateKey, error) {
	if len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("%w: got %d bytes, want %d", ErrBadSeed, len(seed), ed25519.SeedSize)
	}
	return &PrivateKey{k: ed25519.NewKeyFromSeed(seed)}, nil
}

// ParseSeedHex parses a seed written as 64 hex digits, optionally prefixed
// by 0x and surrounded by white space. Errors wrap ErrBadSeed and never
// echo the (secret) input.
func ParseSeedHex(s string) (*PrivateKey, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X") {
		s = s[2:]
	}
	if want := 2 * ed25519.SeedSize; len(s) != want {
		return nil, fmt.Errorf("%w: got %d hex digits, want %d", ErrBadSeed, len(s), want)
	}
	for i := range len(s) {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return nil, fmt.Errorf("%w: non-hex character at offset %d", ErrBadSeed, i)
		}
	}
	seed, err := hex.DecodeString(s)
	if err != nil { // unreachable after the checks above
		return nil, fmt.Errorf("%w: not hex", ErrBadSeed)
	}
	return FromSeed(seed)
}

// FromLibp2p converts a go-libp2p private key. It fails with ErrNotEd25519
// for keys of other types, and rejects Ed25519 keys whose embedded public
// half does not match their seed.
func FromLibp2p(k crypto.PrivKey) (*PrivateKey, error) {
	if k == nil {
		return nil, fmt.Errorf("%w: nil key", ErrNotEd25519)
	}
	if t := k.Type(); t != pb.KeyType_Ed25519 {
		return nil, fmt.Errorf("%w: libp2p key type is %s", ErrNotEd25519, t)
	}
	raw, err := k.Raw()
	if err != nil {
		return nil, fmt.Errorf("identity: reading libp2p key: %w", err)
	}
	// libp2p stores seed||public (64 bytes); very old keys repeat the public
	// half (96 bytes).
	if len(raw) != ed25519.PrivateKeySize && len(raw) != ed25519.PrivateKeySize+ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: libp2p Ed25519 key has %d bytes", ErrBadSeed, len(raw))
	}
	key, err := FromSeed(raw[:ed25519.SeedSize])
	if err != nil {
		return nil, err
	}
	pub := key.Public()
	if string(pub[:]) != string(raw[ed25519.SeedSize:ed25519.PrivateKeySize]) {
		return nil, fmt.Errorf("%w: libp2p key's public half does not match its seed", ErrBadSeed)
	}
	return key, nil
}

// Public returns the public half of k.
func (k *PrivateKey) Public() PublicKey {
	var p PublicKey
	copy(p[:], k.k[ed25519.SeedSize:])
	return p
}

// Sign returns the Ed25519 signature of msg (RFC 8032, pure Ed25519).
func (k *PrivateKey) Sign(msg []byte) []byte {
	return ed25519.Sign(k.k, msg)
}

// Seed returns a copy of the 32-byte RFC 8032 seed from which k is derived.
func (k *PrivateKey) Seed() []byte {
	return k.k.Seed()
}

// Libp2p returns k as a go-libp2p private key.
func (k *PrivateKey) Libp2p() crypto.PrivKey {
	// Only fails on a bad length, i.e. on the zero PrivateKey.
	lk, err := crypto.UnmarshalEd25519PrivateKey(append([]byte(nil), k.k...))
	if err != nil {
		panic("identity: use of an invalid PrivateKey: " + err.Error())
	}
	return lk
}

// X25519 returns the X25519 private scalar corresponding to k, as
// RFC 8032 §5.1.5 derives the Ed25519 scalar: the first 32 bytes of
// SHA-512(seed), clamped per RFC 7748. Its X25519 public key equals
// k.Public().X25519(), so it can be used with crypto/ecdh.X25519.
func (k *PrivateKey) X25519() ([]byte, error) {
	if len(k.k) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("%w: invalid PrivateKey", ErrBadSeed)
	}
	h := sha512.Sum512(k.k.Seed())
	defer clear(h[:])
	s := append([]byte(nil), h[:32]...)
	s[0] &= 248
	s[31] &= 127
	s[31] |= 64
	return s, nil
}

// String describes k by its DID without revealing any key material.
func (k *PrivateKey) String() string {
	if k == nil || len(k.k) != ed25519.PrivateKeySize {
		return "identity.PrivateKey(invalid)"
	}
	return "identity.PrivateKey(" + k.Public().DID() + ")"
}

// GoString is like String, so that %#v does not print the key either.
func (k *PrivateKey) GoString() string {
	return k.String()
}
