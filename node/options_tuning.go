package node

import (
	"errors"
	"fmt"
	"time"

	lp2pps "github.com/libp2p/go-libp2p-pubsub"

	"github.com/sixdomain/sixdomain/clock"
	"github.com/sixdomain/sixdomain/ledger/types"
	"github.com/sixdomain/sixdomain/mempool"
)

// voteCacheSize is how many verified finality votes a node remembers:
// four certificate messages' worth with 4 authorities.
const voteCacheSize = 4 * types.MaxCertificates * 4

// defaultSigCacheSize is the verified-signature cache's default capacity.
const defaultSigCacheSize = 200_000

// Role limits of the mempool and the verified-signature cache
// (RoleLimits; config.toml's [mempool] max_txs, max_bytes and
// sig_cache_size override them).
const (
	// DeviceMempoolTxs and DeviceMempoolBytes bound a device's mempool: it
	// seals nothing, so it holds what it relays and its own pending
	// transactions — seconds of the network's traffic.
	DeviceMempoolTxs   = 10_000
	DeviceMempoolBytes = 16 << 20
	// DeviceSigCacheSize is twice the device's mempool: a transaction
	// verified at gossip is found again when its block is applied.
	DeviceSigCacheSize = 20_000
	// GatewayMempoolTxs, GatewayMempoolBytes and GatewaySigCacheSize are
	// those of gateways, authorities (which run as gateways) and bootstrap
	// nodes: an authority's mempool feeds its blocks (up to 10,000
	// transactions each).
	GatewayMempoolTxs   = mempool.DefaultMaxTxs
	GatewayMempoolBytes = mempool.DefaultMaxBytes
	GatewaySigCacheSize = defaultSigCacheSize

	// Upper bounds the options accept: they bound what a node allocates.
	MaxMempoolTxs   = 10_000_000
	MaxMempoolBytes = 1 << 30
	MaxSigCacheSize = 10_000_000
)

// RoleLimits returns the mempool limits and signature-cache size a node of
// role starts with: small on a device, larger on gateways, authorities and
// bootstrap nodes. A role without its own limits gets the device's.
func RoleLimits(role Role) (mempool.Config, int) {
	switch role {
	case RoleGateway, RoleBootstrap:
		return mempool.Config{MaxTxs: GatewayMempoolTxs, MaxBytes: GatewayMempoolBytes}, GatewaySigCacheSize
	}
	return mempool.Config{MaxTxs: DeviceMempoolTxs, MaxBytes: DeviceMempoolBytes}, DeviceSigCacheSize
}

// WithMempoolLimits bounds the mempool to maxTxs pending transactions and
// maxBytes bytes of their encodings (config.toml's mempool.max_txs and
// max_bytes; the role's by default, RoleLimits). maxTxs is 1 to
// MaxMempoolTxs; maxBytes is types.MaxTxBytes (one transaction of the
// largest size) to MaxMempoolBytes.
func WithMempoolLimits(maxTxs, maxBytes int) Option {
	return func(c *Config) error {
		if maxTxs < 1 || maxTxs > MaxMempoolTxs {
			return fmt.Errorf("mempool max_txs %d: want 1 to %d", maxTxs, MaxMempoolTxs)
		}
		if maxBytes < types.MaxTxBytes || maxBytes > MaxMempoolBytes {
			return fmt.Errorf("mempool max_bytes %d: want %d (one largest transaction) to %d", maxBytes, types.MaxTxBytes, MaxMempoolBytes)
		}
		c.Mempool.MaxTxs, c.Mempool.MaxBytes = maxTxs, maxBytes
		return nil
	}
}

// WithTimeSource makes c the node's clock: it reads the time from it and
// waits on it (every timer, ticker and timeout of the node, and GossipSub's
// heartbeat, backoffs and score decay, scaled by c.Scale()). A simulation
// passes a dilated clock (clock.Dilated) so that protocol time runs slower
// than wall time; a deployment has no reason to set it.
func WithTimeSource(c clock.Clock) Option {
	return func(cfg *Config) error {
		if c == nil {
			return errors.New("time source must not be nil")
		}
		cfg.Time, cfg.Clock = c, c.Now
		return nil
	}
}

// WithSigCacheSize bounds the verified-signature cache to n entries, 1 to
// MaxSigCacheSize (the role's by default, RoleLimits: 20,000 on a device,
// 200,000 on a gateway; the map is allocated at up to 65,536 entries up
// front). Swarms of many nodes in one process want fewer.
func WithSigCacheSize(n int) Option {
	return func(c *Config) error {
		if n < 1 || n > MaxSigCacheSize {
			return fmt.Errorf("signature cache size %d: want 1 to %d", n, MaxSigCacheSize)
		}
		c.SigCacheSize = n
		return nil
	}
}

// WithPubSubOptions adds go-libp2p-pubsub options after the node's own
// (a tracer such as pubsub.WithRawTracer, to observe the gossip).
func WithPubSubOptions(opts ...lp2pps.Option) Option {
	return func(c *Config) error { c.PubSubOptions = append(c.PubSubOptions, opts...); return nil }
}

// timeSource is the clock the node waits on.
func (c *Config) timeSource() clock.Clock {
	if c.Time == nil {
		return clock.Real()
	}
	return c.Time
}

func (c *Config) sigCacheSize() int {
	if c.SigCacheSize <= 0 {
		return defaultSigCacheSize
	}
	return c.SigCacheSize
}

// wall converts a protocol duration into the wall time it takes on the
// node's clock.
func (n *Node) wall(d time.Duration) time.Duration { return n.clk.Wall(d) }

// WithCertsFromAuthoritiesOnly(true), the default, makes a node that is
// not an authority stop originating finality-certificate messages (on
// justification and every other slot); it still relays the authorities'
// certificates and receives every vote. With false every node gossips
// its own certificates, and since their vote subsets differ, a network of
// N nodes then floods O(N) distinct certificate messages a slot to all N
// nodes: O(N²) deliveries and signature checks, which the swarm simulator
// measured as the limit on networks of more than a few hundred nodes
// (docs/SIMULATOR.md).
func WithCertsFromAuthoritiesOnly(on bool) Option {
	return func(c *Config) error { c.CertsFromAuthoritiesOnly = on; return nil }
}

// originatesCerts reports whether this node gossips certificates of its own.
func (n *Node) originatesCerts() bool {
	return !n.cfg.CertsFromAuthoritiesOnly || n.IsAuthority()
}
