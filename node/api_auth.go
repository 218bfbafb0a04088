package node

import (
	"bufio"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Errors of the API's protection (see WithAPIAuth and ReadTokenFile).
var (
	// ErrAPIUnprotected: the API listens beyond loopback without a write
	// token.
	ErrAPIUnprotected = errors.New("the API listens beyond loopback without a write token")
	// ErrInsecureTokenFile: a token file grants access to group or others.
	ErrInsecureTokenFile = errors.New("token file is readable by group or others")
	// ErrBadToken: a token is empty, too short, too long or has spaces or
	// control characters.
	ErrBadToken = errors.New("bad API token")
)

// Token limits.
const (
	MinTokenLen = 16
	MaxTokenLen = 4096
)

// metricsPath is where the Prometheus exposition is served.
const metricsPath = "/debug/metrics/prometheus"

// ReadTokenFile reads a bearer token from path: a regular file that grants
// nothing to group or others (like a key file), holding the token on its
// first line. Surrounding white space is dropped.
func ReadTokenFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("token file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("token file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("token file %s is not a regular file (mode %s)", path, fi.Mode())
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 && runtime.GOOS != "windows" {
		return "", fmt.Errorf("%w: %s has mode %04o; run `chmod 600 %s`", ErrInsecureTokenFile, path, perm, path)
	}
	line, err := bufio.NewReader(io.LimitReader(f, MaxTokenLen+2)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("token file %s: %w", path, err)
	}
	tok := strings.TrimSpace(line)
	if err := checkToken(tok); err != nil {
		return "", fmt.Errorf("token file %s: %w", path, err)
	}
	return tok, nil
}

func checkToken(tok string) error {
	switch {
	case len(tok) < MinTokenLen:
		return fmt.Errorf("%w: shorter than %d characters", ErrBadToken, MinTokenLen)
	case len(tok) > MaxTokenLen:
		return fmt.Errorf("%w: longer than %d characters", ErrBadToken, MaxTokenLen)
	}
	for _, r := range tok {
		if r <= ' ' || r == 0x7f {
			return fmt.Errorf("%w: contains a space or control character", ErrBadToken)
		}
	}
	return nil
}

// IsLoopback reports whether a host:port listens on loopback only:
// localhost, 127.0.0.0/8 or ::1. An empty host (all interfaces), 0.0.0.0,
// :: and other names are not.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	host, _, _ = strings.Cut(host, "%") // zone
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// checkOrigin validates one entry of WithAPICORS: "*" or
// scheme://host[:port].
func checkOrigin(o string) error {
	if o == "*" {
		return nil
	}
	u, err := url.Parse(o)
	if err != nil {
		return fmt.Errorf("CORS origin %q: %w", o, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(o, "/") {
		return fmt.Errorf("CORS origin %q: want \"*\" or scheme://host[:port] (no path)", o)
	}
	return nil
}

// tokenHash hides a token's length from the timing of the comparison.
func tokenHash(tok string) [32]byte { return sha256.Sum256([]byte(tok)) }

func tokenMatches(got string, want [32]byte) bool {
	h := tokenHash(got)
	return subtle.ConstantTimeCompare(h[:], want[:]) == 1
}

// apiAccess is the protection of one route.
type apiAccess int

const (
	accessOpen  apiAccess = iota // /healthz, /readyz
	accessRead                   // GET: the read token, if one is set, or the write token
	accessWrite                  // anything else: the write token, if set
)

func routeAccess(r Route) apiAccess {
	switch {
	case r.Pattern == "/healthz" || r.Pattern == "/readyz":
		return accessOpen
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
		return accessRead
	}
	return accessWrite
}

// authorize wraps h with the bearer-token check its route needs.
func (n *Node) authorize(rt Route, h http.Handler) http.Handler {
	var allowed [][32]byte
	switch routeAccess(rt) {
	case accessWrite:
		if n.cfg.APIWriteToken != "" {
			allowed = [][32]byte{tokenHash(n.cfg.APIWriteToken)}
		}
	case accessRead:
		if n.cfg.APIReadToken != "" {
			allowed = [][32]byte{tokenHash(n.cfg.APIReadToken), tokenHash(n.cfg.APIWriteToken)}
		}
	}
	if len(allowed) == 0 {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		scheme, tok, ok := strings.Cut(auth, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			w.Header().Set("WWW-Authenticate", `Bearer realm="sixdomain"`)
			writeError(w, http.StatusUnauthorized, errors.New("this route needs an Authorization: Bearer token"), "unauthorized")
			return
		}
		tok = strings.TrimSpace(tok)
		match := false
		for _, want := range allowed { // no early exit: same time for every token
			if tokenMatches(tok, want) {
				match = true
			}
		}
		if !match {
			w.Header().Set("WWW-Authenticate", `Bearer realm="sixdomain", error="invalid_token"`)
			writeError(w, http.StatusUnauthorized, errors.New("the bearer token is not valid for this route"), "unauthorized")
			return
		}
		h.ServeHTTP(w, r)
	})
}

// cors answers preflight requests and marks answers to allowed origins.
// With no origins configured it adds nothing.
func (n *Node) cors(next http.Handler) http.Handler {
	origins := n.cfg.APICORSOrigins
	if len(origins) == 0 {
		return next
	}
	anyOrigin := slices.Contains(origins, "*")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin == "" {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Add("Vary", "Origin")
		allowed := anyOrigin || slices.Contains(origins, origin)
		preflight := r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
		if !allowed {
			if preflight {
				writeError(w, http.StatusForbidden, fmt.Errorf("origin %q is not in api.cors_origins", origin), "cors_origin")
				return
			}
			next.ServeHTTP(w, r) // no CORS headers: the browser hides the answer
			return
		}
		if anyOrigin {
			w.Header().Set("Access-Control-Allow-Origin", "*")
		} else {
			w.Header().Set("Access-Control-Allow-Origin", origin)
		}
		if !preflight {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
		w.Header().Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
		w.Header().Set("Access-Control-Max-Age", "600")
		w.WriteHeader(http.StatusNoContent)
	})
}

// instrument counts every request and its latency by method, route pattern
// (as the mux matched it, never the raw path) and status code.
func (n *Node) instrument(mux *http.ServeMux, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		route := "unmatched"
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			route = "preflight"
		} else if _, pat := mux.Handler(r); pat != "" && pat != "/" {
			_, route, _ = strings.Cut(pat, " ") // "GET /v1/txs/{hash}" → "/v1/txs/{hash}"
			if route == "" {
				route = pat
			}
			if route == "/" && r.URL.Path != "/" {
				route = "unmatched" // the dashboard's pattern; its handler answers 404 for any other path
			}
		}
		method := r.Method
		switch method {
		case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch, http.MethodOptions:
		default:
			method = "other"
		}
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		code := sw.code
		if code == 0 {
			code = http.StatusOK
		}
		labels := []string{method, route, strconv.Itoa(code)}
		n.metrics.apiRequests.WithLabelValues(labels...).Inc()
		n.metrics.apiLatency.WithLabelValues(labels...).Observe(time.Since(start).Seconds())
	})
}

// statusWriter remembers the status code; it passes Flush on (server-sent
// events need it) and unwraps for http.ResponseController.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// apiTLSConfig loads the API's certificate, if one is configured.
func (c *Config) apiTLSConfig() (*tls.Config, error) {
	if c.APITLSCert == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(c.APITLSCert, c.APITLSKey)
	if err != nil {
		return nil, fmt.Errorf("TLS certificate: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// startMetrics serves only the Prometheus exposition on addr.
func (n *Node) startMetrics(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	n.metricsAddr = ln.Addr()
	mux := http.NewServeMux()
	mux.Handle("GET "+metricsPath, promhttp.HandlerFor(n.registry, promhttp.HandlerOpts{}))
	n.metricsServer = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout: 30 * time.Second, WriteTimeout: 60 * time.Second, IdleTimeout: 2 * time.Minute,
		ErrorLog: n.httpErrorLog("metrics")}
	n.spawn(func() {
		if err := n.metricsServer.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			n.log.Error("metrics server stopped", "err", err)
		}
	})
	return nil
}

// httpErrorLog sends net/http's own messages (TLS handshake errors,
// recovered panics) to the node's logger.
func (n *Node) httpErrorLog(server string) *log.Logger {
	return slog.NewLogLogger(n.log.With("server", server).Handler(), slog.LevelWarn)
}
