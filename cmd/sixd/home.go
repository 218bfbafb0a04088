package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/sixdomain/sixdomain/configs"
	"github.com/sixdomain/sixdomain/identity"
)

const (
	envHome         = "SIXD_HOME"
	configFileName  = "config.toml"
	keyFileName     = configs.DefaultKeyFile
	genesisFileName = configs.DefaultGenesisFile
)

// addHomeFlag adds --home to cmd.
func addHomeFlag(cmd *cobra.Command, home *string) {
	cmd.Flags().StringVar(home, "home", "", "node home directory (default $"+envHome+", then ~/.sixdomain)")
}

// resolveHome returns the home directory as an absolute path: flag, then
// $SIXD_HOME, then ~/.sixdomain.
func resolveHome(flag string) (string, error) {
	home := flag
	if home == "" {
		home = os.Getenv(envHome)
	}
	if home == "" {
		u, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("no --home given, $%s unset, and no user home directory: %w", envHome, err)
		}
		home = filepath.Join(u, ".sixdomain")
	}
	abs, err := filepath.Abs(home)
	if err != nil {
		return "", fmt.Errorf("home directory %q: %w", home, err)
	}
	return abs, nil
}

// loadConfig loads and resolves home/config.toml.
func loadConfig(home string) (configs.Config, error) {
	cfg, err := configs.Load(filepath.Join(home, configFileName))
	if err != nil {
		if errNotExist(err) {
			return configs.Config{}, fmt.Errorf("%s not found (create the home directory with `sixd init --home %s`)",
				filepath.Join(home, configFileName), home)
		}
		return configs.Config{}, err
	}
	return cfg.Resolve(home), nil
}

// loadConfigIfPresent is loadConfig, but a missing config.toml gives
// ok=false instead of an error.
func loadConfigIfPresent(home string) (cfg configs.Config, ok bool, err error) {
	cfg, err = configs.Load(filepath.Join(home, configFileName))
	if errNotExist(err) {
		return configs.Config{}, false, nil
	}
	if err != nil {
		return configs.Config{}, false, err
	}
	return cfg.Resolve(home), true, nil
}

// keyPath returns the node key file of home: key_file from config.toml if
// there is one, else home/node.key.
func keyPath(home string) (string, error) {
	cfg, ok, err := loadConfigIfPresent(home)
	if err != nil {
		return "", err
	}
	if ok {
		return cfg.KeyFile, nil
	}
	return filepath.Join(home, keyFileName), nil
}

// loadHomeKey loads the node key named by home's config (or the default
// key file in home) and returns its path too. An encrypted key is
// decrypted with the passphrase of $SIXD_PASSPHRASE_FILE or
// $SIXD_PASSPHRASE.
func loadHomeKey(home string) (string, *identity.PrivateKey, error) {
	path, err := keyPath(home)
	if err != nil {
		return "", nil, err
	}
	key, err := loadKey(path, "node key")
	if err != nil {
		return "", nil, err
	}
	return path, key, nil
}

// errNotExist reports whether err says a file does not exist.
func errNotExist(err error) bool { return errors.Is(err, os.ErrNotExist) }

// fileExists reports whether something (even a dangling symlink) is at path.
func fileExists(path string) (bool, error) {
	_, err := os.Lstat(path)
	switch {
	case err == nil:
		return true, nil
	case errNotExist(err):
		return false, nil
	}
	return false, err
}
