package light

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/sixdomain/sixdomain/ledger/types"
)

func TestRequestValidation(t *testing.T) {
	hash := bytes.Repeat([]byte{7}, 32)
	for _, tc := range []struct {
		name string
		req  Request
		ok   bool
	}{
		{"submit", Request{Op: OpSubmit, Tx: []byte{1}}, true},
		{"submit without tx", Request{Op: OpSubmit}, false},
		{"submit with hash", Request{Op: OpSubmit, Tx: []byte{1}, Hash: hash}, false},
		{"submit oversize", Request{Op: OpSubmit, Tx: make([]byte, types.MaxTxBytes+1)}, false},
		{"status", Request{Op: OpStatus, Hash: hash, TrustHeight: 7}, true},
		{"status short hash", Request{Op: OpStatus, Hash: hash[:31]}, false},
		{"status with range", Request{Op: OpStatus, Hash: hash, From: 1}, false},
		{"latest", Request{Op: OpLatest, TrustHeight: 1}, true},
		{"submit with trust", Request{Op: OpSubmit, Tx: []byte{1}, TrustHeight: 1}, false},
		{"headers with trust", Request{Op: OpHeaders, From: 1, To: 2, TrustHeight: 1}, false},
		{"latest with tx", Request{Op: OpLatest, Tx: []byte{1}}, false},
		{"headers", Request{Op: OpHeaders, From: 1, To: 1024}, true},
		{"headers too many", Request{Op: OpHeaders, From: 1, To: 1025}, false},
		{"headers from 0", Request{Op: OpHeaders, From: 0, To: 3}, false},
		{"headers reversed", Request{Op: OpHeaders, From: 5, To: 4}, false},
		{"unknown op", Request{Op: 9}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeRequest(tc.req.Encode())
			if (err == nil) != tc.ok {
				t.Fatalf("DecodeRequest = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrMessage) {
				t.Fatalf("error %v does not wrap ErrMessage", err)
			}
		})
	}
}

// TestGoldenRequest pins the byte encoding documented in docs/PROTOCOL.md.
func TestGoldenRequest(t *testing.T) {
	for _, tc := range []struct {
		req  Request
		want string
	}{
		{Request{Op: OpHeaders, From: 1, To: 2}, "86044040000102"},
		{Request{Op: OpSubmit, Tx: []byte{0xab}}, "860141ab40000000"},
		{Request{Op: OpLatest, TrustHeight: 1}, "860340400100" + "00"},
		{Request{Op: OpStatus, Hash: bytes.Repeat([]byte{0xee}, 32), TrustHeight: 24}, "860240" + "5820" + strings.Repeat("ee", 32) + "18180000"},
	} {
		if got := hex.EncodeToString(tc.req.Encode()); got != tc.want {
			t.Errorf("%+v encodes as %s, want %s", tc.req, got, tc.want)
		}
	}
	r := Response{Status: StatusRefused, Reason: "bad_signature", Text: "x"}
	if got, want := hex.EncodeToString(r.Encode()), "87056d6261645f7369676e6174757265617840404080"; got != want {
		t.Errorf("refusal encodes as %s, want %s", got, want)
	}
}

func TestNonCanonicalRefused(t *testing.T) {
	// [4, h'', h'', 0, 1, 2] with the 1 spelled in two bytes.
	raw, _ := hex.DecodeString("860440400018010" + "2")
	if _, err := DecodeRequest(raw); !errors.Is(err, ErrMessage) {
		t.Fatalf("non-canonical request: %v, want ErrMessage", err)
	}
}

func TestFrames(t *testing.T) {
	var b bytes.Buffer
	if err := WriteFrame(&b, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	got, err := ReadFrame(bytes.NewReader(b.Bytes()), 5)
	if err != nil || string(got) != "hello" {
		t.Fatalf("ReadFrame = %q, %v", got, err)
	}
	if _, err := ReadFrame(bytes.NewReader(b.Bytes()), 4); !errors.Is(err, ErrFrame) {
		t.Fatalf("frame over the limit: %v, want ErrFrame", err)
	}
	// A length of 4 GiB - 1 is refused before anything is allocated.
	huge := binary.BigEndian.AppendUint32(nil, 0xffffffff)
	if _, err := ReadFrame(bytes.NewReader(huge), MaxResponseBytes); !errors.Is(err, ErrFrame) || !strings.Contains(err.Error(), "limit") {
		t.Fatalf("huge length: %v, want ErrFrame naming the limit", err)
	}
	if _, err := ReadFrame(bytes.NewReader(b.Bytes()[:7]), 5); !errors.Is(err, ErrFrame) {
		t.Fatalf("cut frame: %v, want ErrFrame", err)
	}
	if _, err := ReadFrame(bytes.NewReader([]byte{0, 0, 0, 0}), 5); !errors.Is(err, ErrFrame) {
		t.Fatalf("empty frame: %v, want ErrFrame", err)
	}
}

func FuzzDecodeRequest(f *testing.F) {
	f.Add((&Request{Op: OpHeaders, From: 1, To: 2}).Encode())
	f.Add((&Request{Op: OpSubmit, Tx: []byte{1, 2, 3}}).Encode())
	f.Add((&Request{Op: OpStatus, Hash: make([]byte, 32), TrustHeight: 3}).Encode())
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := DecodeRequest(data)
		if err != nil {
			return
		}
		if !bytes.Equal(r.Encode(), data) {
			t.Fatalf("decoded request re-encodes differently")
		}
	})
}

func FuzzDecodeResponse(f *testing.F) {
	f.Add((&Response{Status: StatusOK, Headers: [][]byte{{1}, {2}}}).Encode())
	f.Add((&Response{Status: StatusRefused, Reason: "x", Text: "y"}).Encode())
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := DecodeResponse(data)
		if err != nil {
			return
		}
		if !bytes.Equal(r.Encode(), data) {
			t.Fatalf("decoded response re-encodes differently")
		}
		if r.Proof != nil {
			_, _ = DecodeTxProof(r.Proof) // must not panic
		}
	})
}

func FuzzReadFrame(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1, 0xa0})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := ReadFrame(bytes.NewReader(data), 1024)
		if err == nil && (len(b) == 0 || len(b) > 1024) {
			t.Fatalf("frame of %d bytes passed the 1024-byte limit", len(b))
		}
	})
}
