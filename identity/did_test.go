package identity

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"strings"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/mr-tron/base58"
)

// Examples from the did:key method specification and its test suites.
const (
	// specDID is the Ed25519 example of the did:key specification; its
	// document lists specX25519 as the keyAgreement key.
	specDID    = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"
	specX25519 = "z6LSj72tK8brWgZja8NLRwPigth2T9QRiG1uH9oKZuKjdh9p"
)

// didOf spells arbitrary bytes as a did:key, valid or not.
func didOf(b []byte) string {
	return "did:key:z" + encodeBase58(b)
}

func TestDIDRoundTrip(t *testing.T) {
	for range 200 {
		p := mustGenerate(t).Public()

		did := p.DID()
		if !strings.HasPrefix(did, "did:key:z6Mk") || len(did) != 56 {
			t.Fatalf("DID %q: want did:key:z6Mk... of 56 characters", did)
		}
		if got, err := ParseDID(did); err != nil || got != p {
			t.Fatalf("ParseDID(%s) = %v, %v; want %v", did, got, err, p)
		}

		id := p.PeerID()
		if want, _ := peer.IDFromPublicKey(p.Libp2p()); id != want {
			t.Fatalf("PeerID = %s, want %s", id, want)
		}
		if decoded, err := peer.Decode(id.String()); err != nil || decoded != id {
			t.Fatalf("peer.Decode(%s) = %s, %v", id, decoded, err)
		}
		if got, err := PeerIDToDID(id); err != nil || got != did {
			t.Fatalf("PeerIDToDID(%s) = %s, %v; want %s", id, got, err, did)
		}
		if got, err := DIDToPeerID(did); err != nil || got != id {
			t.Fatalf("DIDToPeerID(%s) = %s, %v; want %s", did, got, err, id)
		}
		if got, err := PublicKeyFromPeerID(id); err != nil || got != p {
			t.Fatalf("PublicKeyFromPeerID(%s) = %v, %v; want %v", id, got, err, p)
		}
	}
}

func TestSpecX25519KeyAgreement(t *testing.T) {
	tests := []struct {
		did, x25519                 string
		ed25519Base58, x25519Base58 string // raw keys, where published
	}{
		{did: specDID, x25519: specX25519},
		{
			// From the did:key test fixtures of Hyperledger Aries (ACA-Py).
			did:           "did:key:z6MkmjY8GnV5i9YTDtPETC2uUAW6ejw3nk5mXF5yci5ab7th",
			x25519:        "z6LShpNhGwSupbB7zjuivH156vhLJBDDzmQtA4BY9S94pe1K",
			ed25519Base58: "8HH5gYEeNc3z7PYXmd54d4x6qAfCNrqQqEB3nS7Zfu7K",
			x25519Base58:  "79CXkde3j8TNuMXxPdV7nLUrT2g7JAEjH5TreyVY7GEZ",
		},
	}
	for _, tt := range tests {
		p, err := ParseDID(tt.did)
		if err != nil {
			t.Fatal(err)
		}
		if p.DID() != tt.did {
			t.Errorf("DID() = %s, want %s", p.DID(), tt.did)
		}
		x, err := p.X25519()
		if err != nil {
			t.Fatal(err)
		}
		if got := multikey(codecX25519Pub, x); got != tt.x25519 {
			t.Errorf("%s: X25519 multikey = %s, want %s", tt.did, got, tt.x25519)
		}
		if tt.ed25519Base58 != "" {
			if got := encodeBase58(p[:]); got != tt.ed25519Base58 {
				t.Errorf("%s: Ed25519 key base58 = %s, want %s", tt.did, got, tt.ed25519Base58)
			}
			if got := encodeBase58(x); got != tt.x25519Base58 {
				t.Errorf("%s: X25519 key base58 = %s, want %s", tt.did, got, tt.x25519Base58)
			}
		}
	}
}

func TestParseDIDMalformed(t *testing.T) {
	valid, err := PublicKeyFromBytes(mustHex(t, rfc8032Vectors[0].pub))
	if err != nil {
		t.Fatal(err)
	}
	withPrefix := func(prefix ...byte) []byte { return append(prefix, valid[:]...) }
	notAPoint := make([]byte, 32)
	notAPoint[0] = 2
	good := valid.DID()

	tests := []struct {
		name, did, reason string
	}{
		{"empty", "", `does not start with "did:"`},
		{"bare multibase key", good[len("did:key:"):], `does not start with "did:"`},
		{"too long", "did:key:z" + strings.Repeat("6", 200), "longer than the 128 allowed"},
		{"other method", "did:web:example.com", `wrong method "web"`},
		{"method is case sensitive", "did:KEY:" + good[8:], `wrong method "KEY"`},
		{"method without id", "did:key", "empty method-specific identifier"},
		{"empty id", "did:key:", "empty method-specific identifier"},
		{"fragment", good + "#" + good[8:], "DID URL"},
		{"query", good + "?service=x", "DID URL"},
		{"path", good + "/path", "DID URL"},
		{"multibase base16", "did:key:fed01" + strings.Repeat("00", 32), "wrong multibase prefix 'f'"},
		{"multibase upper Z", "did:key:Z" + good[9:], "wrong multibase prefix 'Z'"},
		{"multibase base64url", "did:key:u7QE", "wrong multibase prefix 'u'"},
		{"only multibase prefix", "did:key:z", "bad base58"},
		{"base58 zero", "did:key:z6Mk0" + good[13:], "bad base58 after the 'z' prefix: invalid character '0'"},
		{"base58 capital O", "did:key:z6MkO" + good[13:], "bad base58 after the 'z' prefix: invalid character 'O'"},
		{"base58 capital I", "did:key:z6MkI" + good[13:], "invalid character 'I'"},
		{"base58 small l", "did:key:z6Mkl" + good[13:], "invalid character 'l'"},
		{"base58 non-ASCII", "did:key:z6Mk\u00e9" + good[14:], "bad base58"},
		{"base58 space", "did:key:z6Mk " + good[13:], "bad base58"},
		{"x25519-pub", "did:key:z6LShLeXRTzevtwcfehaGEzCMyL3bNsAeKCwcqwJxyCo63yE", "wrong multicodec 0xec"},
		{"secp256k1-pub", "did:key:zQ3shokFTS3brHcDQrn82RUDfCZESWL1ZdCEJwekUDPQiYBme", "wrong multicodec 0xe7"},
		{"p256-pub", "did:key:zDnaerx9CtbPJ1q36T5Ln5wYt3MQYeGRG5ehnPAmxcf5mDZpv", "wrong multicodec 0x1200"},
		{"raw key, no multicodec", didOf(withPrefix()), "wrong multicodec"},
		{"leading zero byte", didOf(withPrefix(0, 0xed, 0x01)), "wrong multicodec 0x0"},
		{"non-minimal varint", didOf(withPrefix(0xed, 0x81, 0x00)), "non-minimal"},
		{"bad varint", didOf(bytes.Repeat([]byte{0xff}, 12)), "no valid varint"},
		{"one byte", didOf([]byte{0xed}), "wrong multicodec"},
		{"no key", didOf([]byte{0xed, 0x01}), "key has 0 bytes, want 32"},
		{"short key", didOf(withPrefix(0xed, 0x01)[:33]), "key has 31 bytes, want 32"},
		{"long key", didOf(append(withPrefix(0xed, 0x01), 0)), "key has 33 bytes, want 32"},
		{"not a curve point", didOf(append([]byte{0xed, 0x01}, notAPoint...)), "not a point"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseDID(tt.did)
			if !errors.Is(err, ErrMalformedDID) {
				t.Fatalf("ParseDID(%q) error = %v, want ErrMalformedDID", tt.did, err)
			}
			if !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("ParseDID(%q) error %q does not say %q", tt.did, err, tt.reason)
			}
			if _, err := DIDToPeerID(tt.did); !errors.Is(err, ErrMalformedDID) {
				t.Errorf("DIDToPeerID(%q) error = %v, want ErrMalformedDID", tt.did, err)
			}
			if _, err := ResolveKeyDocument(tt.did); !errors.Is(err, ErrMalformedDID) {
				t.Errorf("ResolveKeyDocument(%q) error = %v, want ErrMalformedDID", tt.did, err)
			}
		})
	}
}

func TestPeerIDNotEd25519(t *testing.T) {
	_, secpPub, err := crypto.GenerateSecp256k1Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, ecPub, err := crypto.ECDSAKeyPairFromKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		pub    crypto.PubKey
		reason string
	}{
		// secp256k1 keys are short enough to be inlined in the peer ID.
		{"secp256k1", secpPub, "has a Secp256k1 key"},
		// ECDSA keys are not: the peer ID holds only a SHA-256 of the key.
		{"ECDSA P-256", ecPub, "does not inline its public key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := peer.IDFromPublicKey(tt.pub)
			if err != nil {
				t.Fatal(err)
			}
			for fn, f := range map[string]func(peer.ID) error{
				"PeerIDToDID":         func(id peer.ID) error { _, err := PeerIDToDID(id); return err },
				"PublicKeyFromPeerID": func(id peer.ID) error { _, err := PublicKeyFromPeerID(id); return err },
			} {
				err := f(id)
				if !errors.Is(err, ErrNotEd25519) {
					t.Fatalf("%s(%s) error = %v, want ErrNotEd25519", fn, id, err)
				}
				if !strings.Contains(err.Error(), tt.reason) {
					t.Errorf("%s(%s) error %q does not say %q", fn, id, err, tt.reason)
				}
			}
		})
	}
}

func TestPeerIDMalformed(t *testing.T) {
	notAPoint := make([]byte, 32)
	notAPoint[0] = 2
	var fake PublicKey
	copy(fake[:], notAPoint)

	for name, id := range map[string]peer.ID{
		"empty":                   "",
		"garbage":                 "not a peer ID",
		"truncated":               mustGenerate(t).Public().PeerID()[:20],
		"identity, bad protobuf":  peer.ID([]byte{0x00, 0x03, 0xff, 0xff, 0xff}),
		"Ed25519, not on a curve": fake.PeerID(),
	} {
		_, err := PeerIDToDID(id)
		if err == nil {
			t.Errorf("%s: PeerIDToDID accepted %q", name, id)
		}
		if name == "Ed25519, not on a curve" && !errors.Is(err, ErrBadPublicKey) {
			t.Errorf("%s: error = %v, want ErrBadPublicKey", name, err)
		}
	}
}

// TestBase58 checks the package's base58 codec against github.com/mr-tron/
// base58, the implementation go-libp2p uses.
func TestBase58(t *testing.T) {
	for n := range 70 {
		for zeros := range min(n, 3) + 1 {
			b := make([]byte, n)
			rand.Read(b[zeros:])
			if n > zeros && b[zeros] == 0 {
				b[zeros] = 1
			}
			want := base58.Encode(b)
			got := encodeBase58(b)
			if got != want {
				t.Fatalf("encodeBase58(%x) = %q, want %q", b, got, want)
			}
			if n == 0 {
				continue
			}
			back, err := decodeBase58(got)
			if err != nil || !bytes.Equal(back, b) {
				t.Fatalf("decodeBase58(%q) = %x, %v; want %x", got, back, err, b)
			}
		}
	}
	// Classic Bitcoin vectors.
	for hexIn, enc := range map[string]string{
		"61":     "2g",
		"626262": "a3gV",
		"0000":   "11",
		"00010966776006953d5567439e5e39f86a0d273beed61967f6": "16UwLL9Risc3QfPqBUvKofHmBQ7wMtjvM",
	} {
		if got := encodeBase58(mustHex(t, hexIn)); got != enc {
			t.Errorf("encodeBase58(%s) = %s, want %s", hexIn, got, enc)
		}
	}
}

// FuzzParseDID checks that ParseDID never panics, that every error wraps
// ErrMalformedDID, and that accepted input is canonical: it is exactly the
// DID of the parsed key and resolves to a document.
func FuzzParseDID(f *testing.F) {
	for _, v := range rfc8032Vectors {
		f.Add(v.did)
	}
	f.Add(specDID)
	f.Add("did:key:z6LShLeXRTzevtwcfehaGEzCMyL3bNsAeKCwcqwJxyCo63yE")
	f.Add("did:key:z1" + specDID[9:])
	f.Add(specDID + "#" + specDID[8:])
	f.Add("did:web:example.com")
	f.Add("did:key:")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseDID(s)
		if err != nil {
			if !errors.Is(err, ErrMalformedDID) {
				t.Fatalf("ParseDID(%q) error %v does not wrap ErrMalformedDID", s, err)
			}
			return
		}
		if got := p.DID(); got != s {
			t.Fatalf("ParseDID(%q) accepted a non-canonical DID; canonical is %q", s, got)
		}
		doc, err := ResolveKeyDocument(s)
		if err != nil || doc.ID != s {
			t.Fatalf("ResolveKeyDocument(%q) = %+v, %v", s, doc, err)
		}
		if id, err := DIDToPeerID(s); err != nil {
			t.Fatal(err)
		} else if back, err := PeerIDToDID(id); err != nil || back != s {
			t.Fatalf("PeerIDToDID(DIDToPeerID(%q)) = %q, %v", s, back, err)
		}
	})
}

// FuzzBase58 checks that the base58 decoder never panics and is exact.
func FuzzBase58(f *testing.F) {
	f.Add("")
	f.Add("1")
	f.Add("111z")
	f.Add(specX25519[1:])
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > maxDIDLength {
			return // callers bound the input
		}
		b, err := decodeBase58(s)
		if err != nil {
			return
		}
		if got := encodeBase58(b); got != s {
			t.Fatalf("encodeBase58(decodeBase58(%q)) = %q", s, got)
		}
		if want, err := base58.Decode(s); err != nil || !bytes.Equal(b, want) {
			t.Fatalf("decodeBase58(%q) = %x, mr-tron/base58 gives %x, %v", s, b, want, err)
		}
	})
}
