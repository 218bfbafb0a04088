// Package mempool owns the bounded pool of valid transactions that wait to
// be sealed into a block.
//
// Transactions arrive already validated by the caller (decoding, chain ID,
// fields, signature, timestamp window); the pool checks only what depends
// on the other pending transactions and on the sender's committed nonce:
// duplicates, replayed nonces, nonces too far ahead, conflicting
// transactions for one sender and nonce (the first one wins), and its
// limits (transactions, bytes, transactions per sender).
//
// Per sender, pending transactions are kept by nonce. Select returns, for
// each sender, the contiguous run of nonces after the sender's committed
// nonce, interleaved round robin across senders in the arrival order of
// each sender's oldest pending transaction; a missing nonce ends a
// sender's run. Committed drops what a block committed, Expire what fell
// out of the timestamp window.
//
// Back-pressure: Admit, the entry point for new transactions (from the
// API, the light protocol and gossip), refuses with ErrBusy once the pool
// is above its high-water mark (Config.HighWaterPercent of MaxTxs or of
// MaxBytes, 80 % by default), well before ErrFull. The rule that sheds
// the excess: above the mark only a transaction that fills its sender's
// first nonce gap is taken (every nonce from the committed one up to it is
// pending, and a later one is too), so that nothing the pool already took
// waits forever on a nonce it refuses; everything else is refused, and the
// caller says so (HTTP 503 with Retry-After, a gossip Ignore). Add, without
// the mark, takes back the transactions of blocks that left the head chain.
//
// No silent loss: the pool remembers, in a bounded LRU (Config.DropRecord,
// twice MaxTxs by default, at most 100,000), why a pending transaction left without being
// sealed: DropExpired (Expire) or DropNonceTaken (its sender's nonce was
// committed, by it or by another transaction; the caller checks the chain
// first). Dropped answers it; Forget clears the records of transactions
// known to be committed. The pool never evicts or replaces a pending
// transaction, so there is no other way out.
//
// A Pool is safe for concurrent use. Add, Has, Get, Committed (per removed
// transaction) and Expire (per expired transaction) cost O(log n) or less;
// Select costs O(selected + senders·log senders); Admit above the
// high-water mark adds O(MaxPerSender) for the sender's gap check.
//
// Imports: the standard library and, from sixdomain, only identity and
// ledger/types.
package mempool
