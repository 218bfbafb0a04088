package light

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/sec"
	"github.com/libp2p/go-libp2p/p2p/discovery/mdns"
	basichost "github.com/libp2p/go-libp2p/p2p/host/basic"
	"github.com/libp2p/go-libp2p/p2p/host/eventbus"
	"github.com/libp2p/go-libp2p/p2p/host/peerstore/pstoremem"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/net/connmgr"
	"github.com/libp2p/go-libp2p/p2p/net/swarm"
	"github.com/libp2p/go-libp2p/p2p/net/upgrader"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger/types"
)

// Config configures a light node. Zero fields take the defaults.
type Config struct {
	// ListenAddrs are the TCP multiaddrs the host listens on; none makes
	// it dial only.
	ListenAddrs []string
	// Gateways are the full nodes (multiaddrs ending in /p2p/<id>) the
	// light node submits through, tried in order; mDNS adds more.
	Gateways []string
	MDNS     bool
	// DataDir holds the store (DataDir/store/light.log: headers, trust,
	// receipts; an append-only log without fsync, store.go), the
	// store-and-forward queue (DataDir/outbox, node/outbox) and the last
	// nonce signed (DataDir/nonce); "" keeps everything in memory.
	DataDir string
	// Queue, if set, replaces the built-in store-and-forward queue.
	Queue Queue
	// MaxQueue bounds the built-in queue (default 100,000 readings).
	MaxQueue int
	// APIListen is the light node's HTTP API address ("" for none); it
	// must be a loopback address.
	APIListen string
	Clock     func() time.Time
	Logger    *slog.Logger
	// FollowInterval is how often the node asks its gateway for the
	// latest finalized header (default 3 s); PollInterval how often it
	// forwards queued readings and asks their status (default 500 ms).
	FollowInterval time.Duration
	PollInterval   time.Duration
	// RequestTimeout bounds one request to a gateway (default 10 s).
	RequestTimeout time.Duration
	// MaxInFlight bounds the readings submitted and not yet proven final
	// (default 256; the gateways' mempool keeps at most 1,000 per sender).
	MaxInFlight int
	// MaxMemory is the libp2p resource manager's memory limit (default
	// 16 MiB).
	MaxMemory int64
}

func (c *Config) setDefaults() {
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.FollowInterval <= 0 {
		c.FollowInterval = 3 * time.Second
	}
	if c.PollInterval <= 0 {
		c.PollInterval = 500 * time.Millisecond
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 10 * time.Second
	}
	if c.MaxInFlight <= 0 {
		c.MaxInFlight = 256
	}
	if c.MaxQueue <= 0 {
		c.MaxQueue = 100_000
	}
	if c.MaxMemory <= 0 {
		c.MaxMemory = 16 << 20
	}
}

// Errors of the light node.
var (
	// ErrNoGateway: no gateway could be reached.
	ErrNoGateway = errors.New("light: no gateway reachable")
	// ErrBadGateway: a gateway answered something that does not verify.
	ErrBadGateway = errors.New("light: gateway answered an invalid message")
	// ErrForked: a verified final header that does not link to the
	// headers held. Two conflicting final blocks: stop and alert.
	ErrForked = errors.New("light: final headers do not link")
	// ErrClosed: a call on a closed light node.
	ErrClosed = errors.New("light: closed")
)

// Node is a running light node. Create it with New; the caller owns Close.
type Node struct {
	cfg     Config
	key     *identity.PrivateKey
	genesis *types.Genesis
	log     *slog.Logger
	host    host.Host
	mdns    mdns.Service
	ds      *store
	queue   Queue
	// ownsQueue: the node opened the queue (the outbox) and closes it.
	ownsQueue bool
	api       *http.Server
	apiAddr   net.Addr

	// signMu orders signing: nonce and queue append.
	signMu sync.Mutex
	nonce  uint64

	mu        sync.Mutex // guards the fields below
	trust     Trust
	head      *types.Header // latest verified final header; nil at genesis
	gap       gap           // headers still to fetch (Low > High: none)
	gateway   peer.ID
	gateways  []peer.AddrInfo
	failed    map[peer.ID]time.Time
	recorded  uint64
	refused   uint64
	finality  uint64 // finality proofs verified
	lastError string
	window    []*item // the queue's head, as the forwarder tracks it

	kick   chan struct{}
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
	err    error
}

// item is a queued reading the forwarder tracks.
type item struct {
	raw  []byte
	tx   *types.Tx
	hash types.Hash
	sent peer.ID // the gateway that holds it ("" for none)
	done bool    // proven final
	// replaced is the hash of the reading this item's filler replaced
	// (zero for a reading).
	replaced types.Hash
}

// FillerStream is the stream of the record a light node signs in place of
// a reading the chain refused for good (its time outside the window, say):
// it takes the refused reading's nonce, so that the readings after it are
// not held back by a nonce gap. Its value is the JSON
// {"refused": "<hash>", "reason": "<code>"}.
const FillerStream = "sixd/refused"

// failBackoff is how long a gateway that failed is passed over.
const failBackoff = 10 * time.Second

// New starts a light node for the chain of g with key.
func New(ctx context.Context, key *identity.PrivateKey, g *types.Genesis, cfg Config) (_ *Node, err error) {
	if key == nil || g == nil {
		return nil, errors.New("light: key and genesis are required")
	}
	if err := g.Validate(); err != nil {
		return nil, fmt.Errorf("light: %w", err)
	}
	cfg.setDefaults()
	if cfg.APIListen != "" && !isLoopback(cfg.APIListen) {
		return nil, fmt.Errorf("light: api listen %s is not a loopback address", cfg.APIListen)
	}
	n := &Node{cfg: cfg, key: key, genesis: g, log: cfg.Logger.With("light", key.Public().PeerID().ShortString()),
		failed: map[peer.ID]time.Time{}, kick: make(chan struct{}, 1), gap: gap{Low: 1, High: 0}}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	defer func() {
		if err != nil {
			err = errors.Join(err, n.Close())
		}
	}()
	for _, a := range cfg.Gateways {
		info, err := peer.AddrInfoFromString(a)
		if err != nil {
			return nil, fmt.Errorf("light: gateway %q: %w", a, err)
		}
		n.gateways = append(n.gateways, *info)
	}
	if cfg.DataDir != "" {
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return nil, fmt.Errorf("light: %w", err)
		}
		if n.ds, err = openStore(ctx, filepath.Join(cfg.DataDir, "store"), n.log); err != nil {
			return nil, err
		}
	} else {
		n.ds = newMemoryStore()
	}
	if err := n.load(ctx); err != nil {
		return nil, err
	}
	if n.host, err = buildHost(key, cfg); err != nil {
		return nil, fmt.Errorf("light: host: %w", err)
	}
	if cfg.MDNS {
		n.mdns = mdns.NewMdnsService(n.host, "sixdomain-"+g.ChainID, mdnsNotifee{n})
		if err := n.mdns.Start(); err != nil {
			n.log.Warn("mdns unavailable", "err", err)
			n.mdns = nil
		}
	}
	if cfg.APIListen != "" {
		if err := n.startAPI(cfg.APIListen); err != nil {
			return nil, fmt.Errorf("light: api: %w", err)
		}
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		n.run()
	}()
	n.log.Info("light node started", "peer", n.host.ID(), "did", key.Public().DID(), "trusted", n.trust.Checkpoint.Height,
		"queued", n.queue.Len(), "gateways", len(n.gateways))
	return n, nil
}

// load reads the trust, the head, the gap, the nonce and the queue.
func (n *Node) load(ctx context.Context) error {
	n.trust = GenesisTrust(n.genesis)
	if err := n.loadState(); err != nil {
		if errors.Is(err, errForeignStore) {
			return err
		}
		// A state that does not decode: start again from the genesis.
		n.log.Warn("light: the stored state does not decode; starting again", "err", err)
		if err := n.ds.Reset(); err != nil {
			return err
		}
		n.trust, n.head, n.gap = GenesisTrust(n.genesis), nil, gap{Low: 1, High: 0}
	}
	n.queue = n.cfg.Queue
	switch {
	case n.queue != nil:
	case n.cfg.DataDir != "":
		q, err := OpenOutboxQueue(ctx, filepath.Join(n.cfg.DataDir, "outbox"), n.cfg.MaxQueue)
		if err != nil {
			return fmt.Errorf("light: %w", err)
		}
		n.queue, n.ownsQueue = q, true
	default:
		n.queue = NewMemoryQueue(n.cfg.MaxQueue)
	}
	if n.cfg.DataDir != "" {
		v, err := readNonce(n.cfg.DataDir)
		if err != nil {
			return err
		}
		n.nonce = v
	}
	// A reading queued before its nonce was noted: take the newest queued
	// nonce.
	if k := n.queue.Len(); k > 0 {
		raws, err := n.queue.Peek(ctx, k)
		if err != nil {
			return fmt.Errorf("light: queue: %w", err)
		}
		for _, raw := range raws {
			if tx, err := types.DecodeTx(raw); err == nil && tx.Nonce > n.nonce {
				n.nonce = tx.Nonce
			}
		}
	}
	return nil
}

var errForeignStore = errors.New("light: the store belongs to another chain")

// loadState reads the trust, the head and the gap from the store.
func (n *Node) loadState() error {
	st := n.ds.State()
	if st.trust != nil {
		t, err := decodeTrust(st.trust)
		if err != nil {
			return err
		}
		if t.ChainID != n.genesis.ChainID {
			return fmt.Errorf("%w: %q, not %q", errForeignStore, t.ChainID, n.genesis.ChainID)
		}
		n.trust = t
	}
	if st.head != 0 {
		h, err := n.Header(n.ctx, st.head)
		if err != nil {
			return fmt.Errorf("light: stored head: %w", err)
		}
		if h.ChainID != n.genesis.ChainID {
			return fmt.Errorf("%w: %q, not %q", errForeignStore, h.ChainID, n.genesis.ChainID)
		}
		n.head = h
	}
	if st.gap.High >= st.gap.Low && (st.gap.Low == 0 || (n.head != nil && st.gap.High >= n.head.Height)) {
		return fmt.Errorf("light: stored gap %d..%d", st.gap.Low, st.gap.High)
	}
	n.gap = st.gap
	return nil
}

// buildHost assembles the light node's host from go-libp2p's parts (a
// swarm with the TCP transport, Noise and Yamux, a basic host with
// identify) rather than with libp2p.New, whose defaults link the QUIC,
// WebTransport and WebRTC stacks into the binary: a light node's binary
// stays smaller, and so does its resident memory.
func buildHost(key *identity.PrivateKey, cfg Config) (_ host.Host, err error) {
	priv := key.Libp2p()
	id, err := peer.IDFromPrivateKey(priv)
	if err != nil {
		return nil, err
	}
	var listen []ma.Multiaddr
	for _, a := range cfg.ListenAddrs {
		m, err := ma.NewMultiaddr(a)
		if err != nil {
			return nil, fmt.Errorf("listen address %q: %w", a, err)
		}
		listen = append(listen, m)
	}
	ps, err := pstoremem.NewPeerstore()
	if err != nil {
		return nil, err
	}
	if err := errors.Join(ps.AddPrivKey(id, priv), ps.AddPubKey(id, priv.GetPublic())); err != nil {
		return nil, err
	}
	rm, err := rcmgr.NewResourceManager(rcmgr.NewFixedLimiter(rcmgr.DefaultLimits.Scale(cfg.MaxMemory, 64)))
	if err != nil {
		return nil, err
	}
	cm, err := connmgr.NewConnManager(4, 16, connmgr.WithGracePeriod(time.Minute))
	if err != nil {
		return nil, err
	}
	bus := eventbus.NewBus()
	sw, err := swarm.NewSwarm(id, ps, bus, swarm.WithResourceManager(rm))
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = sw.Close() // best effort after the error returned
		}
	}()
	nz, err := noise.New(noise.ID, priv, nil)
	if err != nil {
		return nil, err
	}
	up, err := upgrader.New([]sec.SecureTransport{nz}, []upgrader.StreamMuxer{{ID: yamux.ID, Muxer: yamux.DefaultTransport}}, nil, rm, nil)
	if err != nil {
		return nil, err
	}
	tpt, err := tcp.NewTCPTransport(up, rm, nil)
	if err != nil {
		return nil, err
	}
	if err := sw.AddTransport(tpt); err != nil {
		return nil, err
	}
	if len(listen) > 0 {
		if err := sw.Listen(listen...); err != nil {
			return nil, err
		}
	}
	h, err := basichost.NewHost(sw, &basichost.HostOpts{EventBus: bus, ConnManager: cm, UserAgent: "sixd-light"})
	if err != nil {
		return nil, err
	}
	h.Start()
	return h, nil
}

// Close stops the light node and closes what it owns.
func (n *Node) Close() error {
	n.once.Do(func() {
		n.cancel()
		var errs []error
		if n.api != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			errs = append(errs, n.api.Shutdown(ctx))
			cancel()
		}
		if n.mdns != nil {
			errs = append(errs, n.mdns.Close())
		}
		n.wg.Wait()
		if n.host != nil {
			errs = append(errs, n.host.Close())
		}
		if c, ok := n.queue.(interface{ Close() error }); ok && n.ownsQueue {
			errs = append(errs, c.Close())
		}
		if n.ds != nil {
			errs = append(errs, n.ds.Close())
		}
		n.err = errors.Join(errs...)
	})
	return n.err
}

// Host returns the light node's libp2p host.
func (n *Node) Host() host.Host { return n.host }

// APIAddr returns the HTTP API's address, or nil.
func (n *Node) APIAddr() net.Addr { return n.apiAddr }

// Key returns the node's public key (the sender of its readings).
func (n *Node) Key() identity.PublicKey { return n.key.Public() }

// AddGateway adds a gateway to try (as mDNS does when it finds one).
func (n *Node) AddGateway(info peer.AddrInfo) {
	n.mu.Lock()
	defer n.mu.Unlock()
	delete(n.failed, info.ID) // news of it: try it at once
	for i, g := range n.gateways {
		if g.ID == info.ID {
			n.gateways[i].Addrs = append(slices.Clone(info.Addrs), g.Addrs...)
			n.kickNow()
			return
		}
	}
	n.gateways = append(n.gateways, info)
	n.kickNow()
}

func (n *Node) kickNow() {
	select {
	case n.kick <- struct{}{}:
	default:
	}
}

type mdnsNotifee struct{ n *Node }

func (m mdnsNotifee) HandlePeerFound(info peer.AddrInfo) {
	if info.ID != m.n.host.ID() {
		m.n.AddGateway(info)
	}
}

// Record signs a data record with the node key, with the clock's time as
// its timestamp and the next nonce, and appends it to the queue; the
// forwarder submits it when a gateway is reachable. It returns the
// transaction.
func (n *Node) Record(ctx context.Context, rec types.DataRecord) (*types.Tx, error) {
	if n.ctx.Err() != nil {
		return nil, ErrClosed
	}
	n.signMu.Lock()
	defer n.signMu.Unlock()
	tx, err := types.NewDataRecordTx(n.genesis.ChainID, n.nonce+1, n.cfg.Clock().UnixMilli(), rec)
	if err != nil {
		return nil, err
	}
	tx.Sign(n.key)
	if err := n.queue.Append(ctx, tx.Encode()); err != nil {
		return nil, err
	}
	n.nonce++
	if n.cfg.DataDir != "" {
		if err := writeNonce(n.cfg.DataDir, n.nonce); err != nil {
			return nil, err
		}
	}
	n.kickNow()
	return tx, nil
}

// Status is what a light node reports about itself.
type Status struct {
	ChainID        string     `json:"chain_id"`
	DID            string     `json:"did"`
	PeerID         string     `json:"peer_id"`
	Finalized      uint64     `json:"finalized"`
	FinalizedHash  types.Hash `json:"finalized_hash"`
	TrustHeight    uint64     `json:"trust_height"`
	HeadersMissing uint64     `json:"headers_missing"`
	Gateway        string     `json:"gateway,omitempty"`
	Queued         int        `json:"queued"`
	Recorded       uint64     `json:"recorded"`
	Refused        uint64     `json:"refused"`
	// FinalityProofs counts the finality proofs verified (of final heads
	// and of readings' blocks above the trusted checkpoint).
	FinalityProofs uint64 `json:"finality_proofs"`
	Nonce          uint64 `json:"nonce"`
	LastError      string `json:"last_error,omitempty"`
}

// Status returns the node's status.
func (n *Node) Status() Status {
	n.signMu.Lock()
	nonce := n.nonce
	n.signMu.Unlock()
	n.mu.Lock()
	defer n.mu.Unlock()
	s := Status{ChainID: n.genesis.ChainID, DID: n.key.Public().DID(), PeerID: n.host.ID().String(),
		TrustHeight: n.trust.Checkpoint.Height, Queued: n.queue.Len(), Recorded: n.recorded, Refused: n.refused,
		FinalityProofs: n.finality, Nonce: nonce, LastError: n.lastError}
	if n.head != nil {
		s.Finalized, s.FinalizedHash = n.head.Height, n.head.Hash()
	}
	if n.gap.High >= n.gap.Low {
		s.HeadersMissing = n.gap.High - n.gap.Low + 1
	}
	if n.gateway != "" {
		s.Gateway = n.gateway.String()
	}
	return s
}

// Header returns the verified final header at height, if held
// (ErrNotFound if not).
func (n *Node) Header(_ context.Context, height uint64) (*types.Header, error) {
	v, err := n.ds.Header(height)
	if err != nil {
		return nil, err
	}
	h, err := types.DecodeHeader(v)
	if err != nil || h.Height != height {
		return nil, fmt.Errorf("%w: header %d does not decode (%v)", ErrStoreCorrupt, height, err)
	}
	return h, nil
}

// Receipts returns the receipts of recorded readings with nonces from
// `from`, up to limit.
func (n *Node) Receipts(ctx context.Context, from uint64, limit int) ([]Receipt, error) {
	var out []Receipt
	for k := max(from, 1); len(out) < limit; k++ {
		v, err := n.ds.Receipt(k)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return nil, err
		}
		if v == nil {
			n.signMu.Lock()
			last := n.nonce
			n.signMu.Unlock()
			if k >= last {
				break
			}
			continue // refused, or not recorded yet
		}
		var r Receipt
		if err := unmarshalCanonical(v, &r); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// run is the node's one worker: it follows the finalized head and
// forwards the queue through a gateway.
func (n *Node) run() {
	poll := time.NewTicker(n.cfg.PollInterval)
	defer poll.Stop()
	var lastFollow time.Time
	for {
		gw, err := n.pickGateway()
		if err == nil {
			if time.Since(lastFollow) >= n.cfg.FollowInterval || n.gapOpen() {
				if err = n.follow(gw); err == nil {
					lastFollow = time.Now()
				}
			}
			if err == nil {
				err = n.forward(gw)
			}
			if err != nil && n.ctx.Err() == nil {
				n.failGateway(gw, err)
			}
		}
		n.noteError(err)
		if n.gapOpen() && err == nil {
			continue // catching up on headers: no pause
		}
		select {
		case <-n.ctx.Done():
			return
		case <-poll.C:
		case <-n.kick:
		}
	}
}

func (n *Node) gapOpen() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.gap.High >= n.gap.Low
}

func (n *Node) noteError(err error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if err == nil {
		n.lastError = ""
	} else {
		n.lastError = err.Error()
	}
}

// failGateway passes over gw for a while and forgets what it held: the
// next gateway gets the unproven readings again.
func (n *Node) failGateway(gw peer.ID, err error) {
	n.log.Warn("gateway failed; failing over", "gateway", gw, "err", err)
	n.mu.Lock()
	n.failed[gw] = time.Now().Add(failBackoff)
	if n.gateway == gw {
		n.gateway = ""
	}
	for _, it := range n.window {
		if it.sent == gw {
			it.sent = ""
		}
	}
	n.mu.Unlock()
}

// pickGateway returns the current gateway or connects to another: the
// configured and discovered ones first, then any connected peer that
// speaks the light protocol.
func (n *Node) pickGateway() (peer.ID, error) {
	n.mu.Lock()
	gw := n.gateway
	cands := slices.Clone(n.gateways)
	now := time.Now()
	for p, until := range n.failed {
		if now.After(until) {
			delete(n.failed, p)
		}
	}
	failed := func(p peer.ID) bool { _, ok := n.failed[p]; return ok }
	n.mu.Unlock()
	if gw != "" && n.host.Network().Connectedness(gw) == network.Connected {
		return gw, nil
	}
	for _, p := range n.host.Network().Peers() {
		if ok, err := n.host.Peerstore().SupportsProtocols(p, ProtocolID(n.genesis.ChainID)); err == nil && len(ok) > 0 &&
			!slices.ContainsFunc(cands, func(i peer.AddrInfo) bool { return i.ID == p }) {
			cands = append(cands, peer.AddrInfo{ID: p})
		}
	}
	for _, info := range cands {
		n.mu.Lock()
		skip := failed(info.ID)
		n.mu.Unlock()
		if skip || info.ID == n.host.ID() {
			continue
		}
		if n.host.Network().Connectedness(info.ID) != network.Connected {
			if sw, ok := n.host.Network().(*swarm.Swarm); ok {
				sw.Backoff().Clear(info.ID) // this loop paces its own dials
			}
			ctx, cancel := context.WithTimeout(n.ctx, n.cfg.RequestTimeout)
			err := n.host.Connect(ctx, info)
			cancel()
			if err != nil {
				n.log.Debug("gateway unreachable", "gateway", info.ID, "err", err)
				n.mu.Lock()
				n.failed[info.ID] = time.Now().Add(failBackoff) // dial it again after the backoff
				n.mu.Unlock()
				continue
			}
		}
		n.host.ConnManager().Protect(info.ID, "gateway")
		n.mu.Lock()
		n.gateway = info.ID
		n.mu.Unlock()
		n.log.Info("gateway connected", "gateway", info.ID)
		return info.ID, nil
	}
	return "", ErrNoGateway
}

// ask sends one request to gw and returns its answer.
func (n *Node) ask(gw peer.ID, req *Request) (*Response, error) {
	ctx, cancel := context.WithTimeout(n.ctx, n.cfg.RequestTimeout)
	defer cancel()
	s, err := n.host.NewStream(ctx, gw, ProtocolID(n.genesis.ChainID))
	if err != nil {
		return nil, err
	}
	defer s.Close()
	if err := s.SetDeadline(time.Now().Add(n.cfg.RequestTimeout)); err != nil {
		_ = s.Reset() // best effort after the error returned
		return nil, err
	}
	if err := WriteFrame(s, req.Encode()); err != nil {
		_ = s.Reset()
		return nil, err
	}
	if err := s.CloseWrite(); err != nil {
		_ = s.Reset()
		return nil, err
	}
	raw, err := ReadFrame(s, MaxResponseBytes)
	if err != nil {
		_ = s.Reset()
		return nil, err
	}
	resp, err := DecodeResponse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadGateway, err)
	}
	if resp.Status == StatusError {
		return nil, fmt.Errorf("gateway error %s: %s", resp.Reason, resp.Text)
	}
	return resp, nil
}

// follow asks gw for the latest final header, verifies its finality and
// fetches the headers below it that the node lacks (one batch a call
// while a gap remains).
func (n *Node) follow(gw peer.ID) error {
	n.mu.Lock()
	trust, head, g := n.trust, n.head, n.gap
	n.mu.Unlock()
	if g.High >= g.Low {
		return n.backfill(gw)
	}
	resp, err := n.ask(gw, &Request{Op: OpLatest, TrustHeight: trust.Checkpoint.Height})
	if err != nil {
		return err
	}
	if resp.Status == StatusUnknown {
		return nil // nothing final above our trust yet
	}
	if resp.Status != StatusOK {
		return fmt.Errorf("%w: latest answered status %d", ErrBadGateway, resp.Status)
	}
	h, err := types.DecodeHeader(resp.Header)
	if err != nil {
		return fmt.Errorf("%w: latest header: %w", ErrBadGateway, err)
	}
	if head != nil && h.Height <= head.Height {
		if h.Height == head.Height && h.Hash() != head.Hash() {
			return fmt.Errorf("%w: two final headers at height %d", ErrForked, h.Height)
		}
		return nil // nothing new
	}
	next, err := VerifyFinality(trust, h, resp.Finality)
	if err != nil {
		return fmt.Errorf("%w: latest header %d: %w", ErrBadGateway, h.Height, err)
	}
	low := uint64(1)
	if head != nil {
		low = head.Height + 1
	}
	ng := gap{Low: low, High: h.Height - 1}
	w := &storeWrite{state: &storeState{head: h.Height, gap: ng, trust: encodeTrust(next)}}
	w.header(h.Height, h.Encode())
	if err := n.ds.Write(w); err != nil {
		return fmt.Errorf("light: storing the head: %w", err)
	}
	n.mu.Lock()
	n.head, n.gap = h, ng
	n.finality++
	if next.Checkpoint.Height > n.trust.Checkpoint.Height {
		n.trust = next
	}
	n.mu.Unlock()
	n.log.Debug("final head verified", "height", h.Height, "hash", h.Hash(), "trust", next.Checkpoint.Height)
	if ng.High < ng.Low {
		return n.checkLink(h)
	}
	return n.backfill(gw)
}

// checkLink checks that h links to the header below it that the node
// holds (the genesis for height 1).
func (n *Node) checkLink(h *types.Header) error {
	if h.Height == 1 {
		if h.Parent != n.genesis.Hash() {
			return fmt.Errorf("%w: header 1's parent is not the genesis", ErrForked)
		}
		return nil
	}
	below, err := n.Header(n.ctx, h.Height-1)
	if errors.Is(err, ErrNotFound) {
		return nil // below the headers this node keeps
	}
	if err != nil {
		return err
	}
	if below.Hash() != h.Parent {
		return fmt.Errorf("%w: header %d's parent is not the header held at %d", ErrForked, h.Height, h.Height-1)
	}
	return nil
}

// backfillParallel is how many header batches backfill asks for at once
// (the server serves 4 requests of one peer at a time).
const backfillParallel = 3

// backfill fetches the top batches of the gap (up to backfillParallel at
// once), checks the hash links down from the header above the gap, and
// stores them, top batch first; the gap shrinks by what verified.
func (n *Node) backfill(gw peer.ID) error {
	n.mu.Lock()
	g := n.gap
	n.mu.Unlock()
	if g.High < g.Low {
		return nil
	}
	above, err := n.Header(n.ctx, g.High+1)
	if err != nil {
		return fmt.Errorf("light: header above the gap: %w", err)
	}
	type batch struct {
		from, to uint64
		headers  [][]byte
		err      error
	}
	var batches []*batch
	for to := g.High; len(batches) < backfillParallel && to >= g.Low; {
		from := g.Low
		if to-g.Low >= MaxHeaders {
			from = to - MaxHeaders + 1
		}
		batches = append(batches, &batch{from: from, to: to})
		if from == g.Low {
			break
		}
		to = from - 1
	}
	var wg sync.WaitGroup
	for _, b := range batches {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b.headers, b.err = n.fetchHeaders(gw, b.from, b.to)
		}()
	}
	wg.Wait()
	for _, b := range batches {
		if b.err != nil {
			return b.err
		}
		if above, err = n.storeHeaders(above, b.from, b.headers); err != nil {
			return err
		}
	}
	return nil
}

// fetchHeaders asks gw for the headers from..to and returns the top ones
// it got: a server may stop early at its byte limit, and then the rest is
// asked for again.
func (n *Node) fetchHeaders(gw peer.ID, from, to uint64) ([][]byte, error) {
	var out [][]byte
	for top := to; ; {
		resp, err := n.ask(gw, &Request{Op: OpHeaders, From: from, To: top})
		if err != nil {
			return nil, err
		}
		if resp.Status != StatusOK || len(resp.Headers) == 0 || uint64(len(resp.Headers)) > top-from+1 {
			return nil, fmt.Errorf("%w: %d headers for %d..%d", ErrBadGateway, len(resp.Headers), from, top)
		}
		out = append(out, resp.Headers...)
		if got := from + uint64(len(resp.Headers)) - 1; got < top {
			// The lowest ones came; the rest above them next.
			from = got + 1
			continue
		}
		return out, nil
	}
}

// storeHeaders checks that raws (the headers from..from+len-1) link down
// from above, stores them and lowers the gap below them. It returns the
// lowest header.
func (n *Node) storeHeaders(above *types.Header, from uint64, raws [][]byte) (*types.Header, error) {
	w := &storeWrite{}
	want := above.Parent
	var h *types.Header
	var err error
	for i := len(raws) - 1; i >= 0; i-- {
		raw := raws[i]
		if h, err = types.DecodeHeader(raw); err != nil {
			return nil, fmt.Errorf("%w: header %d: %w", ErrBadGateway, from+uint64(i), err)
		}
		if h.Height != from+uint64(i) || h.ChainID != n.genesis.ChainID {
			return nil, fmt.Errorf("%w: asked for header %d, got chain %q height %d", ErrBadGateway, from+uint64(i), h.ChainID, h.Height)
		}
		// DecodeHeader checked that raw is the header's canonical
		// encoding, so its hash is the hash of raw.
		if types.Hash(sha256.Sum256(raw)) != want {
			return nil, fmt.Errorf("%w: header %d does not hash to its child's parent", ErrBadGateway, h.Height)
		}
		want = h.Parent
		w.header(h.Height, raw)
	}
	n.mu.Lock()
	ng := gap{Low: n.gap.Low, High: from - 1}
	n.mu.Unlock()
	w.state = &storeState{head: n.ds.State().head, gap: ng, trust: n.ds.State().trust}
	if ng.High < ng.Low {
		// The gap closed: the lowest header must link to the one held
		// below it (or the genesis).
		if err := n.checkLink(h); err != nil {
			return nil, err
		}
	}
	if err := n.ds.Write(w); err != nil {
		return nil, fmt.Errorf("light: storing headers: %w", err)
	}
	n.mu.Lock()
	n.gap = ng
	n.mu.Unlock()
	return h, nil
}

// forward moves the queue: it asks the status of the readings submitted
// (in nonce order, stopping at the first not final), verifies and records
// those that are final, removes them from the queue, and submits the
// others to gw.
func (n *Node) forward(gw peer.ID) error {
	if err := n.refill(); err != nil {
		return err
	}
	n.mu.Lock()
	window := slices.Clone(n.window)
	n.mu.Unlock()
	// Status, oldest first: nonces commit in order.
	for _, it := range window {
		if it.done {
			continue
		}
		if it.sent == "" {
			break
		}
		resp, err := n.ask(gw, &Request{Op: OpStatus, Hash: it.hash[:], TrustHeight: n.currentTrust().Checkpoint.Height})
		if err != nil {
			return err
		}
		if resp.Status == StatusUnknown {
			n.setSent(it, "") // dropped from the mempool: submit again
			break
		}
		if resp.Status != StatusCommitted {
			break
		}
		if err := n.prove(it, resp); errors.Is(err, errNotYet) {
			break
		} else if err != nil {
			return err
		}
	}
	if err := n.trim(); err != nil {
		return err
	}
	// Submit what this gateway does not hold yet, in order.
	n.mu.Lock()
	window = slices.Clone(n.window)
	n.mu.Unlock()
	for _, it := range window {
		if it.done || it.sent == gw {
			continue
		}
		resp, err := n.ask(gw, &Request{Op: OpSubmit, Tx: it.raw})
		if err != nil {
			return err
		}
		switch resp.Status {
		case StatusAccepted, StatusPending, StatusCommitted:
			n.setSent(it, gw)
		case StatusRefused:
			if retryable(resp.Reason) {
				n.log.Debug("reading not taken yet", "nonce", it.tx.Nonce, "reason", resp.Reason, "text", resp.Text)
				return nil
			}
			n.log.Warn("reading refused", "nonce", it.tx.Nonce, "reason", resp.Reason, "text", resp.Text)
			n.mu.Lock()
			n.refused++
			n.mu.Unlock()
			if err := n.fill(it, resp.Reason); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%w: submit answered status %d", ErrBadGateway, resp.Status)
		}
	}
	return n.trim()
}

// fill replaces a reading refused for good by a filler record with its
// nonce (FillerStream), submitted next. A filler refused in turn, and a
// reading whose nonce is taken (replayed_nonce: by an earlier filler, or
// by another user of the key), is dropped.
func (n *Node) fill(it *item, reason string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if reason == "replayed_nonce" || !it.replaced.IsZero() {
		it.done = true
		return nil
	}
	val, err := json.Marshal(map[string]string{"refused": it.hash.String(), "reason": reason})
	if err != nil {
		return err
	}
	tx, err := types.NewDataRecordTx(n.genesis.ChainID, it.tx.Nonce, n.cfg.Clock().UnixMilli(),
		types.DataRecord{Stream: FillerStream, ContentType: "application/json", Value: val})
	if err != nil {
		return err
	}
	tx.Sign(n.key)
	it.replaced, it.raw, it.tx, it.hash, it.sent = it.hash, tx.Encode(), tx, tx.Hash(), ""
	return nil
}

// retryable reports whether a refusal may pass later or elsewhere.
func retryable(reason string) bool {
	switch reason {
	case "mempool_busy", "mempool_full", "nonce_too_far", "nonce_conflict", "no_chain", "time_in_future", "sender_not_admitted", "other":
		return true
	}
	return false
}

func (n *Node) currentTrust() Trust {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.trust
}

func (n *Node) setSent(it *item, gw peer.ID) {
	n.mu.Lock()
	it.sent = gw
	n.mu.Unlock()
}

// errNotYet: a reading's block is below the trusted checkpoint and its
// header is not fetched yet; prove it after the backfill.
var errNotYet = errors.New("light: header not held yet")

// prove verifies a committed reading's inclusion proof and the finality
// of its block, then writes its receipt. A block above the trusted
// checkpoint is proven final by the gateway's finality proof
// (VerifyFinality); one at or below it by the header this node holds
// there, which is hash-linked down from a header proven final.
func (n *Node) prove(it *item, resp *Response) error {
	p, err := DecodeTxProof(resp.Proof)
	if err != nil {
		return fmt.Errorf("%w: proof of %s: %w", ErrBadGateway, it.hash, err)
	}
	h, tx, err := p.Verify()
	if err != nil {
		return fmt.Errorf("%w: proof of %s: %w", ErrBadGateway, it.hash, err)
	}
	if p.TxHash != it.hash || !bytes.Equal(p.Tx, it.raw) || h.ChainID != n.genesis.ChainID {
		return fmt.Errorf("%w: proof of %s proves another transaction", ErrBadGateway, it.hash)
	}
	trust := n.currentTrust()
	next := trust
	held, herr := n.Header(n.ctx, h.Height)
	switch {
	case h.Height > trust.Checkpoint.Height:
		if next, err = VerifyFinality(trust, h, resp.Finality); err != nil {
			return fmt.Errorf("%w: finality of block %d: %w", ErrBadGateway, h.Height, err)
		}
		n.mu.Lock()
		n.finality++
		n.mu.Unlock()
		if herr == nil && held.Hash() != h.Hash() {
			return fmt.Errorf("%w: proof's header %d differs from the final header held", ErrForked, h.Height)
		}
	case herr == nil:
		if held.Hash() != h.Hash() {
			return fmt.Errorf("%w: proof's header %d is not the final header held", ErrBadGateway, h.Height)
		}
	case errors.Is(herr, ErrNotFound):
		return errNotYet
	default:
		return herr
	}
	r := Receipt{Hash: it.hash, Nonce: tx.Nonce, Timestamp: tx.Timestamp, Height: h.Height, BlockTime: h.Time, Replaced: it.replaced}
	w := &storeWrite{}
	w.receipt(tx.Nonce, marshal(r))
	if err := n.ds.Write(w); err != nil {
		return fmt.Errorf("light: receipt: %w", err)
	}
	n.mu.Lock()
	it.done = true
	if it.replaced.IsZero() {
		n.recorded++
	}
	if next.Checkpoint.Height > n.trust.Checkpoint.Height {
		n.trust = next
	}
	n.mu.Unlock()
	n.log.Debug("reading recorded", "nonce", tx.Nonce, "height", h.Height)
	return nil
}

// refill tops the window up from the queue.
func (n *Node) refill() error {
	n.mu.Lock()
	have := len(n.window)
	n.mu.Unlock()
	if have >= n.cfg.MaxInFlight {
		return nil
	}
	raws, err := n.queue.Peek(n.ctx, n.cfg.MaxInFlight)
	if err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, raw := range raws[min(len(n.window), len(raws)):] {
		tx, err := types.DecodeTx(raw)
		if err != nil {
			return fmt.Errorf("light: queued item: %w", err)
		}
		n.window = append(n.window, &item{raw: raw, tx: tx, hash: tx.Hash()})
	}
	return nil
}

// trim removes the proven prefix of the window from the queue.
func (n *Node) trim() error {
	n.mu.Lock()
	k := 0
	for k < len(n.window) && n.window[k].done {
		k++
	}
	n.mu.Unlock()
	if k == 0 {
		return nil
	}
	if err := n.queue.Remove(n.ctx, k); err != nil {
		return err
	}
	n.mu.Lock()
	n.window = slices.Delete(n.window, 0, k)
	n.mu.Unlock()
	return nil
}

// isLoopback reports whether host:port names a loopback address.
func isLoopback(addr string) bool {
	h, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
