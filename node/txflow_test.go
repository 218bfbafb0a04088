package node

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/sixdomain/sixdomain/ledger/types"
	"github.com/sixdomain/sixdomain/mempool"
)

// TestPullProtocol: a node answers pulls by hash (empty where it has
// none) and by sender and nonces from its mempool, and resets a stream
// that sends garbage.
func TestPullProtocol(t *testing.T) {
	c, err := StartCluster(context.Background(), ClusterConfig{ChainID: "pull-test", Authorities: 1, Devices: 1, Logger: testLogger(),
		Slot: 10 * time.Minute, BaseDir: t.TempDir()}) // no block: the pool keeps what it holds
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	a, b := c.Nodes[0], c.Nodes[1]
	k := newTestKey(t)
	var held []*types.Tx
	for nonce := uint64(1); nonce <= 3; nonce++ {
		tx := recordTx(t, c.Genesis, k, nonce, time.Now(), "held")
		if err := a.pool.Add(tx, 0, 0); err != nil {
			t.Fatal(err)
		}
		held = append(held, tx)
	}
	absent := recordTx(t, c.Genesis, newTestKey(t), 1, time.Now(), "absent").Hash()
	ctx := context.Background()
	got, err := b.pull(ctx, a.ID(), &types.PullRequest{Hashes: []types.Hash{held[1].Hash(), absent}}, 2, "block")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] == nil || got[0].Hash() != held[1].Hash() || got[1] != nil {
		t.Fatalf("by hash: %v", got)
	}
	got, err = b.pull(ctx, a.ID(), &types.PullRequest{Sender: k.Public().Bytes(), From: 2, Count: 5}, 0, "gap")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Nonce != 2 || got[1].Nonce != 3 {
		t.Fatalf("gap: %d transactions", len(got))
	}
	// Garbage: the server resets the stream.
	s, err := b.host.NewStream(ctx, a.ID(), pullProtocol(c.Genesis.ChainID))
	if err != nil {
		t.Fatal(err)
	}
	_, _ = s.Write([]byte{0xff, 0x00, 0x01})
	_ = s.CloseWrite()
	_ = s.SetDeadline(time.Now().Add(10 * time.Second))
	if raw, err := io.ReadAll(s); err == nil && len(raw) > 0 {
		t.Fatalf("garbage answered with %d bytes", len(raw))
	}
	if got := sum(series(t, a, "sixdomain_pull_served_total", map[string]string{"result": "refused"})); got < 1 {
		t.Fatalf("pull_served_total{refused} = %v", got)
	}
}

// TestCompactBlockPullsWhatIsMissing: a transaction only the proposer
// holds (it never went out in a batch) is sealed into a block; the other
// nodes rebuild the compact block by pulling it, and commit it.
func TestCompactBlockPullsWhatIsMissing(t *testing.T) {
	// The devices sync rarely, so that the block reaches them by gossip.
	c, err := StartCluster(context.Background(), ClusterConfig{ChainID: "compact-test", Authorities: 1, Devices: 2, Logger: testLogger(),
		Slot: 300 * time.Millisecond, BaseDir: t.TempDir(), API: true,
		NodeOptions: func(i int) []Option {
			if i > 0 {
				return []Option{WithSyncInterval(time.Minute)}
			}
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	auth := c.Nodes[0]
	tx := recordTx(t, c.Genesis, newTestKey(t), 1, time.Now(), "only the proposer has it")
	if err := auth.pool.Add(tx, 0, 0); err != nil {
		t.Fatal(err)
	}
	for _, d := range c.Nodes[1:] {
		waitCommitted(t, d, "the proposer-only transaction to commit on a device", tx)
		if got := sum(series(t, d, "sixdomain_pull_requests_total", map[string]string{"kind": "block", "result": "ok"})); got < 1 {
			t.Errorf("pull_requests_total{block, ok} = %v on a device, want ≥ 1", got)
		}
	}
	// A transaction submitted normally travels in a batch: no pull.
	tx2 := recordTx(t, c.Genesis, newTestKey(t), 1, time.Now(), "batched")
	if _, err := c.Nodes[1].Submit(context.Background(), tx2.Encode()); err != nil {
		t.Fatal(err)
	}
	waitCommitted(t, c.Nodes[2], "the batched transaction to commit", tx2)
	if got := sum(series(t, auth, "sixdomain_batch_validation_total", map[string]string{"verdict": "accept"})); got < 1 {
		t.Errorf("the authority accepted no batch (%v)", got)
	}
}

// TestNonceGapIsPulled: a node that holds a sender's later transactions
// but not the one before them pulls the missing one from a peer.
func TestNonceGapIsPulled(t *testing.T) {
	c, err := StartCluster(context.Background(), ClusterConfig{ChainID: "gap-test", Authorities: 1, Devices: 1, Logger: testLogger(),
		Slot: 10 * time.Minute, BaseDir: t.TempDir(), API: true,
		NodeOptions: func(int) []Option { return []Option{WithMempool(mempool.Config{})} }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	a, b := c.Nodes[0], c.Nodes[1]
	k := newTestKey(t)
	first := recordTx(t, c.Genesis, k, 1, time.Now(), "first")
	second := recordTx(t, c.Genesis, k, 2, time.Now(), "second")
	if err := b.pool.Add(first, 0, 0); err != nil { // only b has nonce 1
		t.Fatal(err)
	}
	if err := a.pool.Add(second, 0, 0); err != nil { // a has a gap at 1
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for !a.pool.Has(first.Hash()) {
		if time.Now().After(deadline) {
			t.Fatal("the gap was not filled")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := sum(series(t, a, "sixdomain_pull_requests_total", map[string]string{"kind": "gap"})); got < 1 {
		t.Fatalf("pull_requests_total{gap} = %v", got)
	}
}
