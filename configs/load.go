package configs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	toml "github.com/pelletier/go-toml/v2"
)

// MaxFileSize is the largest configuration file Load accepts, in bytes.
const MaxFileSize = 1 << 20 // 1 MiB

// ErrExists is returned (wrapped) by WriteFile when the target already exists.
var ErrExists = errors.New("file already exists")

// Load reads, decodes and validates the configuration file at path.
//
// The file must set role; every other key that is missing takes the value of
// Default(role). Unknown keys are rejected. The result is validated with
// Validate. Paths in the result are as written in the file; call Resolve to
// make them absolute.
func Load(path string) (Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return Config{}, fmt.Errorf("configs: %w", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.IsDir() {
		return Config{}, fmt.Errorf("configs: load %s: is a directory, not a config file", path)
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return Config{}, fmt.Errorf("configs: load %s: %w", path, err)
	}
	if len(data) > MaxFileSize {
		return Config{}, fmt.Errorf("configs: load %s: file is larger than the %d byte (1 MiB) limit", path, MaxFileSize)
	}
	c, err := parse(data)
	if err != nil {
		return Config{}, fmt.Errorf("configs: load %s: %w", path, err)
	}
	return c, nil
}

// Parse decodes and validates a configuration document held in memory, with
// the same rules as Load (except the size limit).
func Parse(data []byte) (Config, error) {
	c, err := parse(data)
	if err != nil {
		return Config{}, fmt.Errorf("configs: %w", err)
	}
	return c, nil
}

func parse(data []byte) (Config, error) {
	c, err := decode(data)
	if err != nil {
		return Config{}, err
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// decode peeks the role, then strictly decodes data on top of Default(role).
// It does not validate.
func decode(data []byte) (Config, error) {
	var peek struct {
		Role *string `toml:"role"`
	}
	if err := toml.Unmarshal(data, &peek); err != nil {
		return Config{}, tomlError(err)
	}
	if peek.Role == nil {
		return Config{}, invalid("role", "missing; the file must set role = \"device\", \"gateway\" or \"bootstrap\"")
	}
	role, err := ParseRole(*peek.Role)
	if err != nil {
		return Config{}, invalid("role", "%v", err)
	}

	c := Default(role)
	dec := toml.NewDecoder(bytes.NewReader(data)).DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Config{}, tomlError(err)
	}
	normalise(&c)
	return c, nil
}

// normalise makes empty lists nil so that "key = []" and an omitted key
// compare equal.
func normalise(c *Config) {
	if len(c.P2P.Listen) == 0 {
		c.P2P.Listen = nil
	}
	if len(c.P2P.Bootstrap) == 0 {
		c.P2P.Bootstrap = nil
	}
	if len(c.API.CORSOrigins) == 0 {
		c.API.CORSOrigins = nil
	}
	if len(c.P2P.Announce) == 0 {
		c.P2P.Announce = nil
	}
	if len(c.P2P.NoAnnounce) == 0 {
		c.P2P.NoAnnounce = nil
	}
	if len(c.Consensus.ProposeAdd) == 0 {
		c.Consensus.ProposeAdd = nil
	}
	if len(c.Consensus.ProposeDrop) == 0 {
		c.Consensus.ProposeDrop = nil
	}
}

// tomlError turns go-toml errors into messages that carry the position and,
// for unknown keys, the full key path.
func tomlError(err error) error {
	var strict *toml.StrictMissingError
	if errors.As(err, &strict) {
		errs := make([]error, 0, len(strict.Errors))
		for i := range strict.Errors {
			e := &strict.Errors[i]
			row, col := e.Position()
			kind := "key"
			if strings.Contains(e.Error(), "table") {
				kind = "table"
			}
			errs = append(errs, fmt.Errorf("%w: unknown %s %q at line %d, column %d",
				ErrInvalidConfig, kind, strings.Join(e.Key(), "."), row, col))
		}
		return errors.Join(errs...)
	}
	var de *toml.DecodeError
	if errors.As(err, &de) {
		row, col := de.Position()
		msg := strings.TrimPrefix(de.Error(), "toml: ")
		if k := de.Key(); len(k) > 0 {
			return fmt.Errorf("invalid TOML at line %d, column %d (key %q): %s", row, col, strings.Join(k, "."), msg)
		}
		return fmt.Errorf("invalid TOML at line %d, column %d: %s", row, col, msg)
	}
	return fmt.Errorf("invalid TOML: %w", err)
}

// WriteFile writes data to path, creating it with mode 0644 (subject to the
// umask). It never overwrites: if path already exists (including as a
// dangling symlink) it returns an error wrapping ErrExists. The parent
// directory must exist. On a write failure the partial file is removed.
func WriteFile(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("configs: write %s: %w", path, ErrExists)
		}
		return fmt.Errorf("configs: %w", err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path) // best-effort cleanup; the write error is what matters
		return fmt.Errorf("configs: write %s: %w", path, err)
	}
	return nil
}
