//go:build device

package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// errNoSim: the device build (go build -tags device, make build-device)
// leaves the swarm simulator and its plotting out.
var errNoSim = errors.New("sixd sim is not in the device build (built with -tags device); use a full build (make build)")

// newSimCmd in the device build is a hidden command that says where the
// simulator went, so that 'sixd sim' fails with a reason, not "unknown
// command".
func newSimCmd() *cobra.Command {
	return &cobra.Command{
		Use:                "sim",
		Short:              "Simulate a swarm (not in the device build)",
		Hidden:             true,
		DisableFlagParsing: true,
		RunE:               func(*cobra.Command, []string) error { return errNoSim },
	}
}
