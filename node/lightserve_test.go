package node

import (
	"context"
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"

	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger/types"
	"github.com/sixdomain/sixdomain/node/light"
)

// lightClient opens one light-protocol stream to n and writes raw.
func lightRaw(t *testing.T, h host.Host, n *Node, raw []byte) ([]byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := h.NewStream(ctx, n.ID(), light.ProtocolID(n.Genesis().ChainID))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_ = s.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := s.Write(raw); err != nil {
		return nil, err
	}
	_ = s.CloseWrite()
	return light.ReadFrame(s, light.MaxResponseBytes)
}

func lightAsk(t *testing.T, h host.Host, n *Node, req *light.Request) *light.Response {
	t.Helper()
	raw := binary.BigEndian.AppendUint32(nil, uint32(len(req.Encode())))
	out, err := lightRaw(t, h, n, append(raw, req.Encode()...))
	if err != nil {
		t.Fatalf("request %d: %v", req.Op, err)
	}
	resp, err := light.DecodeResponse(out)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// TestLightServe: the light protocol's answers to good and bad requests.
func TestLightServe(t *testing.T) {
	c := startCluster(t, 1, 0)
	n := c.Nodes[0]
	h, err := libp2p.New(libp2p.NoListenAddrs)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if err := h.Connect(context.Background(), n.AddrInfo()); err != nil {
		t.Fatal(err)
	}

	// A length over the limit: the stream is reset, nothing is read.
	huge := binary.BigEndian.AppendUint32(nil, light.MaxRequestBytes+1)
	if _, err := lightRaw(t, h, n, huge); err == nil {
		t.Fatal("an oversize frame was answered")
	}
	// Well framed, not a request.
	garbage := append(binary.BigEndian.AppendUint32(nil, 3), 0xff, 0xfe, 0xfd)
	out, err := lightRaw(t, h, n, garbage)
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := light.DecodeResponse(out); err != nil || resp.Status != light.StatusError || resp.Reason != "bad_request" {
		t.Fatalf("garbage answered %+v, %v; want error bad_request", resp, err)
	}
	// A transaction that does not decode is refused with its reason.
	if resp := lightAsk(t, h, n, &light.Request{Op: light.OpSubmit, Tx: []byte{1, 2, 3}}); resp.Status != light.StatusRefused || resp.Reason != "undecodable" {
		t.Fatalf("bad tx answered %+v", resp)
	}
	// A bad signature likewise.
	k, _ := identity.Generate(nil)
	tx := recordTx(t, n.Genesis(), k, 1, time.Now(), "21.5")
	forged := *tx
	forged.Signature = append([]byte(nil), tx.Signature...)
	forged.Signature[0] ^= 1
	if resp := lightAsk(t, h, n, &light.Request{Op: light.OpSubmit, Tx: forged.Encode()}); resp.Status != light.StatusRefused || resp.Reason != "bad_signature" {
		t.Fatalf("forged tx answered %+v", resp)
	}
	// Accepted, then known: a resubmission is no error.
	if resp := lightAsk(t, h, n, &light.Request{Op: light.OpSubmit, Tx: tx.Encode()}); resp.Status != light.StatusAccepted {
		t.Fatalf("submit answered %+v", resp)
	}
	if resp := lightAsk(t, h, n, &light.Request{Op: light.OpSubmit, Tx: tx.Encode()}); resp.Status != light.StatusPending && resp.Status != light.StatusCommitted {
		t.Fatalf("resubmit answered %+v", resp)
	}
	// Status until committed, with a proof that verifies.
	hash := tx.Hash()
	var resp *light.Response
	waitFor(t, 20*time.Second, "the transaction final", func() bool {
		resp = lightAsk(t, h, n, &light.Request{Op: light.OpStatus, Hash: hash[:]})
		return resp.Status == light.StatusCommitted
	})
	p, err := light.DecodeTxProof(resp.Proof)
	if err != nil {
		t.Fatal(err)
	}
	if hd, _, err := p.Verify(); err != nil || p.TxHash != hash {
		t.Fatalf("proof: %v (hash %s)", err, p.TxHash)
	} else if _, err := light.VerifyFinality(light.GenesisTrust(n.Genesis()), hd, resp.Finality); err != nil {
		t.Fatalf("finality proof: %v", err)
	}
	// A forged proof is refused: a vote's signature altered, or another
	// block's header.
	fp, err := types.DecodeFinalityProof(resp.Finality)
	if err != nil {
		t.Fatal(err)
	}
	vote := fp.Final.Votes[0]
	vote[len(vote)-1] ^= 1
	hd, _, _ := p.Verify()
	if _, err := light.VerifyFinality(light.GenesisTrust(n.Genesis()), hd, fp.Encode()); !errors.Is(err, types.ErrBadProof) {
		t.Fatalf("a proof with a forged vote: %v, want ErrBadProof", err)
	}
	vote[len(vote)-1] ^= 1
	other := *hd
	other.Time++
	if _, err := light.VerifyFinality(light.GenesisTrust(n.Genesis()), &other, fp.Encode()); !errors.Is(err, types.ErrBadProof) {
		t.Fatalf("a proof for another header: %v, want ErrBadProof", err)
	}
	if _, err := light.VerifyFinality(light.GenesisTrust(n.Genesis()), hd, []byte{0x80}); err == nil {
		t.Fatal("garbage accepted as a finality proof")
	}
	// Committed now: a resubmission says so.
	if resp := lightAsk(t, h, n, &light.Request{Op: light.OpSubmit, Tx: tx.Encode()}); resp.Status != light.StatusCommitted {
		t.Fatalf("resubmit of a committed tx answered %+v", resp)
	}
	// Another transaction with the committed nonce is a replay.
	replay := recordTx(t, n.Genesis(), k, 1, time.Now(), "22")
	if resp := lightAsk(t, h, n, &light.Request{Op: light.OpSubmit, Tx: replay.Encode()}); resp.Status != light.StatusRefused || resp.Reason != "replayed_nonce" {
		t.Fatalf("replay answered %+v", resp)
	}
	// Unknown hash; a status without a trust.
	var zero types.Hash
	if resp := lightAsk(t, h, n, &light.Request{Op: light.OpStatus, Hash: zero[:]}); resp.Status != light.StatusUnknown {
		t.Fatalf("unknown hash answered %+v", resp)
	}
	// Latest and headers.
	resp = lightAsk(t, h, n, &light.Request{Op: light.OpLatest})
	latest, err := types.DecodeHeader(resp.Header)
	if err != nil || resp.Status != light.StatusOK {
		t.Fatalf("latest: %+v, %v", resp, err)
	}
	resp = lightAsk(t, h, n, &light.Request{Op: light.OpHeaders, From: 1, To: latest.Height + 100})
	if uint64(len(resp.Headers)) < latest.Height {
		t.Fatalf("headers 1..%d: got %d", latest.Height, len(resp.Headers))
	}
	want := n.Genesis().Hash()
	for i, raw := range resp.Headers {
		hd, err := types.DecodeHeader(raw)
		if err != nil || hd.Height != uint64(i+1) || hd.Parent != want {
			t.Fatalf("header %d: %v, height %d, links %v", i+1, err, hd.Height, hd.Parent == want)
		}
		want = hd.Hash()
	}
	// At most lightPerPeer requests of one peer at once: stalled ones
	// (half a length prefix sent) hold the slots, and the next is reset.
	var stalled []network.Stream
	for i := 0; i < lightPerPeer; i++ {
		s, err := h.NewStream(context.Background(), n.ID(), light.ProtocolID(n.Genesis().ChainID))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Write([]byte{0, 0}); err != nil {
			t.Fatal(err)
		}
		stalled = append(stalled, s)
	}
	waitFor(t, 10*time.Second, "the stalled requests in progress", func() bool { return n.lightLim.inProgress(h.ID()) == lightPerPeer })
	if _, err := lightRaw(t, h, n, append(binary.BigEndian.AppendUint32(nil, 7), (&light.Request{Op: light.OpHeaders, From: 1, To: 1}).Encode()...)); err == nil {
		t.Fatal("a request over the per-peer limit was answered")
	}
	for _, s := range stalled {
		_ = s.Reset()
	}
	waitFor(t, 10*time.Second, "the slots freed", func() bool { return n.lightLim.inProgress(h.ID()) == 0 })
	if resp := lightAsk(t, h, n, &light.Request{Op: light.OpHeaders, From: 1, To: 1}); resp.Status != light.StatusOK {
		t.Fatalf("headers after the stalled requests: %+v", resp)
	}
	// A request cut short is not answered.
	if _, err := lightRaw(t, h, n, []byte{0, 0, 0, 9, 1}); err == nil {
		t.Fatal("a cut request was answered")
	}
}
