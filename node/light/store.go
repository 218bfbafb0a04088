package light

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/sixdomain/sixdomain/ledger/types"
	"github.com/sixdomain/sixdomain/node/internal/reclog"
)

// The light node's store is one append-only log (DataDir/store/light.log),
// not a database: an 8-byte magic "SIXDLST1", then records
//
//	[u32 LE length n][u32 LE CRC-32C of the n bytes][n bytes: kind, payload]
//
// with kinds
//
//	1 header   u64 BE height, the header's canonical encoding
//	2 receipt  u64 BE nonce, the receipt's CBOR
//	3 state    u64 BE head height (0: none), u64 BE gap low, u64 BE gap
//	           high, the trust (JSON of Trust)
//
// A write appends its records (a batch of headers, then the state that
// counts them) in one write, without fsync; every prefix of the log is a
// state the node was in, since a state record follows the headers it
// counts. Open replays the log into an index (height → offset of the
// header, nonce → offset of the receipt; the latest state in memory) and
// cuts the log at the first record that is short, fails its CRC or is
// zeros: what a power loss took is fetched again from a gateway and
// verified again. A log that does not start with the magic, or a record
// whose CRC holds but which does not decode, is corrupt: Open moves it
// aside (light.log.corrupt) and starts empty. When superseded records
// (older states, headers written twice) take more room than live ones and
// at least storeCompactMin, the live records are written to light.log.tmp,
// which is fsynced, renamed over the log, and the directory fsynced.
const (
	storeFile       = "light.log"
	storeTmp        = "light.log.tmp"
	storeCorrupt    = "light.log.corrupt"
	storeMagic      = "SIXDLST1"
	recHeaderLen    = reclog.HeaderLen
	storeCompactMin = 1 << 20

	recHeader  = 1
	recReceipt = 2
	recState   = 3

	// maxStoreRecord bounds one record's body (kind and payload).
	maxStoreRecord = 1 << 20
	// maxOffset bounds the log (offsets are packed in 40 bits).
	maxOffset = 1 << 40
)

var (
	// ErrStoreCorrupt: the store's log holds a record that checks out but
	// does not decode, or a header or receipt that reads back differently.
	ErrStoreCorrupt = errors.New("light: corrupt store")
	// ErrNotFound: the store holds no such header or receipt.
	ErrNotFound = errors.New("light: not found")
)

// logFile is the log's medium: a file, or memory for a node without a data
// directory.
type logFile interface {
	io.ReaderAt
	io.WriterAt
	Truncate(size int64) error
	Sync() error
	Close() error
}

// memFile is a logFile in memory.
type memFile struct{ b []byte }

func (m *memFile) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off >= int64(len(m.b)) {
		return 0, io.EOF
	}
	n := copy(p, m.b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (m *memFile) WriteAt(p []byte, off int64) (int, error) {
	if end := off + int64(len(p)); end > int64(len(m.b)) {
		m.b = append(m.b, make([]byte, end-int64(len(m.b)))...)
	}
	return copy(m.b[off:], p), nil
}

func (m *memFile) Truncate(size int64) error {
	if size < int64(len(m.b)) {
		m.b = m.b[:size]
	}
	return nil
}
func (m *memFile) Sync() error  { return nil }
func (m *memFile) Close() error { return nil }

// storeState is the store's latest state record.
type storeState struct {
	head  uint64 // 0: no head
	gap   gap
	trust []byte // nil: none stored
}

// store is the light node's headers, receipts and state. Safe for
// concurrent use; it starts no goroutines.
type store struct {
	mu       sync.Mutex
	dir      string // "" in memory
	log      *slog.Logger
	f        logFile
	end      int64 // end of the last whole record
	dead     int64 // bytes of superseded records
	headers  map[uint64]uint64
	receipts map[uint64]uint64
	state    storeState
	stateLen int64 // bytes of the latest state record
	closed   bool
}

// span packs a record's offset (40 bits) and total length (24 bits).
func span(off int64, n int) uint64 { return uint64(off) | uint64(n)<<40 }
func unspan(s uint64) (int64, int) { return int64(s & (maxOffset - 1)), int(s >> 40) }

func newStore(dir string, log *slog.Logger) *store {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &store{dir: dir, log: log, headers: map[uint64]uint64{}, receipts: map[uint64]uint64{},
		state: storeState{gap: gap{Low: 1, High: 0}}}
}

// newMemoryStore returns an empty store in memory.
func newMemoryStore() *store {
	s := newStore("", nil)
	s.f = &memFile{b: []byte(storeMagic)}
	s.end = int64(len(storeMagic))
	return s
}

// openStore opens (creating if need be) the store in dir. A corrupt log is
// moved aside and the store starts empty; only I/O errors fail.
func openStore(ctx context.Context, dir string, log *slog.Logger) (*store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("light: store: %w", err)
	}
	if err := os.Remove(filepath.Join(dir, storeTmp)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("light: store: %w", err)
	}
	s, err := openStoreFile(ctx, dir, log)
	if !errors.Is(err, ErrStoreCorrupt) {
		return s, err
	}
	if log != nil {
		log.Warn("light: the store is corrupt; moving it aside and starting again", "dir", dir, "err", err)
	}
	if err := os.Rename(filepath.Join(dir, storeFile), filepath.Join(dir, storeCorrupt)); err != nil {
		return nil, fmt.Errorf("light: store: %w", err)
	}
	return openStoreFile(ctx, dir, log)
}

func openStoreFile(ctx context.Context, dir string, log *slog.Logger) (*store, error) {
	f, err := os.OpenFile(filepath.Join(dir, storeFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("light: store: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("light: store: %w", err)
	}
	s := newStore(dir, log)
	s.f = f
	end, err := s.replay(ctx, io.NewSectionReader(f, 0, fi.Size()), fi.Size())
	if err != nil {
		f.Close()
		return nil, err
	}
	if end == 0 {
		// New, or cut while it was being created.
		if err := f.Truncate(0); err != nil {
			f.Close()
			return nil, fmt.Errorf("light: store: %w", err)
		}
		if _, err := f.WriteAt([]byte(storeMagic), 0); err != nil {
			f.Close()
			return nil, fmt.Errorf("light: store: %w", err)
		}
		end = int64(len(storeMagic))
	} else if end < fi.Size() {
		s.log.Warn("light: cutting the store's torn tail", "dir", dir, "at", end, "bytes", fi.Size()-end)
		if err := f.Truncate(end); err != nil {
			f.Close()
			return nil, fmt.Errorf("light: store: %w", err)
		}
	}
	s.end = end
	return s, nil
}

// replay reads the log (size bytes, magic included) into the index and
// returns the end of the last whole record: 0 if the log is empty or a
// prefix of the magic. It fails (ErrStoreCorrupt) only on a log that is
// not one, or on a whole record that does not decode.
func (s *store) replay(ctx context.Context, r io.Reader, size int64) (int64, error) {
	rr := reclog.NewReader(r, maxStoreRecord)
	head := make([]byte, len(storeMagic))
	n, _ := io.ReadFull(rr, head)
	if n < len(storeMagic) {
		if string(head[:n]) != storeMagic[:n] && !reclog.AllZero(head[:n]) {
			return 0, fmt.Errorf("%w: %d bytes that are not a light store", ErrStoreCorrupt, n)
		}
		return 0, nil
	}
	if string(head) != storeMagic {
		return 0, fmt.Errorf("%w: does not start with %q", ErrStoreCorrupt, storeMagic)
	}
	off := int64(len(storeMagic))
	for i := 0; off < size; i++ {
		if i%1024 == 1023 {
			if err := ctx.Err(); err != nil {
				return 0, err
			}
		}
		body, err := rr.Next(size - off)
		if err != nil {
			break // torn: the log ends here
		}
		if err := s.apply(off, body); err != nil {
			return 0, fmt.Errorf("%w: record at offset %d: %w", ErrStoreCorrupt, off, err)
		}
		off += int64(recHeaderLen + len(body))
	}
	if s.state.head != 0 {
		if _, ok := s.headers[s.state.head]; !ok {
			return 0, fmt.Errorf("%w: the head %d is not stored", ErrStoreCorrupt, s.state.head)
		}
	}
	return off, nil
}

// apply indexes the record at off with this body.
func (s *store) apply(off int64, body []byte) error {
	recLen := int64(recHeaderLen + len(body))
	if off+recLen > maxOffset {
		return errors.New("log too large")
	}
	p := body[1:]
	switch body[0] {
	case recHeader, recReceipt:
		if len(p) < 9 {
			return fmt.Errorf("kind %d of %d bytes", body[0], len(p))
		}
		k := binary.BigEndian.Uint64(p)
		m := s.headers
		if body[0] == recReceipt {
			m = s.receipts
		}
		if old, ok := m[k]; ok {
			_, n := unspan(old)
			s.dead += int64(n)
		}
		m[k] = span(off, int(recLen))
	case recState:
		st, err := decodeStoreState(p)
		if err != nil {
			return err
		}
		if st.head != 0 {
			if _, ok := s.headers[st.head]; !ok {
				return fmt.Errorf("state of head %d, which is not stored", st.head)
			}
		}
		s.dead += s.stateLen
		s.state, s.stateLen = st, recLen
	default:
		return fmt.Errorf("unknown kind %d", body[0])
	}
	return nil
}

func decodeStoreState(p []byte) (storeState, error) {
	if len(p) < 24 {
		return storeState{}, fmt.Errorf("state of %d bytes", len(p))
	}
	st := storeState{head: binary.BigEndian.Uint64(p), gap: gap{Low: binary.BigEndian.Uint64(p[8:]), High: binary.BigEndian.Uint64(p[16:])}}
	if len(p) > 24 {
		st.trust = append([]byte(nil), p[24:]...)
	}
	return st, nil
}

func encodeStoreState(st storeState) []byte {
	p := make([]byte, 24, 24+len(st.trust))
	binary.BigEndian.PutUint64(p, st.head)
	binary.BigEndian.PutUint64(p[8:], st.gap.Low)
	binary.BigEndian.PutUint64(p[16:], st.gap.High)
	return append(p, st.trust...)
}

// appendRecord appends the record of kind with key (if keyed) and payload
// to buf.
func appendRecord(buf []byte, kind byte, key *uint64, payload []byte) []byte {
	var k []byte
	if key != nil {
		k = binary.BigEndian.AppendUint64(nil, *key)
	}
	return reclog.Append(buf, []byte{kind}, k, payload)
}

// readRecord reads back the record at sp and returns its payload after the
// key, checking its CRC, kind and key.
func (s *store) readRecord(sp uint64, kind byte, key uint64) ([]byte, error) {
	off, n := unspan(sp)
	buf := make([]byte, n)
	if _, err := s.f.ReadAt(buf, off); err != nil {
		return nil, fmt.Errorf("light: store: %w", err)
	}
	body := buf[recHeaderLen:]
	if n < recHeaderLen+9 || binary.LittleEndian.Uint32(buf) != uint32(len(body)) ||
		reclog.Checksum(body) != binary.LittleEndian.Uint32(buf[4:]) ||
		body[0] != kind || binary.BigEndian.Uint64(body[1:]) != key {
		return nil, fmt.Errorf("%w: the record of %d at offset %d reads back differently", ErrStoreCorrupt, key, off)
	}
	return body[9:], nil
}

// State returns the latest state: the head's height (0: none), the gap and
// the trust (nil: none stored).
func (s *store) State() storeState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state
}

// Header returns the stored header encoding at height (ErrNotFound).
func (s *store) Header(height uint64) ([]byte, error) { return s.get(recHeader, s.headers, height) }

// Receipt returns the stored receipt of nonce (ErrNotFound).
func (s *store) Receipt(nonce uint64) ([]byte, error) { return s.get(recReceipt, s.receipts, nonce) }

func (s *store) get(kind byte, m map[uint64]uint64, k uint64) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	sp, ok := m[k]
	if !ok {
		return nil, ErrNotFound
	}
	return s.readRecord(sp, kind, k)
}

// storeWrite is one write: headers (by height), receipts (by nonce), then
// the state if set.
type storeWrite struct {
	headers  [][]byte
	heights  []uint64
	receipts [][]byte
	nonces   []uint64
	state    *storeState
}

func (w *storeWrite) header(height uint64, raw []byte) {
	w.heights, w.headers = append(w.heights, height), append(w.headers, raw)
}

func (w *storeWrite) receipt(nonce uint64, raw []byte) {
	w.nonces, w.receipts = append(w.nonces, nonce), append(w.receipts, raw)
}

// Write appends w's records in one write, without fsync.
func (s *store) Write(w *storeWrite) error {
	var buf []byte
	var offs []int64
	var lens []int
	add := func(kind byte, key *uint64, payload []byte) error {
		start := len(buf)
		buf = appendRecord(buf, kind, key, payload)
		if len(buf)-start-recHeaderLen > maxStoreRecord {
			return fmt.Errorf("light: store: a record of %d bytes", len(buf)-start)
		}
		offs, lens = append(offs, int64(start)), append(lens, len(buf)-start)
		return nil
	}
	for i := range w.headers {
		if err := add(recHeader, &w.heights[i], w.headers[i]); err != nil {
			return err
		}
	}
	for i := range w.receipts {
		if err := add(recReceipt, &w.nonces[i], w.receipts[i]); err != nil {
			return err
		}
	}
	if w.state != nil {
		if err := add(recState, nil, encodeStoreState(*w.state)); err != nil {
			return err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if s.end+int64(len(buf)) > maxOffset {
		return errors.New("light: store: the log is full")
	}
	if _, err := s.f.WriteAt(buf, s.end); err != nil {
		_ = s.f.Truncate(s.end) // best effort; Open cuts a torn tail anyway
		return fmt.Errorf("light: store: %w", err)
	}
	base := s.end
	s.end += int64(len(buf))
	i := 0
	index := func(m map[uint64]uint64, k uint64) {
		if old, ok := m[k]; ok {
			_, n := unspan(old)
			s.dead += int64(n)
		}
		m[k] = span(base+offs[i], lens[i])
		i++
	}
	for _, h := range w.heights {
		index(s.headers, h)
	}
	for _, k := range w.nonces {
		index(s.receipts, k)
	}
	if w.state != nil {
		s.dead += s.stateLen
		s.state, s.stateLen = *w.state, int64(lens[i])
		s.state.trust = append([]byte(nil), w.state.trust...)
	}
	if err := s.maybeCompact(); err != nil {
		s.log.Warn("light: store compaction failed; the log keeps its superseded records", "err", err)
	}
	return nil
}

// maybeCompact rewrites the log with its live records only when
// superseded ones take more room than they do and at least
// storeCompactMin.
func (s *store) maybeCompact() error {
	live := s.end - int64(len(storeMagic)) - s.dead
	if s.dead < storeCompactMin || s.dead <= live {
		return nil
	}
	return s.compact()
}

// compact copies the live records to a new log (headers, receipts, then
// the state) and switches to it: in a file, through light.log.tmp,
// fsynced and renamed over the log.
func (s *store) compact() error {
	var t logFile
	tmp := filepath.Join(s.dir, storeTmp)
	if s.dir == "" {
		t = &memFile{}
	} else {
		f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			return err
		}
		t = f
	}
	abort := func(err error) error {
		t.Close()
		if s.dir != "" {
			os.Remove(tmp)
		}
		return err
	}
	headers := make(map[uint64]uint64, len(s.headers))
	receipts := make(map[uint64]uint64, len(s.receipts))
	buf := []byte(storeMagic)
	off := int64(0)
	flush := func(force bool) error {
		if len(buf) < 256<<10 && !force {
			return nil
		}
		if _, err := t.WriteAt(buf, off); err != nil {
			return err
		}
		off += int64(len(buf))
		buf = buf[:0]
		return nil
	}
	copyAll := func(from, to map[uint64]uint64) error {
		for k, sp := range from {
			o, n := unspan(sp)
			at := len(buf)
			buf = append(buf, make([]byte, n)...)
			if _, err := s.f.ReadAt(buf[at:], o); err != nil {
				return err
			}
			to[k] = span(off+int64(at), n)
			if err := flush(false); err != nil {
				return err
			}
		}
		return nil
	}
	if err := copyAll(s.headers, headers); err != nil {
		return abort(err)
	}
	if err := copyAll(s.receipts, receipts); err != nil {
		return abort(err)
	}
	at := len(buf)
	buf = appendRecord(buf, recState, nil, encodeStoreState(s.state))
	stateLen := int64(len(buf) - at)
	if err := flush(true); err != nil {
		return abort(err)
	}
	if err := t.Sync(); err != nil {
		return abort(err)
	}
	if s.dir != "" {
		// The open temporary file becomes the log: no reopening.
		if err := os.Rename(tmp, filepath.Join(s.dir, storeFile)); err != nil {
			return abort(err)
		}
		if err := reclog.SyncDir(s.dir); err != nil {
			s.log.Warn("light: store: syncing the directory", "err", err)
		}
	}
	s.f.Close()
	s.f, s.headers, s.receipts = t, headers, receipts
	s.end, s.dead, s.stateLen = off, 0, stateLen
	return nil
}

// Reset empties the store (a store whose state does not decode).
func (s *store) Reset() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.f.Truncate(int64(len(storeMagic))); err != nil {
		return fmt.Errorf("light: store: %w", err)
	}
	clear(s.headers)
	clear(s.receipts)
	s.end, s.dead, s.stateLen = int64(len(storeMagic)), 0, 0
	s.state = storeState{gap: gap{Low: 1, High: 0}}
	return nil
}

// Close closes the log. What was written and not synced is the operating
// system's to write.
func (s *store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	return s.f.Close()
}

// Queue is the store-and-forward queue of signed transactions not yet
// proven final: appended in nonce order, read and removed from the head.
type Queue interface {
	Append(ctx context.Context, item []byte) error
	// Peek returns up to n items from the head, oldest first.
	Peek(ctx context.Context, n int) ([][]byte, error)
	// Remove drops the n oldest items.
	Remove(ctx context.Context, n int) error
	Len() int
}

// ErrQueueFull: the queue holds its limit of items.
var ErrQueueFull = errors.New("light: queue full")

// memQueue is the Queue of a light node without a data directory.
type memQueue struct {
	mu    sync.Mutex
	items [][]byte
	max   int
}

// NewMemoryQueue returns a queue in memory of at most max items.
func NewMemoryQueue(max int) Queue { return &memQueue{max: max} }

func (q *memQueue) Append(_ context.Context, item []byte) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.items) >= q.max {
		return fmt.Errorf("%w: %d items", ErrQueueFull, q.max)
	}
	q.items = append(q.items, append([]byte(nil), item...))
	return nil
}

func (q *memQueue) Peek(_ context.Context, n int) ([][]byte, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	n = min(max(n, 0), len(q.items))
	return append([][]byte(nil), q.items[:n]...), nil
}

func (q *memQueue) Remove(_ context.Context, n int) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	n = min(max(n, 0), len(q.items))
	q.items = append(q.items[:0:0], q.items[n:]...)
	return nil
}

func (q *memQueue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items)
}

// Receipt is what the light node keeps of a reading it proved final.
type Receipt struct {
	_         struct{}   `cbor:",toarray"`
	Hash      types.Hash `json:"hash"`
	Nonce     uint64     `json:"nonce"`
	Timestamp int64      `json:"timestamp_ms"`  // the device's time of the reading
	Height    uint64     `json:"height"`        // the final block that holds it
	BlockTime int64      `json:"block_time_ms"` // the inclusion time: that block's time
	// Replaced, if not zero, is the hash of a reading the chain refused for
	// good; this receipt is of the filler record that took its nonce.
	Replaced types.Hash `json:"replaced,omitempty"`
}

// gap is a range of heights whose headers are still to be fetched; the
// header at High+1 is held (or High+1 is the head).
type gap struct {
	_    struct{} `cbor:",toarray"`
	Low  uint64
	High uint64
}
