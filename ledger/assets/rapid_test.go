package assets

import (
	"math"
	"testing"

	"github.com/sixdomain/sixdomain/ledger/types"
	"pgregory.net/rapid"
)

// The world of the property test: six user DIDs, devices controlled by
// one of them or by themselves, a device with two controllers, and an
// unregistered key; three denomination names.
var (
	propUsers   = []Account{acct(1), acct(2), acct(3), acct(4), acct(5), acct(6)}
	propDevices = []Account{acct(10), acct(11), acct(12), acct(13), acct(14), acct(15)}
	propAll     = append(append(append([]Account{}, propUsers...), propDevices...), acct(99))
	propDenoms  = []string{"aa", "bb", "cc", "dd"} // "dd" is not issued at the start
)

func propReg() *fakeReg {
	r := newFakeReg()
	for _, u := range propUsers {
		r.add(u, types.EntityUser)
	}
	r.add(acct(10), types.EntityDevice, acct(1))
	r.add(acct(11), types.EntityDevice)
	r.add(acct(12), types.EntityDevice, acct(2))
	r.add(acct(13), types.EntityDevice, acct(1), acct(2))
	r.add(acct(14), types.EntityDevice, acct(3))
	r.add(acct(15), types.EntityDevice, acct(4))
	return r
}

func drawAmount(t *rapid.T, label string) uint64 {
	return rapid.OneOf(
		rapid.Uint64Range(1, 60),
		rapid.Uint64Range(1, 1000),
		rapid.Uint64Range(math.MaxUint64-3, math.MaxUint64),
	).Draw(t, label)
}

func drawOp(t *rapid.T) *Op {
	kind := rapid.SampledFrom([]OpKind{OpIssue, OpMint, OpMint, OpBurn, OpSend, OpSend, OpSend, OpMultiSend, OpMultiSend, OpMultiSend, OpMultiSend, OpMultiSend,
		OpFreeze, OpFreeze, OpFreeze, OpUnfreeze, OpUnfreeze, OpUnfreeze, OpUnfreeze, OpUnfreeze, OpUnfreeze, OpClawback, OpClawback, OpClawback, OpClawback, OpRenounce, OpRenounce,
		OpBindDevice, OpBindDevice, OpBindDevice, OpTransferDevice, OpTransferDevice, OpTransferDevice, OpTransferDevice}).Draw(t, "kind")
	denom := rapid.SampledFrom(propDenoms).Draw(t, "denom")
	who := func(label string) []byte {
		a := rapid.SampledFrom(propAll).Draw(t, label)
		return a[:]
	}
	device := func() []byte {
		if rapid.IntRange(0, 4).Draw(t, "any account as device") == 0 {
			return who("device")
		}
		a := rapid.SampledFrom(propDevices).Draw(t, "device")
		return a[:]
	}
	switch kind {
	case OpIssue:
		op := &Op{Kind: kind, Denom: denom, Decimals: uint8(rapid.IntRange(0, MaxDecimals).Draw(t, "decimals")),
			MaxSupply: rapid.SampledFrom([]uint64{1, 100, 1000, math.MaxUint64}).Draw(t, "max"),
			Powers:    Powers(rapid.IntRange(0, 3).Draw(t, "powers") * 2)}
		if rapid.Bool().Draw(t, "has mint authority") {
			op.Account = who("mint authority")
		}
		return op
	case OpMint, OpSend:
		return &Op{Kind: kind, Denom: denom, Amount: drawAmount(t, "amount"), To: who("to")}
	case OpBurn:
		return &Op{Kind: kind, Denom: denom, Amount: drawAmount(t, "amount")}
	case OpFreeze, OpUnfreeze:
		return &Op{Kind: kind, Denom: denom, Account: who("account")}
	case OpClawback:
		return &Op{Kind: kind, Denom: denom, Amount: drawAmount(t, "amount"), Account: who("account")}
	case OpRenounce:
		return &Op{Kind: kind, Denom: denom, Powers: rapid.SampledFrom([]Powers{PowerMint, PowerFreeze, PowerClawback}).Draw(t, "power")}
	case OpBindDevice:
		return &Op{Kind: kind, Account: device()}
	case OpTransferDevice:
		return &Op{Kind: kind, Account: device(), To: who("to")}
	}
	// Multi-send: outputs drawn first, inputs are their sums, so that
	// most are well-formed; sometimes one input is off by one.
	op := &Op{Kind: OpMultiSend}
	sums := map[string]uint64{}
	for range rapid.IntRange(1, 6).Draw(t, "outputs") {
		out := Output{To: Account(who("to")), Denom: rapid.SampledFrom(propDenoms).Draw(t, "denom"), Amount: rapid.Uint64Range(1, 80).Draw(t, "amount")}
		op.Outputs = append(op.Outputs, out)
		sums[out.Denom] += out.Amount
	}
	for _, d := range propDenoms {
		if sums[d] > 0 {
			op.Inputs = append(op.Inputs, Input{Denom: d, Amount: sums[d]})
		}
	}
	if rapid.IntRange(0, 9).Draw(t, "skew") == 0 {
		op.Inputs[0].Amount++
	}
	return op
}

// TestPropertyOperations runs random sequences of operations, fees,
// rewards and registry controller changes from random senders. After
// every step the invariants hold; a refused step leaves the state byte
// for byte unchanged (applyChecked and the checks below); successful
// sends, mints, burns, fees and rewards move exactly their amounts.
func TestPropertyOperations(t *testing.T) {
	succeeded := map[string]int{}
	rapid.Check(t, func(t *rapid.T) {
		kv, reg := NewMapKV(), propReg()
		// A start with something to move: three denominations, balances,
		// a bound device. Their operations are checked like all others.
		for _, d := range propDenoms[:3] {
			issuer := rapid.SampledFrom(propUsers).Draw(t, "issuer")
			op := &Op{Kind: OpIssue, Denom: d, MaxSupply: rapid.SampledFrom([]uint64{500, 1000, math.MaxUint64}).Draw(t, "max"),
				Powers: Powers(rapid.IntRange(0, 3).Draw(t, "powers") * 2)}
			if _, err := applyChecked(t, kv, reg, issuer, op); err != nil {
				t.Fatal(err)
			}
			for range 3 {
				to := rapid.SampledFrom(propAll).Draw(t, "to")
				if _, err := applyChecked(t, kv, reg, issuer, mintOp(d, to, rapid.Uint64Range(1, 150).Draw(t, "amount"))); err != nil {
					t.Fatal(err)
				}
			}
		}
		if _, err := applyChecked(t, kv, reg, acct(1), bindOp(acct(10))); err != nil {
			t.Fatal(err)
		}
		// Some chains require admission; two DIDs are not admitted there.
		if rapid.IntRange(0, 3).Draw(t, "admission required") == 0 {
			reg.admission = true
			reg.recs[acct(6)].Admitted = false
			reg.recs[acct(15)].Admitted = false
		}
		op := func(t *rapid.T) {
			op := drawOp(t)
			sender := rapid.SampledFrom(propAll).Draw(t, "sender")
			if rapid.IntRange(0, 3).Draw(t, "pick sender from state") > 0 {
				sender = likelySender(t, kv, reg, op, sender)
			}
			before := kv.Clone()
			if _, err := applyChecked(t, kv, reg, sender, op); err != nil {
				return
			}
			succeeded[op.Kind.String()]++
			checkMoves(t, before, kv, sender, op)
		}
		t.Repeat(map[string]func(*rapid.T){
			"op":  op,
			"op2": op,
			"op3": op,
			"op4": op,
			"fee": func(t *rapid.T) {
				denom := rapid.SampledFrom(propDenoms).Draw(t, "denom")
				payer := rapid.SampledFrom(propAll).Draw(t, "payer")
				prop := rapid.SampledFrom(propUsers).Draw(t, "proposer")
				gwy := rapid.SampledFrom(append([]Account{{}}, propAll...)).Draw(t, "gateway")
				amount := rapid.Uint64Range(0, 100).Draw(t, "amount")
				bps := uint16(rapid.IntRange(0, MaxFeeBps+1).Draw(t, "bps"))
				before := kv.Clone()
				if err := ChargeFee(kv, denom, payer, prop, gwy, amount, bps); err != nil {
					if !kv.Equal(before) {
						t.Fatalf("failed fee (%v) changed the state", err)
					}
					return
				}
				if amount > 0 {
					succeeded["fee"]++
				}
				if b0, b1 := bal(t, before, denom, payer), bal(t, kv, denom, payer); amount > 0 && payer != prop && payer != gwy && b0-b1 != amount {
					t.Fatalf("payer paid %d, fee %d", b0-b1, amount)
				}
				checkSupplies(t, before, kv, "")
			},
			"reward": func(t *rapid.T) {
				denom := rapid.SampledFrom(propDenoms).Draw(t, "denom")
				to := rapid.SampledFrom(propAll).Draw(t, "to")
				before := kv.Clone()
				minted, err := Reward(kv, denom, to, drawAmount(t, "amount"))
				if err != nil {
					if !kv.Equal(before) {
						t.Fatalf("failed reward (%v) changed the state", err)
					}
					return
				}
				if minted > 0 {
					succeeded["reward"]++
				}
				if bal(t, kv, denom, to)-bal(t, before, denom, to) != minted || supply(t, kv, denom)-supply(t, before, denom) != minted {
					t.Fatal("reward moved something else than what it minted")
				}
				checkSupplies(t, before, kv, denom)
			},
			"set-controllers": func(t *rapid.T) {
				did := rapid.SampledFrom(propDevices).Draw(t, "device")
				cs := []Account{rapid.SampledFrom(propUsers).Draw(t, "controller")}
				if rapid.IntRange(0, 3).Draw(t, "two") == 0 {
					if c2 := rapid.SampledFrom(propUsers).Draw(t, "controller 2"); c2 != cs[0] {
						cs = append(cs, c2)
					}
				}
				before := kv.Clone()
				if err := reg.setControllers(kv, did, 1, cs...); err != nil {
					if !kv.Equal(before) {
						t.Fatalf("refused controller change (%v) changed the state", err)
					}
					return
				}
				succeeded["set-controllers"]++
			},
			"revoke-or-reinstate": func(t *rapid.T) {
				// The registry deactivates or revokes a DID, or undoes it;
				// no asset state changes, and the invariants still hold.
				rec := reg.recs[rapid.SampledFrom(propAll[:len(propAll)-1]).Draw(t, "did")]
				switch rapid.IntRange(0, 2).Draw(t, "what") {
				case 0:
					rec.Revoked = !rec.Revoked
				case 1:
					rec.Deactivated = !rec.Deactivated
				}
			},
			"": func(t *rapid.T) {
				if err := CheckInvariants(kv, reg); err != nil {
					t.Fatal(err)
				}
			},
		})
	})
	// The generator reaches every rule's success path, not only refusals.
	for _, k := range []string{"issue", "mint", "burn", "send", "multi-send", "freeze", "unfreeze", "clawback",
		"renounce", "bind-device", "transfer-device", "fee", "reward", "set-controllers"} {
		if succeeded[k] == 0 {
			t.Errorf("no %s ever succeeded", k)
		}
	}
	t.Logf("successes: %v", succeeded)
}

// checkMoves checks that a successful operation moved exactly its amounts.
func checkMoves(t *rapid.T, before, after *MapKV, sender Account, op *Op) {
	delta := func(name string, a Account) int64 {
		return int64(bal(t, after, name, a)) - int64(bal(t, before, name, a))
	}
	switch op.Kind {
	case OpSend:
		if to := op.ToValue(); to != sender && op.Amount < 1<<62 {
			if delta(op.Denom, sender) != -int64(op.Amount) || delta(op.Denom, to) != int64(op.Amount) {
				t.Fatalf("send of %d moved %d / %d", op.Amount, delta(op.Denom, sender), delta(op.Denom, to))
			}
		}
		checkSupplies(t, before, after, "")
	case OpMint:
		if supply(t, after, op.Denom)-supply(t, before, op.Denom) != op.Amount ||
			bal(t, after, op.Denom, op.ToValue())-bal(t, before, op.Denom, op.ToValue()) != op.Amount {
			t.Fatal("mint did not add its amount")
		}
		checkSupplies(t, before, after, op.Denom)
	case OpBurn:
		if supply(t, before, op.Denom)-supply(t, after, op.Denom) != op.Amount ||
			bal(t, before, op.Denom, sender)-bal(t, after, op.Denom, sender) != op.Amount {
			t.Fatal("burn did not remove its amount")
		}
		checkSupplies(t, before, after, op.Denom)
	case OpMultiSend, OpClawback:
		checkSupplies(t, before, after, "")
	}
}

// checkSupplies checks that no denomination's supply changed, except
// that of except.
func checkSupplies(t *rapid.T, before, after *MapKV, except string) {
	for _, d := range propDenoms {
		if d == except {
			continue
		}
		d0, err0 := GetDenom(before, d)
		d1, err1 := GetDenom(after, d)
		if (err0 == nil) != (err1 == nil) || err0 == nil && d0.Supply != d1.Supply {
			t.Fatalf("supply of %q changed", d)
		}
	}
}

// likelySender picks the sender most likely to make op succeed: the
// issuer, the mint authority, a holder, the device's controller or owner.
// Without the bias, random senders almost never hold a power.
func likelySender(t *rapid.T, kv *MapKV, reg *fakeReg, op *Op, fallback Account) Account {
	listed := func(prefix, denom string) Account {
		var hs []Account
		_ = kv.Iterate(pairKey(prefix, denom, Account{})[:len(prefix)+1+len(denom)], func(k, _ []byte) error {
			hs = append(hs, toAccount(k[len(k)-32:]))
			return nil
		})
		if len(hs) == 0 {
			return fallback
		}
		return rapid.SampledFrom(hs).Draw(t, "listed")
	}
	holder := func(denom string) Account { return listed(prefixBal, denom) }
	d, _ := GetDenom(kv, op.Denom)
	switch op.Kind {
	case OpMint:
		if d != nil && !d.MintAuthority.IsZero() {
			return d.MintAuthority
		}
	case OpFreeze, OpUnfreeze, OpClawback, OpRenounce:
		if op.Kind == OpUnfreeze {
			// Any frozen account, in any denomination.
			var keys [][]byte
			_ = kv.Iterate([]byte(prefixFrozen), func(k, _ []byte) error {
				keys = append(keys, k)
				return nil
			})
			if len(keys) > 0 {
				k := rapid.SampledFrom(keys).Draw(t, "frozen")
				name, a, _ := splitPairKey(k[len(prefixFrozen):])
				op.Denom, op.Account = name, a[:]
				d, _ = GetDenom(kv, name)
			}
		}
		if op.Kind == OpClawback {
			h := holder(op.Denom)
			op.Account = h[:]
			op.Amount = min(op.Amount, bal(t, kv, op.Denom, h)+rapid.Uint64Range(0, 1).Draw(t, "more"))
			if op.Amount == 0 {
				op.Amount = 1
			}
		}
		if d != nil {
			return d.Issuer
		}
	case OpBurn, OpSend:
		return holder(op.Denom)
	case OpMultiSend:
		return holder(op.Inputs[0].Denom)
	case OpBindDevice:
		if rec := reg.recs[op.AccountValue()]; rec != nil && len(rec.Controllers) > 0 {
			return Account(rec.Controllers[0])
		}
	case OpTransferDevice:
		if o, ok, _ := DeviceOwner(kv, op.AccountValue()); ok {
			return o
		}
	}
	return fallback
}
