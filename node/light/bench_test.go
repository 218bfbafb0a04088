package light_test

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
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
	"github.com/sixdomain/sixdomain/configs"
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
// pebble's caches) and rss_file_MB (the binary's pages), and its Go heap
// as heap_MB (HeapInuse) and live_heap_MB (HeapAlloc after a GC, asked for
// after the RSS is read); linux only.
//
//	go test -run '^$' -bench IdleLightRSS -benchtime 1x ./node/light/
func BenchmarkIdleLightRSS(b *testing.B) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		b.Skip("needs /proc")
	}
	gw, g := benchGateway(b, 10_000)
	dir := b.TempDir()
	genesisPath := filepath.Join(dir, "genesis.toml")
	if err := os.WriteFile(genesisPath, g.MarshalTOML(), 0o644); err != nil {
		b.Fatal(err)
	}
	var m idleMemory
	for b.Loop() {
		lk, _ := identity.Generate(nil)
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcessLight$", "-test.v=false")
		cmd.Env = append(os.Environ(), "SIXD_HELPER_LIGHT=1", "SIXD_HELPER_SEED="+hex.EncodeToString(lk.Seed()),
			"SIXD_HELPER_GENESIS="+genesisPath, "SIXD_HELPER_GATEWAY="+addrString(gw.AddrInfo()),
			"SIXD_HELPER_DATA="+filepath.Join(dir, "light-"+lk.Public().PeerID().String()))
		m = measureIdle(b, cmd, false, regexp.MustCompile(`^API (\S+)$`), 10_000, true)
	}
	m.report(b)
}

// BenchmarkIdleLightBinaryRSS is BenchmarkIdleLightRSS for the light
// node's own binary, cmd/sixd-light (built here with the go command,
// CGO_ENABLED=0, stripped, as a device would run it), started on a home
// that sixd init --role light would write. It reports the resident memory
// only (the binary exposes no heap figures). LIGHT_BENCH_ENV adds
// environment variables to the child (GOGC=100 GOMEMLIMIT=off, say, to see
// the runtime's defaults instead of sixd-light's).
//
//	go test -run '^$' -bench IdleLightBinaryRSS -benchtime 1x ./node/light/
func BenchmarkIdleLightBinaryRSS(b *testing.B) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		b.Skip("needs /proc")
	}
	dir := b.TempDir()
	bin := filepath.Join(dir, "sixd-light")
	build := exec.Command("go", "build", "-ldflags=-s -w", "-o", bin, "github.com/sixdomain/sixdomain/cmd/sixd-light")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("building sixd-light: %v\n%s", err, out)
	}
	gw, g := benchGateway(b, 10_000)
	var m idleMemory
	for b.Loop() {
		home := filepath.Join(dir, fmt.Sprintf("home-%d", time.Now().UnixNano()))
		if err := os.MkdirAll(home, 0o700); err != nil {
			b.Fatal(err)
		}
		mdns := false
		cfg, err := configs.Render(configs.RoleLight, configs.RenderOptions{Listen: []string{"/ip4/127.0.0.1/tcp/0"},
			Bootstrap: []string{addrString(gw.AddrInfo())}, APIListen: "127.0.0.1:0", MDNS: &mdns})
		if err != nil {
			b.Fatal(err)
		}
		lk, _ := identity.Generate(nil)
		if err := errors.Join(os.WriteFile(filepath.Join(home, "config.toml"), cfg, 0o600),
			os.WriteFile(filepath.Join(home, "genesis.toml"), g.MarshalTOML(), 0o644),
			identity.SaveKeyFile(filepath.Join(home, "node.key"), lk)); err != nil {
			b.Fatal(err)
		}
		cmd := exec.Command(bin, "--home", home)
		cmd.Env = append(os.Environ(), strings.Fields(os.Getenv("LIGHT_BENCH_ENV"))...)
		m = measureIdle(b, cmd, true, regexp.MustCompile(`sixd-light running.* api=(\S+)`), 10_000, false)
	}
	m.report(b)
}

// benchGateway serves a chain of n blocks built in-process.
func benchGateway(b *testing.B, n int) (*node.Node, *types.Genesis) {
	ds, g, key := buildChain(b, n)
	return startGateway(b, ds, g, key), g
}

type idleMemory struct {
	rss, anon, file, heap, live float64
	heapKnown                   bool
}

func (m idleMemory) report(b *testing.B) {
	b.ReportMetric(m.rss, "rss_MB")
	b.ReportMetric(m.anon, "rss_anon_MB")
	b.ReportMetric(m.file, "rss_file_MB")
	if m.heapKnown {
		b.ReportMetric(m.heap, "heap_MB")
		b.ReportMetric(m.live, "live_heap_MB")
	}
}

// measureIdle starts cmd, finds its API address in the first line (of
// stderr if fromStderr, else stdout) that apiRE matches, waits until it
// holds every header up to blocks-10, lets it idle 10 s and reads its
// memory; with heap it asks for the heap figures (SIGUSR1). It kills cmd.
func measureIdle(b *testing.B, cmd *exec.Cmd, fromStderr bool, apiRE *regexp.Regexp, blocks uint64, heap bool) idleMemory {
	b.Helper()
	var pipe io.ReadCloser
	var err error
	if fromStderr {
		pipe, err = cmd.StderrPipe()
	} else {
		cmd.Stderr = os.Stderr
		pipe, err = cmd.StdoutPipe()
	}
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	lines := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default: // nobody listens: drop
			}
		}
	}()
	next := func() string {
		select {
		case l := <-lines:
			return l
		case <-time.After(30 * time.Second):
			b.Fatal("light child silent")
		}
		return ""
	}
	var api string
	for api == "" {
		if m := apiRE.FindStringSubmatch(next()); m != nil {
			api = "http://" + m[1]
		}
	}
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
			b.Fatalf("light child at %+v after 2 minutes", st)
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(10 * time.Second) // idle, following the head
	var m idleMemory
	m.rss, m.anon, m.file = readRSS(b, cmd.Process.Pid)
	if !heap {
		return m
	}
	m.heapKnown = true
	_ = cmd.Process.Signal(syscall.SIGUSR1)
	for _, want := range []string{"HEAP ", "HEAPGC "} {
		var l string
		for l = next(); !strings.HasPrefix(l, want); l = next() {
		}
		f := strings.Fields(strings.TrimPrefix(l, want))
		if want == "HEAP " && len(f) == 2 {
			v, _ := strconv.ParseFloat(f[1], 64)
			m.heap = v / (1 << 20)
		} else if len(f) == 1 {
			v, _ := strconv.ParseFloat(f[0], 64)
			m.live = v / (1 << 20)
		}
	}
	return m
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
