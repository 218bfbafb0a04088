package configs

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	ma "github.com/multiformats/go-multiaddr"
)

// Role is the part a node plays in the mesh. It selects the defaults of the
// configuration (connection limits, resource limits, mDNS).
type Role string

// The node roles.
const (
	// RoleDevice is a constrained IoT device: small connection and memory
	// budgets, discovers its gateway over mDNS.
	RoleDevice Role = "device"
	// RoleGateway aggregates devices on a site and links them to the wider
	// mesh.
	RoleGateway Role = "gateway"
	// RoleBootstrap is a well-known, publicly reachable entry point of the
	// mesh with large connection budgets and no mDNS.
	RoleBootstrap Role = "bootstrap"
	// RoleLight is a light node (package node/light): it keeps final
	// headers, not the chain, and submits its own readings through a
	// gateway. It uses p2p.listen (TCP), p2p.bootstrap (its gateways),
	// p2p.mdns, p2p.max_memory_mb, api.listen (loopback only), ledger.path
	// and log; it ignores the other keys.
	RoleLight Role = "light"
)

// Roles returns every known role, in a stable order.
func Roles() []Role {
	return []Role{RoleDevice, RoleGateway, RoleBootstrap, RoleLight}
}

// ParseRole returns the Role named by s. Only the exact lower-case names
// "device", "gateway", "bootstrap" and "light" are accepted.
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case RoleDevice, RoleGateway, RoleBootstrap, RoleLight:
		return r, nil
	}
	return "", fmt.Errorf("unknown role %q (want device, gateway, bootstrap or light)", s)
}

// ErrInvalidConfig is wrapped by every validation error (and by load errors
// caused by the content of the file, such as unknown keys or a missing role).
var ErrInvalidConfig = errors.New("invalid config")

// Config is the node configuration file.
type Config struct {
	// Role of the node. Required in the file; it selects the defaults.
	Role Role `toml:"role"`
	// KeyFile is the node's private key file. Relative paths are relative to
	// the home directory. Default "node.key".
	KeyFile string `toml:"key_file"`
	// GenesisFile is the chain's genesis file. Relative paths are relative to
	// the home directory. Default "genesis.toml".
	GenesisFile string `toml:"genesis_file"`

	P2P     P2PConfig     `toml:"p2p"`
	API     APIConfig     `toml:"api"`
	Ledger  LedgerConfig  `toml:"ledger"`
	Mempool MempoolConfig `toml:"mempool"`
	Log     LogConfig     `toml:"log"`
	Metrics MetricsConfig `toml:"metrics"`
	// Consensus holds an authority's standing votes on the authority set.
	Consensus ConsensusConfig `toml:"consensus"`
}

// P2PConfig configures the libp2p host.
type P2PConfig struct {
	// Listen is the list of multiaddrs to listen on. At least one is
	// required. Default ["/ip4/0.0.0.0/tcp/4001", "/ip4/0.0.0.0/udp/4001/quic-v1"].
	Listen []string `toml:"listen"`
	// Bootstrap is the list of peers dialled at startup, as multiaddrs that
	// include /p2p/<peer id>. Default empty.
	Bootstrap []string `toml:"bootstrap"`
	// MDNS enables local-network peer discovery. Default true for device
	// and gateway, false for bootstrap.
	MDNS bool `toml:"mdns"`
	// ConnLow is the connection manager low watermark. Defaults: device 16,
	// gateway 64, bootstrap 256.
	ConnLow int `toml:"conn_low"`
	// ConnHigh is the connection manager high watermark. Defaults: device
	// 32, gateway 128, bootstrap 512.
	ConnHigh int `toml:"conn_high"`
	// MaxMemoryMB is the libp2p resource manager memory limit in MiB.
	// Defaults: device 64, gateway 512, bootstrap 1024.
	MaxMemoryMB int `toml:"max_memory_mb"`
	// MaxFDs is the libp2p resource manager file descriptor limit.
	// Defaults: device 128, gateway 1024, bootstrap 4096.
	MaxFDs int `toml:"max_fds"`

	// Announce is the list of multiaddrs other peers should dial (a public
	// address in front of a NAT or a load balancer, say), without /p2p/.
	// When set it replaces the listen addresses in what the node
	// advertises (identify, DHT records), and declares the node publicly
	// reachable (its relay and AutoNAT services then run). Default empty:
	// advertise the listen addresses.
	Announce []string `toml:"announce"`
	// NoAnnounce lists multiaddrs, or /ip4/<net>/ipcidr/<bits> and
	// /ip6/<net>/ipcidr/<bits> filters, removed from what the node
	// advertises. Default empty.
	NoAnnounce []string `toml:"no_announce"`
	// DHT is the Kademlia DHT mode: "server", "client", "auto" (AutoNAT
	// decides) or "off". Defaults: device "client", gateway "auto",
	// bootstrap "server".
	DHT string `toml:"dht"`
	// RelayService runs a circuit relay v2 and the AutoNAT service whatever
	// AutoNAT concludes about the node's reachability. Default true for
	// bootstrap, false otherwise.
	RelayService bool `toml:"relay_service"`
	// AutoRelay makes the node reserve a slot on the bootstrap nodes'
	// relays, and advertise the relayed addresses, while it is not publicly
	// reachable. Default true for device and gateway, false for bootstrap.
	AutoRelay bool `toml:"auto_relay"`
	// HolePunching upgrades relayed connections to direct ones (DCUtR).
	// Default true for device and gateway, false for bootstrap.
	HolePunching bool `toml:"hole_punching"`
	// Reachability overrides what AutoNAT concludes about the node:
	// "auto" (default) lets it decide; "private" makes the node behave as
	// if it were behind a NAT (it reserves relay slots with auto_relay and
	// advertises the relayed addresses), for a node its peers cannot dial
	// although AutoNAT's dial-back reaches it; "public" the opposite.
	Reachability string `toml:"reachability"`
	// KeepChain makes a bootstrap node a full ledger node too (store, sync,
	// gossip mesh). Without it a bootstrap node keeps no chain state and no
	// gossip mesh: it serves discovery, relay and peer exchange. Ignored by
	// the other roles, which always keep the chain. Default false.
	KeepChain bool `toml:"keep_chain"`
}

// Reachability values accepted in P2PConfig.Reachability.
const (
	ReachabilityAuto    = "auto"
	ReachabilityPrivate = "private"
	ReachabilityPublic  = "public"
)

// DHT modes accepted in P2PConfig.DHT.
const (
	DHTAuto   = "auto"
	DHTServer = "server"
	DHTClient = "client"
	DHTOff    = "off"
)

// APIConfig configures the local HTTP API.
type APIConfig struct {
	// Listen is the host:port of the API. Default "127.0.0.1:8645"; the
	// empty string disables the API.
	Listen string `toml:"listen"`
	// MaxBodyBytes caps request bodies, in bytes, within [1 KiB, 64 MiB].
	// Default 65536.
	MaxBodyBytes int64 `toml:"max_body_bytes"`
	// TokenFile names the file holding the bearer token of the write
	// routes (POST /v1/txs and every other route but GET). Required when
	// Listen is not a loopback address. The file must not be readable by
	// group or others. Relative paths are relative to the home directory.
	// Default "" (no token).
	TokenFile string `toml:"token_file"`
	// ReadTokenFile, if set, names the file of the token the read routes
	// then need (they also take the write token); /healthz and /readyz
	// stay open. Needs TokenFile. Default "".
	ReadTokenFile string `toml:"read_token_file"`
	// CORSOrigins are the origins ("*" or scheme://host[:port]) browsers
	// may call the API from. Default empty: no CORS headers.
	CORSOrigins []string `toml:"cors_origins"`
	// TLSCertFile and TLSKeyFile, both set, serve the API over TLS with
	// this PEM certificate (chain) and key. Default "" (plain HTTP).
	TLSCertFile string `toml:"tls_cert_file"`
	TLSKeyFile  string `toml:"tls_key_file"`
}

// MetricsConfig configures the separate metrics listener.
type MetricsConfig struct {
	// Listen is a host:port serving only /debug/metrics/prometheus, apart
	// from the API (which serves it too). Default "" (off).
	Listen string `toml:"listen"`
}

// LedgerConfig configures ledger storage.
type LedgerConfig struct {
	// Store is the storage engine: "pebble" (default) or "memory".
	Store string `toml:"store"`
	// Path is the data directory, relative to the home directory. Default
	// "data". Required when Store is "pebble".
	Path string `toml:"path"`
}

// MempoolConfig bounds the pool of pending transactions and the cache of
// verified signatures. The defaults follow the role: a device holds little,
// gateways (authorities run as gateways) and bootstrap nodes more.
type MempoolConfig struct {
	// MaxTxs is the maximum number of pending transactions, 1 to
	// MaxMempoolTxs. Defaults: device 10000, gateway and bootstrap 50000.
	MaxTxs int `toml:"max_txs"`
	// MaxBytes is the maximum total size of pending transactions, in bytes,
	// MinMempoolBytes to MaxMempoolBytes. Defaults: device 16 MiB, gateway
	// and bootstrap 64 MiB.
	MaxBytes int `toml:"max_bytes"`
	// HighWaterPercent is the high-water mark, in percent of MaxTxs and of
	// MaxBytes, 1 to 100: above it the node refuses new transactions (HTTP
	// 503 mempool_busy, gossip Ignore) but the one that fills a sender's
	// first nonce gap (package mempool). Default 80.
	HighWaterPercent int `toml:"high_water_percent"`
	// SigCacheSize is how many verified transaction signatures the node
	// remembers, so that a transaction checked at gossip is not verified
	// again in its block; 1 to MaxSigCacheSize. Defaults: device 20000,
	// gateway and bootstrap 200000.
	SigCacheSize int `toml:"sig_cache_size"`
}

// ConsensusConfig holds the votes an authority puts in the blocks it seals
// (EIP-225): a proposal passes once more than half of the authorities vote
// for it, and each vote is dropped from the list's effect once it passed.
type ConsensusConfig struct {
	// ProposeAdd lists did:keys to vote into the authority set.
	ProposeAdd []string `toml:"propose_add"`
	// ProposeDrop lists did:keys to vote out of it.
	ProposeDrop []string `toml:"propose_drop"`
}

// LogConfig configures logging.
type LogConfig struct {
	// Level is one of debug, info, warn, error. Default info.
	Level string `toml:"level"`
	// Format is text or json. Default text.
	Format string `toml:"format"`
}

// Storage engines accepted in LedgerConfig.Store.
const (
	StorePebble = "pebble"
	StoreMemory = "memory"
)

// Limits enforced by Validate.
const (
	MinMaxBodyBytes = 1 << 10  // 1 KiB
	MaxMaxBodyBytes = 64 << 20 // 64 MiB
	MaxMempoolTxs   = 10_000_000
	// MinMempoolBytes is the largest transaction (40 KiB), so that one
	// always fits.
	MinMempoolBytes = 40 << 10
	MaxMempoolBytes = 1 << 30
	MaxSigCacheSize = 10_000_000
)

// Default values shared by all roles.
const (
	DefaultKeyFile      = "node.key"
	DefaultGenesisFile  = "genesis.toml"
	DefaultAPIListen    = "127.0.0.1:8645"
	DefaultMaxBodyBytes = 65536
	DefaultLedgerPath   = "data"
	DefaultMempoolTxs   = 50000    // gateway and bootstrap
	DefaultMempoolBytes = 64 << 20 // gateway and bootstrap
	DefaultSigCache     = 200000   // gateway and bootstrap
	DefaultHighWater    = 80       // percent, every role
	DeviceMempoolTxs    = 10000
	DeviceMempoolBytes  = 16 << 20
	DeviceSigCache      = 20000
	DefaultLogLevel     = "info"
	DefaultLogFormat    = "text"
)

// DefaultListen returns the default p2p listen addresses (a fresh slice).
func DefaultListen() []string {
	return []string{"/ip4/0.0.0.0/tcp/4001", "/ip4/0.0.0.0/udp/4001/quic-v1"}
}

// Default returns the default configuration for role. The per-role values
// are mDNS, the connection and resource limits and the mempool and
// signature-cache sizes; everything else is shared.
// For an unknown role the device values are used and Role is kept as given,
// so that Validate reports it.
func Default(role Role) Config {
	c := Config{
		Role:        role,
		KeyFile:     DefaultKeyFile,
		GenesisFile: DefaultGenesisFile,
		P2P: P2PConfig{
			Listen:       DefaultListen(),
			MDNS:         true,
			ConnLow:      16,
			ConnHigh:     32,
			MaxMemoryMB:  64,
			MaxFDs:       128,
			DHT:          DHTClient,
			AutoRelay:    true,
			HolePunching: true,
			Reachability: ReachabilityAuto,
		},
		API:     APIConfig{Listen: DefaultAPIListen, MaxBodyBytes: DefaultMaxBodyBytes},
		Ledger:  LedgerConfig{Store: StorePebble, Path: DefaultLedgerPath},
		Mempool: MempoolConfig{MaxTxs: DeviceMempoolTxs, MaxBytes: DeviceMempoolBytes, HighWaterPercent: DefaultHighWater, SigCacheSize: DeviceSigCache},
		Log:     LogConfig{Level: DefaultLogLevel, Format: DefaultLogFormat},
	}
	switch role {
	case RoleGateway:
		c.P2P.ConnLow, c.P2P.ConnHigh = 64, 128
		c.P2P.MaxMemoryMB, c.P2P.MaxFDs = 512, 1024
		c.P2P.DHT = DHTAuto
		c.Mempool = MempoolConfig{MaxTxs: DefaultMempoolTxs, MaxBytes: DefaultMempoolBytes, HighWaterPercent: DefaultHighWater, SigCacheSize: DefaultSigCache}
	case RoleBootstrap:
		c.P2P.MDNS = false
		c.P2P.ConnLow, c.P2P.ConnHigh = 256, 512
		c.P2P.MaxMemoryMB, c.P2P.MaxFDs = 1024, 4096
		c.P2P.DHT = DHTServer
		c.P2P.RelayService, c.P2P.AutoRelay, c.P2P.HolePunching = true, false, false
		c.Mempool = MempoolConfig{MaxTxs: DefaultMempoolTxs, MaxBytes: DefaultMempoolBytes, HighWaterPercent: DefaultHighWater, SigCacheSize: DefaultSigCache}
	case RoleLight:
		c.P2P.Listen = []string{"/ip4/0.0.0.0/tcp/4001"}
		c.P2P.ConnLow, c.P2P.ConnHigh = 4, 16
		c.P2P.MaxMemoryMB, c.P2P.MaxFDs = 16, 64
		c.P2P.DHT = DHTOff
		c.P2P.AutoRelay, c.P2P.HolePunching = false, false
	}
	return c
}

// invalid returns an error wrapping ErrInvalidConfig about the named field
// (its TOML key path).
func invalid(field, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalidConfig, field, fmt.Sprintf(format, args...))
}

// Validate checks every field. Each problem is reported as its own error
// wrapping ErrInvalidConfig and naming the TOML key (e.g. "p2p.conn_low");
// several problems are joined with errors.Join.
func (c Config) Validate() error {
	var errs []error
	add := func(err error) { errs = append(errs, err) }

	if _, err := ParseRole(string(c.Role)); err != nil {
		add(invalid("role", "%v", err))
	}
	seen := map[string]string{}
	for _, l := range []struct {
		key  string
		dids []string
	}{{"consensus.propose_add", c.Consensus.ProposeAdd}, {"consensus.propose_drop", c.Consensus.ProposeDrop}} {
		for i, d := range l.dids {
			if !strings.HasPrefix(d, "did:key:z") || len(d) > 128 {
				add(invalid(fmt.Sprintf("%s[%d]", l.key, i), "%q is not a did:key", d))
			} else if other, dup := seen[d]; dup {
				add(invalid(fmt.Sprintf("%s[%d]", l.key, i), "%s is already in %s", d, other))
			}
			seen[d] = l.key
		}
	}
	if c.KeyFile == "" {
		add(invalid("key_file", "must not be empty"))
	}
	if c.GenesisFile == "" {
		add(invalid("genesis_file", "must not be empty"))
	}

	// p2p
	if len(c.P2P.Listen) == 0 {
		add(invalid("p2p.listen", "at least one listen multiaddr is required"))
	}
	for i, s := range c.P2P.Listen {
		field := fmt.Sprintf("p2p.listen[%d]", i)
		m, err := ma.NewMultiaddr(s)
		if err != nil {
			add(invalid(field, "%q is not a valid multiaddr: %v", s, err))
			continue
		}
		if hasP2P(m) {
			add(invalid(field, "%q must not contain /p2p/ (the peer id comes from key_file)", s))
		}
	}
	for i, s := range c.P2P.Bootstrap {
		field := fmt.Sprintf("p2p.bootstrap[%d]", i)
		m, err := ma.NewMultiaddr(s)
		if err != nil {
			add(invalid(field, "%q is not a valid multiaddr: %v", s, err))
			continue
		}
		switch {
		case !hasP2P(m):
			add(invalid(field, "%q must include the peer id as /p2p/<peer id>", s))
		case m[0].Code() == ma.P_P2P:
			add(invalid(field, "%q must include a network address before /p2p/<peer id>", s))
		}
	}
	for i, s := range c.P2P.Announce {
		field := fmt.Sprintf("p2p.announce[%d]", i)
		m, err := ma.NewMultiaddr(s)
		switch {
		case err != nil:
			add(invalid(field, "%q is not a valid multiaddr: %v", s, err))
		case hasP2P(m):
			add(invalid(field, "%q must not contain /p2p/ (the peer id comes from key_file)", s))
		case isCIDR(m):
			add(invalid(field, "%q is a filter; announce takes dialable multiaddrs", s))
		}
	}
	for i, s := range c.P2P.NoAnnounce {
		field := fmt.Sprintf("p2p.no_announce[%d]", i)
		m, err := ma.NewMultiaddr(s)
		switch {
		case err != nil:
			add(invalid(field, "%q is not a valid multiaddr: %v", s, err))
		case hasP2P(m):
			add(invalid(field, "%q must not contain /p2p/", s))
		case isCIDR(m) && !validCIDR(m):
			add(invalid(field, "%q: a filter is /ip4/<net>/ipcidr/<0-32> or /ip6/<net>/ipcidr/<0-128>, nothing after", s))
		}
	}
	switch c.P2P.DHT {
	case DHTAuto, DHTServer, DHTClient, DHTOff:
	default:
		add(invalid("p2p.dht", "unknown mode %q (want %q, %q, %q or %q)", c.P2P.DHT, DHTAuto, DHTServer, DHTClient, DHTOff))
	}
	switch c.P2P.Reachability {
	case ReachabilityAuto, ReachabilityPrivate, ReachabilityPublic:
		if c.P2P.Reachability == ReachabilityPrivate && (c.P2P.RelayService || len(c.P2P.Announce) > 0) {
			add(invalid("p2p.reachability", `"private" contradicts relay_service = true or announce addresses, which declare the node public`))
		}
	default:
		add(invalid("p2p.reachability", "unknown value %q (want %q, %q or %q)", c.P2P.Reachability, ReachabilityAuto, ReachabilityPrivate, ReachabilityPublic))
	}
	if c.P2P.ConnLow <= 0 {
		add(invalid("p2p.conn_low", "must be positive, got %d", c.P2P.ConnLow))
	}
	if c.P2P.ConnHigh <= 0 {
		add(invalid("p2p.conn_high", "must be positive, got %d", c.P2P.ConnHigh))
	}
	if c.P2P.ConnLow > 0 && c.P2P.ConnHigh > 0 && c.P2P.ConnLow >= c.P2P.ConnHigh {
		add(invalid("p2p.conn_low", "must be less than p2p.conn_high, got conn_low %d >= conn_high %d",
			c.P2P.ConnLow, c.P2P.ConnHigh))
	}
	if c.P2P.MaxMemoryMB <= 0 {
		add(invalid("p2p.max_memory_mb", "must be positive, got %d", c.P2P.MaxMemoryMB))
	}
	if c.P2P.MaxFDs <= 0 {
		add(invalid("p2p.max_fds", "must be positive, got %d", c.P2P.MaxFDs))
	}

	// api
	if c.API.Listen != "" {
		if _, port, err := net.SplitHostPort(c.API.Listen); err != nil {
			add(invalid("api.listen", "%q is not host:port: %v", c.API.Listen, err))
		} else if _, err := strconv.ParseUint(port, 10, 16); err != nil {
			add(invalid("api.listen", "%q: port %q is not a number in 0-65535", c.API.Listen, port))
		}
	}
	if c.API.ReadTokenFile != "" && c.API.TokenFile == "" {
		add(invalid("api.read_token_file", "needs api.token_file (the write token)"))
	}
	if c.API.ReadTokenFile != "" && c.API.ReadTokenFile == c.API.TokenFile {
		add(invalid("api.read_token_file", "must differ from api.token_file"))
	}
	for i, o := range c.API.CORSOrigins {
		if err := checkOrigin(o); err != nil {
			add(invalid(fmt.Sprintf("api.cors_origins[%d]", i), "%v", err))
		}
	}
	if (c.API.TLSCertFile == "") != (c.API.TLSKeyFile == "") {
		add(invalid("api.tls_cert_file", "api.tls_cert_file and api.tls_key_file must be set together"))
	}
	if c.Metrics.Listen != "" {
		if _, port, err := net.SplitHostPort(c.Metrics.Listen); err != nil {
			add(invalid("metrics.listen", "%q is not host:port: %v", c.Metrics.Listen, err))
		} else if _, err := strconv.ParseUint(port, 10, 16); err != nil {
			add(invalid("metrics.listen", "%q: port %q is not a number in 0-65535", c.Metrics.Listen, port))
		}
	}
	if c.API.MaxBodyBytes < MinMaxBodyBytes || c.API.MaxBodyBytes > MaxMaxBodyBytes {
		add(invalid("api.max_body_bytes", "must be between %d (1 KiB) and %d (64 MiB), got %d",
			MinMaxBodyBytes, MaxMaxBodyBytes, c.API.MaxBodyBytes))
	}

	// ledger
	switch c.Ledger.Store {
	case StorePebble:
		if c.Ledger.Path == "" {
			add(invalid("ledger.path", "must not be empty when ledger.store is %q", StorePebble))
		}
	case StoreMemory:
	default:
		add(invalid("ledger.store", "unknown store %q (want %q or %q)", c.Ledger.Store, StorePebble, StoreMemory))
	}

	// mempool
	if c.Mempool.MaxTxs <= 0 || c.Mempool.MaxTxs > MaxMempoolTxs {
		add(invalid("mempool.max_txs", "must be positive and at most %d, got %d", MaxMempoolTxs, c.Mempool.MaxTxs))
	}
	if c.Mempool.MaxBytes < MinMempoolBytes || c.Mempool.MaxBytes > MaxMempoolBytes {
		add(invalid("mempool.max_bytes", "must be between %d (one largest transaction) and %d, got %d", MinMempoolBytes, MaxMempoolBytes, c.Mempool.MaxBytes))
	}
	if c.Mempool.HighWaterPercent < 1 || c.Mempool.HighWaterPercent > 100 {
		add(invalid("mempool.high_water_percent", "must be 1 to 100, got %d", c.Mempool.HighWaterPercent))
	}
	if c.Mempool.SigCacheSize <= 0 || c.Mempool.SigCacheSize > MaxSigCacheSize {
		add(invalid("mempool.sig_cache_size", "must be positive and at most %d, got %d", MaxSigCacheSize, c.Mempool.SigCacheSize))
	}

	// log
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		add(invalid("log.level", "unknown level %q (want debug, info, warn or error)", c.Log.Level))
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		add(invalid("log.format", "unknown format %q (want text or json)", c.Log.Format))
	}

	return errors.Join(errs...)
}

// checkOrigin accepts "*" or scheme://host[:port] with scheme http or
// https and nothing after the host.
func checkOrigin(o string) error {
	if o == "*" {
		return nil
	}
	u, err := url.Parse(o)
	if err != nil {
		return fmt.Errorf("%q is not an origin: %v", o, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		u.Path != "" || u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(o, "?") || strings.HasSuffix(o, "#") {
		return fmt.Errorf("%q is not \"*\" or scheme://host[:port] (http or https, no path)", o)
	}
	return nil
}

func hasP2P(m ma.Multiaddr) bool {
	for _, c := range m {
		if c.Code() == ma.P_P2P {
			return true
		}
	}
	return false
}

// isCIDR reports whether m contains an /ipcidr/ component.
func isCIDR(m ma.Multiaddr) bool {
	for _, c := range m {
		if c.Code() == ma.P_IPCIDR {
			return true
		}
	}
	return false
}

// validCIDR reports whether m is exactly /ip4/<net>/ipcidr/<bits> or
// /ip6/<net>/ipcidr/<bits> with bits in range.
func validCIDR(m ma.Multiaddr) bool {
	if len(m) != 2 || m[1].Code() != ma.P_IPCIDR {
		return false
	}
	if len(m[1].RawValue()) != 1 {
		return false
	}
	bits := int(m[1].RawValue()[0])
	switch m[0].Code() {
	case ma.P_IP4:
		return bits <= 32
	case ma.P_IP6:
		return bits <= 128
	}
	return false
}

// Resolve returns a copy of c in which KeyFile, GenesisFile, Ledger.Path
// and the API's token and TLS files are absolute: relative paths are joined
// to home. If home itself is relative it is first made absolute against the
// working directory. Empty paths are left empty. The returned Config shares no slices with c.
func (c Config) Resolve(home string) Config {
	if !filepath.IsAbs(home) {
		if abs, err := filepath.Abs(home); err == nil {
			home = abs
		}
	}
	abs := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(home, p)
	}
	out := c.clone()
	out.KeyFile = abs(c.KeyFile)
	out.GenesisFile = abs(c.GenesisFile)
	out.Ledger.Path = abs(c.Ledger.Path)
	out.API.TokenFile = abs(c.API.TokenFile)
	out.API.ReadTokenFile = abs(c.API.ReadTokenFile)
	out.API.TLSCertFile = abs(c.API.TLSCertFile)
	out.API.TLSKeyFile = abs(c.API.TLSKeyFile)
	return out
}

// clone returns a deep copy of c.
func (c Config) clone() Config {
	c.P2P.Listen = slices.Clone(c.P2P.Listen)
	c.P2P.Bootstrap = slices.Clone(c.P2P.Bootstrap)
	c.API.CORSOrigins = slices.Clone(c.API.CORSOrigins)
	c.P2P.Announce = slices.Clone(c.P2P.Announce)
	c.P2P.NoAnnounce = slices.Clone(c.P2P.NoAnnounce)
	return c
}
