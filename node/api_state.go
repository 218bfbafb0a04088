package node

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/sixdomain/sixdomain/chain"
	"github.com/sixdomain/sixdomain/consensus"
	"github.com/sixdomain/sixdomain/ledger"
	"github.com/sixdomain/sixdomain/ledger/types"
)

// Provable state and finality (docs/API.md): GET /v1/state/proof, and the
// finality proofs that GET /v1/proofs/{hash} and the light-client protocol
// attach.

// TrustAt returns the trust a verifier holds at the committed block at
// height (the genesis trust at 0): its checkpoint and the authority set
// after it. Light clients send their trusted height; this node builds
// proofs from it (the client checks the rest against its own trust).
func (n *Node) TrustAt(ctx context.Context, height uint64) (consensus.Trust, error) {
	t := consensus.GenesisTrust(n.genesis)
	if height == 0 {
		return t, nil
	}
	hdr, err := n.store.Header(ctx, height)
	if err != nil {
		return t, err
	}
	set, _, err := n.store.AuthoritiesAt(ctx, height)
	if err != nil {
		return t, err
	}
	t.Checkpoint = types.Checkpoint{Height: height, Hash: hdr.Hash()}
	t.Authorities = set
	return t, nil
}

// FinalityProof proves the committed block at height final to a verifier
// holding trust (consensus.VerifyFinality). chain.ErrNoFinalityProof when
// this node cannot (yet): the newest final block waits for the block that
// carries its finalizing certificate.
func (n *Node) FinalityProof(ctx context.Context, height uint64, trust consensus.Trust) (*types.FinalityProof, error) {
	return n.chain.FinalityProof(ctx, height, trust)
}

// LatestFinal returns the header of the highest block this node can prove
// final, and its proof for a verifier holding trust.
func (n *Node) LatestFinal(ctx context.Context, trust consensus.Trust) (*types.Header, *types.FinalityProof, error) {
	head := n.store.State().Height
	var lastErr error
	// The newest final block's finalizing certificate may still be in
	// memory only: step down a few blocks.
	for h := head; h > trust.Checkpoint.Height && h+8 > head; h-- {
		p, err := n.chain.FinalityProof(ctx, h, trust)
		if err != nil {
			lastErr = err
			continue
		}
		hdr, err := n.store.Header(ctx, h)
		if err != nil {
			return nil, nil, err
		}
		return hdr, p, nil
	}
	if lastErr == nil {
		lastErr = fmt.Errorf("%w: nothing final above the trusted height %d (finalized %d)", chain.ErrNoFinalityProof, trust.Checkpoint.Height, head)
	}
	return nil, nil, lastErr
}

// trustParam reads ?trust_height= (default 0, the genesis).
func (n *Node) trustParam(r *http.Request) (consensus.Trust, error) {
	var h uint64
	if s := r.URL.Query().Get("trust_height"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return consensus.Trust{}, fmt.Errorf("trust_height %q: %w", s, err)
		}
		h = v
	}
	if h > n.store.State().Height {
		return consensus.Trust{}, fmt.Errorf("trust_height %d is above the finalized height %d", h, n.store.State().Height)
	}
	return n.TrustAt(r.Context(), h)
}

// StateProof proves the value of a state-tree key after the block at
// height (0: the finalized head), with the block's finality proof for a
// verifier holding trust. The finality proof is left out, and the
// state proof still returned, when this node cannot prove the block final
// yet (the newest block); ask again after the next block.
func (n *Node) StateProof(ctx context.Context, key []byte, height uint64, trust consensus.Trust) (*types.StateProof, error) {
	sp, err := n.store.StateProof(ctx, key, height)
	if err != nil {
		return nil, err
	}
	fp, err := n.chain.FinalityProof(ctx, sp.Height, trust)
	switch {
	case errors.Is(err, chain.ErrNoFinalityProof):
	case err != nil:
		return nil, err
	default:
		sp.Finality = fp
	}
	return sp, nil
}

func (n *Node) handleStateProof(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	key, err := ledger.ParseStateKey(q.Get("key"), ParseSender)
	if err != nil {
		writeError(w, http.StatusBadRequest, err, "bad_key")
		return
	}
	var height uint64
	if s := q.Get("height"); s != "" {
		if height, err = strconv.ParseUint(s, 10, 64); err != nil {
			writeError(w, http.StatusBadRequest, fmt.Errorf("height %q: %w", s, err), "bad_height")
			return
		}
	}
	trust, err := n.trustParam(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err, "bad_trust")
		return
	}
	sp, err := n.StateProof(r.Context(), key, height, trust)
	if errors.Is(err, ledger.ErrNotFound) {
		writeError(w, http.StatusNotFound, err, "not_found")
		return
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, err, "")
		return
	}
	writeJSON(w, http.StatusOK, sp)
}

// withFinality attaches the finality proof of p's block for a verifier
// holding trust, when this node can prove it.
func (n *Node) withFinality(ctx context.Context, p *types.TxProof, trust consensus.Trust) error {
	fp, err := n.chain.FinalityProof(ctx, p.Height, trust)
	switch {
	case errors.Is(err, chain.ErrNoFinalityProof):
		return nil
	case err != nil:
		return err
	}
	p.Finality = fp
	return nil
}
