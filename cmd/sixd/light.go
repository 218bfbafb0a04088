package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime/debug"

	"github.com/sixdomain/sixdomain/configs"
	"github.com/sixdomain/sixdomain/ledger/types"
	"github.com/sixdomain/sixdomain/node"
	"github.com/sixdomain/sixdomain/node/light"
)

// lightConfig maps the keys of config.toml a light node uses (see
// configs.RoleLight) to its configuration.
func lightConfig(cfg configs.Config) (light.Config, error) {
	lc := light.Config{ListenAddrs: cfg.P2P.Listen, Gateways: cfg.P2P.Bootstrap, MDNS: cfg.P2P.MDNS,
		APIListen: cfg.API.Listen, MaxMemory: int64(cfg.P2P.MaxMemoryMB) << 20}
	switch cfg.Ledger.Store {
	case configs.StorePebble:
		lc.DataDir = cfg.Ledger.Path
	case configs.StoreMemory:
	default:
		return lc, fmt.Errorf("ledger.store %q: want %q or %q", cfg.Ledger.Store, configs.StorePebble, configs.StoreMemory)
	}
	return lc, nil
}

// runLight runs the light node of cfg until ctx is done. Unless GOGC and
// GOMEMLIMIT say otherwise, the runtime collects at 50 % growth with a
// soft limit of 10 MiB, as sixd-light does: a light node's live heap is a
// few megabytes.
func runLight(ctx context.Context, cfg configs.Config, logw io.Writer) error {
	if os.Getenv("GOGC") == "" {
		defer debug.SetGCPercent(debug.SetGCPercent(50))
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		defer debug.SetMemoryLimit(debug.SetMemoryLimit(10 << 20))
	}
	log, err := newLogger(logw, cfg.Log)
	if err != nil {
		return err
	}
	defer libp2pLogs.set(log.Handler())()
	key, err := loadKey(cfg.KeyFile, "node key")
	if err != nil {
		return err
	}
	genesis, err := types.LoadGenesis(cfg.GenesisFile)
	if err != nil {
		return err
	}
	lc, err := lightConfig(cfg)
	if err != nil {
		return err
	}
	lc.Logger = log
	l, err := light.New(ctx, key, genesis, lc)
	if err != nil {
		return err
	}
	var addrs []string
	for _, a := range l.Host().Addrs() {
		addrs = append(addrs, a.String()+"/p2p/"+l.Host().ID().String())
	}
	api := "off"
	if a := l.APIAddr(); a != nil {
		api = a.String()
	}
	st := l.Status()
	log.Info("sixd running", "version", node.Version, "chain", genesis.ChainID, "role", cfg.Role, "peer", st.PeerID,
		"did", st.DID, "api", api, "listen", addrs, "store", lc.DataDir, "gateways", len(lc.Gateways), "mdns", lc.MDNS)
	if len(lc.Gateways) == 0 && !lc.MDNS {
		log.Warn("this light node has neither gateways (p2p.bootstrap) nor mDNS: its readings stay queued")
	}
	<-ctx.Done()
	log.Info("shutting down", "reason", context.Cause(ctx))
	if err := l.Close(); err != nil {
		return fmt.Errorf("closing light node: %w", err)
	}
	log.Info("stopped")
	return nil
}
