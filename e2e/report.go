package e2e

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// Report is what a run found; Dir/report.json holds it.
type Report struct {
	Manifest        string        `json:"manifest"`
	Seed            uint64        `json:"seed"`
	Mode            string        `json:"mode"`
	Faults          []FaultResult `json:"faults"`
	FaultCounts     map[Kind]int  `json:"fault_counts"`
	Load            LoadStats     `json:"load"`
	Lost            int           `json:"acknowledged_lost"`
	Conflicts       int           `json:"conflicting_finalized_blocks"`
	HeightsCompared int           `json:"heights_compared"`
	FinalHeight     uint64        `json:"final_height"`
	FinalConvergeMs int64         `json:"final_converge_ms"`
	WorstConvergeMs int64         `json:"worst_converge_ms"`
	Nodes           []NodeResult  `json:"nodes"`
	Violations      []string      `json:"violations"`
	Passed          bool          `json:"passed"`
}

// FaultResult is one applied fault.
type FaultResult struct {
	Kind         Kind     `json:"kind"`
	Targets      []string `json:"targets"`
	At           string   `json:"at"`
	ForMs        int64    `json:"for_ms"`
	TargetHeight uint64   `json:"target_height"`
	ConvergeMs   int64    `json:"converge_ms"`
	Error        string   `json:"error,omitempty"`
}

// LoadStats summarises the load.
type LoadStats struct {
	Submitted    int            `json:"submitted"`
	Acknowledged int            `json:"acknowledged"`
	Refused      map[string]int `json:"refused"`
	LatencyP50Ms float64        `json:"latency_p50_ms"`
	LatencyP99Ms float64        `json:"latency_p99_ms"`
	LatencyMaxMs float64        `json:"latency_max_ms"`
}

// NodeResult is one node's memory and crashes.
type NodeResult struct {
	Name       string  `json:"name"`
	RSSFirstMB float64 `json:"rss_first_mb"`
	RSSPeakMB  float64 `json:"rss_peak_mb"`
	RSSLastMB  float64 `json:"rss_last_mb"`
	Crashes    int     `json:"crashes"`
	DiskExits  int     `json:"exits_during_disk_faults"`
}

const maxViolations = 100

func (r *Report) violate(format string, args ...any) {
	if len(r.Violations) < maxViolations {
		r.Violations = append(r.Violations, fmt.Sprintf(format, args...))
	} else if len(r.Violations) == maxViolations {
		r.Violations = append(r.Violations, "… more violations left out")
	}
}

func (r *Report) finish() {
	r.FaultCounts = map[Kind]int{}
	for _, f := range r.Faults {
		r.FaultCounts[f.Kind]++
		r.WorstConvergeMs = max(r.WorstConvergeMs, f.ConvergeMs)
	}
	r.Passed = len(r.Violations) == 0
}

// Print writes the report's summary.
func (r *Report) Print(w io.Writer) {
	fmt.Fprintf(w, "\ne2e %s (seed %d, %s mode)\n", r.Manifest, r.Seed, r.Mode)
	var kinds []string
	for k, n := range r.FaultCounts {
		kinds = append(kinds, fmt.Sprintf("%d %s", n, k))
	}
	slices.Sort(kinds)
	fmt.Fprintf(w, "  faults applied       %d (%s)\n", len(r.Faults), strings.Join(kinds, ", "))
	fmt.Fprintf(w, "  transactions         %d submitted, %d acknowledged committed, %d lost\n", r.Load.Submitted, r.Load.Acknowledged, r.Lost)
	fmt.Fprintf(w, "  submit→commit        p50 %.0f ms, p99 %.0f ms, max %.0f ms\n", r.Load.LatencyP50Ms, r.Load.LatencyP99Ms, r.Load.LatencyMaxMs)
	fmt.Fprintf(w, "  finalized blocks     %d heights compared on every node, %d conflicting\n", r.HeightsCompared, r.Conflicts)
	fmt.Fprintf(w, "  convergence          worst %d ms after a fault, %d ms after the run (height %d)\n", r.WorstConvergeMs, r.FinalConvergeMs, r.FinalHeight)
	for _, n := range r.Nodes {
		fmt.Fprintf(w, "  %-12s rss %5.0f → %5.0f MB (peak %.0f), crashes %d, exits during disk faults %d\n", n.Name, n.RSSFirstMB, n.RSSLastMB, n.RSSPeakMB, n.Crashes, n.DiskExits)
	}
	if r.Passed {
		fmt.Fprintln(w, "  PASSED: every invariant held")
		return
	}
	fmt.Fprintf(w, "  FAILED: %d violations\n", len(r.Violations))
	for _, v := range r.Violations {
		fmt.Fprintf(w, "    - %s\n", v)
	}
}
