package cluster

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"time"

	"github.com/hashicorp/raft"

	"github.com/talon-mfc/talon/cluster/node"
	"github.com/talon-mfc/talon/queue"
)

// Backup writes a consistent snapshot of the region to w: it first catches
// this node up to every write acknowledged before the call, so the backup
// holds them all. It returns the applied index the backup was taken at.
func (s *Store) Backup(ctx context.Context, w io.Writer) (uint64, error) {
	if err := s.Linearize(ctx); err != nil {
		return 0, err
	}
	snap, err := s.fsm.Snapshot()
	if err != nil {
		return 0, err
	}
	b := snap.(*snapshotBuffer).b
	if _, err := w.Write(b); err != nil {
		return 0, err
	}
	_, idx, err := readSnapshot(bytes.NewReader(b), s.cfg.Policy)
	return idx, err
}

// EncodeBackup writes a region's state built outside a cluster (a
// migration, a benchmark's data set) as a backup that Restore takes.
func EncodeBackup(w io.Writer, st *queue.State) error { return writeSnapshot(w, st, st.Index) }

// Restore replaces the whole region's state with a backup, on every node
// (the leader installs it and sends it to the followers as a snapshot).
// Everything written since the backup is gone: this is for disaster
// recovery, or to move a region to a new cluster. A file that is not a
// backup changes nothing.
func (s *Store) Restore(ctx context.Context, data []byte) error {
	if _, _, err := readSnapshot(bytes.NewReader(data), s.cfg.Policy); err != nil {
		return fmt.Errorf("%w: %v", node.ErrBadBackup, err)
	}
	return s.onLeader(ctx, func() error { return s.restoreLocal(data) }, func(leader string) error {
		return s.peers.call(ctx, leader, "Restore", data, &struct{}{})
	})
}

func (s *Store) restoreLocal(data []byte) error {
	if s.raft.State() != raft.Leader {
		return node.ErrNotLeader
	}
	if _, _, err := readSnapshot(bytes.NewReader(data), s.cfg.Policy); err != nil {
		return fmt.Errorf("%w: %v", node.ErrBadBackup, err)
	}
	meta := &raft.SnapshotMeta{Version: raft.SnapshotVersionMax, Size: int64(len(data))}
	if err := s.raft.Restore(meta, bytes.NewReader(data), time.Minute); err != nil {
		return leaderErr(err)
	}
	// An entry the state sees, after the restored snapshot: read indexes and
	// waits then point past it.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _, err := s.Apply(ctx, newTick())
	return err
}
