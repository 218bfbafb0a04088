package node

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"time"

	lp2pps "github.com/libp2p/go-libp2p-pubsub"
	lp2pmetrics "github.com/libp2p/go-libp2p/core/metrics"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/sixdomain/sixdomain/ledger"
	"github.com/sixdomain/sixdomain/ledger/types"
	"github.com/sixdomain/sixdomain/mempool"
	sixps "github.com/sixdomain/sixdomain/pubsub"
)

// namespace prefixes every metric of the node (docs/API.md lists them).
const namespace = "sixdomain"

type metrics struct {
	head         prometheus.Gauge
	voteResults  *prometheus.CounterVec
	height       prometheus.Gauge
	blocks       prometheus.Counter
	txsCommitted prometheus.Counter
	txResults    *prometheus.CounterVec
	blockResults *prometheus.CounterVec
	synced       prometheus.Counter
	barred       prometheus.Counter
	graylisted   prometheus.Counter
	// Event stream (GET /v1/events).
	eventClients  prometheus.Gauge
	eventsDropped prometheus.Counter

	// HTTP API, by route pattern (never the raw path) and status code.
	apiRequests *prometheus.CounterVec
	apiLatency  *prometheus.HistogramVec
	// apiBusy counts the 503s POST /v1/txs answered for the mempool's
	// load, by reason (mempool_busy, mempool_full).
	apiBusy *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer, n *Node) (*metrics, error) {
	m := &metrics{
		height: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Name: "chain_height",
			Help: "Height of the last final (committed) block."}),
		head: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Name: "chain_head_height",
			Help: "Height of the head block, final or not."}),
		voteResults: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "vote_validation_total",
			Help: "Finality votes checked, by result reason."}, []string{"reason"}),
		blocks: prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: "blocks_committed_total",
			Help: "Blocks committed by this node."}),
		txsCommitted: prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: "txs_committed_total",
			Help: "Transactions in blocks committed by this node."}),
		txResults: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "tx_validation_total",
			Help: "Transactions checked, by source (api, gossip) and result reason (ok or why refused)."}, []string{"source", "reason"}),
		blockResults: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "block_validation_total",
			Help: "Blocks checked, by result reason."}, []string{"reason"}),
		synced: prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: "blocks_synced_total",
			Help: "Blocks fetched with the sync protocol and committed."}),
		barred: prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: "peers_barred_total",
			Help: "Keys barred from connecting by finalized registry changes (revoked, deactivated, rotated out)."}),
		graylisted: prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: "peers_graylisted_total",
			Help: "Peers disconnected and refused for a while because their GossipSub score fell below the graylist threshold."}),
		eventClients: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "sixdomain", Name: "event_clients",
			Help: "Clients connected to the event stream (GET /v1/events)."}),
		eventsDropped: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "sixdomain", Name: "event_clients_lagged_total",
			Help: "Event-stream clients dropped because they fell behind (sent event lagged)."}),
		apiRequests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "api_requests_total",
			Help: "HTTP API requests answered, by method, route pattern and status code."}, []string{"method", "route", "code"}),
		apiLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Name: "api_request_duration_seconds",
			Help:    "Time to answer an HTTP API request, by method, route pattern and status code.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}}, []string{"method", "route", "code"}),
		apiBusy: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "api_busy_total",
			Help: "Transactions POST /v1/txs refused with 503 and Retry-After for the mempool's load, by reason (mempool_busy: above the high-water mark; mempool_full)."},
			[]string{"reason"}),
	}
	for _, r := range []string{"mempool_busy", "mempool_full"} {
		m.apiBusy.WithLabelValues(r)
	}
	cs := []prometheus.Collector{m.height, m.head, m.voteResults, m.blocks, m.txsCommitted, m.txResults, m.blockResults, m.synced, m.barred, m.graylisted,
		m.apiRequests, m.apiLatency, m.apiBusy, m.eventClients, m.eventsDropped,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: namespace, Name: "mempool_txs",
			Help: "Transactions waiting in the mempool."}, func() float64 { return float64(n.pool.Len()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: namespace, Name: "mempool_max_txs",
			Help: "Capacity of the mempool, in transactions."}, func() float64 {
			if n.cfg.Mempool.MaxTxs > 0 {
				return float64(n.cfg.Mempool.MaxTxs)
			}
			return mempool.DefaultMaxTxs
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: namespace, Name: "mempool_bytes",
			Help: "Bytes of the transactions waiting in the mempool."}, func() float64 { return float64(n.pool.Bytes()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: namespace, Name: "mempool_high_water_txs",
			Help: "The mempool's high-water mark in transactions: above it new transactions are refused (mempool_busy)."}, func() float64 {
			txs, _ := n.cfg.Mempool.HighWater()
			return float64(txs)
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: namespace, Name: "mempool_high_water_bytes",
			Help: "The mempool's high-water mark in bytes."}, func() float64 {
			_, bytes := n.cfg.Mempool.HighWater()
			return float64(bytes)
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: namespace, Name: "mempool_busy",
			Help: "1 while the mempool is at or above its high-water mark (new transactions refused), else 0."}, func() float64 {
			if n.pool.Busy() {
				return 1
			}
			return 0
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: namespace, Name: "peers",
			Help: "Connected peers."}, func() float64 {
			if n.host == nil {
				return 0
			}
			return float64(len(n.host.Network().Peers()))
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: namespace, Name: "finality_lag_blocks",
			Help: "Blocks between the head and the last final block (head - finalized)."}, func() float64 {
			lagBlocks, _ := n.finalityLag()
			return lagBlocks
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: namespace, Name: "finality_lag_seconds",
			Help: "Block time between the head and the last final block, in seconds."}, func() float64 {
			_, lagSeconds := n.finalityLag()
			return lagSeconds
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: namespace, Name: "build_info",
			Help:        "Always 1; the labels name the build.",
			ConstLabels: prometheus.Labels{"version": Version, "commit": BuildCommit(), "go_version": runtime.Version()}},
			func() float64 { return 1 }),
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("metrics: %w", err)
		}
	}
	// The registry may be shared with (or already hold) the process-wide
	// collectors; one copy is enough.
	for _, c := range []prometheus.Collector{collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
		if err := reg.Register(c); err != nil {
			if are := (prometheus.AlreadyRegisteredError{}); !errors.As(err, &are) {
				return nil, fmt.Errorf("metrics: %w", err)
			}
		}
	}
	return m, nil
}

// finalityLag returns head - finalized, in blocks and in seconds of block
// time. Before the chain is open both are 0.
func (n *Node) finalityLag() (blocks, seconds float64) {
	if n.chain == nil || n.store == nil {
		return 0, 0
	}
	head, fin := n.chain.Head(), n.store.State()
	if head.Height > fin.Height {
		blocks = float64(head.Height - fin.Height)
	}
	if head.LastBlockTime > fin.LastBlockTime && fin.Height > 0 {
		seconds = float64(head.LastBlockTime-fin.LastBlockTime) / 1000
	}
	return blocks, seconds
}

func (m *metrics) txResult(source, reason string) { m.txResults.WithLabelValues(source, reason).Inc() }
func (m *metrics) blockResult(reason string)      { m.blockResults.WithLabelValues(reason).Inc() }
func (m *metrics) voteResult(reason string)       { m.voteResults.WithLabelValues(reason).Inc() }

func (m *metrics) committed(b *types.Block, st ledger.State) {
	m.height.Set(float64(st.Height))
	m.blocks.Inc()
	m.txsCommitted.Add(float64(len(b.Txs)))
}

// reasonOf names why a transaction was refused ("ok" for nil), including
// the mempool's reasons.
func reasonOf(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, sixps.ErrDuplicate), errors.Is(err, mempool.ErrDuplicate):
		return "duplicate"
	case errors.Is(err, mempool.ErrBusy):
		return "mempool_busy"
	case errors.Is(err, mempool.ErrFull), errors.Is(err, mempool.ErrSenderFull):
		return "mempool_full"
	case errors.Is(err, mempool.ErrNonceTooFar):
		return "nonce_too_far"
	case errors.Is(err, mempool.ErrNonceConflict):
		return "nonce_conflict"
	case errors.Is(err, ErrNoChain):
		return "no_chain"
	}
	return types.Reason(err)
}

// gossipTracer is the node's GossipSub RawTracer: it counts messages per
// topic and keeps the mesh per topic. Topics are labelled by their short
// name (tx, blocks, votes, certs; anything else is "other"), so that no
// peer can grow the label set.
type gossipTracer struct {
	names map[string]string // full topic → short name

	delivered  *prometheus.CounterVec
	duplicates *prometheus.CounterVec
	rejected   *prometheus.CounterVec
	dropped    *prometheus.CounterVec
	throttled  prometheus.Counter
	// drops counts every message GossipSub dropped, by topic and reason:
	// the union of rejected, dropped and duplicates in one series.
	drops *prometheus.CounterVec
	// publishFailed counts this node's own messages that Publish refused
	// (besides the warning logged).
	publishFailed *prometheus.CounterVec

	mu   sync.Mutex
	mesh map[string]map[peer.ID]struct{} // short topic name → mesh peers
}

var _ lp2pps.RawTracer = (*gossipTracer)(nil)

func newGossipTracer(chainID string) *gossipTracer {
	t := &gossipTracer{
		names: map[string]string{sixps.TxTopic(chainID): "tx", sixps.BatchTopic(chainID): "txbatch", sixps.BlockTopic(chainID): "blocks",
			sixps.VoteTopic(chainID): "votes", sixps.CertTopic(chainID): "certs"},
		delivered: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Subsystem: "gossip", Name: "delivered_total",
			Help: "GossipSub messages validated and delivered, by topic."}, []string{"topic"}),
		duplicates: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Subsystem: "gossip", Name: "duplicates_total",
			Help: "GossipSub messages received again and dropped as duplicates, by topic."}, []string{"topic"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Subsystem: "gossip", Name: "rejected_total",
			Help: "GossipSub messages rejected, ignored or throttled, by topic and reason."}, []string{"topic", "reason"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Subsystem: "gossip", Name: "dropped_total",
			Help: "GossipSub messages dropped, by topic and reason (queue_full: a peer's outbound queue; undeliverable: a slow local subscriber)."},
			[]string{"topic", "reason"}),
		drops: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Subsystem: "gossip", Name: "drops_total",
			Help: "GossipSub messages dropped, by topic and reason: queue_full (a peer's outbound queue), undeliverable (a slow local subscriber), duplicate, and the rejection reasons (validation_throttled, validation_queue_full, validation_ignored, validation_failed, ...)."},
			[]string{"topic", "reason"}),
		throttled: prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Subsystem: "gossip", Name: "peers_throttled_total",
			Help: "Times the GossipSub peer gater throttled a peer."}),
		publishFailed: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Subsystem: "gossip", Name: "publish_failures_total",
			Help: "This node's own messages that GossipSub failed to publish, by topic."}, []string{"topic"}),
		mesh: map[string]map[peer.ID]struct{}{},
	}
	return t
}

func (t *gossipTracer) topic(s string) string {
	if name, ok := t.names[s]; ok {
		return name
	}
	return "other"
}

// register puts the tracer's series, and the per-topic mesh and peer
// gauges of ps, in reg.
func (t *gossipTracer) register(reg prometheus.Registerer, n *Node) error {
	topics := &topicCollector{t: t, n: n,
		mesh:  prometheus.NewDesc(namespace+"_gossip_mesh_peers", "Peers in this node's GossipSub mesh, by topic.", []string{"topic"}, nil),
		peers: prometheus.NewDesc(namespace+"_gossip_topic_peers", "Connected peers subscribed to the topic, by topic.", []string{"topic"}, nil)}
	for _, c := range []prometheus.Collector{t.delivered, t.duplicates, t.rejected, t.dropped, t.drops, t.throttled, t.publishFailed, topics} {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("metrics: %w", err)
		}
	}
	// Every known topic has a series from the start, so that rates and
	// alerts see zeros rather than nothing.
	for _, name := range t.names {
		t.delivered.WithLabelValues(name)
		t.duplicates.WithLabelValues(name)
		t.publishFailed.WithLabelValues(name)
		t.dropped.WithLabelValues(name, "queue_full")
		t.dropped.WithLabelValues(name, "undeliverable")
		for _, r := range []string{lp2pps.RejectValidationFailed, lp2pps.RejectValidationIgnored, lp2pps.RejectValidationThrottled} {
			t.rejected.WithLabelValues(name, rejectReason(r))
		}
		for _, r := range []string{"queue_full", "undeliverable", "duplicate", rejectReason(lp2pps.RejectValidationThrottled),
			rejectReason(lp2pps.RejectValidationQueueFull), rejectReason(lp2pps.RejectValidationIgnored), rejectReason(lp2pps.RejectValidationFailed)} {
			t.drops.WithLabelValues(name, r)
		}
	}
	return nil
}

// rejectReason turns a pubsub Reject* string into a label value
// ("validation failed" → "validation_failed").
func rejectReason(s string) string {
	switch s {
	case lp2pps.RejectBlacklstedPeer, lp2pps.RejectBlacklistedSource, lp2pps.RejectMissingSignature,
		lp2pps.RejectUnexpectedSignature, lp2pps.RejectUnexpectedAuthInfo, lp2pps.RejectInvalidSignature,
		lp2pps.RejectValidationQueueFull, lp2pps.RejectValidationThrottled, lp2pps.RejectValidationFailed,
		lp2pps.RejectValidationIgnored, lp2pps.RejectSelfOrigin:
		return strings.ReplaceAll(s, " ", "_")
	}
	return "other"
}

func (t *gossipTracer) DeliverMessage(msg *lp2pps.Message) {
	t.delivered.WithLabelValues(t.topic(msg.GetTopic())).Inc()
}

func (t *gossipTracer) RejectMessage(msg *lp2pps.Message, reason string) {
	topic, r := t.topic(msg.GetTopic()), rejectReason(reason)
	t.rejected.WithLabelValues(topic, r).Inc()
	t.drops.WithLabelValues(topic, r).Inc()
}

func (t *gossipTracer) DuplicateMessage(msg *lp2pps.Message) {
	topic := t.topic(msg.GetTopic())
	t.duplicates.WithLabelValues(topic).Inc()
	t.drops.WithLabelValues(topic, "duplicate").Inc()
}

func (t *gossipTracer) UndeliverableMessage(msg *lp2pps.Message) {
	topic := t.topic(msg.GetTopic())
	t.dropped.WithLabelValues(topic, "undeliverable").Inc()
	t.drops.WithLabelValues(topic, "undeliverable").Inc()
}

func (t *gossipTracer) DropRPC(rpc *lp2pps.RPC, _ peer.ID) {
	for _, m := range rpc.GetPublish() {
		topic := t.topic(m.GetTopic())
		t.dropped.WithLabelValues(topic, "queue_full").Inc()
		t.drops.WithLabelValues(topic, "queue_full").Inc()
	}
}

func (t *gossipTracer) ThrottlePeer(peer.ID) { t.throttled.Inc() }

func (t *gossipTracer) Graft(p peer.ID, topic string) {
	name := t.topic(topic)
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.mesh[name] == nil {
		t.mesh[name] = map[peer.ID]struct{}{}
	}
	t.mesh[name][p] = struct{}{}
}

func (t *gossipTracer) Prune(p peer.ID, topic string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.mesh[t.topic(topic)], p)
}

func (t *gossipTracer) Leave(topic string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.mesh, t.topic(topic))
}

func (*gossipTracer) OnNewOutboundStream(peer.ID, protocol.ID)             {}
func (*gossipTracer) OnClosedOutboundStream(peer.ID)                       {}
func (*gossipTracer) Join(string)                                          {}
func (*gossipTracer) ValidateMessage(*lp2pps.Message)                      {}
func (*gossipTracer) RecvRPC(*lp2pps.RPC)                                  {}
func (*gossipTracer) SendRPC(*lp2pps.RPC, peer.ID)                         {}
func (*gossipTracer) SendRPCCompleted(*lp2pps.RPC, peer.ID, time.Duration) {}

// meshSize counts the mesh peers of each topic that are still connected
// (GossipSub drops a disconnected peer from its mesh without a Prune event),
// forgetting the others.
func (t *gossipTracer) meshSize(connected func(peer.ID) bool) map[string]int {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[string]int, len(t.names))
	for _, name := range t.names {
		out[name] = 0
	}
	for name, peers := range t.mesh {
		for p := range peers {
			if !connected(p) {
				delete(peers, p)
			}
		}
		out[name] = len(peers)
	}
	return out
}

// topicCollector reports the mesh and topic peers at scrape time.
type topicCollector struct {
	t           *gossipTracer
	n           *Node
	mesh, peers *prometheus.Desc
}

func (c *topicCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.mesh; ch <- c.peers }

func (c *topicCollector) Collect(ch chan<- prometheus.Metric) {
	if c.n.host == nil || c.n.ps == nil {
		return
	}
	nw := c.n.host.Network()
	for name, size := range c.t.meshSize(func(p peer.ID) bool { return nw.Connectedness(p) == network.Connected }) {
		ch <- prometheus.MustNewConstMetric(c.mesh, prometheus.GaugeValue, float64(size), name)
	}
	for full, name := range c.t.names {
		ch <- prometheus.MustNewConstMetric(c.peers, prometheus.GaugeValue, float64(len(c.n.ps.ListPeers(full))), name)
	}
}

// Bandwidth meters of peers and protocols idle this long are dropped, so
// that a node meeting many peers over time does not keep a meter for each.
const (
	bandwidthIdle      = time.Hour
	bandwidthTrimEvery = 10 * time.Minute
)

// trimBandwidth drops idle bandwidth meters until the node closes.
func (n *Node) trimBandwidth(bw *lp2pmetrics.BandwidthCounter) {
	t := n.clk.NewTicker(bandwidthTrimEvery)
	defer t.Stop()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-t.C():
			bw.TrimIdle(time.Now().Add(-bandwidthIdle))
		}
	}
}

// bandwidthCollector exports libp2p's bandwidth counter per protocol.
type bandwidthCollector struct {
	bw   *lp2pmetrics.BandwidthCounter
	desc *prometheus.Desc
}

func newBandwidthCollector(bw *lp2pmetrics.BandwidthCounter) *bandwidthCollector {
	return &bandwidthCollector{bw: bw, desc: prometheus.NewDesc(namespace+"_p2p_bandwidth_bytes_total",
		"Bytes sent (out) and received (in) on libp2p streams, by protocol and direction.", []string{"protocol", "direction"}, nil)}
}

func (c *bandwidthCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *bandwidthCollector) Collect(ch chan<- prometheus.Metric) {
	for proto, st := range c.bw.GetBandwidthByProtocol() {
		p := string(proto)
		if p == "" {
			p = "unknown"
		}
		for dir, v := range map[string]int64{"in": st.TotalIn, "out": st.TotalOut} {
			// A protocol ID that is no valid label value is skipped, not
			// panicked on.
			if m, err := prometheus.NewConstMetric(c.desc, prometheus.CounterValue, float64(v), p, dir); err == nil {
				ch <- m
			}
		}
	}
}
