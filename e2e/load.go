package e2e

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger/types"
)

// load drives signed data records through nodes' APIs. Each sensor (a key
// of its own) sends its next record once the previous one is committed, so
// nonces never run ahead of what the chain holds; a record that does not
// commit is sent again (to the next node), and re-signed with a fresh
// timestamp when it grows too old for the chain's time window. Every
// record a node reported committed is an acknowledgement the invariants
// hold the network to.
type load struct {
	chainID string
	window  time.Duration // the genesis' past window: older records are re-signed
	rate    float64
	sensors []*identity.PrivateKey
	nodes   []*client // the nodes the load goes through
	clients []*client // every node, to poll

	mu        sync.Mutex
	acked     map[types.Hash]ack
	submitted int
	refused   map[string]int // reason → count
	latencies []time.Duration
}

// ack is one transaction a node reported committed.
type ack struct {
	Height uint64
	Node   string
	At     time.Time
}

func newLoad(chainID string, window time.Duration, rate float64, sensors int, through, all []*client) (*load, error) {
	l := &load{chainID: chainID, window: window, rate: rate, nodes: through, clients: all,
		acked: map[types.Hash]ack{}, refused: map[string]int{}}
	for range sensors {
		k, err := identity.Generate(nil)
		if err != nil {
			return nil, err
		}
		l.sensors = append(l.sensors, k)
	}
	return l, nil
}

// run drives the load until ctx ends; in-flight records are followed for
// up to drain after that.
func (l *load) run(ctx context.Context, drain time.Duration) {
	var wg sync.WaitGroup
	per := l.rate / float64(len(l.sensors))
	for i, k := range l.sensors {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.sensor(ctx, drain, i, k, per)
		}()
	}
	wg.Wait()
}

func (l *load) sensor(ctx context.Context, drain time.Duration, idx int, key *identity.PrivateKey, rate float64) {
	interval := time.Duration(float64(time.Second) / rate)
	rng := rand.New(rand.NewPCG(uint64(idx), 7))
	next := time.Now().Add(time.Duration(rng.Int64N(int64(interval) + 1)))
	target := idx % len(l.nodes)
	for nonce := uint64(1); ; nonce++ {
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Until(next)):
		}
		next = next.Add(interval)
		if !l.commit(ctx, drain, key, nonce, &target) {
			return
		}
	}
}

// commit sends the record of nonce until a node reports it committed; it
// returns false when the run ended first.
func (l *load) commit(ctx context.Context, drain time.Duration, key *identity.PrivateKey, nonce uint64, target *int) bool {
	// Followed past the end of the load for at most drain.
	follow, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	stop := context.AfterFunc(ctx, func() {
		time.AfterFunc(drain, cancel)
	})
	defer stop()

	start := time.Now()
	var hashes []types.Hash
	var signedAt time.Time
	var raw []byte
	for attempt := 0; follow.Err() == nil; attempt++ {
		if raw == nil || time.Since(signedAt) > l.window/2 {
			if ctx.Err() != nil {
				return false // do not start new versions after the load ended
			}
			signedAt = time.Now()
			tx, err := types.NewDataRecordTx(l.chainID, nonce, signedAt.UnixMilli(),
				types.DataRecord{Stream: "e2e/load", ContentType: "text/plain", Value: fmt.Appendf(nil, "%d", nonce)})
			if err != nil {
				panic(err) // a fixed, valid record
			}
			tx.Sign(key)
			raw = tx.Encode()
			hashes = append(hashes, tx.Hash())
		}
		c := l.nodes[*target%len(l.nodes)]
		if ctx.Err() == nil {
			l.count(c.submit(follow, raw))
		}
		// Follow every version of this nonce on this node for a while.
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) && follow.Err() == nil {
			for _, h := range hashes {
				st, err := c.txStatus(follow, h)
				if err == nil && st.Status == "committed" {
					l.mu.Lock()
					l.acked[h] = ack{Height: st.Height, Node: c.name, At: time.Now()}
					l.latencies = append(l.latencies, time.Since(start))
					l.mu.Unlock()
					return true
				}
			}
			select {
			case <-follow.Done():
			case <-time.After(200 * time.Millisecond):
			}
		}
		*target++ // try the next node
	}
	return false
}

func (l *load) count(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.submitted++
	if err == nil {
		return
	}
	var ae *apiError
	reason := "unreachable"
	if errors.As(err, &ae) {
		reason = fmt.Sprintf("%d %s", ae.Code, ae.Reason)
	}
	l.refused[reason]++
}

// acks returns the acknowledged transactions.
func (l *load) acks() map[types.Hash]ack {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[types.Hash]ack, len(l.acked))
	for h, a := range l.acked {
		out[h] = a
	}
	return out
}

// stats summarises the load.
func (l *load) stats() LoadStats {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := LoadStats{Submitted: l.submitted, Acknowledged: len(l.acked), Refused: map[string]int{}}
	for k, v := range l.refused {
		s.Refused[k] = v
	}
	lat := slices.Clone(l.latencies)
	slices.Sort(lat)
	if len(lat) > 0 {
		s.LatencyP50Ms = float64(lat[len(lat)/2].Milliseconds())
		s.LatencyP99Ms = float64(lat[min(len(lat)-1, len(lat)*99/100)].Milliseconds())
		s.LatencyMaxMs = float64(lat[len(lat)-1].Milliseconds())
	}
	return s
}
