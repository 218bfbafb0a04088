package outbox

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/sixdomain/sixdomain/ledger/types"
)

// FuzzReplay feeds arbitrary files to the record decoder (Outbox.load):
// it never panics, and when it accepts a file, what it indexed is
// consistent: every entry lies within the accepted part and reads back as
// a transaction with its hash, the byte count adds up, and each sender's
// nonces rise in queue order.
func FuzzReplay(f *testing.F) {
	a, b := key(f, 1), key(f, 2)
	var valid []byte
	valid = append(valid, magic...)
	for n := uint64(1); n <= 3; n++ {
		valid = append(valid, encodeRecord(kindAppend, reading(f, a, n, "x").Encode())...)
		valid = append(valid, encodeRecord(kindAppend, reading(f, b, n, "y").Encode())...)
	}
	h := reading(f, a, 2, "x").Hash()
	valid = append(valid, encodeRecord(kindRemove, h[:])...)
	f.Add(valid)
	f.Add(valid[:len(valid)-7])
	f.Add([]byte(magic))
	f.Add(append([]byte(magic), encodeRecord(kindRemove, make([]byte, 32))...))
	f.Add(append([]byte(magic), encodeRecord(3, []byte("kind"))...))
	huge := append([]byte(magic), 0, 0, 0, 0x7f, 0, 0, 0, 0, 1)
	f.Add(huge)
	f.Fuzz(func(t *testing.T, data []byte) {
		o := newOutbox("", Options{})
		end, err := o.load(context.Background(), bytes.NewReader(data), int64(len(data)))
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error without ErrCorrupt: %v", err)
			}
			return
		}
		if end < int64(len(magic)) || end > int64(len(data)) {
			t.Fatalf("end %d of %d bytes", end, len(data))
		}
		if int64(len(data))-end > MaxRecordBytes {
			t.Fatalf("cut %d bytes, more than one record", int64(len(data))-end)
		}
		var sum int64
		last := map[[32]byte]uint64{}
		for _, e := range o.q {
			if e.off < int64(len(magic)) || e.off+int64(e.size) > end {
				t.Fatalf("entry at %d+%d outside [%d, %d)", e.off, e.size, len(magic), end)
			}
			tx, err := types.DecodeTx(data[e.off : e.off+int64(e.size)])
			if err != nil || tx.Hash() != e.hash || tx.Nonce != e.nonce || tx.Sender != e.sender {
				t.Fatalf("entry does not read back: %v", err)
			}
			if n, ok := last[e.sender]; ok && e.nonce <= n {
				t.Fatalf("nonce %d after %d", e.nonce, n)
			}
			last[e.sender] = e.nonce
			sum += int64(e.size)
			if o.byHash[e.hash] != e {
				t.Fatal("hash index disagrees")
			}
		}
		if sum != o.bytes || len(o.byHash) != len(o.q) {
			t.Fatalf("bytes %d, index says %d; %d hashed, %d queued", sum, o.bytes, len(o.byHash), len(o.q))
		}
	})
}
