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
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Data    string `json:"data"`
	} `json:"error"`
}

// parseAnswer reads a JSON-RPC answer and classifies its error: a full
// mempool, a height not reached yet, or anything else.
func parseAnswer(body []byte) (json.RawMessage, error) {
	var a rpcAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		return nil, fmt.Errorf("%w: %w: %.200q", ErrRPC, err, body)
	}
	if a.Error != nil {
		msg := a.Error.Message + ": " + a.Error.Data
		switch {
		case strings.Contains(a.Error.Data, "mempool is full"):
			return nil, fmt.Errorf("%w: %s", ErrMempoolFull, a.Error.Data)
		case strings.Contains(a.Error.Data, "must be less than or equal to the current blockchain height"):
			return nil, fmt.Errorf("%w: %s", ErrNoBlockYet, a.Error.Data)
		}
		return nil, fmt.Errorf("%w: %s", ErrRPC, msg)
	}
	if len(a.Result) == 0 {
		return nil, fmt.Errorf("%w: no result and no error: %.200q", ErrRPC, body)
	}
	return a.Result, nil
}

func (c *rpcClient) do(req *http.Request) (json.RawMessage, error) {
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
	return parseAnswer(body)
}

// broadcastBody is the JSON-RPC request for broadcast_tx_async of tx.
func broadcastBody(tx []byte, id uint64) []byte {
	var b bytes.Buffer
	b.Grow(len(tx)*4/3 + 96)
	b.WriteString(`{"jsonrpc":"2.0","id":`)
	b.WriteString(strconv.FormatUint(id, 10))
	b.WriteString(`,"method":"broadcast_tx_async","params":{"tx":"`)
	b.WriteString(base64.StdEncoding.EncodeToString(tx))
	b.WriteString(`"}}`)
	return b.Bytes()
}

// broadcast sends tx to the validator at url with broadcast_tx_async.
func (c *rpcClient) broadcast(ctx context.Context, url string, tx []byte, id uint64) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(broadcastBody(tx, id)))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	_, err = c.do(req)
	return err
}

// status returns the validator's latest block height.
func (c *rpcClient) status(ctx context.Context, url string) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/status", nil)
	if err != nil {
		return 0, err
	}
	res, err := c.do(req)
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
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/block?height="+strconv.FormatInt(h, 10), nil)
	if err != nil {
		return nil, err
	}
	res, err := c.do(req)
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
