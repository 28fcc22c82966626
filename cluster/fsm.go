package cluster

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/hashicorp/raft"

	"github.com/talon-mfc/talon/queue"
)

// ErrHalted means the node stopped applying the log because an entry could
// not be applied (see ErrUnknownCommand); it must be upgraded or repaired.
var ErrHalted = errors.New("cluster: node halted")

// fsm applies committed log entries to the region's queue.State. It
// implements raft.BatchingFSM: one lock for a whole batch of entries.
type fsm struct {
	policy queue.Policy
	hub    *Hub

	mu     sync.RWMutex
	state  *queue.State
	halted error
	haltCh chan struct{}
}

func newFSM(p queue.Policy, hub *Hub) *fsm {
	return &fsm{policy: p, hub: hub, state: queue.New(p), haltCh: make(chan struct{})}
}

var _ raft.BatchingFSM = (*fsm)(nil)

// Apply implements raft.FSM.
func (f *fsm) Apply(l *raft.Log) any { return f.ApplyBatch([]*raft.Log{l})[0] }

// ApplyBatch implements raft.BatchingFSM. Each command entry answers a
// []queue.Result, one per command in it, or an error.
func (f *fsm) ApplyBatch(logs []*raft.Log) []any {
	out := make([]any, len(logs))
	f.mu.Lock()
	for i, l := range logs {
		if l.Type != raft.LogCommand {
			continue
		}
		if f.halted != nil {
			out[i] = f.halted
			continue
		}
		res, err := f.applyEntry(l)
		if err != nil {
			f.halted = fmt.Errorf("%w at log index %d: %v", ErrHalted, l.Index, err)
			close(f.haltCh)
			out[i] = f.halted
			continue
		}
		out[i] = res
	}
	events := f.state.TakeEvents()
	f.mu.Unlock()
	f.hub.publish(events)
	return out
}

func (f *fsm) applyEntry(l *raft.Log) ([]queue.Result, error) {
	stamp, cmds, err := decodeBatch(l.Data)
	if err != nil {
		return nil, err
	}
	// Decode the whole entry before applying any of it, so a bad entry
	// halts the node without a half-applied batch.
	decoded := make([]queue.Command, len(cmds))
	skip := make([]bool, len(cmds))
	for i, raw := range cmds {
		if decoded[i], skip[i], err = decodeCommand(raw); err != nil {
			return nil, err
		}
	}
	res := make([]queue.Result, len(cmds))
	for i := range decoded {
		if skip[i] {
			res[i] = queue.Result{Err: &queue.Error{Code: queue.CodeUnknownCommand, Message: "skipped by this version"}}
			continue
		}
		res[i] = f.state.Apply(&decoded[i], stamp/1000, l.Index)
	}
	return res, nil
}

// read runs fn with the state under a read lock.
func (f *fsm) read(fn func(*queue.State)) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	fn(f.state)
}

// Snapshot implements raft.FSM. The state is encoded under the read lock,
// so the snapshot is consistent; writing it to disk happens outside.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	var buf snapshotBuffer
	if err := f.state.Save(&buf); err != nil {
		return nil, err
	}
	return &buf, nil
}

// Restore implements raft.FSM.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	s, err := queue.Load(bufio.NewReaderSize(rc, 1<<20), f.policy)
	if err != nil {
		return err
	}
	f.mu.Lock()
	f.state = s
	f.mu.Unlock()
	return nil
}

type snapshotBuffer struct{ b []byte }

func (s *snapshotBuffer) Write(p []byte) (int, error) { s.b = append(s.b, p...); return len(p), nil }

func (s *snapshotBuffer) Persist(sink raft.SnapshotSink) error {
	if _, err := sink.Write(s.b); err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s *snapshotBuffer) Release() {}
