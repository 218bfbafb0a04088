package identity

import (
	"bytes"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

const (
	// pemTypePrivateKey is the PEM block type of PKCS #8 private keys.
	pemTypePrivateKey = "PRIVATE KEY"
	// maxKeyFileSize bounds how much of a key file is read. A PEM Ed25519
	// PKCS #8 key is 119 bytes.
	maxKeyFileSize = 16 << 10
	// keyFileMode is the only permission set a key file is created with.
	keyFileMode fs.FileMode = 0o600
)

// SaveKeyFile writes k to a new file at path as a PEM "PRIVATE KEY" block
// (PKCS #8, as written by openssl genpkey -algorithm ed25519).
//
// The file is created with mode 0600 and is never observable half-written:
// the key goes to a temporary file in the same directory, is flushed to
// disk, and only then is moved into place. An existing file at path is
// never replaced; SaveKeyFile fails with ErrKeyExists instead.
func SaveKeyFile(path string, k *PrivateKey) error {
	if k == nil || len(k.k) != ed25519.PrivateKeySize {
		return fmt.Errorf("identity: SaveKeyFile %s: invalid PrivateKey", path)
	}
	if err := checkNoKeyFile("SaveKeyFile", path); err != nil {
		return err
	}
	data, err := encodeKeyPEM(k)
	if err != nil {
		return err
	}
	defer clear(data)
	return writeNewKeyFile("SaveKeyFile", path, data)
}

// encodeKeyPEM returns k as a PEM "PRIVATE KEY" block (PKCS #8).
func encodeKeyPEM(k *PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k.k)
	if err != nil {
		return nil, fmt.Errorf("identity: encoding key: %w", err)
	}
	defer clear(der)
	return pem.EncodeToMemory(&pem.Block{Type: pemTypePrivateKey, Bytes: der}), nil
}

// checkNoKeyFile fails with ErrKeyExists if anything, even a dangling
// symlink, exists at path.
func checkNoKeyFile(op, path string) error {
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("%w: %s", ErrKeyExists, path)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("identity: %s: %w", op, err)
	}
	return nil
}

// writeNewKeyFile writes data to a new file at path with mode 0600, via a
// temporary file in the same directory, and never replaces an existing
// file (ErrKeyExists).
func writeNewKeyFile(op, path string, data []byte) error {
	tmpName, err := writeTempKeyFile(op, path, data)
	if err != nil {
		return err
	}
	// After a successful link the temporary name is a second link to the
	// key; after a rename it no longer exists. Remove it either way.
	defer os.Remove(tmpName)
	if err := publishNoClobber(op, tmpName, path); err != nil {
		return err
	}
	syncDir(filepath.Dir(path))
	return nil
}

// replaceKeyFile atomically replaces the file at path with one holding
// data, with mode 0600: data goes to a temporary file in the same
// directory, is flushed to disk, and is renamed over path.
func replaceKeyFile(op, path string, data []byte) error {
	tmpName, err := writeTempKeyFile(op, path, data)
	if err != nil {
		return err
	}
	if err := os.Rename(tmpName, path); err != nil {
		os.Remove(tmpName)
		return fmt.Errorf("identity: %s: %w", op, err)
	}
	syncDir(filepath.Dir(path))
	return nil
}

// writeTempKeyFile writes data to a new temporary file with mode 0600 in
// the directory of path, flushes it to disk and returns its name. On error
// no temporary file is left behind.
func writeTempKeyFile(op, path string, data []byte) (string, error) {
	// os.CreateTemp creates the file with mode 0600.
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return "", fmt.Errorf("identity: %s: %w", op, err)
	}
	name := tmp.Name()
	err = tmp.Chmod(keyFileMode)
	if err == nil {
		_, err = tmp.Write(data)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(name)
		return "", fmt.Errorf("identity: %s: %w", op, err)
	}
	return name, nil
}

// publishNoClobber moves the complete file at tmp to path unless path
// exists. A hard link fails atomically if path exists, so it is tried
// first; on file systems without hard links (FAT, some FUSE mounts) it
// falls back to a rename guarded by an existence check, which leaves only a
// tiny window in which a concurrently created file could be replaced.
func publishNoClobber(op, tmp, path string) error {
	err := os.Link(tmp, path)
	if err == nil {
		return nil
	}
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%w: %s", ErrKeyExists, path)
	}
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("%w: %s", ErrKeyExists, path)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("identity: %s: %w", op, err)
	}
	return nil
}

// syncDir flushes a directory entry to disk, best effort: not every
// platform or file system supports fsync on directories.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// LoadKeyFile reads a private key written by SaveKeyFile (or by
// openssl genpkey -algorithm ed25519).
//
// It refuses, before reading any key material, a file that is not a
// regular file, that is larger than 16 KiB, or whose permissions grant
// anything to group or others (ErrInsecurePermissions; not checked on
// Windows, which has no such permission bits). It also refuses files that
// are not exactly one unencrypted PEM "PRIVATE KEY" block, and PKCS #8 keys
// of other types (ErrNotEd25519). A passphrase-encrypted key file (see
// SaveKeyFileEncrypted) is refused with ErrKeyEncrypted; load it with
// LoadKeyFileWithPassphrase.
func LoadKeyFile(path string) (*PrivateKey, error) {
	data, err := readKeyFile("LoadKeyFile", path)
	if err != nil {
		return nil, err
	}
	defer clear(data)
	k, err := parseKeyFile(data, nil, scryptKey)
	if err != nil {
		return nil, fmt.Errorf("%w (key file %s)", err, path)
	}
	return k, nil
}

// readKeyFile returns the contents of the key file at path after checking
// that it is a regular file of at most maxKeyFileSize bytes that grants
// nothing to group or others. The caller should clear the result.
func readKeyFile(op, path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("identity: %s: %w", op, err)
	}
	defer f.Close()

	// Stat the open file, not the path, so the checks apply to what is read.
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("identity: %s: %w", op, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("identity: key file %s is not a regular file (mode %s)", path, fi.Mode())
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 && runtime.GOOS != "windows" {
		return nil, fmt.Errorf("%w: %s has mode %04o, which grants access to group or others; run `chmod 600 %s`",
			ErrInsecurePermissions, path, perm, path)
	}
	if fi.Size() > maxKeyFileSize {
		return nil, fmt.Errorf("identity: key file %s is %d bytes, more than the %d allowed", path, fi.Size(), maxKeyFileSize)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	if err != nil {
		clear(data)
		return nil, fmt.Errorf("identity: %s: %w", op, err)
	}
	if len(data) > maxKeyFileSize { // the file grew after Stat
		clear(data)
		return nil, fmt.Errorf("identity: key file %s is more than the %d bytes allowed", path, maxKeyFileSize)
	}
	return data, nil
}

// parseKeyFile decodes the contents of a key file: a single PEM block,
// either a "PRIVATE KEY" (PKCS #8) or a "SIXDOMAIN ENCRYPTED PRIVATE KEY".
// For the latter, passphrase is called to obtain the passphrase (if it is
// nil, parseKeyFile fails with ErrKeyEncrypted), and kdf derives the key
// encryption key.
func parseKeyFile(data []byte, passphrase func() ([]byte, error), kdf kdfFunc) (*PrivateKey, error) {
	block, rest := pem.Decode(data)
	if block == nil {
		return nil, errors.New("identity: no PEM block found")
	}
	defer clear(block.Bytes)
	if block.Type != pemTypePrivateKey && block.Type != pemTypeEncryptedKey {
		return nil, fmt.Errorf("identity: PEM block type is %q, want %q or %q", block.Type, pemTypePrivateKey, pemTypeEncryptedKey)
	}
	if len(block.Headers) != 0 {
		return nil, errors.New("identity: PEM block has headers (OpenSSL-encrypted keys are not supported)")
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, errors.New("identity: unexpected data after the PEM block")
	}
	if block.Type == pemTypeEncryptedKey {
		if passphrase == nil {
			return nil, fmt.Errorf("%w; give a passphrase", ErrKeyEncrypted)
		}
		return decryptKeyBody(block.Bytes, passphrase, kdf)
	}
	return parsePKCS8Key(block.Bytes)
}

// parsePKCS8Key decodes an Ed25519 PKCS #8 private key.
func parsePKCS8Key(der []byte) (*PrivateKey, error) {
	key, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("identity: malformed PKCS #8 private key: %w", err)
	}
	edKey, ok := key.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%w: key file holds a %T", ErrNotEd25519, key)
	}
	defer clear(edKey)
	return FromSeed(edKey.Seed())
}
