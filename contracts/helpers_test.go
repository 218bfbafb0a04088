package contracts_test

import (
	"os"
	"testing"

	"github.com/sixdomain/sixdomain/contracts"
	"github.com/sixdomain/sixdomain/contracts/contractstest"
)

func mustCheck(t testing.TB, code string) *contracts.Program {
	t.Helper()
	p, err := contracts.Check([]byte(code))
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	return p
}

func mustRead(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func args(t testing.TB, a ...any) []byte {
	t.Helper()
	b, err := contracts.EncodeArgs(a...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func newHost() *contractstest.Host {
	h := contractstest.New("contract1")
	h.Who = contracts.Caller{DID: "did:six:alice", Role: "user", Key: []byte{1, 2, 3}}
	h.At = contracts.BlockInfo{Height: 10, TimeMs: 1_700_000_000_000}
	return h
}

// call runs a call and restores the host's state if it failed, as a ledger does.
func call(t testing.TB, p *contracts.Program, h *contractstest.Host, method string, a []byte, gas uint64) contracts.Result {
	t.Helper()
	snap := h.Snapshot()
	res, err := contracts.Call(p, h, method, a, gas)
	if err != nil {
		t.Fatalf("Call %s: %v", method, err)
	}
	if res.Err != nil {
		h.Restore(snap)
	}
	return res
}

func recordKey(stream, sender string, height uint64) contractstest.Record {
	return contractstest.Record{Stream: stream, Sender: sender, Height: height}
}

// normalize makes decoded CBOR comparable: the decoder returns
// map[string]any with any values; nothing else needs changing.
func normalize(v any) any { return v }
