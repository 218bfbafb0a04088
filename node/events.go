package node

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sixdomain/sixdomain/chain"
	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger/types"
)

// The event stream (GET /v1/events, docs/API.md): the chain loop appends
// events to a bounded in-memory log; each client has a bounded queue that
// the chain loop fills without waiting; a client whose queue is full is
// dropped (event "lagged"). Events hold pointers into blocks and are
// encoded to JSON once, by the first client that writes them.

// Event types.
const (
	EventHead        = "head"
	EventFinal       = "final"
	EventTx          = "tx"
	EventRecord      = "record"
	EventAuthorities = "authorities"
	EventReset       = "reset"
	EventLagged      = "lagged"
)

// eventTypes are the types a client may ask for, in their documented order.
var eventTypes = []string{EventHead, EventFinal, EventTx, EventRecord, EventAuthorities}

const (
	// DefaultEventWindow is how many events a node keeps to replay to
	// clients that reconnect with Last-Event-ID.
	DefaultEventWindow = 4096
	// DefaultEventClientBuffer is how many events may wait for one client
	// before it is dropped as lagged.
	DefaultEventClientBuffer = 1024
	// maxEventLimit bounds both (WithEventLimits).
	maxEventLimit = 1 << 20
	// maxEventClients bounds the concurrent event-stream clients.
	maxEventClients = 256
	// eventPingInterval is how often an idle stream gets a ": ping" comment.
	eventPingInterval = 15 * time.Second
	// eventWriteTimeout bounds each write to a client.
	eventWriteTimeout = 10 * time.Second
	// maxEventParam bounds each query parameter and Last-Event-ID.
	maxEventParam = 256
)

// HeadEvent is the data of a "head" event.
type HeadEvent struct {
	Height   uint64     `json:"height"`
	Hash     types.Hash `json:"hash"`
	Parent   types.Hash `json:"parent"`
	Proposer string     `json:"proposer"`
	Time     time.Time  `json:"time"`
	TxCount  uint32     `json:"tx_count"`
	InTurn   bool       `json:"in_turn"`
}

// FinalEvent is the data of a "final" event.
type FinalEvent struct {
	Height           uint64     `json:"height"`
	Hash             types.Hash `json:"hash"`
	Proposer         string     `json:"proposer"`
	InTurn           bool       `json:"in_turn"`
	TxCount          uint32     `json:"tx_count"`
	Time             time.Time  `json:"time"` // block time
	FinalAt          time.Time  `json:"final_at"`
	TimeToFinalityMS int64      `json:"time_to_finality_ms"` // final_at − block time
	StateRoot        types.Hash `json:"state_root"`
}

// AuthoritiesEvent is the data of an "authorities" event.
type AuthoritiesEvent struct {
	Height      uint64   `json:"height"`
	Authorities []string `json:"authorities"`
	Added       []string `json:"added"`
	Removed     []string `json:"removed"`
}

// ResetEvent is the data of a "reset" event.
type ResetEvent struct {
	Reason   string `json:"reason"`
	OldestID string `json:"oldest_id"`
}

// LaggedEvent is the data of a "lagged" event.
type LaggedEvent struct {
	Reason string `json:"reason"`
}

// event is one entry of the log. Only seq, typ and what the constructor
// set are fixed; meta and data are derived once, on first use.
type event struct {
	seq   uint64
	typ   string
	block *types.Block
	index int       // tx and record: the transaction's index in block
	at    time.Time // final: when it became final here
	auth  *AuthoritiesEvent
	// authKeys are the keys an authorities event names (added or removed).
	authKeys []identity.PublicKey

	metaOnce sync.Once
	stream   string // record stream of a record transaction
	isRecord bool
	subject  identity.PublicKey // DID operation subject
	isDIDOp  bool

	dataOnce sync.Once
	data     []byte
	dataErr  error
}

func (e *event) tx() *types.Tx { return e.block.Txs[e.index] }

// meta decodes what the filters look at, once.
func (e *event) meta() {
	e.metaOnce.Do(func() {
		tx := e.tx()
		switch tx.Type {
		case types.TxDataRecord:
			if rec, err := types.DecodeDataRecord(tx.Payload); err == nil {
				e.stream, e.isRecord = rec.Stream, true
			}
		case types.TxDID:
			if op, err := types.DecodeDIDOp(tx.Payload); err == nil {
				e.subject, e.isDIDOp = op.Subject, true
			}
		}
	})
}

// encode returns the event's JSON data, built once.
func (e *event) encode() ([]byte, error) {
	e.dataOnce.Do(func() {
		var v any
		h := &e.block.Header
		switch e.typ {
		case EventHead:
			v = HeadEvent{Height: h.Height, Hash: e.block.Hash(), Parent: h.Parent, Proposer: h.Proposer.DID(),
				Time: h.BlockTime().UTC(), TxCount: h.TxCount, InTurn: h.Difficulty == types.DiffInTurn}
		case EventFinal:
			v = FinalEvent{Height: h.Height, Hash: e.block.Hash(), Proposer: h.Proposer.DID(), InTurn: h.Difficulty == types.DiffInTurn,
				TxCount: h.TxCount, Time: h.BlockTime().UTC(), FinalAt: e.at.UTC(),
				TimeToFinalityMS: max(e.at.Sub(h.BlockTime()).Milliseconds(), 0), StateRoot: h.StateRoot}
		case EventTx:
			tx := e.tx()
			j := txJSON(tx)
			v = TxStatus{Hash: tx.Hash(), Status: "committed", Height: h.Height, Index: uint32(e.index), BlockTime: h.Time, Tx: &j}
		case EventRecord:
			tx := e.tx()
			rec, err := types.DecodeDataRecord(tx.Payload)
			if err != nil {
				e.dataErr = fmt.Errorf("record of %s: %w", tx.Hash(), err)
				return
			}
			v = recordJSON(tx, rec, h.Height, h.Time, uint32(e.index))
		case EventAuthorities:
			v = e.auth
		default:
			e.dataErr = fmt.Errorf("unknown event type %q", e.typ)
			return
		}
		e.data, e.dataErr = json.Marshal(v)
	})
	return e.data, e.dataErr
}

// recordJSON is a committed record as GET /v1/records and the event stream
// show it.
func recordJSON(tx *types.Tx, rec *types.DataRecord, height uint64, blockTime int64, index uint32) RecordJSON {
	return RecordJSON{Sender: tx.Sender.DID(), Nonce: tx.Nonce, Timestamp: tx.Timestamp, BlockTime: blockTime, TxHash: tx.Hash(),
		Height: height, Index: index, RecordPayload: recordPayload(rec)}
}

// eventFilter selects the events a client gets.
type eventFilter struct {
	types     map[string]bool // nil: all
	stream    string
	sender    *identity.PublicKey
	did       *identity.PublicKey
	hasStream bool
}

func (f *eventFilter) match(e *event) bool {
	if f.types != nil && !f.types[e.typ] {
		return false
	}
	switch e.typ {
	case EventTx, EventRecord:
		tx := e.tx()
		if f.sender != nil && tx.Sender != *f.sender {
			return false
		}
		if f.hasStream || f.did != nil {
			e.meta()
		}
		if f.hasStream && (!e.isRecord || e.stream != f.stream) {
			return false
		}
		if f.did != nil && tx.Sender != *f.did && (!e.isDIDOp || e.subject != *f.did) {
			return false
		}
	case EventAuthorities:
		if f.did != nil && !slices.Contains(e.authKeys, *f.did) {
			return false
		}
	}
	return true
}

// parseEventFilter reads the query of GET /v1/events. It returns the
// reason code of a refusal with the error.
func parseEventFilter(r *http.Request) (eventFilter, string, error) {
	var f eventFilter
	q := r.URL.Query()
	for _, k := range []string{"types", "stream", "sender", "did", "last_event_id"} {
		vs := q[k]
		if len(vs) > 1 {
			return f, "bad_request", fmt.Errorf("query parameter %q given %d times", k, len(vs))
		}
		if len(vs) == 1 && len(vs[0]) > maxEventParam {
			return f, "bad_request", fmt.Errorf("query parameter %q exceeds %d bytes", k, maxEventParam)
		}
	}
	if s := q.Get("types"); s != "" {
		f.types = map[string]bool{}
		for _, t := range strings.Split(s, ",") {
			t = strings.TrimSpace(t)
			if !slices.Contains(eventTypes, t) {
				return f, "bad_type", fmt.Errorf("unknown event type %q (want %s)", truncateParam(t), strings.Join(eventTypes, ", "))
			}
			f.types[t] = true
		}
	}
	if s := q.Get("stream"); s != "" {
		if err := types.ValidateStream(s); err != nil {
			return f, "bad_stream", err
		}
		f.stream, f.hasStream = s, true
	}
	if s := q.Get("sender"); s != "" {
		k, err := ParseSender(s)
		if err != nil {
			return f, "bad_sender", err
		}
		f.sender = &k
	}
	if s := q.Get("did"); s != "" {
		k, err := ParseSender(s)
		if err != nil {
			return f, "bad_did", err
		}
		f.did = &k
	}
	return f, "", nil
}

func truncateParam(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// eventSub is one client's subscription.
type eventSub struct {
	filter eventFilter
	ch     chan *event
	lagged chan struct{} // closed when the log dropped the client
}

// eventLog is the bounded log of recent events and its subscribers.
type eventLog struct {
	epoch  string // this process's part of every event ID
	window int
	buffer int

	mu      sync.Mutex
	ring    []*event // ring[seq % window]
	next    uint64   // seq of the next event; the first is 1
	subs    map[*eventSub]struct{}
	clients func(int)
	dropped func()

	// writeHook, if set, runs before each event is written to a client
	// (tests use it to stall a client).
	writeHook atomic.Pointer[func()]
}

func newEventLog(window, buffer int, epoch time.Time, clients func(int), dropped func()) *eventLog {
	return &eventLog{epoch: strconv.FormatInt(epoch.UnixNano(), 10), window: window, buffer: buffer,
		ring: make([]*event, window), next: 1, subs: map[*eventSub]struct{}{}, clients: clients, dropped: dropped}
}

// id is the event ID of seq: "<epoch>-<seq>".
func (l *eventLog) id(seq uint64) string { return l.epoch + "-" + strconv.FormatUint(seq, 10) }

// oldest returns the lowest seq still in the ring (next when it is empty).
// Call with l.mu held.
func (l *eventLog) oldest() uint64 {
	if l.next-1 > uint64(l.window) {
		return l.next - uint64(l.window)
	}
	return 1
}

// publish appends events and queues them for the subscribers that want
// them. It never waits: a subscriber whose queue is full is dropped.
func (l *eventLog) publish(evs []*event) {
	if l == nil || len(evs) == 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range evs {
		e.seq = l.next
		l.next++
		l.ring[e.seq%uint64(l.window)] = e
		for s := range l.subs {
			if !s.filter.match(e) {
				continue
			}
			select {
			case s.ch <- e:
			default:
				l.drop(s)
			}
		}
	}
}

// drop ends a subscription as lagged. Call with l.mu held.
func (l *eventLog) drop(s *eventSub) {
	delete(l.subs, s)
	close(s.lagged)
	l.clients(len(l.subs))
	l.dropped()
}

var errTooManyClients = errors.New("too many event-stream clients")

// subscribe registers a client. After a last ID still in the window it
// returns the later events that match (the replay); after any other last
// ID it returns the reset to send first.
func (l *eventLog) subscribe(f eventFilter, lastID string) (*eventSub, []*event, *ResetEvent, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.subs) >= maxEventClients {
		return nil, nil, nil, errTooManyClients
	}
	s := &eventSub{filter: f, ch: make(chan *event, l.buffer), lagged: make(chan struct{})}
	var (
		replay []*event
		reset  *ResetEvent
	)
	if lastID != "" {
		oldest := l.oldest()
		seq, reason := l.parseID(lastID)
		switch {
		case reason != "":
		case seq >= l.next:
			reason = "event ID is ahead of this node's events"
		case seq+1 < oldest:
			reason = "event ID is older than the replay window"
		}
		if reason != "" {
			reset = &ResetEvent{Reason: reason}
			if oldest < l.next {
				reset.OldestID = l.id(oldest)
			}
		} else {
			for q := seq + 1; q < l.next; q++ {
				if e := l.ring[q%uint64(l.window)]; f.match(e) {
					replay = append(replay, e)
				}
			}
		}
	}
	l.subs[s] = struct{}{}
	l.clients(len(l.subs))
	return s, replay, reset, nil
}

// parseID returns the seq of an ID of this log, or why it is not one.
func (l *eventLog) parseID(id string) (uint64, string) {
	epoch, seqText, ok := strings.Cut(id, "-")
	if !ok || len(id) > maxEventParam {
		return 0, "malformed event ID"
	}
	if epoch != l.epoch {
		return 0, "event ID from another run of the node"
	}
	// seq 0 is "before the first event".
	seq, err := strconv.ParseUint(seqText, 10, 64)
	if err != nil {
		return 0, "malformed event ID"
	}
	return seq, ""
}

func (l *eventLog) unsubscribe(s *eventSub) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.subs[s]; ok {
		delete(l.subs, s)
		l.clients(len(l.subs))
	}
}

// blockEvents builds the events of the chain's events, in stream order:
// new heads, then for each committed block final, its transactions (a
// record's record event right after its tx event) and, if the set
// changed, authorities. It does no I/O beyond the authority snapshots of
// blocks that carry an authority vote.
func (n *Node) blockEvents(ev chain.Events) []*event {
	var out []*event
	for _, b := range ev.Heads {
		out = append(out, &event{typ: EventHead, block: b})
	}
	for _, c := range ev.Committed {
		out = append(out, &event{typ: EventFinal, block: c.Block, at: c.At})
		for i, tx := range c.Block.Txs {
			out = append(out, &event{typ: EventTx, block: c.Block, index: i})
			if tx.Type == types.TxDataRecord {
				out = append(out, &event{typ: EventRecord, block: c.Block, index: i})
			}
		}
		if a := n.authorityChange(c.Block); a != nil {
			out = append(out, a)
		}
	}
	return out
}

// authorityChange compares the authority sets before and after b. Only a
// block that carries a vote can change the set.
func (n *Node) authorityChange(b *types.Block) *event {
	if _, _, voted := b.Header.Vote(); !voted || b.Header.Height == 0 {
		return nil
	}
	before, err := n.chain.AuthoritiesAt(b.Header.Height-1, b.Header.Parent)
	if err != nil {
		n.log.Warn("event stream: authority set before block", "height", b.Header.Height, "err", err)
		return nil
	}
	after, err := n.chain.AuthoritiesAt(b.Header.Height, b.Hash())
	if err != nil {
		n.log.Warn("event stream: authority set after block", "height", b.Header.Height, "err", err)
		return nil
	}
	a := &AuthoritiesEvent{Height: b.Header.Height, Authorities: []string{}, Added: []string{}, Removed: []string{}}
	var keys []identity.PublicKey
	for _, k := range after {
		a.Authorities = append(a.Authorities, k.DID())
		if !slices.Contains(before, k) {
			a.Added = append(a.Added, k.DID())
			keys = append(keys, k)
		}
	}
	for _, k := range before {
		if !slices.Contains(after, k) {
			a.Removed = append(a.Removed, k.DID())
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil
	}
	return &event{typ: EventAuthorities, block: b, auth: a, authKeys: keys}
}

// handleEvents serves GET /v1/events as server-sent events.
func (n *Node) handleEvents(w http.ResponseWriter, r *http.Request) {
	if n.events == nil {
		writeError(w, http.StatusServiceUnavailable, errors.New("the event stream is off on this node"), "unavailable")
		return
	}
	f, reason, err := parseEventFilter(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err, reason)
		return
	}
	lastID := r.Header.Get("Last-Event-ID")
	if lastID == "" {
		lastID = r.URL.Query().Get("last_event_id")
	}
	sub, replay, reset, err := n.events.subscribe(f, strings.TrimSpace(lastID))
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, err, "too_many_clients")
		return
	}
	defer n.events.unsubscribe(sub)

	rc := http.NewResponseController(w)
	// On Close, unblock a write to a client that does not read, so that the
	// server's shutdown need not wait for it.
	stop := context.AfterFunc(n.ctx, func() {
		if err := rc.SetWriteDeadline(time.Now()); err != nil {
			n.log.Debug("event stream: ending a write on close", "err", err)
		}
	})
	defer stop()
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	cw := &eventWriter{w: w, rc: rc}
	if err := cw.flush(); err != nil {
		return
	}
	if reset != nil {
		if err := cw.send("", EventReset, reset); err != nil {
			return
		}
	}
	for _, e := range replay {
		if n.ctx.Err() != nil || r.Context().Err() != nil {
			return
		}
		if err := n.writeEvent(cw, e); err != nil {
			return
		}
	}
	ping := time.NewTicker(eventPingInterval)
	defer ping.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-n.ctx.Done():
			return
		case <-sub.lagged:
			// Send what was queued before the drop (contiguous events),
			// then say why the stream ends: the client reconnects with the
			// last ID it got and resumes if that is still in the window.
			for len(sub.ch) > 0 {
				if err := n.writeEvent(cw, <-sub.ch); err != nil {
					return
				}
			}
			if err := cw.send("", EventLagged, LaggedEvent{Reason: fmt.Sprintf("client fell more than %d events behind", n.events.buffer)}); err != nil {
				n.log.Debug("event stream: telling a client it lagged", "err", err)
			}
			return
		case e := <-sub.ch:
			if err := n.writeEvent(cw, e); err != nil {
				return
			}
		case <-ping.C:
			if err := cw.write([]byte(": ping\n\n")); err != nil {
				return
			}
		}
	}
}

// writeEvent writes one logged event. A write error means the client left.
func (n *Node) writeEvent(cw *eventWriter, e *event) error {
	if hook := n.events.writeHook.Load(); hook != nil {
		(*hook)()
	}
	data, err := e.encode()
	if err != nil {
		// Not the client's fault and not worth ending the stream for.
		n.log.Warn("event stream: encoding event", "type", e.typ, "err", err)
		return nil
	}
	return cw.write(formatEvent(n.events.id(e.seq), e.typ, data))
}

// formatEvent renders one server-sent event; data is one line of JSON.
func formatEvent(id, typ string, data []byte) []byte {
	var b bytes.Buffer
	b.Grow(len(id) + len(typ) + len(data) + 24)
	if id != "" {
		b.WriteString("id: ")
		b.WriteString(id)
		b.WriteByte('\n')
	}
	b.WriteString("event: ")
	b.WriteString(typ)
	b.WriteString("\ndata: ")
	b.Write(data)
	b.WriteString("\n\n")
	return b.Bytes()
}

// eventWriter writes to one client with a deadline per write and flushes
// after each.
type eventWriter struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

func (cw *eventWriter) send(id, typ string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding %s event: %w", typ, err)
	}
	return cw.write(formatEvent(id, typ, data))
}

func (cw *eventWriter) write(b []byte) error {
	if err := cw.rc.SetWriteDeadline(time.Now().Add(eventWriteTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return fmt.Errorf("event stream: %w", err)
	}
	if _, err := cw.w.Write(b); err != nil {
		return fmt.Errorf("event stream: %w", err)
	}
	return cw.flush()
}

func (cw *eventWriter) flush() error {
	if err := cw.rc.Flush(); err != nil {
		return fmt.Errorf("event stream: %w", err)
	}
	return nil
}
