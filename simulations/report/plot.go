package report

import (
	"cmp"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

const (
	// maxCDFSamples bounds the latency pairs sorted for the CDF plot.
	maxCDFSamples = 100_000
	// maxLinePoints bounds the points drawn per line.
	maxLinePoints = 2000
	// deliveryBins is the number of time bins of the delivery plot.
	deliveryBins = 200

	plotWidth  = 8 * vg.Inch
	plotHeight = 5 * vg.Inch
)

// series is one named line of a plot.
type series struct {
	name   string
	pts    plotter.XYs
	dashed bool
	step   bool // draw as a post-step function (for CDFs)
	points bool // also mark each point
}

// compactTicks is gonum's default tick placement with short labels
// (12k, 3.5M) instead of fixed-point numbers.
func compactTicks(lo, hi float64) []plot.Tick {
	if !(hi > lo) { // the default ticker panics on an empty range
		return []plot.Tick{{Value: lo, Label: compactNumber(lo)}}
	}
	ticks := plot.DefaultTicks{}.Ticks(lo, hi)
	for i := range ticks {
		if ticks[i].Label != "" {
			ticks[i].Label = compactNumber(ticks[i].Value)
		}
	}
	return ticks
}

// compactNumber formats v with at most 4 significant digits and an SI
// suffix for large magnitudes.
func compactNumber(v float64) string {
	a := math.Abs(v)
	switch {
	case a >= 1e12:
		return strconv.FormatFloat(v/1e12, 'g', 4, 64) + "T"
	case a >= 1e9:
		return strconv.FormatFloat(v/1e9, 'g', 4, 64) + "G"
	case a >= 1e6:
		return strconv.FormatFloat(v/1e6, 'g', 4, 64) + "M"
	case a >= 1e4:
		return strconv.FormatFloat(v/1e3, 'g', 4, 64) + "k"
	case a < 1e-9:
		return "0"
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

// newPlot builds a line plot of the given series. Series without points
// are skipped; a plot with no points at all gets "(no data)" in its title
// and unit axes.
func newPlot(title, xLabel, yLabel string, ss ...series) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = xLabel
	p.Y.Label.Text = yLabel
	p.Legend.Top = true
	p.X.Tick.Marker = plot.TickerFunc(compactTicks)
	p.Y.Tick.Marker = plot.TickerFunc(compactTicks)
	p.Add(plotter.NewGrid())
	hasData := false
	for i, s := range ss {
		if len(s.pts) == 0 {
			continue
		}
		l, err := plotter.NewLine(s.pts)
		if err != nil {
			return nil, fmt.Errorf("plot %q: %w", s.name, err)
		}
		l.Color = plotutil.Color(i)
		l.Width = vg.Points(1.5)
		if s.step {
			l.StepStyle = plotter.PostStep
		}
		if s.dashed {
			l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		}
		p.Add(l)
		thumbs := []plot.Thumbnailer{l}
		if s.points {
			sc, err := plotter.NewScatter(s.pts)
			if err != nil {
				return nil, fmt.Errorf("plot %q: %w", s.name, err)
			}
			sc.Color = l.Color
			sc.Radius = vg.Points(2)
			sc.Shape = draw.CircleGlyph{}
			p.Add(sc)
			thumbs = append(thumbs, sc)
		}
		if s.name != "" {
			p.Legend.Add(s.name, thumbs...)
		}
		hasData = true
	}
	if !hasData {
		p.Title.Text += " (no data)"
		p.X.Min, p.X.Max = 0, 1
		p.Y.Min, p.Y.Max = 0, 1
	}
	return p, nil
}

// renderPNG draws the plots stacked vertically into one PNG.
func renderPNG(w io.Writer, plots ...*plot.Plot) error {
	c := vgimg.New(plotWidth, plotHeight*vg.Length(len(plots)))
	dc := draw.New(c)
	if len(plots) == 1 {
		plots[0].Draw(dc)
	} else {
		rows := make([][]*plot.Plot, len(plots))
		for i, p := range plots {
			rows[i] = []*plot.Plot{p}
		}
		t := draw.Tiles{Rows: len(plots), Cols: 1, PadY: vg.Points(8)}
		for i, cv := range plot.Align(rows, t, dc) {
			rows[i][0].Draw(cv[0])
		}
	}
	if _, err := (vgimg.PngCanvas{Canvas: c}).WriteTo(w); err != nil {
		return fmt.Errorf("encode png: %w", err)
	}
	return nil
}

// cdfPoints returns at most maxLinePoints points of the empirical CDF of
// sorted (ascending, nanoseconds), x in milliseconds.
func cdfPoints(sorted []int64) plotter.XYs {
	n := len(sorted)
	if n == 0 {
		return nil
	}
	k := min(n, maxLinePoints)
	pts := make(plotter.XYs, 0, k+1)
	pts = append(pts, plotter.XY{X: ms(float64(sorted[0])), Y: 0})
	for j := range k {
		idx := n - 1
		if k > 1 {
			idx = j * (n - 1) / (k - 1)
		}
		pts = append(pts, plotter.XY{X: ms(float64(sorted[idx])), Y: float64(idx+1) / float64(n)})
	}
	return pts
}

// sampleNodeLatencies returns at most maxCDFSamples delivered-pair
// latencies, taking every stride-th pair in Run order, sorted.
func sampleNodeLatencies(r *Run, total int) []int64 {
	stride := 1
	if total > maxCDFSamples {
		stride = (total + maxCDFSamples - 1) / maxCDFSamples
	}
	out := make([]int64, 0, min(total, maxCDFSamples)+1)
	i := 0
	for v := range nodeLatencies(r) {
		if i%stride == 0 {
			out = append(out, v)
		}
		i++
	}
	slices.Sort(out)
	return out
}

func plotLatencyCDF(w io.Writer, r *Run, s Summary) error {
	perNode := sampleNodeLatencies(r, s.Messages.ToNode.Count)
	toAll := make([]int64, 0, len(r.Messages))
	for i := range r.Messages {
		if st, _ := summarizeMessage(&r.Messages[i], nil, false); st.ToAll >= 0 {
			toAll = append(toAll, int64(st.ToAll))
		}
	}
	slices.Sort(toAll)
	ss := []series{
		{name: "to each node", pts: cdfPoints(perNode), step: true},
		{name: "to all nodes (per message)", pts: cdfPoints(toAll), step: true},
	}
	if lb := s.LowerBound.BoundMs; lb > 0 && (len(perNode) > 0 || len(toAll) > 0) {
		ss = append(ss, series{name: "lower bound", dashed: true,
			pts: plotter.XYs{{X: lb, Y: 0}, {X: lb, Y: 1}}})
	}
	// A log scale keeps the body of the distribution readable next to
	// the tail (a partition's stragglers arrive seconds later).
	const minMs = 0.01
	for _, x := range ss {
		for i := range x.pts {
			x.pts[i].X = max(x.pts[i].X, minMs)
		}
	}
	p, err := newPlot("Propagation latency CDF", "latency (ms, log scale)", "fraction", ss...)
	if err != nil {
		return err
	}
	if p.X.Min > 0 && p.X.Max > p.X.Min { // some data, all positive
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	}
	p.Legend.Top = false // the lower right of a CDF is empty
	return renderPNG(w, p)
}

// deliveryCurves bins, over simulated time, the expected deliveries of
// messages published so far and the deliveries made so far (cumulative).
// It returns nil if no message is tracked.
func deliveryCurves(r *Run) (expected, delivered, ratioPts plotter.XYs) {
	var end time.Duration
	tracked := false
	for i := range r.Messages {
		m := &r.Messages[i]
		if m.FirstSeen == nil {
			continue
		}
		tracked = true
		end = max(end, m.Published)
		for _, fs := range m.FirstSeen {
			end = max(end, fs)
		}
	}
	if !tracked {
		return nil, nil, nil
	}
	end = max(end, r.SimDuration, 1)
	bin := func(t time.Duration) int {
		b := int(float64(max(t, 0)) / float64(end) * deliveryBins)
		return min(b, deliveryBins-1)
	}
	exp := make([]float64, deliveryBins)
	del := make([]float64, deliveryBins)
	for i := range r.Messages {
		m := &r.Messages[i]
		if m.FirstSeen == nil {
			continue
		}
		n := 0
		for j, fs := range m.FirstSeen {
			if !isExpected(m, j) {
				continue
			}
			n++
			if fs >= 0 {
				del[bin(max(fs, m.Published))]++
			}
		}
		exp[bin(m.Published)] += float64(n)
	}
	var ce, cd float64
	for b := range deliveryBins {
		ce += exp[b]
		cd += del[b]
		t := float64(end) * float64(b+1) / deliveryBins / float64(time.Second)
		expected = append(expected, plotter.XY{X: t, Y: ce})
		delivered = append(delivered, plotter.XY{X: t, Y: cd})
		if ce > 0 {
			ratioPts = append(ratioPts, plotter.XY{X: t, Y: cd / ce})
		}
	}
	return expected, delivered, ratioPts
}

func plotDelivery(w io.Writer, r *Run, s Summary) error {
	expected, delivered, ratioPts := deliveryCurves(r)
	if expected == nil && len(r.Samples) > 0 {
		// No per-message tracking: fall back to the sampled counters,
		// assuming every other node is a receiver.
		receivers := float64(max(nodeCount(r)-1, 0))
		for _, smp := range sortedSamples(r) {
			t := smp.T.Seconds()
			e := float64(smp.Published) * receivers
			expected = append(expected, plotter.XY{X: t, Y: e})
			delivered = append(delivered, plotter.XY{X: t, Y: float64(smp.Delivered)})
			if e > 0 {
				ratioPts = append(ratioPts, plotter.XY{X: t, Y: finite(float64(smp.Delivered) / e)})
			}
		}
	}
	top, err := newPlot("Deliveries over time (cumulative)", "simulated time (s)", "node deliveries",
		series{name: "expected (messages published x receivers)", pts: expected},
		series{name: "delivered", pts: delivered})
	if err != nil {
		return err
	}
	top.Legend.Left = true
	bottom, err := newPlot(fmt.Sprintf("Delivery ratio over time (final %.4f)", s.Messages.DeliveryRatio),
		"simulated time (s)", "delivered / expected", series{name: "", pts: ratioPts})
	if err != nil {
		return err
	}
	if len(ratioPts) > 0 {
		bottom.Y.Min, bottom.Y.Max = 0, 1.05
	}
	return renderPNG(w, top, bottom)
}

// rankPoints returns vals sorted descending as (rank, value) points,
// thinned to at most maxLinePoints while keeping the first and last.
func rankPoints(vals []float64) plotter.XYs {
	slices.SortFunc(vals, func(a, b float64) int { return cmp.Compare(b, a) })
	n := len(vals)
	if n == 0 {
		return nil
	}
	k := min(n, maxLinePoints)
	pts := make(plotter.XYs, 0, k)
	for j := range k {
		idx := n - 1
		if k > 1 {
			idx = j * (n - 1) / (k - 1)
		}
		pts = append(pts, plotter.XY{X: float64(idx), Y: vals[idx]})
	}
	return pts
}

func plotBandwidth(w io.Writer, r *Run, s Summary) error {
	div, unit := s.SimSeconds, "bytes per simulated second"
	if div <= 0 {
		div, unit = 1, "bytes (whole run)"
	}
	total := make([]float64, len(r.Peers))
	sent := make([]float64, len(r.Peers))
	recv := make([]float64, len(r.Peers))
	for i, p := range r.Peers {
		sent[i] = float64(p.BytesSent) / div
		recv[i] = float64(p.BytesRecv) / div
		total[i] = sent[i] + recv[i]
	}
	p, err := newPlot("Bandwidth per node (sorted)", "nodes ranked by traffic", unit,
		series{name: "sent + received", pts: rankPoints(total)},
		series{name: "sent", pts: rankPoints(sent)},
		series{name: "received", pts: rankPoints(recv)})
	if err != nil {
		return err
	}
	p.Y.Min = 0
	return renderPNG(w, p)
}

func plotBlocks(w io.Writer, r *Run) error {
	rows := blockRows(r.Blocks)
	stride := 1
	if len(rows) > maxLinePoints {
		stride = (len(rows) + maxLinePoints - 1) / maxLinePoints
	}
	var interval, toAll, final plotter.XYs
	for i, b := range rows {
		if i%stride != 0 {
			continue
		}
		x := float64(b.Height)
		if b.Interval >= 0 {
			interval = append(interval, plotter.XY{X: x, Y: durMs(b.Interval)})
		}
		if b.TimeToAll >= 0 {
			toAll = append(toAll, plotter.XY{X: x, Y: durMs(b.TimeToAll)})
		}
		if b.Finality >= 0 {
			final = append(final, plotter.XY{X: x, Y: durMs(b.Finality)})
		}
	}
	p, err := newPlot("Blocks", "height", "ms",
		series{name: "interval", pts: interval, points: true},
		series{name: "time to all", pts: toAll, points: true},
		series{name: "time to finality", pts: final, points: true})
	if err != nil {
		return err
	}
	p.Y.Min = 0
	return renderPNG(w, p)
}
