package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sixdomain/sixdomain/ledger/types"
	"github.com/sixdomain/sixdomain/node"
)

// apiProxy stands between sixd and a node: it logs the requests, can
// refuse the event stream as an older node would, and can cut the open
// streams.
type apiProxy struct {
	url      string
	mu       sync.Mutex
	log      []string // "GET /path?query [Last-Event-ID]"
	noEvents atomic.Bool
	cuts     []context.CancelFunc
}

func newAPIProxy(t *testing.T, api string) *apiProxy {
	t.Helper()
	target, err := url.Parse(api)
	if err != nil {
		t.Fatal(err)
	}
	p := &apiProxy{}
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.FlushInterval = -1
	rp.ErrorLog = log.New(io.Discard, "", 0)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entry := r.Method + " " + r.URL.RequestURI()
		if id := r.Header.Get("Last-Event-ID"); id != "" {
			entry += " [" + id + "]"
		}
		p.mu.Lock()
		p.log = append(p.log, entry)
		p.mu.Unlock()
		if r.URL.Path == "/v1/events" {
			if p.noEvents.Load() {
				http.Error(w, `{"error":"no route GET /v1/events","reason":"not_found"}`, http.StatusNotFound)
				return
			}
			ctx, cancel := context.WithCancel(r.Context())
			p.mu.Lock()
			p.cuts = append(p.cuts, cancel)
			p.mu.Unlock()
			r = r.WithContext(ctx)
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		p.cut()
		srv.Close()
	})
	p.url = srv.URL
	return p
}

// cut ends every open event stream.
func (p *apiProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.cuts {
		c()
	}
	p.cuts = nil
}

// requests returns the logged requests and clears the log.
func (p *apiProxy) requests() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.log
	p.log = nil
	return out
}

func countPrefix(lines []string, prefix string) int {
	k := 0
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			k++
		}
	}
	return k
}

// eventClients reads the node's sixdomain_event_clients gauge.
func eventClients(t *testing.T, api string) string {
	t.Helper()
	resp, err := http.Get(api + "/debug/metrics/prometheus")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "sixdomain_event_clients "); ok {
			return v
		}
	}
	return ""
}

func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

type watchLine struct {
	ID    string          `json:"id"`
	Event string          `json:"event"`
	Data  json.RawMessage `json:"data"`
}

// TestWatchAndWaitUseEventStream: sixd watch --json prints the node's tx
// and record events, one JSON object per line, and resumes after a cut
// connection without gap or duplicate; tx record --wait subscribes to the
// event stream and asks for the status once, and polls only a node without
// the stream.
func TestWatchAndWaitUseEventStream(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a node")
	}
	home := initHome(t, "gateway")
	fastGenesis(t, home, false)
	api := startNode(t, home)
	proxy := newAPIProxy(t, api)

	wantFail(t, []string{"watch", "--api", api, "--types", "head,bogus"}, "unknown event type", "bad_type, HTTP 400")
	wantFail(t, []string{"watch", "--api", api, "--sender", "nobody"}, "bad_sender, HTTP 400")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var watchOut, watchErr syncBuffer
	watchDone := make(chan error, 1)
	go func() {
		root := newRootCmd()
		root.SetArgs([]string{"watch", "--api", proxy.url, "--json", "--types", "tx,record"})
		root.SetIn(strings.NewReader(""))
		root.SetOut(&watchOut)
		root.SetErr(&watchErr)
		watchDone <- root.ExecuteContext(ctx)
	}()
	waitUntil(t, 10*time.Second, "watch to subscribe", func() bool { return eventClients(t, api) == "1" })
	proxy.requests()

	// --wait follows the stream: one subscription, one status check.
	out := mustRun(t, "tx", "record", "--api", proxy.url, "--home", home, "--stream", "temp", "--value", "21.5", "--wait", "--timeout", "60s")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !regexp.MustCompile(`^committed in block \d+$`).MatchString(lines[1]) {
		t.Fatalf("tx record --wait output:\n%s", out)
	}
	hash1, err := types.ParseHash(lines[0])
	if err != nil {
		t.Fatal(err)
	}
	reqs := proxy.requests()
	if countPrefix(reqs, "GET /v1/events?sender="+url.QueryEscape(idJSON(t, home).DID)+"&types=tx") != 1 || countPrefix(reqs, "GET /v1/txs/"+hash1.String()) != 1 {
		t.Errorf("tx record --wait requests (want one subscription and one status check):\n%s", strings.Join(reqs, "\n"))
	}

	// watch printed its tx and record events.
	parse := func() []watchLine {
		var ls []watchLine
		for _, l := range strings.Split(strings.TrimSpace(watchOut.String()), "\n") {
			if l == "" {
				continue
			}
			var w watchLine
			if err := json.Unmarshal([]byte(l), &w); err != nil {
				t.Fatalf("watch --json line %q: %v", l, err)
			}
			ls = append(ls, w)
		}
		return ls
	}
	hasTx := func(h types.Hash) func() bool {
		return func() bool {
			for _, w := range parse() {
				var st node.TxStatus
				if w.Event == node.EventTx && json.Unmarshal(w.Data, &st) == nil && st.Hash == h {
					return true
				}
			}
			return false
		}
	}
	waitUntil(t, 10*time.Second, "watch to print the tx event", hasTx(hash1))

	// Cut watch's connection: it reconnects after the last event.
	proxy.cut()
	waitUntil(t, 15*time.Second, "watch to reconnect", func() bool {
		for _, r := range proxy.requests() {
			if strings.HasPrefix(r, "GET /v1/events?types=tx%2Crecord [") {
				return true
			}
		}
		return false
	})
	waitUntil(t, 10*time.Second, "watch to subscribe again", func() bool { return eventClients(t, api) == "1" })
	// Older node: --wait polls.
	proxy.noEvents.Store(true)
	out = mustRun(t, "tx", "record", "--api", proxy.url, "--home", home, "--stream", "hum", "--value", "40 %", "--wait")
	hash2, err := types.ParseHash(strings.SplitN(out, "\n", 2)[0])
	if err != nil || !strings.Contains(out, "committed in block") {
		t.Fatalf("tx record --wait against a node without events:\n%s", out)
	}
	if k := countPrefix(proxy.requests(), "GET /v1/txs/"+hash2.String()); k < 1 {
		t.Errorf("--wait without the stream asked for the status %d times", k)
	}
	waitUntil(t, 10*time.Second, "watch to print the second tx", hasTx(hash2))

	cancel()
	select {
	case err := <-watchDone:
		if err != nil {
			t.Errorf("watch ended with %v; stderr: %s", err, watchErr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("watch did not end after its context was cancelled")
	}

	// Exactly tx, record, tx, record, with increasing IDs and the values.
	ls := parse()
	var kinds []string
	for _, w := range ls {
		kinds = append(kinds, w.Event)
	}
	if strings.Join(kinds, ",") != "tx,record,tx,record" {
		t.Fatalf("watch printed %v\n%s", kinds, watchOut.String())
	}
	var r1, r2 node.RecordJSON
	if json.Unmarshal(ls[1].Data, &r1) != nil || r1.Value != "21.5" || r1.TxHash != hash1 ||
		json.Unmarshal(ls[3].Data, &r2) != nil || r2.Value != "40 %" || r2.TxHash != hash2 {
		t.Errorf("records: %s / %s", ls[1].Data, ls[3].Data)
	}
	if !strings.Contains(watchErr.String(), "reconnecting") {
		t.Errorf("watch stderr does not mention the reconnect: %q", watchErr.String())
	}
}

// TestWatchHumanFormat: one line per event type.
func TestWatchHumanFormat(t *testing.T) {
	for _, tc := range []struct {
		e    sseEvent
		want string
	}{
		{sseEvent{Type: "head", Data: []byte(`{"height":7,"hash":"` + strings.Repeat("ab", 32) + `","proposer":"did:key:z6Mk1","in_turn":true,"tx_count":2}`)},
			`^head        7 abab\S+ by did:key:z6Mk1 \(in turn\), 2 txs$`},
		{sseEvent{Type: "final", Data: []byte(`{"height":7,"hash":"` + strings.Repeat("ab", 32) + `","tx_count":2,"time_to_finality_ms":850}`)},
			`^final       7 abab\S+, 2 txs, final 850ms after its block time$`},
		{sseEvent{Type: "record", Data: []byte(`{"sender":"did:key:z6Mk1","nonce":3,"height":7,"index":1,"stream":"temp","value":"21.5"}`)},
			`^record      7/1 did:key:z6Mk1 nonce 3 temp=21\.5$`},
		{sseEvent{Type: "authorities", Data: []byte(`{"height":9,"authorities":["a","b"],"added":["b"],"removed":[]}`)},
			`^authorities 9 \+b \(2 authorities\)$`},
		{sseEvent{Type: "reset", Data: []byte(`{"reason":"event ID is older than the replay window","oldest_id":"1-5"}`)},
			`^reset       events were missed: event ID is older than the replay window \(oldest kept: 1-5\)$`},
		{sseEvent{Type: "tx", Data: []byte(`not json`)}, `^tx          \(undecodable`},
		{sseEvent{Type: "tx", Data: []byte(`{"hash":"` + strings.Repeat("cd", 32) + `","status":"committed","height":7,"index":2,` +
			`"tx":{"type":"call","sender":"did:key:z6Mk1","nonce":4,"call":{"address":"` + strings.Repeat("ef", 32) + `","method":"inc","args":[2,"x"],"gas_limit":9}},` +
			`"receipt":{"status":"failed","reason":"contract_failed"}}`)},
			`^tx          7/2 cdcd\S+ call from did:key:z6Mk1 nonce 4 \(call 0xefef\S+ inc\(2, "x"\)\) failed contract_failed$`},
		{sseEvent{Type: "tx", Data: []byte(`{"hash":"` + strings.Repeat("cd", 32) + `","status":"committed","height":7,"index":0,` +
			`"tx":{"type":"asset","sender":"did:key:z6Mk1","nonce":5,"asset":{"op":"send","denom":"credit","amount":5,"to":"did:key:z6Mk2"}},` +
			`"receipt":{"status":"ok"}}`)},
			`^tx          7/0 cdcd\S+ asset from did:key:z6Mk1 nonce 5 \(send credit 5 to did:key:z6Mk2\) ok$`},
	} {
		if got := formatEvent(tc.e); !regexp.MustCompile(tc.want).MatchString(got) {
			t.Errorf("%s: %q, want %s", tc.e.Type, got, tc.want)
		}
	}
}

// TestEventStreamReader: fields, comments, multi-line data, ids, and the
// line bound.
func TestEventStreamReader(t *testing.T) {
	body := ": ping\n\nid: 1-1\nevent: tx\ndata: {\"a\":1}\n\nevent: reset\ndata:x\ndata: y\n\nretry: 5\n\n"
	s := &eventStream{body: io.NopCloser(strings.NewReader(body)), cancel: func() {}, idle: time.NewTimer(time.Hour)}
	s.sc = bufio.NewScanner(s.body)
	s.sc.Buffer(nil, maxEventLine)
	e, err := s.Next()
	if err != nil || e.ID != "1-1" || e.Type != "tx" || string(e.Data) != `{"a":1}` {
		t.Fatalf("first: %+v %v", e, err)
	}
	e, err = s.Next()
	if err != nil || e.ID != "" || e.Type != "reset" || string(e.Data) != "x\ny" || s.LastID() != "1-1" {
		t.Fatalf("second: %+v %v", e, err)
	}
	if _, err := s.Next(); err != io.EOF {
		t.Fatalf("end: %v", err)
	}
	long := "data: " + strings.Repeat("x", maxEventLine+1) + "\n\n"
	s = &eventStream{body: io.NopCloser(strings.NewReader(long)), cancel: func() {}, idle: time.NewTimer(time.Hour)}
	s.sc = bufio.NewScanner(s.body)
	s.sc.Buffer(nil, maxEventLine)
	if _, err := s.Next(); err == nil || err == io.EOF {
		t.Fatalf("an over-long line: %v", err)
	}
}
