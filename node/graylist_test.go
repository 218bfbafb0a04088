package node

import (
	"context"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// TestGraylistedPeerIsCutOff: a peer whose gossip score is below the
// graylist threshold is disconnected and refused when it dials again; a
// peer above it is left alone.
func TestGraylistedPeerIsCutOff(t *testing.T) {
	c := startCluster(t, 1, 0)
	n := c.Nodes[0]
	newHost := func() host.Host {
		h, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"), libp2p.DisableMetrics())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { h.Close() })
		return h
	}
	dial := func(h host.Host) error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return h.Connect(ctx, n.AddrInfo())
	}
	badHost, goodHost := newHost(), newHost()
	bad, good := badHost.ID(), goodHost.ID()
	for _, h := range []host.Host{badHost, goodHost} {
		if err := dial(h); err != nil {
			t.Fatal(err)
		}
	}
	n.setScores(map[peer.ID]float64{bad: n.graylist - 1, good: n.graylist + 1})
	waitFor(t, 5*time.Second, "the graylisted peer disconnected", func() bool {
		return n.Host().Network().Connectedness(bad) != network.Connected
	})
	if n.Host().Network().Connectedness(good) != network.Connected {
		t.Error("the peer above the threshold was disconnected")
	}
	if !n.gater.Barred(bad) || n.gater.Barred(good) {
		t.Errorf("barred: graylisted %t (want true), other %t (want false)", n.gater.Barred(bad), n.gater.Barred(good))
	}
	// Neither side can connect again.
	badHost.Peerstore().RemovePeer(n.ID())
	if err := dial(badHost); err == nil {
		// The dial may complete before the node's gater closes it.
		waitFor(t, 5*time.Second, "the banned peer's new connection closed", func() bool {
			return n.Host().Network().Connectedness(bad) != network.Connected
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := n.Host().Connect(ctx, peer.AddrInfo{ID: bad, Addrs: badHost.Addrs()}); err == nil {
		t.Error("the node dialled the banned peer")
	}
}
