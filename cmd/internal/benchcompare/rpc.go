package benchcompare

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxRPCBody bounds a CometBFT RPC answer read into memory: a /block of
// 4 MiB (the default block.max_bytes) in base64 inside JSON fits.
const maxRPCBody = 16 << 20

// Errors of a CometBFT RPC answer.
var (
	// ErrMempoolFull: broadcast_tx_async refused the transaction because
	// the mempool is full (CometBFT's ErrMempoolIsFull), counted as refused.
	ErrMempoolFull = errors.New("mempool is full")
	// ErrNoBlockYet: /block asked for a height above the chain's.
	ErrNoBlockYet = errors.New("no block at that height yet")
	// ErrRPC: any other error answer or an unreadable one.
	ErrRPC = errors.New("cometbft rpc")
)

// rpcClient talks to the validators' JSON-RPC over HTTP with keep-alive
// connections, conns per validator.
type rpcClient struct {
	http *http.Client
	tr   *http.Transport
}

func newRPCClient(nodes, conns int) *rpcClient {
	tr := &http.Transport{
		MaxIdleConns:        nodes * conns * 2,
		MaxIdleConnsPerHost: conns * 2,
		MaxConnsPerHost:     conns,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	return &rpcClient{http: &http.Client{Transport: tr, Timeout: 30 * time.Second}, tr: tr}
}

func (c *rpcClient) close() { c.tr.CloseIdleConnections() }

// rpcAnswer is a JSON-RPC 2.0 answer; Result is decoded by the caller.
type rpcAnswer struct {
	ID     json.RawMessage `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Data    string `json:"data"`
	} `json:"error"`
}

// parseAnswer reads a JSON-RPC answer and classifies its error.
func parseAnswer(body []byte) (json.RawMessage, error) {
	var a rpcAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		return nil, fmt.Errorf("%w: %w: %.200q", ErrRPC, err, body)
	}
	return a.classify(body)
}

// classify returns the result, or the answer's error: a full mempool, a
// height not reached yet, or anything else.
func (a *rpcAnswer) classify(body []byte) (json.RawMessage, error) {
	if a.Error != nil {
		switch {
		case strings.HasPrefix(a.Error.Data, "mempool is full"):
			return nil, fmt.Errorf("%w%s", ErrMempoolFull, strings.TrimPrefix(a.Error.Data, "mempool is full"))
		case strings.Contains(a.Error.Data, "must be less than or equal to the current blockchain height"):
			return nil, fmt.Errorf("%w: %s", ErrNoBlockYet, a.Error.Data)
		}
		return nil, fmt.Errorf("%w: %s: %s", ErrRPC, a.Error.Message, a.Error.Data)
	}
	if len(a.Result) == 0 {
		return nil, fmt.Errorf("%w: no result and no error: %.200q", ErrRPC, body)
	}
	return a.Result, nil
}

// parseBatch reads the answer to a batch of n requests with ids first ..
// first+n-1 and returns each one's error (nil: accepted), by id. A
// request the answer leaves out counts as an ErrRPC.
func parseBatch(body []byte, first uint64, n int) ([]error, error) {
	var as []rpcAnswer
	if err := json.Unmarshal(body, &as); err != nil {
		// A whole-request failure comes back as a single answer.
		if _, aerr := parseAnswer(body); aerr != nil {
			return nil, aerr
		}
		return nil, fmt.Errorf("%w: batch answer: %w: %.200q", ErrRPC, err, body)
	}
	errs := make([]error, n)
	seen := make([]bool, n)
	for i := range as {
		id, err := strconv.ParseUint(string(as[i].ID), 10, 64)
		if err != nil || id < first || id-first >= uint64(n) {
			continue
		}
		_, errs[id-first] = as[i].classify(body)
		seen[id-first] = true
	}
	for i := range errs {
		if !seen[i] {
			errs[i] = fmt.Errorf("%w: no answer for request %d of the batch", ErrRPC, first+uint64(i))
		}
	}
	return errs, nil
}

func (c *rpcClient) post(ctx context.Context, url string, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	return c.roundTrip(req)
}

func (c *rpcClient) roundTrip(req *http.Request) ([]byte, error) {
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRPC, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxRPCBody+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRPC, err)
	}
	if len(body) > maxRPCBody {
		return nil, fmt.Errorf("%w: answer larger than %d bytes", ErrRPC, maxRPCBody)
	}
	return body, nil
}

func (c *rpcClient) get(ctx context.Context, url string) (json.RawMessage, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	body, err := c.roundTrip(req)
	if err != nil {
		return nil, err
	}
	return parseAnswer(body)
}

// broadcastBody is the JSON-RPC request for broadcast_tx_async of txs:
// one request for one transaction, a batch (a JSON array, ids first,
// first+1, ...) for more.
func broadcastBody(txs [][]byte, first uint64) []byte {
	var b bytes.Buffer
	b.Grow(len(txs) * (256*4/3 + 96))
	if len(txs) > 1 {
		b.WriteByte('[')
	}
	for i, tx := range txs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"jsonrpc":"2.0","id":`)
		b.WriteString(strconv.FormatUint(first+uint64(i), 10))
		b.WriteString(`,"method":"broadcast_tx_async","params":{"tx":"`)
		b.WriteString(base64.StdEncoding.EncodeToString(tx))
		b.WriteString(`"}}`)
	}
	if len(txs) > 1 {
		b.WriteByte(']')
	}
	return b.Bytes()
}

// broadcast sends txs to the validator at url with broadcast_tx_async,
// in one HTTP request, and returns each one's error (nil: accepted).
func (c *rpcClient) broadcast(ctx context.Context, url string, txs [][]byte, first uint64) ([]error, error) {
	body, err := c.post(ctx, url, broadcastBody(txs, first))
	if err != nil {
		return nil, err
	}
	if len(txs) == 1 {
		_, err := parseAnswer(body)
		return []error{err}, nil
	}
	return parseBatch(body, first, len(txs))
}

// status returns the validator's latest block height.
func (c *rpcClient) status(ctx context.Context, url string) (int64, error) {
	res, err := c.get(ctx, url+"/status")
	if err != nil {
		return 0, err
	}
	return parseStatus(res)
}

func parseStatus(res json.RawMessage) (int64, error) {
	var s struct {
		SyncInfo struct {
			LatestBlockHeight string `json:"latest_block_height"`
			CatchingUp        bool   `json:"catching_up"`
		} `json:"sync_info"`
	}
	if err := json.Unmarshal(res, &s); err != nil {
		return 0, fmt.Errorf("%w: status: %w", ErrRPC, err)
	}
	h, err := strconv.ParseInt(s.SyncInfo.LatestBlockHeight, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: status height %q: %w", ErrRPC, s.SyncInfo.LatestBlockHeight, err)
	}
	if s.SyncInfo.CatchingUp {
		return 0, fmt.Errorf("%w: catching up", ErrRPC)
	}
	return h, nil
}

// block fetches the committed block at height h: ErrNoBlockYet while the
// chain has not reached it.
func (c *rpcClient) block(ctx context.Context, url string, h int64) ([][]byte, error) {
	res, err := c.get(ctx, url+"/block?height="+strconv.FormatInt(h, 10))
	if err != nil {
		return nil, err
	}
	height, txs, err := parseBlock(res)
	if err != nil {
		return nil, err
	}
	if height != h {
		return nil, fmt.Errorf("%w: asked for block %d, got %d", ErrRPC, h, height)
	}
	return txs, nil
}

// parseBlock reads the height and the transactions of a /block result.
func parseBlock(res json.RawMessage) (int64, [][]byte, error) {
	var b struct {
		Block struct {
			Header struct {
				Height string `json:"height"`
			} `json:"header"`
			Data struct {
				Txs []string `json:"txs"`
			} `json:"data"`
		} `json:"block"`
	}
	if err := json.Unmarshal(res, &b); err != nil {
		return 0, nil, fmt.Errorf("%w: block: %w", ErrRPC, err)
	}
	h, err := strconv.ParseInt(b.Block.Header.Height, 10, 64)
	if err != nil {
		return 0, nil, fmt.Errorf("%w: block height %q: %w", ErrRPC, b.Block.Header.Height, err)
	}
	txs := make([][]byte, 0, len(b.Block.Data.Txs))
	for _, s := range b.Block.Data.Txs {
		tx, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return 0, nil, fmt.Errorf("%w: block %d: transaction: %w", ErrRPC, h, err)
		}
		txs = append(txs, tx)
	}
	return h, txs, nil
}
