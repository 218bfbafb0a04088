// Package pubsub is sixdomain's use of GossipSub (go-libp2p-pubsub): topic
// names, message IDs, router and peer-scoring parameters, and the validators
// that guard the transaction and block topics.
//
// # Topics
//
//	/sixdomain/<chain-id>/tx/1      one signed transaction per message (types.Tx encoding)
//	/sixdomain/<chain-id>/txbatch/1 a batch of transactions (types.TxBatch encoding)
//	/sixdomain/<chain-id>/blocks/2  one sealed block per message, compact (types.CompactBlock encoding)
//	/sixdomain/<chain-id>/votes/1   one finality vote per message (types.FinalityVote encoding)
//	/sixdomain/<chain-id>/certs/1   finality certificates (types.EncodeCertificates)
//
// Messages are published with the StrictNoSign policy and no author: the
// transactions and blocks carry their own Ed25519 signatures, and leaving
// out From and Seqno lets peers of other libp2p implementations, whose
// strict-no-sign mode refuses them, read the topics. The message ID is the
// SHA-256 of the message data, so the same transaction relayed by two peers
// is one message.
//
// Devices publish single transactions on tx/1; a node that keeps the
// chain admits them (RelayTxValidator), hands them to its batcher and
// answers Ignore, so they travel on in its batches (BatchValidator checks
// a batch's transactions with their signatures verified together, see
// TxChecker.CheckBatch). docs/PROTOCOL.md gives every byte.
//
// # Validation
//
// Validators run the cheapest checks first and stop at the first failure:
// size, decoding (canonical CBOR), chain ID and fields, timestamp window,
// signature, then nonce and duplicates against the node's state. Input that
// no honest peer could have produced is Reject, which counts against the
// sending peer's score; input that an honest peer may relay late (a nonce
// already committed, a transaction already pending, a timestamp that aged
// out of the window on the way, a block at or below our height) is Ignore.
//
// # Peer scoring
//
// Scoring is on for both topics (ScoreParams documents each weight). The
// important term is P4, invalid message deliveries: each rejected message
// adds one to a counter that is squared and weighted -100 (tx) or -1000
// (blocks and votes), decaying by 1% a second. One garbage transaction takes a peer
// to -100; a few dozen past the graylist threshold (-2500), after which
// its messages are dropped unread. The mesh-delivery-rate term (P3) is off:
// IoT traffic is sporadic, and P3 would punish quiet but honest peers.
//
// # Bootstrap nodes and peer exchange
//
// A bootstrap node that keeps no chain runs the router with
// Config.Bootstrapper: no mesh (D = Dlo = Dhi = Dout = 0), peer exchange
// on. It announces the chain's topics, so peers GRAFT it, and answers
// every GRAFT with a PRUNE listing other peers of the topic (signed peer
// records), which they dial. Peers accept that list only from their
// configured bootstrap nodes (Config.TrustedPX gives those an application
// score of PXScore, above AcceptPXThreshold).
//
// Imports: identity, ledger/types and go-libp2p-pubsub. Never
// ledger's store or node: state reaches the validators through functions
// in their configuration.
package pubsub
