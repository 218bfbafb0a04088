package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/sixdomain/sixdomain/cmd/internal/devnet"
)

func newDevnetCmd() *cobra.Command {
	o := devnet.Options{}
	var cpuProfile string
	cmd := &cobra.Command{
		Use:   "devnet",
		Short: "Run a local mesh of real nodes on loopback with devices publishing sensor readings",
		Long: `devnet starts authorities and devices as real sixdomain nodes in this process,
each with its own libp2p host on loopback (TCP and QUIC) and its own pebble
store, connected over GossipSub. Devices sign and publish simulated sensor
readings at the given total rate; authorities seal them into blocks. It
prints one line per block and, at the end, a summary: blocks, transactions
committed, tx/s, submit-to-commit latency and whether every node holds the
identical head. It exits 0 only if every node agrees. With --light N, N light
nodes (package node/light, each with its own host and store in DIR/light-<i>)
record a reading a second each through the device nodes, and the summary
counts the readings they proved final.

Every node serves the HTTP API and the dashboard on its own loopback port.
devnet prints each node's dialable multiaddr and API URL, and writes one
home per node as 'sixd init' would (DIR/node-<i>: config.toml, node.key,
genesis.toml, data/) with the chain's genesis in DIR/genesis.toml. So
'sixd --home DIR/node-0 block latest' talks to a running devnet, and
'sixd init --role device --genesis DIR/genesis.toml --bootstrap ADDR' then
'sixd run' joins it from outside. Without --home, DIR is temporary and
removed at the end; with --home, running devnet again on the same directory
continues the same chain with the same keys and addresses.

--duration 0 keeps the load and the network running until Ctrl-C, then
prints the summary.

With --devices 0 only authorities run, like a 4-validator CometBFT
localnet: the --sensors sensors submit to them directly, each to one
authority (round robin over the sensors), as the clients of a gateway do,
and submit-to-final latency is measured on those authorities.

A node whose mempool is above its high-water mark refuses readings
(mempool_busy; a 503 over HTTP): the sensor waits, 50 ms doubling up to
400 ms, and sends the same reading again. The summary counts the readings
offered and accepted, the busy refusals and the retries apart from other
refusals.`,
		Example: `  sixd devnet
  sixd devnet --home ./devnet --duration 0      # until Ctrl-C; keeps the homes
  sixd --home ./devnet/node-0 block latest       # from another terminal
  sixd devnet --authorities 4 --devices 6 --rate 500 --duration 60s
  sixd devnet --light 4                          # with light nodes submitting through the devices
  sixd devnet --authorities 4 --devices 0 --sensors 20 --rate 2000 --slot 200ms`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			// The first Ctrl-C ends the run (the summary still prints); a
			// second one kills the process.
			context.AfterFunc(ctx, stop)
			stopProf, err := startCPUProfile(cpuProfile)
			if err != nil {
				return err
			}
			defer stopProf()
			_, err = devnet.Run(ctx, o, cmd.OutOrStdout(), cmd.ErrOrStderr())
			return err
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.Authorities, "authorities", 3, "number of authority nodes (they seal blocks)")
	f.IntVar(&o.Devices, "devices", 2, "number of device nodes (they publish readings); 0: authorities only, the sensors submitting to them directly")
	f.IntVar(&o.SensorsPerDevice, "sensors", 1, "sensors per device node, each signing with its own key (with --devices 0: sensors in all, spread round robin over the authorities)")
	f.DurationVar(&o.Duration, "duration", 20*time.Second, "how long devices publish (0: until Ctrl-C)")
	f.Float64Var(&o.Rate, "rate", 50, "readings per second, in total across devices")
	f.DurationVar(&o.Slot, "slot", time.Second, "block interval")
	f.StringVar(&o.Home, "home", "", "keep the node homes (config, keys, genesis, stores) in this directory (default: a temporary one, removed at the end)")
	f.StringVar(&o.ChainID, "chain-id", "sixdomain-devnet", "chain ID")
	f.StringVar(&o.JSONOut, "json", "", "also write the summary as JSON to this file")
	f.BoolVar(&o.Quiet, "quiet", false, "print only the summary")
	f.StringVar(&o.LogLevel, "log-level", "error", "node log level: debug, info, warn or error")
	f.IntVar(&o.Light, "light", 0, "number of light nodes, each recording a reading a second through a device node (its gateway)")
	f.StringVar(&o.Admission, "admission", "open", `genesis admission mode: "open", or "admitted" (a gateway onboards every device on the DID registry first)`)
	f.IntVar(&o.MempoolTxs, "mempool-txs", 0, "bound every node's mempool to this many transactions (0: the role's default), to see the back-pressure at low rates")
	f.IntVar(&o.TxBytes, "tx-bytes", 0, "pad each reading so its signed transaction is exactly this many bytes (0: no padding)")
	f.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run (every node) to this file")
	return cmd
}
