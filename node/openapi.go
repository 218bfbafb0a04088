package node

import (
	_ "embed"
	"net/http"
	"strconv"
)

// openAPISpec is the OpenAPI 3.1 description of every route of Routes,
// served at GET /v1/openapi.json. openapi_test.go keeps it and the route
// table in step and checks real answers against its schemas.
//
//go:embed openapi.json
var openAPISpec []byte

// OpenAPISpec returns the OpenAPI 3.1 description of the HTTP API (a copy).
func OpenAPISpec() []byte { return append([]byte(nil), openAPISpec...) }

func (n *Node) handleOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(openAPISpec)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	if _, err := w.Write(openAPISpec); err != nil {
		// The client went away; nothing is left to tell it.
		n.log.Debug("writing the OpenAPI description", "err", err)
	}
}
