package node

import (
	"bufio"
	"context"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger/types"
)

// TestHelperProcessNode is not a test: TestKilledNodeKeepsBlocks runs the
// test binary again with this test selected to get a node in a process of
// its own, which it can kill -9.
func TestHelperProcessNode(t *testing.T) {
	if os.Getenv("SIXD_HELPER_NODE") != "1" {
		t.Skip("helper process for TestKilledNodeKeepsBlocks")
	}
	seed, _ := hex.DecodeString(os.Getenv("SIXD_HELPER_SEED"))
	key, err := identity.FromSeed(seed)
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(2)
	}
	g, err := types.LoadGenesis(os.Getenv("SIXD_HELPER_GENESIS"))
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(2)
	}
	n, err := New(context.Background(), key, g, WithListenAddrs("/ip4/127.0.0.1/tcp/0"), WithMDNS(false),
		WithDataDir(os.Getenv("SIXD_HELPER_DATA")), WithAPI("127.0.0.1:0", 0),
		WithBootstrap(strings.Split(os.Getenv("SIXD_HELPER_PEERS"), ",")...), WithSyncInterval(200*time.Millisecond))
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(2)
	}
	fmt.Printf("API %s\n", n.APIAddr())
	select {} // until killed
}

type childNode struct {
	cmd *exec.Cmd
	api string
}

func startChild(t testing.TB, env []string) *childNode {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcessNode$", "-test.v=false")
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if l := sc.Text(); strings.HasPrefix(l, "API ") || strings.HasPrefix(l, "ERR ") {
				lines <- l
			}
		}
	}()
	select {
	case l := <-lines:
		if strings.HasPrefix(l, "ERR ") {
			t.Fatalf("child node: %s", l)
		}
		return &childNode{cmd: cmd, api: "http://" + strings.TrimPrefix(l, "API ")}
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("child node did not start")
	}
	return nil
}

// TestKilledNodeKeepsBlocks: a node in its own process, with a pebble
// store, commits blocks and one transaction of its own, is killed with
// SIGKILL while the chain goes on, and restarts: every block it reported
// committed is still there, unchanged, and it catches up with the chain.
func TestKilledNodeKeepsBlocks(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a process")
	}
	c := startCluster(t, 2, 0)
	dir := t.TempDir()
	genesisPath := filepath.Join(dir, "genesis.toml")
	if err := os.WriteFile(genesisPath, c.Genesis.MarshalTOML(), 0o644); err != nil {
		t.Fatal(err)
	}
	key, _ := identity.Generate(nil)
	var peers []string
	for _, n := range c.Nodes {
		peers = append(peers, n.Host().Addrs()[0].String()+"/p2p/"+n.ID().String())
	}
	env := []string{"SIXD_HELPER_NODE=1", "SIXD_HELPER_SEED=" + hex.EncodeToString(key.Seed()),
		"SIXD_HELPER_GENESIS=" + genesisPath, "SIXD_HELPER_DATA=" + filepath.Join(dir, "data"),
		"SIXD_HELPER_PEERS=" + strings.Join(peers, ",")}

	child := startChild(t, env)
	defer func() { _ = child.cmd.Process.Kill(); _ = child.cmd.Wait() }()
	status := func(api string) StatusResponse {
		var s StatusResponse
		getJSON(t, api+"/v1/status", &s)
		return s
	}
	// The child submits a transaction of its own and sees it committed.
	tx := recordTx(t, c.Genesis, key, 1, time.Now(), "before the crash")
	body := `{"tx":"` + hex.EncodeToString(tx.Encode()) + `"}`
	waitFor(t, 30*time.Second, "the child to accept a transaction", func() bool {
		resp, err := http.Post(child.api+"/v1/txs", "application/json", strings.NewReader(body))
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusAccepted || resp.StatusCode == http.StatusConflict
	})
	var txs TxStatus
	waitFor(t, 30*time.Second, "the child to report the transaction committed", func() bool {
		return getJSON(t, child.api+"/v1/txs/"+tx.Hash().String(), &txs) == 200 && txs.Status == "committed"
	})
	waitFor(t, 30*time.Second, "the child to finalize height 8", func() bool { return status(child.api).Finalized >= 8 })

	// Record what the child reports committed (final), then kill it mid-stream.
	reported := status(child.api).Finalized
	hashes := map[uint64]types.Hash{}
	for h := uint64(1); h <= reported; h++ {
		var b BlockJSON
		if code := getJSON(t, fmt.Sprintf("%s/v1/blocks/%d", child.api, h), &b); code != 200 {
			t.Fatalf("block %d: %d", h, code)
		}
		hashes[h] = b.Hash
	}
	if err := child.cmd.Process.Kill(); err != nil { // SIGKILL: no Close, no flush
		t.Fatal(err)
	}
	_ = child.cmd.Wait()

	// The chain goes on without it.
	waitFor(t, 30*time.Second, "the chain to advance", func() bool { return c.Nodes[0].State().Height >= reported+8 })

	child = startChild(t, env)
	after := status(child.api)
	if after.Finalized < reported {
		t.Fatalf("restarted with %d final blocks, had reported %d committed", after.Finalized, reported)
	}
	for h := uint64(1); h <= reported; h++ {
		var b BlockJSON
		if code := getJSON(t, fmt.Sprintf("%s/v1/blocks/%d", child.api, h), &b); code != 200 || b.Hash != hashes[h] {
			t.Fatalf("block %d after restart: status %d, hash %s, want %s", h, code, b.Hash, hashes[h])
		}
	}
	if getJSON(t, child.api+"/v1/txs/"+tx.Hash().String(), &txs) != 200 || txs.Status != "committed" {
		t.Fatalf("committed transaction lost: %+v", txs)
	}
	target := c.Nodes[0].State().Height
	waitFor(t, 30*time.Second, "the restarted node to catch up", func() bool { return status(child.api).Finalized >= target })
	if _, ok, err := c.Agree(context.Background(), target); err != nil || !ok {
		t.Fatalf("cluster disagrees: %v", err)
	}
	var b BlockJSON
	getJSON(t, fmt.Sprintf("%s/v1/blocks/%d", child.api, target), &b)
	want, _ := c.Nodes[0].Store().Block(context.Background(), target)
	if b.Hash != want.Hash() {
		t.Fatalf("restarted node holds another block at %d", target)
	}
}

// TestAuthoritiesKilledUnderLoad: four authorities and a device on real
// libp2p hosts, one authority in a process of its own. Under load, that
// process is killed with SIGKILL and a second authority is stopped, which
// leaves two of four: too few to finalize (and, by the recent-signer rule,
// to keep sealing). Both come back; finality resumes within 20 s, and every
// transaction the device saw committed before, during and after is final
// on every node.
func TestAuthoritiesKilledUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a process")
	}
	c := startCluster(t, 4, 1)
	dir := t.TempDir()
	genesisPath := filepath.Join(dir, "genesis.toml")
	if err := os.WriteFile(genesisPath, c.Genesis.MarshalTOML(), 0o644); err != nil {
		t.Fatal(err)
	}
	// Authority 3 moves into a child process, on its own store.
	if err := c.StopNode(3); err != nil {
		t.Fatal(err)
	}
	var peers []string
	for _, i := range []int{0, 1, 2, 4} {
		n := c.Nodes[i]
		peers = append(peers, n.Host().Addrs()[0].String()+"/p2p/"+n.ID().String())
	}
	env := []string{"SIXD_HELPER_NODE=1", "SIXD_HELPER_SEED=" + hex.EncodeToString(c.Keys[3].Seed()),
		"SIXD_HELPER_GENESIS=" + genesisPath, "SIXD_HELPER_DATA=" + filepath.Join(dir, "auth3"),
		"SIXD_HELPER_PEERS=" + strings.Join(peers, ",")}
	child := startChild(t, env)
	defer func() { _ = child.cmd.Process.Kill(); _ = child.cmd.Wait() }()

	// The readings are signed by a key of their own: the device node's key
	// also signs the evidence transactions it submits when it sees
	// conflicting votes, which would take the readings' nonces.
	device := c.Nodes[4]
	key, err := identity.Generate(nil)
	if err != nil {
		t.Fatal(err)
	}
	events, cancel := device.SubscribeCommits(4096)
	defer cancel()
	committed := map[types.Hash]uint64{}
	drain := func() {
		for {
			select {
			case e := <-events:
				for _, tx := range e.Block.Txs {
					committed[tx.Hash()] = e.Block.Header.Height
				}
			default:
				return
			}
		}
	}
	var nonce uint64
	submit := func(k int) {
		for i := 0; i < k; i++ {
			nonce++
			tx := recordTx(t, c.Genesis, key, nonce, time.Now(), fmt.Sprintf("reading %d", nonce))
			if _, err := device.Submit(context.Background(), tx.Encode()); err != nil {
				t.Fatalf("submit %d: %v", nonce, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	finalized := func() uint64 { drain(); return c.Nodes[0].State().Height }

	submit(50)
	waitFor(t, 30*time.Second, "finality with all four authorities", func() bool { return finalized() >= 6 })

	// Kill the child authority and stop another: two of four remain.
	if err := child.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = child.cmd.Wait()
	if err := c.StopNode(1); err != nil {
		t.Fatal(err)
	}
	submit(50)
	stalled := finalized()
	time.Sleep(3 * time.Second)
	if got := finalized(); got > stalled+1 {
		t.Fatalf("finality advanced from %d to %d with two of four authorities", stalled, got)
	}

	// Both return; finality must resume within 20 s.
	child = startChild(t, env)
	if _, err := c.StartNode(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	resumeFrom := finalized()
	back := time.Now()
	waitFor(t, 20*time.Second, "finality to resume", func() bool { return finalized() >= resumeFrom+3 })
	t.Logf("finality resumed %s after the authorities returned", time.Since(back).Round(100*time.Millisecond))

	submit(50)
	waitFor(t, 30*time.Second, "every submitted transaction to be final", func() bool { return allCommitted(drain, committed, nonce) })
	// Every transaction the device saw committed is final, once, on every
	// running node.
	target := c.Nodes[0].State().Height
	for _, i := range []int{0, 1, 2, 4} {
		n := c.Nodes[i]
		waitFor(t, 20*time.Second, fmt.Sprintf("node %d to finalize %d", i, target), func() bool { return n.State().Height >= target })
		for h, height := range committed {
			_, at, _, err := n.Store().Tx(context.Background(), h)
			if err != nil || at != height {
				t.Fatalf("node %d: committed transaction %s (block %d) lost: %v", i, h, height, err)
			}
		}
	}
	if _, ok, err := c.Agree(context.Background(), target); err != nil || !ok {
		t.Fatalf("nodes disagree at %d: %v", target, err)
	}
}

// allCommitted reports whether all nonce transactions of the device committed.
func allCommitted(drain func(), committed map[types.Hash]uint64, nonce uint64) bool {
	drain()
	return uint64(len(committed)) >= nonce
}
