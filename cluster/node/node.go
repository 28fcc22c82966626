// Package node is what a talon node says to the layers above it, without
// Raft: the errors of its write and read paths, its status, and the cluster's
// members as talonctl shows them. The API, the screens, the metrics and
// notification delivery import this package and define the small interfaces
// they need of a node; only cmd/talond wires the real one (cluster.Store) in.
//
// The errors keep their identity through every layer and across the
// node-to-node RPC (errors.Is). It must not import Raft, bbolt or the
// cluster package.
package node

import "errors"

var (
	// ErrNotLeader: this node cannot commit writes (it is not the leader).
	ErrNotLeader = errors.New("cluster: not the leader")
	// ErrNoLeader: the cluster has no leader within the wait.
	ErrNoLeader = errors.New("cluster: no leader")
	// ErrUnknownOutcome: leadership was lost (or the wait ran out) after the
	// command was sent to the log; it may or may not commit. A retry with the
	// same idempotency key is safe.
	ErrUnknownOutcome = errors.New("cluster: leadership lost, outcome unknown")
	// ErrLagging: this node did not catch up to the wanted index in time.
	ErrLagging = errors.New("cluster: this node has not caught up yet")
	// ErrHalted: the node stopped applying the log because an entry could not
	// be applied; it must be upgraded or repaired.
	ErrHalted = errors.New("cluster: node halted")
	// ErrUnknownNode: no server with that id is in the configuration.
	ErrUnknownNode = errors.New("cluster: no such node")
	// ErrBadBackup: the bytes given to Restore are not a talon backup.
	ErrBadBackup = errors.New("cluster: not a talon backup")
	// ErrNoDevClock: the clock of a node not started with a dev clock was
	// asked to move.
	ErrNoDevClock = errors.New("cluster: this node's clock cannot be moved (not a dev clock)")
)

// Status is a node's Raft status, as /api/v1/cluster and talonctl show it.
type Status struct {
	ID           string `json:"id"`
	Addr         string `json:"addr"`
	State        string `json:"state"`
	Leader       string `json:"leader"`
	LeaderAddr   string `json:"leader_addr"`
	Term         uint64 `json:"term"`
	CommitIndex  uint64 `json:"commit_index"`
	AppliedIndex uint64 `json:"applied_index"`
	LastIndex    uint64 `json:"last_index"`
	SnapshotIdx  uint64 `json:"snapshot_index"`
	LastContact  string `json:"last_contact,omitempty"`
	Ready        bool   `json:"ready"`
	NotReady     string `json:"not_ready,omitempty"` // why not: one of the NotReady codes
	Halted       string `json:"halted,omitempty"`
	TZData       string `json:"tzdata"` // the release of the time zone database the domain computes with
	// ClockOffset is this node's clock minus the cluster's in seconds (a
	// follower: against the leader's; the leader: against the quorum's);
	// null before it was measured.
	ClockOffset *float64 `json:"clock_offset_s"`
}

// Why a node is not ready (Status.NotReady).
const (
	NotReadyHalted     = "halted"            // it stopped applying the log
	NotReadyClock      = "clock_off"         // its clock is off the cluster's by more than the maximum, or not measured yet
	NotReadyNoLeader   = "no_leader"         // it has not heard from a leader lately
	NotReadyCatchingUp = "catching_up"       // it has not applied what the leader had committed when it last asked
	NotReadyNoRegion   = "region_not_loaded" // the region's configuration is not in its state yet
)

// Member is one server of the cluster's configuration.
type Member struct {
	ID       string  `json:"id"`
	Addr     string  `json:"addr"`
	Suffrage string  `json:"suffrage"` // Voter or Nonvoter
	Status   *Status `json:"status,omitempty"`
	Error    string  `json:"error,omitempty"` // why Status is missing
	Lag      uint64  `json:"lag"`             // entries behind the leader's commit index
}
