package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"
)

// newHealthcheckCmd is the container health check: it asks the node's API
// whether the node is up (/healthz) or, with --ready, ready (/readyz), and
// exits 0 or 1. It needs nothing but the binary, so it runs in an image
// built FROM scratch.
func newHealthcheckCmd() *cobra.Command {
	var f apiFlags
	var ready bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "healthcheck [--ready]",
		Short: "Exit 0 if the node's API answers healthy (or ready, with --ready), else 1",
		Long: `healthcheck asks the node's API at GET /healthz (with --ready, GET /readyz:
synced and connected) and exits 0 if it answers 200, 1 otherwise, printing
the answer. It is the container image's HEALTHCHECK.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			path := "/healthz"
			if ready {
				path = "/readyz"
			}
			body, err := c.getRaw(ctx, path)
			if err != nil {
				return err
			}
			fmt.Fprint(cmd.OutOrStdout(), string(body))
			return nil
		},
	}
	f.add(cmd)
	cmd.Flags().BoolVar(&ready, "ready", false, "check readiness (GET /readyz) instead of liveness (GET /healthz)")
	cmd.Flags().DurationVar(&timeout, "timeout", 3*time.Second, "how long to wait for the answer")
	return cmd
}
