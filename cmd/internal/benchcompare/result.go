package benchcompare

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/sixdomain/sixdomain/cmd/internal/devnet"
)

// Result is one system's measurement at one offered rate.
type Result struct {
	Offered     float64 // tx/s asked for
	DurationSec float64 // how long the load ran
	Sent        int     // transactions handed to the system (accepted or not)
	NotSent     int     // CometBFT only: the driver's senders could not keep up
	Refused     int     // refused for load: a full mempool, a refused submission
	Errors      int     // CometBFT only: any other error answer
	Requests    int     // CometBFT only: HTTP requests (a batch is one)
	Committed   int
	Uncommitted int     // accepted, not committed by the end of the drain
	TxPerSec    float64 // committed / (last commit − start of the load)
	P50Ms       float64 // submit→commit (CometBFT), submit→final (sixdomain)
	P99Ms       float64
	MaxMs       float64
	Blocks      int64
	// RefusedExample and ErrorExample: the first of each, verbatim.
	RefusedExample string
	ErrorExample   string
}

// summarize computes the committed rate and latency percentiles the way
// sixd devnet does: committed over the span from the start of the load to
// the last commit, percentiles by nearest rank.
func summarize(latencies []time.Duration, start, last time.Time) Result {
	r := Result{Committed: len(latencies)}
	if len(latencies) == 0 {
		return r
	}
	if span := last.Sub(start).Seconds(); span > 0 {
		r.TxPerSec = float64(len(latencies)) / span
	}
	r.P50Ms, r.P99Ms, r.MaxMs = percentileMs(latencies, 0.50), percentileMs(latencies, 0.99), percentileMs(latencies, 1)
	return r
}

// percentileMs is the devnet's nearest-rank percentile, so that both
// sides of the table are computed alike.
var percentileMs = devnet.PercentileMs

// fromDevnet reads sixd devnet's summary into a Result.
func fromDevnet(s devnet.Summary) Result {
	return Result{Offered: s.OfferedRate, DurationSec: s.DurationSec, Sent: s.Submitted + s.Refused, Refused: s.Refused,
		Committed: s.Committed, Uncommitted: s.Uncommitted, TxPerSec: s.TxPerSec, P50Ms: s.LatencyP50Ms,
		P99Ms: s.LatencyP99Ms, MaxMs: s.LatencyMaxMs, Blocks: int64(s.Blocks), RefusedExample: s.SubmitErrorEx}
}

// Row is one offered rate, both systems.
type Row struct {
	Rate      float64
	CometBFT  Result
	Sixdomain Result
	// CometErr and SixErr: a side that failed to run (its Result is empty).
	CometErr, SixErr error
}

// Header says what the table compares; printed above it.
type Header struct {
	CometVersion string
	Validators   int
	Slot         time.Duration
	Duration     time.Duration
	TxBytes      int
	DevnetFlags  string
	Machine      string
}

// ratio formats a/b, "–" when b is 0.
func ratio(a, b float64) string {
	if b == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", a/b)
}

// ratios formats six/cmt for the committed rate and the p50 latency; a
// side that failed or committed nothing has no latency to compare.
func ratios(r Row) string {
	c, s := r.CometBFT, r.Sixdomain
	if r.CometErr != nil || r.SixErr != nil {
		return "– | –"
	}
	p50 := "–"
	if c.Committed > 0 && s.Committed > 0 {
		p50 = ratio(s.P50Ms, c.P50Ms)
	}
	return ratio(s.TxPerSec, c.TxPerSec) + " | " + p50
}

// writeTable prints the statement of what is compared, one Markdown table
// (offered; CometBFT committed, p50, p99; sixdomain committed, p50, p99;
// the ratios) and a line per rate with what the table leaves out.
func writeTable(w io.Writer, h Header, rows []Row) {
	fmt.Fprintf(w, "\nSide by side: CometBFT %s kvstore, %d validators, timeout_commit %s | sixdomain devnet, %d authorities, slot %s\n",
		h.CometVersion, h.Validators, h.Slot, h.Validators, h.Slot)
	fmt.Fprintf(w, "  %s of load per rate; every transaction %d bytes on both sides\n", h.Duration, h.TxBytes)
	fmt.Fprintf(w, "  CometBFT's transactions are unsigned key=value pairs (kvstore checks only their form), sent over HTTP\n")
	fmt.Fprintf(w, "  (broadcast_tx_async) by this driver; sixdomain's are Ed25519-signed by the devnet's sensors and\n")
	fmt.Fprintf(w, "  verified on every node (devnet flags: %s).\n", h.DevnetFlags)
	if h.Machine != "" {
		fmt.Fprintf(w, "  machine: %s\n", h.Machine)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| offered tx/s | CometBFT committed tx/s | p50 ms | p99 ms | sixdomain committed tx/s | p50 ms | p99 ms | committed six/cmt | p50 six/cmt |")
	fmt.Fprintln(w, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range rows {
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", num(r.Rate), cells(r.CometBFT, r.CometErr), cells(r.Sixdomain, r.SixErr), ratios(r))
	}
	fmt.Fprintln(w)
	for _, r := range rows {
		fmt.Fprintf(w, "  %s tx/s  CometBFT:  %s\n", num(r.Rate), detail(r.CometBFT, r.CometErr))
		fmt.Fprintf(w, "  %s tx/s  sixdomain: %s\n", num(r.Rate), detail(r.Sixdomain, r.SixErr))
	}
}

// errNotRun: --only left this side out.
var errNotRun = errors.New("not run")

func cells(r Result, err error) string {
	if errors.Is(err, errNotRun) {
		return "not run | – | –"
	}
	if err != nil {
		return "failed | – | –"
	}
	if r.Committed == 0 {
		return "0 | – | –" // no latency to speak of
	}
	return fmt.Sprintf("%s | %.0f | %.0f", num(r.TxPerSec), r.P50Ms, r.P99Ms)
}

func detail(r Result, err error) string {
	if errors.Is(err, errNotRun) {
		return err.Error()
	}
	if err != nil {
		return "failed: " + oneLine(err.Error())
	}
	s := fmt.Sprintf("%d sent, %d committed, %d uncommitted, %d refused", r.Sent, r.Committed, r.Uncommitted, r.Refused)
	if r.Requests > 0 {
		s += fmt.Sprintf(" in %d HTTP requests", r.Requests)
	}
	if r.NotSent > 0 {
		s += fmt.Sprintf(", %d not sent (left in the driver's queue: full, or at the end)", r.NotSent)
	}
	if r.Errors > 0 {
		s += fmt.Sprintf(", %d errors (%s)", r.Errors, oneLine(r.ErrorExample))
	}
	s += fmt.Sprintf(", %d blocks, max latency %.0f ms", r.Blocks, r.MaxMs)
	if r.RefusedExample != "" {
		s += "; first refusal: " + oneLine(r.RefusedExample)
	}
	return s
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 160 {
		s = s[:160] + "…"
	}
	return s
}

// num formats a rate with thousands separators and no decimals.
func num(v float64) string {
	n := int64(math.Round(v))
	neg := n < 0
	if neg {
		n = -n
	}
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if neg {
		s = "-" + s
	}
	return s
}
