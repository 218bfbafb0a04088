package simulations

import (
	"crypto/sha256"
	"sync"
	"sync/atomic"
	"time"

	lp2pps "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"google.golang.org/protobuf/proto"

	"github.com/sixdomain/sixdomain/clock"
	"github.com/sixdomain/sixdomain/ledger/types"
)

// recorder collects what every node's GossipSub router reports: when each
// node first delivered each transaction and block, duplicates, and the
// traffic per node. Times are protocol nanoseconds since origin.
type recorder struct {
	clk      clock.Clock
	origin   time.Time
	peers    int
	txTopic  string
	blkTopic string
	// batchTopic carries the workload's transactions in batches: a
	// transaction counts as delivered to a peer when a batch holding it
	// is (its ID is the SHA-256 of its encoding, as on the tx topic).
	batchTopic string

	mu     sync.RWMutex
	txs    map[string]*msgRec // by GossipSub message ID
	blocks map[string]*msgRec
	spam   map[string]bool

	delivered     atomic.Int64 // first deliveries of workload transactions
	spamDelivered atomic.Int64 // spam accepted by an honest node (must stay 0)
	spamRejected  atomic.Int64 // spam rejected by an honest node's validator

	certTopic string
	certIDs   sync.Map     // distinct certificate messages
	certMsgs  atomic.Int64 // how many
	certDeliv atomic.Int64 // certificate deliveries (message, node)
}

// msgRec is one tracked message.
type msgRec struct {
	first []atomic.Int64 // per peer: 1 + ns since origin; 0 = never
	dups  atomic.Int64
	data  []byte // blocks only
}

func newRecorder(clk clock.Clock, peers int, txTopic, blkTopic string) *recorder {
	return &recorder{clk: clk, origin: clk.Now(), peers: peers, txTopic: txTopic, blkTopic: blkTopic,
		txs: map[string]*msgRec{}, blocks: map[string]*msgRec{}, spam: map[string]bool{}}
}

func (r *recorder) now() int64 { return int64(r.clk.Now().Sub(r.origin)) }

// expectTx registers a workload transaction before it is published.
func (r *recorder) expectTx(id string) *msgRec {
	m := &msgRec{first: make([]atomic.Int64, r.peers)}
	r.mu.Lock()
	r.txs[id] = m
	r.mu.Unlock()
	return m
}

func (r *recorder) forgetTx(id string) {
	r.mu.Lock()
	delete(r.txs, id)
	r.mu.Unlock()
}

func (r *recorder) expectSpam(id string) {
	r.mu.Lock()
	r.spam[id] = true
	r.mu.Unlock()
}

func (r *recorder) lookup(m *lp2pps.Message) (rec *msgRec, isTx, isSpam bool) {
	switch m.GetTopic() {
	case r.txTopic:
		r.mu.RLock()
		rec, isSpam = r.txs[m.ID], r.spam[m.ID]
		r.mu.RUnlock()
		return rec, true, isSpam
	case r.blkTopic:
		r.mu.RLock()
		rec = r.blocks[m.ID]
		r.mu.RUnlock()
		if rec == nil {
			r.mu.Lock()
			if rec = r.blocks[m.ID]; rec == nil {
				rec = &msgRec{first: make([]atomic.Int64, r.peers), data: append([]byte(nil), m.Data...)}
				r.blocks[m.ID] = rec
			}
			r.mu.Unlock()
		}
	}
	return rec, false, false
}

// tracer is one node's lp2pps.RawTracer.
type tracer struct {
	r                     *recorder
	idx                   int
	sent, recv, msgs, dup atomic.Uint64
}

var _ lp2pps.RawTracer = (*tracer)(nil)

func (t *tracer) DeliverMessage(m *lp2pps.Message) {
	if m.GetTopic() == t.r.certTopic {
		t.r.certDeliv.Add(1)
		if _, loaded := t.r.certIDs.LoadOrStore(m.ID, struct{}{}); !loaded {
			t.r.certMsgs.Add(1)
		}
		return
	}
	if m.GetTopic() == t.r.batchTopic && t.r.batchTopic != "" {
		t.deliverBatch(m)
		return
	}
	rec, isTx, isSpam := t.r.lookup(m)
	if isSpam {
		t.r.spamDelivered.Add(1)
	}
	if rec == nil {
		return
	}
	if rec.first[t.idx].CompareAndSwap(0, t.r.now()+1) && isTx {
		t.r.delivered.Add(1)
	}
}

func (t *tracer) DuplicateMessage(m *lp2pps.Message) {
	t.dup.Add(1)
	if m.GetTopic() != t.r.txTopic {
		return
	}
	t.r.mu.RLock()
	rec := t.r.txs[m.ID]
	t.r.mu.RUnlock()
	if rec != nil {
		rec.dups.Add(1)
	}
}

// deliverBatch marks each workload transaction of a delivered batch.
func (t *tracer) deliverBatch(m *lp2pps.Message) {
	raws, err := types.BatchTxs(m.Data)
	if err != nil {
		return
	}
	now := t.r.now() + 1
	for _, raw := range raws {
		sum := sha256.Sum256(raw)
		t.r.mu.RLock()
		rec := t.r.txs[string(sum[:])]
		t.r.mu.RUnlock()
		if rec != nil && rec.first[t.idx].CompareAndSwap(0, now) {
			t.r.delivered.Add(1)
		}
	}
}

func (t *tracer) RejectMessage(m *lp2pps.Message, reason string) {
	if m.GetTopic() != t.r.txTopic {
		return
	}
	t.r.mu.RLock()
	isSpam := t.r.spam[m.ID]
	t.r.mu.RUnlock()
	if isSpam && reason == lp2pps.RejectValidationFailed {
		t.r.spamRejected.Add(1)
	}
}

func (t *tracer) RecvRPC(rpc *lp2pps.RPC) {
	t.recv.Add(uint64(rpcSize(rpc)))
	t.msgs.Add(uint64(len(rpc.GetPublish())))
}

func (t *tracer) SendRPC(rpc *lp2pps.RPC, _ peer.ID) { t.sent.Add(uint64(rpcSize(rpc))) }

func (t *tracer) DropRPC(rpc *lp2pps.RPC, _ peer.ID) { t.sent.Add(^uint64(rpcSize(rpc) - 1)) }

func (t *tracer) OnNewOutboundStream(peer.ID, protocol.ID)             {}
func (t *tracer) OnClosedOutboundStream(peer.ID)                       {}
func (t *tracer) Join(string)                                          {}
func (t *tracer) Leave(string)                                         {}
func (t *tracer) Graft(peer.ID, string)                                {}
func (t *tracer) Prune(peer.ID, string)                                {}
func (t *tracer) ValidateMessage(*lp2pps.Message)                      {}
func (t *tracer) ThrottlePeer(peer.ID)                                 {}
func (t *tracer) SendRPCCompleted(*lp2pps.RPC, peer.ID, time.Duration) {}
func (t *tracer) UndeliverableMessage(*lp2pps.Message)                 {}

func rpcSize(rpc *lp2pps.RPC) int { return proto.Size(&rpc.RPC) }
