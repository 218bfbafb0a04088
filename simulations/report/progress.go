package report

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progressThrottle is the minimum wall time between two redraws.
const progressThrottle = 100 * time.Millisecond

// Progress is a terminal progress bar over simulated time, with elapsed
// wall time and an ETA. A Progress that is disabled (quiet, or its writer
// is not a terminal) writes nothing. All methods are safe for concurrent
// use and do nothing on a nil *Progress or after Close.
type Progress struct {
	mu     sync.Mutex
	w      io.Writer
	bar    *progressbar.ProgressBar // nil when disabled
	total  time.Duration
	max    int64
	last   time.Time
	closed bool
}

// NewProgress returns a progress bar for a run covering total simulated
// time, drawn on w (normally os.Stderr). It is disabled when quiet is set
// or w is not a terminal (an *os.File or anything else with an Fd method
// for which term.IsTerminal is true).
func NewProgress(w io.Writer, total time.Duration, quiet bool) *Progress {
	return newProgress(w, total, !quiet && isTerminal(w))
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(interface{ Fd() uintptr })
	return ok && term.IsTerminal(int(f.Fd()))
}

// newProgress builds a Progress that draws iff enabled.
func newProgress(w io.Writer, total time.Duration, enabled bool) *Progress {
	p := &Progress{w: w, total: total}
	if !enabled || w == nil {
		return p
	}
	// The bar counts simulated milliseconds; an unknown total gets a bar
	// of 1 that only fills on completion.
	p.max = max(total.Milliseconds(), 1)
	p.bar = progressbar.NewOptions64(p.max,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetWidth(30),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionThrottle(progressThrottle),
		progressbar.OptionSetDescription("sim"),
	)
	return p
}

// Update reports that simulated time has advanced to simulated; info is
// shown beside the bar (e.g. "nodes 10000 height 42"). Redraws are
// throttled to one per 100 ms of wall time.
func (p *Progress) Update(simulated time.Duration, info string) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar == nil || p.closed {
		return
	}
	now := time.Now()
	cur := min(max(simulated.Milliseconds(), 0), p.max)
	if cur < p.max && !p.last.IsZero() && now.Sub(p.last) < progressThrottle {
		return
	}
	p.last = now
	desc := fmt.Sprintf("sim %s/%s", simulated.Truncate(time.Second), p.total.Truncate(time.Second))
	if info != "" {
		desc += " " + info
	}
	// Errors from drawing a progress bar are not worth failing a run for.
	p.bar.Describe(desc)
	_ = p.bar.Set64(cur)
}

// Close ends the bar, leaving its last state on screen followed by a
// newline. Further Updates are ignored.
func (p *Progress) Close() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.closed = true
	if p.bar == nil {
		return
	}
	_ = p.bar.Exit() // drawing errors are not worth failing a run for (see Update)
	fmt.Fprintln(p.w)
}
