package ledger_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
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
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skipf("the 386 and amd64 binaries run only on linux/amd64 (this is %s/%s)", runtime.GOOS, runtime.GOARCH)
	}
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goBin); err != nil {
		if goBin, err = exec.LookPath("go"); err != nil {
			t.Skip("no go command to build the driver")
		}
	}
	dir := t.TempDir()
	outputs := map[string][]byte{}
	for _, arch := range []string{"amd64", "386"} {
		bin := filepath.Join(dir, "detchain-"+arch)
		build := exec.Command(goBin, "build", "-o", bin, "./internal/detchain")
		build.Env = append(os.Environ(), "GOARCH="+arch, "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("GOARCH=%s go build: %v\n%s", arch, err, out)
		}
		out, err := exec.Command(bin).Output()
		if err != nil {
			t.Fatalf("%s driver: %v", arch, err)
		}
		outputs[arch] = out
	}
	if !bytes.Equal(outputs["amd64"], outputs["386"]) {
		t.Fatalf("amd64 and 386 differ:\n--- amd64\n%s\n--- 386\n%s", outputs["amd64"], outputs["386"])
	}
	var blocks []struct {
		Receipts []struct {
			Status int    `json:"status"`
			Reason string `json:"reason"`
		} `json:"receipts"`
	}
	if err := json.Unmarshal(outputs["amd64"], &blocks); err != nil {
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
