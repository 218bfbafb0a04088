// Package mocknet is go-libp2p v0.52.0's p2p/net/mock (MIT licence,
// LICENSE), copied with one change for the swarm simulator: a stream
// delivers each write at its own arrival time (write time + link latency
// + rate-limit delay) while later writes are already in flight, as a real
// network pipelines them. Upstream takes the next write only after the
// previous one arrived, so a link carries one write per latency, and it
// holds writes under 256 bytes until a later write's arrival time. With
// those, a link with 25 ms latency carries at most 40 GossipSub frames a
// second and queues bursts, which made measured propagation several times
// the latency bound. See mock_stream.go (deliverQueue, transport).
//
// A second addition models packet loss on a reliable transport: with
// LinkOptions.Loss, each transmission of a write is lost with that
// probability and sent again after LinkOptions.RTO (mock_link.go,
// LossDelay). A stream delivers its writes in order, so a retransmitted
// write holds back the writes behind it, as on one QUIC stream or a TCP
// connection.
package mocknet
