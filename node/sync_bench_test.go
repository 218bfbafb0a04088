package node

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	pebbleds "github.com/ipfs/go-ds-pebble"

	"github.com/sixdomain/sixdomain/chain"
	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger"
	"github.com/sixdomain/sixdomain/ledger/types"
	"github.com/sixdomain/sixdomain/mempool"
)

// buildChain seals n final blocks with a single authority on virtual time,
// each holding txsPerBlock signed records, into a fresh pebble store in
// dir. The genesis lies far enough in the past that every block time is
// before now.
func buildChain(tb testing.TB, dir string, n, txsPerBlock int) (*types.Genesis, *identity.PrivateKey) {
	tb.Helper()
	key, _ := identity.FromSeed(make([]byte, 32))
	slot := time.Second
	g := types.NewGenesis("sync-bench", time.Now().Add(-time.Duration(n+10)*slot), key.Public())
	ds, err := ledger.OpenPebble(dir)
	if err != nil {
		tb.Fatal(err)
	}
	defer func() {
		// Settle the store before it serves: without this, the node that
		// opens it spends seconds of CPU compacting the burst of writes
		// above while the measured sync runs (a server that has been
		// running for 10,000 slots has long done so).
		if p, ok := ds.(*pebbleds.Datastore); ok {
			if err := p.DB.Compact(context.Background(), []byte{0}, []byte{0xff}, true); err != nil {
				tb.Error(err)
			}
		}
		ds.Close()
	}()
	ctx := context.Background()
	// The node's layout (ledger.Split), so that the node opening dir finds
	// the chain's records (certificates, total difficulty) where it keeps them.
	spaces, err := ledger.Split(ctx, ds)
	if err != nil {
		tb.Fatal(err)
	}
	store, err := ledger.Open(ctx, spaces.Ledger, g)
	if err != nil {
		tb.Fatal(err)
	}
	now := g.GenesisTime
	pool := mempool.New(mempool.Config{})
	c, err := chain.New(ctx, chain.Config{Genesis: g, Key: key, Store: store, Datastore: spaces.Chain, Snapshots: spaces.Consensus, Pool: pool,
		Sigs: types.NewSigCache(1 << 16), Now: func() time.Time { return now }, Rand: rand.New(rand.NewPCG(1, 2))})
	if err != nil {
		tb.Fatal(err)
	}
	device, _ := identity.FromSeed(append(make([]byte, 31), 1))
	var nonce uint64
	for store.State().Height < uint64(n) {
		for i := 0; i < txsPerBlock; i++ {
			nonce++
			tx, _ := types.NewDataRecordTx(g.ChainID, nonce, now.UnixMilli(), types.DataRecord{Stream: "t", Value: []byte("21.5")})
			tx.Sign(device)
			if err := pool.Add(tx, 0, c.HeadNonce(device.Public())); err != nil {
				tb.Fatal(err)
			}
		}
		now = c.NextWake()
		c.Tick()
		c.TakeEvents()
	}
	return g, key
}

// BenchmarkSyncCatchUp10k: a node that joins after 10,000 final blocks
// (10 records each) catches up from one peer over real libp2p on loopback.
// Reports blocks/s; both nodes share the machine's two cores. The joiner
// keeps its store in memory.
//
//	go test -run '^$' -bench SyncCatchUp -benchtime 1x ./node/
func BenchmarkSyncCatchUp10k(b *testing.B) { benchCatchUp(b, 10_000, false) }

// BenchmarkSyncToDisk2k: as BenchmarkSyncCatchUp10k, after 2,000 blocks,
// with the joiner's store in pebble (synced writes), as a real node's.
//
//	go test -run '^$' -bench SyncToDisk -benchtime 1x ./node/
func BenchmarkSyncToDisk2k(b *testing.B) { benchCatchUp(b, 2_000, true) }

func benchCatchUp(b *testing.B, blocks uint64, disk bool) {
	dir := b.TempDir()
	g, key := buildChain(b, dir, int(blocks), 10)
	server, err := New(context.Background(), key, g, WithListenAddrs("/ip4/127.0.0.1/tcp/0"), WithMDNS(false), WithDataDir(dir))
	if err != nil {
		b.Fatal(err)
	}
	defer server.Close()
	var rate, cpu float64
	for b.Loop() {
		joiner, _ := identity.Generate(nil)
		opts := []Option{WithListenAddrs("/ip4/127.0.0.1/tcp/0"), WithMDNS(false),
			WithBootstrapPeers(server.AddrInfo()), WithSyncInterval(200 * time.Millisecond)}
		if disk {
			opts = append(opts, WithDataDir(b.TempDir()))
		}
		start, cpu0 := time.Now(), cpuTime()
		n, err := New(context.Background(), joiner, g, opts...)
		if err != nil {
			b.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Minute)
		for n.State().Height < blocks {
			if time.Now().After(deadline) {
				b.Fatalf("caught up only to %d of %d", n.State().Height, blocks)
			}
			time.Sleep(50 * time.Millisecond)
		}
		rate = float64(n.State().Height) / time.Since(start).Seconds()
		cpu = (cpuTime() - cpu0).Seconds()
		n.Close()
	}
	b.ReportMetric(rate, "blocks/s")
	// The CPU the process (both nodes) spent meanwhile: steadier than the
	// rate on a shared machine.
	b.ReportMetric(cpu, "cpu-s")
}
