package node

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	lp2pps "github.com/libp2p/go-libp2p-pubsub"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/sixdomain/sixdomain/clock"
)

// series returns the gathered series of the node's registry named name
// whose labels include want.
func series(t *testing.T, n *Node, name string, want map[string]string) []*dto.Metric {
	t.Helper()
	mfs, err := n.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var out []*dto.Metric
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if have[k] != v {
					continue next
				}
			}
			out = append(out, m)
		}
	}
	return out
}

func value(m *dto.Metric) float64 {
	switch {
	case m.GetCounter() != nil:
		return m.GetCounter().GetValue()
	case m.GetGauge() != nil:
		return m.GetGauge().GetValue()
	case m.GetHistogram() != nil:
		return float64(m.GetHistogram().GetSampleCount())
	}
	return 0
}

func sum(ms []*dto.Metric) float64 {
	var s float64
	for _, m := range ms {
		s += value(m)
	}
	return s
}

// startMetricsCluster starts two authorities with their APIs; the first
// also serves metrics on a listener of its own.
func startMetricsCluster(t *testing.T, chainID string) *Cluster {
	t.Helper()
	c, err := StartCluster(context.Background(), ClusterConfig{ChainID: chainID, Authorities: 2, Logger: testLogger(),
		Slot: 250 * time.Millisecond, API: true, NodeOptions: func(i int) []Option {
			if i == 0 {
				return []Option{WithMetricsListen("127.0.0.1:0")}
			}
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestOperatorMetrics(t *testing.T) {
	c := startMetricsCluster(t, "metrics-test")
	n := c.Nodes[0]
	if c.Nodes[1].MetricsAddr() != nil {
		t.Fatal("metrics listener without WithMetricsListen")
	}

	// Gossip flows: blocks are delivered, the mesh forms, bytes are counted.
	waitFor(t, 30*time.Second, "gossiped blocks and a mesh", func() bool {
		return sum(series(t, n, "sixdomain_gossip_delivered_total", map[string]string{"topic": "blocks"})) > 0 &&
			sum(series(t, n, "sixdomain_gossip_mesh_peers", map[string]string{"topic": "blocks"})) >= 1 &&
			sum(series(t, n, "sixdomain_gossip_topic_peers", map[string]string{"topic": "blocks"})) >= 1 &&
			sum(series(t, n, "sixdomain_p2p_bandwidth_bytes_total", map[string]string{"direction": "in"})) > 0
	})

	// An API request is counted by its route pattern, never its raw path.
	resp, err := http.Get(apiURL(n, "/v1/blocks/1"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := sum(series(t, n, "sixdomain_api_requests_total", map[string]string{"route": "/v1/blocks/{id}", "method": "GET", "code": "200"})); got != 1 {
		t.Errorf("api_requests_total{route=/v1/blocks/{id}} = %v, want 1", got)
	}
	if got := series(t, n, "sixdomain_api_requests_total", map[string]string{"route": "/v1/blocks/1"}); len(got) != 0 {
		t.Error("a raw path became a route label")
	}
	if got := sum(series(t, n, "sixdomain_api_request_duration_seconds", map[string]string{"route": "/v1/blocks/{id}"})); got != 1 {
		t.Errorf("api_request_duration_seconds count = %v, want 1", got)
	}
	resp, err = http.Get(apiURL(n, "/v1/nowhere/at/all"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := sum(series(t, n, "sixdomain_api_requests_total", map[string]string{"route": "unmatched", "code": "404"})); got != 1 {
		t.Errorf("unmatched 404s = %v, want 1", got)
	}

	for _, tt := range []struct {
		name   string
		labels map[string]string
	}{
		{"go_goroutines", nil},
		{"go_memstats_heap_alloc_bytes", nil},
		{"process_resident_memory_bytes", nil},
		{"process_cpu_seconds_total", nil},
		{"sixdomain_build_info", map[string]string{"version": Version, "commit": BuildCommit()}},
		{"sixdomain_finality_lag_blocks", nil},
		{"sixdomain_finality_lag_seconds", nil},
		{"sixdomain_mempool_max_txs", nil},
		{"sixdomain_gossip_duplicates_total", map[string]string{"topic": "tx"}},
		{"sixdomain_gossip_dropped_total", map[string]string{"topic": "votes", "reason": "queue_full"}},
		{"sixdomain_gossip_drops_total", map[string]string{"topic": "tx", "reason": "validation_throttled"}},
		{"sixdomain_gossip_drops_total", map[string]string{"topic": "tx", "reason": "validation_queue_full"}},
		{"sixdomain_gossip_drops_total", map[string]string{"topic": "tx", "reason": "validation_ignored"}},
		{"sixdomain_gossip_drops_total", map[string]string{"topic": "blocks", "reason": "queue_full"}},
		{"sixdomain_gossip_drops_total", map[string]string{"topic": "tx", "reason": "duplicate"}},
		{"sixdomain_api_busy_total", map[string]string{"reason": "mempool_busy"}},
		{"sixdomain_mempool_bytes", nil},
		{"sixdomain_mempool_high_water_txs", nil},
		{"sixdomain_mempool_high_water_bytes", nil},
		{"sixdomain_mempool_busy", nil},
		{"sixdomain_chain_height", nil},
		{"sixdomain_peers", nil},
	} {
		if len(series(t, n, tt.name, tt.labels)) == 0 {
			t.Errorf("no series %s%v", tt.name, tt.labels)
		}
	}
	if v := sum(series(t, n, "sixdomain_build_info", nil)); v != 1 {
		t.Errorf("build_info = %v", v)
	}

	// The metrics listener serves the exposition and nothing else.
	base := "http://" + n.MetricsAddr().String()
	resp, err = http.Get(base + metricsPath)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "sixdomain_build_info{") {
		t.Fatalf("metrics listener: %d %v %.200s", resp.StatusCode, err, body)
	}
	resp, err = http.Get(base + "/v1/status")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("metrics listener serves /v1/status: %d", resp.StatusCode)
	}
}

func TestFinalityLag(t *testing.T) {
	c := startCluster(t, 1, 0)
	n := c.Nodes[0]
	waitFor(t, 20*time.Second, "a final block", func() bool { return n.State().Height >= 2 })
	blocks, seconds := n.finalityLag()
	head, fin := n.Head(), n.State()
	if blocks < 0 || blocks > float64(head.Height) || seconds < 0 {
		t.Fatalf("lag %v blocks %v s with head %d finalized %d", blocks, seconds, head.Height, fin.Height)
	}
}

func TestRejectReason(t *testing.T) {
	for in, want := range map[string]string{
		"validation failed":       "validation_failed",
		"validation ignored":      "validation_ignored",
		"validation throttled":    "validation_throttled",
		"self originated message": "self_originated_message",
		"whatever a peer says":    "other",
	} {
		if got := rejectReason(in); got != want {
			t.Errorf("rejectReason(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestPublishFailureCounted: a message the chain produced that GossipSub
// refuses is counted by topic, not only logged (nor dropped silently at
// shutdown, when it is expected).
func TestPublishFailureCounted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	n := &Node{ctx: ctx, clk: clock.Real(), log: slog.New(slog.DiscardHandler), tracer: newGossipTracer("sixdomain-test")}
	failing := func(context.Context, []byte, ...lp2pps.PubOpt) error { return errors.New("no route") }
	n.publish(failing, []byte{1}, "votes")
	n.publish(failing, []byte{1}, "votes")
	n.publish(func(context.Context, []byte, ...lp2pps.PubOpt) error { return nil }, []byte{1}, "blocks")
	if got := testutil.ToFloat64(n.tracer.publishFailed.WithLabelValues("votes")); got != 2 {
		t.Fatalf("vote publish failures = %v, want 2", got)
	}
	if got := testutil.ToFloat64(n.tracer.publishFailed.WithLabelValues("blocks")); got != 0 {
		t.Fatalf("block publish failures = %v, want 0", got)
	}
	cancel()
	n.publish(failing, []byte{1}, "votes")
	if got := testutil.ToFloat64(n.tracer.publishFailed.WithLabelValues("votes")); got != 2 {
		t.Fatalf("a failure at shutdown was counted: %v", got)
	}
}
