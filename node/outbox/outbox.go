package outbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger/types"
	"github.com/sixdomain/sixdomain/node/internal/reclog"
)

const (
	fileName  = "outbox.log"
	tmpName   = "outbox.log.tmp"
	magic     = "SIXDOBX1"
	headerLen = reclog.HeaderLen // u32 length, u32 CRC-32C (package node/internal/reclog)

	kindAppend = 1
	kindRemove = 2

	// MaxRemoveBatch is the most hashes one removal record lists.
	MaxRemoveBatch = 512
	// MaxRecordBytes bounds one record on disk, header included: an
	// appended transaction of types.MaxTxBytes, or a removal batch.
	MaxRecordBytes = headerLen + 1 + max(types.MaxTxBytes, MaxRemoveBatch*32)

	// DefaultMaxTxs and DefaultMaxBytes are the bounds of Options' zero
	// values: 10,000 transactions, 8 MiB of their encodings (a reading a
	// minute for a week fits).
	DefaultMaxTxs   = 10_000
	DefaultMaxBytes = 8 << 20

	// compactMin is the least dead space worth a compaction.
	compactMin = 64 << 10
)

var (
	// ErrFull: Append would take the outbox over MaxTxs transactions or
	// MaxBytes bytes; the error says which bound.
	ErrFull = errors.New("outbox: full")
	// ErrOutOfOrder: Append of a nonce not above every queued nonce of the
	// same sender.
	ErrOutOfOrder = errors.New("outbox: nonce not above the sender's queued nonces")
	// ErrDuplicate: the transaction (by hash) is already queued.
	ErrDuplicate = errors.New("outbox: transaction already queued")
	// ErrCorrupt: Open found damage that is not a torn last record, or a
	// record that reads back differently from what was written.
	ErrCorrupt = errors.New("outbox: corrupt file")
	// ErrClosed: the outbox was closed.
	ErrClosed = errors.New("outbox: closed")
	// ErrFailed wraps the write or fsync error after which the outbox
	// refuses every write until it is reopened (what reached the disk is
	// then unknown; Open finds out).
	ErrFailed = errors.New("outbox: a write failed; reopen")
)

// Options bound an outbox. Zero fields take the defaults.
type Options struct {
	// MaxTxs is the most queued transactions (default DefaultMaxTxs).
	MaxTxs int
	// MaxBytes is the most bytes of queued transactions' encodings
	// (default DefaultMaxBytes).
	MaxBytes int64
	// Logger receives a line when Open cuts a torn record or a compaction
	// fails (default: discard).
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.MaxTxs <= 0 {
		o.MaxTxs = DefaultMaxTxs
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// entry indexes one queued transaction.
type entry struct {
	hash   types.Hash
	sender identity.PublicKey
	nonce  uint64
	off    int64 // offset of the transaction's encoding in the file
	size   int   // its length
}

// Outbox is an open queue. Its methods are safe for concurrent use.
type Outbox struct {
	mu     sync.Mutex
	dir    string
	opts   Options
	f      *os.File
	end    int64 // end of the last whole record: where the next one goes
	q      []*entry
	byHash map[types.Hash]*entry
	last   map[identity.PublicKey]uint64 // highest queued nonce per sender
	bytes  int64                         // sum of the queued encodings' sizes
	dead   int64                         // file bytes of removed and removal records
	err    error                         // sticky, wraps ErrFailed
	closed bool
}

func newOutbox(dir string, opts Options) *Outbox {
	return &Outbox{dir: dir, opts: opts.withDefaults(), byHash: map[types.Hash]*entry{}, last: map[identity.PublicKey]uint64{}}
}

// Open opens (creating if needed) the outbox in dir. It replays the file,
// cutting a torn last record (see the package doc); ctx bounds the replay.
func Open(ctx context.Context, dir string, opts Options) (*Outbox, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	if err := os.Remove(filepath.Join(dir, tmpName)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("outbox: removing an unfinished compaction: %w", err)
	}
	path := filepath.Join(dir, fileName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	o := newOutbox(dir, opts)
	o.f = f
	if err := o.replay(ctx); err != nil {
		f.Close()
		return nil, err
	}
	return o, nil
}

// replay loads the file into the index, writing the magic into a new (or
// torn new) file and cutting a torn last record.
func (o *Outbox) replay(ctx context.Context) error {
	fi, err := o.f.Stat()
	if err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	size := fi.Size()
	head := make([]byte, len(magic))
	n, err := o.f.ReadAt(head, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("outbox: %w", err)
	}
	if n < len(magic) {
		// A file cut while it was being created: its bytes so far must be
		// the magic's.
		if string(head[:n]) != magic[:n] && !reclog.AllZero(head[:n]) {
			return fmt.Errorf("%w: %s: %d bytes that are not an outbox", ErrCorrupt, o.path(), n)
		}
		if err := o.f.Truncate(0); err != nil {
			return fmt.Errorf("outbox: %w", err)
		}
		if _, err := o.f.WriteAt([]byte(magic), 0); err != nil {
			return fmt.Errorf("outbox: %w", err)
		}
		if err := o.f.Sync(); err != nil {
			return fmt.Errorf("outbox: %w", err)
		}
		if err := syncDir(o.dir); err != nil {
			return err
		}
		o.end = int64(len(magic))
		return nil
	}
	if string(head) != magic {
		return fmt.Errorf("%w: %s does not start with %q", ErrCorrupt, o.path(), magic)
	}
	end, err := o.load(ctx, io.NewSectionReader(o.f, 0, size), size)
	if err != nil {
		return fmt.Errorf("%w (%s)", err, o.path())
	}
	if end < size {
		o.opts.Logger.Warn("outbox: cutting a torn last record", "file", o.path(), "at", end, "bytes", size-end)
		if err := o.f.Truncate(end); err != nil {
			return fmt.Errorf("outbox: cutting a torn record: %w", err)
		}
		if err := o.f.Sync(); err != nil {
			return fmt.Errorf("outbox: %w", err)
		}
	}
	o.end = end
	return nil
}

// load reads records from r (the whole file, size bytes, magic included)
// into the index and returns the end of the last whole record. Damage
// within the last MaxRecordBytes is a torn record: load stops before it.
// Damage further in, or a whole record that does not decode, is
// ErrCorrupt.
func (o *Outbox) load(ctx context.Context, r io.Reader, size int64) (int64, error) {
	br := reclog.NewReader(r, MaxRecordBytes-headerLen)
	if _, err := io.ReadFull(br, make([]byte, len(magic))); err != nil {
		return 0, fmt.Errorf("%w: no magic", ErrCorrupt)
	}
	off := int64(len(magic))
	for i := 0; off < size; i++ {
		if i%1024 == 1023 {
			if err := ctx.Err(); err != nil {
				return 0, err
			}
		}
		body, err := br.Next(size - off)
		if err != nil {
			if size-off <= MaxRecordBytes {
				return off, nil // a torn last record
			}
			return 0, fmt.Errorf("%w: record at offset %d: %v", ErrCorrupt, off, err)
		}
		recLen := int64(headerLen + len(body))
		switch body[0] {
		case kindAppend:
			tx, err := types.DecodeTx(body[1:])
			if err != nil {
				return 0, fmt.Errorf("%w: record at offset %d: %v", ErrCorrupt, off, err)
			}
			e := &entry{hash: tx.Hash(), sender: tx.Sender, nonce: tx.Nonce, off: off + headerLen + 1, size: len(body) - 1}
			if _, dup := o.byHash[e.hash]; dup {
				return 0, fmt.Errorf("%w: record at offset %d: transaction %s queued twice", ErrCorrupt, off, e.hash)
			}
			if last, ok := o.last[e.sender]; ok && e.nonce <= last {
				return 0, fmt.Errorf("%w: record at offset %d: nonce %d after %d", ErrCorrupt, off, e.nonce, last)
			}
			o.index(e)
		case kindRemove:
			p := body[1:]
			if len(p) == 0 || len(p)%32 != 0 || len(p)/32 > MaxRemoveBatch {
				return 0, fmt.Errorf("%w: record at offset %d: removal of %d bytes", ErrCorrupt, off, len(p))
			}
			hashes := make([]types.Hash, len(p)/32)
			for j := range hashes {
				copy(hashes[j][:], p[32*j:])
				if _, ok := o.byHash[hashes[j]]; !ok {
					return 0, fmt.Errorf("%w: record at offset %d: removes %s, which is not queued", ErrCorrupt, off, hashes[j])
				}
			}
			o.drop(hashes)
			o.dead += recLen
		default:
			return 0, fmt.Errorf("%w: record at offset %d: unknown kind %d", ErrCorrupt, off, body[0])
		}
		off += recLen
	}
	return off, nil
}

// index adds e at the back.
func (o *Outbox) index(e *entry) {
	o.q = append(o.q, e)
	o.byHash[e.hash] = e
	o.last[e.sender] = max(o.last[e.sender], e.nonce)
	o.bytes += int64(e.size)
}

// drop removes the queued entries with these hashes (each present).
func (o *Outbox) drop(hashes []types.Hash) {
	senders := map[identity.PublicKey]bool{}
	for _, h := range hashes {
		if e, ok := o.byHash[h]; ok {
			delete(o.byHash, h)
			o.bytes -= int64(e.size)
			o.dead += int64(headerLen + 1 + e.size)
			senders[e.sender] = true
		}
	}
	o.q = slices.DeleteFunc(o.q, func(e *entry) bool { _, ok := o.byHash[e.hash]; return !ok })
	for s := range senders {
		delete(o.last, s)
	}
	for _, e := range o.q {
		if senders[e.sender] {
			o.last[e.sender] = max(o.last[e.sender], e.nonce)
		}
	}
}

// encodeRecord returns the record of kind with payload.
func encodeRecord(kind byte, payload []byte) []byte {
	return reclog.Append(make([]byte, 0, headerLen+1+len(payload)), []byte{kind}, payload)
}

// usable reports why the outbox cannot be used, if it cannot.
func (o *Outbox) usable() error {
	if o.closed {
		return ErrClosed
	}
	return o.err
}

// write appends rec at the end and fsyncs. On failure it cuts the file
// back and makes the outbox refuse further writes.
func (o *Outbox) write(rec []byte) error {
	if _, err := o.f.WriteAt(rec, o.end); err != nil {
		return o.fail(err)
	}
	if err := o.f.Sync(); err != nil {
		return o.fail(err)
	}
	o.end += int64(len(rec))
	return nil
}

func (o *Outbox) fail(err error) error {
	_ = o.f.Truncate(o.end) // best effort; Open cuts a torn record anyway
	o.err = fmt.Errorf("%w: %w", ErrFailed, err)
	return o.err
}

// Append queues tx at the back and returns once it is on disk. It refuses
// a transaction that fails tx.ValidateBasic(tx.ChainID), one already
// queued (ErrDuplicate), a nonce not above the sender's queued ones
// (ErrOutOfOrder), and one that would exceed MaxTxs or MaxBytes (ErrFull).
func (o *Outbox) Append(tx *types.Tx) error {
	if tx == nil {
		return errors.New("outbox: nil transaction")
	}
	if err := tx.ValidateBasic(tx.ChainID); err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	raw := tx.Encode()
	if len(raw) > types.MaxTxBytes {
		return fmt.Errorf("outbox: %w: transaction of %d bytes exceeds %d", types.ErrOversize, len(raw), types.MaxTxBytes)
	}
	h := tx.Hash()
	rec := encodeRecord(kindAppend, raw)

	o.mu.Lock()
	defer o.mu.Unlock()
	if err := o.usable(); err != nil {
		return err
	}
	if _, dup := o.byHash[h]; dup {
		return fmt.Errorf("%w: %s", ErrDuplicate, h)
	}
	if last, ok := o.last[tx.Sender]; ok && tx.Nonce <= last {
		return fmt.Errorf("%w: nonce %d, %s has %d queued", ErrOutOfOrder, tx.Nonce, tx.Sender.DID(), last)
	}
	if len(o.q) >= o.opts.MaxTxs {
		return fmt.Errorf("%w: %d transactions queued (limit %d)", ErrFull, len(o.q), o.opts.MaxTxs)
	}
	if int64(len(raw)) > o.opts.MaxBytes-o.bytes {
		return fmt.Errorf("%w: %d bytes queued, a transaction of %d exceeds the limit of %d", ErrFull, o.bytes, len(raw), o.opts.MaxBytes)
	}
	off := o.end
	if err := o.write(rec); err != nil {
		return err
	}
	o.index(&entry{hash: h, sender: tx.Sender, nonce: tx.Nonce, off: off + headerLen + 1, size: len(raw)})
	return nil
}

// Peek returns up to n transactions from the front, oldest first, without
// removing them.
func (o *Outbox) Peek(n int) ([]*types.Tx, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return nil, ErrClosed
	}
	n = min(max(n, 0), len(o.q))
	out := make([]*types.Tx, 0, n)
	for _, e := range o.q[:n] {
		buf := make([]byte, e.size)
		if _, err := o.f.ReadAt(buf, e.off); err != nil {
			return nil, fmt.Errorf("outbox: reading %s: %w", e.hash, err)
		}
		tx, err := types.DecodeTx(buf)
		if err != nil || tx.Hash() != e.hash {
			return nil, fmt.Errorf("%w: %s reads back differently (%v)", ErrCorrupt, e.hash, err)
		}
		out = append(out, tx)
	}
	return out, nil
}

// Remove takes the queued transactions with these hashes out (wherever
// they are; hashes not queued are ignored) and returns how many it
// removed, once that is on disk.
func (o *Outbox) Remove(hashes ...types.Hash) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if err := o.usable(); err != nil {
		return 0, err
	}
	seen := map[types.Hash]bool{}
	var present []types.Hash
	for _, h := range hashes {
		if _, ok := o.byHash[h]; ok && !seen[h] {
			seen[h] = true
			present = append(present, h)
		}
	}
	return o.remove(present)
}

// RemoveThrough takes out sender's queued transactions with nonces up to
// nonce (those the chain committed, say) and returns how many.
func (o *Outbox) RemoveThrough(sender identity.PublicKey, nonce uint64) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if err := o.usable(); err != nil {
		return 0, err
	}
	var hashes []types.Hash
	for _, e := range o.q {
		if e.sender == sender && e.nonce <= nonce {
			hashes = append(hashes, e.hash)
		}
	}
	return o.remove(hashes)
}

// remove writes removal records for hashes (all queued, distinct), one
// fsync each, and updates the index after each.
func (o *Outbox) remove(hashes []types.Hash) (int, error) {
	done := 0
	for batch := range slices.Chunk(hashes, MaxRemoveBatch) {
		payload := make([]byte, 0, 32*len(batch))
		for _, h := range batch {
			payload = append(payload, h[:]...)
		}
		rec := encodeRecord(kindRemove, payload)
		if err := o.write(rec); err != nil {
			return done, err
		}
		o.drop(batch)
		o.dead += int64(len(rec))
		done += len(batch)
	}
	if done > 0 {
		if err := o.maybeCompact(); err != nil {
			o.opts.Logger.Warn("outbox: compaction failed; the file keeps its removed records", "file", o.path(), "err", err)
		}
	}
	return done, nil
}

// maybeCompact rewrites the file with the live records only when removed
// ones take more room than they do and at least compactMin.
func (o *Outbox) maybeCompact() error {
	live := o.end - int64(len(magic)) - o.dead
	if o.dead < compactMin || o.dead <= live {
		return nil
	}
	return o.compact()
}

// compact writes the live records to the temporary file, fsyncs it,
// renames it over the log and fsyncs the directory. Before the rename a
// failure leaves the old file in use; after it, the outbox switches to the
// new file or, if it cannot open it, fails.
func (o *Outbox) compact() error {
	tmp := filepath.Join(o.dir, tmpName)
	t, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	abort := func(err error) error {
		t.Close()
		os.Remove(tmp)
		return err
	}
	offs := make([]int64, len(o.q))
	off := int64(len(magic))
	buf := []byte(magic)
	for i, e := range o.q {
		raw := make([]byte, e.size)
		if _, err := o.f.ReadAt(raw, e.off); err != nil {
			return abort(err)
		}
		rec := encodeRecord(kindAppend, raw)
		offs[i] = off + headerLen + 1
		off += int64(len(rec))
		buf = append(buf, rec...)
		if len(buf) >= 1<<20 || i == len(o.q)-1 {
			if _, err := t.Write(buf); err != nil {
				return abort(err)
			}
			buf = buf[:0]
		}
	}
	if len(o.q) == 0 {
		if _, err := t.Write(buf); err != nil {
			return abort(err)
		}
	}
	if err := t.Sync(); err != nil {
		return abort(err)
	}
	if err := t.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, o.path()); err != nil {
		os.Remove(tmp)
		return err
	}
	nf, err := os.OpenFile(o.path(), os.O_RDWR, 0o600)
	if err != nil {
		return o.fail(err)
	}
	o.f.Close()
	o.f = nf
	for i, e := range o.q {
		e.off = offs[i]
	}
	o.end, o.dead = off, 0
	if err := syncDir(o.dir); err != nil {
		return o.fail(err)
	}
	return nil
}

// Len returns the number of queued transactions.
func (o *Outbox) Len() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.q)
}

// Bytes returns the total size of the queued transactions' encodings.
func (o *Outbox) Bytes() int64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.bytes
}

// Close closes the file. Every Append that returned is already on disk.
func (o *Outbox) Close() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return nil
	}
	o.closed = true
	return o.f.Close()
}

func (o *Outbox) path() string { return filepath.Join(o.dir, fileName) }

func syncDir(dir string) error {
	if err := reclog.SyncDir(dir); err != nil {
		return fmt.Errorf("outbox: syncing %s: %w", dir, err)
	}
	return nil
}
