package node

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	dht "github.com/libp2p/go-libp2p-kad-dht"
	lp2pps "github.com/libp2p/go-libp2p-pubsub"
	lp2pevent "github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	"github.com/libp2p/go-libp2p/core/protocol"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger/types"
)

// p2pNet is a genesis and the nodes of a test started on loopback, each
// with its own key and pebble store; Close happens in t.Cleanup.
type p2pNet struct {
	t     *testing.T
	g     *types.Genesis
	auths []*identity.PrivateKey
}

func newP2PNet(t *testing.T, chainID string, authorities int) *p2pNet {
	t.Helper()
	p := &p2pNet{t: t}
	var pubs []identity.PublicKey
	for range authorities {
		k := newTestKey(t)
		p.auths = append(p.auths, k)
		pubs = append(pubs, k.Public())
	}
	p.g = types.NewGenesis(chainID, time.Now(), pubs...)
	p.g.SlotMillis = 250
	if err := p.g.Validate(); err != nil {
		t.Fatal(err)
	}
	return p
}

// start runs a node with key k (a new key if nil) on loopback, without
// mDNS, with the given role and options.
func (p *p2pNet) start(k *identity.PrivateKey, role Role, opts ...Option) *Node {
	p.t.Helper()
	if k == nil {
		k = newTestKey(p.t)
	}
	base := []Option{WithRole(role), WithListenAddrs("/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/udp/0/quic-v1"),
		WithMDNS(false), WithLogger(testLogger().With("role", role)), WithDataDir(p.t.TempDir()),
		WithAPI("127.0.0.1:0", 0), WithDiscoveryInterval(200 * time.Millisecond)}
	n, err := New(context.Background(), k, p.g, append(base, opts...)...)
	if err != nil {
		p.t.Fatal(err)
	}
	p.t.Cleanup(func() { n.Close() })
	return n
}

// p2pAddr is n's first direct listen address with /p2p/<id>.
func p2pAddr(n *Node) string {
	return directAddrs(n)[0].String() + "/p2p/" + n.ID().String()
}

// directAddrs are n's listen addresses but the relay transport's.
func directAddrs(n *Node) []ma.Multiaddr {
	var out []ma.Multiaddr
	for _, a := range n.Host().Network().ListenAddresses() {
		if !isRelayed(a) {
			out = append(out, a)
		}
	}
	return out
}

func connected(a, b *Node) bool {
	return a.Host().Network().Connectedness(b.ID()) == network.Connected
}

// directlyConnected reports a connection between a and b that is not
// relayed.
func directlyConnected(a, b *Node) bool {
	for _, c := range a.Host().Network().ConnsToPeer(b.ID()) {
		if !c.Stat().Limited && !isRelayed(c.RemoteMultiaddr()) {
			return true
		}
	}
	return false
}

// TestDHTRendezvousFindsPeers: two devices that know only a bootstrap node
// (no mDNS, not in each other's bootstrap lists, no gossip peer exchange
// accepted from it) find each other under the chain's rendezvous key in
// the chain's DHT, served by the bootstrap node, and connect directly.
func TestDHTRendezvousFindsPeers(t *testing.T) {
	p := newP2PNet(t, "dht-test", 1)
	boot := p.start(nil, RoleBootstrap)
	if got := boot.dht.Host().Mux().Protocols(); !slices.Contains(got, protocol.ID("/sixdomain/dht-test/kad/1.0.0")) {
		t.Fatalf("bootstrap node speaks %v, not the chain's DHT protocol", got)
	}
	// Keep gossip peer exchange out of it: the devices dial the bootstrap
	// node by hand instead of listing it, so they do not accept its PX.
	var devs []*Node
	for range 2 {
		d := p.start(nil, RoleDevice, WithDHT(DHTClient), WithAutoRelay(false))
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := d.Connect(ctx, boot.AddrInfo()); err != nil {
			t.Fatal(err)
		}
		cancel()
		devs = append(devs, d)
	}
	if boot.dht.Mode() != dht.ModeServer || devs[0].dht.Mode() != dht.ModeClient {
		t.Fatalf("dht modes: bootstrap %v, device %v", boot.dht.Mode(), devs[0].dht.Mode())
	}
	waitFor(t, 15*time.Second, "the devices to find each other in the DHT", func() bool {
		return directlyConnected(devs[0], devs[1])
	})
	rk := RendezvousKey("dht-test")
	if rk != "/sixdomain/dht-test/peers/1" {
		t.Fatalf("rendezvous key %q", rk)
	}
}

// TestRelayCarriesStream: device B, told it is not publicly reachable,
// reserves a slot on the bootstrap node's relay through auto-relay (the
// bootstrap node is its static relay) and advertises the relayed address;
// device A, which never learnt B's direct addresses, dials
// /p2p/<relay>/p2p-circuit/p2p/<B> and a stream crosses the relay.
func TestRelayCarriesStream(t *testing.T) {
	p := newP2PNet(t, "relay-test", 1)
	// Auto-relay only uses relays with a public address, and a relay puts
	// only public addresses in its reservations: on loopback the relay
	// announces a name of the reserved .internal domain, which counts as
	// public (go-libp2p's own autorelay tests do the same). Nobody dials
	// it: B dials the relay at its bootstrap address, A at its listen
	// address.
	relay := p.start(nil, RoleBootstrap, WithDHT(DHTOff), WithAnnounce("/dns/libp2p.internal/tcp/4001"))
	b := p.start(nil, RoleDevice, WithDHT(DHTOff), WithBootstrap(p2pAddr(relay)), WithHolePunching(false),
		WithHostOptions(libp2p.ForceReachabilityPrivate()))
	a := p.start(nil, RoleDevice, WithDHT(DHTOff), WithHolePunching(false))

	var circuit ma.Multiaddr
	waitFor(t, 15*time.Second, "B to advertise a relayed address", func() bool {
		for _, addr := range b.Host().Addrs() {
			if isRelayed(addr) {
				circuit = addr
				return true
			}
		}
		return false
	})
	want := "/p2p/" + relay.ID().String() + "/p2p-circuit"
	if !strings.HasSuffix(circuit.String(), want) {
		t.Fatalf("relayed address %s does not end in %s", circuit, want)
	}

	const echo = protocol.ID("/sixdomain/test/echo/1")
	b.Host().SetStreamHandler(echo, func(s network.Stream) {
		defer s.Close()
		if _, err := io.Copy(s, s); err != nil {
			t.Errorf("echo: %v", err)
		}
	})
	target, err := ma.NewMultiaddr("/p2p/" + relay.ID().String() + "/p2p-circuit")
	if err != nil {
		t.Fatal(err)
	}
	a.Host().Peerstore().AddAddrs(relay.ID(), directAddrs(relay), peerstore.TempAddrTTL)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Connect(ctx, peer.AddrInfo{ID: b.ID(), Addrs: []ma.Multiaddr{target}}); err != nil {
		t.Fatalf("dialling B through the relay: %v", err)
	}
	s, err := a.Host().NewStream(network.WithAllowLimitedConn(ctx, "test"), b.ID(), echo)
	if err != nil {
		t.Fatal(err)
	}
	if !s.Conn().Stat().Limited || !isRelayed(s.Conn().RemoteMultiaddr()) {
		t.Fatalf("stream is on %s (limited %v), not on the relayed connection", s.Conn().RemoteMultiaddr(), s.Conn().Stat().Limited)
	}
	msg := []byte("across the relay")
	if _, err := s.Write(msg); err != nil {
		t.Fatal(err)
	}
	if err := s.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(s)
	if err != nil || string(got) != string(msg) {
		t.Fatalf("echo = %q, %v", got, err)
	}
	// Sync does not pick a peer it reaches only through the relay: the
	// sync protocol cannot open a stream on a limited connection (a
	// compose network's devices stalled at height 0 while sync kept
	// choosing authorities connected to them through the bootstrap's relay).
	if a.directlyConnected(b.ID()) || b.directlyConnected(a.ID()) {
		t.Error("a relayed, limited connection counts as direct")
	}
	if !a.directlyConnected(relay.ID()) {
		t.Error("a direct connection to the relay does not count as direct")
	}
}

// meshTracer counts a node's own GRAFTs (peers added to its mesh) and the
// PRUNEs with peer exchange it sends.
type meshTracer struct {
	grafts, pxPrunes atomic.Int64
}

func (m *meshTracer) Graft(peer.ID, string) { m.grafts.Add(1) }
func (m *meshTracer) SendRPC(rpc *lp2pps.RPC, _ peer.ID) {
	if rpc.Control == nil {
		return
	}
	for _, p := range rpc.Control.GetPrune() {
		if len(p.GetPeers()) > 0 {
			m.pxPrunes.Add(1)
		}
	}
}
func (m *meshTracer) OnNewOutboundStream(peer.ID, protocol.ID)             {}
func (m *meshTracer) OnClosedOutboundStream(peer.ID)                       {}
func (m *meshTracer) Join(string)                                          {}
func (m *meshTracer) Leave(string)                                         {}
func (m *meshTracer) Prune(peer.ID, string)                                {}
func (m *meshTracer) ValidateMessage(*lp2pps.Message)                      {}
func (m *meshTracer) DeliverMessage(*lp2pps.Message)                       {}
func (m *meshTracer) RejectMessage(*lp2pps.Message, string)                {}
func (m *meshTracer) DuplicateMessage(*lp2pps.Message)                     {}
func (m *meshTracer) ThrottlePeer(peer.ID)                                 {}
func (m *meshTracer) RecvRPC(*lp2pps.RPC)                                  {}
func (m *meshTracer) SendRPCCompleted(*lp2pps.RPC, peer.ID, time.Duration) {}
func (m *meshTracer) DropRPC(*lp2pps.RPC, peer.ID)                         {}
func (m *meshTracer) UndeliverableMessage(*lp2pps.Message)                 {}

// TestBootstrapKeepsNoMeshPeerExchange: a bootstrap node without
// keep_chain grafts nobody into its mesh on the chain's topics, answers
// GRAFTs with PRUNEs carrying peer exchange, and serves no chain; an
// authority and two devices that know only the bootstrap node (no DHT, no
// mDNS) meet through that exchange and a device's transaction is
// committed and reaches the other device.
func TestBootstrapKeepsNoMeshPeerExchange(t *testing.T) {
	p := newP2PNet(t, "px-test", 1)
	tr := &meshTracer{}
	boot := p.start(nil, RoleBootstrap, WithDHT(DHTOff), WithPubSubOptions(lp2pps.WithRawTracer(tr)))
	only := []Option{WithDHT(DHTOff), WithBootstrap(p2pAddr(boot)), WithAutoRelay(false)}
	auth := p.start(p.auths[0], RoleGateway, only...)
	k1 := newTestKey(t)
	d1 := p.start(k1, RoleDevice, only...)
	d2 := p.start(nil, RoleDevice, only...)

	waitFor(t, 15*time.Second, "peer exchange to connect the chain nodes", func() bool {
		return directlyConnected(d1, d2) && directlyConnected(d1, auth) && directlyConnected(d2, auth) &&
			d1.TopicPeers() == 2 && d2.TopicPeers() == 2
	})
	if tr.pxPrunes.Load() == 0 {
		t.Fatal("the bootstrap node sent no PRUNE with peer exchange")
	}
	// The bootstrap node announces the topics but is no chain peer.
	if got := len(boot.txTopic.ListPeers()); got != 3 {
		t.Errorf("bootstrap node sees %d peers on the tx topic, want 3", got)
	}
	if d1.TopicPeers() != 2 || d1.servesChain(boot.ID()) {
		t.Errorf("device counts the relay-only bootstrap node as a chain peer")
	}
	tx := recordTx(t, p.g, k1, 1, time.Now(), "via px")
	if code, body := postTx(t, d1, tx.Encode()); code != http.StatusAccepted {
		t.Fatalf("submit: %d %s", code, body)
	}
	waitFor(t, 15*time.Second, "the transaction to be committed on the other device", func() bool {
		n, _ := d2.Store().Nonce(k1.Public())
		return n == 1
	})
	if g := tr.grafts.Load(); g != 0 {
		t.Fatalf("the bootstrap node grafted %d peers into its mesh", g)
	}
	// No chain: it stays at genesis and refuses transactions.
	if code, _ := postTx(t, boot, tx.Encode()); code != http.StatusServiceUnavailable {
		t.Errorf("relay-only bootstrap node answered %d to a transaction, want 503", code)
	}
	var st StatusResponse
	if getJSON(t, apiURL(boot, "/v1/status"), &st); st.Height != 0 || st.CatchingUp || st.Role != RoleBootstrap {
		t.Errorf("bootstrap status %+v", st)
	}
	var ready ReadyResponse
	if code := getJSON(t, apiURL(boot, "/readyz"), &ready); code != 200 {
		t.Errorf("bootstrap /readyz = %d", code)
	}
}

// TestAnnounceAndNoAnnounce: the announce addresses replace the listen
// addresses in what identify tells peers (the signed peer record), and
// no_announce removes addresses from it; DialAddrs (what `sixd id`
// prints) follows the same rules.
func TestAnnounceAndNoAnnounce(t *testing.T) {
	p := newP2PNet(t, "announce-test", 1)
	x := p.start(nil, RoleDevice, WithDHT(DHTOff), WithRelayService(false),
		WithAnnounce("/dns4/node.example.com/tcp/4001", "/ip4/10.1.2.3/tcp/4001"),
		WithNoAnnounce("/ip4/10.0.0.0/ipcidr/8"))
	y := p.start(nil, RoleDevice, WithDHT(DHTOff),
		WithNoAnnounce("/ip4/127.0.0.1/ipcidr/32"))
	obs := p.start(nil, RoleDevice, WithDHT(DHTOff))
	want := []string{"/dns4/node.example.com/tcp/4001"}
	if got := addrStrings(x.Host().Addrs()); !slices.Equal(got, want) {
		t.Fatalf("x advertises %v, want %v", got, want)
	}
	if got := y.Host().Addrs(); len(got) != 0 {
		t.Fatalf("y advertises %v despite no_announce 127.0.0.1/32", got)
	}
	idSub, err := obs.Host().EventBus().Subscribe(new(lp2pevent.EvtPeerIdentificationCompleted))
	if err != nil {
		t.Fatal(err)
	}
	defer idSub.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, n := range []*Node{x, y} {
		if err := obs.Connect(ctx, peer.AddrInfo{ID: n.ID(), Addrs: directAddrs(n)}); err != nil {
			t.Fatal(err)
		}
	}
	var rec *peer.PeerRecord
	var listen []ma.Multiaddr
	waitFor(t, 5*time.Second, "identify to deliver x's addresses", func() bool {
		select {
		case e := <-idSub.Out():
			ev := e.(lp2pevent.EvtPeerIdentificationCompleted)
			if ev.Peer != x.ID() || ev.SignedPeerRecord == nil {
				return false
			}
			r, err := ev.SignedPeerRecord.Record()
			if err != nil {
				t.Fatal(err)
			}
			rec, listen = r.(*peer.PeerRecord), ev.ListenAddrs
			return true
		default:
			return false
		}
	})
	if got := addrStrings(rec.Addrs); !slices.Equal(got, want) {
		t.Errorf("x's signed peer record holds %v, want %v", got, want)
	}
	if got := addrStrings(listen); !slices.Equal(got, want) {
		t.Errorf("identify told the observer x listens on %v, want %v", got, want)
	}
	var st StatusResponse
	getJSON(t, apiURL(x, "/v1/status"), &st)
	if !slices.Equal(st.ListenAddrs, []string{want[0] + "/p2p/" + x.ID().String()}) {
		t.Errorf("status listen_addrs %v", st.ListenAddrs)
	}

	// What `sixd id` prints.
	id := x.ID()
	ifaces := []ma.Multiaddr{ma.StringCast("/ip4/127.0.0.1"), ma.StringCast("/ip4/192.168.1.20"), ma.StringCast("/ip4/10.0.0.5")}
	for _, tc := range []struct {
		name                         string
		listen, announce, noAnnounce []string
		ifaces                       []ma.Multiaddr
		want                         []string
	}{
		{"announce wins", []string{"/ip4/0.0.0.0/tcp/4001"}, []string{"/dns4/node.example.com/tcp/4001"}, nil, ifaces,
			[]string{"/dns4/node.example.com/tcp/4001"}},
		{"wildcard expanded without loopback", []string{"/ip4/0.0.0.0/tcp/4001", "/ip4/0.0.0.0/udp/4001/quic-v1"}, nil, nil, ifaces,
			[]string{"/ip4/192.168.1.20/tcp/4001", "/ip4/10.0.0.5/tcp/4001", "/ip4/192.168.1.20/udp/4001/quic-v1", "/ip4/10.0.0.5/udp/4001/quic-v1"}},
		{"no_announce filters", []string{"/ip4/0.0.0.0/tcp/4001"}, nil, []string{"/ip4/10.0.0.0/ipcidr/8"}, ifaces,
			[]string{"/ip4/192.168.1.20/tcp/4001"}},
		{"loopback when nothing else", []string{"/ip4/0.0.0.0/tcp/4001"}, nil, nil, ifaces[:1],
			[]string{"/ip4/127.0.0.1/tcp/4001"}},
		{"specific host kept", []string{"/ip4/192.0.2.1/tcp/4001"}, nil, nil, ifaces,
			[]string{"/ip4/192.0.2.1/tcp/4001"}},
	} {
		got, err := dialAddrs(id, tc.listen, tc.announce, tc.noAnnounce, tc.ifaces)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var w []string
		for _, a := range tc.want {
			w = append(w, a+"/p2p/"+id.String())
		}
		if !slices.Equal(got, w) {
			t.Errorf("%s: DialAddrs = %v, want %v", tc.name, got, w)
		}
	}
	if _, err := dialAddrs(id, nil, []string{"/ip4/1.2.3.4/tcp/1/p2p/" + id.String()}, nil, ifaces); err == nil {
		t.Error("announce with /p2p/ accepted")
	}
	for _, bad := range []string{"10.0.0.0/8", "/ip4/10.0.0.0/ipcidr/33", "/ip4/10.0.0.0/ipcidr/8/tcp/1", "/ip4/1.2.3.4/p2p/" + id.String()} {
		if _, err := ParseAddrFilter(bad); err == nil {
			t.Errorf("filter %q accepted", bad)
		}
	}
	if _, err := New(context.Background(), newTestKey(t), p.g, WithListenAddrs("/ip4/127.0.0.1/tcp/0"), WithAnnounce("/ip4/1.2.3.4/tcp/1/p2p/"+id.String())); err == nil {
		t.Error("WithAnnounce accepted /p2p/")
	}
}

func addrStrings(as []ma.Multiaddr) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.String())
	}
	return out
}

// TestReadyzWhileCatchingUp: a fresh node is not ready while it has no
// peers, then while it catches up to a chain with blocks, then ready; its
// status reports the finalized height it heard from its peer.
func TestReadyzWhileCatchingUp(t *testing.T) {
	p := newP2PNet(t, "ready-test", 1)
	auth := p.start(p.auths[0], RoleGateway, WithDHT(DHTOff))
	var ready ReadyResponse
	// The lone authority of a one-authority chain needs no peers.
	if code := getJSON(t, apiURL(auth, "/readyz"), &ready); code != 200 || ready.Status != "ready" {
		t.Fatalf("lone authority /readyz = %d %+v", code, ready)
	}
	waitFor(t, 15*time.Second, "the chain to finalize some blocks", func() bool { return auth.State().Height >= 8 })

	// The authority answers sync requests only once released, so the
	// fresh node's first sync round cannot end before the checks below.
	release := make(chan struct{})
	released := false
	defer func() {
		if !released {
			close(release)
		}
	}()
	var asked atomic.Int64
	auth.Host().SetStreamHandler(syncProtocol(p.g.ChainID), func(s network.Stream) {
		asked.Add(1)
		select {
		case <-release:
		case <-time.After(20 * time.Second):
		}
		auth.serveSync(s)
	})

	fresh := p.start(nil, RoleDevice, WithDHT(DHTOff), WithSyncInterval(200*time.Millisecond))
	readyz := func() (int, ReadyResponse) {
		resp, err := http.Get(apiURL(fresh, "/readyz"))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var r ReadyResponse
		body, _ := io.ReadAll(resp.Body)
		if err := json.Unmarshal(body, &r); err != nil {
			t.Fatalf("/readyz body %q: %v", body, err)
		}
		return resp.StatusCode, r
	}
	if code, r := readyz(); code != http.StatusServiceUnavailable || r.Reason != "no_peers" {
		t.Fatalf("fresh node without peers: %d %+v", code, r)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := fresh.Connect(ctx, auth.AddrInfo()); err != nil {
		t.Fatal(err)
	}
	// Its first sync request hangs; gossiped blocks arrive meanwhile, but
	// above a gap: it is catching up.
	waitFor(t, 5*time.Second, "the fresh node to ask for blocks", func() bool { return asked.Load() > 0 })
	if code, r := readyz(); code != http.StatusServiceUnavailable || r.Reason != "catching_up" {
		t.Fatalf("fresh node before its first sync: %d %+v", code, r)
	}
	var st StatusResponse
	if getJSON(t, apiURL(fresh, "/v1/status"), &st); !st.CatchingUp || st.Finalized != 0 {
		t.Fatalf("status before sync: %+v", st)
	}
	close(release)
	released = true
	target := auth.State().Height
	waitFor(t, 15*time.Second, "the fresh node to be ready", func() bool {
		code, _ := readyz()
		return code == http.StatusOK
	})
	getJSON(t, apiURL(fresh, "/v1/status"), &st)
	if st.CatchingUp || st.SyncTarget+catchUpSlack < target || st.Finalized+catchUpSlack < st.SyncTarget {
		t.Fatalf("ready but status %+v (authority had finalized %d)", st, target)
	}
}

// TestBootstrapKeepChain: with keep_chain a bootstrap node is a full node:
// it follows the chain and serves sync.
func TestBootstrapKeepChain(t *testing.T) {
	p := newP2PNet(t, "keep-test", 1)
	boot := p.start(nil, RoleBootstrap, WithDHT(DHTOff), WithKeepChain(true))
	p.start(p.auths[0], RoleGateway, WithDHT(DHTOff), WithBootstrap(p2pAddr(boot)))
	waitFor(t, 15*time.Second, "the bootstrap node to follow the chain", func() bool { return boot.State().Height >= 3 })
	var st StatusResponse
	if getJSON(t, apiURL(boot, "/v1/status"), &st); st.CatchingUp || st.Finalized < 3 {
		t.Errorf("status %+v", st)
	}
}
