package chaintest

import (
	"context"
	"testing"
	"time"

	"github.com/sixdomain/sixdomain/ledger/types"
)

// Minimal reproductions of bugs in packages chain and consensus found with
// this harness. Each asserts the correct behaviour, so it fails while the
// bug is there and guards against its return once fixed.
//
// Found at 90d661b (the first engine): forged certificates counted, and a
// restarted authority lost to finality; the certificate rework
// (chain.AddCertificate → consensus.Finality.AddCertificate, which verifies
// first and takes a verified link as proof that its source is justified)
// fixes both. Found in that rework: TestBugCertificateSkipsTalliedLinks.

// forge returns a "certificate" for source → target whose votes name
// every authority as voter but are signed by someone else.
func forge(c *Cluster, source, target types.Checkpoint) []*types.FinalityVote {
	mallory := keyFor(c.Seed(), 'm', 0)
	var votes []*types.FinalityVote
	for _, n := range c.Nodes() {
		if !n.Authority {
			continue
		}
		v := &types.FinalityVote{ChainID: ChainID, Source: source, Target: target, Voter: n.Key.Public()}
		v.Signature = mallory.Sign(v.SignBytes())
		votes = append(votes, v)
	}
	return votes
}

func checkpointOf(b *types.Block) types.Checkpoint {
	return types.Checkpoint{Height: b.Header.Height, Hash: b.Hash()}
}

// TestBugForgedCertificateVotesCounted: chain.AddCertificate passes the
// certificate's votes to the finality gadget (Finality.AddVote, which
// expects verified votes) before it verifies a single signature
// (acceptCertificate → consensus.VerifyCertificate). So any sync peer —
// no authority key needed — can justify and finalize the blocks of its
// choice. Here six honest authorities are split 3|3, where neither side
// can finalize (5 of 6 votes needed); forged certificates make one node
// on each side finalize its own side's block at the same height: two
// conflicting finalized blocks with no byzantine authority at all.
func TestBugForgedCertificateVotesCounted(t *testing.T) {
	c := newCluster(11, Config{Authorities: 6, Devices: -1})
	run(t, c, 8*time.Second)
	c.Partition([]int{0, 1, 2}, []int{3, 4, 5})
	run(t, c, 10*time.Second)
	ctx := context.Background()
	a, b := c.Node(0), c.Node(3)
	fin := max(c.Finalized(0), c.Finalized(3))
	// The first height where the two sides differ.
	fork := fin + 1
	for ; ; fork++ {
		x, _, errA := a.Chain().BlockAt(ctx, fork)
		y, _, errB := b.Chain().BlockAt(ctx, fork)
		if errA != nil || errB != nil {
			t.Fatalf("precondition: no fork above %d;%s", fin, c.Status())
		}
		if x.Hash() != y.Hash() {
			break
		}
	}
	// On each side, forge justified → head-1 and head-1 → head: the
	// second link finalizes head-1. (No honest vote of the side surrounds
	// them, so the gadget counts every forged one.)
	for _, n := range []*Node{a, b} {
		h := n.Chain().Head().Height
		b1, _, err1 := n.Chain().BlockAt(ctx, h-1)
		b2, _, err2 := n.Chain().BlockAt(ctx, h)
		j := n.Chain().Justified()
		if err1 != nil || err2 != nil || h-1 < fork || j.Height >= h-1 {
			t.Fatalf("precondition: node %d has no two blocks above the fork at %d and its justified %d;%s", n.ID, fork, j.Height, c.Status())
		}
		before := n.Chain().Finalized()
		err := n.Chain().AddCertificate(forge(c, j, checkpointOf(b1)))
		t.Logf("node %d: forged certificate %d→%d: %v", n.ID, j.Height, h-1, err)
		err = n.Chain().AddCertificate(forge(c, checkpointOf(b1), checkpointOf(b2)))
		t.Logf("node %d: forged certificate %d→%d: %v", n.ID, h-1, h, err)
		c.drain(n)
		if after := n.Chain().Finalized(); after != before {
			t.Errorf("node %d: certificates signed by a non-authority moved finality %d→%d",
				n.ID, before.Height, after.Height)
		}
	}
	if err := c.CheckInvariants(); err != nil {
		t.Error(err)
	}
}

// TestBugRestartedAuthorityNeverVotesAgain: after a restart, chain.New
// starts the finality gadget at the store's tip with nothing else
// justified, and the certificates that sync brings finalize blocks in the
// store (acceptCertificate → finalize) without telling the gadget. The
// gadget then never learns a justified checkpoint that the others' live
// votes use as source, so it cannot count any vote again, and it votes
// from its stale source (or not at all: its persisted last vote has a
// higher source). chain.Justified() even stays below chain.Finalized().
// The restarted authority is lost to finality for good: here four honest
// authorities, one restarted, then another one crashes; the three left
// are more than 2/3 but finality stops.
func TestBugRestartedAuthorityNeverVotesAgain(t *testing.T) {
	c := newCluster(5, Config{Authorities: 4, Devices: 1})
	run(t, c, 10*time.Second)
	c.Crash(3)
	run(t, c, 10*time.Second)
	c.Restart(3)
	run(t, c, 20*time.Second)
	n3 := c.Node(3).Chain()
	if j, f := n3.Justified(), n3.Finalized(); j.Height < f.Height {
		t.Errorf("restarted node 3: justified %d below finalized %d", j.Height, f.Height)
	}
	c.Crash(2)
	m := c.Mark()
	run(t, c, 30*time.Second)
	checkInvariants(t, c)
	if err := c.CheckLiveness(m, 5*time.Second, 5); err != nil {
		t.Error(err)
	}
}

// TestBugCertificateSkipsTalliedLinks: Finality.AddCertificate (the
// version in progress) treats a verified link s → t as proof that s is
// justified and marks it so, but it does not place the certificate's votes
// it already holds, and it does not resolve the links already tallied
// from s (f.bySource[s]). A node that first counted the votes of s → t
// while s was not justified in its view — votes that arrived before their
// blocks, counted by Retry when sync brought the blocks — and then gets
// the certificate of s → t justifies s but neither t nor, when t = s+1,
// finalizes s. Every later link goes the same way, so the node never
// finalizes again; its justified checkpoint follows the certificates'
// sources while its finalized height stays put (seed 49 of the random
// scenario: observers n6 and n7 stuck at 52 while the rest finalize 83).
//
// Here an observer misses everything for 3s (so it misses how the
// checkpoints of that time were justified), then gets only votes for 5s
// (they wait for their blocks), then everything. Latency is almost
// constant, so live votes always arrive before the certificate made of
// them (with more jitter the certificate sometimes wins the race, and the
// node recovers from that link on).
func TestBugCertificateSkipsTalliedLinks(t *testing.T) {
	c := newCluster(12, Config{Authorities: 4, Observers: 1, Devices: 1, Latency: 30 * time.Millisecond, Jitter: time.Millisecond})
	run(t, c, 10*time.Second)
	c.SetFilter(func(from, to int, kind string) bool { return to != 4 && from != 4 })
	run(t, c, 3*time.Second)
	c.SetFilter(func(from, to int, kind string) bool { return to != 4 && from != 4 || kind == "vote" })
	run(t, c, 5*time.Second)
	c.SetFilter(nil)
	run(t, c, 20*time.Second)
	checkInvariants(t, c)
	if f4, f0 := c.Finalized(4), c.Finalized(0); f4+3 < f0 {
		t.Fatalf("20s after the heal the observer finalized %d, the authorities %d;%s", f4, f0, c.Status())
	}
}

// TestBugRestartForgetsJustification: an authority persists its last
// vote (so that after a restart it never signs a vote that surrounds it)
// but not the justification of that vote's source; a restarted gadget
// knows only the finalized tip. If the nodes that knew the source was
// justified all restart before anyone else learned it — here votes and
// certificates reach only nodes 1 and 2 for 2.5s, then both restart —
// the knowledge is gone for good: nodes 1 and 2 may not vote from a lower
// source (it would surround their persisted vote) and nodes 0 and 3 alone
// are 2 of 4. Four honest authorities, no loss after the heal, and
// finality never moves again (seed 268 of the random scenario, where a
// partition cut the votes of one block to all but two authorities that
// later crashed). Persisting, with the own vote, the certificate of its
// source (and that block, if not final) and feeding it back after a
// restart would fix it; so would persisting every certificate above the
// finalized height, which sync then serves to the others.
func TestBugRestartForgetsJustification(t *testing.T) {
	c := newCluster(13, Config{Authorities: 4, Devices: 1})
	run(t, c, 10*time.Second)
	c.SetFilter(func(from, to int, kind string) bool {
		return kind != "vote" && kind != "cert" || to == 1 || to == 2
	})
	run(t, c, 2500*time.Millisecond)
	c.Crash(1)
	c.Crash(2)
	c.SetFilter(nil)
	run(t, c, time.Second)
	c.Restart(1)
	c.Restart(2)
	m := c.Mark()
	run(t, c, 30*time.Second)
	checkInvariants(t, c)
	if err := c.CheckLiveness(m, 5*time.Second, 5); err != nil {
		t.Fatal(err)
	}
}
