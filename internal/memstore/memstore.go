// Package memstore is a talon node without Raft: the real domain state
// behind a lock, for the tests of the layers above the cluster (the API,
// the screens, the metrics, notification delivery). A command goes through
// the same validation, encoding and decoding as on a real node, is stamped
// with the store's clock and applied at once; its events go out through a
// node.Hub. It is one node that always leads: replication, failover and
// read levels are the cluster package's, tested with real nodes.
package memstore

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/talon-mfc/talon/cluster/node"
	"github.com/talon-mfc/talon/queue"
)

// Store is an in-memory node.
type Store struct {
	policy queue.Policy
	hub    *node.Hub
	offset atomic.Int64 // nanoseconds added to the wall clock (AdvanceClock)

	mu       sync.RWMutex
	state    *queue.State
	archived []queue.Ticket // what Ticks took out of the live state
}

// New returns an empty node whose state uses policy p.
func New(p queue.Policy) *Store {
	return &Store{policy: p, hub: node.NewHub(8192), state: queue.New(p)}
}

// Apply validates, encodes, decodes and applies c, as a real node does.
func (s *Store) Apply(_ context.Context, c queue.Command) (queue.Result, uint64, error) {
	b, verr := queue.Encode(nil, c)
	if verr != nil {
		return queue.Result{Err: verr}, 0, nil
	}
	decoded, err := queue.Decode(c.Kind(), b)
	if err != nil {
		return queue.Result{}, 0, err
	}
	s.mu.Lock()
	index := s.state.Index + 1
	res := s.state.Apply(decoded, s.Now().Unix(), index)
	if res.Archive != nil {
		s.archived = append(s.archived, res.Archive.Tickets...)
		res.Archive = nil
	}
	events := s.state.TakeEvents()
	s.mu.Unlock()
	s.hub.Publish(events)
	return res, index, nil
}

// Read runs fn on the state under a read lock.
func (s *Store) Read(fn func(queue.Reader)) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	fn(s.state.Reader())
}

// Linearize returns at once: this node holds every write.
func (s *Store) Linearize(context.Context) error { return nil }

// WaitIndex returns at once for an index this node holds, and ErrLagging
// for one it never wrote.
func (s *Store) WaitIndex(_ context.Context, index uint64) error {
	if index > s.AppliedIndex() {
		return node.ErrLagging
	}
	return nil
}

// AppliedIndex is the index of the last command applied.
func (s *Store) AppliedIndex() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.state.Index
}

// Now is the wall clock plus what AdvanceClock added.
func (s *Store) Now() time.Time { return time.Now().Add(time.Duration(s.offset.Load())) }

// AdvanceClock moves the clock forward.
func (s *Store) AdvanceClock(d time.Duration) error {
	if d < 0 {
		return errors.New("memstore: the clock only moves forward")
	}
	s.offset.Add(int64(d))
	return nil
}

// Leads is always true: the node is its own leader.
func (s *Store) Leads() bool { return true }

// LastContact is 0: the node is its own leader.
func (s *Store) LastContact() time.Duration { return 0 }

// Status describes the one node.
func (s *Store) Status() node.Status {
	i := s.AppliedIndex()
	return node.Status{ID: "mem", State: "Leader", Leader: "mem", CommitIndex: i, AppliedIndex: i, LastIndex: i, Ready: true,
		TZData: queue.TZDataVersion()}
}

// Nodes is the one node.
func (s *Store) Nodes(context.Context) ([]node.Member, error) {
	st := s.Status()
	return []node.Member{{ID: st.ID, Suffrage: "Voter", Status: &st}}, nil
}

// errOneNode answers the membership changes a single in-memory node has none of.
var errOneNode = errors.New("memstore: a single in-memory node has no membership")

func (s *Store) Join(context.Context, string, string) error { return errOneNode }

// Remove knows no other node.
func (s *Store) Remove(_ context.Context, id string) error { return node.ErrUnknownNode }

func (s *Store) TransferLeadership(context.Context, string) error { return errOneNode }

// Backup writes the state (queue.State.Save).
func (s *Store) Backup(_ context.Context, w io.Writer) (uint64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.state.Index, s.state.Save(w)
}

// Restore replaces the state with one Backup wrote.
func (s *Store) Restore(_ context.Context, data []byte) error {
	st, err := queue.Load(bytes.NewReader(data), s.policy)
	if err != nil {
		return errors.Join(node.ErrBadBackup, err)
	}
	s.mu.Lock()
	s.state = st
	s.mu.Unlock()
	s.hub.Reset(st.EventSeq) // as a real node: a new epoch of events
	return nil
}

// Follow calls fn with every event after seq after, in order, until ctx
// ends or the node closes (node.Hub.Follow).
func (s *Store) Follow(ctx context.Context, after uint64, fn func(queue.Event), onGap func()) {
	s.hub.Follow(ctx, after, fn, onGap)
}

// Since returns the retained events after seq.
func (s *Store) Since(seq uint64) ([]queue.Event, bool) { return s.hub.Since(seq) }

// Close ends the followers.
func (s *Store) Close() { s.hub.Close() }

// Voters is 1: the store is a lone node.
func (s *Store) Voters() int { return 1 }

// ArchivedTickets are the tickets of office issued in [from, to) that Ticks
// took out of the live state.
func (s *Store) ArchivedTickets(office string, from, to int64) ([]queue.Ticket, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []queue.Ticket
	for _, t := range s.archived {
		if t.Office == office && t.IssuedAt >= from && t.IssuedAt < to {
			out = append(out, t)
		}
	}
	return out, nil
}
