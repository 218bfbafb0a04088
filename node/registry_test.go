package node

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger/types"
)

// submitOp signs a registry operation as n's key (approved by approvers)
// with n's next nonce and submits it to n.
func submitOp(t *testing.T, n *Node, op types.DIDOp, approvers ...*identity.PrivateKey) *types.Tx {
	t.Helper()
	for _, a := range approvers {
		op.Approve(n.genesis.ChainID, a)
	}
	self := n.key.Public()
	tx, err := types.NewDIDTx(n.genesis.ChainID, n.pool.PendingNonce(self, n.chain.HeadNonce(self))+1, time.Now().UnixMilli(), &op)
	if err != nil {
		t.Fatal(err)
	}
	tx.Sign(n.key)
	if _, err := n.Submit(context.Background(), tx.Encode()); err != nil {
		t.Fatalf("submitting %s: %v", op.Op, err)
	}
	return tx
}

func waitCommitted(t *testing.T, n *Node, what string, txs ...*types.Tx) {
	t.Helper()
	waitFor(t, 20*time.Second, what, func() bool {
		for _, tx := range txs {
			if _, _, _, err := n.store.Tx(context.Background(), tx.Hash()); err != nil {
				return false
			}
		}
		return true
	})
}

// TestOnboardingAndRevocation runs the onboarding flow on an admitted chain
// of real nodes: 2 authorities, a gateway and a device. The device's
// transactions are refused (by its own node and at every peer's gossip
// validation) until an authority empowers the gateway and the gateway
// admits the device; then they commit. Once the gateway revokes the device,
// its transactions are refused and every node drops its connection and
// refuses new ones.
func TestOnboardingAndRevocation(t *testing.T) {
	c, err := StartCluster(context.Background(), ClusterConfig{ChainID: "onboard-test", Authorities: 2, Devices: 2,
		Logger: testLogger(), Slot: 250 * time.Millisecond, API: true, Admission: types.AdmissionAdmitted})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	auth, gw, dev := c.Nodes[0], c.Nodes[2], c.Nodes[3]
	gwKey, devKey := c.Keys[2], c.Keys[3]
	ctx := context.Background()

	// 1. Unknown device: its own node refuses the transaction, and so does
	// gossip validation at every peer when it is published anyway.
	early := recordTx(t, c.Genesis, devKey, 1, time.Now(), "21.5")
	if _, err := dev.Submit(ctx, early.Encode()); !errors.Is(err, types.ErrSenderNotAdmitted) {
		t.Fatalf("unadmitted submit: %v", err)
	}
	refused := func(n *Node, reason string) float64 {
		return testutil.ToFloat64(n.metrics.txResults.WithLabelValues("gossip", reason))
	}
	// Publish past the node's own check, a fresh transaction each time (a
	// message sent before the gossip mesh forms can be lost).
	waitFor(t, 10*time.Second, "peers to refuse the unadmitted sender at gossip validation", func() bool {
		early = recordTx(t, c.Genesis, devKey, 1, time.Now(), "21.5")
		if err := dev.txTopic.Publish(ctx, early.Encode()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
		return refused(auth, "sender_not_admitted") >= 1 && refused(gw, "sender_not_admitted") >= 1
	})
	if _, ok := auth.pool.Get(early.Hash()); ok {
		t.Fatal("the authority took an unadmitted sender's transaction into its mempool")
	}

	// 2. The authority registers the gateway (with its proof) and admits it
	// with the right to onboard sensing devices.
	regGW := submitOp(t, auth, types.DIDOp{Op: types.OpRegister, Subject: gwKey.Public(), Domain: types.DomainResourceAccess, Role: types.EntityGateway}, gwKey)
	admitGW := submitOp(t, auth, types.DIDOp{Op: types.OpAdmit, Subject: gwKey.Public(), Version: 1, Onboard: []types.Domain{types.DomainSensing}})
	waitCommitted(t, gw, "the gateway's admission to be final at the gateway", regGW, admitGW)

	// 3. The gateway onboards the device (the device signed its request).
	regDev := submitOp(t, gw, types.DIDOp{Op: types.OpRegister, Subject: devKey.Public(), Domain: types.DomainSensing, Role: types.EntityDevice,
		Controllers: []identity.PublicKey{devKey.Public()}, Threshold: 1}, devKey)
	admitDev := submitOp(t, gw, types.DIDOp{Op: types.OpAdmit, Subject: devKey.Public(), Version: 1})
	for _, n := range c.Nodes {
		waitCommitted(t, n, "the device's admission to be final everywhere", regDev, admitDev)
	}

	// 4. The device publishes; its record commits.
	ok := recordTx(t, c.Genesis, devKey, 1, time.Now(), "21.7")
	if _, err := dev.Submit(ctx, ok.Encode()); err != nil {
		t.Fatalf("admitted device: %v", err)
	}
	waitCommitted(t, auth, "the admitted device's record to commit", ok)

	// The registry resolves the device over the API.
	var res DIDResolution
	if code := getJSON(t, apiURL(gw, "/v1/dids/"+url.PathEscape(devKey.Public().DID())), &res); code != 200 {
		t.Fatalf("resolve: HTTP %d", code)
	}
	props, _ := res.DIDDocument.Sixdomain.(map[string]any)
	if !res.DIDDocumentMetadata.Registered || res.DIDDocumentMetadata.VersionID != "2" || props["admitted"] != true ||
		props["admittedBy"] != gwKey.Public().DID() || props["domain"] != "sensing" {
		t.Fatalf("resolution %+v / %v", res.DIDDocumentMetadata, props)
	}

	// 5. The gateway revokes the device. From the next block on, its
	// transactions are invalid; every node disconnects it and refuses it.
	revoke := submitOp(t, gw, types.DIDOp{Op: types.OpRevoke, Subject: devKey.Public(), Version: 2})
	for _, n := range c.Nodes[:3] {
		waitCommitted(t, n, "the revocation to be final", revoke)
	}
	for i, n := range c.Nodes[:3] {
		waitFor(t, 5*time.Second, fmt.Sprintf("node %d to drop the revoked device", i), func() bool {
			return n.host.Network().Connectedness(dev.ID()) != network.Connected
		})
	}
	// Cut off, the device's node cannot even learn of its revocation; the
	// others refuse its transactions.
	late := recordTx(t, c.Genesis, devKey, 2, time.Now(), "21.9")
	if _, err := auth.Submit(ctx, late.Encode()); !errors.Is(err, types.ErrSenderRevoked) {
		t.Fatalf("revoked sender's transaction: %v", err)
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := dev.Connect(cctx, auth.AddrInfo()); err == nil && auth.host.Network().Connectedness(dev.ID()) == network.Connected {
		// The dial may complete on the device's side before the
		// authority's gater closes it; it must not stay.
		waitFor(t, 5*time.Second, "the authority to refuse the revoked device", func() bool {
			return auth.host.Network().Connectedness(dev.ID()) != network.Connected
		})
	}
	if testutil.ToFloat64(auth.metrics.barred) < 1 {
		t.Fatal("barred counter not incremented")
	}
}
