// Package simulations is the swarm simulator behind `sixd sim run`: it
// runs many real sixdomain nodes (package node, unchanged) in one process
// over an in-process libp2p network, drives them with a scenario and
// measures gossip delivery, latency, bandwidth, blocks and finality.
//
//   - scenario.go: the TOML scenario format (version 1), its defaults and
//     validation; every error names its field.
//   - plan.go: NewPlan, a pure function of the scenario and its seed:
//     keys, topology, link latencies, workload times, churn, partitions
//     and adversaries. Plan.Dump and Plan.Hash make it comparable.
//   - runner.go: Run builds the network (internal/mocknet, go-libp2p's
//     mocknet with pipelined links), starts the nodes on a shared dilated
//     clock (package clock), applies the plan on schedule, checks that
//     the honest nodes agree, and fills a report.Run.
//   - trace.go: the GossipSub RawTracer each node gets through
//     node.WithPubSubOptions: first deliveries, duplicates, RPC bytes.
//   - adversary.go: spammers and silent peers, libp2p hosts running
//     GossipSub with sixdomain's router options but no node.
//   - report: turns a report.Run into summary.json, CSV, PNG plots and the
//     text summary.
//
// docs/SIMULATOR.md documents the scenario fields, the time-dilation model
// and its validity check, and the outputs.
//
// Imports: node, clock, identity, ledger, pubsub and go-libp2p; nothing
// imports it but cmd/sixd.
package simulations
