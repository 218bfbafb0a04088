// Package light runs a light node (role "light"): a device that keeps the
// chain's final headers and its trust (a finalized checkpoint and its
// authority set), not blocks, transactions or state, and that submits its
// own readings through a gateway.
//
// It owns the light protocol's wire format (/sixdomain/<chain-id>/light/1:
// Request, Response, frames, the CBOR form of inclusion proofs), which the
// full node's server (package node, lightserve.go) and this package's
// client share, and the light node itself (Node): its own small libp2p
// host (TCP, Noise, Yamux; no GossipSub, no DHT), a pebble store without
// fsync (headers, trust, receipts, the store-and-forward queue), one
// worker goroutine that follows the finalized head (latest, then headers
// backwards with their hash links checked) and forwards the queue in nonce
// order (submit, then status until the reading's inclusion proof and its
// block's finality proof verify), failing over to another gateway on any
// stream error, and a loopback HTTP API.
//
// Finality is verified in one place, VerifyFinality (finality.go).
//
// Imports: identity, ledger/types and libp2p; never package node (which
// imports this one). Close stops every goroutine it started.
package light
