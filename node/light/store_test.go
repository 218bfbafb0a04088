package light

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/sixdomain/sixdomain/node/internal/reclog"
)

// rec returns a record of body with its length and CRC.
func rec(body []byte) []byte { return reclog.Append(nil, body) }

func keyed(kind byte, k uint64, payload string) []byte {
	return append(binary.BigEndian.AppendUint64([]byte{kind}, k), payload...)
}

func TestReplayRecords(t *testing.T) {
	state := func(head, low, high uint64, trust string) []byte {
		return append([]byte{recState}, encodeStoreState(storeState{head: head, gap: gap{Low: low, High: high}, trust: []byte(trust)})...)
	}
	log := func(bodies ...[]byte) []byte {
		out := []byte(storeMagic)
		for _, b := range bodies {
			out = append(out, rec(b)...)
		}
		return out
	}
	for _, tc := range []struct {
		name    string
		in      []byte
		corrupt bool
		headers int
		head    uint64
	}{
		{"empty", nil, false, 0, 0},
		{"magic prefix", []byte(storeMagic[:3]), false, 0, 0},
		{"zeros", make([]byte, 5), false, 0, 0},
		{"not a store", []byte("SQLite format 3"), true, 0, 0},
		{"headers and state", log(keyed(recHeader, 5, "h5"), keyed(recHeader, 4, "h4"), state(5, 1, 3, "t")), false, 2, 5},
		{"header twice", log(keyed(recHeader, 5, "a"), keyed(recHeader, 5, "b"), state(5, 1, 4, "t")), false, 1, 5},
		{"receipt", log(keyed(recReceipt, 1, "r")), false, 0, 0},
		{"state without its head", log(keyed(recHeader, 4, "h4"), state(5, 1, 3, "t")), true, 0, 0},
		{"unknown kind", log([]byte{9, 1, 2}), true, 0, 0},
		{"short header record", log([]byte{recHeader, 1}), true, 0, 0},
		{"short state", log([]byte{recState, 1}), true, 0, 0},
		{"torn tail dropped", append(log(keyed(recHeader, 5, "h5"), state(5, 1, 4, "t")), 1, 2, 3), false, 1, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore("", nil)
			end, err := s.replay(context.Background(), bytes.NewReader(tc.in), int64(len(tc.in)))
			if tc.corrupt {
				if !errors.Is(err, ErrStoreCorrupt) {
					t.Fatalf("replay = %v, want ErrStoreCorrupt", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(s.headers) != tc.headers || s.state.head != tc.head {
				t.Fatalf("%d headers, head %d; want %d, %d", len(s.headers), s.state.head, tc.headers, tc.head)
			}
			if end > int64(len(tc.in)) {
				t.Fatalf("end %d past %d bytes", end, len(tc.in))
			}
		})
	}
}

// FuzzStoreReplay: any bytes replay without panic; what replays is within
// the input, and a store opened on them reads back every indexed record.
func FuzzStoreReplay(f *testing.F) {
	w := newMemoryStore()
	ws := &storeWrite{state: &storeState{head: 3, gap: gap{Low: 1, High: 1}, trust: []byte(`{"t":1}`)}}
	ws.header(3, []byte("three"))
	ws.header(2, []byte("two"))
	ws.receipt(1, []byte("receipt"))
	if err := w.Write(ws); err != nil {
		f.Fatal(err)
	}
	f.Add(w.f.(*memFile).b)
	f.Add([]byte(storeMagic))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, in []byte) {
		s := newStore("", nil)
		end, err := s.replay(context.Background(), bytes.NewReader(in), int64(len(in)))
		if err != nil {
			return
		}
		if end > int64(len(in)) {
			t.Fatalf("end %d past %d bytes", end, len(in))
		}
		s.f = &memFile{b: in[:end]}
		for h := range s.headers {
			if _, err := s.Header(h); err != nil {
				t.Fatalf("header %d: %v", h, err)
			}
		}
		for k := range s.receipts {
			if _, err := s.Receipt(k); err != nil {
				t.Fatalf("receipt %d: %v", k, err)
			}
		}
	})
}

func writeHeaders(t *testing.T, s *store, from, to uint64, head uint64, g gap) {
	t.Helper()
	w := &storeWrite{state: &storeState{head: head, gap: g, trust: []byte(`{"trust":true}`)}}
	for h := to; h >= from && h > 0; h-- {
		w.header(h, []byte(fmt.Sprintf("header %d", h)))
	}
	if err := s.Write(w); err != nil {
		t.Fatal(err)
	}
}

// TestStoreReopenAfterTornLastRecord cuts the log at every byte of its
// last record (a batch of headers, then the state that counts them) and
// reopens: the store is always the one before or after the last write,
// and writes go on.
func TestStoreReopenAfterTornLastRecord(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := openStore(ctx, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	writeHeaders(t, s, 9, 10, 10, gap{Low: 1, High: 8})
	before := s.end
	writeHeaders(t, s, 7, 8, 10, gap{Low: 1, High: 6})
	after := s.end
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	full, err := os.ReadFile(filepath.Join(dir, storeFile))
	if err != nil {
		t.Fatal(err)
	}
	for cut := before; cut <= after; cut++ {
		d := t.TempDir()
		if err := os.WriteFile(filepath.Join(d, storeFile), full[:cut], 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := openStore(ctx, d, nil)
		if err != nil {
			t.Fatalf("cut at %d: %v", cut, err)
		}
		st := s.State()
		switch {
		case cut == after:
			if st.gap.High != 6 {
				t.Fatalf("whole log: gap %v", st.gap)
			}
		case st.gap.High != 8 || st.head != 10:
			t.Fatalf("cut at %d: head %d gap %v, want the state before the last write", cut, st.head, st.gap)
		}
		for h := uint64(9); h <= 10; h++ {
			if v, err := s.Header(h); err != nil || string(v) != fmt.Sprintf("header %d", h) {
				t.Fatalf("cut at %d: header %d = %q, %v", cut, h, v, err)
			}
		}
		if fi, err := os.Stat(filepath.Join(d, storeFile)); err != nil || fi.Size() > cut {
			t.Fatalf("cut at %d: the log is %d bytes (%v)", cut, fi.Size(), err)
		}
		writeHeaders(t, s, 7, 8, 10, gap{Low: 1, High: 6})
		s.Close()
		s, err = openStore(ctx, d, nil)
		if err != nil || s.State().gap.High != 6 {
			t.Fatalf("cut at %d: reopened after a rewrite: %v, %v", cut, err, s)
		}
		if v, err := s.Header(7); err != nil || string(v) != "header 7" {
			t.Fatalf("cut at %d: header 7 = %q, %v", cut, v, err)
		}
		s.Close()
	}
}

// TestStoreCorruptIsRebuilt: a log that is not one, or whose records do not
// decode, is moved aside and the store starts empty; damage in the middle
// cuts the log there.
func TestStoreCorruptIsRebuilt(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		damage  func([]byte) []byte
		headers int
	}{
		{"bad magic", func(b []byte) []byte { b[0] = 'X'; return b }, 0},
		{"flipped byte in the first record", func(b []byte) []byte { b[len(storeMagic)+recHeaderLen+3] ^= 0xff; return b }, 0},
		{"zeros from the middle", func(b []byte) []byte { clear(b[len(b)/2:]); return b }, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s, err := openStore(ctx, dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			for h := uint64(100); h > 0; h -= 10 {
				writeHeaders(t, s, h-9, h, 100, gap{Low: 1, High: h - 10})
			}
			s.Close()
			p := filepath.Join(dir, storeFile)
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, tc.damage(b), 0o600); err != nil {
				t.Fatal(err)
			}
			s, err = openStore(ctx, dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if _, err := os.Stat(filepath.Join(dir, storeCorrupt)); (err == nil) != (tc.name == "bad magic") {
				t.Fatalf("moved aside: %v", err)
			}
			n := len(s.headers)
			if tc.headers >= 0 && n != tc.headers {
				t.Fatalf("%d headers after reopening, want %d", n, tc.headers)
			}
			if tc.headers < 0 && (n == 0 || n >= 100) {
				t.Fatalf("%d headers after reopening, want a prefix", n)
			}
			st := s.State()
			if st.head != 0 {
				if _, err := s.Header(st.head); err != nil {
					t.Fatalf("head %d: %v", st.head, err)
				}
			}
			for h := range s.headers {
				if _, err := s.Header(h); err != nil {
					t.Fatal(err)
				}
			}
			writeHeaders(t, s, 1, 1, 1, gap{Low: 1, High: 0})
		})
	}
}

// TestStoreCompacts: superseded state records are dropped once they
// outweigh the live ones, in memory and on disk, and the store reads the
// same after reopening.
func TestStoreCompacts(t *testing.T) {
	ctx := context.Background()
	for _, dir := range []string{"", t.TempDir()} {
		s := newMemoryStore()
		if dir != "" {
			var err error
			if s, err = openStore(ctx, dir, nil); err != nil {
				t.Fatal(err)
			}
		}
		trust := bytes.Repeat([]byte("t"), 4096)
		for h := uint64(1); h <= 600; h++ {
			w := &storeWrite{state: &storeState{head: h, gap: gap{Low: 1, High: 0}, trust: trust}}
			w.header(h, []byte(fmt.Sprintf("header %d", h)))
			if h%3 == 0 {
				w.receipt(h/3, []byte(fmt.Sprintf("receipt %d", h/3)))
			}
			if err := s.Write(w); err != nil {
				t.Fatal(err)
			}
		}
		// 600 states of 4 KiB are 2.4 MB; compacted, the log holds at
		// most storeCompactMin of superseded ones and the live records.
		if s.end > storeCompactMin+128<<10 {
			t.Fatalf("the log is %d bytes after 600 states of 4 KiB", s.end)
		}
		if dir != "" {
			s.Close()
			var err error
			if s, err = openStore(ctx, dir, nil); err != nil {
				t.Fatal(err)
			}
		}
		if st := s.State(); st.head != 600 || !bytes.Equal(st.trust, trust) {
			t.Fatalf("state head %d", st.head)
		}
		for h := uint64(1); h <= 600; h++ {
			if v, err := s.Header(h); err != nil || string(v) != fmt.Sprintf("header %d", h) {
				t.Fatalf("header %d = %q, %v", h, v, err)
			}
		}
		if v, err := s.Receipt(200); err != nil || string(v) != "receipt 200" {
			t.Fatalf("receipt 200 = %q, %v", v, err)
		}
		if _, err := s.Receipt(201); !errors.Is(err, ErrNotFound) {
			t.Fatalf("receipt 201: %v", err)
		}
		s.Close()
	}
}
