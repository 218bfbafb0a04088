package reclog

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

func TestNext(t *testing.T) {
	good := []byte("a record body")
	badCRC := Append(nil, good)
	badCRC[5] ^= 1
	huge := binary.LittleEndian.AppendUint32(nil, 1<<20+1)
	huge = append(huge, make([]byte, 8)...)
	for _, tc := range []struct {
		name string
		in   []byte
		want error // nil: decodes to good
	}{
		{"record", Append(nil, good), nil},
		{"parts", Append(nil, good[:3], nil, good[3:]), nil},
		{"empty", nil, ErrShort},
		{"header only", Append(nil, good)[:HeaderLen], ErrShort},
		{"cut body", Append(nil, good)[:HeaderLen+len(good)-1], ErrShort},
		{"zero length", make([]byte, 16), ErrLength},
		{"too long", huge, ErrLength},
		{"bad crc", badCRC, ErrCRC},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body, err := NewReader(bytes.NewReader(tc.in), 1<<20).Next(int64(len(tc.in)))
			if !errors.Is(err, tc.want) {
				t.Fatalf("Next = %v, want %v", err, tc.want)
			}
			if tc.want == nil && !bytes.Equal(body, good) {
				t.Fatalf("body %q, want %q", body, good)
			}
		})
	}
}

// TestGolden pins the framing: the outbox's and the light store's files
// are written with it.
func TestGolden(t *testing.T) {
	if c := Checksum([]byte("123456789")); c != 0xe3069283 {
		t.Fatalf("CRC-32C check value %08x, want e3069283", c)
	}
	got := Append([]byte{0xee}, []byte("ab"))
	want := []byte{0xee, 2, 0, 0, 0, 0x36, 0x29, 0xa2, 0xe2, 'a', 'b'} // CRC-32C("ab") = 0xe2a22936 (computed independently; the standard check value of "123456789" is 0xe3069283)
	if Checksum([]byte("ab")) != binary.LittleEndian.Uint32(want[5:9]) {
		t.Fatalf("CRC-32C of \"ab\" is %08x", Checksum([]byte("ab")))
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Append = %x, want %x", got, want)
	}
}

func TestAllZero(t *testing.T) {
	if !AllZero(nil) || !AllZero(make([]byte, 9)) || AllZero([]byte{0, 1}) {
		t.Fatal("AllZero")
	}
}

// FuzzNext: any bytes read as records never panic, and a body returned
// re-frames to the bytes it was read from.
func FuzzNext(f *testing.F) {
	f.Add(Append(nil, []byte("x")))
	f.Add(append(Append(nil, []byte("one")), Append(nil, []byte("two"))...))
	f.Add([]byte{1, 0, 0, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		r := NewReader(bytes.NewReader(in), 4096)
		off := 0
		for off < len(in) {
			body, err := r.Next(int64(len(in) - off))
			if err != nil {
				return
			}
			n := HeaderLen + len(body)
			if !bytes.Equal(Append(nil, body), in[off:off+n]) {
				t.Fatalf("record at %d does not re-frame", off)
			}
			off += n
		}
	})
}
