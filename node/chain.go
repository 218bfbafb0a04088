package node

import (
	"context"
	"errors"
	"time"

	lp2pps "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/sixdomain/sixdomain/chain"
	"github.com/sixdomain/sixdomain/ledger"
	"github.com/sixdomain/sixdomain/ledger/types"
)

// CommitEvent describes a block that became final on this node and was
// written to its store.
type CommitEvent struct {
	Block    *types.Block
	State    ledger.State
	Proposed bool      // sealed by this node
	Arrived  time.Time // when this node first had the block
	At       time.Time // when it became final here
}

// chainInput is work for the chain loop: a block, a vote, or a finality
// certificate from sync.
type chainInput struct {
	block *types.Block
	votes []*types.FinalityVote
	cert  bool
	sync  bool // from sync: report ErrKnown and ErrStale instead of hiding them
	from  peer.ID
	done  chan error // nil for gossip

	// blocks are consecutive blocks from sync (feedSync); added counts
	// those the chain took.
	blocks []*types.Block
	added  *int
}

// chainLoop is the one goroutine that drives the consensus state machine:
// it feeds it blocks and votes, wakes it when it may seal, and carries out
// what it asks (gossip blocks and votes, submit evidence, report commits).
func (n *Node) chainLoop() {
	timer := n.clk.NewTimer(0)
	defer timer.Stop()
	expire := n.clk.NewTicker(5 * time.Second)
	defer expire.Stop()
	// Certificates are gossiped again every other slot, for peers that
	// missed votes (repeats of unchanged content are deduplicated).
	regossip := n.clk.NewTicker(2 * n.genesis.Slot())
	defer regossip.Stop()
	for {
		wait := n.chain.NextWake().Sub(n.cfg.Clock())
		if !timer.Stop() {
			select {
			case <-timer.C():
			default:
			}
		}
		timer.Reset(max(wait, 0))
		select {
		case <-n.ctx.Done():
			return
		case in := <-n.chainIn:
			err := n.feed(in)
			if in.done != nil {
				in.done <- err
			}
		case <-timer.C():
			n.chain.Tick()
		case <-expire.C():
			if k := n.pool.Expire(n.cfg.Clock(), n.genesis.TimeWindow()); k > 0 {
				n.log.Debug("expired pending transactions", "count", k)
			}
		case <-regossip.C():
			if certs := n.chain.Certificates(); len(certs) > 0 && n.originatesCerts() {
				n.publish(n.certTopic.Publish, types.EncodeCertificates(lastCerts(certs)), "certs")
			}
		}
		n.dispatch(n.chain.TakeEvents())
	}
}

func (n *Node) feed(in chainInput) error {
	switch {
	case len(in.blocks) > 0:
		return n.feedSync(in)
	case in.block != nil:
		err := n.chain.AddBlock(in.block)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, chain.ErrKnown), errors.Is(err, chain.ErrStale):
			if in.sync {
				return err
			}
			return nil
		case errors.Is(err, chain.ErrUnknownParent):
			n.kickSync()
			return nil
		}
		n.log.Warn("block refused", "height", in.block.Header.Height, "from", in.from, "err", err)
		n.metrics.blockResult("apply_" + types.Reason(err))
		return err
	case in.cert:
		return n.chain.AddCertificate(in.votes)
	}
	var first error
	for _, v := range in.votes {
		if err := n.chain.AddVote(v); err != nil && first == nil {
			first = err
		}
	}
	if first != nil {
		n.log.Debug("vote refused", "from", in.from, "err", first)
	}
	return first
}

// dispatch carries out the chain's events.
func (n *Node) dispatch(ev chain.Events) {
	for _, b := range ev.Blocks {
		n.publish(n.blkTopic.Publish, b.Compact().Encode(), "blocks")
	}
	for _, v := range ev.Votes {
		n.publish(n.voteTopic.Publish, v.Encode(), "votes")
	}
	if len(ev.Certificates) > 0 && n.originatesCerts() {
		n.publish(n.certTopic.Publish, types.EncodeCertificates(lastCerts(ev.Certificates)), "certs")
	}
	for _, e := range ev.Evidence {
		n.submitEvidence(e)
	}
	self := n.key.Public()
	for _, c := range ev.Committed {
		n.recent.add(c.Block)
		n.metrics.committed(c.Block, c.State)
		n.updateBarred(c.Block)
		n.commits.publish(CommitEvent{Block: c.Block, State: c.State, Proposed: c.Block.Header.Proposer == self,
			Arrived: c.Arrived, At: c.At})
	}
	if len(ev.Heads) > 0 {
		n.headChanged()
		n.metrics.head.Set(float64(ev.Heads[len(ev.Heads)-1].Header.Height))
	}
	if n.events != nil {
		n.events.publish(n.blockEvents(ev))
	}
}

// publish gossips data on a topic (its short name: blocks, votes, certs);
// a failure, other than at shutdown, is logged and counted
// (sixdomain_gossip_publish_failures_total), since the chain's step that
// produced it has no one to return it to.
func (n *Node) publish(pub func(context.Context, []byte, ...lp2pps.PubOpt) error, data []byte, topic string) {
	ctx, cancel := context.WithTimeout(n.ctx, n.wall(5*time.Second))
	defer cancel()
	if err := pub(ctx, data); err != nil && n.ctx.Err() == nil {
		n.tracer.publishFailed.WithLabelValues(topic).Inc()
		n.log.Warn("publishing on "+topic, "err", err)
	}
}

// lastCerts keeps the newest certificates that fit one message.
func lastCerts(certs [][]*types.FinalityVote) [][]*types.FinalityVote {
	if len(certs) > types.MaxCertificates {
		return certs[len(certs)-types.MaxCertificates:]
	}
	return certs
}

// submitEvidence turns two conflicting votes into a transaction signed by
// this node and submits it like any other.
func (n *Node) submitEvidence(e *types.Evidence) {
	self := n.key.Public()
	nonce := n.pool.PendingNonce(self, n.chain.HeadNonce(self)) + 1
	tx := types.NewEvidenceTx(n.genesis.ChainID, nonce, n.cfg.Clock().UnixMilli(), e)
	tx.Sign(n.key)
	if _, err := n.Submit(n.ctx, tx.Encode()); err != nil {
		n.log.Warn("submitting evidence", "err", err)
		return
	}
	n.log.Warn("equivocation evidence submitted", "tx", tx.Hash())
}

func (n *Node) kickSync() {
	select {
	case n.syncKick <- struct{}{}:
	default:
	}
}

// toChain hands work to the chain loop and, if wait, waits for the verdict.
func (n *Node) toChain(ctx context.Context, in chainInput, wait bool) error {
	if wait {
		in.done = make(chan error, 1)
	}
	select {
	case n.chainIn <- in:
	case <-ctx.Done():
		return ctx.Err()
	}
	if !wait {
		return nil
	}
	select {
	case err := <-in.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// SubscribeCommits returns a channel of blocks as they become final and a
// function that ends the subscription. Slow readers miss events rather than
// stall the chain (the channel holds buf events).
func (n *Node) SubscribeCommits(buf int) (<-chan CommitEvent, func()) {
	return n.commits.subscribe(buf)
}
