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
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("%w: %s", ErrKeyExists, path)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("identity: SaveKeyFile: %w", err)
	}

	der, err := x509.MarshalPKCS8PrivateKey(k.k)
	if err != nil {
		return fmt.Errorf("identity: encoding key: %w", err)
	}
	data := pem.EncodeToMemory(&pem.Block{Type: pemTypePrivateKey, Bytes: der})
	clear(der)
	defer clear(data)

	dir := filepath.Dir(path)
	// os.CreateTemp creates the file with mode 0600.
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("identity: SaveKeyFile: %w", err)
	}
	tmpName := tmp.Name()
	defer func() {
		if tmp != nil {
			tmp.Close()
		}
		// After a successful link the temporary name is a second link to
		// the key; after a rename it no longer exists. Remove it either way.
		os.Remove(tmpName)
	}()
	if err := tmp.Chmod(keyFileMode); err != nil {
		return fmt.Errorf("identity: SaveKeyFile: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("identity: SaveKeyFile: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("identity: SaveKeyFile: %w", err)
	}
	err = tmp.Close()
	tmp = nil
	if err != nil {
		return fmt.Errorf("identity: SaveKeyFile: %w", err)
	}
	if err := publishNoClobber(tmpName, path); err != nil {
		return err
	}
	syncDir(dir)
	return nil
}

// publishNoClobber moves the complete file at tmp to path unless path
// exists. A hard link fails atomically if path exists, so it is tried
// first; on file systems without hard links (FAT, some FUSE mounts) it
// falls back to a rename guarded by an existence check, which leaves only a
// tiny window in which a concurrently created file could be replaced.
func publishNoClobber(tmp, path string) error {
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
		return fmt.Errorf("identity: SaveKeyFile: %w", err)
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
// of other types (ErrNotEd25519).
func LoadKeyFile(path string) (*PrivateKey, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("identity: LoadKeyFile: %w", err)
	}
	defer f.Close()

	// Stat the open file, not the path, so the checks apply to what is read.
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("identity: LoadKeyFile: %w", err)
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
		return nil, fmt.Errorf("identity: LoadKeyFile: %w", err)
	}
	defer clear(data)
	if len(data) > maxKeyFileSize { // the file grew after Stat
		return nil, fmt.Errorf("identity: key file %s is more than the %d bytes allowed", path, maxKeyFileSize)
	}
	k, err := parseKeyPEM(data)
	if err != nil {
		return nil, fmt.Errorf("%w (key file %s)", err, path)
	}
	return k, nil
}

// parseKeyPEM decodes a single PEM "PRIVATE KEY" block holding an Ed25519
// PKCS #8 key.
func parseKeyPEM(data []byte) (*PrivateKey, error) {
	block, rest := pem.Decode(data)
	if block == nil {
		return nil, errors.New("identity: no PEM block found")
	}
	defer clear(block.Bytes)
	if block.Type != pemTypePrivateKey {
		return nil, fmt.Errorf("identity: PEM block type is %q, want %q", block.Type, pemTypePrivateKey)
	}
	if len(block.Headers) != 0 {
		return nil, errors.New("identity: PEM block has headers (encrypted keys are not supported)")
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, errors.New("identity: unexpected data after the PEM block")
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
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
