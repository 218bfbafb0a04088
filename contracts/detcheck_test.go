package contracts_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/sixdomain/sixdomain/contracts/contractstest"
)

// TestCrossArch builds the determinism driver (internal/detcheck) for
// GOARCH=amd64 and GOARCH=386, runs both on this machine and compares their
// outputs byte for byte, and with the same script run in this process:
// results, gas, events and the storage digest after every call.
func TestCrossArch(t *testing.T) {
	if runtime.GOOS != "linux" || (runtime.GOARCH != "amd64" && runtime.GOARCH != "386") {
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
		bin := filepath.Join(dir, "detcheck-"+arch)
		build := exec.Command(goBin, "build", "-o", bin, "./internal/detcheck")
		build.Env = append(os.Environ(), "GOARCH="+arch, "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("GOARCH=%s go build: %v\n%s", arch, err, out)
		}
		out, err := exec.Command(bin).Output()
		if err != nil {
			if arch == "386" {
				t.Skipf("the GOARCH=386 driver cannot run on this machine: %v", err)
			}
			t.Fatalf("%s driver: %v", arch, err)
		}
		outputs[arch] = out
	}
	if !bytes.Equal(outputs["amd64"], outputs["386"]) {
		t.Fatalf("amd64 and 386 differ:\n--- amd64\n%s\n--- 386\n%s", outputs["amd64"], outputs["386"])
	}
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
	if !bytes.Equal(buf.Bytes(), outputs["amd64"]) {
		t.Fatal("the driver's output differs from the script run in the test process")
	}
	t.Logf("%d scripted calls agree on amd64 and 386 (%d bytes of output)", len(steps), len(outputs["386"]))
}
