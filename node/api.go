package node

import (
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger"
	"github.com/sixdomain/sixdomain/ledger/types"
	"github.com/sixdomain/sixdomain/mempool"
	"github.com/sixdomain/sixdomain/node/web"
	sixps "github.com/sixdomain/sixdomain/pubsub"
)

// JSON shapes of the HTTP API (docs/API.md describes each route).

// ErrorResponse is the body of every error.
type ErrorResponse struct {
	Error  string `json:"error"`
	Reason string `json:"reason,omitempty"`
}

// SubmitRequest is the JSON form of POST /v1/txs (the body may also be the
// raw transaction with Content-Type application/cbor).
type SubmitRequest struct {
	Tx types.HexBytes `json:"tx"`
}

// SubmitResponse answers POST /v1/txs.
type SubmitResponse struct {
	Hash   types.Hash `json:"hash"`
	Status string     `json:"status"`
}

// TxStatus answers GET /v1/txs/{hash}.
type TxStatus struct {
	Hash   types.Hash `json:"hash"`
	Status string     `json:"status"` // "pending", "included" (in the head chain, not final), "committed" (final) or "dropped"
	// Dropped says why a transaction this node held pending left its
	// mempool without being sealed (status "dropped"): "expired" (its
	// timestamp fell out of the chain's window) or "nonce_taken" (another
	// transaction of its sender committed the nonce). The node remembers
	// the last 2×max_txs of them (at most mempool.DefaultDropRecord).
	Dropped string `json:"dropped,omitempty"`
	Height  uint64 `json:"height,omitempty"`
	Index   uint32 `json:"index,omitempty"`
	// BlockTime is the inclusion time (the block's time, Unix ms) of a
	// committed transaction; Tx.Timestamp is the sender's own.
	BlockTime int64   `json:"block_time_ms,omitempty"`
	Tx        *TxJSON `json:"tx,omitempty"`
	// Receipt: the outcome of a committed asset, deploy or call
	// transaction.
	Receipt *ReceiptJSON `json:"receipt,omitempty"`
}

// TxJSON is a transaction as the API shows it.
type TxJSON struct {
	Hash      types.Hash     `json:"hash"`
	Type      string         `json:"type"`
	Sender    string         `json:"sender"`
	Nonce     uint64         `json:"nonce"`
	Timestamp int64          `json:"timestamp_ms"`
	Record    *RecordPayload `json:"record,omitempty"`
	DIDOp     *DIDOpJSON     `json:"did_op,omitempty"`
	Asset     *AssetOpJSON   `json:"asset,omitempty"`
	Deploy    *DeployJSON    `json:"deploy,omitempty"`
	Call      *CallJSON      `json:"call,omitempty"`
}

// DIDOpJSON summarises a registry operation.
type DIDOpJSON struct {
	Op        string   `json:"op"`
	Subject   string   `json:"subject"`
	Version   uint64   `json:"version"`
	Approvals []string `json:"approvals,omitempty"` // DIDs of the approving keys
}

// RecordPayload is a data record's content.
type RecordPayload struct {
	Stream      string         `json:"stream"`
	ContentType string         `json:"content_type,omitempty"`
	Value       string         `json:"value,omitempty"`     // when valid UTF-8
	ValueHex    types.HexBytes `json:"value_hex,omitempty"` // otherwise
}

// BlockJSON answers GET /v1/blocks/{height|latest}.
type BlockJSON struct {
	Height     uint64         `json:"height"`
	Hash       types.Hash     `json:"hash"`
	Parent     types.Hash     `json:"parent"`
	Time       time.Time      `json:"time"`
	Proposer   string         `json:"proposer"`
	TxRoot     types.Hash     `json:"tx_root"`
	StateRoot  types.Hash     `json:"state_root"`
	TxCount    uint32         `json:"tx_count"`
	Final      bool           `json:"final"`
	Difficulty uint8          `json:"difficulty"`
	Vote       *VoteJSON      `json:"vote,omitempty"`
	Checkpoint []string       `json:"checkpoint,omitempty"`
	Txs        []TxJSON       `json:"txs"`
	Raw        types.HexBytes `json:"raw,omitempty"`
}

// VoteJSON is an authority vote carried in a header.
type VoteJSON struct {
	Target string `json:"target"`
	Add    bool   `json:"add"`
}

// FinalityResponse answers GET /v1/finality.
type FinalityResponse struct {
	Head          uint64     `json:"head"`
	HeadHash      types.Hash `json:"head_hash"`
	Justified     uint64     `json:"justified"`
	JustifiedHash types.Hash `json:"justified_hash"`
	Finalized     uint64     `json:"finalized"`
	FinalizedHash types.Hash `json:"finalized_hash"`
	Unfinalized   int        `json:"unfinalized_blocks"`
	Authorities   []string   `json:"authorities"`
}

// RecordJSON is one entry of GET /v1/records. Timestamp is the device's
// (when it signed the reading), BlockTime the inclusion time (its block's).
type RecordJSON struct {
	Sender    string     `json:"sender"`
	Nonce     uint64     `json:"nonce"`
	Timestamp int64      `json:"timestamp_ms"`
	BlockTime int64      `json:"block_time_ms"`
	TxHash    types.Hash `json:"tx_hash"`
	Height    uint64     `json:"height"`
	Index     uint32     `json:"index"`
	RecordPayload
}

// RecordsResponse answers GET /v1/records. Sender is absent when the query
// lists a stream from every sender; Order and Next are set only then.
type RecordsResponse struct {
	Sender  string       `json:"sender,omitempty"`
	Stream  string       `json:"stream,omitempty"`
	Order   string       `json:"order,omitempty"` // "desc" (newest first) or "asc" (chain order)
	Records []RecordJSON `json:"records"`
	Next    string       `json:"next,omitempty"` // <height>:<index>, the from of the next page, when this one is full
}

// NonceResponse answers GET /v1/nonces/{sender}.
type NonceResponse struct {
	Sender    string `json:"sender"`
	Committed uint64 `json:"committed"`
	Next      uint64 `json:"next"` // the nonce to use for the next transaction
}

// StatusResponse answers GET /v1/status.
type StatusResponse struct {
	Version     string     `json:"version"`
	Commit      string     `json:"commit"` // BuildCommit
	ChainID     string     `json:"chain_id"`
	GenesisHash types.Hash `json:"genesis_hash"`
	PeerID      string     `json:"peer_id"`
	DID         string     `json:"did"`
	Role        Role       `json:"role"`
	Authority   bool       `json:"authority"`
	Height      uint64     `json:"height"` // head
	HeadHash    types.Hash `json:"head_hash"`
	Finalized   uint64     `json:"finalized"`
	HeadTime    time.Time  `json:"head_time"`
	StateRoot   types.Hash `json:"state_root"`
	TotalTxs    uint64     `json:"total_txs"`
	Peers       int        `json:"peers"`
	Mempool     int        `json:"mempool"`
	ListenAddrs []string   `json:"listen_addrs"`
	// CatchingUp: the node has not yet synced to its peers' finalized
	// height (Node.CatchingUp).
	CatchingUp bool `json:"catching_up"`
	// SyncTarget is the highest finalized height heard from peers.
	SyncTarget uint64 `json:"sync_target"`
}

// ReadyResponse answers GET /readyz.
type ReadyResponse struct {
	Status string `json:"status"`           // "ready" or "not_ready"
	Reason string `json:"reason,omitempty"` // "catching_up" or "no_peers" when not ready
}

func (n *Node) startAPI(addr string) error {
	tlsConf, err := n.cfg.apiTLSConfig()
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	n.apiAddr = ln.Addr()
	if tlsConf != nil {
		ln = tls.NewListener(ln, tlsConf)
	}
	n.apiServer = &http.Server{Handler: n.Handler(), ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout: 30 * time.Second, WriteTimeout: 60 * time.Second, IdleTimeout: 2 * time.Minute,
		ErrorLog: n.httpErrorLog("api")}
	n.spawn(n.forgetCommitted)
	n.spawn(func() {
		if err := n.apiServer.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			n.log.Error("api server stopped", "err", err)
		}
	})
	return nil
}

// forgetCommitted clears the mempool's dropped-reason records of the
// transactions final blocks commit (the pool records every transaction
// that leaves because its sender's nonce was committed, its own commit
// included), so that the bounded record keeps room for the real drops.
// GET /v1/txs/{hash} looks at the chain first, so a record it misses (a
// lagging subscription) is only kept longer, never shown.
func (n *Node) forgetCommitted() {
	events, cancel := n.SubscribeCommits(256)
	defer cancel()
	var hs []types.Hash
	for {
		select {
		case <-n.ctx.Done():
			return
		case e, ok := <-events:
			if !ok {
				return
			}
			hs = hs[:0]
			for _, tx := range e.Block.Txs {
				hs = append(hs, tx.Hash())
			}
			n.pool.Forget(hs...)
		}
	}
}

// Route is one route of the HTTP API: a method, a net/http pattern and its
// handler. Routes lists them all; docs/API.md and the OpenAPI description
// follow this table.
type Route struct {
	Method  string // "GET", "POST", ...
	Pattern string // net/http pattern, e.g. "/v1/txs/{hash}"
	Handler http.Handler
}

// Routes returns every route the API serves, in registration order.
func (n *Node) Routes() []Route {
	f := func(method, pattern string, h http.HandlerFunc) Route {
		return Route{Method: method, Pattern: pattern, Handler: h}
	}
	dash := web.Handler(http.HandlerFunc(notFound), n.log)
	return []Route{
		f("POST", "/v1/txs", n.handleSubmit),
		f("GET", "/v1/txs/{hash}", n.handleTx),
		f("GET", "/v1/blocks/{id}", n.handleBlock),
		f("GET", "/v1/records", n.handleRecords),
		f("GET", "/v1/proofs/{hash}", n.handleProof),
		f("GET", "/v1/nonces/{sender}", n.handleNonce),
		f("GET", "/v1/status", n.handleStatus),
		f("GET", "/v1/finality", n.handleFinality),
		f("GET", "/v1/dids/{did}", n.handleDID),
		f("GET", "/healthz", n.handleHealth),
		{Method: "GET", Pattern: metricsPath, Handler: promhttp.HandlerFor(n.registry, promhttp.HandlerOpts{})},

		// Dashboard (node/web): the page at exactly "/" (the handler sends
		// every other path it gets to the JSON 404), its assets under /ui/,
		// and the JSON routes it needed (api_dashboard.go).
		{Method: "GET", Pattern: "/", Handler: dash},
		{Method: "GET", Pattern: "/ui/", Handler: dash},
		f("GET", "/v1/peers", n.handlePeers),
		f("GET", "/v1/authorities", n.handleAuthorities),
		f("POST", "/v1/proofs/verify", n.handleProofVerify),
		// Provable state (api_state.go).
		f("GET", "/v1/state/proof", n.handleStateProof),
		// OpenAPI: the description of this table (node/openapi.json).
		f("GET", "/v1/openapi.json", n.handleOpenAPI),
		// Event stream (server-sent events; node/events.go).
		f("GET", "/v1/events", n.handleEvents),
		// Readiness (branch p2p): 200 once synced and connected, for load
		// balancers and orchestrators.
		f("GET", "/readyz", n.handleReady),
		// Receipts, contracts and native assets (api_assets.go).
		f("GET", "/v1/receipts/{hash}", n.handleReceipt),
		f("GET", "/v1/contracts/{address}", n.handleContract),
		f("GET", "/v1/contracts/{address}/storage", n.handleContractStorage),
		f("GET", "/v1/assets/{denom}", n.handleDenom),
		f("GET", "/v1/assets/{denom}/balances/{account}", n.handleBalance),
	}
}

// Handler returns the HTTP API: the routes behind their bearer-token
// checks, CORS (when origins are configured), and request metrics.
func (n *Node) Handler() http.Handler {
	mux := http.NewServeMux()
	for _, r := range n.Routes() {
		mux.Handle(r.Method+" "+r.Pattern, n.authorize(r, r.Handler))
	}
	mux.HandleFunc("/", notFound)
	return n.instrument(mux, n.cors(mux))
}

// notFound answers a request no route matches.
func notFound(w http.ResponseWriter, r *http.Request) {
	writeError(w, http.StatusNotFound, fmt.Errorf("no route %s %s", r.Method, r.URL.Path), "not_found")
}

func (n *Node) handleHealth(w http.ResponseWriter, _ *http.Request) {
	if n.ctx.Err() != nil {
		writeError(w, http.StatusServiceUnavailable, ErrClosed, "")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v) // the status is sent; a client that left cannot be told
}

func writeError(w http.ResponseWriter, code int, err error, reason string) {
	writeJSON(w, code, ErrorResponse{Error: err.Error(), Reason: reason})
}

func (n *Node) handleSubmit(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, n.cfg.MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Errorf("request body exceeds %d bytes", n.cfg.MaxBodyBytes), "oversize")
			return
		}
		writeError(w, http.StatusBadRequest, err, "bad_request")
		return
	}
	data := body
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/cbor") {
		var req SubmitRequest
		if err := json.Unmarshal(body, &req); err != nil {
			writeError(w, http.StatusBadRequest, fmt.Errorf("body must be {\"tx\": \"<hex>\"} or a raw transaction with Content-Type application/cbor: %v", err), "bad_request")
			return
		}
		data = req.Tx
	}
	tx, err := n.Submit(r.Context(), data)
	if tx == nil && err != nil {
		code, reason := submitStatus(err), reasonOf(err)
		if busy(err) {
			// Back-pressure: the client waits and sends the same
			// transaction again.
			w.Header().Set("Retry-After", strconv.Itoa(n.retryAfter()))
			n.metrics.apiBusy.WithLabelValues(reason).Inc()
		}
		writeError(w, code, err, reason)
		return
	}
	if err != nil {
		n.log.Warn("submitted transaction not gossiped", "tx", tx.Hash(), "err", err)
	}
	writeJSON(w, http.StatusAccepted, SubmitResponse{Hash: tx.Hash(), Status: "pending"})
}

// retryAfter is the Retry-After, in seconds, of a 503 to POST /v1/txs when
// the mempool is busy or full: one slot (the next block drains the pool by
// up to max_block_txs), in whole seconds, at least 1.
func (n *Node) retryAfter() int {
	return max(1, int((n.genesis.Slot()+time.Second-1)/time.Second))
}

// busy reports whether a submission was refused for the mempool's load
// (above its high-water mark, full, or the sender's share full): the same
// transaction may pass later.
func busy(err error) bool {
	return errors.Is(err, mempool.ErrBusy) || errors.Is(err, mempool.ErrFull) || errors.Is(err, mempool.ErrSenderFull)
}

func submitStatus(err error) int {
	switch {
	case errors.Is(err, ErrClosed), errors.Is(err, ErrNoChain):
		return http.StatusServiceUnavailable
	case busy(err):
		return http.StatusServiceUnavailable
	case errors.Is(err, sixps.ErrDuplicate), errors.Is(err, mempool.ErrDuplicate),
		errors.Is(err, types.ErrReplayedNonce), errors.Is(err, mempool.ErrNonceConflict):
		return http.StatusConflict
	case errors.Is(err, types.ErrOversize):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, types.ErrSenderNotAdmitted), errors.Is(err, types.ErrSenderRevoked), errors.Is(err, types.ErrKeyRotated),
		errors.Is(err, types.ErrDIDUnauthorized):
		return http.StatusForbidden
	case errors.Is(err, types.ErrDIDVersion), errors.Is(err, types.ErrDIDExists), errors.Is(err, types.ErrDIDState):
		return http.StatusConflict
	case errors.Is(err, types.ErrDIDNotFound):
		return http.StatusNotFound
	case errors.Is(err, types.ErrInsufficientFee):
		return http.StatusPaymentRequired
	}
	return http.StatusBadRequest
}

func (n *Node) handleTx(w http.ResponseWriter, r *http.Request) {
	h, err := types.ParseHash(r.PathValue("hash"))
	if err != nil {
		writeError(w, http.StatusBadRequest, err, "bad_hash")
		return
	}
	if tx, ok := n.pool.Get(h); ok {
		j := txJSON(tx)
		writeJSON(w, http.StatusOK, TxStatus{Hash: h, Status: "pending", Tx: &j})
		return
	}
	tx, height, index, err := n.store.Tx(r.Context(), h)
	if errors.Is(err, ledger.ErrNotFound) {
		if tx, height, index, ok := n.chain.Included(h); ok {
			j := txJSON(tx)
			writeJSON(w, http.StatusOK, TxStatus{Hash: h, Status: "included", Height: height, Index: index, Tx: &j})
			return
		}
		if why, ok := n.pool.Dropped(h); ok {
			writeJSON(w, http.StatusOK, TxStatus{Hash: h, Status: "dropped", Dropped: why})
			return
		}
		writeError(w, http.StatusNotFound, fmt.Errorf("transaction %s is neither pending nor committed", h), "not_found")
		return
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, err, "")
		return
	}
	j := txJSON(tx)
	st := TxStatus{Hash: h, Status: "committed", Height: height, Index: index, Tx: &j, Receipt: n.receiptOf(r, tx)}
	if hd, err := n.store.Header(r.Context(), height); err == nil {
		st.BlockTime = hd.Time
	}
	writeJSON(w, http.StatusOK, st)
}

func txJSON(tx *types.Tx) TxJSON {
	j := TxJSON{Hash: tx.Hash(), Type: tx.Type.String(), Sender: tx.Sender.DID(), Nonce: tx.Nonce, Timestamp: tx.Timestamp}
	switch tx.Type {
	case types.TxDataRecord:
		if rec, err := types.DecodeDataRecord(tx.Payload); err == nil {
			p := recordPayload(rec)
			j.Record = &p
		}
	case types.TxDID:
		if op, err := types.DecodeDIDOp(tx.Payload); err == nil {
			o := &DIDOpJSON{Op: op.Op.String(), Subject: op.Subject.DID(), Version: op.Version}
			for _, a := range op.Approvals {
				o.Approvals = append(o.Approvals, a.Signer.DID())
			}
			j.DIDOp = o
		}
	default:
		describePayload(&j, tx)
	}
	return j
}

func recordPayload(rec *types.DataRecord) RecordPayload {
	p := RecordPayload{Stream: rec.Stream, ContentType: rec.ContentType}
	if utf8.Valid(rec.Value) {
		p.Value = string(rec.Value)
	} else {
		p.ValueHex = rec.Value
	}
	return p
}

func (n *Node) handleBlock(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	head := n.chain.Head()
	var height uint64
	if id == "latest" {
		height = head.Height
	} else {
		h, err := strconv.ParseUint(id, 10, 64)
		if err != nil {
			writeError(w, http.StatusBadRequest, fmt.Errorf("block id must be a height or \"latest\", got %q", id), "bad_height")
			return
		}
		height = h
	}
	if height == 0 || height > head.Height {
		writeError(w, http.StatusNotFound, fmt.Errorf("no block at height %d (head is %d)", height, head.Height), "not_found")
		return
	}
	b, final, err := n.chain.BlockAt(r.Context(), height)
	if errors.Is(err, ledger.ErrNotFound) {
		writeError(w, http.StatusNotFound, fmt.Errorf("no block at height %d on the head chain", height), "not_found")
		return
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, err, "")
		return
	}
	j := BlockToJSON(b, r.URL.Query().Get("raw") == "1")
	j.Final = final
	writeJSON(w, http.StatusOK, j)
}

func (n *Node) handleFinality(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, n.Finality())
}

// Finality returns what GET /v1/finality reports.
func (n *Node) Finality() FinalityResponse {
	head, fin, just := n.chain.Head(), n.store.State(), n.chain.Justified()
	f := FinalityResponse{Head: head.Height, HeadHash: head.LastBlockHash, Justified: just.Height, JustifiedHash: just.Hash,
		Finalized: fin.Height, FinalizedHash: fin.LastBlockHash, Unfinalized: n.chain.Unfinalized()}
	for _, a := range n.chain.Authorities() {
		f.Authorities = append(f.Authorities, a.DID())
	}
	return f
}

// BlockToJSON converts a block to its API form.
func BlockToJSON(b *types.Block, raw bool) BlockJSON {
	j := BlockJSON{Height: b.Header.Height, Hash: b.Hash(), Parent: b.Header.Parent, Time: b.Header.BlockTime().UTC(),
		Proposer: b.Header.Proposer.DID(), TxRoot: b.Header.TxRoot, StateRoot: b.Header.StateRoot,
		TxCount: b.Header.TxCount, Difficulty: b.Header.Difficulty, Txs: make([]TxJSON, 0, len(b.Txs))}
	if target, add, ok := b.Header.Vote(); ok {
		j.Vote = &VoteJSON{Target: target.DID(), Add: add}
	}
	for _, k := range b.Header.Checkpoint {
		j.Checkpoint = append(j.Checkpoint, k.DID())
	}
	for _, tx := range b.Txs {
		j.Txs = append(j.Txs, txJSON(tx))
	}
	if raw {
		j.Raw = b.Encode()
	}
	return j
}

// ParseSender accepts a did:key or an Ed25519 peer ID.
func ParseSender(s string) (identity.PublicKey, error) {
	if strings.HasPrefix(s, "did:") {
		return identity.ParseDID(s)
	}
	id, err := peer.Decode(s)
	if err != nil {
		return identity.PublicKey{}, fmt.Errorf("sender %q is neither a did:key nor a peer ID", s)
	}
	return identity.PublicKeyFromPeerID(id)
}

func (n *Node) handleRecords(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	stream := q.Get("stream")
	if stream != "" {
		if err := types.ValidateStream(stream); err != nil {
			writeError(w, http.StatusBadRequest, err, "bad_stream")
			return
		}
	}
	limit := 100
	if s := q.Get("limit"); s != "" {
		var err error
		if limit, err = strconv.Atoi(s); err != nil || limit < 1 || limit > ledger.MaxRecordsLimit {
			writeError(w, http.StatusBadRequest, fmt.Errorf("limit must be 1 to %d", ledger.MaxRecordsLimit), "bad_request")
			return
		}
	}
	if q.Get("sender") == "" && stream != "" {
		n.streamRecords(w, r, stream, limit)
		return
	}
	sender, err := ParseSender(q.Get("sender"))
	if err != nil {
		writeError(w, http.StatusBadRequest, err, "bad_sender")
		return
	}
	var after uint64
	if s := q.Get("after"); s != "" {
		if after, err = strconv.ParseUint(s, 10, 64); err != nil {
			writeError(w, http.StatusBadRequest, fmt.Errorf("after must be a nonce: %v", err), "bad_request")
			return
		}
	}
	entries, err := n.store.Records(r.Context(), sender, stream, after, limit)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err, "")
		return
	}
	writeJSON(w, http.StatusOK, RecordsResponse{Sender: sender.DID(), Stream: stream, Records: n.recordsJSON(r, entries)})
}

// streamRecords answers GET /v1/records?stream=S without a sender: the
// stream's records from every sender, newest first (order=desc, the
// default) or in chain order (order=asc), from=<height>:<index> starting
// after that position in that order.
func (n *Node) streamRecords(w http.ResponseWriter, r *http.Request, stream string, limit int) {
	q := r.URL.Query()
	if q.Get("after") != "" {
		writeError(w, http.StatusBadRequest, errors.New("after (a nonce) needs a sender; page a stream with from=<height>:<index>"), "bad_request")
		return
	}
	order := q.Get("order")
	switch order {
	case "":
		order = "desc"
	case "asc", "desc":
	default:
		writeError(w, http.StatusBadRequest, fmt.Errorf("order must be asc or desc, got %q", truncateString(order, 20)), "bad_request")
		return
	}
	var from *ledger.RecordPos
	if s := q.Get("from"); s != "" {
		p, err := ledger.ParseRecordPos(s)
		if err != nil {
			writeError(w, http.StatusBadRequest, err, "bad_request")
			return
		}
		from = &p
	}
	entries, err := n.store.StreamRecords(r.Context(), stream, from, order == "desc", limit)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err, "")
		return
	}
	resp := RecordsResponse{Stream: stream, Order: order, Records: n.recordsJSON(r, entries)}
	if len(entries) == limit {
		last := entries[len(entries)-1]
		resp.Next = ledger.RecordPos{Height: last.Height, Index: last.Index}.String()
	}
	writeJSON(w, http.StatusOK, resp)
}

func truncateString(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// recordsJSON converts record entries, with each record's payload.
func (n *Node) recordsJSON(r *http.Request, entries []ledger.RecordEntry) []RecordJSON {
	out := make([]RecordJSON, 0, len(entries))
	blockTimes := map[uint64]int64{} // a page's records share few blocks
	for _, e := range entries {
		rj := RecordJSON{Sender: e.Sender.DID(), Nonce: e.Nonce, Timestamp: e.Timestamp, TxHash: e.TxHash, Height: e.Height, Index: e.Index}
		if bt, ok := blockTimes[e.Height]; ok {
			rj.BlockTime = bt
		} else if hd, err := n.store.Header(r.Context(), e.Height); err == nil {
			rj.BlockTime, blockTimes[e.Height] = hd.Time, hd.Time
		}
		if tx, _, _, err := n.store.Tx(r.Context(), e.TxHash); err == nil {
			if rec, err := types.DecodeDataRecord(tx.Payload); err == nil {
				rj.RecordPayload = recordPayload(rec)
			}
		}
		out = append(out, rj)
	}
	return out
}

func (n *Node) handleProof(w http.ResponseWriter, r *http.Request) {
	h, err := types.ParseHash(r.PathValue("hash"))
	if err != nil {
		writeError(w, http.StatusBadRequest, err, "bad_hash")
		return
	}
	trust, err := n.trustParam(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err, "bad_trust")
		return
	}
	p, err := n.store.Proof(r.Context(), h)
	if err == nil {
		err = n.withFinality(r.Context(), p, trust)
	}
	if errors.Is(err, ledger.ErrNotFound) {
		status := "not committed"
		if n.pool.Has(h) {
			status = "still pending"
		}
		writeError(w, http.StatusNotFound, fmt.Errorf("transaction %s is %s", h, status), "not_found")
		return
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, err, "")
		return
	}
	writeJSON(w, http.StatusOK, p)
}

func (n *Node) handleNonce(w http.ResponseWriter, r *http.Request) {
	sender, err := ParseSender(r.PathValue("sender"))
	if err != nil {
		writeError(w, http.StatusBadRequest, err, "bad_sender")
		return
	}
	committed := n.committedNonce(sender)
	writeJSON(w, http.StatusOK, NonceResponse{Sender: sender.DID(), Committed: committed,
		Next: n.pool.PendingNonce(sender, committed) + 1})
}

// Status returns what GET /v1/status reports.
func (n *Node) Status() StatusResponse {
	st := n.chain.Head()
	s := StatusResponse{Version: Version, Commit: BuildCommit(), ChainID: n.genesis.ChainID, GenesisHash: n.genesis.Hash(),
		PeerID: n.host.ID().String(), DID: n.key.Public().DID(), Role: n.cfg.Role, Authority: n.IsAuthority(),
		Height: st.Height, HeadHash: st.LastBlockHash, HeadTime: time.UnixMilli(st.LastBlockTime).UTC(),
		Finalized: n.store.State().Height,
		StateRoot: st.StateRoot, TotalTxs: st.TotalTxs, Peers: len(n.host.Network().Peers()), Mempool: n.pool.Len()}
	for _, a := range n.host.Addrs() {
		s.ListenAddrs = append(s.ListenAddrs, a.String()+"/p2p/"+n.host.ID().String())
	}
	s.CatchingUp, s.SyncTarget = n.CatchingUp(), n.SyncTarget()
	return s
}

// Ready reports whether the node is ready to serve: not catching up, and
// with at least one peer unless it is the lone authority of its chain. The
// reason says why not ("no_peers" or "catching_up"). A relay-only
// bootstrap node is ready as soon as it runs: it has nothing to catch up
// on, and it is the node others dial first, so gating traffic to it on
// having peers would keep a mesh from ever forming.
func (n *Node) Ready() (bool, string) {
	if n.cfg.relayOnly() {
		return true, ""
	}
	if len(n.host.Network().Peers()) == 0 && !n.loneAuthority() {
		return false, "no_peers"
	}
	if n.CatchingUp() {
		return false, "catching_up"
	}
	return true, ""
}

func (n *Node) handleReady(w http.ResponseWriter, _ *http.Request) {
	if n.ctx.Err() != nil {
		writeJSON(w, http.StatusServiceUnavailable, ReadyResponse{Status: "not_ready", Reason: "closed"})
		return
	}
	if ok, reason := n.Ready(); !ok {
		writeJSON(w, http.StatusServiceUnavailable, ReadyResponse{Status: "not_ready", Reason: reason})
		return
	}
	writeJSON(w, http.StatusOK, ReadyResponse{Status: "ready"})
}

func (n *Node) handleStatus(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, n.Status())
}
