// Package homes writes node home directories laid out as `sixd init` lays
// them out: config.toml, node.key (0600) and genesis.toml in a directory of
// mode 0700. The devnet and `sixd testnet` write homes with it.
//
// It may import the standard library, configs and identity.
package homes

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/sixdomain/sixdomain/configs"
	"github.com/sixdomain/sixdomain/identity"
)

// Home is what one node's home directory holds.
type Home struct {
	Dir     string
	Config  []byte // config.toml
	Key     *identity.PrivateKey
	Genesis []byte // genesis.toml, as the chain's file has it
}

// Write creates h.Dir (0700) and writes whichever of config.toml, node.key
// and genesis.toml it lacks; existing files are kept, as `sixd init` keeps
// them.
func Write(h Home) error {
	if h.Dir == "" || h.Key == nil || len(h.Config) == 0 || len(h.Genesis) == 0 {
		return errors.New("homes: directory, config, key and genesis are required")
	}
	if err := os.MkdirAll(h.Dir, 0o700); err != nil {
		return fmt.Errorf("homes: %w", err)
	}
	if err := os.Chmod(h.Dir, 0o700); err != nil {
		return fmt.Errorf("homes: %w", err)
	}
	keyPath := filepath.Join(h.Dir, configs.DefaultKeyFile)
	if _, err := os.Stat(keyPath); errors.Is(err, fs.ErrNotExist) {
		if err := identity.SaveKeyFile(keyPath, h.Key); err != nil {
			return fmt.Errorf("homes: %w", err)
		}
	} else if err != nil {
		return fmt.Errorf("homes: %w", err)
	}
	if err := writeIfMissing(filepath.Join(h.Dir, configs.DefaultGenesisFile), h.Genesis); err != nil {
		return err
	}
	return writeIfMissing(filepath.Join(h.Dir, ConfigFile), h.Config)
}

// ConfigFile is the name of a home's configuration file.
const ConfigFile = "config.toml"

// WriteIfMissing writes data to path unless path exists.
func WriteIfMissing(path string, data []byte) error { return writeIfMissing(path, data) }

func writeIfMissing(path string, data []byte) error {
	err := configs.WriteFile(path, data)
	if errors.Is(err, configs.ErrExists) {
		return nil
	}
	return err
}
