package consensus

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger/types"
)

func keys(t *testing.T, n int) []*identity.PrivateKey {
	t.Helper()
	out := make([]*identity.PrivateKey, n)
	for i := range out {
		k, err := identity.FromSeed(bytes.Repeat([]byte{byte(i + 1)}, 32))
		if err != nil {
			t.Fatal(err)
		}
		out[i] = k
	}
	return out
}

func genesis(t *testing.T, ks []*identity.PrivateKey) *types.Genesis {
	t.Helper()
	var pubs []identity.PublicKey
	for _, k := range ks {
		pubs = append(pubs, k.Public())
	}
	return types.NewGenesis("consensus-test", time.UnixMilli(1_767_225_600_000), pubs...)
}

func TestVerifyProofAgainstGenesis(t *testing.T) {
	ks := keys(t, 3)
	g := genesis(t, ks)
	device := keys(t, 5)[4]
	tx, _ := types.NewDataRecordTx(g.ChainID, 1, 1_767_225_600_500, types.DataRecord{Stream: "t", Value: []byte("1")})
	tx.Sign(device)
	mk := func(k *identity.PrivateKey) *types.TxProof {
		b := &types.Block{Header: types.Header{Version: types.BlockVersion, ChainID: g.ChainID, Height: 1, Difficulty: types.DiffInTurn, Time: 1_767_225_601_000, TxCount: 1}, Txs: []*types.Tx{tx}}
		b.Header.TxRoot = types.TxRoot(b.EncodedTxs())
		b.Header.Proposer = k.Public()
		b.Seal = k.Sign(b.Header.SealBytes())
		p, err := types.NewTxProof(b, 0)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	if _, _, err := VerifyProof(g, nil, mk(ks[1])); err != nil {
		t.Fatalf("valid proof refused: %v", err)
	}
	// Sealed by a key outside the genesis: internally consistent, still refused.
	if _, _, err := VerifyProof(g, nil, mk(device)); !errors.Is(err, types.ErrBadProof) || !errors.Is(err, ErrUnauthorizedSigner) {
		t.Fatalf("proof sealed by a non-authority: %v", err)
	}
	// The same proof verifies once the sealer is in the given authority set.
	if _, _, err := VerifyProof(g, []identity.PublicKey{device.Public()}, mk(device)); err != nil {
		t.Fatalf("proof with an explicit authority set: %v", err)
	}
}
