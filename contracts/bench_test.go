//go:build unix

package contracts_test

import (
	"syscall"
	"testing"
	"time"

	"github.com/sixdomain/sixdomain/contracts"
	"github.com/sixdomain/sixdomain/contracts/contractstest"
	"github.com/sixdomain/sixdomain/contracts/examples"
)

// BenchmarkCounterCall is inc() on the counter example through the engine
// with an in-memory host: a storage read, a write and an event per call.
func BenchmarkCounterCall(b *testing.B) {
	p := mustCheck(b, string(examples.Counter))
	h := newHost()
	if res, err := contracts.Init(p, h, args(b, 0), 1_000_000); err != nil || res.Err != nil {
		b.Fatal(err, res.Err)
	}
	var gas uint64
	b.ReportAllocs()
	b.ResetTimer()
	start := cpuTime(b)
	for range b.N {
		h.Events = h.Events[:0]
		res, err := contracts.Call(p, h, "inc", nil, 1_000_000)
		if err != nil || res.Err != nil {
			b.Fatal(err, res.Err)
		}
		gas = res.GasUsed
	}
	reportRate(b, gas, cpuTime(b)-start)
}

// BenchmarkPayPerReading is claim(user, [h]) on the pay-per-reading example:
// a DID lookup, a record lookup, four storage accesses, a transfer and an
// event per call, each for a new reading.
func BenchmarkPayPerReading(b *testing.B) {
	p, h := payHost(b)
	for height := uint64(1); height <= uint64(b.N)+1; height++ {
		h.Records[contractstest.Record{Stream: "temp", Sender: "did:six:dev1", Height: height}] = true
	}
	deposit := uint64(3 * (b.N + 1))
	h.Who.Paid = []contracts.Coin{{Denom: "credit", Amount: deposit}}
	h.SetBalance("credit", h.Self, deposit)
	if res, err := contracts.Call(p, h, "deposit", nil, 1_000_000); err != nil || res.Err != nil {
		b.Fatal(err, res.Err)
	}
	h.Who.Paid = nil
	claims := make([][]byte, b.N)
	for i := range claims {
		claims[i] = args(b, "did:six:alice", []any{i + 1})
	}
	var gas uint64
	b.ReportAllocs()
	b.ResetTimer()
	start := cpuTime(b)
	for i := range b.N {
		h.Events = h.Events[:0]
		res, err := contracts.Call(p, h, "claim", claims[i], 1_000_000)
		if err != nil || res.Err != nil {
			b.Fatal(err, res.Err)
		}
		gas = res.GasUsed
	}
	reportRate(b, gas, cpuTime(b)-start)
}

// cpuTime is the CPU time of the whole process (user + system): on a
// shared machine it tracks the work done, where wall time tracks the load.
// It includes the garbage collector's work on other threads.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportRate reports calls per second of wall time, the CPU time per call
// and the gas of one call per microsecond of that CPU time.
func reportRate(b *testing.B, gas uint64, cpu time.Duration) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(gas), "gas/call")
	b.ReportMetric(float64(gas)/(float64(cpu.Nanoseconds())/float64(b.N)/1000), "gas/µs")
}

// calibration contracts: each stresses one kind of charge.
const calibrationCode = `EXPORTS = ["steps", "arith", "bigint", "strings", "dicts", "lists", "compare", "sorting", "alloc", "grow", "storage", "methods"]

def steps(n):
    x = 0
    for i in range(n):
        x = i
        y = x
    return x

def arith(n):
    x = 0
    for i in range(n):
        x = (x + i * 7) % 1000003
    return x

def bigint(n):
    x = 1
    for i in range(n):
        x = (x * 340282366920938463463374607431768211507 + i) % 115792089237316195423570985008687907853269984665640564039457584007913129639747
    return x % 1000

def strings(n):
    s = ""
    for i in range(n):
        s = s + "ab"
        if len(s) > 4096:
            s = s[2048:]
    return len(s)

def dicts(n):
    d = {}
    for i in range(n):
        d["key" + str(i % 512)] = i
    return len(d)

def lists(n):
    l = []
    for i in range(n):
        l.append(i)
    return len(l[1:][::2])

def compare(n):
    a = list(range(1000))
    b = list(range(1000))
    c = 0
    for i in range(n // 100):
        if a == b:
            c += 1
    return c

def sorting(n):
    a = [(i * 7919) % 10007 for i in range(n)]
    return sorted(a)[0]

def alloc(n):
    t = 0
    for i in range(n // 1000):
        t += len("x" * 100000) + len(list(range(1000))) + len([0] * 1000)
    return t

def grow(n):
    t = 0
    for i in range(n // 200):
        l = [0, 1]
        for j in range(12):
            l += l
        t += len(l)
    return t

def storage(n):
    for i in range(n // 20):
        storage_set("k" + str(i % 64), "v" * 100)
        storage_get("k" + str(i % 64))
    return 0

def methods(n):
    s = "the quick brown fox jumps over the lazy dog " * 20
    t = 0
    for i in range(n // 20):
        t += len(s.split(" ")) + len(s.replace("o", "00")) + s.count("the") + len(",".join(["a", "b", "c"]))
    return t
`

// BenchmarkCalibrate reports gas per microsecond of CPU for workloads that
// each stress one kind of charge. The gas table (gas.go) is set so that
// every workload lands near 1,000 gas/µs (one gas ≈ one nanosecond) on the
// reference machine, and none far above it: a workload far above would let
// a contract take more time than its gas says.
func BenchmarkCalibrate(b *testing.B) {
	p := mustCheck(b, calibrationCode)
	for _, m := range p.Exports() {
		b.Run(m, func(b *testing.B) {
			h := newHost()
			a := args(b, 20_000)
			var gas uint64
			start := cpuTime(b)
			for range b.N {
				res, err := contracts.Call(p, h, m, a, 1_000_000_000)
				if err != nil || res.Err != nil {
					b.Fatal(err, res.Err)
				}
				gas += res.GasUsed
			}
			cpu := cpuTime(b) - start
			b.ReportMetric(float64(gas)/float64(cpu.Microseconds()), "gas/µs")
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
			b.ReportMetric(float64(gas)/float64(b.N), "gas/call")
		})
	}
}
