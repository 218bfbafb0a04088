package node

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sixdomain/sixdomain/ledger"
	"github.com/sixdomain/sixdomain/ledger/types"
	"github.com/sixdomain/sixdomain/mempool"
	sixps "github.com/sixdomain/sixdomain/pubsub"
)

type metrics struct {
	head         prometheus.Gauge
	voteResults  *prometheus.CounterVec
	height       prometheus.Gauge
	blocks       prometheus.Counter
	txsCommitted prometheus.Counter
	txResults    *prometheus.CounterVec
	blockResults *prometheus.CounterVec
	synced       prometheus.Counter
	barred       prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, n *Node) *metrics {
	m := &metrics{
		height: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "sixdomain", Name: "chain_height",
			Help: "Height of the last final (committed) block."}),
		head: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "sixdomain", Name: "chain_head_height",
			Help: "Height of the head block, final or not."}),
		voteResults: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "sixdomain", Name: "vote_validation_total",
			Help: "Finality votes checked, by result reason."}, []string{"reason"}),
		blocks: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "sixdomain", Name: "blocks_committed_total",
			Help: "Blocks committed by this node."}),
		txsCommitted: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "sixdomain", Name: "txs_committed_total",
			Help: "Transactions in blocks committed by this node."}),
		txResults: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "sixdomain", Name: "tx_validation_total",
			Help: "Transactions checked, by source (api, gossip) and result reason (ok or why refused)."}, []string{"source", "reason"}),
		blockResults: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "sixdomain", Name: "block_validation_total",
			Help: "Blocks checked, by result reason."}, []string{"reason"}),
		synced: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "sixdomain", Name: "blocks_synced_total",
			Help: "Blocks fetched with the sync protocol and committed."}),
		barred: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "sixdomain", Name: "peers_barred_total",
			Help: "Keys barred from connecting by finalized registry changes (revoked, deactivated, rotated out)."}),
	}
	reg.MustRegister(m.height, m.head, m.voteResults, m.blocks, m.txsCommitted, m.txResults, m.blockResults, m.synced, m.barred,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "sixdomain", Name: "mempool_txs",
			Help: "Transactions waiting in the mempool."}, func() float64 { return float64(n.pool.Len()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "sixdomain", Name: "peers",
			Help: "Connected peers."}, func() float64 {
			if n.host == nil {
				return 0
			}
			return float64(len(n.host.Network().Peers()))
		}),
	)
	return m
}

func (m *metrics) txResult(source, reason string) { m.txResults.WithLabelValues(source, reason).Inc() }
func (m *metrics) blockResult(reason string)      { m.blockResults.WithLabelValues(reason).Inc() }
func (m *metrics) voteResult(reason string)       { m.voteResults.WithLabelValues(reason).Inc() }

func (m *metrics) committed(b *types.Block, st ledger.State) {
	m.height.Set(float64(st.Height))
	m.blocks.Inc()
	m.txsCommitted.Add(float64(len(b.Txs)))
}

// reasonOf names why a transaction was refused ("ok" for nil), including
// the mempool's reasons.
func reasonOf(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, sixps.ErrDuplicate), errors.Is(err, mempool.ErrDuplicate):
		return "duplicate"
	case errors.Is(err, mempool.ErrFull), errors.Is(err, mempool.ErrSenderFull):
		return "mempool_full"
	case errors.Is(err, mempool.ErrNonceTooFar):
		return "nonce_too_far"
	case errors.Is(err, mempool.ErrNonceConflict):
		return "nonce_conflict"
	case errors.Is(err, ErrNoChain):
		return "no_chain"
	}
	return types.Reason(err)
}
