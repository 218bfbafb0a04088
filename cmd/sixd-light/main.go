// Command sixd-light runs a light node (package node/light) from a home
// directory that `sixd init --role light` wrote: config.toml, node.key
// (unencrypted) and genesis.toml. It links only the light node (not the
// full node, GossipSub, the DHT, QUIC or pebble: TestLightBinaryLeavesOutPebble),
// so the binary a light device runs stays small; `sixd run` runs the same
// light node from the full binary.
//
//	sixd-light --home DIR
//
// Imports: configs, identity, ledger/types and node/light.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"syscall"

	"github.com/sixdomain/sixdomain/configs"
	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger/types"
	"github.com/sixdomain/sixdomain/node/light"
)

// A light node's live heap is a few megabytes: unless the environment says
// otherwise, the runtime collects at 50 % growth and aims to stay under a
// soft limit of 10 MiB, which halves the resident heap (docs/BENCHMARKS.md,
// "Light node").
const (
	defaultGCPercent   = 50
	defaultMemoryLimit = 10 << 20
)

func main() {
	home := flag.String("home", "", "home directory (config.toml, node.key, genesis.toml)")
	flag.Parse()
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
	if err := run(*home); err != nil {
		fmt.Fprintln(os.Stderr, "sixd-light:", err)
		os.Exit(1)
	}
}

func run(home string) error {
	if home == "" {
		return errors.New("--home is required")
	}
	cfg, err := configs.Load(filepath.Join(home, "config.toml"))
	if err != nil {
		return err
	}
	cfg = cfg.Resolve(home)
	if cfg.Role != configs.RoleLight {
		return fmt.Errorf("%s is a %s home; sixd-light runs light nodes only (use sixd run)", home, cfg.Role)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.Log.Level)); err != nil {
		return fmt.Errorf("log.level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: level}
	log := slog.New(slog.NewTextHandler(os.Stderr, opts))
	if cfg.Log.Format == "json" {
		log = slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	key, err := identity.LoadKeyFile(cfg.KeyFile)
	if err != nil {
		return err
	}
	g, err := types.LoadGenesis(cfg.GenesisFile)
	if err != nil {
		return err
	}
	lc := light.Config{ListenAddrs: cfg.P2P.Listen, Gateways: cfg.P2P.Bootstrap, MDNS: cfg.P2P.MDNS,
		APIListen: cfg.API.Listen, MaxMemory: int64(cfg.P2P.MaxMemoryMB) << 20, Logger: log}
	if cfg.Ledger.Store == configs.StorePebble {
		lc.DataDir = cfg.Ledger.Path
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	l, err := light.New(ctx, key, g, lc)
	if err != nil {
		return err
	}
	api := "off"
	if a := l.APIAddr(); a != nil {
		api = a.String()
	}
	st := l.Status()
	log.Info("sixd-light running", "chain", g.ChainID, "peer", st.PeerID, "did", st.DID, "api", api, "store", lc.DataDir)
	<-ctx.Done()
	log.Info("shutting down")
	return l.Close()
}
