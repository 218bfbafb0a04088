package types

import (
	"fmt"
)

// Limits of a finality proof.
const (
	// MaxHandoffs bounds the authority-set handoffs of one proof.
	MaxHandoffs = 256
	// MaxProofHeaders bounds the headers between the proven block and the
	// finalized block whose certificate a proof carries.
	MaxProofHeaders = 4096
	// maxFinalityProofBytes bounds an encoded finality proof.
	maxFinalityProofBytes = 8 << 20
	// maxStateProofBytes bounds an encoded state proof.
	maxStateProofBytes = 1 << 20
)

// Link is one supermajority link of the finality gadget with the headers
// at its ends: the votes (each FinalityVote.Encode) of more than 2/3 of the
// voters of its source, all on one source → target link. Source is the
// source's header (absent for the genesis), and SourceAuthorities the
// state-tree proof (smt.Proof.Encode) of the authorities key in the
// source's state, absent when the source is the checkpoint the verifier
// trusts at that point. Target is the target's header.
type Link struct {
	_                 struct{}   `cbor:",toarray"`
	Votes             []HexBytes `json:"votes"`
	Source            HexBytes   `json:"source,omitempty"`
	SourceAuthorities HexBytes   `json:"source_authorities,omitempty"`
	Target            HexBytes   `json:"target"`
}

// Handoff carries a verifier's trust across an authority-set change:
// Justify, a link signed by the set it trusts, to a block t at or above
// the change; Authorities, the set after t (the state tree's authorities
// value, as the ledger encodes it), with AuthoritiesProof, its state-tree
// proof against t's state root; and Finalize, the link f → child of f,
// signed by that new set, that finalized a block f at or above t, with
// Headers from f's parent down to t (empty when f is t), which makes t
// final.
type Handoff struct {
	_                struct{}   `cbor:",toarray"`
	Justify          Link       `json:"justify"`
	Authorities      HexBytes   `json:"authorities"`
	AuthoritiesProof HexBytes   `json:"authorities_proof"`
	Finalize         Link       `json:"finalize"`
	Headers          []HexBytes `json:"headers,omitempty"`
}

// FinalityProof shows that a block is final to a verifier that trusts a
// finalized checkpoint and its authority set (the genesis, or a later
// checkpoint): the handoffs across authority-set changes after the
// trusted checkpoint, in chain order; Final, the link f → child of f that
// finalized a block f at or above the proven one, signed by the set
// trusted after the handoffs; and Headers, the headers from f's parent
// down to the proven block (empty when it is f), each the parent of the
// one before. TrustedHeight is the height of the checkpoint the prover
// assumed; the verifier checks everything against its own.
// consensus.VerifyFinality checks it.
type FinalityProof struct {
	_             struct{}   `cbor:",toarray"`
	TrustedHeight uint64     `json:"trusted_height"`
	Handoffs      []Handoff  `json:"handoffs,omitempty"`
	Final         Link       `json:"final"`
	Headers       []HexBytes `json:"headers,omitempty"`
}

// Encode returns the proof's canonical CBOR encoding.
func (p *FinalityProof) Encode() []byte { return marshal(p) }

// DecodeFinalityProof decodes a canonical finality proof, bounding its
// size and counts (not its signatures: consensus.VerifyFinality does).
func DecodeFinalityProof(b []byte) (*FinalityProof, error) {
	if len(b) > maxFinalityProofBytes {
		return nil, fmt.Errorf("%w: finality proof of %d bytes", ErrOversize, len(b))
	}
	var p FinalityProof
	if err := unmarshalCanonical(b, &p); err != nil {
		return nil, fmt.Errorf("%w: finality proof: %w", ErrBadProof, err)
	}
	if err := p.CheckBounds(); err != nil {
		return nil, err
	}
	return &p, nil
}

// CheckBounds checks the proof's counts against the limits.
func (p *FinalityProof) CheckBounds() error {
	if len(p.Handoffs) > MaxHandoffs {
		return fmt.Errorf("%w: %d handoffs, at most %d", ErrBadProof, len(p.Handoffs), MaxHandoffs)
	}
	n := len(p.Headers)
	for i := range p.Handoffs {
		n += len(p.Handoffs[i].Headers)
	}
	if n > MaxProofHeaders {
		return fmt.Errorf("%w: %d headers, at most %d", ErrBadProof, n, MaxProofHeaders)
	}
	links := []*Link{&p.Final}
	for i := range p.Handoffs {
		links = append(links, &p.Handoffs[i].Justify, &p.Handoffs[i].Finalize)
	}
	for _, l := range links {
		if len(l.Votes) == 0 || len(l.Votes) > MaxCertificateVotes {
			return fmt.Errorf("%w: a link of %d votes", ErrBadProof, len(l.Votes))
		}
	}
	return nil
}

// StateProof proves the value of one state-tree key after a block: Present
// and Value (absent keys have neither), Proof (smt.Proof.Encode) against
// the state root of Header, the block's header. Finality, when present,
// proves the block final (consensus.VerifyStateProof checks all of it).
type StateProof struct {
	ChainID  string         `json:"chain_id"`
	Height   uint64         `json:"height"`
	Key      HexBytes       `json:"key"`
	Name     string         `json:"name,omitempty"` // the key for people (ledger.DescribeStateKey); not verified
	Present  bool           `json:"present"`
	Value    HexBytes       `json:"value,omitempty"`
	Proof    HexBytes       `json:"proof"`
	Header   HexBytes       `json:"header"`
	Finality *FinalityProof `json:"finality,omitempty"`
}

// MaxStateProofBytes bounds a state proof file or request body.
const MaxStateProofBytes = maxStateProofBytes + maxFinalityProofBytes
