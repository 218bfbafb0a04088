package light

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/sixdomain/sixdomain/ledger/types"
)

// The light node's HTTP API (loopback only):
//
//	GET  /healthz          200 "ok"
//	GET  /v1/status        Status
//	POST /v1/readings      ReadingRequest → 202 ReadingResponse (signed and queued)
//	GET  /v1/queue         QueueResponse: the readings not yet proven final
//	GET  /v1/recorded      []Receipt: readings proven final (?from=NONCE&limit=N)

// ReadingRequest is the body of POST /v1/readings.
type ReadingRequest struct {
	Stream      string `json:"stream"`
	Value       string `json:"value"`
	ContentType string `json:"content_type,omitempty"`
}

// ReadingResponse answers POST /v1/readings.
type ReadingResponse struct {
	Hash      types.Hash `json:"hash"`
	Nonce     uint64     `json:"nonce"`
	Timestamp int64      `json:"timestamp_ms"`
}

// QueuedReading is one entry of GET /v1/queue.
type QueuedReading struct {
	Hash      types.Hash `json:"hash"`
	Nonce     uint64     `json:"nonce"`
	Timestamp int64      `json:"timestamp_ms"`
	Submitted bool       `json:"submitted"`
}

// QueueResponse answers GET /v1/queue.
type QueueResponse struct {
	Len      int             `json:"len"`
	Readings []QueuedReading `json:"readings"`
}

const maxAPIList = 1000

func (n *Node) startAPI(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, http.StatusOK, n.Status()) })
	mux.HandleFunc("POST /v1/readings", n.handleReading)
	mux.HandleFunc("GET /v1/queue", n.handleQueue)
	mux.HandleFunc("GET /v1/recorded", n.handleRecorded)
	n.api = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 10 * time.Second, MaxHeaderBytes: 8 << 10}
	n.apiAddr = ln.Addr()
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		if err := n.api.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			n.log.Error("light api", "err", err)
		}
	}()
	return nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v) // the client may be gone
}

func writeError(w http.ResponseWriter, code int, reason string, err error) {
	writeJSON(w, code, map[string]string{"error": err.Error(), "reason": reason})
}

func (n *Node) handleReading(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, types.MaxRecordValue*2+1024))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, "oversize", err)
		return
	}
	var req ReadingRequest
	if err := json.Unmarshal(body, &req); err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", fmt.Errorf("body must be {\"stream\", \"value\", \"content_type\"}: %w", err))
		return
	}
	tx, err := n.Record(r.Context(), types.DataRecord{Stream: req.Stream, ContentType: req.ContentType, Value: []byte(req.Value)})
	switch {
	case errors.Is(err, ErrQueueFull), errors.Is(err, ErrClosed):
		writeError(w, http.StatusServiceUnavailable, "queue_full", err)
		return
	case err != nil:
		writeError(w, http.StatusBadRequest, types.Reason(err), err)
		return
	}
	writeJSON(w, http.StatusAccepted, ReadingResponse{Hash: tx.Hash(), Nonce: tx.Nonce, Timestamp: tx.Timestamp})
}

func listLimit(r *http.Request) (int, error) {
	limit := 100
	if s := r.URL.Query().Get("limit"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 || v > maxAPIList {
			return 0, fmt.Errorf("limit must be 1 to %d", maxAPIList)
		}
		limit = v
	}
	return limit, nil
}

func (n *Node) handleQueue(w http.ResponseWriter, r *http.Request) {
	limit, err := listLimit(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_limit", err)
		return
	}
	raws, err := n.queue.Peek(r.Context(), limit)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal", err)
		return
	}
	n.mu.Lock()
	sent := map[types.Hash]bool{}
	for _, it := range n.window {
		sent[it.hash] = it.sent != ""
	}
	n.mu.Unlock()
	resp := QueueResponse{Len: n.queue.Len(), Readings: []QueuedReading{}}
	for _, raw := range raws {
		tx, err := types.DecodeTx(raw)
		if err != nil {
			continue
		}
		resp.Readings = append(resp.Readings, QueuedReading{Hash: tx.Hash(), Nonce: tx.Nonce, Timestamp: tx.Timestamp, Submitted: sent[tx.Hash()]})
	}
	writeJSON(w, http.StatusOK, resp)
}

func (n *Node) handleRecorded(w http.ResponseWriter, r *http.Request) {
	limit, err := listLimit(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_limit", err)
		return
	}
	from := uint64(1)
	if s := r.URL.Query().Get("from"); s != "" {
		if from, err = strconv.ParseUint(s, 10, 64); err != nil {
			writeError(w, http.StatusBadRequest, "bad_from", err)
			return
		}
	}
	rs, err := n.Receipts(r.Context(), from, limit)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal", err)
		return
	}
	if rs == nil {
		rs = []Receipt{}
	}
	writeJSON(w, http.StatusOK, rs)
}
