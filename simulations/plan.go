package simulations

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"time"
)

// Roles of the peers in a plan.
const (
	RoleAuthority = "authority"
	RoleGateway   = "gateway"
	RoleDevice    = "device"
	RoleSpammer   = "spammer"
	RoleSilent    = "silent"
)

// Event kinds of the fault schedule.
const (
	EventLeave     = "leave"     // a churning node stops
	EventJoin      = "join"      // it starts again
	EventOffline   = "offline"   // an authority stops for good
	EventPartition = "partition" // links across the partition's sides go down
	EventHeal      = "heal"      // and come back
)

// Plan is everything a scenario and its seed decide before the run: who
// runs, who links to whom with what latency, when each transaction is
// published and when each fault happens. NewPlan is a pure function of the
// scenario, so one seed always gives the same plan.
type Plan struct {
	Scenario string
	Seed     int64
	// Peers lists every peer: honest nodes first (authorities, gateways,
	// devices), then spammers, then silent peers.
	Peers []PlanPeer
	// Edges are the links, A < B, sorted.
	Edges []Edge
	// Txs are the workload's publications, sorted by time.
	Txs []Publish
	// Spam are the spammers' invalid publications, sorted by time.
	Spam []Publish
	// Events is the fault schedule, sorted by time.
	Events []Event
	// Sides[i][p] is true if peer p is on side A of partition i.
	Sides [][]bool
}

// PlanPeer is one peer of the plan.
type PlanPeer struct {
	Role   string
	Region int
	// KeySeed is the Ed25519 seed of the peer's key.
	KeySeed [32]byte
}

// Edge is a link between peers A and B.
type Edge struct {
	A, B    int
	Latency time.Duration
}

// Publish is one message a peer publishes at a time.
type Publish struct {
	At   time.Duration
	Peer int
}

// Event is one fault: Peer is set for leave, join and offline; Partition
// indexes Plan.Sides for partition and heal.
type Event struct {
	At        time.Duration
	Kind      string
	Peer      int
	Partition int
}

// Random streams, one per part of the plan, so that changing the workload
// leaves the topology alone.
const (
	streamTopology = iota + 1
	streamLatency
	streamRegions
	streamWorkload
	streamChurn
	streamPartitions
	streamAdversaries
)

func newRand(seed int64, stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15^stream))
}

// NewPlan draws the plan of a validated scenario.
func NewPlan(s *Scenario) (*Plan, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	p := &Plan{Scenario: s.Name, Seed: s.Seed}
	n := s.Nodes
	add := func(role string, k int) {
		for range k {
			i := len(p.Peers)
			var pre [16]byte
			binary.BigEndian.PutUint64(pre[:8], uint64(s.Seed))
			binary.BigEndian.PutUint64(pre[8:], uint64(i))
			p.Peers = append(p.Peers, PlanPeer{Role: role, KeySeed: sha256.Sum256(append([]byte("sixdomain-sim-key"), pre[:]...))})
		}
	}
	add(RoleAuthority, n.Authorities)
	add(RoleGateway, n.Gateways)
	add(RoleDevice, n.Devices)
	add(RoleSpammer, s.Adversaries.Spammers)
	add(RoleSilent, s.Adversaries.Silent)
	total := len(p.Peers)

	// Regions.
	if s.Topology.Kind == "regions" {
		r := newRand(s.Seed, streamRegions)
		var cum []float64
		sum := 0.0
		for _, reg := range s.Topology.Regions {
			sum += reg.Share
			cum = append(cum, sum)
		}
		for i := range p.Peers {
			x := r.Float64() * sum
			k, _ := slices.BinarySearch(cum, x)
			p.Peers[i].Region = min(k, len(cum)-1)
		}
	}

	// Topology: a random spanning tree (so the graph is connected), then
	// random links until the mean degree is reached.
	r := newRand(s.Seed, streamTopology)
	seen := map[[2]int]bool{}
	link := func(a, b int) bool {
		if a == b {
			return false
		}
		if a > b {
			a, b = b, a
		}
		if seen[[2]int{a, b}] {
			return false
		}
		seen[[2]int{a, b}] = true
		p.Edges = append(p.Edges, Edge{A: a, B: b})
		return true
	}
	order := r.Perm(total)
	for i := 1; i < total; i++ {
		link(order[i], order[r.IntN(i)])
	}
	want := total * s.Topology.Degree / 2
	maxEdges := total * (total - 1) / 2
	want = min(want, maxEdges)
	for len(p.Edges) < want {
		link(r.IntN(total), r.IntN(total))
	}
	slices.SortFunc(p.Edges, func(x, y Edge) int {
		if x.A != y.A {
			return x.A - y.A
		}
		return x.B - y.B
	})
	lr := newRand(s.Seed, streamLatency)
	for i := range p.Edges {
		e := &p.Edges[i]
		base := s.Link.Latency.D()
		if s.Topology.Kind == "regions" {
			ms := s.Topology.LatencyMs[p.Peers[e.A].Region][p.Peers[e.B].Region]
			base = time.Duration(ms * float64(time.Millisecond))
		}
		if j := s.Link.Jitter.D(); j > 0 {
			base += time.Duration((lr.Float64()*2 - 1) * float64(j))
		}
		e.Latency = max(base, 0).Round(time.Microsecond)
	}

	// Workload: Poisson arrivals per device.
	wr := newRand(s.Seed, streamWorkload)
	from, to := s.Workload.Start.D(), s.Duration.D()-s.Workload.StopBeforeEnd.D()
	if rate := s.Workload.TxPerDevicePerSec; rate > 0 {
		for i := n.Authorities + n.Gateways; i < n.Total(); i++ {
			for t := from + expDuration(wr, rate); t < to; t += expDuration(wr, rate) {
				p.Txs = append(p.Txs, Publish{At: t, Peer: i})
			}
		}
	}
	sortPublish(p.Txs)

	// Adversaries.
	ar := newRand(s.Seed, streamAdversaries)
	for i := n.Total(); i < n.Total()+s.Adversaries.Spammers; i++ {
		for t := from + expDuration(ar, s.Adversaries.SpamPerSec); t < to; t += expDuration(ar, s.Adversaries.SpamPerSec) {
			p.Spam = append(p.Spam, Publish{At: t, Peer: i})
		}
	}
	sortPublish(p.Spam)
	if k := s.Adversaries.OfflineAuthorities; k > 0 {
		for _, a := range ar.Perm(n.Authorities)[:k] {
			p.Events = append(p.Events, Event{At: s.Adversaries.OfflineAt.D(), Kind: EventOffline, Peer: a})
		}
	}

	// Churn among gateways and devices.
	if s.Churn.Fraction > 0 {
		cr := newRand(s.Seed, streamChurn)
		cand := n.Gateways + n.Devices
		k := int(math.Round(s.Churn.Fraction * float64(cand)))
		draw := func(mean time.Duration) time.Duration {
			if s.Churn.Distribution == "uniform" {
				return time.Duration(cr.Float64() * 2 * float64(mean))
			}
			return time.Duration(cr.ExpFloat64() * float64(mean))
		}
		for _, c := range cr.Perm(cand)[:k] {
			peer := n.Authorities + c
			t := draw(s.Churn.MeanUptime.D())
			for t < s.Duration.D() {
				p.Events = append(p.Events, Event{At: t.Round(time.Millisecond), Kind: EventLeave, Peer: peer})
				t += max(draw(s.Churn.MeanDowntime.D()), 10*time.Millisecond)
				if t >= s.Duration.D() {
					break
				}
				p.Events = append(p.Events, Event{At: t.Round(time.Millisecond), Kind: EventJoin, Peer: peer})
				t += max(draw(s.Churn.MeanUptime.D()), 10*time.Millisecond)
			}
		}
	}

	// Partitions.
	pr := newRand(s.Seed, streamPartitions)
	for i, part := range s.Partitions {
		side := make([]bool, total)
		if len(part.Regions) > 0 {
			for peer := range p.Peers {
				side[peer] = slices.Contains(part.Regions, s.Topology.Regions[p.Peers[peer].Region].Name)
			}
		} else {
			k := int(math.Round(part.Fraction * float64(total)))
			for _, peer := range pr.Perm(total)[:k] {
				side[peer] = true
			}
		}
		p.Sides = append(p.Sides, side)
		p.Events = append(p.Events, Event{At: part.At.D(), Kind: EventPartition, Partition: i})
		if part.Heal > 0 && part.Heal.D() < s.Duration.D() {
			p.Events = append(p.Events, Event{At: part.Heal.D(), Kind: EventHeal, Partition: i})
		}
	}
	slices.SortStableFunc(p.Events, func(x, y Event) int {
		if x.At != y.At {
			if x.At < y.At {
				return -1
			}
			return 1
		}
		return 0
	})
	return p, nil
}

func expDuration(r *rand.Rand, rate float64) time.Duration {
	return max(time.Duration(r.ExpFloat64()/rate*float64(time.Second)).Round(time.Microsecond), time.Microsecond)
}

func sortPublish(ps []Publish) {
	slices.SortStableFunc(ps, func(x, y Publish) int {
		switch {
		case x.At < y.At:
			return -1
		case x.At > y.At:
			return 1
		}
		return x.Peer - y.Peer
	})
}

// Honest reports whether peer i is a node (not a spammer or silent peer).
func (p *Plan) Honest(i int) bool {
	r := p.Peers[i].Role
	return r == RoleAuthority || r == RoleGateway || r == RoleDevice
}

// Up reports whether peer i runs during the whole of [from, to].
func (p *Plan) Up(i int, from, to time.Duration) bool {
	up := true
	for _, e := range p.Events {
		if e.At > to {
			break
		}
		if e.Peer != i || (e.Kind != EventLeave && e.Kind != EventJoin && e.Kind != EventOffline) {
			continue
		}
		if e.At < from {
			up = e.Kind == EventJoin
			continue
		}
		if e.Kind != EventJoin {
			return false
		}
	}
	return up
}

// Separated reports whether peers a and b are on different sides of a
// partition at any time in [from, to].
func (p *Plan) Separated(a, b int, from, to time.Duration) bool {
	active := map[int]time.Duration{}
	for _, e := range p.Events {
		switch e.Kind {
		case EventPartition:
			active[e.Partition] = e.At
		case EventHeal:
			if start, ok := active[e.Partition]; ok && p.Sides[e.Partition][a] != p.Sides[e.Partition][b] && start <= to && e.At >= from {
				return true
			}
			delete(active, e.Partition)
		}
	}
	for i, start := range active {
		if p.Sides[i][a] != p.Sides[i][b] && start <= to {
			return true
		}
	}
	return false
}

// Dump writes the plan as text, one line per item.
func (p *Plan) Dump(w io.Writer) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "plan %q seed %d peers %d edges %d txs %d spam %d events %d\n", p.Scenario, p.Seed,
		len(p.Peers), len(p.Edges), len(p.Txs), len(p.Spam), len(p.Events))
	for i, pp := range p.Peers {
		fmt.Fprintf(bw, "peer %d %s region %d key %s\n", i, pp.Role, pp.Region, hex.EncodeToString(pp.KeySeed[:8]))
	}
	for _, e := range p.Edges {
		fmt.Fprintf(bw, "edge %d %d %s\n", e.A, e.B, e.Latency)
	}
	for _, t := range p.Txs {
		fmt.Fprintf(bw, "tx %s %d\n", t.At, t.Peer)
	}
	for _, t := range p.Spam {
		fmt.Fprintf(bw, "spam %s %d\n", t.At, t.Peer)
	}
	for _, e := range p.Events {
		fmt.Fprintf(bw, "event %s %s peer %d partition %d\n", e.At, e.Kind, e.Peer, e.Partition)
	}
	for i, side := range p.Sides {
		fmt.Fprintf(bw, "side %d", i)
		for peer, a := range side {
			if a {
				fmt.Fprintf(bw, " %d", peer)
			}
		}
		fmt.Fprintln(bw)
	}
	return bw.Flush()
}

// Hash is the SHA-256 of the plan's dump, in hex.
func (p *Plan) Hash() string {
	h := sha256.New()
	_ = p.Dump(h) // writes to a hash never fail
	return hex.EncodeToString(h.Sum(nil))
}
