package contracts_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/sixdomain/sixdomain/contracts/contractstest"
	"github.com/sixdomain/sixdomain/internal/crossarch"
)

// TestCrossArch builds the determinism driver (internal/detcheck) for
// GOARCH=amd64 and GOARCH=386, runs both on this machine and compares their
// outputs byte for byte, and with the same script run in this process:
// results, gas, events and the storage digest after every call.
func TestCrossArch(t *testing.T) {
	amd64 := crossarch.Output(t, "./internal/detcheck")
	steps, err := contractstest.Script()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", " ")
	if err := enc.Encode(steps); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), amd64) {
		t.Fatal("the driver's output differs from the script run in the test process")
	}
	t.Logf("%d scripted calls agree on amd64 and 386 (%d bytes of output)", len(steps), len(amd64))
}
