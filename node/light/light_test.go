package light_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger/types"
	"github.com/sixdomain/sixdomain/node"
	"github.com/sixdomain/sixdomain/node/light"
)

func testLogger() *slog.Logger {
	if os.Getenv("LIGHT_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func addrString(info peer.AddrInfo) string {
	return info.Addrs[0].String() + "/p2p/" + info.ID.String()
}

// startCluster starts 3 authorities and 2 gateways on loopback.
func startCluster(t *testing.T, chainID string) *node.Cluster {
	t.Helper()
	c, err := node.StartCluster(context.Background(), node.ClusterConfig{ChainID: chainID, Authorities: 3, Devices: 2,
		Slot: 250 * time.Millisecond, Logger: testLogger(), BaseDir: t.TempDir(),
		NodeOptions: func(i int) []node.Option {
			return []node.Option{node.WithRole(node.RoleGateway), node.WithMDNS(false), node.WithDHT(node.DHTOff),
				node.WithListenAddrs("/ip4/127.0.0.1/tcp/0")}
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func newLight(t *testing.T, g *types.Genesis, gateways []string, dir string) *light.Node {
	t.Helper()
	key, err := identity.Generate(nil)
	if err != nil {
		t.Fatal(err)
	}
	return newLightWithKey(t, key, g, gateways, dir)
}

func newLightWithKey(t *testing.T, key *identity.PrivateKey, g *types.Genesis, gateways []string, dir string) *light.Node {
	t.Helper()
	return newLightClock(t, key, g, gateways, dir, nil)
}

func newLightClock(t *testing.T, key *identity.PrivateKey, g *types.Genesis, gateways []string, dir string, clock func() time.Time) *light.Node {
	t.Helper()
	l, err := light.New(context.Background(), key, g, light.Config{Gateways: gateways, DataDir: dir, Logger: testLogger(), Clock: clock,
		FollowInterval: 300 * time.Millisecond, PollInterval: 100 * time.Millisecond, RequestTimeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// committedOnce checks on a full node that every reading of sender with
// nonces 1..k is in a final block exactly once, in nonce order, with the
// timestamp it was signed with, and that the light node's receipt names
// the same block and its time.
func committedOnce(t *testing.T, n *node.Node, l *light.Node, txs []*types.Tx) {
	t.Helper()
	ctx := context.Background()
	rs, err := l.Receipts(ctx, 1, len(txs)+1)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != len(txs) {
		t.Fatalf("light node holds %d receipts, want %d", len(rs), len(txs))
	}
	seen := map[types.Hash]bool{}
	var lastHeight uint64
	var lastIndex uint32
	for i, tx := range txs {
		got, height, index, err := n.Store().Tx(ctx, tx.Hash())
		if err != nil {
			t.Fatalf("reading %d (nonce %d): %v", i, tx.Nonce, err)
		}
		if seen[tx.Hash()] {
			t.Fatalf("reading %d committed twice", i)
		}
		seen[tx.Hash()] = true
		if got.Timestamp != tx.Timestamp || got.Nonce != uint64(i+1) {
			t.Fatalf("reading %d: committed timestamp %d nonce %d, signed %d nonce %d", i, got.Timestamp, got.Nonce, tx.Timestamp, i+1)
		}
		if height < lastHeight || (height == lastHeight && i > 0 && index <= lastIndex) {
			t.Fatalf("reading %d at %d/%d is not after the previous one at %d/%d", i, height, index, lastHeight, lastIndex)
		}
		lastHeight, lastIndex = height, index
		hd, err := n.Store().Header(ctx, height)
		if err != nil {
			t.Fatal(err)
		}
		r := rs[i]
		if r.Hash != tx.Hash() || r.Nonce != tx.Nonce || r.Timestamp != tx.Timestamp || r.Height != height || r.BlockTime != hd.Time ||
			r.BlockTime < r.Timestamp {
			t.Fatalf("receipt %d = %+v; want hash %s nonce %d timestamp %d height %d block time %d", i, r, tx.Hash(), tx.Nonce, tx.Timestamp, height, hd.Time)
		}
	}
	// Nothing else of this sender's is on the chain.
	if nonce, err := n.Store().Nonce(l.Key()); err != nil || nonce != uint64(len(txs)) {
		t.Fatalf("committed nonce of the light node = %d, %v; want %d", nonce, err, len(txs))
	}
}

// TestLightRecordsAndFailsOver: a light node records readings through
// gateway A, verifying each one's inclusion and finality proof; gateway A
// is killed, the light node fails over to gateway B, and every reading is
// committed exactly once.
func TestLightRecordsAndFailsOver(t *testing.T) {
	c := startCluster(t, "light-failover")
	gwA, gwB := 3, 4
	l := newLight(t, c.Genesis, []string{addrString(c.Nodes[gwA].AddrInfo()), addrString(c.Nodes[gwB].AddrInfo())}, t.TempDir())
	ctx := context.Background()
	var txs []*types.Tx
	record := func(k int) {
		for i := 0; i < k; i++ {
			tx, err := l.Record(ctx, types.DataRecord{Stream: "temp", Value: []byte(fmt.Sprintf("%d", len(txs)))})
			if err != nil {
				t.Fatal(err)
			}
			txs = append(txs, tx)
		}
	}
	record(10)
	waitFor(t, 30*time.Second, "the first readings recorded through gateway A", func() bool {
		return l.Status().Recorded == 10
	})
	if gw := l.Status().Gateway; gw != c.Nodes[gwA].ID().String() {
		t.Fatalf("gateway %s, want A %s", gw, c.Nodes[gwA].ID())
	}
	if st := l.Status(); st.Finalized == 0 || st.HeadersMissing != 0 || st.FinalityProofs == 0 || st.TrustHeight == 0 {
		t.Fatalf("light status %+v: want a verified final head, finality proofs verified, a trust above the genesis and no headers missing", st)
	}
	// Kill gateway A with readings in flight.
	record(10)
	if err := c.StopNode(gwA); err != nil {
		t.Fatal(err)
	}
	record(10)
	waitFor(t, 60*time.Second, "every reading recorded after the failover", func() bool {
		return l.Status().Recorded == 30 && l.Status().Queued == 0
	})
	if gw := l.Status().Gateway; gw != c.Nodes[gwB].ID().String() {
		t.Fatalf("gateway %s after the failover, want B %s", gw, c.Nodes[gwB].ID())
	}
	committedOnce(t, c.Nodes[gwB], l, txs)
	// The headers the light node holds are the chain's final headers.
	st := l.Status()
	for h := uint64(1); h <= st.Finalized; h++ {
		mine, err := l.Header(ctx, h)
		if err != nil {
			t.Fatalf("header %d: %v", h, err)
		}
		theirs, err := c.Nodes[gwB].Store().Header(ctx, h)
		if err != nil {
			t.Fatal(err)
		}
		if mine.Hash() != theirs.Hash() {
			t.Fatalf("header %d differs from the chain's", h)
		}
	}
}

// TestLightOfflineThousand: a light node that reaches no gateway signs
// 1,000 readings into its queue over what its clock says are 30 minutes
// (three times the genesis's 10-minute transaction window: the readings
// are forwarded ones, which the chain takes up to max_forward_age old),
// restarting halfway (the queue and the nonce survive); then a gateway
// appears, and every reading is committed exactly once, in order, with its
// original timestamp, and the light node holds the inclusion time of each.
func TestLightOfflineThousand(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 readings through a cluster")
	}
	c := startCluster(t, "light-offline")
	ctx := context.Background()
	// Gateway A is down: the light node knows only its address.
	addrA := addrString(c.Nodes[3].AddrInfo())
	if err := c.StopNode(3); err != nil {
		t.Fatal(err)
	}
	key, err := identity.Generate(nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	// The device's clock: 30 minutes ago for the first reading, 1.8 s
	// later for each next one.
	start := time.Now().Add(-30 * time.Minute)
	var step atomic.Int64
	clock := func() time.Time { return start.Add(time.Duration(step.Load()) * 1800 * time.Millisecond) }
	l := newLightClock(t, key, c.Genesis, []string{addrA}, dir, clock)
	var txs []*types.Tx
	record := func(l *light.Node, k int) {
		for i := 0; i < k; i++ {
			tx, err := l.Record(ctx, types.DataRecord{Stream: "offline", Value: []byte(fmt.Sprintf("%d", len(txs)))})
			if err != nil {
				t.Fatal(err)
			}
			txs = append(txs, tx)
			step.Add(1)
		}
	}
	record(l, 500)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = newLightClock(t, key, c.Genesis, []string{addrA}, dir, clock)
	record(l, 500)
	waitFor(t, 10*time.Second, "the light node to find no gateway", func() bool {
		st := l.Status()
		return st.LastError != "" && st.Gateway == ""
	})
	if st := l.Status(); st.Queued != 1000 || st.Recorded != 0 || st.Nonce != 1000 {
		t.Fatalf("offline status %+v: want 1000 queued, none recorded, nonce 1000", st)
	}
	for i, tx := range txs {
		if tx.Nonce != uint64(i+1) {
			t.Fatalf("reading %d signed with nonce %d", i, tx.Nonce)
		}
	}
	if span := txs[len(txs)-1].Time().Sub(txs[0].Time()); span < 29*time.Minute {
		t.Fatalf("the readings span %s of device time, want 30 minutes", span)
	}
	// A gateway appears (as mDNS would report it).
	l.AddGateway(c.Nodes[4].AddrInfo())
	waitFor(t, 120*time.Second, "1,000 readings recorded", func() bool {
		st := l.Status()
		return st.Recorded == 1000 && st.Queued == 0
	})
	committedOnce(t, c.Nodes[4], l, txs)
}

// TestLightFillsRefusedNonce: a reading the chain refuses for good (its
// timestamp far outside the window) is replaced by a filler record with its
// nonce, and the readings after it commit.
func TestLightFillsRefusedNonce(t *testing.T) {
	c, err := node.StartCluster(context.Background(), node.ClusterConfig{ChainID: "light-fill", Authorities: 1,
		Slot: 250 * time.Millisecond, Logger: testLogger(), BaseDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	gw := c.Nodes[0]
	var skew atomic.Int64             // how far the light node's clock runs behind
	skew.Store(int64(25 * time.Hour)) // beyond the genesis forwarding window (24 h)
	key, _ := identity.Generate(nil)
	l, err := light.New(context.Background(), key, c.Genesis, light.Config{Gateways: []string{addrString(gw.AddrInfo())},
		Clock: func() time.Time { return time.Now().Add(-time.Duration(skew.Load())) }, Logger: testLogger(),
		FollowInterval: 300 * time.Millisecond, PollInterval: 100 * time.Millisecond, RequestTimeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx := context.Background()
	old, err := l.Record(ctx, types.DataRecord{Stream: "temp", Value: []byte("stale")})
	if err != nil {
		t.Fatal(err)
	}
	skew.Store(0)
	fresh, err := l.Record(ctx, types.DataRecord{Stream: "temp", Value: []byte("fresh")})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the fresh reading recorded", func() bool {
		st := l.Status()
		return st.Recorded == 1 && st.Refused == 1 && st.Queued == 0
	})
	rs, err := l.Receipts(ctx, 1, 10)
	if err != nil || len(rs) != 2 {
		t.Fatalf("receipts %+v, %v", rs, err)
	}
	if rs[0].Replaced != old.Hash() || rs[0].Nonce != 1 || rs[1].Hash != fresh.Hash() || rs[1].Nonce != 2 {
		t.Fatalf("receipts %+v: want the filler of %s at nonce 1, then %s", rs, old.Hash(), fresh.Hash())
	}
	filler, _, _, err := gw.Store().Tx(ctx, rs[0].Hash)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := types.DecodeDataRecord(filler.Payload)
	if err != nil || rec.Stream != light.FillerStream || !strings.Contains(string(rec.Value), old.Hash().String()) ||
		!strings.Contains(string(rec.Value), "time_in_past") {
		t.Fatalf("filler record %+v, %v", rec, err)
	}
	if _, _, _, err := gw.Store().Tx(ctx, old.Hash()); err == nil {
		t.Fatal("the stale reading is on the chain")
	}
}

// TestLightRefusesLyingGateway: a gateway that answers with a forged
// finality proof, altered headers and a proof of another transaction is
// not believed: the light node fails over to an honest gateway, and the
// headers it holds and the readings it records are the chain's.
func TestLightRefusesLyingGateway(t *testing.T) {
	c := startCluster(t, "light-liar")
	honest := c.Nodes[4]
	liar, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"))
	if err != nil {
		t.Fatal(err)
	}
	defer liar.Close()
	var lies atomic.Int64
	// The liar asks a real node and alters what it answers.
	liar.SetStreamHandler(light.ProtocolID(c.Genesis.ChainID), func(s network.Stream) {
		defer s.Close()
		raw, err := light.ReadFrame(s, light.MaxRequestBytes)
		if err != nil {
			return
		}
		req, err := light.DecodeRequest(raw)
		if err != nil {
			return
		}
		resp := c.Nodes[3].LightAnswer(context.Background(), req)
		switch {
		case req.Op == light.OpLatest && len(resp.Finality) > 0:
			fp, err := types.DecodeFinalityProof(resp.Finality)
			if err == nil {
				v := fp.Final.Votes[0]
				v[len(v)-1] ^= 1 // a forged signature
				resp.Finality = fp.Encode()
				lies.Add(1)
			}
		case req.Op == light.OpHeaders && len(resp.Headers) > 0:
			h, err := types.DecodeHeader(resp.Headers[len(resp.Headers)-1])
			if err == nil {
				h.Time++ // another block
				resp.Headers[len(resp.Headers)-1] = h.Encode()
				lies.Add(1)
			}
		case req.Op == light.OpStatus && resp.Status == light.StatusCommitted:
			p, err := light.DecodeTxProof(resp.Proof)
			if err == nil {
				p.Index++ // the audit path no longer leads to the root
				resp.Proof = light.EncodeTxProof(p)
				lies.Add(1)
			}
		}
		_ = light.WriteFrame(s, resp.Encode())
	})
	liarAddr := liar.Addrs()[0].String() + "/p2p/" + liar.ID().String()
	l := newLight(t, c.Genesis, []string{liarAddr, addrString(honest.AddrInfo())}, t.TempDir())
	ctx := context.Background()
	var txs []*types.Tx
	for i := 0; i < 5; i++ {
		tx, err := l.Record(ctx, types.DataRecord{Stream: "temp", Value: []byte(fmt.Sprintf("%d", i))})
		if err != nil {
			t.Fatal(err)
		}
		txs = append(txs, tx)
	}
	waitFor(t, 60*time.Second, "the readings recorded through the honest gateway", func() bool {
		st := l.Status()
		return st.Recorded == 5 && st.Finalized > 0 && st.HeadersMissing == 0
	})
	if lies.Load() == 0 {
		t.Fatal("the liar was never asked")
	}
	if gw := l.Status().Gateway; gw != honest.ID().String() {
		t.Fatalf("gateway %s, want the honest one %s", gw, honest.ID())
	}
	committedOnce(t, honest, l, txs)
	st := l.Status()
	for h := uint64(1); h <= st.Finalized; h++ {
		mine, err := l.Header(ctx, h)
		if err != nil {
			t.Fatalf("header %d: %v", h, err)
		}
		theirs, err := honest.Store().Header(ctx, h)
		if err != nil {
			t.Fatal(err)
		}
		if mine.Hash() != theirs.Hash() {
			t.Fatalf("header %d is not the chain's", h)
		}
	}
}

// TestLightRestartsOnDamagedStore: a light node's store cut in the middle
// (a power loss without fsync) or overwritten (not a store any more) does
// not stop it: it restarts, keeps what verifies, fetches the rest again and
// holds the chain's final headers.
func TestLightRestartsOnDamagedStore(t *testing.T) {
	c := startCluster(t, "light-damaged")
	gw := []string{addrString(c.Nodes[3].AddrInfo())}
	key, err := identity.Generate(nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	dir := t.TempDir()
	logPath := filepath.Join(dir, "store", "light.log")
	caughtUp := func(l *light.Node, above uint64) func() bool {
		return func() bool { st := l.Status(); return st.Finalized > above && st.HeadersMissing == 0 }
	}
	l := newLightWithKey(t, key, c.Genesis, gw, dir)
	waitFor(t, 30*time.Second, "the light node to hold final headers", caughtUp(l, 2))
	for _, damage := range []struct {
		name string
		do   func([]byte) []byte
	}{
		{"cut in the middle", func(b []byte) []byte { return b[:len(b)/2] }},
		{"zeros from the middle", func(b []byte) []byte { clear(b[len(b)/2:]); return b }},
		{"not a store", func(b []byte) []byte { return []byte("garbage, not a light store") }},
	} {
		held := l.Status().Finalized
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(logPath)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(logPath, damage.do(b), 0o600); err != nil {
			t.Fatal(err)
		}
		l = newLightWithKey(t, key, c.Genesis, gw, dir)
		waitFor(t, 30*time.Second, damage.name+": the light node to catch up again", caughtUp(l, held))
		for h := uint64(1); h <= l.Status().Finalized; h++ {
			mine, err := l.Header(ctx, h)
			if err != nil {
				t.Fatalf("%s: header %d: %v", damage.name, h, err)
			}
			theirs, err := c.Nodes[3].Store().Header(ctx, h)
			if err != nil {
				t.Fatal(err)
			}
			if mine.Hash() != theirs.Hash() {
				t.Fatalf("%s: header %d differs from the chain's", damage.name, h)
			}
		}
	}
}
