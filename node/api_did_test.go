package node

import (
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger/types"
)

func newTestKey(t *testing.T) *identity.PrivateKey {
	t.Helper()
	k, err := identity.Generate(nil)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestResolveDIDOverTime: over the API of a real node, a DID that rotated
// its key twice and changed its endpoints resolves, at each past version
// time and by each of its keys, to the record of that time.
func TestResolveDIDOverTime(t *testing.T) {
	c := startCluster(t, 1, 0)
	n := c.Nodes[0]
	k0, k1, k2 := newTestKey(t), newTestKey(t), newTestKey(t)
	p2p := types.Service{ID: "p2p", Type: "LibP2P", Endpoint: "/ip4/192.0.2.7/udp/4001/quic-v1"}
	mqtt := types.Service{ID: "mqtt", Type: "MQTTBridge", Endpoint: "mqtts://gw.example:8883"}
	steps := []struct {
		op       types.DIDOp
		signers  []*identity.PrivateKey
		key      *identity.PrivateKey // current key after the step
		services int
	}{
		{types.DIDOp{Op: types.OpRegister, Subject: k0.Public(), Domain: types.DomainSensing, Role: types.EntityDevice, Services: []types.Service{p2p}}, []*identity.PrivateKey{k0}, k0, 1},
		{types.DIDOp{Op: types.OpRotateKey, Subject: k0.Public(), Version: 1, NewKey: k1.Public().Bytes()}, []*identity.PrivateKey{k0, k1}, k1, 1},
		{types.DIDOp{Op: types.OpAddService, Subject: k1.Public(), Version: 2, Services: []types.Service{mqtt}}, []*identity.PrivateKey{k1}, k1, 2},
		{types.DIDOp{Op: types.OpRotateKey, Subject: k1.Public(), Version: 3, NewKey: k2.Public().Bytes()}, []*identity.PrivateKey{k1, k2}, k2, 2},
		{types.DIDOp{Op: types.OpRemoveService, Subject: k0.Public(), Version: 4, ServiceID: "p2p"}, []*identity.PrivateKey{k2}, k2, 1},
	}
	resolve := func(did, query string) (DIDResolution, int) {
		var res DIDResolution
		code := getJSON(t, apiURL(n, "/v1/dids/"+url.PathEscape(did)+query), &res)
		return res, code
	}
	var updated []string
	for i, s := range steps {
		tx := submitOp(t, n, s.op, s.signers...)
		waitCommitted(t, n, "registry operation", tx)
		res, code := resolve(k0.Public().DID(), "")
		if code != 200 || res.DIDDocumentMetadata.VersionID != itoa(i+1) {
			t.Fatalf("step %d: HTTP %d, version %q", i, code, res.DIDDocumentMetadata.VersionID)
		}
		updated = append(updated, res.DIDDocumentMetadata.Updated)
	}
	for i, s := range steps {
		at, err := time.Parse(time.RFC3339Nano, updated[i])
		if err != nil {
			t.Fatal(err)
		}
		for _, by := range []*identity.PrivateKey{k0, k1, k2} {
			res, code := resolve(by.Public().DID(), "?versionTime="+url.QueryEscape(at.Add(time.Millisecond).Format(time.RFC3339Nano)))
			if code != 200 {
				t.Fatalf("version %d by %s: HTTP %d", i+1, by.Public().DID(), code)
			}
			md, doc := res.DIDDocumentMetadata, res.DIDDocument
			wantKey, _ := identity.KeyDocument(by.Public().DID(), s.key.Public())
			if md.VersionID != itoa(i+1) || doc.ID != by.Public().DID() || md.CanonicalID != k0.Public().DID() ||
				doc.VerificationMethod[0].PublicKeyMultibase != wantKey.VerificationMethod[0].PublicKeyMultibase || len(doc.Service) != s.services {
				t.Fatalf("version %d by %s: %+v, %d services, key %s", i+1, by.Public().DID(), md, len(doc.Service), doc.VerificationMethod[0].PublicKeyMultibase)
			}
			if i+1 < len(steps) && md.NextVersionID != itoa(i+2) {
				t.Fatalf("version %d: next version %q", i+1, md.NextVersionID)
			}
		}
	}
	first, _ := time.Parse(time.RFC3339Nano, updated[0])
	if _, code := resolve(k0.Public().DID(), "?versionTime="+url.QueryEscape(first.Add(-time.Second).Format(time.RFC3339Nano))); code != 404 {
		t.Fatalf("before registration: HTTP %d", code)
	}
	if res, code := resolve(k0.Public().DID(), "?versionId=3"); code != 200 || len(res.DIDDocument.Service) != 2 {
		t.Fatalf("versionId=3: HTTP %d", code)
	}
	if _, code := resolve("did:key:zNotAKey", ""); code != 400 {
		t.Fatalf("malformed DID: HTTP %d", code)
	}
	if _, code := resolve(k0.Public().DID(), "?versionTime=yesterday"); code != 400 {
		t.Fatalf("bad versionTime: HTTP %d", code)
	}
	fresh := newTestKey(t).Public()
	if res, code := resolve(fresh.DID(), ""); code != 200 || res.DIDDocumentMetadata.Registered || res.DIDDocument.ID != fresh.DID() {
		t.Fatalf("unregistered did:key: HTTP %d %+v", code, res.DIDDocumentMetadata)
	}
	// An operation the registry refuses at the head is refused on submit,
	// with its reason, instead of waiting in the mempool.
	stale := types.DIDOp{Op: types.OpDeactivate, Subject: k0.Public(), Version: 2}
	stale.Approve(c.Genesis.ChainID, k2)
	self := n.key.Public()
	tx, err := types.NewDIDTx(c.Genesis.ChainID, n.chain.HeadNonce(self)+1, time.Now().UnixMilli(), &stale)
	if err != nil {
		t.Fatal(err)
	}
	tx.Sign(n.key)
	if code, body := postTx(t, n, tx.Encode()); code != 409 || !strings.Contains(string(body), "did_version") {
		t.Fatalf("stale operation: HTTP %d %s", code, body)
	}
	if _, ok := n.pool.Get(tx.Hash()); ok {
		t.Fatal("a refused registry operation entered the mempool")
	}
	// A peer ID names the same DID.
	if res, code := resolve(k2.Public().PeerID().String(), ""); code != 200 || res.DIDDocumentMetadata.CanonicalID != k0.Public().DID() {
		t.Fatalf("by peer ID: HTTP %d", code)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
