//go:build device

package main

import (
	"errors"
	"strings"
	"testing"
)

// TestSimNotInDeviceBuild (go test -tags device ./cmd/sixd): in the device
// build 'sixd sim' fails with the reason and is not listed in the help.
func TestSimNotInDeviceBuild(t *testing.T) {
	_, _, err := runCmd(t, "sim", "run", "scenario.toml")
	if !errors.Is(err, errNoSim) {
		t.Fatalf("sixd sim: %v", err)
	}
	help, _, err := runCmd(t, "--help")
	if err != nil || strings.Contains(help, "sim ") {
		t.Fatalf("help lists sim (%v):\n%s", err, help)
	}
}
