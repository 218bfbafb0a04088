package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/sixdomain/sixdomain/identity"
)

// maxSeedInput bounds how much of stdin import-seed reads.
const maxSeedInput = 4 << 10

func newKeysCmd() *cobra.Command {
	var home, out string
	importSeed := &cobra.Command{
		Use:   "import-seed HEX|- [--home DIR | --out FILE]",
		Short: "Write a node key file from a 32-byte hex seed",
		Long: `import-seed writes an Ed25519 key file (PEM PKCS #8, mode 0600) from a 32-byte
RFC 8032 seed given as 64 hex digits. With "-" the seed is read from stdin,
so it need not appear in the shell history or the process list.

The key goes to --out FILE, or else to node.key in the home directory
(created if need be; 'sixd init' then keeps it). An existing file is never
overwritten.`,
		Example: `  sixd keys import-seed - --home ./dev1 < seed.hex`,
		Args:    exactArgs(1, "the seed as 64 hex digits, or - to read it from stdin"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out != "" && cmd.Flags().Changed("home") {
				return errors.New("give --home or --out, not both")
			}
			seed := args[0]
			if seed == "-" {
				b, err := io.ReadAll(io.LimitReader(cmd.InOrStdin(), maxSeedInput+1))
				if err != nil {
					return fmt.Errorf("reading seed from stdin: %w", err)
				}
				defer clear(b)
				if len(b) > maxSeedInput {
					return fmt.Errorf("stdin holds more than %d bytes; want 64 hex digits", maxSeedInput)
				}
				seed = string(b)
			}
			key, err := identity.ParseSeedHex(seed)
			if err != nil {
				return err
			}
			path := out
			if path == "" {
				home, err := resolveHome(home)
				if err != nil {
					return err
				}
				if err := mkdirPrivate(home); err != nil {
					return err
				}
				path = filepath.Join(home, keyFileName)
			}
			if err := identity.SaveKeyFile(path, key); err != nil {
				if errors.Is(err, identity.ErrKeyExists) {
					return fmt.Errorf("%s already exists; refusing to overwrite it", path)
				}
				return err
			}
			pub := key.Public()
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "wrote %s\n", path)
			fmt.Fprintf(w, "peer ID: %s\n", pub.PeerID())
			fmt.Fprintf(w, "DID:     %s\n", pub.DID())
			return nil
		},
	}
	addHomeFlag(importSeed, &home)
	importSeed.Flags().StringVar(&out, "out", "", "key file to write instead of <home>/node.key")
	return groupCmd("keys", "Node key tools", importSeed, newKeysEncryptCmd(), newKeysDecryptCmd())
}

// keyFileFlags select a key file: --key FILE, or the node key of --home.
type keyFileFlags struct {
	home, key, passFile string
}

func (f *keyFileFlags) add(cmd *cobra.Command) {
	addHomeFlag(cmd, &f.home)
	cmd.Flags().StringVar(&f.key, "key", "", "key file to convert instead of the node key of the home directory")
	cmd.Flags().StringVar(&f.passFile, "passphrase-file", "", "file holding the passphrase (default: $"+envPassphraseFile+", else $"+envPassphrase+")")
}

// path returns --key, or the node key file of the home directory.
func (f *keyFileFlags) path(cmd *cobra.Command) (string, error) {
	if f.key != "" {
		if cmd.Flags().Changed("home") {
			return "", errors.New("give --home or --key, not both")
		}
		return f.key, nil
	}
	home, err := resolveHome(f.home)
	if err != nil {
		return "", err
	}
	return keyPath(home)
}

// passphrase reads --passphrase-file, else the environment.
func (f *keyFileFlags) passphrase() ([]byte, error) {
	if f.passFile != "" {
		b, err := readPassphraseFile(f.passFile)
		if err != nil {
			return nil, fmt.Errorf("--passphrase-file: %w", err)
		}
		return b, nil
	}
	b, _, err := passphraseFromEnv()
	if errors.Is(err, errNoPassphrase) {
		return nil, fmt.Errorf("no passphrase: pass --passphrase-file FILE, or set %s or %s", envPassphraseFile, envPassphrase)
	}
	return b, err
}

// maxScryptN keeps scrypt's memory (128·N·r bytes with r = 8) within 64 MiB.
const maxScryptN = 1 << 16

func newKeysEncryptCmd() *cobra.Command {
	var (
		kf      keyFileFlags
		scryptN int
	)
	cmd := &cobra.Command{
		Use:   "encrypt [--home DIR | --key FILE] [--scrypt-n N] [--passphrase-file FILE]",
		Short: "Encrypt a key file in place under a passphrase",
		Long: `encrypt replaces a plain key file (the node key of the home directory, or
--key FILE) by the same key encrypted under a passphrase: scrypt (N, r = 8,
p = 1) derives a key that seals the seed with XChaCha20-Poly1305. The file is
replaced atomically and keeps mode 0600.

The passphrase is read from --passphrase-file, else from the file named by
$SIXD_PASSPHRASE_FILE, else from $SIXD_PASSPHRASE; one trailing newline of a
file is ignored. It is never taken from a flag's value, which would show in
the process list. Every command that loads the key ('sixd run', 'sixd id',
'sixd tx', 'sixd did', ...) then needs $SIXD_PASSPHRASE_FILE or
$SIXD_PASSPHRASE.

--scrypt-n sets the cost: a power of two from 1024 to 65536 (64 MiB of
memory). The default, 32768, takes 32 MiB and about 0.1-0.2 s on a server
core, and several times that on a small ARM board, at every start.`,
		Example: `  SIXD_PASSPHRASE_FILE=/run/credentials/sixd/pass sixd keys encrypt --home ./dev1
  sixd keys encrypt --key ./backup.key --passphrase-file ./pass.txt --scrypt-n 65536`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if scryptN < identity.MinScryptN || scryptN > maxScryptN || scryptN&(scryptN-1) != 0 {
				return fmt.Errorf("--scrypt-n must be a power of two from %d to %d, got %d", identity.MinScryptN, maxScryptN, scryptN)
			}
			path, err := kf.path(cmd)
			if err != nil {
				return err
			}
			pass, err := kf.passphrase()
			if err != nil {
				return err
			}
			defer clear(pass)
			params := identity.DefaultScryptParams()
			params.N = scryptN
			if err := identity.EncryptKeyFile(path, pass, params); err != nil {
				if errors.Is(err, identity.ErrKeyEncrypted) {
					return fmt.Errorf("%s is encrypted already", path)
				}
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "encrypted %s (scrypt N=%d r=%d p=%d)\n", path, params.N, params.R, params.P)
			return nil
		},
	}
	kf.add(cmd)
	cmd.Flags().IntVar(&scryptN, "scrypt-n", identity.DefaultScryptParams().N, "scrypt cost N: a power of two from 1024 to 65536")
	return cmd
}

func newKeysDecryptCmd() *cobra.Command {
	var kf keyFileFlags
	cmd := &cobra.Command{
		Use:   "decrypt [--home DIR | --key FILE] [--passphrase-file FILE]",
		Short: "Decrypt an encrypted key file in place",
		Long: `decrypt replaces a key file encrypted by 'sixd keys encrypt' (the node key of
the home directory, or --key FILE) by the plain PEM PKCS #8 key file, mode
0600, atomically. The passphrase comes from --passphrase-file, else
$SIXD_PASSPHRASE_FILE, else $SIXD_PASSPHRASE.

Afterwards the key is protected by the file's permissions only.`,
		Example: `  SIXD_PASSPHRASE_FILE=./pass.txt sixd keys decrypt --home ./dev1`,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path, err := kf.path(cmd)
			if err != nil {
				return err
			}
			pass, err := kf.passphrase()
			if err != nil {
				return err
			}
			defer clear(pass)
			if err := identity.DecryptKeyFile(path, pass); err != nil {
				switch {
				case errors.Is(err, identity.ErrKeyNotEncrypted):
					return fmt.Errorf("%s is not encrypted", path)
				case errors.Is(err, identity.ErrWrongPassphrase):
					return fmt.Errorf("%s: the passphrase does not decrypt it (wrong passphrase or corrupted file)", path)
				}
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "decrypted %s; the key is now protected by the file's permissions only\n", path)
			return nil
		},
	}
	kf.add(cmd)
	return cmd
}

// mkdirPrivate creates dir with mode 0700 if it does not exist.
func mkdirPrivate(dir string) error {
	fi, err := os.Stat(dir)
	switch {
	case err == nil && fi.IsDir():
		return nil
	case err == nil:
		return fmt.Errorf("%s exists and is not a directory", dir)
	case !errNotExist(err):
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return os.Chmod(dir, 0o700)
}
