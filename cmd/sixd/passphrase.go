package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/sixdomain/sixdomain/identity"
)

// Where sixd reads the passphrase of an encrypted key file. It is never
// taken from a flag's value, which other users could read in the process
// list.
const (
	envPassphraseFile = "SIXD_PASSPHRASE_FILE"
	envPassphrase     = "SIXD_PASSPHRASE"
	// maxPassphraseFile bounds how much of a passphrase file is read.
	maxPassphraseFile = 4 << 10
)

// errNoPassphrase: the key is encrypted and no passphrase source is set.
var errNoPassphrase = errors.New("no passphrase")

// readPassphraseFile reads a passphrase file of at most 4 KiB and strips
// one trailing line ending (\n or \r\n). The caller should clear the
// result after use.
func readPassphraseFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("passphrase file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxPassphraseFile+1))
	if err != nil {
		return nil, fmt.Errorf("passphrase file %s: %w", path, err)
	}
	if len(b) > maxPassphraseFile {
		clear(b)
		return nil, fmt.Errorf("passphrase file %s holds more than %d bytes", path, maxPassphraseFile)
	}
	switch {
	case bytes.HasSuffix(b, []byte("\r\n")):
		b = b[:len(b)-2]
	case bytes.HasSuffix(b, []byte("\n")):
		b = b[:len(b)-1]
	}
	if len(b) == 0 {
		return nil, fmt.Errorf("passphrase file %s is empty", path)
	}
	return b, nil
}

// passphraseFromEnv returns the passphrase named by $SIXD_PASSPHRASE_FILE,
// else the value of $SIXD_PASSPHRASE, and which of the two it used. It
// returns errNoPassphrase if neither is set (or both are empty).
func passphraseFromEnv() (pass []byte, source string, err error) {
	if path := os.Getenv(envPassphraseFile); path != "" {
		b, err := readPassphraseFile(path)
		if err != nil {
			return nil, "", fmt.Errorf("$%s: %w", envPassphraseFile, err)
		}
		return b, "$" + envPassphraseFile, nil
	}
	if v := os.Getenv(envPassphrase); v != "" {
		return []byte(v), "$" + envPassphrase, nil
	}
	return nil, "", errNoPassphrase
}

// loadKey loads the key file at path, plain or encrypted. An encrypted
// file is decrypted with the passphrase of passphraseFromEnv. what names
// the key in errors ("node key", "key").
func loadKey(path, what string) (*identity.PrivateKey, error) {
	var (
		pass   []byte
		source string
	)
	key, err := identity.LoadKeyFileWithPassphrase(path, func() ([]byte, error) {
		var err error
		pass, source, err = passphraseFromEnv()
		return pass, err
	})
	clear(pass)
	switch {
	case err == nil:
		return key, nil
	case errors.Is(err, errNoPassphrase):
		return nil, fmt.Errorf("%s %s is encrypted; set %s or %s", what, path, envPassphraseFile, envPassphrase)
	case errors.Is(err, identity.ErrWrongPassphrase):
		return nil, fmt.Errorf("%s %s: the passphrase from %s does not decrypt it (wrong passphrase or corrupted file)", what, path, source)
	}
	return nil, err
}
