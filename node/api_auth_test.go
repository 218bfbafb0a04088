package node

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const (
	testWriteToken = "write-token-0123456789abcdef"
	testReadToken  = "read-token-0123456789abcdef"
)

func TestIsLoopback(t *testing.T) {
	for _, tt := range []struct {
		addr string
		want bool
	}{
		{"127.0.0.1:8645", true},
		{"127.3.2.1:0", true},
		{"[::1]:8645", true},
		{"localhost:8645", true},
		{"LOCALHOST:1", true},
		{"0.0.0.0:8645", false},
		{"[::]:8645", false},
		{":8645", false},
		{"192.0.2.1:8645", false},
		{"example.com:8645", false},
		{"nonsense", false},
	} {
		if got := IsLoopback(tt.addr); got != tt.want {
			t.Errorf("IsLoopback(%q) = %v, want %v", tt.addr, got, tt.want)
		}
	}
}

func TestAPIRefusesWildcardWithoutToken(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", "[::]:0", ":0"} {
		t.Run(addr, func(t *testing.T) {
			_, err := StartCluster(context.Background(), ClusterConfig{ChainID: "auth-test", Authorities: 1, Logger: testLogger(),
				Slot: 250 * time.Millisecond, Options: []Option{WithAPI(addr, 0)}})
			if !errors.Is(err, ErrAPIUnprotected) || !strings.Contains(err.Error(), "api.token_file") {
				t.Fatalf("StartCluster with API on %s = %v, want ErrAPIUnprotected naming api.token_file", addr, err)
			}
		})
	}
	// With a write token it starts.
	c, err := StartCluster(context.Background(), ClusterConfig{ChainID: "auth-test", Authorities: 1, Logger: testLogger(),
		Slot: 250 * time.Millisecond, Options: []Option{WithAPI("0.0.0.0:0", 0), WithAPIAuth(testWriteToken, "")}})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}

func TestAPIOptionsValidate(t *testing.T) {
	dir := t.TempDir()
	cert, key := writeSelfSigned(t, dir)
	for _, tt := range []struct {
		name string
		opt  Option
		want string // "" = accepted
	}{
		{"auth off", WithAPIAuth("", ""), ""},
		{"write only", WithAPIAuth(testWriteToken, ""), ""},
		{"write and read", WithAPIAuth(testWriteToken, testReadToken), ""},
		{"short write", WithAPIAuth("short", ""), "shorter"},
		{"space in token", WithAPIAuth("write token 0123456789", ""), "space"},
		{"read without write", WithAPIAuth("", testReadToken), "needs a write token"},
		{"same tokens", WithAPIAuth(testWriteToken, testWriteToken), "differ"},
		{"cors any", WithAPICORS([]string{"*"}), ""},
		{"cors origins", WithAPICORS([]string{"https://ops.example.com", "http://localhost:3000"}), ""},
		{"cors path", WithAPICORS([]string{"https://ops.example.com/x"}), "no path"},
		{"cors scheme", WithAPICORS([]string{"ftp://ops.example.com"}), "scheme"},
		{"cors bare host", WithAPICORS([]string{"ops.example.com"}), "scheme"},
		{"tls off", WithAPITLS("", ""), ""},
		{"tls pair", WithAPITLS(cert, key), ""},
		{"tls cert only", WithAPITLS(cert, ""), "both"},
		{"tls missing", WithAPITLS(filepath.Join(dir, "nope.pem"), key), "no such file"},
		{"tls swapped", WithAPITLS(key, cert), "TLS"},
		{"metrics off", WithMetricsListen(""), ""},
		{"metrics", WithMetricsListen("127.0.0.1:9645"), ""},
		{"metrics no port", WithMetricsListen("127.0.0.1"), "metrics listen"},
		{"metrics bad port", WithMetricsListen("127.0.0.1:http"), "port"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := defaults(RoleDevice)
			err := tt.opt(&c)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestReadTokenFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tt := range []struct {
		name, content string
		mode          os.FileMode
		want, err     string
	}{
		{"ok", testWriteToken + "\n", 0o600, testWriteToken, ""},
		{"owner read only", testWriteToken, 0o400, testWriteToken, ""},
		{"world readable", testWriteToken, 0o644, "", "chmod 600"},
		{"group readable", testWriteToken, 0o640, "", "chmod 600"},
		{"empty", "\n", 0o600, "", "shorter"},
		{"short", "abc", 0o600, "", "shorter"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadTokenFile(write(tt.name, tt.content, tt.mode))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("ReadTokenFile = %q, %v; want error with %q", got, err, tt.err)
				}
				if tt.mode&0o077 != 0 && !errors.Is(err, ErrInsecureTokenFile) {
					t.Fatalf("err = %v, want ErrInsecureTokenFile", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ReadTokenFile = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
	if _, err := ReadTokenFile(filepath.Join(dir, "absent")); err == nil {
		t.Fatal("ReadTokenFile of a missing file succeeded")
	}
}

// authNode starts a one-authority chain with the API behind opts.
func authNode(t *testing.T, opts ...Option) *Node {
	t.Helper()
	return authCluster(t, opts...).Nodes[0]
}

func authCluster(t *testing.T, opts ...Option) *Cluster {
	t.Helper()
	c, err := StartCluster(context.Background(), ClusterConfig{ChainID: "auth-test", Authorities: 1, Logger: testLogger(),
		Slot: 250 * time.Millisecond, API: true, Options: opts})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// call sends one request and returns the status, headers and body.
func call(t *testing.T, client *http.Client, method, url, token string, body []byte, hdr map[string]string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, out
}

func TestAPIAuth(t *testing.T) {
	t.Run("write token", func(t *testing.T) {
		c := authCluster(t, WithAPIAuth(testWriteToken, ""))
		n, g, key := c.Nodes[0], c.Genesis, c.Keys[0]
		txBody := func(nonce uint64) []byte {
			b, err := json.Marshal(SubmitRequest{Tx: recordTx(t, g, key, nonce, time.Now(), "21.5").Encode()})
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
		for _, tt := range []struct {
			name, token string
			want        int
		}{
			{"no token", "", http.StatusUnauthorized},
			{"wrong token", "wrong-token-0123456789abcdef", http.StatusUnauthorized},
			{"write token", testWriteToken, http.StatusAccepted},
		} {
			t.Run(tt.name, func(t *testing.T) {
				code, hdr, body := call(t, http.DefaultClient, "POST", apiURL(n, "/v1/txs"), tt.token, txBody(1), nil)
				if code != tt.want {
					t.Fatalf("POST /v1/txs = %d %s, want %d", code, body, tt.want)
				}
				if code == http.StatusUnauthorized {
					var e ErrorResponse
					if err := json.Unmarshal(body, &e); err != nil || e.Reason != "unauthorized" {
						t.Fatalf("401 body %s (%v), want reason unauthorized", body, err)
					}
					if !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Bearer") {
						t.Fatalf("WWW-Authenticate = %q", hdr.Get("WWW-Authenticate"))
					}
				}
			})
		}
		// Reads stay open without a read token.
		if code, _, body := call(t, http.DefaultClient, "GET", apiURL(n, "/v1/status"), "", nil, nil); code != http.StatusOK {
			t.Fatalf("GET /v1/status = %d %s", code, body)
		}
	})

	t.Run("read token", func(t *testing.T) {
		n := authNode(t, WithAPIAuth(testWriteToken, testReadToken))
		for _, tt := range []struct {
			method, path, token string
			want                int
		}{
			{"GET", "/v1/status", "", http.StatusUnauthorized},
			{"GET", "/v1/status", "wrong-token-0123456789abcdef", http.StatusUnauthorized},
			{"GET", "/v1/status", testReadToken, http.StatusOK},
			{"GET", "/v1/status", testWriteToken, http.StatusOK},
			{"GET", "/v1/finality", testReadToken, http.StatusOK},
			{"GET", metricsPath, "", http.StatusUnauthorized},
			{"GET", metricsPath, testReadToken, http.StatusOK},
			{"GET", "/healthz", "", http.StatusOK},
			{"POST", "/v1/txs", testReadToken, http.StatusUnauthorized},
			{"POST", "/v1/txs", testWriteToken, http.StatusBadRequest}, // authorized; the empty body is refused
		} {
			code, _, body := call(t, http.DefaultClient, tt.method, apiURL(n, tt.path), tt.token, nil, nil)
			if code != tt.want {
				t.Errorf("%s %s with %q = %d %s, want %d", tt.method, tt.path, tt.token, code, body, tt.want)
			}
		}
	})
}

func TestAPICORS(t *testing.T) {
	n := authNode(t, WithAPIAuth(testWriteToken, ""), WithAPICORS([]string{"https://ops.example.com"}))
	preflight := map[string]string{"Origin": "https://ops.example.com", "Access-Control-Request-Method": "POST",
		"Access-Control-Request-Headers": "authorization, content-type"}
	code, hdr, body := call(t, http.DefaultClient, "OPTIONS", apiURL(n, "/v1/txs"), "", nil, preflight)
	if code != http.StatusNoContent || hdr.Get("Access-Control-Allow-Origin") != "https://ops.example.com" ||
		!strings.Contains(hdr.Get("Access-Control-Allow-Headers"), "Authorization") ||
		!strings.Contains(hdr.Get("Access-Control-Allow-Methods"), "POST") {
		t.Fatalf("preflight = %d %v %s", code, hdr, body)
	}
	preflight["Origin"] = "https://evil.example.net"
	if code, hdr, _ := call(t, http.DefaultClient, "OPTIONS", apiURL(n, "/v1/txs"), "", nil, preflight); code != http.StatusForbidden ||
		hdr.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("preflight from another origin = %d %v", code, hdr)
	}
	code, hdr, _ = call(t, http.DefaultClient, "GET", apiURL(n, "/v1/status"), "", nil, map[string]string{"Origin": "https://ops.example.com"})
	if code != http.StatusOK || hdr.Get("Access-Control-Allow-Origin") != "https://ops.example.com" {
		t.Fatalf("GET with Origin = %d %v", code, hdr)
	}
	code, hdr, _ = call(t, http.DefaultClient, "GET", apiURL(n, "/v1/status"), "", nil, nil)
	if code != http.StatusOK || hdr.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("GET without Origin = %d %v", code, hdr)
	}

	// Without origins configured there are no CORS headers at all.
	plain := authNode(t)
	code, hdr, _ = call(t, http.DefaultClient, "GET", apiURL(plain, "/v1/status"), "", nil, map[string]string{"Origin": "https://ops.example.com"})
	if code != http.StatusOK || hdr.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("GET with Origin, CORS off = %d %v", code, hdr)
	}
}

func TestAPITLS(t *testing.T) {
	cert, key := writeSelfSigned(t, t.TempDir())
	n := authNode(t, WithAPITLS(cert, key))
	pemBytes, err := os.ReadFile(cert)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		t.Fatal("bad test certificate")
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	url := "https://" + n.APIAddr().String() + "/v1/status"
	code, _, body := call(t, client, "GET", url, "", nil, nil)
	var st StatusResponse
	if code != http.StatusOK || json.Unmarshal(body, &st) != nil || st.ChainID != "auth-test" {
		t.Fatalf("GET over TLS = %d %s", code, body)
	}
	// Plain HTTP is not served.
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + n.APIAddr().String() + "/v1/status")
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Fatal("plain HTTP answered 200 on the TLS listener")
		}
	}
}

// writeSelfSigned writes a self-signed certificate for 127.0.0.1 and its
// key to dir, and returns their paths.
func writeSelfSigned(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sixd test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "api.crt"), filepath.Join(dir, "api.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}
