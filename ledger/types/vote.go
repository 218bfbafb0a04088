package types

import (
	"bytes"
	"crypto/sha256"
	"fmt"

	"github.com/sixdomain/sixdomain/identity"
)

// Checkpoint names a block by height and hash.
type Checkpoint struct {
	_      struct{} `cbor:",toarray"`
	Height uint64
	Hash   Hash
}

// FinalityVote is an authority's vote that Target extends the justified
// Source (Casper FFG's link source → target). It encodes as the CBOR array
// [chain_id, [source_height, source_hash], [target_height, target_hash], voter, signature].
//
// Checkpoints map to FFG epochs: the block at height h is the checkpoint
// of epoch 2h. A vote whose target is above its source (a normal vote)
// is the link epoch 2·source → epoch 2·target. A vote whose Source and
// Target are the same checkpoint (a commit vote, IsCommit) is the link
// from that block at epoch 2h to the same block at epoch 2h+1, as Gasper
// allows a block to be the checkpoint of several epochs; it finalizes a
// justified block within its own slot (package consensus).
type FinalityVote struct {
	_         struct{} `cbor:",toarray"`
	ChainID   string
	Source    Checkpoint
	Target    Checkpoint
	Voter     identity.PublicKey
	Signature []byte
}

type voteBody struct {
	_       struct{} `cbor:",toarray"`
	ChainID string
	Source  Checkpoint
	Target  Checkpoint
	Voter   identity.PublicKey
}

// MaxVoteBytes bounds a vote's encoding.
const MaxVoteBytes = 512

const voteSignDomain = "SIXDOMAIN-VOTE-V1\x00"

// Hash returns SHA-256 of the unsigned vote's encoding.
func (v *FinalityVote) Hash() Hash {
	return sha256.Sum256(marshal(voteBody{ChainID: v.ChainID, Source: v.Source, Target: v.Target, Voter: v.Voter}))
}

// SignBytes returns the domain tag followed by the vote hash.
func (v *FinalityVote) SignBytes() []byte {
	h := v.Hash()
	return append([]byte(voteSignDomain), h[:]...)
}

// Sign sets the voter and signs the vote.
func (v *FinalityVote) Sign(k *identity.PrivateKey) {
	v.Voter = k.Public()
	v.Signature = k.Sign(v.SignBytes())
}

// Encode returns the vote's canonical encoding.
func (v *FinalityVote) Encode() []byte { return marshal(v) }

// VerifySignature checks the voter's signature.
func (v *FinalityVote) VerifySignature() error {
	if len(v.Signature) != 64 || !v.Voter.Verify(v.SignBytes(), v.Signature) {
		return fmt.Errorf("%w: vote signature does not verify under %s", ErrBadSignature, v.Voter.DID())
	}
	return nil
}

// IsCommit reports whether v is a commit vote: Source and Target are the
// same checkpoint (the FFG link from epoch 2h to epoch 2h+1 of block h).
func (v *FinalityVote) IsCommit() bool { return v.Source == v.Target }

// CheckLink checks a vote's link form: its target above its source (a
// normal vote), or the same checkpoint as its source (a commit vote).
func (v *FinalityVote) CheckLink() error {
	if v.Target.Height < v.Source.Height || v.Target.Height == v.Source.Height && v.Target != v.Source {
		return fmt.Errorf("%w: target %d/%s neither above source %d/%s nor equal to it", ErrBadVote,
			v.Target.Height, v.Target.Hash, v.Source.Height, v.Source.Hash)
	}
	return nil
}

// epoch is an FFG epoch as (height, odd): the block at height h is epoch
// 2h, a commit vote's target epoch 2h+1. Kept as a pair so that no height
// overflows when doubled.
type epoch struct {
	h   uint64
	odd bool
}

func (a epoch) less(b epoch) bool { return a.h < b.h || a.h == b.h && !a.odd && b.odd }

// sourceEpoch and targetEpoch place a vote's link on the FFG epochs.
func (v *FinalityVote) sourceEpoch() epoch { return epoch{h: v.Source.Height} }
func (v *FinalityVote) targetEpoch() epoch { return epoch{h: v.Target.Height, odd: v.IsCommit()} }

// DecodeVote decodes a vote and checks its form (not its signature):
// target above source, or a commit vote (CheckLink).
func DecodeVote(data []byte) (*FinalityVote, error) {
	if len(data) > MaxVoteBytes {
		return nil, fmt.Errorf("%w: vote of %d bytes", ErrOversize, len(data))
	}
	var v FinalityVote
	if err := unmarshalCanonical(data, &v); err != nil {
		return nil, fmt.Errorf("vote: %w", err)
	}
	if err := v.CheckLink(); err != nil {
		return nil, err
	}
	if len(v.Signature) != 64 {
		return nil, fmt.Errorf("%w: signature of %d bytes", ErrBadSignature, len(v.Signature))
	}
	return &v, nil
}

// Conflict reports whether two votes by one voter break one of Casper
// FFG's two slashing conditions on the epochs of their links (see
// FinalityVote), and which: "double" (two different targets at one target
// epoch: two normal votes for different blocks at one height, or two
// commit votes for different blocks at one height; a commit vote never
// doubles a normal vote) or "surround" (one link strictly inside the
// other: between normal votes as before, and a normal vote s → t around
// a commit vote for a block at height h when s < h < t; a commit vote
// surrounds nothing). Between two normal votes the rule is the one of
// plain block checkpoints, so evidence from before commit votes keeps
// its verdict.
func Conflict(a, b *FinalityVote) (string, bool) {
	if a.Voter != b.Voter || a.ChainID != b.ChainID || a.Hash() == b.Hash() {
		return "", false
	}
	at, bt := a.targetEpoch(), b.targetEpoch()
	if at == bt && a.Target.Hash != b.Target.Hash {
		return "double", true
	}
	as, bs := a.sourceEpoch(), b.sourceEpoch()
	if as.less(bs) && bt.less(at) || bs.less(as) && at.less(bt) {
		return "surround", true
	}
	return "", false
}

// Evidence is the payload of a TxEvidence transaction: two conflicting
// votes by one authority. It encodes as [vote_a, vote_b], each the vote's
// encoding as a byte string, ordered by vote hash so that a pair has one
// encoding.
type Evidence struct {
	_ struct{} `cbor:",toarray"`
	A []byte
	B []byte
}

// NewEvidence builds the evidence payload of two conflicting votes.
func NewEvidence(a, b *FinalityVote) (*Evidence, error) {
	if _, ok := Conflict(a, b); !ok {
		return nil, fmt.Errorf("%w: votes do not conflict", ErrBadPayload)
	}
	ha, hb := a.Hash(), b.Hash()
	if bytes.Compare(ha[:], hb[:]) > 0 {
		a, b = b, a
	}
	return &Evidence{A: a.Encode(), B: b.Encode()}, nil
}

// Encode returns the evidence's canonical encoding.
func (e *Evidence) Encode() []byte { return marshal(e) }

// DecodeEvidence decodes and fully checks an evidence payload for chainID:
// both votes decode, are ordered, are for this chain, are signed by the
// same voter, and conflict. It returns the offender and the votes.
func DecodeEvidence(chainID string, data []byte) (identity.PublicKey, *FinalityVote, *FinalityVote, error) {
	var none identity.PublicKey
	if len(data) > 2*MaxVoteBytes+16 {
		return none, nil, nil, fmt.Errorf("%w: evidence of %d bytes", ErrOversize, len(data))
	}
	var e Evidence
	if err := unmarshalCanonical(data, &e); err != nil {
		return none, nil, nil, fmt.Errorf("%w: evidence: %w", ErrBadPayload, err)
	}
	a, err := DecodeVote(e.A)
	if err != nil {
		return none, nil, nil, fmt.Errorf("%w: evidence vote a: %w", ErrBadPayload, err)
	}
	b, err := DecodeVote(e.B)
	if err != nil {
		return none, nil, nil, fmt.Errorf("%w: evidence vote b: %w", ErrBadPayload, err)
	}
	ha, hb := a.Hash(), b.Hash()
	if bytes.Compare(ha[:], hb[:]) >= 0 {
		return none, nil, nil, fmt.Errorf("%w: evidence votes out of order", ErrBadPayload)
	}
	if a.ChainID != chainID || b.ChainID != chainID {
		return none, nil, nil, fmt.Errorf("%w: evidence votes for chain %q/%q", ErrWrongChain, a.ChainID, b.ChainID)
	}
	if _, ok := Conflict(a, b); !ok {
		return none, nil, nil, fmt.Errorf("%w: evidence votes do not conflict", ErrBadPayload)
	}
	if err := a.VerifySignature(); err != nil {
		return none, nil, nil, err
	}
	if err := b.VerifySignature(); err != nil {
		return none, nil, nil, err
	}
	return a.Voter, a, b, nil
}

// NewEvidenceTx builds an unsigned evidence transaction; anyone may sign
// and submit it.
func NewEvidenceTx(chainID string, nonce uint64, timestampMillis int64, e *Evidence) *Tx {
	return &Tx{Version: TxVersion, ChainID: chainID, Type: TxEvidence, Nonce: nonce,
		Timestamp: timestampMillis, Payload: e.Encode()}
}

// Limits of a certificate list.
const (
	MaxCertificates      = 64
	MaxCertificateVotes  = 1024
	maxCertificatesBytes = 1 << 20
)

// EncodeCertificates encodes finality certificates (each the votes of one
// supermajority link) as [[vote bytes, ...], ...].
func EncodeCertificates(certs [][]*FinalityVote) []byte {
	w := make([][][]byte, 0, len(certs))
	for _, c := range certs {
		votes := make([][]byte, 0, len(c))
		for _, v := range c {
			votes = append(votes, v.Encode())
		}
		w = append(w, votes)
	}
	return marshal(w)
}

// DecodeCertificates decodes a certificate list, bounding its size, and
// each vote's form (not signatures: the finality gadget checks those).
func DecodeCertificates(data []byte) ([][]*FinalityVote, error) {
	if len(data) > maxCertificatesBytes {
		return nil, fmt.Errorf("%w: certificates of %d bytes", ErrOversize, len(data))
	}
	var w [][][]byte
	if err := unmarshalCanonical(data, &w); err != nil {
		return nil, fmt.Errorf("certificates: %w", err)
	}
	if len(w) > MaxCertificates {
		return nil, fmt.Errorf("%w: %d certificates", ErrOversize, len(w))
	}
	out := make([][]*FinalityVote, 0, len(w))
	for i, c := range w {
		if len(c) == 0 || len(c) > MaxCertificateVotes {
			return nil, fmt.Errorf("%w: certificate %d holds %d votes", ErrBadVote, i, len(c))
		}
		votes := make([]*FinalityVote, 0, len(c))
		for _, raw := range c {
			v, err := DecodeVote(raw)
			if err != nil {
				return nil, fmt.Errorf("certificate %d: %w", i, err)
			}
			votes = append(votes, v)
		}
		out = append(out, votes)
	}
	return out, nil
}
