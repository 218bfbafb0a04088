package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sixdomain/sixdomain/ledger/types"
	"github.com/sixdomain/sixdomain/node"
)

// TestFeeCommands: on a node whose genesis sets [fees] (and gives the node
// a balance), an asset operation's receipt shows its fee, the sealing
// authority (the node itself) earns rewards, and `sixd fee grant` makes
// this node the sponsor of a device's fees.
func TestFeeCommands(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a node")
	}
	home := initHome(t, "gateway")
	fastGenesis(t, home, false)
	did := idJSON(t, home).DID
	path := filepath.Join(home, "genesis.toml")
	g, err := types.LoadGenesis(path)
	if err != nil {
		t.Fatal(err)
	}
	g.Fees = &types.FeePolicy{Denom: "sdx", MaxSupply: 1 << 40, GasPriceMilli: 5, FreeRecords: true, GatewayShareBps: 1000,
		BlockReward: 3, Allocations: []types.FeeAllocation{{Account: did, Amount: 1_000_000}}}
	if err := g.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, g.MarshalTOML(), 0o644); err != nil {
		t.Fatal(err)
	}
	if g2, err := types.LoadGenesis(path); err != nil || g2.Hash() != g.Hash() {
		t.Fatalf("the genesis with [fees] does not round-trip through its file: %v", err)
	}
	api := startNode(t, home)
	run := func(args ...string) string {
		t.Helper()
		return mustRun(t, append(args, "--home", home, "--api", api)...)
	}
	run("did", "register", "--domain", "operations", "--role", "operator", "--wait")
	out := run("asset", "issue", "kwh", "--max-supply", "100", "--wait")
	hash := strings.SplitN(strings.TrimSpace(out), "\n", 2)[0]
	var r node.ReceiptJSON
	if err := json.Unmarshal([]byte(run("receipt", strings.Fields(hash)[0], "--json")), &r); err != nil {
		t.Fatalf("receipt --json: %v\n%s", err, out)
	}
	if r.Status != "ok" || r.Fee == 0 {
		t.Fatalf("issue on a chain with fees: receipt %+v", r)
	}
	var b node.BalanceJSON
	if err := json.Unmarshal([]byte(run("asset", "balance", "sdx", did, "--json")), &b); err != nil {
		t.Fatal(err)
	}
	// The node pays its own fees and earns them back as the sealer, plus
	// rewards: above its allocation.
	if b.Balance <= 1_000_000 {
		t.Fatalf("the sealing node's balance %d is not above its allocation", b.Balance)
	}
	dev := initHome(t, "device")
	out = run("fee", "grant", idJSON(t, dev).DID, "--allowance", "50000", "--wait")
	if !strings.Contains(out, "ok") {
		t.Fatalf("fee grant:\n%s", out)
	}
	wantFail(t, []string{"fee", "grant", did, "--allowance", "1", "--home", home, "--api", api}, "own fees")
}
