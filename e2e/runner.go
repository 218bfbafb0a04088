package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sixdomain/sixdomain/ledger/types"
)

// Options configure a run.
type Options struct {
	// Bin is the sixd binary to run (and to lay the testnet out with).
	Bin string
	// Dir receives the testnet, the node logs and report.json.
	Dir string
	// Mode is "process" (default; SIGKILL, SIGSTOP, and iptables for
	// cuts) or "docker".
	Mode   string
	Out    io.Writer // progress lines; nil discards them
	Logger *slog.Logger
}

// Testnet is the part of `sixd testnet`'s testnet.json the runner reads.
type Testnet struct {
	ChainID     string `json:"chain_id"`
	GenesisHash string `json:"genesis_hash"`
	Nodes       []struct {
		Name      string `json:"name"`
		Role      string `json:"role"`
		Authority bool   `json:"authority"`
		Home      string `json:"home"`
		Host      string `json:"host"`
		PeerID    string `json:"peer_id"`
		DID       string `json:"did"`
		P2PAddr   string `json:"p2p_addr"`
		API       string `json:"api"`
	} `json:"nodes"`
}

// runner is one run's state.
type runner struct {
	m       *Manifest
	o       Options
	out     io.Writer
	net     *Testnet
	backend Backend
	clients map[string]*client
	names   []string
	start   time.Time
	report  *Report
	disks   *disks         // homes on tmpfs, when the plan has disk faults
	excused map[string]int // exits during disk faults: expected, not crashes
	rssMu   sync.Mutex
	rss     map[string][]int64
}

// Run lays the manifest's network out, runs it with the load and the
// faults, checks the invariants and writes Dir/report.json. The error is
// about the runner itself (a node that would not start, a bad option);
// violated invariants are in the report.
func Run(ctx context.Context, m *Manifest, o Options) (*Report, error) {
	if o.Bin == "" || o.Dir == "" {
		return nil, errors.New("e2e: Bin and Dir are required")
	}
	if o.Mode == "" {
		o.Mode = "process"
	}
	var err error
	if o.Dir, err = filepath.Abs(o.Dir); err != nil {
		return nil, err
	}
	if o.Mode != "process" && o.Mode != "docker" {
		return nil, fmt.Errorf("e2e: mode %q: want process or docker", o.Mode)
	}
	r := &runner{m: m, o: o, out: o.Out, clients: map[string]*client{}, rss: map[string][]int64{}, excused: map[string]int{},
		report: &Report{Manifest: m.Name, Seed: m.Seed, Mode: o.Mode}}
	if r.out == nil {
		r.out = io.Discard
	}
	plan := m.Plan()
	if err := r.layout(ctx, plan); err != nil {
		return nil, err
	}
	if hasDiskFaults(plan) {
		homes := map[string]string{}
		for _, n := range r.net.Nodes {
			homes[n.Name] = filepath.Join(o.Dir, "net", n.Home)
		}
		if r.disks, err = newDisks(ctx, homes); err != nil {
			return nil, fmt.Errorf("e2e: %w", err)
		}
		defer func() {
			if cerr := r.disks.close(context.WithoutCancel(ctx)); cerr != nil && r.report != nil {
				r.report.violate("unmounting the homes: %v", cerr)
			}
		}()
	}
	switch o.Mode {
	case "process":
		b, err := newProcesses(o.Bin, r.net, filepath.Join(o.Dir, "net"))
		if err != nil {
			return nil, err
		}
		r.backend = b
	case "docker":
		b, err := newContainers(ctx, r.net, filepath.Join(o.Dir, "net"), o.Bin, m.Name)
		if err != nil {
			return nil, err
		}
		r.backend = b
	}
	for _, n := range r.net.Nodes {
		r.names = append(r.names, n.Name)
	}
	if err := r.backend.Start(ctx); err != nil {
		return nil, errors.Join(err, r.backend.Close())
	}
	for _, n := range r.names {
		r.clients[n] = newClient(n, r.backend.APIURL(n), r.backend.APIToken())
	}
	err = r.run(ctx, plan)
	if cerr := r.backend.Close(); cerr != nil {
		err = errors.Join(err, cerr)
	}
	if err != nil {
		return r.report, err
	}
	r.report.finish()
	data, err := json.MarshalIndent(r.report, "", "  ")
	if err != nil {
		return r.report, err
	}
	return r.report, os.WriteFile(filepath.Join(o.Dir, "report.json"), append(data, '\n'), 0o644)
}

func (r *runner) logf(format string, args ...any) {
	fmt.Fprintf(r.out, "%7.1fs  %s\n", time.Since(r.start).Seconds(), fmt.Sprintf(format, args...))
}

// layout runs `sixd testnet` for the manifest's network.
func (r *runner) layout(ctx context.Context, plan []Fault) error {
	n := r.m.Network
	total := n.Bootstrap + n.Authorities + n.Gateways + n.Devices
	dir := filepath.Join(r.o.Dir, "net")
	args := []string{"testnet", "--out", dir, "--chain-id", "e2e-" + sanitize(r.m.Name),
		"--bootstrap", fmt.Sprint(n.Bootstrap), "--authorities", fmt.Sprint(n.Authorities),
		"--gateways", fmt.Sprint(n.Gateways), "--devices", fmt.Sprint(n.Devices), "--slot", r.m.Slot.String()}
	if r.o.Mode == "process" {
		// Each node on its own loopback address and ports.
		base, err := freePorts(2*total + 1)
		if err != nil {
			return err
		}
		hosts := make([]string, total)
		for i := range hosts {
			hosts[i] = fmt.Sprintf("127.77.%d.%d", (os.Getpid()>>8)&0xff, 10+i)
		}
		args = append(args, "--local", "--hostnames", strings.Join(hosts, ","),
			"--p2p-port", fmt.Sprint(base), "--api-port", fmt.Sprint(base+total))
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, r.o.Bin, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("e2e: sixd %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	data, err := os.ReadFile(filepath.Join(dir, "testnet.json"))
	if err != nil {
		return err
	}
	r.net = &Testnet{}
	return json.Unmarshal(data, r.net)
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '-'
	}, strings.ToLower(s))
}

// freePorts finds n consecutive TCP and UDP ports free on every loopback
// address a moment ago.
func freePorts(n int) (int, error) {
	for range 100 {
		base := 20000 + rand.IntN(40000-n)
		ok := true
		for p := base; p < base+n && ok; p++ {
			ln, err := net.Listen("tcp", fmt.Sprintf(":%d", p))
			if err != nil {
				ok = false
				break
			}
			pc, err := net.ListenPacket("udp", fmt.Sprintf(":%d", p))
			if err != nil {
				ok = false
			} else {
				pc.Close()
			}
			ln.Close()
		}
		if ok {
			return base, nil
		}
	}
	return 0, errors.New("e2e: no free port range")
}

func (r *runner) run(ctx context.Context, plan []Fault) error {
	r.start = time.Now()
	r.logf("%s: %d nodes (%s mode), %d faults planned over %s", r.m.Name, len(r.names), r.o.Mode, len(plan), r.m.Duration)
	if err := r.waitAll(ctx, 2*time.Minute, "every node's API", func(c *client) bool { return c.healthy(ctx) }); err != nil {
		return err
	}
	if err := r.waitAll(ctx, 2*time.Minute, "a finalized block", func(c *client) bool {
		f, err := c.finality(ctx)
		return err == nil && f.Finalized > 0
	}); err != nil {
		return err
	}
	r.logf("network up, first block final")

	genesis, err := types.LoadGenesis(filepath.Join(r.o.Dir, "net", "genesis.toml"))
	if err != nil {
		return err
	}
	window := genesis.TimeWindow().Past
	var through, all []*client
	for _, n := range r.names {
		all = append(all, r.clients[n])
	}
	if len(r.m.Load.Through) > 0 {
		for _, n := range r.m.Load.Through {
			through = append(through, r.clients[n])
		}
	} else {
		for _, n := range r.net.Nodes {
			if n.Role == "gateway" || n.Role == "device" {
				through = append(through, r.clients[n.Name])
			}
		}
		if len(through) == 0 {
			through = all
		}
	}
	ld, err := newLoad(r.net.ChainID, window, r.m.Load.Rate, r.m.Load.Sensors, through, all)
	if err != nil {
		return err
	}
	loadCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		ld.run(loadCtx, r.m.ConvergeWithin.Duration)
	}()
	go func() {
		defer wg.Done()
		r.sampleRSS(loadCtx)
	}()

	for _, f := range plan {
		if err := sleepUntil(ctx, r.start.Add(f.At)); err != nil {
			return err
		}
		fr := r.apply(ctx, f)
		r.report.Faults = append(r.report.Faults, fr)
	}
	if err := sleepUntil(ctx, r.start.Add(r.m.Duration.Duration)); err != nil {
		return err
	}
	stopLoad()
	r.logf("load stopped; following the last transactions")
	wg.Wait()
	r.report.Load = ld.stats()
	r.logf("load: %d submitted, %d acknowledged as committed", r.report.Load.Submitted, r.report.Load.Acknowledged)
	r.check(ctx, ld.acks())
	return nil
}

func sleepUntil(ctx context.Context, t time.Time) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(time.Until(t)):
		return nil
	}
}

// waitAll polls cond on every node until it holds for all, or d passes.
func (r *runner) waitAll(ctx context.Context, d time.Duration, what string, cond func(*client) bool) error {
	deadline := time.Now().Add(d)
	for {
		var missing []string
		for _, n := range r.names {
			if !cond(r.clients[n]) {
				missing = append(missing, n)
			}
		}
		if len(missing) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("e2e: %s: not reached after %s by %s", what, d, strings.Join(missing, ", "))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// apply carries out one fault, heals it, and measures how long every node
// takes to reach the network's finalized height at the heal.
func (r *runner) apply(ctx context.Context, f Fault) FaultResult {
	fr := FaultResult{Kind: f.Kind, Targets: f.Targets, At: time.Since(r.start).Round(time.Millisecond).String(),
		ForMs: f.For.Milliseconds()}
	r.logf("fault: %s %s for %s", f.Kind, strings.Join(f.Targets, ","), f.For)
	var err error
	switch f.Kind {
	case KindKill, KindRestartAll:
		for _, t := range f.Targets {
			err = errors.Join(err, r.backend.Kill(ctx, t, f.For))
		}
		err = errors.Join(err, sleepUntil(ctx, time.Now().Add(f.For)))
	case KindPause:
		err = r.backend.Pause(ctx, f.Targets[0])
		err = errors.Join(err, sleepUntil(ctx, time.Now().Add(f.For)), r.backend.Resume(ctx, f.Targets[0]))
	case KindDisconnect, KindPartition:
		err = r.backend.Cut(ctx, f.Targets)
		if err == nil {
			err = r.checkCut(ctx, f)
		}
		err = errors.Join(err, r.backend.Heal(ctx))
	case KindDiskFull, KindDiskRO:
		// The node may exit while its disk fails (it must not go on as
		// if its writes had landed); such exits, until it converged
		// again, are not crashes.
		t := f.Targets[0]
		before := r.backend.Crashes(t)
		defer func() { r.excused[t] += r.backend.Crashes(t) - before }()
		if f.Kind == KindDiskFull {
			err = r.disks.fill(t)
			err = errors.Join(err, sleepUntil(ctx, time.Now().Add(f.For)), r.disks.unfill(t))
		} else {
			// A filesystem with files open for writing cannot be remounted
			// read-only: the node is stopped, its disk made read-only, and
			// it is started on it (it must fail cleanly, and its supervisor
			// keeps starting it) until the disk is writable again.
			err = r.backend.Down(ctx, t)
			if err == nil {
				err = r.disks.readOnly(ctx, t, true)
			}
			err = errors.Join(err, r.backend.Up(ctx, t), sleepUntil(ctx, time.Now().Add(f.For)), r.disks.readOnly(ctx, t, false))
		}
	}
	if err != nil {
		fr.Error = err.Error()
		r.report.violate("fault %s on %v could not be applied: %v", f.Kind, f.Targets, err)
		return fr
	}
	// Every node answers again (a killed node restarts by itself), then
	// every node reaches the network's finalized height at that moment.
	healed := time.Now()
	if err := r.waitAll(ctx, r.m.ConvergeWithin.Duration, "every node up after "+string(f.Kind), func(c *client) bool {
		return c.healthy(ctx)
	}); err != nil {
		fr.Error = err.Error()
		r.report.violate("after %s of %v at %s: %v", f.Kind, f.Targets, fr.At, err)
		return fr
	}
	var target uint64
	for _, n := range r.names {
		if fin, err := r.clients[n].finality(ctx); err == nil {
			target = max(target, fin.Finalized)
		}
	}
	fr.TargetHeight = target
	err = r.waitAll(ctx, r.m.ConvergeWithin.Duration, fmt.Sprintf("height %d after %s", target, f.Kind), func(c *client) bool {
		fin, err := c.finality(ctx)
		return err == nil && fin.Finalized >= target
	})
	fr.ConvergeMs = time.Since(healed).Milliseconds()
	if err != nil {
		fr.Error = err.Error()
		r.report.violate("after %s of %v at %s: %v", f.Kind, f.Targets, fr.At, err)
	}
	r.logf("converged to height %d in %d ms", target, fr.ConvergeMs)
	return fr
}

// checkCut holds a cut for f.For and checks that it cut: a side without
// more than two thirds of the authorities finalizes nothing new while cut
// off (beyond two blocks whose votes were under way), so a cut that lets
// traffic through is caught instead of passing for a fault the network
// survived.
func (r *runner) checkCut(ctx context.Context, f Fault) error {
	settle := min(time.Second, f.For/4)
	if err := sleepUntil(ctx, time.Now().Add(settle)); err != nil {
		return err
	}
	before := r.finalized(ctx)
	if err := sleepUntil(ctx, time.Now().Add(f.For-settle)); err != nil {
		return err
	}
	after := r.finalized(ctx)
	in := map[string]bool{}
	for _, t := range f.Targets {
		in[t] = true
	}
	total, inSide := 0, 0
	for _, n := range r.net.Nodes {
		if n.Authority {
			total++
			if in[n.Name] {
				inSide++
			}
		}
	}
	for _, n := range r.names {
		side := inSide
		if !in[n] {
			side = total - inSide
		}
		if 3*side > 2*total {
			continue // this side may go on finalizing
		}
		b, okB := before[n]
		a, okA := after[n]
		if okB && okA && a > b+2 {
			return fmt.Errorf("the cut did not cut: %s, on a side with %d of %d authorities, finalized %d → %d while cut off", n, side, total, b, a)
		}
	}
	return nil
}

// finalized returns the finalized height of every node that answers.
func (r *runner) finalized(ctx context.Context) map[string]uint64 {
	out := map[string]uint64{}
	for _, n := range r.names {
		if fin, err := r.clients[n].finality(ctx); err == nil {
			out[n] = fin.Finalized
		}
	}
	return out
}

// sampleRSS records every node's resident memory every two seconds.
func (r *runner) sampleRSS(ctx context.Context) {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		for _, n := range r.names {
			if v, err := r.backend.RSS(n); err == nil && v > 0 {
				r.rssMu.Lock()
				r.rss[n] = append(r.rss[n], v)
				r.rssMu.Unlock()
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// check verifies the invariants after the run.
func (r *runner) check(ctx context.Context, acked map[types.Hash]ack) {
	rep := r.report
	// Convergence: every node reaches the network's finalized height, and
	// holds the same block and state root there.
	var target uint64
	for _, n := range r.names {
		if fin, err := r.clients[n].finality(ctx); err == nil {
			target = max(target, fin.Finalized)
		}
	}
	end := time.Now()
	if err := r.waitAll(ctx, r.m.ConvergeWithin.Duration, fmt.Sprintf("final height %d", target), func(c *client) bool {
		fin, err := c.finality(ctx)
		return err == nil && fin.Finalized >= target
	}); err != nil {
		rep.violate("not converged after the run: %v", err)
	}
	rep.FinalConvergeMs = time.Since(end).Milliseconds()
	rep.FinalHeight = target

	// Finalized blocks agree at every height (all of them up to 5,000,
	// else every tenth and the last 500).
	checked := 0
	for h := uint64(1); h <= target; h++ {
		if target > 5000 && h%10 != 0 && h+500 < target {
			continue
		}
		var first types.Hash
		var firstRoot types.Hash
		for i, n := range r.names {
			b, err := r.clients[n].block(ctx, h)
			if err != nil {
				rep.violate("block %d on %s: %v", h, n, err)
				continue
			}
			if i == 0 {
				first, firstRoot = b.Hash, b.StateRoot
			} else if b.Hash != first || b.StateRoot != firstRoot {
				rep.Conflicts++
				rep.violate("conflicting finalized block at height %d: %s has %s, %s has %s", h, r.names[0], first, n, b.Hash)
			}
		}
		checked++
	}
	rep.HeightsCompared = checked

	// Nothing acknowledged is missing on any node (eight requests at a
	// time: an hour's run acknowledges tens of thousands).
	type job struct {
		h types.Hash
		a ack
	}
	jobs := make(chan job)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				for _, n := range r.names {
					st, err := r.clients[n].txStatus(ctx, j.h)
					if err != nil || st.Status != "committed" || st.Height != j.a.Height {
						mu.Lock()
						rep.Lost++
						rep.violate("tx %s acknowledged committed at %d by %s: on %s %+v %v", j.h, j.a.Height, j.a.Node, n, st.Status, err)
						mu.Unlock()
						break
					}
				}
			}
		}()
	}
	for h, a := range acked {
		jobs <- job{h, a}
	}
	close(jobs)
	wg.Wait()

	// Memory and crashes.
	r.rssMu.Lock()
	defer r.rssMu.Unlock()
	for _, n := range r.names {
		s := r.rss[n]
		nr := NodeResult{Name: n, Crashes: r.backend.Crashes(n) - r.excused[n], DiskExits: r.excused[n]}
		if len(s) > 0 {
			// Skip start-up: the first sample after a tenth of the run.
			base := s[min(len(s)-1, len(s)/10)]
			nr.RSSFirstMB, nr.RSSPeakMB, nr.RSSLastMB = mb(base), mb(slices.Max(s)), mb(s[len(s)-1])
			if nr.RSSLastMB-nr.RSSFirstMB > float64(r.m.MaxRSSGrowthMB) {
				rep.violate("%s: resident memory grew from %.0f MB to %.0f MB (bound %d MB)", n, nr.RSSFirstMB, nr.RSSLastMB, r.m.MaxRSSGrowthMB)
			}
		}
		if nr.Crashes > 0 {
			rep.violate("%s exited by itself %d times (see %s.log)", n, nr.Crashes, n)
		}
		rep.Nodes = append(rep.Nodes, nr)
	}
}

func mb(b int64) float64 { return float64(b) / (1 << 20) }
