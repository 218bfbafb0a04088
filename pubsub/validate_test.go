package pubsub

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	lp2pps "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger/types"
)

const chain = "pubsub-test"

func newHost(t *testing.T) host.Host {
	t.Helper()
	h, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"), libp2p.DisableMetrics())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func newChecker(now time.Time, committed map[identity.PublicKey]uint64) *TxChecker {
	return &TxChecker{
		ChainID: chain,
		Window:  types.TimeWindow{Future: 30 * time.Second, Past: 10 * time.Minute},
		Now:     func() time.Time { return now },
		Sigs:    types.NewSigCache(1024),
		Nonce:   func(k identity.PublicKey) uint64 { return committed[k] },
	}
}

func record(t *testing.T, k *identity.PrivateKey, chainID string, nonce uint64, at time.Time) *types.Tx {
	t.Helper()
	tx, err := types.NewDataRecordTx(chainID, nonce, at.UnixMilli(), types.DataRecord{Stream: "s", Value: []byte("v")})
	if err != nil {
		t.Fatal(err)
	}
	tx.Sign(k)
	return tx
}

// TestCheckReasonsAndVerdicts: every invalid transaction is refused with its
// own reason, and the verdict penalises only what an honest peer could not
// have sent.
func TestCheckReasonsAndVerdicts(t *testing.T) {
	now := time.Now()
	k, _ := identity.Generate(nil)
	c := newChecker(now, map[identity.PublicKey]uint64{k.Public(): 4})
	pending := record(t, k, chain, 6, now)
	c.Known = func(h types.Hash) bool { return h == pending.Hash() }
	badSig := record(t, k, chain, 5, now)
	badSig.Signature[3] ^= 1
	cases := []struct {
		name    string
		data    []byte
		reason  string
		verdict lp2pps.ValidationResult
	}{
		{"valid", record(t, k, chain, 5, now).Encode(), "ok", lp2pps.ValidationAccept},
		{"oversize", make([]byte, types.MaxTxBytes+1), "oversize", lp2pps.ValidationReject},
		{"undecodable", []byte{0xde, 0xad, 0xbe, 0xef}, "undecodable", lp2pps.ValidationReject},
		{"wrong chain", record(t, k, "other", 5, now).Encode(), "wrong_chain", lp2pps.ValidationReject},
		{"future", record(t, k, chain, 5, now.Add(time.Minute)).Encode(), "time_in_future", lp2pps.ValidationReject},
		{"past", record(t, k, chain, 5, now.Add(-time.Hour)).Encode(), "time_in_past", lp2pps.ValidationIgnore},
		{"bad signature", badSig.Encode(), "bad_signature", lp2pps.ValidationReject},
		{"replayed nonce", record(t, k, chain, 4, now).Encode(), "replayed_nonce", lp2pps.ValidationIgnore},
		{"duplicate", pending.Encode(), "duplicate", lp2pps.ValidationIgnore},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.Check(tc.data)
			if got := reason(err); got != tc.reason {
				t.Fatalf("reason %q (%v), want %q", got, err, tc.reason)
			}
			if got := TxVerdict(err); got != tc.verdict {
				t.Fatalf("verdict %v, want %v", got, tc.verdict)
			}
		})
	}
}

// TestNotAdmittedIsIgnored: a valid transaction the pool sheds (above its
// high-water mark, say) is ignored, not rejected: the peer that relayed it
// is not penalised, and the pool's own error stays matchable so that the
// node counts it by its reason.
func TestNotAdmittedIsIgnored(t *testing.T) {
	now := time.Now()
	k, _ := identity.Generate(nil)
	c := newChecker(now, nil)
	busy := errors.New("pool above high-water mark")
	c.Admit = func(*types.Tx, int) error { return fmt.Errorf("%w: 9 of 10 pending", busy) }
	_, err := c.Check(record(t, k, chain, 1, now).Encode())
	if !errors.Is(err, ErrNotAdmitted) || !errors.Is(err, busy) {
		t.Fatalf("Check = %v, want ErrNotAdmitted wrapping the pool's error", err)
	}
	if got := TxVerdict(err); got != lp2pps.ValidationIgnore {
		t.Fatalf("verdict %v, want Ignore", got)
	}
	if got := reason(err); got != "not_admitted" {
		t.Fatalf("reason %q, want not_admitted", got)
	}
}

// TestGarbageLowersScore runs two real libp2p hosts over loopback TCP. The
// honest host validates the transaction topic; the other publishes garbage
// and one valid transaction. The valid one is delivered, the garbage is
// not, and the sender's score at the honest host turns negative.
func TestGarbageLowersScore(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	honest, spammer := newHost(t), newHost(t)

	var mu sync.Mutex
	scores := map[peer.ID]float64{}
	reasons := map[string]int{}
	psHonest, err := lp2pps.NewGossipSub(ctx, honest, Options(Config{ChainID: chain, ScoreInspectPeriod: 100 * time.Millisecond,
		ScoreInspect: func(m map[peer.ID]float64) {
			mu.Lock()
			defer mu.Unlock()
			for p, s := range m {
				scores[p] = s
			}
		}})...)
	if err != nil {
		t.Fatal(err)
	}
	psSpam, err := lp2pps.NewGossipSub(ctx, spammer, Options(Config{ChainID: chain})...)
	if err != nil {
		t.Fatal(err)
	}
	checker := newChecker(time.Now(), map[identity.PublicKey]uint64{})
	if err := psHonest.RegisterTopicValidator(TxTopic(chain), TxValidator(checker, honest.ID(), func(_ peer.ID, r string, _ error) {
		mu.Lock()
		reasons[r]++
		mu.Unlock()
	})); err != nil {
		t.Fatal(err)
	}
	topicH, _ := psHonest.Join(TxTopic(chain))
	sub, _ := topicH.Subscribe()
	topicS, _ := psSpam.Join(TxTopic(chain))
	if _, err := topicS.Subscribe(); err != nil {
		t.Fatal(err)
	}
	if err := spammer.Connect(ctx, peer.AddrInfo{ID: honest.ID(), Addrs: honest.Addrs()}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the spammer to see the honest peer on the topic", func() bool { return len(topicS.ListPeers()) == 1 })

	k, _ := identity.Generate(nil)
	valid := record(t, k, chain, 1, time.Now())
	for i := 0; i < 3; i++ {
		if err := topicS.Publish(ctx, []byte{0xff, byte(i), 0x00}); err != nil {
			t.Fatal(err)
		}
	}
	if err := topicS.Publish(ctx, valid.Encode()); err != nil {
		t.Fatal(err)
	}
	recvCtx, recvCancel := context.WithTimeout(ctx, 15*time.Second)
	defer recvCancel()
	msg, err := sub.Next(recvCtx)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := msg.ValidatorData.(*types.Tx); !ok || got.Hash() != valid.Hash() {
		t.Fatalf("delivered %x, want the valid transaction", msg.Data)
	}
	waitFor(t, "the spammer's score to turn negative", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return scores[spammer.ID()] < 0
	})
	mu.Lock()
	defer mu.Unlock()
	if reasons["undecodable"] != 3 || reasons["ok"] != 1 {
		t.Fatalf("reasons %v, want 3 undecodable and 1 ok", reasons)
	}
	if scores[spammer.ID()] > -100 {
		t.Fatalf("score %.1f after 3 invalid messages; want at most -100", scores[spammer.ID()])
	}
}

func TestOptionsTimeScale(t *testing.T) {
	p := GossipSubParams(Config{TimeScale: 10})
	d := GossipSubParams(Config{})
	if p.HeartbeatInterval != 10*d.HeartbeatInterval || p.PruneBackoff != 10*d.PruneBackoff || p.IWantFollowupTime != 10*d.IWantFollowupTime {
		t.Fatalf("scale 10: heartbeat %v, backoff %v, iwant %v (defaults %v, %v, %v)", p.HeartbeatInterval, p.PruneBackoff,
			p.IWantFollowupTime, d.HeartbeatInterval, d.PruneBackoff, d.IWantFollowupTime)
	}
	if len(Options(Config{ChainID: "c", TimeScale: 10})) != len(Options(Config{ChainID: "c"})) {
		t.Fatal("time scale changed the set of options")
	}
}

func TestVoteCache(t *testing.T) {
	k, err := identity.Generate(nil)
	if err != nil {
		t.Fatal(err)
	}
	v := &types.FinalityVote{ChainID: "c"}
	v.Sign(k)
	c := NewVoteCache(1)
	if err := c.Verify(v); err != nil {
		t.Fatal(err)
	}
	if err := c.Verify(v); err != nil {
		t.Fatalf("cached vote: %v", err)
	}
	bad := *v
	bad.Signature = append([]byte(nil), v.Signature...)
	bad.Signature[0] ^= 1
	if err := c.Verify(&bad); err == nil {
		t.Fatal("a vote with a broken signature passed through the cache")
	}
	var none *VoteCache
	if err := none.Verify(&bad); err == nil {
		t.Fatal("a nil cache accepted a broken signature")
	}
}
