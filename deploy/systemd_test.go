package deploy

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestSystemdUnit checks that deploy/systemd/sixd.service runs sixd as its
// own user with the hardening the README promises and, where
// systemd-analyze is installed, that systemd accepts the unit.
func TestSystemdUnit(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("systemd", "sixd.service"))
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string][]string{}
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "[") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Errorf("not a key=value line: %q", line)
			continue
		}
		keys[k] = append(keys[k], v)
	}
	for k, want := range map[string]string{
		"User": "sixd", "NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes",
		"LimitNOFILE": "65536", "StateDirectory": "sixd", "CapabilityBoundingSet": "", "Restart": "on-failure",
		"ExecStart": "/usr/local/bin/sixd run --home /var/lib/sixd",
	} {
		if got := keys[k]; len(got) != 1 || got[0] != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}

	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Log("systemd-analyze not installed: unit syntax not verified by systemd")
		return
	}
	// Verify a copy whose ExecStart names a binary that exists here.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	unit := strings.Replace(string(data), "ExecStart=/usr/local/bin/sixd", "ExecStart="+self, 1)
	path := filepath.Join(t.TempDir(), "sixd.service")
	if err := os.WriteFile(path, []byte(unit), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", path).CombinedOutput()
	// verify also reports on units this one names (network-online.target)
	// that a build container may lack; only lines about sixd.service count.
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "sixd.service") {
			t.Errorf("systemd-analyze verify: %s", line)
		}
	}
	if err != nil && !strings.Contains(string(out), "sixd.service") {
		t.Logf("systemd-analyze verify exited %v on units other than sixd.service:\n%s", err, out)
	}
}
