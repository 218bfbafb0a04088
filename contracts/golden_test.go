package contracts_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"testing"

	"github.com/sixdomain/sixdomain/contracts/contractstest"
)

var update = flag.Bool("update", false, "rewrite testdata/golden.json")

// TestGolden pins the gas, results, events and state of the scripted calls
// (contractstest.Script). A change to go.starlark.net that changes step
// counts, or a change to the gas table, fails here; regenerate on purpose
// with go test ./contracts -run TestGolden -update.
func TestGolden(t *testing.T) {
	steps, err := contractstest.Script()
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.MarshalIndent(steps, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	const path = "testdata/golden.json"
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		var w []contractstest.Step
		if err := json.Unmarshal(want, &w); err != nil {
			t.Fatal(err)
		}
		for i := range min(len(w), len(steps)) {
			if a, b := w[i], steps[i]; a.GasUsed != b.GasUsed || a.Err != b.Err || a.Return != b.Return || a.State != b.State {
				t.Errorf("step %d %s.%s: gas %d, want %d; err %q, want %q; return %s, want %s",
					i, b.Contract, b.Method, b.GasUsed, a.GasUsed, b.Err, a.Err, b.Return, a.Return)
			}
		}
		t.Fatalf("outcome differs from %s (%d steps, want %d); rerun with -update only if the change is meant", path, len(steps), len(w))
	}
}
