package assets

import (
	"bytes"
	"testing"
)

// FuzzDecodeOp: the payload decoder never panics; what decodes is valid
// and re-encodes to the same bytes.
func FuzzDecodeOp(f *testing.F) {
	for _, g := range goldenOps() {
		f.Add(g.Op.Encode())
	}
	f.Add([]byte{})
	f.Add([]byte{0x8a})
	f.Add(bytes.Repeat([]byte{0x9f}, 64))
	f.Fuzz(func(t *testing.T, data []byte) {
		op, err := DecodeOp(data)
		if err != nil {
			return
		}
		if err := op.Validate(); err != nil {
			t.Fatalf("decoded operation does not validate: %v", err)
		}
		if !bytes.Equal(op.Encode(), data) {
			t.Fatal("decoded operation re-encodes differently")
		}
	})
}

// FuzzApply: any payload from any of the cast, applied to a state with
// denominations, balances, a frozen account and a bound device, never
// panics; a refused one changes nothing, an accepted one keeps the
// invariants.
func FuzzApply(f *testing.F) {
	for _, g := range goldenOps() {
		f.Add(byte(0), g.Op.Encode())
	}
	for i, s := range []step{{iss, sendOp("six", carol, 1), nil}, {bob, sendOp("six", carol, 499), nil},
		{iss, clawOp("six", bob, 3), nil}, {iss, xferOp(dev, carol), nil}, {iss, renounceOp("six", PowerMint), nil}} {
		f.Add(byte(i), s.op.Encode())
	}
	cast := []Account{iss, bob, carol, minter, dev, selfDev, multiDev, gw, revDev, stranger, acct(0xa1), acct(0xb2)}
	f.Fuzz(func(t *testing.T, who byte, data []byte) {
		kv, reg := NewMapKV(), castReg()
		for _, s := range append(base, step{iss, bindOp(dev), nil}, step{iss, freezeOp("six", carol), nil},
			step{iss, issueOp("ext", 1<<40, PowerClawback, minter), nil}, step{minter, mintOp("ext", acct(0xb2), 1<<39), nil}) {
			if _, err := applyChecked(t, kv, reg, s.from, s.op); err != nil {
				t.Fatal(err)
			}
		}
		op, err := DecodeOp(data)
		if err != nil {
			return
		}
		_, _ = applyChecked(t, kv, reg, cast[int(who)%len(cast)], op)
	})
}

// FuzzDecodeDenom: the stored record decoder never panics; what decodes
// re-encodes to the same bytes.
func FuzzDecodeDenom(f *testing.F) {
	f.Add((&Denom{Issuer: acct(1), MaxSupply: 10, Supply: 3, MintAuthority: acct(1), Mint: PowerHeld, Freeze: PowerRenounced}).Encode())
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := DecodeDenom(data)
		if err == nil && !bytes.Equal(d.Encode(), data) {
			t.Fatal("record re-encodes differently")
		}
	})
}
