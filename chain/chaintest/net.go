package chaintest

import (
	"context"
	"crypto/sha256"
	"errors"
	"time"

	"github.com/sixdomain/sixdomain/chain"
	"github.com/sixdomain/sixdomain/consensus"
	"github.com/sixdomain/sixdomain/ledger/types"
)

type msgKind uint8

const (
	msgBlock msgKind = iota + 1
	msgVote
	msgTx
	msgSyncReq
	msgSyncResp
	msgCert
)

func (k msgKind) String() string {
	return [...]string{"?", "block", "vote", "tx", "sync-req", "sync-resp", "cert"}[k]
}

// message is what travels between nodes. Blocks, votes and transactions
// travel encoded: every receiver decodes its own copy.
type message struct {
	kind     msgKind
	from, to int
	raw      []byte
	cert     [][]byte // msgCert: the encoded votes
	id       [32]byte // sha256(raw), or of the votes: the relay seen-set key
	req      syncReq
	resp     *syncResp
}

type syncReq struct {
	id   uint64
	from uint64
	deep bool
}

type syncResp struct {
	id       uint64
	from     uint64
	deep     bool
	head     uint64
	headHash types.Hash
	blocks   [][]byte
	certs    [][][]byte // chain.Certificates
}

// Batch limits of the sync protocol (node/sync.go's syncMaxBlocks).
const syncMaxBlocks = 64

// send puts m on the wire from m.from to m.to: lost across a partition or
// with probability drop, delivered after latency, maybe twice.
func (c *Cluster) send(m message) {
	if !c.Linked(m.from, m.to) || c.net.Float64() < c.drop || c.filter != nil && !c.filter(m.from, m.to, m.kind.String()) {
		c.stats.Dropped++
		return
	}
	copies := 1
	if c.dup > 0 && c.net.Float64() < c.dup {
		copies = 2
		c.stats.Duplicated++
	}
	for i := 0; i < copies; i++ {
		d := c.cfg.Latency
		if c.cfg.Jitter > 0 {
			d += time.Duration(c.net.Int64N(int64(c.cfg.Jitter)))
		}
		c.after(d, func() { c.deliver(m) })
	}
}

// deliver hands m to its receiver, if it is up and still reachable.
func (c *Cluster) deliver(m message) {
	n := c.nodes[m.to]
	if !n.up || !c.Linked(m.from, m.to) {
		c.stats.Dropped++
		return
	}
	c.stats.Delivered++
	c.mix(uint64(m.kind), uint64(m.from), uint64(m.to))
	switch m.kind {
	case msgBlock:
		c.onBlock(n, m)
	case msgVote:
		c.onVote(n, m)
	case msgTx:
		c.onTx(n, m)
	case msgSyncReq:
		c.onSyncReq(n, m)
	case msgSyncResp:
		c.onSyncResp(n, m)
	case msgCert:
		c.onCert(n, m)
	}
}

// broadcast sends raw to every other node, and marks it seen at n.
func (c *Cluster) broadcast(n *Node, kind msgKind, raw []byte, to []int) {
	id := sha256.Sum256(raw)
	if n.seen != nil {
		n.seen[id] = struct{}{}
	}
	if to == nil {
		to = c.peers(n, false)
	}
	for _, p := range to {
		c.send(message{kind: kind, from: n.ID, to: p, raw: raw, id: id})
	}
}

// relay forwards a message n received and handled, once.
func (c *Cluster) relay(n *Node, m message) {
	for _, p := range c.peers(n, false) {
		if p != m.from {
			c.send(message{kind: m.kind, from: n.ID, to: p, raw: m.raw, cert: m.cert, id: m.id})
		}
	}
}

// peers lists the other nodes; reachable: only those up and linked (what
// a node's connection manager knows).
func (c *Cluster) peers(n *Node, reachable bool) []int {
	out := make([]int, 0, len(c.nodes)-1)
	for _, p := range c.nodes {
		if p == n || reachable && (!p.up || !c.Linked(n.ID, p.ID)) {
			continue
		}
		out = append(out, p.ID)
	}
	return out
}

// firstSeen reports whether n sees m for the first time, and marks it.
func (n *Node) firstSeen(id [32]byte) bool {
	if _, ok := n.seen[id]; ok {
		return false
	}
	n.seen[id] = struct{}{}
	return true
}

func (c *Cluster) onBlock(n *Node, m message) {
	if !n.firstSeen(m.id) {
		return
	}
	b, err := types.DecodeBlock(m.raw)
	if err != nil {
		c.fail("node %d could not decode a block from node %d: %v", n.ID, m.from, err)
		return
	}
	err = n.chain.AddBlock(b)
	switch {
	case err == nil:
		n.known[b.Hash()] = struct{}{}
		c.relay(n, m)
		c.retryCerts(n)
	case errors.Is(err, chain.ErrKnown):
		n.known[b.Hash()] = struct{}{}
		c.relay(n, m)
	case errors.Is(err, chain.ErrUnknownParent):
		c.relay(n, m)
		c.kickSync(n, false)
	case errors.Is(err, chain.ErrStale):
	default:
		c.logf(n.ID, "refused block %d %s from n%d: %v", b.Header.Height, shortHash(b.Hash()), m.from, err)
	}
	c.drain(n)
}

func (c *Cluster) onVote(n *Node, m message) {
	if !n.firstSeen(m.id) {
		return
	}
	v, err := types.DecodeVote(m.raw)
	if err != nil {
		c.fail("node %d could not decode a vote from node %d: %v", n.ID, m.from, err)
		return
	}
	err = n.chain.AddVote(v)
	if err != nil {
		if errors.Is(err, errConflictingFinality) {
			c.fail("node %d: safety alarm on vote %d→%d by %s: %v", n.ID, v.Source.Height, v.Target.Height, c.nameOf(v.Voter), err)
		}
		c.logf(n.ID, "vote %d→%d by %s refused: %v", v.Source.Height, v.Target.Height, c.nameOf(v.Voter), err)
	} else {
		c.relay(n, m)
	}
	c.drain(n)
}

func (c *Cluster) onTx(n *Node, m message) {
	tx, err := types.DecodeTx(m.raw)
	if err != nil {
		c.fail("node %d could not decode a transaction: %v", n.ID, err)
		return
	}
	// A refusal (duplicate, stale nonce, full pool) is the pool doing its
	// job, as for gossip in node.
	_ = n.pool.Add(tx, len(m.raw), n.chain.HeadNonce(tx.Sender))
}

// drain carries out what node n's chain asks for after an input.
func (c *Cluster) drain(n *Node) {
	if !n.up {
		return
	}
	ev := n.chain.TakeEvents()
	for _, cm := range ev.Committed {
		c.onCommit(n, cm)
	}
	for _, e := range ev.Evidence {
		c.onEvidence(n, e)
	}
	votes := ev.Votes
	for _, b := range ev.Blocks {
		n.known[b.Hash()] = struct{}{}
		c.stats.Sealed++
		n.sealed++
		if !n.Byzantine {
			c.sealTimes = append(c.sealTimes, c.now)
		}
		c.logf(n.ID, "sealed %d %s (diff %d, %d txs)", b.Header.Height, shortHash(b.Hash()), b.Header.Difficulty, len(b.Txs))
		if n.Byzantine && c.load.Float64() < c.cfg.EquivocateProb {
			votes = c.equivocate(n, b, votes)
			continue
		}
		c.broadcast(n, msgBlock, b.Encode(), nil)
	}
	for _, v := range votes {
		c.broadcast(n, msgVote, v.Encode(), nil)
	}
	for _, cert := range ev.Certificates {
		c.broadcastCert(n, encodeCert(cert))
	}
	if len(ev.Heads) > 0 {
		h := ev.Heads[len(ev.Heads)-1].Header.Height
		c.stats.MaxHead = max(c.stats.MaxHead, h)
	}
	if j := n.chain.Justified(); j != n.justified {
		n.justified = j
		c.logf(n.ID, "justified %d %s", j.Height, shortHash(j.Hash))
	}
	c.schedWake(n)
}

// equivocate sends b to one half of the byzantine node's peers and a
// twin of b (same height and parent, another time, so another hash) to
// the other half, with a finality vote for each. It returns the votes
// left to broadcast normally.
func (c *Cluster) equivocate(n *Node, b *types.Block, votes []*types.FinalityVote) []*types.FinalityVote {
	twin := &types.Block{Header: b.Header, Txs: b.Txs}
	twin.Header.Time += 1 + c.load.Int64N(250)
	twin.Seal = n.Key.Sign(twin.Header.SealBytes())
	peers := c.peers(n, false)
	c.load.Shuffle(len(peers), func(i, j int) { peers[i], peers[j] = peers[j], peers[i] })
	half1, half2 := peers[:len(peers)/2], peers[len(peers)/2:]
	c.broadcast(n, msgBlock, b.Encode(), half1)
	c.broadcast(n, msgBlock, twin.Encode(), half2)
	bh := b.Hash()
	var rest []*types.FinalityVote
	for _, v := range votes {
		if v.Target.Hash != bh || v.IsCommit() {
			rest = append(rest, v)
			continue
		}
		v2 := &types.FinalityVote{ChainID: v.ChainID, Source: v.Source,
			Target: types.Checkpoint{Height: twin.Header.Height, Hash: twin.Hash()}}
		v2.Sign(n.Key)
		c.broadcast(n, msgVote, v.Encode(), half1)
		c.broadcast(n, msgVote, v2.Encode(), half2)
		// And commit votes for both at once, justified or not: a double
		// vote on FFG epochs, which helps each half finalize its block.
		c1 := &types.FinalityVote{ChainID: v.ChainID, Source: v.Target, Target: v.Target}
		c2 := &types.FinalityVote{ChainID: v.ChainID, Source: v2.Target, Target: v2.Target}
		c1.Sign(n.Key)
		c2.Sign(n.Key)
		c.broadcast(n, msgVote, c1.Encode(), half1)
		c.broadcast(n, msgVote, c2.Encode(), half2)
	}
	c.stats.Equivocations++
	c.logf(n.ID, "EQUIVOCATE at %d: %s to %v, %s to %v", b.Header.Height, shortHash(bh), half1, shortHash(twin.Hash()), half2)
	return rest
}

// onEvidence records evidence and, at an honest node, submits it as a
// transaction as node.submitEvidence does, once per offender (node submits
// every pair it sees; one is enough to vote the offender out).
func (c *Cluster) onEvidence(n *Node, e *types.Evidence) {
	n.evidence++
	c.stats.Evidence++
	off, va, vb, err := types.DecodeEvidence(ChainID, e.Encode())
	if err != nil {
		c.fail("node %d reported invalid evidence: %v", n.ID, err)
		return
	}
	if va.IsCommit() || vb.IsCommit() {
		c.stats.CommitEvidence++
	}
	if on := c.nodeByKey(off); on == nil || !on.Byzantine {
		c.fail("node %d reported evidence against honest %s", n.ID, c.nameOf(off))
		return
	}
	if n.Byzantine || n.evSubmitted[off] {
		return
	}
	n.evSubmitted[off] = true
	self := n.Key.Public()
	head := n.chain.HeadNonce(self)
	tx := types.NewEvidenceTx(ChainID, n.pool.PendingNonce(self, head)+1, c.clock(n).UnixMilli(), e)
	tx.Sign(n.Key)
	if err := n.pool.Add(tx, 0, head); err != nil {
		c.logf(n.ID, "evidence tx refused by own pool: %v", err)
		return
	}
	c.stats.EvidenceTxs++
	c.logf(n.ID, "evidence against %s, tx nonce %d", c.nameOf(off), tx.Nonce)
	c.broadcast(n, msgTx, tx.Encode(), nil)
}

// ---- certificates ----

// maxPendingCerts bounds the certificates a node keeps for blocks it does
// not know yet.
const maxPendingCerts = 32

func encodeCert(votes []*types.FinalityVote) [][]byte {
	out := make([][]byte, len(votes))
	for i, v := range votes {
		out[i] = v.Encode()
	}
	return out
}

func certID(cert [][]byte) [32]byte {
	h := sha256.New()
	for _, v := range cert {
		h.Write(v)
	}
	var id [32]byte
	h.Sum(id[:0])
	return id
}

// broadcastCert gossips a certificate of a newly justified block.
func (c *Cluster) broadcastCert(n *Node, cert [][]byte) {
	id := certID(cert)
	n.seen[id] = struct{}{}
	for _, p := range c.peers(n, false) {
		c.send(message{kind: msgCert, from: n.ID, to: p, cert: cert, id: id})
	}
}

func (c *Cluster) onCert(n *Node, m message) {
	if !n.firstSeen(m.id) {
		return
	}
	if c.applyCert(n, m.from, m.cert, true) {
		c.relay(n, m)
	}
}

// applyCert decodes a certificate and feeds it to the chain; one whose
// blocks are not known yet is kept to offer again (consensus.
// ErrUnknownCheckpoint). It reports whether the chain accepted it.
func (c *Cluster) applyCert(n *Node, from int, cert [][]byte, gossip bool) bool {
	if len(cert) == 0 {
		return false
	}
	votes := make([]*types.FinalityVote, 0, len(cert))
	for _, raw := range cert {
		v, err := types.DecodeVote(raw)
		if err != nil {
			c.fail("node %d could not decode a certificate vote from n%d: %v", n.ID, from, err)
			return false
		}
		votes = append(votes, v)
	}
	// A certificate whose target is final here teaches nothing (and the
	// chain would check every signature to find that out).
	before := n.chain.Finalized().Height
	if votes[0].Target.Height <= before {
		return true
	}
	err := n.chain.AddCertificate(votes)
	switch {
	case err == nil:
		if after := n.chain.Finalized().Height; after > before {
			c.stats.Certificates++
			c.logf(n.ID, "certificate %d→%d from n%d (gossip %t) finalized %d→%d", votes[0].Source.Height, votes[0].Target.Height, from, gossip, before, after)
		}
	case errors.Is(err, consensus.ErrUnknownCheckpoint):
		if len(n.pendingCerts) == maxPendingCerts {
			n.pendingCerts = n.pendingCerts[1:]
		}
		n.pendingCerts = append(n.pendingCerts, cert)
	case errors.Is(err, errConflictingFinality):
		c.fail("node %d: safety alarm on a certificate from n%d: %v", n.ID, from, err)
	default:
		c.logf(n.ID, "certificate %d→%d from n%d refused: %v", votes[0].Source.Height, votes[0].Target.Height, from, err)
	}
	c.drain(n)
	return err == nil
}

// retryCerts offers the kept certificates again after blocks arrived.
func (c *Cluster) retryCerts(n *Node) {
	if len(n.pendingCerts) == 0 {
		return
	}
	pending := n.pendingCerts
	n.pendingCerts = nil
	for _, cert := range pending {
		c.applyCert(n, n.ID, cert, false)
	}
}

// ---- sync ----

// kickSync asks a random reachable peer for blocks from n's head+1,
// unless a request is in flight.
func (c *Cluster) kickSync(n *Node, deep bool) { c.syncFrom(n, deep, -1) }

// syncFrom asks peer p (-1: a random reachable one) for blocks from n's
// head+1 (deep: from its finalized height+1), unless a request is in
// flight.
func (c *Cluster) syncFrom(n *Node, deep bool, p int) {
	if !n.up || n.syncID != 0 {
		return
	}
	if p < 0 {
		peers := c.peers(n, true)
		if len(peers) == 0 {
			return
		}
		p = peers[c.net.IntN(len(peers))]
	}
	c.reqID++
	id := c.reqID
	from := n.chain.Head().Height + 1
	if deep {
		from = n.chain.Finalized().Height + 1
	}
	n.syncID = id
	c.stats.SyncRequests++
	c.send(message{kind: msgSyncReq, from: n.ID, to: p, req: syncReq{id: id, from: from, deep: deep}})
	inc := n.inc
	c.after(c.cfg.SyncTimeout, func() {
		if n.inc == inc && n.syncID == id {
			n.syncID = 0
		}
	})
}

// onSyncReq serves a sync request as node.serveSync does.
func (c *Cluster) onSyncReq(n *Node, m message) {
	ctx := context.Background()
	hd := n.chain.Head()
	resp := &syncResp{id: m.req.id, from: m.req.from, deep: m.req.deep, head: hd.Height, headHash: hd.LastBlockHash}
	final := n.store.State().Height
	h := m.req.from
	for ; h <= final && len(resp.blocks) < syncMaxBlocks; h++ {
		b, err := n.store.Block(ctx, h)
		if err != nil {
			c.fail("node %d: store block %d of %d: %v", n.ID, h, final, err)
			return
		}
		resp.blocks = append(resp.blocks, b.Encode())
	}
	if h > final && len(resp.blocks) < syncMaxBlocks {
		for _, b := range n.chain.HeadBlocks(h, syncMaxBlocks-len(resp.blocks)) {
			resp.blocks = append(resp.blocks, b.Encode())
		}
	}
	for _, cert := range n.chain.Certificates() {
		resp.certs = append(resp.certs, encodeCert(cert))
	}
	c.send(message{kind: msgSyncResp, from: n.ID, to: m.from, resp: resp})
}

// onSyncResp applies a sync response: blocks in order, then the
// certificate.
func (c *Cluster) onSyncResp(n *Node, m message) {
	r := m.resp
	if n.syncID != r.id {
		return // abandoned, or from an earlier incarnation
	}
	n.syncID = 0
	applied, fork := 0, false
	for i, raw := range r.blocks {
		b, err := types.DecodeBlock(raw)
		if err != nil {
			c.fail("node %d could not decode a synced block: %v", n.ID, err)
			return
		}
		if b.Header.Height != r.from+uint64(i) {
			c.fail("node %d asked n%d for blocks from %d, got %d at %d", n.ID, m.from, r.from, b.Header.Height, i)
			return
		}
		n.seen[sha256.Sum256(raw)] = struct{}{}
		err = n.chain.AddBlock(b)
		switch {
		case err == nil:
			n.known[b.Hash()] = struct{}{}
			applied++
			continue
		case errors.Is(err, chain.ErrKnown):
			n.known[b.Hash()] = struct{}{}
			continue
		case errors.Is(err, chain.ErrStale):
			continue
		case errors.Is(err, chain.ErrUnknownParent):
			// The peer is on another branch below our head: node/sync.go
			// would ask from head+1 again and again. Ask from the
			// finalized height instead.
			fork = i == 0
		default:
			c.logf(n.ID, "synced block %d from n%d refused: %v", b.Header.Height, m.from, err)
		}
		break
	}
	c.stats.SyncBlocks += applied
	if applied > 0 {
		c.retryCerts(n)
	}
	for _, raw := range r.certs {
		c.applyCert(n, m.from, raw, false)
	}
	if applied > 0 {
		c.logf(n.ID, "synced %d blocks from n%d (from %d, deep %t), head %d", applied, m.from, r.from, r.deep, n.chain.Head().Height)
	}
	c.drain(n)
	// The peer's head is on a branch we do not know (a lower one, with as
	// much difficulty, is preferred by the fork choice): node/sync.go would
	// never fetch it, since it asks only above its own head.
	_, knownHead := n.known[r.headHash]
	unknownBranch := !knownHead && r.head > n.chain.Finalized().Height
	switch {
	case (fork || unknownBranch) && !r.deep && !c.cfg.NaiveSync:
		// Ask the same peer: it has the branch.
		c.stats.SyncForks++
		c.syncFrom(n, true, m.from)
	case applied > 0 && (len(r.blocks) == syncMaxBlocks || r.head > n.chain.Head().Height):
		c.kickSync(n, false)
	}
}
