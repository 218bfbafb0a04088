package report

import (
	"cmp"
	"iter"
	"maps"
	"math"
	"slices"
	"time"
)

// PercentileMethod describes how every percentile in a Summary is computed.
const PercentileMethod = "nearest-rank: p-th percentile of n sorted values is x[ceil(p/100*n)] (1-based), p0 = min"

// LowerBoundFormula documents how LowerBound.BoundMs is computed.
const LowerBoundFormula = "hops = ceil(log_{D-1}(N)) (smallest h with (D-1)^h >= N; N-1 if D <= 2; 0 if N <= 1 or D unknown); bound = hops * link_latency"

// Summary is what summary.json holds. It is computed from a Run by
// Summarize. Every duration is a float number of milliseconds in a field
// whose JSON name ends in _ms; no field is ever NaN or infinite.
type Summary struct {
	Scenario string         `json:"scenario"`
	Seed     int64          `json:"seed"`
	Nodes    int            `json:"nodes"`
	Roles    map[string]int `json:"roles"` // encoding/json writes keys sorted

	SimSeconds float64 `json:"sim_seconds"`
	// WallSeconds is the wall-clock duration of the run.
	WallSeconds float64 `json:"wall_seconds"`
	// TimeScale is the configured wall seconds per simulated second.
	TimeScale float64 `json:"time_scale"`
	// WallPerSimSecond is the measured wall seconds per simulated second.
	WallPerSimSecond float64 `json:"wall_per_sim_second"`
	CPUSeconds       float64 `json:"cpu_seconds"`

	// PercentileMethod documents how percentiles were computed.
	PercentileMethod string `json:"percentile_method"`

	Messages  MessagesSummary  `json:"messages"`
	Bandwidth BandwidthSummary `json:"bandwidth"`
	Blocks    BlocksSummary    `json:"blocks"`
	Forks     int              `json:"forks"`
	Reorgs    int              `json:"reorgs"`
	Memory    MemorySummary    `json:"memory"`

	LowerBound LowerBound `json:"lower_bound"`

	Notes []string `json:"notes"`
}

// Dist summarises a set of durations, in milliseconds. All fields are 0
// when Count is 0.
type Dist struct {
	Count  int     `json:"count"`
	MeanMs float64 `json:"mean_ms"`
	MinMs  float64 `json:"min_ms"`
	P50Ms  float64 `json:"p50_ms"`
	P90Ms  float64 `json:"p90_ms"`
	P99Ms  float64 `json:"p99_ms"`
	MaxMs  float64 `json:"max_ms"`
}

// MessagesSummary covers gossip delivery of the workload's transactions.
//
// A (message, node) pair is expected when the node is not the message's
// origin, is within FirstSeen, and is marked in Expected (or Expected is
// nil). It is delivered when it is expected and FirstSeen is not negative.
// Only messages with a non-nil FirstSeen are tracked.
type MessagesSummary struct {
	Published int `json:"published"`
	Tracked   int `json:"tracked"`
	// ExpectedPairs and DeliveredPairs count (message, receiver) pairs.
	ExpectedPairs  int64 `json:"expected_pairs"`
	DeliveredPairs int64 `json:"delivered_pairs"`
	// DeliveryRatio is DeliveredPairs / ExpectedPairs (0 if none).
	DeliveryRatio float64 `json:"delivery_ratio"`
	// FullyDelivered counts tracked messages that reached every expected
	// receiver (and had at least one).
	FullyDelivered int `json:"fully_delivered"`
	// ToNode is the latency FirstSeen - Published over delivered pairs.
	ToNode Dist `json:"latency_to_node"`
	// ToAll is, per fully delivered message, the latency until its last
	// expected receiver saw it.
	ToAll Dist `json:"latency_to_all"`
	// DuplicatesTotal sums Message.Duplicates; DuplicatesPerMessage is its
	// mean over all published messages.
	DuplicatesTotal      int64   `json:"duplicates_total"`
	DuplicatesPerMessage float64 `json:"duplicates_per_message"`
	// PayloadBytes sums Message.Bytes.
	PayloadBytes int64 `json:"payload_bytes"`
}

// BandwidthSummary covers per-node traffic. Node traffic is BytesSent +
// BytesRecv of its PeerStats; per-second figures divide by the simulated
// duration (and are 0 when it is 0).
type BandwidthSummary struct {
	TotalBytesSent         uint64  `json:"total_bytes_sent"`
	TotalBytesRecv         uint64  `json:"total_bytes_recv"`
	MeanBytesPerNode       float64 `json:"mean_bytes_per_node"`
	MaxBytesPerNode        float64 `json:"max_bytes_per_node"`
	MeanBytesPerNodePerSec float64 `json:"mean_bytes_per_node_per_sec"`
	MaxBytesPerNodePerSec  float64 `json:"max_bytes_per_node_per_sec"`
	// Amplification is TotalBytesRecv / sum over messages of (Bytes *
	// expected receivers). It includes all traffic a node receives
	// (blocks, control messages), so it is an upper bound on gossip
	// amplification. 0 when there is no payload.
	Amplification float64 `json:"amplification"`
}

// BlocksSummary covers block production. Interval is the difference
// between the earliest Sealed time of successive heights present in the
// run; TimeToAll is ReachedAll - Sealed and Finality is Final - Sealed, over
// blocks where those happened.
type BlocksSummary struct {
	Count           int    `json:"count"`
	MaxHeight       uint64 `json:"max_height"`
	Interval        Dist   `json:"interval"`
	TimeToAll       Dist   `json:"time_to_all"`
	Finality        Dist   `json:"time_to_finality"`
	NeverReachedAll int    `json:"never_reached_all"`
	NeverFinal      int    `json:"never_final"`
}

// MemorySummary covers process memory; per-node figures divide the
// process-wide peaks by the node count.
type MemorySummary struct {
	PeakHeapBytes    uint64  `json:"peak_heap_bytes"`
	PeakRSSBytes     uint64  `json:"peak_rss_bytes"`
	HeapPerNodeBytes float64 `json:"heap_per_node_bytes"`
	RSSPerNodeBytes  float64 `json:"rss_per_node_bytes"`
}

// LowerBound compares measured propagation with the propagation lower bound
// of an ideal gossip tree: the origin reaches D peers and every further hop
// multiplies the reached set by at most D-1, so reaching N nodes takes at
// least ceil(log_{D-1}(N)) hops, each costing at least one link latency.
//
// MeasuredMs is the mean time for a message to reach all its expected
// receivers (Messages.ToAll.MeanMs), the quantity the bound applies to;
// Ratio = MeasuredMs / BoundMs, 0 when either is 0.
type LowerBound struct {
	Formula       string  `json:"formula"`
	MeshDegree    int     `json:"mesh_degree"`
	Nodes         int     `json:"nodes"`
	Hops          int     `json:"hops"`
	LinkLatencyMs float64 `json:"link_latency_ms"`
	BoundMs       float64 `json:"bound_ms"`
	MeasuredMs    float64 `json:"measured_mean_to_all_ms"`
	Ratio         float64 `json:"ratio"`
	Note          string  `json:"note,omitempty"`
}

// PropagationLowerBound returns the minimum number of gossip hops needed to
// reach n nodes with mesh degree d, ceil(log_{d-1}(n)), and hops*link.
// For n <= 1 it is 0 hops. For d of 1 or 2 every node can forward to at most
// one new peer, so the bound is the chain length n-1. For d <= 0 (unknown)
// it is 0 hops. The computation uses integers only, so it is exact.
func PropagationLowerBound(n, d int, link time.Duration) (hops int, bound time.Duration) {
	switch {
	case n <= 1 || d <= 0:
		return 0, 0
	case d <= 2:
		hops = n - 1
	default:
		f := uint64(d - 1)
		need := uint64(n)
		for reach := uint64(1); reach < need; {
			hops++
			if reach > (need-1)/f { // reach*f >= need without overflow
				break
			}
			reach *= f
		}
	}
	link = max(link, 0)
	if link > 0 && int64(hops) > math.MaxInt64/int64(link) {
		return hops, time.Duration(math.MaxInt64)
	}
	return hops, time.Duration(hops) * link
}

// MessageStats is the delivery of a single message to its expected
// receivers (see MessagesSummary for the definitions).
type MessageStats struct {
	Expected  int
	Delivered int
	// Latencies over delivered pairs (FirstSeen - Published).
	Mean, P50, P99, Max time.Duration
	// ToAll is the latency until the last expected receiver saw the
	// message, or Never if some never did or there were none.
	ToAll time.Duration
}

// AllReached returns the simulated time since start when the message
// reached its last expected receiver, or Never.
func (s MessageStats) AllReached(m *Message) time.Duration {
	if s.ToAll < 0 {
		return Never
	}
	return m.Published + s.ToAll
}

// isExpected reports whether node i is an expected receiver of m.
func isExpected(m *Message, i int) bool {
	return i != m.Origin && (m.Expected == nil || i >= len(m.Expected) || m.Expected[i])
}

// latency returns FirstSeen[i] - Published clamped at 0, and whether node i
// saw the message at all.
func latency(m *Message, i int) (time.Duration, bool) {
	fs := m.FirstSeen[i]
	if fs < 0 {
		return 0, false
	}
	return max(fs-m.Published, 0), true
}

// expectedReceivers counts the expected receivers of m; for an untracked
// message it assumes nodes nodes.
func expectedReceivers(m *Message, nodes int) int {
	n := nodes
	if m.FirstSeen != nil {
		n = len(m.FirstSeen)
	}
	if m.Expected == nil {
		if m.Origin >= 0 && m.Origin < n {
			return n - 1
		}
		return n
	}
	c := 0
	for i := range n {
		if isExpected(m, i) {
			c++
		}
	}
	return c
}

// SummarizeMessage computes the delivery statistics of one message. It
// allocates a scratch slice of one int64 per receiver.
func SummarizeMessage(m *Message) MessageStats {
	s, _ := summarizeMessage(m, nil, true)
	return s
}

// summarizeMessage computes the statistics of m, reusing scratch for the
// latencies when percentiles are wanted, and returns the scratch slice for
// reuse. Without percentiles it allocates nothing.
func summarizeMessage(m *Message, scratch []int64, percentiles bool) (MessageStats, []int64) {
	s := MessageStats{ToAll: Never}
	if m.FirstSeen == nil {
		return s, scratch
	}
	scratch = scratch[:0]
	var sum float64
	for i := range m.FirstSeen {
		if !isExpected(m, i) {
			continue
		}
		s.Expected++
		lat, ok := latency(m, i)
		if !ok {
			continue
		}
		s.Delivered++
		sum += float64(lat)
		s.Max = max(s.Max, lat)
		if percentiles {
			scratch = append(scratch, int64(lat))
		}
	}
	if s.Delivered > 0 {
		s.Mean = time.Duration(sum / float64(s.Delivered))
	}
	if s.Expected > 0 && s.Delivered == s.Expected {
		s.ToAll = s.Max
	}
	if percentiles && len(scratch) > 0 {
		slices.Sort(scratch)
		s.P50 = time.Duration(scratch[nearestRank(50, len(scratch))-1])
		s.P99 = time.Duration(scratch[nearestRank(99, len(scratch))-1])
	}
	return s, scratch
}

// finite returns x, or 0 if x is NaN or infinite, so that the summary can
// always be encoded as JSON.
func finite(x float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return 0
	}
	return x
}

// ratio returns a/b, or 0 if b is 0 or the result is not finite.
func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return finite(a / b)
}

// ms converts nanoseconds to milliseconds.
func ms(ns float64) float64 { return finite(ns / float64(time.Millisecond)) }

// durMs converts a duration to milliseconds.
func durMs(d time.Duration) float64 { return ms(float64(d)) }

// distOf computes a Dist from a stream of nanosecond values.
func distOf(seq iter.Seq[int64]) Dist {
	st := exactQuantiles(seq, 50, 90, 99)
	if st.n == 0 {
		return Dist{}
	}
	return Dist{
		Count:  st.n,
		MeanMs: ms(st.sum / float64(st.n)),
		MinMs:  ms(float64(st.min)),
		P50Ms:  ms(float64(st.q[0])),
		P90Ms:  ms(float64(st.q[1])),
		P99Ms:  ms(float64(st.q[2])),
		MaxMs:  ms(float64(st.max)),
	}
}

// sliceSeq yields the values of xs.
func sliceSeq(xs []int64) iter.Seq[int64] {
	return func(yield func(int64) bool) {
		for _, x := range xs {
			if !yield(x) {
				return
			}
		}
	}
}

// nodeLatencies yields the latency of every delivered (message, receiver)
// pair of r, reading FirstSeen in place.
func nodeLatencies(r *Run) iter.Seq[int64] {
	return func(yield func(int64) bool) {
		for mi := range r.Messages {
			m := &r.Messages[mi]
			for i := range m.FirstSeen {
				if !isExpected(m, i) {
					continue
				}
				if lat, ok := latency(m, i); ok && !yield(int64(lat)) {
					return
				}
			}
		}
	}
}

// nodeCount is the node count used for per-node figures.
func nodeCount(r *Run) int {
	if r.Nodes > 0 {
		return r.Nodes
	}
	return len(r.Peers)
}

// Summarize computes the Summary of r. It reads Message.FirstSeen in place
// (a few linear passes, no per-message copies) and never panics on odd
// input; a nil or empty Run gives an all-zero Summary.
func Summarize(r *Run) Summary {
	if r == nil {
		r = &Run{}
	}
	simSec := finite(r.SimDuration.Seconds())
	s := Summary{
		Scenario:         r.Scenario,
		Seed:             r.Seed,
		Nodes:            r.Nodes,
		Roles:            maps.Clone(r.Roles),
		SimSeconds:       simSec,
		WallSeconds:      finite(r.WallTime.Seconds()),
		TimeScale:        finite(r.TimeScale),
		CPUSeconds:       finite(r.CPUSeconds),
		PercentileMethod: PercentileMethod,
		Forks:            r.Forks,
		Reorgs:           r.Reorgs,
		Notes:            slices.Clone(r.Notes),
	}
	if s.Roles == nil {
		s.Roles = map[string]int{}
	}
	if s.Notes == nil {
		s.Notes = []string{}
	}
	if simSec > 0 {
		s.WallPerSimSecond = ratio(s.WallSeconds, simSec)
	}
	s.Messages = summarizeMessages(r)
	s.Bandwidth = summarizeBandwidth(r, simSec)
	s.Blocks = summarizeBlocks(r.Blocks)

	n := nodeCount(r)
	s.Memory = MemorySummary{
		PeakHeapBytes:    r.PeakHeapBytes,
		PeakRSSBytes:     r.PeakRSSBytes,
		HeapPerNodeBytes: ratio(float64(r.PeakHeapBytes), float64(n)),
		RSSPerNodeBytes:  ratio(float64(r.PeakRSSBytes), float64(n)),
	}

	hops, bound := PropagationLowerBound(n, r.MeshDegree, r.LinkLatency)
	lb := LowerBound{
		Formula:       LowerBoundFormula,
		MeshDegree:    r.MeshDegree,
		Nodes:         n,
		Hops:          hops,
		LinkLatencyMs: durMs(max(r.LinkLatency, 0)),
		BoundMs:       durMs(bound),
		MeasuredMs:    s.Messages.ToAll.MeanMs,
	}
	lb.Ratio = ratio(lb.MeasuredMs, lb.BoundMs)
	switch {
	case r.MeshDegree <= 0:
		lb.Note = "mesh degree unknown: no bound"
	case n <= 1:
		lb.Note = "one node or fewer: nothing to propagate"
	case r.LinkLatency <= 0:
		lb.Note = "link latency unknown: bound is 0"
	case s.Messages.ToAll.Count == 0:
		lb.Note = "no message reached all expected receivers: no ratio"
	}
	s.LowerBound = lb
	return s
}

func summarizeMessages(r *Run) MessagesSummary {
	out := MessagesSummary{Published: len(r.Messages)}
	toAll := make([]int64, 0, len(r.Messages))
	for i := range r.Messages {
		m := &r.Messages[i]
		out.DuplicatesTotal += int64(max(m.Duplicates, 0))
		out.PayloadBytes += int64(max(m.Bytes, 0))
		if m.FirstSeen == nil {
			continue
		}
		out.Tracked++
		st, _ := summarizeMessage(m, nil, false)
		out.ExpectedPairs += int64(st.Expected)
		out.DeliveredPairs += int64(st.Delivered)
		if st.ToAll >= 0 {
			out.FullyDelivered++
			toAll = append(toAll, int64(st.ToAll))
		}
	}
	out.DeliveryRatio = ratio(float64(out.DeliveredPairs), float64(out.ExpectedPairs))
	out.DuplicatesPerMessage = ratio(float64(out.DuplicatesTotal), float64(out.Published))
	out.ToNode = distOf(nodeLatencies(r))
	out.ToAll = distOf(sliceSeq(toAll))
	return out
}

func summarizeBandwidth(r *Run, simSec float64) BandwidthSummary {
	var b BandwidthSummary
	var sum, mx float64
	for _, p := range r.Peers {
		b.TotalBytesSent += p.BytesSent
		b.TotalBytesRecv += p.BytesRecv
		t := float64(p.BytesSent) + float64(p.BytesRecv)
		sum += t
		mx = max(mx, t)
	}
	if len(r.Peers) > 0 {
		b.MeanBytesPerNode = finite(sum / float64(len(r.Peers)))
		b.MaxBytesPerNode = finite(mx)
	}
	if simSec > 0 {
		b.MeanBytesPerNodePerSec = ratio(b.MeanBytesPerNode, simSec)
		b.MaxBytesPerNodePerSec = ratio(b.MaxBytesPerNode, simSec)
	}
	var payload float64
	nodes := nodeCount(r)
	for i := range r.Messages {
		m := &r.Messages[i]
		if m.Bytes <= 0 {
			continue
		}
		payload += float64(m.Bytes) * float64(expectedReceivers(m, nodes))
	}
	b.Amplification = ratio(float64(b.TotalBytesRecv), payload)
	return b
}

// blockRow is a block with its derived times, in report order.
type blockRow struct {
	*Block
	Interval  time.Duration // Never for the first height or a repeated height
	TimeToAll time.Duration // Never if never reached all
	Finality  time.Duration // Never if never final
}

// blockRows sorts (a copy of pointers to) blocks by height, then sealed
// time, then hash, and derives interval, time to all and finality. The
// interval is given on the first (earliest) block of each height: the
// difference to the earliest block of the previous height present.
func blockRows(blocks []Block) []blockRow {
	rows := make([]blockRow, len(blocks))
	for i := range blocks {
		rows[i] = blockRow{Block: &blocks[i], Interval: Never, TimeToAll: Never, Finality: Never}
	}
	slices.SortStableFunc(rows, func(a, b blockRow) int {
		if c := cmp.Compare(a.Height, b.Height); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Sealed, b.Sealed); c != 0 {
			return c
		}
		return cmp.Compare(a.Hash, b.Hash)
	})
	var prev *Block
	for i := range rows {
		b := rows[i].Block
		if i == 0 || b.Height != rows[i-1].Height {
			if prev != nil {
				rows[i].Interval = max(b.Sealed-prev.Sealed, 0)
			}
			prev = b
		}
		if b.ReachedAll >= 0 {
			rows[i].TimeToAll = max(b.ReachedAll-b.Sealed, 0)
		}
		if b.Final >= 0 {
			rows[i].Finality = max(b.Final-b.Sealed, 0)
		}
	}
	return rows
}

func summarizeBlocks(blocks []Block) BlocksSummary {
	var bs BlocksSummary
	bs.Count = len(blocks)
	rows := blockRows(blocks)
	var interval, toAll, final []int64
	for _, row := range rows {
		bs.MaxHeight = max(bs.MaxHeight, row.Height)
		if row.Interval >= 0 {
			interval = append(interval, int64(row.Interval))
		}
		if row.TimeToAll >= 0 {
			toAll = append(toAll, int64(row.TimeToAll))
		} else {
			bs.NeverReachedAll++
		}
		if row.Finality >= 0 {
			final = append(final, int64(row.Finality))
		} else {
			bs.NeverFinal++
		}
	}
	bs.Interval = distOf(sliceSeq(interval))
	bs.TimeToAll = distOf(sliceSeq(toAll))
	bs.Finality = distOf(sliceSeq(final))
	return bs
}
