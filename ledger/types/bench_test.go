package types

import (
	"crypto/rand"
	"testing"

	"github.com/sixdomain/sixdomain/identity"
)

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

// BenchmarkSealRecord: encrypting a 64-byte reading to one recipient's
// did:key (HPKE X25519 + ChaCha20-Poly1305).
func BenchmarkSealRecord(b *testing.B) {
	sender, to := seedKey(b, 7), seedKey(b, 8)
	value := []byte(`{"heart_rate":71,"spo2":98,"ts":1767225600000,"device":"wrist-01"}`)
	for b.Loop() {
		if _, err := NewSealedRecord(rand.Reader, testChain, sender.Public(), "health/hr", "application/json", value, []identity.PublicKey{to.Public()}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOpenRecord: decrypting it as the recipient.
func BenchmarkOpenRecord(b *testing.B) {
	sender, to := seedKey(b, 7), seedKey(b, 8)
	rec, err := NewSealedRecord(rand.Reader, testChain, sender.Public(), "health/hr", "application/json", []byte(`{"heart_rate":71}`), []identity.PublicKey{to.Public()})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, _, err := OpenSealedRecord(to, testChain, sender.Public(), &rec); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyDIDTx: the signature checks of a registry transaction
// with two approvals (sender + 2 approvals = 3 Ed25519 verifications).
func BenchmarkVerifyDIDTx(b *testing.B) {
	gw, dev, owner := seedKey(b, 7), seedKey(b, 8), seedKey(b, 9)
	op := DIDOp{Op: OpRegister, Subject: dev.Public(), Domain: DomainSensing, Role: EntityDevice}
	op.Approve(testChain, dev)
	op.Approve(testChain, owner)
	tx, err := NewDIDTx(testChain, 1, 1_767_225_600_000, &op)
	if err != nil {
		b.Fatal(err)
	}
	tx.Sign(gw)
	for b.Loop() {
		if err := tx.VerifySignature(); err != nil {
			b.Fatal(err)
		}
	}
}
