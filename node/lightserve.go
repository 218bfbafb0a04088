package node

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/sixdomain/sixdomain/chain"
	"github.com/sixdomain/sixdomain/consensus"
	"github.com/sixdomain/sixdomain/ledger"
	"github.com/sixdomain/sixdomain/ledger/types"
	"github.com/sixdomain/sixdomain/mempool"
	"github.com/sixdomain/sixdomain/node/light"
	sixps "github.com/sixdomain/sixdomain/pubsub"
)

// The light protocol's server side (docs/PROTOCOL.md, "Light clients"):
// every node that keeps the chain answers light nodes' submit, status,
// latest and headers requests on /sixdomain/<chain-id>/light/1.
const (
	// lightTimeout bounds one request: reading it, serving it (a submit
	// may wait for gossip peers) and writing the answer.
	lightTimeout = 15 * time.Second
	// lightPerPeer bounds the requests one peer has in progress; more are
	// reset at once.
	lightPerPeer = 4
)

// lightLimiter counts the requests in progress per peer.
type lightLimiter struct {
	mu   sync.Mutex
	busy map[peer.ID]int
}

func (l *lightLimiter) acquire(p peer.ID) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.busy[p] >= lightPerPeer {
		return false
	}
	l.busy[p]++
	return true
}

func (l *lightLimiter) inProgress(p peer.ID) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.busy[p]
}

func (l *lightLimiter) release(p peer.ID) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.busy[p]--; l.busy[p] <= 0 {
		delete(l.busy, p)
	}
}

// startLightServe serves the light protocol.
func (n *Node) startLightServe() {
	n.lightLim = &lightLimiter{busy: map[peer.ID]int{}}
	n.host.SetStreamHandler(light.ProtocolID(n.genesis.ChainID), func(s network.Stream) { n.serveLight(s, n.lightLim) })
}

func (n *Node) serveLight(s network.Stream, lim *lightLimiter) {
	p := s.Conn().RemotePeer()
	if !lim.acquire(p) {
		_ = s.Reset() // best effort: the peer is over its limit
		return
	}
	defer lim.release(p)
	defer s.Close()
	if err := s.SetDeadline(time.Now().Add(n.wall(lightTimeout))); err != nil {
		_ = s.Reset() // without a deadline a slow peer would hold the stream
		return
	}
	raw, err := light.ReadFrame(s, light.MaxRequestBytes)
	if err != nil {
		_ = s.Reset()
		return
	}
	ctx, cancel := context.WithTimeout(n.ctx, n.wall(lightTimeout))
	defer cancel()
	var resp light.Response
	if req, err := light.DecodeRequest(raw); err != nil {
		resp = lightError("bad_request", err)
	} else {
		resp = n.LightAnswer(ctx, req)
	}
	if err := light.WriteFrame(s, resp.Encode()); err != nil {
		n.log.Debug("light: answering a peer", "peer", p, "err", err)
		_ = s.Reset()
	}
}

func lightError(reason string, err error) light.Response {
	return light.Response{Status: light.StatusError, Reason: reason, Text: truncateString(err.Error(), light.MaxTextLen)}
}

// LightAnswer serves one light-protocol request (as DecodeRequest returns
// it; others are answered bad_request).
func (n *Node) LightAnswer(ctx context.Context, req *light.Request) light.Response {
	if req == nil {
		return lightError("bad_request", errors.New("no request"))
	}
	if _, err := light.DecodeRequest(req.Encode()); err != nil {
		return lightError("bad_request", err)
	}
	if n.ctx.Err() != nil {
		return lightError("closed", ErrClosed)
	}
	if n.cfg.relayOnly() {
		return lightError("no_chain", ErrNoChain)
	}
	switch req.Op {
	case light.OpSubmit:
		return n.lightSubmit(ctx, req.Tx)
	case light.OpStatus:
		return n.lightStatus(ctx, types.Hash(req.Hash), req.TrustHeight)
	case light.OpLatest:
		return n.lightLatest(ctx, req.TrustHeight)
	case light.OpHeaders:
		return n.lightHeaders(ctx, req.From, req.To)
	}
	return lightError("bad_request", fmt.Errorf("unknown operation %d", req.Op))
}

// lightKnown reports whether the transaction is committed (in a final
// block) or pending (in the mempool or an unfinalized block).
func (n *Node) lightKnown(ctx context.Context, h types.Hash) (uint8, bool) {
	if _, _, err := n.store.TxLocation(ctx, h); err == nil {
		return light.StatusCommitted, true
	}
	if n.pool.Has(h) {
		return light.StatusPending, true
	}
	if _, _, _, ok := n.chain.Included(h); ok {
		return light.StatusPending, true
	}
	return 0, false
}

// lightSubmit admits a transaction as POST /v1/txs does (Node.Submit, but
// without waiting for a gossip peer),
// and answers a transaction it already holds with its status instead of
// an error, so that a light node may resubmit freely.
func (n *Node) lightSubmit(ctx context.Context, data []byte) light.Response {
	tx, err := types.DecodeTx(data)
	if err != nil {
		n.metrics.txResult("light", reasonOf(err))
		return light.Response{Status: light.StatusRefused, Reason: reasonOf(err), Text: truncateString(err.Error(), light.MaxTextLen)}
	}
	h := tx.Hash()
	if st, ok := n.lightKnown(ctx, h); ok {
		return light.Response{Status: st}
	}
	// Submit returns the transaction once admitted, with an error if only
	// its first gossip failed (the rebroadcast loop sends it again).
	if admitted, err2 := n.submit(ctx, data, false); admitted != nil {
		return light.Response{Status: light.StatusAccepted}
	} else {
		err = err2
	}
	// Committed or admitted meanwhile (a replayed nonce, a duplicate).
	if st, ok := n.lightKnown(ctx, h); ok {
		return light.Response{Status: st}
	}
	if errors.Is(err, sixps.ErrDuplicate) || errors.Is(err, mempool.ErrDuplicate) {
		return light.Response{Status: light.StatusPending}
	}
	return light.Response{Status: light.StatusRefused, Reason: reasonOf(err), Text: truncateString(err.Error(), light.MaxTextLen)}
}

// lightStatus answers a transaction's status, with its inclusion proof
// once it is in a final block, and the block's finality proof for a client
// trusting the checkpoint at trustHeight when the block is above it (one
// at or below it the client proves by the headers it holds). A block this
// node cannot prove final yet (the newest final block) counts as pending.
func (n *Node) lightStatus(ctx context.Context, h types.Hash, trustHeight uint64) light.Response {
	if n.pool.Has(h) {
		return light.Response{Status: light.StatusPending}
	}
	p, err := n.store.Proof(ctx, h)
	if errors.Is(err, ledger.ErrNotFound) {
		if _, _, _, ok := n.chain.Included(h); ok {
			return light.Response{Status: light.StatusPending}
		}
		return light.Response{Status: light.StatusUnknown}
	}
	if err != nil {
		return lightError("internal", err)
	}
	resp := light.Response{Status: light.StatusCommitted, Proof: light.EncodeTxProof(p)}
	if p.Height > trustHeight {
		trust, err := n.lightTrust(ctx, trustHeight)
		if err != nil {
			return lightError("bad_trust", err)
		}
		fp, err := n.FinalityProof(ctx, p.Height, trust)
		if errors.Is(err, chain.ErrNoFinalityProof) {
			return light.Response{Status: light.StatusPending}
		}
		if err != nil {
			return lightError("internal", err)
		}
		resp.Finality = fp.Encode()
	}
	return lightSized(resp)
}

// lightTrust is the trust of a client at trustHeight, as this node's
// chain has it (the client checks proofs against its own).
func (n *Node) lightTrust(ctx context.Context, trustHeight uint64) (consensus.Trust, error) {
	if fin := n.store.State().Height; trustHeight > fin {
		return consensus.Trust{}, fmt.Errorf("trust height %d is above this node's finalized height %d", trustHeight, fin)
	}
	return n.TrustAt(ctx, trustHeight)
}

// lightSized refuses to send a response over the protocol's limit.
func lightSized(r light.Response) light.Response {
	if size := len(r.Encode()); size > light.MaxResponseBytes {
		return lightError("oversize", fmt.Errorf("answer of %d bytes exceeds %d", size, light.MaxResponseBytes))
	}
	return r
}

// lightLatest answers the latest final header this node can prove final
// to a client trusting the checkpoint at trustHeight, with the proof, or
// StatusUnknown when there is none above it yet.
func (n *Node) lightLatest(ctx context.Context, trustHeight uint64) light.Response {
	trust, err := n.lightTrust(ctx, trustHeight)
	if err != nil {
		return lightError("bad_trust", err)
	}
	h, fp, err := n.LatestFinal(ctx, trust)
	if errors.Is(err, chain.ErrNoFinalityProof) {
		return light.Response{Status: light.StatusUnknown}
	}
	if err != nil {
		return lightError("internal", err)
	}
	return lightSized(light.Response{Status: light.StatusOK, Header: h.Encode(), Finality: fp.Encode()})
}

// lightHeaders answers the final headers from..to (those that exist),
// within light.MaxHeaders and light.MaxHeaderBytes.
func (n *Node) lightHeaders(ctx context.Context, from, to uint64) light.Response {
	to = min(to, n.store.State().Height, from+light.MaxHeaders-1)
	resp := light.Response{Status: light.StatusOK}
	size := 0
	for h := from; h <= to && from > 0; h++ {
		hd, err := n.store.Header(ctx, h)
		if err != nil {
			return lightError("internal", err)
		}
		enc := hd.Encode()
		if size+len(enc) > light.MaxHeaderBytes {
			break
		}
		size += len(enc)
		resp.Headers = append(resp.Headers, enc)
	}
	return resp
}
