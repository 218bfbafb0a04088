package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/sixdomain/sixdomain/ledger/types"
	"github.com/sixdomain/sixdomain/node"
)

// client talks to one node's API.
type client struct {
	name  string
	base  string
	token string
	http  *http.Client
}

func newClient(name, base, token string) *client {
	return &client{name: name, base: base, token: token, http: &http.Client{Timeout: 5 * time.Second}}
}

// apiError is a non-2xx answer.
type apiError struct {
	Code   int
	Reason string
	Msg    string
}

func (e *apiError) Error() string { return fmt.Sprintf("HTTP %d %s: %s", e.Code, e.Reason, e.Msg) }

const maxAnswer = 8 << 20

func (c *client) do(ctx context.Context, method, path string, body []byte, out any) error {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, r)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/cbor")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		var e node.ErrorResponse
		_ = json.Unmarshal(data, &e) // a body that is not an ErrorResponse leaves it empty
		return &apiError{Code: resp.StatusCode, Reason: e.Reason, Msg: e.Error}
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(data, out)
}

func (c *client) submit(ctx context.Context, raw []byte) error {
	return c.do(ctx, http.MethodPost, "/v1/txs", raw, nil)
}

func (c *client) txStatus(ctx context.Context, h types.Hash) (node.TxStatus, error) {
	var st node.TxStatus
	err := c.do(ctx, http.MethodGet, "/v1/txs/"+h.String(), nil, &st)
	return st, err
}

func (c *client) finality(ctx context.Context) (node.FinalityResponse, error) {
	var f node.FinalityResponse
	err := c.do(ctx, http.MethodGet, "/v1/finality", nil, &f)
	return f, err
}

func (c *client) block(ctx context.Context, height uint64) (node.BlockJSON, error) {
	var b node.BlockJSON
	err := c.do(ctx, http.MethodGet, fmt.Sprintf("/v1/blocks/%d", height), nil, &b)
	return b, err
}

func (c *client) healthy(ctx context.Context) bool {
	return c.do(ctx, http.MethodGet, "/healthz", nil, nil) == nil
}
