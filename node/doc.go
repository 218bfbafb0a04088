// Package node runs a sixdomain peer: a libp2p host (TCP and QUIC-v1,
// Noise, Yamux, identify, ping, connection manager, resource manager, mDNS
// and bootstrap peers), GossipSub on the chain's topics, the mempool, the
// ledger store, block production when the node is an authority, block sync,
// and the HTTP API with its dashboard (package node/web, served at "/").
//
// One goroutine (the chain loop) owns the ledger: it applies blocks from
// gossip and sync, seals blocks when it is this node's turn, and is the only
// writer of the store. Every other goroutine (validators, API handlers,
// syncer, discovery) reads, or hands work to the chain loop over a channel.
// The chain loop also appends what happened (new heads, final blocks, their
// transactions, authority changes) to the bounded event log behind
// GET /v1/events, which never waits for a client.
// Close stops every goroutine the node started, then closes the host and,
// if the node opened it, the store.
//
// The network, clock and store reach the node through options (WithHost,
// WithClock, WithDatastore), so simulations run this same code.
//
// Imports: everything below it (identity, ledger, ledger/types, consensus,
// chain, mempool, pubsub, clock) and node/web, the dashboard's embedded
// assets, which imports only the standard library. Only cmd and
// simulations import node.
package node
