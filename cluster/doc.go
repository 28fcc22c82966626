// Package cluster is the wiring between talon's domain and hashicorp/raft:
// the log entry envelope (a batch of commands under the leader's time
// stamp, each a type byte and a payload it does not read), the batching FSM
// that applies committed entries to a queue.State, snapshots and backups,
// the proposer that packs many commands into one log entry, forwarding from
// followers to the leader, read indexes, membership, and the leader's
// time-driven ticks.
//
// It knows nothing of slots, tickets or windows: commands arrive as
// queue.Commands, which the domain validates and encodes (queue.Encode)
// before they may enter the log, and leave as queue.Results and the
// queue.Events it publishes on a node.Hub. The layers above see a node
// through interfaces of their own and the errors of package node, never
// this package. Raft's log and stable store is raft-boltdb/v2 with fsync on
// (never NoSync): an acknowledged write is on disk on a majority before its
// client hears back.
package cluster
