package outbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger/types"
)

const chain = "outbox-test"

// key derives a key from a seed byte; t may be nil (the crash child).
func key(t testing.TB, b byte) *identity.PrivateKey {
	k, err := identity.FromSeed(bytes.Repeat([]byte{b}, 32))
	if err != nil {
		panic(err)
	}
	return k
}

// reading is a signed data record of k with the given nonce; value pads
// the payload.
func reading(t testing.TB, k *identity.PrivateKey, nonce uint64, value string) *types.Tx {
	tx, err := types.NewDataRecordTx(chain, nonce, 1_767_225_600_000+int64(nonce)*1000,
		types.DataRecord{Stream: "temperature/room1", ContentType: "text/plain", Value: []byte(value)})
	if err != nil {
		panic(err) // t may be nil (the crash child)
	}
	tx.Sign(k)
	return tx
}

func open(t testing.TB, dir string, opts Options) *Outbox {
	t.Helper()
	o, err := Open(context.Background(), dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.Close() })
	return o
}

func nonces(t testing.TB, o *Outbox) []uint64 {
	t.Helper()
	txs, err := o.Peek(o.Len() + 1)
	if err != nil {
		t.Fatal(err)
	}
	var out []uint64
	for _, tx := range txs {
		if err := tx.VerifySignature(); err != nil {
			t.Fatalf("nonce %d: %v", tx.Nonce, err)
		}
		out = append(out, tx.Nonce)
	}
	return out
}

func seq(from, to uint64) []uint64 {
	var s []uint64
	for n := from; n <= to; n++ {
		s = append(s, n)
	}
	return s
}

func equal(a, b []uint64) bool { return fmt.Sprint(a) == fmt.Sprint(b) }

// TestAppendPeekRemove: the queue's operations, table-driven over a
// sequence of steps on one outbox.
func TestAppendPeekRemove(t *testing.T) {
	a, b := key(t, 1), key(t, 2)
	one := reading(t, a, 1, "x")
	size := int64(len(one.Encode()))
	cases := []struct {
		name  string
		opts  Options
		steps func(t *testing.T, o *Outbox)
	}{
		{"append and peek in order", Options{}, func(t *testing.T, o *Outbox) {
			for n := uint64(1); n <= 5; n++ {
				if err := o.Append(reading(t, a, n, "x")); err != nil {
					t.Fatal(err)
				}
			}
			if got := nonces(t, o); !equal(got, seq(1, 5)) || o.Len() != 5 || o.Bytes() != 5*size {
				t.Fatalf("queue %v, len %d, bytes %d", got, o.Len(), o.Bytes())
			}
			if txs, err := o.Peek(2); err != nil || len(txs) != 2 || txs[0].Nonce != 1 || txs[1].Hash() != reading(t, a, 2, "x").Hash() {
				t.Fatalf("Peek(2): %v", err)
			}
			if txs, err := o.Peek(0); err != nil || len(txs) != 0 {
				t.Fatalf("Peek(0): %d, %v", len(txs), err)
			}
			if txs, err := o.Peek(-1); err != nil || len(txs) != 0 {
				t.Fatalf("Peek(-1): %d, %v", len(txs), err)
			}
		}},
		{"full by count", Options{MaxTxs: 3}, func(t *testing.T, o *Outbox) {
			for n := uint64(1); n <= 3; n++ {
				if err := o.Append(reading(t, a, n, "x")); err != nil {
					t.Fatal(err)
				}
			}
			err := o.Append(reading(t, a, 4, "x"))
			if !errors.Is(err, ErrFull) || !strings.Contains(err.Error(), "limit 3") {
				t.Fatalf("fourth append: %v", err)
			}
			if n, err := o.Remove(reading(t, a, 1, "x").Hash()); n != 1 || err != nil {
				t.Fatalf("Remove: %d, %v", n, err)
			}
			if err := o.Append(reading(t, a, 4, "x")); err != nil {
				t.Fatalf("append after a removal: %v", err)
			}
		}},
		{"full by bytes", Options{MaxBytes: 2*size + 1}, func(t *testing.T, o *Outbox) {
			for n := uint64(1); n <= 2; n++ {
				if err := o.Append(reading(t, a, n, "x")); err != nil {
					t.Fatal(err)
				}
			}
			err := o.Append(reading(t, a, 3, "x"))
			if !errors.Is(err, ErrFull) || !strings.Contains(err.Error(), fmt.Sprintf("limit of %d", 2*size+1)) {
				t.Fatalf("third append: %v", err)
			}
		}},
		{"nonce order per sender", Options{}, func(t *testing.T, o *Outbox) {
			for _, tx := range []*types.Tx{reading(t, a, 5, "x"), reading(t, b, 1, "x"), reading(t, a, 7, "x")} {
				if err := o.Append(tx); err != nil {
					t.Fatal(err)
				}
			}
			for _, n := range []uint64{7, 6, 1} {
				if err := o.Append(reading(t, a, n, "y")); !errors.Is(err, ErrOutOfOrder) {
					t.Fatalf("nonce %d after 7: %v", n, err)
				}
			}
			if err := o.Append(reading(t, a, 7, "x")); !errors.Is(err, ErrDuplicate) {
				t.Fatalf("duplicate: %v", err)
			}
			if got := nonces(t, o); !equal(got, []uint64{5, 1, 7}) {
				t.Fatalf("queue %v", got)
			}
		}},
		{"invalid transactions", Options{}, func(t *testing.T, o *Outbox) {
			unsigned := reading(t, a, 1, "x")
			unsigned.Signature = nil
			if err := o.Append(unsigned); !errors.Is(err, types.ErrBadSignature) {
				t.Fatalf("unsigned: %v", err)
			}
			if err := o.Append(reading(t, a, 0, "x")); !errors.Is(err, types.ErrZeroNonce) {
				t.Fatalf("nonce 0: %v", err)
			}
			if err := o.Append(nil); err == nil {
				t.Fatal("nil accepted")
			}
			if o.Len() != 0 {
				t.Fatalf("len %d", o.Len())
			}
		}},
		{"remove by hash and through a nonce", Options{}, func(t *testing.T, o *Outbox) {
			for n := uint64(1); n <= 6; n++ {
				if err := o.Append(reading(t, a, n, "x")); err != nil {
					t.Fatal(err)
				}
				if err := o.Append(reading(t, b, n, "x")); err != nil {
					t.Fatal(err)
				}
			}
			// The middle, twice over and with an unknown hash: one removal.
			h := reading(t, a, 3, "x").Hash()
			if n, err := o.Remove(h, h, types.Hash{1}); n != 1 || err != nil {
				t.Fatalf("Remove: %d, %v", n, err)
			}
			if n, err := o.RemoveThrough(b.Public(), 4); n != 4 || err != nil {
				t.Fatalf("RemoveThrough: %d, %v", n, err)
			}
			if n, err := o.RemoveThrough(b.Public(), 4); n != 0 || err != nil {
				t.Fatalf("RemoveThrough again: %d, %v", n, err)
			}
			if got := nonces(t, o); !equal(got, []uint64{1, 2, 4, 5, 5, 6, 6}) {
				t.Fatalf("queue %v", got)
			}
			// Removing a sender's highest nonce lowers its bound.
			if _, err := o.Remove(reading(t, a, 6, "x").Hash()); err != nil {
				t.Fatal(err)
			}
			if err := o.Append(reading(t, a, 6, "again")); err != nil {
				t.Fatalf("re-signed nonce 6: %v", err)
			}
		}},
		{"closed", Options{}, func(t *testing.T, o *Outbox) {
			if err := o.Close(); err != nil {
				t.Fatal(err)
			}
			if err := o.Append(reading(t, a, 1, "x")); !errors.Is(err, ErrClosed) {
				t.Fatalf("append: %v", err)
			}
			if _, err := o.Peek(1); !errors.Is(err, ErrClosed) {
				t.Fatalf("peek: %v", err)
			}
			if _, err := o.Remove(types.Hash{}); !errors.Is(err, ErrClosed) {
				t.Fatalf("remove: %v", err)
			}
			if err := o.Close(); err != nil {
				t.Fatalf("second close: %v", err)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			o := open(t, dir, c.opts)
			c.steps(t, o)
			if o.closed {
				return
			}
			// Whatever the steps left, a reopened outbox holds the same.
			want := nonces(t, o)
			o.Close()
			if got := nonces(t, open(t, dir, c.opts)); !equal(got, want) {
				t.Fatalf("after reopening %v, before %v", got, want)
			}
		})
	}
}

// TestCompaction: once removed records outweigh live ones, the file
// shrinks to the live ones; the queue reads the same before and after a
// reopen.
func TestCompaction(t *testing.T) {
	dir := t.TempDir()
	a := key(t, 1)
	o := open(t, dir, Options{})
	pad := strings.Repeat("v", 400)
	const total = 600
	for n := uint64(1); n <= total; n++ {
		if err := o.Append(reading(t, a, n, pad)); err != nil {
			t.Fatal(err)
		}
	}
	full := fileSize(t, dir)
	if _, err := o.RemoveThrough(a.Public(), total-50); err != nil {
		t.Fatal(err)
	}
	after := fileSize(t, dir)
	if after >= full/4 {
		t.Fatalf("file %d bytes after removing %d of %d, was %d: not compacted", after, total-50, total, full)
	}
	if _, err := os.Stat(filepath.Join(dir, tmpName)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("temporary file left: %v", err)
	}
	if got := nonces(t, o); !equal(got, seq(total-49, total)) {
		t.Fatalf("queue %v", got)
	}
	if err := o.Append(reading(t, a, total+1, pad)); err != nil {
		t.Fatal(err)
	}
	o.Close()
	if got := nonces(t, open(t, dir, Options{})); !equal(got, seq(total-49, total+1)) {
		t.Fatalf("after reopen %v", got)
	}
}

func fileSize(t testing.TB, dir string) int64 {
	t.Helper()
	fi, err := os.Stat(filepath.Join(dir, fileName))
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// TestTornLastRecord: the file cut at every byte of its last record, or
// with any byte of it damaged, opens with the records before it, and the
// outbox takes appends again; damage further from the end than one record
// is ErrCorrupt.
func TestTornLastRecord(t *testing.T) {
	a := key(t, 1)
	dir := t.TempDir()
	o := open(t, dir, Options{})
	for n := uint64(1); n <= 3; n++ {
		if err := o.Append(reading(t, a, n, "x")); err != nil {
			t.Fatal(err)
		}
	}
	before := fileSize(t, dir)
	if err := o.Append(reading(t, a, 4, "x")); err != nil {
		t.Fatal(err)
	}
	o.Close()
	whole, err := os.ReadFile(filepath.Join(dir, fileName))
	if err != nil {
		t.Fatal(err)
	}
	try := func(t *testing.T, data []byte, want []uint64) {
		t.Helper()
		d := t.TempDir()
		if err := os.WriteFile(filepath.Join(d, fileName), data, 0o600); err != nil {
			t.Fatal(err)
		}
		o, err := Open(context.Background(), d, Options{})
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		defer o.Close()
		if got := nonces(t, o); !equal(got, want) {
			t.Fatalf("queue %v, want %v", got, want)
		}
		next := want[len(want)-1] + 1
		if err := o.Append(reading(t, a, next, "after")); err != nil {
			t.Fatalf("append after recovery: %v", err)
		}
		o.Close()
		o, err = Open(context.Background(), d, Options{})
		if err != nil {
			t.Fatalf("reopen: %v", err)
		}
		defer o.Close()
		if got := nonces(t, o); !equal(got, append(want, next)) {
			t.Fatalf("after recovery and an append: %v", got)
		}
	}
	for cut := before; cut < int64(len(whole)); cut++ {
		t.Run(fmt.Sprintf("cut at %d", cut), func(t *testing.T) { try(t, whole[:cut], seq(1, 3)) })
	}
	for at := before; at < int64(len(whole)); at++ {
		t.Run(fmt.Sprintf("byte %d damaged", at), func(t *testing.T) {
			data := bytes.Clone(whole)
			data[at] ^= 0x40
			try(t, data, seq(1, 3))
		})
	}
	t.Run("zeros after the last record", func(t *testing.T) {
		try(t, append(bytes.Clone(whole), make([]byte, 4096)...), seq(1, 4))
	})
	t.Run("torn magic", func(t *testing.T) {
		d := t.TempDir()
		if err := os.WriteFile(filepath.Join(d, fileName), []byte(magic[:3]), 0o600); err != nil {
			t.Fatal(err)
		}
		o, err := Open(context.Background(), d, Options{})
		if err != nil || o.Len() != 0 {
			t.Fatalf("open: %v", err)
		}
		o.Close()
	})

	// Damage in the first record of a file with more than MaxRecordBytes
	// after it is not a torn append.
	big := t.TempDir()
	o = open(t, big, Options{})
	for n := uint64(1); fileSize(t, big) < 3*MaxRecordBytes; n++ {
		if err := o.Append(reading(t, a, n, strings.Repeat("p", 1000))); err != nil {
			t.Fatal(err)
		}
	}
	o.Close()
	path := filepath.Join(big, fileName)
	data, _ := os.ReadFile(path)
	data[len(magic)+headerLen+5] ^= 1
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(context.Background(), big, Options{}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("damage in the middle: %v", err)
	}
	if err := os.WriteFile(path, []byte("NOTOUTBOX and more"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(context.Background(), big, Options{}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("another file: %v", err)
	}
}

// TestOpenKeepsOversizedQueue: an outbox reopened with smaller bounds
// keeps what it holds and refuses appends until it is below them.
func TestOpenKeepsOversizedQueue(t *testing.T) {
	a := key(t, 1)
	dir := t.TempDir()
	o := open(t, dir, Options{})
	for n := uint64(1); n <= 5; n++ {
		if err := o.Append(reading(t, a, n, "x")); err != nil {
			t.Fatal(err)
		}
	}
	o.Close()
	o = open(t, dir, Options{MaxTxs: 3})
	if o.Len() != 5 {
		t.Fatalf("len %d", o.Len())
	}
	if err := o.Append(reading(t, a, 6, "x")); !errors.Is(err, ErrFull) {
		t.Fatalf("append over the bound: %v", err)
	}
	if _, err := o.RemoveThrough(a.Public(), 3); err != nil {
		t.Fatal(err)
	}
	if err := o.Append(reading(t, a, 6, "x")); err != nil {
		t.Fatal(err)
	}
}
