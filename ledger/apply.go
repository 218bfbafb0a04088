package ledger

import (
	"fmt"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger/types"
)

// Params are the genesis parameters the state transition depends on.
type Params struct {
	ChainID string
	// Window bounds a transaction's timestamp against its block's time.
	Window types.TimeWindow
	// MaxBlockTxs caps the transactions of a block; values outside
	// [1, types.MaxBlockTxs] mean types.MaxBlockTxs.
	MaxBlockTxs int
	// Admitted is the genesis admission mode "admitted": only authorities
	// and admitted DIDs may send transactions.
	Admitted bool
}

// ParamsFromGenesis returns the parameters fixed by g.
func ParamsFromGenesis(g *types.Genesis) Params {
	return Params{ChainID: g.ChainID, Window: g.TimeWindow(), MaxBlockTxs: g.MaxBlockTxs, Admitted: g.Admitted()}
}

func (p Params) maxTxs() int {
	if p.MaxBlockTxs < 1 || p.MaxBlockTxs > types.MaxBlockTxs {
		return types.MaxBlockTxs
	}
	return p.MaxBlockTxs
}

// Skipped is a candidate transaction that Propose left out, and why. Err
// wraps the per-transaction sentinel of package types (types.ErrNonceGap,
// types.ErrReplayedNonce, types.ErrTimeInPast, ...) or ErrDuplicateTx, so
// that a mempool can tell transactions that may become valid later (a
// nonce gap, a timestamp ahead of the block) from those that never will;
// if the NonceReader failed, Err is that failure.
type Skipped struct {
	Tx  *types.Tx
	Err error
}

// Apply checks block b against state st and returns the next state and the
// block's changes. r gives the nonces committed at st.
//
// It checks: the header's version and chain ID; height == st.Height+1;
// parent == st.LastBlockHash; time strictly after st.LastBlockTime; at most
// p.MaxBlockTxs transactions, counted by the header, whose encoding fits
// types.MaxBlockBytes and whose Merkle root is the header's TxRoot; for
// every transaction, in block order, ValidateBasic(p.ChainID),
// CheckTime(block time, p.Window), that its hash does not occur earlier in
// the block, and that its nonce is the sender's last nonce — committed, or
// seen earlier in this block — plus one (types.ErrReplayedNonce if lower
// or equal, types.ErrNonceGap if higher); and finally that the state root
// the changes produce equals the header's StateRoot.
//
// The changes list every sender's new last nonce, the data records and
// the evidence transactions (types.TxEvidence, with their offender), both
// in block order. An evidence transaction is a transaction like any
// other: its sender's nonce advances; evidence against an offender that
// the chain already holds is accepted and listed again.
//
// Apply does NOT verify transaction signatures nor the block's seal, and
// does not check the proposer against the authorities: callers do that
// (with a signature cache) before calling Apply. Nor does it read a clock.
// (The two vote signatures inside an evidence payload are part of the
// payload's validity: ValidateBasic verifies them.)
//
// Errors about the block wrap types.ErrBadBlock and a sentinel of this
// package or of package types; errors about one transaction have the form
// "invalid block: tx <index> (<hash>): <reason>" and wrap the reason's
// sentinel too. An error of the NonceReader is returned wrapped, without
// types.ErrBadBlock.
func Apply(st State, r Reader, p Params, b *types.Block) (State, *Changes, error) {
	if b == nil {
		return State{}, nil, fmt.Errorf("%w: nil block", types.ErrBadBlock)
	}
	h := &b.Header
	if h.Version != types.BlockVersion {
		return State{}, nil, fmt.Errorf("%w: %w: block version %d", types.ErrBadBlock, types.ErrBadVersion, h.Version)
	}
	if h.ChainID != p.ChainID || st.ChainID != p.ChainID {
		return State{}, nil, fmt.Errorf("%w: %w: block of chain %q, state of chain %q, this chain is %q",
			types.ErrBadBlock, types.ErrWrongChain, h.ChainID, st.ChainID, p.ChainID)
	}
	if h.Height != st.Height+1 {
		return State{}, nil, fmt.Errorf("%w: %w: block height %d, head is at %d", types.ErrBadBlock, ErrWrongHeight, h.Height, st.Height)
	}
	if h.Parent != st.LastBlockHash {
		return State{}, nil, fmt.Errorf("%w: %w: block %d has parent %s, head is %s", types.ErrBadBlock, ErrWrongParent, h.Height, h.Parent, st.LastBlockHash)
	}
	if h.Time <= st.LastBlockTime {
		return State{}, nil, fmt.Errorf("%w: %w: block time %d ms, parent's %d ms", types.ErrBadBlock, ErrBlockTime, h.Time, st.LastBlockTime)
	}
	if n := len(b.Txs); n > p.maxTxs() {
		return State{}, nil, fmt.Errorf("%w: %w: %d transactions, limit %d", types.ErrBadBlock, ErrTooManyTxs, n, p.maxTxs())
	}
	if int(h.TxCount) != len(b.Txs) {
		return State{}, nil, fmt.Errorf("%w: %w: header counts %d transactions, block holds %d", types.ErrBadBlock, ErrTxRoot, h.TxCount, len(b.Txs))
	}

	a := newApplier(r, p, h.Height, h.Time, len(b.Txs))
	for i, tx := range b.Txs {
		c, err := a.check(tx)
		if err != nil {
			if c.ioErr {
				return State{}, nil, err
			}
			return State{}, nil, fmt.Errorf("%w: tx %d (%s): %w", types.ErrBadBlock, i, c.hash, err)
		}
		a.accept(c)
	}

	leaves := b.EncodedTxs()
	if size := blockSize(h, leaves); size > types.MaxBlockBytes {
		return State{}, nil, fmt.Errorf("%w: %w: block of %d bytes exceeds %d", types.ErrBadBlock, types.ErrOversize, size, types.MaxBlockBytes)
	}
	if root := types.TxRoot(leaves); root != h.TxRoot {
		return State{}, nil, fmt.Errorf("%w: %w: transactions give %s, header says %s", types.ErrBadBlock, ErrTxRoot, root, h.TxRoot)
	}
	root, err := a.applyState(st.StateRoot, h)
	if err != nil {
		return State{}, nil, err
	}
	if root != h.StateRoot {
		return State{}, nil, fmt.Errorf("%w: %w: changes give %s, header says %s", types.ErrBadBlock, ErrStateRoot, root, h.StateRoot)
	}
	return nextState(st, b, root), a.ch, nil
}

// Propose builds the next block after st from candidate transactions, in
// the order given, at timeMillis, for proposer. The block is unsealed (Seal
// is nil): the caller signs b.Header.SealBytes(). Apply(st, r, p, block)
// accepts the sealed block and returns the same next state and changes.
//
// A candidate that Apply would reject is skipped and returned with its
// reason. Once the block is full (p.MaxBlockTxs transactions or
// types.MaxBlockBytes of encoding) the remaining candidates are left alone:
// they are neither in the block nor skipped. If timeMillis is not after
// st.LastBlockTime, the block gets st.LastBlockTime+1, the earliest valid
// time. st.ChainID must be p.ChainID.
//
// prepare, if not nil, fills the header's consensus fields (difficulty,
// vote, checkpoint list) before the state root is computed, since the
// authority set after the block, which the state holds, depends on them;
// it must not change the height, parent, time or proposer. The only error
// is the Reader's: the block is then nil.
func Propose(st State, r Reader, p Params, candidates []*types.Tx, timeMillis int64, proposer identity.PublicKey, prepare func(*types.Header)) (*types.Block, State, *Changes, []Skipped, error) {
	if timeMillis <= st.LastBlockTime {
		timeMillis = st.LastBlockTime + 1
	}
	h := types.Header{Version: types.BlockVersion, ChainID: p.ChainID, Height: st.Height + 1,
		Parent: st.LastBlockHash, Time: timeMillis, Proposer: proposer, Difficulty: types.DiffInTurn}
	if prepare != nil {
		prepare(&h)
		h.Version, h.ChainID, h.Height, h.Parent, h.Time, h.Proposer = types.BlockVersion, p.ChainID, st.Height+1, st.LastBlockHash, timeMillis, proposer
	}
	limit := min(len(candidates), p.maxTxs())
	a := newApplier(r, p, h.Height, h.Time, limit)
	var (
		txs     = make([]*types.Tx, 0, limit)
		leaves  = make([][]byte, 0, limit)
		skipped []Skipped
		// size bounds the block's encoding size without the transactions'
		// array head: blockSize of the header with the widest TxCount.
		// Sized for the largest consensus fields the engine may add after
		// Propose: a vote and a full checkpoint list.
		size = blockSize(&types.Header{Version: h.Version, ChainID: h.ChainID, Height: h.Height, Time: h.Time,
			TxCount: ^uint32(0), VoteTarget: make([]byte, 32), Checkpoint: make([]identity.PublicKey, maxCheckpointAuthorities)}, nil) - cborHeadLen(0)
	)
	for _, tx := range candidates {
		if len(txs) == p.maxTxs() {
			break
		}
		c, err := a.check(tx)
		if err != nil {
			skipped = append(skipped, Skipped{Tx: tx, Err: err})
			continue
		}
		enc := tx.Encode()
		grown := size + cborHeadLen(uint64(len(enc))) + len(enc)
		if grown+cborHeadLen(uint64(len(txs)+1)) > types.MaxBlockBytes {
			break
		}
		size = grown
		a.accept(c)
		txs = append(txs, tx)
		leaves = append(leaves, enc)
	}
	h.TxCount = uint32(len(txs))
	h.TxRoot = types.TxRoot(leaves)
	root, err := a.applyState(st.StateRoot, &h)
	if err != nil {
		return nil, State{}, nil, skipped, err
	}
	h.StateRoot = root
	b := &types.Block{Header: h, Txs: txs}
	return b, nextState(st, b, h.StateRoot), a.ch, skipped, nil
}

func nextState(st State, b *types.Block, root types.Hash) State {
	return State{ChainID: st.ChainID, Height: b.Header.Height, LastBlockHash: b.Hash(),
		LastBlockTime: b.Header.Time, StateRoot: root, TotalTxs: st.TotalTxs + uint64(len(b.Txs))}
}

// applier runs the per-transaction checks of one block and collects its
// changes. Apply and Propose share it so that they cannot disagree.
type applier struct {
	r         Reader
	p         Params
	height    uint64
	blockTime time.Time
	last      map[identity.PublicKey]uint64 // last nonce, committed or earlier in the block
	seen      map[types.Hash]struct{}
	n         uint32 // transactions accepted so far
	ch        *Changes
	dids      map[identity.PublicKey]*types.DIDRecord   // DID ID -> record as changed in this block
	alias     map[identity.PublicKey]identity.PublicKey // key -> DID ID, for keys linked in this block
	read      map[identity.PublicKey]*types.DIDRecord   // what the Reader said of a key (nil: no DID)
}

func newApplier(r Reader, p Params, height uint64, timeMillis int64, n int) *applier {
	return &applier{r: r, p: p, height: height, blockTime: time.UnixMilli(timeMillis),
		last: make(map[identity.PublicKey]uint64), seen: make(map[types.Hash]struct{}, n),
		ch:   &Changes{Nonces: make(map[identity.PublicKey]uint64), Records: make([]RecordEntry, 0, n)},
		dids: map[identity.PublicKey]*types.DIDRecord{}, alias: map[identity.PublicKey]identity.PublicKey{},
		read: map[identity.PublicKey]*types.DIDRecord{}}
}

// checked is a transaction that passed check, ready for accept.
type checked struct {
	hash     types.Hash
	tx       *types.Tx
	stream   string
	offender identity.PublicKey // of an evidence transaction
	did      *DIDChange         // of a registry transaction
	ioErr    bool               // the error came from the NonceReader, not from the transaction
}

// check checks whether tx can come next, without changing a.
func (a *applier) check(tx *types.Tx) (checked, error) {
	if tx == nil {
		return checked{}, fmt.Errorf("%w: nil transaction", types.ErrUndecodable)
	}
	c := checked{hash: tx.Hash(), tx: tx}
	if err := tx.ValidateBasic(a.p.ChainID); err != nil {
		return c, err
	}
	if err := tx.CheckTime(a.blockTime, a.p.Window); err != nil {
		return c, err
	}
	if _, dup := a.seen[c.hash]; dup {
		return c, fmt.Errorf("%w: it occurs earlier in the block", ErrDuplicateTx)
	}
	last, ok := a.last[tx.Sender]
	if !ok {
		var err error
		last, err = a.r.Nonce(tx.Sender)
		if err != nil {
			c.ioErr = true
			return c, fmt.Errorf("ledger: reading the nonce of %s: %w", tx.Sender.DID(), err)
		}
		a.last[tx.Sender] = last
	}
	switch {
	case tx.Nonce <= last:
		return c, fmt.Errorf("%w: nonce %d, last is %d", types.ErrReplayedNonce, tx.Nonce, last)
	case tx.Nonce > last+1:
		return c, fmt.Errorf("%w: nonce %d, expected %d", types.ErrNonceGap, tx.Nonce, last+1)
	}
	if ioErr, err := a.checkSender(tx); err != nil {
		c.ioErr = ioErr
		return c, err
	}
	switch tx.Type {
	case types.TxDataRecord:
		// ValidateBasic decoded and validated the payload already; only
		// the stream is needed here.
		var rec types.DataRecord
		if err := decMode.Unmarshal(tx.Payload, &rec); err != nil {
			return c, fmt.Errorf("%w: data record: %v", types.ErrBadPayload, err)
		}
		c.stream = rec.Stream
	case types.TxEvidence:
		// ValidateBasic fully checked the evidence, signatures included;
		// only the offender is needed here, without verifying again.
		var e types.Evidence
		if err := decMode.Unmarshal(tx.Payload, &e); err != nil {
			return c, fmt.Errorf("%w: evidence: %v", types.ErrBadPayload, err)
		}
		v, err := types.DecodeVote(e.A)
		if err != nil {
			return c, fmt.Errorf("%w: evidence vote a: %w", types.ErrBadPayload, err)
		}
		c.offender = v.Voter
	case types.TxDID:
		ch, ioErr, err := a.checkDIDOp(tx, c.hash)
		if err != nil {
			c.ioErr = ioErr
			return c, err
		}
		c.did = ch
	}
	return c, nil
}

// accept records the changes of a checked transaction.
func (a *applier) accept(c checked) {
	tx := c.tx
	a.seen[c.hash] = struct{}{}
	a.last[tx.Sender] = tx.Nonce
	a.ch.Nonces[tx.Sender] = tx.Nonce
	switch tx.Type {
	case types.TxDataRecord:
		a.ch.Records = append(a.ch.Records, RecordEntry{Sender: tx.Sender, Stream: c.stream, Nonce: tx.Nonce,
			Timestamp: tx.Timestamp, TxHash: c.hash, Height: a.height, Index: a.n})
	case types.TxEvidence:
		a.ch.Evidence = append(a.ch.Evidence, EvidenceEntry{Offender: c.offender, TxHash: c.hash, Height: a.height, Index: a.n})
	case types.TxDID:
		a.acceptDID(c.did)
	}
	a.n++
}

// maxCheckpointAuthorities is the most authorities a checkpoint header can
// list (types enforces it when decoding).
const maxCheckpointAuthorities = 1024

// blockSize returns the length of the block's encoding
// [header, [tx bytes...], seal] with a 64-byte seal, from the header and
// the transactions' encodings, without encoding the block.
func blockSize(h *types.Header, leaves [][]byte) int {
	n := 1 + len(h.Encode()) + cborHeadLen(uint64(len(leaves))) + cborHeadLen(64) + 64
	for _, l := range leaves {
		n += cborHeadLen(uint64(len(l))) + len(l)
	}
	return n
}

// cborHeadLen is the length of a CBOR head (major type and argument) whose
// argument is n.
func cborHeadLen(n uint64) int {
	switch {
	case n < 24:
		return 1
	case n <= 0xff:
		return 2
	case n <= 0xffff:
		return 3
	case n <= 0xffffffff:
		return 5
	}
	return 9
}

var (
	encMode cbor.EncMode
	decMode cbor.DecMode
)

func init() {
	var err error
	if encMode, err = cbor.CoreDetEncOptions().EncMode(); err != nil {
		panic(err) // constant options
	}
	if decMode, err = (cbor.DecOptions{
		MaxNestedLevels:   8,
		IndefLength:       cbor.IndefLengthForbidden,
		TagsMd:            cbor.TagsForbidden,
		ExtraReturnErrors: cbor.ExtraDecErrorUnknownField,
	}).DecMode(); err != nil {
		panic(err)
	}
}

// mustMarshal encodes one of the package's own fixed structs, which
// cannot fail.
func mustMarshal(v any) []byte {
	b, err := encMode.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("ledger: encoding %T: %v", v, err))
	}
	return b
}
