package types

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/sixdomain/sixdomain/identity"
)

func batchTxs(t testing.TB, n int) []*Tx {
	t.Helper()
	k, err := identity.Generate(bytes.NewReader(bytes.Repeat([]byte{7}, 64)))
	if err != nil {
		t.Fatal(err)
	}
	out := make([]*Tx, n)
	for i := range out {
		tx, err := NewDataRecordTx("batch-chain", uint64(i+1), 1_700_000_000_000+int64(i),
			DataRecord{Stream: "t", ContentType: "text/plain", Value: []byte(fmt.Sprint(i))})
		if err != nil {
			t.Fatal(err)
		}
		tx.Sign(k)
		out[i] = tx
	}
	return out
}

func TestTxBatchRoundTrip(t *testing.T) {
	txs := batchTxs(t, 5)
	b := &TxBatch{ChainID: "batch-chain"}
	size := 0
	for _, tx := range txs {
		b.Txs = append(b.Txs, tx.Encode())
		size += len(b.Txs[len(b.Txs)-1])
	}
	data := b.Encode()
	if over := len(data) - size; over > BatchOverhead(len(txs)) {
		t.Fatalf("overhead %d exceeds BatchOverhead %d", over, BatchOverhead(len(txs)))
	}
	got, dec, err := DecodeTxBatch("batch-chain", data)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Txs) != 5 || len(dec) != 5 {
		t.Fatalf("decoded %d/%d transactions", len(got.Txs), len(dec))
	}
	for i := range txs {
		if dec[i].Hash() != txs[i].Hash() || !bytes.Equal(dec[i].Signature, txs[i].Signature) {
			t.Fatalf("transaction %d differs", i)
		}
	}
}

func TestTxBatchRefusals(t *testing.T) {
	txs := batchTxs(t, 2)
	enc := func(b TxBatch) []byte { return b.Encode() }
	good := [][]byte{txs[0].Encode(), txs[1].Encode()}
	bad := append([]byte(nil), good[1]...)
	bad[0] = 0x01 // not an array
	tooMany := make([][]byte, MaxBatchTxs+1)
	for i := range tooMany {
		tooMany[i] = good[0]
	}
	cases := []struct {
		name string
		data []byte
		want error
	}{
		{"oversize", make([]byte, MaxBatchBytes+1), ErrOversize},
		{"garbage", []byte{0xff, 0x00}, ErrUndecodable},
		{"empty", enc(TxBatch{ChainID: "batch-chain"}), ErrBadBatch},
		{"wrong chain", enc(TxBatch{ChainID: "other", Txs: good}), ErrWrongChain},
		{"bad tx", enc(TxBatch{ChainID: "batch-chain", Txs: [][]byte{good[0], bad}}), ErrBadBatch},
		{"too many", enc(TxBatch{ChainID: "batch-chain", Txs: tooMany}), ErrOversize},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, _, err := DecodeTxBatch("batch-chain", c.data); !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
		})
	}
	// A batch within the byte limit but over the count limit.
	small := make([][]byte, MaxBatchTxs+1)
	for i := range small {
		small[i] = []byte{0x80}
	}
	if _, _, err := DecodeTxBatch("batch-chain", enc(TxBatch{ChainID: "batch-chain", Txs: small})); !errors.Is(err, ErrBadBatch) {
		t.Fatalf("count limit: err = %v", err)
	}
}

func TestCompactBlockAssemble(t *testing.T) {
	txs := batchTxs(t, 3)
	enc := make([][]byte, len(txs))
	for i, tx := range txs {
		enc[i] = tx.Encode()
	}
	b := &Block{Header: Header{Version: BlockVersion, ChainID: "batch-chain", Height: 1, Time: 1, Difficulty: 2, TxCount: 3, TxRoot: TxRoot(enc)},
		Txs: txs, Seal: make([]byte, 64)}
	c := b.Compact()
	data := c.Encode()
	dec, err := DecodeCompactBlock(data)
	if err != nil {
		t.Fatal(err)
	}
	if dec.Hash() != b.Hash() {
		t.Fatal("hash differs")
	}
	full, err := dec.Assemble(txs)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(full.Encode(), b.Encode()) {
		t.Fatal("assembled block differs")
	}
	// Out of order, missing, or the same body with another signature.
	if _, err := dec.Assemble([]*Tx{txs[1], txs[0], txs[2]}); !errors.Is(err, ErrBadBlock) {
		t.Fatalf("reordered: %v", err)
	}
	if _, err := dec.Assemble(txs[:2]); !errors.Is(err, ErrBadBlock) {
		t.Fatalf("short: %v", err)
	}
	other := *txs[2]
	other.Signature = bytes.Repeat([]byte{1}, 64)
	if _, err := dec.Assemble([]*Tx{txs[0], txs[1], &other}); !errors.Is(err, ErrBadBlock) {
		t.Fatalf("other signature: %v", err)
	}
	// The header's count must match the hashes.
	c.TxHashes = c.TxHashes[:2]
	if _, err := DecodeCompactBlock(c.Encode()); !errors.Is(err, ErrBadBlock) {
		t.Fatalf("count mismatch: %v", err)
	}
	if _, err := DecodeCompactBlock(make([]byte, MaxCompactBlockBytes+1)); !errors.Is(err, ErrOversize) {
		t.Fatalf("oversize: %v", err)
	}
}

func FuzzDecodeTxBatch(f *testing.F) {
	txs := batchTxs(f, 2)
	f.Add((&TxBatch{ChainID: "batch-chain", Txs: [][]byte{txs[0].Encode(), txs[1].Encode()}}).Encode())
	f.Add([]byte{0x82, 0x60, 0x80})
	f.Fuzz(func(t *testing.T, data []byte) {
		b, dec, err := DecodeTxBatch("batch-chain", data)
		if err != nil {
			return
		}
		if !bytes.Equal(b.Encode(), data) {
			t.Fatal("accepted a batch that does not re-encode to itself")
		}
		for i, tx := range dec {
			if !bytes.Equal(tx.Encode(), b.Txs[i]) {
				t.Fatalf("transaction %d re-encodes differently", i)
			}
		}
	})
}

func FuzzDecodeCompactBlock(f *testing.F) {
	txs := batchTxs(f, 2)
	b := &Block{Header: Header{Version: BlockVersion, ChainID: "batch-chain", Height: 1, Time: 1, Difficulty: 2, TxCount: 2,
		TxRoot: TxRoot([][]byte{txs[0].Encode(), txs[1].Encode()})}, Txs: txs, Seal: make([]byte, 64)}
	f.Add(b.Compact().Encode())
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := DecodeCompactBlock(data)
		if err != nil {
			return
		}
		if !bytes.Equal(c.Encode(), data) {
			t.Fatal("accepted a compact block that does not re-encode to itself")
		}
	})
}
