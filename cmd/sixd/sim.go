//go:build !device

package main

import (
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/sixdomain/sixdomain/simulations"
	"github.com/sixdomain/sixdomain/simulations/report"
)

func newSimCmd() *cobra.Command {
	return groupCmd("sim", "Simulate a swarm of real nodes over an in-process network", newSimRunCmd())
}

func newSimRunCmd() *cobra.Command {
	var (
		out      string
		seed     int64
		nodes    int
		scale    float64
		quiet    bool
		logLevel string
		planOut  string
		duration time.Duration
		cpuProf  string
		memProf  string
	)
	cmd := &cobra.Command{
		Use:   "run SCENARIO",
		Short: "Run a scenario file and write its measurements",
		Long: `sim run starts the swarm a scenario file describes (simulations/scenarios
holds examples; docs/SIMULATOR.md documents every field): real sixdomain
nodes, each on a go-libp2p mocknet host with its own GossipSub and an
in-memory ledger, linked per the scenario's topology and latencies. Devices
publish signed readings, authorities seal and finalize blocks, and the
scenario's churn, partitions and adversaries are applied on schedule.

It writes summary.json, CSV time series and PNG plots to --out, shows a
progress bar while it runs, and prints a one-screen summary at the end.
The same scenario and seed always give the same topology, workload and
fault schedule. It exits non-zero if the honest nodes' finalized chains
disagree.`,
		Args: exactArgs(1, "a scenario file"),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := simulations.LoadScenario(args[0])
			if err != nil {
				return err
			}
			f := cmd.Flags()
			if f.Changed("seed") {
				s.Seed = seed
			}
			if f.Changed("duration") {
				s.Duration = simulations.Duration(duration)
			}
			if f.Changed("time-scale") {
				s.TimeScale = scale
			}
			if f.Changed("nodes") {
				if err := s.ScaleNodes(nodes); err != nil {
					return err
				}
			}
			if err := s.Validate(); err != nil {
				return err
			}
			if out == "" {
				return fmt.Errorf("--out: an output directory is required")
			}
			var level slog.Level
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return fmt.Errorf("--log-level: %w", err)
			}
			if planOut != "" {
				plan, err := simulations.NewPlan(s)
				if err != nil {
					return err
				}
				pf, err := os.Create(planOut)
				if err != nil {
					return err
				}
				if err := plan.Dump(pf); err != nil {
					pf.Close()
					return err
				}
				if err := pf.Close(); err != nil {
					return err
				}
			}
			// Thousands of nodes in one process: collect garbage more
			// often than the default when no limit was given.
			if os.Getenv("GOGC") == "" && s.Nodes.Total() >= 1000 {
				debug.SetGCPercent(50)
			}
			stopProf, err := startCPUProfile(cpuProf)
			if err != nil {
				return err
			}
			defer stopProf()
			if memProf != "" {
				defer func() {
					if err := writeHeapProfile(memProf); err != nil {
						fmt.Fprintf(cmd.ErrOrStderr(), "sixd sim: heap profile: %v\n", err)
					}
				}()
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			logger := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
			res, err := simulations.Run(ctx, s, simulations.Options{Progress: cmd.ErrOrStderr(), Quiet: quiet, Logger: logger,
				NodeLogs: level < slog.LevelWarn})
			if err != nil {
				return err
			}
			sum, err := report.Write(out, res.Run)
			if err != nil {
				return fmt.Errorf("writing %s: %w", out, err)
			}
			fmt.Fprint(cmd.OutOrStdout(), report.Text(sum))
			fmt.Fprintf(cmd.OutOrStdout(), "outputs in %s\n", out)
			if !res.SamePrefix {
				return fmt.Errorf("honest nodes disagree on the finalized chain (heights %d..%d)", res.MinFinal, res.MaxFinal)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&out, "out", "", "directory for summary.json, CSV and PNG outputs (created)")
	f.Int64Var(&seed, "seed", 0, "override the scenario's seed")
	f.IntVar(&nodes, "nodes", 0, "override the number of nodes (roles keep their proportions; authorities stay)")
	f.Float64Var(&scale, "time-scale", 0, "override the scenario's time_scale (wall seconds per simulated second)")
	f.DurationVar(&duration, "duration", 0, "override the scenario's simulated duration")
	f.BoolVar(&quiet, "quiet", false, "no progress bar")
	f.StringVar(&logLevel, "log-level", "error", "log level of the runner and nodes: debug, info, warn or error")
	f.StringVar(&cpuProf, "cpuprofile", "", "write a CPU profile of the run to this file")
	f.StringVar(&memProf, "memprofile", "", "write a heap profile at the end of the run to this file")
	f.StringVar(&planOut, "plan", "", "also write the generated plan (topology, workload, faults) as text to this file")
	return cmd
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	err = pprof.Lookup("heap").WriteTo(f, 0)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
