package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/sixdomain/sixdomain/configs"
	"github.com/sixdomain/sixdomain/ledger/types"
	"github.com/sixdomain/sixdomain/node"
)

const (
	// clientTimeout bounds each HTTP request to the node.
	clientTimeout = 10 * time.Second
	// maxResponseBytes caps how much of a response body is read.
	maxResponseBytes = 32 << 20
	// defaultAPIURL is used when neither --api nor the home's config says.
	defaultAPIURL = "http://" + configs.DefaultAPIListen
)

// envAPITokenFile names the file of the API bearer token when
// --token-file is not given.
const envAPITokenFile = "SIXD_API_TOKEN_FILE"

// apiFlags are the flags of the commands that talk to a node.
type apiFlags struct {
	api       string
	home      string
	tokenFile string
}

func (f *apiFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.api, "api", "", "node API URL (default: api.listen of <home>/config.toml, else "+defaultAPIURL+")")
	cmd.Flags().StringVar(&f.tokenFile, "token-file", "", "file of the API bearer token (default $"+envAPITokenFile+
		", else api.token_file of <home>/config.toml when the API address comes from there)")
	addHomeFlag(cmd, &f.home)
}

// client returns a client for --api, or for the API of the home's config,
// sending the bearer token of --token-file, $SIXD_API_TOKEN_FILE or (for
// the home's own API) the home's api.token_file.
func (f *apiFlags) client() (*apiClient, error) {
	tokenFile := f.tokenFile
	if tokenFile == "" {
		tokenFile = os.Getenv(envAPITokenFile)
	}
	var (
		c   *apiClient
		err error
	)
	if f.api != "" {
		c, err = newAPIClient(f.api)
	} else {
		var home, base string
		if home, err = resolveHome(f.home); err != nil {
			return nil, err
		}
		var cfg *configs.Config
		if base, cfg, err = apiURLFromHome(home); err != nil {
			return nil, err
		}
		if c, err = newAPIClient(base); err != nil {
			return nil, err
		}
		if cfg != nil {
			if tokenFile == "" {
				tokenFile = cfg.API.TokenFile
			}
			if cfg.API.TLSCertFile != "" {
				// The node's own certificate is trusted for its own API
				// (it is often self-signed).
				if err := c.trust(cfg.API.TLSCertFile); err != nil {
					return nil, fmt.Errorf("api.tls_cert_file: %w", err)
				}
			}
		}
	}
	if err != nil {
		return nil, err
	}
	if tokenFile != "" {
		tok, err := node.ReadTokenFile(tokenFile)
		if err != nil {
			return nil, err
		}
		c.token = tok
	}
	return c, nil
}

// trust adds the PEM certificates of file to the roots the client accepts.
func (c *apiClient) trust(file string) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(data) {
		return fmt.Errorf("%s holds no PEM certificate", file)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	c.http.Transport = tr
	return nil
}

// apiURLFromHome returns http(s)://host:port of api.listen in home's
// config.toml (a wildcard host becomes loopback) and that config, or
// defaultAPIURL and nil if there is no config.
func apiURLFromHome(home string) (string, *configs.Config, error) {
	cfg, ok, err := loadConfigIfPresent(home)
	if err != nil {
		return "", nil, fmt.Errorf("%w (pass --api to reach a node without it)", err)
	}
	if !ok {
		return defaultAPIURL, nil, nil
	}
	if cfg.API.Listen == "" {
		return "", nil, fmt.Errorf("the API is off in %s/%s (api.listen = \"\"); pass --api", home, configFileName)
	}
	host, port, err := net.SplitHostPort(cfg.API.Listen)
	if err != nil {
		return "", nil, fmt.Errorf("api.listen %q: %w", cfg.API.Listen, err)
	}
	if port == "0" {
		return "", nil, fmt.Errorf("api.listen %q in %s/%s picks a random port; pass --api with the address the node logged", cfg.API.Listen, home, configFileName)
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	scheme := "http://"
	if cfg.API.TLSCertFile != "" {
		scheme = "https://"
	}
	return scheme + net.JoinHostPort(host, port), &cfg, nil
}

// apiClient talks to a node's HTTP API.
type apiClient struct {
	base  string // scheme://host[:port][/prefix], no trailing slash
	http  *http.Client
	token string // bearer token, if any
}

// newAPIClient accepts http(s)://host:port[/prefix] or a bare host:port.
func newAPIClient(raw string) (*apiClient, error) {
	s := strings.TrimSpace(raw)
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("--api %q: %w", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("--api %q: scheme must be http or https", raw)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("--api %q: no host", raw)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("--api %q: must not have a query or fragment", raw)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return &apiClient{base: u.String(), http: &http.Client{Timeout: clientTimeout}}, nil
}

// getJSON GETs path (which starts with /) and decodes the JSON answer into out.
func (c *apiClient) getJSON(ctx context.Context, path string, out any) error {
	body, err := c.do(ctx, http.MethodGet, path, nil)
	if err != nil {
		return err
	}
	return decodeBody(body, out)
}

// getRaw GETs path and returns the body.
func (c *apiClient) getRaw(ctx context.Context, path string) ([]byte, error) {
	return c.do(ctx, http.MethodGet, path, nil)
}

// postJSON POSTs in as JSON to path and decodes the answer into out.
func (c *apiClient) postJSON(ctx context.Context, path string, in, out any) error {
	data, err := json.Marshal(in)
	if err != nil {
		return err
	}
	body, err := c.do(ctx, http.MethodPost, path, data)
	if err != nil {
		return err
	}
	return decodeBody(body, out)
}

func decodeBody(body []byte, out any) error {
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("unexpected answer from the node (%v): %s", err, snippet(body))
	}
	return nil
}

// do sends one request. A non-2xx answer becomes an error carrying the
// node's ErrorResponse.
func (c *apiClient) do(ctx context.Context, method, path string, body []byte) ([]byte, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, r)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() == nil {
			if cause, ok := unreachable(err); ok {
				return nil, &noNodeError{base: c.base, cause: cause, err: err}
			}
		}
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return nil, fmt.Errorf("%s %s: %w", method, c.base+path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%s %s: reading answer: %w", method, c.base+path, err)
	}
	if len(data) > maxResponseBytes {
		return nil, fmt.Errorf("%s %s: answer exceeds %d bytes", method, c.base+path, maxResponseBytes)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		err := httpError(resp.StatusCode, data)
		err.Body = data
		if resp.StatusCode == http.StatusUnauthorized {
			if c.token == "" {
				err.Msg += " (the node wants a bearer token: pass --token-file or set $" + envAPITokenFile + ")"
			} else {
				err.Msg += " (the node refuses this token)"
			}
		}
		return nil, err
	}
	return data, nil
}

// errNoNode: nothing answers at the API address (see noNodeError).
var errNoNode = errors.New("no node answers")

// noNodeError says that no node answers at base, why, and how to start or
// find one.
type noNodeError struct {
	base  string // the API URL
	cause string // "connection refused", "no such host", ...
	err   error  // the transport's error
}

func (e *noNodeError) Error() string {
	return fmt.Sprintf("%v at %s (%s); start one with 'sixd run --home DIR' or 'make devnet', or point --api / --home at a running node",
		errNoNode, e.base, e.cause)
}

func (e *noNodeError) Unwrap() []error { return []error{errNoNode, e.err} }

// unreachable reports whether a transport error means that no node answers
// (the connection is refused, the host does not resolve, or the request
// timed out before an answer) and names the cause.
func unreachable(err error) (string, bool) {
	var dnsErr *net.DNSError
	var netErr net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused", true
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		return "no such host", true
	case errors.As(err, &dnsErr):
		return "cannot resolve " + dnsErr.Name, true
	case errors.As(err, &netErr) && netErr.Timeout():
		return fmt.Sprintf("no answer within %s", clientTimeout), true
	}
	return "", false
}

// apiError is a non-2xx answer of the node.
type apiError struct {
	Code   int
	Msg    string // the node's error, or the HTTP status text
	Reason string // the node's reason code, if any
	Body   []byte // the answer as it came (at most maxResponseBytes)
}

func (e *apiError) Error() string {
	if e.Reason == "" {
		return fmt.Sprintf("%s (HTTP %d)", e.Msg, e.Code)
	}
	return fmt.Sprintf("%s (%s, HTTP %d)", e.Msg, e.Reason, e.Code)
}

// httpError turns an error answer into an *apiError.
func httpError(code int, body []byte) *apiError {
	var e node.ErrorResponse
	if err := json.Unmarshal(body, &e); err != nil || e.Error == "" {
		msg := strings.TrimSpace(http.StatusText(code))
		if s := snippet(body); s != "" {
			msg += ": " + s
		}
		return &apiError{Code: code, Msg: msg}
	}
	return &apiError{Code: code, Msg: e.Error, Reason: e.Reason}
}

// isHTTPStatus reports whether err is an answer with the given status.
func isHTTPStatus(err error, code int) bool {
	var e *apiError
	return errors.As(err, &e) && e.Code == code
}

// snippet returns the start of a body for error messages, on one line.
func snippet(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	return truncate(s, 200)
}

// nextNonce asks the node for the nonce of did's next transaction.
func nextNonce(ctx context.Context, c *apiClient, did string) (uint64, error) {
	var nonce node.NonceResponse
	if err := c.getJSON(ctx, "/v1/nonces/"+url.PathEscape(did), &nonce); err != nil {
		return 0, fmt.Errorf("reading the next nonce: %w", err)
	}
	if nonce.Next == 0 {
		return 0, errors.New("the node returned nonce 0 as the next nonce")
	}
	return nonce.Next, nil
}

// postTx submits a signed transaction and checks that the node
// acknowledged that very one; kind names it in errors ("record", "admit").
func postTx(ctx context.Context, c *apiClient, tx *types.Tx, kind string) (types.Hash, error) {
	var resp node.SubmitResponse
	if err := c.postJSON(ctx, "/v1/txs", node.SubmitRequest{Tx: tx.Encode()}, &resp); err != nil {
		if isHTTPStatus(err, http.StatusForbidden) {
			return types.Hash{}, fmt.Errorf("the node refuses %s transactions from %s: %w", kind, tx.Sender.DID(), err)
		}
		return types.Hash{}, fmt.Errorf("submitting the %s transaction: %w", kind, err)
	}
	if resp.Hash != tx.Hash() {
		return types.Hash{}, fmt.Errorf("the node acknowledged transaction %s, but %s was sent", resp.Hash, tx.Hash())
	}
	return tx.Hash(), nil
}
