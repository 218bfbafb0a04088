package identity

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func skipOnWindows(t *testing.T) {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("Unix permission bits")
	}
}

// writeKeyFile writes data with the given mode, regardless of the umask.
func writeKeyFile(t *testing.T, data []byte, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "node.key")
	if err := os.WriteFile(path, data, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestKeyFileRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "node.key")
	k := mustGenerate(t)
	if err := SaveKeyFile(path, k); err != nil {
		t.Fatal(err)
	}

	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode = %04o, want 0600", fi.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(data, []byte("-----BEGIN PRIVATE KEY-----\n")) {
		t.Errorf("key file is not a PEM PRIVATE KEY:\n%s", data)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries after SaveKeyFile, want 1 (temporary file left behind?)", len(entries))
	}

	loaded, err := LoadKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(loaded.Seed(), k.Seed()) || loaded.Public() != k.Public() {
		t.Error("loaded key differs from the saved key")
	}
}

// TestLoadKeyFileOpenSSL loads the Ed25519 private key example of RFC 8410
// §10.3, the format openssl genpkey -algorithm ed25519 writes.
func TestLoadKeyFileOpenSSL(t *testing.T) {
	const rfc8410 = "-----BEGIN PRIVATE KEY-----\n" +
		"MC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC\n" +
		"-----END PRIVATE KEY-----\n"
	k, err := LoadKeyFile(writeKeyFile(t, []byte(rfc8410), 0o600))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := hex.EncodeToString(k.Seed()), "d4ee72dbf913584ad5b6d8f1f769f8ad3afe7c28cbf1d4fbe097a88f44755842"; got != want {
		t.Errorf("seed = %s, want %s", got, want)
	}
	// RFC 8410 §10.1 gives the matching public key.
	if got, want := hex.EncodeToString(k.Public().Bytes()), "19bf44096984cdfe8541bac167dc3b96c85086aa30b6b6cb0c5c38ad703166e1"; got != want {
		t.Errorf("public key = %s, want %s", got, want)
	}
}

func TestLoadKeyFileInsecurePermissions(t *testing.T) {
	skipOnWindows(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "node.key")
	if err := SaveKeyFile(path, mustGenerate(t)); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o660, 0o700 | 0o007} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		_, err := LoadKeyFile(path)
		if !errors.Is(err, ErrInsecurePermissions) {
			t.Fatalf("mode %04o: error = %v, want ErrInsecurePermissions", mode, err)
		}
		if msg := err.Error(); !strings.Contains(msg, "chmod 600") || !strings.Contains(msg, fmt.Sprintf("%04o", mode)) {
			t.Errorf("mode %04o: error %q should name the mode and say chmod 600", mode, msg)
		}
	}
	// 0400 (read-only for the owner) is fine.
	if err := os.Chmod(path, 0o400); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadKeyFile(path); err != nil {
		t.Errorf("mode 0400: %v", err)
	}
}

func TestSaveKeyFileRefusesOverwrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "node.key")
	first := mustGenerate(t)
	if err := SaveKeyFile(path, first); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	if err := SaveKeyFile(path, mustGenerate(t)); !errors.Is(err, ErrKeyExists) {
		t.Fatalf("second SaveKeyFile error = %v, want ErrKeyExists", err)
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Error("existing key file was modified")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("directory holds %d entries, want 1 (temporary file left behind?)", len(entries))
	}

	// Any existing entry counts, including a dangling symlink.
	if runtime.GOOS != "windows" {
		link := filepath.Join(dir, "link.key")
		if err := os.Symlink(filepath.Join(dir, "missing"), link); err != nil {
			t.Fatal(err)
		}
		if err := SaveKeyFile(link, first); !errors.Is(err, ErrKeyExists) {
			t.Errorf("SaveKeyFile over a dangling symlink: error = %v, want ErrKeyExists", err)
		}
	}
}

func TestSaveKeyFileErrors(t *testing.T) {
	dir := t.TempDir()
	if err := SaveKeyFile(filepath.Join(dir, "missing-dir", "node.key"), mustGenerate(t)); err == nil {
		t.Error("SaveKeyFile into a missing directory succeeded")
	}
	if err := SaveKeyFile(filepath.Join(dir, "zero.key"), &PrivateKey{}); err == nil {
		t.Error("SaveKeyFile of the zero PrivateKey succeeded")
	}
	if err := SaveKeyFile(filepath.Join(dir, "nil.key"), nil); err == nil {
		t.Error("SaveKeyFile of nil succeeded")
	}
}

func TestLoadKeyFileRejectsBadFiles(t *testing.T) {
	good := func() []byte {
		der, err := x509.MarshalPKCS8PrivateKey(mustGenerate(t).k)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecDER, err := x509.MarshalPKCS8PrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	garbage := make([]byte, 512)
	rand.Read(garbage)

	tests := []struct {
		name   string
		data   []byte
		is     error // if non-nil, the error must wrap it
		reason string
	}{
		{"empty", nil, nil, "no PEM block"},
		{"garbage", garbage, nil, "no PEM block"},
		{"text", []byte("hello, world\n"), nil, "no PEM block"},
		{"raw seed", bytes.Repeat([]byte{1}, 32), nil, "no PEM block"},
		{"wrong PEM type", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: ecDER}), nil, `PEM block type is "EC PRIVATE KEY"`},
		{"encrypted", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED"}, Bytes: []byte{1}}), nil, "headers"},
		{"bad DER", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("not DER")}), nil, "malformed PKCS #8"},
		{"ECDSA key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: ecDER}), ErrNotEd25519, "*ecdsa.PrivateKey"},
		{"two keys", append(good(), good()...), nil, "unexpected data after the PEM block"},
		{"trailing junk", append(good(), "junk"...), nil, "unexpected data after the PEM block"},
		{"too large", append(good(), bytes.Repeat([]byte{'\n'}, maxKeyFileSize)...), nil, "more than the 16384 allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeKeyFile(t, tt.data, 0o600)
			_, err := LoadKeyFile(path)
			if err == nil {
				t.Fatal("LoadKeyFile succeeded")
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error = %v, want it to wrap %v", err, tt.is)
			}
			if !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("error %q does not say %q", err, tt.reason)
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}

	// Trailing white space after the block is fine.
	if _, err := LoadKeyFile(writeKeyFile(t, append(good(), "\n\n"...), 0o600)); err != nil {
		t.Errorf("trailing newlines: %v", err)
	}
}

func TestLoadKeyFileNotRegular(t *testing.T) {
	if _, err := LoadKeyFile(t.TempDir()); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("LoadKeyFile(directory) error = %v", err)
	}
	if _, err := LoadKeyFile(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("LoadKeyFile(missing) error = %v, want os.ErrNotExist", err)
	}
}
