// Package devnet runs a local mesh of real sixdomain nodes on loopback and
// drives it with devices publishing simulated sensor readings, and
// optionally light nodes (node/light) recording readings through the
// devices: the engine behind `sixd devnet` and `make devnet`.
package devnet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger/types"
	"github.com/sixdomain/sixdomain/mempool"
	"github.com/sixdomain/sixdomain/node"
)

// Options configure a devnet run.
type Options struct {
	Authorities int
	// Devices is the number of device nodes the sensors publish through;
	// 0 runs authorities only, the sensors submitting to them directly
	// (each sensor to one authority, round robin over the sensors), as
	// the clients of a gateway do.
	Devices int
	// SensorsPerDevice is how many sensors, each with its own key and
	// nonce sequence, publish through each device node (default 1); with
	// Devices 0, the number of sensors in all.
	SensorsPerDevice int
	Duration         time.Duration
	Rate             float64
	Slot             time.Duration
	Home             string
	ChainID          string
	JSONOut          string
	Quiet            bool
	LogLevel         string
	// Admission is the genesis admission mode: "open" (default) or
	// "admitted", where the first device node is onboarded as a gateway
	// by an authority and onboards every device key before the load.
	Admission string
	// Light is how many light nodes (package node/light) record a reading
	// a second each through the device nodes, their gateways.
	Light int
	// MempoolTxs, if positive, bounds every node's mempool to that many
	// transactions (the high-water mark at 80 % of it), to show the
	// back-pressure at low rates.
	MempoolTxs int
	// TxBytes > 0 pads every reading so that its signed transaction
	// encodes to exactly this many bytes (make bench-compare).
	TxBytes int
}

// Summary is what `sixd devnet` measures; --json writes it.
type Summary struct {
	Authorities  int     `json:"authorities"`
	Devices      int     `json:"devices"`
	SlotMillis   int64   `json:"slot_ms"`
	OfferedRate  float64 `json:"offered_tx_per_s"`
	DurationSec  float64 `json:"duration_s"`
	Blocks       uint64  `json:"blocks"`
	Submitted    int     `json:"submitted"`
	Refused      int     `json:"refused"`
	Committed    int     `json:"committed"`
	Uncommitted  int     `json:"uncommitted"`
	TxPerSec     float64 `json:"committed_tx_per_s"`
	LatencyP50Ms float64 `json:"latency_p50_ms"`
	LatencyP99Ms float64 `json:"latency_p99_ms"`
	LatencyMaxMs float64 `json:"latency_max_ms"`
	// FinalityP50Ms and FinalityP99Ms: from a block's time to the moment
	// the observer (node 0) finalized it.
	FinalityP50Ms float64 `json:"time_to_finality_p50_ms"`
	FinalityP99Ms float64 `json:"time_to_finality_p99_ms"`
	Height        uint64  `json:"height"`
	HeadHash      string  `json:"head_hash"`
	NodesAgree    bool    `json:"nodes_agree"`
	MaxBlockTxs   int     `json:"max_block_txs_seen"`
	GenesisHash   string  `json:"genesis_hash"`
	ChainID       string  `json:"chain_id"`
	StoreOnDisk   bool    `json:"store_on_disk"`
	SubmitErrorEx string  `json:"submit_error_example,omitempty"`
	// Light nodes: readings signed, recorded (inclusion and finality
	// proven to the light node) and still queued at the end.
	LightNodes    int `json:"light_nodes"`
	LightSigned   int `json:"light_signed"`
	LightRecorded int `json:"light_recorded"`
	LightQueued   int `json:"light_queued"`
	// Back-pressure. Offered is the readings the schedule (Rate ×
	// duration) called for; Submitted the ones a node accepted. Busy
	// counts the refusals for a node's load (mempool_busy, mempool_full: a
	// 503 over HTTP); the sensor then waits (50 ms doubling up to 400 ms)
	// and sends the same reading again, Retries times in all. A reading
	// still refused when the load stops is offered, not submitted; Refused
	// counts the other refusals (not retried). BusyEx is the first busy
	// refusal's error.
	Offered int    `json:"offered"`
	Busy    int    `json:"busy_refusals"`
	Retries int    `json:"retries"`
	BusyEx  string `json:"busy_error_example,omitempty"`
}

// Run starts the devnet, drives the load, prints block lines and the
// summary to out, and returns the summary. The error is non-nil when the
// nodes do not agree, the run was interrupted, or the options are invalid.
func Run(ctx context.Context, o Options, out, errOut io.Writer) (Summary, error) {
	switch {
	case o.Authorities < 1:
		return Summary{}, errors.New("--authorities must be at least 1")
	case o.Devices < 0:
		return Summary{}, errors.New("--devices must be at least 0")
	case o.Devices == 0 && o.SensorsPerDevice < 1:
		return Summary{}, errors.New("--devices 0 needs --sensors N (N ≥ 1 sensors submitting to the authorities)")
	case o.Devices == 0 && (o.Light > 0 || o.Admission == types.AdmissionAdmitted):
		return Summary{}, errors.New("--light and --admission admitted need a device node (--devices ≥ 1)")
	case o.Authorities+o.Devices > 64:
		return Summary{}, errors.New("at most 64 nodes in a devnet; use the simulator for more")
	case o.SensorsPerDevice < 0 || o.SensorsPerDevice > 10_000:
		return Summary{}, errors.New("--sensors must be in [0, 10000]")
	case o.Rate <= 0 || o.Rate > 100_000:
		return Summary{}, errors.New("--rate must be in (0, 100000]")
	case o.Duration < 0:
		return Summary{}, errors.New("--duration must be positive, or 0 to run until interrupted")
	case o.Slot < 50*time.Millisecond:
		return Summary{}, errors.New("--slot must be at least 50ms")
	case o.MempoolTxs < 0:
		return Summary{}, errors.New("--mempool-txs must not be negative")
	case o.Light < 0 || o.Light > 64:
		return Summary{}, errors.New("--light must be in [0, 64]")
	case o.Light > 0 && o.Admission == types.AdmissionAdmitted:
		return Summary{}, errors.New("--light needs --admission open (light nodes are not onboarded)")
	case o.Admission != "" && o.Admission != types.AdmissionOpen && o.Admission != types.AdmissionAdmitted:
		return Summary{}, fmt.Errorf("--admission must be %q or %q", types.AdmissionOpen, types.AdmissionAdmitted)
	}
	if err := checkTxBytes(o); err != nil {
		return Summary{}, err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.LogLevel)); err != nil {
		return Summary{}, fmt.Errorf("--log-level: %w", err)
	}
	base := o.Home
	if base == "" {
		dir, err := os.MkdirTemp("", "sixd-devnet-")
		if err != nil {
			return Summary{}, err
		}
		defer os.RemoveAll(dir)
		base = dir
	} else if err := os.MkdirAll(base, 0o700); err != nil {
		return Summary{}, err
	}
	logger := slog.New(slog.NewTextHandler(errOut, &slog.HandlerOptions{Level: level}))
	prior, err := openLayout(base, o)
	if err != nil {
		return Summary{}, err
	}
	cc := node.ClusterConfig{ChainID: o.ChainID, Authorities: o.Authorities, Devices: o.Devices, Slot: o.Slot,
		BaseDir: base, Logger: logger, Admission: o.Admission, API: true}
	if o.MempoolTxs > 0 {
		cc.Options = append(cc.Options, node.WithMempool(mempool.Config{MaxTxs: o.MempoolTxs}))
	}
	if prior != nil {
		cc.Genesis, cc.Keys, cc.NodeOptions = prior.genesis, prior.keys, prior.options
	}
	c, err := node.StartCluster(ctx, cc)
	if err != nil {
		return Summary{}, err
	}
	defer c.Close()
	if err := writeHomes(base, c); err != nil {
		return Summary{}, err
	}
	if !o.Quiet {
		printNodes(out, c, o, base, prior != nil)
	}

	// One line per block as it becomes final, from the first authority's
	// point of view.
	observer := c.Nodes[0]
	events, unsubscribe := observer.SubscribeCommits(1024)
	defer unsubscribe()
	var printWG sync.WaitGroup
	var maxBlockTxs int
	var toFinality []time.Duration
	printWG.Add(1)
	go func() {
		defer printWG.Done()
		for e := range events {
			if len(e.Block.Txs) > maxBlockTxs {
				maxBlockTxs = len(e.Block.Txs)
			}
			lag := e.At.Sub(e.Block.Header.BlockTime())
			toFinality = append(toFinality, lag)
			if !o.Quiet {
				turn := "in turn"
				if e.Block.Header.Difficulty != types.DiffInTurn {
					turn = "out of turn"
				}
				fmt.Fprintf(out, "block %6d  txs %5d  proposer %s (%s)  final after %4d ms  peers %d  hash %s\n", e.Block.Header.Height,
					len(e.Block.Txs), shortDID(e.Block.Header.Proposer), turn, lag.Milliseconds(),
					len(observer.Host().Network().Peers()), short(e.Block.Hash().String()))
			}
		}
	}()

	load, err := newLoad(c, o)
	if err != nil {
		return Summary{}, err
	}
	if o.Admission == types.AdmissionAdmitted {
		if err := onboard(ctx, c, o, load.keys, out); err != nil {
			return Summary{}, err
		}
	}
	var ls *lights
	if o.Light > 0 {
		if ls, err = startLights(ctx, c, o, base, logger); err != nil {
			return Summary{}, err
		}
		defer ls.close()
	}
	startHeight := observer.State().Height
	start := time.Now()
	lightCtx, stopLights := context.WithCancel(ctx)
	if ls != nil {
		ls.start(lightCtx)
	}
	load.run(ctx, o.Duration)
	stopLights()
	loadEnd := time.Now()

	// With --duration 0 an interrupt is the normal end of the load: what
	// follows still drains and compares the nodes.
	forever := o.Duration == 0
	after := ctx
	if forever {
		after = context.WithoutCancel(ctx)
	}

	// Let what was submitted commit (up to ten slots), then wait for every
	// node to hold the same head.
	drainDeadline := time.Now().Add(10*o.Slot + 5*time.Second)
	for load.pending() > 0 && time.Now().Before(drainDeadline) && after.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
	if ls != nil {
		ls.wg.Wait()
		ls.drain(after, time.Now().Add(10*o.Slot+10*time.Second))
	}
	height, head, agree := waitAgreement(after, c, 5*o.Slot+5*time.Second)
	unsubscribe()
	printWG.Wait()

	s := load.summary()
	s.Authorities, s.Devices, s.SlotMillis, s.OfferedRate = o.Authorities, o.Devices, o.Slot.Milliseconds(), o.Rate
	s.DurationSec = loadEnd.Sub(start).Seconds()
	s.Blocks = height - startHeight
	s.Height, s.HeadHash, s.NodesAgree = height, head.String(), agree
	s.MaxBlockTxs = maxBlockTxs
	s.FinalityP50Ms, s.FinalityP99Ms = PercentileMs(toFinality, 0.50), PercentileMs(toFinality, 0.99)
	s.GenesisHash, s.ChainID, s.StoreOnDisk = c.Genesis.Hash().String(), c.Genesis.ChainID, true
	if ls != nil {
		s.LightNodes = len(ls.nodes)
		s.LightSigned, s.LightRecorded, s.LightQueued = ls.count()
	}
	printSummary(out, s)
	if o.JSONOut != "" {
		b, err := json.MarshalIndent(s, "", "  ")
		if err != nil {
			return s, err
		}
		if err := os.WriteFile(o.JSONOut, append(b, '\n'), 0o644); err != nil {
			return s, err
		}
	}
	if ctx.Err() != nil && !forever {
		return s, errors.New("interrupted")
	}
	if !agree {
		return s, errors.New("nodes do not agree on the head")
	}
	return s, nil
}

// printNodes prints how to reach every node, talk to the devnet and join
// it.
func printNodes(out io.Writer, c *node.Cluster, o Options, base string, restarted bool) {
	again := ""
	if restarted {
		again = " (restarted from its home directories)"
	}
	fmt.Fprintf(out, "sixdomain devnet: chain %s, genesis %s, %d authorities + %d devices, slot %s%s\n",
		c.Genesis.ChainID, short(c.Genesis.Hash().String()), o.Authorities, o.Devices, o.Slot, again)
	where := base
	if o.Home == "" {
		where += " (temporary: removed at the end; keep it with --home DIR)"
	}
	fmt.Fprintf(out, "  homes    %s\n", where)
	for i, n := range c.Nodes {
		role := "device"
		if i < o.Authorities {
			role = "authority"
		}
		fmt.Fprintf(out, "  node %d  %-9s %s  %s\n", i, role, n.ID(), n.Key().DID())
		fmt.Fprintf(out, "          p2p %s\n", dialAddr(n))
		fmt.Fprintf(out, "          api http://%s  (dashboard at /)\n", n.APIAddr())
	}
	gen := filepath.Join(base, "genesis.toml")
	fmt.Fprintf(out, "Talk to it:  sixd --home %s block latest\n", c.Home(0))
	fmt.Fprintf(out, "             sixd --home %s tx record --stream demo/temp --value 21.5 --wait\n", c.Home(0))
	fmt.Fprintf(out, "Join it:     sixd init --role device --home ./my-device --genesis %s --api 127.0.0.1:8646 --bootstrap %s\n",
		gen, dialAddr(c.Nodes[0]))
	fmt.Fprintf(out, "             sixd run --home ./my-device\n")
	if o.Duration == 0 {
		fmt.Fprintln(out, "Running until Ctrl-C.")
	}
}

// waitAgreement polls until every node has the same head hash, or gives up
// after timeout and reports the lowest common height's agreement.
func waitAgreement(ctx context.Context, c *node.Cluster, timeout time.Duration) (uint64, types.Hash, bool) {
	deadline := time.Now().Add(timeout)
	for {
		var h uint64
		var hash types.Hash
		same := true
		for i, n := range c.Nodes {
			st := n.State()
			if i == 0 {
				h, hash = st.Height, st.LastBlockHash
			} else if st.Height != h || st.LastBlockHash != hash {
				same = false
			}
		}
		if same {
			return h, hash, true
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			// No moment with identical heads: report the lowest head.
			minH := uint64(math.MaxUint64)
			for _, n := range c.Nodes {
				minH = min(minH, n.State().Height)
			}
			hash, _, _ := c.Agree(context.Background(), minH)
			return minH, hash, false
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// load drives the sensors: each signs readings and submits them to its
// node (its device node, or with --devices 0 an authority), which gossips
// them; the nodes the sensors submit to report when they commit.
type load struct {
	c       *node.Cluster
	o       Options
	mu      sync.Mutex
	sent    map[types.Hash]time.Time
	latency []time.Duration
	first   time.Time
	last    time.Time
	offered int
	busy    int
	retries int
	refused int
	errEx   string
	busyEx  string
	subs    []func()
	wg      sync.WaitGroup
	keys    [][]*identity.PrivateKey // per device node: its sensors' keys, the node's own first
	sensors []sensor
}

// sensor is one signing key and the node it submits through.
type sensor struct {
	key *identity.PrivateKey
	n   *node.Node
	idx int
}

// Back-off of a sensor whose node is busy: the first wait, doubled per
// refusal of the same reading up to the cap.
const (
	busyBackoff    = 50 * time.Millisecond
	busyBackoffMax = 400 * time.Millisecond
)

func newLoad(c *node.Cluster, o Options) (*load, error) {
	l := &load{c: c, o: o, sent: map[types.Hash]time.Time{}}
	// The first sensor of a device signs with the device's own key;
	// further sensors have keys of their own and submit through it.
	for i := o.Authorities; i < len(c.Nodes); i++ {
		keys := []*identity.PrivateKey{c.Keys[i]}
		for s := 1; s < max(1, o.SensorsPerDevice); s++ {
			k, err := identity.Generate(nil)
			if err != nil {
				return nil, err
			}
			keys = append(keys, k)
		}
		l.keys = append(l.keys, keys)
		for s, k := range keys {
			l.sensors = append(l.sensors, sensor{key: k, n: c.Nodes[i], idx: i*len(keys) + s})
		}
	}
	// Without devices, the sensors are clients of the authorities.
	watch := c.Nodes[o.Authorities:]
	if o.Devices == 0 {
		watch = c.Nodes[:o.Authorities]
		for s := range o.SensorsPerDevice {
			k, err := identity.Generate(nil)
			if err != nil {
				return nil, err
			}
			l.sensors = append(l.sensors, sensor{key: k, n: c.Nodes[s%o.Authorities], idx: s})
		}
	}
	for _, n := range watch {
		events, cancel := n.SubscribeCommits(4096)
		l.subs = append(l.subs, cancel)
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for e := range events {
				l.mu.Lock()
				for _, tx := range e.Block.Txs {
					if t0, ok := l.sent[tx.Hash()]; ok {
						l.latency = append(l.latency, e.At.Sub(t0))
						delete(l.sent, tx.Hash())
						l.last = e.At
					}
				}
				l.mu.Unlock()
			}
		}()
	}
	return l, nil
}

func (l *load) pending() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.sent)
}

// run drives the load for d, or until parent ends when d is 0.
func (l *load) run(parent context.Context, d time.Duration) {
	var ctx context.Context
	var cancel context.CancelFunc
	if d > 0 {
		ctx, cancel = context.WithTimeout(parent, d)
	} else {
		ctx, cancel = context.WithCancel(parent)
	}
	defer cancel()
	perSensor := l.o.Rate / float64(len(l.sensors))
	var wg sync.WaitGroup
	l.first = time.Now()
	for _, s := range l.sensors {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.device(ctx, parent, s.n, s.key, s.idx, perSensor)
		}()
	}
	wg.Wait()
}

// device publishes readings at rate per second, paced by a 10 ms tick,
// until ctx ends. Submissions use submitCtx, so the last reading is not cut
// off half-gossiped when the load stops. A reading the node refuses for
// its load is sent again after a back-off (the sensor falls behind its
// schedule meanwhile, and catches up as fast as the node takes readings).
func (l *load) device(ctx, submitCtx context.Context, n *node.Node, key *identity.PrivateKey, idx int, rate float64) {
	const tick = 10 * time.Millisecond
	t := time.NewTicker(tick)
	defer t.Stop()
	start := time.Now()
	defer func() {
		l.mu.Lock()
		l.offered += int(rate * time.Since(start).Seconds())
		l.mu.Unlock()
	}()
	var sent uint64
	// A key may have sent transactions before the load (a gateway's
	// onboarding): continue after its committed nonce.
	nonce, err := n.Store().Nonce(key.Public())
	if err != nil {
		l.refusedOne(err)
		return
	}
	chainID := n.Genesis().ChainID
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		due := uint64(rate * time.Since(start).Seconds())
		for ; sent < due && ctx.Err() == nil; sent++ {
			nonce++
			value := fmt.Sprintf(`{"celsius":%.2f,"seq":%d}`, 20+5*math.Sin(float64(nonce)/50)+float64(idx%3), nonce)
			tx, err := signedReading(chainID, nonce, time.Now().UnixMilli(), value, key, l.o.TxBytes)
			if err != nil {
				l.refusedOne(err)
				return
			}
			if !l.submit(ctx, submitCtx, n, tx) {
				nonce-- // the node did not take it: reuse the nonce
			}
		}
	}
}

// submit hands tx to n until n takes it, backing off while n is busy, and
// reports whether it was taken. It gives up on a refusal for any other
// reason, and when ctx ends during a back-off.
func (l *load) submit(ctx, submitCtx context.Context, n *node.Node, tx *types.Tx) bool {
	raw, h := tx.Encode(), tx.Hash()
	backoff := busyBackoff
	for {
		l.mu.Lock()
		l.sent[h] = time.Now()
		l.mu.Unlock()
		// A nil transaction means the node refused it; a non-nil one with
		// an error was accepted but not yet gossiped (the node retries).
		accepted, err := n.Submit(submitCtx, raw)
		if accepted != nil || err == nil || submitCtx.Err() != nil {
			return true
		}
		l.mu.Lock()
		delete(l.sent, h)
		l.mu.Unlock()
		if !errors.Is(err, mempool.ErrBusy) && !errors.Is(err, mempool.ErrFull) && !errors.Is(err, mempool.ErrSenderFull) {
			l.refusedOne(err)
			return false
		}
		l.mu.Lock()
		l.busy++
		if l.busyEx == "" {
			l.busyEx = err.Error()
		}
		l.mu.Unlock()
		// Jitter spreads the sensors' retries.
		wait := backoff + time.Duration(rand.Int64N(int64(backoff)/4+1))
		select {
		case <-ctx.Done():
			return false
		case <-time.After(wait):
		}
		backoff = min(2*backoff, busyBackoffMax)
		l.mu.Lock()
		l.retries++
		l.mu.Unlock()
	}
}

func (l *load) refusedOne(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.refused++
	if l.errEx == "" {
		l.errEx = err.Error()
	}
}

func (l *load) summary() Summary {
	for _, cancel := range l.subs {
		cancel()
	}
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	s := Summary{Committed: len(l.latency), Uncommitted: len(l.sent), Offered: l.offered, Busy: l.busy, Retries: l.retries,
		Refused: l.refused, SubmitErrorEx: l.errEx, BusyEx: l.busyEx}
	s.Submitted = s.Committed + s.Uncommitted
	s.Offered = max(s.Offered, s.Submitted+s.Refused) // the schedule's rounding
	if s.Committed > 0 {
		if span := l.last.Sub(l.first).Seconds(); span > 0 {
			s.TxPerSec = float64(s.Committed) / span
		}
		s.LatencyP50Ms, s.LatencyP99Ms, s.LatencyMaxMs = PercentileMs(l.latency, 0.50), PercentileMs(l.latency, 0.99), PercentileMs(l.latency, 1)
	}
	return s
}

// PercentileMs returns the p-th percentile (nearest rank) of ds in
// milliseconds, 0 for none (make bench-compare reports CometBFT's
// latencies the same way).
func PercentileMs(ds []time.Duration, p float64) float64 {
	if len(ds) == 0 {
		return 0
	}
	sorted := slices.Clone(ds)
	slices.Sort(sorted)
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	i = max(0, min(i, len(sorted)-1))
	return float64(sorted[i].Microseconds()) / 1000
}

func printSummary(out io.Writer, s Summary) {
	agree := "yes"
	if !s.NodesAgree {
		agree = "NO"
	}
	fmt.Fprintf(out, `
summary
  nodes                 %d authorities + %d devices, slot %d ms
  offered load          %.0f tx/s for %.1f s
  blocks                %d (largest %d txs)
  transactions          %d committed of %d submitted (%d uncommitted, %d refused)
  back-pressure         %d offered, %d accepted; %d busy refusals, %d retries
  committed rate        %.1f tx/s
  submit->final         p50 %.0f ms  p99 %.0f ms  max %.0f ms
  block->final          p50 %.0f ms  p99 %.0f ms
  final head            height %d  %s
  all nodes agree       %s
`, s.Authorities, s.Devices, s.SlotMillis, s.OfferedRate, s.DurationSec, s.Blocks, s.MaxBlockTxs,
		s.Committed, s.Submitted, s.Uncommitted, s.Refused, s.Offered, s.Submitted, s.Busy, s.Retries, s.TxPerSec, s.LatencyP50Ms, s.LatencyP99Ms, s.LatencyMaxMs,
		s.FinalityP50Ms, s.FinalityP99Ms, s.Height, s.HeadHash, agree)
	if s.LightNodes > 0 {
		fmt.Fprintf(out, "  light nodes           %d: %d readings recorded (proven final) of %d signed, %d still queued\n",
			s.LightNodes, s.LightRecorded, s.LightSigned, s.LightQueued)
	}
	if s.SubmitErrorEx != "" {
		fmt.Fprintf(out, "  first refusal         %s\n", s.SubmitErrorEx)
	}
	if s.BusyEx != "" {
		fmt.Fprintf(out, "  first busy refusal    %s\n", s.BusyEx)
	}
}

func short(s string) string {
	if len(s) <= 12 {
		return s
	}
	return s[:12]
}

func shortDID(k identity.PublicKey) string {
	d := k.DID()
	return "…" + d[len(d)-8:]
}
