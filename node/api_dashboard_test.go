package node

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sixdomain/sixdomain/ledger/types"
	"github.com/sixdomain/sixdomain/node/web"
)

func postJSON(t *testing.T, url string, body []byte) (int, []byte) {
	t.Helper()
	resp, err := http.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, out
}

func TestRoleFromAgent(t *testing.T) {
	for _, tc := range []struct{ agent, role string }{
		{UserAgent(RoleGateway), "gateway"},
		{UserAgent(RoleDevice), "device"},
		{UserAgent(RoleBootstrap), "bootstrap"},
		{"sixd/1.2.3 (device)", "device"},
		{"sixd/1.2.3 (king)", "unknown"},
		{"sixd/1.2.3 (device) extra", "unknown"},
		{"go-libp2p/0.52.0", "unknown"},
		{"", "unknown"},
	} {
		if got := RoleFromAgent(tc.agent); got != tc.role {
			t.Errorf("RoleFromAgent(%q) = %q, want %q", tc.agent, got, tc.role)
		}
	}
}

// TestDashboardAPI: a real cluster of 3 authorities and a device; the
// routes the dashboard reads answer with the contract's shapes.
func TestDashboardAPI(t *testing.T) {
	c := startCluster(t, 3, 1)
	device := c.Nodes[3]
	now := time.Now()
	var txs []*types.Tx
	for i := range 3 {
		tx := recordTx(t, c.Genesis, c.Keys[3], uint64(i+1), now, "v"+itoa(i))
		if code, body := postTx(t, device, tx.Encode()); code != http.StatusAccepted {
			t.Fatalf("submit: %d %s", code, body)
		}
		txs = append(txs, tx)
	}
	waitCommitted(t, device, "the records", txs...)

	t.Run("peers", func(t *testing.T) {
		var roles map[string]string
		waitFor(t, 15*time.Second, "the device to see three authorities", func() bool {
			var pr PeersResponse
			if getJSON(t, apiURL(device, "/v1/peers"), &pr) != 200 {
				return false
			}
			roles = map[string]string{}
			for _, p := range pr.Peers {
				roles[p.PeerID] = p.Role
				if p.Role == "authority" && p.Agent != UserAgent(RoleGateway) {
					t.Fatalf("authority %s has agent %q", p.PeerID, p.Agent)
				}
				if len(p.Addrs) == 0 || (p.Direction != "inbound" && p.Direction != "outbound") || len(p.Protocols) == 0 {
					return false // identify not done yet
				}
			}
			for i := range 3 {
				if roles[c.Nodes[i].ID().String()] != "authority" {
					return false
				}
			}
			return true
		})
		if len(roles) != 3 {
			t.Fatalf("device sees %d peers: %v", len(roles), roles)
		}
		waitFor(t, 15*time.Second, "an authority to see the device's role", func() bool {
			var pr PeersResponse
			getJSON(t, apiURL(c.Nodes[0], "/v1/peers"), &pr)
			for _, p := range pr.Peers {
				if p.PeerID == device.ID().String() {
					return p.Role == "device" && p.Agent == UserAgent(RoleDevice)
				}
			}
			return false
		})
		// The exact field names of the contract.
		resp, err := http.Get(apiURL(device, "/v1/peers"))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var raw struct {
			Peers []map[string]json.RawMessage `json:"peers"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&raw); err != nil || len(raw.Peers) == 0 {
			t.Fatalf("peers: %v", err)
		}
		for _, f := range []string{"peer_id", "addrs", "direction", "protocols", "latency_ms", "score", "agent", "role"} {
			if _, ok := raw.Peers[0][f]; !ok {
				t.Errorf("peer entry has no %q", f)
			}
		}
	})

	t.Run("authorities", func(t *testing.T) {
		var a AuthoritiesResponse
		if code := getJSON(t, apiURL(device, "/v1/authorities"), &a); code != 200 {
			t.Fatalf("authorities: %d", code)
		}
		var want []string
		for _, k := range c.Genesis.AuthorityKeys() {
			want = append(want, k.DID())
		}
		got := slices.Clone(a.Authorities)
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) || a.SignerLimit != 2 || a.Height == 0 || a.Votes == nil || a.Tally == nil {
			t.Fatalf("authorities = %+v, want %v, signer limit 2", a, want)
		}
	})

	t.Run("records by stream", func(t *testing.T) {
		var rr RecordsResponse
		if code := getJSON(t, apiURL(device, "/v1/records?stream=temperature&limit=2"), &rr); code != 200 {
			t.Fatalf("records: %d", code)
		}
		if len(rr.Records) != 2 || rr.Order != "desc" || rr.Sender != "" || rr.Next == "" ||
			rr.Records[0].TxHash != txs[2].Hash() || rr.Records[1].TxHash != txs[1].Hash() || rr.Records[0].Value != "v2" {
			t.Fatalf("newest first: %+v", rr)
		}
		var rest RecordsResponse
		getJSON(t, apiURL(device, "/v1/records?stream=temperature&from="+rr.Next), &rest)
		if len(rest.Records) != 1 || rest.Records[0].TxHash != txs[0].Hash() || rest.Next != "" {
			t.Fatalf("second page: %+v", rest)
		}
		var asc RecordsResponse
		getJSON(t, apiURL(device, "/v1/records?stream=temperature&order=asc"), &asc)
		if len(asc.Records) != 3 || asc.Records[0].TxHash != txs[0].Hash() {
			t.Fatalf("chain order: %+v", asc)
		}
		var bySender RecordsResponse
		getJSON(t, apiURL(device, "/v1/records?sender="+c.Keys[3].Public().DID()), &bySender)
		if len(bySender.Records) != 3 || bySender.Sender != c.Keys[3].Public().DID() || bySender.Records[0].Nonce != 1 {
			t.Fatalf("by sender: %+v", bySender)
		}
		for _, q := range []string{"", "?stream=temperature&after=3", "?stream=temperature&order=up", "?stream=temperature&from=x",
			"?stream=has%20space", "?stream=temperature&limit=1001"} {
			if code := getJSON(t, apiURL(device, "/v1/records"+q), nil); code != 400 {
				t.Errorf("/v1/records%s: %d, want 400", q, code)
			}
		}
	})

	t.Run("proofs/verify", func(t *testing.T) {
		resp, err := http.Get(apiURL(device, "/v1/proofs/"+txs[0].Hash().String()))
		if err != nil {
			t.Fatal(err)
		}
		proofJSON, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("proof: %d %v", resp.StatusCode, err)
		}
		var proof types.TxProof
		if err := json.Unmarshal(proofJSON, &proof); err != nil {
			t.Fatal(err)
		}
		code, body := postJSON(t, apiURL(device, "/v1/proofs/verify"), proofJSON)
		var v ProofVerifyResponse
		if err := json.Unmarshal(body, &v); err != nil || code != 200 || !v.Valid || v.Height != proof.Height ||
			v.TxHash == nil || *v.TxHash != txs[0].Hash() || v.BlockHash == nil || v.Signer == "" || v.Reason != "" {
			t.Fatalf("valid proof: %d %s", code, body)
		}
		tamper := func(f func(p *types.TxProof)) []byte {
			var p types.TxProof
			if err := json.Unmarshal(proofJSON, &p); err != nil {
				t.Fatal(err)
			}
			f(&p)
			out, err := json.Marshal(&p)
			if err != nil {
				t.Fatal(err)
			}
			return out
		}
		for _, tc := range []struct {
			name string
			body []byte
		}{
			{"tampered transaction", tamper(func(p *types.TxProof) { p.Tx[len(p.Tx)-1] ^= 1 })},
			{"tampered seal", tamper(func(p *types.TxProof) { p.Seal[0] ^= 1 })},
			{"tampered header", tamper(func(p *types.TxProof) { p.Header[len(p.Header)-1] ^= 1 })},
			{"wrong index", tamper(func(p *types.TxProof) { p.Index++ })},
		} {
			code, body := postJSON(t, apiURL(device, "/v1/proofs/verify"), tc.body)
			var v ProofVerifyResponse
			if err := json.Unmarshal(body, &v); err != nil || code != 200 || v.Valid || v.Reason == "" || v.TxHash != nil {
				t.Errorf("%s: %d %s", tc.name, code, body)
			}
		}
		for _, tc := range []struct {
			name string
			body []byte
			code int
		}{
			{"not JSON", []byte("hello"), 400},
			{"empty object", []byte("{}"), 400},
			{"unknown field", []byte(`{"foo":1}`), 400},
			{"trailing data", append(bytes.Clone(proofJSON), []byte(" {}")...), 400},
			{"array", []byte("[]"), 400},
			{"oversize", []byte(`{"tx":"` + strings.Repeat("ab", maxProofBody) + `"}`), 413},
		} {
			code, body := postJSON(t, apiURL(device, "/v1/proofs/verify"), tc.body)
			var e ErrorResponse
			if err := json.Unmarshal(body, &e); err != nil || code != tc.code || e.Error == "" {
				t.Errorf("%s: %d %s, want %d", tc.name, code, body, tc.code)
			}
		}
	})

	t.Run("dashboard", func(t *testing.T) {
		for _, tc := range []struct {
			path, ctype, contains string
		}{
			{"/", "text/html", "/ui/app.js"},
			{"/ui/app.js", "text/javascript", "EventSource"},
			{"/ui/style.css", "text/css", "@media"},
			{"/ui/favicon.svg", "image/svg+xml", "<svg"},
		} {
			resp, err := http.Get(apiURL(device, tc.path))
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), tc.ctype) ||
				resp.Header.Get("Content-Security-Policy") != web.CSP || !bytes.Contains(body, []byte(tc.contains)) {
				t.Errorf("%s: %d %q %q", tc.path, resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Content-Security-Policy"))
			}
		}
		for _, path := range []string{"/index.html", "/nope", "/ui/", "/ui/nope.js", "/ui/../go.mod", "/ui/web.go"} {
			var e ErrorResponse
			resp, err := http.Get(apiURL(device, path))
			if err != nil {
				t.Fatal(err)
			}
			err = json.NewDecoder(resp.Body).Decode(&e)
			resp.Body.Close()
			if resp.StatusCode != 404 || err != nil || e.Reason != "not_found" {
				t.Errorf("%s: %d %+v %v, want a JSON 404", path, resp.StatusCode, e, err)
			}
		}
		if code, body := postJSON(t, apiURL(device, "/"), []byte("{}")); code != 404 || !bytes.Contains(body, []byte(`"not_found"`)) {
			t.Errorf("POST /: %d %s, want a JSON 404", code, body)
		}
	})
}
