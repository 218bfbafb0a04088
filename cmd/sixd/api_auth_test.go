package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sixdomain/sixdomain/node"
)

// editConfig applies old → new replacements to home's config.toml; each
// old string must be there.
func editConfig(t *testing.T, home string, pairs ...string) {
	t.Helper()
	p := filepath.Join(home, "config.toml")
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	for i := 0; i+1 < len(pairs); i += 2 {
		if !strings.Contains(s, pairs[i]) {
			t.Fatalf("config.toml has no %q", pairs[i])
		}
		s = strings.Replace(s, pairs[i], pairs[i+1], 1)
	}
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// freePort returns a TCP port that was free a moment ago on loopback.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// running is a `sixd run` in this process.
type running struct {
	stderr *syncBuffer
	done   chan error
	cancel context.CancelFunc
}

// startRun runs `sixd run --home home` until the test ends and waits for
// its "sixd running" line (logged in either format).
func startRun(t *testing.T, home string) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{stderr: &syncBuffer{}, done: make(chan error, 1), cancel: cancel}
	root := newRootCmd()
	root.SetArgs([]string{"run", "--home", home})
	root.SetOut(&syncBuffer{})
	root.SetErr(r.stderr)
	go func() { r.done <- root.ExecuteContext(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(30 * time.Second):
			t.Error("run did not stop")
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(r.stderr.String(), "sixd running") {
		select {
		case err := <-r.done:
			t.Fatalf("run exited early: %v\n%s", err, r.stderr.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("run did not start:\n%s", r.stderr.String())
		}
	}
	return r
}

const cliToken = "cli-test-token-0123456789abcdef"

// TestRunProtectedAPI: sixd run refuses an unprotected API beyond
// loopback and a world-readable token file; with a token, the CLI sends it
// from the home's config, --token-file or $SIXD_API_TOKEN_FILE.
func TestRunProtectedAPI(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a node")
	}
	home := initHome(t, "device")
	port := strconv.Itoa(freePort(t))
	editConfig(t, home, `store = "pebble"`, `store = "memory"`, `listen = "127.0.0.1:0"`, `listen = "0.0.0.0:`+port+`"`)
	wantFail(t, []string{"run", "--home", home}, "api.token_file", "loopback")

	tokenFile := filepath.Join(home, "api.token")
	if err := os.WriteFile(tokenFile, []byte(cliToken+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	editConfig(t, home, `token_file = ""`, `token_file = "api.token"`, `listen = "0.0.0.0:`+port+`"`, `listen = "127.0.0.1:`+port+`"`)
	wantFail(t, []string{"run", "--home", home}, "api.token_file", "chmod 600")
	if err := os.Chmod(tokenFile, 0o600); err != nil {
		t.Fatal(err)
	}
	startRun(t, home)
	api := "http://127.0.0.1:" + port

	hashRE := regexp.MustCompile(`^[0-9a-f]{64}$`)
	record := func(nonce int, extra ...string) []string {
		return append([]string{"tx", "record", "--home", home, "--stream", "t", "--value", strconv.Itoa(nonce)}, extra...)
	}
	// The home's config names the API and its token.
	if out := strings.TrimSpace(mustRun(t, record(1)...)); !hashRE.MatchString(out) {
		t.Fatalf("tx record with the home's token: %q", out)
	}
	// Another API URL does not get the home's token.
	wantFail(t, record(2, "--api", api), "HTTP 401", "--token-file")
	otherToken := filepath.Join(t.TempDir(), "wrong.token")
	if err := os.WriteFile(otherToken, []byte("wrong-token-0123456789abcdef"), 0o600); err != nil {
		t.Fatal(err)
	}
	wantFail(t, record(2, "--api", api, "--token-file", otherToken), "HTTP 401", "refuses this token")
	if out := strings.TrimSpace(mustRun(t, record(2, "--api", api, "--token-file", tokenFile)...)); !hashRE.MatchString(out) {
		t.Fatalf("tx record --token-file: %q", out)
	}
	t.Setenv(envAPITokenFile, tokenFile)
	if out := strings.TrimSpace(mustRun(t, record(3, "--api", api)...)); !hashRE.MatchString(out) {
		t.Fatalf("tx record with $%s: %q", envAPITokenFile, out)
	}
	// Reads stay open without a read token.
	c, err := newAPIClient(api)
	if err != nil {
		t.Fatal(err)
	}
	var st node.StatusResponse
	if err := c.getJSON(context.Background(), "/v1/status", &st); err != nil {
		t.Fatal(err)
	}
}

// TestInitWritesAPIToken: sixd init with an API beyond loopback writes a
// 0600 api.token and names it in config.toml, so that run starts and the
// CLI, pointed at the home, is let in.
func TestInitWritesAPIToken(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a node")
	}
	home := filepath.Join(t.TempDir(), "home")
	port := strconv.Itoa(freePort(t))
	out := mustRun(t, "init", "--role", "device", "--home", home, "--listen", "/ip4/127.0.0.1/tcp/0", "--api", "0.0.0.0:"+port, "--mdns=false")
	tokenFile := filepath.Join(home, "api.token")
	if !strings.Contains(out, tokenFile) {
		t.Errorf("init output does not name the token file:\n%s", out)
	}
	fi, err := os.Stat(tokenFile)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("api.token mode %04o, want 0600", fi.Mode().Perm())
	}
	tok, err := node.ReadTokenFile(tokenFile)
	if err != nil || len(tok) != 64 {
		t.Fatalf("token %q, %v", tok, err)
	}
	cfg, err := os.ReadFile(filepath.Join(home, "config.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(cfg), "\ntoken_file = \"api.token\"\n") {
		t.Fatal("config.toml does not set token_file")
	}
	// A loopback API gets no token.
	plain := filepath.Join(t.TempDir(), "plain")
	mustRun(t, "init", "--role", "device", "--home", plain, "--api", "127.0.0.1:0")
	if _, err := os.Stat(filepath.Join(plain, "api.token")); !os.IsNotExist(err) {
		t.Errorf("init wrote a token for a loopback API: %v", err)
	}

	editConfig(t, home, `store = "pebble"`, `store = "memory"`)
	startRun(t, home)
	hash := strings.TrimSpace(mustRun(t, "tx", "record", "--home", home, "--stream", "t", "--value", "1"))
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(hash) {
		t.Fatalf("tx record: %q", hash)
	}
	wantFail(t, []string{"tx", "record", "--api", "127.0.0.1:" + port, "--home", home, "--stream", "t", "--value", "2"}, "HTTP 401")
}

// TestRunTLSAPI: with tls_cert_file and tls_key_file, run serves the API
// over HTTPS and the CLI, pointed at the home, trusts its certificate.
func TestRunTLSAPI(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a node")
	}
	home := initHome(t, "device")
	writeTestCert(t, home)
	port := strconv.Itoa(freePort(t))
	editConfig(t, home, `store = "pebble"`, `store = "memory"`, `listen = "127.0.0.1:0"`, `listen = "127.0.0.1:`+port+`"`,
		`tls_cert_file = ""`, `tls_cert_file = "api.crt"`, `tls_key_file = ""`, `tls_key_file = "api.key"`)
	r := startRun(t, home)
	if !strings.Contains(r.stderr.String(), "api=https://127.0.0.1:"+port) {
		t.Errorf("run does not log the https API:\n%s", r.stderr.String())
	}
	did := idJSON(t, home).DID
	if out := mustRun(t, "records", "--sender", did, "--home", home); !strings.Contains(out, "no records") {
		t.Errorf("records over TLS:\n%s", out)
	}
	// Plain HTTP is not served; an unknown certificate is not trusted.
	wantFail(t, []string{"records", "--sender", did, "--api", "http://127.0.0.1:" + port}, "HTTP 400")
	wantFail(t, []string{"records", "--sender", did, "--api", "https://127.0.0.1:" + port}, "certificate")
}

// writeTestCert writes a self-signed certificate for 127.0.0.1 to
// home/api.crt and its key to home/api.key.
func writeTestCert(t *testing.T, home string) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sixd test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, "api.crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, "api.key"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
}
