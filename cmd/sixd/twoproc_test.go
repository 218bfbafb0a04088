package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sixdomain/sixdomain/node"
)

// TestTwoProcessesAgreeOnReceipts: an authority and a follower, each a
// separately started `sixd run` process with its own pebble store, run an
// example of asset and contract transactions (registration, issue, mint,
// send, a refused send, a contract deploy, a call and a failing call).
// Both report byte-identical receipts for every one of them and identical
// state roots at every height.
func TestTwoProcessesAgreeOnReceipts(t *testing.T) {
	if testing.Short() {
		t.Skip("builds sixd and starts two processes")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "sixd")
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if out, err := exec.Command(goBin, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	pA, pB := freePort(t), freePort(t)
	apiA, apiB := "127.0.0.1:"+strconv.Itoa(freePort(t)), "127.0.0.1:"+strconv.Itoa(freePort(t))
	homeA, homeB := filepath.Join(dir, "authority"), filepath.Join(dir, "follower")
	mustRun(t, "init", "--role", "gateway", "--home", homeA, "--listen", fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", pA), "--api", apiA, "--mdns=false")
	fastGenesis(t, homeA, false)
	boot := fmt.Sprintf("/ip4/127.0.0.1/tcp/%d/p2p/%s", pA, idJSON(t, homeA).PeerID)
	mustRun(t, "init", "--role", "device", "--home", homeB, "--genesis", filepath.Join(homeA, "genesis.toml"),
		"--bootstrap", boot, "--listen", fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", pB), "--api", apiB, "--mdns=false")
	for _, home := range []string{homeA, homeB} {
		cmd := exec.Command(bin, "run", "--home", home)
		var logs bytes.Buffer
		cmd.Stdout, cmd.Stderr = io.Discard, &logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = cmd.Process.Kill() // the test is over; its exit status does not matter
			_ = cmd.Wait()
			if t.Failed() {
				t.Logf("%s log:\n%s", filepath.Base(home), logs.String())
			}
		})
	}
	urlA, urlB := "http://"+apiA, "http://"+apiB
	waitFor(t, 60*time.Second, "both processes' APIs", func() bool {
		_, _, e1 := runCmd(t, "status", "--api", urlA)
		_, _, e2 := runCmd(t, "status", "--api", urlB)
		return e1 == nil && e2 == nil
	})
	run := func(args ...string) string {
		t.Helper()
		return mustRun(t, append(args, "--home", homeA, "--api", urlA)...)
	}
	did := idJSON(t, homeA).DID
	devDID := idJSON(t, homeB).DID
	run("did", "register", "--domain", "operations", "--role", "operator", "--wait")
	run("asset", "issue", "credit", "--max-supply", "1000", "--wait")
	run("asset", "mint", "credit", "500", "--to", did, "--wait")
	run("asset", "send", "credit", "120", "--to", devDID, "--wait")
	_, _, _ = runCmd(t, "asset", "send", "credit", "100000", "--to", devDID, "--wait", "--home", homeA, "--api", urlA) // fails: a failure receipt
	code := filepath.Join(dir, "counter.star")
	if err := os.WriteFile(code, []byte("EXPORTS = [\"inc\"]\ndef inc(by):\n    if by <= 0:\n        fail(\"by\", by)\n    n = storage_get(\"n\", 0) + by\n    storage_set(\"n\", n)\n    emit(\"inc\", n)\n    return n\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := run("contract", "deploy", code, "--wait")
	addr := ""
	for _, f := range strings.Fields(out) {
		if strings.HasPrefix(f, "0x") && len(f) == 66 {
			addr = f
		}
	}
	if addr == "" {
		t.Fatalf("no address in the deploy output:\n%s", out)
	}
	run("contract", "call", addr, "inc", "--args", "[5]", "--wait")
	_, _, _ = runCmd(t, "contract", "call", addr, "inc", "--args", "[-1]", "--wait", "--home", homeA, "--api", urlA) // fails

	get := func(base, path string, v any) int {
		t.Helper()
		resp, err := http.Get(base + path)
		if err != nil {
			return 0
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if v != nil && resp.StatusCode == 200 {
			if err := json.Unmarshal(body, v); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
		}
		return resp.StatusCode
	}
	var st node.StatusResponse
	get(urlA, "/v1/status", &st)
	head := st.Finalized
	waitFor(t, 60*time.Second, "the follower to reach the authority's finalized height", func() bool {
		var sb node.StatusResponse
		return get(urlB, "/v1/status", &sb) == 200 && sb.Finalized >= head
	})
	receipts, failed := 0, 0
	for h := uint64(1); h <= head; h++ {
		var ba, bb map[string]any
		p := "/v1/blocks/" + strconv.FormatUint(h, 10)
		if get(urlA, p, &ba) != 200 || get(urlB, p, &bb) != 200 {
			t.Fatalf("block %d missing", h)
		}
		if ba["state_root"] != bb["state_root"] || ba["hash"] != bb["hash"] {
			t.Fatalf("block %d: state roots %v and %v", h, ba["state_root"], bb["state_root"])
		}
		txs, _ := ba["txs"].([]any)
		for _, x := range txs {
			hash, _ := x.(map[string]any)["hash"].(string)
			var ra, rb json.RawMessage
			ca, cb := get(urlA, "/v1/receipts/"+hash, &ra), get(urlB, "/v1/receipts/"+hash, &rb)
			if ca != cb {
				t.Fatalf("receipt of %s: HTTP %d and %d", hash, ca, cb)
			}
			if ca != 200 {
				continue
			}
			if !bytes.Equal(ra, rb) {
				t.Fatalf("receipt of %s differs:\n%s\n%s", hash, ra, rb)
			}
			receipts++
			if bytes.Contains(ra, []byte(`"failed"`)) {
				failed++
			}
		}
	}
	if receipts < 6 || failed < 2 {
		t.Fatalf("%d receipts (%d failed) compared; the example makes at least 6 (2 failed)", receipts, failed)
	}
	t.Logf("%d blocks, %d receipts (%d failed) identical on both processes", head, receipts, failed)
}
