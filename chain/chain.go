package chain

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/ipfs/go-datastore"

	"github.com/sixdomain/sixdomain/consensus"
	"github.com/sixdomain/sixdomain/contracts"
	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger"
	"github.com/sixdomain/sixdomain/ledger/smt"
	"github.com/sixdomain/sixdomain/ledger/types"
	"github.com/sixdomain/sixdomain/mempool"
)

// Errors of AddBlock that are not the block's fault.
var (
	ErrKnown         = errors.New("block already known")
	ErrStale         = errors.New("block at or below the finalized height")
	ErrUnknownParent = errors.New("parent unknown")
	ErrTooDeep       = errors.New("too many unfinalized blocks")
)

// Config configures a Chain.
type Config struct {
	Genesis *types.Genesis
	// Key is this node's key; it seals and votes when it is an authority.
	Key   *identity.PrivateKey
	Store *ledger.Store
	// Datastore is the chain's own namespace (ledger.Spaces.Chain): its
	// last finality vote, the recovery record and the total difficulty of
	// the finalized tip. It must be the store's root datastore or a
	// namespace of it, since the total difficulty is written in the batch
	// of each finalized block (ledger.Write).
	Datastore datastore.Batching
	// Snapshots is where the EIP-225 snapshot checkpoints are kept
	// (ledger.Spaces.Consensus); nil: Datastore.
	Snapshots datastore.Batching
	Pool      *mempool.Pool
	Sigs      *types.SigCache
	Now       func() time.Time
	Rand      *rand.Rand
	Logger    *slog.Logger
	// Proposals are this authority's standing votes on the authority set:
	// key → add (true) or drop (false). Authorities with evidence against
	// them on the ledger are voted out without being listed here.
	Proposals map[identity.PublicKey]bool
	// MaxUnfinalized bounds the blocks kept above the finalized one.
	MaxUnfinalized int
}

// Committed reports a block that became final and was written to the store.
type Committed struct {
	Block   *types.Block
	State   ledger.State
	Arrived time.Time // when this node first had the block
	At      time.Time // when it became final here
}

// Events is what the chain asks its owner to do or report.
type Events struct {
	Blocks []*types.Block        // sealed here: gossip them
	Votes  []*types.FinalityVote // cast here: gossip them
	// Certificates of newly justified blocks: gossip them, so that nodes
	// that missed votes reach the same justified checkpoints.
	Certificates [][]*types.FinalityVote
	Evidence     []*types.Evidence // conflicting votes seen: submit as transactions
	Committed    []Committed       // newly final, in order
	Heads        []*types.Block    // new heads (the last is current)
}

// txLoc places a transaction in an unfinalized block.
type txLoc struct {
	e     *entry
	index uint32
}

type entry struct {
	block    *types.Block
	hash     types.Hash
	parent   *entry // nil when the parent is the finalized tip
	state    ledger.State
	changes  *ledger.Changes
	td       uint64
	children []*entry
	arrived  time.Time
	enc      []byte // block.Encode(), once asked for (recovery records)
}

// encoded returns the block's encoding, computed once.
func (e *entry) encoded() []byte {
	if e.enc == nil {
		e.enc = e.block.Encode()
	}
	return e.enc
}

// Chain is the consensus state machine. See the package doc.
type Chain struct {
	cfg Config
	// ctx is the context of the store I/O inside the synchronous steps
	// (AddBlock, AddVote, AddCertificate, Tick: reads of the store,
	// snapshot checkpoints, vote persistence and finalization), which
	// have none of their own: the context New was given, without its
	// cancellation, so that a step never stops halfway through its
	// writes because the owner's context ended; the owner stops calling
	// the chain instead.
	ctx   context.Context
	poa   *consensus.PoA
	snaps *consensus.Snapshots
	fin   *consensus.Finality
	// programs caches compiled contracts for the blocks' state
	// transitions (compiling is deterministic).
	programs *ledger.Programs
	params   ledger.Params
	log      *slog.Logger

	mu        sync.RWMutex
	tipHeader *types.Header // nil at genesis
	tipState  ledger.State
	tipTD     uint64
	blocks    map[types.Hash]*entry
	// txs indexes the transactions of the unfinalized blocks (any fork).
	txs      map[types.Hash][]txLoc
	head     *entry // nil when the head is the finalized tip
	orphans  map[types.Hash][]*types.Block
	nOrphans int

	sealFor types.Hash
	sealAt  time.Time
	sealOK  bool
	events  Events
}

const maxOrphans = 256

// Bounds of one store batch of finalize (the first block of a batch is
// always in it).
const (
	finalizeBatchBlocks = 64
	finalizeBatchTxs    = 16384
)

// The chain's keys, in its namespace (Config.Datastore; /chain/... of the
// node's datastore, as in the flat layout before the namespaces).
var (
	ownVoteKey  = datastore.NewKey("/own-vote")
	recoveryKey = datastore.NewKey("/recovery")
	tdKey       = datastore.NewKey("/tip-td") // total difficulty of the finalized tip, CBOR uint
)

// New builds a chain over a store whose committed blocks are final.
func New(ctx context.Context, cfg Config) (*Chain, error) {
	if cfg.Genesis == nil || cfg.Key == nil || cfg.Store == nil || cfg.Datastore == nil || cfg.Pool == nil || cfg.Sigs == nil {
		return nil, errors.New("chain: genesis, key, store, datastore, pool and signature cache are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxUnfinalized <= 0 {
		cfg.MaxUnfinalized = 20_000
	}
	if cfg.Snapshots == nil {
		cfg.Snapshots = cfg.Datastore
	}
	if !cfg.Store.Joins(cfg.Datastore) {
		return nil, errors.New("chain: the chain's datastore is neither the store's nor a namespace of it, so its records cannot commit with the blocks")
	}
	poa, err := consensus.NewPoA(cfg.Genesis)
	if err != nil {
		return nil, fmt.Errorf("chain: %w", err)
	}
	cctx := context.WithoutCancel(ctx)
	c := &Chain{cfg: cfg, ctx: cctx, poa: poa, snaps: consensus.NewSnapshots(cctx, poa, cfg.Snapshots), programs: ledger.NewPrograms(256),
		params: ledger.ParamsFromGenesis(cfg.Genesis), log: cfg.Logger,
		blocks: map[types.Hash]*entry{}, txs: map[types.Hash][]txLoc{}, orphans: map[types.Hash][]*types.Block{}}
	c.tipState = cfg.Store.State()
	if c.tipState.Height > 0 {
		if c.tipHeader, err = cfg.Store.Header(ctx, c.tipState.Height); err != nil {
			return nil, fmt.Errorf("chain: %w", err)
		}
		if c.tipTD, err = c.loadTD(ctx); err != nil {
			return nil, err
		}
	}
	c.fin = consensus.NewFinality(c.tipCheckpoint())
	raw, err := cfg.Datastore.Get(ctx, ownVoteKey)
	switch {
	case err == nil:
		v, err := types.DecodeVote(raw)
		if err != nil {
			// Voting on without it could sign a slashable vote.
			return nil, fmt.Errorf("chain: corrupt own last vote: %w", err)
		}
		c.fin.SetOwnLastVote(*v)
	case !errors.Is(err, datastore.ErrNotFound):
		return nil, fmt.Errorf("chain: reading own last vote: %w", err)
	}
	c.recover(ctx)
	return c, nil
}

// loadTD reads the total difficulty of the finalized tip. A store written
// before the record joined the block's batch may lack it (a crash between
// the two writes): then it is summed from the stored headers.
func (c *Chain) loadTD(ctx context.Context) (uint64, error) {
	raw, err := c.cfg.Datastore.Get(ctx, tdKey)
	if err == nil {
		var td uint64
		if err := cbor.Unmarshal(raw, &td); err != nil {
			return 0, fmt.Errorf("chain: corrupt total difficulty record: %w", err)
		}
		return td, nil
	}
	if !errors.Is(err, datastore.ErrNotFound) {
		return 0, fmt.Errorf("chain: reading the total difficulty: %w", err)
	}
	c.log.Warn("no total difficulty record; summing the stored headers", "height", c.tipState.Height)
	var td uint64
	for h := uint64(1); h <= c.tipState.Height; h++ {
		hd, err := c.cfg.Store.Header(ctx, h)
		if err != nil {
			return 0, fmt.Errorf("chain: summing the total difficulty: %w", err)
		}
		td += uint64(hd.Difficulty)
	}
	return td, nil
}

// recoveryWire is what an authority persists with each of its votes: the
// unfinalized blocks up to the vote's source and the certificates that
// justified it. After a restart they prove the source justified again; an
// authority that forgot it could not vote again without a surround vote,
// and if several forgot, finality could stall for good.
type recoveryWire struct {
	_            struct{} `cbor:",toarray"`
	Blocks       [][]byte
	Certificates []byte
}

// maxRecoveryBlocks bounds the blocks kept for recovery; further back the
// chain relies on peers' certificates.
const maxRecoveryBlocks = 64

func (c *Chain) recoveryRecord(source types.Checkpoint) []byte {
	var blocks [][]byte
	if e, ok := c.blocks[source.Hash]; ok {
		for x := e; x != nil && len(blocks) <= maxRecoveryBlocks; x = x.parent {
			blocks = append(blocks, x.encoded())
		}
		if len(blocks) > maxRecoveryBlocks {
			blocks = nil
		}
		slices.Reverse(blocks)
	}
	w := recoveryWire{Blocks: blocks}
	if certs := c.fin.Certificates(); len(certs) > 0 {
		w.Certificates = types.EncodeCertificates(certs[max(0, len(certs)-types.MaxCertificates):])
	}
	raw, err := cbor.Marshal(w)
	if err != nil {
		return nil
	}
	return raw
}

// recover replays the recovery record written with the last own vote.
func (c *Chain) recover(ctx context.Context) {
	raw, err := c.cfg.Datastore.Get(ctx, recoveryKey)
	if err != nil {
		return
	}
	var w recoveryWire
	if err := cbor.Unmarshal(raw, &w); err != nil {
		c.log.Warn("unreadable recovery record", "err", err)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, rb := range w.Blocks {
		b, err := types.DecodeBlock(rb)
		if err != nil {
			return
		}
		if err := c.addBlock(b); err != nil && !errors.Is(err, ErrKnown) && !errors.Is(err, ErrStale) {
			c.log.Debug("recovery block", "height", b.Header.Height, "err", err)
		}
	}
	if len(w.Certificates) > 0 {
		certs, err := types.DecodeCertificates(w.Certificates)
		if err != nil {
			return
		}
		for _, cert := range certs {
			upd, err := c.fin.AddCertificate(c.cfg.Genesis.ChainID, cert, treeInfo{c})
			if err != nil {
				c.log.Debug("recovery certificate", "err", err)
			}
			c.handle(upd)
		}
	}
	c.afterChange()
	c.events = Events{} // nothing of this is news to the network
}

func (c *Chain) tipCheckpoint() types.Checkpoint {
	return types.Checkpoint{Height: c.tipState.Height, Hash: c.tipState.LastBlockHash}
}

// TakeEvents returns and clears the pending events.
func (c *Chain) TakeEvents() Events {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.events
	c.events = Events{}
	return e
}

// ---- block tree queries used by consensus (call with c.mu held) ----

// Header implements consensus.HeaderReader over the tree and the store.
func (c *Chain) Header(h types.Hash) (*types.Header, bool) {
	if e, ok := c.blocks[h]; ok {
		return &e.block.Header, true
	}
	if c.tipHeader != nil && h == c.tipState.LastBlockHash {
		return c.tipHeader, true
	}
	hd, err := c.cfg.Store.HeaderByHash(c.ctx, h)
	if err != nil {
		return nil, false
	}
	return hd, true
}

// treeInfo adapts the chain to consensus.BlockInfo. It is used only while
// c.mu is held.
type treeInfo struct{ c *Chain }

func (t treeInfo) Known(cp types.Checkpoint) bool {
	if e, ok := t.c.blocks[cp.Hash]; ok {
		return e.block.Header.Height == cp.Height
	}
	return t.c.finalizedAt(cp)
}

// finalizedAt reports whether cp is on the finalized chain.
func (c *Chain) finalizedAt(cp types.Checkpoint) bool {
	if cp.Height > c.tipState.Height {
		return false
	}
	if cp.Height == 0 {
		return cp.Hash == c.cfg.Store.GenesisHash()
	}
	if cp.Height == c.tipState.Height {
		return cp.Hash == c.tipState.LastBlockHash
	}
	h, err := c.cfg.Store.Header(c.ctx, cp.Height)
	return err == nil && h.Hash() == cp.Hash
}

func (t treeInfo) IsAncestor(a, b types.Checkpoint) bool {
	if a.Height > b.Height {
		return false
	}
	if e, ok := t.c.blocks[b.Hash]; ok {
		for e != nil && e.block.Header.Height > a.Height {
			e = e.parent
		}
		if e != nil {
			return e.hash == a.Hash
		}
		return t.c.finalizedAt(a)
	}
	return t.c.finalizedAt(b) && t.c.finalizedAt(a)
}

func (t treeInfo) Voters(cp types.Checkpoint) ([]identity.PublicKey, bool) {
	if !t.Known(cp) {
		return nil, false
	}
	snap, err := t.c.snaps.At(cp.Height, cp.Hash, t.c)
	if err != nil {
		return nil, false
	}
	return snap.Signers, true
}

// nonceOf returns sender's last nonce as of block e (nil: the finalized tip).
func (c *Chain) nonceOf(e *entry, sender identity.PublicKey) uint64 {
	for ; e != nil; e = e.parent {
		if n, ok := e.changes.Nonces[sender]; ok {
			return n
		}
	}
	n, err := c.cfg.Store.Nonce(sender)
	if err != nil {
		c.log.Error("reading nonce", "err", err)
	}
	return n
}

// overlay is the ledger.Reader of a block whose parent is e (nil: the
// finalized tip): the store under the changes of e and its ancestors in
// the tree, with the authority set of snap.
type overlay struct {
	c    *Chain
	e    *entry
	snap *consensus.Snapshot
}

func (o overlay) Nonce(sender identity.PublicKey) (uint64, error) {
	return o.c.nonceOf(o.e, sender), nil
}

func (o overlay) DID(k identity.PublicKey) (*types.DIDRecord, error) {
	return o.c.didOf(o.e, k)
}

func (o overlay) IsAuthority(k identity.PublicKey) bool { return o.snap.IsSigner(k) }

// Node gives a state-tree node: one an unfinalized ancestor added, or a
// committed one.
func (o overlay) Node(h smt.Hash) ([]byte, error) {
	for e := o.e; e != nil; e = e.parent {
		if n, ok := e.changes.Tree.Nodes[h]; ok {
			return n, nil
		}
	}
	return o.c.cfg.Store.Node(h)
}

// StateGet reads a module's state key through the unfinalized ancestors'
// writes, then the store.
func (o overlay) StateGet(key []byte) ([]byte, error) {
	for e := o.e; e != nil; e = e.parent {
		if v, ok := e.changes.KV[string(key)]; ok {
			return v, nil
		}
	}
	return o.c.cfg.Store.StateGet(key)
}

// RecordAt looks a data record up through the unfinalized ancestors,
// then the store.
func (o overlay) RecordAt(sender identity.PublicKey, stream string, height uint64) (bool, error) {
	for e := o.e; e != nil; e = e.parent {
		if e.block.Header.Height == height {
			for _, r := range e.changes.Records {
				if r.Sender == sender && r.Stream == stream {
					return true, nil
				}
			}
			return false, nil
		}
	}
	return o.c.cfg.Store.RecordAt(sender, stream, height)
}

// Program compiles contract code through the chain's cache.
func (o overlay) Program(hash types.Hash, code []byte) (*contracts.Program, error) {
	return o.c.programs.Program(hash, code)
}

// AuthoritiesAfter applies h's EIP-225 fields to the parent's snapshot.
func (o overlay) AuthoritiesAfter(h *types.Header) ([]identity.PublicKey, error) {
	next, err := o.snap.Apply([]*types.Header{h})
	if err != nil {
		return nil, err
	}
	return next.Signers, nil
}

// didOf returns the latest record of the DID k names as of block e (nil:
// the finalized tip).
func (c *Chain) didOf(e *entry, k identity.PublicKey) (*types.DIDRecord, error) {
	for ; e != nil; e = e.parent {
		for i := len(e.changes.DIDs) - 1; i >= 0; i-- {
			if r := e.changes.DIDs[i].Record; r.HasKey(k) {
				return r, nil
			}
		}
	}
	return c.cfg.Store.DID(k)
}

func (c *Chain) stateOf(e *entry) (ledger.State, *types.Header, uint64) {
	if e == nil {
		return c.tipState, c.tipHeader, c.tipTD
	}
	return e.state, &e.block.Header, e.td
}

// ---- inputs ----

// AddBlock verifies a block and adds it to the tree, then runs fork
// choice, votes, and finalizes what became final. Blocks whose parent is
// unknown are kept (bounded) until it arrives, and ErrUnknownParent tells
// the owner to sync.
func (c *Chain) AddBlock(b *types.Block) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	err := c.addBlock(b)
	if err != nil {
		return err
	}
	c.afterChange()
	return nil
}

func (c *Chain) addBlock(b *types.Block) error {
	h := b.Hash()
	if _, ok := c.blocks[h]; ok {
		return ErrKnown
	}
	if b.Header.Height <= c.tipState.Height {
		if c.finalizedAt(types.Checkpoint{Height: b.Header.Height, Hash: h}) {
			return ErrKnown
		}
		return fmt.Errorf("%w: block %d, finalized %d", ErrStale, b.Header.Height, c.tipState.Height)
	}
	var parent *entry
	if b.Header.Parent != c.tipState.LastBlockHash {
		p, ok := c.blocks[b.Header.Parent]
		if !ok {
			c.keepOrphan(b)
			return fmt.Errorf("%w: block %d's parent %s", ErrUnknownParent, b.Header.Height, b.Header.Parent)
		}
		parent = p
	}
	if len(c.blocks) >= c.cfg.MaxUnfinalized {
		return fmt.Errorf("%w: %d blocks above finalized height %d", ErrTooDeep, len(c.blocks), c.tipState.Height)
	}
	pState, pHeader, pTD := c.stateOf(parent)
	snap, err := c.snaps.At(pState.Height, pState.LastBlockHash, c)
	if err != nil {
		return fmt.Errorf("chain: snapshot at %d: %w", pState.Height, err)
	}
	if err := c.poa.VerifyHeader(snap, pHeader, &b.Header, b.Seal, c.cfg.Now()); err != nil {
		return fmt.Errorf("%w: %w", types.ErrBadBlock, err)
	}
	if err := b.VerifyTxs(c.cfg.Sigs); err != nil {
		return err
	}
	next, changes, err := ledger.Apply(pState, overlay{c, parent, snap}, c.params, b)
	if err != nil {
		return err
	}
	e := &entry{block: b, hash: h, parent: parent, state: next, changes: changes,
		td: pTD + uint64(b.Header.Difficulty), arrived: c.cfg.Now()}
	c.blocks[h] = e
	for i, tx := range b.Txs {
		th := tx.Hash()
		c.txs[th] = append(c.txs[th], txLoc{e: e, index: uint32(i)})
	}
	if parent != nil {
		parent.children = append(parent.children, e)
	}
	// Children that were waiting for this block.
	if waiting := c.orphans[h]; len(waiting) > 0 {
		delete(c.orphans, h)
		c.nOrphans -= len(waiting)
		for _, o := range waiting {
			if err := c.addBlock(o); err != nil && !errors.Is(err, ErrKnown) {
				c.log.Debug("orphan refused", "height", o.Header.Height, "err", err)
			}
		}
	}
	return nil
}

func (c *Chain) keepOrphan(b *types.Block) {
	if c.nOrphans >= maxOrphans {
		return
	}
	for _, o := range c.orphans[b.Header.Parent] {
		if o.Hash() == b.Hash() {
			return
		}
	}
	c.orphans[b.Header.Parent] = append(c.orphans[b.Header.Parent], b)
	c.nOrphans++
}

// AddVote takes a finality vote from the network (signature checked here).
func (c *Chain) AddVote(v *types.FinalityVote) error {
	if v.ChainID != c.cfg.Genesis.ChainID {
		return fmt.Errorf("%w: vote for chain %q", types.ErrWrongChain, v.ChainID)
	}
	if err := v.VerifySignature(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	upd, err := c.fin.AddVote(v, treeInfo{c})
	c.handle(upd)
	c.afterChange()
	return err
}

// AddCertificate takes a finality certificate (the votes of one
// supermajority link) from sync or gossip. Its votes count even where they
// conflict with votes the gadget holds, which reconciles nodes whose views
// of justification diverged (lost votes, restarts, an equivocator).
func (c *Chain) AddCertificate(votes []*types.FinalityVote) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	upd, err := c.fin.AddCertificate(c.cfg.Genesis.ChainID, votes, treeInfo{c})
	c.handle(upd)
	c.afterChange()
	return err
}

// Certificates returns the certificate that finalized the last final block
// and those of the justified blocks above it, in height order.
func (c *Chain) Certificates() [][]*types.FinalityVote {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.fin.Certificates()
}

// afterChange runs fork choice, votes for a new head and retries buffered
// votes until nothing changes.
func (c *Chain) afterChange() {
	for i := 0; i < 8; i++ {
		moved := c.chooseHead()
		c.vote()
		upd := c.fin.Retry(treeInfo{c})
		c.handle(upd)
		if !moved && upd.Finalized == nil && len(upd.Justified) == 0 {
			return
		}
	}
}

// ---- fork choice ----

func better(a, b *entry) bool {
	if a.td != b.td {
		return a.td > b.td
	}
	if a.block.Header.Height != b.block.Header.Height {
		return a.block.Header.Height < b.block.Header.Height
	}
	return bytes.Compare(a.hash[:], b.hash[:]) < 0
}

// chooseHead picks the head; it reports whether the head changed.
func (c *Chain) chooseHead() bool {
	just := c.fin.Justified()
	var best *entry
	for _, e := range c.blocks {
		if len(e.children) > 0 {
			continue
		}
		if just.Height > c.tipState.Height && !(treeInfo{c}).IsAncestor(just, types.Checkpoint{Height: e.block.Header.Height, Hash: e.hash}) {
			continue
		}
		if best == nil || better(e, best) {
			best = e
		}
	}
	if best == c.head {
		return false
	}
	old := c.head
	c.head = best
	c.onHeadChange(old, best)
	return true
}

// onHeadChange keeps the mempool in step with the head: transactions of
// blocks that left the head chain go back, those of blocks that joined it
// leave.
func (c *Chain) onHeadChange(old, cur *entry) {
	onChain := map[*entry]bool{}
	for e := cur; e != nil; e = e.parent {
		onChain[e] = true
	}
	for e := old; e != nil && !onChain[e]; e = e.parent {
		for sender := range e.changes.Nonces {
			c.cfg.Pool.Rewind(sender, c.nonceOf(cur, sender))
		}
		for _, tx := range e.block.Txs {
			// Best effort: one the pool refuses (its nonce is used on
			// the new head, the pool is full) is dropped like refused gossip.
			_ = c.cfg.Pool.Add(tx, 0, c.nonceOf(cur, tx.Sender))
		}
	}
	for e := cur; e != nil; e = e.parent {
		if e == old {
			break
		}
		for sender, n := range e.changes.Nonces {
			c.cfg.Pool.Committed(sender, n)
		}
	}
	if cur != nil {
		c.events.Heads = append(c.events.Heads, cur.block)
	}
}

// ---- voting and finality ----

// vote casts this authority's votes for its head: the normal vote (the
// link from the highest justified ancestor to the head) once per head
// height, and the commit vote (Finality.NextCommit) on the highest
// justified block of the head chain once it is justified, which
// finalizes that block within its slot.
func (c *Chain) vote() {
	if c.head == nil {
		return
	}
	self := c.cfg.Key.Public()
	head := types.Checkpoint{Height: c.head.block.Header.Height, Hash: c.head.hash}
	if v, ok := c.fin.NextVote(c.cfg.Genesis.ChainID, self, head, treeInfo{c}); ok {
		c.cast(v)
	}
	if v, ok := c.fin.NextCommit(c.cfg.Genesis.ChainID, self, head, treeInfo{c}); ok {
		c.cast(v)
	}
}

// cast signs, persists, counts and sends one of this authority's votes.
func (c *Chain) cast(v types.FinalityVote) {
	self := c.cfg.Key.Public()
	voters, ok := treeInfo{c}.Voters(v.Source)
	if !ok || !slices.Contains(voters, self) {
		return
	}
	v.Sign(c.cfg.Key)
	// Persist before it leaves: a restarted authority must never sign a
	// vote that conflicts with this one.
	if err := c.persistVote(c.ctx, &v); err != nil {
		c.log.Error("persisting own vote", "err", err)
		return
	}
	c.fin.SetOwnLastVote(v)
	upd, err := c.fin.AddVote(&v, treeInfo{c})
	if err != nil {
		c.log.Error("own vote refused", "err", err)
	}
	c.events.Votes = append(c.events.Votes, &v)
	c.handle(upd)
}

// persistVote writes the vote and its recovery record in one batch and
// syncs it.
func (c *Chain) persistVote(ctx context.Context, v *types.FinalityVote) error {
	b, err := c.cfg.Datastore.Batch(ctx)
	if err != nil {
		return err
	}
	if err := b.Put(ctx, ownVoteKey, v.Encode()); err != nil {
		return err
	}
	if rec := c.recoveryRecord(v.Source); rec != nil {
		if err := b.Put(ctx, recoveryKey, rec); err != nil {
			return err
		}
	}
	if err := b.Commit(ctx); err != nil {
		return err
	}
	return c.cfg.Datastore.Sync(ctx, datastore.NewKey("/"))
}

func (c *Chain) handle(upd consensus.Update) {
	c.events.Evidence = append(c.events.Evidence, upd.Evidence...)
	if upd.Err != nil {
		c.log.Error("SAFETY ALARM: a supermajority link conflicts with the finalized chain", "err", upd.Err)
	}
	for _, j := range upd.Justified {
		if cert := c.fin.Certificate(j); len(cert) > 0 {
			c.events.Certificates = append(c.events.Certificates, cert)
		}
	}
	if upd.Finalized != nil {
		if err := c.finalize(*upd.Finalized); err != nil {
			c.log.Error("finalizing", "height", upd.Finalized.Height, "err", err)
		}
	}
}

// finalize writes the blocks up to cp to the store and prunes the tree.
func (c *Chain) finalize(cp types.Checkpoint) error {
	if cp.Height <= c.tipState.Height {
		return nil
	}
	e, ok := c.blocks[cp.Hash]
	if !ok {
		return fmt.Errorf("finalized block %s unknown", cp.Hash)
	}
	var path []*entry
	for x := e; x != nil; x = x.parent {
		path = append(path, x)
	}
	slices.Reverse(path)
	now := c.cfg.Now()
	// The path goes to the store in batches (one sync each; a crash keeps
	// a batch whole or drops it whole): a node that catches up finalizes
	// hundreds of blocks at once.
	for len(path) > 0 {
		k, txs := 0, 0
		for k < len(path) && k < finalizeBatchBlocks && (k == 0 || txs+len(path[k].block.Txs) <= finalizeBatchTxs) {
			txs += len(path[k].block.Txs)
			k++
		}
		chunk := path[:k]
		path = path[k:]
		commits := make([]ledger.BlockCommit, 0, len(chunk))
		for _, x := range chunk {
			// The tip's total difficulty goes in the block's own batch: a
			// crash leaves the store's head and it in agreement.
			td, err := cbor.Marshal(x.td)
			if err != nil {
				return fmt.Errorf("encoding the total difficulty: %w", err)
			}
			writes := []ledger.Write{{DS: c.cfg.Datastore, Key: tdKey, Value: td}}
			// The certificates that proofs of finality are made of: the one
			// that justified the block, and, for the block finalized now, the
			// one that finalized it.
			xcp := types.Checkpoint{Height: x.block.Header.Height, Hash: x.hash}
			if cert := c.fin.Certificate(xcp); len(cert) > 0 {
				writes = append(writes, ledger.Write{DS: c.cfg.Datastore, Key: justifiedCertKey(xcp.Height), Value: types.EncodeCertificates([][]*types.FinalityVote{cert})})
			}
			if x == e {
				if cert := c.fin.FinalizingCertificate(); len(cert) > 0 && cert[0].Source == cp {
					writes = append(writes, ledger.Write{DS: c.cfg.Datastore, Key: finalizingCertKey(cp.Height), Value: types.EncodeCertificates([][]*types.FinalityVote{cert})})
				}
			}
			commits = append(commits, ledger.BlockCommit{Block: x.block, Next: x.state, Changes: x.changes, Extra: writes})
		}
		if err := c.cfg.Store.CommitBlocks(c.ctx, commits); err != nil {
			return err
		}
		for _, x := range chunk {
			c.tipState, c.tipHeader, c.tipTD = x.state, &x.block.Header, x.td
			c.events.Committed = append(c.events.Committed, Committed{Block: x.block, State: x.state, Arrived: x.arrived, At: now})
		}
	}
	// Keep only the descendants of the new tip.
	keep := map[types.Hash]*entry{}
	var walk func(*entry)
	walk = func(x *entry) {
		for _, ch := range x.children {
			keep[ch.hash] = ch
			walk(ch)
		}
	}
	walk(e)
	for _, ch := range e.children {
		ch.parent = nil
	}
	c.blocks = keep
	for th, locs := range c.txs {
		kept := locs[:0]
		for _, l := range locs {
			if _, ok := keep[l.e.hash]; ok {
				kept = append(kept, l)
			}
		}
		if len(kept) == 0 {
			delete(c.txs, th)
		} else {
			c.txs[th] = kept
		}
	}
	if c.head != nil {
		if _, ok := keep[c.head.hash]; !ok {
			c.head = nil
		}
	}
	for h, os := range c.orphans {
		kept := os[:0]
		for _, o := range os {
			if o.Header.Height > c.tipState.Height {
				kept = append(kept, o)
			}
		}
		c.nOrphans -= len(os) - len(kept)
		if len(kept) == 0 {
			delete(c.orphans, h)
		} else {
			c.orphans[h] = kept
		}
	}
	c.fin.Prune(cp.Height)
	return nil
}

// ---- sealing ----

// Tick seals a block if it is this node's time; the block is in Events.
func (c *Chain) Tick() {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.cfg.Now()
	if !c.updateSealTime() || now.Before(c.sealAt) || now.Before(c.cfg.Genesis.GenesisTime) {
		return
	}
	st, _, _ := c.stateOf(c.head)
	snap, err := c.snaps.At(st.Height, st.LastBlockHash, c)
	if err != nil {
		c.log.Error("snapshot for sealing", "err", err)
		return
	}
	self := c.cfg.Key.Public()
	head := c.head
	candidates := c.cfg.Pool.Select(c.cfg.Genesis.MaxBlockTxs, types.MaxBlockBytes-64<<10,
		func(k identity.PublicKey) uint64 { return c.nonceOf(head, k) })
	ts := max(now.UnixMilli(), c.sealAt.UnixMilli())
	proposals := c.proposals()
	b, _, _, skipped, err := ledger.Propose(st, overlay{c, head, snap}, c.params, candidates, ts, self,
		func(h *types.Header) { c.poa.Prepare(snap, h, proposals) })
	if err != nil {
		c.log.Error("proposing a block", "height", st.Height+1, "err", err)
		return
	}
	for _, s := range skipped {
		c.log.Debug("left out of block", "tx", s.Tx.Hash(), "err", s.Err)
	}
	b.Seal = c.cfg.Key.Sign(b.Header.SealBytes())
	if err := c.addBlock(b); err != nil {
		c.log.Error("own block refused", "height", b.Header.Height, "err", err)
		c.sealOK = false
		return
	}
	c.events.Blocks = append(c.events.Blocks, b)
	c.afterChange()
}

// updateSealTime computes, once per head, when this node may seal on it.
func (c *Chain) updateSealTime() bool {
	st, hdr, _ := c.stateOf(c.head)
	if c.sealFor == st.LastBlockHash && !c.sealFor.IsZero() {
		return c.sealOK
	}
	c.sealFor = st.LastBlockHash
	snap, err := c.snaps.At(st.Height, st.LastBlockHash, c)
	if err != nil {
		c.sealOK = false
		return false
	}
	parentTime := c.cfg.Genesis.GenesisTime
	if hdr != nil {
		parentTime = hdr.BlockTime()
	}
	c.sealAt, c.sealOK = c.poa.SealTime(snap, c.cfg.Key.Public(), st.Height, parentTime, c.cfg.Rand)
	return c.sealOK
}

// NextWake returns when Tick next has something to do.
func (c *Chain) NextWake() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.updateSealTime() {
		if c.sealAt.Before(c.cfg.Genesis.GenesisTime) {
			return c.cfg.Genesis.GenesisTime
		}
		return c.sealAt
	}
	return c.cfg.Now().Add(c.poa.Slot())
}

func (c *Chain) proposals() map[identity.PublicKey]bool {
	out := map[identity.PublicKey]bool{}
	for k, add := range c.cfg.Proposals {
		out[k] = add
	}
	offenders, err := c.cfg.Store.Offenders(c.ctx)
	if err != nil {
		c.log.Error("reading offenders", "err", err)
	}
	for _, k := range offenders {
		out[k] = false
	}
	return out
}

// CheckProposer reports whether h's proposer is a signer of the authority
// snapshot after h's parent, when this chain holds that parent (the
// finalized tip or an unfinalized block). It fails with ErrUnknownParent
// when the parent is not held (only the full check, after sync, can tell
// then), and with an error wrapping types.ErrBadBlock and
// consensus.ErrUnauthorizedSigner when the proposer may not seal there.
// A gossip validator uses it to reject, and so penalise, blocks sealed by
// keys that are no authority, before they are relayed.
func (c *Chain) CheckProposer(h *types.Header) error {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var height uint64
	switch {
	case h.Parent == c.tipState.LastBlockHash:
		height = c.tipState.Height
	default:
		e, ok := c.blocks[h.Parent]
		if !ok {
			return fmt.Errorf("%w: block %d's parent %s", ErrUnknownParent, h.Height, h.Parent)
		}
		height = e.block.Header.Height
	}
	if h.Height != height+1 {
		return fmt.Errorf("%w: %w: height %d after parent height %d", types.ErrBadBlock, consensus.ErrWrongParent, h.Height, height)
	}
	snap, err := c.snaps.At(height, h.Parent, c)
	if err != nil {
		return fmt.Errorf("%w: snapshot at %d: %w", ErrUnknownParent, height, err)
	}
	if !snap.IsSigner(h.Proposer) {
		return fmt.Errorf("%w: %w: %s at height %d", types.ErrBadBlock, consensus.ErrUnauthorizedSigner, h.Proposer.DID(), h.Height)
	}
	return nil
}
