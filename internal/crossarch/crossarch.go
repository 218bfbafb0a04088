// Package crossarch runs a determinism driver (a main package of the
// repository) built for GOARCH=amd64 and GOARCH=386 on this machine and
// compares what the two print, byte for byte: the cross-architecture
// determinism tests of contracts and ledger use it.
//
// Imports: the standard library only. For tests.
package crossarch

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// Output builds the driver in pkg (a path relative to the test's package
// directory, e.g. "./internal/detchain") for amd64 and for 386, runs both
// and returns their output once it is identical. The test fails if a build
// or a run fails, or if the outputs differ; it is skipped on a machine that
// cannot run both (not linux/amd64, no go command, or a kernel that does
// not start 386 programs; a 386 driver that starts and fails is a failure).
func Output(t *testing.T, pkg string) []byte {
	t.Helper()
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
		bin := filepath.Join(dir, filepath.Base(pkg)+"-"+arch)
		build := exec.Command(goBin, "build", "-o", bin, pkg)
		build.Env = append(os.Environ(), "GOARCH="+arch, "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("GOARCH=%s go build %s: %v\n%s", arch, pkg, err, out)
		}
		out, err := exec.Command(bin).Output()
		var exit *exec.ExitError
		switch {
		case err != nil && arch == "386" && !errors.As(err, &exit):
			t.Skipf("the GOARCH=386 driver cannot run on this machine: %v", err)
		case err != nil:
			t.Fatalf("%s driver %s: %v", arch, pkg, err)
		}
		outputs[arch] = out
	}
	if !bytes.Equal(outputs["amd64"], outputs["386"]) {
		t.Fatalf("amd64 and 386 differ:\n--- amd64\n%s\n--- 386\n%s", outputs["amd64"], outputs["386"])
	}
	return outputs["amd64"]
}
