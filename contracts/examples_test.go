package contracts_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/sixdomain/sixdomain/contracts"
	"github.com/sixdomain/sixdomain/contracts/contractstest"
)

func decode(t testing.TB, b []byte) any {
	t.Helper()
	v, err := contracts.DecodeValue(b)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestCounter(t *testing.T) {
	p := mustCheck(t, string(mustRead(t, "examples/counter.star")))
	if got := p.Exports(); len(got) != 2 || got[0] != "inc" || got[1] != "get" {
		t.Fatalf("exports %v", got)
	}
	h := newHost()
	res, err := contracts.Init(p, h, args(t, 5), 1_000_000)
	if err != nil || res.Err != nil {
		t.Fatalf("init: %v %v", err, res.Err)
	}
	res = call(t, p, h, "inc", args(t, 2), 1_000_000)
	if res.Err != nil || decode(t, res.Return) != uint64(7) || len(res.Events) != 1 || res.Events[0].Topic != "inc" {
		t.Fatalf("inc: %+v", res)
	}
	ev := decode(t, res.Events[0].Data).(map[string]any)
	if ev["caller"] != "did:six:alice" || ev["count"] != uint64(7) {
		t.Fatalf("event %v", ev)
	}
	res = call(t, p, h, "inc", args(t, -1), 1_000_000)
	if !errors.Is(res.Err, contracts.ErrFail) {
		t.Fatalf("inc(-1): %v", res.Err)
	}
	res = call(t, p, h, "inc", nil, 1_000_000) // default by=1
	if res.Err != nil || decode(t, res.Return) != uint64(8) {
		t.Fatalf("inc(): %+v", res)
	}
	res = call(t, p, h, "get", nil, 1_000_000)
	if decode(t, res.Return) != uint64(8) {
		t.Fatalf("get: %+v", res)
	}
	for _, tc := range []struct {
		method string
		args   []byte
		want   error
	}{
		{"init", nil, contracts.ErrNoMethod},
		{"_private", nil, contracts.ErrNoMethod},
		{"nope", nil, contracts.ErrNoMethod},
		{"inc", args(t, 1, 2), contracts.ErrBadArgs},
		{"inc", []byte{0xff}, contracts.ErrBadArgs},
		{"inc", []byte{0x18, 0x01}, contracts.ErrBadArgs},                         // non-canonical 1
		{"inc", []byte{0x81, 0xfb, 0, 0, 0, 0, 0, 0, 0, 0}, contracts.ErrBadArgs}, // a float
		{"inc", args(t, "x"), contracts.ErrRuntime},
	} {
		res := call(t, p, h, tc.method, tc.args, 1_000_000)
		if !errors.Is(res.Err, tc.want) {
			t.Errorf("%s %x: got %v, want %v", tc.method, tc.args, res.Err, tc.want)
		}
	}
	// out of gas leaves the state alone (the caller discards) and uses the limit
	before := h.Digest()
	res = call(t, p, h, "inc", nil, 25_000)
	if !errors.Is(res.Err, contracts.ErrOutOfGas) || res.GasUsed != 25_000 || h.Digest() != before {
		t.Fatalf("low gas: %+v", res)
	}
	res = call(t, p, h, "inc", nil, 100)
	if !errors.Is(res.Err, contracts.ErrOutOfGas) || res.GasUsed != 100 {
		t.Fatalf("below intrinsic: %+v", res)
	}
}

func payHost(t testing.TB) (*contracts.Program, *contractstest.Host) {
	p := mustCheck(t, string(mustRead(t, "examples/pay_per_reading.star")))
	h := newHost()
	h.DIDs["did:six:dev1"] = contracts.DIDInfo{Controller: "did:six:owner", Domain: "farm", Role: "device", Admitted: true}
	for height := uint64(1); height <= 1000; height++ {
		h.Records[contractstest.Record{Stream: "temp", Sender: "did:six:dev1", Height: height}] = true
	}
	res, err := contracts.Init(p, h, args(t, "did:six:dev1", "temp", "credit", 3), 1_000_000)
	if err != nil || res.Err != nil {
		t.Fatalf("init: %v %v", err, res.Err)
	}
	return p, h
}

func TestPayPerReading(t *testing.T) {
	p, h := payHost(t)
	// alice deposits 10 credits (attached to the call, credited by the ledger)
	h.Who.Paid = []contracts.Coin{{Denom: "credit", Amount: 10}}
	h.SetBalance("credit", h.Self, 10)
	res := call(t, p, h, "deposit", nil, 1_000_000)
	if res.Err != nil || decode(t, res.Return) != uint64(10) {
		t.Fatalf("deposit: %+v", res)
	}
	h.Who.Paid = nil
	// anyone may claim: readings at heights 1..3 cost 9
	res = call(t, p, h, "claim", args(t, "did:six:alice", []any{1, 2, 3}), 1_000_000)
	if res.Err != nil || decode(t, res.Return) != uint64(1) {
		t.Fatalf("claim: %+v", res)
	}
	if b, _ := h.Balance("credit", "did:six:owner"); b != 9 {
		t.Fatalf("owner holds %d", b)
	}
	for _, tc := range []struct {
		heights []any
		want    string
	}{
		{[]any{2}, "already paid"},
		{[]any{5000}, "no reading"},
		{[]any{4}, "exhausted"},
	} {
		before := h.Digest()
		res = call(t, p, h, "claim", args(t, "did:six:alice", tc.heights), 1_000_000)
		if !errors.Is(res.Err, contracts.ErrFail) || h.Digest() != before {
			t.Fatalf("claim %v: %v", tc.heights, res.Err)
		}
		if msg := res.Err.Error(); !strings.Contains(msg, tc.want) {
			t.Fatalf("claim %v: %q, want %q", tc.heights, msg, tc.want)
		}
	}
	res = call(t, p, h, "withdraw", nil, 1_000_000)
	if res.Err != nil || decode(t, res.Return) != uint64(1) {
		t.Fatalf("withdraw: %+v", res)
	}
	if b, _ := h.Balance("credit", "did:six:alice"); b != 1 {
		t.Fatalf("alice holds %d", b)
	}
	if b, _ := h.Balance("credit", h.Self); b != 0 {
		t.Fatalf("contract holds %d", b)
	}
	// a transfer the host refuses is a metered failure (ErrHostRule)
	h.Who.Paid = []contracts.Coin{{Denom: "credit", Amount: 10}} // claims 10 but the ledger did not credit them
	call(t, p, h, "deposit", nil, 1_000_000)
	h.Who.Paid = nil
	res = call(t, p, h, "withdraw", nil, 1_000_000)
	if !errors.Is(res.Err, contracts.ErrHostRule) {
		t.Fatalf("withdraw without funds: %+v", res)
	}
}
