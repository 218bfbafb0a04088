package identity

import (
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/hpke"
	cryptorand "crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"golang.org/x/crypto/chacha20poly1305"
)

// Errors of Encrypt and Envelope.Decrypt.
var (
	// ErrNotRecipient reports an envelope that has no entry for the key
	// given to Decrypt.
	ErrNotRecipient = errors.New("identity: not a recipient of the envelope")
	// ErrDecrypt reports an envelope that fails authentication: it was
	// tampered with, or the associated data differs from the data given to
	// Encrypt. The error deliberately does not say which.
	ErrDecrypt = errors.New("identity: envelope decryption failed")
	// ErrBadEnvelope reports an envelope of the wrong shape (see
	// Envelope.Validate), or arguments to Encrypt that would produce one.
	ErrBadEnvelope = errors.New("identity: malformed envelope")
)

const (
	// SuiteX25519ChaCha20 is the only envelope suite: content encrypted with
	// ChaCha20-Poly1305 under a random 32-byte key, which is wrapped for
	// each recipient with HPKE (RFC 9180) base mode, DHKEM(X25519,
	// HKDF-SHA256), HKDF-SHA256 and ChaCha20-Poly1305.
	SuiteX25519ChaCha20 uint16 = 1

	// MaxRecipients is the most recipients an envelope may have.
	MaxRecipients = 16

	// envelopeInfo is the HPKE info string: it separates sixdomain
	// envelopes from any other use of the recipients' keys.
	envelopeInfo = "sixdomain envelope v1"
	// envelopeBindingLabel prefixes the digest that binds the envelope's
	// header to its content (see envelopeBinding).
	envelopeBindingLabel = "sixdomain envelope v1 binding\x00"

	contentKeySize = chacha20poly1305.KeySize                   // 32
	encSize        = 32                                         // X25519 public key
	wrappedKeySize = contentKeySize + chacha20poly1305.Overhead // 48
	nonceSize      = chacha20poly1305.NonceSize                 // 12
	minCiphertext  = chacha20poly1305.Overhead                  // empty plaintext
	bindingSize    = sha256.Size                                // 32

	// maxPlaintextSize is the most ChaCha20-Poly1305 (RFC 8439 §2.8) can
	// encrypt under one nonce; the implementation panics beyond it.
	maxPlaintextSize = 1<<38 - 64
)

// Envelope is a payload encrypted to one or more Ed25519 keys (did:key
// identities), using their X25519 keyAgreement keys. It encodes with
// fxamacker/cbor as a CBOR array [suite, recipients, nonce, ciphertext].
//
// The plaintext is encrypted once with ChaCha20-Poly1305 under a fresh
// random content key; the content key is sealed to each recipient with
// HPKE. Both encryptions authenticate a digest of the suite, the list of
// recipient keys and the caller's associated data, so an envelope can not
// be moved to a context with other associated data, and recipients can not
// be removed, added, reordered or swapped without Decrypt failing.
//
// The envelope reveals the recipients' keys and the length of the
// plaintext; pad the plaintext if its length is sensitive.
//
// An envelope is not signed: every recipient learns the content key and
// could build a different envelope for the same recipients. Sign the
// envelope (or the record holding it) when the sender must be
// authenticated.
type Envelope struct {
	_ struct{} `cbor:",toarray"`
	// Suite identifies the algorithms; SuiteX25519ChaCha20 is the only one.
	Suite uint16
	// Recipients holds one entry per recipient, in the order given to
	// Encrypt.
	Recipients []Recipient
	// Nonce is the 12-byte ChaCha20-Poly1305 nonce of Ciphertext.
	Nonce []byte
	// Ciphertext is the encrypted payload followed by its 16-byte tag.
	Ciphertext []byte
}

// Recipient is one recipient's entry in an Envelope. It encodes as a CBOR
// array [key, enc, wrappedKey].
//
// fxamacker/cbor decodes a byte string of any length into Key, padding or
// truncating it; decoders that need one encoding per value should re-encode
// and compare, as ledger/types does.
type Recipient struct {
	_ struct{} `cbor:",toarray"`
	// Key is the recipient's Ed25519 public key, i.e. its did:key.
	Key PublicKey
	// Enc is the 32-byte HPKE encapsulated key (an ephemeral X25519 key).
	Enc []byte
	// WrappedKey is the content key sealed with HPKE: 48 bytes.
	WrappedKey []byte
}

// hpkeSuite returns the HPKE algorithms of SuiteX25519ChaCha20.
func hpkeSuite() (hpke.KEM, hpke.KDF, hpke.AEAD) {
	return hpke.DHKEM(ecdh.X25519()), hpke.HKDFSHA256(), hpke.ChaCha20Poly1305()
}

// Encrypt encrypts plaintext to each of recipients, binding aad (which may
// be empty and is not stored in the envelope: Decrypt must be given the same
// bytes).
//
// rand (crypto/rand if nil) supplies the content key and the content nonce.
// The ephemeral HPKE keys always come from crypto/rand, which crypto/hpke
// does not let callers replace, so Encrypt is never deterministic.
//
// Encrypt fails with ErrBadEnvelope for no recipients, more than
// MaxRecipients or a repeated recipient, and with ErrBadPublicKey for a
// recipient key that is not a usable curve point (including the small-order
// points, whose X25519 shared secret would be zero).
func Encrypt(rand io.Reader, recipients []PublicKey, plaintext, aad []byte) (*Envelope, error) {
	if rand == nil {
		rand = cryptorand.Reader
	}
	if n := len(recipients); n == 0 || n > MaxRecipients {
		return nil, fmt.Errorf("%w: %d recipients, want 1 to %d", ErrBadEnvelope, n, MaxRecipients)
	}
	for i := range recipients {
		for j := range i {
			if recipients[i] == recipients[j] {
				return nil, fmt.Errorf("%w: recipient %d repeats recipient %d (%s)", ErrBadEnvelope, i, j, recipients[i])
			}
		}
	}
	if uint64(len(plaintext)) > maxPlaintextSize {
		return nil, fmt.Errorf("%w: %d-byte plaintext, more than %d", ErrBadEnvelope, len(plaintext), uint64(maxPlaintextSize))
	}

	kem, kdf, aead := hpkeSuite()
	pubs := make([]hpke.PublicKey, len(recipients))
	for i, r := range recipients {
		x, err := r.X25519()
		if err != nil {
			return nil, fmt.Errorf("recipient %d: %w", i, err)
		}
		pk, err := kem.NewPublicKey(x)
		if err != nil {
			return nil, fmt.Errorf("%w: recipient %d: %v", ErrBadPublicKey, i, err)
		}
		pubs[i] = pk
	}

	e := &Envelope{
		Suite:      SuiteX25519ChaCha20,
		Recipients: make([]Recipient, len(recipients)),
		Nonce:      make([]byte, nonceSize),
	}
	for i, r := range recipients {
		e.Recipients[i].Key = r
	}
	binding := e.binding(aad)

	contentKey := make([]byte, contentKeySize)
	defer clear(contentKey)
	if _, err := io.ReadFull(rand, contentKey); err != nil {
		return nil, fmt.Errorf("identity: reading content key: %w", err)
	}
	if _, err := io.ReadFull(rand, e.Nonce); err != nil {
		return nil, fmt.Errorf("identity: reading nonce: %w", err)
	}

	for i, pk := range pubs {
		enc, sender, err := hpke.NewSender(pk, kdf, aead, []byte(envelopeInfo))
		if err != nil {
			// X25519 with a small-order point gives an all-zero secret,
			// which crypto/ecdh refuses.
			return nil, fmt.Errorf("%w: recipient %d (%s): %v", ErrBadPublicKey, i, recipients[i], err)
		}
		wrapped, err := sender.Seal(binding, contentKey)
		if err != nil {
			return nil, fmt.Errorf("identity: wrapping content key: %w", err)
		}
		e.Recipients[i].Enc = enc
		e.Recipients[i].WrappedKey = wrapped
	}

	c, err := chacha20poly1305.New(contentKey)
	if err != nil { // only on a bad key size
		return nil, fmt.Errorf("identity: content cipher: %w", err)
	}
	e.Ciphertext = c.Seal(nil, e.Nonce, plaintext, binding)
	return e, nil
}

// Decrypt returns the plaintext of e for key, given the associated data
// passed to Encrypt.
//
// It fails with ErrBadEnvelope if e does not pass Validate, with
// ErrNotRecipient if no entry of e is addressed to key.Public(), and with
// ErrDecrypt if authentication fails: a wrong aad, or any change to the
// envelope after Encrypt that affects this recipient.
func (e *Envelope) Decrypt(key *PrivateKey, aad []byte) ([]byte, error) {
	if err := e.Validate(); err != nil {
		return nil, err
	}
	if key == nil || len(key.k) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("%w: invalid PrivateKey", ErrBadSeed)
	}
	me := key.Public()
	idx := -1
	for i := range e.Recipients {
		if e.Recipients[i].Key == me {
			idx = i
			break
		}
	}
	if idx < 0 {
		return nil, fmt.Errorf("%w: no entry for %s", ErrNotRecipient, me)
	}

	scalar, err := key.X25519()
	if err != nil {
		return nil, err
	}
	defer clear(scalar)
	kem, _, _ := hpkeSuite()
	sk, err := kem.NewPrivateKey(scalar)
	if err != nil { // only on a bad length
		return nil, fmt.Errorf("identity: X25519 key: %w", err)
	}
	binding := e.binding(aad)
	r := &e.Recipients[idx]
	contentKey, err := unwrapKey(sk, r.Enc, []byte(envelopeInfo), binding, r.WrappedKey)
	if err != nil {
		return nil, err
	}
	defer clear(contentKey)
	if len(contentKey) != contentKeySize {
		return nil, fmt.Errorf("%w: wrapped key is %d bytes", ErrDecrypt, len(contentKey))
	}
	c, err := chacha20poly1305.New(contentKey)
	if err != nil {
		return nil, fmt.Errorf("identity: content cipher: %w", err)
	}
	pt, err := c.Open(nil, e.Nonce, e.Ciphertext, binding)
	if err != nil {
		return nil, fmt.Errorf("%w: content does not authenticate", ErrDecrypt)
	}
	return pt, nil
}

// unwrapKey opens one HPKE base-mode message (sequence number 0) sealed to
// sk with the envelope's suite.
func unwrapKey(sk hpke.PrivateKey, enc, info, aad, ciphertext []byte) ([]byte, error) {
	_, kdf, aead := hpkeSuite()
	r, err := hpke.NewRecipient(enc, sk, kdf, aead, info)
	if err != nil {
		// A malformed or small-order encapsulated key.
		return nil, fmt.Errorf("%w: bad encapsulated key", ErrDecrypt)
	}
	pt, err := r.Open(aad, ciphertext)
	if err != nil {
		return nil, fmt.Errorf("%w: wrapped key does not authenticate", ErrDecrypt)
	}
	return pt, nil
}

// Validate checks the shape of e without doing any cryptography: a known
// suite, 1 to MaxRecipients recipients with distinct keys, and fields of
// the exact sizes the suite produces. Errors wrap ErrBadEnvelope.
//
// A valid envelope may still fail to decrypt; Validate is meant for cheap
// admission checks on untrusted input.
func (e *Envelope) Validate() error {
	if e == nil {
		return fmt.Errorf("%w: nil envelope", ErrBadEnvelope)
	}
	if e.Suite != SuiteX25519ChaCha20 {
		return fmt.Errorf("%w: unknown suite %d", ErrBadEnvelope, e.Suite)
	}
	if n := len(e.Recipients); n == 0 || n > MaxRecipients {
		return fmt.Errorf("%w: %d recipients, want 1 to %d", ErrBadEnvelope, n, MaxRecipients)
	}
	for i := range e.Recipients {
		r := &e.Recipients[i]
		for j := range i {
			if r.Key == e.Recipients[j].Key {
				return fmt.Errorf("%w: recipient %d repeats recipient %d", ErrBadEnvelope, i, j)
			}
		}
		if len(r.Enc) != encSize {
			return fmt.Errorf("%w: recipient %d: encapsulated key is %d bytes, want %d", ErrBadEnvelope, i, len(r.Enc), encSize)
		}
		if len(r.WrappedKey) != wrappedKeySize {
			return fmt.Errorf("%w: recipient %d: wrapped key is %d bytes, want %d", ErrBadEnvelope, i, len(r.WrappedKey), wrappedKeySize)
		}
	}
	if len(e.Nonce) != nonceSize {
		return fmt.Errorf("%w: nonce is %d bytes, want %d", ErrBadEnvelope, len(e.Nonce), nonceSize)
	}
	if len(e.Ciphertext) < minCiphertext {
		return fmt.Errorf("%w: ciphertext is %d bytes, shorter than the %d-byte tag", ErrBadEnvelope, len(e.Ciphertext), minCiphertext)
	}
	return nil
}

// binding returns the digest authenticated by both the HPKE-wrapped keys
// and the content:
//
//	SHA-256(label || suite (2 bytes) || n (1 byte) || key_1 .. key_n ||
//	        len(aad) (8 bytes) || aad)
//
// with integers big-endian. e must have at most 255 recipients.
func (e *Envelope) binding(aad []byte) []byte {
	h := sha256.New()
	h.Write([]byte(envelopeBindingLabel))
	var buf [8]byte
	binary.BigEndian.PutUint16(buf[:2], e.Suite)
	h.Write(buf[:2])
	h.Write([]byte{byte(len(e.Recipients))})
	for i := range e.Recipients {
		h.Write(e.Recipients[i].Key[:])
	}
	binary.BigEndian.PutUint64(buf[:], uint64(len(aad)))
	h.Write(buf[:])
	h.Write(aad)
	return h.Sum(make([]byte, 0, bindingSize))
}
