// Package outbox is a device's store-and-forward queue: a bounded, on-disk
// FIFO of signed transactions kept while the device cannot reach any
// gateway, forwarded in order when it reconnects (issue 11, item 4).
//
// An Outbox holds at most Options.MaxTxs transactions and Options.MaxBytes
// bytes of their encodings; Append beyond either fails with ErrFull. A
// transaction whose Append returned nil survives a crash or power loss;
// one whose Append did not return may or may not be there after a restart,
// but never half: Open cuts a torn last record. The queue keeps append
// order, which for one sender must be nonce order (ErrOutOfOrder), so that
// forwarding the queue front to back never leaves a nonce gap. A Remove
// that did not return may be undone by a crash: the transactions come back
// and are forwarded again, which is harmless, since the chain refuses a
// replayed nonce (types.ErrReplayedNonce) and RemoveThrough then drops
// them.
//
// # File format and why not pebble
//
// The queue is one append-only file, outbox.log, in its directory: an
// 8-byte magic "SIXDOBX1", then records
//
//	[u32 LE length n][u32 LE CRC-32C of the n bytes][n bytes: kind, payload]
//
// with kind 1 an appended transaction (payload: its canonical encoding,
// types.Tx.Encode) and kind 2 a removal (payload: the removed transactions'
// hashes, 32 bytes each, at most MaxRemoveBatch per record). Append writes
// one record and fsyncs before it returns; Remove and RemoveThrough write
// one removal record per batch and fsync. When removed records take more
// room than live ones (and at least 64 KiB), the file is compacted: the
// live records are written to outbox.log.tmp, which is fsynced, renamed
// over outbox.log, and the directory fsynced; a crash at any point leaves
// either the old or the new file whole.
//
// Open replays the file. Since at most one record is being written when
// the power goes, damage (a short record, a bad CRC, zeros) within the
// last MaxRecordBytes of the file is a torn append and is cut off; damage
// further in, or a record whose CRC holds but whose content does not
// decode, is ErrCorrupt: the file is then left as it is for an operator.
//
// A file of our own rather than a second pebble store (go-ds-pebble, which
// the full node uses for the chain): the queue is written sequentially and
// read from the front, exactly what an append-only log with one fsync per
// record does, while pebble would add a write-ahead log, memtables,
// compactions and a block cache — several megabytes of memory on a device
// whose whole budget (a light node) is about 20 MB — and a second store's
// crash semantics to reason about. The format is small enough that the
// recovery rule above is easy to state and to test: a test kills a child
// process (kill -9) in the middle of appends and checks that every Append
// that returned is still there, in order, and nothing half-written; table
// tests cut and damage the file at every offset of its last record; and
// FuzzReplay feeds arbitrary files to the decoder.
//
// Memory: the outbox keeps an index entry (hash, sender, nonce, file
// offset and size) and a hash-map slot per queued transaction, not the
// transactions: Peek reads them from the file.
//
// An Outbox is safe for concurrent use and starts no goroutines. It
// imports identity, ledger/types and node/internal/reclog (the record
// framing it shares with node/light's store) only; node/light (the light node)
// uses it.
package outbox
