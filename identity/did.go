package identity

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/libp2p/go-libp2p/core/crypto/pb"
	"github.com/libp2p/go-libp2p/core/peer"
)

// did:key encoding (https://w3c-ccg.github.io/did-method-key/):
//
//	did:key:z<base58btc(multicodec-varint || raw public key)>
//
// 'z' is the multibase prefix of base58btc. The multicodec for an Ed25519
// public key is ed25519-pub (0xed, varint 0xed 0x01), which makes every
// Ed25519 did:key start with "did:key:z6Mk"; x25519-pub (0xec, varint
// 0xec 0x01) makes X25519 keys start with "z6LS".
const (
	didKeyPrefix     = "did:key:"
	multibaseBase58  = 'z'
	codecEd25519Pub  = 0xed
	codecX25519Pub   = 0xec
	maxDIDLength     = 128 // a valid Ed25519 did:key is 56 characters
	base58Alphabet   = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
	invalidBase58Chr = 0xff
)

// ed25519PubPrefix is the varint encoding of the ed25519-pub multicodec.
var ed25519PubPrefix = binary.AppendUvarint(nil, codecEd25519Pub)

// multikey returns the base58btc multibase encoding of key prefixed by the
// two-byte varint of a multicodec below 0x4000 (such as 0xed or 0xec).
func multikey(codec uint16, key []byte) string {
	b := binary.AppendUvarint(make([]byte, 0, 2+len(key)), uint64(codec))
	b = append(b, key...)
	return string(multibaseBase58) + encodeBase58(b)
}

// DID returns the did:key identifier of p, "did:key:z6Mk" followed by 44
// more base58 characters.
func (p PublicKey) DID() string {
	return didKeyPrefix + multikey(codecEd25519Pub, p[:])
}

// ParseDID parses an Ed25519 did:key identifier. The input must be a bare
// DID (no path, query or fragment). Errors wrap ErrMalformedDID and say
// which part is wrong: method, multibase, base58 encoding, multicodec,
// key length, or a key that is not a curve point.
func ParseDID(did string) (PublicKey, error) {
	var p PublicKey
	if len(did) > maxDIDLength {
		return p, fmt.Errorf("%w: %d characters is longer than the %d allowed", ErrMalformedDID, len(did), maxDIDLength)
	}
	rest, ok := strings.CutPrefix(did, "did:")
	if !ok {
		return p, fmt.Errorf("%w: %q does not start with \"did:\"", ErrMalformedDID, did)
	}
	method, id, _ := strings.Cut(rest, ":")
	if method != "key" {
		return p, fmt.Errorf("%w: wrong method %q, want \"key\"", ErrMalformedDID, method)
	}
	if id == "" {
		return p, fmt.Errorf("%w: empty method-specific identifier", ErrMalformedDID)
	}
	if i := strings.IndexAny(id, "/?#"); i >= 0 {
		return p, fmt.Errorf("%w: DID URL with path, query or fragment (%q at offset %d) where a bare DID is expected", ErrMalformedDID, id[i], len(did)-len(id)+i)
	}
	if id[0] != multibaseBase58 {
		return p, fmt.Errorf("%w: wrong multibase prefix %q, want 'z' (base58btc)", ErrMalformedDID, id[0])
	}
	b, err := decodeBase58(id[1:])
	if err != nil {
		return p, fmt.Errorf("%w: bad base58 after the 'z' prefix: %v", ErrMalformedDID, err)
	}
	// Compare the exact varint bytes, so that non-minimal varint encodings
	// of 0xed (which would break round-tripping) are refused too.
	if !bytes.HasPrefix(b, ed25519PubPrefix) {
		switch code, n := binary.Uvarint(b); {
		case n <= 0:
			return p, fmt.Errorf("%w: wrong multicodec: no valid varint, want ed25519-pub (0xed)", ErrMalformedDID)
		case code == codecEd25519Pub:
			return p, fmt.Errorf("%w: wrong multicodec: non-minimal varint encoding of ed25519-pub (0xed)", ErrMalformedDID)
		default:
			return p, fmt.Errorf("%w: wrong multicodec 0x%x, want ed25519-pub (0xed)", ErrMalformedDID, code)
		}
	}
	if n := len(b) - len(ed25519PubPrefix); n != len(p) {
		return p, fmt.Errorf("%w: wrong length: ed25519-pub key has %d bytes, want %d", ErrMalformedDID, n, len(p))
	}
	p, err = PublicKeyFromBytes(b[len(ed25519PubPrefix):])
	if err != nil {
		return p, fmt.Errorf("%w: ed25519-pub key is not a point on edwards25519", ErrMalformedDID)
	}
	return p, nil
}

// PublicKeyFromPeerID extracts the Ed25519 public key inlined in a libp2p
// peer ID. It fails with ErrNotEd25519 for peer IDs of other key types and
// for peer IDs that carry only a hash of their key.
func PublicKeyFromPeerID(id peer.ID) (PublicKey, error) {
	pk, err := id.ExtractPublicKey()
	if errors.Is(err, peer.ErrNoPublicKey) {
		return PublicKey{}, fmt.Errorf("%w: peer ID %s does not inline its public key", ErrNotEd25519, id)
	}
	if err != nil {
		return PublicKey{}, fmt.Errorf("identity: invalid peer ID %q: %w", id, err)
	}
	if t := pk.Type(); t != pb.KeyType_Ed25519 {
		return PublicKey{}, fmt.Errorf("%w: peer ID %s has a %s key", ErrNotEd25519, id, t)
	}
	raw, err := pk.Raw()
	if err != nil {
		return PublicKey{}, fmt.Errorf("identity: reading key of peer ID %s: %w", id, err)
	}
	return PublicKeyFromBytes(raw)
}

// PeerIDToDID returns the did:key identifier of the Ed25519 key inlined in
// a libp2p peer ID. Errors are those of PublicKeyFromPeerID.
func PeerIDToDID(id peer.ID) (string, error) {
	p, err := PublicKeyFromPeerID(id)
	if err != nil {
		return "", err
	}
	return p.DID(), nil
}

// DIDToPeerID returns the libp2p peer ID of an Ed25519 did:key identifier.
// Errors are those of ParseDID.
func DIDToPeerID(did string) (peer.ID, error) {
	p, err := ParseDID(did)
	if err != nil {
		return "", err
	}
	return p.PeerID(), nil
}

// base58Index maps an ASCII byte to its base58 digit, or invalidBase58Chr.
var base58Index = func() (t [256]byte) {
	for i := range t {
		t[i] = invalidBase58Chr
	}
	for i := range len(base58Alphabet) {
		t[base58Alphabet[i]] = byte(i)
	}
	return t
}()

// encodeBase58 encodes b with the Bitcoin base58 alphabet. Leading zero
// bytes become leading '1's. It is quadratic, which is fine for keys.
func encodeBase58(b []byte) string {
	zeros := 0
	for zeros < len(b) && b[zeros] == 0 {
		zeros++
	}
	// log(256)/log(58) < 1.38: enough base58 digits for the rest.
	digits := make([]byte, (len(b)-zeros)*138/100+1)
	n := 0 // significant digits so far, stored little-endian
	for _, c := range b[zeros:] {
		carry := int(c)
		for i := 0; i < n || carry != 0; i++ {
			carry += int(digits[i]) << 8
			digits[i] = byte(carry % 58)
			carry /= 58
			n = max(n, i+1)
		}
	}
	out := make([]byte, zeros+n)
	for i := range zeros {
		out[i] = base58Alphabet[0]
	}
	for i := range n {
		out[zeros+i] = base58Alphabet[digits[n-1-i]]
	}
	return string(out)
}

// decodeBase58 is the inverse of encodeBase58. It is exact: if it returns
// b for s, encodeBase58(b) == s. Callers bound the length of s.
func decodeBase58(s string) ([]byte, error) {
	if s == "" {
		return nil, errors.New("empty string")
	}
	zeros := 0
	for zeros < len(s) && s[zeros] == base58Alphabet[0] {
		zeros++
	}
	// log(58)/log(256) < 0.74: enough bytes for the rest.
	buf := make([]byte, (len(s)-zeros)*74/100+1)
	n := 0 // significant bytes so far, stored little-endian
	for i := zeros; i < len(s); i++ {
		d := base58Index[s[i]]
		if d == invalidBase58Chr {
			return nil, fmt.Errorf("invalid character %q at offset %d", s[i], i)
		}
		carry := int(d)
		for j := 0; j < n || carry != 0; j++ {
			carry += int(buf[j]) * 58
			buf[j] = byte(carry)
			carry >>= 8
			n = max(n, j+1)
		}
	}
	out := make([]byte, zeros+n)
	for i := range n {
		out[zeros+i] = buf[n-1-i]
	}
	return out, nil
}
