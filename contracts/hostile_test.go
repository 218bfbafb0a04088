package contracts_test

import (
	"bytes"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sixdomain/sixdomain/contracts"
)

// hostileGas is the gas limit the hostile corpus runs under: about 10 ms of
// CPU by the gas table.
const hostileGas = 10_000_000

// hostileWall is a sanity bound far above what 10 M gas should take, so
// that only a metering hole (not a slow machine) trips it.
const hostileWall = 5 * time.Second

var expectErrs = map[string]error{
	"out of gas":       contracts.ErrOutOfGas,
	"limit exceeded":   contracts.ErrLimit,
	"runtime error":    contracts.ErrRuntime,
	"contract failed":  contracts.ErrFail,
	"bad return value": contracts.ErrBadReturn,
}

// TestHostile runs every contract in testdata/hostile: each must end with
// the metered failure its first line names, within the gas limit, twice
// with the same result, well within the wall-clock sanity bound.
func TestHostile(t *testing.T) {
	files, err := filepath.Glob("testdata/hostile/*.star")
	if err != nil || len(files) == 0 {
		t.Fatalf("no hostile contracts: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			code := mustRead(t, f)
			first, _, _ := strings.Cut(string(code), "\n")
			want, ok := expectErrs[strings.TrimPrefix(first, "# expect: ")]
			if !ok {
				t.Fatalf("first line %q names no known error", first)
			}
			p := mustCheck(t, string(code))
			var results [2]contracts.Result
			for i := range results {
				h := newHost()
				start := time.Now()
				res := call(t, p, h, "main", nil, hostileGas)
				if d := time.Since(start); d > hostileWall {
					t.Fatalf("run %d took %v", i, d)
				}
				if !errors.Is(res.Err, want) {
					t.Fatalf("got %v (gas %d), want %v", res.Err, res.GasUsed, want)
				}
				if res.GasUsed > hostileGas || res.Return != nil {
					t.Fatalf("gas %d return %x", res.GasUsed, res.Return)
				}
				results[i] = res
			}
			if results[0].GasUsed != results[1].GasUsed || results[0].Err.Error() != results[1].Err.Error() ||
				!bytes.Equal(results[0].Return, results[1].Return) {
				t.Fatalf("two runs differ: %+v / %+v", results[0], results[1])
			}
			t.Logf("%v (gas %d)", results[0].Err, results[0].GasUsed)
		})
	}
}
