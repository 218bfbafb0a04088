package main

import (
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/sixdomain/sixdomain/cmd/internal/devnet"
)

func newDevnetCmd() *cobra.Command {
	o := devnet.Options{}
	cmd := &cobra.Command{
		Use:   "devnet",
		Short: "Run a local mesh of real nodes on loopback with devices publishing sensor readings",
		Long: `devnet starts authorities and devices as real sixdomain nodes in this process,
each with its own libp2p host on loopback (TCP and QUIC) and its own pebble
store, connected over GossipSub. Devices sign and publish simulated sensor
readings at the given total rate; authorities seal them into blocks. It
prints one line per block and, at the end, a summary: blocks, transactions
committed, tx/s, submit-to-commit latency and whether every node holds the
identical head. It exits 0 only if every node agrees.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			_, err := devnet.Run(ctx, o, cmd.OutOrStdout(), cmd.ErrOrStderr())
			return err
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.Authorities, "authorities", 3, "number of authority nodes (they seal blocks)")
	f.IntVar(&o.Devices, "devices", 2, "number of device nodes (they publish readings)")
	f.IntVar(&o.SensorsPerDevice, "sensors", 1, "sensors per device node, each signing with its own key")
	f.DurationVar(&o.Duration, "duration", 20*time.Second, "how long devices publish")
	f.Float64Var(&o.Rate, "rate", 50, "readings per second, in total across devices")
	f.DurationVar(&o.Slot, "slot", time.Second, "block interval")
	f.StringVar(&o.Home, "home", "", "keep node stores in this directory (default: a temporary one, removed at the end)")
	f.StringVar(&o.ChainID, "chain-id", "sixdomain-devnet", "chain ID")
	f.StringVar(&o.JSONOut, "json", "", "also write the summary as JSON to this file")
	f.BoolVar(&o.Quiet, "quiet", false, "print only the summary")
	f.StringVar(&o.LogLevel, "log-level", "error", "node log level: debug, info, warn or error")
	f.StringVar(&o.Admission, "admission", "open", `genesis admission mode: "open", or "admitted" (a gateway onboards every device on the DID registry first)`)
	return cmd
}
