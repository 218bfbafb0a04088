package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sixdomain/sixdomain/node"
)

func TestClientErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/prefix/v1/conflict":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusConflict)
			w.Write([]byte(`{"error": "nonce 3 already used", "reason": "replayed_nonce"}`))
		case "/prefix/v1/noreason":
			w.WriteHeader(http.StatusInternalServerError)
			w.Write([]byte(`{"error": "disk on fire"}`))
		case "/prefix/v1/html":
			w.WriteHeader(http.StatusBadGateway)
			w.Write([]byte("<html>\n<body>bad gateway</body>\n</html>"))
		case "/prefix/v1/garbage":
			w.Write([]byte("not json"))
		case "/prefix/v1/ok":
			w.Write([]byte(`{"sender": "x", "committed": 4, "next": 5}`))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	c, err := newAPIClient(srv.URL + "/prefix/")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var n node.NonceResponse
	if err := c.getJSON(ctx, "/v1/ok", &n); err != nil || n.Next != 5 {
		t.Fatalf("ok: %v %+v", err, n)
	}
	for path, want := range map[string]string{
		"/v1/conflict": "nonce 3 already used (replayed_nonce, HTTP 409)",
		"/v1/noreason": "disk on fire (HTTP 500)",
		"/v1/html":     "Bad Gateway: <html> <body>bad gateway</body> </html> (HTTP 502)",
		"/v1/garbage":  "unexpected answer from the node",
	} {
		err := c.getJSON(ctx, path, &n)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", path, err, want)
		}
	}
	if err := c.getJSON(ctx, "/v1/conflict", &n); !isHTTPStatus(err, http.StatusConflict) || isHTTPStatus(err, 404) {
		t.Errorf("isHTTPStatus(%v)", err)
	}

	// Through a command: one line on stderr.
	wantFail(t, []string{"block", "--api", srv.URL + "/prefix"}, "(HTTP 404)")
}

func TestAPIClientURL(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:8645":            "http://127.0.0.1:8645",
		"http://localhost:1/":       "http://localhost:1",
		"https://node.example/api/": "https://node.example/api",
	} {
		c, err := newAPIClient(in)
		if err != nil || c.base != want {
			t.Errorf("newAPIClient(%q) = %v, %v; want %s", in, c, err, want)
		}
	}
	for _, bad := range []string{"ftp://x", "http://", "http://h:1/?q=1", "http://[::1"} {
		if _, err := newAPIClient(bad); err == nil {
			t.Errorf("newAPIClient(%q) succeeded", bad)
		}
	}
}

func TestAPIURLFromHome(t *testing.T) {
	if got, _, err := apiURLFromHome(t.TempDir()); err != nil || got != defaultAPIURL {
		t.Errorf("no config: %q, %v", got, err)
	}
	cases := map[string]string{
		"0.0.0.0:9000":   "http://127.0.0.1:9000",
		"[::]:9000":      "http://[::1]:9000",
		"10.1.2.3:8645":  "http://10.1.2.3:8645",
		"127.0.0.1:0":    "error: random port",
		"":               "error: API is off",
		"localhost:1234": "http://localhost:1234",
	}
	for listen, want := range cases {
		home := filepath.Join(t.TempDir(), "h")
		args := []string{"init", "--role", "device", "--home", home, "--api", listen}
		mustRun(t, args...)
		got, _, err := apiURLFromHome(home)
		if strings.HasPrefix(want, "error: ") {
			if err == nil || !strings.Contains(err.Error(), strings.TrimPrefix(want, "error: ")) {
				t.Errorf("api %q: %q, %v; want %s", listen, got, err, want)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("api %q: %q, %v; want %s", listen, got, err, want)
		}
	}
	// A broken config is an error, not a silent fallback.
	home := t.TempDir()
	if err := os.WriteFile(filepath.Join(home, "config.toml"), []byte("role = \"device\"\nbogus = 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := apiURLFromHome(home); err == nil || !strings.Contains(err.Error(), "bogus") {
		t.Errorf("broken config: %v", err)
	}
}
