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
// A Pool is safe for concurrent use. Add, Has, Get, Committed (per removed
// transaction) and Expire (per expired transaction) cost O(log n) or less;
// Select costs O(selected + senders·log senders).
//
// Imports: the standard library and, from sixdomain, only identity and
// ledger/types.
package mempool
