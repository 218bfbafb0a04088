package chaintest

import (
	"slices"
	"testing"
	"time"
)

// TestFinalWithinSlot: on a healthy network a block is final at every node
// before the next block is sealed — the commit round (consensus
// NextCommit) finalizes it within its own slot instead of waiting for the
// next block's votes — and block→final is well under a slot, in virtual
// time: at 1 s slots with the default 20–100 ms one-way latency, and at
// 200 ms slots on a faster network.
func TestFinalWithinSlot(t *testing.T) {
	for _, tc := range []struct {
		name             string
		cfg              Config
		maxP50, maxWorst time.Duration // block→final at the last node
	}{
		{"1s slots", Config{Authorities: 4, Observers: 1, Slot: time.Second}, 500 * time.Millisecond, 800 * time.Millisecond},
		{"200ms slots", Config{Authorities: 4, Observers: 1, Slot: 200 * time.Millisecond, Latency: 10 * time.Millisecond, Jitter: 20 * time.Millisecond},
			100 * time.Millisecond, 180 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(7, tc.cfg)
			run(t, c, 60*tc.cfg.Slot)
			checkInvariants(t, c)
			fin := c.Finality()
			if len(fin) < 50 {
				t.Fatalf("%d blocks final in 60 slots;%s", len(fin), c.Status())
			}
			nodes := len(c.Nodes())
			var first, last []time.Duration
			for i, bf := range fin {
				if bf.Nodes != nodes {
					if i == len(fin)-1 {
						break // the tip may still be on its way
					}
					t.Fatalf("block %d final at %d of %d nodes", bf.Height, bf.Nodes, nodes)
				}
				first = append(first, bf.First-bf.Sealed)
				last = append(last, bf.Last-bf.Sealed)
				if i+1 < len(fin) && bf.Last >= fin[i+1].Sealed {
					t.Errorf("block %d (sealed at %s) final everywhere at %s, after block %d was sealed at %s",
						bf.Height, bf.Sealed, bf.Last, fin[i+1].Height, fin[i+1].Sealed)
				}
			}
			slices.Sort(first)
			slices.Sort(last)
			p50, worst := last[len(last)/2], last[len(last)-1]
			t.Logf("%d blocks: block→final at the first node p50 %s max %s; at every node p50 %s max %s (slot %s)",
				len(last), first[len(first)/2], first[len(first)-1], p50, worst, tc.cfg.Slot)
			if p50 > tc.maxP50 || worst > tc.maxWorst {
				t.Fatalf("block→final at every node: p50 %s (want ≤ %s), max %s (want ≤ %s)", p50, tc.maxP50, worst, tc.maxWorst)
			}
		})
	}
}
