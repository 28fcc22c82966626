// Package cluster is the wiring between talon's domain and hashicorp/raft:
// the binary command envelope, the batching FSM that applies committed
// entries to a queue.State, snapshots, the proposer that packs many commands
// into one log entry and stamps them with the leader's time, the leader's
// time-driven ticks, and the event hub that displays and metrics subscribe to.
//
// It knows nothing of slots, tickets or windows: it moves queue.Commands in
// and queue.Results and queue.Events out. Raft's log and stable store is
// raft-boltdb/v2 with fsync on (never NoSync): an acknowledged write is on
// disk on a majority before its client hears back.
package cluster
