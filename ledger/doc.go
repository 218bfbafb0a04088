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
// The state root is the root of an authenticated key-value tree of the
// current state (package ledger/smt: a compact sparse Merkle tree over
// SHA-256 key paths, whose leaves commit to SHA-256 of the values; its
// package doc defines the node encodings). After each block the tree holds
// exactly these keys (ASCII prefix, then raw bytes):
//
//	nonce/<sender, 32 bytes>    the sender's last committed nonce, 8 bytes big-endian
//	did/<DID ID, 32 bytes>      the DID's latest registry record (types.DIDRecord.Encode),
//	                            which carries its controllers, keys, services, domain,
//	                            admission and revocation
//	didkey/<key, 32 bytes>      the ID of the DID that key belongs or belonged to
//	asset/...                   native assets (package ledger/assets: denominations,
//	                            balances, frozen accounts, device-bound assets)
//	contract/...                contracts: contract/code/<code hash>, contract/meta/<address>
//	                            (CBOR [code hash, creator]), contract/s/<address><key>
//	authorities                 the authority set in force after the block (the voters
//	                            of finality links whose source is the block): the CBOR
//	                            array of the 32-byte keys, sorted by key bytes
//
// Apply and Propose compute the root by applying the block's changes to
// the tree at the parent's root (smt.Update over the Reader's nodes), so
// the header's StateRoot commits to the whole state, and anyone can prove
// one key's value, or its absence, against it (Store.StateProof). The
// authority set comes from the Reader (AuthoritiesAfter: the consensus
// engine's EIP-225 fold over the header); the tree is written at block 1
// with the genesis set, and again when the set changes (Changes.Authorities).
// Data records and evidence are proven by the transaction root
// (types.TxProof), not by the state. The genesis state root is zero (the
// empty tree). Stores written when the state root was a hash chain of
// changes (before the tree) have no /meta/state-tree and are refused
// (ErrPreStateTree).
//
// # Modules, receipts
//
// Asset operations (types.TxAsset, package ledger/assets) and contract
// deploys and calls (types.TxDeploy, types.TxCall, package contracts) run
// against the block's state through a per-transaction overlay of module
// state (kvstate.go): a refused operation or failing call is still
// included, consumes its nonce (and gas), keeps none of its writes, and
// has a failure receipt (types.Receipt, Changes.Receipts). Contract code
// is checked when deployed (code failing the checks is refused outright);
// a call's gas limit is at most DefaultMaxTxGas, a block's at most
// DefaultMaxBlockGas in all. The Reader gives module values (StateGet),
// record existence (RecordAt) and may cache compiled programs
// (ProgramCache).
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
//	/st/<node hash hex>                a state-tree node (smt encoding, 65 bytes); nodes of
//	                                   replaced versions are kept (no pruning yet), so
//	                                   proofs at any height can be built
//	/auth/<height>                     the authority set after the block at height, at each
//	                                   block that changed it (block 1 always), as in the tree
//	/meta/state-tree                   1: the state roots are tree roots
//	/kv/<key hex>                      a module key's value (asset/..., contract/...)
//	/rc/<tx hash hex>                  a transaction's receipt (types.Receipt)
//	/rh/<sender hex>/<stream hex>/<height>  1 when the sender has a record of the
//	                                   stream in that block (contracts' record_exists)
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
// all. Store.CommitBlocks does the same for several consecutive blocks in
// one batch (one sync): a crash keeps all of them or none, and none is
// reported committed before the batch is (package chain commits a
// finalized path this way, so a node catching up syncs once per batch).
//
// Reads (State, Nonce, Block, Records, ...) may run concurrently with
// Commit; commits are serialised.
//
// # Imports
//
// The standard library, identity, contracts, ledger/types, ledger/merkle,
// ledger/smt, ledger/assets,
// go-datastore, go-ds-pebble, pebble and fxamacker/cbor. Never consensus,
// pubsub, node or anything above them: they depend on this package.
package ledger
