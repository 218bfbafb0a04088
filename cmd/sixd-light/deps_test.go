package main

import (
	"os/exec"
	"strings"
	"testing"
)

// storeDeps are the import paths the light binary must not link: the
// light node keeps its headers in a log of its own (node/light, store.go),
// and pebble alone made the binary about 7 MB larger (docs/BENCHMARKS.md,
// "Light node").
var storeDeps = []string{"pebble", "go-ds-leveldb", "go-ds-badger"}

// TestLightBinaryLeavesOutPebble: `go list -deps ./cmd/sixd-light` names
// no pebble package (nor go-ds-pebble).
func TestLightBinaryLeavesOutPebble(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to list the light binary's packages: %v", err)
	}
	out, err := exec.Command(goBin, "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 || !containsPath(deps, "github.com/sixdomain/sixdomain/node/light") {
		t.Fatalf("go list -deps named %d packages, not node/light among them: %q", len(deps), out)
	}
	for _, d := range deps {
		for _, bad := range storeDeps {
			if strings.Contains(d, bad) {
				t.Errorf("the light binary links %s", d)
			}
		}
	}
}

func containsPath(deps []string, p string) bool {
	for _, d := range deps {
		if d == p {
			return true
		}
	}
	return false
}
