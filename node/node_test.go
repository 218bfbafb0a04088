package node

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sixdomain/sixdomain/consensus"
	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger/types"
)

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func apiURL(n *Node, path string) string { return "http://" + n.APIAddr().String() + path }

func getJSON(t *testing.T, url string, into any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if into != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(body, into); err != nil {
			t.Fatalf("%s: %v: %s", url, err, body)
		}
	}
	return resp.StatusCode
}

func postTx(t *testing.T, n *Node, raw []byte) (int, []byte) {
	t.Helper()
	body, _ := json.Marshal(SubmitRequest{Tx: raw})
	resp, err := http.Post(apiURL(n, "/v1/txs"), "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

func recordTx(t *testing.T, g *types.Genesis, k *identity.PrivateKey, nonce uint64, at time.Time, value string) *types.Tx {
	t.Helper()
	tx, err := types.NewDataRecordTx(g.ChainID, nonce, at.UnixMilli(), types.DataRecord{Stream: "temperature", ContentType: "text/plain", Value: []byte(value)})
	if err != nil {
		t.Fatal(err)
	}
	tx.Sign(k)
	return tx
}

func startCluster(t *testing.T, auths, devices int) *Cluster {
	t.Helper()
	c, err := StartCluster(context.Background(), ClusterConfig{ChainID: "node-test", Authorities: auths, Devices: devices, Logger: testLogger(),
		Slot: 250 * time.Millisecond, BaseDir: t.TempDir(), API: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestClusterConvergesAndProofVerifies: 5 real nodes (3 authorities, 2
// devices) over loopback with pebble stores. A device submits a signed
// record to its own API; it is sealed; every node holds the same chain; the
// proof from the device's API verifies offline against the genesis and
// matches every node's header.
func TestClusterConvergesAndProofVerifies(t *testing.T) {
	c := startCluster(t, 3, 2)
	device := c.Nodes[3]
	tx := recordTx(t, c.Genesis, c.Keys[3], 1, time.Now(), "21.5")
	if code, body := postTx(t, device, tx.Encode()); code != http.StatusAccepted {
		t.Fatalf("submit: %d %s", code, body)
	}
	var status TxStatus
	waitFor(t, 30*time.Second, "the transaction to be committed", func() bool {
		return getJSON(t, apiURL(device, "/v1/txs/"+tx.Hash().String()), &status) == 200 && status.Status == "committed"
	})
	height := status.Height
	waitFor(t, 30*time.Second, "every node to reach the block", func() bool {
		for _, n := range c.Nodes {
			if n.State().Height < height+2 {
				return false
			}
		}
		return true
	})
	for h := uint64(1); h <= height+2; h++ {
		if _, ok, err := c.Agree(context.Background(), h); err != nil || !ok {
			t.Fatalf("nodes disagree at height %d: %v", h, err)
		}
	}
	var proof types.TxProof
	if code := getJSON(t, apiURL(device, "/v1/proofs/"+tx.Hash().String()), &proof); code != 200 {
		t.Fatalf("proof: %d", code)
	}
	header, got, err := consensus.VerifyProof(c.Genesis, nil, &proof)
	if err != nil {
		t.Fatalf("proof does not verify offline: %v", err)
	}
	if got.Hash() != tx.Hash() || header.Height != height {
		t.Fatal("proof is for another transaction or block")
	}
	for i, n := range c.Nodes {
		b, err := n.Store().Block(context.Background(), height)
		if err != nil {
			t.Fatal(err)
		}
		if b.Hash() != header.Hash() {
			t.Fatalf("node %d holds another block at %d", i, height)
		}
	}
	// The device's history lists the record.
	var recs RecordsResponse
	if code := getJSON(t, apiURL(c.Nodes[0], "/v1/records?sender="+c.Keys[3].Public().DID()+"&stream=temperature"), &recs); code != 200 {
		t.Fatalf("records: %d", code)
	}
	if len(recs.Records) != 1 || recs.Records[0].Value != "21.5" || recs.Records[0].TxHash != tx.Hash() {
		t.Fatalf("records = %+v", recs)
	}
	// The next nonce accounts for the committed one.
	var nonce NonceResponse
	getJSON(t, apiURL(device, "/v1/nonces/"+c.Keys[3].Public().PeerID().String()), &nonce)
	if nonce.Committed != 1 || nonce.Next != 2 {
		t.Fatalf("nonce = %+v", nonce)
	}
}

// TestAPIRefusesInvalidTransactions: each invalid transaction is refused
// with its own reason and status code, and nothing reaches the mempool.
func TestAPIRefusesInvalidTransactions(t *testing.T) {
	c := startCluster(t, 1, 1)
	device, g, k := c.Nodes[1], c.Genesis, c.Keys[1]
	now := time.Now()
	first := recordTx(t, g, k, 1, now, "1")
	if code, body := postTx(t, device, first.Encode()); code != http.StatusAccepted {
		t.Fatalf("valid transaction refused: %d %s", code, body)
	}
	waitFor(t, 20*time.Second, "the first transaction to commit", func() bool {
		n, _ := device.Store().Nonce(k.Public())
		return n == 1
	})
	badSig := recordTx(t, g, k, 2, now, "x")
	badSig.Signature[0] ^= 0x80
	wrongChain, _ := types.NewDataRecordTx("another-chain", 2, now.UnixMilli(), types.DataRecord{Stream: "s"})
	wrongChain.Sign(k)
	cases := []struct {
		name   string
		raw    []byte
		code   int
		reason string
	}{
		{"bad signature", badSig.Encode(), 400, "bad_signature"},
		{"wrong chain ID", wrongChain.Encode(), 400, "wrong_chain"},
		{"timestamp in the future", recordTx(t, g, k, 2, now.Add(2*time.Minute), "x").Encode(), 400, "time_in_future"},
		{"timestamp in the past", recordTx(t, g, k, 2, now.Add(-g.TimeWindow().PastFor(types.TxDataRecord)-time.Hour), "x").Encode(), 400, "time_in_past"},
		{"replayed nonce", recordTx(t, g, k, 1, now, "again").Encode(), 409, "replayed_nonce"},
		{"oversize", bytes.Repeat([]byte{0x01}, types.MaxTxBytes+1), 413, "oversize"},
		{"undecodable", []byte("hello, ledger"), 400, "undecodable"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, body := postTx(t, device, tc.raw)
			var e ErrorResponse
			_ = json.Unmarshal(body, &e)
			if code != tc.code || e.Reason != tc.reason {
				t.Fatalf("got %d %q (%s), want %d %q", code, e.Reason, e.Error, tc.code, tc.reason)
			}
		})
	}
	if device.MempoolLen() != 0 {
		for _, tx := range device.pool.Select(100, 1<<20, func(identity.PublicKey) uint64 { return 0 }) {
			t.Logf("pending: nonce %d ts %d", tx.Nonce, tx.Timestamp)
		}
		t.Fatalf("mempool holds %d refused transactions", device.MempoolLen())
	}
	// A body past the API's cap is refused before it is read whole.
	resp, err := http.Post(apiURL(device, "/v1/txs"), "application/json", strings.NewReader(`{"tx":"`+strings.Repeat("ab", 70_000)+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversize body: %d", resp.StatusCode)
	}
	for _, path := range []string{"/v1/blocks/0", "/v1/blocks/abc", "/v1/txs/zz", "/v1/records?sender=nobody", "/v1/nope"} {
		if code := getJSON(t, apiURL(device, path), nil); code < 400 || code >= 500 {
			t.Errorf("%s: status %d, want a 4xx", path, code)
		}
	}
}

// testLogger logs to stderr when SIXD_TEST_LOG is set (debug, info, warn).
func testLogger() *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(os.Getenv("SIXD_TEST_LOG"))); err != nil || os.Getenv("SIXD_TEST_LOG") == "" {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}
