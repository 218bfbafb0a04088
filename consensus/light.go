package consensus

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger/smt"
	"github.com/sixdomain/sixdomain/ledger/types"
)

// Errors of finality verification. All wrap types.ErrBadProof.
var (
	// ErrNotProvenFinal: the proof does not show the block final (bad
	// votes, a broken header chain, a missing handoff).
	ErrNotProvenFinal = fmt.Errorf("%w: not proven final", types.ErrBadProof)
	// ErrStaleProof: the proof is about a block below the checkpoint the
	// verifier trusts, or was built from an older trusted checkpoint than
	// the verifier's and goes below it; ask for a proof from the current
	// trust.
	ErrStaleProof = fmt.Errorf("%w: stale", types.ErrBadProof)
)

// Trust is what a light verifier holds: a finalized checkpoint of one
// chain and the authority set after it (the voters of finality links whose
// source it is), sorted by key bytes.
type Trust struct {
	ChainID     string               `json:"chain_id"`
	Checkpoint  types.Checkpoint     `json:"checkpoint"`
	Authorities []identity.PublicKey `json:"authorities"`
}

// GenesisTrust is the trust of a verifier that knows only the genesis.
func GenesisTrust(g *types.Genesis) Trust {
	set := slices.Clone(g.AuthorityKeys())
	slices.SortFunc(set, comparePK)
	set = slices.Compact(set)
	return Trust{ChainID: g.ChainID, Checkpoint: types.Checkpoint{Height: 0, Hash: g.Hash()}, Authorities: set}
}

// authoritiesKey and encodeAuthorities mirror ledger's state-tree key and
// value of the authority set (the ledger package doc defines them; this
// package may not import ledger). TestAuthoritiesEncodingMatchesLedger
// keeps them equal.
var authoritiesKey = []byte("authorities")

func encodeAuthorities(set []identity.PublicKey) []byte {
	raw := make([][]byte, len(set))
	for i, k := range set {
		raw[i] = k[:]
	}
	b, err := snapEnc.Marshal(raw)
	if err != nil {
		panic(fmt.Sprintf("consensus: encoding an authority set: %v", err)) // byte strings cannot fail
	}
	return b
}

// VerifyFinality checks that header is a final block of t's chain, given
// proof p built for a verifier holding t, and returns the trust to keep
// next: the finalized checkpoint the proof ends with and its authority
// set (never lower than t). It checks, offline:
//
//   - every handoff: its Justify link has votes of more than 2/3 of the
//     trusted set, from a source at or above the trusted checkpoint whose
//     state records that set (or the trusted checkpoint itself), to a
//     target whose state holds the next set (state-tree proof) and whose
//     Finalize link (to its child, or its commit link) has votes of more
//     than 2/3 of that next set; the target and its set become the trust;
//   - the Final link the same way under the trust the handoffs led to, its
//     target the child of its source f or f itself (a commit link);
//   - header is f, or is reached from f by the parent links of Headers.
//
// Soundness rests on fewer than 1/3 of each trusted set being byzantine
// (as a Tendermint light client's does): honest authorities vote only for
// valid blocks, whose states hold the sets the chain elected, and two
// conflicting supermajority links imply more than 1/3 of slashable voters
// (see the package doc).
func VerifyFinality(t Trust, header *types.Header, p *types.FinalityProof) (Trust, error) {
	if p == nil {
		return t, fmt.Errorf("%w: no finality proof", ErrNotProvenFinal)
	}
	if header == nil {
		return t, fmt.Errorf("%w: no header", ErrNotProvenFinal)
	}
	if err := p.CheckBounds(); err != nil {
		return t, err
	}
	if header.ChainID != t.ChainID {
		return t, fmt.Errorf("%w: %w: header of chain %q, trusting chain %q", ErrNotProvenFinal, types.ErrWrongChain, header.ChainID, t.ChainID)
	}
	if header.Height <= t.Checkpoint.Height {
		if header.Height == t.Checkpoint.Height && header.Hash() == t.Checkpoint.Hash {
			return t, nil
		}
		return t, fmt.Errorf("%w: block %d is at or below the trusted checkpoint %d", ErrStaleProof, header.Height, t.Checkpoint.Height)
	}
	cur := t
	for i := range p.Handoffs {
		ho := &p.Handoffs[i]
		_, target, th, err := verifyLink(cur, &ho.Justify)
		if err != nil {
			return t, fmt.Errorf("handoff %d: justify: %w", i, err)
		}
		set, err := decodeAuthorities(ho.Authorities)
		if err != nil {
			return t, fmt.Errorf("handoff %d: %w", i, err)
		}
		if err := verifyStateValue(th.StateRoot, authoritiesKey, ho.Authorities, ho.AuthoritiesProof); err != nil {
			return t, fmt.Errorf("handoff %d: the authority set of block %d: %w", i, target.Height, err)
		}
		next := Trust{ChainID: t.ChainID, Checkpoint: target, Authorities: set}
		f, err := verifyFinal(next, &ho.Finalize, ho.Headers, th)
		if err != nil {
			return t, fmt.Errorf("handoff %d: finalize: %w", i, err)
		}
		next.Checkpoint = f
		cur = next
	}
	f, err := verifyFinal(cur, &p.Final, p.Headers, header)
	if err != nil {
		return t, fmt.Errorf("final: %w", err)
	}
	if f.Height <= t.Checkpoint.Height {
		return t, nil
	}
	return Trust{ChainID: t.ChainID, Checkpoint: f, Authorities: cur.Authorities}, nil
}

// verifyLink checks a link under trust cur and returns its source and
// target checkpoints and the target header.
func verifyLink(cur Trust, l *types.Link) (types.Checkpoint, types.Checkpoint, *types.Header, error) {
	var none types.Checkpoint
	votes := make([]*types.FinalityVote, 0, len(l.Votes))
	for i, raw := range l.Votes {
		v, err := types.DecodeVote(raw)
		if err != nil {
			return none, none, nil, fmt.Errorf("%w: vote %d: %w", ErrNotProvenFinal, i, err)
		}
		votes = append(votes, v)
	}
	s, tc, err := VerifyCertificate(cur.ChainID, votes, cur.Authorities)
	if err != nil {
		return none, none, nil, fmt.Errorf("%w: %w", ErrNotProvenFinal, err)
	}
	switch {
	case len(l.Source) == 0:
		if s != cur.Checkpoint {
			return none, none, nil, fmt.Errorf("%w: link from block %d without its header, and the trusted checkpoint is %d", ErrNotProvenFinal, s.Height, cur.Checkpoint.Height)
		}
	default:
		sh, err := types.DecodeHeader(l.Source)
		if err != nil {
			return none, none, nil, fmt.Errorf("%w: source header: %w", ErrNotProvenFinal, err)
		}
		if sh.Hash() != s.Hash || sh.Height != s.Height || sh.ChainID != cur.ChainID {
			return none, none, nil, fmt.Errorf("%w: the source header is not block %d of the votes", ErrNotProvenFinal, s.Height)
		}
		if s.Height < cur.Checkpoint.Height {
			return none, none, nil, fmt.Errorf("%w: link from block %d, below the trusted checkpoint %d", ErrStaleProof, s.Height, cur.Checkpoint.Height)
		}
		if s != cur.Checkpoint {
			// The source's state must record the trusted set as its voters.
			if err := verifyStateValue(sh.StateRoot, authoritiesKey, encodeAuthorities(cur.Authorities), l.SourceAuthorities); err != nil {
				return none, none, nil, fmt.Errorf("%w: the voters of block %d are not the trusted set (a handoff is missing?): %w", ErrNotProvenFinal, s.Height, err)
			}
		}
	}
	th, err := types.DecodeHeader(l.Target)
	if err != nil {
		return none, none, nil, fmt.Errorf("%w: target header: %w", ErrNotProvenFinal, err)
	}
	if th.Hash() != tc.Hash || th.Height != tc.Height || th.ChainID != cur.ChainID {
		return none, none, nil, fmt.Errorf("%w: the target header is not block %d of the votes", ErrNotProvenFinal, tc.Height)
	}
	if tc.Height == s.Height+1 && th.Parent != s.Hash {
		return none, none, nil, fmt.Errorf("%w: block %d's parent is not the link's source", ErrNotProvenFinal, tc.Height)
	}
	return s, tc, th, nil
}

// verifyStateValue checks an encoded state-tree proof that key holds value
// (nil: is absent) under root.
func verifyStateValue(root types.Hash, key, value, rawProof []byte) error {
	if len(rawProof) == 0 {
		return fmt.Errorf("%w: no state proof", ErrNotProvenFinal)
	}
	p, err := smt.DecodeProof(rawProof)
	if err != nil {
		return fmt.Errorf("%w: %w", types.ErrBadProof, err)
	}
	if err := p.Verify(smt.Hash(root), key, value); err != nil {
		return fmt.Errorf("%w: %w", types.ErrBadProof, err)
	}
	return nil
}

func decodeAuthorities(b []byte) ([]identity.PublicKey, error) {
	var raw [][]byte
	if len(b) > 3+MaxSigners*35 {
		return nil, fmt.Errorf("%w: authority set of %d bytes", ErrNotProvenFinal, len(b))
	}
	if err := snapDec.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("%w: authority set: %v", ErrNotProvenFinal, err)
	}
	if len(raw) == 0 || len(raw) > MaxSigners {
		return nil, fmt.Errorf("%w: authority set of %d keys", ErrNotProvenFinal, len(raw))
	}
	out := make([]identity.PublicKey, len(raw))
	for i, r := range raw {
		k, err := identity.PublicKeyFromBytes(r)
		if err != nil {
			return nil, fmt.Errorf("%w: authority %d: %w", ErrNotProvenFinal, i, err)
		}
		out[i] = k
		if i > 0 && bytes.Compare(out[i-1][:], k[:]) >= 0 {
			return nil, fmt.Errorf("%w: authority set not sorted", ErrNotProvenFinal)
		}
	}
	return out, nil
}

// VerifyStateProof checks a state proof offline against trust: the header's
// finality (VerifyFinality) and the key's value (or absence) under the
// header's state root. It returns the trust to keep next.
func VerifyStateProof(t Trust, p *types.StateProof) (Trust, *types.Header, error) {
	if p == nil {
		return t, nil, fmt.Errorf("%w: no proof", types.ErrBadProof)
	}
	h, err := types.DecodeHeader(p.Header)
	if err != nil {
		return t, nil, fmt.Errorf("%w: header: %w", types.ErrBadProof, err)
	}
	if h.ChainID != p.ChainID || h.Height != p.Height {
		return t, nil, fmt.Errorf("%w: header is chain %q height %d, proof claims %q height %d", types.ErrBadProof, h.ChainID, h.Height, p.ChainID, p.Height)
	}
	if len(p.Key) == 0 || len(p.Key) > smt.MaxKeyLen {
		return t, nil, fmt.Errorf("%w: key of %d bytes", types.ErrBadProof, len(p.Key))
	}
	var value []byte
	if p.Present {
		value = p.Value
		if value == nil {
			value = []byte{}
		}
	} else if len(p.Value) > 0 {
		return t, nil, fmt.Errorf("%w: a value for a key the proof says is absent", types.ErrBadProof)
	}
	if err := verifyStateValue(h.StateRoot, p.Key, value, p.Proof); err != nil {
		return t, nil, fmt.Errorf("state of the key at block %d: %w", h.Height, err)
	}
	next, err := VerifyFinality(t, h, p.Finality)
	if err != nil {
		return t, nil, err
	}
	return next, h, nil
}

// VerifyFinalTxProof checks a transaction inclusion proof and the finality
// of its block against trust, offline. It returns the block's header, the
// transaction and the trust to keep next.
func VerifyFinalTxProof(t Trust, p *types.TxProof) (*types.Header, *types.Tx, Trust, error) {
	if p == nil {
		return nil, nil, t, fmt.Errorf("%w: no proof", types.ErrBadProof)
	}
	h, tx, err := p.Verify()
	if err != nil {
		return nil, nil, t, err
	}
	next, err := VerifyFinality(t, h, p.Finality)
	if err != nil {
		return nil, nil, t, err
	}
	return h, tx, next, nil
}

// verifyFinal checks that link l finalizes a block f (its target is f's
// child, or f itself: a commit link) under trust cur, and that header is f or is reached from f by the
// parent links of headers: f's parent first, down to header's child. It
// returns f.
func verifyFinal(cur Trust, l *types.Link, headers []types.HexBytes, header *types.Header) (types.Checkpoint, error) {
	var none types.Checkpoint
	f, ft, _, err := verifyLink(cur, l)
	if err != nil {
		return none, err
	}
	if !finalizingLink(f, ft) {
		return none, fmt.Errorf("%w: link %d → %d does not finalize its source", ErrNotProvenFinal, f.Height, ft.Height)
	}
	if header.Height > f.Height {
		return none, fmt.Errorf("%w: block %d is above the finalized block %d of the proof", ErrNotProvenFinal, header.Height, f.Height)
	}
	want, wantHeight := f.Hash, f.Height
	if header.Height < f.Height {
		if len(l.Source) == 0 {
			return none, fmt.Errorf("%w: the proof lacks the header of the finalized block %d", ErrNotProvenFinal, f.Height)
		}
		fh, err := types.DecodeHeader(l.Source) // verifyLink checked that it is f
		if err != nil {
			return none, fmt.Errorf("%w: source header: %w", ErrNotProvenFinal, err)
		}
		want, wantHeight = fh.Parent, f.Height-1
		for i, raw := range headers {
			if wantHeight == header.Height {
				break
			}
			h, err := types.DecodeHeader(raw)
			if err != nil {
				return none, fmt.Errorf("%w: header %d: %w", ErrNotProvenFinal, i, err)
			}
			if h.Hash() != want || h.Height != wantHeight {
				return none, fmt.Errorf("%w: header %d is block %d (%s), the parent link wants block %d (%s)", ErrNotProvenFinal, i, h.Height, h.Hash(), wantHeight, want)
			}
			want, wantHeight = h.Parent, wantHeight-1
		}
	}
	if wantHeight != header.Height || header.Hash() != want {
		return none, fmt.Errorf("%w: block %d (%s) is not on the chain of the finalized block %d", ErrNotProvenFinal, header.Height, header.Hash(), f.Height)
	}
	return f, nil
}
