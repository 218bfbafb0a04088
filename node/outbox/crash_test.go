package outbox

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// crashChildEnv makes the test binary, re-executed by TestKillMidAppend,
// run crashChild instead of the tests: it opens the outbox in the named
// directory and appends until it is killed.
const crashChildEnv = "SIXD_OUTBOX_CRASH_CHILD"

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		crashChild(dir)
		return
	}
	os.Exit(m.Run())
}

// crashChild appends readings with the next nonces, printing each nonce
// once its Append returned, until it is killed.
func crashChild(dir string) {
	o, err := Open(context.Background(), dir, Options{MaxTxs: 1 << 20, MaxBytes: 1 << 30})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	k := key(nil, 7)
	next := uint64(1)
	if txs, err := o.Peek(o.Len()); err == nil && len(txs) > 0 {
		next = txs[len(txs)-1].Nonce + 1
	}
	w := os.Stdout // unbuffered: one write per line, so what is printed has been acknowledged
	fmt.Fprintln(w, "ready")
	for n := next; ; n++ {
		if err := o.Append(reading(nil, k, n, "reading "+strconv.FormatUint(n, 10))); err != nil {
			fmt.Fprintln(w, "error", err)
			os.Exit(2)
		}
		fmt.Fprintln(w, n)
	}
}

// TestKillMidAppend: a child process appends with an fsync each and is
// killed (SIGKILL) at a random moment, over and over on the same outbox;
// after each kill every Append that returned is still there, in order, at
// most the one in flight more, and nothing half-written (Open succeeds,
// every transaction decodes with a valid signature).
func TestKillMidAppend(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	acked := uint64(0)
	for round := range 6 {
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string, 1<<16)
		go func() {
			defer close(lines)
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				lines <- sc.Text()
			}
		}()
		// Kill after a number of appends that differs per round, at
		// whatever point of its next Append the child is then.
		killAfter := 20 + 37*round
		seen := 0
		deadline := time.After(60 * time.Second)
	wait:
		for seen < killAfter {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("round %d: child exited early", round)
				}
				if l == "ready" {
					continue
				}
				n, err := strconv.ParseUint(l, 10, 64)
				if err != nil {
					t.Fatalf("round %d: child said %q", round, l)
				}
				if n != acked+1 {
					t.Fatalf("round %d: child acknowledged nonce %d after %d", round, n, acked)
				}
				acked = n
				seen++
			case <-deadline:
				break wait
			}
		}
		// A delay that differs per round moves the kill across the child's
		// next Append (signing, write, fsync).
		time.Sleep(time.Duration(round) * 150 * time.Microsecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		// What the child acknowledged before it died is still in the pipe.
		for l := range lines {
			if n, err := strconv.ParseUint(l, 10, 64); err == nil {
				if n != acked+1 {
					t.Fatalf("round %d: child acknowledged nonce %d after %d", round, n, acked)
				}
				acked = n
			}
		}
		_ = cmd.Wait()
		if seen == 0 {
			t.Fatalf("round %d: the child appended nothing in 60 s", round)
		}

		o, err := Open(context.Background(), dir, Options{MaxTxs: 1 << 20, MaxBytes: 1 << 30})
		if err != nil {
			t.Fatalf("round %d: open after kill -9: %v", round, err)
		}
		got := nonces(t, o) // checks every signature
		o.Close()
		if uint64(len(got)) < acked || uint64(len(got)) > acked+1 || !equal(got, seq(1, uint64(len(got)))) {
			t.Fatalf("round %d: %d acknowledged, the outbox holds %d: %v", round, acked, len(got), got)
		}
		t.Logf("round %d: killed after %d acknowledged appends; %d recovered", round, acked, len(got))
		acked = uint64(len(got)) // the one in flight may have landed: the child goes on from it
	}
}
