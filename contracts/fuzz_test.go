package contracts_test

import (
	"bytes"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/sixdomain/sixdomain/contracts"
	"github.com/sixdomain/sixdomain/contracts/examples"
)

// fuzzGas is small, so that every input runs in well under a millisecond
// of budget; fuzzWall is a sanity bound far above it.
const (
	fuzzGas  = 300_000
	fuzzWall = 3 * time.Second
)

// FuzzRun checks random programs and runs every exported method twice
// under a small gas limit: never a panic or an internal error, never past
// the gas limit or the wall-clock bound, and the same outcome both times.
func FuzzRun(f *testing.F) {
	f.Add(examples.Counter)
	f.Add(examples.PayPerReading)
	f.Add(examples.Workload)
	files, _ := filepath.Glob("testdata/hostile/*.star")
	for _, file := range files {
		f.Add(mustRead(f, file))
	}
	f.Add([]byte("EXPORTS = [\"f\"]\ndef f():\n    return [x * 2 for x in range(9)] + list(\"ab\".elems())\n"))
	f.Add([]byte("EXPORTS = [\"f\"]\ndef f():\n    d = {}\n    d[(1, 2)] = \"x\" * 3\n    return d[(1, 2)][1:] % ()\n"))
	f.Add([]byte("s = \"ab\" * 3\nreturn s.split(\"b\")"))
	f.Fuzz(func(t *testing.T, code []byte) {
		fuzzOne(t, code)
		// most random bytes declare no EXPORTS: also try them as the body
		// of an exported method
		if !bytes.Contains(code, []byte("EXPORTS")) && len(code) < contracts.MaxCodeSize-64 {
			body := bytes.ReplaceAll(code, []byte("\n"), []byte("\n    "))
			fuzzOne(t, append([]byte("EXPORTS = [\"main\"]\n\ndef main():\n    "), body...))
		}
	})
}

func fuzzOne(t *testing.T, code []byte) {
	{
		p, err := contracts.Check(code)
		if err != nil {
			if errors.Is(err, contracts.ErrInternal) {
				t.Fatalf("Check: %v", err)
			}
			return
		}
		methods := append([]string{"init"}, p.Exports()...)
		if len(methods) > 4 {
			methods = methods[:4]
		}
		var outcomes [2][]contracts.Result
		var digests [2][32]byte
		for round := range 2 {
			h := newHost()
			h.SetBalance("credit", h.Self, 100)
			for _, m := range methods {
				start := time.Now()
				snap := h.Snapshot()
				var res contracts.Result
				var err error
				if m == "init" {
					res, err = contracts.Init(p, h, nil, fuzzGas)
				} else {
					res, err = contracts.Call(p, h, m, nil, fuzzGas)
				}
				if err != nil {
					t.Fatalf("%s: %v", m, err)
				}
				if d := time.Since(start); d > fuzzWall {
					t.Fatalf("%s took %v under %d gas", m, d, fuzzGas)
				}
				if res.GasUsed > fuzzGas {
					t.Fatalf("%s used %d gas, limit %d", m, res.GasUsed, fuzzGas)
				}
				if res.Err != nil {
					h.Restore(snap)
				}
				outcomes[round] = append(outcomes[round], res)
			}
			digests[round] = h.Digest()
		}
		for i := range outcomes[0] {
			a, b := outcomes[0][i], outcomes[1][i]
			if a.GasUsed != b.GasUsed || !bytes.Equal(a.Return, b.Return) || errString(a.Err) != errString(b.Err) || len(a.Events) != len(b.Events) {
				t.Fatalf("%s: two runs differ: %+v / %+v", methods[i], a, b)
			}
		}
		if digests[0] != digests[1] {
			t.Fatal("two runs left different states")
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
