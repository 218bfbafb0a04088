package light

import (
	"errors"
	"fmt"

	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger/types"
)

// This file is the one place the light node meets finality verification.
//
// PENDING: the finality verification API (consensus.Trust,
// consensus.VerifyFinality, the FinalityProof encoding) is being written
// on another branch. Until it is merged, Trust is a stand-in of the same
// shape and VerifyFinality below does NOT verify finality: it only checks
// that the header belongs to the trusted chain ID and does not go back.
// Merging replaces Trust by consensus.Trust and the body of
// VerifyFinality by consensus.VerifyFinality.

// ErrNotFinal: a finality proof that does not show the header final.
var ErrNotFinal = errors.New("light: header not proven final")

// Trust is what a light node trusts: the chain, a finalized checkpoint
// and the authority set that votes after it.
type Trust struct {
	_           struct{} `cbor:",toarray"`
	ChainID     string
	Checkpoint  types.Checkpoint
	Authorities []identity.PublicKey
}

// GenesisTrust is the trust of a verifier that knows only the genesis.
func GenesisTrust(g *types.Genesis) Trust {
	return Trust{ChainID: g.ChainID, Checkpoint: types.Checkpoint{Height: 0, Hash: g.Hash()}, Authorities: g.AuthorityKeys()}
}

// EncodeTrust returns the trust's canonical encoding (the Trust field of
// a request).
func EncodeTrust(t Trust) []byte { return marshal(t) }

// DecodeTrust decodes a trust.
func DecodeTrust(data []byte) (Trust, error) {
	var t Trust
	if len(data) > MaxRequestBytes {
		return t, fmt.Errorf("%w: trust of %d bytes", ErrMessage, len(data))
	}
	err := unmarshalCanonical(data, &t)
	return t, err
}

// VerifyFinality checks that header is final given trust and proof, and
// returns the trust to keep next. See the PENDING note above.
func VerifyFinality(t Trust, header *types.Header, proof []byte) (Trust, error) {
	if header == nil {
		return t, fmt.Errorf("%w: no header", ErrNotFinal)
	}
	if header.ChainID != t.ChainID {
		return t, fmt.Errorf("%w: header of chain %q, trust is for %q", ErrNotFinal, header.ChainID, t.ChainID)
	}
	_ = proof
	if header.Height > t.Checkpoint.Height {
		t.Checkpoint = types.Checkpoint{Height: header.Height, Hash: header.Hash()}
	}
	return t, nil
}
