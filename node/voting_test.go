package node

import (
	"context"
	"testing"
	"time"

	"github.com/sixdomain/sixdomain/identity"
)

// TestAuthoritySetChangesByVote: three authorities vote a device node into
// the authority set through their block headers (EIP-225); once the vote
// passes, the device seals blocks that become final on every node.
func TestAuthoritySetChangesByVote(t *testing.T) {
	c := startCluster(t, 3, 0)
	newcomer, err := identity.Generate(nil)
	if err != nil {
		t.Fatal(err)
	}
	// Restart the authorities with the proposal, and add the newcomer.
	c.cfg.Options = append(c.cfg.Options, WithProposals(map[identity.PublicKey]bool{newcomer.Public(): true}))
	for i := 0; i < 3; i++ {
		if err := c.StopNode(i); err != nil {
			t.Fatal(err)
		}
		if _, err := c.StartNode(context.Background(), i); err != nil {
			t.Fatal(err)
		}
	}
	c.Keys = append(c.Keys, newcomer)
	n, err := c.StartNode(context.Background(), 3)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the newcomer to be voted in", func() bool { return n.IsAuthority() })
	events, cancel := c.Nodes[0].SubscribeCommits(1024)
	defer cancel()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case e := <-events:
			if e.Block.Header.Proposer == newcomer.Public() {
				if _, ok, err := c.Agree(context.Background(), e.Block.Header.Height); err == nil && !ok {
					t.Fatalf("nodes disagree at %d", e.Block.Header.Height)
				}
				return
			}
		case <-deadline:
			t.Fatal("no final block sealed by the newcomer")
		}
	}
}
