package node

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"time"

	"github.com/libp2p/go-libp2p"
	dht "github.com/libp2p/go-libp2p-kad-dht"
	lp2pps "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/discovery"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	drouting "github.com/libp2p/go-libp2p/p2p/discovery/routing"
	"github.com/libp2p/go-libp2p/p2p/host/autorelay"
	"github.com/libp2p/go-libp2p/p2p/net/swarm"
	relayv2 "github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/relay"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"

	sixps "github.com/sixdomain/sixdomain/pubsub"
)

// DHTMode is the Kademlia DHT's mode of operation.
type DHTMode string

// DHT modes.
const (
	DHTAuto   DHTMode = "auto"   // server once AutoNAT finds the node publicly reachable
	DHTServer DHTMode = "server" // answers queries
	DHTClient DHTMode = "client" // queries only
	DHTOff    DHTMode = "off"    // no DHT
)

// Sentinel errors of the p2p options.
var (
	// ErrDHTMode: a DHT mode other than auto, server, client or off.
	ErrDHTMode = errors.New("unknown DHT mode")
	// ErrAddrFilter: a no_announce entry that is neither a multiaddr nor
	// an /ip4|ip6/<net>/ipcidr/<bits> filter.
	ErrAddrFilter = errors.New("bad address filter")
	// ErrAnnounceAddr: an announce address that is not a multiaddr, or
	// holds /p2p/ or a filter.
	ErrAnnounceAddr = errors.New("bad announce address")
	// ErrNoChain is returned by calls that need the chain on a bootstrap
	// node running relay-only (without WithKeepChain).
	ErrNoChain = errors.New("this bootstrap node keeps no chain")
)

// DHTProtocolPrefix is the chain's DHT protocol prefix: the DHT speaks
// /sixdomain/<chain-id>/kad/1.0.0, so sixdomain chains never share a
// routing table with IPFS or with each other.
func DHTProtocolPrefix(chainID string) protocol.ID {
	return protocol.ID("/sixdomain/" + chainID)
}

// RendezvousKey is the DHT key under which the chain's nodes advertise
// themselves (as providers of its CID) and look each other up.
func RendezvousKey(chainID string) string { return "/sixdomain/" + chainID + "/peers/1" }

// AddrFilter removes addresses from what the host advertises: one exact
// multiaddr, or every address whose IP lies in a network.
type AddrFilter struct {
	exact ma.Multiaddr
	ipnet *net.IPNet
}

// ParseAddrFilter parses a multiaddr (removed exactly) or an
// /ip4/<net>/ipcidr/<bits> or /ip6/<net>/ipcidr/<bits> filter (every
// address in that network). Neither may contain /p2p/.
func ParseAddrFilter(s string) (AddrFilter, error) {
	m, err := ma.NewMultiaddr(s)
	if err != nil {
		return AddrFilter{}, fmt.Errorf("%w: %w", ErrAddrFilter, err)
	}
	cidr := -1
	for i, c := range m {
		switch c.Code() {
		case ma.P_P2P:
			return AddrFilter{}, fmt.Errorf("%w: must not contain /p2p/", ErrAddrFilter)
		case ma.P_IPCIDR:
			cidr = i
		}
	}
	if cidr < 0 {
		return AddrFilter{exact: m}, nil
	}
	raw := m[1].RawValue()
	if cidr != 1 || len(m) != 2 || len(raw) != 1 {
		return AddrFilter{}, fmt.Errorf("%w: want /ip4/<net>/ipcidr/<bits> or /ip6/<net>/ipcidr/<bits>", ErrAddrFilter)
	}
	bits, size := int(raw[0]), 0
	switch m[0].Code() {
	case ma.P_IP4:
		size = 32
	case ma.P_IP6:
		size = 128
	default:
		return AddrFilter{}, fmt.Errorf("%w: a filter starts with /ip4 or /ip6", ErrAddrFilter)
	}
	if bits > size {
		return AddrFilter{}, fmt.Errorf("%w: /ipcidr/%d exceeds %d bits", ErrAddrFilter, bits, size)
	}
	ip := net.IP(m[0].RawValue())
	mask := net.CIDRMask(bits, size)
	return AddrFilter{ipnet: &net.IPNet{IP: ip.Mask(mask), Mask: mask}}, nil
}

// Match reports whether the filter removes a.
func (f AddrFilter) Match(a ma.Multiaddr) bool {
	if f.exact != nil {
		return a.Equal(f.exact)
	}
	if f.ipnet == nil {
		return false
	}
	ip, err := manet.ToIP(a)
	return err == nil && f.ipnet.Contains(ip)
}

// parseDialAddr parses an address others may dial: a multiaddr without
// /p2p/ and without filters.
func parseDialAddr(s string) (ma.Multiaddr, error) {
	m, err := ma.NewMultiaddr(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrAnnounceAddr, err)
	}
	for _, c := range m {
		switch c.Code() {
		case ma.P_P2P:
			return nil, fmt.Errorf("%w: must not contain /p2p/", ErrAnnounceAddr)
		case ma.P_IPCIDR:
			return nil, fmt.Errorf("%w: a filter, not a dialable address", ErrAnnounceAddr)
		}
	}
	return m, nil
}

// advertised is what the host advertises given its own addresses: the
// announce addresses if any (relayed addresses kept), then without the
// filtered ones.
func advertised(addrs, announce []ma.Multiaddr, filters []AddrFilter) []ma.Multiaddr {
	if len(announce) > 0 {
		out := slices.Clone(announce)
		for _, a := range addrs {
			if isRelayed(a) {
				out = append(out, a)
			}
		}
		addrs = out
	}
	if len(filters) == 0 {
		return addrs
	}
	return slices.DeleteFunc(slices.Clone(addrs), func(a ma.Multiaddr) bool {
		return slices.ContainsFunc(filters, func(f AddrFilter) bool { return f.Match(a) })
	})
}

func isRelayed(a ma.Multiaddr) bool {
	_, err := a.ValueForProtocol(ma.P_CIRCUIT)
	return err == nil
}

// DialAddrs returns the addresses other peers should dial to reach a node
// with these listen, announce and no_announce settings, each ending in
// /p2p/<id>: the announce addresses if any, else the listen addresses with
// wildcard hosts (0.0.0.0, ::) expanded to this machine's interface
// addresses (loopback only when there is nothing else); no_announce
// filters apply to both. `sixd id` prints them.
func DialAddrs(id peer.ID, listen, announce, noAnnounce []string) ([]string, error) {
	ifaces, err := manet.InterfaceMultiaddrs()
	if err != nil {
		return nil, fmt.Errorf("interface addresses: %w", err)
	}
	return dialAddrs(id, listen, announce, noAnnounce, ifaces)
}

func dialAddrs(id peer.ID, listen, announce, noAnnounce []string, ifaces []ma.Multiaddr) ([]string, error) {
	var filters []AddrFilter
	for _, s := range noAnnounce {
		f, err := ParseAddrFilter(s)
		if err != nil {
			return nil, fmt.Errorf("no_announce %q: %w", s, err)
		}
		filters = append(filters, f)
	}
	var addrs []ma.Multiaddr
	if len(announce) > 0 {
		for _, s := range announce {
			m, err := parseDialAddr(s)
			if err != nil {
				return nil, fmt.Errorf("announce %q: %w", s, err)
			}
			addrs = append(addrs, m)
		}
	} else {
		var other, loop []ma.Multiaddr
		for _, a := range ifaces {
			if manet.IsIPLoopback(a) {
				loop = append(loop, a)
			} else if !manet.IsIP6LinkLocal(a) {
				other = append(other, a)
			}
		}
		if len(other) == 0 {
			other = loop
		}
		for _, s := range listen {
			m, err := ma.NewMultiaddr(s)
			if err != nil {
				return nil, fmt.Errorf("listen %q: %w", s, err)
			}
			if !manet.IsIPUnspecified(m) {
				addrs = append(addrs, m)
				continue
			}
			expanded, err := manet.ResolveUnspecifiedAddress(m, other)
			if err != nil {
				// No interface of the address family: nothing to dial.
				continue
			}
			addrs = append(addrs, expanded...)
		}
	}
	var out []string
	for _, a := range addrs {
		if slices.ContainsFunc(filters, func(f AddrFilter) bool { return f.Match(a) }) {
			continue
		}
		out = append(out, a.String()+"/p2p/"+id.String())
	}
	return out, nil
}

// publicDeclared reports whether the operator declared the node publicly
// reachable: relay service asked for, or announce addresses set.
func (c *Config) publicDeclared() bool { return c.RelayService || len(c.Announce) > 0 }

// p2pHostOptions are the libp2p options of the discovery, relay and
// address settings.
func p2pHostOptions(cfg Config) []libp2p.Option {
	var opts []libp2p.Option
	if len(cfg.Announce) > 0 || len(cfg.NoAnnounce) > 0 {
		announce, filters := cfg.Announce, cfg.NoAnnounce
		opts = append(opts, libp2p.AddrsFactory(func(addrs []ma.Multiaddr) []ma.Multiaddr {
			return advertised(addrs, announce, filters)
		}))
	}
	if cfg.publicDeclared() {
		// The relay manager starts the relay once the node is public; the
		// operator says it is, so AutoNAT is not asked.
		res := relayv2.DefaultResources()
		res.MaxReservations = max(res.MaxReservations, cfg.ConnHigh/2)
		// A site's devices often share one NAT address.
		res.MaxReservationsPerIP = max(res.MaxReservationsPerIP, 64)
		res.MaxReservationsPerASN = max(res.MaxReservationsPerASN, res.MaxReservations)
		opts = append(opts, libp2p.EnableRelayService(relayv2.WithResources(res)),
			libp2p.EnableNATService(), libp2p.ForceReachabilityPublic())
	}
	switch {
	case cfg.Reachability == "private":
		opts = append(opts, libp2p.ForceReachabilityPrivate())
	case cfg.Reachability == "public" && !cfg.publicDeclared():
		opts = append(opts, libp2p.ForceReachabilityPublic())
	}
	if cfg.AutoRelay && len(cfg.Bootstrap) > 0 {
		opts = append(opts, libp2p.EnableAutoRelayWithStaticRelays(slices.Clone(cfg.Bootstrap),
			autorelay.WithBootDelay(0)))
	}
	if cfg.HolePunching {
		opts = append(opts, libp2p.EnableHolePunching())
	}
	return opts
}

// relayOnly reports whether this node runs without the chain: a bootstrap
// node without WithKeepChain.
func (c *Config) relayOnly() bool { return c.Role == RoleBootstrap && !c.KeepChain }

// dhtMode is the DHT mode in effect (off with a caller's host unless set
// explicitly).
func (c *Config) dhtMode() DHTMode {
	if c.Host != nil && !c.dhtSet {
		return DHTOff
	}
	return c.DHT
}

// startDHT starts the chain's DHT, if on, and the discovery goroutines.
func (n *Node) startDHT() error {
	var mode dht.ModeOpt
	switch n.cfg.dhtMode() {
	case DHTOff:
		return nil
	case DHTServer:
		mode = dht.ModeServer
	case DHTClient:
		mode = dht.ModeClient
	default:
		mode = dht.ModeAuto
	}
	d, err := dht.New(n.host, dht.Mode(mode), dht.ProtocolPrefix(DHTProtocolPrefix(n.genesis.ChainID)),
		dht.BootstrapPeers(n.cfg.Bootstrap...), dht.DisableValues())
	if err != nil {
		return fmt.Errorf("dht: %w", err)
	}
	n.dht = d
	if err := d.Bootstrap(n.ctx); err != nil {
		return fmt.Errorf("dht: %w", err)
	}
	if n.cfg.relayOnly() {
		return nil // it serves the DHT; it is not a chain peer to advertise
	}
	rd := drouting.NewRoutingDiscovery(d)
	n.discoverKick = make(chan struct{}, 1)
	n.host.Network().Notify(discoveryNotifee{n})
	n.spawn(func() { n.advertiseLoop(rd) })
	n.spawn(func() { n.findPeersLoop(rd) })
	return nil
}

// discoveryNotifee starts a DHT lookup at once when a connection to a
// bootstrap peer opens: that is when a node whose link was down (a device
// that lost its network, a partition that healed) can find its chain
// peers again, instead of waiting for the next round.
type discoveryNotifee struct{ n *Node }

func (d discoveryNotifee) Listen(network.Network, ma.Multiaddr)       {}
func (d discoveryNotifee) ListenClose(network.Network, ma.Multiaddr)  {}
func (d discoveryNotifee) Disconnected(network.Network, network.Conn) {}
func (d discoveryNotifee) Connected(_ network.Network, c network.Conn) {
	if d.n.isBootstrapPeer(c.RemotePeer()) {
		select {
		case d.n.discoverKick <- struct{}{}:
		default:
		}
	}
}

// advertiseRenew bounds how long an advertisement stands before the node
// renews it: a bootstrap node that restarts forgets the provider records
// it held, and the chain's peers should be findable again soon.
const advertiseRenew = 10 * time.Minute

// advertiseLoop advertises this node under the chain's rendezvous key and
// renews the advertisement before it expires (as discovery/util.Advertise
// does, but in a goroutine the node waits for on Close), at least every
// advertiseRenew.
func (n *Node) advertiseLoop(rd *drouting.RoutingDiscovery) {
	key := RendezvousKey(n.genesis.ChainID)
	for {
		wait := n.cfg.DiscoveryInterval
		ttl, err := rd.Advertise(n.ctx, key)
		if err != nil {
			if n.ctx.Err() != nil {
				return
			}
			n.log.Debug("dht advertise", "err", err)
		} else {
			n.log.Debug("advertised in the dht", "key", key, "ttl", ttl)
			wait = max(min(ttl*7/8, advertiseRenew), n.cfg.DiscoveryInterval)
		}
		t := n.clk.NewTimer(wait)
		select {
		case <-n.ctx.Done():
			t.Stop()
			return
		case <-t.C():
		}
	}
}

// findPeersLoop looks up the chain's peers in the DHT and dials those it
// is not connected to, while the node has fewer connections than its
// connection manager's low watermark.
func (n *Node) findPeersLoop(rd *drouting.RoutingDiscovery) {
	key := RendezvousKey(n.genesis.ChainID)
	t := n.clk.NewTicker(n.cfg.DiscoveryInterval)
	defer t.Stop()
	for {
		if budget := n.cfg.ConnLow - len(n.host.Network().Peers()); budget > 0 {
			n.findPeers(rd, key, budget)
		}
		select {
		case <-n.ctx.Done():
			return
		case <-t.C():
		case <-n.discoverKick:
		}
	}
}

func (n *Node) findPeers(rd *drouting.RoutingDiscovery, key string, budget int) {
	ctx, cancel := context.WithTimeout(n.ctx, n.wall(time.Minute))
	defer cancel()
	found, err := rd.FindPeers(ctx, key, discovery.Limit(4*budget))
	if err != nil {
		n.log.Debug("dht find peers", "err", err)
		return
	}
	for info := range found {
		if budget <= 0 {
			cancel() // stop the lookup; drain what it already sent
			continue
		}
		if info.ID == n.host.ID() || len(info.Addrs) == 0 || n.host.Network().Connectedness(info.ID) == network.Connected {
			continue
		}
		// The DHT's record is newer than whatever failed before: dial it
		// now rather than after the swarm's backoff from dials that failed
		// while this node's link was down.
		n.clearDialBackoff(info.ID)
		cctx, ccancel := context.WithTimeout(ctx, n.wall(10*time.Second))
		err := n.host.Connect(cctx, info)
		ccancel()
		if err != nil {
			n.log.Debug("dht peer unreachable", "peer", info.ID, "err", err)
			continue
		}
		n.log.Debug("connected to a chain peer found in the dht", "peer", info.ID)
		budget--
	}
}

// joinAsBootstrapper joins the chain's topics without subscribing: it
// announces them (Topic.Relay), so that peers GRAFT this node and get a
// PRUNE with peer exchange back (the router keeps no mesh), and it ignores
// every message (it has no state to validate them against), so it neither
// relays nor delivers any.
func (n *Node) joinAsBootstrapper() error {
	chainID := n.genesis.ChainID
	ignore := func(context.Context, peer.ID, *lp2pps.Message) lp2pps.ValidationResult {
		return lp2pps.ValidationIgnore
	}
	for _, name := range []string{sixps.TxTopic(chainID), sixps.BatchTopic(chainID), sixps.BlockTopic(chainID), sixps.VoteTopic(chainID), sixps.CertTopic(chainID)} {
		if err := n.ps.RegisterTopicValidator(name, ignore); err != nil {
			return err
		}
		t, err := n.ps.Join(name)
		if err != nil {
			return err
		}
		cancel, err := t.Relay()
		if err != nil {
			return err
		}
		n.relayCancels = append(n.relayCancels, cancel)
		switch name {
		case sixps.TxTopic(chainID):
			n.txTopic = t
		case sixps.BatchTopic(chainID):
			n.batchTopic = t
		case sixps.BlockTopic(chainID):
			n.blkTopic = t
		case sixps.VoteTopic(chainID):
			n.voteTopic = t
		default:
			n.certTopic = t
		}
	}
	return nil
}

// servesChain reports whether p keeps the chain, as far as identify has
// told: a peer known not to speak the sync protocol (a relay-only
// bootstrap node) is left out of sync and of the count of gossip peers.
func (n *Node) servesChain(p peer.ID) bool {
	ps := n.host.Peerstore()
	if ok, err := ps.SupportsProtocols(p, syncProtocol(n.genesis.ChainID)); err != nil || len(ok) > 0 {
		return true
	}
	known, err := ps.GetProtocols(p)
	return err != nil || len(known) == 0 // not identified yet
}

// clearDialBackoff forgets the swarm's failed dials to p, so the next dial
// is tried at once.
func (n *Node) clearDialBackoff(p peer.ID) {
	if sw, ok := n.host.Network().(*swarm.Swarm); ok {
		sw.Backoff().Clear(p)
	}
}

// directlyConnected reports whether the node has a connection to p that
// is not a relayed, limited one: a circuit relay v2 connection carries
// only protocols that opt in, so the sync protocol cannot use it.
func (n *Node) directlyConnected(p peer.ID) bool {
	for _, c := range n.host.Network().ConnsToPeer(p) {
		if !c.Stat().Limited {
			return true
		}
	}
	return false
}

// chainPeers counts the peers of a topic that keep the chain.
func (n *Node) chainPeers(t *lp2pps.Topic) int {
	k := 0
	for _, p := range t.ListPeers() {
		if n.servesChain(p) {
			k++
		}
	}
	return k
}

// isBootstrapPeer reports whether p is one of the configured bootstrap
// peers (whose gossip peer exchange the node accepts).
func (n *Node) isBootstrapPeer(p peer.ID) bool {
	return slices.ContainsFunc(n.cfg.Bootstrap, func(i peer.AddrInfo) bool { return i.ID == p })
}
