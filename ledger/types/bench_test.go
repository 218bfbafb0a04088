package types

import "testing"

func benchTx(b *testing.B) (*Tx, []byte) {
	k := seedKey(b, 7)
	tx := signedRecord(b, k, 1, 1_767_225_600_000, `{"celsius":21.5,"seq":1}`)
	return tx, tx.Encode()
}

func BenchmarkTxSign(b *testing.B) {
	k := seedKey(b, 7)
	tx := signedRecord(b, k, 1, 1_767_225_600_000, `{"celsius":21.5,"seq":1}`)
	for b.Loop() {
		tx.Sign(k)
	}
}

func BenchmarkTxVerify(b *testing.B) {
	tx, _ := benchTx(b)
	for b.Loop() {
		if err := tx.VerifySignature(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTxEncode(b *testing.B) {
	tx, enc := benchTx(b)
	b.SetBytes(int64(len(enc)))
	for b.Loop() {
		tx.Encode()
	}
}

func BenchmarkTxDecode(b *testing.B) {
	_, enc := benchTx(b)
	b.SetBytes(int64(len(enc)))
	for b.Loop() {
		if _, err := DecodeTx(enc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTxHash(b *testing.B) {
	tx, _ := benchTx(b)
	for b.Loop() {
		tx.Hash()
	}
}
