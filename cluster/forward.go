package cluster

import (
	"context"
	"errors"
	"fmt"
	"net/rpc"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"

	"github.com/talon-mfc/talon/cluster/node"
)

// A follower forwards its writes to the leader in batches, through one
// forwarder per leader address: each has its own in-flight limit, so RPCs
// hanging on a leader that is gone never hold up those to its successor.
// When the leader changes, the old leader's forwarder is given up at once:
// the writes it had not sent yet are sent to the new leader, those in
// flight are answered ErrUnknownOutcome (retry with the same idempotency
// key).

// forward is one write on its way to the leader at addr.
type forward struct {
	cmd   []byte
	reply chan forwarded
	state atomic.Int32 // pending, taken by the forwarder, or abandoned by the caller
}

const (
	pending int32 = iota
	taken
	abandoned
)

type forwarded struct {
	ForwardReply
	err error
}

// errNotSent: the write never left this node (its leader changed first);
// it is safe to send again.
var errNotSent = errors.New("cluster: not sent to the leader")

// forwarder sends the writes for one leader address.
type forwarder struct {
	addr   string
	queue  chan *forward
	ctx    context.Context // ends when addr is no longer the leader (or the store closes)
	cancel context.CancelFunc
}

// forwarders keeps the forwarder of the current leader.
type forwarders struct {
	mu  sync.Mutex
	all map[string]*forwarder
}

// to returns the forwarder for the leader at addr, starting it if need be.
func (s *Store) forwarderTo(addr string) *forwarder {
	s.fwd.mu.Lock()
	defer s.fwd.mu.Unlock()
	if f := s.fwd.all[addr]; f != nil {
		return f
	}
	ctx, cancel := context.WithCancel(context.Background())
	f := &forwarder{addr: addr, queue: make(chan *forward, 4096), ctx: ctx, cancel: cancel}
	s.fwd.all[addr] = f
	s.spawn(func() {
		batches(f.queue, ctx.Done(), s.spawn, s.cfg.MaxInflight, s.cfg.MaxBatch, nil,
			func(batch []*forward) func() { return func() { s.sendForwards(f, batch) } })
	})
	return f
}

// retarget gives up the forwarders of every address but the leader's.
func (s *Store) retarget(leader string) {
	s.fwd.mu.Lock()
	defer s.fwd.mu.Unlock()
	for addr, f := range s.fwd.all {
		if addr != leader {
			f.cancel()
			delete(s.fwd.all, addr)
		}
	}
}

// watchLeader gives up the forwarders of a leader that is gone as soon as
// Raft observes the change.
func (s *Store) watchLeader() {
	ch := make(chan raft.Observation, 16)
	obs := raft.NewObserver(ch, false, func(o *raft.Observation) bool {
		_, ok := o.Data.(raft.LeaderObservation)
		return ok
	})
	s.raft.RegisterObserver(obs)
	defer s.raft.DeregisterObserver(obs)
	for {
		select {
		case <-s.stop:
			s.retarget("")
			return
		case o := <-ch:
			s.retarget(string(o.Data.(raft.LeaderObservation).LeaderAddr))
		}
	}
}

// forwardTo sends one write to the leader at addr and waits for its answer.
func (s *Store) forwardTo(ctx context.Context, addr string, cmd []byte) (ForwardReply, error) {
	fw := s.forwarderTo(addr)
	f := &forward{cmd: cmd, reply: make(chan forwarded, 1)}
	select {
	case fw.queue <- f:
	case <-fw.ctx.Done():
		return ForwardReply{}, errNotSent
	case <-ctx.Done():
		return ForwardReply{}, node.ErrNoLeader // nothing was sent
	case <-s.stop:
		return ForwardReply{}, node.ErrNoLeader
	}
	gone := fw.ctx.Done()
	for {
		select {
		case r := <-f.reply:
			return r.ForwardReply, r.err
		case <-gone:
			if f.state.CompareAndSwap(pending, abandoned) {
				return ForwardReply{}, errNotSent
			}
			gone = nil // sent already: its batch answers (ErrUnknownOutcome, cut short)
		case <-ctx.Done():
			if f.state.CompareAndSwap(pending, abandoned) {
				return ForwardReply{}, node.ErrNoLeader
			}
			return ForwardReply{}, fmt.Errorf("%w: %v", node.ErrUnknownOutcome, ctx.Err())
		}
	}
}

// sendForwards sends a batch in one RPC, unless the forwarder was given up.
func (s *Store) sendForwards(fw *forwarder, batch []*forward) {
	var sent []*forward
	for _, f := range batch {
		if f.state.CompareAndSwap(pending, taken) {
			sent = append(sent, f)
		}
	}
	if len(sent) == 0 {
		return
	}
	args := ForwardBatch{Cmds: make([][]byte, len(sent))}
	for i, f := range sent {
		args.Cmds[i] = f.cmd
	}
	ctx, cancel := context.WithTimeout(fw.ctx, 10*time.Second)
	defer cancel()
	var r ForwardBatchReply
	err := s.peers.call(ctx, fw.addr, "ApplyMany", args, &r)
	switch {
	case err == nil && (len(r.Replies) != len(sent) || len(r.Errs) != len(sent)):
		err = fmt.Errorf("%w: %d answers to %d forwarded writes", node.ErrUnknownOutcome, len(r.Replies), len(sent))
	case errors.Is(err, errUnreachable):
		err = errNotSent
	case err != nil && !isRetryable(err) && !isCluster(err):
		err = fmt.Errorf("%w: %v", node.ErrUnknownOutcome, err) // sent, and no answer: it may have been applied
	}
	for i, f := range sent {
		switch {
		case err != nil:
			f.reply <- forwarded{err: err}
		case r.Errs[i] != "":
			f.reply <- forwarded{err: fromWire(rpc.ServerError(r.Errs[i]))}
		default:
			f.reply <- forwarded{ForwardReply: r.Replies[i]}
		}
	}
}
