package chaintest

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// Options bound a random scenario.
type Options struct {
	// MinDuration and MaxDuration bound the faulty part of the run
	// (default 60s and 120s); then comes the final heal and Quiet.
	MinDuration, MaxDuration time.Duration
	// Quiet is the fault-free period after the final heal (default 30s).
	Quiet time.Duration
	// Resume: an honest block must be sealed within this of the final
	// heal (default 12s). The next block may have to come from a signer
	// stuck on a dead branch, which learns the live one only when its
	// periodic sync (every 3s) picks a peer on it — random peer choice can
	// take a few rounds — plus latencies and an out-of-turn delay with its
	// wiggle. Gain: every honest node must then finalize this many blocks
	// beyond anything final at the heal (default 3).
	Resume time.Duration
	Gain   uint64
	// SkipLiveness checks only the safety invariants.
	SkipLiveness bool
	// Tweak, if set, adjusts the drawn configuration (for experiments).
	Tweak func(*Config)

	Verbose   func(line string)
	ChainLogs bool
}

func (o Options) withDefaults() Options {
	if o.MinDuration <= 0 {
		o.MinDuration = 60 * time.Second
	}
	if o.MaxDuration < o.MinDuration {
		o.MaxDuration = max(o.MinDuration, 120*time.Second)
	}
	if o.Quiet <= 0 {
		o.Quiet = 30 * time.Second
	}
	if o.Resume <= 0 {
		o.Resume = 12 * time.Second
	}
	if o.Gain == 0 {
		o.Gain = 3
	}
	return o
}

// Result is what RunRandom did.
type Result struct {
	Cluster  *Cluster
	Scenario string // the configuration and the fault plan
	Heal     Mark   // at the final heal
}

// RandomConfig draws a cluster configuration from the seed: 4 to 7
// authorities, 0 to 2 observers, maybe one equivocating authority, the
// EIP-225 epoch (short ones put checkpoint blocks in the run), and the
// network's latency, jitter, loss and duplication.
func RandomConfig(seed uint64) Config {
	r := rand.New(rand.NewPCG(seed, 0x636f6e66))
	pick := func(xs ...float64) float64 { return xs[r.IntN(len(xs))] }
	return Config{
		Authorities:    4 + r.IntN(4),
		Observers:      r.IntN(3),
		Byzantine:      r.IntN(2) == 0,
		EquivocateProb: 0.5 + r.Float64()/2,
		Latency:        time.Duration(5+r.IntN(45)) * time.Millisecond,
		Jitter:         time.Duration(pick(20, 100, 300, 800)) * time.Millisecond,
		Drop:           pick(0, 0, 0.02, 0.05, 0.15),
		Dup:            pick(0, 0.05, 0.2),
		Devices:        1 + r.IntN(4),
		Epoch:          []uint64{0, 0, 8, 16}[r.IntN(4)],
	}
}

// RunRandom runs the random scenario of seed: a RandomConfig cluster
// under random partitions and heals, crashes and restarts, clock skews of
// up to ±20s and changing loss and duplication for MinDuration to
// MaxDuration; then a final heal (every node up and connected, clocks
// within ±200ms, no loss) and Quiet. It returns the first violation of a
// safety invariant (at any time) or of liveness (after the final heal).
func RunRandom(seed uint64, opts Options) (*Result, error) {
	opts = opts.withDefaults()
	cfg := RandomConfig(seed)
	cfg.Verbose, cfg.ChainLogs = opts.Verbose, opts.ChainLogs
	if opts.Tweak != nil {
		opts.Tweak(&cfg)
	}
	r := rand.New(rand.NewPCG(seed, 0x7363656e))
	dur := opts.MinDuration
	if opts.MaxDuration > opts.MinDuration {
		dur += time.Duration(r.Int64N(int64(opts.MaxDuration - opts.MinDuration)))
	}
	dur = dur.Truncate(time.Second)
	c := NewCluster(seed, cfg)
	res := &Result{Cluster: c}
	total := len(c.nodes)
	var plan []string
	note := func(t time.Duration, format string, args ...any) {
		plan = append(plan, fmt.Sprintf("%.1fs %s", t.Seconds(), fmt.Sprintf(format, args...)))
	}
	smallSkew := func(lim time.Duration) time.Duration {
		return time.Duration(r.Int64N(int64(2*lim))) - lim
	}
	for i := range c.nodes {
		c.SetSkew(i, smallSkew(300*time.Millisecond))
	}

	// The fault plan, drawn up front; each fault is applied at its time.
	downUntil := make([]time.Duration, total) // planned crashes
	for t := 2*time.Second + time.Duration(r.Int64N(int64(5*time.Second))); t < dur; t += 2*time.Second + time.Duration(r.Int64N(int64(10*time.Second))) {
		switch w := r.IntN(100); {
		case w < 25: // partition
			k := 2 + r.IntN(2)
			groups := make([][]int, k)
			for i := range c.nodes {
				g := r.IntN(k)
				groups[g] = append(groups[g], i)
			}
			note(t, "partition %v", groups)
			c.At(t, func() { c.Partition(groups...) })
		case w < 40:
			note(t, "heal")
			c.At(t, c.Heal)
		case w < 60: // crash one node, restart it later
			var cand []int
			nd := 0
			for i, until := range downUntil {
				if until > t {
					nd++
				} else {
					cand = append(cand, i)
				}
			}
			if 2*(nd+1) > total {
				continue
			}
			i := cand[r.IntN(len(cand))]
			back := t + 2*time.Second + time.Duration(r.Int64N(int64(15*time.Second)))
			downUntil[i] = back
			note(t, "crash n%d until %.1fs", i, back.Seconds())
			c.At(t, func() { c.Crash(i) })
			if back < dur {
				c.At(back, func() { c.Restart(i) })
			}
		case w < 75: // a bad clock for a while
			i := r.IntN(total)
			skew := time.Duration(r.Int64N(int64(40*time.Second))) - 20*time.Second
			back := t + 5*time.Second + time.Duration(r.Int64N(int64(15*time.Second)))
			fixed := smallSkew(300 * time.Millisecond)
			note(t, "skew n%d %s until %.1fs", i, skew.Round(time.Millisecond), back.Seconds())
			c.At(t, func() { c.SetSkew(i, skew) })
			if back < dur {
				c.At(back, func() { c.SetSkew(i, fixed) })
			}
		case w < 90:
			p := []float64{0, 0.05, 0.2, 0.5}[r.IntN(4)]
			note(t, "drop %.2f", p)
			c.At(t, func() { c.SetDrop(p) })
		default:
			p := []float64{0, 0.1, 0.3}[r.IntN(3)]
			note(t, "dup %.2f", p)
			c.At(t, func() { c.SetDup(p) })
		}
	}
	skews := make([]time.Duration, total)
	for i := range skews {
		skews[i] = smallSkew(200 * time.Millisecond)
	}
	note(dur, "final heal")
	c.At(dur, func() {
		c.Heal()
		for i := range c.nodes {
			c.Restart(i)
			c.SetSkew(i, skews[i])
		}
		c.SetDrop(0)
		c.SetDup(min(c.dup, 0.05))
		res.Heal = c.Mark()
		c.logf(-1, "final heal: %s", c.Status())
	})
	res.Scenario = fmt.Sprintf("seed %d: %d authorities, %d observers, byzantine %t (p %.2f), epoch %d, latency %s+%s, drop %.2f, dup %.2f, %d devices, %s + quiet %s\n  plan: %s",
		seed, cfg.Authorities, cfg.Observers, cfg.Byzantine, cfg.EquivocateProb, c.genesis.Epoch, cfg.Latency, cfg.Jitter, cfg.Drop, cfg.Dup,
		cfg.Devices, dur, opts.Quiet, strings.Join(plan, "; "))

	if err := c.Run(dur + opts.Quiet); err != nil {
		return res, err
	}
	if err := c.CheckInvariants(); err != nil {
		return res, err
	}
	c.logf(-1, "end: %s", c.Status())
	if opts.SkipLiveness {
		return res, nil
	}
	if err := c.CheckLiveness(res.Heal, opts.Resume, opts.Gain); err != nil {
		return res, err
	}
	return res, nil
}
