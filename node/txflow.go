package node

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	lp2pps "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sixdomain/sixdomain/chain/txflow"
	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger/types"
	"github.com/sixdomain/sixdomain/mempool"
	sixps "github.com/sixdomain/sixdomain/pubsub"
)

// The libp2p side of package chain/txflow: the batch topic's publisher,
// the pull protocol's server and client, and the rebuilding of gossiped
// compact blocks.

// pullProtocol is the request/response protocol for transactions by hash
// or by sender and nonce (types.PullRequest, types.PullResponse).
func pullProtocol(chainID string) protocol.ID {
	return protocol.ID("/sixdomain/" + chainID + "/pull/1")
}

const (
	// pullTimeout bounds one pull exchange, on both sides.
	pullTimeout = 2 * time.Second
	// pullPerPeer bounds the wait for one peer while rebuilding a block
	// before the next peer is asked.
	pullPerPeer = 750 * time.Millisecond
	// pullServeMax bounds the pull requests served at once.
	pullServeMax = 16
	// gapInterval is how often pending nonce gaps are looked for, and
	// gapAge how long one must persist before it is pulled.
	gapInterval = 500 * time.Millisecond
	gapMax      = 64
)

// txflowMetrics are the batch, block and pull counters.
type txflowMetrics struct {
	batchTxs     prometheus.Histogram
	batchFlushes *prometheus.CounterVec
	batchResults *prometheus.CounterVec
	pulls        *prometheus.CounterVec
	pullLatency  prometheus.Histogram
	pullServed   *prometheus.CounterVec
	blockMissing prometheus.Histogram
}

func newTxflowMetrics(reg prometheus.Registerer) (*txflowMetrics, error) {
	m := &txflowMetrics{
		batchTxs: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: namespace, Name: "batch_txs",
			Help: "Transactions in each batch this node published.", Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024}}),
		batchFlushes: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "batches_published_total",
			Help: "Batches this node published, by why they left (full, age, idle)."}, []string{"reason"}),
		batchResults: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "batch_validation_total",
			Help: "Batches received, by verdict (accept, ignore, reject) and reason."}, []string{"verdict", "reason"}),
		pulls: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "pull_requests_total",
			Help: "Pull requests this node made, by kind (block, gap) and result (ok, partial, failed)."}, []string{"kind", "result"}),
		pullLatency: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: namespace, Name: "pull_seconds",
			Help: "Duration of the pull requests this node made.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)}),
		pullServed: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "pull_served_total",
			Help: "Pull requests this node answered, by result (ok, refused, busy)."}, []string{"result"}),
		blockMissing: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: namespace, Name: "block_missing_txs",
			Help: "Transactions of each gossiped block this node did not hold and pulled.", Buckets: []float64{0, 1, 4, 16, 64, 256, 1024, 4096}}),
	}
	for _, c := range []prometheus.Collector{m.batchTxs, m.batchFlushes, m.batchResults, m.pulls, m.pullLatency, m.pullServed, m.blockMissing} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// startTxflow joins the batch topic, starts the batcher and serves the
// pull protocol (joinChain calls it).
func (n *Node) startTxflow() error {
	g := n.genesis
	var err error
	if n.txm, err = newTxflowMetrics(n.registry); err != nil {
		return err
	}
	if err := n.ps.RegisterTopicValidator(sixps.BatchTopic(g.ChainID), sixps.BatchValidator(n.checker, n.host.ID(), n.countBatchResult)); err != nil {
		return err
	}
	if n.batchTopic, err = n.ps.Join(sixps.BatchTopic(g.ChainID)); err != nil {
		return err
	}
	if n.batchSub, err = n.batchTopic.Subscribe(lp2pps.WithBufferSize(1024)); err != nil {
		return err
	}
	if n.batcher, err = txflow.NewBatcher(g.ChainID, n.cfg.Batch, n.clk, n.publishBatch); err != nil {
		return err
	}
	n.assembler = &txflow.Assembler{Pool: nodeTxs{n}, Fetch: pullFetcher{n}, PerPeer: n.wall(pullPerPeer), MaxPeers: 4}
	n.pullSem = make(chan struct{}, pullServeMax)
	n.host.SetStreamHandler(pullProtocol(g.ChainID), n.servePull)
	return nil
}

// sigBusy is how many transactions may wait in the signature queue of
// single submissions before new ones are refused as busy (a few batches'
// worth: tens of milliseconds of checks).
const sigBusy = 4096

// verifyOne verifies a submitted or singly gossiped transaction's
// signature through the node's signature queue. When the queue already
// holds sigBusy transactions the node is behind on signature checks: it
// refuses at once, before spending a check, as busy (mempool_busy, 503
// with Retry-After over the API; Ignore on the tx topic, no penalty),
// which sheds the excess before it costs the most.
func (n *Node) verifyOne(tx *types.Tx) error {
	if p := n.sigq.Pending(); p >= sigBusy {
		return fmt.Errorf("%w: %w: %d signatures wait to be checked", sixps.ErrNotAdmitted, mempool.ErrBusy, p)
	}
	return n.sigq.Verify(n.ctx, tx)
}

// verifyBatch verifies a gossiped batch's signatures through the batch
// queue, together with the batches that arrive meanwhile (the batch
// topic's validators run concurrently, and batch verification costs less
// per signature the larger the batch).
func (n *Node) verifyBatch(txs []*types.Tx, cache *types.SigCache) []error {
	errs, err := n.batchq.VerifyMany(n.ctx, txs)
	if err != nil { // closing
		return types.VerifyTxs(txs, cache)
	}
	return errs
}

// publishBatch is the batcher's output.
func (n *Node) publishBatch(f txflow.Flush) {
	n.txm.batchTxs.Observe(float64(f.Txs))
	n.txm.batchFlushes.WithLabelValues(f.Reason).Inc()
	n.publish(n.batchTopic.Publish, f.Data, "txbatch")
}

// batchTx hands an admitted transaction's encoding to the batcher. A full
// batcher leaves it to the rebroadcast loop (it is in the mempool).
func (n *Node) batchTx(data []byte) {
	if err := n.batcher.Add(data); err != nil {
		n.log.Debug("batcher", "err", err)
	}
}

// countBatchResult counts the batch topic's verdicts and each
// transaction's result.
func (n *Node) countBatchResult(from peer.ID, r sixps.BatchResult, err error) {
	verdict := map[lp2pps.ValidationResult]string{lp2pps.ValidationAccept: "accept", lp2pps.ValidationIgnore: "ignore",
		lp2pps.ValidationReject: "reject"}[sixps.BatchVerdict(r)]
	if r.Txs == 0 && err != nil {
		verdict = "reject"
	}
	n.txm.batchResults.WithLabelValues(verdict, reasonOf(err)).Inc()
	for _, e := range r.Errs {
		n.metrics.txResult("batch", reasonOf(e))
	}
	if verdict == "reject" {
		n.log.Debug("rejected batch", "from", from, "reason", reasonOf(err), "err", err)
	}
}

// drainBatches keeps the batch subscription flowing; the validator has
// admitted what arrives.
func (n *Node) drainBatches() {
	for {
		if _, err := n.batchSub.Next(n.ctx); err != nil {
			return
		}
	}
}

// nodeTxs is where a compact block's transactions are looked for first:
// the mempool, then the blocks of the chain's tree.
type nodeTxs struct{ n *Node }

func (t nodeTxs) Tx(h types.Hash) (*types.Tx, bool) {
	if tx, ok := t.n.pool.Get(h); ok {
		return tx, true
	}
	if tx, ok := t.n.chain.TreeTx(h); ok {
		return tx, true
	}
	return t.n.recent.get(h)
}

// recentFinal keeps the transactions of the last few final blocks in
// memory, so that a peer still rebuilding one of them can pull its
// transactions: a block is final as soon as two thirds of the authorities
// hold it (at once with one authority), often before a slower peer asks.
type recentFinal struct {
	mu     sync.Mutex
	byHash map[types.Hash]*types.Tx
	blocks [][]types.Hash // oldest first
	size   int
}

// recentFinalBlocks and recentFinalTxs bound what recentFinal keeps.
const (
	recentFinalBlocks = 16
	recentFinalTxs    = 100_000
)

func (r *recentFinal) add(b *types.Block) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.byHash == nil {
		r.byHash = make(map[types.Hash]*types.Tx)
	}
	hs := make([]types.Hash, len(b.Txs))
	for i, tx := range b.Txs {
		hs[i] = tx.Hash()
		r.byHash[hs[i]] = tx
	}
	r.blocks = append(r.blocks, hs)
	r.size += len(hs)
	for len(r.blocks) > recentFinalBlocks || r.size > recentFinalTxs && len(r.blocks) > 1 {
		for _, h := range r.blocks[0] {
			delete(r.byHash, h)
		}
		r.size -= len(r.blocks[0])
		r.blocks = r.blocks[1:]
	}
}

func (r *recentFinal) get(h types.Hash) (*types.Tx, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	tx, ok := r.byHash[h]
	return tx, ok
}

// servePull answers one pull request: transactions by hash from the
// mempool, the chain's tree (blocks above the final one) and the last
// final blocks (recentFinal), or a sender's pending run of nonces from
// the mempool.
func (n *Node) servePull(s network.Stream) {
	defer s.Close()
	select {
	case n.pullSem <- struct{}{}:
		defer func() { <-n.pullSem }()
	default:
		n.txm.pullServed.WithLabelValues("busy").Inc()
		_ = s.Reset()
		return
	}
	if err := s.SetDeadline(time.Now().Add(n.wall(pullTimeout))); err != nil {
		_ = s.Reset()
		return
	}
	raw, err := io.ReadAll(io.LimitReader(s, types.MaxPullRequestBytes+1))
	if err != nil {
		_ = s.Reset()
		return
	}
	req, err := types.DecodePullRequest(raw)
	if err != nil {
		n.txm.pullServed.WithLabelValues("refused").Inc()
		_ = s.Reset()
		return
	}
	resp, ok := n.pullAnswer(req) // memory only: the store is not read
	if !ok {
		n.txm.pullServed.WithLabelValues("refused").Inc()
		_ = s.Reset()
		return
	}
	if _, err := s.Write(resp.Encode()); err != nil {
		_ = s.Reset()
		return
	}
	n.txm.pullServed.WithLabelValues("ok").Inc()
}

// pullAnswer looks up what a pull request asks for; ok is false for a
// request that names an invalid sender.
func (n *Node) pullAnswer(req *types.PullRequest) (resp types.PullResponse, ok bool) {
	size := 0
	if req.Count > 0 {
		sender, err := identity.PublicKeyFromBytes(req.Sender)
		if err != nil {
			return resp, false
		}
		for _, tx := range n.pool.Range(sender, req.From, uint64(req.Count)) {
			enc := tx.Encode()
			if size+len(enc)+8 > types.MaxPullResponseBytes-64 {
				break
			}
			size += len(enc) + 8
			resp.Txs = append(resp.Txs, enc)
		}
	} else {
		resp.Txs = make([][]byte, len(req.Hashes))
		for i, h := range req.Hashes {
			// Transactions of older final blocks are not served: a node
			// that lacks them syncs the block whole (reading one from the
			// store costs decoding its block).
			tx, ok := nodeTxs{n}.Tx(h)
			if !ok {
				continue
			}
			enc := tx.Encode()
			// Each entry costs its bytes and a header; an empty one, one byte.
			if size+len(enc)+8+(len(req.Hashes)-i) > types.MaxPullResponseBytes-64 {
				break
			}
			size += len(enc) + 8
			resp.Txs[i] = enc
		}
		for i := range resp.Txs {
			if resp.Txs[i] == nil {
				resp.Txs[i] = []byte{}
			}
		}
	}
	return resp, true
}

// pullFetcher is the client side of the pull protocol.
type pullFetcher struct{ n *Node }

func (f pullFetcher) Fetch(ctx context.Context, p string, hashes []types.Hash) ([]*types.Tx, error) {
	out := make([]*types.Tx, 0, len(hashes))
	for len(hashes) > 0 {
		k := min(len(hashes), types.MaxPullHashes)
		got, err := f.n.pull(ctx, peer.ID(p), &types.PullRequest{Hashes: hashes[:k]}, k, "block")
		if err != nil {
			return nil, err
		}
		out = append(out, got...)
		hashes = hashes[k:]
	}
	return out, nil
}

// pull runs one exchange of the pull protocol with p.
func (n *Node) pull(ctx context.Context, p peer.ID, req *types.PullRequest, want int, kind string) (txs []*types.Tx, err error) {
	start := time.Now()
	defer func() {
		n.txm.pullLatency.Observe(time.Since(start).Seconds())
		result := "ok"
		switch {
		case err != nil:
			result = "failed"
		case want > 0 && countNonNil(txs) < want:
			result = "partial"
		}
		n.txm.pulls.WithLabelValues(kind, result).Inc()
	}()
	ctx, cancel := context.WithTimeout(ctx, n.wall(pullTimeout))
	defer cancel()
	s, err := n.host.NewStream(ctx, p, pullProtocol(n.genesis.ChainID))
	if err != nil {
		return nil, err
	}
	defer s.Close()
	deadline, _ := ctx.Deadline()
	if err := s.SetDeadline(deadline); err != nil {
		_ = s.Reset()
		return nil, fmt.Errorf("pull: setting the stream deadline: %w", err)
	}
	if _, err := s.Write(req.Encode()); err != nil {
		return nil, err
	}
	if err := s.CloseWrite(); err != nil {
		return nil, err
	}
	raw, err := io.ReadAll(io.LimitReader(s, types.MaxPullResponseBytes+1))
	if err != nil {
		return nil, err
	}
	txs, err = types.DecodePullResponse(raw, want)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errBadPeer, err)
	}
	return txs, nil
}

func countNonNil(txs []*types.Tx) int {
	k := 0
	for _, tx := range txs {
		if tx != nil {
			k++
		}
	}
	return k
}

// assemble rebuilds a gossiped compact block: from the mempool and the
// chain's tree, and what is missing from the peer that relayed it, the
// proposer, then other peers of the block topic.
func (n *Node) assemble(cb *types.CompactBlock, from peer.ID) (*types.Block, error) {
	peers := []string{string(from)}
	peers = append(peers, string(cb.Header.Proposer.PeerID()))
	for _, p := range n.blkTopic.ListPeers() {
		peers = append(peers, string(p))
	}
	b, st, err := n.assembler.Assemble(n.ctx, cb, peers)
	n.txm.blockMissing.Observe(float64(st.Missing))
	return b, err
}

// gapLoop fills pending nonce gaps: a sender's transactions that arrived
// out of order wait in the mempool (bounded per sender), and the missing
// nonces are pulled from peers instead of waited for.
func (n *Node) gapLoop() {
	t := n.clk.NewTicker(gapInterval)
	defer t.Stop()
	seen := map[identity.PublicKey]uint64{} // sender -> gap start seen last round
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-t.C():
		}
		gaps := n.pool.Gaps(gapMax, n.committedNonce)
		next := map[identity.PublicKey]uint64{}
		for _, g := range gaps {
			next[g.Sender] = g.From
			// Pull only a gap that persisted a whole round: most close by
			// themselves as gossip catches up.
			if seen[g.Sender] != g.From {
				continue
			}
			n.fillGap(g.Sender, g.From, g.Count)
		}
		seen = next
	}
}

// fillGap asks the batch topic's peers, one after another, for a sender's
// missing nonces and checks and admits what they send.
func (n *Node) fillGap(sender identity.PublicKey, from, count uint64) {
	count = min(count, types.MaxPullNonces)
	req := &types.PullRequest{Sender: sender[:], From: from, Count: uint32(count)}
	for _, p := range n.batchTopic.ListPeers() {
		txs, err := n.pull(n.ctx, p, req, 0, "gap")
		if err != nil {
			continue
		}
		admitted := 0
		for _, tx := range txs {
			if tx == nil || tx.Sender != sender {
				continue
			}
			if _, err := n.checker.CheckDecoded(tx, len(tx.Encode())); err == nil {
				admitted++
			}
		}
		if admitted > 0 {
			return
		}
	}
}

// headView answers admission's questions about the head chain (a
// sender's nonce, the authority set, inclusion) without waiting behind a
// chain step that holds the chain's lock while it applies and commits a
// block: when the lock is taken it answers from the last values read.
// A value may then be one block old, but a nonce never below the final
// one: a nonce a little low admits a transaction of an unfinalized block
// again, which the block builder drops as replayed; a nonce high after a
// reorganisation refuses one that its sender's node gossips again.
// Neither changes what a block may hold.
type headView struct {
	// seq counts the chain steps that changed the head (dispatch); a
	// nonce read at the current seq is still the head's.
	seq    atomic.Uint64
	mu     sync.Mutex
	nonces map[identity.PublicKey]seenNonce
	auth   []identity.PublicKey
	// dids caches the finalized DID records the admission check reads,
	// valid while the store's height is the one they were read at.
	dids      map[identity.PublicKey]*types.DIDRecord
	didHeight uint64
}

type seenNonce struct {
	nonce, seq uint64
}

// headViewMax bounds the nonces remembered; past it the map starts over.
const headViewMax = 1 << 17

func (n *Node) committedNonce(k identity.PublicKey) uint64 {
	v := &n.hview
	seq := v.seq.Load()
	v.mu.Lock()
	c, cached := v.nonces[k]
	v.mu.Unlock()
	if cached && c.seq == seq {
		return c.nonce
	}
	x, ok := n.chain.TryHeadNonce(k)
	if !ok {
		if !cached {
			return n.chain.HeadNonce(k)
		}
		// Never below the final nonce: a final transaction sent again is
		// always refused as replayed.
		final, err := n.store.Nonce(k)
		if err != nil {
			return n.chain.HeadNonce(k)
		}
		return max(c.nonce, final)
	}
	v.mu.Lock()
	if len(v.nonces) >= headViewMax || v.nonces == nil {
		v.nonces = make(map[identity.PublicKey]seenNonce)
	}
	v.nonces[k] = seenNonce{nonce: x, seq: seq}
	v.mu.Unlock()
	return x
}

// headChanged tells the head view that a chain step moved the head.
func (n *Node) headChanged() { n.hview.seq.Add(1) }

// senderDID is the store's DID record of k through the head view's cache.
func (n *Node) senderDID(k identity.PublicKey) (*types.DIDRecord, error) {
	v := &n.hview
	h := n.store.State().Height
	v.mu.Lock()
	if v.didHeight == h {
		if rec, ok := v.dids[k]; ok {
			v.mu.Unlock()
			return rec, nil
		}
	}
	v.mu.Unlock()
	rec, err := n.store.DID(k)
	if err != nil {
		return nil, err
	}
	v.mu.Lock()
	if v.didHeight != h || v.dids == nil || len(v.dids) >= headViewMax {
		v.dids, v.didHeight = make(map[identity.PublicKey]*types.DIDRecord), h
	}
	v.dids[k] = rec
	v.mu.Unlock()
	return rec, nil
}

// isAuthority is chain.IsAuthority through the head view.
func (n *Node) isAuthority(k identity.PublicKey) bool {
	v := &n.hview
	if auth, ok := n.chain.TryAuthorities(); ok {
		v.mu.Lock()
		v.auth = auth
		v.mu.Unlock()
		return slices.Contains(auth, k)
	}
	v.mu.Lock()
	auth := v.auth
	v.mu.Unlock()
	if auth == nil {
		return n.chain.IsAuthority(k)
	}
	return slices.Contains(auth, k)
}
