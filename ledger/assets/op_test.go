package assets

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sixdomain/sixdomain/ledger/types"
)

var update = flag.Bool("update", false, "rewrite testdata/ops.json")

// goldenOps is one operation of every kind, with every field it uses set.
func goldenOps() []struct {
	Name string
	Op   *Op
} {
	a, b := acct(0xa1), acct(0xb2)
	return []struct {
		Name string
		Op   *Op
	}{
		{"issue", &Op{Kind: OpIssue, Denom: "six", Decimals: 6, MaxSupply: 21_000_000_000_000, Powers: PowerFreeze | PowerClawback}},
		{"issue-mint-authority", &Op{Kind: OpIssue, Denom: "kwh-credit", MaxSupply: 1_000_000, Account: a[:]}},
		{"mint", mintOp("six", b, 1_000_000)},
		{"burn", burnOp("six", 250)},
		{"send", sendOp("six", b, 42)},
		{"multi-send", &Op{Kind: OpMultiSend, Inputs: []Input{{Denom: "kwh-credit", Amount: 5}, {Denom: "six", Amount: 300}},
			Outputs: []Output{{To: a, Denom: "six", Amount: 100}, {To: b, Denom: "six", Amount: 200}, {To: b, Denom: "kwh-credit", Amount: 5}}}},
		{"freeze", freezeOp("six", b)},
		{"unfreeze", unfreezeOp("six", b)},
		{"clawback", clawOp("six", b, 7)},
		{"renounce-mint", renounceOp("six", PowerMint)},
		{"renounce-freeze", renounceOp("six", PowerFreeze)},
		{"bind-device", bindOp(a)},
		{"transfer-device", xferOp(a, b)},
	}
}

// TestOpGolden pins the encoding of every operation (testdata/ops.json),
// so that a change of the format, or of the CBOR library's output, fails.
func TestOpGolden(t *testing.T) {
	type vector struct {
		Name string `json:"name"`
		Hex  string `json:"hex"`
	}
	var got []vector
	for _, g := range goldenOps() {
		if err := g.Op.Validate(); err != nil {
			t.Fatalf("%s: %v", g.Name, err)
		}
		got = append(got, vector{g.Name, hex.EncodeToString(g.Op.Encode())})
	}
	path := filepath.Join("testdata", "ops.json")
	if *update {
		b, _ := json.MarshalIndent(got, "", "  ")
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update once to create it)", err)
	}
	var want []vector
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d vectors, file has %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("%s: encoding changed:\n got %s\nwant %s", got[i].Name, got[i].Hex, want[i].Hex)
		}
		b, _ := hex.DecodeString(want[i].Hex)
		op, err := DecodeOp(b)
		if err != nil {
			t.Fatalf("%s: golden does not decode: %v", want[i].Name, err)
		}
		if !bytes.Equal(op.Encode(), b) {
			t.Fatalf("%s: golden re-encodes differently", want[i].Name)
		}
	}
}

func TestDecodeOpRejects(t *testing.T) {
	a, b := acct(0xa1), acct(0xb2)
	valid := sendOp("six", b, 1).Encode()
	nonCanonical := append([]byte{}, valid...)
	// amount 1 as a two-byte integer (0x18 0x01) instead of 0x01.
	i := bytes.Index(nonCanonical, []byte{0x63, 's', 'i', 'x', 0x01})
	nonCanonical = append(append(append([]byte{}, nonCanonical[:i+4]...), 0x18, 0x01), nonCanonical[i+5:]...)
	many := &Op{Kind: OpMultiSend, Inputs: []Input{{Denom: "six", Amount: MaxOutputs + 1}}}
	for range MaxOutputs + 1 {
		many.Outputs = append(many.Outputs, Output{To: a, Denom: "six", Amount: 1})
	}
	cases := []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, types.ErrUndecodable},
		{"not an array", []byte{0x01}, types.ErrUndecodable},
		{"oversize", make([]byte, MaxOpBytes+1), types.ErrOversize},
		{"non-canonical integer", nonCanonical, types.ErrNonCanonical},
		{"indefinite array", append([]byte{0x9f}, append(valid[1:], 0xff)...), types.ErrUndecodable},
		{"null for an empty field", append(bytes.Clone(valid[:len(valid)-1]), 0xf6), types.ErrNonCanonical},
		{"trailing bytes", append(append([]byte{}, valid...), 0), types.ErrUndecodable},
		{"unknown kind", (&Op{Kind: 12}).Encode(), ErrBadOp},
		{"kind 0", (&Op{}).Encode(), ErrBadOp},
		{"zero amount", sendOp("six", b, 0).Encode(), ErrBadOp},
		{"zero recipient", sendOp("six", Account{}, 1).Encode(), ErrBadOp},
		{"short recipient", (&Op{Kind: OpSend, Denom: "six", Amount: 1, To: b[:31]}).Encode(), ErrBadOp},
		{"unused field", (&Op{Kind: OpSend, Denom: "six", Amount: 1, To: b[:], Decimals: 1}).Encode(), ErrBadOp},
		{"unused account", (&Op{Kind: OpBurn, Denom: "six", Amount: 1, Account: a[:]}).Encode(), ErrBadOp},
		{"uppercase denom", sendOp("SIX", b, 1).Encode(), ErrBadOp},
		{"one-letter denom", sendOp("s", b, 1).Encode(), ErrBadOp},
		{"long denom", sendOp(strings.Repeat("s", MaxDenomLen+1), b, 1).Encode(), ErrBadOp},
		{"denom starts with digit", sendOp("6ix", b, 1).Encode(), ErrBadOp},
		{"issue 19 decimals", (&Op{Kind: OpIssue, Denom: "six", Decimals: 19, MaxSupply: 1}).Encode(), ErrBadOp},
		{"issue zero max", (&Op{Kind: OpIssue, Denom: "six"}).Encode(), ErrBadOp},
		{"issue mint power", (&Op{Kind: OpIssue, Denom: "six", MaxSupply: 1, Powers: PowerMint}).Encode(), ErrBadOp},
		{"renounce two powers", renounceOp("six", PowerFreeze|PowerClawback).Encode(), ErrBadOp},
		{"renounce nothing", renounceOp("six", 0).Encode(), ErrBadOp},
		{"transfer without new owner", (&Op{Kind: OpTransferDevice, Account: a[:]}).Encode(), ErrBadOp},
		{"multi-send no outputs", (&Op{Kind: OpMultiSend, Inputs: []Input{{Denom: "six", Amount: 1}}}).Encode(), ErrBadOp},
		{"multi-send unsorted inputs", (&Op{Kind: OpMultiSend, Inputs: []Input{{Denom: "sox", Amount: 1}, {Denom: "six", Amount: 1}},
			Outputs: []Output{{To: a, Denom: "six", Amount: 1}, {To: a, Denom: "sox", Amount: 1}}}).Encode(), ErrBadOp},
		{"multi-send duplicate inputs", (&Op{Kind: OpMultiSend, Inputs: []Input{{Denom: "six", Amount: 1}, {Denom: "six", Amount: 1}},
			Outputs: []Output{{To: a, Denom: "six", Amount: 2}}}).Encode(), ErrBadOp},
		{"multi-send output without input", (&Op{Kind: OpMultiSend, Inputs: []Input{{Denom: "six", Amount: 1}},
			Outputs: []Output{{To: a, Denom: "six", Amount: 1}, {To: a, Denom: "sox", Amount: 1}}}).Encode(), ErrInputsOutputs},
		{"multi-send more out", (&Op{Kind: OpMultiSend, Inputs: []Input{{Denom: "six", Amount: 1}},
			Outputs: []Output{{To: a, Denom: "six", Amount: 2}}}).Encode(), ErrInputsOutputs},
		{"multi-send overflow", (&Op{Kind: OpMultiSend, Inputs: []Input{{Denom: "six", Amount: 1}},
			Outputs: []Output{{To: a, Denom: "six", Amount: 1 << 63}, {To: a, Denom: "six", Amount: 1 << 63}}}).Encode(), ErrOverflow},
		{"multi-send zero output", (&Op{Kind: OpMultiSend, Inputs: []Input{{Denom: "six", Amount: 1}},
			Outputs: []Output{{To: a, Denom: "six", Amount: 1}, {To: a, Denom: "six", Amount: 0}}}).Encode(), ErrBadOp},
		{"multi-send zero account", (&Op{Kind: OpMultiSend, Inputs: []Input{{Denom: "six", Amount: 1}},
			Outputs: []Output{{Denom: "six", Amount: 1}}}).Encode(), ErrBadOp},
		{"multi-send too many outputs", many.Encode(), types.ErrUndecodable},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			op, err := DecodeOp(c.data)
			if err == nil {
				t.Fatalf("decoded %+v", op)
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
	if _, err := DecodeOp(valid); err != nil {
		t.Fatalf("the valid base case: %v", err)
	}
}

// TestKeyLayout pins the example of the package doc and the key shapes.
func TestKeyLayout(t *testing.T) {
	k := BalanceKey("six", acct(1))
	want, _ := hex.DecodeString("61737365742f62616c2f03736978" + strings.Repeat("01", 32))
	if !bytes.Equal(k, want) || len(k) != 46 {
		t.Fatalf("balance key %x", k)
	}
	kv, reg := NewMapKV(), castReg()
	for _, s := range base {
		if _, err := applyChecked(t, kv, reg, s.from, s.op); err != nil {
			t.Fatal(err)
		}
	}
	if v, _ := kv.Get(BalanceKey("six", bob)); hex.EncodeToString(v) != "00000000000001f4" {
		t.Fatalf("balance value %x", v)
	}
	if string(FrozenKey("six", bob)) != "asset/frozen/\x03six"+string(bob[:]) {
		t.Fatal("frozen key")
	}
	if string(DenomKey("six")) != "asset/denom/six" || string(DeviceKey(dev)) != "asset/device/"+string(dev[:]) {
		t.Fatal("denom or device key")
	}
	// The length prefix makes a key parse back to its pair.
	for _, name := range []string{"ab", "abc", "kwh-credit", strings.Repeat("z", MaxDenomLen)} {
		if n, a, ok := splitPairKey(BalanceKey(name, acct(7))[len(prefixBal):]); !ok || n != name || a != acct(7) {
			t.Fatalf("%q parses back as %q %s %t", name, n, a, ok)
		}
	}
}
