package txflow

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sixdomain/sixdomain/ledger/types"
)

// ErrMissingTxs: no peer supplied some of a compact block's transactions
// in time.
var ErrMissingTxs = errors.New("transactions of the block not found")

// Pool is where a node looks first for a compact block's transactions:
// its mempool and the blocks it holds.
type Pool interface {
	Tx(h types.Hash) (*types.Tx, bool)
}

// Fetcher asks one peer for transactions by hash (the pull protocol). The
// answer has one entry per hash, nil where the peer has none; a peer that
// does not answer within ctx gives an error.
type Fetcher interface {
	Fetch(ctx context.Context, peer string, hashes []types.Hash) ([]*types.Tx, error)
}

// Assembler rebuilds full blocks from compact ones.
type Assembler struct {
	Pool  Pool
	Fetch Fetcher
	// PerPeer bounds the wait for one peer's answer before the next peer
	// is asked. Default 1 s.
	PerPeer time.Duration
	// MaxPeers bounds how many peers are asked for one block. Default 4.
	MaxPeers int
}

// AssembleStats says what rebuilding one block took.
type AssembleStats struct {
	Missing int // transactions not in the pool
	Pulled  int // of those, supplied by peers
	Asked   int // peers asked
	Failed  int // peers that did not answer or answered wrongly
}

// Assemble rebuilds the block that cb names: its transactions come from
// the pool, and those missing from the peers, asked in order (the peer
// that sent the block first, then the proposer, then others), each for
// at most PerPeer, until all are found. A peer's answer counts only for
// transactions whose hash matches. The result's transaction root is
// checked against the header (types.CompactBlock.Assemble).
func (a *Assembler) Assemble(ctx context.Context, cb *types.CompactBlock, peers []string) (*types.Block, AssembleStats, error) {
	var st AssembleStats
	txs := make([]*types.Tx, len(cb.TxHashes))
	var missing []int
	for i, h := range cb.TxHashes {
		if tx, ok := a.Pool.Tx(h); ok {
			txs[i] = tx
		} else {
			missing = append(missing, i)
		}
	}
	st.Missing = len(missing)
	perPeer, maxPeers := a.PerPeer, a.MaxPeers
	if perPeer <= 0 {
		perPeer = time.Second
	}
	if maxPeers <= 0 {
		maxPeers = 4
	}
	seen := map[string]bool{}
	for _, p := range peers {
		if len(missing) == 0 || st.Asked >= maxPeers || ctx.Err() != nil {
			break
		}
		if p == "" || seen[p] {
			continue
		}
		seen[p] = true
		st.Asked++
		hs := make([]types.Hash, len(missing))
		for j, i := range missing {
			hs[j] = cb.TxHashes[i]
		}
		pctx, cancel := context.WithTimeout(ctx, perPeer)
		got, err := a.Fetch.Fetch(pctx, p, hs)
		cancel()
		if err != nil || len(got) != len(hs) {
			st.Failed++
			continue
		}
		still := missing[:0]
		for j, i := range missing {
			if tx := got[j]; tx != nil && tx.Hash() == cb.TxHashes[i] {
				txs[i] = tx
				st.Pulled++
			} else {
				still = append(still, i)
			}
		}
		missing = still
	}
	if len(missing) > 0 {
		return nil, st, fmt.Errorf("%w: %d of %d after asking %d peers", ErrMissingTxs, len(missing), len(cb.TxHashes), st.Asked)
	}
	b, err := cb.Assemble(txs)
	return b, st, err
}
