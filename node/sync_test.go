package node

import (
	"context"
	"testing"
	"time"

	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger/types"
)

// TestSyncServesRangeCertificate: a sync answer carries, first, the
// certificate that finalized the highest block of the range whose child is
// in the range too, so that a joining node finalizes range by range; a
// client that asks for fewer blocks (an older one asks for 64) gets that
// many; and a node that joins late catches up to the end.
func TestSyncServesRangeCertificate(t *testing.T) {
	const blocks = 600
	dir := t.TempDir()
	g, key := buildChain(t, dir, blocks, 1)
	server, err := New(context.Background(), key, g, WithListenAddrs("/ip4/127.0.0.1/tcp/0"), WithMDNS(false), WithDataDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	joinerKey, _ := identity.Generate(nil)
	joiner, err := New(context.Background(), joinerKey, g, WithListenAddrs("/ip4/127.0.0.1/tcp/0"), WithMDNS(false),
		WithBootstrapPeers(server.AddrInfo()), WithSyncInterval(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer joiner.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	deadline := time.Now().Add(time.Minute)
	for len(joiner.host.Network().ConnsToPeer(server.host.ID())) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the joiner did not connect")
		}
		time.Sleep(20 * time.Millisecond)
	}
	head, got, certs, err := joiner.fetchBlocks(ctx, server.host.ID(), 1, syncMaxBlocks)
	if err != nil {
		t.Fatal(err)
	}
	if head < blocks || len(got) != syncMaxBlocks {
		t.Fatalf("head %d, %d blocks; want >= %d, %d", head, len(got), blocks, syncMaxBlocks)
	}
	if len(certs) == 0 || len(certs[0]) == 0 {
		t.Fatal("no range certificate")
	}
	// The certificate finalizes a block of the answer: a link to its
	// child, or a commit link on the block itself (source = target).
	src, dst := certs[0][0].Source, certs[0][0].Target
	inAnswer := func(c types.Checkpoint) bool {
		return c.Height >= 1 && c.Height <= uint64(len(got)) && c.Hash == got[c.Height-1].Hash()
	}
	if !inAnswer(src) || !inAnswer(dst) || !(dst.Height == src.Height+1 || dst == src) || src.Height < syncMaxBlocks-1 {
		t.Fatalf("range certificate %d → %d, want a link that finalizes block %d or %d of the answer", src.Height, dst.Height, syncMaxBlocks-1, syncMaxBlocks)
	}
	_, got, _, err = joiner.fetchBlocks(ctx, server.host.ID(), 100, 64)
	if err != nil || len(got) != 64 || got[0].Header.Height != 100 {
		t.Fatalf("asking for 64 from 100: %d blocks, %v", len(got), err)
	}

	deadline = time.Now().Add(time.Minute)
	for joiner.State().Height < blocks-1 {
		if time.Now().After(deadline) {
			t.Fatalf("the joiner finalized %d of %d blocks", joiner.State().Height, blocks)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
