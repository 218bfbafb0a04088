package node

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger/types"
)

// sseEvent is one parsed server-sent event.
type sseEvent struct {
	ID, Type string
	Data     []byte
}

// sseConn reads a stream from GET /v1/events in its own goroutine.
type sseConn struct {
	t      *testing.T
	events chan sseEvent
	done   chan error // the read error that ended the stream
	cancel context.CancelFunc
}

// openEvents connects to n's event stream with the query (may be "") and
// Last-Event-ID (may be "").
func openEvents(t *testing.T, n *Node, query, lastID string) *sseConn {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, apiURL(n, "/v1/events?"+query), nil)
	if err != nil {
		t.Fatal(err)
	}
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		cancel()
		t.Fatalf("GET /v1/events?%s: %d %s: %s", query, resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	c := &sseConn{t: t, events: make(chan sseEvent, 100_000), done: make(chan error, 1), cancel: cancel}
	go func() {
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		var e sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if e.Type != "" {
					c.events <- e
				}
				e = sseEvent{}
			case strings.HasPrefix(line, ":"):
			case strings.HasPrefix(line, "id: "):
				e.ID = line[4:]
			case strings.HasPrefix(line, "event: "):
				e.Type = line[7:]
			case strings.HasPrefix(line, "data: "):
				e.Data = []byte(line[6:])
			default:
				c.done <- fmt.Errorf("unexpected line %q", line)
				return
			}
		}
		c.done <- sc.Err()
	}()
	t.Cleanup(c.close)
	return c
}

func (c *sseConn) close() { c.cancel() }

// next returns the next event, failing the test after timeout.
func (c *sseConn) next(timeout time.Duration) sseEvent {
	c.t.Helper()
	select {
	case e := <-c.events:
		return e
	case err := <-c.done:
		// The reader queues every event before it reports the end.
		select {
		case e := <-c.events:
			c.done <- err
			return e
		default:
		}
		c.t.Fatalf("event stream ended: %v", err)
	case <-time.After(timeout):
		c.t.Fatalf("no event within %s", timeout)
	}
	return sseEvent{}
}

// until reads events until stop returns true for one, and returns them all.
func (c *sseConn) until(timeout time.Duration, stop func(sseEvent) bool) []sseEvent {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	var out []sseEvent
	for {
		e := c.next(time.Until(deadline))
		out = append(out, e)
		if stop(e) {
			return out
		}
	}
}

func decodeTxEvent(t *testing.T, e sseEvent) TxStatus {
	t.Helper()
	var st TxStatus
	if err := json.Unmarshal(e.Data, &st); err != nil || st.Tx == nil {
		t.Fatalf("tx event %s: %v", e.Data, err)
	}
	return st
}

// isTx returns a stop condition: the tx event of hash.
func isTx(t *testing.T, hash types.Hash) func(sseEvent) bool {
	return func(e sseEvent) bool { return e.Type == EventTx && decodeTxEvent(t, e).Hash == hash }
}

func idSeq(t *testing.T, id string) uint64 {
	t.Helper()
	_, s, ok := strings.Cut(id, "-")
	seq, err := strconv.ParseUint(s, 10, 64)
	if !ok || err != nil {
		t.Fatalf("event ID %q", id)
	}
	return seq
}

// submitRound submits one record from each of keys per nonce in
// [first, first+per) and returns their hashes in submission order.
func submitRound(t *testing.T, n *Node, g *types.Genesis, keys []*identity.PrivateKey, streams []string, first, per uint64) []types.Hash {
	t.Helper()
	var hashes []types.Hash
	for nonce := first; nonce < first+per; nonce++ {
		for i, k := range keys {
			tx, err := types.NewDataRecordTx(g.ChainID, nonce, time.Now().UnixMilli(),
				types.DataRecord{Stream: streams[i], Value: []byte(fmt.Sprintf("v%d", nonce))})
			if err != nil {
				t.Fatal(err)
			}
			tx.Sign(k)
			if code, body := postTx(t, n, tx.Encode()); code != http.StatusAccepted {
				t.Fatalf("submit: %d %s", code, body)
			}
			hashes = append(hashes, tx.Hash())
		}
	}
	return hashes
}

// TestEventStreamCommitsResumeFilters: on a real node, a subscriber sees
// every committed transaction exactly once, in (height, index) order, with
// its record event right after it and its block's final event before; a
// client that disconnects mid-run and reconnects with Last-Event-ID gets
// exactly the events it missed; stream and sender filters select.
func TestEventStreamCommitsResumeFilters(t *testing.T) {
	c := startCluster(t, 1, 0)
	n := c.Nodes[0]
	var keys []*identity.PrivateKey
	for range 3 {
		k, err := identity.Generate(nil)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	streams := []string{"temp/a", "temp/b", "hum"}
	txs := openEvents(t, n, "types=tx,record,final", "")
	byStream := openEvents(t, n, "stream=temp/b", "")
	bySender := openEvents(t, n, "types=tx&sender="+url.QueryEscape(keys[2].Public().DID()), "")
	resumer := openEvents(t, n, "", "")
	byDID := openEvents(t, n, "types=tx&did="+url.QueryEscape(keys[0].Public().PeerID().String()), "")

	const rounds, per = 3, 4 // 3 rounds × 4 nonces × 3 senders = 36 records
	var hashes []types.Hash
	var resumerSeen, evs []sseEvent
	for r := range uint64(rounds) {
		round := submitRound(t, n, c.Genesis, keys, streams, r*per+1, per)
		hashes = append(hashes, round...)
		last := round[len(round)-1]
		// Waiting for the round's last commit puts the next round in
		// later blocks.
		evs = append(evs, txs.until(60*time.Second, isTx(t, last))...)
		// The tx's record event.
		evs = append(evs, txs.next(10*time.Second))
		if r == 0 {
			// Disconnect mid-run.
			resumerSeen = resumer.until(10*time.Second, isTx(t, last))
			resumer.close()
		}
	}

	// (1) Every committed transaction once, in order.
	var (
		seen    = map[types.Hash]bool{}
		heights = map[uint64]bool{}
		lastH   uint64
		lastI   = -1
		finalAt uint64
	)
	for i, e := range evs {
		switch e.Type {
		case EventFinal:
			var f FinalEvent
			if err := json.Unmarshal(e.Data, &f); err != nil || f.Hash.IsZero() || f.Proposer != c.Keys[0].Public().DID() || f.FinalAt.IsZero() {
				t.Fatalf("final event %s: %v", e.Data, err)
			}
			finalAt, lastI = f.Height, -1
		case EventTx:
			st := decodeTxEvent(t, e)
			if st.Status != "committed" || st.Height != finalAt || int(st.Index) <= lastI || st.Height < lastH {
				t.Fatalf("tx event %d out of order: %+v after height %d index %d (final %d)", i, st, lastH, lastI, finalAt)
			}
			if seen[st.Hash] {
				t.Fatalf("tx %s twice", st.Hash)
			}
			seen[st.Hash], heights[st.Height] = true, true
			lastH, lastI = st.Height, int(st.Index)
			if i+1 >= len(evs) {
				t.Fatalf("tx event %d is the last; want its record event after it", i)
			}
			var rec RecordJSON
			if evs[i+1].Type != EventRecord || json.Unmarshal(evs[i+1].Data, &rec) != nil || rec.TxHash != st.Hash ||
				rec.Height != st.Height || rec.Index != st.Index || rec.Stream != st.Tx.Record.Stream || rec.Sender != st.Tx.Sender {
				t.Fatalf("event after tx %s: %s %s", st.Hash, evs[i+1].Type, evs[i+1].Data)
			}
		}
	}
	for _, h := range hashes {
		if !seen[h] {
			t.Errorf("tx %s never seen", h)
		}
	}
	if len(heights) < 3 {
		t.Errorf("the run spans %d blocks, want at least 3", len(heights))
	}

	// (2) Resume: the resumer's events before the disconnect and after the
	// reconnect are exactly the full stream's over the same range.
	resumed := openEvents(t, n, "", resumerSeen[len(resumerSeen)-1].ID)
	after := resumed.until(30*time.Second, isTx(t, hashes[len(hashes)-1]))
	if after[0].Type == EventReset {
		t.Fatalf("resume within the window got reset: %s", after[0].Data)
	}
	ref := openEvents(t, n, "", resumerSeen[0].ID) // replay of everything from the first
	want := append([]sseEvent{resumerSeen[0]}, ref.until(30*time.Second, isTx(t, hashes[len(hashes)-1]))...)
	got := append(append([]sseEvent(nil), resumerSeen...), after...)
	if len(got) != len(want) {
		t.Fatalf("resumed stream has %d events, the uninterrupted one %d", len(got), len(want))
	}
	for i := range want {
		if got[i].ID != want[i].ID || got[i].Type != want[i].Type || string(got[i].Data) != string(want[i].Data) {
			t.Fatalf("event %d: resumed %s %s, uninterrupted %s %s", i, got[i].ID, got[i].Type, want[i].ID, want[i].Type)
		}
		if i > 0 && idSeq(t, want[i].ID) <= idSeq(t, want[i-1].ID) {
			t.Fatalf("event IDs not increasing: %s after %s", want[i].ID, want[i-1].ID)
		}
	}
	for _, e := range want {
		if e.Type == EventHead {
			var h HeadEvent
			if err := json.Unmarshal(e.Data, &h); err != nil || h.Height == 0 || h.Hash.IsZero() || !h.InTurn {
				t.Fatalf("head event %s: %v", e.Data, err)
			}
		}
	}

	// (4) Filters: the stream filter gets only temp/b's tx and record
	// events (plus heads and finals), the sender filter only keys[2]'s txs.
	streamTxs := 0
	for _, e := range byStream.until(10*time.Second, isTx(t, hashes[len(hashes)-2])) {
		switch e.Type {
		case EventTx:
			if st := decodeTxEvent(t, e); st.Tx.Record == nil || st.Tx.Record.Stream != "temp/b" {
				t.Fatalf("stream filter let through %s", e.Data)
			}
			streamTxs++
		case EventRecord:
			var rec RecordJSON
			if json.Unmarshal(e.Data, &rec) != nil || rec.Stream != "temp/b" {
				t.Fatalf("stream filter let through %s", e.Data)
			}
		}
	}
	if streamTxs != rounds*per {
		t.Errorf("stream filter: %d tx events, want %d", streamTxs, rounds*per)
	}
	senderTxs := 0
	for _, e := range bySender.until(10*time.Second, isTx(t, hashes[len(hashes)-1])) {
		if e.Type != EventTx {
			t.Fatalf("types=tx let through %s", e.Type)
		}
		if st := decodeTxEvent(t, e); st.Tx.Sender != keys[2].Public().DID() {
			t.Fatalf("sender filter let through %s", e.Data)
		}
		senderTxs++
	}
	if senderTxs != rounds*per {
		t.Errorf("sender filter: %d tx events, want %d", senderTxs, rounds*per)
	}
	didTxs := 0
	for _, e := range byDID.until(10*time.Second, isTx(t, hashes[len(hashes)-3])) {
		if st := decodeTxEvent(t, e); e.Type != EventTx || st.Tx.Sender != keys[0].Public().DID() {
			t.Fatalf("did filter (a peer ID) let through %s %s", e.Type, e.Data)
		}
		didTxs++
	}
	if didTxs != rounds*per {
		t.Errorf("did filter: %d tx events, want %d", didTxs, rounds*per)
	}
}

// TestEventStreamResetLaggedBadFilters: with a small window and client
// queue, an ID outside the window (or of another run) gets reset then live
// events; a client that stalls is dropped with lagged while the node keeps
// committing; bad filters are refused with 400 before the stream starts.
func TestEventStreamResetLaggedBadFilters(t *testing.T) {
	c, err := StartCluster(context.Background(), ClusterConfig{ChainID: "node-test", Authorities: 1, Logger: testLogger(),
		Slot: 250 * time.Millisecond, API: true, Options: []Option{WithEventLimits(8, 2)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	n := c.Nodes[0]

	t.Run("bad filters", func(t *testing.T) {
		for _, tc := range []struct{ query, reason string }{
			{"types=head,bogus", "bad_type"},
			{"types=", ""}, // empty: all types
			{"sender=not-a-did", "bad_sender"},
			{"did=did:key:zzz", "bad_did"},
			{"stream=" + url.QueryEscape("has space"), "bad_stream"},
			{"stream=a&stream=b", "bad_request"},
			{"stream=" + strings.Repeat("x", maxEventParam+1), "bad_request"},
		} {
			resp, err := http.Get(apiURL(n, "/v1/events?"+tc.query))
			if err != nil {
				t.Fatal(err)
			}
			var e ErrorResponse
			decErr := json.NewDecoder(resp.Body).Decode(&e)
			resp.Body.Close()
			if tc.reason == "" {
				if resp.StatusCode != http.StatusOK {
					t.Errorf("%s: %d", tc.query, resp.StatusCode)
				}
				continue
			}
			if resp.StatusCode != http.StatusBadRequest || decErr != nil || e.Reason != tc.reason {
				t.Errorf("%s: %d %+v (%v), want 400 %s", tc.query, resp.StatusCode, e, decErr, tc.reason)
			}
		}
	})

	t.Run("reset", func(t *testing.T) {
		live := openEvents(t, n, "types=head,final", "")
		first := live.next(30 * time.Second)
		// Wait until the window (8 events) has moved past first.
		live.until(60*time.Second, func(e sseEvent) bool { return idSeq(t, e.ID) > idSeq(t, first.ID)+10 })
		for _, id := range []string{first.ID, "12345-1", "garbage", strings.SplitN(first.ID, "-", 2)[0] + "-999999999"} {
			s := openEvents(t, n, "", id)
			e := s.next(10 * time.Second)
			var r ResetEvent
			if e.Type != EventReset || e.ID != "" || json.Unmarshal(e.Data, &r) != nil || r.Reason == "" || r.OldestID == "" {
				t.Fatalf("Last-Event-ID %q: first event %q %q %s, want reset", id, e.ID, e.Type, e.Data)
			}
			// Then live events.
			if e := s.next(10 * time.Second); e.ID == "" || idSeq(t, e.ID) <= idSeq(t, first.ID) {
				t.Fatalf("after reset: %+v", e)
			}
			s.close()
		}
	})

	t.Run("outlives server timeouts", func(t *testing.T) {
		// The API server's read and write timeouts, scaled down: the
		// stream must outlive both.
		srv := httptest.NewUnstartedServer(n.Handler())
		srv.Config.ReadTimeout, srv.Config.WriteTimeout = 300*time.Millisecond, 600*time.Millisecond
		srv.Start()
		defer srv.Close()
		resp, err := http.Get(srv.URL + "/v1/events?types=final")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		finals := 0
		for end := time.Now().Add(2 * time.Second); time.Now().Before(end); {
			if !sc.Scan() {
				t.Fatalf("stream ended after %d final events: %v", finals, sc.Err())
			}
			if sc.Text() == "event: final" {
				finals++
			}
		}
	})

	t.Run("slow client dropped", func(t *testing.T) {
		stall := make(chan struct{})
		hook := func() { <-stall }
		n.events.writeHook.Store(&hook)
		slow := openEvents(t, n, "", "")
		start := n.State().Height
		waitFor(t, 30*time.Second, "the stalled client to be dropped", func() bool {
			n.events.mu.Lock()
			defer n.events.mu.Unlock()
			return len(n.events.subs) == 0
		})
		waitFor(t, 30*time.Second, "the node to keep committing", func() bool { return n.State().Height >= start+2 })
		n.events.writeHook.Store(nil)
		close(stall)
		evs := slow.until(10*time.Second, func(e sseEvent) bool { return e.Type == EventLagged })
		if len(evs) > 4 { // at most the one being written and the queue of 2, then lagged
			t.Errorf("a stalled client got %d events before lagged", len(evs))
		}
		var l LaggedEvent
		if err := json.Unmarshal(evs[len(evs)-1].Data, &l); err != nil || l.Reason == "" {
			t.Errorf("lagged data %s: %v", evs[len(evs)-1].Data, err)
		}
		select {
		case err := <-slow.done:
			if err != nil {
				t.Errorf("stream after lagged: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("the server did not end the stream after lagged")
		}
	})
}

// TestEventStreamAuthorities: three authorities vote a fourth key in; the
// event stream reports the change once, after its block's final and
// transaction events, to clients that ask for the key's events.
func TestEventStreamAuthorities(t *testing.T) {
	newcomer, err := identity.Generate(nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := StartCluster(context.Background(), ClusterConfig{ChainID: "node-test", Authorities: 3, Logger: testLogger(),
		Slot: 250 * time.Millisecond, API: true, Options: []Option{WithProposals(map[identity.PublicKey]bool{newcomer.Public(): true})}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	n := c.Nodes[0]
	// From the first event on (the vote may pass before we connect).
	start := n.events.id(0)
	byDID := openEvents(t, n, "types=authorities&did="+url.QueryEscape(newcomer.Public().DID()), start)
	e := byDID.next(60 * time.Second)
	var a AuthoritiesEvent
	if err := json.Unmarshal(e.Data, &a); err != nil || e.Type != EventAuthorities {
		t.Fatalf("first event %s %s: %v", e.Type, e.Data, err)
	}
	if len(a.Authorities) != 4 || len(a.Added) != 1 || a.Added[0] != newcomer.Public().DID() || len(a.Removed) != 0 || a.Height == 0 {
		t.Fatalf("authorities event %s", e.Data)
	}
	// In the full stream it follows its block's final event.
	all := openEvents(t, n, "types=final,tx,authorities", start)
	evs := all.until(10*time.Second, func(x sseEvent) bool { return x.ID == e.ID })
	var prevFinal FinalEvent
	for _, x := range evs[:len(evs)-1] {
		if x.Type == EventFinal {
			if err := json.Unmarshal(x.Data, &prevFinal); err != nil {
				t.Fatal(err)
			}
		}
		if x.Type == EventAuthorities {
			t.Fatalf("an earlier authorities event: %s", x.Data)
		}
	}
	if prevFinal.Height != a.Height {
		t.Fatalf("authorities event at %d follows the final event of %d", a.Height, prevFinal.Height)
	}
	// A filter on another key does not see it.
	other := openEvents(t, n, "types=authorities,final&did="+url.QueryEscape(c.Keys[1].Public().DID()), start)
	for _, x := range other.until(10*time.Second, func(x sseEvent) bool { return x.Type == EventFinal && idSeq(t, x.ID) > idSeq(t, e.ID) }) {
		if x.Type == EventAuthorities {
			t.Fatalf("did filter on another key let through %s", x.Data)
		}
	}
}

func TestWithEventLimitsValidates(t *testing.T) {
	for _, tc := range [][2]int{{0, 1}, {1, 0}, {-1, 5}, {maxEventLimit + 1, 1}} {
		var cfg Config
		if err := WithEventLimits(tc[0], tc[1])(&cfg); err == nil {
			t.Errorf("WithEventLimits(%d, %d) accepted", tc[0], tc[1])
		}
	}
	var cfg Config
	if err := WithEventLimits(8, 2)(&cfg); err != nil || cfg.EventWindow != 8 || cfg.EventClientBuffer != 2 {
		t.Errorf("WithEventLimits(8, 2): %v %+v", err, cfg)
	}
}
