package consensus

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger/types"
)

// Errors shared by the header rules.
var (
	ErrTooEarly    = errors.New("block time earlier than parent time plus one slot")
	ErrFutureBlock = errors.New("block time too far ahead of the local clock")
	ErrBadSeal     = errors.New("bad seal")
	ErrWrongChain  = errors.New("block for another chain")
)

// FutureAllowance is how far ahead of the local clock a block's time may be.
const FutureAllowance = 2 * time.Second

// VerifyProof checks a transaction inclusion proof offline: the Merkle
// path, the transaction's signature, the header's seal, and that the sealer
// belongs to authorities. Pass nil to use the genesis authorities; a block
// sealed by an authority voted in later needs the authority set at that
// height (GET /v1/finality lists the current one).
func VerifyProof(g *types.Genesis, authorities []identity.PublicKey, p *types.TxProof) (*types.Header, *types.Tx, error) {
	poa, err := NewPoA(g)
	if err != nil {
		return nil, nil, err
	}
	h, tx, err := p.Verify()
	if err != nil {
		return nil, nil, err
	}
	if err := poa.VerifySeal(h, p.Seal); err != nil {
		return nil, nil, fmt.Errorf("%w: %w", types.ErrBadProof, err)
	}
	if authorities == nil {
		authorities = g.AuthorityKeys()
	}
	if !slices.Contains(authorities, h.Proposer) {
		return nil, nil, fmt.Errorf("%w: %w: sealed by %s", types.ErrBadProof, ErrUnauthorizedSigner, h.Proposer.DID())
	}
	return h, tx, nil
}
