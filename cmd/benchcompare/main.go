// Command benchcompare offers the same load to a CometBFT localnet (its
// built-in kvstore, 4 validators on loopback) and a sixdomain devnet (4
// authorities), one after the other, and prints one table side by side.
// `make bench-compare` installs CometBFT, builds sixd and runs it; see
// docs/BENCHMARKS.md, Side by side with CometBFT, and package
// cmd/internal/benchcompare.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/sixdomain/sixdomain/cmd/internal/benchcompare"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "benchcompare:", err)
		os.Exit(1)
	}
}

func run() error {
	var c benchcompare.Config
	rates := flag.String("rates", "1000,2000,4000,8000", "offered rates in tx/s, comma-separated")
	flag.StringVar(&c.CometBFT, "cometbft", "cometbft", "the cometbft binary")
	flag.StringVar(&c.Sixd, "sixd", "bin/sixd", "the sixd binary")
	flag.DurationVar(&c.Duration, "duration", 20*time.Second, "load duration per rate and system")
	flag.DurationVar(&c.Slot, "slot", 200*time.Millisecond, "sixdomain slot and CometBFT timeout_commit")
	flag.IntVar(&c.TxBytes, "tx-bytes", 200, "size of every transaction on both sides, in bytes (sixdomain's signed encoding; CometBFT's key=value)")
	flag.StringVar(&c.DevnetFlags, "devnet-flags", benchcompare.DefaultDevnetFlags, "further sixd devnet flags: the sixdomain load's shape")
	flag.StringVar(&c.Work, "work", ".cache/bench/run", "working directory: CometBFT testnets and logs, devnet summaries and logs")
	flag.IntVar(&c.Port, "port", 26656, "CometBFT p2p port on 127.0.0.1 to 127.0.0.4 (RPC on the next one)")
	flag.IntVar(&c.Conns, "conns", 8, "HTTP keep-alive connections (and senders) per CometBFT validator")
	flag.IntVar(&c.Batch, "batch", 10, "at most this many transactions per HTTP request to CometBFT: a JSON-RPC batch of broadcast_tx_async, of what queued while the last request was out (10: CometBFT's default max_request_batch_size)")
	flag.StringVar(&c.Only, "only", "", `run one side only: "cometbft" or "sixdomain"`)
	flag.Parse()
	if flag.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", flag.Args())
	}
	var err error
	if c.Rates, err = benchcompare.ParseRates(*rates); err != nil {
		return err
	}
	if c.Only != "sixdomain" {
		v, err := exec.Command(c.CometBFT, "version").Output()
		if err != nil {
			return fmt.Errorf("%s version: %w", c.CometBFT, err)
		}
		c.CometVersion = "v" + strings.TrimSpace(string(v))
	}
	c.Machine = machine()

	// The first Ctrl-C stops the run (every child is stopped); a second
	// one kills this process, and the kernel its children (Pdeathsig).
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	context.AfterFunc(ctx, stop)
	_, err = benchcompare.Run(ctx, c, os.Stdout, os.Stderr)
	if errors.Is(err, context.Canceled) {
		return errors.New("interrupted")
	}
	return err
}

// machine describes this machine: cores and CPU model.
func machine() string {
	model := "unknown CPU"
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	return fmt.Sprintf("%d cores (runtime.NumCPU), %s, %s/%s", runtime.NumCPU(), model, runtime.GOOS, runtime.GOARCH)
}
