package pubsub

import (
	"context"
	"errors"
	"testing"
	"time"

	lp2pps "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"

	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger/types"
)

type sealOK struct{}

func (sealOK) VerifySeal(*types.Header, []byte) error { return nil }

// TestBlockProposerCheck: a block that the Proposer check refuses (sealed
// by a key that is no authority after a parent the node holds) is rejected,
// so its sender is penalised and it is not relayed; a block the check
// cannot judge passes on to the chain.
func TestBlockProposerCheck(t *testing.T) {
	k, err := identity.Generate(nil)
	if err != nil {
		t.Fatal(err)
	}
	h := types.Header{Version: types.BlockVersion, ChainID: chain, Height: 2, Time: time.Now().UnixMilli(),
		Proposer: k.Public(), Difficulty: types.DiffInTurn, TxRoot: types.TxRoot(nil)}
	b := &types.Block{Header: h}
	b.Seal = k.Sign(b.Header.SealBytes())
	data := b.Encode()
	errUnauthorized := errors.New("unauthorized signer")
	for _, tc := range []struct {
		name     string
		proposer func(*types.Header) error
		want     lp2pps.ValidationResult
	}{
		{"unknown parent", func(*types.Header) error { return nil }, lp2pps.ValidationAccept},
		{"not an authority", func(*types.Header) error { return errUnauthorized }, lp2pps.ValidationReject},
	} {
		c := &BlockChecker{ChainID: chain, Seals: sealOK{}, Sigs: types.NewSigCache(16),
			Height: func() uint64 { return 1 }, Proposer: tc.proposer}
		_, err := c.Check(data)
		if tc.want == lp2pps.ValidationReject && (!errors.Is(err, types.ErrBadBlock) || !errors.Is(err, errUnauthorized)) {
			t.Errorf("%s: Check error %v, want ErrBadBlock wrapping the proposer error", tc.name, err)
		}
		got := BlockValidator(c, "", nil)(context.Background(), "", &lp2pps.Message{Message: &pb.Message{Data: data}})
		if got != tc.want {
			t.Errorf("%s: verdict %v, want %v", tc.name, got, tc.want)
		}
	}
}
