package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sixdomain/sixdomain/cmd/internal/devnet"
)

// waitFor polls cond every 50 ms until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestDevnetTalkAndJoin runs the README's flow: a devnet with --home and
// --duration 0 prints its nodes' addresses; sixd talks to a node through
// its home; an outside device made with `sixd init --genesis … --bootstrap
// <printed address>` and started with `sixd run` joins and gets a reading
// committed, with a proof that verifies offline against the devnet's
// genesis; Ctrl-C (a cancelled context) ends the devnet with a summary on
// which every node agrees; and the devnet started again on the same home
// continues the same chain.
func TestDevnetTalkAndJoin(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a devnet")
	}
	base := filepath.Join(t.TempDir(), "devnet")
	opts := devnet.Options{Authorities: 3, Devices: 1, SensorsPerDevice: 1, Rate: 10, Slot: 300 * time.Millisecond,
		Home: base, ChainID: "join-test", LogLevel: "error"}

	ctx, stopDevnet := context.WithCancel(context.Background())
	defer stopDevnet()
	var out syncBuffer
	type result struct {
		s   devnet.Summary
		err error
	}
	done := make(chan result, 1)
	go func() {
		s, err := devnet.Run(ctx, opts, &out, io.Discard)
		done <- result{s, err}
	}()
	waitFor(t, 60*time.Second, "the devnet's join instructions", func() bool { return strings.Contains(out.String(), "Join it:") })
	printed := out.String()
	m := regexp.MustCompile(`(?m)^  node 0 .*\n\s+p2p (/ip4/127\.0\.0\.1/tcp/\d+/p2p/\w+)\n\s+api (http://127\.0\.0\.1:\d+)`).FindStringSubmatch(printed)
	if m == nil {
		t.Fatalf("devnet output lacks node 0's multiaddr and API URL:\n%s", printed)
	}
	bootAddr, apiURL := m[1], m[2]
	if !strings.Contains(printed, "Running until Ctrl-C.") {
		t.Errorf("--duration 0 output does not say it runs until Ctrl-C:\n%s", printed)
	}

	// Each node's home is what `sixd init` writes.
	node0 := filepath.Join(base, "node-0")
	for _, f := range []string{"config.toml", "node.key", "genesis.toml"} {
		if _, err := os.Stat(filepath.Join(node0, f)); err != nil {
			t.Fatalf("devnet home: %v", err)
		}
	}
	if fi, err := os.Stat(filepath.Join(node0, "node.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("node.key mode = %v (%v), want 0600", fi.Mode().Perm(), err)
	}

	// Talk to it through node 0's home, with --home before the command as
	// the README writes it.
	waitFor(t, 30*time.Second, "a final block", func() bool {
		o, _, err := runCmd(t, "--home", node0, "block", "latest")
		return err == nil && regexp.MustCompile(`(?m)^height:\s+[1-9]`).MatchString(o)
	})
	if o := mustRun(t, "--home", node0, "block", "latest"); !strings.Contains(o, "proposer:") {
		t.Errorf("block latest through the devnet home:\n%s", o)
	}
	if o := mustRun(t, "block", "latest", "--api", apiURL); !strings.Contains(o, "height:") {
		t.Errorf("block latest at the printed API URL:\n%s", o)
	}

	// Join it from outside: init with the devnet's genesis and the printed
	// bootstrap address, then run.
	dev := filepath.Join(t.TempDir(), "my-device")
	mustRun(t, "init", "--role", "device", "--home", dev, "--genesis", filepath.Join(base, "genesis.toml"),
		"--bootstrap", bootAddr, "--listen", "/ip4/127.0.0.1/tcp/0", "--api", closedPort(t), "--mdns=false")
	runCtx, stopRun := context.WithCancel(context.Background())
	defer stopRun()
	var runErr syncBuffer
	runDone := make(chan error, 1)
	go func() {
		root := newRootCmd()
		root.SetArgs([]string{"run", "--home", dev})
		root.SetOut(io.Discard)
		root.SetErr(&runErr)
		runDone <- root.ExecuteContext(runCtx)
	}()
	waitFor(t, 30*time.Second, "the outside device's API", func() bool {
		_, _, err := runCmd(t, "--home", dev, "block", "latest")
		return err == nil
	})
	rec := mustRun(t, "tx", "record", "--home", dev, "--stream", "join/temp", "--value", "7.25", "--wait", "--timeout", "60s")
	hash := strings.SplitN(strings.TrimSpace(rec), "\n", 2)[0]
	if !strings.Contains(rec, "committed in block") {
		t.Fatalf("tx record from the joined device:\n%s\nrun log:\n%s", rec, runErr.String())
	}
	// The devnet's own node holds it, and its proof verifies offline
	// against the devnet's genesis.
	did := idJSON(t, dev).DID
	waitFor(t, 30*time.Second, "the reading on devnet node 0", func() bool {
		o, _, err := runCmd(t, "--home", node0, "records", "--sender", did)
		return err == nil && strings.Contains(o, "7.25")
	})
	proof := filepath.Join(t.TempDir(), "proof.json")
	mustRun(t, "--home", node0, "proof", "get", hash, "--out", proof)
	if o := mustRun(t, "proof", "verify", proof, "--genesis", filepath.Join(base, "genesis.toml")); !strings.HasPrefix(o, "valid:") {
		t.Errorf("proof verify: %s", o)
	}

	stopRun()
	select {
	case err := <-runDone:
		if err != nil {
			t.Errorf("sixd run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("sixd run did not stop")
	}

	// Ctrl-C ends a --duration 0 devnet normally, with its summary.
	stopDevnet()
	var first result
	select {
	case first = <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("devnet did not stop after its context was cancelled")
	}
	if first.err != nil || !first.s.NodesAgree || first.s.Height == 0 {
		t.Fatalf("devnet summary %+v, err %v", first.s, first.err)
	}
	if !strings.Contains(out.String(), "summary") {
		t.Errorf("no summary printed:\n%s", out.String())
	}

	// Started again on the same home, it continues the same chain.
	opts.Duration = 2 * time.Second
	var again syncBuffer
	s, err := devnet.Run(context.Background(), opts, &again, io.Discard)
	if err != nil {
		t.Fatalf("devnet restarted on its home: %v\n%s", err, again.String())
	}
	if !strings.Contains(again.String(), "restarted from its home directories") || s.GenesisHash != first.s.GenesisHash ||
		s.Height <= first.s.Height {
		t.Errorf("restart: genesis %s (was %s), height %d (was %d)\n%s", s.GenesisHash, first.s.GenesisHash,
			s.Height, first.s.Height, again.String())
	}

	// A devnet of another shape on the same home is refused with a reason.
	opts.Authorities = 4
	if _, err := devnet.Run(context.Background(), opts, io.Discard, io.Discard); err == nil ||
		!strings.Contains(err.Error(), "--authorities 3") {
		t.Errorf("devnet with 4 authorities on a 3-authority home: %v", err)
	}
}
