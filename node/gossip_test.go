package node

import (
	"context"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	lp2pps "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/host"

	sixps "github.com/sixdomain/sixdomain/pubsub"
)

// TestGarbagePeerLosesScore: a foreign libp2p peer joins a node's
// transaction topic and gossips undecodable bytes and a transaction with a
// bad signature. The node refuses both (nothing reaches its mempool) and
// the peer's score at the node turns negative.
func TestGarbagePeerLosesScore(t *testing.T) {
	c := startCluster(t, 1, 0)
	n := c.Nodes[0]
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h, topic := bareTxPeer(t, ctx, c.Genesis.ChainID, n)
	bad := recordTx(t, c.Genesis, c.Keys[0], 1, time.Now(), "forged")
	bad.Signature[10] ^= 1
	for _, data := range [][]byte{{0xba, 0xad}, bad.Encode()} {
		if err := topic.Publish(ctx, data); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 15*time.Second, "the garbage peer's score to fall below zero", func() bool { return n.PeerScore(h.ID()) < 0 })
	if n.MempoolLen() != 0 {
		t.Fatalf("mempool holds %d transactions from garbage", n.MempoolLen())
	}
}

// TestSingleTxTopicStillCommits: a bare GossipSub peer that speaks only
// the single-transaction topic (as a js-libp2p device does) publishes one
// CBOR transaction; a device node takes it into its batch, and it is
// committed on every node.
func TestSingleTxTopicStillCommits(t *testing.T) {
	c := startCluster(t, 2, 1)
	device := c.Nodes[2]
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, topic := bareTxPeer(t, ctx, c.Genesis.ChainID, device)
	tx := recordTx(t, c.Genesis, newTestKey(t), 1, time.Now(), "from a bare peer")
	if err := topic.Publish(ctx, tx.Encode()); err != nil {
		t.Fatal(err)
	}
	for _, n := range c.Nodes {
		waitCommitted(t, n, "the single transaction to commit", tx)
	}
	if got := sum(series(t, device, "sixdomain_batches_published_total", nil)); got < 1 {
		t.Fatalf("the device published no batch (%v)", got)
	}
}

// bareTxPeer starts a plain libp2p host with GossipSub (not a node),
// subscribed to the chain's single-transaction topic and connected to n,
// and waits until n shares the topic. The host closes with the test.
func bareTxPeer(t *testing.T, ctx context.Context, chainID string, n *Node) (host.Host, *lp2pps.Topic) {
	t.Helper()
	h, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"), libp2p.DisableMetrics())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	ps, err := lp2pps.NewGossipSub(ctx, h, sixps.Options(sixps.Config{ChainID: chainID})...)
	if err != nil {
		t.Fatal(err)
	}
	topic, err := ps.Join(sixps.TxTopic(chainID))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := topic.Subscribe(); err != nil {
		t.Fatal(err)
	}
	if err := h.Connect(ctx, n.AddrInfo()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 15*time.Second, "the node on the topic", func() bool { return len(topic.ListPeers()) > 0 })
	return h, topic
}
