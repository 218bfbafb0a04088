package contractstest

import (
	"encoding/hex"
	"fmt"

	"github.com/sixdomain/sixdomain/contracts"
	"github.com/sixdomain/sixdomain/contracts/examples"
)

// Step is the outcome of one scripted call, in a form that compares byte
// for byte across machines.
type Step struct {
	Contract string   `json:"contract"`
	Method   string   `json:"method"`
	Args     string   `json:"args"`
	GasLimit uint64   `json:"gas_limit"`
	GasUsed  uint64   `json:"gas_used"`
	Return   string   `json:"return,omitempty"`
	Err      string   `json:"err,omitempty"`
	Events   []string `json:"events,omitempty"` // topic=hex(data)
	State    string   `json:"state"`            // Host.Digest after the call
}

type scripted struct {
	method string
	args   []any
	gas    uint64
	paid   uint64 // credits attached (and credited to the contract first)
	caller string
}

// stringDoubling is a hostile contract whose failure (ErrLimit, not out of
// gas) leaves a gas figure worth pinning.
const stringDoubling = `EXPORTS = ["main"]

def main():
    s = "x"
    for i in range(64):
        s = s + s
    return len(s)
`

// Script runs a fixed sequence of deploys and calls of the example
// contracts against fresh in-memory hosts and returns every outcome. The
// determinism test compares its output across GOARCH=amd64 and 386; the
// golden test pins its gas figures.
func Script() ([]Step, error) {
	var steps []Step
	run := func(name string, code []byte, setup func(*Host), calls []scripted) error {
		p, err := contracts.Check(code)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		h := New("contract:" + name)
		h.At = contracts.BlockInfo{Height: 100, TimeMs: 1_750_000_000_000}
		if setup != nil {
			setup(h)
		}
		for i, c := range calls {
			h.At.Height++
			h.At.TimeMs += 1000
			h.Who = contracts.Caller{DID: c.caller, Role: "user", Key: []byte(c.caller)}
			if h.Who.DID == "" {
				h.Who.DID = "did:six:alice"
			}
			snap := h.Snapshot()
			if c.paid > 0 {
				h.Who.Paid = []contracts.Coin{{Denom: "credit", Amount: c.paid}}
				h.Balances[balKey("credit", h.Self)] += c.paid
			}
			args, err := contracts.EncodeArgs(c.args...)
			if err != nil {
				return err
			}
			var res contracts.Result
			if c.method == "init" {
				res, err = contracts.Init(p, h, args, c.gas)
			} else {
				res, err = contracts.Call(p, h, c.method, args, c.gas)
			}
			if err != nil {
				return fmt.Errorf("%s step %d: %w", name, i, err)
			}
			if res.Err != nil {
				h.Restore(snap)
			}
			s := Step{Contract: name, Method: c.method, Args: hex.EncodeToString(args), GasLimit: c.gas,
				GasUsed: res.GasUsed, Return: hex.EncodeToString(res.Return)}
			if res.Err != nil {
				s.Err = res.Err.Error()
			}
			for _, e := range res.Events {
				s.Events = append(s.Events, e.Topic+"="+hex.EncodeToString(e.Data))
			}
			d := h.Digest()
			s.State = hex.EncodeToString(d[:])
			steps = append(steps, s)
		}
		return nil
	}
	const g = 5_000_000
	if err := run("counter", examples.Counter, nil, []scripted{
		{method: "init", args: []any{5}, gas: g},
		{method: "inc", args: []any{2}, gas: g},
		{method: "inc", gas: g, caller: "did:six:bob"},
		{method: "inc", args: []any{-1}, gas: g},
		{method: "inc", args: []any{1, 2}, gas: g},
		{method: "inc", gas: 25_000},
		{method: "get", gas: g},
	}); err != nil {
		return nil, err
	}
	if err := run("pay_per_reading", examples.PayPerReading, func(h *Host) {
		h.DIDs["did:six:dev1"] = contracts.DIDInfo{Controller: "did:six:owner", Domain: "farm", Role: "device", Admitted: true}
		for height := uint64(1); height <= 50; height++ {
			h.Records[Record{"temp", "did:six:dev1", height}] = true
		}
	}, []scripted{
		{method: "init", args: []any{"did:six:dev1", "temp", "credit", 3}, gas: g},
		{method: "deposit", gas: g, paid: 100},
		{method: "deposit", gas: g, paid: 20, caller: "did:six:carol"},
		{method: "claim", args: []any{"did:six:alice", []any{1, 2, 3, 4, 5}}, gas: g, caller: "did:six:owner"},
		{method: "claim", args: []any{"did:six:alice", []any{5}}, gas: g},
		{method: "claim", args: []any{"did:six:alice", []any{51}}, gas: g},
		{method: "claim", args: []any{"did:six:carol", []any{10, 11, 12, 13, 14, 15, 16}}, gas: g},
		{method: "deposit_of", args: []any{"did:six:alice"}, gas: g},
		{method: "withdraw", gas: g},
		{method: "withdraw", gas: g},
		{method: "terms", gas: g},
	}); err != nil {
		return nil, err
	}
	if err := run("workload", examples.Workload, nil, []scripted{
		{method: "mix", args: []any{200}, gas: g},
		{method: "ints", args: []any{200}, gas: g},
		{method: "strings", args: []any{200}, gas: g},
		{method: "store", args: []any{20}, gas: g},
		{method: "mix", args: []any{100000}, gas: g},
	}); err != nil {
		return nil, err
	}
	if err := run("string_doubling", []byte(stringDoubling), nil, []scripted{
		{method: "main", gas: g},
	}); err != nil {
		return nil, err
	}
	return steps, nil
}
