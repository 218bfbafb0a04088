package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ipfs/go-datastore"
	"github.com/libp2p/go-libp2p"
	dht "github.com/libp2p/go-libp2p-kad-dht"
	lp2pps "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/host"
	lp2pmetrics "github.com/libp2p/go-libp2p/core/metrics"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/discovery/mdns"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/net/connmgr"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	quic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sixdomain/sixdomain/chain"
	"github.com/sixdomain/sixdomain/chain/txflow"
	"github.com/sixdomain/sixdomain/clock"
	"github.com/sixdomain/sixdomain/consensus"
	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger"
	"github.com/sixdomain/sixdomain/ledger/types"
	"github.com/sixdomain/sixdomain/mempool"
	"github.com/sixdomain/sixdomain/node/light"
	sixps "github.com/sixdomain/sixdomain/pubsub"
)

// ErrClosed is returned by calls on a closed node.
var ErrClosed = errors.New("node closed")

// Node is a running sixdomain peer. Create it with New; the caller owns
// Close.
type Node struct {
	cfg     Config
	key     *identity.PrivateKey
	genesis *types.Genesis
	poa     *consensus.PoA
	chain   *chain.Chain
	log     *slog.Logger
	clk     clock.Clock

	host      host.Host
	ownsHost  bool
	ps        *lp2pps.PubSub
	txTopic   *lp2pps.Topic
	blkTopic  *lp2pps.Topic
	voteTopic *lp2pps.Topic
	certTopic *lp2pps.Topic
	certSub   *lp2pps.Subscription
	// Batches and compact blocks (txflow.go).
	batchTopic *lp2pps.Topic
	batchSub   *lp2pps.Subscription
	batcher    *txflow.Batcher
	assembler  *txflow.Assembler
	pullSem    chan struct{}
	sigq       *txflow.SigQueue // API and single-transaction signature checks, batched
	batchq     *txflow.SigQueue // gossiped batches' signature checks, merged
	txm        *txflowMetrics
	hview      headView
	recent     recentFinal
	txSub      *lp2pps.Subscription
	blkSub     *lp2pps.Subscription
	voteSub    *lp2pps.Subscription
	mdns       mdns.Service
	ds         datastore.Batching
	ownsDS     bool
	store      *ledger.Store
	pool       *mempool.Pool
	sigs       *types.SigCache
	checker    *sixps.TxChecker
	gater      *didGater
	metrics    *metrics
	registry   *prometheus.Registry
	apiServer  *http.Server
	apiAddr    net.Addr
	tracer     *gossipTracer

	metricsServer *http.Server
	metricsAddr   net.Addr

	chainIn  chan chainInput
	syncKick chan struct{}
	commits  *fanout
	events   *eventLog // nil when the API is off
	localMu  sync.Mutex
	local    map[types.Hash]localTx
	scoresMu sync.Mutex
	scores   map[peer.ID]float64
	// graylisted hands cutOffLoop the scores that hold a peer below the
	// graylist threshold.
	graylisted chan map[peer.ID]float64
	graylist   float64
	ctx        context.Context
	cancel     context.CancelFunc
	wg         sync.WaitGroup
	closeOnce  sync.Once
	closeErr   error

	// Discovery and sync progress (p2p.go, sync.go).
	dht          *dht.IpfsDHT
	discoverKick chan struct{} // a DHT lookup now (discoveryNotifee)
	relayCancels []lp2pps.RelayCancelFunc
	syncTarget   atomic.Uint64 // highest finalized height heard from peers
	synced       atomic.Bool   // a sync round reached the end of the peers' chains

	lightLim *lightLimiter // light protocol requests in progress per peer (lightserve.go)
}

// New starts a node with the given key and genesis. It returns once the
// host listens, the store is open and the node's goroutines run.
func New(ctx context.Context, key *identity.PrivateKey, g *types.Genesis, opts ...Option) (_ *Node, err error) {
	if key == nil || g == nil {
		return nil, errors.New("node: key and genesis are required")
	}
	if err := g.Validate(); err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}
	cfg := defaults(RoleDevice)
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, fmt.Errorf("node: %w", err)
		}
	}
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}
	poa, err := consensus.NewPoA(g)
	if err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}
	// n is a local, not the result: goroutines started below refer to it,
	// and a failed return must not turn it into nil under them.
	n := &Node{cfg: cfg, key: key, genesis: g, poa: poa,
		log: cfg.Logger.With("node", key.Public().PeerID().ShortString()), pool: mempool.New(cfg.Mempool),
		sigs: types.NewSigCache(cfg.sigCacheSize()), chainIn: make(chan chainInput, 256), syncKick: make(chan struct{}, 1),
		commits: newFanout(), scores: map[peer.ID]float64{}, local: map[types.Hash]localTx{}, registry: cfg.Registry,
		gater: newDIDGater(cfg.Clock), graylisted: make(chan map[peer.ID]float64, 1)}
	_, thresholds := sixps.ScoreParams(g.ChainID)
	n.graylist = thresholds.GraylistThreshold
	n.clk = cfg.timeSource()
	if n.registry == nil {
		n.registry = prometheus.NewRegistry()
	}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	// A failed New closes what it opened.
	defer func() {
		if err != nil {
			if cerr := n.Close(); cerr != nil {
				err = errors.Join(err, fmt.Errorf("node: closing after the failure: %w", cerr))
			}
		}
	}()
	if n.metrics, err = newMetrics(n.registry, n); err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}
	n.tracer = newGossipTracer(g.ChainID)
	if err := n.tracer.register(n.registry, n); err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}

	// Store.
	switch {
	case cfg.relayOnly():
		// A relay-only bootstrap node keeps an in-memory store that stays
		// at genesis: the API's queries answer from it, nothing writes it.
		n.ds, n.ownsDS = ledger.NewMemory(), true
	case cfg.Datastore != nil:
		n.ds = cfg.Datastore
	case cfg.DataDir != "":
		if n.ds, err = ledger.OpenPebble(cfg.DataDir); err != nil {
			return nil, fmt.Errorf("node: %w", err)
		}
		n.ownsDS = true
	default:
		n.ds, n.ownsDS = ledger.NewMemory(), true
	}
	// One namespace per owner (a store of the flat layout is migrated
	// first); the block commit stays one batch over n.ds.
	spaces, err := ledger.Split(ctx, n.ds)
	if err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}
	if n.store, err = ledger.Open(ctx, spaces.Ledger, g); err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}
	if n.chain, err = chain.New(ctx, chain.Config{Genesis: g, Key: key, Store: n.store, Datastore: spaces.Chain, Snapshots: spaces.Consensus,
		Pool: n.pool, Sigs: n.sigs, Now: cfg.Clock, Rand: cfg.Rand, Logger: n.log, Proposals: cfg.Proposals}); err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}

	if err := n.loadBarred(ctx); err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}

	// Host.
	if cfg.Host != nil {
		n.host = cfg.Host
	} else {
		bw := lp2pmetrics.NewBandwidthCounter()
		if n.host, err = buildHost(key, cfg, n.registry, n.gater, bw); err != nil {
			return nil, fmt.Errorf("node: %w", err)
		}
		n.ownsHost = true
		if err := n.registry.Register(newBandwidthCollector(bw)); err != nil {
			return nil, fmt.Errorf("node: metrics: %w", err)
		}
		n.spawn(func() { n.trimBandwidth(bw) })
	}
	n.host.Network().Notify(barredNotifee{n})
	n.host.Network().Notify(syncNotifee{n})

	// Gossip.
	n.checker = &sixps.TxChecker{ChainID: g.ChainID, Window: g.TimeWindow(), Now: cfg.Clock, Sigs: n.sigs,
		Nonce: n.committedNonce, Known: n.knownTx, Sender: n.checkSender,
		Admit:  func(tx *types.Tx, size int) error { return n.pool.Admit(tx, size, n.committedNonce(tx.Sender)) },
		Verify: n.verifyBatch, VerifyOne: n.verifyOne}
	n.sigq = txflow.NewSigQueue(func(txs []*types.Tx) []error { return types.VerifyTxs(txs, n.sigs) }, 1024)
	n.batchq = txflow.NewSigQueue(func(txs []*types.Tx) []error { return types.VerifyTxs(txs, n.sigs) }, 1024)
	n.ps, err = lp2pps.NewGossipSub(n.ctx, n.host, append(sixps.Options(sixps.Config{ChainID: g.ChainID,
		PeerExchange: cfg.Role == RoleBootstrap, Bootstrapper: cfg.relayOnly(), TrustedPX: n.isBootstrapPeer,
		ScoreInspect: n.setScores, ScoreInspectPeriod: time.Second, TimeScale: n.clk.Scale()}),
		append([]lp2pps.Option{lp2pps.WithRawTracer(n.tracer)}, cfg.PubSubOptions...)...)...)
	if err != nil {
		return nil, fmt.Errorf("node: gossipsub: %w", err)
	}
	if cfg.relayOnly() {
		if err := n.joinAsBootstrapper(); err != nil {
			return nil, fmt.Errorf("node: %w", err)
		}
	} else if err := n.joinChain(); err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}

	// API and metrics listener.
	if cfg.APIListen != "" {
		n.events = newEventLog(cfg.EventWindow, cfg.EventClientBuffer, time.Now(),
			func(k int) { n.metrics.eventClients.Set(float64(k)) }, n.metrics.eventsDropped.Inc)
		if err := n.startAPI(cfg.APIListen); err != nil {
			return nil, fmt.Errorf("node: api: %w", err)
		}
	}
	if cfg.MetricsListen != "" {
		if err := n.startMetrics(cfg.MetricsListen); err != nil {
			return nil, fmt.Errorf("node: metrics: %w", err)
		}
	}

	if !cfg.relayOnly() {
		n.spawn(n.chainLoop)
		n.spawn(func() { n.drainTxs() })
		n.spawn(func() { n.drainBatches() })
		n.spawn(n.gapLoop)
		n.spawn(func() { n.readBlocks() })
		n.spawn(func() { n.readVotes() })
		n.spawn(func() { n.readCerts() })
		n.spawn(n.syncLoop)
		n.spawn(n.rebroadcastLoop)
	} else if n.IsAuthority() {
		n.log.Warn("this bootstrap node's key is an authority's, but without keep_chain it seals nothing")
	}
	n.spawn(n.bootstrapLoop)
	n.spawn(n.cutOffLoop)
	if err := n.startDHT(); err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}
	if cfg.MDNS {
		n.mdns = mdns.NewMdnsService(n.host, "sixdomain-"+g.ChainID, &mdnsNotifee{n: n})
		if err := n.mdns.Start(); err != nil {
			n.log.Warn("mdns unavailable", "err", err)
			n.mdns = nil
		}
	}
	st := n.store.State()
	n.log.Info("node started", "peer", n.host.ID(), "did", key.Public().DID(), "finalized", st.Height,
		"authority", n.IsAuthority(), "relay_only", cfg.relayOnly(), "dht", cfg.dhtMode(), "addrs", n.host.Addrs())
	return n, nil
}

// joinChain registers the topic validators, joins and subscribes to the
// chain's topics and serves the sync protocol.
func (n *Node) joinChain() (err error) {
	g, poa := n.genesis, n.poa
	if err := n.ps.RegisterTopicValidator(sixps.TxTopic(g.ChainID), sixps.RelayTxValidator(n.checker, n.host.ID(), n.batchTx, n.countTxResult)); err != nil {
		return err
	}
	blockChecker := &sixps.BlockChecker{ChainID: g.ChainID, Seals: poa, Sigs: n.sigs, MaxAhead: 20_000,
		Height: func() uint64 { return n.store.State().Height }, Proposer: n.checkProposer}
	if err := n.ps.RegisterTopicValidator(sixps.BlockTopic(g.ChainID), sixps.CompactBlockValidator(blockChecker, n.host.ID(), n.countBlockResult)); err != nil {
		return err
	}
	votes := sixps.NewVoteCache(voteCacheSize)
	if err := n.ps.RegisterTopicValidator(sixps.VoteTopic(g.ChainID), sixps.VoteValidatorWithCache(g.ChainID, n.host.ID(), votes, n.countVoteResult)); err != nil {
		return err
	}
	if err := n.ps.RegisterTopicValidator(sixps.CertTopic(g.ChainID), sixps.CertValidatorWithCache(g.ChainID, n.host.ID(), votes, n.countVoteResult)); err != nil {
		return err
	}
	if n.txTopic, err = n.ps.Join(sixps.TxTopic(g.ChainID)); err != nil {
		return err
	}
	if n.blkTopic, err = n.ps.Join(sixps.BlockTopic(g.ChainID)); err != nil {
		return err
	}
	if n.txSub, err = n.txTopic.Subscribe(lp2pps.WithBufferSize(4096)); err != nil {
		return err
	}
	if n.blkSub, err = n.blkTopic.Subscribe(lp2pps.WithBufferSize(256)); err != nil {
		return err
	}
	if n.voteTopic, err = n.ps.Join(sixps.VoteTopic(g.ChainID)); err != nil {
		return err
	}
	if n.voteSub, err = n.voteTopic.Subscribe(lp2pps.WithBufferSize(1024)); err != nil {
		return err
	}
	if n.certTopic, err = n.ps.Join(sixps.CertTopic(g.ChainID)); err != nil {
		return err
	}
	if n.certSub, err = n.certTopic.Subscribe(lp2pps.WithBufferSize(256)); err != nil {
		return err
	}

	if err := n.startTxflow(); err != nil {
		return err
	}
	n.host.SetStreamHandler(syncProtocol(g.ChainID), n.serveSync)
	n.startLightServe()
	return nil
}

func buildHost(key *identity.PrivateKey, cfg Config, reg prometheus.Registerer, gater *didGater, bw *lp2pmetrics.BandwidthCounter) (host.Host, error) {
	cm, err := connmgr.NewConnManager(cfg.ConnLow, cfg.ConnHigh, connmgr.WithGracePeriod(time.Minute))
	if err != nil {
		return nil, err
	}
	// The default service limits include the relay v2 service and its
	// hop and stop protocols (256 relay streams at 64 MiB, 512 at 1 GiB),
	// enough for a bootstrap node's reservations and circuits.
	limits := rcmgr.DefaultLimits
	libp2p.SetDefaultServiceLimits(&limits)
	rm, err := rcmgr.NewResourceManager(rcmgr.NewFixedLimiter(limits.Scale(cfg.MaxMemory, cfg.MaxFDs)))
	if err != nil {
		return nil, err
	}
	opts := []libp2p.Option{
		libp2p.Identity(key.Libp2p()),
		libp2p.ListenAddrs(cfg.ListenAddrs...),
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.Transport(quic.NewTransport),
		libp2p.Security(noise.ID, noise.New),
		libp2p.Muxer(yamux.ID, yamux.DefaultTransport),
		libp2p.ConnectionManager(cm),
		libp2p.ResourceManager(rm),
		libp2p.ConnectionGater(gater),
		libp2p.Ping(true),
		libp2p.PrometheusRegisterer(reg),
		libp2p.BandwidthReporter(bw),
		libp2p.UserAgent(UserAgent(cfg.Role)),
	}
	opts = append(opts, p2pHostOptions(cfg)...)
	return libp2p.New(append(opts, cfg.HostOptions...)...)
}

func (n *Node) spawn(f func()) {
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		f()
	}()
}

// Close stops the node's goroutines, then closes what it owns.
func (n *Node) Close() error {
	n.closeOnce.Do(func() {
		n.cancel()
		var errs []error
		for _, srv := range []*http.Server{n.apiServer, n.metricsServer} {
			if srv != nil {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				errs = append(errs, srv.Shutdown(ctx))
				cancel()
			}
		}
		if n.mdns != nil {
			errs = append(errs, n.mdns.Close())
		}
		if n.txSub != nil {
			n.txSub.Cancel()
		}
		if n.blkSub != nil {
			n.blkSub.Cancel()
		}
		if n.voteSub != nil {
			n.voteSub.Cancel()
		}
		if n.certSub != nil {
			n.certSub.Cancel()
		}
		if n.batchSub != nil {
			n.batchSub.Cancel()
		}
		for _, c := range n.relayCancels {
			c()
		}
		n.wg.Wait()
		if n.batcher != nil {
			n.batcher.Close()
		}
		if n.sigq != nil {
			n.sigq.Close()
			n.batchq.Close()
		}
		if n.dht != nil {
			errs = append(errs, n.dht.Close())
		}
		if n.host != nil {
			n.host.RemoveStreamHandler(syncProtocol(n.genesis.ChainID))
			n.host.RemoveStreamHandler(pullProtocol(n.genesis.ChainID))
			n.host.RemoveStreamHandler(light.ProtocolID(n.genesis.ChainID))
		}
		if n.host != nil {
			n.host.Network().StopNotify(barredNotifee{n})
			n.host.Network().StopNotify(syncNotifee{n})
			n.host.Network().StopNotify(discoveryNotifee{n})
		}
		if n.ownsHost && n.host != nil {
			errs = append(errs, n.host.Close())
		}
		if n.ownsDS && n.ds != nil {
			errs = append(errs, n.ds.Close())
		}
		n.commits.close()
		n.closeErr = errors.Join(errs...)
	})
	return n.closeErr
}

// Host returns the node's libp2p host.
func (n *Node) Host() host.Host { return n.host }

// ID returns the node's peer ID.
func (n *Node) ID() peer.ID { return n.host.ID() }

// Key returns the node's public key.
func (n *Node) Key() identity.PublicKey { return n.key.Public() }

// Genesis returns the chain's genesis.
func (n *Node) Genesis() *types.Genesis { return n.genesis }

// IsAuthority reports whether this node is in the head's authority set.
func (n *Node) IsAuthority() bool { return n.chain.IsAuthority(n.key.Public()) }

// State returns the state after the last final (committed) block.
func (n *Node) State() ledger.State { return n.store.State() }

// Head returns the state after the head block, final or not.
func (n *Node) Head() ledger.State { return n.chain.Head() }

// Chain returns the consensus state machine (for queries).
func (n *Node) Chain() *chain.Chain { return n.chain }

// Store returns the ledger store (read it; only the node writes it).
func (n *Node) Store() *ledger.Store { return n.store }

// Registry returns the Prometheus registry holding the node's metrics.
func (n *Node) Registry() *prometheus.Registry { return n.registry }

// APIAddr returns the address the HTTP API listens on, or nil.
func (n *Node) APIAddr() net.Addr { return n.apiAddr }

// MetricsAddr returns the address of the separate metrics listener, or nil.
func (n *Node) MetricsAddr() net.Addr { return n.metricsAddr }

// MempoolLen returns the number of pending transactions.
func (n *Node) MempoolLen() int { return n.pool.Len() }

// PeerScore returns the GossipSub score this node gives p (0 if unknown).
func (n *Node) PeerScore(p peer.ID) float64 {
	n.scoresMu.Lock()
	defer n.scoresMu.Unlock()
	return n.scores[p]
}

func (n *Node) setScores(m map[peer.ID]float64) {
	n.scoresMu.Lock()
	n.scores = m
	n.scoresMu.Unlock()
	for _, s := range m {
		if s < n.graylist {
			select { // the router's goroutine calls this: never block it
			case n.graylisted <- m:
			default:
			}
			return
		}
	}
}

// cutOffLoop disconnects and bans the peers the router graylists.
func (n *Node) cutOffLoop() {
	for {
		select {
		case <-n.ctx.Done():
			return
		case m := <-n.graylisted:
			n.cutOffGraylisted(m)
		}
	}
}

// Connect dials a peer.
func (n *Node) Connect(ctx context.Context, info peer.AddrInfo) error {
	return n.host.Connect(ctx, info)
}

// AddrInfo returns the node's peer ID and listen addresses.
func (n *Node) AddrInfo() peer.AddrInfo { return peer.AddrInfo{ID: n.host.ID(), Addrs: n.host.Addrs()} }

// committedNonce (txflow.go) is the sender's last nonce on the head
// chain: what a new transaction must exceed.

// knownTx reports whether a transaction is pending or in a block of the
// chain's tree. The validators ask it only after the nonce check: a
// transaction in a final block has a nonce at or below its sender's head
// nonce, so it never gets here, and the store is not searched.
func (n *Node) knownTx(h types.Hash) bool {
	if n.pool.Has(h) {
		return true
	}
	// When a chain step holds the lock, a transaction in a head block but
	// no longer pending counts as unknown: its nonce check or the block
	// builder drops it.
	included, _ := n.chain.TryIncluded(h)
	return included
}

// Submit validates a signed transaction, adds it to the mempool and
// gossips it. The error wraps the reason (types.Reason gives its code).
func (n *Node) Submit(ctx context.Context, data []byte) (*types.Tx, error) {
	return n.submit(ctx, data, true)
}

// submit is Submit; wait lets it wait briefly for a gossip peer when none
// shares the topic yet (the light protocol does not: its client has its own
// deadline, and the rebroadcast loop sends the transaction later).
func (n *Node) submit(ctx context.Context, data []byte, wait bool) (*types.Tx, error) {
	if n.ctx.Err() != nil {
		return nil, ErrClosed
	}
	if n.cfg.relayOnly() {
		return nil, ErrNoChain
	}
	tx, err := types.DecodeTx(data)
	if err == nil {
		err = n.checkRegistryOp(tx)
	}
	if err == nil {
		_, err = n.checker.CheckDecoded(tx, len(data)) // admits it to the mempool too
	}
	n.metrics.txResult("api", reasonOf(err))
	if err != nil {
		return nil, err
	}
	n.localMu.Lock()
	n.local[tx.Hash()] = localTx{tx: tx, data: data}
	n.localMu.Unlock()
	// A message published to nobody is gone, and the seen-message cache
	// would then swallow a repeat for two minutes. So when no peer shares
	// the topic yet, wait briefly for one (if connected at all), and
	// otherwise leave the transaction to the rebroadcast loop, which sends
	// it as soon as a peer joins.
	if wait && n.chainPeers(n.batchTopic) == 0 && len(n.host.Network().Peers()) > 0 {
		wctx, cancel := context.WithTimeout(ctx, n.wall(5*time.Second))
		for n.chainPeers(n.batchTopic) == 0 && wctx.Err() == nil {
			select {
			case <-wctx.Done():
			case <-time.After(n.wall(20 * time.Millisecond)):
			}
		}
		cancel()
	}
	if n.chainPeers(n.batchTopic) == 0 {
		n.log.Debug("no gossip peers yet; transaction kept for rebroadcast", "tx", tx.Hash())
		return tx, nil
	}
	return tx, n.publishLocal(ctx, tx.Hash())
}

// checkRegistryOp refuses at once a registry operation that is next in
// its sender's nonce order but that the registry's rules refuse at the
// head: taken into the mempool, it would wait there until it expired and
// hold back the sender's later transactions. (An operation behind pending
// ones of its sender cannot be judged yet; the block builder does.)
func (n *Node) checkRegistryOp(tx *types.Tx) error {
	// On a chain with fees, any transaction that pays is judged too: one
	// whose payer cannot pay would wait in the mempool for nothing.
	if tx.Type != types.TxDID && (n.genesis.Fees == nil || tx.Type == types.TxDataRecord && n.genesis.Fees.FreeRecords) {
		return nil
	}
	if tx.Nonce != n.chain.HeadNonce(tx.Sender)+1 {
		return nil
	}
	if err := n.chain.CheckTx(tx); err != nil && !errors.Is(err, types.ErrNonceGap) && !errors.Is(err, types.ErrReplayedNonce) {
		return err
	}
	return nil
}

// publishLocal gossips a locally submitted transaction and notes when.
func (n *Node) publishLocal(ctx context.Context, h types.Hash) error {
	n.localMu.Lock()
	l, ok := n.local[h]
	if ok {
		l.published = n.cfg.Clock()
		n.local[h] = l
	}
	n.localMu.Unlock()
	if !ok {
		return nil
	}
	if err := n.batcher.Add(l.data); err != nil {
		n.tracer.publishFailed.WithLabelValues("txbatch").Inc()
		return fmt.Errorf("gossip: %w", err)
	}
	return nil
}

// localTx is a transaction submitted to this node, kept until committed so
// that it can be gossiped again.
type localTx struct {
	tx        *types.Tx
	data      []byte
	published time.Time // zero until first gossiped
}

// rebroadcastAfter is how long a local transaction waits in the mempool
// before it is gossiped again. It exceeds the routers' seen-message TTL
// (pubsub.SeenTTL), so peers treat the repeat as new.
const rebroadcastAfter = sixps.SeenTTL + 5*time.Second

// rebroadcastLoop gossips again the transactions submitted here that are
// still pending, and forgets those that left the mempool.
func (n *Node) rebroadcastLoop() {
	t := n.clk.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-t.C():
		}
		if n.chainPeers(n.batchTopic) == 0 {
			continue
		}
		now := n.cfg.Clock()
		var due []types.Hash
		n.localMu.Lock()
		for h, l := range n.local {
			switch {
			case !n.pool.Has(h):
				delete(n.local, h)
			case l.published.IsZero() || now.Sub(l.published) >= rebroadcastAfter:
				due = append(due, h)
			}
		}
		n.localMu.Unlock()
		for _, h := range due {
			if err := n.publishLocal(n.ctx, h); err != nil {
				n.log.Debug("rebroadcast", "tx", h, "err", err)
			}
		}
	}
}

// TopicPeers returns how many peers that keep the chain share the
// transaction and block topics with this node (the smaller of the two
// counts).
func (n *Node) TopicPeers() int {
	return min(n.chainPeers(n.batchTopic), n.chainPeers(n.blkTopic))
}

// checkProposer is the block validator's proposer check: it refuses a
// block whose proposer is no signer after a parent this node holds, and
// leaves blocks on unknown parents to the chain (after sync).
func (n *Node) checkProposer(h *types.Header) error {
	if err := n.chain.CheckProposer(h); err != nil && !errors.Is(err, chain.ErrUnknownParent) {
		return err
	}
	return nil
}

// countTxResult counts the transaction topic's verdicts.
func (n *Node) countTxResult(from peer.ID, _ string, err error) {
	n.metrics.txResult("gossip", reasonOf(err))
	if sixps.TxVerdict(err) == lp2pps.ValidationReject {
		n.log.Debug("rejected transaction", "from", from, "reason", reasonOf(err), "err", err)
	}
}

func (n *Node) countBlockResult(from peer.ID, reason string, err error) {
	n.metrics.blockResult(reason)
	if err != nil && reason != "stale" {
		n.log.Warn("rejected block", "from", from, "reason", reason, "err", err)
	}
}

// drainTxs keeps the transaction subscription flowing; the validator has
// already admitted what arrives to the mempool.
func (n *Node) drainTxs() {
	for {
		if _, err := n.txSub.Next(n.ctx); err != nil {
			return
		}
	}
}

// readBlocks hands gossiped blocks to the chain loop.
func (n *Node) readBlocks() {
	for {
		m, err := n.blkSub.Next(n.ctx)
		if err != nil {
			return
		}
		if m.ReceivedFrom == n.host.ID() {
			continue
		}
		cb, ok := m.ValidatorData.(*types.CompactBlock)
		if !ok {
			continue
		}
		// Blocks are rebuilt one at a time, in arrival order, so that the
		// chain sees parents first.
		b, err := n.assemble(cb, m.ReceivedFrom)
		if err != nil {
			n.log.Debug("rebuilding a gossiped block", "height", cb.Header.Height, "from", m.ReceivedFrom, "err", err)
			n.metrics.blockResult("assemble_" + types.Reason(err))
			n.kickSync() // sync fetches it whole
			continue
		}
		if err := n.toChain(n.ctx, chainInput{block: b, from: m.ReceivedFrom}, false); err != nil {
			return
		}
	}
}

// readVotes hands gossiped finality votes to the chain loop.
func (n *Node) readVotes() {
	for {
		m, err := n.voteSub.Next(n.ctx)
		if err != nil {
			return
		}
		if m.ReceivedFrom == n.host.ID() {
			continue
		}
		v, ok := m.ValidatorData.(*types.FinalityVote)
		if !ok {
			continue
		}
		if err := n.toChain(n.ctx, chainInput{votes: []*types.FinalityVote{v}, from: m.ReceivedFrom}, false); err != nil {
			return
		}
	}
}

// readCerts hands gossiped finality certificates to the chain loop.
func (n *Node) readCerts() {
	for {
		m, err := n.certSub.Next(n.ctx)
		if err != nil {
			return
		}
		if m.ReceivedFrom == n.host.ID() {
			continue
		}
		certs, ok := m.ValidatorData.([][]*types.FinalityVote)
		if !ok {
			continue
		}
		for _, c := range certs {
			if err := n.toChain(n.ctx, chainInput{votes: c, cert: true, from: m.ReceivedFrom}, false); err != nil {
				return
			}
		}
	}
}

func (n *Node) countVoteResult(from peer.ID, reason string, err error) {
	n.metrics.voteResult(reason)
	if err != nil {
		n.log.Debug("rejected vote", "from", from, "reason", reason, "err", err)
	}
}

type mdnsNotifee struct{ n *Node }

func (m *mdnsNotifee) HandlePeerFound(info peer.AddrInfo) {
	if info.ID == m.n.host.ID() || m.n.ctx.Err() != nil {
		return
	}
	ctx, cancel := context.WithTimeout(m.n.ctx, 10*time.Second)
	defer cancel()
	if err := m.n.host.Connect(ctx, info); err != nil {
		m.n.log.Debug("mdns peer unreachable", "peer", info.ID, "err", err)
	}
}

// bootstrapLoop keeps the node connected to its bootstrap peers.
func (n *Node) bootstrapLoop() {
	if len(n.cfg.Bootstrap) == 0 {
		return
	}
	for _, info := range n.cfg.Bootstrap {
		n.host.ConnManager().Protect(info.ID, "bootstrap")
	}
	t := n.clk.NewTicker(10 * time.Second)
	defer t.Stop()
	for {
		for _, info := range n.cfg.Bootstrap {
			if n.host.Network().Connectedness(info.ID) == network.Connected {
				continue
			}
			// This loop paces the redials itself: without clearing the
			// swarm's backoff, which grows with the square of the failed
			// attempts, a node whose link was down for a minute would wait
			// minutes more after it came back.
			n.clearDialBackoff(info.ID)
			ctx, cancel := context.WithTimeout(n.ctx, n.wall(10*time.Second))
			if err := n.host.Connect(ctx, info); err != nil {
				n.log.Debug("bootstrap peer unreachable", "peer", info.ID, "err", err)
			}
			cancel()
		}
		select {
		case <-n.ctx.Done():
			return
		case <-t.C():
		}
	}
}
