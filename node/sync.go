package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/sixdomain/sixdomain/chain"
	"github.com/sixdomain/sixdomain/consensus"
	"github.com/sixdomain/sixdomain/ledger/types"
)

// The sync protocol, /sixdomain/<chain-id>/sync/1: the client opens a
// stream and writes one request, the CBOR array [from_height, max_blocks];
// the server answers [head_height, [block bytes, ...], certificates]
// holding up to max_blocks consecutive blocks of its head chain from
// from_height (at most syncMaxBlocks and syncMaxBytes; final ones first,
// then unfinalized ones) and finality certificates (types.EncodeCertificates):
// first, when it holds one, the certificate that finalized the highest
// block of the answer whose child is in the answer too (so that a node
// catching up finalizes range by range), then the link that finalized its
// last final block and those of the justified blocks above; then it closes
// the stream.
const (
	syncMaxBlocks      = 256
	syncMaxBytes       = 16 << 20
	syncMaxRequest     = 32
	syncRequestTimeout = 20 * time.Second
	// syncParallel is how many requests a round keeps in flight (spread
	// over up to as many peers): the next ranges arrive while the chain
	// applies the current one.
	syncParallel = 3
	// syncBacktrack is how far below our head a round starts, so that a
	// short fork of ours is replaced.
	syncBacktrack = 64
	// syncCertSearch bounds the store reads a server spends looking for
	// the certificate that finalized a block of its answer.
	syncCertSearch = syncMaxBlocks
	// syncFeedBlocks is how many blocks of a range the chain loop takes
	// in one step (a few milliseconds of work, so that gossip and votes
	// are not kept waiting long).
	syncFeedBlocks = 16
)

func syncProtocol(chainID string) protocol.ID {
	return protocol.ID("/sixdomain/" + chainID + "/sync/1")
}

type syncRequest struct {
	_    struct{} `cbor:",toarray"`
	From uint64
	Max  uint32
}

type syncResponse struct {
	_            struct{} `cbor:",toarray"`
	Head         uint64
	Blocks       [][]byte
	Certificates []byte
}

var syncDec = func() cbor.DecMode {
	dm, err := cbor.DecOptions{MaxArrayElements: syncMaxBlocks + 16, IndefLength: cbor.IndefLengthForbidden,
		TagsMd: cbor.TagsForbidden, MaxNestedLevels: 4}.DecMode()
	if err != nil {
		panic(err) // constant options
	}
	return dm
}()

func (n *Node) serveSync(s network.Stream) {
	defer s.Close()
	// The stream is reset (best effort, the peer is told nothing more)
	// wherever serving fails.
	if err := s.SetDeadline(time.Now().Add(n.wall(syncRequestTimeout))); err != nil {
		// Without a deadline a slow peer would hold this stream for good.
		n.log.Debug("sync: setting the stream deadline", "peer", s.Conn().RemotePeer(), "err", err)
		_ = s.Reset()
		return
	}
	raw, err := io.ReadAll(io.LimitReader(s, syncMaxRequest+1))
	if err != nil || len(raw) > syncMaxRequest {
		_ = s.Reset()
		return
	}
	var req syncRequest
	if err := syncDec.Unmarshal(raw, &req); err != nil || req.From == 0 {
		_ = s.Reset()
		return
	}
	max := int(min(req.Max, syncMaxBlocks))
	resp := syncResponse{Head: n.chain.Head().Height}
	size := 0
	lastFinal := uint64(0) // the highest final block of the answer
	var hashes []types.Hash
	// BlockAt reads final blocks from the store and the rest from the head
	// chain, each consistently even while blocks become final meanwhile.
	for h := req.From; len(resp.Blocks) < max; h++ {
		b, final, err := n.chain.BlockAt(n.ctx, h)
		if err != nil {
			break
		}
		enc := b.Encode()
		if size+len(enc) > syncMaxBytes && len(resp.Blocks) > 0 {
			break
		}
		size += len(enc)
		resp.Blocks = append(resp.Blocks, enc)
		hashes = append(hashes, b.Hash())
		if final {
			lastFinal = h
		}
	}
	var certs [][]*types.FinalityVote
	if len(hashes) > 1 && lastFinal > 0 {
		if c := n.rangeCert(req.From, lastFinal, hashes); c != nil {
			certs = append(certs, c)
		}
	}
	if tail := lastCerts(n.chain.Certificates()); len(tail) > 0 {
		if len(tail)+len(certs) > types.MaxCertificates {
			tail = tail[len(tail)+len(certs)-types.MaxCertificates:]
		}
		certs = append(certs, tail...)
	}
	if len(certs) > 0 {
		resp.Certificates = types.EncodeCertificates(certs)
	}
	out, err := cbor.Marshal(resp)
	if err != nil {
		_ = s.Reset()
		return
	}
	if _, err := s.Write(out); err != nil {
		n.log.Debug("sync: answering a peer", "peer", s.Conn().RemotePeer(), "err", err)
		_ = s.Reset()
	}
}

// rangeCert returns the stored certificate that finalized the highest
// block at or below lastFinal of the answer (blocks from `from`, whose
// hashes are given) whose link leads to the child in the answer, looking at
// up to syncCertSearch heights; nil if there is none. (A stored link may
// name a child the answer does not hold: one that was never committed
// here, the node having sealed another at its height since a restart.)
func (n *Node) rangeCert(from, lastFinal uint64, hashes []types.Hash) []*types.FinalityVote {
	at := func(cp types.Checkpoint) bool {
		return cp.Height >= from && cp.Height-from < uint64(len(hashes)) && hashes[cp.Height-from] == cp.Hash
	}
	top := min(lastFinal, from+uint64(len(hashes))-2)
	for h := top; h >= from && h+syncCertSearch > top; h-- {
		c, err := n.chain.StoredFinalizingCertificate(n.ctx, h)
		if err != nil {
			n.log.Debug("sync: reading a finalizing certificate", "height", h, "err", err)
			return nil
		}
		if len(c) > 0 && at(c[0].Source) && at(c[0].Target) {
			return c
		}
	}
	return nil
}

// errBadPeer marks a peer that served data that does not verify.
var errBadPeer = errors.New("peer served invalid blocks")

// fetchBlocks asks p for up to max blocks from `from`, and checks the
// signatures of their transactions ahead of the chain (verifySigs).
func (n *Node) fetchBlocks(ctx context.Context, p peer.ID, from uint64, max uint32) (uint64, []*types.Block, [][]*types.FinalityVote, error) {
	ctx, cancel := context.WithTimeout(ctx, n.wall(syncRequestTimeout))
	defer cancel()
	s, err := n.host.NewStream(ctx, p, syncProtocol(n.genesis.ChainID))
	if err != nil {
		return 0, nil, nil, err
	}
	defer s.Close()
	deadline, _ := ctx.Deadline()
	if err := s.SetDeadline(deadline); err != nil {
		_ = s.Reset() // best effort after the error returned
		return 0, nil, nil, fmt.Errorf("sync: setting the stream deadline: %w", err)
	}
	req, _ := cbor.Marshal(syncRequest{From: from, Max: max})
	if _, err := s.Write(req); err != nil {
		return 0, nil, nil, err
	}
	if err := s.CloseWrite(); err != nil {
		return 0, nil, nil, err
	}
	raw, err := io.ReadAll(io.LimitReader(s, syncMaxBytes+64<<10))
	if err != nil {
		return 0, nil, nil, err
	}
	var resp syncResponse
	if err := syncDec.Unmarshal(raw, &resp); err != nil {
		return 0, nil, nil, fmt.Errorf("%w: undecodable response: %v", errBadPeer, err)
	}
	if len(resp.Blocks) > int(max) {
		return 0, nil, nil, fmt.Errorf("%w: asked for %d blocks, got %d", errBadPeer, max, len(resp.Blocks))
	}
	blocks := make([]*types.Block, 0, len(resp.Blocks))
	for i, rb := range resp.Blocks {
		b, err := types.DecodeBlock(rb)
		if err != nil {
			return 0, nil, nil, fmt.Errorf("%w: block %d: %w", errBadPeer, i, err)
		}
		if b.Header.Height != from+uint64(i) {
			return 0, nil, nil, fmt.Errorf("%w: asked for %d, got %d", errBadPeer, from+uint64(i), b.Header.Height)
		}
		blocks = append(blocks, b)
	}
	var cert [][]*types.FinalityVote
	if len(resp.Certificates) > 0 {
		if cert, err = types.DecodeCertificates(resp.Certificates); err != nil {
			return 0, nil, nil, fmt.Errorf("%w: certificates: %w", errBadPeer, err)
		}
	}
	n.verifySigs(ctx, blocks)
	return resp.Head, blocks, cert, nil
}

// verifySigs checks the signatures of the blocks' transactions on all
// cores, into the node's signature cache, while the chain loop applies the
// ranges before: the chain's own check (Block.VerifyTxs, through the same
// cache) then finds them verified. A signature that fails here is not
// cached, and the chain refuses its block as before. This one call is
// where the batch verifier (types.VerifyTxs) runs.
func (n *Node) verifySigs(ctx context.Context, blocks []*types.Block) {
	var txs []*types.Tx
	for _, b := range blocks {
		txs = append(txs, b.Txs...)
	}
	// More than the cache holds would evict what the chain is about to
	// look up (up to syncParallel ranges are in flight).
	if len(txs) == 0 || len(txs) > n.cfg.sigCacheSize()/(2*syncParallel) {
		return
	}
	// The batch verifier splits the work over all cores; a failure is
	// not cached, and the chain refuses its block as before.
	_ = types.VerifyTxs(txs, n.sigs)
}

// syncLoop polls peers for blocks above our head, on a timer and whenever
// the chain loop sees a gap.
func (n *Node) syncLoop() {
	t := n.clk.NewTicker(n.cfg.SyncInterval)
	defer t.Stop()
	banned := map[peer.ID]time.Time{}
	deep := true // after a start, our head may be on a fork the peers left
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-t.C():
		case <-n.syncKick:
		}
		deep = n.syncRound(banned, deep)
	}
}

// syncResult is one range a peer served.
type syncResult struct {
	peer   peer.ID
	from   uint64
	head   uint64
	blocks []*types.Block
	cert   [][]*types.FinalityVote
	err    error
}

// syncRound walks the peers' head chains: fetchAhead keeps up to
// syncParallel requests in flight (over up to as many peers) while the
// ranges are applied in order. It starts syncBacktrack blocks below our
// head, so that a short fork of ours is replaced, or, when deep is set (a
// peer's certificate named blocks we lack: our head is on a longer
// abandoned fork), just above our finalized block. Blocks we already hold
// cost a map lookup. It stops at the end of the peers' chains. It reports
// whether a certificate named unknown blocks.
func (n *Node) syncRound(banned map[peer.ID]time.Time, deep bool) (lost bool) {
	now := n.cfg.Clock()
	var peers []peer.ID
	for _, p := range n.host.Network().Peers() {
		if until, ok := banned[p]; ok && now.Before(until) {
			continue
		}
		if !n.servesChain(p) || !n.directlyConnected(p) {
			continue
		}
		peers = append(peers, p)
	}
	if len(peers) == 0 {
		return false
	}
	rand.Shuffle(len(peers), func(i, j int) { peers[i], peers[j] = peers[j], peers[i] })
	from := n.store.State().Height + 1
	if head := n.chain.Head().Height; !deep && head > from+syncBacktrack {
		from = head - syncBacktrack
	}
	ctx, cancel := context.WithCancel(n.ctx)
	results := make(chan *syncResult)
	fetched := make(chan struct{})
	go func() {
		defer close(fetched)
		n.fetchAhead(ctx, peers, from, results)
	}()
	// The fetcher stops when ctx ends, and the round waits for it.
	defer func() {
		cancel()
		<-fetched
	}()
	failed := false // a peer did not answer: the round did not reach the end
	for r := range results {
		if r.err != nil {
			failed = true
			if errors.Is(r.err, errBadPeer) {
				n.penalise(r.peer, banned, r.err)
			}
			break
		}
		added := 0
		for rest := r.blocks; len(rest) > 0; {
			k := min(len(rest), syncFeedBlocks)
			var got int
			// got is read only after the chain loop answered: at
			// shutdown toChain may return while it still runs.
			if err := n.toChain(n.ctx, chainInput{blocks: rest[:k], added: &got, from: r.peer, sync: true}, true); err != nil {
				if n.ctx.Err() == nil {
					n.penalise(r.peer, banned, fmt.Errorf("%w: %w", errBadPeer, err))
				}
				return lost
			}
			added += got
			rest = rest[k:]
		}
		if added > 0 {
			n.metrics.synced.Add(float64(added))
		}
		top := r.from + uint64(len(r.blocks)) - 1 // the highest height fetched so far
		atEnd := len(r.blocks) == 0 || top >= r.head
		for _, c := range r.cert {
			if len(c) == 0 || !atEnd && c[0].Target.Height > top {
				// A certificate above the blocks fetched so far: a
				// later range of this round brings its blocks.
				continue
			}
			if err := n.toChain(n.ctx, chainInput{votes: c, cert: true, from: r.peer}, true); err != nil {
				n.log.Debug("sync certificate not applied", "peer", r.peer, "err", err)
				lost = lost || errors.Is(err, consensus.ErrUnknownCheckpoint)
			} else {
				n.noteFinalized(c)
			}
		}
	}
	if !failed && n.ctx.Err() == nil {
		n.synced.Store(true)
	}
	return lost
}

// feedSync adds consecutive blocks from sync to the chain, in the chain
// loop, counting those it took in *in.added; blocks it holds already or
// that are below the finalized height are passed over. It stops at the
// first block refused otherwise, with its error.
func (n *Node) feedSync(in chainInput) error {
	for _, b := range in.blocks {
		err := n.feed(chainInput{block: b, from: in.from, sync: true})
		switch {
		case err == nil:
			*in.added++
		case errors.Is(err, chain.ErrKnown), errors.Is(err, chain.ErrStale):
		default:
			return err
		}
	}
	return nil
}

// fetchAhead fetches consecutive ranges from `from` on, keeping up to
// syncParallel requests in flight (peer after peer), and sends them to out
// in height order. A request is aimed at the height after the previous
// one's expected end; when a peer answers short of that (its byte bound or
// a lower block limit), the requests beyond are dropped and fetching goes
// on from where the answer ended, asking that many. It stops, closing out,
// after a failed request, at the end of a peer's chain, or when ctx ends,
// once its requests have ended.
func (n *Node) fetchAhead(ctx context.Context, peers []peer.ID, from uint64, out chan<- *syncResult) {
	defer close(out)
	type flight struct {
		from   uint64
		done   chan *syncResult
		cancel context.CancelFunc
	}
	var (
		wg    sync.WaitGroup
		queue []flight
	)
	defer func() {
		for _, f := range queue {
			f.cancel()
		}
		wg.Wait()
	}()
	next, span, turn := from, uint32(syncMaxBlocks), 0
	for {
		for len(queue) < syncParallel {
			fctx, fcancel := context.WithCancel(ctx)
			f := flight{from: next, done: make(chan *syncResult, 1), cancel: fcancel}
			p, max := peers[turn%len(peers)], span
			turn++
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer fcancel()
				r := &syncResult{peer: p, from: f.from}
				r.head, r.blocks, r.cert, r.err = n.fetchBlocks(fctx, p, f.from, max)
				f.done <- r
			}()
			queue = append(queue, f)
			next += uint64(span)
		}
		f := queue[0]
		var r *syncResult
		select {
		case r = <-f.done:
		case <-ctx.Done():
			return
		}
		queue = queue[1:]
		select {
		case out <- r:
		case <-ctx.Done():
			return
		}
		end := r.from + uint64(len(r.blocks)) // the next height to fetch
		if r.err != nil || len(r.blocks) == 0 || end > r.head {
			return
		}
		if len(r.blocks) < int(span) {
			for _, f := range queue {
				f.cancel()
			}
			queue = queue[:0]
			next, span = end, uint32(len(r.blocks))
		}
	}
}

func (n *Node) penalise(p peer.ID, banned map[peer.ID]time.Time, err error) {
	n.log.Warn("dropping peer that served invalid blocks", "peer", p, "err", err)
	banned[p] = n.cfg.Clock().Add(10 * time.Minute)
	n.host.ConnManager().TagPeer(p, "bad-sync", -1000)
	_ = n.host.Network().ClosePeer(p) // best effort: it is banned and tagged already
}

// catchUpSlack is how many heights the peers' finalized height may lead
// ours by before the node counts as catching up (about two slots: votes
// and certificates travel while blocks keep coming).
const catchUpSlack = 2

// noteFinalized raises the sync target to the height a verified
// certificate finalizes: a supermajority link s → t with t the child of s,
// or s's commit link (t == s), finalizes s (consensus.FinalizedBy).
func (n *Node) noteFinalized(cert []*types.FinalityVote) {
	f, ok := consensus.FinalizedBy(cert)
	if !ok {
		return
	}
	h := f.Height
	for {
		cur := n.syncTarget.Load()
		if h <= cur || n.syncTarget.CompareAndSwap(cur, h) {
			return
		}
	}
}

// SyncTarget is the highest finalized height heard from peers (in the
// certificates they served during sync).
func (n *Node) SyncTarget() uint64 { return n.syncTarget.Load() }

// CatchingUp reports whether the node is still catching up with its
// peers: its first sync round has not reached the end of their chains, or
// they reported a finalized height more than catchUpSlack above its own.
// A relay-only bootstrap node and the lone authority of a one-authority
// chain never are.
func (n *Node) CatchingUp() bool {
	if n.cfg.relayOnly() || n.loneAuthority() {
		return false
	}
	if !n.synced.Load() {
		return true
	}
	return n.syncTarget.Load() > n.store.State().Height+catchUpSlack
}

// loneAuthority reports whether this node is the only authority of its
// chain: it has no one to sync from and needs no one.
func (n *Node) loneAuthority() bool {
	return len(n.chain.Authorities()) == 1 && n.IsAuthority()
}

// syncNotifee starts a sync round as soon as a peer connects while the
// node has not completed one yet, instead of at the next tick: a fresh
// node catches up, and turns ready, sooner.
type syncNotifee struct{ n *Node }

func (s syncNotifee) Listen(network.Network, ma.Multiaddr)       {}
func (s syncNotifee) ListenClose(network.Network, ma.Multiaddr)  {}
func (s syncNotifee) Disconnected(network.Network, network.Conn) {}
func (s syncNotifee) Connected(network.Network, network.Conn) {
	if !s.n.synced.Load() {
		s.n.kickSync()
	}
}
