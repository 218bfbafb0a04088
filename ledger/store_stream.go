package ledger

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"

	"github.com/ipfs/go-datastore/query"

	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger/types"
)

// streamIndexVersion is the value of /meta/stream-index.
const streamIndexVersion = 1

// streamIndexBatch bounds the entries one batch of the stream index
// backfill writes.
const streamIndexBatch = 4096

// RecordPos is a record's place in the chain: the height of its block, then
// its index in the block. Its order is chain order.
type RecordPos struct {
	Height uint64
	Index  uint32
}

// Less reports whether p comes before q in chain order.
func (p RecordPos) Less(q RecordPos) bool {
	return p.Height < q.Height || p.Height == q.Height && p.Index < q.Index
}

// String is "<height>:<index>", the form ParseRecordPos reads.
func (p RecordPos) String() string {
	return strconv.FormatUint(p.Height, 10) + ":" + strconv.FormatUint(uint64(p.Index), 10)
}

// ParseRecordPos reads "<height>:<index>".
func ParseRecordPos(s string) (RecordPos, error) {
	for i := 0; i < len(s); i++ {
		if s[i] != ':' {
			continue
		}
		h, err1 := strconv.ParseUint(s[:i], 10, 64)
		x, err2 := strconv.ParseUint(s[i+1:], 10, 32)
		if err := errors.Join(err1, err2); err != nil {
			break
		}
		return RecordPos{Height: h, Index: uint32(x)}, nil
	}
	return RecordPos{}, fmt.Errorf("record position %q is not <height>:<index>", truncate(s, 40))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// StreamRecords lists the data records of stream from every sender, in
// chain order (block height, then index in the block), or newest first if
// desc. With a non-nil from it starts strictly after *from in that order
// (to page, pass the last entry's position). limit is capped at
// MaxRecordsLimit; 0 or less means MaxRecordsLimit. The index it reads is
// written in each block's commit batch.
func (s *Store) StreamRecords(ctx context.Context, stream string, from *RecordPos, desc bool, limit int) ([]RecordEntry, error) {
	if err := types.ValidateStream(stream); err != nil {
		return nil, err
	}
	if limit <= 0 || limit > MaxRecordsLimit {
		limit = MaxRecordsLimit
	}
	prefix := string(streamIndexPrefix(stream))
	q := query.Query{Prefix: prefix, Orders: []query.Order{query.OrderByKey{}}, Limit: limit}
	op := query.GreaterThan
	if desc {
		q.Orders, op = []query.Order{query.OrderByKeyDescending{}}, query.LessThan
	}
	if from != nil {
		q.Filters = []query.Filter{query.FilterKeyCompare{Op: op, Key: string(appendPos([]byte(prefix+"/"), *from))}}
	}
	res, err := s.d.Query(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("ledger: listing stream %q: %w", stream, err)
	}
	defer res.Close()
	var out []RecordEntry
	for r := range res.Next() {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if r.Error != nil {
			return nil, fmt.Errorf("ledger: listing stream %q: %w", stream, r.Error)
		}
		e, err := decodeStreamEntry(stream, prefix, r.Key, r.Value)
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

// streamEntryWire is the value of a /q entry; stream, height and index are
// in the key.
type streamEntryWire struct {
	_         struct{} `cbor:",toarray"`
	Sender    identity.PublicKey
	Nonce     uint64
	Timestamp int64
	TxHash    types.Hash
}

func encodeStreamEntry(r RecordEntry) []byte {
	return mustMarshal(streamEntryWire{Sender: r.Sender, Nonce: r.Nonce, Timestamp: r.Timestamp, TxHash: r.TxHash})
}

// decodeStreamEntry decodes the entry at key (prefix/<height>/<index>).
func decodeStreamEntry(stream, prefix, key string, value []byte) (RecordEntry, error) {
	rest := key[min(len(key), len(prefix)):]
	if len(rest) != 1+16+1+8 || rest[0] != '/' || rest[17] != '/' {
		return RecordEntry{}, fmt.Errorf("ledger: corrupt stream index key %s", key)
	}
	height, err1 := strconv.ParseUint(rest[1:17], 16, 64)
	index, err2 := strconv.ParseUint(rest[18:], 16, 32)
	if err := errors.Join(err1, err2); err != nil {
		return RecordEntry{}, fmt.Errorf("ledger: corrupt stream index key %s", key)
	}
	var w streamEntryWire
	if err := decMode.Unmarshal(value, &w); err != nil {
		return RecordEntry{}, fmt.Errorf("ledger: corrupt stream index entry %s: %w", key, err)
	}
	return RecordEntry{Sender: w.Sender, Stream: stream, Nonce: w.Nonce, Timestamp: w.Timestamp, TxHash: w.TxHash,
		Height: height, Index: uint32(index)}, nil
}

// buildStreamIndex backfills the /q stream index of a store written before
// it existed, from the /r record entries, then writes /meta/stream-index.
// It runs in Open, before any Commit. Its writes are idempotent: a crash
// midway leaves the marker unwritten and the next Open starts over.
func (s *Store) buildStreamIndex(ctx context.Context) error {
	if ok, err := s.d.Has(ctx, keyStreamIndex); err != nil {
		return fmt.Errorf("ledger: reading the stream index marker: %w", err)
	} else if ok {
		return nil
	}
	res, err := s.d.Query(ctx, query.Query{Prefix: "/r", Orders: []query.Order{query.OrderByKey{}}})
	if err != nil {
		return fmt.Errorf("ledger: building the stream index: %w", err)
	}
	defer res.Close()
	batch, err := s.d.Batch(ctx)
	if err != nil {
		return fmt.Errorf("ledger: building the stream index: %w", err)
	}
	pending, total := 0, 0
	for r := range res.Next() {
		if r.Error != nil {
			return fmt.Errorf("ledger: building the stream index: %w", r.Error)
		}
		e, err := decodeRecordAnySender(r.Key, r.Value)
		if err != nil {
			return err
		}
		if err := batch.Put(ctx, streamIndexKey(e.Stream, e.Height, e.Index), encodeStreamEntry(e)); err != nil {
			return fmt.Errorf("ledger: building the stream index: %w", err)
		}
		pending++
		total++
		if pending == streamIndexBatch {
			if err := batch.Commit(ctx); err != nil {
				return fmt.Errorf("ledger: building the stream index: %w", err)
			}
			if batch, err = s.d.Batch(ctx); err != nil {
				return fmt.Errorf("ledger: building the stream index: %w", err)
			}
			pending = 0
		}
	}
	if err := batch.Put(ctx, keyStreamIndex, []byte{streamIndexVersion}); err != nil {
		return fmt.Errorf("ledger: building the stream index: %w", err)
	}
	if err := batch.Commit(ctx); err != nil {
		return fmt.Errorf("ledger: building the stream index (%d records): %w", total, err)
	}
	return nil
}

// decodeRecordAnySender decodes a /r/<sender hex>/<nonce> entry.
func decodeRecordAnySender(key string, value []byte) (RecordEntry, error) {
	const root = "/r/"
	if len(key) != len(root)+64+1+16 || key[:len(root)] != root {
		return RecordEntry{}, fmt.Errorf("ledger: corrupt record key %s", key)
	}
	raw, err := hex.DecodeString(key[len(root) : len(root)+64])
	if err != nil {
		return RecordEntry{}, fmt.Errorf("ledger: corrupt record key %s", key)
	}
	var sender identity.PublicKey
	copy(sender[:], raw)
	return decodeRecord(sender, "", string(recordPrefix(sender)), key, value)
}
