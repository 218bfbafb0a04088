// Package txflow moves transactions between nodes the way the network is
// shaped: devices hand single transactions to a gateway or an authority,
// which batches them (Batcher) and disseminates each batch as one message;
// blocks travel compact (types.CompactBlock) and a node rebuilds them from
// its own pool, pulling what it lacks from peers (Assembler; the node's
// gap loop pulls a sender's missing nonces the same way); and SigQueue
// verifies together the signatures of transactions that arrive one at a
// time.
//
// It knows nothing of libp2p: the transport, the pool and the peers reach
// it through the small interfaces Fetcher and Pool, so the node (over
// libp2p streams and GossipSub) and tests (in memory) run the same code.
// The clock is injected (package clock).
//
// Not here yet: the node's dispatch of received messages and its sync
// decisions still live in package node, and chain/chaintest keeps its
// own copy of the sync logic.
//
// Imports: ledger/types and clock. Never node, pubsub or libp2p.
package txflow
