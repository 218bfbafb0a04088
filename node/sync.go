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

	"github.com/sixdomain/sixdomain/ledger/types"
)

// The sync protocol, /sixdomain/<chain-id>/sync/1: the client opens a
// stream and writes one request, the CBOR array [from_height, max_blocks];
// the server answers [head_height, [block bytes, ...], [vote bytes, ...]]
// holding up to max_blocks consecutive blocks of its head chain from
// from_height (at most syncMaxBlocks and syncMaxBytes; final ones first,
// then unfinalized ones) and the finality certificate of its last final
// block (the votes of the supermajority link that finalized it), then
// closes the stream.
const (
	syncMaxBlocks      = 64
	syncMaxBytes       = 16 << 20
	syncMaxRequest     = 32
	syncMaxVotes       = 1024
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
	_           struct{} `cbor:",toarray"`
	Head        uint64
	Blocks      [][]byte
	Certificate [][]byte
}

var syncDec, _ = cbor.DecOptions{MaxArrayElements: syncMaxVotes + 16, IndefLength: cbor.IndefLengthForbidden,
	TagsMd: cbor.TagsForbidden, MaxNestedLevels: 4}.DecMode()

func (n *Node) serveSync(s network.Stream) {
	defer s.Close()
	_ = s.SetDeadline(time.Now().Add(syncRequestTimeout))
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
	final := n.store.State().Height
	max := int(min(req.Max, syncMaxBlocks))
	resp := syncResponse{Head: n.chain.Head().Height}
	size := 0
	h := req.From
	for ; h <= final && len(resp.Blocks) < max; h++ {
		b, err := n.store.RawBlock(n.ctx, h)
		if err != nil {
			break
		}
		if size+len(b) > syncMaxBytes && len(resp.Blocks) > 0 {
			break
		}
		size += len(b)
		resp.Blocks = append(resp.Blocks, b)
	}
	if h > final && len(resp.Blocks) < max {
		for _, b := range n.chain.HeadBlocks(h, max-len(resp.Blocks)) {
			enc := b.Encode()
			if size+len(enc) > syncMaxBytes && len(resp.Blocks) > 0 {
				break
			}
			size += len(enc)
			resp.Blocks = append(resp.Blocks, enc)
		}
	}
	for _, v := range n.chain.Certificate(n.ctx) {
		resp.Certificate = append(resp.Certificate, v.Encode())
	}
	out, err := cbor.Marshal(resp)
	if err != nil {
		_ = s.Reset()
		return
	}
	if _, err := s.Write(out); err != nil {
		_ = s.Reset()
	}
}

// errBadPeer marks a peer that served data that does not verify.
var errBadPeer = errors.New("peer served invalid blocks")

// fetchBlocks asks p for blocks from `from`.
func (n *Node) fetchBlocks(ctx context.Context, p peer.ID, from uint64) (uint64, []*types.Block, []*types.FinalityVote, error) {
	ctx, cancel := context.WithTimeout(ctx, syncRequestTimeout)
	defer cancel()
	s, err := n.host.NewStream(ctx, p, syncProtocol(n.genesis.ChainID))
	if err != nil {
		return 0, nil, nil, err
	}
	defer s.Close()
	deadline, _ := ctx.Deadline()
	_ = s.SetDeadline(deadline)
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
	if len(resp.Certificate) > syncMaxVotes {
		return 0, nil, nil, fmt.Errorf("%w: certificate of %d votes", errBadPeer, len(resp.Certificate))
	}
	var cert []*types.FinalityVote
	for _, raw := range resp.Certificate {
		v, err := types.DecodeVote(raw)
		if err != nil {
			return 0, nil, nil, fmt.Errorf("%w: certificate: %w", errBadPeer, err)
		}
		cert = append(cert, v)
	}
	return resp.Head, blocks, cert, nil
}

// syncLoop polls peers for blocks above our head, on a timer and whenever
// the chain loop sees a gap.
func (n *Node) syncLoop() {
	t := time.NewTicker(n.cfg.SyncInterval)
	defer t.Stop()
	banned := map[peer.ID]time.Time{}
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
		case <-n.syncKick:
		}
		n.syncRound(banned)
	}
}

// syncRound fetches consecutive batches from up to syncParallel peers at
// once (peer i asks for the i-th batch above our head), applies them in
// order, and repeats while that makes progress.
func (n *Node) syncRound(banned map[peer.ID]time.Time) {
	now := n.cfg.Clock()
	var peers []peer.ID
	for _, p := range n.host.Network().Peers() {
		if until, ok := banned[p]; ok && now.Before(until) {
			continue
		}
		peers = append(peers, p)
	}
	if len(peers) == 0 {
		return
	}
	rand.Shuffle(len(peers), func(i, j int) { peers[i], peers[j] = peers[j], peers[i] })
	type result struct {
		peer   peer.ID
		head   uint64
		blocks []*types.Block
		cert   []*types.FinalityVote
		err    error
	}
	for n.ctx.Err() == nil {
		from := n.chain.Head().Height + 1
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
		applied, maxHead := 0, uint64(0)
		for _, r := range results {
			if r.err != nil {
				if errors.Is(r.err, errBadPeer) {
					n.penalise(r.peer, banned, r.err)
				}
				break // later batches would not connect
			}
			maxHead = max(maxHead, r.head)
			for _, b := range r.blocks {
				if err := n.toChain(n.ctx, chainInput{block: b, from: r.peer}, true); err != nil {
					if n.ctx.Err() == nil {
						n.penalise(r.peer, banned, fmt.Errorf("%w: %w", errBadPeer, err))
					}
					return
				}
				applied++
			}
			if len(r.cert) > 0 {
				if err := n.toChain(n.ctx, chainInput{votes: r.cert, cert: true, from: r.peer}, true); err != nil {
					n.log.Debug("sync certificate not applied", "peer", r.peer, "err", err)
				}
			}
			if len(r.blocks) < syncMaxBlocks {
				break
			}
		}
		if applied > 0 {
			n.metrics.synced.Add(float64(applied))
		}
		if applied == 0 || maxHead <= n.chain.Head().Height {
			return
		}
	}
}

func (n *Node) penalise(p peer.ID, banned map[peer.ID]time.Time, err error) {
	n.log.Warn("dropping peer that served invalid blocks", "peer", p, "err", err)
	banned[p] = n.cfg.Clock().Add(10 * time.Minute)
	n.host.ConnManager().TagPeer(p, "bad-sync", -1000)
	_ = n.host.Network().ClosePeer(p)
}
