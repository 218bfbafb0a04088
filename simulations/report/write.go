package report

import (
	"bufio"
	"cmp"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"
)

// Names of the files Write creates in its output directory.
const (
	SummaryFile    = "summary.json"
	MessagesFile   = "messages.csv"
	BlocksFile     = "blocks.csv"
	PeersFile      = "peers.csv"
	TimeseriesFile = "timeseries.csv"
	LatencyCDFPlot = "latency_cdf.png"
	DeliveryPlot   = "delivery.png"
	BandwidthPlot  = "bandwidth.png"
	BlocksPlot     = "blocks.png"
)

// Files lists every file Write creates, in the order it writes them.
func Files() []string {
	return []string{SummaryFile, MessagesFile, BlocksFile, PeersFile, TimeseriesFile,
		LatencyCDFPlot, DeliveryPlot, BandwidthPlot, BlocksPlot}
}

// Write summarises r and writes every report file into dir, creating dir
// if needed, and returns the summary. Existing files of the same names are
// replaced.
//
// CSV columns whose names end in _ms hold float milliseconds; a cell is
// empty where the value does not exist (never reached, not tracked, first
// height). The files are:
//
//   - summary.json: the Summary, indented.
//   - messages.csv: one row per message in Run order.
//   - blocks.csv: one row per block, by height, sealed time, hash.
//   - peers.csv: one row per node in index order.
//   - timeseries.csv: the Samples, by time.
//   - latency_cdf.png: CDF of per-node first-seen latency (from at most
//     100,000 evenly strided pairs) and of per-message time to all.
//   - delivery.png: delivered and expected deliveries and their ratio over
//     simulated time.
//   - bandwidth.png: bytes per node per simulated second, sorted.
//   - blocks.png: block interval, time to all and time to finality per
//     height.
func Write(dir string, r *Run) (Summary, error) {
	if r == nil {
		r = &Run{}
	}
	s := Summarize(r)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return s, fmt.Errorf("report: create output directory: %w", err)
	}
	steps := []struct {
		name string
		fn   func(*bufio.Writer) error
	}{
		{SummaryFile, func(w *bufio.Writer) error { return writeSummaryJSON(w, s) }},
		{MessagesFile, func(w *bufio.Writer) error { return writeMessagesCSV(w, r) }},
		{BlocksFile, func(w *bufio.Writer) error { return writeBlocksCSV(w, r) }},
		{PeersFile, func(w *bufio.Writer) error { return writePeersCSV(w, r, s.SimSeconds) }},
		{TimeseriesFile, func(w *bufio.Writer) error { return writeTimeseriesCSV(w, r) }},
		{LatencyCDFPlot, func(w *bufio.Writer) error { return plotLatencyCDF(w, r, s) }},
		{DeliveryPlot, func(w *bufio.Writer) error { return plotDelivery(w, r, s) }},
		{BandwidthPlot, func(w *bufio.Writer) error { return plotBandwidth(w, r, s) }},
		{BlocksPlot, func(w *bufio.Writer) error { return plotBlocks(w, r) }},
	}
	for _, st := range steps {
		if err := writeFile(filepath.Join(dir, st.name), st.fn); err != nil {
			return s, fmt.Errorf("report: write %s: %w", st.name, err)
		}
	}
	return s, nil
}

// writeFile creates path and fills it through a buffered writer.
func writeFile(path string, fill func(*bufio.Writer) error) (err error) {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); cerr != nil {
			err = errors.Join(err, cerr)
		}
	}()
	w := bufio.NewWriterSize(f, 1<<16)
	if err := fill(w); err != nil {
		return err
	}
	return w.Flush()
}

func writeSummaryJSON(w *bufio.Writer, s Summary) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("encode summary: %w", err)
	}
	b = append(b, '\n')
	_, err = w.Write(b)
	return err
}

// msCell formats a duration in milliseconds, or "" if it is negative
// (never).
func msCell(d time.Duration) string {
	if d < 0 {
		return ""
	}
	return strconv.FormatFloat(durMs(d), 'f', 3, 64)
}

func itoa(i int) string     { return strconv.Itoa(i) }
func utoa(u uint64) string  { return strconv.FormatUint(u, 10) }
func ftoa(f float64) string { return strconv.FormatFloat(finite(f), 'f', 3, 64) }

func writeCSV(w *bufio.Writer, header []string, rows func(emit func([]string) error) error) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(header); err != nil {
		return err
	}
	if err := rows(cw.Write); err != nil {
		return err
	}
	cw.Flush()
	return cw.Error()
}

func writeMessagesCSV(w *bufio.Writer, r *Run) error {
	header := []string{"id", "origin", "published_ms", "bytes", "expected", "delivered",
		"p50_ms", "p99_ms", "max_ms", "mean_ms", "to_all_ms", "all_reached_ms", "duplicates"}
	var scratch []int64
	return writeCSV(w, header, func(emit func([]string) error) error {
		for i := range r.Messages {
			m := &r.Messages[i]
			var st MessageStats
			st, scratch = summarizeMessage(m, scratch, true)
			row := []string{m.ID, itoa(m.Origin), msCell(m.Published), itoa(m.Bytes), "", "",
				"", "", "", "", msCell(st.ToAll), msCell(st.AllReached(m)), itoa(m.Duplicates)}
			if m.FirstSeen != nil {
				row[4], row[5] = itoa(st.Expected), itoa(st.Delivered)
				if st.Delivered > 0 {
					row[6], row[7], row[8], row[9] = msCell(st.P50), msCell(st.P99), msCell(st.Max), msCell(st.Mean)
				}
			}
			if err := emit(row); err != nil {
				return err
			}
		}
		return nil
	})
}

func writeBlocksCSV(w *bufio.Writer, r *Run) error {
	header := []string{"height", "hash", "proposer", "txs", "sealed_ms", "interval_ms",
		"reached_all_ms", "time_to_all_ms", "final_ms", "time_to_final_ms"}
	return writeCSV(w, header, func(emit func([]string) error) error {
		for _, b := range blockRows(r.Blocks) {
			row := []string{utoa(b.Height), b.Hash, itoa(b.Proposer), itoa(b.Txs), msCell(b.Sealed),
				msCell(b.Interval), msCell(b.ReachedAll), msCell(b.TimeToAll), msCell(b.Final), msCell(b.Finality)}
			if err := emit(row); err != nil {
				return err
			}
		}
		return nil
	})
}

func writePeersCSV(w *bufio.Writer, r *Run, simSec float64) error {
	header := []string{"node", "role", "alive", "adversary", "bytes_sent", "bytes_recv",
		"msgs_recv", "dups_recv", "bytes_per_sim_sec"}
	return writeCSV(w, header, func(emit func([]string) error) error {
		for i, p := range r.Peers {
			perSec := 0.0
			if simSec > 0 {
				perSec = (float64(p.BytesSent) + float64(p.BytesRecv)) / simSec
			}
			row := []string{itoa(i), p.Role, strconv.FormatBool(p.Alive), p.Adversary,
				utoa(p.BytesSent), utoa(p.BytesRecv), utoa(p.MsgsRecv), utoa(p.DupsRecv), ftoa(perSec)}
			if err := emit(row); err != nil {
				return err
			}
		}
		return nil
	})
}

// sortedSamples returns the samples ordered by time (stable for equal
// times), without modifying the Run.
func sortedSamples(r *Run) []Sample {
	ss := slices.Clone(r.Samples)
	slices.SortStableFunc(ss, func(a, b Sample) int { return cmp.Compare(a.T, b.T) })
	return ss
}

func writeTimeseriesCSV(w *bufio.Writer, r *Run) error {
	header := []string{"t_ms", "published", "delivered", "height", "finalized", "heap_bytes", "goroutines"}
	return writeCSV(w, header, func(emit func([]string) error) error {
		for _, s := range sortedSamples(r) {
			row := []string{ftoa(durMs(s.T)), itoa(s.Published), itoa(s.Delivered), utoa(s.Height),
				utoa(s.Finalized), utoa(s.HeapBytes), itoa(s.Goroutines)}
			if err := emit(row); err != nil {
				return err
			}
		}
		return nil
	})
}
