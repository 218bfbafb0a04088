// Package report turns what a swarm simulation measured into outputs: a
// machine-readable summary (summary.json), per-item CSV files, PNG plots and
// a one-screen text summary, plus a terminal progress bar for long runs.
//
// The package owns only the reporting half of the simulator. Its input is
// plain data (Run and the types it holds) filled in by the simulation
// driver; it imports no node, ledger or libp2p code, so it can be tested and
// reused without starting a single peer.
//
// # Conventions
//
// All times in Run are simulated durations since the start of the
// simulation. A negative duration (by convention -1) means "never". In
// summary.json and in the CSV files every duration is written as a float
// number of milliseconds in a field or column whose name ends in _ms.
//
// Percentiles use the nearest-rank method: for n sorted values x[1..n] the
// p-th percentile (0 < p <= 100) is x[ceil(p/100*n)], and the 0th percentile
// is x[1]. Every percentile is therefore one of the measured values, never
// an interpolation. An empty set of values reports 0 for every statistic.
//
// Every output is a deterministic function of the Run: maps are sorted
// before they are written and no output depends on wall-clock time.
package report
