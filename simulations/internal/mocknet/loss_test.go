package mocknet

import (
	"bytes"
	"context"
	"io"
	"math"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
)

// TestLossDelayDistribution: the number of lost transmissions per write is
// geometric, so the mean retransmission delay is RTO × p / (1 − p); no
// loss means no delay; the same seed gives the same draws.
func TestLossDelayDistribution(t *testing.T) {
	draws := func(p float64, seed uint64, n int) []time.Duration {
		l := newLink(nil, LinkOptions{})
		l.SetOptions(LinkOptions{Loss: p, RTO: time.Second, Seed: seed})
		out := make([]time.Duration, n)
		for i := range out {
			out[i] = l.LossDelay()
		}
		return out
	}
	for _, d := range draws(0, 1, 1000) {
		if d != 0 {
			t.Fatalf("delay %s without loss", d)
		}
	}
	const n, p = 200_000, 0.3
	ds := draws(p, 7, n)
	var sum time.Duration
	for _, d := range ds {
		if d%time.Second != 0 {
			t.Fatalf("delay %s is not a whole number of RTOs", d)
		}
		sum += d
	}
	mean, want := sum.Seconds()/n, p/(1-p)
	if math.Abs(mean-want) > 0.01 {
		t.Fatalf("mean retransmission delay %.4f RTO, want %.4f", mean, want)
	}
	again := draws(p, 7, 100)
	for i := range again {
		if again[i] != ds[i] {
			t.Fatalf("draw %d differs for the same seed", i)
		}
	}
}

// TestLossyStreamStaysReliable: over a link that loses half of all
// transmissions, every write of a stream arrives, once, in order.
func TestLossyStreamStaysReliable(t *testing.T) {
	mn, err := FullMeshLinked(2)
	if err != nil {
		t.Fatal(err)
	}
	defer mn.Close()
	hs := mn.Hosts()
	for _, l := range mn.LinksBetweenPeers(hs[0].ID(), hs[1].ID()) {
		l.SetOptions(LinkOptions{Latency: time.Millisecond, Loss: 0.5, RTO: 2 * time.Millisecond, Seed: 1})
	}
	const proto = "/loss-test/1"
	got := make(chan []byte, 1)
	hs[1].SetStreamHandler(proto, func(s network.Stream) {
		b, _ := io.ReadAll(s)
		got <- b
	})
	if _, err := mn.ConnectPeers(hs[0].ID(), hs[1].ID()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := hs[0].NewStream(ctx, hs[1].ID(), proto)
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	for i := range 300 {
		msg := []byte{byte(i), byte(i >> 8), 0xab}
		want.Write(msg)
		if _, err := s.Write(msg); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	select {
	case b := <-got:
		if !bytes.Equal(b, want.Bytes()) {
			t.Fatalf("received %d bytes, want %d in order", len(b), want.Len())
		}
	case <-ctx.Done():
		t.Fatal("stream did not complete")
	}
}
