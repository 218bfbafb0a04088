package main

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// heavyDeps are the import-path prefixes the device build (go build -tags
// device, make build-device) must not link: the swarm simulator and what
// only it and the browser test need (plots, the progress bar, headless
// Chromium) and the rest of gonum.
var heavyDeps = []string{
	"github.com/sixdomain/sixdomain/simulations",
	"gonum.org/v1/plot",
	"gonum.org/v1/gonum/",
	"github.com/schollz/progressbar",
	"github.com/chromedp/",
}

// allowedDeps are exceptions under heavyDeps, each with its reason:
// go-libp2p-kad-dht (the node's DHT) estimates the network size with
// gonum's mathext; it is small and the node needs the DHT.
var allowedDeps = []string{
	"gonum.org/v1/gonum/mathext",
}

func heavyIn(deps []string) []string {
	var bad []string
	for _, d := range deps {
		for _, h := range heavyDeps {
			if strings.HasPrefix(d, h) && !slices.ContainsFunc(allowedDeps, func(a string) bool { return d == a || strings.HasPrefix(d, a+"/") }) {
				bad = append(bad, d)
				break
			}
		}
	}
	return bad
}

func goListDeps(t *testing.T, tags ...string) []string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to list the device build's packages: %v", err)
	}
	args := []string{"list", "-deps"}
	if len(tags) > 0 {
		args = append(args, "-tags", strings.Join(tags, ","))
	}
	out, err := exec.Command(goBin, append(args, ".")...).CombinedOutput()
	if err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.Fields(string(out))
}

// TestDeviceBuildLeavesOutSimulator: `go list -deps -tags device
// ./cmd/sixd` names no simulator, plotting, progress-bar or browser
// package, while the full build does link the simulator (so the check
// would see one).
func TestDeviceBuildLeavesOutSimulator(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list twice")
	}
	device := goListDeps(t, "device")
	if !slices.Contains(device, "github.com/sixdomain/sixdomain/node") {
		t.Fatalf("the device build does not list the node package: %d packages", len(device))
	}
	if bad := heavyIn(device); len(bad) > 0 {
		t.Errorf("the device build links %d simulator or plotting packages: %s", len(bad), strings.Join(bad, ", "))
	}
	full := goListDeps(t)
	if bad := heavyIn(full); !slices.Contains(bad, "github.com/sixdomain/sixdomain/simulations") || !slices.ContainsFunc(bad, func(d string) bool { return strings.HasPrefix(d, "gonum.org/v1/plot") }) {
		t.Errorf("the full build should link the simulator and gonum/plot, the check found %v", bad)
	}
	t.Logf("device build: %d packages, full build: %d", len(device), len(full))
}

// TestHeavyIn: the filter itself.
func TestHeavyIn(t *testing.T) {
	deps := []string{"fmt", "github.com/sixdomain/sixdomain/node", "github.com/sixdomain/sixdomain/simulations/report",
		"gonum.org/v1/gonum/mathext", "gonum.org/v1/gonum/mathext/internal/amos", "gonum.org/v1/gonum/stat",
		"gonum.org/v1/plot/vg", "github.com/schollz/progressbar/v3", "github.com/chromedp/cdproto"}
	want := []string{"github.com/sixdomain/sixdomain/simulations/report", "gonum.org/v1/gonum/stat", "gonum.org/v1/plot/vg",
		"github.com/schollz/progressbar/v3", "github.com/chromedp/cdproto"}
	if got := heavyIn(deps); !slices.Equal(got, want) {
		t.Fatalf("heavyIn = %v, want %v", got, want)
	}
}
