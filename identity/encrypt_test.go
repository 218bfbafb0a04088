package identity

import (
	"bytes"
	"crypto/hpke"
	"errors"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/fxamacker/cbor/v2"
)

// envelopeModes returns CBOR modes like the ledger's: core deterministic
// encoding, and strict, bounded decoding.
func envelopeModes(t testing.TB) (cbor.EncMode, cbor.DecMode) {
	t.Helper()
	enc, err := cbor.CoreDetEncOptions().EncMode()
	if err != nil {
		t.Fatal(err)
	}
	dec, err := cbor.DecOptions{
		MaxNestedLevels:   8,
		MaxArrayElements:  MaxRecipients + 8,
		MaxMapPairs:       16,
		IndefLength:       cbor.IndefLengthForbidden,
		TagsMd:            cbor.TagsForbidden,
		ExtraReturnErrors: cbor.ExtraDecErrorUnknownField,
	}.DecMode()
	if err != nil {
		t.Fatal(err)
	}
	return enc, dec
}

func generateKeys(t testing.TB, n int) ([]*PrivateKey, []PublicKey) {
	t.Helper()
	keys := make([]*PrivateKey, n)
	pubs := make([]PublicKey, n)
	for i := range keys {
		keys[i] = mustGenerate(t)
		pubs[i] = keys[i].Public()
	}
	return keys, pubs
}

func mustEncrypt(t testing.TB, pubs []PublicKey, plaintext, aad []byte) *Envelope {
	t.Helper()
	e, err := Encrypt(nil, pubs, plaintext, aad)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestEnvelopeRoundTrip(t *testing.T) {
	enc, dec := envelopeModes(t)
	tests := []struct {
		name       string
		recipients int
		plaintext  []byte
		aad        []byte
	}{
		{"one recipient", 1, []byte("temperature=21.5C"), []byte("record 1")},
		{"three recipients", 3, []byte("humidity=40%"), []byte("record 2")},
		{"max recipients", MaxRecipients, bytes.Repeat([]byte{0xa5}, 4096), nil},
		{"empty plaintext", 2, nil, []byte("record 3")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys, pubs := generateKeys(t, tt.recipients)
			e := mustEncrypt(t, pubs, tt.plaintext, tt.aad)
			if err := e.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if len(e.Ciphertext) != len(tt.plaintext)+minCiphertext {
				t.Errorf("ciphertext is %d bytes, want %d", len(e.Ciphertext), len(tt.plaintext)+minCiphertext)
			}
			if len(tt.plaintext) > 0 && bytes.Contains(e.Ciphertext, tt.plaintext) {
				t.Error("ciphertext contains the plaintext")
			}

			// Through CBOR and back, as stored in a ledger record.
			b, err := enc.Marshal(e)
			if err != nil {
				t.Fatal(err)
			}
			if b[0] != 0x84 { // array of 4
				t.Errorf("envelope encodes as %#x..., want a 4-element array", b[0])
			}
			var decoded Envelope
			if err := dec.Unmarshal(b, &decoded); err != nil {
				t.Fatal(err)
			}
			b2, err := enc.Marshal(&decoded)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(b, b2) {
				t.Error("CBOR encoding does not round-trip")
			}

			for i, k := range keys {
				for _, env := range []*Envelope{e, &decoded} {
					got, err := env.Decrypt(k, tt.aad)
					if err != nil {
						t.Fatalf("recipient %d: %v", i, err)
					}
					if !bytes.Equal(got, tt.plaintext) {
						t.Fatalf("recipient %d decrypted %q, want %q", i, got, tt.plaintext)
					}
				}
			}
		})
	}
}

// TestEnvelopeCBORShape pins the wire layout another implementation must
// follow: [suite, [[key, enc, wrapped]...], nonce, ciphertext] with the key
// as a 32-byte byte string.
func TestEnvelopeCBORShape(t *testing.T) {
	enc, _ := envelopeModes(t)
	_, pubs := generateKeys(t, 1)
	e := mustEncrypt(t, pubs, []byte("x"), nil)
	b, err := enc.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	var generic []any
	if err := cbor.Unmarshal(b, &generic); err != nil {
		t.Fatal(err)
	}
	if len(generic) != 4 {
		t.Fatalf("envelope has %d elements, want 4", len(generic))
	}
	if s, ok := generic[0].(uint64); !ok || s != 1 {
		t.Errorf("suite = %#v, want 1", generic[0])
	}
	rs, ok := generic[1].([]any)
	if !ok || len(rs) != 1 {
		t.Fatalf("recipients = %#v", generic[1])
	}
	r, ok := rs[0].([]any)
	if !ok || len(r) != 3 {
		t.Fatalf("recipient = %#v", rs[0])
	}
	if k, ok := r[0].([]byte); !ok || !bytes.Equal(k, pubs[0][:]) {
		t.Errorf("recipient key = %#v, want the 32 key bytes", r[0])
	}
	if n, ok := generic[2].([]byte); !ok || len(n) != nonceSize {
		t.Errorf("nonce = %#v", generic[2])
	}
}

func TestEnvelopeNotRecipient(t *testing.T) {
	_, pubs := generateKeys(t, 3)
	e := mustEncrypt(t, pubs, []byte("secret"), nil)
	_, err := e.Decrypt(mustGenerate(t), nil)
	if !errors.Is(err, ErrNotRecipient) {
		t.Fatalf("error = %v, want ErrNotRecipient", err)
	}
	if errors.Is(err, ErrDecrypt) {
		t.Error("ErrNotRecipient must not also be ErrDecrypt")
	}
	for _, k := range []*PrivateKey{nil, {}} {
		if _, err := e.Decrypt(k, nil); err == nil {
			t.Errorf("Decrypt with %v succeeded", k)
		}
	}
}

func TestEnvelopeWrongAAD(t *testing.T) {
	keys, pubs := generateKeys(t, 2)
	aad := []byte("chain sixdomain-1 / tx 42")
	e := mustEncrypt(t, pubs, []byte("secret"), aad)
	for _, wrong := range [][]byte{nil, []byte("chain sixdomain-1 / tx 43"), aad[:len(aad)-1], append(aad, 0)} {
		for i, k := range keys {
			if _, err := e.Decrypt(k, wrong); !errors.Is(err, ErrDecrypt) {
				t.Errorf("aad %q, recipient %d: error = %v, want ErrDecrypt", wrong, i, err)
			}
		}
	}
	if _, err := e.Decrypt(keys[0], aad); err != nil {
		t.Errorf("right aad: %v", err)
	}
}

// cloneEnvelope deep-copies e so a test can tamper with the copy.
func cloneEnvelope(e *Envelope) *Envelope {
	c := &Envelope{
		Suite:      e.Suite,
		Recipients: make([]Recipient, len(e.Recipients)),
		Nonce:      bytes.Clone(e.Nonce),
		Ciphertext: bytes.Clone(e.Ciphertext),
	}
	for i, r := range e.Recipients {
		c.Recipients[i] = Recipient{Key: r.Key, Enc: bytes.Clone(r.Enc), WrappedKey: bytes.Clone(r.WrappedKey)}
	}
	return c
}

func TestEnvelopeTampering(t *testing.T) {
	keys, pubs := generateKeys(t, 3)
	other, otherPubs := generateKeys(t, 1)
	aad := []byte("record 7")
	orig := mustEncrypt(t, pubs, []byte("the payload"), aad)
	// An envelope for a fourth key, to splice entries from.
	foreign := mustEncrypt(t, append([]PublicKey{otherPubs[0]}, pubs...), []byte("another payload"), aad)

	tests := []struct {
		name   string
		tamper func(e *Envelope)
		// failing lists the recipients (indexes into keys) that must fail:
		// with ErrDecrypt, or ErrNotRecipient if their entry is gone. The
		// others must still decrypt.
		failing []int
	}{
		{"ciphertext bit", func(e *Envelope) { e.Ciphertext[0] ^= 1 }, []int{0, 1, 2}},
		{"tag bit", func(e *Envelope) { e.Ciphertext[len(e.Ciphertext)-1] ^= 0x80 }, []int{0, 1, 2}},
		{"truncated ciphertext", func(e *Envelope) { e.Ciphertext = e.Ciphertext[:len(e.Ciphertext)-1] }, []int{0, 1, 2}},
		{"nonce", func(e *Envelope) { e.Nonce[11] ^= 1 }, []int{0, 1, 2}},
		{"enc of recipient 0", func(e *Envelope) { e.Recipients[0].Enc[5] ^= 1 }, []int{0}},
		{"wrapped key of recipient 1", func(e *Envelope) { e.Recipients[1].WrappedKey[0] ^= 1 }, []int{1}},
		{"wrapped key tag of recipient 2", func(e *Envelope) { e.Recipients[2].WrappedKey[47] ^= 1 }, []int{2}},
		{"enc and wrapped key swapped between 0 and 1", func(e *Envelope) {
			e.Recipients[0].Enc, e.Recipients[1].Enc = e.Recipients[1].Enc, e.Recipients[0].Enc
			e.Recipients[0].WrappedKey, e.Recipients[1].WrappedKey = e.Recipients[1].WrappedKey, e.Recipients[0].WrappedKey
		}, []int{0, 1}},
		{"keys swapped between 0 and 1", func(e *Envelope) {
			e.Recipients[0].Key, e.Recipients[1].Key = e.Recipients[1].Key, e.Recipients[0].Key
		}, []int{0, 1, 2}},
		{"entries reordered", func(e *Envelope) {
			e.Recipients[0], e.Recipients[2] = e.Recipients[2], e.Recipients[0]
		}, []int{0, 1, 2}},
		{"recipient 1 removed", func(e *Envelope) {
			e.Recipients = append(e.Recipients[:1], e.Recipients[2:]...)
		}, []int{0, 1, 2}},
		{"recipient added", func(e *Envelope) {
			e.Recipients = append(e.Recipients, foreign.Recipients[0])
		}, []int{0, 1, 2}},
		{"entry replaced by another envelope's", func(e *Envelope) {
			e.Recipients[0] = foreign.Recipients[1] // same key, other envelope
		}, []int{0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := cloneEnvelope(orig)
			tt.tamper(e)
			if err := e.Validate(); err != nil {
				t.Fatalf("tampered envelope fails Validate (%v); the test should reach Decrypt", err)
			}
			for i, k := range keys {
				fail := false
				for _, f := range tt.failing {
					fail = fail || f == i
				}
				_, err := e.Decrypt(k, aad)
				switch {
				case !fail && err != nil:
					t.Errorf("recipient %d: %v, want success", i, err)
				case fail && !inEnvelope(e, k) && !errors.Is(err, ErrNotRecipient):
					t.Errorf("recipient %d (removed): error = %v, want ErrNotRecipient", i, err)
				case fail && inEnvelope(e, k) && !errors.Is(err, ErrDecrypt):
					t.Errorf("recipient %d: error = %v, want ErrDecrypt", i, err)
				}
			}
			if _, err := e.Decrypt(other[0], aad); tt.name != "recipient added" && !errors.Is(err, ErrNotRecipient) {
				t.Errorf("foreign key: error = %v, want ErrNotRecipient", err)
			} else if tt.name == "recipient added" && !errors.Is(err, ErrDecrypt) {
				t.Errorf("added recipient: error = %v, want ErrDecrypt", err)
			}
		})
	}
	// The original is untouched by the clones and still decrypts.
	for i, k := range keys {
		if _, err := orig.Decrypt(k, aad); err != nil {
			t.Errorf("original, recipient %d: %v", i, err)
		}
	}
}

func inEnvelope(e *Envelope, k *PrivateKey) bool {
	for _, r := range e.Recipients {
		if r.Key == k.Public() {
			return true
		}
	}
	return false
}

func TestEnvelopeValidate(t *testing.T) {
	_, pubs := generateKeys(t, 2)
	good := mustEncrypt(t, pubs, []byte("payload"), nil)
	if err := good.Validate(); err != nil {
		t.Fatalf("good envelope: %v", err)
	}
	many := make([]Recipient, MaxRecipients+1)
	for i := range many {
		many[i] = Recipient{Key: PublicKey{byte(i), 1}, Enc: make([]byte, encSize), WrappedKey: make([]byte, wrappedKeySize)}
	}
	tests := []struct {
		name   string
		tamper func(e *Envelope)
		reason string
	}{
		{"suite 0", func(e *Envelope) { e.Suite = 0 }, "unknown suite 0"},
		{"suite 2", func(e *Envelope) { e.Suite = 2 }, "unknown suite 2"},
		{"no recipients", func(e *Envelope) { e.Recipients = nil }, "0 recipients"},
		{"too many recipients", func(e *Envelope) { e.Recipients = many }, "17 recipients"},
		{"duplicate recipient", func(e *Envelope) { e.Recipients[1].Key = e.Recipients[0].Key }, "recipient 1 repeats recipient 0"},
		{"short enc", func(e *Envelope) { e.Recipients[1].Enc = e.Recipients[1].Enc[:31] }, "encapsulated key is 31 bytes"},
		{"long enc", func(e *Envelope) { e.Recipients[0].Enc = append(e.Recipients[0].Enc, 0) }, "encapsulated key is 33 bytes"},
		{"missing enc", func(e *Envelope) { e.Recipients[0].Enc = nil }, "encapsulated key is 0 bytes"},
		{"short wrapped key", func(e *Envelope) { e.Recipients[0].WrappedKey = e.Recipients[0].WrappedKey[:32] }, "wrapped key is 32 bytes"},
		{"long wrapped key", func(e *Envelope) { e.Recipients[1].WrappedKey = append(e.Recipients[1].WrappedKey, 0) }, "wrapped key is 49 bytes"},
		{"short nonce", func(e *Envelope) { e.Nonce = e.Nonce[:11] }, "nonce is 11 bytes"},
		{"XChaCha-sized nonce", func(e *Envelope) { e.Nonce = make([]byte, 24) }, "nonce is 24 bytes"},
		{"no ciphertext", func(e *Envelope) { e.Ciphertext = nil }, "ciphertext is 0 bytes"},
		{"ciphertext shorter than the tag", func(e *Envelope) { e.Ciphertext = e.Ciphertext[:15] }, "ciphertext is 15 bytes"},
	}
	keys := []*PrivateKey{mustGenerate(t)}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := cloneEnvelope(good)
			tt.tamper(e)
			err := e.Validate()
			if !errors.Is(err, ErrBadEnvelope) {
				t.Fatalf("error = %v, want ErrBadEnvelope", err)
			}
			if !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("error %q does not say %q", err, tt.reason)
			}
			// Decrypt validates first, before looking for the recipient.
			if _, err := e.Decrypt(keys[0], nil); !errors.Is(err, ErrBadEnvelope) {
				t.Errorf("Decrypt error = %v, want ErrBadEnvelope", err)
			}
		})
	}
	var nilEnvelope *Envelope
	if err := nilEnvelope.Validate(); !errors.Is(err, ErrBadEnvelope) {
		t.Errorf("nil envelope: error = %v, want ErrBadEnvelope", err)
	}
	// The empty plaintext (ciphertext = tag only) is valid.
	empty := mustEncrypt(t, pubs, nil, nil)
	if err := empty.Validate(); err != nil {
		t.Errorf("empty plaintext: %v", err)
	}
}

func TestEncryptErrors(t *testing.T) {
	_, pubs := generateKeys(t, MaxRecipients+1)
	var notAPoint PublicKey
	notAPoint[0] = 2 // y = 2 has no x on edwards25519
	var identityPoint PublicKey
	identityPoint[0] = 1 // y = 1: the neutral element, of order 1
	var order2 PublicKey // y = -1 = p-1: the point of order 2
	copy(order2[:], mustHex(t, "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"))

	tests := []struct {
		name       string
		recipients []PublicKey
		is         error
	}{
		{"no recipients", nil, ErrBadEnvelope},
		{"too many recipients", pubs, ErrBadEnvelope},
		{"duplicate recipient", []PublicKey{pubs[0], pubs[1], pubs[0]}, ErrBadEnvelope},
		{"not a curve point", []PublicKey{pubs[0], notAPoint}, ErrBadPublicKey},
		{"identity point", []PublicKey{identityPoint}, ErrBadPublicKey},
		{"point of order 2", []PublicKey{pubs[0], order2}, ErrBadPublicKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := Encrypt(nil, tt.recipients, []byte("x"), nil)
			if !errors.Is(err, tt.is) {
				t.Fatalf("error = %v, want %v", err, tt.is)
			}
			if e != nil {
				t.Error("Encrypt returned an envelope with its error")
			}
		})
	}
	if _, err := Encrypt(nil, pubs[:MaxRecipients], nil, nil); err != nil {
		t.Errorf("exactly MaxRecipients: %v", err)
	}

	// A failing random source is reported, not ignored.
	broken := iotest.ErrReader(errors.New("entropy exhausted"))
	if _, err := Encrypt(broken, pubs[:1], []byte("x"), nil); err == nil || !strings.Contains(err.Error(), "entropy exhausted") {
		t.Errorf("broken rand: error = %v", err)
	}
}

// TestEncryptUsesRand checks that the content key and nonce come from the
// given reader: the same reader state gives the same nonce, and distinct
// envelopes from crypto/rand get distinct nonces.
func TestEncryptUsesRand(t *testing.T) {
	_, pubs := generateKeys(t, 1)
	fixed := func() *bytes.Reader { return bytes.NewReader(bytes.Repeat([]byte{7}, 64)) }
	a, err := Encrypt(fixed(), pubs, []byte("x"), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Encrypt(fixed(), pubs, []byte("x"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Nonce, bytes.Repeat([]byte{7}, nonceSize)) || !bytes.Equal(a.Ciphertext, b.Ciphertext) {
		t.Error("content key and nonce do not come from the rand argument")
	}
	// The HPKE ephemeral keys come from crypto/rand regardless.
	if bytes.Equal(a.Recipients[0].Enc, b.Recipients[0].Enc) {
		t.Error("two envelopes share an HPKE encapsulated key")
	}
	c := mustEncrypt(t, pubs, []byte("x"), nil)
	d := mustEncrypt(t, pubs, []byte("x"), nil)
	if bytes.Equal(c.Nonce, d.Nonce) || bytes.Equal(c.Ciphertext, d.Ciphertext) {
		t.Error("two envelopes from crypto/rand share a nonce or ciphertext")
	}
}

// TestEnvelopeHPKESuiteRFC9180 checks the HPKE suite against the RFC 9180
// test vector of Appendix A.2.1 (DHKEM(X25519, HKDF-SHA256), HKDF-SHA256,
// ChaCha20Poly1305, base mode), opening its first encryption with the
// function Decrypt uses.
func TestEnvelopeHPKESuiteRFC9180(t *testing.T) {
	kem, kdf, aead := hpkeSuite()
	if kem.ID() != 0x0020 || kdf.ID() != 0x0001 || aead.ID() != 0x0003 {
		t.Fatalf("suite IDs = %#04x/%#04x/%#04x, want 0x0020/0x0001/0x0003", kem.ID(), kdf.ID(), aead.ID())
	}
	var (
		info  = mustHex(t, "4f6465206f6e2061204772656369616e2055726e") // "Ode on a Grecian Urn"
		skRm  = mustHex(t, "8057991eef8f1f1af18f4a9491d16a1ce333f695d4db8e38da75975c4478e0fb")
		pkRm  = mustHex(t, "4310ee97d88cc1f088a5576c77ab0cf5c3ac797f3d95139c6c84b5429c59662a")
		enc   = mustHex(t, "1afa08d3dec047a643885163f1180476fa7ddb54c6a8029ea33f95796bf2ac4a")
		aad0  = mustHex(t, "436f756e742d30") // "Count-0"
		ct0   = mustHex(t, "1c5250d8034ec2b784ba2cfd69dbdb8af406cfe3ff938e131f0def8c8b60b4db21993c62ce81883d2dd1b51a28")
		want0 = "Beauty is truth, truth beauty"
	)
	sk, err := kem.NewPrivateKey(skRm)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(sk.PublicKey().Bytes(), pkRm) {
		t.Fatalf("pkRm = %x, want %x", sk.PublicKey().Bytes(), pkRm)
	}
	pt, err := unwrapKey(sk, enc, info, aad0, ct0)
	if err != nil {
		t.Fatal(err)
	}
	if string(pt) != want0 {
		t.Errorf("plaintext = %q, want %q", pt, want0)
	}
	// And the same vector with any change fails.
	if _, err := unwrapKey(sk, enc, info, []byte("Count-1"), ct0); !errors.Is(err, ErrDecrypt) {
		t.Errorf("wrong aad: error = %v, want ErrDecrypt", err)
	}
	if _, err := unwrapKey(sk, enc, []byte("other info"), aad0, ct0); !errors.Is(err, ErrDecrypt) {
		t.Errorf("wrong info: error = %v, want ErrDecrypt", err)
	}
	if _, err := unwrapKey(sk, make([]byte, 32), info, aad0, ct0); !errors.Is(err, ErrDecrypt) {
		t.Errorf("small-order enc: error = %v, want ErrDecrypt", err)
	}
}

// TestEnvelopeBindingEncoding checks that the binding digest separates
// inputs that a naive concatenation would confuse.
func TestEnvelopeBindingEncoding(t *testing.T) {
	_, pubs := generateKeys(t, 2)
	e := &Envelope{Suite: 1, Recipients: []Recipient{{Key: pubs[0]}, {Key: pubs[1]}}}
	one := &Envelope{Suite: 1, Recipients: []Recipient{{Key: pubs[0]}}}
	seen := map[string]string{}
	for name, b := range map[string][]byte{
		"two keys, no aad":           e.binding(nil),
		"one key, second key as aad": one.binding(pubs[1][:]),
		"two keys, aad x":            e.binding([]byte("x")),
		"two keys, suite 2":          (&Envelope{Suite: 2, Recipients: e.Recipients}).binding(nil),
		"one key, no aad":            one.binding(nil),
		"one key, aad 0x00":          one.binding([]byte{0}),
	} {
		if len(b) != bindingSize {
			t.Errorf("%s: binding is %d bytes", name, len(b))
		}
		if prev, ok := seen[string(b)]; ok {
			t.Errorf("%s and %s have the same binding", name, prev)
		}
		seen[string(b)] = name
	}
}

func FuzzEnvelopeDecode(f *testing.F) {
	enc, dec := envelopeModes(f)
	key, err := FromSeed(bytes.Repeat([]byte{42}, 32))
	if err != nil {
		f.Fatal(err)
	}
	_, others := generateKeys(f, 2)
	aad := []byte("fuzz")
	for _, pubs := range [][]PublicKey{{key.Public()}, {others[0], key.Public(), others[1]}, others} {
		e := mustEncrypt(f, pubs, []byte("seed corpus payload"), aad)
		b, err := enc.Marshal(e)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{0x84, 0x01, 0x80, 0x40, 0x40})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		var e Envelope
		if err := dec.Unmarshal(data, &e); err != nil {
			return
		}
		verr := e.Validate()
		pt, err := e.Decrypt(key, aad)
		if verr != nil && !errors.Is(err, ErrBadEnvelope) {
			t.Fatalf("Validate failed (%v) but Decrypt said %v", verr, err)
		}
		// Only the seed envelopes, or ones changed in another recipient's
		// entry, can still authenticate.
		if err == nil && string(pt) != "seed corpus payload" {
			t.Fatalf("Decrypt returned %q from a forged envelope", pt)
		}
		if err != nil && !errors.Is(err, ErrBadEnvelope) && !errors.Is(err, ErrNotRecipient) && !errors.Is(err, ErrDecrypt) {
			t.Fatalf("Decrypt error %v wraps no envelope sentinel", err)
		}
	})
}

// TestEnvelopeContentBound checks that the content ciphertext itself, not
// only the wrapped keys, is bound to the associated data: a recipient who
// knows the content key and re-wraps it for another context can not make
// the original ciphertext decrypt there.
func TestEnvelopeContentBound(t *testing.T) {
	keys, pubs := generateKeys(t, 2)
	e := mustEncrypt(t, pubs, []byte("for record 1 only"), []byte("record 1"))

	// Recipient 0 recovers the content key ...
	scalar, err := keys[0].X25519()
	if err != nil {
		t.Fatal(err)
	}
	kem, kdf, aead := hpkeSuite()
	sk, err := kem.NewPrivateKey(scalar)
	if err != nil {
		t.Fatal(err)
	}
	contentKey, err := unwrapKey(sk, e.Recipients[0].Enc, []byte(envelopeInfo), e.binding([]byte("record 1")), e.Recipients[0].WrappedKey)
	if err != nil {
		t.Fatal(err)
	}
	// ... and re-wraps it for recipient 1 under the binding of record 2.
	forged := cloneEnvelope(e)
	x, err := pubs[1].X25519()
	if err != nil {
		t.Fatal(err)
	}
	pk, err := kem.NewPublicKey(x)
	if err != nil {
		t.Fatal(err)
	}
	enc, sender, err := hpke.NewSender(pk, kdf, aead, []byte(envelopeInfo))
	if err != nil {
		t.Fatal(err)
	}
	wrapped, err := sender.Seal(forged.binding([]byte("record 2")), contentKey)
	if err != nil {
		t.Fatal(err)
	}
	forged.Recipients[1].Enc, forged.Recipients[1].WrappedKey = enc, wrapped

	if _, err := forged.Decrypt(keys[1], []byte("record 2")); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("moved ciphertext: error = %v, want ErrDecrypt", err)
	}
}
