package node

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/sixdomain/sixdomain/ledger"
	"github.com/sixdomain/sixdomain/ledger/types"
	sixps "github.com/sixdomain/sixdomain/pubsub"
)

// CommitEvent describes a block the node has committed.
type CommitEvent struct {
	Block    *types.Block
	State    ledger.State
	Proposed bool // sealed by this node
	At       time.Time
}

// chainLoop owns the ledger: it seals blocks in this node's turn and
// applies blocks from gossip and sync, one at a time.
func (n *Node) chainLoop() {
	pending := map[uint64]blockInput{}
	timer := time.NewTimer(0)
	defer timer.Stop()
	expire := time.NewTicker(5 * time.Second)
	defer expire.Stop()
	for {
		n.resetSealTimer(timer)
		select {
		case <-n.ctx.Done():
			return
		case in := <-n.blockIn:
			n.receive(in, pending)
		case <-timer.C:
			n.maybeSeal()
		case <-expire.C:
			if k := n.pool.Expire(n.cfg.Clock(), n.genesis.TimeWindow()); k > 0 {
				n.log.Debug("expired pending transactions", "count", k)
			}
		}
		// Apply waiting blocks whose parent has arrived.
		for {
			next, ok := pending[n.store.State().Height+1]
			if !ok {
				break
			}
			delete(pending, next.block.Header.Height)
			n.apply(next)
		}
		for h := range pending {
			if h <= n.store.State().Height {
				delete(pending, h)
			}
		}
	}
}

func (n *Node) resetSealTimer(t *time.Timer) {
	st := n.store.State()
	at, ok := n.engine.NextSealTime(n.key.Public(), st.Height, time.UnixMilli(st.LastBlockTime))
	if !ok {
		t.Stop()
		return
	}
	wait := at.Sub(n.cfg.Clock())
	if wait < 0 {
		wait = 0
	}
	t.Stop()
	select {
	case <-t.C:
	default:
	}
	t.Reset(wait)
}

func (n *Node) receive(in blockInput, pending map[uint64]blockInput) {
	h := in.block.Header.Height
	head := n.store.State().Height
	switch {
	case h <= head:
		reply(in, nil)
	case h == head+1:
		n.apply(in)
	default:
		if len(pending) < maxPendingBlocks {
			pending[h] = in
		}
		reply(in, nil)
		n.kickSync()
	}
}

func reply(in blockInput, err error) {
	if in.done != nil {
		in.done <- err
	}
}

// apply verifies a block that extends the head and commits it.
func (n *Node) apply(in blockInput) {
	err := n.verifyAndCommit(in.block, false)
	if err != nil {
		n.log.Warn("block refused", "height", in.block.Header.Height, "from", in.from, "err", err)
		n.metrics.blockResult("apply_" + types.Reason(err))
	}
	reply(in, err)
}

func (n *Node) verifyAndCommit(b *types.Block, proposed bool) error {
	st := n.store.State()
	if !proposed {
		if err := n.engine.VerifySeal(&b.Header, b.Seal); err != nil {
			return fmt.Errorf("%w: %w", types.ErrBadBlock, err)
		}
		if err := n.engine.VerifyTiming(st.LastBlockTime, &b.Header, n.cfg.Clock()); err != nil {
			return fmt.Errorf("%w: %w", types.ErrBadBlock, err)
		}
		if err := sixps.VerifyBlockTxs(b, n.sigs); err != nil {
			return err
		}
	}
	next, changes, err := ledger.Apply(st, n.store, n.params, b)
	if err != nil {
		return err
	}
	if err := n.store.Commit(n.ctx, b, next, changes); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	for sender, nonce := range changes.Nonces {
		n.pool.Committed(sender, nonce)
	}
	n.metrics.committed(b, next)
	n.commits.publish(CommitEvent{Block: b, State: next, Proposed: proposed, At: n.cfg.Clock()})
	return nil
}

// maybeSeal seals the next block if it is this node's turn and time.
func (n *Node) maybeSeal() {
	st := n.store.State()
	self := n.key.Public()
	at, ok := n.engine.NextSealTime(self, st.Height, time.UnixMilli(st.LastBlockTime))
	now := n.cfg.Clock()
	if !ok || now.Before(at) {
		return
	}
	if now.Before(n.genesis.GenesisTime) {
		return
	}
	candidates := n.pool.Select(n.genesis.MaxBlockTxs, types.MaxBlockBytes-64<<10, n.committedNonce)
	ts := now.UnixMilli()
	if ts < at.UnixMilli() {
		ts = at.UnixMilli()
	}
	b, _, _, skipped := ledger.Propose(st, n.store, n.params, candidates, ts, self)
	for _, s := range skipped {
		n.log.Debug("left out of block", "tx", s.Tx.Hash(), "err", s.Err)
	}
	b.Seal = n.key.Sign(b.Header.SealBytes())
	// Publish before committing: the block validator refuses blocks at or
	// below the committed height, our own included.
	ctx, cancel := context.WithTimeout(n.ctx, 5*time.Second)
	if err := n.blkTopic.Publish(ctx, b.Encode()); err != nil && !errors.Is(err, context.Canceled) {
		n.log.Warn("publishing block", "height", b.Header.Height, "err", err)
	}
	cancel()
	if err := n.verifyAndCommit(b, true); err != nil {
		n.log.Error("committing own block", "height", b.Header.Height, "err", err)
	}
}

func (n *Node) kickSync() {
	select {
	case n.syncKick <- struct{}{}:
	default:
	}
}

// submitBlock hands a synced block to the chain loop and waits for the
// verdict.
func (n *Node) submitBlock(ctx context.Context, b *types.Block, from peer.ID) error {
	done := make(chan error, 1)
	select {
	case n.blockIn <- blockInput{block: b, from: from, done: done}:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// SubscribeCommits returns a channel of committed blocks and a function
// that ends the subscription. Slow readers miss events rather than stall
// the chain (the channel holds buf events).
func (n *Node) SubscribeCommits(buf int) (<-chan CommitEvent, func()) {
	return n.commits.subscribe(buf)
}
