package identity

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// fastParams keep the tests quick. Real key files use DefaultScryptParams.
var fastParams = ScryptParams{N: MinScryptN, R: 8, P: 1}

// fixedPassphrase returns a passphrase function that counts its calls.
func fixedPassphrase(pass string, calls *int) func() ([]byte, error) {
	return func() ([]byte, error) {
		*calls++
		return []byte(pass), nil
	}
}

func saveEncrypted(t *testing.T, k *PrivateKey, pass string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "node.key")
	if err := SaveKeyFileEncrypted(path, k, []byte(pass), fastParams); err != nil {
		t.Fatal(err)
	}
	return path
}

// encryptedBody returns the body of the PEM block in the file at path.
func encryptedBody(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != pemTypeEncryptedKey {
		t.Fatalf("%s holds no %s block", path, pemTypeEncryptedKey)
	}
	return block.Bytes
}

func encodeEncrypted(body []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: pemTypeEncryptedKey, Bytes: body})
}

func TestEncryptedKeyFileRoundTrip(t *testing.T) {
	k := mustGenerate(t)
	for _, tt := range []struct {
		name   string
		params ScryptParams
		logN   byte
	}{
		{"fast", fastParams, 10},
		{"zero value means default", ScryptParams{}, 15},
		{"r=1 p=2", ScryptParams{N: 1 << 11, R: 1, P: 2}, 11},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "node.key")
			if err := SaveKeyFileEncrypted(path, k, []byte("correct horse battery staple"), tt.params); err != nil {
				t.Fatal(err)
			}
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
				t.Errorf("key file mode = %04o, want 0600", fi.Mode().Perm())
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 1 {
				t.Errorf("directory holds %d entries, want 1 (temporary file left behind?)", len(entries))
			}
			data, _ := os.ReadFile(path)
			if !bytes.HasPrefix(data, []byte("-----BEGIN SIXDOMAIN ENCRYPTED PRIVATE KEY-----\n")) {
				t.Errorf("key file does not start with the encrypted PEM header:\n%s", data)
			}
			body := encryptedBody(t, path)
			if len(body) != encKeySize || body[0] != 1 || body[3] != tt.logN {
				t.Errorf("body is %d bytes, version %d, log2(N) %d; want %d, 1, %d", len(body), body[0], body[3], encKeySize, tt.logN)
			}
			if bytes.Contains(body, k.Seed()) {
				t.Error("key file holds the seed in clear")
			}

			calls := 0
			loaded, err := LoadKeyFileWithPassphrase(path, fixedPassphrase("correct horse battery staple", &calls))
			if err != nil {
				t.Fatal(err)
			}
			if calls != 1 {
				t.Errorf("passphrase asked %d times, want 1", calls)
			}
			if !bytes.Equal(loaded.Seed(), k.Seed()) {
				t.Error("loaded key differs from the saved key")
			}
		})
	}

	// Two files of the same key and passphrase differ (random salt and
	// nonce).
	a, b := encryptedBody(t, saveEncrypted(t, k, "pw")), encryptedBody(t, saveEncrypted(t, k, "pw"))
	if bytes.Equal(a[12:encKeyHeaderSize], b[12:encKeyHeaderSize]) || bytes.Equal(a, b) {
		t.Error("two encryptions share salt and nonce")
	}
}

func TestLoadKeyFileWithPassphrasePlainFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "node.key")
	k := mustGenerate(t)
	if err := SaveKeyFile(path, k); err != nil {
		t.Fatal(err)
	}
	calls := 0
	loaded, err := LoadKeyFileWithPassphrase(path, fixedPassphrase("unused", &calls))
	if err != nil {
		t.Fatal(err)
	}
	if calls != 0 {
		t.Errorf("passphrase asked %d times for a plain key file", calls)
	}
	if loaded.Public() != k.Public() {
		t.Error("loaded key differs")
	}
}

func TestLoadKeyFileEncrypted(t *testing.T) {
	path := saveEncrypted(t, mustGenerate(t), "pw")
	_, err := LoadKeyFile(path)
	if !errors.Is(err, ErrKeyEncrypted) {
		t.Fatalf("LoadKeyFile error = %v, want ErrKeyEncrypted", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "give a passphrase") || !strings.Contains(msg, path) {
		t.Errorf("error %q should ask for a passphrase and name the file", msg)
	}
	if _, err := LoadKeyFileWithPassphrase(path, nil); !errors.Is(err, ErrKeyEncrypted) {
		t.Errorf("nil passphrase function: error = %v, want ErrKeyEncrypted", err)
	}
}

func TestEncryptedKeyFileWrongPassphrase(t *testing.T) {
	path := saveEncrypted(t, mustGenerate(t), "correct horse")
	for _, pass := range []string{"correct hors", "correct horse ", "Correct horse", "x"} {
		calls := 0
		if _, err := LoadKeyFileWithPassphrase(path, fixedPassphrase(pass, &calls)); !errors.Is(err, ErrWrongPassphrase) {
			t.Errorf("passphrase %q: error = %v, want ErrWrongPassphrase", pass, err)
		}
	}
	_, err := LoadKeyFileWithPassphrase(path, func() ([]byte, error) { return nil, nil })
	if !errors.Is(err, ErrWrongPassphrase) || !errors.Is(err, ErrEmptyPassphrase) {
		t.Errorf("empty passphrase: error = %v, want ErrWrongPassphrase and ErrEmptyPassphrase", err)
	}
	errNoTTY := errors.New("no terminal")
	if _, err := LoadKeyFileWithPassphrase(path, func() ([]byte, error) { return nil, errNoTTY }); !errors.Is(err, errNoTTY) {
		t.Errorf("failing passphrase function: error = %v, want it wrapped", err)
	}
}

// makeBody returns a well-formed encrypted key body with the given scrypt
// parameter fields and a ciphertext that authenticates under no key.
func makeBody(logN byte, r, p uint32) []byte {
	body := make([]byte, encKeySize)
	body[0], body[1], body[2], body[3] = encKeyVersion, encKeyKDFScrypt, encKeyAEADXChaCha, logN
	binary.BigEndian.PutUint32(body[4:8], r)
	binary.BigEndian.PutUint32(body[8:12], p)
	return body
}

func TestEncryptedKeyFileTampered(t *testing.T) {
	path := saveEncrypted(t, mustGenerate(t), "pw")
	good := encryptedBody(t, path)
	tests := []struct {
		name   string
		tamper func(b []byte) []byte
		is     error  // if non-nil, the error must wrap it
		reason string // else the error must say this
	}{
		{"version", func(b []byte) []byte { b[0] = 2; return b }, nil, "unsupported encrypted key version 2"},
		{"KDF", func(b []byte) []byte { b[1] = 2; return b }, nil, "unsupported key derivation function 2"},
		{"AEAD", func(b []byte) []byte { b[2] = 0; return b }, nil, "unsupported key encryption cipher 0"},
		{"log2(N) 10 to 11", func(b []byte) []byte { b[3] = 11; return b }, ErrWrongPassphrase, ""},
		{"r 8 to 9", func(b []byte) []byte { b[7] = 9; return b }, ErrWrongPassphrase, ""},
		{"p 1 to 2", func(b []byte) []byte { b[11] = 2; return b }, ErrWrongPassphrase, ""},
		{"p 1 to 0", func(b []byte) []byte { b[11] = 0; return b }, ErrBadScryptParams, ""},
		{"salt", func(b []byte) []byte { b[12] ^= 1; return b }, ErrWrongPassphrase, ""},
		{"nonce", func(b []byte) []byte { b[51] ^= 1; return b }, ErrWrongPassphrase, ""},
		{"ciphertext", func(b []byte) []byte { b[52] ^= 1; return b }, ErrWrongPassphrase, ""},
		{"tag", func(b []byte) []byte { b[encKeySize-1] ^= 1; return b }, ErrWrongPassphrase, ""},
		{"truncated", func(b []byte) []byte { return b[:encKeySize-1] }, nil, "encrypted key is 99 bytes, want 100"},
		{"extended", func(b []byte) []byte { return append(b, 0) }, nil, "encrypted key is 101 bytes, want 100"},
		{"empty", func(b []byte) []byte { return nil }, nil, "encrypted key is 0 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := tt.tamper(bytes.Clone(good))
			p := writeKeyFile(t, encodeEncrypted(body), 0o600)
			_, err := LoadKeyFileWithPassphrase(p, func() ([]byte, error) { return []byte("pw"), nil })
			if err == nil {
				t.Fatal("tampered key file loaded")
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error = %v, want it to wrap %v", err, tt.is)
			}
			if !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("error %q does not say %q", err, tt.reason)
			}
		})
	}

	// Damage to the PEM framing.
	for name, data := range map[string][]byte{
		"headers":       pem.EncodeToMemory(&pem.Block{Type: pemTypeEncryptedKey, Headers: map[string]string{"Proc-Type": "4,ENCRYPTED"}, Bytes: good}),
		"trailing data": append(encodeEncrypted(good), "junk"...),
		"two blocks":    append(encodeEncrypted(good), encodeEncrypted(good)...),
		"other type":    pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: good}),
	} {
		calls := 0
		if _, err := LoadKeyFileWithPassphrase(writeKeyFile(t, data, 0o600), fixedPassphrase("pw", &calls)); err == nil {
			t.Errorf("%s: loaded", name)
		}
		if calls != 0 {
			t.Errorf("%s: passphrase asked for a malformed file", name)
		}
	}
}

func TestEncryptedKeyFileHostileParams(t *testing.T) {
	tests := []struct {
		name    string
		logN    byte
		r, p    uint32
		wantErr bool
	}{
		{"N=2^30", 30, 8, 1, true},
		{"N=2^31", 31, 1, 1, true},
		{"N=2^63", 63, 1, 1, true},
		{"N=2^255", 255, 1, 1, true},
		{"r=2^20", 15, 1 << 20, 1, true},
		{"r=2^32-1", 10, 1<<32 - 1, 1, true},
		{"p=2^20", 15, 8, 1 << 20, true},
		{"p=2^32-1", 10, 8, 1<<32 - 1, true},
		{"128 MiB: N=2^17 r=8", 17, 8, 1, true},
		{"128 MiB: N=2^20 r=1", 20, 1, 1, true},
		{"16 MiB: N=2^12 r=32 (allowed)", 12, 32, 1, false},
		{"r=33", 10, 33, 1, true},
		{"p=5", 10, 8, 5, true},
		{"N below minimum", 9, 8, 1, true},
		{"N=1", 0, 8, 1, true},
		{"r=0", 10, 0, 1, true},
		{"p=0", 10, 8, 0, true},
		{"64 MiB: N=2^16 r=8 (allowed)", 16, 8, 1, false},
		{"64 MiB: N=2^19 r=1 (allowed)", 19, 1, 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := makeBody(tt.logN, tt.r, tt.p)
			kdfCalled := false
			kdf := func(pass, salt []byte, p ScryptParams) ([]byte, error) {
				kdfCalled = true
				if err := p.Validate(); err != nil {
					t.Errorf("KDF called with %+v: %v", p, err)
				}
				return make([]byte, 32), nil
			}
			calls := 0
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			start := time.Now()
			_, err := parseKeyFile(encodeEncrypted(body), fixedPassphrase("pw", &calls), kdf)
			elapsed := time.Since(start)
			runtime.ReadMemStats(&after)

			if !tt.wantErr {
				// Accepted parameters reach the KDF; the zero ciphertext
				// then fails to authenticate.
				if !kdfCalled || !errors.Is(err, ErrWrongPassphrase) {
					t.Errorf("KDF called: %v, error = %v; want the KDF called and ErrWrongPassphrase", kdfCalled, err)
				}
				return
			}
			if !errors.Is(err, ErrBadScryptParams) {
				t.Errorf("error = %v, want ErrBadScryptParams", err)
			}
			if kdfCalled || calls != 0 {
				t.Errorf("KDF called: %v, passphrase asked %d times; want neither", kdfCalled, calls)
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
				t.Errorf("refusing the file allocated %d bytes", alloc)
			}
			if elapsed > time.Second {
				t.Errorf("refusing the file took %v", elapsed)
			}
		})
	}

	// The same through the real loader and real scrypt: refused at once.
	path := writeKeyFile(t, encodeEncrypted(makeBody(30, 1<<20, 1)), 0o600)
	start := time.Now()
	if _, err := LoadKeyFileWithPassphrase(path, func() ([]byte, error) { return []byte("pw"), nil }); !errors.Is(err, ErrBadScryptParams) {
		t.Errorf("LoadKeyFileWithPassphrase error = %v, want ErrBadScryptParams", err)
	}
	if elapsed := time.Since(start); elapsed > time.Second {
		t.Errorf("LoadKeyFileWithPassphrase took %v to refuse hostile parameters", elapsed)
	}
	// And scryptKey itself refuses them, whatever its caller checked.
	if _, err := scryptKey([]byte("pw"), make([]byte, 16), ScryptParams{N: 1 << 30, R: 1 << 20, P: 1}); !errors.Is(err, ErrBadScryptParams) {
		t.Errorf("scryptKey error = %v, want ErrBadScryptParams", err)
	}
}

func TestScryptParamsValidate(t *testing.T) {
	tests := []struct {
		p  ScryptParams
		ok bool
	}{
		{DefaultScryptParams(), true},
		{ScryptParams{N: 1 << 16, R: 8, P: 1}, true},
		{ScryptParams{N: 1 << 10, R: 1, P: 1}, true},
		{ScryptParams{N: 1 << 14, R: 32, P: 4}, true},
		{ScryptParams{N: 1 << 17, R: 8, P: 1}, false}, // 128 MiB
		{ScryptParams{N: 1 << 62, R: 1, P: 1}, false},
		{ScryptParams{N: 1<<15 + 1, R: 8, P: 1}, false},
		{ScryptParams{N: 3 << 12, R: 8, P: 1}, false},
		{ScryptParams{N: 1 << 9, R: 8, P: 1}, false},
		{ScryptParams{N: -1 << 15, R: 8, P: 1}, false},
		{ScryptParams{N: 1 << 15, R: 0, P: 1}, false},
		{ScryptParams{N: 1 << 15, R: -8, P: 1}, false},
		{ScryptParams{N: 1 << 10, R: 33, P: 1}, false},
		{ScryptParams{N: 1 << 15, R: 8, P: 0}, false},
		{ScryptParams{N: 1 << 15, R: 8, P: 5}, false},
		{ScryptParams{}, false}, // only SaveKeyFileEncrypted maps it to the default
	}
	for _, tt := range tests {
		err := tt.p.Validate()
		if tt.ok && err != nil {
			t.Errorf("%+v: %v", tt.p, err)
		}
		if !tt.ok && !errors.Is(err, ErrBadScryptParams) {
			t.Errorf("%+v: error = %v, want ErrBadScryptParams", tt.p, err)
		}
	}
	if d := DefaultScryptParams(); d.N != 1<<15 || d.R != 8 || d.P != 1 {
		t.Errorf("DefaultScryptParams() = %+v, want N=2^15 r=8 p=1", d)
	}
}

func TestSaveKeyFileEncryptedErrors(t *testing.T) {
	dir := t.TempDir()
	k := mustGenerate(t)
	if err := SaveKeyFileEncrypted(filepath.Join(dir, "a.key"), k, nil, fastParams); !errors.Is(err, ErrEmptyPassphrase) {
		t.Errorf("nil passphrase: error = %v, want ErrEmptyPassphrase", err)
	}
	if err := SaveKeyFileEncrypted(filepath.Join(dir, "a.key"), k, []byte{}, fastParams); !errors.Is(err, ErrEmptyPassphrase) {
		t.Errorf("empty passphrase: error = %v, want ErrEmptyPassphrase", err)
	}
	if err := SaveKeyFileEncrypted(filepath.Join(dir, "a.key"), k, []byte("pw"), ScryptParams{N: 1 << 20, R: 8, P: 1}); !errors.Is(err, ErrBadScryptParams) {
		t.Errorf("1 GiB parameters: error = %v, want ErrBadScryptParams", err)
	}
	for _, bad := range []*PrivateKey{nil, {}} {
		if err := SaveKeyFileEncrypted(filepath.Join(dir, "a.key"), bad, []byte("pw"), fastParams); err == nil {
			t.Errorf("SaveKeyFileEncrypted(%v) succeeded", bad)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("failed saves left %d files behind", len(entries))
	}

	path := saveEncrypted(t, k, "pw")
	before, _ := os.ReadFile(path)
	if err := SaveKeyFileEncrypted(path, mustGenerate(t), []byte("pw"), fastParams); !errors.Is(err, ErrKeyExists) {
		t.Errorf("overwrite: error = %v, want ErrKeyExists", err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Error("existing key file was modified")
	}
}

func TestEncryptedKeyFilePermissions(t *testing.T) {
	skipOnWindows(t)
	path := saveEncrypted(t, mustGenerate(t), "pw")
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o660} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		calls := 0
		if _, err := LoadKeyFileWithPassphrase(path, fixedPassphrase("pw", &calls)); !errors.Is(err, ErrInsecurePermissions) {
			t.Errorf("mode %04o: error = %v, want ErrInsecurePermissions", mode, err)
		}
		if calls != 0 {
			t.Errorf("mode %04o: passphrase asked for an insecure file", mode)
		}
		if err := DecryptKeyFile(path, []byte("pw")); !errors.Is(err, ErrInsecurePermissions) {
			t.Errorf("mode %04o: DecryptKeyFile error = %v, want ErrInsecurePermissions", mode, err)
		}
	}
	if err := os.Chmod(path, 0o400); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadKeyFileWithPassphrase(path, func() ([]byte, error) { return []byte("pw"), nil }); err != nil {
		t.Errorf("mode 0400: %v", err)
	}

	plain := filepath.Join(t.TempDir(), "plain.key")
	if err := SaveKeyFile(plain, mustGenerate(t)); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(plain, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := EncryptKeyFile(plain, []byte("pw"), fastParams); !errors.Is(err, ErrInsecurePermissions) {
		t.Errorf("EncryptKeyFile of a 0644 file: error = %v, want ErrInsecurePermissions", err)
	}
}

func TestEncryptDecryptKeyFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "node.key")
	k := mustGenerate(t)
	if err := SaveKeyFile(path, k); err != nil {
		t.Fatal(err)
	}
	plainBytes, _ := os.ReadFile(path)

	checkDir := func(when string) {
		t.Helper()
		if entries, _ := os.ReadDir(dir); len(entries) != 1 {
			t.Errorf("%s: directory holds %d entries, want 1 (temporary file left behind?)", when, len(entries))
		}
		if fi, err := os.Stat(path); err != nil {
			t.Fatal(err)
		} else if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode = %04o, want 0600", when, fi.Mode().Perm())
		}
	}

	if err := EncryptKeyFile(path, nil, fastParams); !errors.Is(err, ErrEmptyPassphrase) {
		t.Errorf("empty passphrase: error = %v, want ErrEmptyPassphrase", err)
	}
	if err := EncryptKeyFile(path, []byte("pw"), ScryptParams{N: 1 << 30, R: 8, P: 1}); !errors.Is(err, ErrBadScryptParams) {
		t.Errorf("bad params: error = %v, want ErrBadScryptParams", err)
	}
	if now, _ := os.ReadFile(path); !bytes.Equal(now, plainBytes) {
		t.Fatal("failed EncryptKeyFile modified the file")
	}

	if err := EncryptKeyFile(path, []byte("s3cret"), fastParams); err != nil {
		t.Fatal(err)
	}
	checkDir("after EncryptKeyFile")
	if _, err := LoadKeyFile(path); !errors.Is(err, ErrKeyEncrypted) {
		t.Errorf("LoadKeyFile after EncryptKeyFile: error = %v, want ErrKeyEncrypted", err)
	}
	loaded, err := LoadKeyFileWithPassphrase(path, func() ([]byte, error) { return []byte("s3cret"), nil })
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(loaded.Seed(), k.Seed()) {
		t.Fatal("encrypted file holds another key")
	}
	if err := EncryptKeyFile(path, []byte("again"), fastParams); !errors.Is(err, ErrKeyEncrypted) {
		t.Errorf("EncryptKeyFile twice: error = %v, want ErrKeyEncrypted", err)
	}

	encBytes, _ := os.ReadFile(path)
	if err := DecryptKeyFile(path, []byte("wrong")); !errors.Is(err, ErrWrongPassphrase) {
		t.Errorf("DecryptKeyFile with a wrong passphrase: error = %v, want ErrWrongPassphrase", err)
	}
	if now, _ := os.ReadFile(path); !bytes.Equal(now, encBytes) {
		t.Fatal("failed DecryptKeyFile modified the file")
	}
	if err := DecryptKeyFile(path, []byte("s3cret")); err != nil {
		t.Fatal(err)
	}
	checkDir("after DecryptKeyFile")
	if now, _ := os.ReadFile(path); !bytes.Equal(now, plainBytes) {
		t.Error("DecryptKeyFile did not restore the PKCS #8 file SaveKeyFile wrote")
	}
	if err := DecryptKeyFile(path, []byte("s3cret")); !errors.Is(err, ErrKeyNotEncrypted) {
		t.Errorf("DecryptKeyFile twice: error = %v, want ErrKeyNotEncrypted", err)
	}

	// Missing files and symlinks are refused.
	if err := EncryptKeyFile(filepath.Join(dir, "missing"), []byte("pw"), fastParams); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: error = %v, want os.ErrNotExist", err)
	}
	if runtime.GOOS != "windows" {
		link := filepath.Join(t.TempDir(), "link.key")
		if err := os.Symlink(path, link); err != nil {
			t.Fatal(err)
		}
		if err := EncryptKeyFile(link, []byte("pw"), fastParams); err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("EncryptKeyFile of a symlink: error = %v", err)
		}
		if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
			t.Error("symlink was replaced")
		}
	}
}

// fuzzKDF stands in for scrypt in the fuzz target: fast, deterministic,
// and it fails the test if called with parameters out of bounds.
func fuzzKDF(t *testing.T) kdfFunc {
	return func(pass, salt []byte, p ScryptParams) ([]byte, error) {
		if err := p.Validate(); err != nil {
			t.Fatalf("KDF called with out-of-bounds parameters %+v: %v", p, err)
		}
		h := sha256.New()
		h.Write(pass)
		h.Write(salt)
		return h.Sum(nil), nil
	}
}

func FuzzEncryptedKeyFile(f *testing.F) {
	k, err := FromSeed(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		f.Fatal(err)
	}
	valid, err := encryptKeyPEM(bytes.NewReader(make([]byte, 64)), k, []byte("pw"), fastParams,
		func(pass, salt []byte, p ScryptParams) ([]byte, error) {
			h := sha256.New()
			h.Write(pass)
			h.Write(salt)
			return h.Sum(nil), nil
		})
	if err != nil {
		f.Fatal(err)
	}
	block, _ := pem.Decode(valid)
	plain, err := encodeKeyPEM(k)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	f.Add(block.Bytes)
	f.Add(plain)
	f.Add(makeBody(30, 1<<20, 1))
	f.Add(makeBody(16, 8, 1))
	f.Add([]byte("-----BEGIN SIXDOMAIN ENCRYPTED PRIVATE KEY-----\n-----END SIXDOMAIN ENCRYPTED PRIVATE KEY-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		kdf := fuzzKDF(t)
		pass := func() ([]byte, error) { return []byte("pw"), nil }
		// data as a whole file, and as the body of an encrypted block.
		for _, file := range [][]byte{data, encodeEncrypted(data)} {
			block, _ := pem.Decode(file)
			encrypted := block != nil && block.Type == pemTypeEncryptedKey
			got, err := parseKeyFile(file, pass, kdf)
			if err == nil && encrypted && got.Public() != k.Public() {
				t.Fatal("an encrypted file yielded a key other than the one sealed in the corpus")
			}
			if _, err := parseKeyFile(file, nil, kdf); encrypted && err == nil {
				t.Fatal("an encrypted file loaded without a passphrase")
			}
		}
	})
}

// BenchmarkScryptDefault measures one key derivation with
// DefaultScryptParams: the time to load (and, roughly, to save) an
// encrypted key file.
func BenchmarkScryptDefault(b *testing.B) {
	p := DefaultScryptParams()
	salt := make([]byte, encKeySaltSize)
	pass := []byte("correct horse battery staple")
	for b.Loop() {
		if _, err := scryptKey(pass, salt, p); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(128*p.N*p.R)/(1<<20), "scrypt-MiB")
}
