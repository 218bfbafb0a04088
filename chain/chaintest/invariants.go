package chaintest

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sixdomain/sixdomain/chain"
	"github.com/sixdomain/sixdomain/consensus"
	"github.com/sixdomain/sixdomain/ledger/types"
)

var errConflictingFinality = consensus.ErrConflictingFinality

// onCommit is the cheap safety check run on every Committed event: the
// block must be the one every other node finalized at its height (a),
// with the same state root (b), committed in order, and its transactions
// must not be final at another height already (d).
func (c *Cluster) onCommit(n *Node, cm chain.Committed) {
	b := cm.Block
	h, hash := b.Header.Height, b.Hash()
	c.stats.Commits++
	c.stats.MaxFinalized = max(c.stats.MaxFinalized, h)
	if bf := c.finality[h]; bf == nil {
		c.finality[h] = &BlockFinality{Height: h, Sealed: time.UnixMilli(b.Header.Time).Sub(c.base), First: c.now, Last: c.now, Nodes: 1}
	} else {
		bf.Last = max(bf.Last, c.now)
		bf.Nodes++
	}
	if h != n.lastCommit+1 {
		c.fail("node %d committed block %d after block %d", n.ID, h, n.lastCommit)
	}
	n.lastCommit = h
	if cm.State.Height != h || cm.State.LastBlockHash != hash || cm.State.StateRoot != b.Header.StateRoot {
		c.fail("node %d committed block %d %s with state %+v", n.ID, h, shortHash(hash), cm.State)
	}
	rec, ok := c.final[h]
	if !ok {
		c.final[h] = finalRec{hash: hash, root: cm.State.StateRoot, node: n.ID}
		c.logf(n.ID, "FINAL %d %s (first)", h, shortHash(hash))
		for _, tx := range b.Txs {
			th := tx.Hash()
			if at, dup := c.txHeight[th]; dup {
				c.fail("transaction %s final at height %d and again at %d", shortHash(th), at, h)
			}
			c.txHeight[th] = h
			c.stats.TxCommitted++
			c.txFinal(tx)
		}
		return
	}
	if rec.hash != hash {
		c.fail("SAFETY: node %d finalized %d %s but node %d finalized %d %s", n.ID, h, shortHash(hash), rec.node, h, shortHash(rec.hash))
		return
	}
	if rec.root != cm.State.StateRoot {
		c.fail("node %d: state root %s after block %d, node %d had %s", n.ID, shortHash(cm.State.StateRoot), h, rec.node, shortHash(rec.root))
	}
}

// CheckInvariants checks the safety invariants over every node's store,
// including the stores of crashed nodes:
//
//	(a) at every height, every store holds the same finalized block;
//	(b) every honest running node's chain agrees with its store (finalized
//	    state, state root and transaction count along the prefix), and
//	    agrees with the global record of what was finalized;
//	(d) every transaction reported in a Committed block is in the finalized
//	    chain exactly once, at the height reported.
func (c *Cluster) CheckInvariants() error {
	if c.err != nil {
		return c.err
	}
	ctx := context.Background()
	var canon []*types.Block // canon[h-1]: the finalized block at h
	canonFrom := make([]int, 0)
	for _, n := range c.nodes {
		st := c.storeOf(n)
		top := st.State().Height
		for h := uint64(1); h <= top; h++ {
			b, err := st.Block(ctx, h)
			if err != nil {
				return c.errorf("node %d: store block %d (finalized %d): %v", n.ID, h, top, err)
			}
			if int(h) > len(canon) {
				canon = append(canon, b)
				canonFrom = append(canonFrom, n.ID)
				continue
			}
			if want := canon[h-1]; b.Hash() != want.Hash() {
				return c.errorf("SAFETY (a): node %d's store has %d %s, node %d's has %s", n.ID, h, shortHash(b.Hash()), canonFrom[h-1], shortHash(want.Hash()))
			}
		}
	}
	// The stores against the global record of Committed events.
	if len(c.final) != len(canon) {
		return c.errorf("%d heights reported final, stores hold %d", len(c.final), len(canon))
	}
	var total uint64
	cumTxs := make([]uint64, len(canon)+1)
	txs := map[types.Hash]uint64{}
	for i, b := range canon {
		h := uint64(i + 1)
		rec := c.final[h]
		if rec.hash != b.Hash() || rec.root != b.Header.StateRoot {
			return c.errorf("height %d: stores hold %s (root %s), Committed said %s (root %s)", h, shortHash(b.Hash()),
				shortHash(b.Header.StateRoot), shortHash(rec.hash), shortHash(rec.root))
		}
		if i > 0 && b.Header.Parent != canon[i-1].Hash() {
			return c.errorf("finalized block %d does not follow block %d", h, h-1)
		}
		for _, tx := range b.Txs {
			th := tx.Hash()
			if at, dup := txs[th]; dup {
				return c.errorf("(d): transaction %s in finalized blocks %d and %d", shortHash(th), at, h)
			}
			txs[th] = h
		}
		total += uint64(len(b.Txs))
		cumTxs[h] = total
	}
	// (d) every reported transaction, where it was reported.
	for th, h := range c.txHeight {
		if at, ok := txs[th]; !ok || at != h {
			return c.errorf("(d): transaction %s reported final at %d, finalized chain has it at %d", shortHash(th), h, at)
		}
	}
	// (b) each node's finalized state.
	for _, n := range c.nodes {
		st := c.storeOf(n).State()
		if st.Height == 0 {
			continue
		}
		b := canon[st.Height-1]
		if st.LastBlockHash != b.Hash() || st.StateRoot != b.Header.StateRoot || st.TotalTxs != cumTxs[st.Height] {
			return c.errorf("(b): node %d's finalized state %+v does not match block %d %s (root %s, %d txs in all)",
				n.ID, st, st.Height, shortHash(b.Hash()), shortHash(b.Header.StateRoot), cumTxs[st.Height])
		}
		if n.up && !n.Byzantine && n.chain.Finalized() != st {
			return c.errorf("(b): node %d's chain says finalized %+v, its store %+v", n.ID, n.chain.Finalized(), st)
		}
	}
	return nil
}

// Mark is a point of reference for CheckLiveness.
type Mark struct {
	At        time.Duration
	Finalized uint64 // highest finalized height of any node
	Head      uint64 // highest head of any running honest node
	// HeadTime is the latest block time of those heads (virtual time): a
	// proposer whose clock ran fast may have stamped it in the future, and
	// no block can follow it before then.
	HeadTime time.Duration
}

// Mark records the current time and the highest finalized and head
// heights.
func (c *Cluster) Mark() Mark {
	m := Mark{At: c.now}
	for _, n := range c.nodes {
		m.Finalized = max(m.Finalized, c.Finalized(n.ID))
		if n.up && !n.Byzantine {
			hd := n.chain.Head()
			m.Head = max(m.Head, hd.Height)
			m.HeadTime = max(m.HeadTime, time.UnixMilli(hd.LastBlockTime).Sub(c.base))
		}
	}
	return m
}

// ErrLiveness marks liveness failures (errors.Is).
var ErrLiveness = errors.New("liveness")

// CheckLiveness checks (c), for a fully connected cluster since m: an
// honest authority sealed a block within resume of m (or of the latest
// head's block time, if a fast clock stamped it later), every honest
// running node's head is within 3 blocks of the highest honest head (they
// converged on one branch), and every honest running node finalized at
// least gain blocks beyond anything final at m.
func (c *Cluster) CheckLiveness(m Mark, resume time.Duration, gain uint64) error {
	if c.err != nil {
		return c.err
	}
	resumed := false
	from := max(m.At, m.HeadTime)
	for _, t := range c.sealTimes {
		if t > m.At && t <= from+resume {
			resumed = true
			break
		}
	}
	if !resumed {
		return fmt.Errorf("%w: %w", ErrLiveness, c.errorf("(c): no honest block sealed within %s of %.3fs (heads stamped up to %.3fs);%s",
			resume, m.At.Seconds(), m.HeadTime.Seconds(), c.Status()))
	}
	var top uint64
	for _, n := range c.nodes {
		if n.up && !n.Byzantine {
			top = max(top, n.chain.Head().Height)
		}
	}
	for _, n := range c.nodes {
		if !n.up || n.Byzantine {
			continue
		}
		if h := n.chain.Head().Height; h+3 < top {
			return fmt.Errorf("%w: %w", ErrLiveness, c.errorf("(c): node %d's head is %d, the highest honest head %d: not converged %s after %.3fs;%s",
				n.ID, h, top, c.now-m.At, m.At.Seconds(), c.Status()))
		}
		if f := n.chain.Finalized().Height; f < m.Finalized+gain {
			return fmt.Errorf("%w: %w", ErrLiveness, c.errorf("(c): node %d finalized %d, want at least %d (%d at %.3fs + %d) after %s;%s",
				n.ID, f, m.Finalized+gain, m.Finalized, m.At.Seconds(), gain, c.now-m.At, c.Status()))
		}
	}
	return nil
}
