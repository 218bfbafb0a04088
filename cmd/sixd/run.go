package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/sixdomain/sixdomain/configs"
	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger"
	"github.com/sixdomain/sixdomain/ledger/types"
	"github.com/sixdomain/sixdomain/mempool"
	"github.com/sixdomain/sixdomain/node"
)

func newRunCmd() *cobra.Command {
	var home string
	cmd := &cobra.Command{
		Use:   "run [--home DIR]",
		Short: "Run the node until SIGINT or SIGTERM",
		Long: `run starts the node described by the home directory's config.toml, with its
node.key and genesis.toml, and runs it until SIGINT (Ctrl-C) or SIGTERM.
Logs go to stderr, in the level and format set in config.toml.

An encrypted node key (see 'sixd keys encrypt') is decrypted with the
passphrase in the file named by $SIXD_PASSPHRASE_FILE, else in
$SIXD_PASSPHRASE. A passphrase file (mode 0600, e.g. a systemd credential)
is the better choice: the environment of a process can leak to its children
and to crash reports.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			home, err := resolveHome(home)
			if err != nil {
				return err
			}
			cfg, err := loadConfig(home)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			// After the first signal, restore the default handling so that a
			// second one kills a shutdown that hangs.
			context.AfterFunc(ctx, stop)
			if cfg.Role == configs.RoleLight {
				return runLight(ctx, cfg, cmd.ErrOrStderr())
			}
			return runNode(ctx, cfg, cmd.ErrOrStderr())
		},
	}
	addHomeFlag(cmd, &home)
	return cmd
}

// newLogger builds the logger that config.toml's [log] section describes.
func newLogger(w io.Writer, c configs.LogConfig) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.Level)); err != nil {
		return nil, fmt.Errorf("log.level %q: %w", c.Level, err)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch c.Format {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text", "":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("log.format %q: want text or json", c.Format)
}

// nodeOptions maps every field of a (resolved) config to node options. The
// returned datastore, if not nil, is the caller's to close after the node.
func nodeOptions(cfg configs.Config, log *slog.Logger) ([]node.Option, io.Closer, error) {
	opts := []node.Option{
		node.WithRole(node.Role(cfg.Role)), // first: it resets the limits to the role's defaults
		node.WithListenAddrs(cfg.P2P.Listen...),
		node.WithBootstrap(cfg.P2P.Bootstrap...),
		node.WithMDNS(cfg.P2P.MDNS),
		node.WithConnLimits(cfg.P2P.ConnLow, cfg.P2P.ConnHigh),
		node.WithResourceLimits(int64(cfg.P2P.MaxMemoryMB)<<20, cfg.P2P.MaxFDs),
		node.WithAPI(cfg.API.Listen, cfg.API.MaxBodyBytes),
		node.WithMempoolLimits(cfg.Mempool.MaxTxs, cfg.Mempool.MaxBytes),
		node.WithMempool(mempool.Config{HighWaterPercent: cfg.Mempool.HighWaterPercent}),
		node.WithSigCacheSize(cfg.Mempool.SigCacheSize),
		node.WithLogger(log),
		node.WithAnnounce(cfg.P2P.Announce...),
		node.WithNoAnnounce(cfg.P2P.NoAnnounce...),
		node.WithDHT(node.DHTMode(cfg.P2P.DHT)),
		node.WithRelayService(cfg.P2P.RelayService),
		node.WithAutoRelay(cfg.P2P.AutoRelay),
		node.WithHolePunching(cfg.P2P.HolePunching),
		node.WithReachability(cfg.P2P.Reachability),
		node.WithKeepChain(cfg.P2P.KeepChain),
	}
	proposals := map[identity.PublicKey]bool{}
	for _, l := range []struct {
		key  string
		dids []string
		add  bool
	}{{"consensus.propose_add", cfg.Consensus.ProposeAdd, true}, {"consensus.propose_drop", cfg.Consensus.ProposeDrop, false}} {
		for _, d := range l.dids {
			k, err := identity.ParseDID(d)
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %w", l.key, err)
			}
			proposals[k] = l.add
		}
	}
	if len(proposals) > 0 {
		opts = append(opts, node.WithProposals(proposals))
	}
	apiOpts, err := apiOptions(cfg)
	if err != nil {
		return nil, nil, err
	}
	opts = append(opts, apiOpts...)
	switch cfg.Ledger.Store {
	case configs.StoreMemory:
		ds := ledger.NewMemory()
		return append(opts, node.WithDatastore(ds)), ds, nil
	case configs.StorePebble:
		return append(opts, node.WithDataDir(cfg.Ledger.Path)), nil, nil
	}
	return nil, nil, fmt.Errorf("ledger.store %q: want %q or %q", cfg.Ledger.Store, configs.StorePebble, configs.StoreMemory)
}

// apiOptions maps the API's protection and the metrics listener: the
// tokens are read from their files here, so that a world-readable or empty
// token file stops the start.
func apiOptions(cfg configs.Config) ([]node.Option, error) {
	var write, read string
	if cfg.API.TokenFile != "" {
		tok, err := node.ReadTokenFile(cfg.API.TokenFile)
		if err != nil {
			return nil, fmt.Errorf("api.token_file: %w", err)
		}
		write = tok
	}
	if cfg.API.ReadTokenFile != "" {
		tok, err := node.ReadTokenFile(cfg.API.ReadTokenFile)
		if err != nil {
			return nil, fmt.Errorf("api.read_token_file: %w", err)
		}
		read = tok
	}
	return []node.Option{
		node.WithAPIAuth(write, read),
		node.WithAPICORS(cfg.API.CORSOrigins),
		node.WithAPITLS(cfg.API.TLSCertFile, cfg.API.TLSKeyFile),
		node.WithMetricsListen(cfg.Metrics.Listen),
	}, nil
}

// runNode runs the node of cfg (already resolved against its home) until
// ctx is done, logging to logw.
func runNode(ctx context.Context, cfg configs.Config, logw io.Writer) (err error) {
	log, err := newLogger(logw, cfg.Log)
	if err != nil {
		return err
	}
	// libp2p's and GossipSub's own lines go through the same handler
	// while the node runs.
	defer libp2pLogs.set(log.Handler())()
	key, err := loadKey(cfg.KeyFile, "node key")
	if err != nil {
		return err
	}
	genesis, err := types.LoadGenesis(cfg.GenesisFile)
	if err != nil {
		return err
	}
	opts, ds, err := nodeOptions(cfg, log)
	if err != nil {
		return err
	}
	if ds != nil {
		defer func() {
			if cerr := ds.Close(); cerr != nil && err == nil {
				err = fmt.Errorf("closing ledger store: %w", cerr)
			}
		}()
	}
	n, err := node.New(ctx, key, genesis, opts...)
	if err != nil {
		return err
	}
	var addrs []string
	for _, a := range n.Host().Addrs() {
		addrs = append(addrs, a.String()+"/p2p/"+n.ID().String())
	}
	api, metricsAddr := "off", "off"
	if a := n.APIAddr(); a != nil {
		api = a.String()
		if cfg.API.TLSCertFile != "" {
			api = "https://" + api
		}
	}
	if a := n.MetricsAddr(); a != nil {
		metricsAddr = a.String()
	}
	log.Info("sixd running", "version", node.Version, "chain", genesis.ChainID, "role", cfg.Role,
		"peer", n.ID().String(), "did", key.Public().DID(), "authority", n.IsAuthority(),
		"api", api, "metrics", metricsAddr, "listen", addrs, "ledger", ledgerDesc(cfg))
	if relayOnly(cfg) {
		log.Info("bootstrap node without p2p.keep_chain: it keeps no chain and no gossip mesh, and serves the DHT, the relay and gossip peer exchange")
	} else if !n.IsAuthority() && len(cfg.P2P.Bootstrap) == 0 && !cfg.P2P.MDNS {
		log.Warn("this node is not an authority and has neither bootstrap peers nor mDNS: it will not receive blocks")
	}

	<-ctx.Done()
	log.Info("shutting down", "reason", context.Cause(ctx))
	if err := n.Close(); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("closing node: %w", err)
	}
	log.Info("stopped")
	return nil
}

// relayOnly reports whether cfg describes a bootstrap node that keeps no
// chain (node.WithKeepChain).
func relayOnly(cfg configs.Config) bool {
	return cfg.Role == configs.RoleBootstrap && !cfg.P2P.KeepChain
}

func ledgerDesc(cfg configs.Config) string {
	if relayOnly(cfg) {
		return "none (bootstrap without keep_chain)"
	}
	if cfg.Ledger.Store == configs.StoreMemory {
		return "memory"
	}
	return cfg.Ledger.Path
}
