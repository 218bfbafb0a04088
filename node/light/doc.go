// Package light runs a light node (role "light"): a device that keeps the
// chain's final headers and its trust (a finalized checkpoint and its
// authority set), not blocks, transactions or state, and that submits its
// own readings through a gateway.
//
// It owns the light protocol's wire format (/sixdomain/<chain-id>/light/1,
// docs/PROTOCOL.md "Light clients": Request, Response, frames, the CBOR
// form of inclusion proofs), which the full node's server (package node,
// lightserve.go) and this package's client share, and the light node
// itself (Node):
//
//   - its own small libp2p host, assembled from go-libp2p's parts (TCP,
//     Noise, Yamux, identify; no GossipSub, DHT, relay or QUIC), and mDNS;
//   - with a data directory: its store (DIR/store/light.log, store.go:
//     one append-only log of CRC-32C-checked records, headers by height,
//     receipts by nonce and the state, trust, head and gap, with an
//     in-memory index of offsets rebuilt on open; no fsync, a torn tail
//     cut and a corrupt log moved aside on open, since whatever is lost is
//     fetched and verified again), the store-and-forward queue
//     (DIR/outbox, package node/outbox, an fsync per reading) and the last
//     nonce signed (DIR/nonce, synced); without one, the same log in
//     memory and a queue in memory;
//   - one worker goroutine that follows the finalized head (latest, its
//     finality proof verified, then the headers below it backwards with
//     their hash links checked) and forwards the queue in nonce order
//     (submit, then status until the reading's inclusion proof and its
//     block's finality verify), failing over to another gateway on any
//     stream error, timeout or answer that does not verify;
//   - a loopback HTTP API (api.go).
//
// Finality is verified in one place, VerifyFinality (finality.go), by
// consensus.VerifyFinality.
//
// Imports: identity, consensus, ledger/types, node/outbox,
// node/internal/reclog (the record framing of its store) and go-libp2p's
// parts; not pebble (the light binary stays small without it,
// cmd/sixd-light's TestLightBinaryLeavesOutPebble) and never package node
// (which imports this one). Close stops every goroutine it started.
package light
