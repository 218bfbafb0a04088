package node

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger/types"
)

// TestNewFailsCleanly: a New that fails returns its error instead of
// panicking (its clean-up once ran on the nil node the failed return had
// set: `sixd run` on a read-only disk, found by the e2e disk faults), and
// closes what it had opened, so the same store opens again.
func TestNewFailsCleanly(t *testing.T) {
	k, err := identity.Generate(nil)
	if err != nil {
		t.Fatal(err)
	}
	g := types.NewGenesis("new-fails", time.Now(), k.Public())

	// The store cannot open: its directory is a file.
	file := filepath.Join(t.TempDir(), "not-a-dir")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if n, err := New(context.Background(), k, g, WithListenAddrs("/ip4/127.0.0.1/tcp/0"), WithMDNS(false), WithDataDir(file)); err == nil || n != nil {
		t.Fatalf("New on a file as its store = %v, %v; want an error", n, err)
	}

	// The store opens, then the API cannot listen (the port is taken).
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dir := t.TempDir()
	n, err := New(context.Background(), k, g, WithListenAddrs("/ip4/127.0.0.1/tcp/0"), WithMDNS(false), WithDataDir(dir),
		WithAPI(ln.Addr().String(), 0))
	if err == nil || n != nil || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("New with a taken API port = %v, %v; want an error naming it", n, err)
	}
	// What the failed New opened was closed: the store opens again.
	n, err = New(context.Background(), k, g, WithListenAddrs("/ip4/127.0.0.1/tcp/0"), WithMDNS(false), WithDataDir(dir))
	if err != nil {
		t.Fatalf("the store of a failed New does not open again: %v", err)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
}
