package chaintest

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// envUint reads a non-negative integer from the environment.
func envUint(t *testing.T, name string, def uint64) uint64 {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		t.Fatalf("%s=%q: %v", name, s, err)
	}
	return v
}

// fuzzOptions are the scenario bounds of the default run, sized to keep
// 200 seeds under a minute on two cores.
func fuzzOptions() Options {
	return Options{MinDuration: 60 * time.Second, MaxDuration: 120 * time.Second, Quiet: 30 * time.Second,
		SkipLiveness: os.Getenv("CONSENSUS_LIVENESS") == "0"}
}

// TestFuzzySeeds runs CONSENSUS_SEEDS random scenarios (default 200),
// seeds 1 to N (CONSENSUS_SEED_BASE shifts them), on all CPUs. Each seed
// is independent and deterministic; a failure names the seed to replay
// with TestSeed.
func TestFuzzySeeds(t *testing.T) {
	n := envUint(t, "CONSENSUS_SEEDS", 200)
	base := envUint(t, "CONSENSUS_SEED_BASE", 0)
	if testing.Short() {
		n = min(n, 20)
	}
	start := time.Now()
	var (
		next     atomic.Uint64
		mu       sync.Mutex
		failures = map[uint64]string{}
		safety   int
		simTime  time.Duration
		stats    Stats
	)
	next.Store(base)
	var wg sync.WaitGroup
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				seed := next.Add(1)
				if seed > base+n {
					return
				}
				res, err := RunRandom(seed, fuzzOptions())
				mu.Lock()
				simTime += res.Cluster.Now()
				s := res.Cluster.Stats()
				stats.Sealed += s.Sealed
				stats.Commits += s.Commits
				stats.Equivocations += s.Equivocations
				stats.Evidence += s.Evidence
				stats.CommitEvidence += s.CommitEvidence
				stats.Crashes += s.Crashes
				stats.Partitions += s.Partitions
				stats.Events += s.Events
				if err != nil {
					failures[seed] = fmt.Sprintf("%s\n%v", res.Scenario, err)
					if !errors.Is(err, ErrLiveness) {
						safety++
					}
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	t.Logf("%d seeds (%d to %d) in %s (%s simulated): %d events, %d blocks sealed, %d commits, %d equivocations, %d evidence (%d with a commit vote), %d crashes, %d partitions",
		n, base+1, base+n, time.Since(start).Round(time.Millisecond), simTime, stats.Events, stats.Sealed, stats.Commits, stats.Equivocations,
		stats.Evidence, stats.CommitEvidence, stats.Crashes, stats.Partitions)
	if len(failures) == 0 {
		return
	}
	seeds := slices.Sorted(maps.Keys(failures))
	t.Errorf("%d of %d seeds failed: %d safety, %d liveness; seeds %v", len(seeds), n, safety, len(seeds)-safety, seeds)
	for i, s := range seeds {
		if i == 3 {
			t.Errorf("... and %d more failing seeds (replay one with CONSENSUS_SEED=<n> go test ./chain/chaintest -run TestSeed -v)", len(seeds)-3)
			break
		}
		t.Error(failures[s])
	}
}

// TestSeed replays the random scenario of CONSENSUS_SEED; with
// CONSENSUS_LOG=1 it prints the whole event log (CONSENSUS_LOG=2 adds the
// chains' debug logs).
func TestSeed(t *testing.T) {
	s := os.Getenv("CONSENSUS_SEED")
	if s == "" {
		t.Skip("set CONSENSUS_SEED to replay one seed")
	}
	seed, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		t.Fatalf("CONSENSUS_SEED=%q: %v", s, err)
	}
	opts := fuzzOptions()
	if lv := os.Getenv("CONSENSUS_LOG"); lv != "" && lv != "0" {
		opts.Verbose = func(line string) { fmt.Println(line) }
		opts.ChainLogs = lv == "2"
	}
	start := time.Now()
	res, err := RunRandom(seed, opts)
	t.Log(res.Scenario)
	st := res.Cluster.Stats()
	t.Logf("%s simulated in %s; trace %016x; %+v", res.Cluster.Now(), time.Since(start).Round(time.Millisecond), res.Cluster.Trace(), st)
	t.Logf("final:%s", res.Cluster.Status())
	if err != nil {
		t.Fatal(err)
	}
}
