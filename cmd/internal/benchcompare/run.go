package benchcompare

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sixdomain/sixdomain/cmd/internal/devnet"
)

// DefaultDevnetFlags are the load-shape flags of the sixdomain side, after
// --authorities, --slot, --rate, --duration and --tx-bytes. The Makefile's
// BENCH_DEVNET_FLAGS overrides them.
const DefaultDevnetFlags = "--devices 0 --sensors 40"

// Validators is the size of both networks: 4 CometBFT validators, 4
// sixdomain authorities.
const Validators = 4

// Config is one `make bench-compare` run.
type Config struct {
	CometBFT     string // the cometbft binary
	CometVersion string // what `cometbft version` printed, for the header
	Sixd         string // the sixd binary
	Rates        []float64
	Duration     time.Duration
	Slot         time.Duration // sixdomain slot and CometBFT timeout_commit
	TxBytes      int
	DevnetFlags  string // extra sixd devnet flags (DefaultDevnetFlags)
	Work         string // working directory: testnets, logs, JSON summaries
	Port         int    // CometBFT p2p port; RPC is Port+1, on 127.0.0.1..4
	Conns        int    // HTTP connections per CometBFT validator
	Batch        int    // at most this many transactions per HTTP request to CometBFT
	Only         string // "", "cometbft" or "sixdomain": run one side only
	Machine      string // a line about the machine, for the header
	Log          *slog.Logger
}

func (c Config) validate() error {
	switch {
	case len(c.Rates) == 0:
		return errors.New("no rates")
	case c.Duration <= 0:
		return errors.New("--duration must be positive")
	case c.Slot < 50*time.Millisecond:
		return errors.New("--slot must be at least 50ms")
	case c.TxBytes < minTxBytes:
		return fmt.Errorf("--tx-bytes must be at least %d", minTxBytes)
	case c.Port < 1024 || c.Port > 65534:
		return errors.New("--port must be in [1024, 65534]")
	case c.Conns < 1 || c.Conns > 256:
		return errors.New("--conns must be in [1, 256]")
	case c.Batch < 1 || c.Batch > 1000:
		return errors.New("--batch must be in [1, 1000]")
	case c.Only != "" && c.Only != "cometbft" && c.Only != "sixdomain":
		return errors.New(`--only must be "cometbft" or "sixdomain"`)
	}
	for _, r := range c.Rates {
		if r <= 0 || r > 100_000 {
			return fmt.Errorf("rate %v must be in (0, 100000]", r)
		}
	}
	return nil
}

// ParseRates reads a comma-separated list of rates, e.g. "1000,2000".
func ParseRates(s string) ([]float64, error) {
	var rates []float64
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		r, err := strconv.ParseFloat(f, 64)
		if err != nil || r <= 0 || r > 100_000 {
			return nil, fmt.Errorf("rate %q: want a number in (0, 100000]", f)
		}
		rates = append(rates, r)
	}
	if len(rates) == 0 {
		return nil, errors.New("no rates")
	}
	return rates, nil
}

// Run measures every rate on CometBFT, then on sixdomain (never both at
// once), prints progress to progress and the table to out, and returns the
// rows. A side that fails at one rate is reported in its row; Run goes on
// with the next. It returns an error only for invalid options or an
// interrupt.
func Run(ctx context.Context, c Config, out, progress io.Writer) ([]Row, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	if c.Log == nil {
		c.Log = slog.New(slog.NewTextHandler(progress, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	if err := os.MkdirAll(c.Work, 0o700); err != nil {
		return nil, err
	}
	var rows []Row
	for i, rate := range c.Rates {
		row := Row{Rate: rate}
		if c.Only != "sixdomain" {
			fmt.Fprintf(progress, "== CometBFT  %s tx/s for %s ...\n", num(rate), c.Duration)
			row.CometBFT, row.CometErr = runCometBFT(ctx, c, i, rate)
			report(progress, row.CometBFT, row.CometErr)
		} else {
			row.CometErr = fmt.Errorf("%w (--only sixdomain)", errNotRun)
		}
		if ctx.Err() != nil {
			return rows, ctx.Err()
		}
		if c.Only != "cometbft" {
			fmt.Fprintf(progress, "== sixdomain %s tx/s for %s ...\n", num(rate), c.Duration)
			row.Sixdomain, row.SixErr = runSixd(ctx, c, rate)
			report(progress, row.Sixdomain, row.SixErr)
		} else {
			row.SixErr = fmt.Errorf("%w (--only cometbft)", errNotRun)
		}
		if ctx.Err() != nil {
			return rows, ctx.Err()
		}
		rows = append(rows, row)
	}
	writeTable(out, Header{CometVersion: c.CometVersion, Validators: Validators, Slot: c.Slot, Duration: c.Duration,
		TxBytes: c.TxBytes, DevnetFlags: c.DevnetFlags, Machine: c.Machine}, rows)
	return rows, nil
}

func report(w io.Writer, r Result, err error) {
	if err != nil {
		fmt.Fprintf(w, "   failed: %v\n", err)
		return
	}
	fmt.Fprintf(w, "   committed %s tx/s, p50 %.0f ms, p99 %.0f ms; %s\n", num(r.TxPerSec), r.P50Ms, r.P99Ms, detail(r, nil))
}

// runCometBFT starts a fresh localnet, drives it and stops it.
func runCometBFT(ctx context.Context, c Config, i int, rate float64) (Result, error) {
	dir := filepath.Join(c.Work, fmt.Sprintf("cometbft-%d", int64(rate)))
	net, err := startLocalnet(ctx, c.CometBFT, dir, Validators, c.Port, c.Slot, c.Log)
	if err != nil {
		return Result{}, err
	}
	defer net.stop()
	rc := newRPCClient(1, 1)
	h, err := rc.status(ctx, net.rpc[0])
	rc.close()
	if err != nil {
		return Result{}, err
	}
	r, err := runLoad(ctx, loadConfig{RPC: net.rpc, Rate: rate, Duration: c.Duration, Slot: c.Slot,
		TxBytes: c.TxBytes, Conns: c.Conns, Batch: c.Batch, Run: i}, h)
	if err != nil {
		return r, err
	}
	if idx, exited := net.exited(); exited {
		return r, fmt.Errorf("%w: node %d exited during the run (log %s)", ErrLocalnet, idx, net.logs[idx].Name())
	}
	return r, nil
}

// devnetArgs are the arguments of the sixd devnet run at rate.
func devnetArgs(c Config, rate float64, jsonOut string) []string {
	args := []string{"devnet", "--quiet", "--authorities", strconv.Itoa(Validators),
		"--slot", c.Slot.String(), "--rate", strconv.FormatFloat(rate, 'f', -1, 64),
		"--duration", c.Duration.String(), "--tx-bytes", strconv.Itoa(c.TxBytes), "--json", jsonOut}
	return append(args, strings.Fields(c.DevnetFlags)...)
}

// runSixd runs `sixd devnet` at rate and reads its JSON summary. The
// devnet exits non-zero when its nodes disagree; the summary still
// counts, with the exit status reported.
func runSixd(ctx context.Context, c Config, rate float64) (Result, error) {
	jsonOut := filepath.Join(c.Work, fmt.Sprintf("sixdomain-%d.json", int64(rate)))
	logPath := filepath.Join(c.Work, fmt.Sprintf("sixdomain-%d.log", int64(rate)))
	_ = os.Remove(jsonOut)
	lf, err := os.Create(logPath)
	if err != nil {
		return Result{}, err
	}
	defer lf.Close()
	cmd := exec.CommandContext(ctx, c.Sixd, devnetArgs(c, rate, jsonOut)...)
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.SysProcAttr = childAttr()
	// On interrupt: SIGINT first (the devnet stops its nodes and cleans
	// its temporary homes), SIGKILL after 30 s.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGINT) }
	cmd.WaitDelay = 30 * time.Second
	runErr := cmd.Run()
	if ctx.Err() != nil {
		return Result{}, ctx.Err()
	}
	b, err := os.ReadFile(jsonOut)
	if err != nil {
		return Result{}, fmt.Errorf("sixd devnet: %v; no summary (log %s): %w", runErr, logPath, err)
	}
	s, err := parseSummary(b)
	if err != nil {
		return Result{}, err
	}
	r := fromDevnet(s)
	if runErr != nil {
		return r, fmt.Errorf("sixd devnet: %w (nodes agree: %v; log %s)", runErr, s.NodesAgree, logPath)
	}
	return r, nil
}

func parseSummary(b []byte) (devnet.Summary, error) {
	var s devnet.Summary
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("sixd devnet summary: %w", err)
	}
	return s, nil
}
