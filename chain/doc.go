// Package chain is the consensus state machine of a sixdomain node: the
// tree of blocks above the last finalized one, fork choice, block sealing in
// this authority's turn, finality votes, and the hand-over of finalized
// blocks to the ledger store.
//
// It knows nothing of the network. Its owner feeds it blocks (AddBlock),
// finality votes (AddVote) and certificates (AddCertificate) and calls Tick
// when NextWake is due; it answers with Events to broadcast or report
// (TakeEvents). The clock and the random source are injected, so the same
// code runs in node (over libp2p) and in the fault-injecting harness of
// package chain/chaintest (over an in-memory transport with virtual time).
//
// Rules:
//   - Block validity: consensus.PoA header rules against the EIP-225
//     snapshot at the parent, every transaction's fields and signature, and
//     ledger.Apply over the parent's state.
//   - Fork choice: among the leaves that descend from the highest
//     justified checkpoint, the largest total difficulty (in-turn blocks
//     weigh 2, out-of-turn 1), then the lower height, then the lower hash
//     (EIP-3436's tie-breaks). It never leaves the finalized chain: blocks
//     at or below the finalized height are refused.
//   - Finality: Casper FFG (consensus.Finality) with two vote rounds per
//     block. An authority votes for its head once per height (normal
//     vote), and commit-votes the highest justified block of its head
//     chain once it is justified (consensus.Finality.NextCommit: source ==
//     target). A justified block is final when its commit votes, or a
//     link from it to its child, form a supermajority link — on a healthy
//     network about two vote propagations after it is sealed, before the
//     next block (chaintest.TestFinalWithinSlot). Only final blocks reach
//     the ledger store, so "committed" in the API means final, and
//     survives kill -9.
//
// Storage: the chain keeps its own records in its namespace of the node's
// datastore (ledger.Spaces.Chain): its last vote, normal or commit, with a
// recovery record (one synced batch, before the vote leaves), and the finalized tip's total
// difficulty, which joins each finalized block's commit batch
// (ledger.Write), so the store's head and it never disagree after a
// crash; in the same batch, the certificates of finality proofs
// (proofs.go: /cert/j/<height>, the votes that justified the block, and
// /cert/f/<height>, the votes that finalized it: its link to its child or
// its commit link), from which FinalityProof
// builds proofs for light clients (consensus.VerifyFinality). The store I/O of the synchronous steps uses the one context the
// chain keeps from New (without its cancellation).
//
// Thread safety: the mutating methods must be called from one goroutine;
// the query methods may be called from any.
//
// Imports: identity, ledger, ledger/types, consensus, mempool. Never pubsub
// or node.
package chain
