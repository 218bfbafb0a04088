package devnet

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// TestDevnetRun runs a short devnet end to end: real nodes, real stores,
// devices publishing. Every submitted reading commits and every node ends
// on the same head.
func TestDevnetRun(t *testing.T) {
	var out, errOut bytes.Buffer
	s, err := Run(context.Background(), Options{Authorities: 3, Devices: 2, Duration: 3 * time.Second, Rate: 40,
		Slot: 250 * time.Millisecond, ChainID: "devnet-test", LogLevel: "error", Home: t.TempDir()}, &out, &errOut)
	t.Log(out.String())
	if err != nil {
		t.Fatalf("devnet: %v\n%s", err, errOut.String())
	}
	if !s.NodesAgree || s.Blocks == 0 {
		t.Fatalf("summary %+v", s)
	}
	if s.Committed == 0 || s.Uncommitted != 0 || s.Refused != 0 {
		t.Fatalf("committed %d, uncommitted %d, refused %d", s.Committed, s.Uncommitted, s.Refused)
	}
	if !strings.Contains(out.String(), "all nodes agree       yes") {
		t.Fatalf("summary line missing:\n%s", out.String())
	}
}

func TestDevnetRefusesBadOptions(t *testing.T) {
	for _, o := range []Options{
		{Authorities: 0, Devices: 1, Duration: time.Second, Rate: 1, Slot: time.Second, LogLevel: "error"},
		{Authorities: 1, Devices: 0, Duration: time.Second, Rate: 1, Slot: time.Second, LogLevel: "error"}, // no sensors
		{Authorities: 1, Devices: -1, SensorsPerDevice: 1, Duration: time.Second, Rate: 1, Slot: time.Second, LogLevel: "error"},
		{Authorities: 1, Devices: 0, SensorsPerDevice: 2, Light: 1, Duration: time.Second, Rate: 1, Slot: time.Second, LogLevel: "error"},
		{Authorities: 1, Devices: 1, MempoolTxs: -1, Duration: time.Second, Rate: 1, Slot: time.Second, LogLevel: "error"},
		{Authorities: 1, Devices: 1, Duration: time.Second, Rate: 0, Slot: time.Second, LogLevel: "error"},
		{Authorities: 1, Devices: 1, Duration: time.Second, Rate: 1, Slot: time.Millisecond, LogLevel: "error"},
		{Authorities: 1, Devices: 1, Duration: time.Second, Rate: 1, Slot: time.Second, LogLevel: "loud"},
	} {
		if _, err := Run(context.Background(), o, &bytes.Buffer{}, &bytes.Buffer{}); err == nil {
			t.Errorf("options %+v accepted", o)
		}
	}
}

// TestDevnetAdmitted runs the devnet on an admitted chain: the gateway is
// onboarded by an authority and onboards every device key (each sensor has
// its own) on the DID registry; then every reading commits.
func TestDevnetAdmitted(t *testing.T) {
	var out, errOut bytes.Buffer
	s, err := Run(context.Background(), Options{Authorities: 2, Devices: 2, SensorsPerDevice: 2, Duration: 2 * time.Second, Rate: 40,
		Slot: 250 * time.Millisecond, ChainID: "devnet-admitted", LogLevel: "error", Home: t.TempDir(), Admission: "admitted"}, &out, &errOut)
	t.Log(out.String())
	if err != nil {
		t.Fatalf("devnet: %v\n%s", err, errOut.String())
	}
	if s.Committed == 0 || s.Uncommitted != 0 || s.Refused != 0 || !s.NodesAgree {
		t.Fatalf("committed %d, uncommitted %d, refused %d (%s), agree %v", s.Committed, s.Uncommitted, s.Refused, s.SubmitErrorEx, s.NodesAgree)
	}
	if !strings.Contains(out.String(), "registered and admitted 3 device keys") {
		t.Fatalf("onboarding lines missing:\n%s", out.String())
	}
}

// TestDevnetLight runs light nodes on the devnet: each records a reading a
// second through a device node, and every reading is proven final to it.
func TestDevnetLight(t *testing.T) {
	var out, errOut bytes.Buffer
	s, err := Run(context.Background(), Options{Authorities: 3, Devices: 2, Light: 2, Duration: 3 * time.Second, Rate: 20,
		Slot: 250 * time.Millisecond, ChainID: "devnet-light", LogLevel: "error", Home: t.TempDir()}, &out, &errOut)
	t.Log(out.String())
	if err != nil {
		t.Fatalf("devnet: %v\n%s", err, errOut.String())
	}
	if s.LightNodes != 2 || s.LightSigned < 2 || s.LightRecorded != s.LightSigned || s.LightQueued != 0 {
		t.Fatalf("light nodes %d: signed %d, recorded %d, queued %d", s.LightNodes, s.LightSigned, s.LightRecorded, s.LightQueued)
	}
	if !strings.Contains(out.String(), "light nodes           2:") {
		t.Fatalf("summary line missing:\n%s", out.String())
	}
}

// TestDevnetAuthoritiesOnly runs authorities only (--devices 0): the
// sensors submit to the authorities directly, round robin, and every
// reading commits, its latency measured on the authorities.
func TestDevnetAuthoritiesOnly(t *testing.T) {
	var out, errOut bytes.Buffer
	s, err := Run(context.Background(), Options{Authorities: 2, Devices: 0, SensorsPerDevice: 4, Duration: 2 * time.Second, Rate: 40,
		Slot: 250 * time.Millisecond, ChainID: "devnet-auth-only", LogLevel: "error", Home: t.TempDir()}, &out, &errOut)
	t.Log(out.String())
	if err != nil {
		t.Fatalf("devnet: %v\n%s", err, errOut.String())
	}
	if s.Devices != 0 || s.Committed == 0 || s.Uncommitted != 0 || s.Refused != 0 || !s.NodesAgree {
		t.Fatalf("devices %d: committed %d, uncommitted %d, refused %d (%s), agree %v", s.Devices, s.Committed, s.Uncommitted, s.Refused, s.SubmitErrorEx, s.NodesAgree)
	}
	if s.LatencyP50Ms <= 0 || s.Offered < s.Submitted {
		t.Fatalf("latency p50 %v ms, offered %d, submitted %d", s.LatencyP50Ms, s.Offered, s.Submitted)
	}
	if !strings.Contains(out.String(), "2 authorities + 0 devices") {
		t.Fatalf("summary line missing:\n%s", out.String())
	}
}

// TestDevnetBackPressure drives more readings than the nodes' small
// mempools take at once: the nodes refuse them as busy, the sensors back
// off and send the same readings again, and none is lost.
func TestDevnetBackPressure(t *testing.T) {
	var out, errOut bytes.Buffer
	s, err := Run(context.Background(), Options{Authorities: 2, Devices: 0, SensorsPerDevice: 8, Duration: 2 * time.Second, Rate: 300,
		MempoolTxs: 20, Slot: 250 * time.Millisecond, ChainID: "devnet-busy", LogLevel: "error", Home: t.TempDir()}, &out, &errOut)
	t.Log(out.String())
	if err != nil {
		t.Fatalf("devnet: %v\n%s", err, errOut.String())
	}
	if s.Busy == 0 || s.Retries == 0 {
		t.Fatalf("no back-pressure at 300 tx/s into mempools of 20: busy %d, retries %d", s.Busy, s.Retries)
	}
	if s.Committed == 0 || s.Uncommitted != 0 || s.Refused != 0 || !s.NodesAgree {
		t.Fatalf("committed %d, uncommitted %d, refused %d (%s), agree %v", s.Committed, s.Uncommitted, s.Refused, s.SubmitErrorEx, s.NodesAgree)
	}
	if s.Offered <= s.Submitted {
		t.Errorf("offered %d, submitted %d: the back-off should leave readings unsent", s.Offered, s.Submitted)
	}
	if !strings.Contains(out.String(), "busy refusals") || !strings.Contains(s.BusyEx, "high-water") {
		t.Fatalf("back-pressure line or example missing (%q):\n%s", s.BusyEx, out.String())
	}
}
