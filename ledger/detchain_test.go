package ledger_test

import (
	"encoding/json"
	"testing"

	"github.com/sixdomain/sixdomain/internal/crossarch"
)

// TestStateTransitionCrossArch builds the state-transition driver
// (internal/detchain: DIDs, asset operations, contract deploys and calls —
// the examples and a runaway loop — and records, through Propose, Apply and
// Commit) for GOARCH=amd64 and GOARCH=386, runs both on this machine and
// compares their outputs byte for byte: every block's hash, state root and
// receipts (status, gas, return values, events).
func TestStateTransitionCrossArch(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two binaries")
	}
	amd64 := crossarch.Output(t, "./internal/detchain")
	var blocks []struct {
		Receipts []struct {
			Status int    `json:"status"`
			Reason string `json:"reason"`
		} `json:"receipts"`
	}
	if err := json.Unmarshal(amd64, &blocks); err != nil {
		t.Fatal(err)
	}
	var ok, failed int
	reasons := map[string]bool{}
	for _, b := range blocks {
		for _, r := range b.Receipts {
			if r.Status == 0 {
				ok++
			} else {
				failed++
				reasons[r.Reason] = true
			}
		}
	}
	// The script exercises successes and the three kinds of failure.
	if ok < 8 || !reasons["out_of_gas"] || !reasons["contract_failed"] || !reasons["asset_insufficient_funds"] {
		t.Fatalf("the script's receipts: %d ok, failures %v", ok, reasons)
	}
	t.Logf("%d blocks, %d ok and %d failed receipts agree on amd64 and 386", len(blocks), ok, failed)
}
