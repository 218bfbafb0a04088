// Package consensus decides which authority seals which block and checks
// that a block was sealed by the right one.
//
// This is the foundation's round-robin schedule: the authorities listed in
// the genesis, sorted by their key bytes, take turns by height (the block at
// height h is sealed by authorities[h mod N]), at most one block per slot.
// Because exactly one authority may seal each height, honest nodes never
// see two valid blocks at one height unless that authority equivocates, and
// a block is final once it is applied. The price is liveness: while the
// in-turn authority is down, the chain waits for it. The full
// Proof-of-Authority engine (voting, out-of-turn sealing, a finality
// gadget) replaces the schedule behind the same Engine interface.
//
// The rules here are stateless: they read only the header, its parent's
// height and time, the genesis and (for the "not too far in the future"
// check) a clock reading passed in by the caller.
//
// Imports: identity and ledger/types; never ledger's store, pubsub or node.
package consensus
