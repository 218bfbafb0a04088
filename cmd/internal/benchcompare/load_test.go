package benchcompare

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"
)

// fakeChain answers the three RPC calls the driver makes the way CometBFT
// v1.0.1 does (broadcast_tx_async alone or in batches of at most 10,
// /block, /status), with a mempool of cap transactions that a block every
// interval empties. It stands in for the localnet so that the load loop
// (pacing, batching, refusals, commit matching, drain) runs in a unit test.
type fakeChain struct {
	mu     sync.Mutex
	cap    int
	pool   [][]byte
	blocks [][][]byte // blocks[h-1]
	stop   chan struct{}
	done   chan struct{}
}

func newFakeChain(capacity int, interval time.Duration) *fakeChain {
	f := &fakeChain{cap: capacity, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(f.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-f.stop:
				return
			case <-t.C:
			}
			f.mu.Lock()
			f.blocks = append(f.blocks, f.pool)
			f.pool = nil
			f.mu.Unlock()
		}
	}()
	return f
}

func (f *fakeChain) close() {
	close(f.stop)
	<-f.done
}

type fakeReq struct {
	ID     json.RawMessage `json:"id"`
	Method string          `json:"method"`
	Params struct {
		Tx []byte `json:"tx"` // base64 in JSON
	} `json:"params"`
}

func (f *fakeChain) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	write := func(v any) { _ = json.NewEncoder(w).Encode(v) }
	rpcErr := func(id json.RawMessage, data string) map[string]any {
		return map[string]any{"jsonrpc": "2.0", "id": id, "error": map[string]any{"code": -32603, "message": "Internal error", "data": data}}
	}
	switch r.URL.Path {
	case "/status":
		f.mu.Lock()
		h := len(f.blocks)
		f.mu.Unlock()
		write(map[string]any{"jsonrpc": "2.0", "id": -1, "result": map[string]any{
			"sync_info": map[string]any{"latest_block_height": strconv.Itoa(h), "catching_up": false}}})
	case "/block":
		h, _ := strconv.Atoi(r.URL.Query().Get("height"))
		f.mu.Lock()
		defer f.mu.Unlock()
		if h < 1 || h > len(f.blocks) {
			write(rpcErr(json.RawMessage("-1"), fmt.Sprintf("height %d must be less than or equal to the current blockchain height %d", h, len(f.blocks))))
			return
		}
		txs := []string{}
		for _, tx := range f.blocks[h-1] {
			txs = append(txs, base64.StdEncoding.EncodeToString(tx))
		}
		write(map[string]any{"jsonrpc": "2.0", "id": -1, "result": map[string]any{"block": map[string]any{
			"header": map[string]any{"height": strconv.Itoa(h)}, "data": map[string]any{"txs": txs}}}})
	case "/":
		body, _ := io.ReadAll(r.Body)
		var reqs []fakeReq
		single := json.Unmarshal(body, &reqs) != nil
		if single {
			var one fakeReq
			if err := json.Unmarshal(body, &one); err != nil {
				write(rpcErr(json.RawMessage("-1"), "parse error"))
				return
			}
			reqs = []fakeReq{one}
		}
		if len(reqs) > 10 {
			write(rpcErr(json.RawMessage("-1"), "batch request exceeds maximum (10) allowed number of requests"))
			return
		}
		var out []any
		f.mu.Lock()
		for _, q := range reqs {
			if q.Method != "broadcast_tx_async" {
				out = append(out, rpcErr(q.ID, "unknown method"))
			} else if len(f.pool) >= f.cap {
				out = append(out, rpcErr(q.ID, fmt.Sprintf("mempool is full: number of txs %d (max: %d)", len(f.pool), f.cap)))
			} else {
				f.pool = append(f.pool, q.Params.Tx)
				out = append(out, map[string]any{"jsonrpc": "2.0", "id": q.ID, "result": map[string]any{"code": 0}})
			}
		}
		f.mu.Unlock()
		if single {
			write(out[0])
		} else {
			write(out)
		}
	default:
		http.NotFound(w, r)
	}
}

// TestRunLoadFake drives the load loop against the fake chain: every
// transaction offered is sent, refused (full mempool) or left in the
// driver's queue; every accepted one is matched to its block by hash;
// nothing is left pending.
func TestRunLoadFake(t *testing.T) {
	for _, c := range []struct {
		name        string
		capacity    int
		wantRefusal bool
	}{
		{"roomy", 100_000, false},
		{"full mempool", 15, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFakeChain(c.capacity, 50*time.Millisecond)
			defer f.close()
			srv := httptest.NewServer(f)
			defer srv.Close()
			cfg := loadConfig{RPC: []string{srv.URL, srv.URL}, Rate: 600, Duration: time.Second, Slot: 50 * time.Millisecond,
				TxBytes: 200, Conns: 2, Batch: 10, Run: 1}
			r, err := runLoad(context.Background(), cfg, 0)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%+v", r)
			if offered := r.Sent + r.NotSent; offered < 400 || offered > 600 {
				t.Fatalf("offered %d transactions in 1 s at 600 tx/s", offered)
			}
			if r.Errors != 0 || r.Uncommitted != 0 || r.Committed+r.Refused != r.Sent {
				t.Fatalf("errors %d, uncommitted %d, committed %d + refused %d != sent %d (%s)",
					r.Errors, r.Uncommitted, r.Committed, r.Refused, r.Sent, r.ErrorExample)
			}
			if r.Committed == 0 || r.TxPerSec <= 0 || r.P50Ms <= 0 || r.P99Ms < r.P50Ms || r.Blocks == 0 {
				t.Fatalf("nothing measured: %+v", r)
			}
			if r.Requests == 0 || r.Requests > r.Sent {
				t.Fatalf("%d requests for %d transactions", r.Requests, r.Sent)
			}
			if got := r.Refused > 0; got != c.wantRefusal {
				t.Fatalf("refused %d (%s)", r.Refused, r.RefusedExample)
			}
		})
	}
}
