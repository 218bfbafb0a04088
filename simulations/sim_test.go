package simulations

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sixdomain/sixdomain/simulations/report"
)

// smallScenario is a 50-node swarm in real time (time_scale 1).
const smallScenario = `
version = 1
name = "test-small"
seed = 11
duration = "12s"
[nodes]
authorities = 4
gateways = 6
devices = 40
[topology]
degree = 8
[link]
latency = "20ms"
jitter = "5ms"
[workload]
tx_per_device_per_sec = 0.5
start = "2s"
stop_before_end = "3s"
`

func parse(t *testing.T, doc string) *Scenario {
	t.Helper()
	s, err := ParseScenario([]byte(doc))
	if err != nil {
		t.Fatalf("scenario: %v", err)
	}
	return s
}

func run(t *testing.T, s *Scenario) *Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := Run(ctx, s, Options{Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	for _, n := range res.Run.Notes {
		t.Log(n)
	}
	return res
}

func TestSmallSwarmDelivers(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a 50-node swarm")
	}
	res := run(t, parse(t, smallScenario))
	sum := report.Summarize(res.Run)
	t.Logf("delivery %.4f over %d messages; to all p50 %.1f ms; %d blocks", sum.Messages.DeliveryRatio,
		sum.Messages.Published, sum.Messages.ToAll.P50Ms, len(res.Run.Blocks))
	if sum.Messages.Published < 100 {
		t.Fatalf("only %d transactions published, want about 200", sum.Messages.Published)
	}
	if sum.Messages.DeliveryRatio < 0.99 {
		t.Fatalf("delivery ratio %.4f, want >= 0.99", sum.Messages.DeliveryRatio)
	}
	if len(res.Finalized) < 5 {
		t.Fatalf("observer finalized %d blocks in 12 simulated seconds", len(res.Finalized))
	}
	if !res.SamePrefix || !res.SameFinal {
		t.Fatalf("honest nodes disagree: same prefix %v, same final %v, heights %d..%d", res.SamePrefix, res.SameFinal, res.MinFinal, res.MaxFinal)
	}
	if res.Run.Forks != 0 || res.Run.Reorgs != 0 {
		t.Logf("forks %d, reorgs %d (allowed, but unexpected on a healthy swarm)", res.Run.Forks, res.Run.Reorgs)
	}
	for i, p := range res.Run.Peers {
		if p.BytesRecv == 0 || p.BytesSent == 0 {
			t.Fatalf("peer %d (%s) sent %d and received %d bytes", i, p.Role, p.BytesSent, p.BytesRecv)
		}
	}
	// The outputs: summary.json, CSVs and plots.
	dir := t.TempDir()
	if _, err := report.Write(dir, res.Run); err != nil {
		t.Fatal(err)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "summary.json")); len(m) != 1 {
		t.Fatal("no summary.json written")
	}
}

func TestPartitionHealResumesFinality(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a swarm")
	}
	s := parse(t, `
version = 1
name = "test-partition"
seed = 5
duration = "16s"
[nodes]
authorities = 4
gateways = 6
devices = 14
[link]
latency = "10ms"
[workload]
tx_per_device_per_sec = 0.2
start = "1s"
[[partitions]]
at = "4s"
heal = "9s"
fraction = 0.5
`)
	res := run(t, s)
	// Does the split leave a side with more than 2/3 of the authorities?
	side := res.Plan.Sides[0]
	a := 0
	for i := range s.Nodes.Authorities {
		if side[i] {
			a++
		}
	}
	stalls := 3*a <= 2*s.Nodes.Authorities && 3*(s.Nodes.Authorities-a) <= 2*s.Nodes.Authorities
	// A block sealed before the cut may still become final during it, from
	// votes cast before the cut but processed late (a loaded machine
	// delays processing, not the simulated clock). A block sealed during
	// the cut must not: no side has the votes.
	cut, heal := 4*time.Second, 9*time.Second
	sealed := map[uint64]time.Duration{}
	for _, b := range res.Run.Blocks {
		if t0, ok := sealed[b.Height]; !ok || b.Sealed < t0 {
			sealed[b.Height] = b.Sealed
		}
	}
	var before, during, after, violations int
	for _, f := range res.Finalized {
		switch {
		case f.At < cut:
			before++
		case f.At < heal:
			during++
			if t0, ok := sealed[f.Height]; !ok || t0 >= cut {
				violations++
			}
		default:
			after++
		}
	}
	t.Logf("authorities on side A: %d of %d (finality stalls: %v); finalized before/during/after: %d/%d/%d",
		a, s.Nodes.Authorities, stalls, before, during, after)
	if before == 0 {
		t.Fatal("nothing finalized before the partition")
	}
	if stalls && violations > 0 {
		t.Fatalf("%d blocks sealed during the partition were finalized during it, while no side had 2/3 of the authorities", violations)
	}
	if after < 2 {
		t.Fatalf("finality did not resume after the heal: %d blocks finalized after it", after)
	}
	if !res.SamePrefix || !res.SameFinal {
		t.Fatalf("after the heal, honest nodes disagree: same prefix %v, same final %v, heights %d..%d",
			res.SamePrefix, res.SameFinal, res.MinFinal, res.MaxFinal)
	}
}

func TestSpammerIsRejectedAndPenalised(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a swarm")
	}
	res := run(t, parse(t, `
version = 1
name = "test-spam"
seed = 3
duration = "10s"
[nodes]
authorities = 4
gateways = 6
devices = 10
[link]
latency = "10ms"
[workload]
tx_per_device_per_sec = 0.5
start = "1s"
[adversaries]
spammers = 1
spam_per_sec = 20
silent = 2
`))
	sum := report.Summarize(res.Run)
	t.Logf("spam: %d published, %d accepted, %d rejected; scores %v; honest delivery %.4f",
		res.SpamPublished, res.SpamDelivered, res.SpamRejected, res.SpammerScores, sum.Messages.DeliveryRatio)
	if res.SpamPublished < 50 {
		t.Fatalf("spammer published only %d messages", res.SpamPublished)
	}
	if res.SpamDelivered != 0 {
		t.Fatalf("%d invalid transactions were accepted by honest nodes", res.SpamDelivered)
	}
	if res.SpamRejected == 0 {
		t.Fatal("no honest validator rejected the spam")
	}
	if len(res.SpammerScores) != 1 || res.SpammerScores[0] >= 0 {
		t.Fatalf("spammer scores at its neighbours %v, want negative", res.SpammerScores)
	}
	// Silent peers cost the honest nodes nothing that matters.
	if sum.Messages.DeliveryRatio < 0.99 {
		t.Fatalf("delivery ratio %.4f with two silent peers, want >= 0.99", sum.Messages.DeliveryRatio)
	}
	if !res.SamePrefix || !res.SameFinal {
		t.Fatalf("honest nodes disagree: heights %d..%d", res.MinFinal, res.MaxFinal)
	}
}

// TestPlanDeterministic: one seed gives one topology, workload and fault
// schedule; another seed gives another.
func TestPlanDeterministic(t *testing.T) {
	for _, file := range []string{"churn.toml", "adversaries.toml", "regions.toml", "scale-10k.toml"} {
		s, err := LoadScenario(filepath.Join("scenarios", file))
		if err != nil {
			t.Fatal(err)
		}
		dump := func(seed int64) (string, *Plan) {
			c := *s
			c.Seed = seed
			p, err := NewPlan(&c)
			if err != nil {
				t.Fatal(err)
			}
			var b bytes.Buffer
			if err := p.Dump(&b); err != nil {
				t.Fatal(err)
			}
			return b.String(), p
		}
		a, pa := dump(s.Seed)
		b, pb := dump(s.Seed)
		if a != b || pa.Hash() != pb.Hash() {
			t.Fatalf("%s: two plans of seed %d differ", file, s.Seed)
		}
		c, _ := dump(s.Seed + 1)
		if a == c {
			t.Fatalf("%s: seeds %d and %d give the same plan", file, s.Seed, s.Seed+1)
		}
		if len(pa.Edges) < len(pa.Peers)-1 {
			t.Fatalf("%s: %d links cannot connect %d peers", file, len(pa.Edges), len(pa.Peers))
		}
		if !connected(pa) {
			t.Fatalf("%s: the topology is not connected", file)
		}
		t.Logf("%s: %d peers, %d links, %d txs, %d events, plan %s", file, len(pa.Peers), len(pa.Edges), len(pa.Txs), len(pa.Events), pa.Hash()[:16])
	}
}

func connected(p *Plan) bool {
	adj := make([][]int, len(p.Peers))
	for _, e := range p.Edges {
		adj[e.A] = append(adj[e.A], e.B)
		adj[e.B] = append(adj[e.B], e.A)
	}
	seen := make([]bool, len(p.Peers))
	stack := []int{0}
	seen[0] = true
	k := 1
	for len(stack) > 0 {
		v := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, w := range adj[v] {
			if !seen[w] {
				seen[w] = true
				k++
				stack = append(stack, w)
			}
		}
	}
	return k == len(p.Peers)
}

func TestExampleScenariosLoad(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("scenarios", "*.toml"))
	if err != nil || len(files) < 7 {
		t.Fatalf("example scenarios: %v (%d files)", err, len(files))
	}
	for _, f := range files {
		s, err := LoadScenario(f)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if _, err := NewPlan(s); err != nil {
			t.Fatalf("%s: plan: %v", f, err)
		}
	}
}

func TestScenarioErrorsNameTheField(t *testing.T) {
	base := "version = 1\nduration = \"10s\"\n[nodes]\nauthorities = 4\ndevices = 10\n"
	cases := []struct{ doc, field string }{
		{"duration = \"10s\"", "version: missing"},
		{"version = 2", "version: 2 is not supported"},
		{base + "bogus = 1", "unknown key(s): nodes.bogus"},
		{strings.Replace(base, `"10s"`, `"ten"`, 1), "duration"},
		{strings.Replace(base, `"10s"`, `"-1s"`, 1), "duration"},
		{base + "time_scale = 0.5", "time_scale"},
		{base + "slot = \"10ms\"", "slot"},
		{strings.Replace(base, "authorities = 4", "authorities = 0", 1), "nodes.authorities"},
		{base + "[topology]\nkind = \"ring\"", "topology.kind"},
		{base + "[topology]\ndegree = 100", "topology.degree"},
		{base + "[topology]\nkind = \"regions\"\nregions = [{name = \"a\", share = 1}]\nlatency_ms = [[1, 2]]", "topology.latency_ms[0]"},
		{base + "[topology]\nkind = \"regions\"\nregions = [{name = \"a\", share = 1}, {name = \"b\", share = 1}]\nlatency_ms = [[1, 2], [3, 1]]", "symmetric"},
		{base + "[link]\nlatency = \"10ms\"\nloss = 0.9", "link.loss"},
		{base + "[link]\nlatency = \"10ms\"\njitter = \"20ms\"", "link.jitter"},
		{base + "[workload]\ntx_per_device_per_sec = -1", "workload.tx_per_device_per_sec"},
		{base + "[workload]\npayload_bytes = 100000", "workload.payload_bytes"},
		{base + "[churn]\nfraction = 0.5", "churn.mean_uptime"},
		{base + "[churn]\nfraction = 0.5\nmean_uptime = \"5s\"\nmean_downtime = \"5s\"\ndistribution = \"pareto\"", "churn.distribution"},
		{base + "[[partitions]]\nat = \"20s\"", "partitions[0].at"},
		{base + "[[partitions]]\nat = \"2s\"\nheal = \"1s\"", "partitions[0].heal"},
		{base + "[[partitions]]\nat = \"2s\"\nregions = [\"eu\"]", "partitions[0].regions"},
		{base + "[adversaries]\nspammers = 1", "adversaries.spam_per_sec"},
		{base + "[adversaries]\noffline_authorities = 5", "adversaries.offline_authorities"},
		{base + "[node]\nsig_cache_size = -1", "node.sig_cache_size"},
		{strings.Replace(base, `"10s"`, `"24h"`, 1) + "[workload]\ntx_per_device_per_sec = 1000", "exceed"},
		{base + "time_scale = nan", "time_scale"},
		{base + "[node]\ncert_gossip = \"some\"", "node.cert_gossip"},
	}
	for _, c := range cases {
		_, err := ParseScenario([]byte(c.doc))
		if err == nil || !strings.Contains(err.Error(), c.field) {
			t.Errorf("scenario %q: error %v, want one naming %q", c.doc, err, c.field)
		}
	}
	if _, err := ParseScenario([]byte(base)); err != nil {
		t.Fatalf("minimal scenario: %v", err)
	}
}

// FuzzParseScenario: no input makes the parser or the planner panic.
func FuzzParseScenario(f *testing.F) {
	f.Add([]byte(smallScenario))
	f.Add([]byte("version = 1\nduration = \"1s\"\n[nodes]\nauthorities = 1\ndevices = 1\n[topology]\nkind = \"regions\"\nregions = [{name = \"a\", share = inf}]\nlatency_ms = [[nan]]"))
	f.Add([]byte("version = 1\nduration = \"5s\"\n[nodes]\nauthorities = 2\ndevices = 3\n[[partitions]]\nat = \"1s\"\n[churn]\nfraction = 1\nmean_uptime = \"1s\"\nmean_downtime = \"1s\""))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseScenario(data)
		if err != nil || s.Nodes.Total() > 200 || s.Duration.D() > time.Minute {
			return
		}
		if _, err := NewPlan(s); err != nil {
			t.Fatalf("valid scenario, plan failed: %v", err)
		}
	})
}

// TestLossyLinksStillDeliver: with 10% loss per transmission on every
// link, streams stay reliable (lost writes are retransmitted after a probe
// timeout), so every transaction still reaches every node, later than on
// the clean links' bound, and the swarm still finalizes and agrees.
func TestLossyLinksStillDeliver(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a swarm")
	}
	res := run(t, parse(t, `
version = 1
name = "test-loss"
seed = 3
duration = "10s"
[nodes]
authorities = 4
gateways = 4
devices = 16
[link]
latency = "10ms"
loss = 0.1
[workload]
tx_per_device_per_sec = 0.5
start = "2s"
stop_before_end = "3s"
`))
	sum := report.Summarize(res.Run)
	t.Logf("delivery %.4f over %d messages; to node mean %.1f ms, p99 %.1f ms; bound %.1f ms", sum.Messages.DeliveryRatio,
		sum.Messages.Published, sum.Messages.ToNode.MeanMs, sum.Messages.ToNode.P99Ms, sum.LowerBound.BoundMs)
	if sum.Messages.Published < 20 || sum.Messages.DeliveryRatio < 0.99 {
		t.Fatalf("delivery %.4f over %d messages", sum.Messages.DeliveryRatio, sum.Messages.Published)
	}
	// About one write in ten was lost and sent again; gossip's redundant
	// paths hide most of the delay from the first delivery.
	if res.Retransmissions == 0 {
		t.Fatal("no transmission was lost")
	}
	if len(res.Finalized) < 3 || !res.SamePrefix || !res.SameFinal {
		t.Fatalf("finalized %d; same prefix %v, same final %v", len(res.Finalized), res.SamePrefix, res.SameFinal)
	}
}

// TestChurnedNodesCatchUp: a third of the gateways and devices leave and
// come back while devices publish, half of them with an empty ledger (a
// new install). At the end every honest live node, the returned ones
// included, holds the same finalized chain.
func TestChurnedNodesCatchUp(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a swarm")
	}
	for _, keep := range []bool{true, false} {
		t.Run(map[bool]string{true: "restart", false: "new install"}[keep], func(t *testing.T) {
			s := parse(t, fmt.Sprintf(`
version = 1
name = "test-churn"
seed = 9
duration = "14s"
[nodes]
authorities = 4
gateways = 4
devices = 14
[link]
latency = "10ms"
[workload]
tx_per_device_per_sec = 0.3
start = "1s"
stop_before_end = "4s"
[churn]
fraction = 0.34
mean_uptime = "4s"
mean_downtime = "2s"
keep_store = %v
`, keep))
			res := run(t, s)
			left := 0
			for _, e := range res.Plan.Events {
				if e.Kind == EventLeave {
					left++
				}
			}
			if left == 0 {
				t.Fatal("the plan has no node leaving")
			}
			if len(res.Finalized) < 5 || !res.SamePrefix || !res.SameFinal {
				t.Fatalf("%d departures; finalized %d; same prefix %v, same final %v, heights %d..%d",
					left, len(res.Finalized), res.SamePrefix, res.SameFinal, res.MinFinal, res.MaxFinal)
			}
			t.Logf("%d departures; every live node at finalized height %d", left, res.MaxFinal)
		})
	}
}
