package cluster

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"runtime/debug"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/raft"

	"github.com/talon-mfc/talon/cluster/node"
	"github.com/talon-mfc/talon/queue"
)

// fsm applies committed log entries to the region's queue.State. It
// implements raft.BatchingFSM: one lock for a whole batch of entries.
type fsm struct {
	policy queue.Policy
	hub    *node.Hub

	mu     sync.RWMutex
	state  *queue.State
	halted error
	haltCh chan struct{}

	// applied is the index of the last entry the state holds among those
	// the FSM sees (commands and configuration; Raft keeps no-op and barrier
	// entries to itself). advanced is closed and replaced when it moves.
	applied  atomic.Uint64
	nmu      sync.Mutex
	advanced chan struct{}

	// snapshots is the node's snapshot store: Restore takes the applied
	// index from the snapshot raft restores, which is the newest there.
	snapshots raft.SnapshotStore
	// archive is where Ticks' archived records go (archive.go); restored is
	// signalled after a snapshot is installed, for the archive to catch up.
	archive  archive
	restored chan struct{}
}

func newFSM(p queue.Policy, hub *node.Hub, dir string) *fsm {
	return &fsm{policy: p, hub: hub, state: queue.New(p), haltCh: make(chan struct{}), advanced: make(chan struct{}),
		archive: archive{dir: filepath.Join(dir, "archive")}, restored: make(chan struct{}, 1)}
}

// haltErr is why the node halted, or nil.
func (f *fsm) haltErr() error {
	select {
	case <-f.haltCh:
		f.mu.RLock()
		defer f.mu.RUnlock()
		return f.halted
	default:
		return nil
	}
}

// moved returns a channel closed when the applied index next moves.
func (f *fsm) moved() <-chan struct{} {
	f.nmu.Lock()
	defer f.nmu.Unlock()
	return f.advanced
}

func (f *fsm) notify() {
	f.nmu.Lock()
	close(f.advanced)
	f.advanced = make(chan struct{})
	f.nmu.Unlock()
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
			f.halted = fmt.Errorf("%w at log index %d: %v", node.ErrHalted, l.Index, err)
			close(f.haltCh)
			out[i] = f.halted
			continue
		}
		out[i] = res
	}
	if len(logs) > 0 {
		f.applied.Store(logs[len(logs)-1].Index)
	}
	events := f.state.TakeEvents()
	f.mu.Unlock()
	f.notify()
	f.hub.Publish(events)
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
		res[i] = f.state.Apply(decoded[i], stamp/1000, l.Index)
		if a := res[i].Archive; a != nil {
			if err := f.archive.write(a); err != nil {
				return nil, fmt.Errorf("archive: %w", err)
			}
			res[i].Archive = nil
		}
	}
	return res, nil
}

// read runs fn with the state under a read lock.
func (f *fsm) read(fn func(*queue.State)) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	fn(f.state)
}

// A snapshot (and a backup, which is the same bytes) is a magic string, the
// applied index of the state, then the state (queue.State.Save).
const snapshotMagic = "talon-snapshot-1\n"

// Snapshot implements raft.FSM. The state is encoded under the read lock,
// so the snapshot is consistent; writing it to disk happens outside.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	var buf snapshotBuffer
	if err := writeSnapshot(&buf, f.state, f.applied.Load()); err != nil {
		return nil, err
	}
	return &buf, nil
}

func writeSnapshot(w io.Writer, st *queue.State, applied uint64) error {
	if _, err := w.Write(binary.BigEndian.AppendUint64([]byte(snapshotMagic), applied)); err != nil {
		return err
	}
	return st.Save(w)
}

// readSnapshot decodes a snapshot or backup.
func readSnapshot(r io.Reader, p queue.Policy) (*queue.State, uint64, error) {
	head := make([]byte, len(snapshotMagic)+8)
	if _, err := io.ReadFull(r, head); err != nil || string(head[:len(snapshotMagic)]) != snapshotMagic {
		return nil, 0, errors.New("not a talon snapshot")
	}
	s, err := queue.Load(r, p)
	if err != nil {
		return nil, 0, err
	}
	return s, binary.BigEndian.Uint64(head[len(snapshotMagic):]), nil
}

// Restore implements raft.FSM.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	s, applied, err := readSnapshot(bufio.NewReaderSize(rc, 1<<20), f.policy)
	if err != nil {
		return err
	}
	// A snapshot raft took holds the index it was taken at. A restored
	// backup holds the index of the history it came from, which may be
	// another cluster's: raft stored it under an index of its own, the
	// newest snapshot (raft restores the newest it can open; installed and
	// restored snapshots are written to the store first). Reads compare the
	// applied index with this log's indexes, so it must be this log's.
	if f.snapshots != nil {
		if metas, err := f.snapshots.List(); err == nil && len(metas) > 0 {
			applied = metas[0].Index
		}
	}
	f.mu.Lock()
	f.state = s
	f.applied.Store(applied)
	f.mu.Unlock()
	f.notify()
	f.hub.Reset(s.EventSeq)
	select {
	case f.restored <- struct{}{}:
	default:
	}
	// Decoding left about as much garbage as the state itself: hand it back
	// to the system now instead of holding the peak until the heap grows into it.
	debug.FreeOSMemory()
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
