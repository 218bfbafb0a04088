package node

import (
	"errors"
	"time"

	lp2pps "github.com/libp2p/go-libp2p-pubsub"

	"github.com/sixdomain/sixdomain/clock"
	"github.com/sixdomain/sixdomain/ledger/types"
)

// voteCacheSize is how many verified finality votes a node remembers:
// four certificate messages' worth with 4 authorities.
const voteCacheSize = 4 * types.MaxCertificates * 4

// defaultSigCacheSize is the verified-signature cache's default capacity.
const defaultSigCacheSize = 200_000

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

// WithSigCacheSize bounds the verified-signature cache to n entries
// (default 200,000; the map is allocated at that size up front). Small
// devices, and swarms of many nodes in one process, want fewer.
func WithSigCacheSize(n int) Option {
	return func(c *Config) error {
		if n < 1 {
			return errors.New("signature cache size must be positive")
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
