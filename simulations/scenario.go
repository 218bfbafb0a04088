package simulations

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	toml "github.com/pelletier/go-toml/v2"
)

// Version is the scenario file format this package reads.
const Version = 1

// MaxScenarioBytes bounds a scenario file.
const MaxScenarioBytes = 1 << 20

// Limits on a scenario, so that a typo cannot ask for the impossible.
const (
	MaxNodes     = 20_000
	MaxDuration  = 24 * time.Hour
	MaxTimeScale = 1000
	// MaxPlannedEvents bounds the transactions, spam messages and churn
	// events a plan may hold.
	MaxPlannedEvents = 5_000_000
)

// Duration is a time.Duration written in TOML as a Go duration string
// ("250ms", "1m30s").
type Duration time.Duration

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("not a duration (write e.g. \"250ms\" or \"2s\"): %q", b)
	}
	*d = Duration(v)
	return nil
}

// MarshalText writes the duration as a Go duration string.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Scenario is one simulation, as read from a TOML file
// (docs/SIMULATOR.md documents every field; simulations/scenarios holds
// examples). All durations are simulated (protocol) time.
type Scenario struct {
	// Version must be 1.
	Version int `toml:"version"`
	// Name labels the outputs (default: the file name without .toml).
	Name string `toml:"name"`
	// Seed drives every random choice of the plan: keys, topology, link
	// latencies, workload times, churn, partitions and adversaries.
	Seed int64 `toml:"seed"`
	// Duration is the simulated time the run covers after setup.
	Duration Duration `toml:"duration"`
	// TimeScale is the wall seconds one simulated second takes (>= 1).
	// Raise it until the run keeps up (the summary's clock-lag check).
	TimeScale float64 `toml:"time_scale"`
	// Slot is the chain's block interval.
	Slot Duration `toml:"slot"`
	// SampleInterval is the period of the time series (default 1s).
	SampleInterval Duration `toml:"sample_interval"`

	Nodes       NodeCounts   `toml:"nodes"`
	Topology    Topology     `toml:"topology"`
	Link        Link         `toml:"link"`
	Workload    Workload     `toml:"workload"`
	Churn       Churn        `toml:"churn"`
	Partitions  []Partition  `toml:"partitions"`
	Adversaries Adversaries  `toml:"adversaries"`
	Node        NodeSettings `toml:"node"`
}

// NodeCounts is how many nodes of each role run.
type NodeCounts struct {
	// Authorities seal blocks and vote on finality (in the genesis).
	Authorities int `toml:"authorities"`
	// Gateways relay and keep the ledger but publish nothing.
	Gateways int `toml:"gateways"`
	// Devices publish the workload's transactions, each signed with the
	// device's own key.
	Devices int `toml:"devices"`
}

// Total is the number of honest nodes.
func (n NodeCounts) Total() int { return n.Authorities + n.Gateways + n.Devices }

// Topology is how nodes are linked.
type Topology struct {
	// Kind is "random" (a connected random graph in which every node
	// dials Degree/2 others, so the mean degree is Degree) or "regions"
	// (the same graph, with link latencies taken from the regions'
	// latency matrix).
	Kind string `toml:"kind"`
	// Degree is the mean number of links per node.
	Degree int `toml:"degree"`
	// Regions (kind = "regions") lists the regions; nodes are assigned to
	// them at random in proportion to Share.
	Regions []Region `toml:"regions"`
	// LatencyMs (kind = "regions") is the one-way latency in milliseconds
	// between region i and region j (a square, symmetric matrix).
	LatencyMs [][]float64 `toml:"latency_ms"`
}

// Region is one region of a "regions" topology.
type Region struct {
	Name  string  `toml:"name"`
	Share float64 `toml:"share"`
}

// Link is the default link model.
type Link struct {
	// Latency is the one-way latency of a link (kind = "random").
	Latency Duration `toml:"latency"`
	// Jitter spreads latencies: each link's latency is drawn once,
	// uniformly in [latency - jitter, latency + jitter] (mocknet delivers
	// a link's bytes in order after a fixed delay, so there is no
	// per-packet jitter).
	Jitter Duration `toml:"jitter"`
	// Loss is the probability, in [0, 0.5], that one transmission of a
	// write on a link (a GossipSub RPC, a sync message) is lost. Streams
	// are reliable, as over QUIC or TCP: a lost write is sent again after
	// the transport's probe timeout, PTO = 2 × RTT + 25 ms = 4 × latency +
	// 25 ms, and holds back the writes behind it. So loss costs delay and
	// head-of-line blocking, not messages (docs/SIMULATOR.md).
	Loss float64 `toml:"loss"`
	// BandwidthKbps caps each link direction (kilobits per simulated
	// second); 0 is unlimited.
	BandwidthKbps float64 `toml:"bandwidth_kbps"`
}

// Workload is what devices publish.
type Workload struct {
	// TxPerDevicePerSec is each device's mean rate (Poisson arrivals).
	TxPerDevicePerSec float64 `toml:"tx_per_device_per_sec"`
	// PayloadBytes is the size of each reading's value.
	PayloadBytes int `toml:"payload_bytes"`
	// Start is when devices begin publishing (default 3s, after the
	// gossip meshes formed).
	Start Duration `toml:"start"`
	// StopBeforeEnd is how long before the end devices stop, so that the
	// last transactions can spread (default 3s).
	StopBeforeEnd Duration `toml:"stop_before_end"`
	// ExpectWindow: a node counts as expected to receive a transaction if
	// it is up, honest and on the publisher's side of any partition from
	// 2s before publication until ExpectWindow after it (default 10s).
	ExpectWindow Duration `toml:"expect_window"`
}

// Churn makes nodes leave and come back.
type Churn struct {
	// Fraction of the gateways and devices that churn (0 = none).
	Fraction float64 `toml:"fraction"`
	// Distribution of up and down times: "exponential" (default) or
	// "uniform" (on [0, 2×mean]).
	Distribution string `toml:"distribution"`
	// MeanUptime and MeanDowntime are the means of the distribution.
	MeanUptime   Duration `toml:"mean_uptime"`
	MeanDowntime Duration `toml:"mean_downtime"`
	// KeepStore: a returning node keeps its ledger (a restart) instead of
	// starting from an empty one (a new install).
	KeepStore bool `toml:"keep_store"`
}

// Partition splits the network for a while.
type Partition struct {
	// At and Heal are when the partition starts and ends (Heal 0 or past
	// the end: it never heals).
	At   Duration `toml:"at"`
	Heal Duration `toml:"heal"`
	// Fraction of the honest nodes, chosen at random, on side A
	// (default 0.5); ignored if Regions is set.
	Fraction float64 `toml:"fraction"`
	// Regions, if set, puts the nodes of these regions on side A.
	Regions []string `toml:"regions"`
}

// Adversaries are misbehaving peers. Spammers and silent peers are extra
// peers (not counted in Nodes), each linked like a node.
type Adversaries struct {
	// Spammers publish transactions with bad signatures on the
	// transaction topic.
	Spammers int `toml:"spammers"`
	// SpamPerSec is each spammer's rate.
	SpamPerSec float64 `toml:"spam_per_sec"`
	// Silent peers join every topic but never forward anything (their
	// validators ignore every message).
	Silent int `toml:"silent"`
	// OfflineAuthorities authorities go offline at OfflineAt, for good.
	OfflineAuthorities int      `toml:"offline_authorities"`
	OfflineAt          Duration `toml:"offline_at"`
}

// NodeSettings are node options for every simulated node.
type NodeSettings struct {
	// SigCacheSize is each node's verified-signature cache (default
	// 4096; the daemon's default of 200,000 costs ~10 MB a node).
	SigCacheSize int `toml:"sig_cache_size"`
	// SyncInterval is how often a node polls peers for blocks (default
	// the node's, 2s).
	SyncInterval Duration `toml:"sync_interval"`
	// StartConcurrency bounds how many nodes start at once (default 16).
	StartConcurrency int `toml:"start_concurrency"`
	// CertGossip is who originates finality-certificate messages:
	// "authorities" (the node's default, node option
	// WithCertsFromAuthoritiesOnly; the others only relay) or "all".
	CertGossip string `toml:"cert_gossip"`
}

// LoadScenario reads, decodes, defaults and validates a scenario file.
func LoadScenario(path string) (*Scenario, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("scenario: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxScenarioBytes+1))
	if err != nil {
		return nil, fmt.Errorf("scenario %s: %w", path, err)
	}
	if len(data) > MaxScenarioBytes {
		return nil, fmt.Errorf("scenario %s: larger than %d bytes", path, MaxScenarioBytes)
	}
	s, err := ParseScenario(data)
	if err != nil {
		return nil, fmt.Errorf("scenario %s: %w", path, err)
	}
	if s.Name == "" {
		base := path[strings.LastIndexAny(path, `/\`)+1:]
		s.Name = strings.TrimSuffix(base, ".toml")
	}
	return s, nil
}

// ParseScenario decodes a scenario document strictly (unknown keys are
// errors), fills in defaults and validates it.
func ParseScenario(data []byte) (*Scenario, error) {
	var peek struct {
		Version *int `toml:"version"`
	}
	if err := toml.Unmarshal(data, &peek); err != nil {
		return nil, tomlError(err)
	}
	if peek.Version == nil {
		return nil, errors.New("version: missing; the file must start with version = 1")
	}
	if *peek.Version != Version {
		return nil, fmt.Errorf("version: %d is not supported; this sixd reads version = %d", *peek.Version, Version)
	}
	s := &Scenario{}
	dec := toml.NewDecoder(bytes.NewReader(data)).DisallowUnknownFields()
	if err := dec.Decode(s); err != nil {
		return nil, tomlError(err)
	}
	s.Default()
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return s, nil
}

func tomlError(err error) error {
	var strict *toml.StrictMissingError
	if errors.As(err, &strict) {
		var keys []string
		for _, e := range strict.Errors {
			keys = append(keys, strings.Join(e.Key(), "."))
		}
		return fmt.Errorf("unknown key(s): %s", strings.Join(keys, ", "))
	}
	var de *toml.DecodeError
	if errors.As(err, &de) {
		row, col := de.Position()
		key := strings.Join(de.Key(), ".")
		if key != "" {
			return fmt.Errorf("%s: line %d, column %d: %s", key, row, col, de.Error())
		}
		return fmt.Errorf("line %d, column %d: %s", row, col, de.Error())
	}
	return err
}

// Default fills in the fields left out.
func (s *Scenario) Default() {
	if s.Version == 0 {
		s.Version = Version
	}
	if s.TimeScale == 0 {
		s.TimeScale = 1
	}
	if s.Slot == 0 {
		s.Slot = Duration(time.Second)
	}
	if s.SampleInterval == 0 {
		s.SampleInterval = Duration(time.Second)
	}
	if s.Topology.Kind == "" {
		s.Topology.Kind = "random"
	}
	if s.Topology.Degree == 0 {
		s.Topology.Degree = 8
	}
	if s.Workload.Start == 0 {
		s.Workload.Start = Duration(3 * time.Second)
	}
	if s.Workload.StopBeforeEnd == 0 {
		s.Workload.StopBeforeEnd = Duration(3 * time.Second)
	}
	if s.Workload.ExpectWindow == 0 {
		s.Workload.ExpectWindow = Duration(10 * time.Second)
	}
	if s.Workload.PayloadBytes == 0 {
		s.Workload.PayloadBytes = 64
	}
	if s.Churn.Distribution == "" {
		s.Churn.Distribution = "exponential"
	}
	for i := range s.Partitions {
		if s.Partitions[i].Fraction == 0 && len(s.Partitions[i].Regions) == 0 {
			s.Partitions[i].Fraction = 0.5
		}
	}
	if s.Node.SigCacheSize == 0 {
		s.Node.SigCacheSize = 4096
	}
	if s.Node.StartConcurrency == 0 {
		s.Node.StartConcurrency = 16
	}
	if s.Node.CertGossip == "" {
		s.Node.CertGossip = "authorities"
	}
}

// Validate checks every field and names the ones that are wrong.
func (s *Scenario) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if s.Version != Version {
		bad("version", "%d is not supported; use %d", s.Version, Version)
	}
	if d := s.Duration.D(); d <= 0 || d > MaxDuration {
		bad("duration", "%s is outside (0, %s]", d, MaxDuration)
	}
	if !(s.TimeScale >= 1 && s.TimeScale <= MaxTimeScale) {
		bad("time_scale", "%v is outside [1, %d] (wall seconds per simulated second)", s.TimeScale, MaxTimeScale)
	}
	if d := s.Slot.D(); d < 50*time.Millisecond || d > 10*time.Minute || d%time.Millisecond != 0 {
		bad("slot", "%s must be whole milliseconds in [50ms, 10m]", d)
	}
	if d := s.SampleInterval.D(); d < 10*time.Millisecond {
		bad("sample_interval", "%s is below 10ms", d)
	}
	n := s.Nodes
	switch {
	case n.Authorities < 1:
		bad("nodes.authorities", "%d: need at least 1", n.Authorities)
	case n.Authorities > 64:
		bad("nodes.authorities", "%d is above 64", n.Authorities)
	}
	if n.Gateways < 0 {
		bad("nodes.gateways", "%d is negative", n.Gateways)
	}
	if n.Devices < 0 {
		bad("nodes.devices", "%d is negative", n.Devices)
	}
	total := n.Total() + s.Adversaries.Spammers + s.Adversaries.Silent
	if total > MaxNodes {
		bad("nodes", "%d peers in all is above %d", total, MaxNodes)
	}
	if total < 2 {
		bad("nodes", "need at least 2 peers, got %d", total)
	}
	t := s.Topology
	switch t.Kind {
	case "random":
		if len(t.Regions) > 0 || len(t.LatencyMs) > 0 {
			bad("topology.regions", "only for kind = \"regions\"")
		}
	case "regions":
		if len(t.Regions) < 1 {
			bad("topology.regions", "kind = \"regions\" needs at least one region")
		}
		names := map[string]bool{}
		sum := 0.0
		for i, r := range t.Regions {
			if r.Name == "" || names[r.Name] {
				bad(fmt.Sprintf("topology.regions[%d].name", i), "empty or repeated %q", r.Name)
			}
			names[r.Name] = true
			if !(r.Share > 0) {
				bad(fmt.Sprintf("topology.regions[%d].share", i), "%v must be positive", r.Share)
			}
			sum += r.Share
		}
		if len(t.LatencyMs) != len(t.Regions) {
			bad("topology.latency_ms", "needs %d rows (one per region), got %d", len(t.Regions), len(t.LatencyMs))
		} else {
			for i, row := range t.LatencyMs {
				if len(row) != len(t.Regions) {
					bad(fmt.Sprintf("topology.latency_ms[%d]", i), "needs %d columns, got %d", len(t.Regions), len(row))
					continue
				}
				for j, v := range row {
					if !(v >= 0 && v <= 10_000) {
						bad(fmt.Sprintf("topology.latency_ms[%d][%d]", i, j), "%v ms is outside [0, 10000]", v)
					} else if j < len(t.LatencyMs) && i < len(t.LatencyMs[j]) && t.LatencyMs[j][i] != v {
						bad(fmt.Sprintf("topology.latency_ms[%d][%d]", i, j), "%v differs from [%d][%d] = %v (the matrix must be symmetric)", v, j, i, t.LatencyMs[j][i])
					}
				}
			}
		}
	default:
		bad("topology.kind", "%q: use \"random\" or \"regions\"", t.Kind)
	}
	if t.Degree < 1 || t.Degree > 64 {
		bad("topology.degree", "%d is outside [1, 64]", t.Degree)
	} else if t.Degree >= total && total >= 2 {
		bad("topology.degree", "%d needs more than %d peers", t.Degree, total)
	}
	l := s.Link
	if l.Latency < 0 || l.Latency.D() > 10*time.Second {
		bad("link.latency", "%s is outside [0, 10s]", l.Latency.D())
	}
	if l.Jitter < 0 || (t.Kind == "random" && l.Jitter > l.Latency) {
		bad("link.jitter", "%s must be in [0, latency = %s]", l.Jitter.D(), l.Latency.D())
	}
	if !(l.Loss >= 0 && l.Loss <= 0.5) {
		bad("link.loss", "%v is outside [0, 0.5]", l.Loss)
	}
	if !(l.BandwidthKbps >= 0) {
		bad("link.bandwidth_kbps", "%v is negative", l.BandwidthKbps)
	}
	w := s.Workload
	if !(w.TxPerDevicePerSec >= 0 && w.TxPerDevicePerSec <= 1000) {
		bad("workload.tx_per_device_per_sec", "%v is outside [0, 1000]", w.TxPerDevicePerSec)
	}
	if w.PayloadBytes < 1 || w.PayloadBytes > 16<<10 {
		bad("workload.payload_bytes", "%d is outside [1, 16384]", w.PayloadBytes)
	}
	if w.Start < 0 || w.Start >= s.Duration {
		bad("workload.start", "%s must be in [0, duration)", w.Start.D())
	}
	if w.StopBeforeEnd < 0 || w.Start.D()+w.StopBeforeEnd.D() > s.Duration.D() {
		bad("workload.stop_before_end", "%s: start + stop_before_end exceeds duration", w.StopBeforeEnd.D())
	}
	if w.ExpectWindow <= 0 {
		bad("workload.expect_window", "%s must be positive", w.ExpectWindow.D())
	}
	c := s.Churn
	if !(c.Fraction >= 0 && c.Fraction <= 1) {
		bad("churn.fraction", "%v is outside [0, 1]", c.Fraction)
	}
	switch c.Distribution {
	case "exponential", "uniform":
	default:
		bad("churn.distribution", "%q: use \"exponential\" or \"uniform\"", c.Distribution)
	}
	if c.Fraction > 0 && (c.MeanUptime.D() < 100*time.Millisecond || c.MeanDowntime.D() < 100*time.Millisecond) {
		bad("churn.mean_uptime", "mean_uptime and mean_downtime must be at least 100ms when fraction > 0")
	}
	for i, p := range s.Partitions {
		f := fmt.Sprintf("partitions[%d]", i)
		if p.At < 0 || p.At >= s.Duration {
			bad(f+".at", "%s must be in [0, duration)", p.At.D())
		}
		if p.Heal != 0 && p.Heal <= p.At {
			bad(f+".heal", "%s must come after at = %s (or be left out)", p.Heal.D(), p.At.D())
		}
		if len(p.Regions) > 0 {
			if t.Kind != "regions" {
				bad(f+".regions", "needs topology.kind = \"regions\"")
			}
			for _, r := range p.Regions {
				if s.regionIndex(r) < 0 {
					bad(f+".regions", "unknown region %q", r)
				}
			}
		} else if !(p.Fraction > 0 && p.Fraction < 1) {
			bad(f+".fraction", "%v is outside (0, 1)", p.Fraction)
		}
	}
	a := s.Adversaries
	if a.Spammers < 0 || a.Silent < 0 {
		bad("adversaries", "spammers and silent must not be negative")
	}
	if a.Spammers > 0 && !(a.SpamPerSec > 0 && a.SpamPerSec <= 1000) {
		bad("adversaries.spam_per_sec", "%v is outside (0, 1000]", a.SpamPerSec)
	}
	if a.OfflineAuthorities < 0 || a.OfflineAuthorities > n.Authorities {
		bad("adversaries.offline_authorities", "%d is outside [0, nodes.authorities = %d]", a.OfflineAuthorities, n.Authorities)
	}
	if a.OfflineAuthorities > 0 && (a.OfflineAt < 0 || a.OfflineAt >= s.Duration) {
		bad("adversaries.offline_at", "%s must be in [0, duration)", a.OfflineAt.D())
	}
	if s.Node.SigCacheSize < 1 {
		bad("node.sig_cache_size", "%d must be positive", s.Node.SigCacheSize)
	}
	if s.Node.SyncInterval < 0 {
		bad("node.sync_interval", "%s is negative", s.Node.SyncInterval.D())
	}
	if s.Node.StartConcurrency < 1 || s.Node.StartConcurrency > 1024 {
		bad("node.start_concurrency", "%d is outside [1, 1024]", s.Node.StartConcurrency)
	}
	// Bound what the plan must hold in memory.
	secs := s.Duration.D().Seconds()
	if txs := float64(n.Devices) * w.TxPerDevicePerSec * secs; txs > MaxPlannedEvents {
		bad("workload.tx_per_device_per_sec", "%.0f transactions over the run (devices × rate × duration) exceed %d", txs, MaxPlannedEvents)
	}
	if spam := float64(a.Spammers) * a.SpamPerSec * secs; spam > MaxPlannedEvents {
		bad("adversaries.spam_per_sec", "%.0f spam messages over the run exceed %d", spam, MaxPlannedEvents)
	}
	if c.Fraction > 0 && c.MeanUptime > 0 && c.MeanDowntime > 0 {
		cycles := c.Fraction * float64(n.Gateways+n.Devices) * secs / (c.MeanUptime.D() + c.MeanDowntime.D()).Seconds()
		if cycles > MaxPlannedEvents/2 {
			bad("churn.mean_uptime", "about %.0f leave/join cycles over the run exceed %d", cycles, MaxPlannedEvents/2)
		}
	}
	switch s.Node.CertGossip {
	case "all", "authorities":
	default:
		bad("node.cert_gossip", "%q: use \"all\" or \"authorities\"", s.Node.CertGossip)
	}
	return errors.Join(errs...)
}

func (s *Scenario) regionIndex(name string) int {
	for i, r := range s.Topology.Regions {
		if r.Name == name {
			return i
		}
	}
	return -1
}

// MeanLinkLatency is the scenario's mean one-way link latency (for the
// propagation lower bound).
func (s *Scenario) MeanLinkLatency() time.Duration {
	if s.Topology.Kind != "regions" {
		return s.Link.Latency.D()
	}
	// Expected latency of a link between two nodes placed by share.
	sum := 0.0
	for _, r := range s.Topology.Regions {
		sum += r.Share
	}
	var mean float64
	for i, ri := range s.Topology.Regions {
		for j, rj := range s.Topology.Regions {
			mean += ri.Share / sum * rj.Share / sum * s.Topology.LatencyMs[i][j]
		}
	}
	return time.Duration(mean * float64(time.Millisecond))
}

// ScaleNodes changes the node count to total, keeping the authorities and
// the gateway-to-device proportion.
func (s *Scenario) ScaleNodes(total int) error {
	a := s.Nodes.Authorities
	if total <= a || total > MaxNodes {
		return fmt.Errorf("--nodes: %d must be above the %d authorities and at most %d", total, a, MaxNodes)
	}
	rest := s.Nodes.Gateways + s.Nodes.Devices
	g := 0
	if rest > 0 {
		g = int(float64(total-a) * float64(s.Nodes.Gateways) / float64(rest))
	}
	s.Nodes.Gateways, s.Nodes.Devices = g, total-a-g
	return nil
}
