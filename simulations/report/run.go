package report

import "time"

// Never is the conventional value of a time field that was never reached
// (for example Message.FirstSeen of a node that never saw the message).
// Any negative duration is treated the same way.
const Never time.Duration = -1

// Run is everything one simulation measured. It is plain data: the
// simulation driver fills it in and hands it to Summarize or Write.
type Run struct {
	Scenario    string         `json:"scenario"`
	Seed        int64          `json:"seed"`
	Nodes       int            `json:"nodes"`           // total nodes started
	Roles       map[string]int `json:"roles"`           // role -> count
	SimDuration time.Duration  `json:"sim_duration_ns"` // simulated time covered
	WallTime    time.Duration  `json:"wall_time_ns"`
	TimeScale   float64        `json:"time_scale"` // wall seconds per simulated second the run was configured with

	// Messages holds one entry per gossiped transaction the workload
	// published.
	Messages []Message
	// Blocks holds every block sealed during the run, in any order.
	Blocks []Block
	// Peers holds one entry per node; the index is the node index.
	Peers []PeerStats

	// Forks counts competing blocks observed at an already-sealed height,
	// Reorgs counts chain reorganisations observed by any node.
	Forks, Reorgs int

	// PeakHeapBytes and PeakRSSBytes are process-wide peaks (all nodes
	// share one process).
	PeakHeapBytes, PeakRSSBytes uint64
	// CPUSeconds is the process CPU time (user+system) spent by the run.
	CPUSeconds float64

	// MeshDegree is the GossipSub D parameter.
	MeshDegree int
	// LinkLatency is the mean one-way link latency of the scenario.
	LinkLatency time.Duration

	// Samples is a time series, e.g. one sample per simulated second.
	Samples []Sample
	// Notes holds free-form lines (faults applied etc.); they are copied
	// to the summary verbatim.
	Notes []string
}

// Message describes one gossiped transaction.
type Message struct {
	// ID is the hex transaction hash.
	ID string
	// Origin is the index of the node that published the message.
	Origin int
	// Published is when the message was published, since sim start.
	Published time.Duration
	// FirstSeen holds, per node index, when that node first saw the
	// message (since sim start); a negative value means never. Its length
	// is Run.Nodes, or it is nil if delivery was not tracked for this
	// message. The report only reads it; it is never copied.
	FirstSeen []time.Duration
	// Expected optionally marks which nodes were expected to receive the
	// message (alive, honest, connected). nil means all nodes; an index
	// beyond its length counts as expected.
	Expected []bool
	// Duplicates counts duplicate deliveries across all nodes.
	Duplicates int
	// Bytes is the message size.
	Bytes int
}

// Block describes one sealed block.
type Block struct {
	Height   uint64
	Hash     string
	Proposer int
	// Sealed is when the proposer sealed the block, since sim start.
	Sealed time.Duration
	// ReachedAll is when the last expected node had the block; negative
	// if never.
	ReachedAll time.Duration
	// Final is when the block became final at the proposer (or at the
	// first node); negative if never.
	Final time.Duration
	// Txs is the number of transactions in the block.
	Txs int
}

// PeerStats is the per-node traffic and status at the end of the run.
type PeerStats struct {
	Role                 string
	BytesSent, BytesRecv uint64
	MsgsRecv, DupsRecv   uint64
	Alive                bool
	// Adversary names the adversarial behaviour of the node; empty for
	// honest nodes.
	Adversary string
}

// Sample is one point of the run's time series.
type Sample struct {
	// T is the simulated time of the sample since sim start.
	T time.Duration
	// Delivered is the cumulative number of (message, receiving node)
	// first deliveries so far; Published is the cumulative number of
	// messages published so far.
	Delivered, Published int
	// Height is the highest sealed block height, Finalized the highest
	// final height.
	Height    uint64
	Finalized uint64
	// HeapBytes is the process heap in use; Goroutines the goroutine count.
	HeapBytes  uint64
	Goroutines int
}
