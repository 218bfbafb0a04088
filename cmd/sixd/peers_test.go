package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/node"
)

// TestPeersCommand: against real nodes (an authority, a device and a
// relay-only bootstrap node, each connected to the others, the API behind a
// read token), sixd peers lists each node's peers with their roles, sorted
// by role then peer ID; --protocols adds their protocols, --json prints the
// node's answer; without the token it fails with the node's 401.
func TestPeersCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("starts nodes")
	}
	const writeToken, readToken = "peers-write-token-0123456789", "peers-read-token-0123456789"
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "read.token")
	if err := os.WriteFile(tokenFile, []byte(readToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := node.StartCluster(ctx, node.ClusterConfig{ChainID: "peers-test", Authorities: 1, Devices: 1,
		Slot: 250 * time.Millisecond, API: true, Options: []node.Option{node.WithAPIAuth(writeToken, readToken)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	bootKey, err := identity.Generate(nil)
	if err != nil {
		t.Fatal(err)
	}
	boot, err := node.New(ctx, bootKey, c.Genesis, node.WithRole(node.RoleBootstrap), node.WithListenAddrs("/ip4/127.0.0.1/tcp/0"),
		node.WithMDNS(false), node.WithDHT(node.DHTOff), node.WithDataDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { boot.Close() })
	for _, n := range c.Nodes {
		if err := n.Connect(ctx, boot.AddrInfo()); err != nil {
			t.Fatal(err)
		}
	}
	auth, dev := c.Nodes[0], c.Nodes[1]
	api := func(n *node.Node) string { return "http://" + n.APIAddr().String() }

	// Each node's peers, as sixd peers must list them: role, then peer ID.
	type row struct{ id, role string }
	sorted := func(rows ...row) []row {
		slices.SortFunc(rows, func(a, b row) int {
			if a.role != b.role {
				return strings.Compare(a.role, b.role)
			}
			return strings.Compare(a.id, b.id)
		})
		return rows
	}
	for _, tc := range []struct {
		name string
		n    *node.Node
		want []row
	}{
		{"authority", auth, sorted(row{dev.ID().String(), "device"}, row{boot.ID().String(), "bootstrap"})},
		{"device", dev, sorted(row{auth.ID().String(), "authority"}, row{boot.ID().String(), "bootstrap"})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"peers", "--api", api(tc.n), "--token-file", tokenFile}
			var out string
			var got []row
			// The roles come from identify, which completes shortly after
			// the connection.
			waitFor(t, 20*time.Second, "sixd peers to list the other nodes with their roles", func() bool {
				out = mustRun(t, args...)
				got = nil
				for _, line := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
					f := strings.Fields(line)
					if len(f) < 7 {
						t.Fatalf("line %q has fewer than 7 columns:\n%s", line, out)
					}
					got = append(got, row{f[0], f[1]})
				}
				return slices.Equal(got, tc.want)
			})
			if head := strings.Fields(strings.SplitN(out, "\n", 2)[0]); !slices.Equal(head, []string{"PEER", "ID", "ROLE", "DIRECTION", "LATENCY", "SCORE", "ADDRESS", "AGENT"}) {
				t.Errorf("header %q", head)
			}
			for _, line := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
				f := strings.Fields(line)
				if !slices.Contains([]string{"inbound", "outbound"}, f[2]) || !strings.HasPrefix(f[5], "/ip4/127.0.0.1/") ||
					!strings.HasPrefix(f[6], "sixd/") {
					t.Errorf("line %q: want a direction, a loopback address and a sixd agent", line)
				}
			}

			// --protocols: a section per peer, in the table's order.
			out = mustRun(t, append(args, "--protocols")...)
			for i, r := range tc.want {
				at := strings.Index(out, "\nprotocols of "+r.id+" ("+r.role+"):\n")
				if at < 0 {
					t.Fatalf("--protocols output lacks %s's section:\n%s", r.id, out)
				}
				if i > 0 && at < strings.Index(out, "\nprotocols of "+tc.want[i-1].id) {
					t.Errorf("%s's protocols come before %s's", r.id, tc.want[i-1].id)
				}
			}
			if !strings.Contains(out, "  /ipfs/id/1.0.0\n") {
				t.Errorf("--protocols output lacks identify's protocol:\n%s", out)
			}

			// --json: the node's answer.
			var resp node.PeersResponse
			if err := json.Unmarshal([]byte(mustRun(t, append(args, "--json")...)), &resp); err != nil {
				t.Fatal(err)
			}
			if len(resp.Peers) != len(tc.want) {
				t.Errorf("--json lists %d peers, want %d", len(resp.Peers), len(tc.want))
			}
		})
	}

	// The relay-only bootstrap node's API is off here; the read token is
	// needed on the others.
	wantFail(t, []string{"peers", "--api", api(auth)}, "--token-file")
}

// TestPrintPeers: the table's order (role, then peer ID), placeholders for
// an unmeasured latency, a missing address and an empty agent, and a
// peer-supplied agent with a line break kept on its line.
func TestPrintPeers(t *testing.T) {
	peers := []node.PeerJSON{
		{PeerID: "12D3KooWZ", Role: "unknown", Direction: "inbound", Agent: "evil\nagent", Addrs: []string{"/ip4/10.0.0.9/tcp/1"}},
		{PeerID: "12D3KooWB", Role: "authority", Direction: "outbound", LatencyMs: 1.25, Score: 3.5,
			Agent: "sixd/0.1.0 (gateway)", Addrs: []string{"/ip4/10.0.0.2/tcp/4001", "/ip4/10.0.0.3/tcp/4001"},
			Protocols: []string{"/ipfs/id/1.0.0", "/meshsub/1.1.0"}},
		{PeerID: "12D3KooWA", Role: "authority", Direction: "unknown"},
		{PeerID: "12D3KooWC", Role: "bootstrap", Direction: "outbound", Agent: "sixd/0.1.0 (bootstrap)", Addrs: []string{"/ip4/10.0.0.4/tcp/4001"}},
	}
	var buf bytes.Buffer
	if err := printPeers(&buf, peers, true); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	table, sections, _ := strings.Cut(out, "\n\n")
	lines := strings.Split(table, "\n")
	if len(lines) != 5 {
		t.Fatalf("want a header and 4 lines:\n%s", out)
	}
	var ids []string
	for _, l := range lines[1:] {
		ids = append(ids, strings.Fields(l)[0])
	}
	if want := []string{"12D3KooWA", "12D3KooWB", "12D3KooWC", "12D3KooWZ"}; !slices.Equal(ids, want) {
		t.Errorf("order %v, want %v", ids, want)
	}
	for i, want := range [][]string{
		{"12D3KooWA", "authority", "unknown", "-", "0.00", "-", "-"},
		{"12D3KooWB", "authority", "outbound", "1.2ms", "3.50", "/ip4/10.0.0.2/tcp/4001", "sixd/0.1.0", "(gateway)"},
		{"12D3KooWC", "bootstrap", "outbound", "-", "0.00", "/ip4/10.0.0.4/tcp/4001", "sixd/0.1.0", "(bootstrap)"},
		{"12D3KooWZ", "unknown", "inbound", "-", "0.00", "/ip4/10.0.0.9/tcp/1", `"evil\nagent"`},
	} {
		if got := strings.Fields(lines[i+1]); !slices.Equal(got, want) {
			t.Errorf("line %d = %q, want %q", i+1, got, want)
		}
	}
	if !strings.Contains(sections, "protocols of 12D3KooWB (authority):\n  /ipfs/id/1.0.0\n  /meshsub/1.1.0\n") ||
		!strings.Contains(sections, "protocols of 12D3KooWA (authority):\n  (none known)\n") ||
		strings.Index(sections, "12D3KooWA") > strings.Index(sections, "12D3KooWB") {
		t.Errorf("protocol sections:\n%s", sections)
	}
	if peers[0].PeerID != "12D3KooWZ" {
		t.Error("printPeers reordered its argument")
	}

	buf.Reset()
	if err := printPeers(&buf, nil, false); err != nil || buf.String() != "no connected peers\n" {
		t.Errorf("no peers: %q, %v", buf.String(), err)
	}
}
