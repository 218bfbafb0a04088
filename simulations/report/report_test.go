package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

const msec = time.Millisecond

// smallRun is a hand-built 3-node run whose statistics are worked out in
// the comments below.
func smallRun() *Run {
	return &Run{
		Scenario:    "small",
		Seed:        7,
		Nodes:       3,
		Roles:       map[string]int{"validator": 1, "device": 2},
		SimDuration: 10 * time.Second,
		WallTime:    5 * time.Second,
		TimeScale:   0.5,
		Messages: []Message{
			// Latencies 10 and 20 ms: reaches all after 20 ms.
			{ID: "aa", Origin: 0, Published: 0, FirstSeen: []time.Duration{0, 10 * msec, 20 * msec}, Duplicates: 2, Bytes: 100},
			// Node 0 after 30 ms, node 2 never.
			{ID: "bb", Origin: 1, Published: 100 * msec, FirstSeen: []time.Duration{130 * msec, 100 * msec, Never}, Duplicates: 0, Bytes: 100},
			// Latencies 40 and 50 ms: reaches all after 50 ms.
			{ID: "cc", Origin: 2, Published: 200 * msec, FirstSeen: []time.Duration{240 * msec, 250 * msec, 200 * msec}, Duplicates: 1, Bytes: 100},
		},
		Blocks: []Block{
			{Height: 3, Hash: "h3", Proposer: 2, Sealed: 4 * time.Second, ReachedAll: 4200 * msec, Final: 5 * time.Second, Txs: 1},
			{Height: 1, Hash: "h1", Proposer: 0, Sealed: 1 * time.Second, ReachedAll: 1100 * msec, Final: 2 * time.Second, Txs: 1},
			{Height: 2, Hash: "h2b", Proposer: 2, Sealed: 3500 * msec, ReachedAll: 3600 * msec, Final: Never},
			{Height: 2, Hash: "h2", Proposer: 1, Sealed: 3 * time.Second, ReachedAll: Never, Final: Never, Txs: 1},
		},
		Peers: []PeerStats{
			{Role: "validator", BytesSent: 100, BytesRecv: 300, MsgsRecv: 3, DupsRecv: 1, Alive: true},
			{Role: "device", BytesSent: 200, BytesRecv: 300, MsgsRecv: 2, Alive: true},
			{Role: "device", BytesSent: 300, BytesRecv: 600, MsgsRecv: 2, DupsRecv: 2, Alive: false, Adversary: "silent"},
		},
		Forks:         1,
		Reorgs:        2,
		PeakHeapBytes: 3000,
		PeakRSSBytes:  6000,
		CPUSeconds:    1.5,
		MeshDegree:    8,
		LinkLatency:   10 * msec,
		Samples: []Sample{
			{T: 2 * time.Second, Delivered: 5, Published: 3, Height: 1},
			{T: 1 * time.Second, Delivered: 2, Published: 1},
		},
		Notes: []string{"fault: node 2 silent"},
	}
}

func approx(t *testing.T, name string, got, want float64) {
	t.Helper()
	if math.Abs(got-want) > 1e-9*math.Max(1, math.Abs(want)) {
		t.Errorf("%s = %v, want %v", name, got, want)
	}
}

func TestSummarizeSmall(t *testing.T) {
	s := Summarize(smallRun())
	m := s.Messages
	if m.Published != 3 || m.Tracked != 3 || m.ExpectedPairs != 6 || m.DeliveredPairs != 5 || m.FullyDelivered != 2 {
		t.Fatalf("messages = %+v", m)
	}
	checks := []struct {
		name      string
		got, want float64
	}{
		{"delivery ratio", m.DeliveryRatio, 5.0 / 6.0},
		// Per-node latencies 10,20,30,40,50 ms: nearest rank p50 = x[3],
		// p90 = x[ceil(4.5)] = x[5], p99 = x[5].
		{"to node p50", m.ToNode.P50Ms, 30},
		{"to node p90", m.ToNode.P90Ms, 50},
		{"to node p99", m.ToNode.P99Ms, 50},
		{"to node max", m.ToNode.MaxMs, 50},
		{"to node min", m.ToNode.MinMs, 10},
		{"to node mean", m.ToNode.MeanMs, 30},
		// To all: 20 and 50 ms.
		{"to all p50", m.ToAll.P50Ms, 20},
		{"to all p90", m.ToAll.P90Ms, 50},
		{"to all mean", m.ToAll.MeanMs, 35},
		{"dups per message", m.DuplicatesPerMessage, 1},
		// Received 1200 bytes for 3 messages x 100 bytes x 2 receivers.
		{"amplification", s.Bandwidth.Amplification, 2},
		// Node traffic 400, 500, 900 bytes over 10 s.
		{"mean bytes/node/s", s.Bandwidth.MeanBytesPerNodePerSec, 60},
		{"max bytes/node/s", s.Bandwidth.MaxBytesPerNodePerSec, 90},
		{"mean bytes/node", s.Bandwidth.MeanBytesPerNode, 600},
		// Heights sealed first at 1 s, 3 s, 4 s: intervals 2 s and 1 s.
		{"interval p50", s.Blocks.Interval.P50Ms, 1000},
		{"interval p99", s.Blocks.Interval.P99Ms, 2000},
		// Time to all: 100, 100, 200 ms.
		{"block to all p50", s.Blocks.TimeToAll.P50Ms, 100},
		{"block to all p99", s.Blocks.TimeToAll.P99Ms, 200},
		{"finality p50", s.Blocks.Finality.P50Ms, 1000},
		{"finality p99", s.Blocks.Finality.P99Ms, 1000},
		{"heap per node", s.Memory.HeapPerNodeBytes, 1000},
		{"rss per node", s.Memory.RSSPerNodeBytes, 2000},
		{"wall per sim s", s.WallPerSimSecond, 0.5},
		// N=3, D=8: 7^1 >= 3, so one hop of 10 ms; measured mean to all 35 ms.
		{"lower bound", s.LowerBound.BoundMs, 10},
		{"measured", s.LowerBound.MeasuredMs, 35},
		{"ratio", s.LowerBound.Ratio, 3.5},
	}
	for _, c := range checks {
		approx(t, c.name, c.got, c.want)
	}
	if s.Blocks.Count != 4 || s.Blocks.MaxHeight != 3 || s.Blocks.NeverReachedAll != 1 || s.Blocks.NeverFinal != 2 {
		t.Errorf("blocks = %+v", s.Blocks)
	}
	if s.Blocks.Interval.Count != 2 {
		t.Errorf("interval count = %d, want 2", s.Blocks.Interval.Count)
	}
	if s.Forks != 1 || s.Reorgs != 2 || s.LowerBound.Hops != 1 {
		t.Errorf("forks/reorgs/hops = %d/%d/%d", s.Forks, s.Reorgs, s.LowerBound.Hops)
	}
}

func TestPropagationLowerBound(t *testing.T) {
	tests := []struct {
		n, d     int
		link     time.Duration
		wantHops int
	}{
		{1000, 8, 10 * msec, 4}, // log7(1000) = 3.55
		{0, 8, 10 * msec, 0},
		{1, 8, 10 * msec, 0},
		{2, 8, 10 * msec, 1},
		{7, 8, 10 * msec, 1},
		{8, 8, 10 * msec, 2},
		{49, 8, 10 * msec, 2},
		{50, 8, 10 * msec, 3},
		{10000, 8, 10 * msec, 5},
		{10, 2, 10 * msec, 9}, // a chain
		{10, 1, 10 * msec, 9},
		{10, 0, 10 * msec, 0}, // unknown degree
		{10, -3, 10 * msec, 0},
		{1000, 1 << 40, 10 * msec, 1},
		{math.MaxInt, 3, 10 * msec, 63},
		{1000, 8, 0, 4},
		{1000, 8, -5 * msec, 4},
	}
	for _, tc := range tests {
		hops, bound := PropagationLowerBound(tc.n, tc.d, tc.link)
		if hops != tc.wantHops {
			t.Errorf("hops(n=%d, d=%d) = %d, want %d", tc.n, tc.d, hops, tc.wantHops)
		}
		if want := time.Duration(tc.wantHops) * max(tc.link, 0); bound != want {
			t.Errorf("bound(n=%d, d=%d) = %v, want %v", tc.n, tc.d, bound, want)
		}
	}
	s := Summarize(&Run{Nodes: 1000, MeshDegree: 8, LinkLatency: 10 * msec})
	if s.LowerBound.BoundMs != 40 || s.LowerBound.Hops != 4 {
		t.Errorf("summary lower bound = %+v, want 4 hops, 40 ms", s.LowerBound)
	}
}

func TestNearestRank(t *testing.T) {
	sorted := make([]time.Duration, 10)
	for i := range sorted {
		sorted[i] = time.Duration(i + 1)
	}
	tests := []struct {
		p    float64
		want time.Duration
	}{{0, 1}, {-5, 1}, {math.NaN(), 1}, {10, 1}, {11, 2}, {50, 5}, {90, 9}, {99, 10}, {100, 10}, {150, 10}}
	for _, tc := range tests {
		if got := Percentile(sorted, tc.p); got != tc.want {
			t.Errorf("Percentile(1..10, %v) = %v, want %v", tc.p, got, tc.want)
		}
	}
	if got := Percentile(nil, 50); got != 0 {
		t.Errorf("Percentile(nil) = %v", got)
	}
	if got := Percentile([]time.Duration{42}, 99); got != 42 {
		t.Errorf("Percentile([42], 99) = %v", got)
	}
}

// TestExactQuantiles checks the histogram-assisted percentiles against
// sorting everything.
func TestExactQuantiles(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	ps := []float64{0, 1, 25, 50, 90, 99, 99.9, 100}
	for _, n := range []int{1, 2, 3, 10, 257, 1000, 50_000} {
		for _, spread := range []int64{3, 300, int64(time.Second), math.MaxInt64 / 4} {
			vals := make([]int64, n)
			for i := range vals {
				vals[i] = rng.Int64N(spread)
			}
			st := exactQuantiles(sliceSeq(vals), ps...)
			sorted := slices.Sorted(slices.Values(vals))
			for i, p := range ps {
				if want := sorted[nearestRank(p, n)-1]; st.q[i] != want {
					t.Fatalf("n=%d spread=%d p%v = %d, want %d", n, spread, p, st.q[i], want)
				}
			}
			if st.n != n || st.min != sorted[0] || st.max != sorted[n-1] {
				t.Fatalf("n=%d: count/min/max = %d/%d/%d", n, st.n, st.min, st.max)
			}
		}
	}
	if st := exactQuantiles(sliceSeq(nil), 50); st.n != 0 || st.q[0] != 0 || st.min != 0 {
		t.Errorf("empty = %+v", st)
	}
}

func TestExpectedMask(t *testing.T) {
	r := &Run{Nodes: 4, Messages: []Message{{
		Origin:    0,
		FirstSeen: []time.Duration{0, 5 * msec, Never, Never},
		Expected:  []bool{true, true, true, false}, // node 3 is not expected
		Bytes:     10,
	}}, Peers: make([]PeerStats, 4)}
	s := Summarize(r)
	if s.Messages.ExpectedPairs != 2 || s.Messages.DeliveredPairs != 1 {
		t.Errorf("pairs = %d/%d, want 1/2", s.Messages.DeliveredPairs, s.Messages.ExpectedPairs)
	}
	st := SummarizeMessage(&r.Messages[0])
	if st.Expected != 2 || st.Delivered != 1 || st.ToAll != Never || st.Max != 5*msec {
		t.Errorf("message stats = %+v", st)
	}
	r.Messages[0].FirstSeen[2] = 7 * msec
	st = SummarizeMessage(&r.Messages[0])
	if st.ToAll != 7*msec || st.AllReached(&r.Messages[0]) != 7*msec {
		t.Errorf("to all = %v", st.ToAll)
	}
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return rows
}

func checkOutputs(t *testing.T, dir string, s Summary) {
	t.Helper()
	for _, name := range Files() {
		path := filepath.Join(dir, name)
		st, err := os.Stat(path)
		if err != nil {
			t.Fatalf("missing %s: %v", name, err)
		}
		if st.Size() == 0 {
			t.Errorf("%s is empty", name)
		}
		if strings.HasSuffix(name, ".png") {
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			img, err := png.Decode(f)
			f.Close()
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if b := img.Bounds(); b.Dx() < 100 || b.Dy() < 100 {
				t.Errorf("%s is %v", name, b)
			}
		}
	}
	raw, err := os.ReadFile(filepath.Join(dir, SummaryFile))
	if err != nil {
		t.Fatal(err)
	}
	var back Summary
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatalf("summary.json: %v", err)
	}
	if !reflect.DeepEqual(back, s) {
		t.Errorf("summary.json does not round-trip:\n got %+v\nwant %+v", back, s)
	}
}

func TestWrite(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out", "nested")
	s, err := Write(dir, smallRun())
	if err != nil {
		t.Fatal(err)
	}
	checkOutputs(t, dir, s)

	msgs := readCSV(t, filepath.Join(dir, MessagesFile))
	if len(msgs) != 4 {
		t.Fatalf("messages.csv has %d rows", len(msgs))
	}
	want := []string{"bb", "1", "100.000", "100", "2", "1", "30.000", "30.000", "30.000", "30.000", "", "", "0"}
	if !slices.Equal(msgs[2], want) {
		t.Errorf("messages.csv row 2 = %q, want %q", msgs[2], want)
	}
	if got := msgs[3][10:12]; !slices.Equal(got, []string{"50.000", "250.000"}) {
		t.Errorf("message cc to_all/all_reached = %q", got)
	}
	blocks := readCSV(t, filepath.Join(dir, BlocksFile))
	var hashes []string
	for _, row := range blocks[1:] {
		hashes = append(hashes, row[1])
	}
	if !slices.Equal(hashes, []string{"h1", "h2", "h2b", "h3"}) {
		t.Errorf("blocks.csv order = %q", hashes)
	}
	if peers := readCSV(t, filepath.Join(dir, PeersFile)); len(peers) != 4 || peers[3][3] != "silent" || peers[3][8] != "90.000" {
		t.Errorf("peers.csv = %q", peers)
	}
	if ts := readCSV(t, filepath.Join(dir, TimeseriesFile)); len(ts) != 3 || ts[1][0] != "1000.000" {
		t.Errorf("timeseries.csv = %q", ts)
	}

	// Same Run, same bytes.
	dir2 := t.TempDir()
	if _, err := Write(dir2, smallRun()); err != nil {
		t.Fatal(err)
	}
	for _, name := range Files() {
		a, _ := os.ReadFile(filepath.Join(dir, name))
		b, _ := os.ReadFile(filepath.Join(dir2, name))
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs between two writes of the same run", name)
		}
	}
}

func TestWriteEmptyAndOdd(t *testing.T) {
	odd := &Run{
		Nodes:       -4,
		TimeScale:   math.NaN(),
		CPUSeconds:  math.Inf(1),
		SimDuration: -time.Second,
		MeshDegree:  2,
		LinkLatency: -msec,
		Messages: []Message{
			{Origin: 99, FirstSeen: []time.Duration{Never, 3 * msec}, Expected: []bool{true}, Bytes: -1},
			{Origin: -1, Published: 10 * msec, FirstSeen: []time.Duration{5 * msec}},
			{Origin: 0, FirstSeen: []time.Duration{}},
			{Origin: 0}, // untracked
		},
		Blocks:  []Block{{Height: 5, Sealed: Never, ReachedAll: Never, Final: Never}},
		Peers:   []PeerStats{{}},
		Samples: []Sample{{T: -time.Second}},
	}
	for name, r := range map[string]*Run{"nil": nil, "empty": {}, "odd": odd} {
		t.Run(name, func(t *testing.T) {
			s := Summarize(r)
			if _, err := json.Marshal(s); err != nil {
				t.Fatalf("summary does not encode: %v", err)
			}
			dir := t.TempDir()
			ws, err := Write(dir, r)
			if err != nil {
				t.Fatal(err)
			}
			checkOutputs(t, dir, ws)
			if txt := Text(ws); !strings.Contains(txt, "mean propagation") {
				t.Errorf("text: %s", txt)
			}
		})
	}
	s := Summarize(odd)
	// Node 1 saw message 0 after 3 ms; message 1's only node saw it before
	// it was published, which counts as 0.
	if s.Messages.DeliveredPairs != 2 || s.Messages.ExpectedPairs != 3 || s.Messages.ToNode.MaxMs != 3 {
		t.Errorf("odd messages = %+v", s.Messages)
	}
}

func TestText(t *testing.T) {
	s := Summarize(smallRun())
	txt := Text(s)
	for _, want := range []string{
		"scenario small",
		"nodes 3",
		"device 2, validator 1",
		"83.3333%",
		"(5 of 6 node deliveries)",
		"p50 30.0ms",
		"mean propagation 35.0ms vs lower bound 10.0ms (ratio 3.50)",
		"1 hops (D=8, N=3)",
		"forks 1, reorgs 2",
		"fault: node 2 silent",
	} {
		if !strings.Contains(txt, want) {
			t.Errorf("text lacks %q:\n%s", want, txt)
		}
	}
	r := smallRun()
	for range 20 {
		r.Notes = append(r.Notes, "another note")
	}
	if n := strings.Count(Text(Summarize(r)), "\n"); n > 30 {
		t.Errorf("text has %d lines", n)
	}
}

func TestProgress(t *testing.T) {
	var buf bytes.Buffer
	p := newProgress(&buf, 10*time.Second, true)
	p.Update(2*time.Second, "nodes 3 height 1")
	p.Update(10*time.Second, "nodes 3 height 9")
	p.Update(20*time.Second, "past the end")
	p.Close()
	p.Close()
	p.Update(time.Second, "after close")
	if out := buf.String(); !strings.Contains(out, "nodes 3 height") || !strings.HasSuffix(out, "\n") {
		t.Errorf("progress output = %q", out)
	}

	// Not a terminal, or quiet: no output at all.
	for _, quiet := range []bool{false, true} {
		buf.Reset()
		p := NewProgress(&buf, time.Minute, quiet)
		p.Update(time.Second, "x")
		p.Close()
		if buf.Len() != 0 {
			t.Errorf("quiet=%v: output %q", quiet, buf.String())
		}
	}
	var nilP *Progress
	nilP.Update(time.Second, "x")
	nilP.Close()
	p = newProgress(&buf, 0, true) // unknown total
	p.Update(time.Second, "x")
	p.Close()
}

// syntheticRun builds a run of n nodes and m messages with random
// first-seen times, a few nodes missing each message.
func syntheticRun(n, m int) *Run {
	rng := rand.New(rand.NewPCG(42, 43))
	r := &Run{Scenario: "synthetic", Nodes: n, SimDuration: time.Duration(m) * 100 * msec,
		MeshDegree: 8, LinkLatency: 10 * msec, Peers: make([]PeerStats, n)}
	for i := range r.Peers {
		r.Peers[i] = PeerStats{Role: "device", BytesSent: rng.Uint64N(1 << 20), BytesRecv: rng.Uint64N(1 << 20), Alive: true}
	}
	r.Messages = make([]Message, m)
	for j := range r.Messages {
		pub := time.Duration(j) * 100 * msec
		fs := make([]time.Duration, n)
		for i := range fs {
			if rng.IntN(1000) == 0 {
				fs[i] = Never
				continue
			}
			fs[i] = pub + time.Duration(rng.Int64N(int64(200*msec)))
		}
		origin := rng.IntN(n)
		fs[origin] = pub
		r.Messages[j] = Message{ID: "m", Origin: origin, Published: pub, FirstSeen: fs, Bytes: 250, Duplicates: rng.IntN(n)}
	}
	return r
}

func TestWriteLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("large run")
	}
	r := syntheticRun(2000, 200)
	start := time.Now()
	s, err := Write(t.TempDir(), r)
	if err != nil {
		t.Fatal(err)
	}
	if s.Messages.ToNode.Count == 0 || s.Messages.DeliveryRatio < 0.99 {
		t.Errorf("summary = %+v", s.Messages)
	}
	t.Logf("Write of 2000 nodes x 200 messages took %v", time.Since(start))
}

func BenchmarkSummarize10k(b *testing.B) {
	r := syntheticRun(10_000, 500)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		s := Summarize(r)
		if s.Messages.ToNode.Count == 0 {
			b.Fatal("no latencies")
		}
	}
}
