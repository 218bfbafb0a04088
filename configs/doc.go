// Package configs owns the sixdomain node configuration file: its Go types,
// the per-role defaults, loading and validating it, and the commented example
// files (device.toml, gateway.toml, bootstrap.toml, light.toml) that are embedded in the
// binary and written out by `init`-style commands.
//
// The configuration is a TOML file. Every key is optional except role; a key
// left out takes the default for the node's role (see [Default]). Unknown keys
// are rejected so that typos do not silently fall back to defaults. Relative
// paths in the file are relative to the node's home directory (see
// [Config.Resolve]).
//
// This package does NOT own the genesis file. The genesis document (including
// any configs/genesis.toml shipped alongside these examples) belongs to the
// chain package; here it is only referenced by path (Config.GenesisFile).
//
// Dependencies: this package may import only the standard library,
// github.com/pelletier/go-toml/v2 and github.com/multiformats/go-multiaddr.
// It must not import any other sixdomain package, so that every other package
// (p2p, api, ledger, mempool, the CLI) can depend on it without cycles.
package configs
