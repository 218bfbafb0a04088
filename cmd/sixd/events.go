package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/sixdomain/sixdomain/ledger/types"
	"github.com/sixdomain/sixdomain/node"
)

const (
	// maxEventLine bounds one line of the event stream, and one event's data.
	maxEventLine = 1 << 20
	// eventIdleTimeout ends a stream that sent nothing, not even a ping
	// (every 15 s), for this long.
	eventIdleTimeout = 45 * time.Second
	// maxReconnectDelay caps the pause between reconnects of sixd watch.
	maxReconnectDelay = 10 * time.Second
)

// streamTransport serves the long-lived event streams: the node has
// clientTimeout to answer with headers, the stream itself has no deadline.
var streamTransport = func() http.RoundTripper {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.ResponseHeaderTimeout = clientTimeout
	return t
}()

// sseEvent is one server-sent event.
type sseEvent struct {
	ID   string // "" for events without an id (reset, lagged)
	Type string
	Data []byte
}

// eventStream reads GET /v1/events.
type eventStream struct {
	body   io.ReadCloser
	sc     *bufio.Scanner
	cancel context.CancelFunc
	idle   *time.Timer
	lastID string // the last id field seen
}

// openEvents subscribes to the node's event stream with the query and, if
// lastID is not "", resumes after that event. A node that answers with an
// error gives an *apiError (404: a node without the event stream); no node
// answering gives a *noNodeError, as the other requests do.
func (c *apiClient) openEvents(ctx context.Context, q url.Values, lastID string) (*eventStream, error) {
	ctx, cancel := context.WithCancel(ctx)
	u := c.base + "/v1/events"
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		cancel()
		return nil, err
	}
	req.Header.Set("Accept", "text/event-stream")
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := (&http.Client{Transport: streamTransport}).Do(req)
	if err != nil {
		// No node answers (unless the caller gave up): the one line every
		// command prints.
		stopped := ctx.Err() != nil
		cancel()
		if cause, ok := unreachable(err); ok && !stopped {
			return nil, &noNodeError{base: c.base, cause: cause, err: err}
		}
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return nil, fmt.Errorf("GET %s: %w", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		data, rerr := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
		resp.Body.Close()
		cancel()
		if rerr != nil {
			return nil, fmt.Errorf("GET %s: reading answer: %w", u, rerr)
		}
		e := httpError(resp.StatusCode, data)
		e.Body = data
		return nil, e
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		resp.Body.Close()
		cancel()
		return nil, fmt.Errorf("GET %s: answer is %q, not an event stream", u, ct)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), maxEventLine)
	s := &eventStream{body: resp.Body, sc: sc, cancel: cancel, lastID: lastID}
	// A connection that went silent (no event, no ping) is dead.
	s.idle = time.AfterFunc(eventIdleTimeout, cancel)
	return s, nil
}

// Close ends the stream.
func (s *eventStream) Close() {
	s.idle.Stop()
	s.cancel()
	s.body.Close()
}

// LastID is the ID of the last event read with an id, or the ID the
// stream was opened after.
func (s *eventStream) LastID() string { return s.lastID }

// Next returns the next event. It returns io.EOF when the node ended the
// stream, or the read error.
func (s *eventStream) Next() (sseEvent, error) {
	var (
		e       sseEvent
		data    bytes.Buffer
		hasData bool
	)
	for s.sc.Scan() {
		s.idle.Reset(eventIdleTimeout)
		line := s.sc.Bytes()
		if len(line) == 0 {
			if !hasData {
				e = sseEvent{}
				continue
			}
			if e.Type == "" {
				e.Type = "message"
			}
			e.Data = bytes.Clone(data.Bytes())
			return e, nil
		}
		if line[0] == ':' {
			continue // comment (": ping")
		}
		field, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimPrefix(value, []byte(" "))
		switch string(field) {
		case "event":
			e.Type = string(value)
		case "data":
			if hasData {
				data.WriteByte('\n')
			}
			if data.Len()+len(value) > maxEventLine {
				return sseEvent{}, fmt.Errorf("event stream: an event exceeds %d bytes", maxEventLine)
			}
			data.Write(value)
			hasData = true
		case "id":
			if !bytes.ContainsRune(value, 0) {
				e.ID = string(value)
				s.lastID = e.ID
			}
		}
	}
	if err := s.sc.Err(); err != nil {
		return sseEvent{}, fmt.Errorf("event stream: %w", err)
	}
	return sseEvent{}, io.EOF
}

// waitCommitted waits until the transaction is committed or timeout
// passes. It follows the node's event stream (the tx events of sender, a
// DID, or all if ""); it asks for the transaction's status once after each
// (re)subscription, in case it was committed before; it polls only a node
// without the event stream.
func waitCommitted(ctx context.Context, c *apiClient, hash types.Hash, sender string, timeout time.Duration) (*node.TxStatus, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	last := "not yet asked"
	expired := func() error {
		if cause := context.Cause(ctx); !errors.Is(cause, context.DeadlineExceeded) {
			return cause
		}
		return fmt.Errorf("transaction %s not committed within %s (last status: %s)", hash, timeout, last)
	}
	q := url.Values{"types": {node.EventTx}}
	if sender != "" {
		q.Set("sender", sender)
	}
	lastID := ""
	for {
		s, err := c.openEvents(ctx, q, lastID)
		switch {
		case err == nil:
		case ctx.Err() != nil:
			return nil, expired()
		case isHTTPStatus(err, http.StatusNotFound), isHTTPStatus(err, http.StatusServiceUnavailable):
			// A node without the event stream, or with no room for
			// another client.
			return pollCommitted(ctx, c, hash, timeout, last)
		default:
			return nil, fmt.Errorf("waiting for %s: %w", hash, err)
		}
		st, err := waitOnStream(ctx, c, s, hash, &last)
		lastID = s.LastID()
		s.Close()
		switch {
		case st != nil:
			return st, nil
		case ctx.Err() != nil:
			return nil, expired()
		case err != nil:
			return nil, err
		}
		// The stream ended (the node dropped us, or restarted): subscribe
		// again after a pause.
		select {
		case <-ctx.Done():
			return nil, expired()
		case <-time.After(pollInterval):
		}
	}
}

// waitOnStream checks the transaction's status, then reads tx events
// until it is committed (the status), the stream ends (nil, nil) or a
// request fails (the error).
func waitOnStream(ctx context.Context, c *apiClient, s *eventStream, hash types.Hash, last *string) (*node.TxStatus, error) {
	check := func() (*node.TxStatus, error) {
		var st node.TxStatus
		err := c.getJSON(ctx, "/v1/txs/"+hash.String(), &st)
		switch {
		case err == nil && st.Status == "committed":
			return &st, nil
		case err == nil:
			*last = st.Status
		case isHTTPStatus(err, http.StatusNotFound):
			*last = "unknown to the node (dropped from its mempool?)"
		case ctx.Err() != nil:
		default:
			return nil, fmt.Errorf("waiting for %s: %w", hash, err)
		}
		return nil, nil
	}
	if st, err := check(); st != nil || err != nil {
		return st, err
	}
	for {
		e, err := s.Next()
		if err != nil {
			return nil, nil
		}
		switch e.Type {
		case node.EventTx:
			var st node.TxStatus
			if err := json.Unmarshal(e.Data, &st); err != nil {
				return nil, fmt.Errorf("waiting for %s: undecodable tx event: %w", hash, err)
			}
			if st.Hash == hash && st.Status == "committed" {
				return &st, nil
			}
		case node.EventReset:
			// Events were missed: ask again.
			if st, err := check(); st != nil || err != nil {
				return st, err
			}
		case node.EventLagged:
			return nil, nil
		}
	}
}

// pollCommitted polls the transaction's status until it is committed or
// timeout passes (for nodes without the event stream).
func pollCommitted(ctx context.Context, c *apiClient, hash types.Hash, timeout time.Duration, last string) (*node.TxStatus, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	for {
		var st node.TxStatus
		err := c.getJSON(ctx, "/v1/txs/"+hash.String(), &st)
		switch {
		case err == nil && st.Status == "committed":
			return &st, nil
		case err == nil:
			last = st.Status
		case isHTTPStatus(err, http.StatusNotFound):
			last = "unknown to the node (dropped from its mempool?)"
		case ctx.Err() != nil:
		default:
			return nil, fmt.Errorf("waiting for %s: %w", hash, err)
		}
		select {
		case <-ctx.Done():
			if cause := context.Cause(ctx); !errors.Is(cause, context.DeadlineExceeded) {
				return nil, cause
			}
			return nil, fmt.Errorf("transaction %s not committed within %s (last status: %s)", hash, timeout, last)
		case <-t.C:
		}
	}
}

func newWatchCmd() *cobra.Command {
	var (
		af                  apiFlags
		stream, sender, did string
		kinds               []string
		asJSON              bool
	)
	cmd := &cobra.Command{
		Use:   "watch [--stream S] [--sender DID] [--did DID] [--types head,final,tx,record,authorities] [--json] [--api URL] [--home DIR]",
		Short: "Follow the node's events: new heads, final blocks, transactions, records, authority changes",
		Long: `watch follows the node's event stream (GET /v1/events) and prints one line per
event until interrupted (Ctrl-C): new heads, finalized blocks, committed
transactions and records, and changes of the authority set.

--types picks event types (default all); --stream keeps the transactions and
records of that record stream, --sender those of that sender (a did:key or
peer ID), --did those sent by or about that DID (and authority changes naming
it). --json prints each event as one JSON object per line:
{"id": ..., "event": ..., "data": {...}} with data as the node sent it.

If the connection drops, watch reconnects and resumes after the last event
it printed; if the node no longer holds the events in between it says so
("reset") and continues with new events.`,
		Example: `  sixd watch
  sixd watch --types final,authorities
  sixd watch --stream temp/room1 --json
  sixd watch --sender did:key:z6Mk... --types record`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			q := url.Values{}
			if len(kinds) > 0 {
				q.Set("types", strings.Join(kinds, ","))
			}
			for k, v := range map[string]string{"stream": stream, "sender": sender, "did": did} {
				if v != "" {
					q.Set(k, v)
				}
			}
			c, err := af.client()
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return watchEvents(ctx, c, q, asJSON, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&stream, "stream", "", "only transactions and records of this record stream")
	f.StringVar(&sender, "sender", "", "only transactions and records of this sender (did:key or peer ID)")
	f.StringVar(&did, "did", "", "only transactions sent by or about this DID, and authority changes naming it")
	f.StringSliceVar(&kinds, "types", nil, "event types to follow: head, final, tx, record, authorities (default all)")
	f.BoolVar(&asJSON, "json", false, "print one JSON object per event")
	af.add(cmd)
	return cmd
}

// watchEvents prints the events of the stream until ctx ends, reconnecting
// after the last event printed when the stream drops. A first connection
// that fails, or a node that refuses the query, is an error.
func watchEvents(ctx context.Context, c *apiClient, q url.Values, asJSON bool, out, errOut io.Writer) error {
	lastID := ""
	connected := false
	delay := time.Second
	for {
		s, err := c.openEvents(ctx, q, lastID)
		if err != nil {
			var apiErr *apiError
			switch {
			case ctx.Err() != nil:
				return nil
			case isHTTPStatus(err, http.StatusNotFound):
				return fmt.Errorf("the node does not serve the event stream (an older version?): %w", err)
			case !connected, errors.As(err, &apiErr) && apiErr.Code < 500:
				return err
			}
			var noNode *noNodeError
			if errors.As(err, &noNode) {
				// Between retries, what and why; not how to start a node.
				err = fmt.Errorf("%w at %s (%s)", errNoNode, noNode.base, noNode.cause)
			}
			fmt.Fprintf(errOut, "sixd: %v; reconnecting in %s\n", err, delay)
		} else {
			connected, delay = true, time.Second
			err = printEvents(s, asJSON, out)
			lastID = s.LastID()
			s.Close()
			if ctx.Err() != nil {
				return nil
			}
			var werr writeError
			if errors.As(err, &werr) {
				return werr.err
			}
			if err == nil || errors.Is(err, io.EOF) {
				err = errors.New("the node ended the stream")
			}
			fmt.Fprintf(errOut, "sixd: %v; reconnecting in %s\n", err, delay)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(delay):
		}
		delay = min(2*delay, maxReconnectDelay)
	}
}

// writeError is a failure to print (stdout closed): watch ends with it.
type writeError struct{ err error }

func (e writeError) Error() string { return e.err.Error() }

// printEvents prints events until the stream ends or lags; it returns
// why.
func printEvents(s *eventStream, asJSON bool, out io.Writer) error {
	for {
		e, err := s.Next()
		if err != nil {
			return err
		}
		var line string
		if asJSON {
			b, err := json.Marshal(struct {
				ID    string          `json:"id,omitempty"`
				Event string          `json:"event"`
				Data  json.RawMessage `json:"data"`
			}{e.ID, e.Type, json.RawMessage(e.Data)})
			if err != nil {
				return fmt.Errorf("event %s %s: %w", e.ID, e.Type, err)
			}
			line = string(b)
		} else {
			line = formatEvent(e)
		}
		if _, err := fmt.Fprintln(out, line); err != nil {
			return writeError{err}
		}
		if e.Type == node.EventLagged {
			return errors.New("the node dropped this client for falling behind")
		}
	}
}

// formatEvent renders an event on one line for people.
func formatEvent(e sseEvent) string {
	undecodable := func(err error) string {
		return fmt.Sprintf("%-11s (undecodable: %v) %s", e.Type, err, truncate(string(e.Data), 200))
	}
	switch e.Type {
	case node.EventHead:
		var h node.HeadEvent
		if err := json.Unmarshal(e.Data, &h); err != nil {
			return undecodable(err)
		}
		return fmt.Sprintf("%-11s %d %s by %s (%s), %d txs", e.Type, h.Height, h.Hash, h.Proposer, turnText(h.InTurn), h.TxCount)
	case node.EventFinal:
		var f node.FinalEvent
		if err := json.Unmarshal(e.Data, &f); err != nil {
			return undecodable(err)
		}
		return fmt.Sprintf("%-11s %d %s, %d txs, final %s after its block time", e.Type, f.Height, f.Hash, f.TxCount,
			time.Duration(f.TimeToFinalityMS)*time.Millisecond)
	case node.EventTx:
		var st node.TxStatus
		if err := json.Unmarshal(e.Data, &st); err != nil || st.Tx == nil {
			return undecodable(err)
		}
		line := fmt.Sprintf("%-11s %d/%d %s %s from %s nonce %d", e.Type, st.Height, st.Index, st.Hash, st.Tx.Type, st.Tx.Sender, st.Tx.Nonce)
		if op := st.Tx.DIDOp; op != nil {
			line += fmt.Sprintf(" (%s %s v%d)", op.Op, op.Subject, op.Version)
		}
		if p := payloadSummary(*st.Tx); p != "" && st.Tx.DIDOp == nil && st.Tx.Record == nil {
			line += " (" + p + ")"
		}
		if r := st.Receipt; r != nil {
			line += " " + r.Status
			if r.Reason != "" {
				line += " " + r.Reason
			}
		}
		return line
	case node.EventRecord:
		var r node.RecordJSON
		if err := json.Unmarshal(e.Data, &r); err != nil {
			return undecodable(err)
		}
		line := fmt.Sprintf("%-11s %d/%d %s nonce %d %s=%s", e.Type, r.Height, r.Index, r.Sender, r.Nonce, r.Stream, displayValue(r.RecordPayload))
		if r.ContentType != "" {
			line += " content_type=" + quoteIfNeeded(r.ContentType)
		}
		return line
	case node.EventAuthorities:
		var a node.AuthoritiesEvent
		if err := json.Unmarshal(e.Data, &a); err != nil {
			return undecodable(err)
		}
		var parts []string
		for _, d := range a.Added {
			parts = append(parts, "+"+d)
		}
		for _, d := range a.Removed {
			parts = append(parts, "-"+d)
		}
		return fmt.Sprintf("%-11s %d %s (%d authorities)", e.Type, a.Height, strings.Join(parts, " "), len(a.Authorities))
	case node.EventReset:
		var r node.ResetEvent
		if err := json.Unmarshal(e.Data, &r); err != nil {
			return undecodable(err)
		}
		return fmt.Sprintf("%-11s events were missed: %s (oldest kept: %s)", e.Type, r.Reason, r.OldestID)
	case node.EventLagged:
		var l node.LaggedEvent
		if err := json.Unmarshal(e.Data, &l); err != nil {
			return undecodable(err)
		}
		return fmt.Sprintf("%-11s %s", e.Type, l.Reason)
	}
	return fmt.Sprintf("%-11s %s", e.Type, truncate(string(e.Data), 200))
}

func turnText(in bool) string {
	if in {
		return "in turn"
	}
	return "out of turn"
}
