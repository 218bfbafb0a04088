// Package ledger owns sixdomain's state transition and its durable store.
//
// # State transition
//
// State is the small value-type summary of the chain after a block: chain
// ID, height, last block hash and time, state root and transaction count.
// The only state a block changes is, per sender, the last committed nonce,
// plus append-only indexes of data records and of evidence transactions
// (types.TxEvidence: two conflicting finality votes of one authority,
// indexed by that offender).
//
// Apply checks a block against a State and returns the next State and the
// block's Changes; Propose builds the next block from candidate
// transactions so that Apply accepts it. Both are pure: no clock, no I/O
// except reading committed nonces through a NonceReader. Neither verifies
// transaction signatures nor the block seal: callers (package consensus) do
// that, with a signature cache, before calling Apply.
//
// # State root
//
// The state root is an accumulator over state changes, not a Merkle tree
// of the current state:
//
//	StateRoot(h) = SHA-256( "SIXDOMAIN-STATE-V1"   (18 ASCII bytes, no terminator)
//	                     || StateRoot(h-1)         (32 bytes; all zero at genesis)
//	                     || h                      (8 bytes, big-endian)
//	                     || CBOR(change set of block h) )
//
// where the change set is the CBOR array (core deterministic profile)
//
//	[ [[sender, nonce], ...],   nonce updates: one per sender of the block,
//	                            the sender's new last nonce, sorted by the
//	                            sender's 32 key bytes (byte strings, uints)
//	  [tx_hash, ...],           the data records' transaction hashes (32-byte
//	                            byte strings), in block order
//	  [tx_hash, ...] ]          the evidence transactions' hashes (32-byte
//	                            byte strings), in block order — present only
//	                            if the block holds at least one
//
// A block without evidence transactions has the two-element change set
// [nonces, records], exactly as before evidence existed, so its root is
// unchanged; a block with any has the three-element one. Empty nonce and
// record lists are encoded as empty arrays, never null. Because every root
// hashes its predecessor, the root at height h commits to the whole history
// of changes: two nodes with equal roots at a height have applied identical
// changes in identical order. It cannot prove a single nonce or record to a
// light client; a sparse Merkle tree of the current state is future work.
//
// # Store layout
//
// Store keeps the chain in a go-datastore Batching datastore: pebble on
// disk (OpenPebble) or a map in memory (NewMemory). A node's datastore has
// one namespace per owner (Split, Spaces; namespace.Wrap):
//
//	/ledger/...                        this package's Store (the keys below)
//	/chain/...                         package chain: /own-vote, /recovery and
//	                                   /tip-td (the finalized tip's total difficulty)
//	/consensus/...                     package consensus: /snapshot/<block hash hex>,
//	                                   EIP-225 snapshot checkpoints
//
// Store.Commit writes one batch over the root datastore that the ledger's
// namespace wraps, so that its caller's records (Write: the chain's total
// difficulty) commit atomically with the block. Before the namespaces, the
// ledger's keys sat at the root (the flat layout; /chain and /consensus
// keys were already where they are now); Split detects that layout
// (/meta/genesis at the root) and MigrateFlat moves every ledger key under
// /ledger in one synced batch, which an interrupted run leaves undone and
// the next Open redoes. Open itself takes any datastore and keeps its keys
// at that datastore's root.
//
// The Store's keys, relative to its datastore. Hex is lower case; heights
// and nonces are 16 hex digits so that key order is numeric order.
//
//	/meta/genesis                      genesis hash, 32 bytes
//	/meta/head                         head State, CBOR [1, chain_id, height, last_block_hash,
//	                                   last_block_time, state_root, total_txs]
//	/b/<height>                        the block's canonical encoding (types.Block.Encode)
//	/h/<block hash hex>                height, 8 bytes big-endian
//	/t/<tx hash hex>                   height (8 bytes BE) || index in block (4 bytes BE)
//	/n/<sender hex>                    last committed nonce, 8 bytes big-endian
//	/r/<sender hex>/<nonce>            record entry, CBOR [stream, timestamp_ms, tx_hash, height, index]
//	/s/<sender hex>/<stream hex>/<nonce>  the same record entry, indexed by stream
//	/q/<stream hex>/<height>/<index hex>  a stream's records from every sender, in
//	                                   chain order: CBOR [sender, nonce, timestamp_ms,
//	                                   tx_hash]; index in block 8 hex digits
//	/meta/stream-index                 1 once /q indexes every record (Open backfills
//	                                   /q from /r in a store written before /q existed)
//	/e/<offender hex>/<height>/<index hex>  evidence entry: the evidence transaction's
//	                                   hash, 32 bytes; height 16 hex digits, index in
//	                                   block 8 hex digits
//	/d/k/<key hex>                     DID ID (32 bytes): every key a DID has had
//	/d/h/<id hex>                      the DID's latest record
//	/d/v/<id hex>/<version>            every version of the record
//
// Records queries list keys under /r/<sender> or /s/<sender>/<stream> in
// key order (pebble iterates in order; for the map datastore the query asks
// for query.OrderByKey), which is nonce order. StreamRecords lists
// /q/<stream> in key order, which is chain order, or in reverse (newest
// first). Evidence lists /e/<offender> the same way, in chain order;
// Offenders lists the keys under /e.
// Repeated evidence against one offender is kept; the first entry is the
// one that matters.
//
// # Durability
//
// Store.Commit writes everything a block changes — the block, its hash and
// transaction indexes, nonces, record and evidence entries, the new head
// state and its caller's records (Write) — in one datastore batch, and
// returns only after the batch committed. With OpenPebble the batch is written with pebble.Sync, so a
// block Commit reported committed survives a crash or kill -9, and a crash
// never leaves part of a block: pebble applies a batch atomically, and the
// head state is in the same batch. The in-memory State is updated only
// after the batch committed. The memory datastore has no durability at
// all.
//
// Reads (State, Nonce, Block, Records, ...) may run concurrently with
// Commit; commits are serialised.
//
// # Imports
//
// The standard library, identity, ledger/types, ledger/merkle,
// go-datastore, go-ds-pebble, pebble and fxamacker/cbor. Never consensus,
// pubsub, node or anything above them: they depend on this package.
package ledger
