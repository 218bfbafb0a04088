package chaintest

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/ipfs/go-datastore"

	"github.com/sixdomain/sixdomain/chain"
	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger"
	"github.com/sixdomain/sixdomain/ledger/types"
	"github.com/sixdomain/sixdomain/mempool"
)

// Config describes a cluster and its network. Zero fields take the
// defaults noted.
type Config struct {
	Authorities int  // authority nodes; default 4
	Observers   int  // non-authority nodes (follow, relay, serve sync)
	Byzantine   bool // authority 0 equivocates; ignored below 4 authorities
	// EquivocateProb is the chance that the byzantine authority
	// equivocates when it seals; default 1.
	EquivocateProb float64

	Slot         time.Duration // block interval; default 1s
	Epoch        uint64        // EIP-225 epoch (checkpoint blocks); default the genesis default
	Latency      time.Duration // base one-way latency; default 20ms
	Jitter       time.Duration // extra latency, uniform in [0, Jitter); default 80ms, negative for none
	Drop         float64       // probability that a message is lost
	Dup          float64       // probability that a message is delivered twice
	SyncInterval time.Duration // periodic pull sync; default 3 slots
	SyncTimeout  time.Duration // a sync request without answer is abandoned; default 2s
	// NaiveSync asks only from head+1, as node/sync.go does, even when the
	// answer does not connect or the peer's head is on a branch this node
	// does not know (a lower branch the fork choice may prefer). By default
	// the harness then asks again from its finalized height.
	NaiveSync bool

	Devices       int           // simulated devices submitting transactions; default 3, <0 for none
	TxInterval    time.Duration // mean time between one device's transactions; default 1s
	ResubmitAfter time.Duration // a device resubmits a transaction not final by then; default 8s
	MaxPending    int           // a device waits while this many of its transactions are not final; default 16

	LogTail int // event-log lines in a violation; default 60
	// Verbose, if set, receives every event-log line as it happens.
	Verbose func(line string)
	// ChainLogs also sends the chains' own debug logs to Verbose.
	ChainLogs bool
}

func (cfg Config) withDefaults() Config {
	if cfg.Authorities <= 0 {
		cfg.Authorities = 4
	}
	if cfg.Authorities < 4 {
		cfg.Byzantine = false
	}
	if cfg.EquivocateProb == 0 {
		cfg.EquivocateProb = 1
	}
	if cfg.Slot <= 0 {
		cfg.Slot = time.Second
	}
	if cfg.Latency <= 0 {
		cfg.Latency = 20 * time.Millisecond
	}
	if cfg.Jitter < 0 {
		cfg.Jitter = 0
	} else if cfg.Jitter == 0 {
		cfg.Jitter = 80 * time.Millisecond
	}
	if cfg.SyncInterval <= 0 {
		cfg.SyncInterval = 3 * cfg.Slot
	}
	if cfg.SyncTimeout <= 0 {
		cfg.SyncTimeout = 2 * time.Second
	}
	if cfg.Devices == 0 {
		cfg.Devices = 3
	}
	if cfg.TxInterval <= 0 {
		cfg.TxInterval = time.Second
	}
	if cfg.ResubmitAfter <= 0 {
		cfg.ResubmitAfter = 8 * time.Second
	}
	if cfg.MaxPending <= 0 {
		cfg.MaxPending = 16
	}
	if cfg.LogTail <= 0 {
		cfg.LogTail = 60
	}
	return cfg
}

// Node is one simulated node. Its fields are for inspection; change it
// through the Cluster.
type Node struct {
	ID        int
	Key       *identity.PrivateKey
	Authority bool // listed in the genesis
	Byzantine bool // equivocates when it seals

	ds    datastore.Batching // survives crashes
	store *ledger.Store
	pool  *mempool.Pool
	chain *chain.Chain
	up    bool
	skew  time.Duration
	inc   uint64 // incarnation: bumped by Crash and Restart

	seen map[[32]byte]struct{} // messages already handled and relayed

	wakeGen     uint64
	wakeAt      time.Duration
	wakePending bool
	lastWake    time.Duration
	sameWake    int

	syncID       uint64 // the request in flight (0: none)
	restarts     int
	lastCommit   uint64                      // height of the last Committed event of this incarnation's chain
	evidence     int                         // Events.Evidence seen
	evSubmitted  map[identity.PublicKey]bool // offenders this node accused
	sealed       int
	justified    types.Checkpoint        // last logged
	pendingCerts [][][]byte              // certificates waiting for their blocks
	known        map[types.Hash]struct{} // blocks given to this incarnation's chain
}

// Up reports whether the node is running.
func (n *Node) Up() bool { return n.up }

// Chain returns the node's chain, nil while it is down.
func (n *Node) Chain() *chain.Chain { return n.chain }

// Store returns the node's store, nil while it is down.
func (n *Node) Store() *ledger.Store { return n.store }

// Skew returns the node's clock skew.
func (n *Node) Skew() time.Duration { return n.skew }

// Evidence returns how many Events.Evidence the node reported.
func (n *Node) Evidence() int { return n.evidence }

// Sealed returns how many blocks the node sealed.
func (n *Node) Sealed() int { return n.sealed }

// finalRec is the global record of the block finalized at one height.
type finalRec struct {
	hash types.Hash
	root types.Hash
	node int // first node that reported it
}

// Stats counts what a run did.
type Stats struct {
	Events, Delivered, Dropped, Duplicated int
	Sealed, Equivocations, Commits         int
	Evidence, EvidenceTxs                  int
	CommitEvidence                         int // evidence with a commit vote in it
	SyncRequests, SyncBlocks, Certificates int
	SyncForks                              int // sync answers from another branch: asked again from the finalized height
	Crashes, Restarts, Partitions          int
	TxSubmitted, TxCommitted               int
	MaxFinalized, MaxHead                  uint64
}

// Cluster is a simulated network of nodes under virtual time. It is not
// safe for concurrent use; separate clusters are independent.
type Cluster struct {
	seed    uint64
	cfg     Config
	genesis *types.Genesis
	base    time.Time // virtual time 0

	now    time.Duration
	seq    uint64
	agenda agenda
	events int

	net    *rand.Rand // latency, drops, duplicates, peer choice
	load   *rand.Rand // workload
	nodes  []*Node
	group  []int // partition group of each node
	drop   float64
	dup    float64
	filter func(from, to int, kind string) bool
	reqID  uint64

	// sigs is one transaction-signature cache for all nodes: a
	// simulation shortcut (a cached verdict is the same at every node) that
	// saves most of the signature checks of a run.
	sigs *types.SigCache

	final     map[uint64]finalRec // height -> the block finalized there
	finality  map[uint64]*BlockFinality
	txHeight  map[types.Hash]uint64 // committed transaction -> height
	devices   []*device
	sealTimes []time.Duration // honest seals, ascending

	trace    uint64
	ring     []string
	ringNext int
	err      error
	stats    Stats
}

// ChainID of every simulated chain.
const ChainID = "chaintest"

// GenesisTime is virtual time 0.
var GenesisTime = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

// keyFor derives node or device keys from the seed.
func keyFor(seed uint64, kind byte, i int) *identity.PrivateKey {
	var s [32]byte
	binary.BigEndian.PutUint64(s[:8], seed)
	s[8] = kind
	binary.BigEndian.PutUint64(s[16:24], uint64(i))
	copy(s[24:], "chaintst")
	k, err := identity.FromSeed(s[:])
	if err != nil {
		panic(err)
	}
	return k
}

// NewCluster builds and starts a cluster; nothing runs until Run. The
// byzantine authority, if any, is node 0; observers follow the
// authorities. It panics on setup errors (they are bugs of the harness or
// of the code under test's constructors).
func NewCluster(seed uint64, cfg Config) *Cluster {
	cfg = cfg.withDefaults()
	c := &Cluster{seed: seed, cfg: cfg, base: GenesisTime,
		net:  rand.New(rand.NewPCG(seed, 0x6e6574)),
		load: rand.New(rand.NewPCG(seed, 0x6c6f6164)),
		drop: cfg.Drop, dup: cfg.Dup, sigs: types.NewSigCache(1 << 16),
		final: map[uint64]finalRec{}, txHeight: map[types.Hash]uint64{}, finality: map[uint64]*BlockFinality{},
		trace: fnvOffset, ring: make([]string, max(cfg.LogTail, 200)),
	}
	total := cfg.Authorities + cfg.Observers
	var auths []identity.PublicKey
	for i := 0; i < total; i++ {
		n := &Node{ID: i, Key: keyFor(seed, 'n', i), Authority: i < cfg.Authorities, ds: ledger.NewMemory(),
			evSubmitted: map[identity.PublicKey]bool{}}
		n.Byzantine = cfg.Byzantine && i == 0
		if n.Authority {
			auths = append(auths, n.Key.Public())
		}
		c.nodes = append(c.nodes, n)
	}
	c.group = make([]int, total)
	g := types.NewGenesis(ChainID, GenesisTime, auths...)
	g.SlotMillis = cfg.Slot.Milliseconds()
	if cfg.Epoch != 0 {
		g.Epoch = cfg.Epoch
	}
	c.genesis = g
	for _, n := range c.nodes {
		c.start(n)
	}
	c.startWorkload()
	c.logf(-1, "cluster: %d authorities, %d observers, byzantine %t, latency %s+%s, drop %.2f, dup %.2f",
		cfg.Authorities, cfg.Observers, cfg.Byzantine, cfg.Latency, cfg.Jitter, cfg.Drop, cfg.Dup)
	return c
}

// Seed returns the cluster's seed.
func (c *Cluster) Seed() uint64 { return c.seed }

// Genesis returns the cluster's genesis.
func (c *Cluster) Genesis() *types.Genesis { return c.genesis }

// Nodes returns the nodes (authorities first).
func (c *Cluster) Nodes() []*Node { return c.nodes }

// Node returns node i.
func (c *Cluster) Node(i int) *Node { return c.nodes[i] }

// Now returns the virtual time since the start.
func (c *Cluster) Now() time.Duration { return c.now }

// BlockFinality is when a finalized block was sealed and became final, in
// virtual time.
type BlockFinality struct {
	Height uint64
	Sealed time.Duration // the block's time stamp
	First  time.Duration // the first node committed it (a Committed event)
	Last   time.Duration // the last node so far committed it
	Nodes  int           // how many node incarnations committed it
}

// Finality returns, by ascending height, when each finalized block was
// sealed and became final at the nodes.
func (c *Cluster) Finality() []BlockFinality {
	out := make([]BlockFinality, 0, len(c.finality))
	for _, h := range sortedKeys(c.finality) {
		out = append(out, *c.finality[h])
	}
	return out
}

// Stats returns what the run did so far.
func (c *Cluster) Stats() Stats {
	s := c.stats
	s.Events = c.events
	return s
}

// Err returns the first safety violation seen while running, if any.
func (c *Cluster) Err() error { return c.err }

// Run advances virtual time by d, running every event due. It stops early
// at a safety violation and returns it.
func (c *Cluster) Run(d time.Duration) error {
	until := c.now + d
	for c.err == nil && c.step(until) {
	}
	if c.err == nil {
		c.now = until
	}
	return c.err
}

// At schedules fn at virtual time t (since the start), for scripted
// scenarios.
func (c *Cluster) At(t time.Duration, fn func()) { c.schedule(t, fn) }

// clock returns node n's view of the time.
func (c *Cluster) clock(n *Node) time.Time { return c.base.Add(c.now + n.skew) }

// start opens the node's store and builds its chain.
func (c *Cluster) start(n *Node) {
	ctx := context.Background()
	sp, err := ledger.Split(ctx, n.ds)
	if err != nil {
		panic(fmt.Sprintf("chaintest: splitting the datastore of node %d: %v", n.ID, err))
	}
	st, err := ledger.Open(ctx, sp.Ledger, c.genesis)
	if err != nil {
		panic(fmt.Sprintf("chaintest: opening store of node %d: %v", n.ID, err))
	}
	n.store = st
	n.pool = mempool.New(mempool.Config{})
	logger := slog.New(slog.DiscardHandler)
	if c.cfg.Verbose != nil && c.cfg.ChainLogs {
		logger = slog.New(slog.NewTextHandler(lineWriter{c, n.ID}, &slog.HandlerOptions{Level: slog.LevelDebug,
			ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
				if a.Key == slog.TimeKey {
					return slog.Attr{}
				}
				return a
			}}))
	}
	rnd := rand.New(rand.NewPCG(c.seed^0x636861696e, uint64(n.ID)<<32|uint64(n.restarts)))
	ch, err := chain.New(ctx, chain.Config{Genesis: c.genesis, Key: n.Key, Store: st, Datastore: sp.Chain, Snapshots: sp.Consensus,
		Pool: n.pool, Sigs: c.sigs, Now: func() time.Time { return c.clock(n) },
		Rand: rnd, Logger: logger})
	if err != nil {
		panic(fmt.Sprintf("chaintest: chain.New of node %d: %v", n.ID, err))
	}
	n.chain = ch
	n.up = true
	n.inc++
	n.seen = map[[32]byte]struct{}{}
	n.pendingCerts = nil
	n.known = map[types.Hash]struct{}{}
	n.evSubmitted = map[identity.PublicKey]bool{}
	n.syncID = 0
	n.lastCommit = st.State().Height
	n.wakePending = false
	c.schedWake(n)
	// Periodic sync, with a per-node phase.
	inc := n.inc
	c.after(time.Duration(c.net.Int64N(int64(c.cfg.SyncInterval))), func() { c.syncTimer(n, inc) })
}

type lineWriter struct {
	c  *Cluster
	id int
}

func (w lineWriter) Write(p []byte) (int, error) {
	if w.c.cfg.Verbose != nil {
		w.c.cfg.Verbose(fmt.Sprintf("%8.3fs n%d   chain: %s", w.c.now.Seconds(), w.id, trimNL(p)))
	}
	return len(p), nil
}

func trimNL(p []byte) string {
	for len(p) > 0 && p[len(p)-1] == '\n' {
		p = p[:len(p)-1]
	}
	return string(p)
}

var _ io.Writer = lineWriter{}

func (c *Cluster) syncTimer(n *Node, inc uint64) {
	if !n.up || n.inc != inc {
		return
	}
	c.kickSync(n, false)
	c.after(c.cfg.SyncInterval, func() { c.syncTimer(n, inc) })
}

// schedWake (re)schedules node n's next Tick at chain.NextWake.
func (c *Cluster) schedWake(n *Node) {
	if !n.up {
		return
	}
	at := n.chain.NextWake().Sub(c.base) - n.skew
	if at < c.now {
		at = c.now
	}
	if n.wakePending && n.wakeAt == at {
		return
	}
	// A chain that keeps asking to be woken now without progress would
	// spin; after a few rounds push it forward a millisecond.
	if at == c.now && n.lastWake == c.now {
		n.sameWake++
		if n.sameWake > 16 {
			at += time.Millisecond
		}
	}
	n.wakeGen++
	n.wakeAt, n.wakePending = at, true
	gen, inc := n.wakeGen, n.inc
	c.schedule(at, func() {
		if !n.up || n.inc != inc || n.wakeGen != gen {
			return
		}
		n.wakePending = false
		if n.lastWake != c.now {
			n.lastWake, n.sameWake = c.now, 0
		}
		n.chain.Tick()
		c.drain(n)
	})
}

// ---- faults ----

// Partition splits the nodes into groups; messages between groups are
// lost. Nodes in no group form one more group together.
func (c *Cluster) Partition(groups ...[]int) {
	for i := range c.group {
		c.group[i] = len(groups)
	}
	for gi, g := range groups {
		for _, i := range g {
			c.group[i] = gi
		}
	}
	c.stats.Partitions++
	c.logf(-1, "partition %v", c.group)
}

// Heal reconnects all nodes.
func (c *Cluster) Heal() {
	clear(c.group)
	c.logf(-1, "heal")
	for _, n := range c.nodes {
		if n.up {
			c.kickSync(n, false)
		}
	}
}

// Linked reports whether messages pass between nodes a and b.
func (c *Cluster) Linked(a, b int) bool { return c.group[a] == c.group[b] }

// Crash stops node i: its chain, mempool and caches are lost; its
// datastore (committed blocks, own last vote, certificate) survives.
func (c *Cluster) Crash(i int) {
	n := c.nodes[i]
	if !n.up {
		return
	}
	n.up = false
	n.inc++
	n.chain, n.pool, n.store, n.seen, n.pendingCerts = nil, nil, nil, nil, nil
	n.syncID = 0
	c.stats.Crashes++
	c.logf(i, "CRASH")
}

// Restart starts a crashed node again over its datastore.
func (c *Cluster) Restart(i int) {
	n := c.nodes[i]
	if n.up {
		return
	}
	n.restarts++
	c.start(n)
	c.stats.Restarts++
	c.logf(i, "RESTART at finalized %d", n.store.State().Height)
	c.kickSync(n, false)
}

// SetSkew sets node i's clock skew (its clock reads virtual time + d).
func (c *Cluster) SetSkew(i int, d time.Duration) {
	n := c.nodes[i]
	n.skew = d
	c.logf(i, "skew %s", d)
	if n.up {
		c.schedWake(n)
	}
}

// SetDrop sets the message loss probability.
func (c *Cluster) SetDrop(p float64) {
	c.drop = p
	c.logf(-1, "drop %.2f", p)
}

// SetDup sets the message duplication probability.
func (c *Cluster) SetDup(p float64) {
	c.dup = p
	c.logf(-1, "dup %.2f", p)
}

// SetFilter installs a message filter: a message from one node to
// another of kind "block", "vote", "tx", "sync-req" or "sync-resp" is
// sent only if f returns true. nil removes the filter. Messages already in
// flight are not affected.
func (c *Cluster) SetFilter(f func(from, to int, kind string) bool) {
	c.filter = f
	c.logf(-1, "filter %t", f != nil)
}

// Honest returns the indices of the honest nodes.
func (c *Cluster) Honest() []int {
	var out []int
	for _, n := range c.nodes {
		if !n.Byzantine {
			out = append(out, n.ID)
		}
	}
	return out
}

// Finalized returns node i's finalized height (from its store, also while
// it is down).
func (c *Cluster) Finalized(i int) uint64 {
	return c.storeOf(c.nodes[i]).State().Height
}

// Head returns node i's head height (its finalized height while down).
func (c *Cluster) Head(i int) uint64 {
	n := c.nodes[i]
	if !n.up {
		return c.Finalized(i)
	}
	return n.chain.Head().Height
}

// storeOf returns the node's store, opening its datastore while it is down.
func (c *Cluster) storeOf(n *Node) *ledger.Store {
	if n.store != nil {
		return n.store
	}
	sp, err := ledger.Split(context.Background(), n.ds)
	if err != nil {
		panic(fmt.Sprintf("chaintest: splitting the datastore of node %d: %v", n.ID, err))
	}
	st, err := ledger.Open(context.Background(), sp.Ledger, c.genesis)
	if err != nil {
		panic(fmt.Sprintf("chaintest: opening store of node %d: %v", n.ID, err))
	}
	return st
}

// Status is a one-line summary of every node.
func (c *Cluster) Status() string {
	s := ""
	for _, n := range c.nodes {
		tag := ""
		switch {
		case n.Byzantine:
			tag = "B"
		case !n.Authority:
			tag = "o"
		}
		if !n.up {
			s += fmt.Sprintf(" n%d%s:down(fin %d)", n.ID, tag, c.Finalized(n.ID))
			continue
		}
		j := n.chain.Justified()
		s += fmt.Sprintf(" n%d%s:g%d head %d fin %d just %d", n.ID, tag, c.group[n.ID], n.chain.Head().Height,
			n.chain.Finalized().Height, j.Height)
	}
	return s
}

func shortHash(h types.Hash) string { return h.String()[:8] }

func sortedKeys[K ~uint64, V any](m map[K]V) []K {
	ks := make([]K, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
