package identity

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// rfc8032Vectors are TEST 1 and TEST 2 of RFC 8032 §7.1 (seed, public key,
// message, signature). The did:key and peer ID of each public key are
// published independently by other did:key and libp2p implementations.
var rfc8032Vectors = []struct {
	name, seed, pub, msg, sig, did, peerID string
}{
	{
		name:   "TEST 1",
		seed:   "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
		pub:    "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
		msg:    "",
		sig:    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
		did:    "did:key:z6MktwupdmLXVVqTzCw4i46r4uGyosGXRnR3XjN4Zq7oMMsw",
		peerID: "12D3KooWQK1wnefoLrcVHbbnf5tLzbopUd3K3bFAoJpA7YJgL5pV",
	},
	{
		name:   "TEST 2",
		seed:   "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
		pub:    "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
		msg:    "72",
		sig:    "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
		did:    "did:key:z6MkiaMbhXHNA4eJVCCj8dbzKzTgYDKf6crKgHVHid1F1WCT",
		peerID: "12D3KooWDwTirQce1RRKnasT5fPVFgzXCy6SiRgSwrwPGLC7zE91",
	},
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustGenerate(t testing.TB) *PrivateKey {
	t.Helper()
	k, err := Generate(nil)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestRFC8032Vectors(t *testing.T) {
	for _, v := range rfc8032Vectors {
		t.Run(v.name, func(t *testing.T) {
			k, err := FromSeed(mustHex(t, v.seed))
			if err != nil {
				t.Fatal(err)
			}
			pub := k.Public()
			if got := hex.EncodeToString(pub.Bytes()); got != v.pub {
				t.Errorf("public key = %s, want %s", got, v.pub)
			}
			msg := mustHex(t, v.msg)
			if got := hex.EncodeToString(k.Sign(msg)); got != v.sig {
				t.Errorf("signature = %s, want %s", got, v.sig)
			}
			if !pub.Verify(msg, mustHex(t, v.sig)) {
				t.Error("Verify rejected the RFC signature")
			}
			if got := pub.DID(); got != v.did {
				t.Errorf("DID = %s, want %s", got, v.did)
			}
			if got := pub.String(); got != v.did {
				t.Errorf("String = %s, want %s", got, v.did)
			}
			if got := pub.PeerID().String(); got != v.peerID {
				t.Errorf("PeerID = %s, want %s", got, v.peerID)
			}
			if got := hex.EncodeToString(k.Seed()); got != v.seed {
				t.Errorf("Seed = %s, want %s", got, v.seed)
			}
		})
	}
}

func TestPublicKeyFromBytes(t *testing.T) {
	notAPoint := make([]byte, 32)
	notAPoint[0] = 2 // y = 2 has no x on edwards25519
	for _, b := range [][]byte{nil, make([]byte, 31), make([]byte, 33), notAPoint} {
		if _, err := PublicKeyFromBytes(b); !errors.Is(err, ErrBadPublicKey) {
			t.Errorf("PublicKeyFromBytes(%x) error = %v, want ErrBadPublicKey", b, err)
		}
	}
	var bad PublicKey
	copy(bad[:], notAPoint)
	if _, err := bad.X25519(); !errors.Is(err, ErrBadPublicKey) {
		t.Errorf("X25519 of a non-point: error = %v, want ErrBadPublicKey", err)
	}

	want := mustGenerate(t).Public()
	in := want.Bytes()
	got, err := PublicKeyFromBytes(in)
	if err != nil || got != want {
		t.Fatalf("PublicKeyFromBytes = %v, %v; want %v", got, err, want)
	}
	in[0] ^= 1 // the key must not alias its input, nor Bytes its key
	if got != want {
		t.Error("PublicKey aliases the slice it was built from")
	}
}

func TestVerify(t *testing.T) {
	k := mustGenerate(t)
	msg := []byte("ledger entry")
	sig := k.Sign(msg)
	p := k.Public()
	if !p.Verify(msg, sig) {
		t.Fatal("valid signature rejected")
	}
	for name, s := range map[string][]byte{
		"nil":       nil,
		"short":     sig[:63],
		"long":      append(append([]byte(nil), sig...), 0),
		"tampered":  append([]byte{sig[0] ^ 1}, sig[1:]...),
		"other key": mustGenerate(t).Sign(msg),
	} {
		if p.Verify(msg, s) {
			t.Errorf("%s signature accepted", name)
		}
	}
	if p.Verify([]byte("other"), sig) {
		t.Error("signature accepted for another message")
	}
}

func TestGenerate(t *testing.T) {
	a, b := mustGenerate(t), mustGenerate(t)
	if a.Public() == b.Public() {
		t.Fatal("two generated keys are equal")
	}

	// A non-nil reader is honoured, so equal readers give equal keys.
	seed := bytes.Repeat([]byte{7}, 32)
	c, err := Generate(bytes.NewReader(seed))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(c.Seed(), seed) {
		t.Errorf("Generate(reader) seed = %x, want %x", c.Seed(), seed)
	}

	if _, err := Generate(bytes.NewReader(make([]byte, 31))); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("Generate(short reader) error = %v, want io.ErrUnexpectedEOF", err)
	}
}

func TestFromSeed(t *testing.T) {
	for _, n := range []int{0, 31, 33, 64} {
		if _, err := FromSeed(make([]byte, n)); !errors.Is(err, ErrBadSeed) {
			t.Errorf("FromSeed(%d bytes) error = %v, want ErrBadSeed", n, err)
		}
	}
	k := mustGenerate(t)
	s := k.Seed()
	s[0] ^= 1
	if bytes.Equal(k.Seed(), s) {
		t.Error("Seed returns the key's own memory")
	}
}

func TestParseSeedHex(t *testing.T) {
	const seed = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
	tests := []struct {
		name, in string
		ok       bool
		reason   string // part of the error message
	}{
		{"plain", seed, true, ""},
		{"upper case", strings.ToUpper(seed), true, ""},
		{"0x prefix", "0x" + seed, true, ""},
		{"0X prefix", "0X" + seed, true, ""},
		{"surrounding white space", " \t0x" + seed + "\r\n", true, ""},
		{"empty", "", false, "got 0 hex digits, want 64"},
		{"just 0x", "0x", false, "got 0 hex digits, want 64"},
		{"too short", seed[:62], false, "got 62 hex digits, want 64"},
		{"odd length", seed[:63], false, "got 63 hex digits, want 64"},
		{"too long", seed + "00", false, "got 66 hex digits, want 64"},
		{"non-hex", "g" + seed[1:], false, "non-hex character at offset 0"},
		{"inner space", seed[:10] + " " + seed[11:], false, "non-hex character at offset 10"},
		{"double prefix", "0x0x" + seed[2:], false, "non-hex character at offset 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := ParseSeedHex(tt.in)
			if tt.ok {
				if err != nil {
					t.Fatal(err)
				}
				if got := hex.EncodeToString(k.Seed()); got != seed {
					t.Errorf("seed = %s, want %s", got, seed)
				}
				return
			}
			if !errors.Is(err, ErrBadSeed) {
				t.Fatalf("error = %v, want ErrBadSeed", err)
			}
			if !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("error %q does not say %q", err, tt.reason)
			}
			if len(tt.in) > 8 && strings.Contains(err.Error(), strings.TrimSpace(tt.in)[2:10]) {
				t.Errorf("error %q echoes the secret input", err)
			}
		})
	}
}

func TestLibp2pConversions(t *testing.T) {
	lpriv, lpub, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := FromLibp2p(lpriv)
	if err != nil {
		t.Fatal(err)
	}
	if !k.Libp2p().Equals(lpriv) {
		t.Error("PrivateKey.Libp2p does not round-trip")
	}
	if !k.Public().Libp2p().Equals(lpub) {
		t.Error("PublicKey.Libp2p differs from the libp2p public key")
	}
	want, err := peer.IDFromPublicKey(lpub)
	if err != nil {
		t.Fatal(err)
	}
	if got := k.Public().PeerID(); got != want {
		t.Errorf("PeerID = %s, want %s (peer.IDFromPublicKey)", got, want)
	}
	if got, _ := peer.IDFromPrivateKey(k.Libp2p()); got != want {
		t.Errorf("peer.IDFromPrivateKey(k.Libp2p()) = %s, want %s", got, want)
	}

	// Signatures are interchangeable.
	msg := []byte("hello")
	if ok, err := lpub.Verify(msg, k.Sign(msg)); !ok || err != nil {
		t.Errorf("libp2p rejected our signature: %v", err)
	}
	lsig, err := lpriv.Sign(msg)
	if err != nil {
		t.Fatal(err)
	}
	if !k.Public().Verify(msg, lsig) {
		t.Error("we rejected a libp2p signature")
	}
}

func TestFromLibp2pRejectsOtherKeys(t *testing.T) {
	secp, _, err := crypto.GenerateSecp256k1Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ec, _, err := crypto.ECDSAKeyPairFromKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	for name, k := range map[string]crypto.PrivKey{"nil": nil, "secp256k1": secp, "ECDSA": ec} {
		if _, err := FromLibp2p(k); !errors.Is(err, ErrNotEd25519) {
			t.Errorf("FromLibp2p(%s) error = %v, want ErrNotEd25519", name, err)
		}
	}

	// An Ed25519 key whose public half does not match its seed.
	raw, _ := mustGenerate(t).Libp2p().Raw()
	raw[40] ^= 1
	bad, err := crypto.UnmarshalEd25519PrivateKey(raw)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := FromLibp2p(bad); !errors.Is(err, ErrBadSeed) {
		t.Errorf("FromLibp2p(inconsistent key) error = %v, want ErrBadSeed", err)
	}
}

func TestX25519(t *testing.T) {
	a, b := mustGenerate(t), mustGenerate(t)
	ecdhKey := func(k *PrivateKey) *ecdh.PrivateKey {
		t.Helper()
		scalar, err := k.X25519()
		if err != nil {
			t.Fatal(err)
		}
		if scalar[0]&7 != 0 || scalar[31]&0xc0 != 0x40 {
			t.Errorf("scalar %x is not clamped", scalar)
		}
		pk, err := ecdh.X25519().NewPrivateKey(scalar)
		if err != nil {
			t.Fatal(err)
		}
		pub, err := k.Public().X25519()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(pk.PublicKey().Bytes(), pub) {
			t.Errorf("ecdh public key %x != Public().X25519() %x", pk.PublicKey().Bytes(), pub)
		}
		return pk
	}
	ea, eb := ecdhKey(a), ecdhKey(b)

	// Both sides derive the same shared secret from the other's DID key.
	pubB, _ := b.Public().X25519()
	pubA, _ := a.Public().X25519()
	remoteB, err := ecdh.X25519().NewPublicKey(pubB)
	if err != nil {
		t.Fatal(err)
	}
	remoteA, err := ecdh.X25519().NewPublicKey(pubA)
	if err != nil {
		t.Fatal(err)
	}
	s1, err := ea.ECDH(remoteB)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := eb.ECDH(remoteA)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(s1, s2) {
		t.Error("X25519 shared secrets differ")
	}
}

func TestPrivateKeyDoesNotPrintSecrets(t *testing.T) {
	k, err := FromSeed(mustHex(t, rfc8032Vectors[0].seed))
	if err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		out := fmt.Sprintf(format, k)
		if strings.Contains(out, rfc8032Vectors[0].seed[:16]) || strings.Contains(out, "157 97") /* decimal 0x9d 0x61 */ {
			t.Errorf("Sprintf(%q) = %q leaks the seed", format, out)
		}
		if !strings.Contains(out, rfc8032Vectors[0].did) {
			t.Errorf("Sprintf(%q) = %q, want it to name the DID", format, out)
		}
	}
	var zero PrivateKey
	if got := zero.String(); got != "identity.PrivateKey(invalid)" {
		t.Errorf("zero PrivateKey String = %q", got)
	}
}
