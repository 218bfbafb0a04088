package e2e

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

const baseManifest = `
version = 1
name = "t"
seed = 3
duration = "60s"
slot = "500ms"
[network]
authorities = 4
devices = 1
[load]
rate = 10
`

func TestParseManifestRefusesBadFields(t *testing.T) {
	for _, c := range []struct {
		extra, want string
	}{
		{`colour = "red"`, "colour"},
		{"[[perturb]]\nat = \"10s\"\nkind = \"explode\"\ntarget = \"authority-0\"", "perturb[0].kind"},
		{"[[perturb]]\nat = \"59s\"\nkind = \"kill\"\ntarget = \"authority-0\"", "perturb[0].at"},
		{"[[perturb]]\nat = \"10s\"\nkind = \"kill\"\ntarget = \"authority-9\"", "perturb[0].target"},
		{"[[perturb]]\nat = \"10s\"\nkind = \"kill\"\ntarget = \"authority-0\"\nfor = \"-1s\"", "perturb[0].for"},
		{"[random]\ncount = 0\nkinds = [\"kill\"]\nevery = \"5s\"", "random.count"},
		{"[random]\ncount = 3\nkinds = []\nevery = \"5s\"", "random.kinds"},
		{"[random]\ncount = 3\nkinds = [\"kill\"]\nevery = \"5s\"\ntargets = \"everyone\"", "random.targets"},
	} {
		_, err := ParseManifest([]byte(baseManifest + c.extra))
		if err == nil || !errors.Is(err, ErrManifest) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: err = %v, want one naming %s", c.extra, err, c.want)
		}
	}
	for _, c := range []struct{ from, to, want string }{
		{"version = 1", "version = 2", "version"},
		{`duration = "60s"`, `duration = "1s"`, "duration"},
		{`slot = "500ms"`, `slot = "1ms"`, "slot"},
		{"authorities = 4", "authorities = 0", "network"},
		{"rate = 10", "rate = 0", "load.rate"},
		{"rate = 10", "rate = 10\nthrough = [\"nobody\"]", "load.through"},
		{`duration = "60s"`, `duration = "sixty"`, "duration"},
	} {
		_, err := ParseManifest([]byte(strings.Replace(baseManifest, c.from, c.to, 1)))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s → %s: err = %v, want one naming %s", c.from, c.to, err, c.want)
		}
	}
	if _, err := ParseManifest(make([]byte, maxManifestBytes+1)); err == nil {
		t.Error("an oversized manifest was accepted")
	}
}

// TestPlan checks the plan: faults in order, none overlapping, none past
// the run, targets resolved, and the same plan for the same seed.
func TestPlan(t *testing.T) {
	src := baseManifest + `
[[perturb]]
at = "30s"
kind = "partition"
for = "5s"
[[perturb]]
at = "5s"
kind = "kill"
target = "random-authority"
[random]
count = 50
kinds = ["kill", "pause", "disconnect"]
targets = "any"
every = "2s"
for = "1s"
`
	m, err := ParseManifest([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	plan := m.Plan()
	if len(plan) < 3 {
		t.Fatalf("plan has %d faults", len(plan))
	}
	if plan[0].Kind != KindKill || plan[0].At != 5*time.Second || !strings.HasPrefix(plan[0].Targets[0], "authority-") {
		t.Errorf("first fault %v", plan[0])
	}
	names := nodeNames(m.Network)
	var end time.Duration
	for i, f := range plan {
		if f.At < end {
			t.Errorf("fault %d (%v) starts before the previous one healed at %s", i, f, end)
		}
		end = f.At + f.For
		if end > m.Duration.Duration {
			t.Errorf("fault %d (%v) ends after the run", i, f)
		}
		if f.Kind == KindPartition && (len(f.Targets) == 0 || len(f.Targets) >= len(names)) {
			t.Errorf("partition side %v of %d nodes", f.Targets, len(names))
		}
	}
	again, err := ParseManifest([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(again.Plan(), plan) {
		t.Error("the same manifest and seed gave two plans")
	}
	other, err := ParseManifest([]byte(strings.Replace(src, "seed = 3", "seed = 4", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if reflect.DeepEqual(other.Plan(), plan) {
		t.Error("another seed gave the same plan")
	}
}

// TestShippedManifests parses every manifest in manifests/ and checks the
// long one plans what docs/RELIABILITY.md promises.
func TestShippedManifests(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("manifests", "*.toml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests (%v)", err)
	}
	for _, f := range files {
		m, err := LoadManifest(f)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		counts := map[Kind]int{}
		for _, x := range m.Plan() {
			counts[x.Kind]++
		}
		switch filepath.Base(f) {
		case "ci.toml":
			for _, k := range kinds {
				if counts[k] == 0 && !k.isDisk() {
					t.Errorf("ci manifest has no %s fault", k)
				}
			}
			if m.Duration.Duration > 3*time.Minute {
				t.Errorf("ci manifest lasts %s: want under 3 minutes", m.Duration)
			}
		case "disk.toml":
			if counts[KindDiskFull] == 0 || counts[KindDiskRO] == 0 {
				t.Errorf("disk manifest plans %v", counts)
			}
		case "long.toml":
			if counts[KindKill] < 200 || counts[KindPartition] < 50 || m.Duration.Duration < time.Hour {
				t.Errorf("long manifest plans %v over %s: want ≥ 200 kills, ≥ 50 partitions, an hour", counts, m.Duration)
			}
		}
	}
}

func FuzzParseManifest(f *testing.F) {
	f.Add([]byte(baseManifest))
	if data, err := os.ReadFile(filepath.Join("manifests", "long.toml")); err == nil {
		f.Add(data)
	}
	f.Add([]byte("version = 1\n[random]\ncount = 99999\nkinds=[\"partition\"]\nevery=\"1ns\""))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseManifest(data)
		if err != nil {
			return
		}
		// A valid manifest plans without panicking, within bounds.
		plan := m.Plan()
		if len(plan) > len(m.Perturb)+100_000 {
			t.Fatal(fmt.Sprintf("%d faults", len(plan)))
		}
	})
}
