package report

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Text renders s as a short human-readable summary (at most about 30
// lines), including the line "mean propagation X vs lower bound Y (ratio Z)".
func Text(s Summary) string {
	var b strings.Builder
	line := func(format string, args ...any) {
		fmt.Fprintf(&b, format+"\n", args...)
	}
	name := s.Scenario
	if name == "" {
		name = "(unnamed)"
	}
	line("scenario %s  seed %d  nodes %d", name, s.Seed, s.Nodes)
	if len(s.Roles) > 0 {
		parts := make([]string, 0, len(s.Roles))
		for _, k := range slices.Sorted(maps.Keys(s.Roles)) {
			parts = append(parts, fmt.Sprintf("%s %d", k, s.Roles[k]))
		}
		line("roles     %s", strings.Join(parts, ", "))
	}
	line("time      %.1fs simulated in %.1fs wall (%.3g wall s per sim s, configured %.3g), cpu %.1fs",
		s.SimSeconds, s.WallSeconds, s.WallPerSimSecond, s.TimeScale, s.CPUSeconds)

	m := s.Messages
	line("messages  %d published, %d tracked, %d fully delivered", m.Published, m.Tracked, m.FullyDelivered)
	line("delivery  %.4f%% (%d of %d node deliveries)", 100*m.DeliveryRatio, m.DeliveredPairs, m.ExpectedPairs)
	line("to node   %s", distText(m.ToNode))
	line("to all    %s", distText(m.ToAll))
	line("dups      %.2f per message (%d total)", m.DuplicatesPerMessage, m.DuplicatesTotal)

	bw := s.Bandwidth
	line("bandwidth per node %s/s mean, %s/s max; amplification %.2fx",
		bytesText(bw.MeanBytesPerNodePerSec), bytesText(bw.MaxBytesPerNodePerSec), bw.Amplification)

	bl := s.Blocks
	line("blocks    %d up to height %d; forks %d, reorgs %d", bl.Count, bl.MaxHeight, s.Forks, s.Reorgs)
	line("interval  p50 %s  p99 %s", msText(bl.Interval.P50Ms), msText(bl.Interval.P99Ms))
	line("blk->all  p50 %s  p99 %s  (never: %d)", msText(bl.TimeToAll.P50Ms), msText(bl.TimeToAll.P99Ms), bl.NeverReachedAll)
	line("finality  p50 %s  p99 %s  (never: %d)", msText(bl.Finality.P50Ms), msText(bl.Finality.P99Ms), bl.NeverFinal)

	mem := s.Memory
	line("memory    peak heap %s (%s/node), peak rss %s (%s/node)",
		bytesText(float64(mem.PeakHeapBytes)), bytesText(mem.HeapPerNodeBytes),
		bytesText(float64(mem.PeakRSSBytes)), bytesText(mem.RSSPerNodeBytes))

	lb := s.LowerBound
	measured, rt := msText(lb.MeasuredMs), fmt.Sprintf("%.2f", lb.Ratio)
	if s.Messages.ToAll.Count == 0 {
		measured = "n/a"
	}
	if lb.Ratio == 0 {
		rt = "n/a"
	}
	line("mean propagation %s vs lower bound %s (ratio %s)", measured, msText(lb.BoundMs), rt)
	line("          bound = %d hops (D=%d, N=%d) x %s link latency", lb.Hops, lb.MeshDegree, lb.Nodes, msText(lb.LinkLatencyMs))
	if lb.Note != "" {
		line("          %s", lb.Note)
	}
	const maxNotes = 5
	for i, n := range s.Notes {
		if i == maxNotes {
			line("note      ... %d more in summary.json", len(s.Notes)-maxNotes)
			break
		}
		line("note      %s", n)
	}
	return b.String()
}

func distText(d Dist) string {
	if d.Count == 0 {
		return "no data"
	}
	return fmt.Sprintf("p50 %s  p90 %s  p99 %s  max %s  mean %s  (n=%d)",
		msText(d.P50Ms), msText(d.P90Ms), msText(d.P99Ms), msText(d.MaxMs), msText(d.MeanMs), d.Count)
}

// msText formats milliseconds compactly.
func msText(v float64) string {
	switch {
	case v >= 10000:
		return fmt.Sprintf("%.1fs", v/1000)
	case v >= 100:
		return fmt.Sprintf("%.0fms", v)
	default:
		return fmt.Sprintf("%.1fms", v)
	}
}

// bytesText formats a byte count with a decimal unit.
func bytesText(v float64) string {
	units := []string{"B", "kB", "MB", "GB", "TB"}
	i := 0
	for v >= 1000 && i < len(units)-1 {
		v /= 1000
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%.0f%s", v, units[i])
	}
	return fmt.Sprintf("%.1f%s", v, units[i])
}
