package node

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"time"

	"github.com/ipfs/go-datastore"
	"github.com/libp2p/go-libp2p"
	lp2pps "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sixdomain/sixdomain/chain/txflow"
	"github.com/sixdomain/sixdomain/clock"
	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/mempool"
)

// Role says what a node is for; it sizes its connection and resource
// limits. Whether a node seals blocks depends only on the genesis.
type Role string

// Roles.
const (
	RoleDevice    Role = "device"
	RoleGateway   Role = "gateway"
	RoleBootstrap Role = "bootstrap"
)

// Config is the node's configuration, filled by Options over defaults.
type Config struct {
	Role        Role
	ListenAddrs []ma.Multiaddr
	Bootstrap   []peer.AddrInfo
	MDNS        bool
	ConnLow     int
	ConnHigh    int
	MaxMemory   int64 // resource manager memory limit, bytes
	MaxFDs      int
	// Host, if set, is used instead of building one; the caller owns it.
	Host host.Host
	// Datastore, if set, backs the ledger; the caller owns it. Otherwise
	// the node opens pebble at DataDir (or memory if DataDir is "").
	Datastore datastore.Batching
	DataDir   string
	// APIListen is the HTTP API address; "" turns the API off.
	APIListen    string
	MaxBodyBytes int64
	Mempool      mempool.Config
	// Batch bounds the transaction batches the node forms (zero fields
	// take txflow's defaults).
	Batch    txflow.BatchConfig
	Clock    func() time.Time
	Logger   *slog.Logger
	Registry *prometheus.Registry
	// SyncInterval is how often the node asks a peer for blocks it lacks.
	SyncInterval time.Duration
	// Rand drives the out-of-turn sealing delay; nil seeds one at random.
	Rand *rand.Rand
	// Proposals are this authority's standing votes on the authority set
	// (key → add or drop).
	Proposals map[identity.PublicKey]bool

	// Time, if set, is the clock the node waits on (timers, tickers,
	// timeouts) and reads; WithTimeSource sets it and Clock together.
	// Nil is the wall clock.
	Time clock.Clock
	// SigCacheSize bounds the verified-signature cache (entries); the role
	// sets it (RoleLimits), 0 is 200,000.
	SigCacheSize int
	// PubSubOptions are added after the node's own GossipSub options (a
	// tracer, say).
	PubSubOptions []lp2pps.Option
	// CertsFromAuthoritiesOnly: only authorities gossip finality
	// certificates of their own (everyone still relays them). On by
	// default.
	CertsFromAuthoritiesOnly bool
	// EventWindow is how many events the event stream keeps for replay;
	// EventClientBuffer how many may wait for one client before it is
	// dropped as lagged (WithEventLimits).
	EventWindow       int
	EventClientBuffer int

	// APIWriteToken, if set, is the bearer token of the API's write routes
	// (every route but GET); APIReadToken, if set, that of the read routes
	// (which also take the write token). /healthz and /readyz stay open.
	APIWriteToken, APIReadToken string
	// APICORSOrigins are the origins browsers may call the API from ("*"
	// for any); empty adds no CORS headers.
	APICORSOrigins []string
	// APITLSCert and APITLSKey, if set, are the PEM files of the API's TLS
	// certificate and key.
	APITLSCert, APITLSKey string
	// MetricsListen, if set, is a separate listener serving only
	// /debug/metrics/prometheus.
	MetricsListen string

	// Discovery, relay and addresses (WithAnnounce and the options after
	// it; the role sets the defaults).
	//
	// Announce replaces the listen addresses in what the host advertises;
	// NoAnnounce removes addresses from it.
	Announce   []ma.Multiaddr
	NoAnnounce []AddrFilter
	// DHT is the Kademlia DHT's mode (DHTOff: none).
	DHT DHTMode
	// RelayService runs the circuit relay v2 and AutoNAT services whatever
	// AutoNAT concludes (so does a non-empty Announce).
	RelayService bool
	// AutoRelay reserves relay slots on the bootstrap peers while the node
	// is not publicly reachable.
	AutoRelay bool
	// HolePunching upgrades relayed connections (DCUtR).
	HolePunching bool
	// Reachability overrides AutoNAT: "" or "auto", "private", "public".
	Reachability string
	// KeepChain makes a bootstrap node keep the chain; without it a
	// bootstrap node runs in relay-only mode (see the package doc).
	KeepChain bool
	// DiscoveryInterval is how often the node looks for chain peers in the
	// DHT while below its connection low watermark, and retries a failed
	// advertisement.
	DiscoveryInterval time.Duration
	// HostOptions are added after the node's own libp2p options when it
	// builds its host.
	HostOptions []libp2p.Option
	// dhtSet records an explicit WithDHT (with WithHost the DHT is off
	// otherwise).
	dhtSet bool
}

// Option changes a Config.
type Option func(*Config) error

func defaults(role Role) Config {
	c := Config{Role: role, MDNS: role != RoleBootstrap, MaxBodyBytes: 64 << 10, SyncInterval: 2 * time.Second,
		Clock: time.Now, Logger: slog.New(slog.DiscardHandler), CertsFromAuthoritiesOnly: true,
		EventWindow: DefaultEventWindow, EventClientBuffer: DefaultEventClientBuffer,
		DiscoveryInterval: 30 * time.Second}
	c.Mempool, c.SigCacheSize = RoleLimits(role)
	switch role {
	case RoleGateway:
		c.ConnLow, c.ConnHigh, c.MaxMemory, c.MaxFDs = 64, 128, 512<<20, 1024
		c.DHT, c.AutoRelay, c.HolePunching = DHTAuto, true, true
	case RoleBootstrap:
		c.ConnLow, c.ConnHigh, c.MaxMemory, c.MaxFDs = 256, 512, 1<<30, 4096
		c.DHT, c.RelayService = DHTServer, true
	default:
		c.ConnLow, c.ConnHigh, c.MaxMemory, c.MaxFDs = 16, 32, 64<<20, 128
		c.DHT, c.AutoRelay, c.HolePunching = DHTClient, true, true
	}
	return c
}

func (c *Config) validate() error {
	var errs []error
	switch c.Role {
	case RoleDevice, RoleGateway, RoleBootstrap:
	default:
		errs = append(errs, fmt.Errorf("unknown role %q", c.Role))
	}
	if c.Host == nil && len(c.ListenAddrs) == 0 {
		errs = append(errs, errors.New("no listen addresses"))
	}
	if c.ConnLow <= 0 || c.ConnHigh <= c.ConnLow {
		errs = append(errs, fmt.Errorf("connection watermarks %d/%d: need 0 < low < high", c.ConnLow, c.ConnHigh))
	}
	if c.MaxBodyBytes < 1024 {
		errs = append(errs, fmt.Errorf("max body bytes %d is below 1 KiB", c.MaxBodyBytes))
	}
	if c.Reachability == "private" && c.publicDeclared() {
		errs = append(errs, errors.New(`reachability "private" contradicts the relay service or announce addresses, which declare the node public`))
	}
	if c.EventWindow < 1 || c.EventWindow > maxEventLimit || c.EventClientBuffer < 1 || c.EventClientBuffer > maxEventLimit {
		errs = append(errs, fmt.Errorf("event limits %d/%d: each must be 1 to %d", c.EventWindow, c.EventClientBuffer, maxEventLimit))
	}
	switch c.DHT {
	case DHTAuto, DHTServer, DHTClient, DHTOff:
	default:
		errs = append(errs, fmt.Errorf("%w %q", ErrDHTMode, c.DHT))
	}
	if c.Clock == nil || c.Logger == nil {
		errs = append(errs, errors.New("clock and logger must not be nil"))
	}
	if c.APIListen != "" && c.APIWriteToken == "" && !IsLoopback(c.APIListen) {
		errs = append(errs, fmt.Errorf("%w: %s is not a loopback address; set api.token_file (or listen on 127.0.0.1)",
			ErrAPIUnprotected, c.APIListen))
	}
	return errors.Join(errs...)
}

// WithRole sets the role (default device) and its default limits
// (connections, resources, mempool and signature cache: RoleLimits), DHT
// mode and relay settings. Apply it before options that change those.
func WithRole(r Role) Option {
	return func(c *Config) error {
		d := defaults(r)
		c.Role, c.MDNS, c.ConnLow, c.ConnHigh, c.MaxMemory, c.MaxFDs = d.Role, d.MDNS, d.ConnLow, d.ConnHigh, d.MaxMemory, d.MaxFDs
		c.DHT, c.RelayService, c.AutoRelay, c.HolePunching = d.DHT, d.RelayService, d.AutoRelay, d.HolePunching
		c.Mempool, c.SigCacheSize = d.Mempool, d.SigCacheSize
		return nil
	}
}

// WithListenAddrs sets the multiaddrs to listen on.
func WithListenAddrs(addrs ...string) Option {
	return func(c *Config) error {
		c.ListenAddrs = nil
		for _, a := range addrs {
			m, err := ma.NewMultiaddr(a)
			if err != nil {
				return fmt.Errorf("listen address %q: %w", a, err)
			}
			c.ListenAddrs = append(c.ListenAddrs, m)
		}
		return nil
	}
}

// WithBootstrap sets static peers to connect to; each address must end in
// /p2p/<peer ID>.
func WithBootstrap(addrs ...string) Option {
	return func(c *Config) error {
		for _, a := range addrs {
			info, err := peer.AddrInfoFromString(a)
			if err != nil {
				return fmt.Errorf("bootstrap address %q: %w", a, err)
			}
			c.Bootstrap = append(c.Bootstrap, *info)
		}
		return nil
	}
}

// WithBootstrapPeers adds already-parsed bootstrap peers.
func WithBootstrapPeers(infos ...peer.AddrInfo) Option {
	return func(c *Config) error { c.Bootstrap = append(c.Bootstrap, infos...); return nil }
}

// WithMDNS turns local-network discovery on or off.
func WithMDNS(on bool) Option { return func(c *Config) error { c.MDNS = on; return nil } }

// WithConnLimits sets the connection manager's watermarks.
func WithConnLimits(low, high int) Option {
	return func(c *Config) error { c.ConnLow, c.ConnHigh = low, high; return nil }
}

// WithResourceLimits sets the resource manager's memory (bytes) and file
// descriptor limits.
func WithResourceLimits(memory int64, fds int) Option {
	return func(c *Config) error { c.MaxMemory, c.MaxFDs = memory, fds; return nil }
}

// WithHost runs the node on a host the caller built and owns (a simulated
// network, say). Listen addresses, limits and transports are then the
// host's business.
func WithHost(h host.Host) Option { return func(c *Config) error { c.Host = h; return nil } }

// WithDatastore backs the ledger with d, which the caller owns.
func WithDatastore(d datastore.Batching) Option {
	return func(c *Config) error { c.Datastore = d; return nil }
}

// WithDataDir opens a pebble store in dir (synced on every commit).
func WithDataDir(dir string) Option { return func(c *Config) error { c.DataDir = dir; return nil } }

// WithAPI serves the HTTP API on addr ("" for none).
func WithAPI(addr string, maxBodyBytes int64) Option {
	return func(c *Config) error {
		c.APIListen = addr
		if maxBodyBytes > 0 {
			c.MaxBodyBytes = maxBodyBytes
		}
		return nil
	}
}

// WithMempool sets the mempool's limits; zero fields keep the role's
// (RoleLimits), negative ones are an error. WithMempoolLimits sets the two
// that config.toml does, with bounds.
func WithMempool(m mempool.Config) Option {
	return func(c *Config) error {
		if err := m.Validate(); err != nil {
			return err
		}
		if m.MaxTxs > 0 {
			c.Mempool.MaxTxs = m.MaxTxs
		}
		if m.MaxBytes > 0 {
			c.Mempool.MaxBytes = m.MaxBytes
		}
		if m.MaxPerSender > 0 {
			c.Mempool.MaxPerSender = m.MaxPerSender
		}
		if m.MaxNonceAhead > 0 {
			c.Mempool.MaxNonceAhead = m.MaxNonceAhead
		}
		if m.HighWaterPercent > 0 {
			c.Mempool.HighWaterPercent = m.HighWaterPercent
		}
		if m.DropRecord > 0 {
			c.Mempool.DropRecord = m.DropRecord
		}
		return nil
	}
}

// WithClock injects the clock.
func WithClock(now func() time.Time) Option {
	return func(c *Config) error { c.Clock = now; return nil }
}

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(c *Config) error { c.Logger = l; return nil } }

// WithRegistry registers the node's and libp2p's metrics on r instead of a
// registry of the node's own.
func WithRegistry(r *prometheus.Registry) Option {
	return func(c *Config) error { c.Registry = r; return nil }
}

// WithRand injects the random source of the sealing delay.
func WithRand(r *rand.Rand) Option { return func(c *Config) error { c.Rand = r; return nil } }

// WithProposals sets this authority's votes on the authority set: each key
// is voted in (true) or out (false) in the blocks it seals, until passed.
func WithProposals(p map[identity.PublicKey]bool) Option {
	return func(c *Config) error { c.Proposals = p; return nil }
}

// WithBatch sets the bounds of the transaction batches the node forms
// from what its API and its devices hand it: at most maxTxs transactions
// (1 to types.MaxBatchTxs) and maxBytes bytes (up to types.MaxBatchBytes),
// and maxAge for the first one to wait for others (0 to 1 s). A zero
// value keeps the default (512, 64 KiB, 20 ms).
func WithBatch(maxTxs, maxBytes int, maxAge time.Duration) Option {
	return func(c *Config) error {
		b := txflow.BatchConfig{MaxTxs: maxTxs, MaxBytes: maxBytes, MaxAge: maxAge}
		if err := b.Validate(); err != nil {
			return err
		}
		c.Batch = b
		return nil
	}
}

// WithSyncInterval sets how often the node polls a peer for missing blocks.
func WithSyncInterval(d time.Duration) Option {
	return func(c *Config) error {
		if d <= 0 {
			return errors.New("sync interval must be positive")
		}
		c.SyncInterval = d
		return nil
	}
}

// WithEventLimits sets how many events the event stream (GET /v1/events)
// keeps for clients that reconnect (window) and how many may wait for one
// client before it is dropped as lagged (perClient). Both must be 1 to
// 1,048,576.
func WithEventLimits(window, perClient int) Option {
	return func(c *Config) error {
		if window < 1 || window > maxEventLimit || perClient < 1 || perClient > maxEventLimit {
			return fmt.Errorf("event limits %d/%d: each must be 1 to %d", window, perClient, maxEventLimit)
		}
		c.EventWindow, c.EventClientBuffer = window, perClient
		return nil
	}
}

// Options of the API's protection and the metrics listener (branch metrics).

// WithAPIAuth sets the API's bearer tokens: write guards every route but
// GET; read, if not empty, guards the GET routes too (which then take
// either token). /healthz and /readyz stay open. Tokens are at least
// MinTokenLen characters without spaces; a read token needs a write token,
// and the two must differ. Empty write and read turn authentication off.
func WithAPIAuth(write, read string) Option {
	return func(c *Config) error {
		if write == "" && read == "" {
			c.APIWriteToken, c.APIReadToken = "", ""
			return nil
		}
		if write == "" {
			return fmt.Errorf("%w: a read token needs a write token", ErrBadToken)
		}
		if err := checkToken(write); err != nil {
			return fmt.Errorf("write token: %w", err)
		}
		if read != "" {
			if err := checkToken(read); err != nil {
				return fmt.Errorf("read token: %w", err)
			}
			if read == write {
				return fmt.Errorf("%w: the read token must differ from the write token", ErrBadToken)
			}
		}
		c.APIWriteToken, c.APIReadToken = write, read
		return nil
	}
}

// WithAPICORS lets browsers on the given origins ("*" for any, else
// scheme://host[:port]) call the API; preflight OPTIONS requests are
// answered. None (the default) adds no CORS headers.
func WithAPICORS(origins []string) Option {
	return func(c *Config) error {
		for _, o := range origins {
			if err := checkOrigin(o); err != nil {
				return err
			}
		}
		c.APICORSOrigins = slices.Clone(origins)
		return nil
	}
}

// WithAPITLS serves the API over TLS with the PEM certificate (chain) and
// key files; both empty serves plain HTTP. The pair is loaded now, so a
// bad file fails New.
func WithAPITLS(certFile, keyFile string) Option {
	return func(c *Config) error {
		if certFile == "" && keyFile == "" {
			c.APITLSCert, c.APITLSKey = "", ""
			return nil
		}
		if certFile == "" || keyFile == "" {
			return errors.New("API TLS needs both a certificate and a key file")
		}
		if _, err := tls.LoadX509KeyPair(certFile, keyFile); err != nil {
			return fmt.Errorf("API TLS: %w", err)
		}
		c.APITLSCert, c.APITLSKey = certFile, keyFile
		return nil
	}
}

// WithMetricsListen serves only /debug/metrics/prometheus on a separate
// host:port ("" for none, the default).
func WithMetricsListen(addr string) Option {
	return func(c *Config) error {
		if addr != "" {
			_, port, err := net.SplitHostPort(addr)
			if err != nil {
				return fmt.Errorf("metrics listen %q: %w", addr, err)
			}
			if _, err := strconv.ParseUint(port, 10, 16); err != nil {
				return fmt.Errorf("metrics listen %q: port %q is not a number in 0-65535", addr, port)
			}
		}
		c.MetricsListen = addr
		return nil
	}
}

// Discovery, relay and addresses (issue "Operators", branch p2p).

// WithAnnounce sets the multiaddrs other peers should dial (no /p2p/):
// they replace the listen addresses in identify and DHT records, and
// declare the node publicly reachable (relay and AutoNAT services on).
func WithAnnounce(addrs ...string) Option {
	return func(c *Config) error {
		c.Announce = nil
		for _, a := range addrs {
			m, err := parseDialAddr(a)
			if err != nil {
				return fmt.Errorf("announce address %q: %w", a, err)
			}
			c.Announce = append(c.Announce, m)
		}
		return nil
	}
}

// WithNoAnnounce removes addresses from what the host advertises: exact
// multiaddrs, or /ip4/<net>/ipcidr/<bits> and /ip6/<net>/ipcidr/<bits>
// filters (ParseAddrFilter).
func WithNoAnnounce(filters ...string) Option {
	return func(c *Config) error {
		c.NoAnnounce = nil
		for _, s := range filters {
			f, err := ParseAddrFilter(s)
			if err != nil {
				return fmt.Errorf("no_announce %q: %w", s, err)
			}
			c.NoAnnounce = append(c.NoAnnounce, f)
		}
		return nil
	}
}

// WithDHT sets the DHT mode (the role's default otherwise: bootstrap
// server, gateway auto, device client). With WithHost the DHT is off
// unless this option is given.
func WithDHT(m DHTMode) Option {
	return func(c *Config) error {
		switch m {
		case DHTAuto, DHTServer, DHTClient, DHTOff:
		default:
			return fmt.Errorf("%w %q", ErrDHTMode, m)
		}
		c.DHT, c.dhtSet = m, true
		return nil
	}
}

// WithRelayService runs the relay v2 and AutoNAT services whatever AutoNAT
// concludes (default on for bootstrap nodes).
func WithRelayService(on bool) Option {
	return func(c *Config) error { c.RelayService = on; return nil }
}

// WithAutoRelay makes the node reserve a slot on its bootstrap peers'
// relays while it is not publicly reachable (default on for devices and
// gateways; no effect without bootstrap peers).
func WithAutoRelay(on bool) Option { return func(c *Config) error { c.AutoRelay = on; return nil } }

// WithHolePunching turns DCUtR hole punching on or off (default on for
// devices and gateways).
func WithHolePunching(on bool) Option {
	return func(c *Config) error { c.HolePunching = on; return nil }
}

// WithReachability overrides what AutoNAT concludes about the node:
// "auto" (or "") lets it decide, "private" makes the node act as behind a
// NAT (auto-relay reserves slots and relayed addresses are advertised),
// "public" as publicly reachable. "private" contradicts WithRelayService
// and WithAnnounce, which declare the node public.
func WithReachability(r string) Option {
	return func(c *Config) error {
		switch r {
		case "", "auto", "private", "public":
		default:
			return fmt.Errorf("reachability %q: want auto, private or public", r)
		}
		c.Reachability = r
		return nil
	}
}

// WithKeepChain makes a bootstrap node keep the chain (store, sync,
// gossip mesh) instead of running relay-only. Other roles always do.
func WithKeepChain(on bool) Option { return func(c *Config) error { c.KeepChain = on; return nil } }

// WithDiscoveryInterval sets how often the node looks for chain peers in
// the DHT while it has fewer connections than its low watermark, and how
// soon it retries a failed advertisement (default 30 s).
func WithDiscoveryInterval(d time.Duration) Option {
	return func(c *Config) error {
		if d <= 0 {
			return errors.New("discovery interval must be positive")
		}
		c.DiscoveryInterval = d
		return nil
	}
}

// WithHostOptions adds libp2p options after the node's own when it builds
// its host (libp2p.ForceReachabilityPrivate in a test, say). They have no
// effect with WithHost.
func WithHostOptions(opts ...libp2p.Option) Option {
	return func(c *Config) error { c.HostOptions = append(c.HostOptions, opts...); return nil }
}
