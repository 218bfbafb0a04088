// Package chaintest is a deterministic, fault-injecting simulator for
// package chain: a whole cluster of chain.Chain state machines (authorities,
// observers, at most one equivocating authority) wired together by an
// in-memory network and driven by virtual time from a single seed. It is
// for finding consensus bugs — safety and liveness — under partitions,
// crashes, clock skew, message loss and a byzantine authority, and for
// replaying them exactly.
//
// It is modelled on hashicorp/raft's InmemTransport and fuzzy tests and on
// CometBFT's e2e perturbations. Everything happens on one goroutine: a
// priority queue of events ordered by (virtual time, sequence number) holds
// node wake-ups (chain.NextWake → Tick), message deliveries, sync requests
// and responses, workload submissions and scripted faults. Nothing sleeps
// and nothing reads the wall clock, so a run is a pure function of its seed
// and configuration, and Cluster.Trace (a hash of every event) proves it.
//
// # What it models
//
//   - Nodes: each has its own ledger.Store over ledger.NewMemory() (the
//     datastore survives a crash, like a synced disk), a mempool and a
//     chain.Chain whose clock is virtual time plus the node's clock skew
//     and whose random source is a PCG derived from the seed. Crash drops
//     the chain and the mempool; Restart builds a new chain.Chain over the
//     surviving datastore. One transaction-signature cache serves all nodes
//     (a cached verdict is the same everywhere; it saves most of the
//     signature checks of a run).
//   - Network: per-message latency (base + uniform jitter, so messages
//     reorder), loss and duplication probabilities, partitions into groups
//     (messages across groups are lost, also when the partition starts
//     while they are in flight), heal, and a message filter for scripted
//     tests. Blocks, votes, certificates and transactions travel encoded;
//     every receiver decodes its own copy. Blocks, votes and certificates
//     (chain.Events.Certificates) are relayed once by every node that
//     accepts them, as gossipsub floods; transactions go one hop.
//   - Sync: the pull protocol of node/sync.go — on chain.ErrUnknownParent
//     and every SyncInterval a node asks a random reachable peer for the
//     blocks of its head chain from head+1 (final ones from its store,
//     the rest from chain.HeadBlocks) and its chain.Certificates — with
//     one addition: when the answer does not connect, or the peer's head
//     is a block this node has never seen, it asks again from its
//     finalized height+1, so that it can learn a branch below its head
//     that the fork choice prefers (Config.NaiveSync turns that off).
//     Certificates that name blocks not known yet
//     (consensus.ErrUnknownCheckpoint) are offered again when blocks
//     arrive.
//   - Faults: crash and restart, clock skew (±20s in random scenarios),
//     partitions, loss and duplication, and an equivocating authority:
//     when it seals it also seals a twin block (same parent, another
//     time), sends each to one half of its peers, and signs a finality
//     vote and a commit vote for each (a double vote on FFG epochs, which
//     lets each half finalize its block if fewer than 1/3 do not stop
//     it). Honest nodes submit the evidence they report as transactions,
//     which gets the offender voted out.
//   - Workload: devices signing data-record transactions with consecutive
//     nonces, handed to random running nodes (mempool Add with
//     chain.HeadNonce) and resubmitted while not final.
//
// # Invariants
//
// Checked on every Committed event (so a run stops at the first
// violation): a height is finalized with the same block and state root
// everywhere, blocks are committed in order, and a transaction is final at
// one height only. CheckInvariants, after a run, checks every node's store
// — crashed nodes' included — for (a) one finalized block per height,
// (b) honest nodes' finalized state (hash, state root, transaction count)
// along one prefix, and (d) every reported transaction exactly once in the
// finalized chain. CheckLiveness (c), after a final heal: an honest block
// within a few slots, honest heads converged, and every honest node's
// finality at least a few blocks beyond anything final at the heal.
// Evidence against an honest authority, or with bad signatures, and the
// gadget's safety alarm (consensus.ErrConflictingFinality) are violations
// too. Violations carry the seed and the tail of the event log.
//
// TestFinalWithinSlot checks latency rather than safety: on a healthy
// network every block is final at every node before the next block is
// sealed (Cluster.Finality: seal and final times in virtual time).
//
// # Use
//
// NewCluster builds a cluster for a scripted scenario (see the targeted
// tests: Partition, Heal, Crash, Restart, SetSkew, SetDrop, SetFilter,
// Run, Mark, CheckInvariants, CheckLiveness). RunRandom runs the random
// scenario of a seed:
//
//	CONSENSUS_SEEDS=1000 go test -run TestFuzzySeeds ./chain/chaintest/   # make fuzz-consensus
//	CONSENSUS_SEED=42 go test -run TestSeed -v ./chain/chaintest/        # replay one seed
//
// CONSENSUS_LOG=1 prints the event log of TestSeed and of the scripted
// tests (2 adds the chains' own logs); CONSENSUS_SEED_BASE shifts the
// seeds of TestFuzzySeeds; CONSENSUS_LIVENESS=0 checks safety only.
package chaintest
