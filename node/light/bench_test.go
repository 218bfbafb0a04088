package light_test

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/ipfs/go-datastore"
	pebbleds "github.com/ipfs/go-ds-pebble"

	"github.com/sixdomain/sixdomain/chain"
	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger"
	"github.com/sixdomain/sixdomain/ledger/types"
	"github.com/sixdomain/sixdomain/mempool"
	"github.com/sixdomain/sixdomain/node"
	"github.com/sixdomain/sixdomain/node/light"
)

// buildChain seals n empty final blocks with a single authority on virtual
// time into a pebble store without fsync in a temporary directory, laid out as a node keeps it, and returns the store, the
// genesis and the authority's key. The genesis lies far enough in the past
// that every block time is before now.
func buildChain(tb testing.TB, n int) (datastore.Batching, *types.Genesis, *identity.PrivateKey) {
	tb.Helper()
	key, _ := identity.FromSeed(make([]byte, 32))
	slot := time.Second
	g := types.NewGenesis("light-bench", time.Now().Add(-time.Duration(n+10)*slot), key.Public())
	ds, err := pebbleds.NewDatastore(tb.TempDir(), pebbleds.WithPebbleWriteOptions(pebble.NoSync))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ds.Close() })
	ctx := context.Background()
	spaces, err := ledger.Split(ctx, ds)
	if err != nil {
		tb.Fatal(err)
	}
	store, err := ledger.Open(ctx, spaces.Ledger, g)
	if err != nil {
		tb.Fatal(err)
	}
	now := g.GenesisTime
	c, err := chain.New(ctx, chain.Config{Genesis: g, Key: key, Store: store, Datastore: spaces.Chain, Snapshots: spaces.Consensus,
		Pool: mempool.New(mempool.Config{}), Sigs: types.NewSigCache(1 << 10), Now: func() time.Time { return now },
		Rand: rand.New(rand.NewPCG(1, 2))})
	if err != nil {
		tb.Fatal(err)
	}
	for store.State().Height < uint64(n) {
		now = c.NextWake()
		c.Tick()
		c.TakeEvents()
	}
	return ds, g, key
}

// startGateway serves the chain of ds.
func startGateway(tb testing.TB, ds datastore.Batching, g *types.Genesis, key *identity.PrivateKey) *node.Node {
	tb.Helper()
	gw, err := node.New(context.Background(), key, g, node.WithListenAddrs("/ip4/127.0.0.1/tcp/0"), node.WithMDNS(false),
		node.WithDatastore(ds), node.WithDHT(node.DHTOff))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { gw.Close() })
	return gw
}

// BenchmarkLightHeaderCatchUp100k: a light node with an empty pebble store
// follows a gateway whose chain has 100,000 final blocks: it verifies the
// latest header's finality proof from the genesis and fetches and links
// every header below it over libp2p on loopback. Reports the seconds until
// it holds them all, and headers/s; the gateway shares the machine.
//
//	go test -run '^$' -bench LightHeaderCatchUp -benchtime 1x ./node/light/
func BenchmarkLightHeaderCatchUp100k(b *testing.B) {
	const blocks = 100_000
	ds, g, key := buildChain(b, blocks)
	gw := startGateway(b, ds, g, key)
	gwAddr := addrString(gw.AddrInfo())
	var secs float64
	var held uint64
	for b.Loop() {
		lk, _ := identity.Generate(nil)
		start := time.Now()
		l, err := light.New(context.Background(), lk, g, light.Config{Gateways: []string{gwAddr}, DataDir: b.TempDir(),
			PollInterval: 50 * time.Millisecond})
		if err != nil {
			b.Fatal(err)
		}
		deadline := time.Now().Add(5 * time.Minute)
		for {
			st := l.Status()
			if st.Finalized >= blocks-10 && st.HeadersMissing == 0 {
				held = st.Finalized
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("light node at %+v after 5 minutes", st)
			}
			time.Sleep(10 * time.Millisecond)
		}
		secs = time.Since(start).Seconds()
		l.Close()
	}
	b.ReportMetric(secs, "s")
	b.ReportMetric(float64(held)/secs, "headers/s")
}

// TestHelperProcessLight runs a light node in a process of its own for
// BenchmarkIdleLightRSS; skipped otherwise. On SIGUSR1 it prints the Go
// heap (HeapAlloc and HeapInuse, then HeapAlloc after a GC).
func TestHelperProcessLight(t *testing.T) {
	if os.Getenv("SIXD_HELPER_LIGHT") != "1" {
		t.Skip("helper process for BenchmarkIdleLightRSS")
	}
	seed, _ := hex.DecodeString(os.Getenv("SIXD_HELPER_SEED"))
	key, err := identity.FromSeed(seed)
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(2)
	}
	g, err := types.LoadGenesis(os.Getenv("SIXD_HELPER_GENESIS"))
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(2)
	}
	l, err := light.New(context.Background(), key, g, light.Config{Gateways: []string{os.Getenv("SIXD_HELPER_GATEWAY")},
		DataDir: os.Getenv("SIXD_HELPER_DATA"), APIListen: "127.0.0.1:0", ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}})
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(2)
	}
	fmt.Printf("API %s\n", l.APIAddr())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGUSR1)
	for range sig {
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		fmt.Printf("HEAP %d %d\n", m.HeapAlloc, m.HeapInuse)
		runtime.GC()
		runtime.ReadMemStats(&m)
		fmt.Printf("HEAPGC %d\n", m.HeapAlloc)
	}
}

// BenchmarkIdleLightRSS measures a light node in a process of its own (the
// test binary running TestHelperProcessLight, with a pebble store): it
// catches up with a gateway serving a 10,000-block chain, which then seals
// an empty block a second, and idles 10 s more. Reports its resident
// memory (VmRSS) as rss_MB, split into rss_anon_MB (heap, stacks,
// pebble's caches) and rss_file_MB (the binary's pages), and its Go heap as heap_MB (HeapInuse) and
// live_heap_MB (HeapAlloc after a GC, asked for after the RSS is read);
// linux only.
//
//	go test -run '^$' -bench IdleLightRSS -benchtime 1x ./node/light/
func BenchmarkIdleLightRSS(b *testing.B) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		b.Skip("needs /proc")
	}
	const blocks = 10_000
	ds, g, key := buildChain(b, blocks)
	gw := startGateway(b, ds, g, key)
	dir := b.TempDir()
	genesisPath := filepath.Join(dir, "genesis.toml")
	if err := os.WriteFile(genesisPath, g.MarshalTOML(), 0o644); err != nil {
		b.Fatal(err)
	}
	var rssMB, anonMB, fileMB, heapMB, liveMB float64
	for b.Loop() {
		lk, _ := identity.Generate(nil)
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcessLight$", "-test.v=false")
		cmd.Env = append(os.Environ(), "SIXD_HELPER_LIGHT=1", "SIXD_HELPER_SEED="+hex.EncodeToString(lk.Seed()),
			"SIXD_HELPER_GENESIS="+genesisPath, "SIXD_HELPER_GATEWAY="+addrString(gw.AddrInfo()),
			"SIXD_HELPER_DATA="+filepath.Join(dir, "light-"+lk.Public().PeerID().String()))
		cmd.Stderr = os.Stderr
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			b.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		lines := make(chan string, 16)
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		next := func() string {
			select {
			case l := <-lines:
				return l
			case <-time.After(30 * time.Second):
				_ = cmd.Process.Kill()
				b.Fatal("light child silent")
			}
			return ""
		}
		l := next()
		if !strings.HasPrefix(l, "API ") {
			_ = cmd.Process.Kill()
			b.Fatalf("light child: %s", l)
		}
		api := "http://" + strings.TrimPrefix(l, "API ")
		deadline := time.Now().Add(2 * time.Minute)
		for {
			var st light.Status
			if resp, err := http.Get(api + "/v1/status"); err == nil {
				_ = json.NewDecoder(resp.Body).Decode(&st)
				resp.Body.Close()
			}
			if st.Finalized >= blocks-10 && st.HeadersMissing == 0 {
				break
			}
			if time.Now().After(deadline) {
				_ = cmd.Process.Kill()
				b.Fatalf("light child at %+v after 2 minutes", st)
			}
			time.Sleep(100 * time.Millisecond)
		}
		time.Sleep(10 * time.Second) // idle, following the head
		rssMB, anonMB, fileMB = readRSS(b, cmd.Process.Pid)
		_ = cmd.Process.Signal(syscall.SIGUSR1)
		for _, want := range []string{"HEAP ", "HEAPGC "} {
			l := next()
			f := strings.Fields(strings.TrimPrefix(l, want))
			if !strings.HasPrefix(l, want) || len(f) == 0 {
				b.Fatalf("light child: %q, want %q", l, want)
			}
			if want == "HEAP " {
				v, _ := strconv.ParseFloat(f[1], 64)
				heapMB = v / (1 << 20)
			} else {
				v, _ := strconv.ParseFloat(f[0], 64)
				liveMB = v / (1 << 20)
			}
		}
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
	b.ReportMetric(rssMB, "rss_MB")
	b.ReportMetric(anonMB, "rss_anon_MB")
	b.ReportMetric(fileMB, "rss_file_MB")
	b.ReportMetric(heapMB, "heap_MB")
	b.ReportMetric(liveMB, "live_heap_MB")
}

// readRSS reads a process's VmRSS, RssAnon and RssFile in MB.
func readRSS(b *testing.B, pid int) (rss, anon, file float64) {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseFloat(f[1], 64)
		switch f[0] {
		case "VmRSS:":
			rss = kb / 1024
		case "RssAnon:":
			anon = kb / 1024
		case "RssFile:":
			file = kb / 1024
		}
	}
	if rss == 0 {
		b.Fatal("no VmRSS")
	}
	return rss, anon, file
}
