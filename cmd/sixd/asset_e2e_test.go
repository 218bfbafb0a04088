package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/sixdomain/sixdomain/contracts/examples"
	"github.com/sixdomain/sixdomain/ledger/types"
	"github.com/sixdomain/sixdomain/node"
)

// TestAssetAndContractCommands runs the asset and contract commands
// against a real node: issue, mint, send, balances, a refused send with its
// failure receipt; deploy the counter, call inc with --wait and read the
// return value and the receipt, a failing call and its failure receipt,
// show and storage; and bad input refused before anything is sent.
func TestAssetAndContractCommands(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a node")
	}
	home := initHome(t, "gateway")
	fastGenesis(t, home, false)
	api := startNode(t, home)
	did := idJSON(t, home).DID
	dev := initHome(t, "device")
	devDID := idJSON(t, dev).DID
	run := func(args ...string) string {
		t.Helper()
		return mustRun(t, append(args, "--home", home, "--api", api)...)
	}
	fail := func(args []string, want ...string) (stdout string) {
		t.Helper()
		out, errOut, err := runCmd(t, append(args, "--home", home, "--api", api)...)
		if err == nil {
			t.Fatalf("sixd %s: succeeded, want an error\n%s", strings.Join(args, " "), out)
		}
		checkErrLine(t, errOut, want...)
		return out
	}

	// Issuing needs a registered DID.
	fail([]string{"asset", "issue", "credit", "--max-supply", "1000"}, "not registered", "sixd did register")
	run("did", "register", "--domain", "operations", "--role", "operator", "--wait")

	out := run("asset", "issue", "credit", "--max-supply", "1000", "--decimals", "2", "--powers", "freeze", "--wait")
	if field(t, out, "status") != "ok" {
		t.Fatalf("asset issue:\n%s", out)
	}
	fail([]string{"asset", "issue", "credit", "--max-supply", "5"}, `denomination "credit" exists already`)
	run("asset", "mint", "credit", "500", "--to", did, "--wait")
	out = run("asset", "send", "credit", "120", "--to", devDID, "--wait")
	if b := run("block", strings.Fields(field(t, out, "block"))[0]); !strings.Contains(b, "send credit 120 to "+devDID) {
		t.Errorf("the block does not describe the send:\n%s", b)
	}
	if got := strings.TrimSpace(run("asset", "balance", "credit", did)); got != "380 credit (3.80 units)" {
		t.Errorf("balance of the issuer: %q", got)
	}
	if got := strings.TrimSpace(run("asset", "balance", "credit", devDID)); got != "120 credit (1.20 units)" {
		t.Errorf("balance of the device: %q", got)
	}
	var b node.BalanceJSON
	if err := json.Unmarshal([]byte(run("asset", "balance", "credit", idJSON(t, dev).PeerID, "--json")), &b); err != nil || b.Balance != 120 || b.Account != devDID {
		t.Errorf("balance --json by peer ID: %+v %v", b, err)
	}
	out = run("asset", "info", "credit")
	for name, want := range map[string]string{"issuer": did, "decimals": "2", "supply": "500 of 1000",
		"mint authority": did, "powers": "mint, freeze", "renounced": "none"} {
		if got := field(t, out, name); got != want {
			t.Errorf("asset info: %s = %q, want %q", name, got, want)
		}
	}

	// A send above the balance is included and fails: the receipt says why.
	out = fail([]string{"asset", "send", "credit", "100000", "--to", devDID, "--wait"}, "transaction failed", "asset_insufficient_funds")
	if field(t, out, "status") != "failed (asset_insufficient_funds)" {
		t.Errorf("failed send output:\n%s", out)
	}
	sendHash := strings.SplitN(out, "\n", 2)[0]
	if out := mustRun(t, "receipt", sendHash, "--api", api); !strings.HasPrefix(field(t, out, "status"), "failed") {
		t.Errorf("receipt of the failed send:\n%s", out)
	}
	if got := strings.TrimSpace(run("asset", "balance", "credit", did)); got != "380 credit (3.80 units)" {
		t.Errorf("a failed send moved funds: %q", got)
	}

	// Bad input is refused before anything is sent.
	fail([]string{"asset", "mint", "credit", "1.5", "--to", did}, "base units")
	fail([]string{"asset", "send", "credit", "0", "--to", did}, "positive integer")
	fail([]string{"asset", "send", "nope", "1", "--to", did}, `unknown denomination "nope"`)
	fail([]string{"asset", "send", "Bad!", "1", "--to", did}, "a-z, 0-9")
	fail([]string{"asset", "send", "credit", "1", "--to", "someone"}, "neither a did:key")
	fail([]string{"asset", "send", "credit", "1", "--to", "0x1234"}, "64 hex digits")
	fail([]string{"asset", "renounce", "credit", "everything"}, "want mint, freeze or clawback")
	fail([]string{"asset", "issue", "x2", "--max-supply", "10", "--powers", "mint"}, "only freeze and clawback")
	fail([]string{"asset", "bind-device", devDID}, "not registered")

	// A device-bound asset: the device registers with the gateway as its
	// controller, the gateway binds its asset and sells it to a buyer, who
	// becomes the device DID's controller in the same transaction.
	mustRun(t, "did", "register", "--domain", "sensing", "--role", "device", "--controller", did, "--home", dev, "--api", api, "--wait")
	buyerDID := idJSON(t, initHome(t, "device")).DID
	fail([]string{"asset", "transfer-device", devDID, "--to", buyerDID, "--wait"}, "transaction failed", "asset_no_device_asset")
	if out := run("asset", "bind-device", devDID, "--wait"); field(t, out, "status") != "ok" {
		t.Fatalf("bind-device:\n%s", out)
	}
	run("asset", "transfer-device", devDID, "--to", buyerDID, "--wait")
	if got := resolveJSON(t, api, devDID).DIDDocument.Controller; len(got) != 1 || got[0] != buyerDID {
		t.Errorf("the device DID's controllers after the sale: %v, want %s", got, buyerDID)
	}
	fail([]string{"asset", "bind-device", did}, "not device")

	// Contracts: deploy the counter with init(5).
	dir := t.TempDir()
	counter := filepath.Join(dir, "counter.star")
	if err := os.WriteFile(counter, examples.Counter, 0o644); err != nil {
		t.Fatal(err)
	}
	out = run("contract", "deploy", counter, "--args", "[5]", "--wait")
	m := regexp.MustCompile(`(?m)^contract (0x[0-9a-f]{64})$`).FindStringSubmatch(out)
	if m == nil || field(t, out, "status") != "ok" || field(t, out, "address") != m[1] {
		t.Fatalf("contract deploy:\n%s", out)
	}
	addr := m[1]

	out = run("contract", "call", addr, "inc", "--args", "[2]", "--wait")
	if field(t, out, "status") != "ok" || field(t, out, "return") != "7" ||
		!strings.Contains(field(t, out, "event"), `inc {"by":2,"caller":"`+did+`","count":7}`) {
		t.Fatalf("contract call inc:\n%s", out)
	}
	incHash, err := types.ParseHash(strings.SplitN(out, "\n", 2)[0])
	if err != nil {
		t.Fatalf("first line of the call: %v\n%s", err, out)
	}
	blk := strings.Fields(field(t, out, "block"))[0]
	if b := run("block", blk); !strings.Contains(b, "call "+addr+" inc(2)") {
		t.Errorf("block %s does not describe the call:\n%s", blk, b)
	}
	var rc node.ReceiptJSON
	if err := json.Unmarshal([]byte(mustRun(t, "receipt", incHash.String(), "--json", "--api", api)), &rc); err != nil {
		t.Fatal(err)
	}
	if rc.Status != "ok" || rc.ReturnValue != float64(7) || rc.GasUsed == 0 || len(rc.Events) != 1 {
		t.Errorf("receipt --json: %+v", rc)
	}

	// A failing call: fail() in the contract, included with its receipt.
	out = fail([]string{"contract", "call", addr, "inc", "--args", "[-1]", "--wait"}, "transaction failed", "contract_failed")
	if field(t, out, "status") != "failed (contract_failed)" || !strings.Contains(field(t, out, "error"), "inc: by must be positive") {
		t.Errorf("failing call output:\n%s", out)
	}
	if got := strings.TrimSpace(run("contract", "storage", addr, "count")); got != "7" {
		t.Errorf("count after the failed call: %q", got)
	}
	if got := strings.TrimSpace(run("contract", "storage", addr, "nothing")); got != "absent" {
		t.Errorf("absent key: %q", got)
	}
	out = run("contract", "show", addr)
	if field(t, out, "exports") != "inc, get" || field(t, out, "creator") != did || field(t, out, "address") != addr {
		t.Errorf("contract show:\n%s", out)
	}
	if code := run("contract", "show", addr, "--code"); code != string(examples.Counter) {
		t.Errorf("contract show --code:\n%s", code)
	}

	// Credits sent to the contract's address.
	run("asset", "send", "credit", "10", "--to", addr, "--wait")
	if got := strings.TrimSpace(run("asset", "balance", "credit", addr)); got != "10 credit (0.10 units)" {
		t.Errorf("balance of the contract: %q", got)
	}

	// Bad contract input is refused before anything is sent.
	big := filepath.Join(dir, "big.star")
	if err := os.WriteFile(big, []byte("EXPORTS = []\n"+strings.Repeat("# padding\n", 4000)), 0o644); err != nil {
		t.Fatal(err)
	}
	fail([]string{"contract", "deploy", big}, "at most 32768")
	floaty := filepath.Join(dir, "float.star")
	if err := os.WriteFile(floaty, []byte("EXPORTS = [\"f\"]\ndef f():\n    return 1.5\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	fail([]string{"contract", "deploy", floaty}, "float.star")
	fail([]string{"contract", "call", addr, "inc", "--args", "[1.5]"}, "integer-only")
	fail([]string{"contract", "call", addr, "inc", "--args", `{"by":1}`}, "JSON array")
	fail([]string{"contract", "call", addr, "nope"}, `does not export "nope"`, "inc, get")
	fail([]string{"contract", "call", "0x" + strings.Repeat("00", 32), "inc"}, "no contract at")
	fail([]string{"contract", "call", addr, "inc", "--gas", "0"}, "--gas 0")
	fail([]string{"contract", "call", addr, "inc", "--pay", "credit"}, "DENOM:AMOUNT")
	fail([]string{"contract", "call", addr, "inc", "--pay", "nope:5"}, `unknown denomination "nope"`)
	wantFail(t, []string{"receipt", "zz", "--api", api}, "64 hex digits")
	wantFail(t, []string{"receipt", strings.Repeat("00", 32), "--api", api}, "not_found")
}
