package smt

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
)

// FuzzDecodeProof decodes arbitrary bytes as a proof (CBOR, and JSON):
// never a panic, every error a malformed-proof error, and what decodes
// re-encodes to the same bytes.
func FuzzDecodeProof(f *testing.F) {
	md := newModel()
	var ops []Op
	for i := range 40 {
		ops = append(ops, Op{Key: keyN(i), Value: keyN(i)})
	}
	md.apply(f, ops)
	for _, k := range [][]byte{keyN(1), keyN(2), keyN(1000), []byte("absent")} {
		p, err := Prove(md.store, md.root, k)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(p.Encode())
		js, _ := json.Marshal(p)
		f.Add(js)
	}
	f.Add([]byte{})
	f.Add([]byte{0x84, 0x00, 0x40, 0x40, 0x40})
	f.Add([]byte{0x84, 0x19, 0x01, 0x00, 0x58, 0x20})
	f.Add([]byte(`{"depth":1,"bitmap":"80","siblings":[],"leaf":null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := DecodeProof(b)
		if err != nil {
			if !errors.Is(err, ErrMalformedProof) || !errors.Is(err, ErrBadProof) {
				t.Fatalf("DecodeProof error %v is not ErrMalformedProof", err)
			}
		} else {
			enc := p.Encode()
			if !bytes.Equal(enc, b) {
				t.Fatalf("decoded %x, re-encoded %x", b, enc)
			}
			if len(p.Siblings) > MaxDepth || len(enc) > MaxProofSize {
				t.Fatalf("decoded a proof beyond the bounds: %d siblings, %d bytes", len(p.Siblings), len(enc))
			}
			_ = p.Verify(md.root, keyN(1), keyN(1))
			_ = p.Verify(md.root, []byte("absent"), nil)
			js, err := json.Marshal(p)
			if err != nil {
				t.Fatalf("MarshalJSON of a decoded proof: %v", err)
			}
			var q Proof
			if err := json.Unmarshal(js, &q); err != nil || !bytes.Equal(q.Encode(), b) {
				t.Fatalf("JSON round trip: %v", err)
			}
		}
		var q Proof
		if err := q.UnmarshalJSON(b); err == nil {
			if _, err := DecodeProof(q.Encode()); err != nil {
				t.Fatalf("a proof from JSON does not decode from its CBOR: %v", err)
			}
		} else if !errors.Is(err, ErrMalformedProof) {
			t.Fatalf("UnmarshalJSON error %v is not ErrMalformedProof", err)
		}
	})
}

// FuzzUpdate reads batches of ops from bytes and checks each batch against
// the reference. Each op is one byte a, and for a value one more byte:
// key = "k" + (a & 63); a>>6 = 0 deletes, 1 writes the empty value, 2 and
// 3 write the next byte. 0xff ends a batch. A batch with a duplicate key
// must be refused with ErrDuplicateKey and change nothing.
func FuzzUpdate(f *testing.F) {
	f.Add([]byte{0x80, 'a', 0x81, 'b', 0xff, 0x00, 0x41})
	f.Add([]byte{0x80, 'a', 0x80, 'b'})
	f.Add([]byte{0x80, 1, 0x81, 2, 0x82, 3, 0x83, 4, 0xff, 0x01, 0x02, 0xff, 0x03})
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 4096 {
			return
		}
		md := newModel()
		var ops []Op
		seen := map[string]bool{}
		dup := false
		flush := func() {
			if dup {
				if _, _, _, err := Update(md.store, md.root, ops); !errors.Is(err, ErrDuplicateKey) {
					t.Fatalf("a batch with a duplicate key: %v", err)
				}
				// Keep the last op of each key and apply that.
				last := map[string]int{}
				for i, op := range ops {
					last[string(op.Key)] = i
				}
				var keep []Op
				for i, op := range ops {
					if last[string(op.Key)] == i {
						keep = append(keep, op)
					}
				}
				ops = keep
			}
			md.apply(t, ops)
			ops, seen, dup = nil, map[string]bool{}, false
		}
		for i := 0; i < len(b); i++ {
			a := b[i]
			if a == 0xff {
				flush()
				continue
			}
			op := Op{Key: fmt.Appendf(nil, "k%d", a&63)}
			switch a >> 6 {
			case 1:
				op.Value = []byte{}
			case 2, 3:
				if i+1 < len(b) {
					i++
					op.Value = []byte{b[i]}
				} else {
					op.Value = []byte{a}
				}
			}
			dup = dup || seen[string(op.Key)]
			seen[string(op.Key)] = true
			ops = append(ops, op)
		}
		flush()
		for k := range 64 {
			key := fmt.Appendf(nil, "k%d", k)
			want, present := md.m[string(key)]
			vh, found, err := Get(md.store, md.root, key)
			if err != nil || found != present || (present && vh != HashValue(want)) {
				t.Fatalf("Get(%s): %v %v %v", key, vh, found, err)
			}
			p, err := Prove(md.store, md.root, key)
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Verify(md.root, key, want); err != nil {
				t.Fatalf("proof of %s: %v", key, err)
			}
		}
	})
}
