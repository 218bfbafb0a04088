// Package byzantine is a byzantine sixdomain peer: it joins a running chain
// over libp2p, speaking the real protocol (the chain's gossip topics, their
// message IDs and encodings, the sync protocol), and attacks it. Honest
// nodes run unchanged; this package only talks to them.
//
// Attacks (see Attack): bad-sigs floods transactions with bad signatures;
// replay gossips again transactions the chain already committed;
// malformed sends oversized and malformed messages on every topic and on
// the sync protocol (as client and as server); fake-blocks gossips blocks
// at the next height sealed by the attacker's own key, which is no
// authority's; equivocate signs conflicting finality votes with a real
// authority key.
//
// What honest nodes do about it: bad-sigs, malformed and fake-blocks are
// rejected by the gossip validators, which scores the attacker below the
// graylist threshold within about a second, and the node then disconnects
// and refuses it (node/gater.go); replays are ignored without a penalty
// (an honest relay can deliver a transaction that committed meanwhile);
// equivocation becomes an evidence transaction on the ledger, and the
// authorities vote the offender out.
package byzantine

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p"
	lp2pps "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger/types"
	sixps "github.com/sixdomain/sixdomain/pubsub"
)

// Attack names one attack.
type Attack string

// The attacks.
const (
	BadSigs     Attack = "bad-sigs"
	Replay      Attack = "replay"
	Malformed   Attack = "malformed"
	FakeBlocks  Attack = "fake-blocks"
	Equivocate  Attack = "equivocate"
	NoAttack    Attack = "none" // join and watch only (a baseline)
	maxObserved        = 4096   // transactions and votes remembered
)

// AllAttacks lists every attack.
var AllAttacks = []Attack{BadSigs, Replay, Malformed, FakeBlocks, Equivocate}

// ParseAttacks parses a comma-separated list of attack names.
func ParseAttacks(s string) ([]Attack, error) {
	var out []Attack
	for _, f := range strings.Split(s, ",") {
		a := Attack(strings.TrimSpace(f))
		switch {
		case a == "":
		case a == NoAttack:
			out = append(out, a)
		case a == "all":
			out = append(out, AllAttacks...)
		case slices.Contains(AllAttacks, a):
			out = append(out, a)
		default:
			return nil, fmt.Errorf("unknown attack %q (want %v, all or none)", a, AllAttacks)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no attack named")
	}
	return out, nil
}

// Config describes the attacker.
type Config struct {
	Genesis *types.Genesis
	// Bootstrap lists the honest peers to join through; the attacker
	// keeps redialling them.
	Bootstrap []peer.AddrInfo
	// Listen addresses ("" picks loopback TCP and QUIC on free ports).
	Listen []string
	// Key is the attacker's own key (a new one if nil): its peer ID, and
	// the proposer of fake blocks.
	Key *identity.PrivateKey
	// AuthorityKey is a real authority's key, for equivocate.
	AuthorityKey *identity.PrivateKey
	// APIs are honest nodes' HTTP API base URLs (optional): the head for
	// fake blocks, committed transactions for replay, and the scores the
	// nodes give the attacker (Watch).
	APIs []string
	// Rate is the messages per second of each flooding attack (default 200).
	Rate float64
	// Equivocations is how many conflicting vote pairs equivocate signs
	// (default 3), one per observed vote height.
	Equivocations int
	Logger        *slog.Logger
}

// Attacker is a running byzantine peer. Close stops it.
type Attacker struct {
	cfg  Config
	key  *identity.PrivateKey
	log  *slog.Logger
	host host.Host
	ps   *lp2pps.PubSub

	topics map[string]*lp2pps.Topic // by topic name
	subs   []*lp2pps.Subscription
	api    *apiClient

	obs observed

	sent    sync.Map // Attack → *atomic.Int64
	servedB atomic.Int64

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
}

// observed is what the attacker learnt from the topics and the APIs.
type observed struct {
	mu    sync.Mutex
	head  *types.Header // highest block header seen
	txs   [][]byte      // committed or gossiped transactions (ring)
	txSet map[types.Hash]bool
	txPos int
	votes []*types.FinalityVote // newest last, bounded
}

func (o *observed) addTx(raw []byte) {
	tx, err := types.DecodeTx(raw)
	if err != nil || tx.VerifySignature() != nil {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.txSet == nil {
		o.txSet = map[types.Hash]bool{}
	}
	h := tx.Hash()
	if o.txSet[h] {
		return
	}
	if len(o.txs) < maxObserved {
		o.txs = append(o.txs, raw)
	} else {
		if old, err := types.DecodeTx(o.txs[o.txPos]); err == nil {
			delete(o.txSet, old.Hash())
		}
		o.txs[o.txPos] = raw
		o.txPos = (o.txPos + 1) % maxObserved
	}
	o.txSet[h] = true
}

func (o *observed) addBlock(b *types.Block) {
	for _, tx := range b.Txs {
		o.addTx(tx.Encode())
	}
	o.addHeader(b.Header)
}

func (o *observed) addHeader(h types.Header) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.head == nil || h.Height > o.head.Height {
		o.head = &h
	}
}

func (o *observed) addVote(v *types.FinalityVote) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.votes = append(o.votes, v)
	if len(o.votes) > maxObserved {
		o.votes = slices.Delete(o.votes, 0, len(o.votes)-maxObserved)
	}
}

func (o *observed) headHeader() *types.Header {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.head
}

func (o *observed) txAt(i int) ([]byte, int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.txs) == 0 {
		return nil, 0
	}
	return o.txs[i%len(o.txs)], len(o.txs)
}

// lastVote returns the newest observed normal vote (not a commit vote)
// whose target is above height.
func (o *observed) lastVote(above uint64) *types.FinalityVote {
	o.mu.Lock()
	defer o.mu.Unlock()
	for i := len(o.votes) - 1; i >= 0; i-- {
		if o.votes[i].Target.Height > above && !o.votes[i].IsCommit() {
			return o.votes[i]
		}
	}
	return nil
}

// New starts the attacker's host and router, joins the chain's topics and
// dials the bootstrap peers. It does not attack yet (Run does).
func New(ctx context.Context, cfg Config) (_ *Attacker, err error) {
	if cfg.Genesis == nil {
		return nil, errors.New("byzantine: genesis required")
	}
	if cfg.Rate <= 0 {
		cfg.Rate = 200
	}
	if cfg.Equivocations <= 0 {
		cfg.Equivocations = 3
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if len(cfg.Listen) == 0 {
		cfg.Listen = []string{"/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/udp/0/quic-v1"}
	}
	key := cfg.Key
	if key == nil {
		if key, err = identity.Generate(nil); err != nil {
			return nil, fmt.Errorf("byzantine: key: %w", err)
		}
	}
	a := &Attacker{cfg: cfg, key: key, log: cfg.Logger.With("attacker", key.Public().PeerID().ShortString()),
		topics: map[string]*lp2pps.Topic{}, api: newAPIClient(cfg.APIs)}
	a.ctx, a.cancel = context.WithCancel(context.Background())
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	if a.host, err = libp2p.New(libp2p.Identity(key.Libp2p()), libp2p.ListenAddrStrings(cfg.Listen...),
		libp2p.UserAgent("sixd-byzantine"), libp2p.DisableMetrics()); err != nil {
		return nil, fmt.Errorf("byzantine: host: %w", err)
	}
	// The honest nodes' message ID and signature policy, so that they take
	// the attacker's messages in; no validators and no scoring here, and a
	// maximum message size above theirs, so that oversized messages leave.
	chainID := cfg.Genesis.ChainID
	if a.ps, err = lp2pps.NewGossipSub(a.ctx, a.host,
		lp2pps.WithMessageSignaturePolicy(lp2pps.StrictNoSign), lp2pps.WithNoAuthor(),
		lp2pps.WithMessageIdFn(sixps.MessageID), lp2pps.WithMaxMessageSize(2*sixps.MaxMessageSize),
		lp2pps.WithSeenMessagesTTL(sixps.SeenTTL), lp2pps.WithFloodPublish(true),
		lp2pps.WithPeerOutboundQueueSize(4096)); err != nil {
		return nil, fmt.Errorf("byzantine: gossipsub: %w", err)
	}
	for _, name := range []string{sixps.TxTopic(chainID), sixps.BatchTopic(chainID), sixps.BlockTopic(chainID), sixps.VoteTopic(chainID), sixps.CertTopic(chainID)} {
		t, err := a.ps.Join(name)
		if err != nil {
			return nil, fmt.Errorf("byzantine: join %s: %w", name, err)
		}
		a.topics[name] = t
		sub, err := t.Subscribe(lp2pps.WithBufferSize(1024))
		if err != nil {
			return nil, fmt.Errorf("byzantine: subscribe %s: %w", name, err)
		}
		a.subs = append(a.subs, sub)
		a.spawn(func() { a.record(name, sub) })
	}
	a.spawn(a.keepConnected)
	if len(cfg.APIs) > 0 {
		a.spawn(a.pollAPI)
	}
	return a, nil
}

func (a *Attacker) spawn(f func()) {
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		f()
	}()
}

// ID returns the attacker's peer ID.
func (a *Attacker) ID() peer.ID { return a.host.ID() }

// Host returns the attacker's libp2p host.
func (a *Attacker) Host() host.Host { return a.host }

// Close stops the attacker's goroutines and its host.
func (a *Attacker) Close() error {
	var err error
	a.once.Do(func() {
		a.cancel()
		for _, s := range a.subs {
			s.Cancel()
		}
		a.wg.Wait()
		if a.host != nil {
			err = a.host.Close()
		}
	})
	return err
}

// record keeps what arrives on a topic: transactions (for replay), the
// head block (for fake blocks) and votes (for equivocation).
func (a *Attacker) record(topic string, sub *lp2pps.Subscription) {
	chainID := a.cfg.Genesis.ChainID
	for {
		m, err := sub.Next(a.ctx)
		if err != nil {
			return
		}
		if m.ReceivedFrom == a.host.ID() {
			continue
		}
		switch topic {
		case sixps.TxTopic(chainID):
			a.obs.addTx(m.Data)
		case sixps.BatchTopic(chainID):
			if raws, err := types.BatchTxs(m.Data); err == nil {
				for _, raw := range raws {
					a.obs.addTx(raw)
				}
			}
		case sixps.BlockTopic(chainID):
			if b, err := types.DecodeCompactBlock(m.Data); err == nil && b.Header.ChainID == chainID {
				a.obs.addHeader(b.Header)
			}
		case sixps.VoteTopic(chainID):
			if v, err := sixps.CheckVote(chainID, m.Data); err == nil {
				a.obs.addVote(v)
			}
		}
	}
}

// keepConnected dials the bootstrap peers now and whenever a connection
// drops, as a persistent attacker would.
func (a *Attacker) keepConnected() {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		for _, info := range a.cfg.Bootstrap {
			if a.host.Network().Connectedness(info.ID) == network.Connected {
				continue
			}
			ctx, cancel := context.WithTimeout(a.ctx, 5*time.Second)
			if err := a.host.Connect(ctx, info); err != nil {
				a.log.Debug("dial", "peer", info.ID, "err", err)
			}
			cancel()
		}
		select {
		case <-a.ctx.Done():
			return
		case <-t.C:
		}
	}
}

// WaitJoined waits until the attacker shares every chain topic with at
// least one peer.
func (a *Attacker) WaitJoined(ctx context.Context) error {
	for {
		ok := true
		for _, t := range a.topics {
			if len(t.ListPeers()) == 0 {
				ok = false
			}
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("byzantine: joining the topics: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (a *Attacker) count(k Attack, n int64) {
	c, _ := a.sent.LoadOrStore(k, new(atomic.Int64))
	c.(*atomic.Int64).Add(n)
}

// Sent returns how many messages each attack sent so far.
func (a *Attacker) Sent() map[Attack]int64 {
	out := map[Attack]int64{}
	a.sent.Range(func(k, v any) bool {
		out[k.(Attack)] = v.(*atomic.Int64).Load()
		return true
	})
	return out
}

// publish gossips data on a topic; an error (the router closed, say) is
// logged, not fatal: the attack goes on.
func (a *Attacker) publish(ctx context.Context, topic string, data []byte, k Attack) {
	t := a.topics[topic]
	if t == nil {
		return
	}
	if err := t.Publish(ctx, data); err != nil {
		if ctx.Err() == nil {
			a.log.Debug("publish", "topic", topic, "err", err)
		}
		return
	}
	a.count(k, 1)
}

// Run runs the attacks concurrently until ctx ends or d passes (d ≤ 0:
// until ctx ends), and returns what each sent.
func (a *Attacker) Run(ctx context.Context, d time.Duration, attacks ...Attack) (map[Attack]int64, error) {
	if d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { // the attacker's Close ends the run too
		select {
		case <-a.ctx.Done():
			cancel()
		case <-ctx.Done():
		}
	}()
	var wg sync.WaitGroup
	errs := make([]error, len(attacks))
	for i, k := range attacks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = a.run(ctx, k)
		}()
	}
	wg.Wait()
	return a.Sent(), errors.Join(errs...)
}

func (a *Attacker) run(ctx context.Context, k Attack) error {
	a.log.Info("attack starts", "attack", k)
	switch k {
	case BadSigs:
		return a.every(ctx, a.cfg.Rate, a.badSig)
	case Replay:
		return a.every(ctx, a.cfg.Rate, a.replayOne)
	case Malformed:
		return a.malformed(ctx)
	case FakeBlocks:
		return a.every(ctx, 4, a.fakeBlock)
	case Equivocate:
		return a.equivocate(ctx)
	case NoAttack:
		<-ctx.Done()
		return nil
	}
	return fmt.Errorf("byzantine: unknown attack %q", k)
}

// every calls f rate times a second (in bursts of up to 10 ms worth) until
// ctx ends. f's n counts calls.
func (a *Attacker) every(ctx context.Context, rate float64, f func(ctx context.Context, n int)) error {
	const tick = 10 * time.Millisecond
	t := time.NewTicker(tick)
	defer t.Stop()
	start, n := time.Now(), 0
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		due := int(time.Since(start).Seconds() * rate)
		for ; n < due && ctx.Err() == nil; n++ {
			f(ctx, n)
		}
	}
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}
