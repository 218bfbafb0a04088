package assets

import (
	"errors"
	"fmt"
	"math"
	"testing"

	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger/types"
)

// The cast of the table tests.
var (
	iss      = acct(1)  // user DID, issues "six"
	bob      = acct(2)  // user DID
	carol    = acct(3)  // user DID
	minter   = acct(4)  // user DID, mint authority of "ext"
	dev      = acct(10) // device DID controlled by iss
	selfDev  = acct(11) // device DID controlling itself
	multiDev = acct(12) // device DID with two controllers
	gw       = acct(13) // gateway DID
	revDev   = acct(14) // revoked device DID controlled by iss
	stranger = acct(99) // not registered
)

func castReg() *fakeReg {
	r := newFakeReg()
	for _, a := range []Account{iss, bob, carol, minter} {
		r.add(a, types.EntityUser)
	}
	r.add(dev, types.EntityDevice, iss)
	r.add(selfDev, types.EntityDevice)
	multi := r.add(multiDev, types.EntityDevice, iss, bob)
	multi.Threshold = 1
	r.add(gw, types.EntityGateway)
	r.add(revDev, types.EntityDevice, iss).Revoked = true
	return r
}

func issueOp(name string, max uint64, p Powers, mintAuth ...Account) *Op {
	op := &Op{Kind: OpIssue, Denom: name, Decimals: 6, MaxSupply: max, Powers: p}
	if len(mintAuth) > 0 {
		op.Account = mintAuth[0][:]
	}
	return op
}
func mintOp(name string, to Account, n uint64) *Op {
	return &Op{Kind: OpMint, Denom: name, Amount: n, To: to[:]}
}
func sendOp(name string, to Account, n uint64) *Op {
	return &Op{Kind: OpSend, Denom: name, Amount: n, To: to[:]}
}
func burnOp(name string, n uint64) *Op { return &Op{Kind: OpBurn, Denom: name, Amount: n} }
func freezeOp(name string, a Account) *Op {
	return &Op{Kind: OpFreeze, Denom: name, Account: a[:]}
}
func unfreezeOp(name string, a Account) *Op {
	return &Op{Kind: OpUnfreeze, Denom: name, Account: a[:]}
}
func clawOp(name string, a Account, n uint64) *Op {
	return &Op{Kind: OpClawback, Denom: name, Amount: n, Account: a[:]}
}
func renounceOp(name string, p Powers) *Op { return &Op{Kind: OpRenounce, Denom: name, Powers: p} }
func bindOp(d Account) *Op                 { return &Op{Kind: OpBindDevice, Account: d[:]} }
func xferOp(d, to Account) *Op {
	return &Op{Kind: OpTransferDevice, Account: d[:], To: to[:]}
}

type step struct {
	from Account
	op   *Op
	want error // nil: must succeed
}

// base issues "six" (max 1000, freeze and clawback) and mints 500 to bob.
var base = []step{
	{iss, issueOp("six", 1000, PowerFreeze|PowerClawback), nil},
	{iss, mintOp("six", bob, 500), nil},
}

func TestApplyRules(t *testing.T) {
	cases := []struct {
		name  string
		steps []step
		check func(t *testing.T, kv *MapKV, eff Effects)
	}{
		// issue
		{"issue", base, func(t *testing.T, kv *MapKV, _ Effects) {
			d, err := GetDenom(kv, "six")
			if err != nil {
				t.Fatal(err)
			}
			want := Denom{Issuer: iss, Decimals: 6, MaxSupply: 1000, Supply: 500, MintAuthority: iss,
				Mint: PowerHeld, Freeze: PowerHeld, Clawback: PowerHeld}
			if *d != want {
				t.Fatalf("record %+v, want %+v", *d, want)
			}
		}},
		{"issue taken name", append(base[:1:1], step{bob, issueOp("six", 5, 0), ErrDenomExists}), nil},
		{"issue by unregistered", []step{{stranger, issueOp("six", 5, 0), ErrUnknownDID}}, nil},
		{"issue by revoked", []step{{revDev, issueOp("six", 5, 0), ErrInactive}}, nil},
		{"issue with a mint authority", []step{
			{iss, issueOp("ext", 100, 0, minter), nil},
			{iss, mintOp("ext", bob, 1), ErrNotMintAuthority},
			{minter, mintOp("ext", bob, 100), nil},
		}, func(t *testing.T, kv *MapKV, _ Effects) {
			d, _ := GetDenom(kv, "ext")
			if d.Issuer != iss || d.MintAuthority != minter || d.Freeze != PowerAbsent || d.Clawback != PowerAbsent {
				t.Fatalf("record %+v", *d)
			}
		}},
		// mint
		{"mint to max supply", append(base, step{iss, mintOp("six", carol, 500), nil}), func(t *testing.T, kv *MapKV, _ Effects) {
			if supply(t, kv, "six") != 1000 || bal(t, kv, "six", carol) != 500 {
				t.Fatal("wrong supply or balance")
			}
		}},
		{"mint past max supply", append(base, step{iss, mintOp("six", carol, 501), ErrSupplyExceeded}), nil},
		{"mint overflow", []step{
			{iss, issueOp("big", math.MaxUint64, 0), nil},
			{iss, mintOp("big", bob, math.MaxUint64-1), nil},
			{iss, mintOp("big", bob, 2), ErrOverflow},
			{iss, mintOp("big", carol, 1), nil},
		}, func(t *testing.T, kv *MapKV, _ Effects) {
			if supply(t, kv, "big") != math.MaxUint64 {
				t.Fatal("supply")
			}
		}},
		{"mint unknown denom", []step{{iss, mintOp("nope", bob, 1), ErrUnknownDenom}}, nil},
		{"mint by other", append(base, step{bob, mintOp("six", bob, 1), ErrNotMintAuthority}), nil},
		{"mint after renounce", append(base, step{iss, renounceOp("six", PowerMint), nil},
			step{iss, mintOp("six", bob, 1), ErrPowerRenounced}), func(t *testing.T, kv *MapKV, _ Effects) {
			d, _ := GetDenom(kv, "six")
			if d.Mint != PowerRenounced || !d.MintAuthority.IsZero() {
				t.Fatalf("record %+v", *d)
			}
		}},
		{"mint authority renounces", []step{
			{iss, issueOp("ext", 100, 0, minter), nil},
			{bob, renounceOp("ext", PowerMint), ErrNotIssuer},
			{minter, renounceOp("ext", PowerMint), nil},
			{iss, renounceOp("ext", PowerMint), ErrPowerRenounced},
		}, nil},
		// send and burn
		{"send", append(base, step{bob, sendOp("six", carol, 200), nil}), func(t *testing.T, kv *MapKV, _ Effects) {
			if bal(t, kv, "six", bob) != 300 || bal(t, kv, "six", carol) != 200 || supply(t, kv, "six") != 500 {
				t.Fatal("wrong balances")
			}
		}},
		{"send all deletes the balance", append(base, step{bob, sendOp("six", carol, 500), nil}), func(t *testing.T, kv *MapKV, _ Effects) {
			if v, _ := kv.Get(BalanceKey("six", bob)); v != nil {
				t.Fatalf("zero balance stored as %x", v)
			}
		}},
		{"send to self", append(base, step{bob, sendOp("six", bob, 500), nil}), func(t *testing.T, kv *MapKV, _ Effects) {
			if bal(t, kv, "six", bob) != 500 {
				t.Fatal("self-send changed the balance")
			}
		}},
		{"send too much", append(base, step{bob, sendOp("six", carol, 501), ErrInsufficientFunds}), nil},
		{"send from empty", append(base, step{carol, sendOp("six", bob, 1), ErrInsufficientFunds}), nil},
		{"send unknown denom", append(base, step{bob, sendOp("sox", carol, 1), ErrUnknownDenom}), nil},
		{"burn", append(base, step{bob, burnOp("six", 100), nil}), func(t *testing.T, kv *MapKV, _ Effects) {
			if bal(t, kv, "six", bob) != 400 || supply(t, kv, "six") != 400 {
				t.Fatal("burn")
			}
		}},
		{"burn too much", append(base, step{bob, burnOp("six", 501), ErrInsufficientFunds}), nil},
		// multi-send
		{"multi-send", append(base,
			step{iss, issueOp("ext", 100, 0), nil},
			step{iss, mintOp("ext", bob, 10), nil},
			step{bob, &Op{Kind: OpMultiSend, Inputs: []Input{{Denom: "ext", Amount: 10}, {Denom: "six", Amount: 300}},
				Outputs: []Output{{To: carol, Denom: "six", Amount: 100}, {To: iss, Denom: "ext", Amount: 4},
					{To: carol, Denom: "six", Amount: 200}, {To: carol, Denom: "ext", Amount: 6}}}, nil}),
			func(t *testing.T, kv *MapKV, _ Effects) {
				if bal(t, kv, "six", bob) != 200 || bal(t, kv, "six", carol) != 300 || bal(t, kv, "ext", carol) != 6 ||
					bal(t, kv, "ext", iss) != 4 || bal(t, kv, "ext", bob) != 0 {
					t.Fatal("multi-send balances")
				}
			}},
		{"multi-send short on the second input", append(base,
			step{iss, issueOp("ext", 100, 0), nil},
			step{bob, &Op{Kind: OpMultiSend, Inputs: []Input{{Denom: "ext", Amount: 1}, {Denom: "six", Amount: 1}},
				Outputs: []Output{{To: carol, Denom: "six", Amount: 1}, {To: carol, Denom: "ext", Amount: 1}}}, ErrInsufficientFunds}), nil},
		{"multi-send inputs != outputs", append(base, step{bob, &Op{Kind: OpMultiSend, Inputs: []Input{{Denom: "six", Amount: 10}},
			Outputs: []Output{{To: carol, Denom: "six", Amount: 9}}}, ErrInputsOutputs}), nil},
		// freeze
		{"frozen cannot send or burn but receives", append(base,
			step{iss, freezeOp("six", bob), nil},
			step{bob, sendOp("six", carol, 1), ErrFrozen},
			step{bob, burnOp("six", 1), ErrFrozen},
			step{bob, &Op{Kind: OpMultiSend, Inputs: []Input{{Denom: "six", Amount: 1}},
				Outputs: []Output{{To: carol, Denom: "six", Amount: 1}}}, ErrFrozen},
			step{iss, mintOp("six", bob, 5), nil},
			step{iss, freezeOp("six", bob), ErrFreezeState},
			step{iss, unfreezeOp("six", bob), nil},
			step{iss, unfreezeOp("six", bob), ErrFreezeState},
			step{bob, sendOp("six", carol, 505), nil}), nil},
		{"freeze by other", append(base, step{bob, freezeOp("six", carol), ErrNotIssuer}), nil},
		{"freeze without the power", []step{{iss, issueOp("ext", 1, 0), nil},
			{iss, freezeOp("ext", bob), ErrNoPower}, {iss, unfreezeOp("ext", bob), ErrNoPower},
			{iss, renounceOp("ext", PowerFreeze), ErrNoPower}}, nil},
		{"unfreeze after renounce", append(base,
			step{iss, freezeOp("six", bob), nil},
			step{iss, renounceOp("six", PowerFreeze), nil},
			step{iss, freezeOp("six", carol), ErrPowerRenounced},
			step{iss, renounceOp("six", PowerFreeze), ErrPowerRenounced},
			step{iss, unfreezeOp("six", bob), nil}), func(t *testing.T, kv *MapKV, _ Effects) {
			if f, _ := Frozen(kv, "six", bob); f {
				t.Fatal("still frozen")
			}
		}},
		// clawback
		{"clawback, frozen or not", append(base,
			step{iss, freezeOp("six", bob), nil},
			step{iss, clawOp("six", bob, 200), nil}), func(t *testing.T, kv *MapKV, _ Effects) {
			if bal(t, kv, "six", bob) != 300 || bal(t, kv, "six", iss) != 200 || supply(t, kv, "six") != 500 {
				t.Fatal("clawback balances")
			}
		}},
		{"clawback more than held", append(base, step{iss, clawOp("six", bob, 501), ErrInsufficientFunds}), nil},
		{"clawback by other", append(base, step{carol, clawOp("six", bob, 1), ErrNotIssuer}), nil},
		{"clawback renounced", append(base, step{iss, renounceOp("six", PowerClawback), nil},
			step{iss, clawOp("six", bob, 1), ErrPowerRenounced}), nil},
		{"clawback absent", []step{{iss, issueOp("ext", 5, PowerFreeze), nil}, {iss, mintOp("ext", bob, 5), nil},
			{iss, clawOp("ext", bob, 1), ErrNoPower}}, nil},
		{"renounce by other", append(base, step{bob, renounceOp("six", PowerFreeze), ErrNotIssuer}), nil},
		// device assets
		{"bind device", []step{{iss, bindOp(dev), nil}}, func(t *testing.T, kv *MapKV, _ Effects) {
			if o, ok, _ := DeviceOwner(kv, dev); !ok || o != iss {
				t.Fatal("owner")
			}
		}},
		{"bind self-controlled device", []step{{selfDev, bindOp(selfDev), nil}}, nil},
		{"bind twice", []step{{iss, bindOp(dev), nil}, {iss, bindOp(dev), ErrDeviceBound}}, nil},
		{"bind by non-controller", []step{{bob, bindOp(dev), ErrNotController}}, nil},
		{"bind two-controller device", []step{{iss, bindOp(multiDev), ErrNotController}}, nil},
		{"bind non-device", []step{{gw, bindOp(gw), ErrNotDevice}}, nil},
		{"bind unregistered", []step{{iss, bindOp(stranger), ErrUnknownDID}}, nil},
		{"bind revoked", []step{{iss, bindOp(revDev), ErrInactive}}, nil},
		{"transfer device", []step{{iss, bindOp(dev), nil}, {iss, xferOp(dev, bob), nil}},
			func(t *testing.T, kv *MapKV, eff Effects) {
				if eff.ControllerChange == nil || *eff.ControllerChange != (ControllerChange{Device: dev, NewController: bob}) {
					t.Fatalf("effects %+v", eff)
				}
				if o, _, _ := DeviceOwner(kv, dev); o != bob {
					t.Fatal("owner")
				}
			}},
		{"transfer twice", []step{{iss, bindOp(dev), nil}, {iss, xferOp(dev, bob), nil},
			{iss, xferOp(dev, carol), ErrNotOwner}, {bob, xferOp(dev, carol), nil}}, nil},
		{"transfer to a bare key", []step{{iss, bindOp(dev), nil}, {iss, xferOp(dev, stranger), nil}}, nil},
		{"transfer to owner", []step{{iss, bindOp(dev), nil}, {iss, xferOp(dev, iss), ErrBadOp}}, nil},
		{"transfer unbound", []step{{iss, xferOp(dev, bob), ErrNoDeviceAsset}}, nil},
		{"transfer by other", []step{{iss, bindOp(dev), nil}, {bob, xferOp(dev, carol), ErrNotOwner}}, nil},
		{"transfer to revoked", []step{{iss, bindOp(dev), nil}, {iss, xferOp(dev, revDev), ErrInactive}}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			kv, reg := NewMapKV(), castReg()
			var eff Effects
			for i, s := range c.steps {
				var err error
				eff, err = applyChecked(t, kv, reg, s.from, s.op)
				mustErr(t, fmt.Sprintf("%s (step %d)", s.op.Kind, i), err, s.want)
			}
			if c.check != nil {
				c.check(t, kv, eff)
			}
		})
	}
}

func TestAdmissionRequired(t *testing.T) {
	kv, reg := NewMapKV(), castReg()
	reg.admission = true
	reg.recs[bob].Admitted = false
	reg.add(acct(20), types.EntityDevice, iss).Admitted = false
	for _, s := range []step{
		{bob, issueOp("six", 5, 0), ErrNotAdmitted},
		{iss, issueOp("six", 5, 0), nil},
		{iss, bindOp(acct(20)), ErrNotAdmitted},
		{iss, bindOp(dev), nil},
		{iss, xferOp(dev, bob), ErrNotAdmitted},
		{iss, xferOp(dev, stranger), ErrUnknownDID},
		{iss, xferOp(dev, carol), nil},
	} {
		_, err := applyChecked(t, kv, reg, s.from, s.op)
		mustErr(t, s.op.Kind.String(), err, s.want)
	}
}

func TestControllersChanged(t *testing.T) {
	kv, reg := NewMapKV(), castReg()
	// No asset: anything goes.
	if err := reg.setControllers(kv, selfDev, 2, iss, bob); err != nil {
		t.Fatal(err)
	}
	if kv.Len() != 0 {
		t.Fatal("a controller change of an unbound DID wrote state")
	}
	if _, err := applyChecked(t, kv, reg, iss, bindOp(dev)); err != nil {
		t.Fatal(err)
	}
	before := kv.Clone()
	err := reg.setControllers(kv, dev, 1, iss, bob)
	mustErr(t, "two controllers", err, ErrDeviceBound)
	if !kv.Equal(before) {
		t.Fatal("refused change wrote state")
	}
	if err := reg.setControllers(kv, dev, 1, carol); err != nil {
		t.Fatal(err)
	}
	if o, _, _ := DeviceOwner(kv, dev); o != carol {
		t.Fatalf("owner %s, want carol", o)
	}
	if err := CheckInvariants(kv, reg); err != nil {
		t.Fatal(err)
	}
	// The invariant catches a registry change that skipped the hook.
	reg.recs[dev].Controllers = []identity.PublicKey{identity.PublicKey(bob)}
	mustErr(t, "owner != controller", CheckInvariants(kv, reg), ErrInvariant)
}

func TestFees(t *testing.T) {
	kv, reg := NewMapKV(), castReg()
	for _, s := range base {
		if _, err := applyChecked(t, kv, reg, s.from, s.op); err != nil {
			t.Fatal(err)
		}
	}
	proposer, gateway := acct(30), acct(31)
	cases := []struct {
		name        string
		payer, gw   Account
		amount      uint64
		bps         uint16
		want        error
		toProp, toG uint64
	}{
		{"all to the proposer", bob, Account{}, 100, 2500, nil, 100, 0},
		{"a quarter to the gateway", bob, gateway, 100, 2500, nil, 75, 25},
		{"rounding favours the proposer", bob, gateway, 7, 5000, nil, 4, 3},
		{"everything to the gateway", bob, gateway, 10, 10000, nil, 0, 10},
		{"zero fee", carol, gateway, 0, 5000, nil, 0, 0},
		{"too poor", carol, gateway, 1, 0, ErrInsufficientFunds, 0, 0},
		{"bad split", bob, gateway, 1, 10001, ErrBadFee, 0, 0},
		{"zero payer", Account{}, gateway, 1, 0, ErrBadFee, 0, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := kv.Clone()
			p0, g0, b0 := bal(t, kv, "six", proposer), bal(t, kv, "six", gateway), bal(t, kv, "six", c.payer)
			err := ChargeFee(kv, "six", c.payer, proposer, c.gw, c.amount, c.bps)
			mustErr(t, "ChargeFee", err, c.want)
			if err != nil {
				if !kv.Equal(before) {
					t.Fatal("failed fee changed state")
				}
				return
			}
			if got := bal(t, kv, "six", proposer) - p0; got != c.toProp {
				t.Fatalf("proposer got %d, want %d", got, c.toProp)
			}
			if got := bal(t, kv, "six", gateway) - g0; got != c.toG {
				t.Fatalf("gateway got %d, want %d", got, c.toG)
			}
			if got := b0 - bal(t, kv, "six", c.payer); got != c.amount {
				t.Fatalf("payer paid %d, want %d", got, c.amount)
			}
			if err := CheckInvariants(kv, reg); err != nil {
				t.Fatal(err)
			}
		})
	}
	t.Run("frozen payer", func(t *testing.T) {
		if _, err := applyChecked(t, kv, reg, iss, freezeOp("six", bob)); err != nil {
			t.Fatal(err)
		}
		mustErr(t, "ChargeFee", ChargeFee(kv, "six", bob, proposer, gateway, 1, 0), ErrFrozen)
		mustErr(t, "ChargeFee", ChargeFee(kv, "sox", bob, proposer, gateway, 1, 0), ErrUnknownDenom)
	})
	if g := GatewayShare(math.MaxUint64, 10000); g != math.MaxUint64 {
		t.Fatalf("GatewayShare(max, 100%%) = %d", g)
	}
	if g := GatewayShare(math.MaxUint64, 60000); g != math.MaxUint64 {
		t.Fatalf("GatewayShare clamps: %d", g)
	}
}

func TestReward(t *testing.T) {
	kv, reg := NewMapKV(), castReg()
	if err := InitDenom(kv, "six", Denom{Issuer: iss, MaxSupply: 250, MintAuthority: iss, Mint: PowerRenounced}); err == nil {
		t.Fatal("renounced mint with an authority accepted")
	}
	if err := InitDenom(kv, "six", Denom{Issuer: iss, MaxSupply: 250, Mint: PowerRenounced}); err != nil {
		t.Fatal(err)
	}
	mustErr(t, "InitDenom twice", InitDenom(kv, "six", Denom{Issuer: iss, MaxSupply: 1, Mint: PowerRenounced}), ErrDenomExists)
	mustErr(t, "InitDenom supply", InitDenom(kv, "sox", Denom{Issuer: iss, MaxSupply: 5, Supply: 1, Mint: PowerRenounced}), ErrBadOp)
	a := acct(30)
	for i, want := range []uint64{100, 100, 50, 0} {
		got, err := Reward(kv, "six", a, 100)
		if err != nil || got != want {
			t.Fatalf("reward %d: minted %d (%v), want %d", i, got, err, want)
		}
		if err := CheckInvariants(kv, reg); err != nil {
			t.Fatal(err)
		}
	}
	if bal(t, kv, "six", a) != 250 || supply(t, kv, "six") != 250 {
		t.Fatal("reward totals")
	}
	if _, err := Reward(kv, "sox", a, 1); !errors.Is(err, ErrUnknownDenom) {
		t.Fatalf("reward in unknown denom: %v", err)
	}
}

func TestInvariantsCatchCorruption(t *testing.T) {
	setup := func() (*MapKV, *fakeReg) {
		kv, reg := NewMapKV(), castReg()
		for _, s := range append(base, step{iss, bindOp(dev), nil}, step{iss, freezeOp("six", carol), nil}) {
			if _, err := applyChecked(t, kv, reg, s.from, s.op); err != nil {
				t.Fatal(err)
			}
		}
		return kv, reg
	}
	cases := []struct {
		name    string
		corrupt func(kv *MapKV, reg *fakeReg)
	}{
		{"balance without supply", func(kv *MapKV, _ *fakeReg) { kv.Set(BalanceKey("six", carol), []byte{0, 0, 0, 0, 0, 0, 0, 1}) }},
		{"zero balance stored", func(kv *MapKV, _ *fakeReg) { kv.Set(BalanceKey("six", carol), make([]byte, 8)) }},
		{"short balance", func(kv *MapKV, _ *fakeReg) { kv.Set(BalanceKey("six", bob), []byte{1}) }},
		{"balance in no denom", func(kv *MapKV, _ *fakeReg) { kv.Set(BalanceKey("sox", bob), []byte{0, 0, 0, 0, 0, 0, 0, 1}) }},
		{"freeze in no denom", func(kv *MapKV, _ *fakeReg) { kv.Set(FrozenKey("sox", bob), []byte{1}) }},
		{"bad freeze flag", func(kv *MapKV, _ *fakeReg) { kv.Set(FrozenKey("six", bob), []byte{2}) }},
		{"unknown key", func(kv *MapKV, _ *fakeReg) { kv.Set([]byte("asset/x"), []byte{1}) }},
		{"bad record", func(kv *MapKV, _ *fakeReg) { kv.Set(DenomKey("six"), []byte{0x80}) }},
		{"supply above max", func(kv *MapKV, _ *fakeReg) {
			d, _ := GetDenom(kv, "six")
			d.MaxSupply = 499
			kv.Set(DenomKey("six"), d.Encode())
		}},
		{"device owner not controller", func(kv *MapKV, _ *fakeReg) { kv.Set(DeviceKey(dev), bob[:]) }},
		{"device asset of an unregistered DID", func(kv *MapKV, _ *fakeReg) { kv.Set(DeviceKey(stranger), stranger[:]) }},
		{"device asset owned by zero", func(kv *MapKV, _ *fakeReg) { kv.Set(DeviceKey(dev), make([]byte, 32)) }},
		{"device controllers changed behind its back", func(_ *MapKV, reg *fakeReg) { reg.recs[dev].Controllers[0] = identity.PublicKey(bob) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			kv, reg := setup()
			c.corrupt(kv, reg)
			mustErr(t, "CheckInvariants", CheckInvariants(kv, reg), ErrInvariant)
		})
	}
}

func TestReason(t *testing.T) {
	kv, reg := NewMapKV(), castReg()
	_, err := Apply(kv, reg, bob, sendOp("six", carol, 1))
	if Reason(err) != "asset_unknown_denom" {
		t.Fatalf("Reason(%v) = %q", err, Reason(err))
	}
	if Reason(errors.New("x")) != "other" {
		t.Fatal("Reason of a foreign error")
	}
	for _, c := range []struct {
		err  error
		want bool
	}{
		{err, true}, {nil, false}, {errors.New("disk on fire"), false},
		{fmt.Errorf("x: %w", ErrCorrupt), false}, {fmt.Errorf("x: %w", ErrInvariant), false},
		{fmt.Errorf("send: %w", ErrFrozen), true},
	} {
		if Refused(c.err) != c.want {
			t.Errorf("Refused(%v) = %t", c.err, !c.want)
		}
	}
	// A registry that fails is not a verdict on the operation.
	_, err = Apply(kv, failingReg{}, iss, issueOp("six", 5, 0))
	if err == nil || Refused(err) {
		t.Fatalf("registry failure: %v, refused %t", err, Refused(err))
	}
	// An operation built in code is validated by Apply.
	_, err = Apply(kv, reg, iss, &Op{Kind: OpSend, Denom: "six", Amount: 1})
	mustErr(t, "unvalidated send", err, ErrBadOp)
	_, err = Apply(kv, reg, Account{}, issueOp("six", 5, 0))
	mustErr(t, "zero sender", err, ErrBadOp)
	if kv.Len() != 0 {
		t.Fatal("refused operations wrote state")
	}
}

type failingReg struct{}

func (failingReg) Lookup(Account) (*types.DIDRecord, error) {
	return nil, errors.New("registry unavailable")
}
func (failingReg) AdmissionRequired() bool { return false }

// TestCorruptStateIsNotRefusal: a stored value that does not decode is a
// node failure, not a refusal.
func TestCorruptStateIsNotRefusal(t *testing.T) {
	kv, reg := NewMapKV(), castReg()
	kv.Set(DenomKey("six"), []byte{0x80})
	_, err := Apply(kv, reg, iss, mintOp("six", bob, 1))
	mustErr(t, "mint over corrupt record", err, ErrCorrupt)
	if Refused(err) {
		t.Fatal("corrupt state counted as a refusal")
	}
	kv.Set(DenomKey("six"), (&Denom{Issuer: iss, MaxSupply: 5, MintAuthority: iss, Mint: PowerHeld}).Encode())
	kv.Set(BalanceKey("six", bob), []byte{1, 2})
	_, err = Apply(kv, reg, bob, sendOp("six", carol, 1))
	mustErr(t, "send from a corrupt balance", err, ErrCorrupt)
}
