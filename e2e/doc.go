// Package e2e is the end-to-end fault tester: it lays a network out with
// `sixd testnet`, runs the shipped sixd binary as separate processes (or
// containers), drives signed transactions through several nodes' APIs while
// recording every acknowledgement, applies the perturbations of a manifest
// (kill -9 and restart, pause, disconnection, partition, restart of every
// node), and afterwards checks the invariants: nothing acknowledged as
// committed is missing on any node, no two nodes finalized different
// blocks at a height, every node converges to the same finalized head and
// state root within a bound after each fault and after the run, no node's
// memory grows without bound, and every killed node came back by itself.
//
// The node has no test-only branch for this: the runner sees it only
// through its command line, its files and its HTTP API.
//
// It may import the standard library, ledger/types, identity and node (for
// the API's JSON shapes); cmd/sixd-e2e is its command.
package e2e
