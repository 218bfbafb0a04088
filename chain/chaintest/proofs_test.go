package chaintest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sixdomain/sixdomain/chain"
	"github.com/sixdomain/sixdomain/consensus"
	"github.com/sixdomain/sixdomain/ledger"
	"github.com/sixdomain/sixdomain/ledger/types"
)

// TestFinalityProofsAcrossAuthorityChange: an equivocating authority is
// voted out of the set (as in TestEquivocatorCannotStallFinality). Every
// honest node then proves every finalized block final to a verifier that
// knows only the genesis — blocks before the change, and blocks after it,
// whose proofs carry a handoff from the genesis set to the new one — and
// the verifier's trust moves to the new set. Tampered proofs are refused.
func TestFinalityProofsAcrossAuthorityChange(t *testing.T) {
	c := newCluster(4, Config{Authorities: 4, Byzantine: true, Devices: 2})
	run(t, c, 40*time.Second)
	checkInvariants(t, c)
	ctx := context.Background()
	g := c.Genesis()
	genesis := consensus.GenesisTrust(g)
	for _, i := range c.Honest() {
		n := c.Node(i)
		st := n.Store()
		changes, err := st.AuthorityChanges(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(changes) < 2 {
			t.Fatalf("node %d: authority changes %v: the equivocator was not voted out", i, changes)
		}
		changed := changes[len(changes)-1]
		if len(changed.Authorities) != 3 {
			t.Fatalf("node %d: set after block %d has %d authorities", i, changed.Height, len(changed.Authorities))
		}
		head := st.State().Height
		handoffs, commitLinks, commitHandoffs := 0, 0, 0
		for h := uint64(1); h <= head; h++ {
			p, err := n.Chain().FinalityProof(ctx, h, genesis)
			if err != nil {
				if errors.Is(err, chain.ErrNoFinalityProof) && h+2 >= head {
					continue // the newest blocks may wait for their finalizing certificate's block
				}
				t.Fatalf("node %d: proof of block %d (head %d): %v", i, h, head, err)
			}
			hdr, err := st.Header(ctx, h)
			if err != nil {
				t.Fatal(err)
			}
			// Through the wire encoding, as a light client gets it.
			p2, err := types.DecodeFinalityProof(p.Encode())
			if err != nil {
				t.Fatalf("block %d: proof does not round-trip: %v", h, err)
			}
			next, err := consensus.VerifyFinality(genesis, hdr, p2)
			if err != nil {
				t.Fatalf("node %d: block %d: %v", i, h, err)
			}
			handoffs += len(p.Handoffs)
			if isCommitLink(t, p2.Final) {
				commitLinks++
			}
			for _, ho := range p2.Handoffs {
				if isCommitLink(t, ho.Finalize) {
					commitHandoffs++
				}
			}
			if h > changed.Height+2 {
				if len(p.Handoffs) == 0 {
					t.Fatalf("block %d above the change at %d proven without a handoff", h, changed.Height)
				}
				if len(next.Authorities) != 3 {
					t.Fatalf("block %d: trust after the proof has %d authorities", h, len(next.Authorities))
				}
				// From that new trust, a later block needs no handoff.
				if h+3 < head {
					p3, err := n.Chain().FinalityProof(ctx, h+1, next)
					if err != nil {
						t.Fatal(err)
					}
					if len(p3.Handoffs) != 0 {
						t.Fatalf("proof from the new trust carries %d handoffs", len(p3.Handoffs))
					}
					h3, _ := st.Header(ctx, h+1)
					if _, err := consensus.VerifyFinality(next, h3, p3); err != nil {
						t.Fatalf("block %d from trust %d: %v", h+1, next.Checkpoint.Height, err)
					}
					// A block below the new trust is stale for it.
					if _, err := consensus.VerifyFinality(next, hdr, p); !errors.Is(err, consensus.ErrStaleProof) && h < next.Checkpoint.Height {
						t.Fatalf("stale proof accepted: %v", err)
					}
				}
				// Without its handoff the proof must fail.
				cut := *p2
				cut.Handoffs = nil
				if _, err := consensus.VerifyFinality(genesis, hdr, &cut); !errors.Is(err, consensus.ErrNotProvenFinal) {
					t.Fatalf("block %d: proof without its handoff: %v", h, err)
				}
			}
			// A vote dropped below 2/3, or a tampered header, are refused.
			few := *p2
			few.Final.Votes = few.Final.Votes[:1]
			if _, err := consensus.VerifyFinality(genesis, hdr, &few); !errors.Is(err, types.ErrBadProof) {
				t.Fatalf("block %d: one vote accepted: %v", h, err)
			}
			forged := *hdr
			forged.StateRoot = types.Hash{0xff}
			if _, err := consensus.VerifyFinality(genesis, &forged, p2); err == nil {
				t.Fatalf("block %d: a forged header accepted", h)
			}
		}
		if handoffs == 0 {
			t.Fatalf("node %d: no proof carried a handoff", i)
		}
		// The commit round finalizes most blocks: proofs end with commit
		// links (and hand over with them).
		if commitLinks == 0 || commitHandoffs == 0 {
			t.Fatalf("node %d: %d proofs end with a commit link, %d handoffs finalize with one", i, commitLinks, commitHandoffs)
		}
		// State proofs: the authority set and a nonce, at the head.
		sp, err := st.StateProof(ctx, ledger.AuthoritiesStateKey(), changed.Height)
		if err != nil {
			t.Fatal(err)
		}
		if sp.Finality, err = n.Chain().FinalityProof(ctx, changed.Height, genesis); err != nil {
			t.Fatal(err)
		}
		if _, _, err := consensus.VerifyStateProof(genesis, sp); err != nil {
			t.Fatalf("node %d: state proof of the authority set at %d: %v", i, changed.Height, err)
		}
		bad := *sp
		bad.Value = ledger.EncodeAuthorities(changes[0].Authorities)
		if _, _, err := consensus.VerifyStateProof(genesis, &bad); !errors.Is(err, types.ErrBadProof) {
			t.Fatalf("a proof of the old set at %d accepted: %v", changed.Height, err)
		}
	}
}

// isCommitLink reports whether a proof's link is a commit link (its votes'
// source is their target).
func isCommitLink(t *testing.T, l types.Link) bool {
	t.Helper()
	if len(l.Votes) == 0 {
		return false
	}
	v, err := types.DecodeVote(l.Votes[0])
	if err != nil {
		t.Fatal(err)
	}
	return v.IsCommit()
}
