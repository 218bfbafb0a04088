package types

import (
	"bytes"
	"testing"
)

// FuzzDecodeTx: decoding arbitrary bytes never panics, and whatever decodes
// re-encodes to the same bytes.
func FuzzDecodeTx(f *testing.F) {
	tx := signedRecord(f, seedKey(f, 1), 1, 1_767_225_600_000, "21.5")
	f.Add(tx.Encode())
	f.Add([]byte{})
	f.Add([]byte{0x88})
	f.Add(bytes.Repeat([]byte{0x9f}, 64))
	f.Fuzz(func(t *testing.T, data []byte) {
		tx, err := DecodeTx(data)
		if err != nil {
			return
		}
		if !bytes.Equal(tx.Encode(), data) {
			t.Fatalf("decoded transaction re-encodes differently")
		}
		_ = tx.ValidateBasic(testChain)
		_ = tx.VerifySignature()
	})
}

// FuzzDecodeBlock: decoding arbitrary bytes never panics; what decodes
// re-encodes to the same bytes.
func FuzzDecodeBlock(f *testing.F) {
	b, _ := testBlock(f, 3)
	f.Add(b.Encode())
	empty, _ := testBlock(f, 0)
	f.Add(empty.Encode())
	f.Add([]byte{0x83, 0x89})
	f.Fuzz(func(t *testing.T, data []byte) {
		blk, err := DecodeBlock(data)
		if err != nil {
			return
		}
		if !bytes.Equal(blk.Encode(), data) {
			t.Fatalf("decoded block re-encodes differently")
		}
		_ = blk.Header.VerifySeal(blk.Seal)
	})
}

// FuzzDecodeDataRecord: the record payload decoder never panics.
func FuzzDecodeDataRecord(f *testing.F) {
	f.Add((&DataRecord{Stream: "s", Value: []byte("v")}).Encode())
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := DecodeDataRecord(data)
		if err == nil && !bytes.Equal(r.Encode(), data) {
			t.Fatalf("record re-encodes differently")
		}
	})
}
