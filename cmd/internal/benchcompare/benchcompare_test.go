package benchcompare

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestKVTx: every transaction is exactly the size asked, unique, and of
// the form kvstore accepts (one "=", neither first nor last, no ":").
func TestKVTx(t *testing.T) {
	seen := map[string]bool{}
	for _, size := range []int{minTxBytes, 200, 1024} {
		for _, seq := range []uint64{0, 1, 99_999, 1 << 40} {
			tx, err := kvTx(3, seq, size)
			if err != nil {
				t.Fatalf("size %d seq %d: %v", size, seq, err)
			}
			if len(tx) != size {
				t.Fatalf("size %d seq %d: got %d bytes", size, seq, len(tx))
			}
			if bytes.Count(tx, []byte("=")) != 1 || bytes.Contains(tx, []byte(":")) || tx[0] == '=' || tx[len(tx)-1] == '=' {
				t.Fatalf("not a kvstore key=value: %q", tx)
			}
			if seen[string(tx)] {
				t.Fatalf("duplicate %q", tx)
			}
			seen[string(tx)] = true
		}
	}
	a, _ := kvTx(1, 5, 64)
	b, _ := kvTx(2, 5, 64)
	if bytes.Equal(a, b) {
		t.Fatal("two runs make the same transaction")
	}
	if _, err := kvTx(1, 1, minTxBytes-1); err == nil {
		t.Fatal("a size below the minimum was accepted")
	}
	if _, err := kvTx(123456789, 1<<62, minTxBytes); err == nil {
		t.Fatal("a key longer than the size was accepted")
	}
}

// TestPercentilesAndRate: nearest-rank percentiles and the committed rate
// over the span from the start of the load to the last commit.
func TestPercentilesAndRate(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- { // 100 ms .. 1 ms, unsorted
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	if got := percentileMs(ds, 0.50); got != 50 {
		t.Fatalf("p50 %v", got)
	}
	if got := percentileMs(ds, 0.99); got != 99 {
		t.Fatalf("p99 %v", got)
	}
	if got := percentileMs(ds, 1); got != 100 {
		t.Fatalf("max %v", got)
	}
	if got := percentileMs(ds[:1], 0.99); got != 100 {
		t.Fatalf("one sample p99 %v", got)
	}
	if got := percentileMs(nil, 0.5); got != 0 {
		t.Fatalf("none %v", got)
	}
	if ds[0] != 100*time.Millisecond {
		t.Fatal("percentileMs sorted its input in place")
	}
	start := time.Unix(1000, 0)
	r := summarize(ds, start, start.Add(4*time.Second))
	if r.Committed != 100 || r.TxPerSec != 25 || r.P50Ms != 50 || r.P99Ms != 99 || r.MaxMs != 100 {
		t.Fatalf("summary %+v", r)
	}
	if r := summarize(nil, start, start); r.Committed != 0 || r.TxPerSec != 0 {
		t.Fatalf("empty summary %+v", r)
	}
}

// TestParseAnswer: CometBFT's answers as it writes them (v1.0.1) are
// classified: accepted, a full mempool (refused), a height not reached,
// any other error, and garbage.
func TestParseAnswer(t *testing.T) {
	ok := `{"jsonrpc":"2.0","id":7,"result":{"code":0,"data":"","log":"","codespace":"","hash":"697D1BC6C73A3C6761A85836AA4557D1272F6D251759A885671E94119E8C6F82"}}`
	if _, err := parseAnswer([]byte(ok)); err != nil {
		t.Fatalf("accepted: %v", err)
	}
	for _, c := range []struct {
		body string
		want error
	}{
		{`{"jsonrpc":"2.0","id":8,"error":{"code":-32603,"message":"Internal error","data":"mempool is full: number of txs 5000 (max: 5000), total txs bytes 1000000 (max: 1073741824)"}}`, ErrMempoolFull},
		{`{"jsonrpc":"2.0","id":-1,"error":{"code":-32603,"message":"Internal error","data":"height 99999 must be less than or equal to the current blockchain height 10"}}`, ErrNoBlockYet},
		{`{"jsonrpc":"2.0","id":8,"error":{"code":-32603,"message":"Internal error","data":"tx already exists in cache"}}`, ErrRPC},
		{`{"jsonrpc":"2.0","id":8}`, ErrRPC},
		{`<html>502</html>`, ErrRPC},
	} {
		_, err := parseAnswer([]byte(c.body))
		if !errors.Is(err, c.want) {
			t.Fatalf("%s: got %v, want %v", c.body, err, c.want)
		}
		if c.want != ErrMempoolFull && errors.Is(err, ErrMempoolFull) {
			t.Fatalf("%s: counted as a full mempool", c.body)
		}
	}
}

// TestParseBlockAndTrack: a /block result's transactions decode, and the
// tracker matches them by SHA-256 (CometBFT's transaction hash) to their
// send times, ignoring transactions it did not send.
func TestParseBlockAndTrack(t *testing.T) {
	mine, _ := kvTx(0, 1, 200)
	other := []byte("someone=else")
	want := sha256.Sum256(mine)
	// The hash CometBFT v1.0.1 answered for broadcast_tx_async of "abc=def"
	// (TestParseAnswer's first answer): SHA-256 of the transaction.
	if h := sha256.Sum256([]byte("abc=def")); strings.ToUpper(hex.EncodeToString(h[:])) != "697D1BC6C73A3C6761A85836AA4557D1272F6D251759A885671E94119E8C6F82" {
		t.Fatal("CometBFT's transaction hash is not SHA-256 of the transaction")
	}
	res := fmt.Sprintf(`{"block_id":{"hash":"AB","parts":{"total":1,"hash":"CD"}},"block":{"header":{"version":{"block":"11"},"chain_id":"chain-x","height":"12","time":"2026-12-07T07:06:24.63271908Z"},"data":{"txs":[%q,%q]},"evidence":{"evidence":[]},"last_commit":{"height":"11","round":0,"signatures":[]}}}`,
		base64.StdEncoding.EncodeToString(mine), base64.StdEncoding.EncodeToString(other))
	h, txs, err := parseBlock([]byte(res))
	if err != nil {
		t.Fatal(err)
	}
	if h != 12 || len(txs) != 2 || !bytes.Equal(txs[0], mine) || !bytes.Equal(txs[1], other) {
		t.Fatalf("height %d txs %q", h, txs)
	}
	tr := newTracker()
	t0 := time.Unix(2000, 0)
	tr.add(want, t0)
	tr.add(sha256.Sum256([]byte("not=committed")), t0)
	tr.committed(txs, t0.Add(300*time.Millisecond))
	if tr.pending() != 1 || !slices.Equal(tr.latencies, []time.Duration{300 * time.Millisecond}) || !tr.last.Equal(t0.Add(300*time.Millisecond)) {
		t.Fatalf("pending %d latencies %v last %v", tr.pending(), tr.latencies, tr.last)
	}
	if _, _, err := parseBlock([]byte(`{"block":{"header":{"height":"x"},"data":{"txs":[]}}}`)); !errors.Is(err, ErrRPC) {
		t.Fatalf("bad height: %v", err)
	}
	if _, _, err := parseBlock([]byte(`{"block":{"header":{"height":"3"},"data":{"txs":["***"]}}}`)); !errors.Is(err, ErrRPC) {
		t.Fatalf("bad base64: %v", err)
	}
	if h, err := parseStatus([]byte(`{"sync_info":{"latest_block_height":"10","catching_up":false}}`)); err != nil || h != 10 {
		t.Fatalf("status %d %v", h, err)
	}
	if _, err := parseStatus([]byte(`{"sync_info":{"latest_block_height":"10","catching_up":true}}`)); err == nil {
		t.Fatal("a node catching up counted as ready")
	}
}

// TestBroadcastBody: one transaction is one JSON-RPC 2.0 request, more
// are a batch (an array) with consecutive ids; the transaction is in
// base64, as CometBFT's JSON-RPC server reads []byte parameters. The
// batch answer is read back by id, in any order, each answer classified.
func TestBroadcastBody(t *testing.T) {
	got := string(broadcastBody([][]byte{[]byte("abc=def")}, 7))
	want := `{"jsonrpc":"2.0","id":7,"method":"broadcast_tx_async","params":{"tx":"YWJjPWRlZg=="}}`
	if got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	got = string(broadcastBody([][]byte{[]byte("a=b"), []byte("c=d")}, 9))
	want = `[{"jsonrpc":"2.0","id":9,"method":"broadcast_tx_async","params":{"tx":"YT1i"}},` +
		`{"jsonrpc":"2.0","id":10,"method":"broadcast_tx_async","params":{"tx":"Yz1k"}}]`
	if got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	answer := `[{"jsonrpc":"2.0","id":11,"error":{"code":-32603,"message":"Internal error","data":"mempool is full: number of txs 5000 (max: 5000), total txs bytes 1000000 (max: 67108864)"}},` +
		`{"jsonrpc":"2.0","id":9,"result":{"code":0,"data":"","log":"","codespace":"","hash":"AA"}}]`
	errs, err := parseBatch([]byte(answer), 9, 3)
	if err != nil {
		t.Fatal(err)
	}
	if errs[0] != nil || !errors.Is(errs[1], ErrRPC) || !errors.Is(errs[2], ErrMempoolFull) {
		t.Fatalf("%v", errs)
	}
	if s := errs[2].Error(); s != "mempool is full: number of txs 5000 (max: 5000), total txs bytes 1000000 (max: 67108864)" {
		t.Fatalf("refusal reads %q", s)
	}
	// A request CometBFT could not parse at all is answered with one error.
	if _, err := parseBatch([]byte(`{"jsonrpc":"2.0","id":-1,"error":{"code":-32700,"message":"Parse error","data":"x"}}`), 1, 2); !errors.Is(err, ErrRPC) {
		t.Fatalf("whole-batch error: %v", err)
	}
}

// An excerpt of the config.toml `cometbft testnet` writes (v1.0.1): the
// same key in several sections, commented keys, the sections editConfig
// changes.
const configExcerpt = `# This is a TOML config file.
proxy_app = "tcp://127.0.0.1:26658"
moniker = "node0"
log_level = "info"

[rpc]
# laddr = "commented out"
laddr = "tcp://127.0.0.1:26657"
max_open_connections = 900

[grpc]
laddr = ""

[p2p]
laddr = "tcp://0.0.0.0:26656"
persistent_peers = "a@127.0.0.1:26656,b@127.0.0.2:26656"
addr_book_strict = true
allow_duplicate_ip = false

[mempool]
size = 5000

[consensus]
timeout_propose = "3s"
timeout_commit = "1s"
`

func TestEditConfig(t *testing.T) {
	got, err := editConfig(configExcerpt, "127.0.0.3", 26656, 200*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{
		`proxy_app = "kvstore"`,
		`# laddr = "commented out"`,
		"[rpc]\n# laddr = \"commented out\"\nladdr = \"tcp://127.0.0.3:26657\"",
		"[grpc]\nladdr = \"\"",
		"[p2p]\nladdr = \"tcp://127.0.0.3:26656\"",
		`persistent_peers = "a@127.0.0.1:26656,b@127.0.0.2:26656"`,
		"addr_book_strict = false",
		"allow_duplicate_ip = true",
		"size = 5000",
		`timeout_propose = "3s"`,
		`timeout_commit = "200ms"`,
	} {
		if !strings.Contains(got, line) {
			t.Fatalf("missing %q in\n%s", line, got)
		}
	}
	if _, err := setTOML(configExcerpt, "consensus", "no_such_key", "1"); err == nil {
		t.Fatal("a missing key was set")
	}
	if _, err := setTOML(configExcerpt, "", "size", "1"); err == nil {
		t.Fatal("a key of [mempool] was found at the top level")
	}
}

func TestParseRatesAndArgs(t *testing.T) {
	rates, err := ParseRates(" 1000, 2000,4000,8000,")
	if err != nil || !slices.Equal(rates, []float64{1000, 2000, 4000, 8000}) {
		t.Fatalf("%v %v", rates, err)
	}
	for _, bad := range []string{"", "1000,x", "0", "-5", "200000"} {
		if _, err := ParseRates(bad); err == nil {
			t.Fatalf("%q accepted", bad)
		}
	}
	c := Config{Slot: 200 * time.Millisecond, Duration: 8 * time.Second, TxBytes: 200, DevnetFlags: DefaultDevnetFlags}
	got := strings.Join(devnetArgs(c, 4000, "out.json"), " ")
	want := "devnet --quiet --authorities 4 --slot 200ms --rate 4000 --duration 8s --tx-bytes 200 --json out.json --devices 0 --sensors 40"
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

// TestSummaryAndTable: a devnet JSON summary becomes a Result, and the
// table has one row per rate with the ratios six/cmt and states what is
// compared.
func TestSummaryAndTable(t *testing.T) {
	s, err := parseSummary([]byte(`{"authorities":4,"devices":2,"slot_ms":200,"offered_tx_per_s":2000,"duration_s":8.1,"blocks":40,
		"submitted":16000,"refused":12,"committed":15990,"uncommitted":10,"committed_tx_per_s":1950.5,
		"latency_p50_ms":300,"latency_p99_ms":700,"latency_max_ms":900,"nodes_agree":true,"submit_error_example":"busy"}`))
	if err != nil {
		t.Fatal(err)
	}
	six := fromDevnet(s)
	if six.Committed != 15990 || six.Sent != 16012 || six.Refused != 12 || six.Uncommitted != 10 || six.TxPerSec != 1950.5 ||
		six.P50Ms != 300 || six.P99Ms != 700 || six.Blocks != 40 || six.RefusedExample != "busy" {
		t.Fatalf("%+v", six)
	}
	if _, err := parseSummary([]byte("{")); err == nil {
		t.Fatal("a broken summary parsed")
	}
	cmt := Result{TxPerSec: 975.25, P50Ms: 600, P99Ms: 900, Sent: 16000, Committed: 15000, Refused: 1000,
		RefusedExample: "mempool is full: number of txs 5000 (max: 5000)"}
	var out bytes.Buffer
	writeTable(&out, Header{CometVersion: "v1.0.1", Validators: 4, Slot: 200 * time.Millisecond, Duration: 8 * time.Second,
		TxBytes: 200, DevnetFlags: DefaultDevnetFlags, Machine: "2 cores"},
		[]Row{{Rate: 2000, CometBFT: cmt, Sixdomain: six}, {Rate: 8000, CometErr: errors.New("boom"), Sixdomain: six},
			{Rate: 16000, CometBFT: cmt, Sixdomain: Result{Sent: 5, Uncommitted: 5}}})
	text := out.String()
	for _, want := range []string{
		"timeout_commit 200ms", "every transaction 200 bytes", "unsigned", "Ed25519-signed", "verified on every node",
		"| 2,000 | 975 | 600 | 900 | 1,951 | 300 | 700 | 2.00 | 0.50 |",
		"| 8,000 | failed | – | – | 1,951 | 300 | 700 | – | – |",
		"| 16,000 | 975 | 600 | 900 | 0 | – | – | 0.00 | – |",
		"1000 refused", "failed: boom",
	} {
		if !strings.Contains(text, want) {
			t.Fatalf("missing %q in\n%s", want, text)
		}
	}
}
