package ledger

import (
	"context"
	"testing"

	"github.com/ipfs/go-datastore"

	"github.com/sixdomain/sixdomain/ledger/types"
)

const (
	benchSenders = 100
	benchPerTx   = 10 // transactions per sender per block
	benchTxs     = benchSenders * benchPerTx
)

// benchBlockTxs returns 1000 signed record transactions, 10 from each of
// f's 100 senders, interleaved, with nonces round*10+1 .. round*10+10.
func benchBlockTxs(b *testing.B, f *fixture, round uint64, at int64) []*types.Tx {
	b.Helper()
	txs := make([]*types.Tx, 0, benchTxs)
	for j := range uint64(benchPerTx) {
		for _, k := range f.keys {
			txs = append(txs, signedTx(b, f.p.ChainID, k, round*benchPerTx+j+1, at, "sensor/temperature",
				`{"celsius":21.5,"humidity":40.2,"battery":3.71}`))
		}
	}
	return txs
}

func reportTxRate(b *testing.B, txsPerOp int) {
	b.ReportMetric(float64(b.N)*float64(txsPerOp)/b.Elapsed().Seconds(), "tx/s")
}

func BenchmarkApply(b *testing.B) {
	f := newFixture(b, benchSenders)
	st := GenesisState(f.g)
	at := st.LastBlockTime + 1000
	blk, _, _, sk := propose(st, memNonces{}, f.p, benchBlockTxs(b, f, 0, at), at, f.auth.Public())
	if len(sk) != 0 || len(blk.Txs) != benchTxs {
		b.Fatal(sk)
	}
	f.seal(blk)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := Apply(st, memNonces{}, f.p, blk); err != nil {
			b.Fatal(err)
		}
	}
	reportTxRate(b, benchTxs)
}

func BenchmarkPropose(b *testing.B) {
	f := newFixture(b, benchSenders)
	st := GenesisState(f.g)
	at := st.LastBlockTime + 1000
	txs := benchBlockTxs(b, f, 0, at)
	b.ReportAllocs()
	for b.Loop() {
		if blk, _, _, sk := propose(st, memNonces{}, f.p, txs, at, f.auth.Public()); len(sk) != 0 || len(blk.Txs) != benchTxs {
			b.Fatal(sk)
		}
	}
	reportTxRate(b, benchTxs)
}

func BenchmarkCommitPebble(b *testing.B) {
	d, err := OpenPebble(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	benchCommit(b, d)
}

func BenchmarkCommitMemory(b *testing.B) {
	benchCommit(b, NewMemory())
}

// benchCommit times Commit of blocks of 1000 transactions; building and
// signing them is not timed.
func benchCommit(b *testing.B, d datastore.Batching) {
	ctx := context.Background()
	f := newFixture(b, benchSenders)
	s, err := Open(ctx, d, f.g)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	var bytes int
	for i := range b.N {
		b.StopTimer()
		st := s.State()
		at := st.LastBlockTime + 1000
		blk, next, ch, sk := propose(st, View(s, testAuthorities), f.p, benchBlockTxs(b, f, uint64(i), at), at, f.auth.Public())
		if len(sk) != 0 {
			b.Fatal(sk)
		}
		f.seal(blk)
		bytes = len(blk.Encode())
		b.StartTimer()
		if err := s.Commit(ctx, blk, next, ch); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	reportTxRate(b, benchTxs)
	b.ReportMetric(float64(bytes), "block-bytes")
}
