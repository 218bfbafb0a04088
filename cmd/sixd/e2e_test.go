package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger/types"
	"github.com/sixdomain/sixdomain/node"
)

// startNode starts a one-node chain from the key and genesis that init
// wrote to home, and returns the URL of its API.
func startNode(t *testing.T, home string) string {
	t.Helper()
	key, err := identity.LoadKeyFile(filepath.Join(home, "node.key"))
	if err != nil {
		t.Fatal(err)
	}
	g, err := types.LoadGenesis(filepath.Join(home, "genesis.toml"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n, err := node.New(ctx, key, g, node.WithListenAddrs("/ip4/127.0.0.1/tcp/0"), node.WithMDNS(false),
		node.WithAPI("127.0.0.1:0", 0), node.WithDataDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Errorf("closing node: %v", err)
		}
	})
	return "http://" + n.APIAddr().String()
}

func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a node")
	}
	home := initHome(t, "gateway")
	api := startNode(t, home)
	did := idJSON(t, home).DID

	// Submit and wait.
	out := mustRun(t, "tx", "record", "--api", api, "--home", home, "--stream", "temp", "--value", "21.5", "--wait", "--timeout", "60s")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("tx record output:\n%s", out)
	}
	hash, err := types.ParseHash(lines[0])
	if err != nil {
		t.Fatalf("first line %q is not a hash: %v", lines[0], err)
	}
	m := regexp.MustCompile(`^committed in block (\d+)$`).FindStringSubmatch(lines[1])
	if m == nil {
		t.Fatalf("second line %q", lines[1])
	}
	height := m[1]

	// A second record takes the next nonce.
	out2 := mustRun(t, "tx", "record", "--api", api, "--home", home, "--stream", "hum", "--value", "40 %",
		"--content-type", "text/plain", "--wait")
	hash2 := strings.SplitN(out2, "\n", 2)[0]

	// records shows them.
	out = mustRun(t, "records", "--sender", did, "--api", api)
	if !strings.Contains(out, "21.5") || !strings.Contains(out, hash.String()) || !strings.Contains(out, `"40 %"`) {
		t.Errorf("records output:\n%s", out)
	}
	var recs node.RecordsResponse
	if err := json.Unmarshal([]byte(mustRun(t, "records", "--sender", idJSON(t, home).PeerID, "--stream", "temp", "--api", api, "--json")), &recs); err != nil {
		t.Fatal(err)
	}
	if len(recs.Records) != 1 || recs.Records[0].Value != "21.5" || recs.Records[0].Nonce != 1 || recs.Sender != did {
		t.Errorf("records --json = %+v", recs)
	}
	if out := mustRun(t, "records", "--sender", did, "--after", "2", "--api", api); !strings.Contains(out, "no records") {
		t.Errorf("records --after 2:\n%s", out)
	}

	// block.
	out = mustRun(t, "block", "latest", "--api", api)
	for _, want := range []string{"height:", "hash:", "proposer:", did, "txs:"} {
		if !strings.Contains(out, want) {
			t.Errorf("block latest lacks %q:\n%s", want, out)
		}
	}
	out = mustRun(t, "block", height, "--api", api)
	if !strings.Contains(out, hash.String()) || !strings.Contains(out, "temp=21.5") {
		t.Errorf("block %s:\n%s", height, out)
	}
	// The record was reported committed, so its block is final.
	if !regexp.MustCompile(`(?m)^final:\s+yes$`).MatchString(out) {
		t.Errorf("block %s does not show it final:\n%s", height, out)
	}
	var b node.BlockJSON
	if err := json.Unmarshal([]byte(mustRun(t, "block", height, "--api", api, "--json")), &b); err != nil {
		t.Fatal(err)
	}
	if b.Height == 0 || len(b.Txs) == 0 || b.Txs[0].Hash != hash {
		t.Errorf("block --json = %+v", b)
	}
	wantFail(t, []string{"block", "999999", "--api", api}, "not_found, HTTP 404")

	// proof get / verify.
	proofFile := filepath.Join(t.TempDir(), "proof.json")
	mustRun(t, "proof", "get", hash.String(), "--api", api, "--out", proofFile)
	out = mustRun(t, "proof", "verify", proofFile, "--genesis", filepath.Join(home, "genesis.toml"))
	want := regexp.MustCompile(`^valid: tx ` + hash.String() + ` in block ` + height + ` \([0-9a-f]{64}\), final \(certificate of 1 votes\), sealed by ` +
		regexp.QuoteMeta(did) + ` at \S+; sender ` + regexp.QuoteMeta(did) + ` nonce 1; record stream=temp value=21\.5\n$`)
	if !want.MatchString(out) {
		t.Errorf("proof verify output:\n%s", out)
	}
	// The home's genesis is the default.
	t.Setenv(envHome, home)
	mustRun(t, "proof", "verify", proofFile)
	// proof get to stdout, then verify from stdin.
	stdoutProof := mustRun(t, "proof", "get", hash2, "--api", api)
	stdout, stderr, err := runCmdIn(t, stdoutProof, "proof", "verify", "-")
	if err != nil || !strings.Contains(stdout, "nonce 2; record stream=hum value=\"40 %\" content_type=text/plain") {
		t.Errorf("proof verify - : %v\n%s%s", err, stdout, stderr)
	}

	// Tamper with one hex digit of the transaction: verification fails.
	data, err := os.ReadFile(proofFile)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	txHex := doc["tx"].(string)
	for _, pos := range []int{len(txHex) / 2, len(txHex) - 1, 10} {
		tampered := []byte(txHex)
		if tampered[pos] == '0' {
			tampered[pos] = '1'
		} else {
			tampered[pos] = '0'
		}
		doc["tx"] = string(tampered)
		bad, _ := json.MarshalIndent(doc, "", "  ")
		badFile := filepath.Join(t.TempDir(), "bad.json")
		if err := os.WriteFile(badFile, bad, 0o644); err != nil {
			t.Fatal(err)
		}
		wantFail(t, []string{"proof", "verify", badFile, "--genesis", filepath.Join(home, "genesis.toml")}, "invalid proof")
	}

	// A proof checked against another chain's genesis fails.
	other := initHome(t, "device")
	wantFail(t, []string{"proof", "verify", proofFile, "--genesis", filepath.Join(other, "genesis.toml")}, "invalid proof")
	// Without its finality proof a proof is refused, unless --seal-only.
	delete(doc, "finality")
	doc["tx"] = txHex
	noFin, _ := json.MarshalIndent(doc, "", "  ")
	noFinFile := filepath.Join(t.TempDir(), "nofinality.json")
	if err := os.WriteFile(noFinFile, noFin, 0o644); err != nil {
		t.Fatal(err)
	}
	wantFail(t, []string{"proof", "verify", noFinFile}, "no finality proof")
	if out := mustRun(t, "proof", "verify", noFinFile, "--seal-only"); !strings.Contains(out, "sealed (finality not checked") {
		t.Errorf("proof verify --seal-only:\n%s", out)
	}

	// State proofs: the sender's nonce (2), the authority set, and a key
	// that is absent, each verified offline with only the genesis.
	stateDir := t.TempDir()
	for _, c := range []struct{ key, want string }{
		{"nonce/" + did, "nonce/" + did + " = 2 after block "},
		{"authorities", "authorities = 1 authorities: " + did},
		{"nonce/did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK", " = absent after block "},
	} {
		f := filepath.Join(stateDir, "state.json")
		mustRun(t, "state", "proof", c.key, "--api", api, "--out", f)
		if out := mustRun(t, "state", "verify", f, "--genesis", filepath.Join(home, "genesis.toml")); !strings.Contains(out, c.want) || !strings.HasPrefix(out, "valid: ") {
			t.Errorf("state verify of %s:\n%s", c.key, out)
		}
	}
	// A forged value, and a stale proof, are refused with the reason.
	mustRun(t, "state", "proof", "nonce/"+did, "--api", api, "--out", filepath.Join(stateDir, "nonce.json"))
	raw, err := os.ReadFile(filepath.Join(stateDir, "nonce.json"))
	if err != nil {
		t.Fatal(err)
	}
	var sdoc map[string]any
	if err := json.Unmarshal(raw, &sdoc); err != nil {
		t.Fatal(err)
	}
	sdoc["value"] = "0000000000000009"
	forged, _ := json.MarshalIndent(sdoc, "", "  ")
	forgedFile := filepath.Join(stateDir, "forged.json")
	if err := os.WriteFile(forgedFile, forged, 0o644); err != nil {
		t.Fatal(err)
	}
	wantFail(t, []string{"state", "verify", forgedFile, "--genesis", filepath.Join(home, "genesis.toml")}, "invalid proof")
	wantFail(t, []string{"state", "verify", filepath.Join(stateDir, "nonce.json"), "--min-height", "999999"}, "stale")
	wantFail(t, []string{"state", "verify", filepath.Join(stateDir, "nonce.json"), "--genesis", filepath.Join(other, "genesis.toml")}, "invalid proof")
	wantFail(t, []string{"state", "proof", "bogus", "--api", api}, "state key")

	// Errors of the node come back as "error (reason, HTTP code)".
	wantFail(t, []string{"proof", "get", strings.Repeat("ab", 32), "--api", api}, "not_found, HTTP 404")
	wantFail(t, []string{"tx", "record", "--api", api, "--home", home, "--stream", "bad stream", "--value", "1"}, "stream name")
}

// TestRunCommand runs `sixd run` on an initialised home and checks that it
// serves the API, then stops on cancellation.
func TestRunCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a node")
	}
	home := initHome(t, "device")
	// The in-memory store exercises the other ledger option.
	cfgPath := filepath.Join(home, "config.toml")
	cfg, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	cfg = []byte(strings.Replace(string(cfg), `store = "pebble"`, `store = "memory"`, 1))
	if err := os.WriteFile(cfgPath, cfg, 0o644); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	root := newRootCmd()
	root.SetArgs([]string{"run", "--home", home})
	root.SetOut(&stdout)
	root.SetErr(&stderr)
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()

	apiRE := regexp.MustCompile(`msg="sixd running".* api=(\S+)`)
	var api string
	deadline := time.Now().Add(30 * time.Second)
	for api == "" {
		if m := apiRE.FindStringSubmatch(stderr.String()); m != nil {
			api = "http://" + m[1]
			break
		}
		select {
		case err := <-done:
			t.Fatalf("run exited early: %v\n%s", err, stderr.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("run did not log its API address:\n%s", stderr.String())
		}
	}
	if !strings.Contains(stderr.String(), "ledger=memory") {
		t.Errorf("run log does not show the memory store:\n%s", stderr.String())
	}
	c, err := newAPIClient(api)
	if err != nil {
		t.Fatal(err)
	}
	var st node.StatusResponse
	if err := c.getJSON(ctx, "/v1/status", &st); err != nil {
		t.Fatal(err)
	}
	if st.DID != idJSON(t, home).DID || st.Role != node.RoleDevice || st.ChainID != defaultChainID || !st.Authority {
		t.Errorf("status = %+v", st)
	}
	// The records command reaches it too.
	if out := mustRun(t, "records", "--sender", st.DID, "--api", api); !strings.Contains(out, "no records") {
		t.Errorf("records:\n%s", out)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v\n%s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not stop")
	}
	if !strings.Contains(stderr.String(), "msg=stopped") {
		t.Errorf("run did not log its stop:\n%s", stderr.String())
	}

	// run refuses a home without config.
	wantFail(t, []string{"run", "--home", t.TempDir()}, "config.toml not found", "sixd init")
}
