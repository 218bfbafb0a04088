// Package web is the node's dashboard: one HTML page, its script and its
// style sheet, embedded in the binary and served by every node's HTTP API
// at "/" (the page) and "/ui/" (the assets). The page needs no network
// beyond the node: no CDN, no fonts, no third-party code. It reads the
// node's JSON API (status, finality, blocks, peers, authorities, records,
// proofs, DIDs) and follows GET /v1/events when the node serves it,
// polling GET /v1/status in any case so it works without it.
//
// Every response carries a Content-Security-Policy that allows only the
// node itself ('self'): no inline script or style, no other origin.
//
// Imports: the standard library only. Package node imports it.
package web

import (
	"embed"
	"io/fs"
	"log/slog"
	"net/http"
	"path"
	"strings"
)

//go:embed assets
var assets embed.FS

// CSP is the Content-Security-Policy of the dashboard's responses.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"

// Handler serves the page at "/" and the assets under "/ui/"; any other
// path, or an asset that does not exist, goes to notFound. log (nil: none)
// gets failed writes at debug level.
func Handler(notFound http.Handler, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	sub, err := fs.Sub(assets, "assets")
	if err != nil { // cannot happen: "assets" is a valid path
		log.Error("dashboard: embedded assets unavailable", "err", err)
		return notFound
	}
	return &handler{fs: sub, notFound: notFound, log: log}
}

type handler struct {
	fs       fs.FS
	notFound http.Handler
	log      *slog.Logger
}

var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := ""
	switch {
	case r.URL.Path == "/":
		name = "index.html"
	case strings.HasPrefix(r.URL.Path, "/ui/"):
		name = strings.TrimPrefix(r.URL.Path, "/ui/")
	}
	ct, known := contentTypes[path.Ext(name)]
	if name == "" || !known || !fs.ValidPath(name) {
		h.notFound.ServeHTTP(w, r)
		return
	}
	data, err := fs.ReadFile(h.fs, name)
	if err != nil {
		h.notFound.ServeHTTP(w, r)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", ct)
	hd.Set("Content-Security-Policy", CSP)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	if _, err := w.Write(data); err != nil {
		h.log.Debug("dashboard: writing an asset", "path", r.URL.Path, "err", err)
	}
}
