package byzantine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger/types"
	"github.com/sixdomain/sixdomain/node"
	sixps "github.com/sixdomain/sixdomain/pubsub"
)

// The expectations of honest nodes under attack.
const (
	minRateRatio = 0.9              // committed rate under attack / without
	cutOffWithin = 10 * time.Second // attack start → graylisted by every node it reaches
	slot         = 250 * time.Millisecond
	loadRate     = 40.0 // transactions per second of the steady honest load
	window       = 6 * time.Second
)

// scenario is one attack run against an in-process cluster.
type scenario struct {
	attack      Attack
	authorities int
	// authority is the index of the authority whose key the attacker gets
	// (-1: none).
	authority int
	cutOff    bool // the nodes must graylist the attacker
}

// result is what a scenario measured.
type result struct {
	baseline, attacked float64                   // committed transactions per second
	cutOff             map[peer.ID]time.Duration // node → attack start to graylisted
	disconnected       map[peer.ID]time.Duration // node → attack start to not connected, once graylisted
	cluster            *node.Cluster
	attacker           *Attacker
	start              time.Time
}

func testLogger() *slog.Logger {
	if os.Getenv("BYZANTINE_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// commitLog records, on one node, when blocks became final and how many
// transactions of the load each held.
type commitLog struct {
	mu     sync.Mutex
	events []commitAt
}

type commitAt struct {
	at time.Time
	n  int
}

func (l *commitLog) follow(ctx context.Context, n *node.Node, sender identity.PublicKey) func() {
	ch, stop := n.SubscribeCommits(1024)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-ch:
				if !ok {
					return
				}
				k := 0
				for _, tx := range ev.Block.Txs {
					if tx.Sender == sender {
						k++
					}
				}
				l.mu.Lock()
				l.events = append(l.events, commitAt{at: time.Now(), n: k})
				l.mu.Unlock()
			}
		}
	}()
	return func() { stop(); <-done }
}

// rate estimates the committed transactions per second in [from, to): the
// transactions of the blocks after the first one in the window, over the
// time from the first to the last (so that block boundaries do not skew
// it).
func (l *commitLog) rate(from, to time.Time) float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	var first, last time.Time
	total := 0
	for _, e := range l.events {
		if e.at.Before(from) || !e.at.Before(to) {
			continue
		}
		if first.IsZero() {
			first = e.at
			continue
		}
		last = e.at
		total += e.n
	}
	if last.IsZero() || !last.After(first) {
		return 0
	}
	return float64(total) / last.Sub(first).Seconds()
}

// runLoad submits data records of one sender to n at loadRate until ctx
// ends.
func runLoad(ctx context.Context, t *testing.T, n *node.Node, k *identity.PrivateKey) {
	tick := time.NewTicker(time.Duration(float64(time.Second) / loadRate))
	defer tick.Stop()
	nonce := uint64(1)
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		tx, err := types.NewDataRecordTx(n.Genesis().ChainID, nonce, time.Now().UnixMilli(),
			types.DataRecord{Stream: "load", Value: fmt.Appendf(nil, "%d", nonce)})
		if err != nil {
			t.Error(err)
			return
		}
		tx.Sign(k)
		if _, err := n.Submit(ctx, tx.Encode()); err != nil {
			if ctx.Err() == nil {
				t.Logf("load: nonce %d: %v", nonce, err)
			}
			continue
		}
		nonce++
	}
}

func connected(n *node.Node, a *Attacker) bool {
	return n.Host().Network().Connectedness(a.ID()) == network.Connected
}

// waitUntil polls cond until it holds or d passes.
func waitUntil(ctx context.Context, d time.Duration, cond func() bool) bool {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(50 * time.Millisecond):
		}
	}
	return true
}

// run starts a cluster, a steady load and the attacker, measures the
// committed rate for a window before the attack and a window from its
// start, and how long each node took to graylist the attacker.
func run(t *testing.T, sc scenario) *result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	log := testLogger()
	c, err := node.StartCluster(ctx, node.ClusterConfig{ChainID: "byzantine-test", Authorities: sc.authorities,
		Slot: slot, API: true, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	var apis []string
	for _, n := range c.Nodes {
		apis = append(apis, n.APIAddr().String())
	}
	cfg := Config{Genesis: c.Genesis, Bootstrap: c.Peers(), APIs: apis, Logger: log}
	if sc.authority >= 0 {
		cfg.AuthorityKey = c.Keys[sc.authority]
	}
	att, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { att.Close() })
	jctx, jcancel := context.WithTimeout(ctx, 10*time.Second)
	defer jcancel()
	if err := att.WaitJoined(jctx); err != nil {
		t.Fatal(err)
	}

	loadKey, err := identity.Generate(nil)
	if err != nil {
		t.Fatal(err)
	}
	var commits commitLog
	stopFollow := commits.follow(ctx, c.Nodes[0], loadKey.Public())
	t.Cleanup(stopFollow)
	lctx, lcancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); runLoad(lctx, t, c.Nodes[len(c.Nodes)-1], loadKey) }()
	t.Cleanup(func() { lcancel(); wg.Wait() })

	// Warm up until the load commits, then the baseline window.
	if !waitUntil(ctx, 10*time.Second, func() bool { return commits.rate(time.Time{}, time.Now()) > 0 }) {
		t.Fatal("the load does not commit")
	}
	time.Sleep(time.Second) // the pipeline fills: the window is to start in a steady state
	b0 := time.Now()
	if !waitUntil(ctx, window, func() bool { return false }) && ctx.Err() != nil {
		t.Fatal(ctx.Err())
	}
	res := &result{baseline: commits.rate(b0, time.Now()), cutOff: map[peer.ID]time.Duration{},
		disconnected: map[peer.ID]time.Duration{}, cluster: c, attacker: att}

	// The attack, for a window, while watching the scores.
	actx, acancel := context.WithCancel(ctx)
	var awg sync.WaitGroup
	awg.Add(1)
	res.start = time.Now()
	go func() {
		defer awg.Done()
		if _, err := att.Run(actx, 0, sc.attack); err != nil {
			t.Error(err)
		}
	}()
	t.Cleanup(func() { acancel(); awg.Wait() })
	_, thresholds := sixps.ScoreParams(c.Genesis.ChainID)
	observe := func() bool {
		for _, n := range c.Nodes {
			if _, ok := res.cutOff[n.ID()]; !ok && n.PeerScore(att.ID()) < thresholds.GraylistThreshold {
				res.cutOff[n.ID()] = time.Since(res.start)
			}
			_, graylisted := res.cutOff[n.ID()]
			if _, ok := res.disconnected[n.ID()]; !ok && graylisted && !connected(n, att) {
				res.disconnected[n.ID()] = time.Since(res.start)
			}
		}
		return len(res.disconnected) == len(c.Nodes)
	}
	waitUntil(ctx, window, func() bool { observe(); return false })
	res.attacked = commits.rate(res.start, time.Now())
	if sc.cutOff {
		// Keep watching up to the deadline for nodes that have not yet.
		waitUntil(ctx, time.Until(res.start.Add(cutOffWithin)), observe)
	}
	acancel()
	awg.Wait()

	ratio := res.attacked / res.baseline
	var worst, worstDisc time.Duration
	for _, d := range res.cutOff {
		worst = max(worst, d)
	}
	for _, d := range res.disconnected {
		worstDisc = max(worstDisc, d)
	}
	t.Logf("MEASURE attack=%s baseline=%.1f tx/s attacked=%.1f tx/s ratio=%.2f graylisted_by=%d/%d worst_graylist=%s disconnected_by=%d/%d worst_disconnect=%s sent=%v",
		sc.attack, res.baseline, res.attacked, ratio, len(res.cutOff), len(c.Nodes), worst.Round(10*time.Millisecond),
		len(res.disconnected), len(c.Nodes), worstDisc.Round(10*time.Millisecond), att.Sent())
	if res.baseline <= 0 {
		t.Fatal("no baseline rate")
	}
	if ratio < minRateRatio {
		t.Errorf("committed %.1f tx/s under attack, %.1f without: ratio %.2f < %.2f", res.attacked, res.baseline, ratio, minRateRatio)
	}
	if sc.cutOff {
		for i, n := range c.Nodes {
			d, ok := res.cutOff[n.ID()]
			switch {
			case !ok:
				t.Errorf("node %d did not graylist the attacker within %s (score %.0f)", i, cutOffWithin, n.PeerScore(att.ID()))
			case d > cutOffWithin:
				t.Errorf("node %d graylisted the attacker after %s > %s", i, d, cutOffWithin)
			}
			if d, ok := res.disconnected[n.ID()]; !ok || d > cutOffWithin {
				t.Errorf("node %d still connected to the attacker %s after the attack started", i, cutOffWithin)
			}
		}
	}
	if att.Sent()[sc.attack] == 0 {
		t.Errorf("the attacker sent nothing for %s", sc.attack)
	}
	return res
}

func TestBadSigs(t *testing.T) {
	run(t, scenario{attack: BadSigs, authorities: 3, authority: -1, cutOff: true})
}

func TestMalformed(t *testing.T) {
	run(t, scenario{attack: Malformed, authorities: 3, authority: -1, cutOff: true})
}

func TestFakeBlocks(t *testing.T) {
	res := run(t, scenario{attack: FakeBlocks, authorities: 3, authority: -1, cutOff: true})
	// No honest node holds a block by the attacker's key.
	for i, n := range res.cluster.Nodes {
		st := n.State()
		for h := uint64(1); h <= st.Height; h++ {
			b, err := n.Store().Block(context.Background(), h)
			if err != nil {
				t.Fatal(err)
			}
			if b.Header.Proposer == res.attacker.key.Public() {
				t.Fatalf("node %d committed the attacker's block %d", i, h)
			}
		}
	}
}

// TestReplay: replays of committed transactions never commit twice and
// the honest rate holds. The attacker is not cut off: the validators
// ignore (do not reject) a transaction whose nonce is committed, because
// an honest peer relays one that committed while in flight, or that a
// lagging node still holds (pubsub.TxVerdict); a penalty would graylist
// honest peers.
func TestReplay(t *testing.T) {
	res := run(t, scenario{attack: Replay, authorities: 3, authority: -1})
	n := res.cluster.Nodes[0]
	seen := map[types.Hash]uint64{}
	st := n.State()
	for h := uint64(1); h <= st.Height; h++ {
		b, err := n.Store().Block(context.Background(), h)
		if err != nil {
			t.Fatal(err)
		}
		for _, tx := range b.Txs {
			if at, dup := seen[tx.Hash()]; dup {
				t.Fatalf("transaction %s committed at %d and again at %d", tx.Hash(), at, h)
			}
			seen[tx.Hash()] = h
		}
	}
	t.Logf("replay: the attacker's score on node 0 is %.1f", n.PeerScore(res.attacker.ID()))
}

// TestEquivocate: conflicting finality votes signed with an authority's
// key become a committed evidence transaction naming that authority.
func TestEquivocate(t *testing.T) {
	const offender = 3
	res := run(t, scenario{attack: Equivocate, authorities: 4, authority: offender})
	key := res.cluster.Keys[offender].Public()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var entries int
	ok := waitUntil(ctx, 15*time.Second, func() bool {
		for _, n := range res.cluster.Nodes {
			ev, err := n.Store().Evidence(ctx, key)
			if err != nil && !errors.Is(err, context.DeadlineExceeded) {
				t.Fatal(err)
			}
			if len(ev) == 0 {
				return false
			}
			entries = len(ev)
		}
		return true
	})
	if !ok {
		t.Fatalf("no committed evidence against authority %s on every node", key.DID())
	}
	t.Logf("evidence against %s committed on every node (%d entries on the last), %s after the attack started",
		key.DID(), entries, time.Since(res.start).Round(10*time.Millisecond))
}
