package chain

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/ipfs/go-datastore"

	"github.com/sixdomain/sixdomain/consensus"
	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger"
	"github.com/sixdomain/sixdomain/ledger/types"
)

// The chain's certificate records (in its namespace, written in the commit
// batch of the block they belong to):
//
//	/cert/j/<height, 16 hex>  the votes of the link that justified the
//	                          finalized block at height (EncodeCertificates
//	                          of one certificate), when this node saw it
//	/cert/f/<height, 16 hex>  the votes of the link that finalized the block
//	                          at height: from it to its child, or its commit
//	                          link (source == target)
func justifiedCertKey(height uint64) datastore.Key {
	return datastore.RawKey(fmt.Sprintf("/cert/j/%016x", height))
}

func finalizingCertKey(height uint64) datastore.Key {
	return datastore.RawKey(fmt.Sprintf("/cert/f/%016x", height))
}

// Bounds of a finality proof this node builds.
const (
	// maxProofHeaders bounds the headers between the proven block and
	// the finalized block whose certificate the proof carries.
	maxProofHeaders = 4096
	// handoffSearch bounds how far above an authority-set change the
	// search for a handoff certificate goes.
	handoffSearch = 1024
)

// ErrNoFinalityProof: the node cannot prove the block final from the
// given trust (not final yet, below the trusted checkpoint, or a
// certificate it would need was never seen by this node).
var ErrNoFinalityProof = errors.New("chain: no finality proof")

// FinalityProof builds the proof that the committed block at height is
// final, for a verifier holding trust (consensus.VerifyFinality): the
// handoffs across authority-set changes above trust's checkpoint, then the
// certificate that finalized the lowest block at or above height whose
// finalizing certificate this node holds, and the headers down to height.
// Only trust's height is used; the verifier checks the rest.
func (c *Chain) FinalityProof(ctx context.Context, height uint64, trust consensus.Trust) (*types.FinalityProof, error) {
	st := c.cfg.Store
	// The finalized tip as of the end of a step: finalize commits a path
	// of blocks one batch at a time under c.mu, and only the last one's
	// batch holds the certificate that finalized them all, so a read of
	// the store between two of those batches could see a committed block
	// without its certificate. Taking c.mu waits for the step to end.
	c.mu.RLock()
	head := c.tipState.Height
	c.mu.RUnlock()
	if height == 0 || height > head {
		return nil, fmt.Errorf("%w: block %d is not final (finalized height %d)", ErrNoFinalityProof, height, head)
	}
	if height < trust.Checkpoint.Height {
		return nil, fmt.Errorf("%w: block %d is below the trusted checkpoint %d", ErrNoFinalityProof, height, trust.Checkpoint.Height)
	}
	// The finalized block f whose certificate the proof ends with.
	f, finCert, err := c.finalizingCert(ctx, height, head)
	if err != nil {
		return nil, err
	}
	p := &types.FinalityProof{TrustedHeight: trust.Checkpoint.Height}
	cur := trust.Checkpoint.Height
	curSet, err := c.authoritiesAt(ctx, cur)
	if err != nil {
		return nil, err
	}
	changes, err := st.AuthorityChanges(ctx, cur)
	if err != nil {
		return nil, err
	}
	for _, ch := range changes {
		if ch.Height > f {
			break
		}
		if ch.Height <= cur || slices.Equal(ch.Authorities, curSet) {
			continue
		}
		ho, t, set, err := c.handoff(ctx, cur, curSet, ch.Height, head)
		if err != nil {
			return nil, err
		}
		p.Handoffs = append(p.Handoffs, *ho)
		cur, curSet = t, set
		if len(p.Handoffs) > types.MaxHandoffs {
			return nil, fmt.Errorf("%w: more than %d authority-set changes since height %d", ErrNoFinalityProof, types.MaxHandoffs, trust.Checkpoint.Height)
		}
	}
	if f < cur {
		// The last handoff went past f: end with the finalizing link of
		// the handoff's target instead, which also covers f.
		if f, finCert, err = c.finalizingCert(ctx, cur, head); err != nil {
			return nil, err
		}
	}
	final, err := c.link(ctx, finCert, cur)
	if err != nil {
		return nil, err
	}
	p.Final = *final
	if f-height > maxProofHeaders {
		return nil, fmt.Errorf("%w: block %d is %d blocks below the nearest finalizing certificate (%d)", ErrNoFinalityProof, height, f-height, f)
	}
	if p.Headers, err = c.headersDown(ctx, f, height); err != nil {
		return nil, err
	}
	return p, nil
}

// headersDown returns the encoded headers from f's parent down to the
// child of the block at height to (none when f <= to+1).
func (c *Chain) headersDown(ctx context.Context, f, to uint64) ([]types.HexBytes, error) {
	var out []types.HexBytes
	for h := f - 1; h > to; h-- {
		hdr, err := c.cfg.Store.Header(ctx, h)
		if err != nil {
			return nil, err
		}
		out = append(out, hdr.Encode())
	}
	return out, nil
}

// finalizingCert returns the lowest block f in [from, head] whose
// finalizing certificate this node holds, and the certificate.
func (c *Chain) finalizingCert(ctx context.Context, from, head uint64) (uint64, []*types.FinalityVote, error) {
	for f := from; f <= head && f <= from+maxProofHeaders; f++ {
		cert, err := c.storedCert(ctx, finalizingCertKey(f))
		if err != nil {
			return 0, nil, err
		}
		if cert != nil {
			return f, cert, nil
		}
	}
	return 0, nil, fmt.Errorf("%w: no finalizing certificate held for blocks %d to %d (the chain's next finalization will bring one)", ErrNoFinalityProof, from, min(head, from+maxProofHeaders))
}

// handoff finds, for the authority-set change at block change, a block t
// at or above it justified by a link from a source s in [cur, change)
// (signed by curSet) and finalized by its link to its child or its commit
// link (signed by the set after t), and returns the handoff, t and the set after t.
func (c *Chain) handoff(ctx context.Context, cur uint64, curSet []identity.PublicKey, change, head uint64) (*types.Handoff, uint64, []identity.PublicKey, error) {
	for t := change; t < head && t <= change+handoffSearch; t++ {
		jus, err := c.storedCert(ctx, justifiedCertKey(t))
		if err != nil {
			return nil, 0, nil, err
		}
		if jus == nil || jus[0].Source.Height >= change || jus[0].Source.Height < cur {
			continue
		}
		// The lowest block f >= t that a link to its child (or its commit link) finalized,
		// under the set after t (no other change in between).
		f, fin, err := c.finalizingCert(ctx, t, head)
		if err != nil {
			return nil, 0, nil, err
		}
		if fset, err := c.authoritiesAt(ctx, f); err != nil {
			return nil, 0, nil, err
		} else if tset, err := c.authoritiesAt(ctx, t); err != nil {
			return nil, 0, nil, err
		} else if !slices.Equal(fset, tset) {
			continue
		}
		justify, err := c.link(ctx, jus, cur)
		if err != nil {
			return nil, 0, nil, err
		}
		set, err := c.authoritiesAt(ctx, t)
		if err != nil {
			return nil, 0, nil, err
		}
		sp, err := c.cfg.Store.StateProof(ctx, ledger.AuthoritiesStateKey(), t)
		if err != nil {
			return nil, 0, nil, err
		}
		finalize, err := c.link(ctx, fin, t) // no source header when f is t
		if err != nil {
			return nil, 0, nil, err
		}
		headers, err := c.headersDown(ctx, f, t)
		if err != nil {
			return nil, 0, nil, err
		}
		return &types.Handoff{Justify: *justify, Authorities: ledger.EncodeAuthorities(set), AuthoritiesProof: sp.Proof,
			Finalize: *finalize, Headers: headers}, f, set, nil
	}
	return nil, 0, nil, fmt.Errorf("%w: no certificate held that hands the authority set over at block %d", ErrNoFinalityProof, change)
}

// link packs the votes of one link with the headers at its ends (no
// header for the genesis); the source's authorities proof is left out when
// the source is the verifier's checkpoint (height trusted).
func (c *Chain) link(ctx context.Context, votes []*types.FinalityVote, trusted uint64) (*types.Link, error) {
	s, t := votes[0].Source, votes[0].Target
	l := &types.Link{}
	for _, v := range votes {
		l.Votes = append(l.Votes, v.Encode())
	}
	if s.Height > 0 {
		hdr, err := c.cfg.Store.Header(ctx, s.Height)
		if err != nil {
			return nil, err
		}
		l.Source = hdr.Encode()
	}
	if s.Height != trusted {
		sp, err := c.cfg.Store.StateProof(ctx, ledger.AuthoritiesStateKey(), s.Height)
		if err != nil {
			return nil, err
		}
		l.SourceAuthorities = sp.Proof
	}
	th, err := c.headerAt(ctx, t)
	if err != nil {
		return nil, err
	}
	l.Target = th.Encode()
	return l, nil
}

// headerAt returns the header of checkpoint cp, committed or in the tree.
func (c *Chain) headerAt(ctx context.Context, cp types.Checkpoint) (*types.Header, error) {
	if cp.Height <= c.cfg.Store.State().Height {
		return c.cfg.Store.Header(ctx, cp.Height)
	}
	c.mu.RLock()
	e, ok := c.blocks[cp.Hash]
	c.mu.RUnlock()
	if ok {
		return &e.block.Header, nil
	}
	return nil, fmt.Errorf("%w: header of block %d (%s) not held", ErrNoFinalityProof, cp.Height, cp.Hash)
}

// authoritiesAt is the authority set after the block at height (the
// genesis set at 0).
func (c *Chain) authoritiesAt(ctx context.Context, height uint64) ([]identity.PublicKey, error) {
	if height == 0 {
		return consensus.GenesisTrust(c.cfg.Genesis).Authorities, nil
	}
	set, _, err := c.cfg.Store.AuthoritiesAt(ctx, height)
	return set, err
}

func (c *Chain) storedCert(ctx context.Context, k datastore.Key) ([]*types.FinalityVote, error) {
	raw, err := c.cfg.Datastore.Get(ctx, k)
	if errors.Is(err, datastore.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("chain: reading %s: %w", k, err)
	}
	certs, err := types.DecodeCertificates(raw)
	if err != nil || len(certs) != 1 || len(certs[0]) == 0 {
		return nil, fmt.Errorf("chain: stored certificate %s does not decode: %v", k, err)
	}
	return certs[0], nil
}

// StoredFinalizingCertificate returns the certificate of the link from the
// committed block at height to its child, which finalized it, or nil if
// this node holds none (the block is not final, or a later link finalized
// it along with others). Sync serves it, so that a catching-up node
// finalizes as it goes instead of holding every block it fetched above its
// finalized one.
func (c *Chain) StoredFinalizingCertificate(ctx context.Context, height uint64) ([]*types.FinalityVote, error) {
	return c.storedCert(ctx, finalizingCertKey(height))
}
