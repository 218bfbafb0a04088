package ledger

import (
	"context"
	"testing"

	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger/assets"
	"github.com/sixdomain/sixdomain/ledger/types"
)

func newFeeChain(t *testing.T, freeRecords bool, allocs ...types.FeeAllocation) *regChain {
	t.Helper()
	f := newFixture(t, 0)
	f.g.Fees = &types.FeePolicy{Denom: "sdx", MaxSupply: 1_000_000_000, GasPriceMilli: 10, FreeRecords: freeRecords,
		GatewayShareBps: 2000, BlockReward: 7, Allocations: allocs}
	if err := f.g.Validate(); err != nil {
		t.Fatal(err)
	}
	f.p = ParamsFromGenesis(f.g)
	s, err := Open(context.Background(), NewMemory(), f.g)
	if err != nil {
		t.Fatal(err)
	}
	return &regChain{t: t, f: f, s: s, auths: []identity.PublicKey{f.auth.Public()}}
}

func (c *regChain) bal(k identity.PublicKey) uint64 {
	c.t.Helper()
	acct := assets.Account(k)
	if rec, err := c.s.DID(k); err == nil && rec != nil {
		acct = assets.Account(rec.ID)
	}
	n, err := assets.Balance(storeKV{c.s}, "sdx", acct)
	if err != nil {
		c.t.Fatal(err)
	}
	return n
}

func (c *regChain) invariants() {
	c.t.Helper()
	if err := assets.CheckInvariants(storeKV{c.s}, storeRegistry{c.s}); err != nil {
		c.t.Fatal(err)
	}
	if n, _ := assets.Balance(storeKV{c.s}, "sdx", feeEscrow); n != 0 {
		c.t.Fatalf("the fee escrow holds %d between blocks", n)
	}
}

// TestFees: the genesis fee denomination and allocations, fees charged by
// gas to the sender and paid to the sealing authority (less the gateway's
// share to the gateway that onboarded the sender), block rewards, free
// records, a refused transaction whose payer cannot pay, and a gateway's
// fee grant paying for a device that holds nothing.
func TestFees(t *testing.T) {
	user, gw, dev := newKey(t), newKey(t), newKey(t)
	c := newFeeChain(t, false, types.FeeAllocation{Account: user.Public().DID(), Amount: 1_000_000},
		types.FeeAllocation{Account: gw.Public().DID(), Amount: 500_000})
	auth := c.f.auth.Public()
	reg := c.didTx(user, register(user.Public(), types.DomainUser, types.EntityUser))
	c.must(reg)
	if c.bal(user.Public()) >= 1_000_000 || c.bal(gw.Public()) != 500_000 {
		t.Fatalf("after block 1: user %d (the registration pays), gateway %d", c.bal(user.Public()), c.bal(gw.Public()))
	}
	fee1 := 1_000_000 - c.bal(user.Public())
	if want := c.f.p.Fees.Fee(txGas(reg)); fee1 != want {
		t.Fatalf("registration fee %d, want %d (gas %d)", fee1, want, txGas(reg))
	}
	if got := c.bal(auth); got != fee1+7 {
		t.Fatalf("authority holds %d after block 1, want fee %d + reward 7", got, fee1)
	}
	c.invariants()

	// An asset operation pays by its gas; the receipt says how much.
	before := c.bal(user.Public())
	issue := c.assetTx(user, &assets.Op{Kind: assets.OpIssue, Denom: "kwh", MaxSupply: 10})
	c.must(issue)
	r, err := c.s.Receipt(context.Background(), issue.Hash())
	if err != nil || r.Fee == 0 || before-c.bal(user.Public()) != r.Fee {
		t.Fatalf("issue: receipt %+v (%v), paid %d", r, err, before-c.bal(user.Public()))
	}
	// A failing operation still pays.
	before = c.bal(user.Public())
	over := c.assetTx(user, &assets.Op{Kind: assets.OpMint, Denom: "kwh", Amount: 11, To: user.Public().Bytes()})
	c.must(over)
	if r, _ := c.s.Receipt(context.Background(), over.Hash()); r.Status != types.ReceiptFailed || before-c.bal(user.Public()) != r.Fee || r.Fee == 0 {
		t.Fatalf("failing mint: receipt %+v, paid %d", r, before-c.bal(user.Public()))
	}
	c.invariants()

	// The device holds nothing: its record is refused...
	c.refuse(types.ErrInsufficientFee, c.recordTx(dev))
	// ...until the gateway, which onboarded it (its controller), grants
	// it an allowance.
	c.must(c.didTx(gw, register(gw.Public(), types.DomainResourceAccess, types.EntityGateway)))
	c.must(c.grantTx(gw, dev.Public(), 100_000, 0))
	c.must(c.didTx(dev, types.DIDOp{Op: types.OpRegister, Subject: dev.Public(), Domain: types.DomainSensing,
		Role: types.EntityDevice, Controllers: []identity.PublicKey{gw.Public()}, Threshold: 1}))
	allowance := func() uint64 {
		raw, _ := c.s.StateGet(FeeGrantKey(dev.Public()))
		var g feeGrant
		if err := decMode.Unmarshal(raw, &g); err != nil {
			t.Fatal(err)
		}
		return g.Allowance
	}
	left := allowance()
	if left >= 100_000 {
		t.Fatal("the device's registration did not use the grant")
	}
	gwBefore, authBefore := c.bal(gw.Public()), c.bal(auth)
	rec := c.recordTx(dev)
	c.must(rec)
	fee := c.f.p.Fees.Fee(txGas(rec))
	share := assets.GatewayShare(fee, 2000)
	if c.bal(dev.Public()) != 0 || gwBefore-c.bal(gw.Public()) != fee-share || c.bal(auth)-authBefore != fee-share+7 {
		t.Fatalf("sponsored record: device %d, gateway paid %d (fee %d, share %d), authority got %d", c.bal(dev.Public()), gwBefore-c.bal(gw.Public()), fee, share, c.bal(auth)-authBefore)
	}
	if got := allowance(); got != left-fee {
		t.Fatalf("grant allowance %d after a fee of %d, was %d", got, fee, left)
	}
	// Another sponsor cannot take the grant over.
	taken := c.grantTx(user, dev.Public(), 5, 0)
	c.must(taken)
	if r, _ := c.s.Receipt(context.Background(), taken.Hash()); r.Status != types.ReceiptFailed || r.Reason != "fee_grant_taken" {
		t.Fatalf("a second sponsor's grant: %+v", r)
	}
	c.invariants()
}

// TestFreeRecords: with free_records, data records and registry operations
// pay nothing, asset operations still pay.
func TestFreeRecords(t *testing.T) {
	user := newKey(t)
	c := newFeeChain(t, true, types.FeeAllocation{Account: user.Public().DID(), Amount: 1000})
	c.must(c.recordTx(newKey(t))) // a key with no balance at all
	c.must(c.didTx(user, register(user.Public(), types.DomainUser, types.EntityUser)))
	if c.bal(user.Public()) != 1000 {
		t.Fatalf("a free registration cost %d", 1000-c.bal(user.Public()))
	}
	// 1000 base units at 10 per 1000 gas pay for 100,000 gas: an issue
	// costs less.
	c.must(c.assetTx(user, &assets.Op{Kind: assets.OpIssue, Denom: "kwh", MaxSupply: 10}))
	if c.bal(user.Public()) >= 1000 {
		t.Fatal("an asset operation was free")
	}
	c.invariants()
}

func (c *regChain) grantTx(sponsor *identity.PrivateKey, grantee identity.PublicKey, allowance, expires uint64) *types.Tx {
	c.t.Helper()
	g := &types.FeeGrant{Grantee: grantee, Allowance: allowance, Expires: expires}
	tx := &types.Tx{Version: types.TxVersion, ChainID: c.f.p.ChainID, Type: types.TxFeeGrant, Nonce: c.nextNonce(sponsor),
		Timestamp: c.now(), Payload: g.Encode()}
	tx.Sign(sponsor)
	return tx
}
