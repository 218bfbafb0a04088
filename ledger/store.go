package ledger

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/fxamacker/cbor/v2"
	"github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"
	dssync "github.com/ipfs/go-datastore/sync"
	pebbleds "github.com/ipfs/go-ds-pebble"

	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger/merkle"
	"github.com/sixdomain/sixdomain/ledger/types"
)

// MaxRecordsLimit caps the entries one Records call returns.
const MaxRecordsLimit = 1000

// OpenPebble opens (creating if need be) an on-disk pebble datastore in
// directory path whose writes are synced (pebble.Sync): a write or batch
// commit returns only once it is on stable storage. The caller closes it.
//
// Every level's tables carry a Bloom filter (10 bits a key): the
// admission path asks for keys that are mostly absent (the DID of a
// sender that never registered one), and without a filter each such
// read searched every table of level 0 (pebble's default has none).
// The block cache is pebbleCacheBytes.
func OpenPebble(path string) (datastore.Batching, error) {
	opts := &pebble.Options{CacheSize: pebbleCacheBytes}
	for i := range opts.Levels {
		opts.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
	}
	d, err := pebbleds.NewDatastore(path, pebbleds.WithPebbleWriteOptions(pebble.Sync), pebbleds.WithPebbleOpts(opts))
	if err != nil {
		return nil, fmt.Errorf("ledger: opening %s: %w", path, err)
	}
	return d, nil
}

// pebbleCacheBytes is the size of pebble's block cache (its default is 8 MiB).
const pebbleCacheBytes = 32 << 20

// NewMemory returns an empty in-memory datastore, safe for concurrent use,
// for tests and ephemeral nodes. Its batches are applied under one lock, so
// readers never see half a block, but nothing survives the process.
func NewMemory() datastore.Batching {
	return dssync.MutexWrap(datastore.NewMapDatastore())
}

// Store is the durable chain: blocks, their indexes and the state after
// the last committed block (see the package doc for the key layout and the
// durability guarantees). Its methods are safe for concurrent use; reads
// run concurrently with Commit.
type Store struct {
	d       datastore.Batching
	genesis types.Hash
	// root is the datastore d wraps with a key transform (d itself if
	// none) and toRoot maps d's keys to root's: Commit writes one batch over
	// root, so that its callers' records (Write) join the block atomically.
	root   datastore.Batching
	toRoot func(datastore.Key) datastore.Key
	// ctx is the context of the reads behind the context-free interfaces
	// (Nonce, DID: NonceReader and DIDReader, called from the pure
	// state transition): the one Open was given, without its
	// cancellation, since a state transition must not fail halfway
	// because its opener's context ended.
	ctx context.Context

	commitMu sync.Mutex // serialises Commit

	mu sync.RWMutex // guards st
	st State
}

var _ StateReader = (*Store)(nil)

// Open opens the chain of genesis g in d: a datastore of its own, normally
// Spaces.Ledger (a namespace of the node's datastore), or any Batching. An
// empty datastore is
// initialised at genesis (in one synced batch); otherwise the head state is
// loaded, and a datastore initialised with another genesis is refused with
// ErrGenesisMismatch. The caller keeps ownership of d and closes it after
// the last use of the Store.
func Open(ctx context.Context, d datastore.Batching, g *types.Genesis) (*Store, error) {
	if d == nil || g == nil {
		return nil, errors.New("ledger: Open needs a datastore and a genesis")
	}
	if err := g.Validate(); err != nil {
		return nil, err
	}
	s := &Store{d: d, genesis: g.Hash(), ctx: context.WithoutCancel(ctx)}
	s.root, s.toRoot = rootOf(d)
	recorded, err := d.Get(ctx, keyGenesis)
	switch {
	case errors.Is(err, datastore.ErrNotFound):
		if ok, err := d.Has(ctx, keyHead); err != nil {
			return nil, fmt.Errorf("ledger: reading the head: %w", err)
		} else if ok {
			return nil, fmt.Errorf("ledger: datastore has a head but no genesis record")
		}
		st := GenesisState(g)
		batch, err := d.Batch(ctx)
		if err != nil {
			return nil, fmt.Errorf("ledger: initialising the datastore: %w", err)
		}
		if err := errors.Join(batch.Put(ctx, keyGenesis, s.genesis[:]), batch.Put(ctx, keyHead, encodeHead(st)),
			batch.Put(ctx, keyStreamIndex, []byte{streamIndexVersion}), batch.Put(ctx, keyStateTree, []byte{1}),
			batch.Commit(ctx)); err != nil {
			return nil, fmt.Errorf("ledger: initialising the datastore: %w", err)
		}
		s.st = st
		return s, nil
	case err != nil:
		return nil, fmt.Errorf("ledger: reading the genesis record: %w", err)
	}
	if !bytes.Equal(recorded, s.genesis[:]) {
		return nil, fmt.Errorf("%w: it holds genesis %x, this node's is %s", ErrGenesisMismatch, recorded, s.genesis)
	}
	raw, err := d.Get(ctx, keyHead)
	if err != nil {
		return nil, fmt.Errorf("ledger: reading the head: %w", err)
	}
	st, err := decodeHead(raw)
	if err != nil {
		return nil, err
	}
	if st.ChainID != g.ChainID {
		return nil, fmt.Errorf("%w: head is of chain %q, genesis of %q", ErrGenesisMismatch, st.ChainID, g.ChainID)
	}
	switch ok, err := d.Has(ctx, keyStateTree); {
	case err != nil:
		return nil, fmt.Errorf("ledger: reading the state-tree marker: %w", err)
	case !ok && st.Height > 0:
		return nil, fmt.Errorf("%w (head at height %d)", ErrPreStateTree, st.Height)
	case !ok:
		if err := d.Put(ctx, keyStateTree, []byte{1}); err != nil {
			return nil, fmt.Errorf("ledger: writing the state-tree marker: %w", err)
		}
	}
	s.st = st
	if err := s.buildStreamIndex(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// GenesisHash returns the hash of the store's genesis.
func (s *Store) GenesisHash() types.Hash { return s.genesis }

// State returns the state after the last committed block.
func (s *Store) State() State {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.st
}

// Nonce returns the sender's last committed nonce, 0 if it has none. It
// implements NonceReader, which has no context: it reads with the store's
// (see Store).
func (s *Store) Nonce(sender identity.PublicKey) (uint64, error) {
	v, err := s.d.Get(s.ctx, nonceKey(sender))
	if errors.Is(err, datastore.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("ledger: reading nonce: %w", err)
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("ledger: corrupt nonce of %s: %d bytes", sender.DID(), len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

// Commit durably appends block b, which must be sealed, with the next
// state and the changes that Apply(s.State(), s, p, b) returned. It writes
// the block, its hash and transaction indexes, the nonces, the record
// entries (by sender, by sender and stream, and by stream across senders),
// the evidence entries and the new head in one batch and returns once that batch
// committed (synced, with OpenPebble); only then does State return next.
// A block that does not extend the current head is refused with an error
// wrapping ErrNotNext (ErrWrongHeight or ErrWrongParent).
//
// extra are the caller's own records that must agree with the head (the
// chain's total difficulty, say): they go into the same batch, so that a
// crash leaves either the block with them or neither. Each names its
// datastore, which must be the store's root or a namespace of it (Spaces).
func (s *Store) Commit(ctx context.Context, b *types.Block, next State, ch *Changes, extra ...Write) error {
	return s.CommitBlocks(ctx, []BlockCommit{{Block: b, Next: next, Changes: ch, Extra: extra}})
}

// BlockCommit is one block for CommitBlocks: what Commit takes.
type BlockCommit struct {
	Block   *types.Block
	Next    State
	Changes *Changes
	Extra   []Write
}

// CommitBlocks durably appends consecutive blocks, each checked and
// written as Commit does against the state the one before leads to, in one
// batch: one sync with OpenPebble for all of them, and a crash leaves all
// of them or none. Records of a later block replace those of an earlier
// one under the same key (the head, a nonce, an extra record). State
// returns the last one's state once the batch committed.
func (s *Store) CommitBlocks(ctx context.Context, cs []BlockCommit) error {
	if len(cs) == 0 {
		return nil
	}
	for _, c := range cs {
		if c.Block == nil || c.Changes == nil {
			return errors.New("ledger: Commit needs a block and its changes")
		}
	}
	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	batch, err := s.root.Batch(ctx)
	if err != nil {
		return fmt.Errorf("ledger: commit of block %d: %w", cs[0].Block.Header.Height, err)
	}
	cur := s.State()
	for _, c := range cs {
		if err := s.putBlock(ctx, batch, cur, c.Block, c.Next, c.Changes, c.Extra); err != nil {
			return err
		}
		cur = c.Next
	}
	if err := batch.Commit(ctx); err != nil {
		return fmt.Errorf("ledger: commit of blocks %d to %d: %w", cs[0].Block.Header.Height, cur.Height, err)
	}
	s.mu.Lock()
	s.st = cur
	s.mu.Unlock()
	return nil
}

// putBlock checks that block b with state next and changes ch extends cur
// and adds its records and extra to batch.
func (s *Store) putBlock(ctx context.Context, batch datastore.Batch, cur State, b *types.Block, next State, ch *Changes, extra []Write) error {
	h := &b.Header
	if h.Height != cur.Height+1 {
		return fmt.Errorf("%w: block height %d, head is at %d", ErrWrongHeight, h.Height, cur.Height)
	}
	if h.Parent != cur.LastBlockHash {
		return fmt.Errorf("%w: block %d has parent %s, head is %s", ErrWrongParent, h.Height, h.Parent, cur.LastBlockHash)
	}
	if len(b.Seal) != 64 {
		return fmt.Errorf("%w: block %d is not sealed (seal of %d bytes)", types.ErrBadBlock, h.Height, len(b.Seal))
	}
	bh := b.Hash()
	if next.ChainID != cur.ChainID || next.Height != h.Height || next.LastBlockHash != bh ||
		next.LastBlockTime != h.Time || next.StateRoot != h.StateRoot || next.TotalTxs != cur.TotalTxs+uint64(len(b.Txs)) {
		return fmt.Errorf("ledger: next state %+v is not the one block %d (%s) leads to", next, h.Height, bh)
	}

	// Transaction hashes: the records carry them; compute the others.
	hashes := make([]types.Hash, len(b.Txs))
	known := make([]bool, len(b.Txs))
	for _, r := range ch.Records {
		if r.Height != h.Height || int(r.Index) >= len(b.Txs) || b.Txs[r.Index].Nonce != r.Nonce || b.Txs[r.Index].Sender != r.Sender {
			return fmt.Errorf("ledger: changes do not belong to block %d (record %d/%d at height %d)", h.Height, r.Index, len(b.Txs), r.Height)
		}
		hashes[r.Index], known[r.Index] = r.TxHash, true
	}
	for i, tx := range b.Txs {
		if !known[i] {
			hashes[i] = tx.Hash()
		}
	}
	for _, e := range ch.Evidence {
		if e.Height != h.Height || int(e.Index) >= len(b.Txs) || b.Txs[e.Index].Type != types.TxEvidence || hashes[e.Index] != e.TxHash {
			return fmt.Errorf("ledger: changes do not belong to block %d (evidence %d/%d at height %d)", h.Height, e.Index, len(b.Txs), e.Height)
		}
	}

	extraKeys := make([]datastore.Key, len(extra))
	for i, w := range extra {
		k, err := s.rootKey(w)
		if err != nil {
			return fmt.Errorf("ledger: commit of block %d: %w", h.Height, err)
		}
		extraKeys[i] = k
	}

	var errs []error
	putRoot := func(k datastore.Key, v []byte) {
		if err := batch.Put(ctx, k, v); err != nil {
			errs = append(errs, err)
		}
	}
	put := func(k datastore.Key, v []byte) { putRoot(s.toRoot(k), v) }
	put(blockKey(h.Height), b.Encode())
	put(blockHashKey(bh), binary.BigEndian.AppendUint64(nil, h.Height))
	for i, th := range hashes {
		put(txKey(th), encodeTxLocation(h.Height, uint32(i)))
	}
	for sender, n := range ch.Nonces {
		put(nonceKey(sender), binary.BigEndian.AppendUint64(nil, n))
	}
	for _, r := range ch.Records {
		v := encodeRecord(r)
		put(recordKey(r.Sender, r.Nonce), v)
		put(streamKey(r.Sender, r.Stream, r.Nonce), v)
		put(streamIndexKey(r.Stream, r.Height, r.Index), encodeStreamEntry(r))
		put(recordHeightKey(r.Sender, r.Stream, r.Height), []byte{1})
	}
	for _, e := range ch.Evidence {
		put(evidenceKey(e.Offender, e.Height, e.Index), e.TxHash[:])
	}
	for _, d := range ch.DIDs {
		if d.Record == nil || d.Record.Height != h.Height {
			return fmt.Errorf("ledger: changes do not belong to block %d (a DID change of another block)", h.Height)
		}
	}
	putDIDs(put, ch.DIDs)
	for nh, n := range ch.Tree.Nodes {
		put(stateNodeKey(nh), n)
	}
	if ch.Authorities != nil {
		put(authorityKey(h.Height), EncodeAuthorities(ch.Authorities))
	}
	for k, v := range ch.KV {
		if v == nil {
			if err := batch.Delete(ctx, s.toRoot(kvKey([]byte(k)))); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		put(kvKey([]byte(k)), v)
	}
	for i := range ch.Receipts {
		r := &ch.Receipts[i]
		if r.Height != h.Height || int(r.Index) >= len(b.Txs) || hashes[r.Index] != r.TxHash {
			return fmt.Errorf("ledger: changes do not belong to block %d (a receipt of another block)", h.Height)
		}
		put(receiptKey(r.TxHash), r.Encode())
	}
	put(keyHead, encodeHead(next))
	for i, w := range extra {
		putRoot(extraKeys[i], w.Value)
	}
	if len(errs) > 0 {
		return fmt.Errorf("ledger: commit of block %d: %w", h.Height, errors.Join(errs...))
	}
	return nil
}

// RawBlock returns the canonical encoding of the block at height, for
// serving it to syncing peers. The slice is the caller's.
func (s *Store) RawBlock(ctx context.Context, height uint64) ([]byte, error) {
	v, err := s.rawBlock(ctx, height)
	return bytes.Clone(v), err
}

// rawBlock is RawBlock without the copy: the memory datastore returns the
// very slice it stores, which must not escape to callers.
func (s *Store) rawBlock(ctx context.Context, height uint64) ([]byte, error) {
	v, err := s.d.Get(ctx, blockKey(height))
	if errors.Is(err, datastore.ErrNotFound) {
		return nil, fmt.Errorf("%w: block %d", ErrNotFound, height)
	}
	if err != nil {
		return nil, fmt.Errorf("ledger: reading block %d: %w", height, err)
	}
	return v, nil
}

// Block returns the block at height (1 or more; genesis is no block).
func (s *Store) Block(ctx context.Context, height uint64) (*types.Block, error) {
	raw, err := s.rawBlock(ctx, height)
	if err != nil {
		return nil, err
	}
	b, err := types.DecodeBlock(raw)
	if err != nil {
		return nil, fmt.Errorf("ledger: corrupt block %d: %w", height, err)
	}
	return b, nil
}

// BlockByHash returns the block whose header hashes to h.
func (s *Store) BlockByHash(ctx context.Context, h types.Hash) (*types.Block, error) {
	height, err := s.heightOf(ctx, h)
	if err != nil {
		return nil, err
	}
	b, err := s.Block(ctx, height)
	if err != nil {
		return nil, err
	}
	if b.Hash() != h {
		return nil, fmt.Errorf("ledger: corrupt index: block %d does not hash to %s", b.Header.Height, h)
	}
	return b, nil
}

// TxLocation returns the height of the block holding the transaction and
// its index in the block.
func (s *Store) TxLocation(ctx context.Context, txHash types.Hash) (height uint64, index uint32, err error) {
	v, err := s.d.Get(ctx, txKey(txHash))
	if errors.Is(err, datastore.ErrNotFound) {
		return 0, 0, fmt.Errorf("%w: transaction %s", ErrNotFound, txHash)
	}
	if err != nil {
		return 0, 0, fmt.Errorf("ledger: reading transaction %s: %w", txHash, err)
	}
	if len(v) != 12 {
		return 0, 0, fmt.Errorf("ledger: corrupt location of transaction %s", txHash)
	}
	return binary.BigEndian.Uint64(v), binary.BigEndian.Uint32(v[8:]), nil
}

// Tx returns a committed transaction with the height of its block and its
// index there.
func (s *Store) Tx(ctx context.Context, txHash types.Hash) (*types.Tx, uint64, uint32, error) {
	height, index, parts, err := s.locate(ctx, txHash)
	if err != nil {
		return nil, 0, 0, err
	}
	tx, err := types.DecodeTx(parts.Txs[index])
	if err != nil {
		return nil, 0, 0, fmt.Errorf("ledger: corrupt transaction %d of block %d: %w", index, height, err)
	}
	if tx.Hash() != txHash {
		return nil, 0, 0, fmt.Errorf("ledger: corrupt index: transaction %d of block %d is not %s", index, height, txHash)
	}
	return tx, height, index, nil
}

// Proof returns the inclusion proof of a committed transaction. It checks
// with TxProof.Verify, and against the genesis authorities with
// consensus.VerifyProof.
func (s *Store) Proof(ctx context.Context, txHash types.Hash) (*types.TxProof, error) {
	height, index, parts, err := s.locate(ctx, txHash)
	if err != nil {
		return nil, err
	}
	hdr, err := types.DecodeHeader(parts.Header)
	if err != nil {
		return nil, fmt.Errorf("ledger: corrupt header of block %d: %w", height, err)
	}
	path, err := merkle.Path(parts.Txs, int(index))
	if err != nil {
		return nil, fmt.Errorf("ledger: proof of %s: %w", txHash, err)
	}
	p := &types.TxProof{ChainID: hdr.ChainID, Height: hdr.Height, TxHash: txHash, Tx: parts.Txs[index],
		Index: uint64(index), TreeSize: uint64(len(parts.Txs)), Path: make([]types.Hash, len(path)),
		Header: types.HexBytes(parts.Header), Seal: parts.Seal}
	for i, x := range path {
		p.Path[i] = x
	}
	return p, nil
}

// blockParts is a stored block split into its parts without decoding the
// transactions: the block encoding is the array [header, [tx bytes...],
// seal] (see types.Block).
type blockParts struct {
	_      struct{} `cbor:",toarray"`
	Header cbor.RawMessage
	Txs    [][]byte
	Seal   []byte
}

// locate finds a transaction's block and splits it.
func (s *Store) locate(ctx context.Context, txHash types.Hash) (uint64, uint32, *blockParts, error) {
	height, index, err := s.TxLocation(ctx, txHash)
	if err != nil {
		return 0, 0, nil, err
	}
	raw, err := s.rawBlock(ctx, height)
	if err != nil {
		return 0, 0, nil, fmt.Errorf("ledger: block %d of transaction %s: %w", height, txHash, err)
	}
	var parts blockParts
	if err := decMode.Unmarshal(raw, &parts); err != nil {
		return 0, 0, nil, fmt.Errorf("ledger: corrupt block %d: %w", height, err)
	}
	if int(index) >= len(parts.Txs) {
		return 0, 0, nil, fmt.Errorf("ledger: corrupt index: block %d has no transaction %d", height, index)
	}
	return height, index, &parts, nil
}

// Records lists a sender's data records in nonce order, from the first
// nonce after afterNonce (0 for the first record): all of them if stream is
// "", else those of that stream. limit is capped at MaxRecordsLimit; 0 or
// less means MaxRecordsLimit. To page, pass the last entry's Nonce as the
// next afterNonce.
func (s *Store) Records(ctx context.Context, sender identity.PublicKey, stream string, afterNonce uint64, limit int) ([]RecordEntry, error) {
	if limit <= 0 || limit > MaxRecordsLimit {
		limit = MaxRecordsLimit
	}
	var prefix string
	if stream == "" {
		prefix = string(recordPrefix(sender))
	} else {
		prefix = string(streamPrefix(sender, stream))
	}
	q := query.Query{Prefix: prefix, Orders: []query.Order{query.OrderByKey{}}, Limit: limit}
	if afterNonce > 0 {
		after := appendNonce([]byte(prefix+"/"), afterNonce)
		q.Filters = []query.Filter{query.FilterKeyCompare{Op: query.GreaterThan, Key: string(after)}}
	}
	res, err := s.d.Query(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("ledger: listing records: %w", err)
	}
	defer res.Close()
	var out []RecordEntry
	for r := range res.Next() {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if r.Error != nil {
			return nil, fmt.Errorf("ledger: listing records: %w", r.Error)
		}
		e, err := decodeRecord(sender, stream, prefix, r.Key, r.Value)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
		if len(out) == limit {
			break
		}
	}
	return out, nil
}

// Evidence lists the evidence transactions against offender, in chain
// order (height, then index in the block); the first is the one that
// matters. It is empty if the chain holds none.
func (s *Store) Evidence(ctx context.Context, offender identity.PublicKey) ([]EvidenceEntry, error) {
	prefix := string(evidencePrefix(offender))
	res, err := s.d.Query(ctx, query.Query{Prefix: prefix, Orders: []query.Order{query.OrderByKey{}}})
	if err != nil {
		return nil, fmt.Errorf("ledger: listing evidence: %w", err)
	}
	defer res.Close()
	var out []EvidenceEntry
	for r := range res.Next() {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if r.Error != nil {
			return nil, fmt.Errorf("ledger: listing evidence: %w", r.Error)
		}
		e, err := decodeEvidenceEntry(r.Key, r.Value, true)
		if err != nil {
			return nil, err
		}
		if e.Offender != offender {
			return nil, fmt.Errorf("ledger: corrupt evidence key %s", r.Key)
		}
		out = append(out, e)
	}
	return out, nil
}

// Offenders lists, in key byte order, every authority against which the
// chain holds evidence.
func (s *Store) Offenders(ctx context.Context) ([]identity.PublicKey, error) {
	res, err := s.d.Query(ctx, query.Query{Prefix: evidenceRoot, KeysOnly: true, Orders: []query.Order{query.OrderByKey{}}})
	if err != nil {
		return nil, fmt.Errorf("ledger: listing offenders: %w", err)
	}
	defer res.Close()
	var out []identity.PublicKey
	for r := range res.Next() {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if r.Error != nil {
			return nil, fmt.Errorf("ledger: listing offenders: %w", r.Error)
		}
		e, err := decodeEvidenceEntry(r.Key, nil, false)
		if err != nil {
			return nil, err
		}
		if n := len(out); n == 0 || out[n-1] != e.Offender {
			out = append(out, e.Offender)
		}
	}
	return out, nil
}

// Keys.

var (
	keyGenesis     = datastore.RawKey("/meta/genesis")
	keyHead        = datastore.RawKey("/meta/head")
	keyStreamIndex = datastore.RawKey("/meta/stream-index") // present once /q holds every record
	keyStateTree   = datastore.RawKey(keyStateTreeV1)       // present in every store whose state roots are tree roots
)

func appendNonce(b []byte, n uint64) []byte {
	return hex.AppendEncode(b, binary.BigEndian.AppendUint64(make([]byte, 0, 8), n))
}

func blockKey(height uint64) datastore.Key {
	return datastore.RawKey(string(appendNonce([]byte("/b/"), height)))
}

func blockHashKey(h types.Hash) datastore.Key {
	return datastore.RawKey(string(hex.AppendEncode([]byte("/h/"), h[:])))
}

func txKey(h types.Hash) datastore.Key {
	return datastore.RawKey(string(hex.AppendEncode([]byte("/t/"), h[:])))
}

func nonceKey(sender identity.PublicKey) datastore.Key {
	return datastore.RawKey(string(hex.AppendEncode([]byte("/n/"), sender[:])))
}

// recordPrefix is /r/<sender hex>.
func recordPrefix(sender identity.PublicKey) []byte {
	return hex.AppendEncode(append(make([]byte, 0, 3+64+1+16), "/r/"...), sender[:])
}

func recordKey(sender identity.PublicKey, nonce uint64) datastore.Key {
	return datastore.RawKey(string(appendNonce(append(recordPrefix(sender), '/'), nonce)))
}

// streamPrefix is /s/<sender hex>/<stream hex>.
func streamPrefix(sender identity.PublicKey, stream string) []byte {
	b := make([]byte, 0, 3+64+1+2*len(stream)+1+16)
	b = hex.AppendEncode(append(b, "/s/"...), sender[:])
	return hex.AppendEncode(append(b, '/'), []byte(stream))
}

func streamKey(sender identity.PublicKey, stream string, nonce uint64) datastore.Key {
	return datastore.RawKey(string(appendNonce(append(streamPrefix(sender, stream), '/'), nonce)))
}

// streamIndexRoot is the prefix of the all-senders stream index.
const streamIndexRoot = "/q/"

// streamIndexPrefix is /q/<stream hex>.
func streamIndexPrefix(stream string) []byte {
	return hex.AppendEncode(append(make([]byte, 0, 3+2*len(stream)+1+16+1+8), streamIndexRoot...), []byte(stream))
}

// streamIndexKey is /q/<stream hex>/<height, 16 hex>/<index, 8 hex>: key
// order is chain order.
func streamIndexKey(stream string, height uint64, index uint32) datastore.Key {
	return datastore.RawKey(string(appendPos(append(streamIndexPrefix(stream), '/'), RecordPos{Height: height, Index: index})))
}

// appendPos appends <height, 16 hex>/<index, 8 hex>.
func appendPos(b []byte, p RecordPos) []byte {
	b = appendNonce(b, p.Height)
	return hex.AppendEncode(append(b, '/'), binary.BigEndian.AppendUint32(nil, p.Index))
}

// evidenceRoot is the prefix of all evidence keys.
const evidenceRoot = "/e"

// evidencePrefix is /e/<offender hex>.
func evidencePrefix(offender identity.PublicKey) []byte {
	return hex.AppendEncode(append(make([]byte, 0, 3+64+1+16+1+8), evidenceRoot+"/"...), offender[:])
}

// evidenceKey is /e/<offender hex>/<height, 16 hex>/<index, 8 hex>.
func evidenceKey(offender identity.PublicKey, height uint64, index uint32) datastore.Key {
	b := appendNonce(append(evidencePrefix(offender), '/'), height)
	return datastore.RawKey(string(hex.AppendEncode(append(b, '/'), binary.BigEndian.AppendUint32(nil, index))))
}

// Values.

func encodeTxLocation(height uint64, index uint32) []byte {
	return binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint64(make([]byte, 0, 12), height), index)
}

// headVersion is the version of the /meta/head encoding.
const headVersion = 1

type headWire struct {
	_             struct{} `cbor:",toarray"`
	Version       uint8
	ChainID       string
	Height        uint64
	LastBlockHash types.Hash
	LastBlockTime int64
	StateRoot     types.Hash
	TotalTxs      uint64
}

func encodeHead(st State) []byte {
	return mustMarshal(headWire{Version: headVersion, ChainID: st.ChainID, Height: st.Height, LastBlockHash: st.LastBlockHash,
		LastBlockTime: st.LastBlockTime, StateRoot: st.StateRoot, TotalTxs: st.TotalTxs})
}

func decodeHead(raw []byte) (State, error) {
	var w headWire
	if err := decMode.Unmarshal(raw, &w); err != nil {
		return State{}, fmt.Errorf("ledger: corrupt head: %w", err)
	}
	if w.Version != headVersion {
		return State{}, fmt.Errorf("ledger: head of unknown version %d", w.Version)
	}
	return State{ChainID: w.ChainID, Height: w.Height, LastBlockHash: w.LastBlockHash, LastBlockTime: w.LastBlockTime,
		StateRoot: w.StateRoot, TotalTxs: w.TotalTxs}, nil
}

// recordWire is the value of a record entry; sender and nonce are in the key.
type recordWire struct {
	_         struct{} `cbor:",toarray"`
	Stream    string
	Timestamp int64
	TxHash    types.Hash
	Height    uint64
	Index     uint32
}

func encodeRecord(r RecordEntry) []byte {
	return mustMarshal(recordWire{Stream: r.Stream, Timestamp: r.Timestamp, TxHash: r.TxHash, Height: r.Height, Index: r.Index})
}

// decodeRecord decodes the entry at key (prefix/<nonce>) for sender.
func decodeRecord(sender identity.PublicKey, stream, prefix, key string, value []byte) (RecordEntry, error) {
	if len(key) != len(prefix)+1+16 {
		return RecordEntry{}, fmt.Errorf("ledger: corrupt record key %s", key)
	}
	nonce, err := strconv.ParseUint(key[len(prefix)+1:], 16, 64)
	if err != nil {
		return RecordEntry{}, fmt.Errorf("ledger: corrupt record key %s", key)
	}
	var w recordWire
	if err := decMode.Unmarshal(value, &w); err != nil {
		return RecordEntry{}, fmt.Errorf("ledger: corrupt record %s: %w", key, err)
	}
	if stream != "" && w.Stream != stream {
		return RecordEntry{}, fmt.Errorf("ledger: corrupt record %s: stream %q", key, w.Stream)
	}
	return RecordEntry{Sender: sender, Stream: w.Stream, Nonce: nonce, Timestamp: w.Timestamp, TxHash: w.TxHash,
		Height: w.Height, Index: w.Index}, nil
}

// decodeEvidenceEntry decodes the entry at key; value is the transaction
// hash, ignored unless withValue (a keys-only listing).
func decodeEvidenceEntry(key string, value []byte, withValue bool) (EvidenceEntry, error) {
	var e EvidenceEntry
	rest, ok := strings.CutPrefix(key, evidenceRoot+"/")
	if !ok || len(rest) != 64+1+16+1+8 || rest[64] != '/' || rest[64+1+16] != '/' {
		return e, fmt.Errorf("ledger: corrupt evidence key %s", key)
	}
	off, err1 := hex.DecodeString(rest[:64])
	height, err2 := strconv.ParseUint(rest[65:65+16], 16, 64)
	index, err3 := strconv.ParseUint(rest[65+17:], 16, 32)
	if err := errors.Join(err1, err2, err3); err != nil {
		return e, fmt.Errorf("ledger: corrupt evidence key %s", key)
	}
	copy(e.Offender[:], off)
	e.Height, e.Index = height, uint32(index)
	if withValue {
		if len(value) != len(e.TxHash) {
			return e, fmt.Errorf("ledger: corrupt evidence %s: %d bytes", key, len(value))
		}
		copy(e.TxHash[:], value)
	}
	return e, nil
}
