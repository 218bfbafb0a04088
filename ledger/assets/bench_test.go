package assets

import (
	"encoding/binary"
	"testing"
)

// benchState issues "six" and gives n accounts 1,000,000 each.
func benchState(b *testing.B, n int) (*MapKV, *fakeReg, []Account) {
	kv, reg := NewMapKV(), castReg()
	if _, err := Apply(kv, reg, iss, issueOp("six", 1<<62, 0)); err != nil {
		b.Fatal(err)
	}
	accts := make([]Account, n)
	for i := range accts {
		binary.BigEndian.PutUint64(accts[i][:], uint64(i+1))
		accts[i][31] = 0xee
		if _, err := Apply(kv, reg, iss, mintOp("six", accts[i], 1_000_000)); err != nil {
			b.Fatal(err)
		}
	}
	return kv, reg, accts
}

// BenchmarkSend: transfers through Apply on a map KV with 10,000 funded
// accounts, account i paying account i+1 (decoded operations).
func BenchmarkSend(b *testing.B) {
	kv, reg, accts := benchState(b, 10_000)
	ops := make([]*Op, len(accts))
	for i := range ops {
		ops[i] = sendOp("six", accts[(i+1)%len(accts)], 1)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		j := i % len(accts)
		if _, err := Apply(kv, reg, accts[j], ops[j]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "transfers/s")
}

// BenchmarkSendDecode: the same with the payload decoded (DecodeOp's
// canonical check) before each Apply, as the ledger will do.
func BenchmarkSendDecode(b *testing.B) {
	kv, reg, accts := benchState(b, 10_000)
	payloads := make([][]byte, len(accts))
	for i := range payloads {
		payloads[i] = sendOp("six", accts[(i+1)%len(accts)], 1).Encode()
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		j := i % len(accts)
		op, err := DecodeOp(payloads[j])
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Apply(kv, reg, accts[j], op); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "transfers/s")
}

// BenchmarkChargeFee: a fee with a gateway share among 10,000 accounts.
func BenchmarkChargeFee(b *testing.B) {
	kv, _, accts := benchState(b, 10_000)
	proposer, gateway := acct(30), acct(31)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if err := ChargeFee(kv, "six", accts[i%len(accts)], proposer, gateway, 10, 2000); err != nil {
			b.Fatal(err)
		}
	}
}
