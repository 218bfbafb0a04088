package node

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger/types"
	"github.com/sixdomain/sixdomain/mempool"
)

// The OpenAPI tests read node/openapi.json as plain JSON and check it with a
// small JSON Schema checker (below) that knows exactly the keywords the
// document uses; a keyword it does not know fails the check instead of
// being ignored. No dependency is needed for that.

// openAPIDoc is the parsed embedded description.
type openAPIDoc struct {
	root map[string]any
}

func loadOpenAPI(t *testing.T) *openAPIDoc {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(openAPISpec))
	dec.UseNumber()
	var root map[string]any
	if err := dec.Decode(&root); err != nil {
		t.Fatalf("node/openapi.json is not JSON: %v", err)
	}
	if dec.More() {
		t.Fatal("node/openapi.json has data after its object")
	}
	return &openAPIDoc{root: root}
}

// pointer resolves a local JSON pointer reference ("#/components/...").
func (d *openAPIDoc) pointer(ref string) (any, error) {
	if !strings.HasPrefix(ref, "#/") {
		return nil, fmt.Errorf("$ref %q is not a local reference", ref)
	}
	var cur any = d.root
	for _, tok := range strings.Split(ref[2:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("$ref %q: %q is not inside an object", ref, tok)
		}
		if cur, ok = m[tok]; !ok {
			return nil, fmt.Errorf("$ref %q: no %q", ref, tok)
		}
	}
	return cur, nil
}

// deref follows $ref until it reaches an object without one (Parameter,
// Response objects; schemas are followed by the checker itself).
func (d *openAPIDoc) deref(v any) (map[string]any, error) {
	for range 16 {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%v is not an object", v)
		}
		ref, ok := m["$ref"].(string)
		if !ok {
			return m, nil
		}
		var err error
		if v, err = d.pointer(ref); err != nil {
			return nil, err
		}
	}
	return nil, fmt.Errorf("$ref chain too long at %v", v)
}

func (d *openAPIDoc) paths() map[string]any {
	p, _ := d.root["paths"].(map[string]any)
	return p
}

// operation returns paths[path][method].
func (d *openAPIDoc) operation(path, method string) (map[string]any, bool) {
	item, ok := d.paths()[path].(map[string]any)
	if !ok {
		return nil, false
	}
	op, ok := item[strings.ToLower(method)].(map[string]any)
	return op, ok
}

// httpMethods are the operation keys of a Path Item object.
var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// TestOpenAPIDocument: the description is JSON, OpenAPI 3.1, every $ref
// resolves, every operation has responses and declares each parameter of
// its path template.
func TestOpenAPIDocument(t *testing.T) {
	d := loadOpenAPI(t)
	if v, _ := d.root["openapi"].(string); !regexp.MustCompile(`^3\.1\.\d+$`).MatchString(v) {
		t.Errorf("openapi = %q, want 3.1.x", v)
	}
	if info, ok := d.root["info"].(map[string]any); !ok || info["title"] == nil || info["version"] == nil {
		t.Error("info.title and info.version are required")
	}
	var refs int
	var walk func(v any, at string)
	walk = func(v any, at string) {
		switch x := v.(type) {
		case map[string]any:
			if ref, ok := x["$ref"]; ok {
				s, isStr := ref.(string)
				if !isStr {
					t.Errorf("%s: $ref is not a string", at)
				} else if _, err := d.pointer(s); err != nil {
					t.Errorf("%s: %v", at, err)
				}
				refs++
			}
			for k, e := range x {
				walk(e, at+"/"+k)
			}
		case []any:
			for i, e := range x {
				walk(e, at+"/"+strconv.Itoa(i))
			}
		}
	}
	walk(d.root, "#")
	if refs == 0 {
		t.Error("no $ref found: the walk is broken")
	}
	if len(d.paths()) == 0 {
		t.Fatal("no paths")
	}
	template := regexp.MustCompile(`\{([^}]+)\}`)
	for path, item := range d.paths() {
		ops, ok := item.(map[string]any)
		if !ok {
			t.Errorf("paths[%s] is not an object", path)
			continue
		}
		for method, op := range ops {
			if !slices.Contains(httpMethods, method) {
				t.Errorf("paths[%s] has %q, not an HTTP method", path, method)
				continue
			}
			o, _ := op.(map[string]any)
			if r, ok := o["responses"].(map[string]any); !ok || len(r) == 0 {
				t.Errorf("%s %s: no responses", method, path)
			}
			declared := map[string]bool{}
			params, _ := o["parameters"].([]any)
			for _, p := range params {
				pm, err := d.deref(p)
				if err != nil {
					t.Errorf("%s %s: %v", method, path, err)
					continue
				}
				if pm["in"] == "path" {
					declared[fmt.Sprint(pm["name"])] = true
					if pm["required"] != true {
						t.Errorf("%s %s: path parameter %v is not required", method, path, pm["name"])
					}
				}
			}
			for _, m := range template.FindAllStringSubmatch(path, -1) {
				if !declared[m[1]] {
					t.Errorf("%s %s: path parameter {%s} is not declared", method, path, m[1])
				}
				delete(declared, m[1])
			}
			for name := range declared {
				t.Errorf("%s %s: path parameter %s is not in the path", method, path, name)
			}
		}
	}
}

// openAPIPath converts a net/http pattern's path to an OpenAPI path
// template: "{name...}" becomes "{name}", the end anchor "{$}" goes, and
// a subtree pattern "/x/" (which matches what "/x/{path...}" does) becomes
// "/x/{path}". "/" stays "/".
func openAPIPath(pattern string) string {
	if strings.HasSuffix(pattern, "/") && pattern != "/" {
		pattern += "{path}"
	}
	p := strings.ReplaceAll(pattern, "{$}", "")
	return regexp.MustCompile(`\{([A-Za-z_][A-Za-z0-9_]*)\.\.\.\}`).ReplaceAllString(p, "{$1}")
}

func TestOpenAPIPath(t *testing.T) {
	for in, want := range map[string]string{
		"/v1/txs/{hash}":     "/v1/txs/{hash}",
		"/ui/{path...}":      "/ui/{path}",
		"/{$}":               "/",
		"/":                  "/",
		"/ui/":               "/ui/{path}",
		"/ui/{$}":            "/ui/",
		"/a/{x}/b/{rest...}": "/a/{x}/b/{rest}",
	} {
		if got := openAPIPath(in); got != want {
			t.Errorf("openAPIPath(%q) = %q, want %q", in, got, want)
		}
	}
}

// routeKey turns "METHOD pattern" into "METHOD /openapi/path".
func routeKey(route string) string {
	method, pattern, _ := strings.Cut(route, " ")
	return strings.ToUpper(method) + " " + openAPIPath(pattern)
}

// routeDiff compares the route table with the description's operations:
// the routes it lacks and the operations no route serves, as sorted
// "METHOD /path" lines.
func routeDiff(routes []Route, d *openAPIDoc) (undocumented, unserved []string) {
	served := map[string]bool{}
	for _, r := range routes {
		key := routeKey(r.Method + " " + r.Pattern)
		served[key] = true
		if _, ok := d.operation(openAPIPath(r.Pattern), r.Method); !ok {
			undocumented = append(undocumented, key)
		}
	}
	for path, item := range d.paths() {
		ops, _ := item.(map[string]any)
		for method := range ops {
			if key := strings.ToUpper(method) + " " + path; slices.Contains(httpMethods, method) && !served[key] {
				unserved = append(unserved, key)
			}
		}
	}
	slices.Sort(undocumented)
	slices.Sort(unserved)
	return undocumented, unserved
}

// testNode starts one authority (which seals and finalizes blocks alone)
// and a device, so that the authority has a peer; it returns the
// authority.
func testNode(t *testing.T) (*Cluster, *Node) {
	t.Helper()
	c := startCluster(t, 1, 1)
	return c, c.Nodes[0]
}

// TestOpenAPICoversRoutes: every route of Routes() is described with its
// method, and every described operation is a route of Routes().
func TestOpenAPICoversRoutes(t *testing.T) {
	d := loadOpenAPI(t)
	_, n := testNode(t)
	undocumented, unserved := routeDiff(n.Routes(), d)
	if len(undocumented) > 0 {
		t.Errorf("routes of Node.Routes() missing from node/openapi.json:\n\t%s", strings.Join(undocumented, "\n\t"))
	}
	if len(unserved) > 0 {
		t.Errorf("operations of node/openapi.json missing from Node.Routes():\n\t%s", strings.Join(unserved, "\n\t"))
	}
}

// TestOpenAPIServed: GET /v1/openapi.json answers the embedded bytes as
// application/json.
func TestOpenAPIServed(t *testing.T) {
	n := &Node{log: testLogger()}
	rec := httptest.NewRecorder()
	n.handleOpenAPI(rec, httptest.NewRequest("GET", "/v1/openapi.json", nil))
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("status %d, Content-Type %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	if !bytes.Equal(rec.Body.Bytes(), openAPISpec) || !bytes.Equal(OpenAPISpec(), openAPISpec) {
		t.Fatal("the answer is not the embedded document")
	}
	if !json.Valid(rec.Body.Bytes()) {
		t.Fatal("the answer is not JSON")
	}
}

// apiSample is one request of the conformance test and the status it must
// answer.
type apiSample struct {
	route  string // "METHOD /pattern" of the route table
	path   string // what to request
	body   string // POST body (JSON)
	status int
}

// nodeSample is a sample sent to another node than the test's main one (a
// node with API tokens, with no peers, a relay-only bootstrap node), with
// a bearer token if token is set.
type nodeSample struct {
	apiSample
	node   *Node
	token  string
	reason string // the error's reason, or the readiness's, when set
}

// TestOpenAPIResponsesConform: a real node answers every GET route (and
// the POST routes) with what the description declares: a declared status,
// a declared content type and, for JSON, a body that conforms to the
// schema (required properties present, no undeclared ones, types,
// patterns, enums, at every level). Each route of Routes() must have a
// sample here; samples of routes the node does not serve yet are skipped
// (TestOpenAPICoversRoutes reports those).
func TestOpenAPIResponsesConform(t *testing.T) {
	d := loadOpenAPI(t)
	c, n := testNode(t)
	k, g := c.Keys[0], c.Genesis

	// A record and a registered DID (with a service), committed.
	rec := recordTx(t, g, k, 1, time.Now(), "21.5")
	if code, body := postTx(t, n, rec.Encode()); code != http.StatusAccepted {
		t.Fatalf("submit: %d %s", code, body)
	}
	dev := newTestKey(t)
	reg := submitOp(t, n, types.DIDOp{Op: types.OpRegister, Subject: dev.Public(), Domain: types.DomainSensing, Role: types.EntityDevice,
		Services: []types.Service{{ID: "mqtt", Type: "MQTTBridge", Endpoint: "mqtts://gw.example:8883"}}}, dev)
	waitCommitted(t, n, "the record and the registration to be final", rec, reg)
	// Asset and contract transactions with receipts (api_assets_test.go).
	af := submitAssetFixture(t, n)
	addr, issuer := af.addr.String(), af.issuer.Public().DID()
	var st TxStatus
	if code := getJSON(t, apiURL(n, "/v1/txs/"+rec.Hash().String()), &st); code != 200 {
		t.Fatalf("tx: %d", code)
	}
	p := mustProof(t, n, rec.Hash())
	proof, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	p.Seal = slices.Clone(p.Seal)
	p.Seal[len(p.Seal)-1] ^= 1 // well formed, but does not verify
	badProof, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	next := recordTx(t, g, k, 3, time.Now(), string([]byte{0xff, 0xfe})) // not UTF-8: value_hex
	zero := types.Hash{}.String()
	did, peerID := k.Public().DID(), k.Public().PeerID().String()
	pos := strconv.FormatUint(st.Height, 10) + ":" + strconv.FormatUint(uint64(st.Index), 10) // the record's place

	samples := []apiSample{
		{"POST /v1/txs", "/v1/txs", `{"tx":"` + hexOf(next.Encode()) + `"}`, 202},
		{"POST /v1/txs", "/v1/txs", `{"tx":"` + hexOf(rec.Encode()) + `"}`, 409},
		{"POST /v1/txs", "/v1/txs", `{"tx":"zz"}`, 400},
		{"GET /v1/txs/{hash}", "/v1/txs/" + rec.Hash().String(), "", 200},
		{"GET /v1/txs/{hash}", "/v1/txs/" + reg.Hash().String(), "", 200},
		{"GET /v1/txs/{hash}", "/v1/txs/" + zero, "", 404},
		{"GET /v1/txs/{hash}", "/v1/txs/zz", "", 400},
		{"GET /v1/blocks/{id}", "/v1/blocks/latest", "", 200},
		{"GET /v1/blocks/{id}", "/v1/blocks/" + strconv.FormatUint(st.Height, 10) + "?raw=1", "", 200},
		{"GET /v1/blocks/{id}", "/v1/blocks/0", "", 404},
		{"GET /v1/blocks/{id}", "/v1/blocks/abc", "", 400},
		{"GET /v1/records", "/v1/records?sender=" + url.QueryEscape(did) + "&stream=temperature&limit=10", "", 200},
		{"GET /v1/records", "/v1/records?sender=" + peerID + "&after=1", "", 200},
		{"GET /v1/records", "/v1/records?sender=nobody", "", 400},
		// The stream form: no sender; order, from and next.
		{"GET /v1/records", "/v1/records?stream=temperature", "", 200},
		{"GET /v1/records", "/v1/records?stream=temperature&order=asc&limit=1", "", 200}, // a full page: next
		{"GET /v1/records", "/v1/records?stream=temperature&order=desc&from=" + pos + "&limit=5", "", 200},
		{"GET /v1/records", "/v1/records?stream=temperature&order=asc&from=" + pos, "", 200}, // after the last: none
		{"GET /v1/records", "/v1/records?stream=temperature&from=12", "", 400},
		{"GET /v1/records", "/v1/records?stream=temperature&order=sideways", "", 400},
		{"GET /v1/records", "/v1/records?stream=temperature&after=1", "", 400},
		{"GET /v1/records", "/v1/records", "", 400},
		{"GET /v1/proofs/{hash}", "/v1/proofs/" + rec.Hash().String(), "", 200},
		{"GET /v1/proofs/{hash}", "/v1/proofs/" + zero, "", 404},
		{"GET /v1/proofs/{hash}", "/v1/proofs/" + rec.Hash().String() + "?trust_height=1", "", 200},
		{"GET /v1/proofs/{hash}", "/v1/proofs/" + rec.Hash().String() + "?trust_height=x", "", 400},
		{"GET /v1/state/proof", "/v1/state/proof?key=nonce/" + url.QueryEscape(did), "", 200},
		{"GET /v1/state/proof", "/v1/state/proof?key=authorities&height=1", "", 200},
		{"GET /v1/state/proof", "/v1/state/proof?key=did/" + dev.Public().DID(), "", 200},
		{"GET /v1/state/proof", "/v1/state/proof?key=0x00ff", "", 200}, // absent
		{"GET /v1/state/proof", "/v1/state/proof?key=nonce/" + url.QueryEscape(did) + "&height=999999", "", 404},
		{"GET /v1/state/proof", "/v1/state/proof?key=bogus", "", 400},
		{"GET /v1/state/proof", "/v1/state/proof?key=authorities&height=x", "", 400},
		{"GET /v1/nonces/{sender}", "/v1/nonces/" + did, "", 200},
		{"GET /v1/nonces/{sender}", "/v1/nonces/" + peerID, "", 200},
		{"GET /v1/nonces/{sender}", "/v1/nonces/nobody", "", 400},
		{"GET /v1/status", "/v1/status", "", 200},
		{"GET /v1/finality", "/v1/finality", "", 200},
		{"GET /v1/dids/{did}", "/v1/dids/" + dev.Public().DID(), "", 200},
		{"GET /v1/dids/{did}", "/v1/dids/" + dev.Public().DID() + "?versionId=1", "", 200},
		{"GET /v1/dids/{did}", "/v1/dids/" + did, "", 200},
		{"GET /v1/dids/{did}", "/v1/dids/" + dev.Public().DID() + "?versionId=9", "", 404},
		{"GET /v1/dids/{did}", "/v1/dids/did:key:nope", "", 400},
		{"GET /v1/dids/{did}", "/v1/dids/" + did + "?versionId=x", "", 400},
		{"GET /healthz", "/healthz", "", 200},
		{"GET /readyz", "/readyz", "", 200},
		{"GET /debug/metrics/prometheus", "/debug/metrics/prometheus", "", 200},
		{"GET /v1/openapi.json", "/v1/openapi.json", "", 200},
		// The routes of the events and web branches.
		{"GET /v1/events", "/v1/events?types=head", "", 200},
		{"GET /v1/events", "/v1/events?types=final", "", 200},
		{"GET /v1/events", "/v1/events?types=bogus", "", 400},
		{"GET /v1/events", "/v1/events?types=head,%20final&did=" + peerID + "&sender=" + url.QueryEscape(did), "", 200},
		{"GET /v1/events", "/v1/events?last_event_id=bogus", "", 200}, // first a reset, without an id
		{"GET /v1/peers", "/v1/peers", "", 200},
		{"GET /v1/authorities", "/v1/authorities", "", 200},
		{"POST /v1/proofs/verify", "/v1/proofs/verify", string(proof), 200},
		{"POST /v1/proofs/verify", "/v1/proofs/verify", string(badProof), 200},
		{"POST /v1/proofs/verify", "/v1/proofs/verify", `[1,2]`, 400},
		{"POST /v1/proofs/verify", "/v1/proofs/verify", `{"tx":"` + strings.Repeat("00", maxProofBody) + `"}`, 413},
		{"GET /", "/", "", 200},
		{"GET /ui/{path}", "/ui/app.js", "", 200},
		{"GET /ui/{path}", "/ui/no-such-asset.js", "", 404},
		{"GET /readyz", "/readyz", "", 200}, // the lone authority of its chain, with a peer
		// Receipts, contracts and assets (api_assets.go).
		{"GET /v1/receipts/{hash}", "/v1/receipts/" + af.inc.Hash().String(), "", 200},
		{"GET /v1/receipts/{hash}", "/v1/receipts/" + af.fails.Hash().String(), "", 200},
		{"GET /v1/receipts/{hash}", "/v1/receipts/" + af.deploy.Hash().String(), "", 200},
		{"GET /v1/receipts/{hash}", "/v1/receipts/" + af.mint.Hash().String(), "", 200},
		{"GET /v1/receipts/{hash}", "/v1/receipts/" + rec.Hash().String(), "", 404},
		{"GET /v1/receipts/{hash}", "/v1/receipts/zz", "", 400},
		{"GET /v1/txs/{hash}", "/v1/txs/" + af.issue.Hash().String(), "", 200},
		{"GET /v1/txs/{hash}", "/v1/txs/" + af.deploy.Hash().String(), "", 200},
		{"GET /v1/txs/{hash}", "/v1/txs/" + af.inc.Hash().String(), "", 200},
		{"GET /v1/txs/{hash}", "/v1/txs/" + af.fails.Hash().String(), "", 200},
		{"GET /v1/contracts/{address}", "/v1/contracts/" + addr, "", 200},
		{"GET /v1/contracts/{address}", "/v1/contracts/0x" + addr, "", 200},
		{"GET /v1/contracts/{address}", "/v1/contracts/" + zero, "", 404},
		{"GET /v1/contracts/{address}", "/v1/contracts/0x12", "", 400},
		{"GET /v1/contracts/{address}/storage", "/v1/contracts/" + addr + "/storage?key=count", "", 200},
		{"GET /v1/contracts/{address}/storage", "/v1/contracts/" + addr + "/storage?key=absent", "", 200},
		{"GET /v1/contracts/{address}/storage", "/v1/contracts/" + addr + "/storage?key_hex=636f756e74", "", 200},
		{"GET /v1/contracts/{address}/storage", "/v1/contracts/" + addr + "/storage", "", 400},
		{"GET /v1/contracts/{address}/storage", "/v1/contracts/" + zero + "/storage?key=count", "", 404},
		{"GET /v1/assets/{denom}", "/v1/assets/credit", "", 200},
		{"GET /v1/assets/{denom}", "/v1/assets/nope", "", 404},
		{"GET /v1/assets/{denom}", "/v1/assets/Bad", "", 400},
		{"GET /v1/assets/{denom}/balances/{account}", "/v1/assets/credit/balances/" + issuer, "", 200},
		{"GET /v1/assets/{denom}/balances/{account}", "/v1/assets/credit/balances/" + af.issuer.Public().PeerID().String(), "", 200},
		{"GET /v1/assets/{denom}/balances/{account}", "/v1/assets/credit/balances/0x" + addr, "", 200},
		{"GET /v1/assets/{denom}/balances/{account}", "/v1/assets/credit/balances/nobody", "", 400},
		{"GET /v1/assets/{denom}/balances/{account}", "/v1/assets/nope/balances/" + issuer, "", 404},
	}
	// Samples that need other nodes: one whose API wants tokens, a device
	// with no peers (not ready, deterministically: nothing dials it), and a
	// relay-only bootstrap node (no chain to submit to).
	guarded := authNode(t, WithAPIAuth(testWriteToken, testReadToken), WithAPICORS([]string{"https://ops.example.com"}))
	pn := &p2pNet{t: t, g: c.Genesis}
	lonely := pn.start(nil, RoleDevice, WithDHT(DHTOff))
	relay := pn.start(nil, RoleBootstrap, WithDHT(DHTOff))
	// A device whose one-transaction mempool is full to its high-water
	// mark (busy), and one transaction the lonely device dropped (expired).
	busyNode := pn.start(nil, RoleDevice, WithDHT(DHTOff), WithMempool(mempool.Config{MaxTxs: 1}))
	if _, err := busyNode.Submit(context.Background(), recordTx(t, g, newTestKey(t), 1, time.Now(), "first").Encode()); err != nil {
		t.Fatalf("filling the busy node: %v", err)
	}
	late := recordTx(t, g, newTestKey(t), 1, time.Now(), "late")
	gone := recordTx(t, g, newTestKey(t), 1, time.Now(), "gone")
	if err := lonely.pool.Add(gone, 0, 0); err != nil {
		t.Fatal(err)
	}
	lonely.pool.Expire(time.Now().Add(48*time.Hour), g.TimeWindow())
	other := []nodeSample{
		{apiSample{"POST /v1/txs", "/v1/txs", `{"tx":"00"}`, 401}, guarded, "", "unauthorized"},
		{apiSample{"POST /v1/txs", "/v1/txs", `{"tx":"00"}`, 401}, guarded, testReadToken, ""}, // a read token does not write
		{apiSample{"POST /v1/txs", "/v1/txs", `{"tx":"zz"}`, 400}, guarded, testWriteToken, ""},
		{apiSample{"GET /v1/status", "/v1/status", "", 401}, guarded, "", "unauthorized"},
		{apiSample{"GET /v1/status", "/v1/status", "", 401}, guarded, "wrong-token-0123456789abcdef", ""},
		{apiSample{"GET /v1/status", "/v1/status", "", 200}, guarded, testReadToken, ""},
		{apiSample{"GET /v1/peers", "/v1/peers", "", 401}, guarded, "", ""},
		{apiSample{"GET /debug/metrics/prometheus", "/debug/metrics/prometheus", "", 401}, guarded, "", ""},
		{apiSample{"POST /v1/proofs/verify", "/v1/proofs/verify", string(proof), 401}, guarded, testReadToken, ""},
		{apiSample{"GET /", "/", "", 401}, guarded, "", "unauthorized"}, // the dashboard too
		{apiSample{"GET /v1/events", "/v1/events", "", 401}, guarded, "", "unauthorized"},
		{apiSample{"GET /healthz", "/healthz", "", 200}, guarded, "", ""},
		{apiSample{"GET /readyz", "/readyz", "", 200}, guarded, "", ""},
		{apiSample{"GET /readyz", "/readyz", "", 503}, lonely, "", "no_peers"},
		{apiSample{"GET /v1/status", "/v1/status", "", 200}, lonely, "", ""},
		{apiSample{"GET /v1/txs/{hash}", "/v1/txs/" + gone.Hash().String(), "", 200}, lonely, "", ""},
		{apiSample{"POST /v1/txs", "/v1/txs", `{"tx":"` + hexOf(late.Encode()) + `"}`, 503}, busyNode, "", "mempool_busy"},
		{apiSample{"POST /v1/txs", "/v1/txs", `{"tx":"` + hexOf(next.Encode()) + `"}`, 503}, relay, "", "no_chain"},
		{apiSample{"GET /v1/status", "/v1/status", "", 200}, relay, "", ""},
		{apiSample{"GET /readyz", "/readyz", "", 200}, relay, "", ""},
	}
	// Routes whose answers are not checked here, and why.
	unchecked := map[string]string{}

	routes := map[string]bool{}
	for _, r := range n.Routes() {
		routes[routeKey(r.Method+" "+r.Pattern)] = true
	}
	for route := range routes {
		has := slices.ContainsFunc(samples, func(s apiSample) bool { return routeKey(s.route) == route }) ||
			slices.ContainsFunc(other, func(s nodeSample) bool { return routeKey(s.route) == route })
		if _, skip := unchecked[route]; !has && !skip {
			t.Errorf("route %s has no sample request in TestOpenAPIResponsesConform", route)
		}
	}
	for _, s := range samples {
		route := routeKey(s.route)
		t.Run(s.route+" "+strconv.Itoa(s.status)+" "+s.path, func(t *testing.T) {
			if !routes[route] {
				t.Skipf("%s is not a route of this node yet", route)
			}
			checkSample(t, d, n, route, s, "")
		})
	}
	for _, s := range other {
		route := routeKey(s.route)
		t.Run(fmt.Sprintf("%s %d %s on %s node", s.route, s.status, s.path, s.node.cfg.Role), func(t *testing.T) {
			answer := checkSample(t, d, s.node, route, s.apiSample, s.token)
			if m, _ := answer.(map[string]any); s.reason != "" && (m == nil || m["reason"] != s.reason) {
				t.Errorf("answer %s, want reason %s", brief(answer), s.reason)
			}
		})
	}
	// CORS preflights (x-cors-preflight): answered on any path, before the
	// token check.
	for _, pf := range []struct {
		origin, path string
		status       int
	}{
		{"https://ops.example.com", "/v1/txs", http.StatusNoContent},
		{"https://ops.example.com", "/v1/status", http.StatusNoContent},
		{"https://evil.example.net", "/v1/txs", http.StatusForbidden},
	} {
		t.Run(fmt.Sprintf("OPTIONS %s %d from %s", pf.path, pf.status, pf.origin), func(t *testing.T) {
			checkPreflight(t, d, guarded, pf.path, pf.origin, pf.status)
		})
	}
}

// checkPreflight sends a CORS preflight and checks the answer against the
// description's x-cors-preflight responses.
func checkPreflight(t *testing.T, d *openAPIDoc, n *Node, path, origin string, status int) {
	t.Helper()
	req, err := http.NewRequest(http.MethodOptions, apiURL(n, path), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Origin", origin)
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "authorization, content-type")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != status {
		t.Fatalf("status %d, want %d: %s", resp.StatusCode, status, data)
	}
	r, err := d.pointer("#/x-cors-preflight/responses/" + strconv.Itoa(status))
	if err != nil {
		t.Fatal(err)
	}
	rm, err := d.deref(r)
	if err != nil {
		t.Fatal(err)
	}
	checkHeaders(t, d, rm, resp.Header)
	content, _ := rm["content"].(map[string]any)
	if len(content) == 0 {
		if len(data) != 0 {
			t.Fatalf("a body where none is declared: %s", data)
		}
		return
	}
	media, ok := content["application/json"].(map[string]any)
	if ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); !ok || ct != "application/json" {
		t.Fatalf("Content-Type %q is not declared", resp.Header.Get("Content-Type"))
	}
	if errs := d.validate(media["schema"], decodeJSON(t, bytes.NewReader(data)), "$"); len(errs) > 0 {
		t.Errorf("the answer does not conform to the schema:\n\t%s", strings.Join(errs, "\n\t"))
	}
}

func hexOf(b []byte) string { return hex.EncodeToString(b) }

func mustProof(t *testing.T, n *Node, h types.Hash) *types.TxProof {
	t.Helper()
	p, err := n.store.Proof(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// checkSample requests s (with a bearer token, if one is given) and checks
// the answer against the description. It returns a JSON answer, decoded.
func checkSample(t *testing.T, d *openAPIDoc, n *Node, route string, s apiSample, token string) (answer any) {
	method, path, _ := strings.Cut(route, " ")
	op, ok := d.operation(path, method)
	if !ok {
		t.Fatalf("%s is not described", route)
	}
	checkQuery(t, d, op, s)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var body io.Reader
	if s.body != "" {
		body = strings.NewReader(s.body)
	}
	req, err := http.NewRequestWithContext(ctx, method, apiURL(n, s.path), body)
	if err != nil {
		t.Fatal(err)
	}
	if s.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != s.status {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		t.Fatalf("status %d, want %d: %s", resp.StatusCode, s.status, data)
	}
	responses, _ := op["responses"].(map[string]any)
	r, ok := responses[strconv.Itoa(resp.StatusCode)]
	if !ok {
		t.Fatalf("status %d is not declared for %s", resp.StatusCode, route)
	}
	rm, err := d.deref(r)
	if err != nil {
		t.Fatal(err)
	}
	checkHeaders(t, d, rm, resp.Header)
	ct, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil {
		t.Fatalf("Content-Type %q: %v", resp.Header.Get("Content-Type"), err)
	}
	content, _ := rm["content"].(map[string]any)
	media, ok := content[ct].(map[string]any)
	if !ok {
		media, ok = content["*/*"].(map[string]any)
	}
	if !ok {
		t.Fatalf("Content-Type %s is not declared for %s %d (declared: %v)", ct, route, resp.StatusCode, slices.Sorted(maps.Keys(content)))
	}
	switch {
	case route == "GET /v1/openapi.json":
		data, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(data, openAPISpec) {
			t.Fatal("GET /v1/openapi.json does not answer the embedded document")
		}
	case ct == "application/json":
		v := decodeJSON(t, resp.Body)
		if errs := d.validate(media["schema"], v, "$"); len(errs) > 0 {
			t.Errorf("the answer does not conform to the schema:\n\t%s", strings.Join(errs, "\n\t"))
		}
		answer = v
	case ct == "text/event-stream":
		events, _ := media["x-sse-events"].(map[string]any)
		id, name, data := readEvent(t, resp.Body)
		if noID := name == EventReset || name == EventLagged; noID != (id == "") {
			t.Errorf("event %s has id %q", name, id)
		}
		schema, ok := events[name]
		if !ok {
			t.Fatalf("event %q is not declared in x-sse-events", name)
		}
		v := decodeJSON(t, strings.NewReader(data))
		if errs := d.validate(schema, v, "$"); len(errs) > 0 {
			t.Errorf("event %s does not conform to its schema:\n\t%s", name, strings.Join(errs, "\n\t"))
		}
	default: // text: non-empty
		data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if err != nil || len(data) == 0 {
			t.Fatalf("empty %s answer: %v", ct, err)
		}
	}
	return answer
}

// checkHeaders checks an answer's headers against a Response object's
// headers: each required one is present, and each present one conforms to
// its schema.
func checkHeaders(t *testing.T, d *openAPIDoc, response map[string]any, h http.Header) {
	t.Helper()
	headers, _ := response["headers"].(map[string]any)
	for name, hv := range headers {
		hm, err := d.deref(hv)
		if err != nil {
			t.Fatal(err)
		}
		values := h.Values(name)
		if len(values) == 0 {
			if hm["required"] == true {
				t.Errorf("required header %s is missing", name)
			}
			continue
		}
		for _, v := range values {
			if errs := d.validate(hm["schema"], v, name); len(errs) > 0 {
				t.Errorf("header does not conform to its schema:\n\t%s", strings.Join(errs, "\n\t"))
			}
		}
	}
}

// checkQuery checks a sample's query against the operation's query
// parameters: each one it sends is declared and, in a request that must
// succeed, conforms to the parameter's schema.
func checkQuery(t *testing.T, d *openAPIDoc, op map[string]any, s apiSample) {
	t.Helper()
	u, err := url.Parse(s.path)
	if err != nil {
		t.Fatal(err)
	}
	declared := map[string]any{}
	params, _ := op["parameters"].([]any)
	for _, p := range params {
		pm, err := d.deref(p)
		if err != nil {
			t.Fatal(err)
		}
		if pm["in"] == "query" {
			declared[fmt.Sprint(pm["name"])] = pm["schema"]
		}
	}
	for name, values := range u.Query() {
		schema, ok := declared[name]
		if !ok {
			t.Errorf("query parameter %q is not declared", name)
			continue
		}
		if s.status >= 300 {
			continue // a refused request may send anything
		}
		for _, value := range values {
			var v any = value
			if sm, err := d.deref(schema); err == nil && sm["type"] == "integer" {
				v = json.Number(value)
			}
			if errs := d.validate(schema, v, name); len(errs) > 0 {
				t.Errorf("query parameter does not conform to its schema:\n\t%s", strings.Join(errs, "\n\t"))
			}
		}
	}
}

func decodeJSON(t *testing.T, r io.Reader) any {
	t.Helper()
	dec := json.NewDecoder(r)
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("the answer is not JSON: %v", err)
	}
	return v
}

// readEvent reads the first event of a server-sent event stream (the
// request's context bounds the wait).
func readEvent(t *testing.T, r io.Reader) (id, name, data string) {
	t.Helper()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "" && data != "":
			if name == "" {
				name = "message"
			}
			return id, name, data
		case strings.HasPrefix(line, "id:"):
			id = strings.TrimSpace(strings.TrimPrefix(line, "id:"))
		case strings.HasPrefix(line, "event:"):
			name = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
		case strings.HasPrefix(line, "data:"):
			data += strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " ")
		}
	}
	t.Fatalf("the event stream ended before an event: %v", sc.Err())
	return "", "", ""
}

// annotations are schema keywords that do not constrain a value.
var annotations = map[string]bool{"description": true, "title": true, "example": true, "examples": true,
	"default": true, "deprecated": true, "contentMediaType": true, "contentEncoding": true, "readOnly": true, "writeOnly": true}

// validate checks v against schema and returns what does not conform. It
// knows the keywords node/openapi.json uses; any other keyword is an error,
// so that nothing is silently left unchecked. An object schema with
// properties admits no other property unless it says additionalProperties.
func (d *openAPIDoc) validate(schema, v any, at string) []string {
	s, ok := schema.(map[string]any)
	if !ok {
		if b, isBool := schema.(bool); isBool {
			if b {
				return nil
			}
			return []string{at + ": no value is allowed here"}
		}
		return []string{fmt.Sprintf("%s: schema %v is not an object", at, schema)}
	}
	var errs []string
	fail := func(format string, args ...any) { errs = append(errs, at+": "+fmt.Sprintf(format, args...)) }
	for kw, arg := range s {
		switch kw {
		case "$ref":
			target, err := d.pointer(fmt.Sprint(arg))
			if err != nil {
				fail("%v", err)
				continue
			}
			errs = append(errs, d.validate(target, v, at)...)
		case "type":
			var types []string
			switch a := arg.(type) {
			case string:
				types = []string{a}
			case []any:
				for _, x := range a {
					types = append(types, fmt.Sprint(x))
				}
			}
			if !slices.ContainsFunc(types, func(ty string) bool { return hasType(v, ty) }) {
				fail("%s is not of type %s", brief(v), strings.Join(types, " or "))
			}
		case "properties":
			obj, isObj := v.(map[string]any)
			if !isObj {
				continue
			}
			props, _ := arg.(map[string]any)
			for name, pv := range obj {
				ps, declared := props[name]
				if !declared {
					if ap, has := s["additionalProperties"]; has {
						errs = append(errs, d.validate(ap, pv, at+"."+name)...)
					} else {
						fail("property %q is not declared", name)
					}
					continue
				}
				errs = append(errs, d.validate(ps, pv, at+"."+name)...)
			}
		case "additionalProperties":
			if _, hasProps := s["properties"]; hasProps {
				continue // checked with properties
			}
			if obj, isObj := v.(map[string]any); isObj {
				for name, pv := range obj {
					errs = append(errs, d.validate(arg, pv, at+"."+name)...)
				}
			}
		case "required":
			obj, isObj := v.(map[string]any)
			if !isObj {
				continue
			}
			req, _ := arg.([]any)
			for _, r := range req {
				if _, has := obj[fmt.Sprint(r)]; !has {
					fail("required property %q is missing", r)
				}
			}
		case "items":
			if arr, isArr := v.([]any); isArr {
				for i, e := range arr {
					errs = append(errs, d.validate(arg, e, at+"["+strconv.Itoa(i)+"]")...)
				}
			}
		case "enum":
			list, _ := arg.([]any)
			if !slices.ContainsFunc(list, func(e any) bool { return jsonEqual(e, v) }) {
				fail("%s is not one of %v", brief(v), list)
			}
		case "const":
			if !jsonEqual(arg, v) {
				fail("%s is not %v", brief(v), arg)
			}
		case "pattern":
			if str, isStr := v.(string); isStr {
				re, err := regexp.Compile(fmt.Sprint(arg))
				if err != nil {
					fail("pattern %v: %v", arg, err)
				} else if !re.MatchString(str) {
					fail("%s does not match %v", brief(v), arg)
				}
			}
		case "minLength", "maxLength":
			if str, isStr := v.(string); isStr {
				lim, _ := strconv.Atoi(fmt.Sprint(arg))
				if l := utf8.RuneCountInString(str); (kw == "minLength" && l < lim) || (kw == "maxLength" && l > lim) {
					fail("length %d breaks %s %d", l, kw, lim)
				}
			}
		case "minimum", "maximum":
			if num, isNum := v.(json.Number); isNum {
				x, err1 := num.Float64()
				lim, err2 := strconv.ParseFloat(fmt.Sprint(arg), 64)
				if err1 != nil || err2 != nil {
					fail("%s or %v is not a number", num, arg)
				} else if (kw == "minimum" && x < lim) || (kw == "maximum" && x > lim) {
					fail("%s breaks %s %v", num, kw, arg)
				}
			}
		case "format":
			if str, isStr := v.(string); isStr {
				switch arg {
				case "date-time":
					if _, err := time.Parse(time.RFC3339Nano, str); err != nil {
						fail("%s is not a date-time: %v", brief(v), err)
					}
				default:
					fail("the checker does not know format %v", arg)
				}
			}
		case "oneOf", "anyOf", "allOf":
			subs, _ := arg.([]any)
			matched := 0
			var subErrs []string
			for i, sub := range subs {
				e := d.validate(sub, v, at)
				if len(e) == 0 {
					matched++
				}
				subErrs = append(subErrs, fmt.Sprintf("(%s[%d]: %s)", kw, i, strings.Join(e, "; ")))
			}
			if (kw == "oneOf" && matched != 1) || (kw == "anyOf" && matched == 0) || (kw == "allOf" && matched != len(subs)) {
				fail("%d of %d %s alternatives match: %s", matched, len(subs), kw, strings.Join(subErrs, " "))
			}
		default:
			if !annotations[kw] {
				fail("the checker does not know schema keyword %q", kw)
			}
		}
	}
	return errs
}

func hasType(v any, ty string) bool {
	switch ty {
	case "null":
		return v == nil
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "string":
		_, ok := v.(string)
		return ok
	case "object":
		_, ok := v.(map[string]any)
		return ok
	case "array":
		_, ok := v.([]any)
		return ok
	case "number":
		_, ok := v.(json.Number)
		return ok
	case "integer":
		n, ok := v.(json.Number)
		if !ok {
			return false
		}
		if _, err := n.Int64(); err == nil {
			return true
		}
		_, err := strconv.ParseUint(n.String(), 10, 64)
		return err == nil
	}
	return false
}

// jsonEqual compares decoded JSON values (numbers by value).
func jsonEqual(a, b any) bool {
	an, aNum := a.(json.Number)
	bn, bNum := b.(json.Number)
	if aNum && bNum {
		x, err1 := an.Float64()
		y, err2 := bn.Float64()
		return err1 == nil && err2 == nil && x == y
	}
	ab, err1 := json.Marshal(a)
	bb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(ab, bb)
}

func brief(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	if len(b) > 80 {
		return string(b[:80]) + "..."
	}
	return string(b)
}

// TestSchemaChecker: the checker finds what it must (missing and
// undeclared properties, wrong types, patterns, enums, nulls, oneOf) in a
// table of values against the description's own schemas.
func TestSchemaChecker(t *testing.T) {
	d := loadOpenAPI(t)
	ref := func(name string) any { return map[string]any{"$ref": "#/components/schemas/" + name} }
	h := strings.Repeat("ab", 32)
	did := identity.PublicKey{}.DID()
	cases := []struct {
		name   string
		schema string
		value  string
		want   string // "" conforms, else a part of an error
	}{
		{"error ok", "ErrorResponse", `{"error":"x","reason":"not_found"}`, ""},
		{"error without reason", "ErrorResponse", `{"error":"x"}`, ""},
		{"error missing", "ErrorResponse", `{"reason":"x"}`, `required property "error"`},
		{"undeclared property", "ErrorResponse", `{"error":"x","extra":1}`, `property "extra" is not declared`},
		{"wrong type", "NonceResponse", `{"sender":"` + did + `","committed":"1","next":2}`, "not of type integer"},
		{"not an integer", "NonceResponse", `{"sender":"` + did + `","committed":1.5,"next":2}`, "not of type integer"},
		{"below minimum", "NonceResponse", `{"sender":"` + did + `","committed":0,"next":0}`, "breaks minimum"},
		{"bad pattern", "SubmitResponse", `{"hash":"XYZ","status":"pending"}`, "does not match"},
		{"const", "SubmitResponse", `{"hash":"` + h + `","status":"done"}`, "is not pending"},
		{"enum", "TxStatus", `{"hash":"` + h + `","status":"lost"}`, "is not one of"},
		{"nested", "TxStatus", `{"hash":"` + h + `","status":"pending","tx":{"hash":"` + h + `"}}`, `$.tx: required property "type"`},
		{"null path", "TxProof", `{"chain_id":"c","height":1,"tx_hash":"` + h + `","tx":"00","index":0,"tree_size":1,"path":null,"header":"00","seal":"00"}`, ""},
		{"null where not allowed", "FinalityResponse", `{"head":1,"head_hash":"` + h + `","justified":1,"justified_hash":"` + h + `","finalized":1,"finalized_hash":"` + h + `","unfinalized_blocks":0,"authorities":null}`, "not of type array"},
		{"date-time", "HeadEvent", `{"height":1,"hash":"` + h + `","parent":"` + h + `","proposer":"` + did + `","time":"yesterday","tx_count":0,"in_turn":true}`, "not a date-time"},
		{"oneOf valid", "ProofVerifyResult", `{"valid":true,"height":1,"tx_hash":"` + h + `","block_hash":"` + h + `","signer":"` + did + `"}`, ""},
		{"oneOf invalid", "ProofVerifyResult", `{"valid":false,"reason":"bad seal"}`, ""},
		{"oneOf neither", "ProofVerifyResult", `{"valid":true,"reason":"bad seal"}`, "0 of 2 oneOf"},
		{"records of a sender", "RecordsResponse", `{"sender":"` + did + `","stream":"t","records":[]}`, ""},
		{"records of a stream", "RecordsResponse", `{"stream":"t","order":"asc","records":[],"next":"12:0"}`, ""},
		{"records of a stream without order", "RecordsResponse", `{"stream":"t","records":[]}`, "0 of 2 oneOf"},
		{"records of a sender with next", "RecordsResponse", `{"sender":"` + did + `","records":[],"next":"12:0"}`, "0 of 2 oneOf"},
		{"records bad next", "RecordsResponse", `{"stream":"t","order":"asc","records":[],"next":"12"}`, "0 of 2 oneOf"},
		{"ready", "ReadyResponse", `{"status":"ready"}`, ""},
		{"ready with a reason", "ReadyResponse", `{"status":"ready","reason":"no_peers"}`, `property "reason" is not declared`},
		{"not ready without reason", "NotReadyResponse", `{"status":"not_ready"}`, `required property "reason"`},
		{"unauthorized", "UnauthorizedError", `{"error":"x","reason":"unauthorized"}`, ""},
		{"unauthorized with another reason", "UnauthorizedError", `{"error":"x","reason":"not_found"}`, "is not unauthorized"},
		{"submit unavailable", "SubmitUnavailable", `{"error":"x","reason":"no_chain"}`, ""},
		{"anyOf null", "DIDResolution", `{"@context":"https://w3id.org/did-resolution/v1","didDocument":null,"didResolutionMetadata":{"error":"notFound"},"didDocumentMetadata":{"registered":false}}`, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			errs := d.validate(ref(tc.schema), decodeJSON(t, strings.NewReader(tc.value)), "$")
			got := strings.Join(errs, "\n")
			if tc.want == "" && got != "" {
				t.Fatalf("want no error, got:\n%s", got)
			}
			if tc.want != "" && !strings.Contains(got, tc.want) {
				t.Fatalf("want an error containing %q, got:\n%s", tc.want, got)
			}
		})
	}
	if errs := d.validate(map[string]any{"maxItems": json.Number("1")}, []any{}, "$"); len(errs) != 1 || !strings.Contains(errs[0], "does not know") {
		t.Errorf("an unknown keyword passes: %v", errs)
	}
}
