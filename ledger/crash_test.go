package ledger

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger/types"
)

const (
	crashDirEnv   = "SIXDOMAIN_LEDGER_CRASH_DIR"
	crashTxs      = 100 // transactions per block, all from one sender
	crashReported = 15  // blocks the child reports before it is killed
)

// TestCrashChild is the process TestCommitSurvivesKill kills: it commits
// blocks to a pebble store as fast as it can and prints the height of each
// after Commit returned.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("run by TestCommitSurvivesKill")
	}
	g, err := types.LoadGenesis(filepath.Join(dir, "genesis.toml"))
	if err != nil {
		t.Fatal(err)
	}
	seed, err := os.ReadFile(filepath.Join(dir, "seeds"))
	if err != nil {
		t.Fatal(err)
	}
	auth, err1 := identity.ParseSeedHex(strings.Fields(string(seed))[0])
	sender, err2 := identity.ParseSeedHex(strings.Fields(string(seed))[1])
	if err := errors.Join(err1, err2); err != nil {
		t.Fatal(err)
	}
	d, err := OpenPebble(filepath.Join(dir, "db"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s, err := Open(ctx, d, g)
	if err != nil {
		t.Fatal(err)
	}
	p := ParamsFromGenesis(g)
	for {
		st := s.State()
		at := st.LastBlockTime + g.SlotMillis
		txs := make([]*types.Tx, crashTxs)
		for i := range txs {
			txs[i] = signedTx(t, g.ChainID, sender, st.Height*crashTxs+uint64(i)+1, at, "temp", "21.5")
		}
		b, next, ch, sk := propose(st, View(s, testAuthorities), p, txs, at, auth.Public())
		if len(sk) != 0 {
			t.Fatal(sk)
		}
		b.Seal = auth.Sign(b.Header.SealBytes())
		if err := s.Commit(ctx, b, next, ch); err != nil {
			t.Fatal(err)
		}
		fmt.Printf("committed %d\n", next.Height)
	}
}

// TestCommitSurvivesKill kills a process that is committing blocks with
// SIGKILL and checks that every block it reported committed is there, and
// that the store holds whole blocks only: the head's block exists, the
// next does not, and nonces and records match the head exactly.
func TestCommitSurvivesKill(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a process")
	}
	dir := t.TempDir()
	auth, sender := newKey(t), newKey(t)
	g := types.NewGenesis(testChain, t0, auth.Public())
	if err := os.WriteFile(filepath.Join(dir, "genesis.toml"), g.MarshalTOML(), 0o600); err != nil {
		t.Fatal(err)
	}
	seeds := hex.EncodeToString(auth.Seed()) + " " + hex.EncodeToString(sender.Seed())
	if err := os.WriteFile(filepath.Join(dir, "seeds"), []byte(seeds), 0o600); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var reported uint64
	lines := bufio.NewScanner(out)
	deadline := time.AfterFunc(time.Minute, func() { cmd.Process.Kill() })
	for reported < crashReported && lines.Scan() {
		if h, ok := strings.CutPrefix(lines.Text(), "committed "); ok {
			reported, _ = strconv.ParseUint(h, 10, 64)
		}
	}
	deadline.Stop()
	if err := cmd.Process.Kill(); err != nil { // SIGKILL: no deferred code, no Close
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if reported < crashReported {
		t.Fatalf("child reported %d blocks; stderr:\n%s", reported, stderr.String())
	}

	d, err := OpenPebble(filepath.Join(dir, "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx := context.Background()
	s, err := Open(ctx, d, g)
	if err != nil {
		t.Fatal(err)
	}
	st := s.State()
	if st.Height < reported {
		t.Fatalf("head at %d after the child reported block %d committed", st.Height, reported)
	}
	t.Logf("child reported %d, store holds %d", reported, st.Height)
	parent := g.Hash()
	for h := uint64(1); h <= st.Height; h++ {
		b, err := s.Block(ctx, h)
		if err != nil || b.Header.Parent != parent {
			t.Fatalf("block %d: %v", h, err)
		}
		parent = b.Hash()
	}
	if parent != st.LastBlockHash || st.TotalTxs != st.Height*crashTxs {
		t.Fatalf("head %+v does not match its blocks", st)
	}
	if _, err := s.RawBlock(ctx, st.Height+1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("block after the head: %v", err)
	}
	last := st.Height * crashTxs
	if n, err := s.Nonce(sender.Public()); err != nil || n != last {
		t.Fatalf("nonce %d, %v; want %d", n, err, last)
	}
	if recs, err := s.Records(ctx, sender.Public(), "", last-1, 10); err != nil || len(recs) != 1 || recs[0].Nonce != last {
		t.Fatalf("records past %d: %+v, %v", last-1, recs, err)
	}

	// And the chain goes on from there.
	at := st.LastBlockTime + g.SlotMillis
	b, next, ch, sk := propose(st, View(s, testAuthorities), ParamsFromGenesis(g), []*types.Tx{signedTx(t, g.ChainID, sender, last+1, at, "temp", "1")}, at, auth.Public())
	if len(sk) != 0 {
		t.Fatal(sk)
	}
	b.Seal = auth.Sign(b.Header.SealBytes())
	if err := s.Commit(ctx, b, next, ch); err != nil {
		t.Fatal(err)
	}
}
