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
// the server answers [head_height, [block bytes, ...], [vote bytes, ...]]
// holding up to max_blocks consecutive blocks of its head chain from
// from_height (at most syncMaxBlocks and syncMaxBytes; final ones first,
// then unfinalized ones) and its finality certificates (types.EncodeCertificates:
// the link that finalized its last final block and those of the justified
// blocks above), then closes the stream.
const (
	syncMaxBlocks      = 64
	syncMaxBytes       = 16 << 20
	syncMaxRequest     = 32
	syncRequestTimeout = 20 * time.Second
	syncParallel       = 3
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
	// BlockAt reads final blocks from the store and the rest from the head
	// chain, each consistently even while blocks become final meanwhile.
	for h := req.From; len(resp.Blocks) < max; h++ {
		b, _, err := n.chain.BlockAt(n.ctx, h)
		if err != nil {
			break
		}
		enc := b.Encode()
		if size+len(enc) > syncMaxBytes && len(resp.Blocks) > 0 {
			break
		}
		size += len(enc)
		resp.Blocks = append(resp.Blocks, enc)
	}
	if certs := n.chain.Certificates(); len(certs) > 0 {
		resp.Certificates = types.EncodeCertificates(lastCerts(certs))
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

// errBadPeer marks a peer that served data that does not verify.
var errBadPeer = errors.New("peer served invalid blocks")

// fetchBlocks asks p for blocks from `from`.
func (n *Node) fetchBlocks(ctx context.Context, p peer.ID, from uint64) (uint64, []*types.Block, [][]*types.FinalityVote, error) {
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
	req, _ := cbor.Marshal(syncRequest{From: from, Max: syncMaxBlocks})
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
	return resp.Head, blocks, cert, nil
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

// syncRound walks the peers' head chains: up to syncParallel peers at
// once, peer i fetching the i-th batch, applied in order. It starts one
// batch below our head, so that a short fork of ours is replaced, or, when
// deep is set (a peer's certificate named blocks we lack: our head is on a
// longer abandoned fork), just above our finalized block. Blocks we already
// hold cost a map lookup. It stops at the end of the peers' chains. It
// reports whether a certificate named unknown blocks.
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
	type result struct {
		peer   peer.ID
		head   uint64
		blocks []*types.Block
		cert   [][]*types.FinalityVote
		err    error
	}
	failed := false // a peer did not answer: the round did not reach the end
	from := n.store.State().Height + 1
	if head := n.chain.Head().Height; !deep && head > from+syncMaxBlocks {
		from = head - syncMaxBlocks
	}
	for n.ctx.Err() == nil {
		k := min(len(peers), syncParallel)
		results := make([]result, k)
		var wg sync.WaitGroup
		for i := 0; i < k; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				r := &results[i]
				r.peer = peers[i]
				r.head, r.blocks, r.cert, r.err = n.fetchBlocks(n.ctx, peers[i], from+uint64(i*syncMaxBlocks))
			}(i)
		}
		wg.Wait()
		added, fetched, maxHead, complete := 0, 0, uint64(0), true
		for _, r := range results {
			if r.err != nil {
				failed = true
				if errors.Is(r.err, errBadPeer) {
					n.penalise(r.peer, banned, r.err)
				}
				complete = false
				break // later batches would not connect
			}
			maxHead = max(maxHead, r.head)
			for _, b := range r.blocks {
				err := n.toChain(n.ctx, chainInput{block: b, from: r.peer, sync: true}, true)
				switch {
				case err == nil:
					added++
				case errors.Is(err, chain.ErrKnown), errors.Is(err, chain.ErrStale):
				default:
					if n.ctx.Err() == nil {
						n.penalise(r.peer, banned, fmt.Errorf("%w: %w", errBadPeer, err))
					}
					return lost
				}
			}
			fetched += len(r.blocks)
			for _, c := range r.cert {
				if err := n.toChain(n.ctx, chainInput{votes: c, cert: true, from: r.peer}, true); err != nil {
					n.log.Debug("sync certificate not applied", "peer", r.peer, "err", err)
					lost = lost || errors.Is(err, consensus.ErrUnknownCheckpoint)
				} else {
					n.noteFinalized(c)
				}
			}
			if len(r.blocks) < syncMaxBlocks {
				complete = false
				break
			}
		}
		if added > 0 {
			n.metrics.synced.Add(float64(added))
		}
		from += uint64(fetched)
		if !complete || fetched == 0 || from > maxHead {
			if !failed {
				n.synced.Store(true)
			}
			return lost
		}
	}
	return lost
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
