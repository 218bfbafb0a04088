package node

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	lp2pps "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sixdomain/sixdomain/ledger/types"
	"github.com/sixdomain/sixdomain/mempool"
	"github.com/sixdomain/sixdomain/node/light"
	sixps "github.com/sixdomain/sixdomain/pubsub"
)

// TestSubmitBusyRetryAfter: once the mempool reaches its high-water mark,
// POST /v1/txs answers 503 with Retry-After and reason mempool_busy (and
// the light protocol's submit the same reason), counted; the transaction
// that fills a sender's first nonce gap is still taken; a busy refusal is
// not a loss: the same transaction passes once the pool drains.
func TestSubmitBusyRetryAfter(t *testing.T) {
	pn := newP2PNet(t, "busy-test", 1)
	// No authority runs: nothing drains the pool but expiry. Mark: 2 of 4.
	n := pn.start(nil, RoleDevice, WithDHT(DHTOff), WithMempool(mempool.Config{MaxTxs: 4, HighWaterPercent: 50}))
	k1, k2 := newTestKey(t), newTestKey(t)
	now := time.Now()
	for _, nonce := range []uint64{1, 3} { // a gap at 2
		if code, body := postTx(t, n, recordTx(t, pn.g, k1, nonce, now, "a").Encode()); code != http.StatusAccepted {
			t.Fatalf("nonce %d below the mark: %d %s", nonce, code, body)
		}
	}

	other := recordTx(t, pn.g, k2, 1, now, "b")
	resp, err := http.Post(apiURL(n, "/v1/txs"), "application/cbor", bytes.NewReader(other.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	var e ErrorResponse
	if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || e.Reason != "mempool_busy" || resp.Header.Get("Retry-After") != "1" {
		t.Fatalf("above the mark: %d, reason %q, Retry-After %q (%s); want 503 mempool_busy, 1",
			resp.StatusCode, e.Reason, resp.Header.Get("Retry-After"), e.Error)
	}
	if r := n.lightSubmit(context.Background(), other.Encode()); r.Status != light.StatusRefused || r.Reason != "mempool_busy" {
		t.Fatalf("light submit above the mark: status %d reason %q", r.Status, r.Reason)
	}
	if code, body := postTx(t, n, recordTx(t, pn.g, k1, 4, now, "a").Encode()); code != http.StatusServiceUnavailable {
		t.Fatalf("nonce 4 (no gap to fill): %d %s, want 503", code, body)
	}
	if code, body := postTx(t, n, recordTx(t, pn.g, k1, 2, now, "a").Encode()); code != http.StatusAccepted {
		t.Fatalf("nonce 2 (fills the gap) above the mark: %d %s, want 202", code, body)
	}
	if got := sum(series(t, n, "sixdomain_api_busy_total", map[string]string{"reason": "mempool_busy"})); got != 2 {
		t.Errorf("api_busy_total{mempool_busy} = %v, want 2", got)
	}
	// The light submit goes through the same admission (counted as api).
	if got := sum(series(t, n, "sixdomain_tx_validation_total", map[string]string{"reason": "mempool_busy"})); got != 3 {
		t.Errorf("tx_validation_total{mempool_busy} = %v, want 3", got)
	}
	if got := sum(series(t, n, "sixdomain_mempool_busy", nil)); got != 1 {
		t.Errorf("mempool_busy = %v, want 1", got)
	}
	if got := sum(series(t, n, "sixdomain_mempool_high_water_txs", nil)); got != 2 {
		t.Errorf("mempool_high_water_txs = %v, want 2", got)
	}

	// Drained (here by expiry), the refused transaction passes unchanged.
	n.pool.Expire(now.Add(48*time.Hour), pn.g.TimeWindow())
	if code, body := postTx(t, n, other.Encode()); code != http.StatusAccepted {
		t.Fatalf("the same transaction after draining: %d %s", code, body)
	}
}

// TestTxStatusDroppedExpired: a transaction the node accepted and that
// expires in its mempool before any block takes it (no authority is
// connected) is reported dropped: expired, not forgotten.
func TestTxStatusDroppedExpired(t *testing.T) {
	pn := newP2PNet(t, "dropped-test", 1)
	n := pn.start(nil, RoleDevice, WithDHT(DHTOff))
	// Just inside the data-record window: the node's expiry pass (every
	// 5 s) drops it within seconds.
	past := pn.g.TimeWindow().PastFor(types.TxDataRecord)
	tx := recordTx(t, pn.g, newTestKey(t), 1, time.Now().Add(-past+3*time.Second), "stale soon")
	if code, body := postTx(t, n, tx.Encode()); code != http.StatusAccepted {
		t.Fatalf("submit: %d %s", code, body)
	}
	var st TxStatus
	waitFor(t, 30*time.Second, "the transaction to be reported dropped", func() bool {
		return getJSON(t, apiURL(n, "/v1/txs/"+tx.Hash().String()), &st) == http.StatusOK && st.Status == "dropped"
	})
	if st.Dropped != mempool.DropExpired || st.Hash != tx.Hash() {
		t.Fatalf("status %+v, want dropped: expired", st)
	}
}

// TestTxStatusDroppedNonceTaken: two transactions of one sender with the
// same nonce are in flight; the device holds one, the authority seals the
// other. The device then reports its own as dropped: nonce_taken, and the
// sealed one as committed; a transaction that committed leaves no drop
// record behind.
func TestTxStatusDroppedNonceTaken(t *testing.T) {
	c := startCluster(t, 1, 1)
	auth, device := c.Nodes[0], c.Nodes[1]
	k := newTestKey(t)
	mine := recordTx(t, c.Genesis, k, 1, time.Now(), "mine")
	theirs := recordTx(t, c.Genesis, k, 1, time.Now(), "theirs")
	// mine reached only the device (as if through another gateway that
	// went away); the device's gossip validator then ignores theirs.
	if err := device.pool.Add(mine, 0, 0); err != nil {
		t.Fatal(err)
	}
	if code, body := postTx(t, auth, theirs.Encode()); code != http.StatusAccepted {
		t.Fatalf("submit: %d %s", code, body)
	}
	ok := recordTx(t, c.Genesis, newTestKey(t), 1, time.Now(), "fine")
	if code, body := postTx(t, device, ok.Encode()); code != http.StatusAccepted {
		t.Fatalf("submit: %d %s", code, body)
	}
	waitCommitted(t, device, "both to commit on the device", theirs, ok)
	var st TxStatus
	if code := getJSON(t, apiURL(device, "/v1/txs/"+mine.Hash().String()), &st); code != http.StatusOK ||
		st.Status != "dropped" || st.Dropped != mempool.DropNonceTaken {
		t.Fatalf("the device's own: %d %+v, want dropped: nonce_taken", code, st)
	}
	if code := getJSON(t, apiURL(device, "/v1/txs/"+theirs.Hash().String()), &st); code != http.StatusOK || st.Status != "committed" {
		t.Fatalf("the sealed one: %d %+v, want committed", code, st)
	}
	waitFor(t, 10*time.Second, "the committed transaction's drop record to be forgotten", func() bool {
		_, dropped := device.pool.Dropped(ok.Hash())
		return !dropped
	})
}

// TestGossipDropsByReason: the tracer counts every message GossipSub drops
// in sixdomain_gossip_drops_total, by topic and reason: outbound queue
// full, undeliverable, duplicate, and each rejection reason (throttled,
// validation queue full, ignored).
func TestGossipDropsByReason(t *testing.T) {
	tr := newGossipTracer("drops-test")
	reg := prometheus.NewRegistry()
	for _, c := range []prometheus.Collector{tr.delivered, tr.duplicates, tr.rejected, tr.dropped, tr.drops, tr.throttled, tr.publishFailed} {
		reg.MustRegister(c)
	}
	txTopic, voteTopic := sixps.TxTopic("drops-test"), sixps.VoteTopic("drops-test")
	msg := func(topic string) *lp2pps.Message { return &lp2pps.Message{Message: &pb.Message{Topic: &topic}} }
	tr.RejectMessage(msg(txTopic), lp2pps.RejectValidationThrottled)
	tr.RejectMessage(msg(txTopic), lp2pps.RejectValidationThrottled)
	tr.RejectMessage(msg(txTopic), lp2pps.RejectValidationQueueFull)
	tr.RejectMessage(msg(txTopic), lp2pps.RejectValidationIgnored)
	tr.DuplicateMessage(msg(txTopic))
	tr.UndeliverableMessage(msg(voteTopic))
	tr.DropRPC(&lp2pps.RPC{RPC: pb.RPC{Publish: []*pb.Message{msg(voteTopic).Message, msg(txTopic).Message, msg("/elsewhere").Message}}}, "")
	for _, tt := range []struct {
		topic, reason string
		want          float64
	}{
		{"tx", "validation_throttled", 2},
		{"tx", "validation_queue_full", 1},
		{"tx", "validation_ignored", 1},
		{"tx", "duplicate", 1},
		{"tx", "queue_full", 1},
		{"votes", "queue_full", 1},
		{"votes", "undeliverable", 1},
		{"other", "queue_full", 1},
		{"blocks", "queue_full", 0},
	} {
		if got := testutil.ToFloat64(tr.drops.WithLabelValues(tt.topic, tt.reason)); got != tt.want {
			t.Errorf("gossip_drops_total{topic=%s, reason=%s} = %v, want %v", tt.topic, tt.reason, got, tt.want)
		}
	}
}

// TestGossipShedsWhenBusy: a device whose mempool is at its high-water
// mark ignores gossiped transactions (no penalty for the relaying peer),
// counts them as mempool_busy, and still gets them through their blocks.
func TestGossipShedsWhenBusy(t *testing.T) {
	c, err := StartCluster(context.Background(), ClusterConfig{ChainID: "shed-test", Authorities: 1, Devices: 1, Logger: testLogger(),
		Slot: 250 * time.Millisecond, BaseDir: t.TempDir(), API: true,
		NodeOptions: func(i int) []Option {
			if i == 1 {
				return []Option{WithMempool(mempool.Config{MaxTxs: 1})} // the mark: 1 transaction
			}
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	auth, device := c.Nodes[0], c.Nodes[1]
	// A transaction only the device holds keeps its pool at the mark.
	if err := device.pool.Add(recordTx(t, c.Genesis, newTestKey(t), 1, time.Now(), "held"), 0, 0); err != nil {
		t.Fatal(err)
	}
	tx := recordTx(t, c.Genesis, newTestKey(t), 1, time.Now(), "relayed")
	if code, body := postTx(t, auth, tx.Encode()); code != http.StatusAccepted {
		t.Fatalf("submit: %d %s", code, body)
	}
	waitCommitted(t, device, "the relayed transaction to commit on the device", tx)
	// The authority batched it: the device sheds it from the batch.
	if got := sum(series(t, device, "sixdomain_tx_validation_total", map[string]string{"source": "batch", "reason": "mempool_busy"})); got < 1 {
		t.Errorf("tx_validation_total{batch, mempool_busy} = %v, want ≥ 1", got)
	}
	if got := sum(series(t, device, "sixdomain_gossip_drops_total", map[string]string{"topic": "txbatch", "reason": "validation_ignored"})); got < 1 {
		t.Errorf("gossip_drops_total{txbatch, validation_ignored} = %v, want ≥ 1", got)
	}
	if s := device.PeerScore(auth.ID()); s < 0 {
		t.Errorf("the authority's score at the device fell to %v for relaying a transaction the device shed", s)
	}
}

// TestRetryAfter: one slot in whole seconds, rounded up, at least 1.
func TestRetryAfter(t *testing.T) {
	for slot, want := range map[int64]int{200: 1, 1000: 1, 1500: 2, 5000: 5} {
		n := &Node{genesis: &types.Genesis{SlotMillis: slot}}
		if got := n.retryAfter(); got != want {
			t.Errorf("slot %d ms: Retry-After %d, want %d", slot, got, want)
		}
	}
}
