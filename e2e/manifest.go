package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"
)

// Manifest is an e2e run: the network, the load, the perturbations and how
// fast the network must converge after each one. docs/RELIABILITY.md
// documents every field.
type Manifest struct {
	Version int    `toml:"version"`
	Name    string `toml:"name"`
	Seed    uint64 `toml:"seed"`
	// Duration is how long the load runs; perturbations happen inside it.
	Duration Duration `toml:"duration"`
	// Slot is the block interval of the testnet's genesis.
	Slot Duration `toml:"slot"`
	// ConvergeWithin bounds the time every node takes to reach the
	// finalized height of the network after a fault heals, and after the
	// run. Default 60s.
	ConvergeWithin Duration `toml:"converge_within"`
	// MaxRSSGrowthMB is how much a node's resident memory may grow from
	// its first sample after start-up to its last. Default 256.
	MaxRSSGrowthMB int `toml:"max_rss_growth_mb"`

	Network Network   `toml:"network"`
	Load    Load      `toml:"load"`
	Perturb []Perturb `toml:"perturb"`
	Random  *Random   `toml:"random"`
}

// Network is the shape of the testnet (sixd testnet's counts).
type Network struct {
	Bootstrap   int `toml:"bootstrap"`
	Authorities int `toml:"authorities"`
	Gateways    int `toml:"gateways"`
	Devices     int `toml:"devices"`
}

// Load drives signed data records through some nodes' APIs.
type Load struct {
	// Rate is the offered rate in transactions per second, all sensors
	// together.
	Rate float64 `toml:"rate"`
	// Sensors is the number of signing keys; each sends its next
	// transaction only once the previous one is committed or given up.
	Sensors int `toml:"sensors"`
	// Through names the nodes whose APIs take the load (default: every
	// gateway and device, else every node).
	Through []string `toml:"through"`
}

// Perturb is one fault at a time in the run.
type Perturb struct {
	At   Duration `toml:"at"`
	Kind Kind     `toml:"kind"`
	// Target is a node name; "random-authority" or "random-node" picks
	// one from the seed. A partition's target is ignored (the nodes are
	// split in two at random, each side keeping at least one node).
	Target string `toml:"target"`
	// For is how long the fault lasts: a killed node's time down, a
	// paused node's pause, a cut's length. Default 5s.
	For Duration `toml:"for"`
}

// Random appends generated perturbations, one after another, after the
// listed ones.
type Random struct {
	Count int    `toml:"count"`
	Kinds []Kind `toml:"kinds"`
	// Targets is "authority" (default) or "any".
	Targets string   `toml:"targets"`
	Every   Duration `toml:"every"` // mean spacing from one fault's end to the next's start
	For     Duration `toml:"for"`
	Start   Duration `toml:"start"` // when the first may happen (default 10s)
}

// Kind is a perturbation.
type Kind string

// The perturbations.
const (
	KindKill       Kind = "kill"        // SIGKILL, restarted after For
	KindPause      Kind = "pause"       // SIGSTOP / docker pause for For
	KindDisconnect Kind = "disconnect"  // the node cut off from every other for For
	KindPartition  Kind = "partition"   // the network split in two for For
	KindRestartAll Kind = "restart-all" // every node killed at once and restarted after For
	KindDiskFull   Kind = "disk-full"   // the node's home filled for For (needs root)
	KindDiskRO     Kind = "disk-ro"     // the node's home read-only for For (needs root)
)

var kinds = []Kind{KindKill, KindPause, KindDisconnect, KindPartition, KindRestartAll, KindDiskFull, KindDiskRO}

// isDisk reports whether k is a disk fault.
func (k Kind) isDisk() bool { return k == KindDiskFull || k == KindDiskRO }

// hasDiskFaults reports whether the plan has a disk fault.
func hasDiskFaults(plan []Fault) bool {
	for _, f := range plan {
		if f.Kind.isDisk() {
			return true
		}
	}
	return false
}

// Duration is a time.Duration written as "5s" in TOML.
type Duration struct{ time.Duration }

// UnmarshalText parses a Go duration.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

// MarshalText writes a Go duration.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// ErrManifest is wrapped by every manifest error.
var ErrManifest = errors.New("e2e manifest")

const maxManifestBytes = 1 << 20

// LoadManifest reads and validates a manifest file.
func LoadManifest(path string) (*Manifest, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrManifest, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxManifestBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrManifest, path, err)
	}
	m, err := ParseManifest(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// ParseManifest decodes (unknown keys are errors), fills defaults and
// validates.
func ParseManifest(data []byte) (*Manifest, error) {
	if len(data) > maxManifestBytes {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrManifest, maxManifestBytes)
	}
	var m Manifest
	dec := toml.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		var strict *toml.StrictMissingError
		if errors.As(err, &strict) {
			return nil, fmt.Errorf("%w: %s", ErrManifest, strings.TrimSpace(strict.String()))
		}
		return nil, fmt.Errorf("%w: %w", ErrManifest, err)
	}
	m.defaults()
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

func (m *Manifest) defaults() {
	if m.Slot.Duration == 0 {
		m.Slot.Duration = time.Second
	}
	if m.ConvergeWithin.Duration == 0 {
		m.ConvergeWithin.Duration = time.Minute
	}
	if m.MaxRSSGrowthMB == 0 {
		m.MaxRSSGrowthMB = 256
	}
	if m.Load.Sensors == 0 {
		m.Load.Sensors = 10
	}
	for i := range m.Perturb {
		if m.Perturb[i].For.Duration == 0 {
			m.Perturb[i].For.Duration = 5 * time.Second
		}
	}
	if r := m.Random; r != nil {
		if r.Targets == "" {
			r.Targets = "authority"
		}
		if r.For.Duration == 0 {
			r.For.Duration = 3 * time.Second
		}
		if r.Start.Duration == 0 {
			r.Start.Duration = 10 * time.Second
		}
	}
}

func bad(field, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrManifest, field, fmt.Sprintf(format, args...))
}

// Validate checks every field, naming the first bad one.
func (m *Manifest) Validate() error {
	n := m.Network
	total := n.Bootstrap + n.Authorities + n.Gateways + n.Devices
	switch {
	case m.Version != 1:
		return bad("version", "must be 1, not %d", m.Version)
	case m.Name == "":
		return bad("name", "required")
	case m.Duration.Duration < 5*time.Second || m.Duration.Duration > 24*time.Hour:
		return bad("duration", "must be within [5s, 24h], not %s", m.Duration)
	case m.Slot.Duration < 100*time.Millisecond || m.Slot.Duration > time.Minute:
		return bad("slot", "must be within [100ms, 1m]")
	case m.ConvergeWithin.Duration < time.Second:
		return bad("converge_within", "must be at least 1s")
	case m.MaxRSSGrowthMB < 1:
		return bad("max_rss_growth_mb", "must be positive")
	case n.Authorities < 1 || n.Bootstrap < 0 || n.Gateways < 0 || n.Devices < 0:
		return bad("network", "needs at least one authority and no negative counts")
	case total > 32:
		return bad("network", "at most 32 nodes, not %d", total)
	case m.Load.Rate <= 0 || m.Load.Rate > 10_000:
		return bad("load.rate", "must be within (0, 10000]")
	case m.Load.Sensors < 1 || m.Load.Sensors > 1000:
		return bad("load.sensors", "must be within [1, 1000]")
	}
	names := nodeNames(n)
	for _, t := range m.Load.Through {
		if !slices.Contains(names, t) {
			return bad("load.through", "no node %q (nodes: %s)", t, strings.Join(names, ", "))
		}
	}
	for i, p := range m.Perturb {
		field := fmt.Sprintf("perturb[%d]", i)
		if !slices.Contains(kinds, p.Kind) {
			return bad(field+".kind", "%q is not one of %v", p.Kind, kinds)
		}
		if p.At.Duration < 0 || p.At.Duration+p.For.Duration > m.Duration.Duration {
			return bad(field+".at", "the fault (%s for %s) must end within the run's duration %s", p.At, p.For, m.Duration)
		}
		if p.For.Duration <= 0 || p.For.Duration > time.Hour {
			return bad(field+".for", "must be within (0, 1h]")
		}
		switch {
		case p.Kind == KindPartition || p.Kind == KindRestartAll:
		case p.Target == "random-authority" || p.Target == "random-node":
		case !slices.Contains(names, p.Target):
			return bad(field+".target", "no node %q", p.Target)
		}
		if p.Kind == KindPartition && total < 2 {
			return bad(field, "a partition needs two nodes")
		}
	}
	if r := m.Random; r != nil {
		switch {
		case r.Count < 1 || r.Count > 100_000:
			return bad("random.count", "must be within [1, 100000]")
		case len(r.Kinds) == 0:
			return bad("random.kinds", "required")
		case r.Targets != "authority" && r.Targets != "any":
			return bad("random.targets", `must be "authority" or "any"`)
		case r.Every.Duration <= 0 || r.For.Duration <= 0:
			return bad("random.every", "every and for must be positive")
		}
		for _, k := range r.Kinds {
			if !slices.Contains(kinds, k) {
				return bad("random.kinds", "%q is not one of %v", k, kinds)
			}
		}
	}
	return nil
}

// nodeNames lists the testnet's nodes in sixd testnet's order.
func nodeNames(n Network) []string {
	var out []string
	for _, k := range []struct {
		name  string
		count int
	}{{"bootstrap", n.Bootstrap}, {"authority", n.Authorities}, {"gateway", n.Gateways}, {"device", n.Devices}} {
		for i := range k.count {
			out = append(out, fmt.Sprintf("%s-%d", k.name, i))
		}
	}
	return out
}

// Fault is one planned perturbation with its targets resolved.
type Fault struct {
	At      time.Duration `json:"at_ns"`
	Kind    Kind          `json:"kind"`
	Targets []string      `json:"targets"` // the node, the cut-off side of a partition, or every node
	For     time.Duration `json:"for_ns"`
}

func (f Fault) String() string {
	return fmt.Sprintf("%s %s at %s for %s", f.Kind, strings.Join(f.Targets, ","), f.At.Round(time.Millisecond), f.For)
}

// Plan resolves the manifest's perturbations into faults, in time order:
// a pure function of the manifest (and its seed). Faults never overlap:
// a fault that would start before the previous one healed waits for it.
func (m *Manifest) Plan() []Fault {
	rng := rand.New(rand.NewPCG(m.Seed, 0x5e2d0))
	names := nodeNames(m.Network)
	var auths []string
	for _, nm := range names {
		if strings.HasPrefix(nm, "authority-") {
			auths = append(auths, nm)
		}
	}
	resolve := func(kind Kind, target string) []string {
		switch {
		case kind == KindRestartAll:
			return slices.Clone(names)
		case kind == KindPartition:
			// One side: a random non-empty proper subset, never holding
			// every authority (so the other side is not just idle nodes).
			perm := rng.Perm(len(names))
			k := 1 + rng.IntN(len(names)-1)
			side := make([]string, 0, k)
			for _, i := range perm[:k] {
				side = append(side, names[i])
			}
			slices.Sort(side)
			return side
		case target == "random-authority":
			return []string{auths[rng.IntN(len(auths))]}
		case target == "random-node":
			return []string{names[rng.IntN(len(names))]}
		}
		return []string{target}
	}
	var out []Fault
	var free time.Duration // when the previous fault has healed
	add := func(at time.Duration, kind Kind, target string, d time.Duration) {
		at = max(at, free)
		if at+d > m.Duration.Duration {
			return
		}
		out = append(out, Fault{At: at, Kind: kind, Targets: resolve(kind, target), For: d})
		free = at + d
	}
	ps := slices.Clone(m.Perturb)
	slices.SortStableFunc(ps, func(a, b Perturb) int { return int(a.At.Duration - b.At.Duration) })
	for _, p := range ps {
		add(p.At.Duration, p.Kind, p.Target, p.For.Duration)
	}
	if r := m.Random; r != nil {
		at := max(r.Start.Duration, free)
		for range r.Count {
			kind := r.Kinds[rng.IntN(len(r.Kinds))]
			target := "random-authority"
			if r.Targets == "any" {
				target = "random-node"
			}
			// Spacing uniform in [every/2, 3·every/2].
			gap := r.Every.Duration/2 + time.Duration(rng.Int64N(int64(r.Every.Duration)+1))
			add(at, kind, target, r.For.Duration)
			at = free + gap
		}
	}
	return out
}
