package chaintest

import (
	"container/heap"
	"fmt"
	"strings"
	"time"
)

// event is one entry of the simulator's agenda. Events run in (at, seq)
// order: seq breaks ties in scheduling order, so equal times are
// deterministic too.
type event struct {
	at  time.Duration // virtual time since the cluster's start
	seq uint64
	fn  func()
}

type agenda []*event

func (q agenda) Len() int { return len(q) }
func (q agenda) Less(i, j int) bool {
	if q[i].at != q[j].at {
		return q[i].at < q[j].at
	}
	return q[i].seq < q[j].seq
}
func (q agenda) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *agenda) Push(x any)   { *q = append(*q, x.(*event)) }
func (q *agenda) Pop() any {
	old := *q
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	return e
}

// schedule runs fn at virtual time at (never earlier than now).
func (c *Cluster) schedule(at time.Duration, fn func()) {
	if at < c.now {
		at = c.now
	}
	c.seq++
	heap.Push(&c.agenda, &event{at: at, seq: c.seq, fn: fn})
}

// after runs fn d after now.
func (c *Cluster) after(d time.Duration, fn func()) { c.schedule(c.now+d, fn) }

// step runs the next event if it is due by until; it reports whether it
// ran one.
func (c *Cluster) step(until time.Duration) bool {
	if len(c.agenda) == 0 || c.agenda[0].at > until {
		return false
	}
	e := heap.Pop(&c.agenda).(*event)
	c.now = e.at
	c.events++
	c.mix(uint64(e.at), e.seq)
	e.fn()
	return true
}

// ---- trace: a running hash of what happened, and the log ring ----

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func (c *Cluster) mix(vs ...uint64) {
	for _, v := range vs {
		for i := 0; i < 8; i++ {
			c.trace ^= v & 0xff
			c.trace *= fnvPrime
			v >>= 8
		}
	}
}

func (c *Cluster) mixString(s string) {
	for i := 0; i < len(s); i++ {
		c.trace ^= uint64(s[i])
		c.trace *= fnvPrime
	}
}

// logf records a significant event (node < 0: the cluster itself) in the
// trace and the log ring, and passes it to Config.Verbose.
func (c *Cluster) logf(node int, format string, args ...any) {
	who := "--"
	if node >= 0 {
		who = fmt.Sprintf("n%d", node)
	}
	line := fmt.Sprintf("%8.3fs %s %s", c.now.Seconds(), who, fmt.Sprintf(format, args...))
	c.mixString(line)
	c.ring[c.ringNext%len(c.ring)] = line
	c.ringNext++
	if c.cfg.Verbose != nil {
		c.cfg.Verbose(line)
	}
}

// LogTail returns the last n lines of the event log, oldest first.
func (c *Cluster) LogTail(n int) []string {
	n = min(n, len(c.ring), c.ringNext)
	out := make([]string, 0, n)
	for i := c.ringNext - n; i < c.ringNext; i++ {
		out = append(out, c.ring[i%len(c.ring)])
	}
	return out
}

// Trace returns the hash of everything the run did so far: every event's
// time and sequence number and every log line. Two runs of one seed and
// configuration have the same trace.
func (c *Cluster) Trace() uint64 { return c.trace }

// violation wraps an invariant failure with the seed and the log tail.
type violation struct {
	seed uint64
	at   time.Duration
	msg  string
	tail []string
}

func (v *violation) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "seed %d, at %.3fs: %s\n", v.seed, v.at.Seconds(), v.msg)
	fmt.Fprintf(&b, "last %d events:\n", len(v.tail))
	for _, l := range v.tail {
		b.WriteString("  ")
		b.WriteString(l)
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, "reproduce with CONSENSUS_SEED=%d go test ./chain/chaintest -run TestSeed -v", v.seed)
	return b.String()
}

// errorf returns an invariant violation carrying the seed and log tail.
func (c *Cluster) errorf(format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	c.logf(-1, "VIOLATION: %s", msg)
	return &violation{seed: c.seed, at: c.now, msg: msg, tail: c.LogTail(c.cfg.LogTail)}
}

// fail records the first safety violation; Run stops at it.
func (c *Cluster) fail(format string, args ...any) {
	if c.err == nil {
		c.err = c.errorf(format, args...)
	}
}
