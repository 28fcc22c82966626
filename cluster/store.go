package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.etcd.io/bbolt"

	"github.com/talon-mfc/talon/queue"
)

// Sentinel errors keep their identity through every layer (errors.Is).
var (
	// ErrNotLeader: this node cannot commit writes (it is not the leader).
	ErrNotLeader = errors.New("cluster: not the leader")
	// ErrNoLeader: the cluster has no leader within the wait.
	ErrNoLeader = errors.New("cluster: no leader")
	// ErrUnknownOutcome: leadership was lost (or the wait ran out) after the
	// command was sent to the log; it may or may not commit. A retry with the
	// same idempotency key (queue.Command.Key) is safe.
	ErrUnknownOutcome = errors.New("cluster: leadership lost, outcome unknown")
)

// Config configures a node.
type Config struct {
	ID        string       // node id, stable across restarts
	Dir       string       // data folder: raft.db and snapshots
	RaftAddr  string       // host:port the Raft transport listens on
	Bootstrap bool         // start a new single-voter cluster if Dir holds none
	Policy    queue.Policy // calling policy and wait estimate
	Logger    *slog.Logger

	MaxBatch    int           // commands per log entry (default 512)
	MaxInflight int           // log entries in flight before commands queue up and batch (default 4)
	TickEvery   time.Duration // how often the leader checks for time-driven work (default 1s)
}

// Store is one talon node: raft, the state machine and the proposer.
type Store struct {
	cfg       Config
	raft      *raft.Raft
	fsm       *fsm
	hub       *Hub
	bolt      *raftboltdb.BoltStore
	trans     *raft.NetworkTransport
	proposals chan *proposal
	ready     atomic.Bool
	stop      chan struct{}
	done      chan struct{}
}

type proposal struct {
	cmd   []byte
	reply chan reply
}

type reply struct {
	res queue.Result
	err error
}

// Open starts a node.
func Open(cfg Config) (*Store, error) {
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 512
	}
	if cfg.MaxInflight <= 0 {
		cfg.MaxInflight = 4
	}
	if cfg.TickEvery <= 0 {
		cfg.TickEvery = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if err := os.MkdirAll(cfg.Dir, 0o750); err != nil {
		return nil, err
	}
	s := &Store{cfg: cfg, hub: NewHub(8192), proposals: make(chan *proposal, 4096), stop: make(chan struct{}), done: make(chan struct{})}
	s.fsm = newFSM(cfg.Policy, s.hub)

	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.ID)
	rc.BatchApplyCh = true
	rc.MaxAppendEntries = 512
	rc.SnapshotThreshold = 16384
	rc.TrailingLogs = 10240
	rc.NoLegacyTelemetry = true
	rc.Logger = hclog.New(&hclog.LoggerOptions{Name: "raft", Level: hclog.Warn, Output: os.Stderr})

	var err error
	s.bolt, err = raftboltdb.New(raftboltdb.Options{
		Path:        filepath.Join(cfg.Dir, "raft.db"),
		BoltOptions: &bbolt.Options{Timeout: 2 * time.Second, NoFreelistSync: true, FreelistType: bbolt.FreelistMapType},
	})
	if err != nil {
		return nil, fmt.Errorf("open raft.db: %w", err)
	}
	logs, err := raft.NewLogCache(1024, s.bolt)
	if err != nil {
		return nil, err
	}
	snaps, err := raft.NewFileSnapshotStore(cfg.Dir, 2, io.Discard)
	if err != nil {
		return nil, err
	}
	addr, err := net.ResolveTCPAddr("tcp", cfg.RaftAddr)
	if err != nil {
		return nil, fmt.Errorf("raft address %q: %w", cfg.RaftAddr, err)
	}
	s.trans, err = raft.NewTCPTransport(cfg.RaftAddr, addr, 3, 10*time.Second, io.Discard)
	if err != nil {
		s.bolt.Close()
		return nil, fmt.Errorf("raft transport: %w", err)
	}
	if cfg.Bootstrap {
		has, err := raft.HasExistingState(logs, s.bolt, snaps)
		if err != nil {
			return nil, err
		}
		if !has {
			boot := raft.Configuration{Servers: []raft.Server{{ID: rc.LocalID, Address: s.trans.LocalAddr()}}}
			if err := raft.BootstrapCluster(rc, logs, s.bolt, snaps, s.trans, boot); err != nil {
				return nil, fmt.Errorf("bootstrap: %w", err)
			}
		}
	}
	s.raft, err = raft.NewRaft(rc, s.fsm, logs, s.bolt, snaps, s.trans)
	if err != nil {
		s.trans.Close()
		s.bolt.Close()
		return nil, err
	}
	go s.propose()
	go s.lead()
	return s, nil
}

// Apply commits one command through the log and returns its result. Domain
// rejections come back in Result.Err; err is a cluster failure.
func (s *Store) Apply(ctx context.Context, c queue.Command) (queue.Result, error) {
	if s.raft.State() != raft.Leader {
		if addr, _ := s.raft.LeaderWithID(); addr == "" {
			return queue.Result{}, ErrNoLeader
		}
		return queue.Result{}, ErrNotLeader
	}
	b, err := encodeCommand(nil, &c)
	if err != nil {
		return queue.Result{}, err
	}
	p := &proposal{cmd: b, reply: make(chan reply, 1)}
	select {
	case s.proposals <- p:
	case <-ctx.Done():
		return queue.Result{}, ErrNoLeader
	case <-s.stop:
		return queue.Result{}, ErrNotLeader
	}
	select {
	case r := <-p.reply:
		return r.res, r.err
	case <-ctx.Done():
		return queue.Result{}, ErrUnknownOutcome
	case <-s.stop:
		return queue.Result{}, ErrUnknownOutcome
	}
}

// propose packs waiting commands into log entries. At most MaxInflight
// entries are in flight; while they commit, new commands queue up and go
// out together in the next entry, so one fsync covers many commands.
func (s *Store) propose() {
	inflight := make(chan struct{}, s.cfg.MaxInflight)
	var last int64
	for {
		var batch []*proposal
		select {
		case p := <-s.proposals:
			batch = append(batch, p)
		case <-s.stop:
			return
		}
		select {
		case inflight <- struct{}{}:
		case <-s.stop:
			return
		}
	drain:
		for len(batch) < s.cfg.MaxBatch {
			select {
			case p := <-s.proposals:
				batch = append(batch, p)
			default:
				break drain
			}
		}
		last = max(last+1, time.Now().UnixMilli())
		cmds := make([][]byte, len(batch))
		for i, p := range batch {
			cmds[i] = p.cmd
		}
		f := s.raft.Apply(encodeBatch(last, cmds), 10*time.Second)
		go func() {
			defer func() { <-inflight }()
			s.answer(f, batch)
		}()
	}
}

func (s *Store) answer(f raft.ApplyFuture, batch []*proposal) {
	if err := f.Error(); err != nil {
		switch {
		case errors.Is(err, raft.ErrNotLeader):
			err = ErrNotLeader
		case errors.Is(err, raft.ErrLeadershipLost), errors.Is(err, raft.ErrEnqueueTimeout), errors.Is(err, raft.ErrRaftShutdown):
			err = ErrUnknownOutcome
		}
		for _, p := range batch {
			p.reply <- reply{err: err}
		}
		return
	}
	res, ok := f.Response().([]queue.Result)
	for i, p := range batch {
		if !ok || len(res) != len(batch) {
			err, _ := f.Response().(error)
			p.reply <- reply{err: fmt.Errorf("cluster: entry not applied: %w", err)}
			continue
		}
		p.reply <- reply{res: res[i]}
	}
}

// lead runs while the process lives: on gaining leadership it waits until
// the whole log is applied (ready), then proposes a Tick whenever the state
// has time-driven work due.
func (s *Store) lead() {
	defer close(s.done)
	t := time.NewTicker(s.cfg.TickEvery)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case isLeader := <-s.raft.LeaderCh():
			s.ready.Store(false)
			// Ready once everything committed before this term is applied;
			// retry while still leader (a barrier can time out under load).
			for isLeader && s.raft.State() == raft.Leader {
				if err := s.raft.Barrier(10 * time.Second).Error(); err == nil {
					s.ready.Store(true)
					break
				}
				select {
				case <-s.stop:
					return
				case <-time.After(100 * time.Millisecond):
				}
			}
		case <-t.C:
			due := false
			s.fsm.read(func(st *queue.State) { due = st.Due(time.Now().Unix()) })
			if due && s.ready.Load() {
				if _, err := s.Apply(context.Background(), queue.Command{Kind: queue.KindTick}); err != nil {
					s.cfg.Logger.Warn("tick", "err", err)
				}
			}
		}
	}
}

// Read runs fn on the local state under a read lock. fn must not keep
// pointers into the state.
func (s *Store) Read(fn func(*queue.State)) { s.fsm.read(fn) }

// Events is the node's event hub.
func (s *Store) Events() *Hub { return s.hub }

// Halted is closed when the node stopped applying the log.
func (s *Store) Halted() <-chan struct{} { return s.fsm.haltCh }

// Ready reports whether this node can serve writes: it leads and has applied
// the whole log, and it has not halted.
func (s *Store) Ready() bool {
	select {
	case <-s.fsm.haltCh:
		return false
	default:
	}
	return s.ready.Load() && s.raft.State() == raft.Leader
}

// Status is what /api/v1/cluster and talonctl show.
type Status struct {
	ID           string `json:"id"`
	State        string `json:"state"`
	Leader       string `json:"leader"`
	LeaderAddr   string `json:"leader_addr"`
	Term         uint64 `json:"term"`
	CommitIndex  uint64 `json:"commit_index"`
	AppliedIndex uint64 `json:"applied_index"`
	LastIndex    uint64 `json:"last_index"`
	Ready        bool   `json:"ready"`
	Halted       string `json:"halted,omitempty"`
}

// Status returns the node's Raft status.
func (s *Store) Status() Status {
	stats := s.raft.Stats()
	num := func(k string) uint64 { v, _ := strconv.ParseUint(stats[k], 10, 64); return v }
	addr, id := s.raft.LeaderWithID()
	st := Status{
		ID: s.cfg.ID, State: s.raft.State().String(), Leader: string(id), LeaderAddr: string(addr),
		Term: num("term"), CommitIndex: num("commit_index"), AppliedIndex: s.raft.AppliedIndex(),
		LastIndex: s.raft.LastIndex(), Ready: s.Ready(),
	}
	s.fsm.read(func(*queue.State) {
		if s.fsm.halted != nil {
			st.Halted = s.fsm.halted.Error()
		}
	})
	return st
}

// Close stops the node. Committed state is on disk; nothing is lost.
func (s *Store) Close() error {
	close(s.stop)
	<-s.done
	err := s.raft.Shutdown().Error()
	s.trans.Close()
	return errors.Join(err, s.bolt.Close())
}
