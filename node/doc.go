// Package node runs a sixdomain peer: a libp2p host (TCP and QUIC-v1,
// Noise, Yamux, identify, ping, connection manager, resource manager, mDNS
// and bootstrap peers), GossipSub on the chain's topics, the mempool, the
// ledger store, block production when the node is an authority, block sync,
// and the HTTP API with its dashboard (package node/web, served at "/").
//
// Discovery and reachability (p2p.go): the chain's own Kademlia DHT
// (DHTProtocolPrefix; server on bootstrap nodes, client on devices, auto on
// gateways) in which every node that keeps the chain advertises itself under
// RendezvousKey and looks for peers while below its connection low
// watermark; a relay v2 and AutoNAT service on nodes declared public
// (announce addresses, or WithRelayService, default for bootstrap nodes);
// auto-relay with the bootstrap peers as static relays and hole punching
// on devices and gateways; WithAnnounce and WithNoAnnounce shape the
// advertised addresses.
//
// A bootstrap node without WithKeepChain runs relay-only: it keeps an
// in-memory store that stays at genesis (the API answers from it; Submit
// fails with ErrNoChain), runs no chain loop, sync, sync protocol handler or
// subscriptions, and joins the chain's topics only to announce them: its
// router keeps no mesh (D = 0) and answers GRAFTs with peer exchange, and
// it ignores every message. This keeps New's shape (every field set, the
// API unchanged) while nothing writes chain state. Nodes accept peer
// exchange from their configured bootstrap peers only.
//
// Sync progress: the node counts as catching up until a sync round reached
// the end of its peers' chains (the first round starts as soon as a peer
// connects), and whenever the finalized height their
// certificates showed (SyncTarget) exceeds its own by more than two;
// /v1/status reports both and GET /readyz turns them into readiness.
//
// One goroutine (the chain loop) owns the ledger: it applies blocks from
// gossip and sync, seals blocks when it is this node's turn, and is the only
// writer of the store. Every other goroutine (validators, API handlers,
// syncer, discovery) reads, or hands work to the chain loop over a channel.
// The chain loop also appends what happened (new heads, final blocks, their
// transactions, authority changes) to the bounded event log behind
// GET /v1/events, which never waits for a client.
// Close stops every goroutine the node started (the DHT's advertise and
// find loops included), then closes the DHT, the host and, if the node
// opened it, the store.
//
// The network, clock and store reach the node through options (WithHost,
// WithClock, WithDatastore), so simulations run this same code.
//
// Back-pressure: every source of new transactions (POST /v1/txs, the
// light protocol, gossip) goes through mempool.Pool.Admit, which refuses
// above the pool's high-water mark (mempool_busy): the API answers 503
// with Retry-After, gossip ignores the message. GET /v1/txs/{hash} reports
// a transaction that left the mempool unsealed as dropped, with the
// pool's recorded reason; with the API on, a goroutine clears the records
// of the transactions final blocks commit.
//
// Receipts, contracts and native assets (api_assets.go) are read-only
// views of the finalized state: GET /v1/receipts, /v1/contracts and
// /v1/assets, and the readable form of asset, deploy and call transactions.
//
// Transaction flow (txflow.go, the libp2p side of package chain/txflow):
// what the API, the light protocol and devices on tx/1 hand the node goes
// into its batcher and out on the batch topic; sealed blocks are gossiped
// compact and rebuilt from the mempool, with the pull protocol
// (/sixdomain/<chain-id>/pull/1) for missing transactions and nonce gaps.
//
// Light clients (lightserve.go): every node that keeps the chain serves
// the light protocol (/sixdomain/<chain-id>/light/1, package node/light
// owns its wire format): submit through the same admission as POST
// /v1/txs, status with inclusion and finality proofs, the latest final
// header with its finality proof, and final headers by height; bounded
// frames, a deadline per stream and at most 4 requests per peer at once.
//
// Imports: everything below it (identity, ledger, ledger/types,
// ledger/assets, contracts, consensus, chain, chain/txflow, mempool, pubsub,
// clock),
// node/web, the dashboard's embedded assets, which imports only the
// standard library, and node/light for the light protocol's messages
// (node/light never imports node). Only cmd and
// simulations import node.
package node
