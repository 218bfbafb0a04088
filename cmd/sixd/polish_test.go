package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sixdomain/sixdomain/ledger/types"
	"github.com/sixdomain/sixdomain/node"
)

// closedPort returns the address of a loopback port nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// TestNoNodeAnswers: a command pointed at a closed port says so on one
// line, with how to start or find a node.
func TestNoNodeAnswers(t *testing.T) {
	api := "http://" + closedPort(t)
	want := noNodeLine(api)
	for _, args := range [][]string{
		{"block", "--api", api},
		{"records", "--sender", rfc8032DID, "--api", api},
		{"did", "resolve", rfc8032DID, "--api", api},
	} {
		_, errOut, err := runCmd(t, args...)
		if !errors.Is(err, errNoNode) {
			t.Errorf("sixd %s: error %v, want errNoNode", strings.Join(args, " "), err)
		}
		if errOut != want {
			t.Errorf("sixd %s:\nstderr %q\nwant   %q", strings.Join(args, " "), errOut, want)
		}
	}
	// Through the client, the transport's error stays reachable.
	c, err := newAPIClient(api)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.getRaw(context.Background(), "/v1/status")
	if !errors.Is(err, errNoNode) || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("getRaw: %v, want errNoNode wrapping ECONNREFUSED", err)
	}
	// A cancelled command is not a missing node.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.getRaw(ctx, "/v1/status"); err == nil || errors.Is(err, errNoNode) {
		t.Errorf("cancelled request: %v", err)
	}
}

// TestWatchAndWaitNoNode: the event-stream client says that no node
// answers with the same line as the other commands: sixd watch pointed at
// a closed port, and tx record --wait at a node that goes away once it has
// accepted the transaction.
func TestWatchAndWaitNoNode(t *testing.T) {
	api := "http://" + closedPort(t)
	_, errOut, err := runCmd(t, "watch", "--api", api)
	if !errors.Is(err, errNoNode) || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("sixd watch: error %v, want errNoNode wrapping ECONNREFUSED", err)
	}
	if want := noNodeLine(api); errOut != want {
		t.Errorf("sixd watch:\nstderr %q\nwant   %q", errOut, want)
	}

	// A node that answers the submission, then stops listening.
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodGet && r.URL.Path == "/v1/status":
			writeTestJSON(w, http.StatusOK, node.StatusResponse{ChainID: "no-node-test"})
		case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/v1/nonces/"):
			writeTestJSON(w, http.StatusOK, node.NonceResponse{Next: 1})
		case r.Method == http.MethodPost && r.URL.Path == "/v1/txs":
			var req node.SubmitRequest
			tx, err := func() (*types.Tx, error) {
				if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
					return nil, err
				}
				return types.DecodeTx(req.Tx)
			}()
			if err != nil {
				writeTestJSON(w, http.StatusBadRequest, node.ErrorResponse{Error: err.Error(), Reason: "bad_request"})
				return
			}
			// New connections (the event stream's) are refused from now;
			// this answer still goes out on the open one.
			if err := srv.Listener.Close(); err != nil {
				t.Error(err)
			}
			writeTestJSON(w, http.StatusAccepted, node.SubmitResponse{Hash: tx.Hash(), Status: "pending"})
		default:
			writeTestJSON(w, http.StatusNotFound, node.ErrorResponse{Error: "no route", Reason: "not_found"})
		}
	}))
	defer srv.Close()
	home := initHome(t, "device")
	out, errOut, err := runCmd(t, "tx", "record", "--api", srv.URL, "--home", home, "--stream", "temp", "--value", "1", "--wait", "--timeout", "20s")
	if !errors.Is(err, errNoNode) {
		t.Errorf("tx record --wait: error %v, want errNoNode", err)
	}
	if _, perr := types.ParseHash(strings.TrimSpace(out)); perr != nil {
		t.Errorf("tx record --wait printed %q, want the transaction hash", out)
	}
	if want := noNodeLine(srv.URL); errOut != want {
		t.Errorf("tx record --wait:\nstderr %q\nwant   %q", errOut, want)
	}

	// sixd watch that loses its node says so briefly while it retries.
	var gone *httptest.Server
	gone = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := gone.Listener.Close(); err != nil {
			t.Error(err)
		}
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Connection", "close") // no reuse: the reconnect dials
		_, _ = io.WriteString(w, "id: 1-1\nevent: head\ndata: {}\n\n")
	}))
	defer gone.Close()
	gc, err := newAPIClient(gone.URL)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var watchOut, watchErr syncBuffer
	done := make(chan error, 1)
	go func() { done <- watchEvents(ctx, gc, nil, false, &watchOut, &watchErr) }()
	retry := "sixd: no node answers at " + gone.URL + " (connection refused); reconnecting in 2s\n"
	for !strings.Contains(watchErr.String(), retry) && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("watch: %v", err)
	}
	if !strings.Contains(watchErr.String(), retry) {
		t.Errorf("watch's stderr lacks %q:\n%s", retry, watchErr.String())
	}

	// Straight through the client: the transport's error stays reachable,
	// and a cancelled wait is not a missing node.
	c, err := newAPIClient(api)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.openEvents(context.Background(), nil, ""); !errors.Is(err, errNoNode) || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("openEvents: %v, want errNoNode wrapping ECONNREFUSED", err)
	}
	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	if _, err := c.openEvents(ctx, nil, ""); err == nil || errors.Is(err, errNoNode) {
		t.Errorf("cancelled openEvents: %v", err)
	}
}

// noNodeLine is what sixd prints when no node answers at api.
func noNodeLine(api string) string {
	return "sixd: no node answers at " + api + " (connection refused); start one with 'sixd run --home DIR' or 'make devnet', or point --api / --home at a running node\n"
}

func writeTestJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestUnreachable(t *testing.T) {
	cases := []struct {
		name  string
		err   error
		cause string // "" means a node answered (or might have)
	}{
		{"refused", &url.Error{Op: "Get", URL: "http://127.0.0.1:1", Err: &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}}, "connection refused"},
		{"no such host", &url.Error{Op: "Get", URL: "http://nowhere.invalid", Err: &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: "nowhere.invalid", IsNotFound: true}}}, "no such host"},
		{"resolver down", &net.DNSError{Err: "server misbehaving", Name: "node.example", IsTemporary: true}, "cannot resolve node.example"},
		{"timeout", &url.Error{Op: "Get", URL: "http://10.0.0.1:8645", Err: timeoutErr{}}, "no answer within " + clientTimeout.String()},
		{"reset", &url.Error{Op: "Get", URL: "http://127.0.0.1:1", Err: syscall.ECONNRESET}, ""},
		{"tls", &url.Error{Op: "Get", URL: "https://127.0.0.1:1", Err: errors.New("tls: first record does not look like a TLS handshake")}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cause, ok := unreachable(tc.err)
			if ok != (tc.cause != "") || cause != tc.cause {
				t.Errorf("unreachable = %q, %v; want %q", cause, ok, tc.cause)
			}
		})
	}
}

// TestCompletion: the completion command is listed in the help and prints
// a script for each shell.
func TestCompletion(t *testing.T) {
	if help := mustRun(t, "--help"); !strings.Contains(help, "completion") {
		t.Errorf("the help does not list completion:\n%s", help)
	}
	for shell, want := range map[string]string{
		"bash":       "# bash completion V2 for sixd",
		"zsh":        "#compdef sixd",
		"fish":       "# fish completion for sixd",
		"powershell": "# powershell completion for sixd",
	} {
		t.Run(shell, func(t *testing.T) {
			out := mustRun(t, "completion", shell)
			if !strings.Contains(out, want) || len(out) < 500 {
				t.Errorf("sixd completion %s printed %d bytes without %q", shell, len(out), want)
			}
		})
	}
}

func TestPrintVersion(t *testing.T) {
	bi := &debug.BuildInfo{Deps: []*debug.Module{{Path: "github.com/libp2p/go-libp2p", Version: "v0.52.0"}}}
	cases := []struct {
		name string
		bi   *debug.BuildInfo
		ok   bool
		want []string
	}{
		{"with build info", bi, true, []string{"sixd 1.2.3\n", "commit:           abc123\n", "go-libp2p:        v0.52.0\n", "go-libp2p-pubsub: unknown (not in build information)\n"}},
		{"without build info", nil, false, []string{"sixd 1.2.3\n", "commit:           abc123\n", "go-libp2p:        unknown (no build information)\n"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := printVersion(&out, "1.2.3", "abc123", tc.bi, tc.ok); err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
	if err := printVersion(failWriter{}, "1", "c", nil, false); err == nil {
		t.Error("a failed write is not reported")
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

// TestVersionCommitFromLdflags builds sixd as `make build` does, with
// -X node.Commit=abc123, and checks that `sixd version` prints it. The
// build cache makes this a link step (seconds); -short skips it.
func TestVersionCommitFromLdflags(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command in PATH")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	bin := filepath.Join(t.TempDir(), "sixd")
	start := time.Now()
	build := exec.CommandContext(ctx, gobin, "build", "-ldflags",
		"-X github.com/sixdomain/sixdomain/node.Version=9.9.9-test -X github.com/sixdomain/sixdomain/node.Commit=abc123", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	t.Logf("built in %s", time.Since(start).Round(time.Millisecond))
	out, err := exec.CommandContext(ctx, bin, "version").CombinedOutput()
	if err != nil {
		t.Fatalf("sixd version: %v\n%s", err, out)
	}
	for _, want := range []string{"sixd 9.9.9-test\n", "commit:           abc123\n"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("sixd version lacks %q:\n%s", want, out)
		}
	}
}
