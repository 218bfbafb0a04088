package mocknet

import (
	"math/rand/v2"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// link implements mocknet.Link
// and, for simplicity, network.Conn
type link struct {
	mock        *mocknet
	nets        []*peernet
	opts        LinkOptions
	ratelimiter *RateLimiter
	lossMu      sync.Mutex
	lossRand    *rand.Rand
	// this could have addresses on both sides.

	sync.RWMutex
}

func newLink(mn *mocknet, opts LinkOptions) *link {
	l := &link{mock: mn,
		opts:        opts,
		ratelimiter: NewRateLimiter(opts.Bandwidth)}
	return l
}

func (l *link) newConnPair(dialer *peernet) (*conn, *conn) {
	l.RLock()
	defer l.RUnlock()

	target := l.nets[0]
	if target == dialer {
		target = l.nets[1]
	}
	dc := newConn(dialer, target, l, network.DirOutbound)
	tc := newConn(target, dialer, l, network.DirInbound)
	dc.rconn = tc
	tc.rconn = dc
	return dc, tc
}

func (l *link) Networks() []network.Network {
	l.RLock()
	defer l.RUnlock()

	cp := make([]network.Network, len(l.nets))
	for i, n := range l.nets {
		cp[i] = n
	}
	return cp
}

func (l *link) Peers() []peer.ID {
	l.RLock()
	defer l.RUnlock()

	cp := make([]peer.ID, len(l.nets))
	for i, n := range l.nets {
		cp[i] = n.peer
	}
	return cp
}

func (l *link) SetOptions(o LinkOptions) {
	l.Lock()
	defer l.Unlock()
	l.opts = o
	l.ratelimiter.UpdateBandwidth(l.opts.Bandwidth)
	l.lossMu.Lock()
	l.lossRand = rand.New(rand.NewPCG(o.Seed, 0x6c6f7373))
	l.lossMu.Unlock()
}

// maxRetransmissions bounds the retransmissions of one write.
const maxRetransmissions = 16

// LossDelay returns the retransmission delay of one write: RTO for each
// transmission lost before the one that arrives (sixdomain addition).
func (l *link) LossDelay() time.Duration {
	l.RLock()
	p, rto := l.opts.Loss, l.opts.RTO
	l.RUnlock()
	if p <= 0 {
		return 0
	}
	l.lossMu.Lock()
	defer l.lossMu.Unlock()
	if l.lossRand == nil {
		l.lossRand = rand.New(rand.NewPCG(0, 0x6c6f7373))
	}
	var d time.Duration
	for i := 0; i < maxRetransmissions && l.lossRand.Float64() < p; i++ {
		d += rto
		if l.mock != nil {
			l.mock.retransmissions.Add(1)
		}
	}
	return d
}

func (l *link) Options() LinkOptions {
	l.RLock()
	defer l.RUnlock()
	return l.opts
}

func (l *link) GetLatency() time.Duration {
	l.RLock()
	defer l.RUnlock()
	return l.opts.Latency
}

func (l *link) RateLimit(dataSize int) time.Duration {
	return l.ratelimiter.Limit(dataSize)
}
