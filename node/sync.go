package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/sixdomain/sixdomain/ledger/types"
)

// The sync protocol, /sixdomain/<chain-id>/sync/1: the client opens a
// stream and writes one request, the CBOR array [from_height, max_blocks];
// the server answers with [head_height, [block bytes, ...]] holding up to
// max_blocks consecutive blocks from from_height (at most syncMaxBlocks and
// syncMaxBytes), then closes the stream.
const (
	syncMaxBlocks      = 64
	syncMaxBytes       = 16 << 20
	syncMaxRequest     = 32
	syncRequestTimeout = 20 * time.Second
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
	_      struct{} `cbor:",toarray"`
	Head   uint64
	Blocks [][]byte
}

var syncDec, _ = cbor.DecOptions{MaxArrayElements: syncMaxBlocks + 16, IndefLength: cbor.IndefLengthForbidden,
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
	head := n.store.State().Height
	resp := syncResponse{Head: head}
	size := 0
	for h := req.From; h <= head && len(resp.Blocks) < int(min(req.Max, syncMaxBlocks)); h++ {
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
func (n *Node) fetchBlocks(ctx context.Context, p peer.ID, from uint64) (uint64, []*types.Block, error) {
	ctx, cancel := context.WithTimeout(ctx, syncRequestTimeout)
	defer cancel()
	s, err := n.host.NewStream(ctx, p, syncProtocol(n.genesis.ChainID))
	if err != nil {
		return 0, nil, err
	}
	defer s.Close()
	deadline, _ := ctx.Deadline()
	_ = s.SetDeadline(deadline)
	req, _ := cbor.Marshal(syncRequest{From: from, Max: syncMaxBlocks})
	if _, err := s.Write(req); err != nil {
		return 0, nil, err
	}
	if err := s.CloseWrite(); err != nil {
		return 0, nil, err
	}
	raw, err := io.ReadAll(io.LimitReader(s, syncMaxBytes+64<<10))
	if err != nil {
		return 0, nil, err
	}
	var resp syncResponse
	if err := syncDec.Unmarshal(raw, &resp); err != nil {
		return 0, nil, fmt.Errorf("%w: undecodable response: %v", errBadPeer, err)
	}
	blocks := make([]*types.Block, 0, len(resp.Blocks))
	for i, rb := range resp.Blocks {
		b, err := types.DecodeBlock(rb)
		if err != nil {
			return 0, nil, fmt.Errorf("%w: block %d: %w", errBadPeer, i, err)
		}
		if b.Header.Height != from+uint64(i) {
			return 0, nil, fmt.Errorf("%w: asked for %d, got %d", errBadPeer, from+uint64(i), b.Header.Height)
		}
		blocks = append(blocks, b)
	}
	return resp.Head, blocks, nil
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

func (n *Node) syncRound(banned map[peer.ID]time.Time) {
	now := n.cfg.Clock()
	var candidates []peer.ID
	for _, p := range n.host.Network().Peers() {
		if until, ok := banned[p]; ok && now.Before(until) {
			continue
		}
		candidates = append(candidates, p)
	}
	rand.Shuffle(len(candidates), func(i, j int) { candidates[i], candidates[j] = candidates[j], candidates[i] })
	if len(candidates) > 3 {
		candidates = candidates[:3]
	}
	for _, p := range candidates {
		for n.ctx.Err() == nil {
			from := n.store.State().Height + 1
			head, blocks, err := n.fetchBlocks(n.ctx, p, from)
			if err != nil {
				if errors.Is(err, errBadPeer) {
					n.penalise(p, banned, err)
				}
				break
			}
			applied := 0
			for _, b := range blocks {
				if err := n.submitBlock(n.ctx, b, p); err != nil {
					if !errors.Is(err, context.Canceled) {
						n.penalise(p, banned, fmt.Errorf("%w: %w", errBadPeer, err))
					}
					return
				}
				applied++
			}
			if applied > 0 {
				n.metrics.synced.Add(float64(applied))
			}
			if applied == 0 || head <= n.store.State().Height {
				break
			}
		}
	}
}

func (n *Node) penalise(p peer.ID, banned map[peer.ID]time.Time, err error) {
	n.log.Warn("dropping peer that served invalid blocks", "peer", p, "err", err)
	banned[p] = n.cfg.Clock().Add(10 * time.Minute)
	n.host.ConnManager().TagPeer(p, "bad-sync", -1000)
	_ = n.host.Network().ClosePeer(p)
}
