// Package consensus holds sixdomain's Proof-of-Authority rules: the
// EIP-225 (Clique) authority snapshot, the stateless header rules, and a
// Casper FFG finality gadget. Everything here is a pure function or a
// state machine owned by one goroutine; package chain drives it.
//
// # Authorities and sealing (EIP-225)
//
// Snapshot is the authority state after a block, and Snapshot.Apply is a
// pure fold over headers: at most one vote per block; only a signer's
// latest vote per target counts; a proposal passes with more than half of
// the signers; a pass applies only to its target (no cascading) and clears
// the votes on it; a dropped signer's own votes are discarded; epoch
// checkpoints clear all votes and list the set; a signer may seal at most
// one block in any floor(N/2)+1 consecutive ones. The 24 scenarios of
// testdata/eip225_vectors.json (a copy; testdata/README.md names its
// source) run as a table test.
// Snapshots caches snapshots and checkpoints them in the datastore every
// 1024 blocks.
//
// PoA holds the header rules apart from the snapshot (as go-ethereum's
// clique.go does): chain, height and parent link, time at least parent +
// slot and at most FutureAllowance ahead of the local clock, the proposer
// authorized and not recent, difficulty 2 in turn (signers[h mod N]) and 1
// out of turn, checkpoint lists, and the seal. SealTime gives the in-turn
// authority parent + slot and the others a randomised later time, so that
// blocks keep coming while a majority of authorities is reachable; fork
// choice (package chain) prefers the heavier, in-turn chain and breaks ties
// by lower height, then lower hash (EIP-3436).
//
// # Finality
//
// The Proof-of-Authority producer gives probabilistic, fork-choice
// finality only: a block can be reverted by a heavier chain. Finality adds
// a Casper FFG gadget on top of it, with two vote rounds per block. Every
// block is a checkpoint (types.Checkpoint: height and hash), and blocks
// map to FFG epochs: the block at height h is the checkpoint of epoch 2h.
// An authority that adopts a new head signs a normal vote
// (types.FinalityVote), a link source → target, where target is its head
// and source is the highest justified checkpoint on the head's chain: the
// link epoch 2·source → epoch 2·target. Once a block c of its head chain
// is justified it signs a commit vote (NextCommit): Source == Target == c,
// the link from c at epoch 2h to the same block at epoch 2h+1 (Gasper lets
// one block be the checkpoint of several epochs). The voters of a link are
// the authority set at its source.
//
//   - The genesis is justified and finalized.
//   - A link s → t is a supermajority link when more than 2/3 of the
//     voters of s (3·count > 2·|voters|, distinct voters) signed it. When
//     s is justified and an ancestor of t, t becomes justified.
//   - When s is justified and a supermajority link goes from s to its
//     child t (t.Height == s.Height+1), or s's commit link is a
//     supermajority link, s is finalized, and with it every block below
//     it on its chain. A commit link justifies nothing further: epoch
//     2h+1 is never the source of a vote.
//
// On a healthy network a block is justified by the normal votes of its
// own height and finalized by the commit votes that follow, about two
// vote propagations after it is sealed, within its slot; the child rule
// still finalizes it one block later when the commit round falls short.
//
// The slashing conditions (types.Conflict) are judged on epochs: a double
// vote is two different targets at one target epoch (two normal votes for
// different blocks at one height, or two commit votes for different
// blocks at one height; a commit vote, at an odd epoch, never doubles a
// normal vote), a surround vote one link strictly inside the other (a
// normal vote s → t surrounds a commit vote at h iff s < h < t; a commit
// vote, one epoch long, surrounds nothing). Between normal votes this is
// the rule of plain block checkpoints, so evidence from before commit
// votes keeps its verdict. An honest authority never signs two
// conflicting votes. NextVote and NextCommit enforce it with the last own
// vote (normal or commit): normal-vote targets strictly increase and
// sources never decrease, so no normal vote doubles or surrounds another;
// a commit vote at h needs the last vote's target at or below h (no
// earlier normal vote reaches past h, so none surrounds it) and no commit
// at h already (no double commit); and as the last vote it makes every
// later normal vote's source at least h (none surrounds it) and target
// above h. Any two conflicting votes of one authority are the Evidence of
// a TxEvidence transaction that anyone can put on the chain.
//
// # Why finalized blocks are safe: accountable safety
//
// A finalized block a at height h_a is the justified checkpoint (a, 2h_a)
// with a supermajority link that finalized it: a → a' with a' a child of
// a (epochs 2h_a → 2h_a+2) or a's commit link (2h_a → 2h_a+1). Suppose a
// and b were both finalized and conflict (neither is an ancestor of the
// other), with h_b ≥ h_a. Follow the chain of supermajority links that
// justified b, genesis = j_0 → j_1 → ... → j_n = b: every j_k is an
// ancestor of b at an even epoch (only the even epoch of a block is a
// source, and commit links justify nothing further), so none of them is
// a or a', and every link in it is a normal link. Take the first j_k with
// epoch ≥ 2h_a: its predecessor's epoch is below 2h_a, so the link
// j_(k-1) → j_k crosses 2h_a, and it
//
//   - targets epoch 2h_a (height h_a, a block other than a): a double vote
//     against a's own justifying link;
//   - targets epoch 2h_a+2 when a was finalized by the link to its child
//     a': a double vote against a → a' (height h_a+1, not a'); epoch
//     2h_a+1 cannot be its target, since only commit links target odd
//     epochs and they start at 2h_a, not below;
//   - or targets a higher epoch, from a source below 2h_a: a surround vote
//     around the link that finalized a (2h_a → 2h_a+2, or the commit link
//     2h_a → 2h_a+1: s < h_a < t).
//
// Each of those links has more than 2/3 of the voters; two such sets of
// one voter set intersect in more than 1/3 of it. So two conflicting
// finalized checkpoints prove that more than 1/3 of the authorities
// signed conflicting votes, and the pairs of votes are the proof
// (types.Evidence). Contrapositive: with fewer than 1/3 byzantine
// authorities, finalized blocks are never reverted, whatever the network
// does — delays, partitions, or a fork choice gone wrong. (The child rule
// stays safe beside commit links because the epoch 2h_a+1 between a and
// its child holds no other justified checkpoint: one there would need a
// commit link from a block at height h_a, i.e. a justified checkpoint at
// 2h_a other than a, which is already the double vote of the first case.)
// The gadget also declines to count a vote that conflicts with one it
// already holds from the same authority (it reports Evidence instead;
// certificates are the exception, see liveness), and refuses to justify
// checkpoints that conflict with its finalized one;
// should a supermajority link ever try to finalize a conflicting
// checkpoint, it reports ErrConflictingFinality: the safety alarm, which
// cannot fire unless more than 1/3 of the authorities misbehaved (or the
// authority set changed too much, below).
//
// # What liveness needs
//
// Safety needs nothing from the network; progress does:
//
//   - More than 2/3 of the authorities (of the voter set in force) must be
//     online, and connected well enough that their votes reach each other
//     within a block interval. The PoA producer alone needs only a
//     majority of authorities to keep the chain growing; finality needs
//     more, and while it lacks them the chain grows without finalizing.
//   - The chain must keep growing: a normal vote needs a target above
//     every earlier target of its voter, and a block is justified only by
//     the votes of its own height. Finalizing a justified s then needs
//     its commit round (more than 2/3 commit votes, which authorities
//     cast only while they have not voted above s yet) or a justified
//     child of s; a block whose commit round falls short (a vote came too
//     late, the next block came first) is finalized with a later one.
//   - Honest authorities must converge on one head per height for long
//     enough to justify it: the block interval should exceed vote
//     propagation, and the fork choice must prefer the chain holding the
//     highest justified checkpoint and never leave the finalized one.
//     NextVote declines to vote for heads that do not descend from the
//     finalized checkpoint, or whose justified ancestor is lower than the
//     source of self's previous vote (voting there could be slashable).
//   - Honest nodes must end up with the same justified checkpoints, or
//     they vote from different sources and stall for good. Votes get
//     lost (drops, partitions), a restarted node forgets what it had
//     justified, and which of an equivocator's two conflicting votes a
//     node counts depends on arrival order, so views drift apart;
//     nothing in the votes alone brings them back. Certificates do:
//     gossip Certificate(c) for every newly justified c and, as
//     anti-entropy, Certificates() once in a while (and persist them for
//     restarts); pass what arrives to AddCertificate. A certificate's
//     votes count even where they conflict with votes already held, and
//     its source counts as justified (a supermajority link proves that,
//     unless 2/3 or more of the authorities are byzantine), so a node
//     that lagged behind catches up from a peer's certificates.
//
// # Authority-set changes
//
// The voters of a link are the authority set at its source; a change
// voted in at some block takes effect for links whose source is at or
// after that block, and never alters links from earlier sources. The
// accountable-safety argument above intersects two supermajorities of
// one voter set. Across a change from set V to V' two supermajorities
// (of V and of V') intersect in more than 2|V|/3 + 2|V'|/3 − |V ∪ V'|
// authorities: with n = |V|, more than (n−k)/3 after k additions and
// (n−2k)/3 after k removals, instead of n/3. Changes are EIP-225 votes
// that need a majority of the current
// set, so byzantine authorities alone cannot rewrite it, but the bound
// degrades with each change between a finalized checkpoint and a
// conflicting link; keep finality ahead of authority changes (finalize
// between changes). An authority that left the set can no longer be held
// to its votes by the chain that removed it.
//
// # Proofs of finality (light clients)
//
// A verifier that holds a Trust — a finalized checkpoint and the authority
// set after it; GenesisTrust for one that knows only the genesis — checks
// that a block is final with VerifyFinality and a types.FinalityProof,
// offline:
//
//   - Final: the votes of a supermajority link f → child of f, or of f's
//     commit link f → f, under the trusted set (which finalizes f), with
//     f's header; unless f is the
//     trusted checkpoint, a state-tree proof that f's state records the
//     trusted set as its voters (the state tree's authorities key, package
//     ledger), so that a proof that skips an authority-set change fails.
//     Then the headers from f down to the block, by parent hash.
//   - Handoffs, one per authority-set change since the trusted checkpoint:
//     a link signed by the trusted set to a block t at or above the change
//     (Justify), the set after t with its state-tree proof against t's
//     state root, and a link that finalizes t or a descendant of it signed
//     by that new set (Finalize). The trust moves to the new set.
//
// The old set can only justify the first block of the new one (the voters
// of a link are the set at its source), so the handoff rests on the
// assumption a Tendermint light client makes with its trust level: fewer
// than 1/3 of the trusted set is byzantine, so more than 2/3 of it signing
// a link means honest authorities validated its target, whose state holds
// the set the chain elected; the new set then finalizes it. Sets voted out
// long ago can sign anything: a verifier should move its trust forward
// (VerifyFinality returns the trust to keep) rather than start from an
// old checkpoint. The chain stores the certificates proofs are made of
// (package chain); VerifyStateProof and VerifyFinalTxProof add a state
// value or a transaction to the check.
//
// # Use
//
// Finality is a pure state machine owned by one goroutine (it is not safe
// for concurrent use). The caller verifies vote signatures and chain ID
// before AddVote; gossips the certificates of newly justified checkpoints
// and, now and then, Certificates(), and feeds received ones to
// AddCertificate; calls Retry when blocks arrive, NextVote when its head
// changes and NextCommit after every change (then persists OwnLastVote,
// with Certificates(), before signing and broadcasting each); and Prune at the finalized height. After a restart
// it starts a gadget at the finalized checkpoint, then SetOwnLastVote and
// AddCertificate the persisted certificates. BlockInfo must know the
// finalized checkpoint and everything above it. Evidence from any Update
// goes on the chain as a TxEvidence transaction.
//
// Imports: identity, ledger/types, ledger/smt and go-datastore; never ledger's store,
// pubsub, chain or node.
package consensus
