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

func keyOf(ks []*identity.PrivateKey, pub identity.PublicKey) *identity.PrivateKey {
	for _, k := range ks {
		if k.Public() == pub {
			return k
		}
	}
	return nil
}

func sealed(h types.Header, k *identity.PrivateKey) (*types.Header, []byte) {
	h.Proposer = k.Public()
	return &h, k.Sign(h.SealBytes())
}

func TestTurnsFollowSortedKeys(t *testing.T) {
	ks := keys(t, 3)
	e, err := NewRoundRobin(genesis(t, ks))
	if err != nil {
		t.Fatal(err)
	}
	auth := e.Authorities()
	for i := 1; i < len(auth); i++ {
		if bytes.Compare(auth[i-1][:], auth[i][:]) >= 0 {
			t.Fatal("authorities not in key order")
		}
	}
	for h := uint64(0); h < 9; h++ {
		if e.Proposer(h) != auth[h%3] {
			t.Fatalf("height %d: wrong proposer", h)
		}
	}
	parent := time.UnixMilli(1_767_225_600_000)
	turns := 0
	for _, k := range ks {
		at, ok := e.NextSealTime(k.Public(), 4, parent)
		if ok {
			turns++
			if k.Public() != e.Proposer(5) || !at.Equal(parent.Add(time.Second)) {
				t.Fatalf("wrong turn or time: %v %v", k.Public(), at)
			}
		}
	}
	if turns != 1 {
		t.Fatalf("%d authorities think it is their turn", turns)
	}
}

func TestVerifySeal(t *testing.T) {
	ks := keys(t, 3)
	g := genesis(t, ks)
	e, _ := NewRoundRobin(g)
	base := types.Header{Version: types.BlockVersion, ChainID: g.ChainID, Height: 7, Difficulty: types.DiffInTurn, Time: 1_767_225_700_000}
	inTurn := keyOf(ks, e.Proposer(7))
	outOfTurn := keyOf(ks, e.Proposer(8))
	stranger := keys(t, 4)[3]

	h, seal := sealed(base, inTurn)
	if err := e.VerifySeal(h, seal); err != nil {
		t.Fatalf("valid block refused: %v", err)
	}
	cases := map[string]struct {
		h    *types.Header
		seal []byte
		want error
	}{}
	h2, s2 := sealed(base, outOfTurn)
	cases["out of turn"] = struct {
		h    *types.Header
		seal []byte
		want error
	}{h2, s2, ErrWrongProposer}
	h3, s3 := sealed(base, stranger)
	cases["not an authority"] = struct {
		h    *types.Header
		seal []byte
		want error
	}{h3, s3, ErrNotAuthority}
	bad := append([]byte{}, seal...)
	bad[0] ^= 1
	cases["bad seal"] = struct {
		h    *types.Header
		seal []byte
		want error
	}{h, bad, ErrBadSeal}
	other := base
	other.ChainID = "other"
	h4, s4 := sealed(other, inTurn)
	cases["other chain"] = struct {
		h    *types.Header
		seal []byte
		want error
	}{h4, s4, ErrWrongChain}
	for name, c := range cases {
		if err := e.VerifySeal(c.h, c.seal); !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", name, err, c.want)
		}
	}
}

func TestVerifyTiming(t *testing.T) {
	ks := keys(t, 1)
	e, _ := NewRoundRobin(genesis(t, ks))
	now := time.UnixMilli(1_767_225_700_000)
	parent := now.Add(-5 * time.Second).UnixMilli()
	for _, c := range []struct {
		at   int64
		want error
	}{
		{parent + 1000, nil},
		{parent + 999, ErrTooEarly},
		{now.Add(FutureAllowance).UnixMilli(), nil},
		{now.Add(FutureAllowance).UnixMilli() + 1, ErrFutureBlock},
	} {
		err := e.VerifyTiming(parent, &types.Header{Time: c.at}, now)
		if !errors.Is(err, c.want) && !(err == nil && c.want == nil) {
			t.Errorf("time %d: got %v, want %v", c.at, err, c.want)
		}
	}
}

func TestVerifyProofAgainstGenesis(t *testing.T) {
	ks := keys(t, 3)
	g := genesis(t, ks)
	e, _ := NewRoundRobin(g)
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
	if _, _, err := VerifyProof(g, mk(keyOf(ks, e.Proposer(1)))); err != nil {
		t.Fatalf("valid proof refused: %v", err)
	}
	// Sealed by a key outside the genesis: internally consistent, still refused.
	if _, _, err := VerifyProof(g, mk(device)); !errors.Is(err, types.ErrBadProof) || !errors.Is(err, ErrNotAuthority) {
		t.Fatalf("proof sealed by a non-authority: %v", err)
	}
}
