package simulations

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"runtime"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ipfs/go-datastore"
	lp2pps "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/host"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/sixdomain/sixdomain/simulations/internal/mocknet"

	"github.com/sixdomain/sixdomain/clock"
	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger"
	"github.com/sixdomain/sixdomain/ledger/types"
	"github.com/sixdomain/sixdomain/node"
	sixps "github.com/sixdomain/sixdomain/pubsub"
	"github.com/sixdomain/sixdomain/simulations/report"
)

// ChainID is the chain the simulated nodes run.
const ChainID = "sixdomain-sim"

// Options control a run (not what is simulated: that is the scenario).
type Options struct {
	// Progress receives the progress bar; nil for none.
	Progress io.Writer
	Quiet    bool
	// Logger receives the runner's messages and, at LogLevel, the nodes'.
	Logger *slog.Logger
	// NodeLogs passes Logger to the nodes too (very verbose at scale).
	NodeLogs bool
}

// Result is what a run measured, plus the checks the tests assert on.
type Result struct {
	Plan *Plan
	Run  *report.Run
	// SetupWall is the wall time spent starting and linking the peers.
	SetupWall time.Duration
	// SamePrefix: every honest live node holds the same block at the
	// lowest finalized height among them (safety).
	SamePrefix bool
	// SameFinal: every honest live node ended at the same finalized
	// height and block (liveness, after the settle period).
	SameFinal bool
	// MinFinal and MaxFinal are the lowest and highest finalized heights
	// among honest live nodes at the end.
	MinFinal, MaxFinal uint64
	// Finalized lists, for the observer node, each height's finalization
	// time (simulated, since start).
	Finalized []FinalizedAt
	// Observer is the node whose view gives Block.Final.
	Observer int
	// SpamPublished, SpamDelivered (accepted by an honest node) and
	// SpamRejected (refused by an honest validator) count the spammers'
	// messages.
	SpamPublished, SpamDelivered, SpamRejected int64
	// SpammerScores is, for each spammer, the lowest GossipSub score an
	// honest neighbour gave it at the end of the workload.
	SpammerScores []float64
	// Refused counts workload transactions a device's node refused.
	Refused int
	// ClockLagP99 and ClockLagMax are how late a probe ticker on the
	// simulated clock fired (simulated time): the validity check of time
	// dilation.
	ClockLagP99, ClockLagMax time.Duration
	// Retransmissions counts link transmissions lost and sent again
	// (link.loss).
	Retransmissions int64
}

// LossPTO is the retransmission delay of a lost write on a link of the
// given one-way latency: QUIC's probe timeout for a steady RTT, modelled
// as 2 × RTT + 25 ms (max_ack_delay).
func LossPTO(latency time.Duration) time.Duration { return 4*latency + 25*time.Millisecond }

// FinalizedAt is one height's finalization on the observer.
type FinalizedAt struct {
	Height uint64
	At     time.Duration
}

// Run executes a scenario: it starts a swarm of real nodes over mocknet,
// applies the plan and returns what it measured. Every goroutine and peer
// it started is stopped before it returns.
func Run(ctx context.Context, s *Scenario, o Options) (*Result, error) {
	plan, err := NewPlan(s)
	if err != nil {
		return nil, err
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	r := &runner{s: s, plan: plan, o: o, log: o.Logger}
	defer r.close()
	return r.run(ctx)
}

type runner struct {
	s    *Scenario
	plan *Plan
	o    Options
	log  *slog.Logger

	clk     clock.Clock
	genesis *types.Genesis
	keys    []*identity.PrivateKey
	mn      mocknet.Mocknet
	hosts   []host.Host
	rec     *recorder
	tracers []*tracer
	start   int64 // recorder time of simulated time 0

	mu     sync.RWMutex
	nodes  []*node.Node // nil when down
	stores []*ledger.Store
	ds     []interface{ Close() error }
	advs   []*adversary

	// Link state, owned by the scheduler goroutine (and setup before it).
	adj      [][]int // peer -> edge indices
	linked   []bool
	up       []bool
	cut      []bool // active partitions
	observer int

	submitWG sync.WaitGroup
	devMu    []sync.Mutex
	nonces   []uint64
	msgs     []*txMsg
	msgMu    sync.Mutex
	refused  int
	spamPub  int64
}

type txMsg struct {
	id        string
	origin    int
	published int64
	rec       *msgRec
	size      int
}

func (r *runner) scale() float64 { return r.s.TimeScale }

// simNow is simulated time since start.
func (r *runner) simNow() time.Duration { return time.Duration(r.rec.now() - r.start) }

// sleepUntil waits until simulated time t (or ctx ends).
func (r *runner) sleepUntil(ctx context.Context, t time.Duration) error {
	for {
		d := t - r.simNow()
		if d <= 0 {
			return nil
		}
		tm := r.clk.NewTimer(d)
		select {
		case <-ctx.Done():
			tm.Stop()
			return ctx.Err()
		case <-tm.C():
		}
	}
}

func (r *runner) run(ctx context.Context) (*Result, error) {
	s, plan := r.s, r.plan
	total := len(plan.Peers)
	wallStart := time.Now()
	cpuStart := cpuTime()
	r.clk = clock.Dilated(s.TimeScale)
	r.keys = make([]*identity.PrivateKey, total)
	var auths []identity.PublicKey
	for i, p := range plan.Peers {
		k, err := identity.FromSeed(p.KeySeed[:])
		if err != nil {
			return nil, err
		}
		r.keys[i] = k
		if p.Role == RoleAuthority {
			auths = append(auths, k.Public())
		}
	}
	r.genesis = types.NewGenesis(ChainID, r.clk.Now(), auths...)
	r.genesis.SlotMillis = s.Slot.D().Milliseconds()
	if err := r.genesis.Validate(); err != nil {
		return nil, err
	}
	r.rec = newRecorder(r.clk, total, sixps.TxTopic(ChainID), sixps.BlockTopic(ChainID))
	r.rec.batchTopic = sixps.BatchTopic(ChainID)
	r.rec.certTopic = sixps.CertTopic(ChainID)
	r.mn = mocknet.New()
	r.hosts = make([]host.Host, total)
	r.nodes = make([]*node.Node, total)
	r.stores = make([]*ledger.Store, total)
	r.ds = make([]interface{ Close() error }, total)
	r.tracers = make([]*tracer, total)
	r.devMu = make([]sync.Mutex, total)
	r.nonces = make([]uint64, total)
	r.up = make([]bool, total)
	r.adj = make([][]int, total)
	r.linked = make([]bool, len(plan.Edges))
	r.cut = make([]bool, len(plan.Sides))
	for i, e := range plan.Edges {
		r.adj[e.A] = append(r.adj[e.A], i)
		r.adj[e.B] = append(r.adj[e.B], i)
	}
	r.observer = r.pickObserver()

	// Peers: a mocknet host each, then the node (or adversary) on it.
	r.log.Info("starting peers", "peers", total, "edges", len(plan.Edges), "time_scale", s.TimeScale)
	if err := r.parallel(ctx, total, s.Node.StartConcurrency, r.startPeer); err != nil {
		return nil, err
	}
	// Links, with their latencies, then connections.
	if err := r.parallel(ctx, len(plan.Edges), 64, func(_ context.Context, i int) error { return r.setLink(i, true) }); err != nil {
		return nil, err
	}
	if err := r.waitMesh(ctx); err != nil {
		return nil, err
	}
	r.start = r.rec.now()
	setupWall := time.Since(wallStart)
	r.log.Info("swarm up", "setup", setupWall.Round(time.Millisecond))

	// Commits on the observer.
	var finalized []FinalizedAt
	finalTimes := map[types.Hash]time.Duration{}
	var finMu sync.Mutex
	events, unsubscribe := r.node(r.observer).SubscribeCommits(4096)
	var obsWG sync.WaitGroup
	obsWG.Add(1)
	go func() {
		defer obsWG.Done()
		for e := range events {
			at := time.Duration(int64(e.At.Sub(r.rec.origin)) - r.start)
			finMu.Lock()
			finalized = append(finalized, FinalizedAt{Height: e.Block.Header.Height, At: at})
			finalTimes[e.Block.Hash()] = at
			finMu.Unlock()
		}
	}()

	// Samplers: time series, reorgs, clock lag, progress.
	runCtx, stopRun := context.WithCancel(ctx)
	var bg sync.WaitGroup
	smp := &sampler{r: r}
	bg.Add(2)
	go func() { defer bg.Done(); smp.loop(runCtx) }()
	lag := &lagProbe{clk: r.clk, period: 50 * time.Millisecond}
	go func() { defer bg.Done(); lag.loop(runCtx) }()

	// The schedule.
	err := r.schedule(runCtx)
	stopRun()
	bg.Wait()
	r.submitWG.Wait()
	if err != nil && ctx.Err() != nil {
		unsubscribe()
		obsWG.Wait()
		return nil, ctx.Err()
	}
	spammerScores := r.spammerScores()
	simDuration := r.simNow()

	// Settle: wait (up to 5 slots) for honest live nodes to agree.
	res := &Result{Plan: plan, SetupWall: setupWall, Observer: r.observer}
	deadline := s.Slot.D()*5 + time.Second
	for settle := r.simNow() + deadline; ; {
		res.SamePrefix, res.SameFinal, res.MinFinal, res.MaxFinal = r.agreement(ctx)
		if res.SameFinal || r.simNow() > settle || ctx.Err() != nil {
			break
		}
		if err := r.sleepUntil(ctx, r.simNow()+s.Slot.D()/4); err != nil {
			break
		}
	}
	unsubscribe()
	obsWG.Wait()
	wall := time.Since(wallStart) - setupWall

	// Assemble the report.
	run := &report.Run{Scenario: s.Name, Seed: s.Seed, Nodes: total, Roles: map[string]int{},
		SimDuration: simDuration, WallTime: wall, TimeScale: s.TimeScale,
		MeshDegree: lp2pps.DefaultGossipSubParams().D, LinkLatency: s.MeanLinkLatency(), Samples: smp.samples}
	for _, p := range plan.Peers {
		run.Roles[p.Role]++
	}
	window := s.Workload.ExpectWindow.D()
	r.msgMu.Lock()
	for _, m := range r.msgs {
		pub := time.Duration(m.published - r.start)
		msg := report.Message{ID: m.id, Origin: m.origin, Published: pub, FirstSeen: make([]time.Duration, total),
			Expected: make([]bool, total), Duplicates: int(m.rec.dups.Load()), Bytes: m.size}
		for i := range total {
			msg.FirstSeen[i] = report.Never
			if v := m.rec.first[i].Load(); v > 0 {
				msg.FirstSeen[i] = time.Duration(v - 1 - r.start)
			}
			msg.Expected[i] = r.expected(i, m.origin, pub, window)
		}
		run.Messages = append(run.Messages, msg)
	}
	r.msgMu.Unlock()
	run.Blocks, run.Forks = r.blocks(finalTimes, &finMu, window)
	run.Reorgs = smp.reorgs
	for i, p := range plan.Peers {
		ps := report.PeerStats{Role: p.Role, Alive: r.up[i]}
		if !plan.Honest(i) {
			ps.Adversary = p.Role
		}
		if t := r.tracers[i]; t != nil {
			ps.BytesSent, ps.BytesRecv, ps.MsgsRecv, ps.DupsRecv = t.sent.Load(), t.recv.Load(), t.msgs.Load(), t.dup.Load()
		}
		run.Peers = append(run.Peers, ps)
	}
	run.PeakHeapBytes = smp.peakHeap
	run.PeakRSSBytes = peakRSS()
	run.CPUSeconds = cpuTime() - cpuStart
	res.ClockLagP99, res.ClockLagMax = lag.stats()
	res.Run = run
	finMu.Lock()
	res.Finalized = slices.Clone(finalized)
	finMu.Unlock()
	res.SpamPublished, res.SpamDelivered, res.SpamRejected = r.spamPub, r.rec.spamDelivered.Load(), r.rec.spamRejected.Load()
	res.SpammerScores = spammerScores
	res.Refused = r.refused
	res.Retransmissions = r.mn.Retransmissions()
	run.Notes = r.notes(res)
	return res, nil
}

func (r *runner) notes(res *Result) []string {
	s := r.s
	var n []string
	n = append(n, fmt.Sprintf("plan %s (seed %d): %d peers, %d links, %d transactions, %d spam, %d fault events",
		r.plan.Hash()[:16], s.Seed, len(r.plan.Peers), len(r.plan.Edges), len(r.plan.Txs), len(r.plan.Spam), len(r.plan.Events)))
	n = append(n, fmt.Sprintf("setup %s wall; run %s wall for %s simulated: %.2f wall s per simulated s (time_scale %g)",
		res.SetupWall.Round(time.Millisecond), r.runWall(res).Round(time.Millisecond), res.Run.SimDuration.Round(time.Millisecond),
		res.Run.WallTime.Seconds()/max(res.Run.SimDuration.Seconds(), 1e-9), s.TimeScale))
	check := "ok"
	if res.ClockLagP99 > r.lagBudget() {
		check = fmt.Sprintf("TOO LATE: above %s, the run did not keep up; raise time_scale", r.lagBudget())
	}
	n = append(n, fmt.Sprintf("clock lag (probe ticker lateness, simulated): p99 %s, max %s: %s",
		res.ClockLagP99.Round(time.Microsecond), res.ClockLagMax.Round(time.Microsecond), check))
	n = append(n, fmt.Sprintf("finalized heights at the end: %d..%d; same finalized prefix: %v; same final head: %v (observer node %d)",
		res.MinFinal, res.MaxFinal, res.SamePrefix, res.SameFinal, res.Observer))
	if res.Run.Nodes > 0 {
		n = append(n, fmt.Sprintf("memory: peak RSS %.1f MiB = %.0f KiB per peer; peak heap %.1f MiB",
			float64(res.Run.PeakRSSBytes)/(1<<20), float64(res.Run.PeakRSSBytes)/1024/float64(res.Run.Nodes), float64(res.Run.PeakHeapBytes)/(1<<20)))
	}
	if s.Link.Loss > 0 {
		n = append(n, fmt.Sprintf("link loss %g: %d transmissions lost and sent again after a probe timeout of 4 x latency + 25 ms",
			s.Link.Loss, res.Retransmissions))
	}
	n = append(n, fmt.Sprintf("finality certificates: %d distinct messages, %d deliveries (cert_gossip = %q)",
		r.rec.certMsgs.Load(), r.rec.certDeliv.Load(), s.Node.CertGossip))
	if res.Refused > 0 {
		n = append(n, fmt.Sprintf("%d workload transactions refused by their device's node", res.Refused))
	}
	if s.Adversaries.Spammers > 0 {
		n = append(n, fmt.Sprintf("spam: %d published, %d accepted by honest nodes, %d rejected; spammer scores at neighbours %v",
			res.SpamPublished, res.SpamDelivered, res.SpamRejected, res.SpammerScores))
	}
	for _, e := range r.plan.Events {
		if e.Kind == EventPartition || e.Kind == EventHeal || e.Kind == EventOffline {
			n = append(n, fmt.Sprintf("fault at %s: %s (peer %d, partition %d)", e.At, e.Kind, e.Peer, e.Partition))
		}
	}
	if churn := countKind(r.plan.Events, EventLeave); churn > 0 {
		n = append(n, fmt.Sprintf("churn: %d departures, %d returns", churn, countKind(r.plan.Events, EventJoin)))
	}
	if r.s.Link.BandwidthKbps > 0 || r.s.Link.Jitter > 0 {
		n = append(n, "jitter is a per-link latency spread drawn once; bandwidth is mocknet's per-link rate limiter")
	}
	n = append(n, "bytes per peer are GossipSub RPC sizes (protobuf), without stream framing, identify or sync traffic")
	return n
}

func (r *runner) runWall(res *Result) time.Duration { return res.Run.WallTime }

// lagBudget is the clock lag above which results are not trusted: a tenth
// of the mean link latency, but at least 5 ms.
func (r *runner) lagBudget() time.Duration {
	return max(r.s.MeanLinkLatency()/10, 5*time.Millisecond)
}

func countKind(evs []Event, kind string) int {
	k := 0
	for _, e := range evs {
		if e.Kind == kind {
			k++
		}
	}
	return k
}

// pickObserver chooses an honest node that stays up the whole run:
// preferably a gateway, else a device, else an authority.
func (r *runner) pickObserver() int {
	end := r.s.Duration.D() + time.Hour
	for _, role := range []string{RoleGateway, RoleDevice, RoleAuthority} {
		for i, p := range r.plan.Peers {
			if p.Role == role && r.plan.Up(i, 0, end) {
				return i
			}
		}
	}
	return 0
}

func (r *runner) parallel(ctx context.Context, n, conc int, f func(context.Context, int) error) error {
	sem := make(chan struct{}, conc)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for i := range n {
		if ctx.Err() != nil {
			break
		}
		mu.Lock()
		failed := first != nil
		mu.Unlock()
		if failed {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := f(ctx, i); err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if first != nil {
		return first
	}
	return ctx.Err()
}

// peerAddr is peer i's address on the simulated network.
func peerAddr(i int) ma.Multiaddr {
	ip := net.IPv4(10, byte(i>>16), byte(i>>8), byte(i))
	return ma.StringCast("/ip4/" + ip.String() + "/tcp/4001")
}

func (r *runner) startPeer(ctx context.Context, i int) error {
	h, err := r.mn.AddPeer(r.keys[i].Libp2p(), peerAddr(i))
	if err != nil {
		return fmt.Errorf("peer %d: mocknet: %w", i, err)
	}
	r.mu.Lock()
	r.hosts[i] = h
	r.mu.Unlock()
	role := r.plan.Peers[i].Role
	if !r.plan.Honest(i) {
		adv, err := startAdversary(role, h, r.keys[i], ChainID, r.scale())
		if err != nil {
			return fmt.Errorf("peer %d: %w", i, err)
		}
		r.mu.Lock()
		r.advs = append(r.advs, adv)
		r.up[i] = true
		r.mu.Unlock()
		return nil
	}
	r.tracers[i] = &tracer{r: r.rec, idx: i}
	return r.startNode(ctx, i, true)
}

// startNode starts (or restarts) node i on its host.
func (r *runner) startNode(ctx context.Context, i int, fresh bool) error {
	if fresh || !r.s.Churn.KeepStore || r.ds[i] == nil {
		if r.ds[i] != nil {
			_ = r.ds[i].Close() // an in-memory store (memStore): closing it cannot lose data
		}
		r.ds[i] = nil
	}
	role := node.RoleDevice
	if p := r.plan.Peers[i].Role; p == RoleAuthority || p == RoleGateway {
		role = node.RoleGateway
	}
	logger := slog.New(slog.DiscardHandler)
	if r.o.NodeLogs {
		logger = r.log.With("peer", i)
	}
	var seed [32]byte
	seed = sha256.Sum256(append(r.plan.Peers[i].KeySeed[:], []byte("rand")...))
	opts := []node.Option{
		node.WithRole(role),
		node.WithHost(r.hosts[i]),
		node.WithMDNS(false),
		node.WithTimeSource(r.clk),
		node.WithLogger(logger),
		node.WithRand(rand.New(rand.NewChaCha8(seed))),
		node.WithSigCacheSize(r.s.Node.SigCacheSize),
		node.WithPubSubOptions(lp2pps.WithRawTracer(r.tracers[i])),
	}
	opts = append(opts, node.WithCertsFromAuthoritiesOnly(r.s.Node.CertGossip == "authorities"))
	if d := r.s.Node.SyncInterval.D(); d > 0 {
		opts = append(opts, node.WithSyncInterval(d))
	}
	var ds *memStore
	if r.ds[i] != nil {
		ds = r.ds[i].(*memStore)
	} else {
		ds = &memStore{ledger.NewMemory()}
		r.ds[i] = ds
	}
	opts = append(opts, node.WithDatastore(ds.Batching))
	n, err := node.New(ctx, r.keys[i], r.genesis, opts...)
	if err != nil {
		return fmt.Errorf("peer %d: %w", i, err)
	}
	r.mu.Lock()
	r.nodes[i] = n
	r.up[i] = true
	r.mu.Unlock()
	return nil
}

// memStore is a node's in-memory datastore, kept across restarts when
// churn.keep_store is set.
type memStore struct{ datastore.Batching }

func (r *runner) node(i int) *node.Node {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.nodes[i]
}

// setLink brings edge i's link up or down to match what it should be: up
// when both ends run and no active partition separates them.
func (r *runner) setLink(i int, connect bool) error {
	e := r.plan.Edges[i]
	r.mu.RLock()
	want := r.up[e.A] && r.up[e.B]
	r.mu.RUnlock()
	for p, active := range r.cut {
		if active && r.plan.Sides[p][e.A] != r.plan.Sides[p][e.B] {
			want = false
		}
	}
	switch {
	case want && !r.linked[i]:
		l, err := r.mn.LinkPeers(r.hosts[e.A].ID(), r.hosts[e.B].ID())
		if err != nil {
			return fmt.Errorf("link %d-%d: %w", e.A, e.B, err)
		}
		o := mocknet.LinkOptions{Latency: r.clk.Wall(e.Latency)}
		if loss := r.s.Link.Loss; loss > 0 {
			o.Loss, o.RTO = loss, r.clk.Wall(LossPTO(e.Latency))
			o.Seed = uint64(r.plan.Seed)*1_000_003 + uint64(i)
		}
		if kbps := r.s.Link.BandwidthKbps; kbps > 0 {
			o.Bandwidth = kbps * 1000 / 8 / r.scale()
		}
		l.SetOptions(o)
		r.linked[i] = true
		if connect {
			if _, err := r.mn.ConnectPeers(r.hosts[e.A].ID(), r.hosts[e.B].ID()); err != nil {
				return fmt.Errorf("connect %d-%d: %w", e.A, e.B, err)
			}
		}
	case !want && r.linked[i]:
		// Unlink first: a node that dials the other end between the two
		// steps (sync does) would otherwise reconnect over the old link.
		// mocknet's errors here only say "not linked" / "not connected",
		// which is the state wanted.
		_ = r.mn.UnlinkPeers(r.hosts[e.A].ID(), r.hosts[e.B].ID())
		_ = r.mn.DisconnectPeers(r.hosts[e.A].ID(), r.hosts[e.B].ID())
		_ = r.mn.DisconnectPeers(r.hosts[e.B].ID(), r.hosts[e.A].ID())
		r.linked[i] = false
	}
	return nil
}

// waitMesh waits until every running honest node shares the transaction
// and block topics with a peer.
func (r *runner) waitMesh(ctx context.Context) error {
	deadline := time.Now().Add(max(60*time.Second, time.Duration(float64(20*time.Second)*r.scale())))
	for {
		missing := 0
		for i := range r.plan.Peers {
			if n := r.node(i); n != nil && n.TopicPeers() == 0 {
				missing++
			}
		}
		if missing == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("gossip mesh not formed: %d nodes share no topic with a peer", missing)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// schedule applies the plan's publications and faults at their times.
func (r *runner) schedule(ctx context.Context) error {
	type item struct {
		at   time.Duration
		kind int // 0 event, 1 tx, 2 spam
		idx  int
	}
	var items []item
	for i, e := range r.plan.Events {
		items = append(items, item{e.At, 0, i})
	}
	for i, t := range r.plan.Txs {
		items = append(items, item{t.At, 1, i})
	}
	for i, t := range r.plan.Spam {
		items = append(items, item{t.At, 2, i})
	}
	slices.SortStableFunc(items, func(a, b item) int {
		if a.at != b.at {
			if a.at < b.at {
				return -1
			}
			return 1
		}
		return a.kind - b.kind
	})
	end := r.s.Duration.D()
	progress := report.NewProgress(progressWriter(r.o), end, r.o.Quiet || r.o.Progress == nil)
	defer progress.Close()
	sem := make(chan struct{}, 256)
	next := 0
	tick := max(end/200, 100*time.Millisecond)
	nextLog := time.Duration(0)
	for t := time.Duration(0); ; {
		// Everything due by t.
		for ; next < len(items) && items[next].at <= t; next++ {
			it := items[next]
			if err := r.sleepUntil(ctx, it.at); err != nil {
				return err
			}
			switch it.kind {
			case 0:
				if err := r.apply(ctx, r.plan.Events[it.idx]); err != nil {
					r.log.Warn("fault event", "event", r.plan.Events[it.idx], "err", err)
				}
			case 1:
				sem <- struct{}{}
				r.submitWG.Add(1)
				go func(p Publish) {
					defer r.submitWG.Done()
					defer func() { <-sem }()
					r.submit(ctx, p.Peer)
				}(r.plan.Txs[it.idx])
			case 2:
				r.spam(ctx, r.plan.Spam[it.idx].Peer)
			}
		}
		if err := r.sleepUntil(ctx, t); err != nil {
			return err
		}
		info := fmt.Sprintf("height %d  delivered %d  peers up %d", r.node(r.observer).Head().Height,
			r.rec.delivered.Load(), r.upCount())
		progress.Update(min(t, end), info)
		if t >= nextLog {
			r.log.Info("progress", "simulated", t, "of", end, "state", info)
			nextLog += end / 10
		}
		if t >= end {
			return nil
		}
		t = min(t+tick, end)
	}
}

func progressWriter(o Options) io.Writer {
	if o.Progress == nil {
		return io.Discard
	}
	return o.Progress
}

func (r *runner) upCount() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	k := 0
	for _, u := range r.up {
		if u {
			k++
		}
	}
	return k
}

func (r *runner) apply(ctx context.Context, e Event) error {
	switch e.Kind {
	case EventLeave, EventOffline:
		n := r.node(e.Peer)
		if n == nil {
			return nil
		}
		r.mu.Lock()
		r.nodes[e.Peer] = nil
		r.up[e.Peer] = false
		r.mu.Unlock()
		err := n.Close()
		for _, i := range r.adj[e.Peer] {
			_ = r.setLink(i, false) // unlinking only fails as "already apart" (see setLink)
		}
		return err
	case EventJoin:
		if r.node(e.Peer) != nil {
			return nil
		}
		if err := r.startNode(ctx, e.Peer, false); err != nil {
			return err
		}
		var errs []error
		for _, i := range r.adj[e.Peer] {
			errs = append(errs, r.setLink(i, true))
		}
		return errors.Join(errs...)
	case EventPartition, EventHeal:
		r.cut[e.Partition] = e.Kind == EventPartition
		var errs []error
		for i := range r.plan.Edges {
			errs = append(errs, r.setLink(i, true))
		}
		if e.Kind == EventPartition {
			errs = append(errs, r.checkCut(e.Partition))
		}
		return errors.Join(errs...)
	}
	return fmt.Errorf("unknown event kind %q", e.Kind)
}

// checkCut makes sure no connection crosses partition p: connection
// closes in mocknet complete asynchronously on the far side, so it waits
// for them, closing again any that remain.
func (r *runner) checkCut(p int) error {
	idx := make(map[string]int, len(r.hosts))
	for i, h := range r.hosts {
		idx[string(h.ID())] = i
	}
	crossing := 0
	for attempt := 0; attempt < 50; attempt++ {
		crossing = 0
		for i, h := range r.hosts {
			for _, q := range h.Network().Peers() {
				if j, ok := idx[string(q)]; ok && r.plan.Sides[p][i] != r.plan.Sides[p][j] {
					crossing++
					// Errors only say "already apart", as in setLink.
					_ = r.mn.UnlinkPeers(h.ID(), q)
					_ = r.mn.DisconnectPeers(h.ID(), q)
				}
			}
		}
		if crossing == 0 {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return fmt.Errorf("partition %d: %d connections still cross it", p, crossing)
}

// submit signs the next reading of device i and submits it to its node.
func (r *runner) submit(ctx context.Context, i int) {
	r.devMu[i].Lock()
	defer r.devMu[i].Unlock()
	n := r.node(i)
	if n == nil {
		return // the device is down: its reading is not taken
	}
	r.nonces[i]++
	nonce := r.nonces[i]
	now := r.clk.Now()
	value := []byte(fmt.Sprintf(`{"seq":%d,"pad":"`, nonce))
	for len(value) < r.s.Workload.PayloadBytes-2 {
		value = append(value, 'x')
	}
	value = append(value, `"}`...)
	value = value[:min(len(value), r.s.Workload.PayloadBytes)]
	tx, err := types.NewDataRecordTx(ChainID, nonce, now.UnixMilli(),
		types.DataRecord{Stream: "sim/reading", ContentType: "application/json", Value: value})
	if err != nil {
		r.nonces[i]--
		return
	}
	tx.Sign(r.keys[i])
	data := tx.Encode()
	sum := sha256.Sum256(data)
	mid := string(sum[:])
	rec := r.rec.expectTx(mid)
	pub := r.rec.now()
	if accepted, err := n.Submit(ctx, data); accepted == nil && err != nil {
		r.rec.forgetTx(mid)
		r.nonces[i]--
		if ctx.Err() == nil {
			r.msgMu.Lock()
			r.refused++
			r.msgMu.Unlock()
			r.log.Debug("transaction refused", "device", i, "err", err)
		}
		return
	}
	rec.first[i].CompareAndSwap(0, pub+1) // the publisher has it from the start
	r.msgMu.Lock()
	r.msgs = append(r.msgs, &txMsg{id: tx.Hash().String(), origin: i, published: pub, rec: rec, size: len(data)})
	r.msgMu.Unlock()
}

func (r *runner) spam(ctx context.Context, i int) {
	var adv *adversary
	r.mu.RLock()
	for _, a := range r.advs {
		if a.key == r.keys[i] {
			adv = a
		}
	}
	r.mu.RUnlock()
	if adv == nil {
		return
	}
	data := adv.spamTx(r.clk.Now().UnixMilli())
	if data == nil {
		return
	}
	sum := sha256.Sum256(data)
	r.rec.expectSpam(string(sum[:]))
	if err := adv.publish(ctx, data); err == nil {
		r.spamPub++
	}
}

func (r *runner) spammerScores() []float64 {
	var out []float64
	for i, p := range r.plan.Peers {
		if p.Role != RoleSpammer {
			continue
		}
		lowest := 0.0
		for _, ei := range r.adj[i] {
			e := r.plan.Edges[ei]
			other := e.A + e.B - i
			if n := r.node(other); n != nil {
				lowest = min(lowest, n.PeerScore(r.hosts[i].ID()))
			}
		}
		out = append(out, lowest)
	}
	return out
}

// expected reports whether node i should have received a message that
// origin published at pub.
func (r *runner) expected(i, origin int, pub, window time.Duration) bool {
	if !r.plan.Honest(i) {
		return false
	}
	if i == origin {
		return true
	}
	return r.plan.Up(i, max(pub-2*time.Second, 0), pub+window) && !r.plan.Separated(i, origin, pub, pub+window)
}

// blocks turns the block messages seen into report rows, and counts forks
// (heights with more than one sealed block).
func (r *runner) blocks(final map[types.Hash]time.Duration, finMu *sync.Mutex, window time.Duration) ([]report.Block, int) {
	idx := map[identity.PublicKey]int{}
	for i, k := range r.keys {
		idx[k.Public()] = i
	}
	r.rec.mu.RLock()
	defer r.rec.mu.RUnlock()
	finMu.Lock()
	defer finMu.Unlock()
	perHeight := map[uint64]int{}
	var out []report.Block
	for _, m := range r.rec.blocks {
		b, err := types.DecodeCompactBlock(m.data)
		if err != nil {
			continue
		}
		proposer := idx[b.Header.Proposer]
		first := func(i int) time.Duration {
			if v := m.first[i].Load(); v > 0 {
				return time.Duration(v - 1 - r.start)
			}
			return report.Never
		}
		// The proposer's own publication is not traced: the block was
		// sealed at its header time, or before anyone else had it.
		sealed := time.Duration(int64(b.Header.BlockTime().Sub(r.rec.origin)) - r.start)
		for i := range m.first {
			if t := first(i); t >= 0 && t < sealed {
				sealed = t
			}
		}
		if sealed < 0 {
			continue // sealed during setup
		}
		perHeight[b.Header.Height]++
		reached := time.Duration(0)
		for i := range r.plan.Peers {
			if i == proposer || !r.expected(i, proposer, sealed, window) {
				continue
			}
			t := first(i)
			if t < 0 {
				reached = report.Never
				break
			}
			reached = max(reached, t)
		}
		fin, ok := final[b.Hash()]
		if !ok {
			fin = report.Never
		}
		out = append(out, report.Block{Height: b.Header.Height, Hash: b.Hash().String(), Proposer: proposer,
			Sealed: sealed, ReachedAll: reached, Final: fin, Txs: len(b.TxHashes)})
	}
	slices.SortFunc(out, func(a, b report.Block) int {
		if a.Height != b.Height {
			return int(a.Height) - int(b.Height)
		}
		return strings.Compare(a.Hash, b.Hash)
	})
	forks := 0
	for _, k := range perHeight {
		forks += k - 1
	}
	return out, forks
}

// agreement compares the finalized chains of the honest live nodes.
func (r *runner) agreement(ctx context.Context) (samePrefix, sameFinal bool, minH, maxH uint64) {
	minH = ^uint64(0)
	var live []*node.Node
	for i := range r.plan.Peers {
		if n := r.node(i); n != nil && r.plan.Honest(i) {
			live = append(live, n)
			h := n.State().Height
			minH, maxH = min(minH, h), max(maxH, h)
		}
	}
	if len(live) == 0 {
		return false, false, 0, 0
	}
	samePrefix, sameFinal = true, minH == maxH
	var ref, last types.Hash
	for k, n := range live {
		b, err := n.Store().Block(ctx, minH)
		var h types.Hash
		if err == nil {
			h = b.Hash()
		} else if minH == 0 {
			h = r.genesis.Hash()
		} else {
			samePrefix = false
			continue
		}
		st := n.State().LastBlockHash
		if k == 0 {
			ref, last = h, st
		} else {
			samePrefix = samePrefix && h == ref
			sameFinal = sameFinal && st == last
		}
	}
	return samePrefix, sameFinal && samePrefix, minH, maxH
}

// close tears the run down. Its errors are ignored: the results are taken
// already, the stores are in memory, and a node that fails to close cleanly
// has nothing left to report.
func (r *runner) close() {
	r.mu.Lock()
	nodes := slices.Clone(r.nodes)
	advs := r.advs
	r.mu.Unlock()
	_ = r.parallel(context.Background(), len(nodes), 64, func(_ context.Context, i int) error {
		if nodes[i] != nil {
			_ = nodes[i].Close()
		}
		return nil
	})
	for _, a := range advs {
		a.close()
	}
	for _, h := range r.hosts {
		if h != nil {
			_ = h.Close()
		}
	}
	if r.mn != nil {
		_ = r.mn.Close()
	}
	for _, d := range r.ds {
		if d != nil {
			_ = d.Close()
		}
	}
}

// sampler records the time series and counts reorganisations on a set of
// nodes.
type sampler struct {
	r        *runner
	samples  []report.Sample
	peakHeap uint64
	reorgs   int
	heads    map[int]ledger.State
}

func (s *sampler) loop(ctx context.Context) {
	r := s.r
	s.heads = map[int]ledger.State{}
	var watch []int
	step := max(1, len(r.plan.Peers)/32)
	for i := 0; i < len(r.plan.Peers); i += step {
		if r.plan.Honest(i) {
			watch = append(watch, i)
		}
	}
	watch = append(watch, r.observer)
	heap := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	for t := time.Duration(0); ; t += r.s.SampleInterval.D() {
		if err := r.sleepUntil(ctx, t); err != nil {
			return
		}
		metrics.Read(heap)
		hb := heap[0].Value.Uint64()
		s.peakHeap = max(s.peakHeap, hb)
		obs := r.node(r.observer)
		var height, fin uint64
		if obs != nil {
			height, fin = obs.Head().Height, obs.State().Height
		}
		r.msgMu.Lock()
		published := len(r.msgs)
		r.msgMu.Unlock()
		s.samples = append(s.samples, report.Sample{T: r.simNow(), Delivered: int(r.rec.delivered.Load()), Published: published,
			Height: height, Finalized: fin, HeapBytes: hb, Goroutines: runtime.NumGoroutine()})
		for _, i := range watch {
			n := r.node(i)
			if n == nil {
				delete(s.heads, i)
				continue
			}
			head := n.Head()
			if prev, ok := s.heads[i]; ok && prev.Height > 0 && head.LastBlockHash != prev.LastBlockHash {
				if b, _, err := n.Chain().BlockAt(ctx, prev.Height); err == nil && b.Hash() != prev.LastBlockHash {
					s.reorgs++
				}
			}
			s.heads[i] = head
		}
	}
}

// lagProbe measures how late a ticker on the simulated clock fires: if
// the machine cannot keep up with the time scale, every wait in every
// node stretches and the lateness shows here.
type lagProbe struct {
	clk    clock.Clock
	period time.Duration
	mu     sync.Mutex
	lates  []time.Duration
}

func (p *lagProbe) loop(ctx context.Context) {
	t := p.clk.NewTimer(p.period)
	defer t.Stop()
	for {
		before := p.clk.Now()
		t.Reset(p.period)
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
		late := max(p.clk.Now().Sub(before)-p.period, 0)
		p.mu.Lock()
		p.lates = append(p.lates, late)
		p.mu.Unlock()
	}
}

func (p *lagProbe) stats() (p99, maxLate time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.lates) == 0 {
		return 0, 0
	}
	s := slices.Clone(p.lates)
	slices.Sort(s)
	return s[min(len(s)-1, len(s)*99/100)], s[len(s)-1]
}

func cpuTime() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime) + tv(ru.Stime)
}

// peakRSS is the process's peak resident set (VmHWM), 0 if unknown.
func peakRSS() uint64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(rest)
			if len(f) >= 1 {
				kb, _ := strconv.ParseUint(f[0], 10, 64)
				return kb * 1024
			}
		}
	}
	return 0
}
