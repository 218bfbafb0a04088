package light

import (
	"encoding/json"
	"fmt"

	"github.com/sixdomain/sixdomain/consensus"
	"github.com/sixdomain/sixdomain/ledger/types"
)

// This file is the one place the light node meets finality verification:
// consensus.VerifyFinality does all of it.

// Trust is what a light node trusts: a finalized checkpoint of its chain
// and the authority set after it.
type Trust = consensus.Trust

// GenesisTrust is the trust of a light node that knows only the genesis.
func GenesisTrust(g *types.Genesis) Trust { return consensus.GenesisTrust(g) }

// VerifyFinality checks, with consensus.VerifyFinality, that header is
// final given trust and the encoded finality proof (types.FinalityProof),
// and returns the trust to keep next.
func VerifyFinality(t Trust, header *types.Header, proof []byte) (Trust, error) {
	p, err := types.DecodeFinalityProof(proof)
	if err != nil {
		return t, fmt.Errorf("finality proof: %w", err)
	}
	return consensus.VerifyFinality(t, header, p)
}

// encodeTrust and decodeTrust keep the trust in the light node's store.
func encodeTrust(t Trust) []byte {
	b, err := json.Marshal(t)
	if err != nil {
		panic(fmt.Sprintf("light: encoding a trust: %v", err)) // fixed struct of strings, hashes and keys
	}
	return b
}

func decodeTrust(b []byte) (Trust, error) {
	var t Trust
	if err := json.Unmarshal(b, &t); err != nil {
		return t, fmt.Errorf("light: stored trust: %w", err)
	}
	return t, nil
}
