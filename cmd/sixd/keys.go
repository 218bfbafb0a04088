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
	return groupCmd("keys", "Node key tools", importSeed)
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
