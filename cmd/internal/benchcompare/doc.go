// Package benchcompare drives the same load against a CometBFT localnet and
// a sixdomain devnet, one after the other, and prints one table side by
// side: the engine behind `make bench-compare` (docs/BENCHMARKS.md, Side by
// side with CometBFT).
//
// For each offered rate it:
//
//   - starts CometBFT's built-in kvstore application as a localnet of four
//     validators on loopback (`cometbft testnet`, one process per
//     validator on 127.0.0.1 to 127.0.0.4, timeout_commit set to the
//     sixdomain slot), waits until it makes blocks, offers the rate for the
//     duration with broadcast_tx_async over HTTP (keep-alive connections,
//     several per validator, round-robin over the validators; what queued
//     while a connection's last request was out goes as one JSON-RPC batch
//     of at most 10, CometBFT's default max_request_batch_size), each
//     transaction a unique key=value of exactly the size of a sixdomain
//     transaction, learns
//     commit times by polling /block on one validator and hashing the
//     transactions (SHA-256, CometBFT's transaction hash), and stops every
//     process (also on error or interrupt);
//   - runs `sixd devnet --quiet --authorities 4 --tx-bytes N ...` at the
//     same rate, slot and duration and reads its JSON summary.
//
// Both sides are measured the same way: committed transactions per second
// from the start of the load to the last commit, submit-to-commit
// latency percentiles by nearest rank, up to ten slots plus five seconds to
// drain after the load, refusals (CometBFT's "mempool is full", sixdomain's
// refused submissions) counted apart. CometBFT's transactions are unsigned
// (kvstore checks only their form); sixdomain's are Ed25519-signed and
// verified on every node. CometBFT's load arrives over HTTP from this
// process; sixdomain's devnet generates and signs its load inside its own
// process.
//
// `go test` runs the pure parts (sizing, percentiles, parsing CometBFT's
// JSON, editing its config, the table) and the load loop against a fake
// of CometBFT's RPC in the test; never CometBFT or a devnet.
//
// Imports: the standard library and cmd/internal/devnet (its Summary);
// nothing of CometBFT's code, which runs as a separate binary.
package benchcompare
