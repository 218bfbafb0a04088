package identity

import (
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"os"

	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/crypto/scrypt"
)

// Errors of passphrase-encrypted key files.
var (
	// ErrKeyEncrypted reports a passphrase-encrypted key file where a plain
	// one was expected, e.g. given to LoadKeyFile.
	ErrKeyEncrypted = errors.New("identity: key file is encrypted")
	// ErrKeyNotEncrypted reports a plain key file given to DecryptKeyFile.
	ErrKeyNotEncrypted = errors.New("identity: key file is not encrypted")
	// ErrWrongPassphrase reports a key file that does not decrypt with the
	// given passphrase. The file may also have been modified: the two cases
	// can not be told apart.
	ErrWrongPassphrase = errors.New("identity: wrong passphrase (or corrupted key file)")
	// ErrEmptyPassphrase reports an empty passphrase. On load it also
	// wraps ErrWrongPassphrase, since no file is encrypted with one.
	ErrEmptyPassphrase = errors.New("identity: empty passphrase")
	// ErrBadScryptParams reports scrypt parameters outside the bounds
	// documented on ScryptParams, whether chosen by a caller or read from a
	// key file.
	ErrBadScryptParams = errors.New("identity: scrypt parameters out of bounds")
)

// pemTypeEncryptedKey is the PEM block type of passphrase-encrypted keys.
const pemTypeEncryptedKey = "SIXDOMAIN ENCRYPTED PRIVATE KEY"

// Bounds on scrypt parameters, enforced when saving and, before any key
// derivation, when loading.
const (
	// MaxScryptMemory bounds the memory scrypt needs, 128·N·r bytes: 64 MiB.
	MaxScryptMemory = 64 << 20
	// MinScryptN is the smallest cost N accepted. It is far too weak for
	// real keys and exists so tests run fast; use DefaultScryptParams.
	MinScryptN = 1 << 10
	// MaxScryptR bounds the block size r.
	MaxScryptR = 32
	// MaxScryptP bounds the parallelization p. The derivation time grows
	// linearly with p (x/crypto/scrypt does not run in parallel).
	MaxScryptP = 4
)

// ScryptParams are the cost parameters of the scrypt key derivation
// (RFC 7914) protecting an encrypted key file. N must be a power of two of
// at least MinScryptN, 1 ≤ R ≤ MaxScryptR, 1 ≤ P ≤ MaxScryptP, and
// 128·N·R ≤ MaxScryptMemory. The zero value means DefaultScryptParams.
type ScryptParams struct {
	N, R, P int
}

// DefaultScryptParams returns the parameters SaveKeyFileEncrypted uses for
// the zero ScryptParams: N = 2^15, r = 8, p = 1, which need 32 MiB. One
// derivation took 0.08-0.17 s on a 2-vCPU server (BenchmarkScryptDefault
// measures a device; no ARM board was measured). N = 2^16 (64 MiB, twice the
// time) is the strongest setting the memory bound allows with r = 8.
func DefaultScryptParams() ScryptParams {
	return ScryptParams{N: 1 << 15, R: 8, P: 1}
}

// Validate reports whether p is within the bounds documented on
// ScryptParams. Errors wrap ErrBadScryptParams.
func (p ScryptParams) Validate() error {
	switch {
	case p.N < MinScryptN || p.N&(p.N-1) != 0:
		return fmt.Errorf("%w: N = %d is not a power of two of at least %d", ErrBadScryptParams, p.N, MinScryptN)
	case p.R < 1 || p.R > MaxScryptR:
		return fmt.Errorf("%w: r = %d, want 1 to %d", ErrBadScryptParams, p.R, MaxScryptR)
	case p.P < 1 || p.P > MaxScryptP:
		return fmt.Errorf("%w: p = %d, want 1 to %d", ErrBadScryptParams, p.P, MaxScryptP)
	case p.N > MaxScryptMemory/128/p.R:
		return fmt.Errorf("%w: N = %d and r = %d need 128·N·r bytes, more than the %d MiB allowed",
			ErrBadScryptParams, p.N, p.R, MaxScryptMemory>>20)
	}
	return nil
}

// orDefault returns DefaultScryptParams for the zero p, and p otherwise.
func (p ScryptParams) orDefault() ScryptParams {
	if p == (ScryptParams{}) {
		return DefaultScryptParams()
	}
	return p
}

// The body of a "SIXDOMAIN ENCRYPTED PRIVATE KEY" PEM block, version 1, is
// exactly encKeySize bytes (integers big-endian):
//
//	offset size
//	 0      1   version = 1
//	 1      1   KDF = 1 (scrypt)
//	 2      1   AEAD = 1 (XChaCha20-Poly1305)
//	 3      1   log2(N)
//	 4      4   r
//	 8      4   p
//	12     16   salt
//	28     24   nonce
//	52     48   sealed 32-byte Ed25519 seed (RFC 8032) with its 16-byte tag
//
// The key encryption key is scrypt(passphrase, salt, N, r, p, 32), and the
// first 52 bytes are the AEAD's associated data, so no parameter can be
// changed without decryption failing.
const (
	encKeyVersion     = 1
	encKeyKDFScrypt   = 1
	encKeyAEADXChaCha = 1

	encKeySaltSize   = 16
	encKeyHeaderSize = 12 + encKeySaltSize + chacha20poly1305.NonceSizeX               // 52
	encKeySize       = encKeyHeaderSize + ed25519.SeedSize + chacha20poly1305.Overhead // 100
)

// kdfFunc derives a 32-byte key encryption key. It is a parameter of the
// parsing functions so that tests can observe which parameters reach it.
type kdfFunc func(passphrase, salt []byte, p ScryptParams) ([]byte, error)

// scryptKey is the kdfFunc used for key files. It re-checks p, so that no
// path can run scrypt with parameters outside the bounds.
func scryptKey(passphrase, salt []byte, p ScryptParams) ([]byte, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return scrypt.Key(passphrase, salt, p.N, p.R, p.P, chacha20poly1305.KeySize)
}

// encryptKeyPEM returns k sealed under passphrase as a PEM
// "SIXDOMAIN ENCRYPTED PRIVATE KEY" block. p must be valid.
func encryptKeyPEM(rnd io.Reader, k *PrivateKey, passphrase []byte, p ScryptParams, kdf kdfFunc) ([]byte, error) {
	body := make([]byte, encKeyHeaderSize, encKeySize)
	body[0] = encKeyVersion
	body[1] = encKeyKDFScrypt
	body[2] = encKeyAEADXChaCha
	body[3] = byte(bits.TrailingZeros(uint(p.N)))
	binary.BigEndian.PutUint32(body[4:8], uint32(p.R))
	binary.BigEndian.PutUint32(body[8:12], uint32(p.P))
	if _, err := io.ReadFull(rnd, body[12:encKeyHeaderSize]); err != nil {
		return nil, fmt.Errorf("identity: reading salt and nonce: %w", err)
	}
	aead, nonce, err := keyEncryptionCipher(kdf, passphrase, body, p)
	if err != nil {
		return nil, err
	}
	seed := k.Seed()
	defer clear(seed)
	body = aead.Seal(body, nonce, seed, body[:encKeyHeaderSize])
	return pem.EncodeToMemory(&pem.Block{Type: pemTypeEncryptedKey, Bytes: body}), nil
}

// keyEncryptionCipher derives the key-encryption key from the passphrase
// and the salt in body's header, and returns its cipher and the header's
// nonce.
func keyEncryptionCipher(kdf kdfFunc, passphrase, body []byte, p ScryptParams) (cipher.AEAD, []byte, error) {
	salt, nonce := body[12:28], body[28:encKeyHeaderSize]
	kek, err := kdf(passphrase, salt, p)
	if err != nil {
		return nil, nil, fmt.Errorf("identity: deriving key encryption key: %w", err)
	}
	defer clear(kek)
	aead, err := chacha20poly1305.NewX(kek)
	if err != nil {
		return nil, nil, fmt.Errorf("identity: key encryption cipher: %w", err)
	}
	return aead, nonce, nil
}

// parseEncryptedKeyHeader checks the fixed layout of an encrypted key body
// and returns its scrypt parameters, which it has validated. It does no
// cryptography, so a hostile file costs nothing here.
func parseEncryptedKeyHeader(body []byte) (ScryptParams, error) {
	if len(body) != encKeySize {
		return ScryptParams{}, fmt.Errorf("identity: encrypted key is %d bytes, want %d", len(body), encKeySize)
	}
	if body[0] != encKeyVersion {
		return ScryptParams{}, fmt.Errorf("identity: unsupported encrypted key version %d", body[0])
	}
	if body[1] != encKeyKDFScrypt {
		return ScryptParams{}, fmt.Errorf("identity: unsupported key derivation function %d", body[1])
	}
	if body[2] != encKeyAEADXChaCha {
		return ScryptParams{}, fmt.Errorf("identity: unsupported key encryption cipher %d", body[2])
	}
	// Check the sizes before building ints from them, so that no shift or
	// conversion can overflow.
	logN, r, p := body[3], binary.BigEndian.Uint32(body[4:8]), binary.BigEndian.Uint32(body[8:12])
	if logN >= 31 || r > MaxScryptR || p > MaxScryptP {
		return ScryptParams{}, fmt.Errorf("%w: log2(N) = %d, r = %d, p = %d", ErrBadScryptParams, logN, r, p)
	}
	params := ScryptParams{N: 1 << logN, R: int(r), P: int(p)}
	if err := params.Validate(); err != nil {
		return ScryptParams{}, err
	}
	return params, nil
}

// decryptKeyBody decrypts the body of a "SIXDOMAIN ENCRYPTED PRIVATE KEY"
// block. It validates the header before it calls passphrase, and so before
// any key derivation.
func decryptKeyBody(body []byte, passphrase func() ([]byte, error), kdf kdfFunc) (*PrivateKey, error) {
	params, err := parseEncryptedKeyHeader(body)
	if err != nil {
		return nil, err
	}
	pass, err := passphrase()
	if err != nil {
		return nil, fmt.Errorf("identity: reading passphrase: %w", err)
	}
	if len(pass) == 0 {
		return nil, fmt.Errorf("%w: %w", ErrWrongPassphrase, ErrEmptyPassphrase)
	}
	aead, nonce, err := keyEncryptionCipher(kdf, pass, body, params)
	if err != nil {
		return nil, err
	}
	seed, err := aead.Open(nil, nonce, body[encKeyHeaderSize:], body[:encKeyHeaderSize])
	if err != nil {
		return nil, ErrWrongPassphrase
	}
	defer clear(seed)
	return FromSeed(seed)
}

// SaveKeyFileEncrypted writes k to a new file at path, encrypted under
// passphrase, as a PEM "SIXDOMAIN ENCRYPTED PRIVATE KEY" block: the seed is
// sealed with XChaCha20-Poly1305 under a key derived from passphrase with
// scrypt, using params (the zero ScryptParams means DefaultScryptParams)
// and a random salt. Like SaveKeyFile, it creates the file with mode 0600
// via a temporary file, and fails with ErrKeyExists rather than replace an
// existing file.
//
// The passphrase is used as given, byte for byte: callers reading it from
// a terminal should strip the line ending and not normalize it differently
// when loading. An empty passphrase is refused with ErrEmptyPassphrase, and
// parameters out of bounds with ErrBadScryptParams.
func SaveKeyFileEncrypted(path string, k *PrivateKey, passphrase []byte, params ScryptParams) error {
	if k == nil || len(k.k) != ed25519.PrivateKeySize {
		return fmt.Errorf("identity: SaveKeyFileEncrypted %s: invalid PrivateKey", path)
	}
	if len(passphrase) == 0 {
		return ErrEmptyPassphrase
	}
	params = params.orDefault()
	if err := params.Validate(); err != nil {
		return err
	}
	if err := checkNoKeyFile("SaveKeyFileEncrypted", path); err != nil {
		return err
	}
	data, err := encryptKeyPEM(rand.Reader, k, passphrase, params, scryptKey)
	if err != nil {
		return err
	}
	return writeNewKeyFile("SaveKeyFileEncrypted", path, data)
}

// LoadKeyFileWithPassphrase reads a key file written by SaveKeyFile or
// SaveKeyFileEncrypted, with the checks of LoadKeyFile (regular file, at
// most 16 KiB, no access for group or others).
//
// passphrase is called only if the file is encrypted, and only once the
// file's format and scrypt parameters have been checked; its error, if
// any, is returned wrapped. Parameters out of the bounds of ScryptParams
// are refused with ErrBadScryptParams before any key derivation, so a
// hostile file can not make the device allocate more than
// MaxScryptMemory. A passphrase that does not decrypt the file gives
// ErrWrongPassphrase. The returned passphrase slice is not modified. A nil
// passphrase function makes encrypted files fail with ErrKeyEncrypted, as
// LoadKeyFile does.
func LoadKeyFileWithPassphrase(path string, passphrase func() ([]byte, error)) (*PrivateKey, error) {
	data, err := readKeyFile("LoadKeyFileWithPassphrase", path)
	if err != nil {
		return nil, err
	}
	defer clear(data)
	k, err := parseKeyFile(data, passphrase, scryptKey)
	if err != nil {
		return nil, fmt.Errorf("%w (key file %s)", err, path)
	}
	return k, nil
}

// EncryptKeyFile encrypts the plain key file at path in place under
// passphrase and params (the zero ScryptParams means DefaultScryptParams):
// the encrypted file is written to a temporary file (mode 0600) in the same
// directory, flushed to disk and renamed over path, so path holds either
// the old or the new file, never a mix.
//
// path must be a regular file (not a symlink) that LoadKeyFile accepts. An
// already encrypted file is refused with ErrKeyEncrypted. The file must
// not be modified by others during the conversion.
func EncryptKeyFile(path string, passphrase []byte, params ScryptParams) error {
	const op = "EncryptKeyFile"
	if len(passphrase) == 0 {
		return ErrEmptyPassphrase
	}
	params = params.orDefault()
	if err := params.Validate(); err != nil {
		return err
	}
	if err := checkRegularNotSymlink(op, path); err != nil {
		return err
	}
	data, err := readKeyFile(op, path)
	if err != nil {
		return err
	}
	defer clear(data)
	k, err := parseKeyFile(data, nil, scryptKey)
	if err != nil {
		if errors.Is(err, ErrKeyEncrypted) {
			return fmt.Errorf("%w already: %s", ErrKeyEncrypted, path)
		}
		return fmt.Errorf("%w (key file %s)", err, path)
	}
	enc, err := encryptKeyPEM(rand.Reader, k, passphrase, params, scryptKey)
	if err != nil {
		return err
	}
	return replaceKeyFile(op, path, enc)
}

// DecryptKeyFile decrypts the encrypted key file at path in place, leaving
// a plain PKCS #8 key file as SaveKeyFile writes, atomically as
// EncryptKeyFile does. It fails with ErrKeyNotEncrypted for a plain file,
// and with ErrWrongPassphrase if passphrase does not decrypt it.
func DecryptKeyFile(path string, passphrase []byte) error {
	const op = "DecryptKeyFile"
	if err := checkRegularNotSymlink(op, path); err != nil {
		return err
	}
	data, err := readKeyFile(op, path)
	if err != nil {
		return err
	}
	defer clear(data)
	asked := false
	k, err := parseKeyFile(data, func() ([]byte, error) { asked = true; return passphrase, nil }, scryptKey)
	if err != nil {
		return fmt.Errorf("%w (key file %s)", err, path)
	}
	if !asked {
		return fmt.Errorf("%w: %s", ErrKeyNotEncrypted, path)
	}
	plain, err := encodeKeyPEM(k)
	if err != nil {
		return err
	}
	defer clear(plain)
	return replaceKeyFile(op, path, plain)
}

// checkRegularNotSymlink fails unless path itself (not a symlink target) is
// a regular file, so that an in-place conversion does not replace a link
// with a file.
func checkRegularNotSymlink(op, path string) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return fmt.Errorf("identity: %s: %w", op, err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("identity: key file %s is not a regular file (mode %s); convert the file it points to", path, fi.Mode())
	}
	return nil
}
