package cluster

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/rpc"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.etcd.io/bbolt"

	"github.com/talon-mfc/talon/cluster/node"
	"github.com/talon-mfc/talon/queue"
)

// Config configures a node.
type Config struct {
	ID        string       // node id, stable across restarts
	Dir       string       // data folder: raft.db and snapshots
	RaftAddr  string       // host:port the Raft and node-to-node RPC port listens on
	Advertise string       // host:port other nodes dial (default RaftAddr)
	Bootstrap bool         // start a new single-voter cluster if Dir holds none
	Policy    queue.Policy // calling policy and wait estimate
	Logger    *slog.Logger

	// BootstrapExpect: with no cluster yet, wait until this many nodes (this
	// one included) answer at the Join addresses, then form the cluster from
	// exactly them. Give every first node the same value and list.
	BootstrapExpect int
	// Join lists other nodes' RaftAddr. A node that is in no cluster asks
	// them to add it; the leader adds it as a non-voter and promotes it once
	// it has caught up.
	Join []string
	// Snapshots: a node snapshots its state every SnapshotInterval (default
	// 30 s) when SnapshotThreshold entries (default 16384) came since the
	// last one, keeping TrailingLogs entries (default 10240) for followers
	// that lag a little; one further behind catches up by snapshot.
	SnapshotThreshold uint64
	TrailingLogs      uint64
	SnapshotInterval  time.Duration
	// ObserveCommit, when set, hears how long each log entry this node
	// proposed took from proposal to applied, and how many commands it held.
	ObserveCommit func(d time.Duration, commands int)
	// DevClock lets AdvanceClock move this node's clock forward: for demos
	// and tests of a single node only, never for a real region (refused
	// while other voters are in the cluster).
	DevClock bool
	// MaxClockOffset is how far a node's clock may be from the cluster's
	// before it is not ready and does not lead (default 1 s; clock.go).
	MaxClockOffset time.Duration
	// ServerTLS and ClientTLS secure the Raft/RPC port with mutual TLS
	// (internal/pki); nil leaves it plain TCP, for a single-node demo only.
	ServerTLS, ClientTLS *tls.Config
	// IdleTimeout closes a connection of the Raft/RPC port silent that long
	// (default 5 minutes): peers gone without a word, or a client that
	// opened one and said nothing.
	IdleTimeout time.Duration
	// FaultClockOffset is added to this node's clock: fault injection for
	// tests only (Go reads the clock through the vDSO, which libfaketime
	// does not move).
	FaultClockOffset time.Duration
	// FaultLocalReads serves linearizable reads from this node's state
	// without asking the leader: a deliberate bug, so that a test can show
	// its linearizability check catches stale reads. Never in production.
	FaultLocalReads bool
	// LeaderWait bounds how long a write or linearizable read waits while
	// there is no leader (default 5 s).
	LeaderWait time.Duration

	MaxBatch    int           // commands per log entry (default 512)
	MaxInflight int           // log entries in flight before commands queue up and batch (default 4)
	TickEvery   time.Duration // how often the leader checks for time-driven work (default 1s)
}

// Store is one talon node: raft, the state machine and the proposer.
type Store struct {
	cfg       Config
	raft      *raft.Raft
	fsm       *fsm
	hub       *node.Hub
	bolt      *raftboltdb.BoltStore
	logs      raft.LogStore
	mux       *mux
	trans     *raft.NetworkTransport
	rpc       *rpc.Server
	peers     peers
	proposals chan *proposal
	fwd       forwarders               // a follower's writes on their way to the leader (forward.go)
	ready     atomic.Bool              // a leader: its barrier applied
	caughtUp  atomic.Pointer[caughtUp] // a follower: the leader's commit index, lately
	closeOnce sync.Once
	started   time.Time
	offset    atomic.Int64 // dev clock: nanoseconds added to the wall clock
	clock     clocks       // this node's clock against the cluster's (clock.go)
	stop      chan struct{}
	running   sync.WaitGroup // every goroutine the store starts; Close waits for them
}

// spawn runs fn on a goroutine the store owns: it ends when the store closes.
func (s *Store) spawn(fn func()) {
	s.running.Add(1)
	go func() {
		defer s.running.Done()
		fn()
	}()
}

type proposal struct {
	cmd   []byte
	reply chan reply
}

type reply struct {
	res   queue.Result
	index uint64
	err   error
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
	if cfg.LeaderWait <= 0 {
		cfg.LeaderWait = 5 * time.Second
	}
	if cfg.MaxClockOffset <= 0 {
		cfg.MaxClockOffset = time.Second
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 5 * time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if err := os.MkdirAll(cfg.Dir, 0o750); err != nil {
		return nil, err
	}
	s := &Store{cfg: cfg, started: time.Now(), hub: node.NewHub(8192), proposals: make(chan *proposal, 4096), stop: make(chan struct{})}
	s.fwd.all = map[string]*forwarder{}
	s.fsm = newFSM(cfg.Policy, s.hub, cfg.Dir)
	s.peers.clients = map[string]*rpc.Client{}
	s.peers.dial = func(addr string) (net.Conn, error) { return s.mux.dial(addr, connRPC, 2*time.Second) }
	s.rpc = rpc.NewServer()
	if err := s.rpc.RegisterName("Talon", service{s}); err != nil {
		return nil, err
	}

	rc := raftConfig(cfg.ID)
	if cfg.SnapshotThreshold > 0 {
		rc.SnapshotThreshold = cfg.SnapshotThreshold
	}
	if cfg.TrailingLogs > 0 {
		rc.TrailingLogs = cfg.TrailingLogs
	}
	if cfg.SnapshotInterval > 0 {
		rc.SnapshotInterval = cfg.SnapshotInterval
	}

	var err error
	var snaps raft.SnapshotStore
	if s.bolt, s.logs, snaps, err = openStores(cfg.Dir); err != nil {
		return nil, err
	}
	s.fsm.snapshots = snaps
	logs := s.logs
	if s.mux, err = listen(cfg.RaftAddr, cfg.Advertise, cfg.ServerTLS, cfg.ClientTLS, cfg.IdleTimeout); err != nil {
		s.bolt.Close()
		return nil, fmt.Errorf("raft address: %w", err)
	}
	s.trans = raft.NewNetworkTransport(s.mux, 3, 10*time.Second, io.Discard)
	if cfg.Bootstrap || cfg.BootstrapExpect == 1 {
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
	s.tuneTimeouts()
	s.spawn(func() { s.mux.serve(s.serveRPC) }) // RPCs use s.raft
	s.spawn(s.propose)
	s.spawn(s.watchLeader)
	s.spawn(s.askLeader)
	s.spawn(s.lead)
	s.spawn(s.keepArchive)
	if len(cfg.Join) > 0 {
		s.spawn(s.join)
	}
	return s, nil
}

// openStores opens the node's Raft log and stable store (bbolt, fsync on,
// no freelist sync, map freelist) and its snapshot store.
func openStores(dir string) (*raftboltdb.BoltStore, raft.LogStore, raft.SnapshotStore, error) {
	bolt, err := raftboltdb.New(raftboltdb.Options{
		Path:        filepath.Join(dir, "raft.db"),
		BoltOptions: &bbolt.Options{Timeout: 2 * time.Second, NoFreelistSync: true, FreelistType: bbolt.FreelistMapType},
	})
	if errors.Is(err, bbolt.ErrTimeout) {
		return nil, nil, nil, fmt.Errorf("the data folder %s is in use by another talond (its raft.db is locked): stop that one, or give this one another -data", dir)
	}
	if err != nil {
		return nil, nil, nil, fmt.Errorf("open raft.db: %w", err)
	}
	logs, err := raft.NewLogCache(1024, bolt)
	if err != nil {
		bolt.Close()
		return nil, nil, nil, err
	}
	snaps, err := raft.NewFileSnapshotStore(dir, 2, io.Discard)
	if err != nil {
		bolt.Close()
		return nil, nil, nil, err
	}
	return bolt, logs, snaps, nil
}

// raftConfig is the Raft configuration of a node.
func raftConfig(id string) *raft.Config {
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(id)
	rc.BatchApplyCh = true
	rc.MaxAppendEntries = 512
	// A follower learns that an entry committed only from the leader's next
	// AppendEntries, which an idle leader sends every CommitTimeout (default
	// 50 ms). Screens and read-your-writes on followers wait for exactly
	// that, so send it every 5 ms: a few hundred tiny RPCs a second.
	rc.CommitTimeout = 5 * time.Millisecond
	rc.SnapshotThreshold = 16384
	rc.SnapshotInterval = 30 * time.Second
	rc.TrailingLogs = 10240
	rc.NoLegacyTelemetry = true
	rc.Logger = hclog.New(&hclog.LoggerOptions{Name: "raft", Level: hclog.Warn, Output: os.Stderr})
	return rc
}

// loneTimeout is the heartbeat and election timeout of a lone voter (a
// single-node region, or the survivor of a disaster recovery): nobody can
// dispute its election, so it need not wait long. Lowering the timeout
// also wakes Raft's follower loop at once, so after a start a lone voter
// leads without waiting out Raft's default 1–2 s. 500 ms is the leader
// lease, the shortest Raft allows.
const loneTimeout = 500 * time.Millisecond

// tuneTimeouts gives a lone voter the short timeouts, and puts the default
// back once the cluster has other voters.
func (s *Store) tuneTimeouts() {
	f := s.raft.GetConfiguration()
	if f.Error() != nil {
		return
	}
	voters, self := 0, false
	for _, srv := range f.Configuration().Servers {
		if srv.Suffrage == raft.Voter {
			voters++
			self = self || srv.ID == raft.ServerID(s.cfg.ID)
		}
	}
	want := raftConfig(s.cfg.ID).HeartbeatTimeout
	if voters == 1 && self {
		want = loneTimeout
	}
	if rc := s.raft.ReloadableConfig(); rc.HeartbeatTimeout != want {
		rc.HeartbeatTimeout, rc.ElectionTimeout = want, want
		if err := s.raft.ReloadConfig(rc); err != nil {
			s.cfg.Logger.Warn("raft timeouts", "err", err)
		}
	}
}

// Recover is disaster recovery after a majority of the cluster is lost for
// good. Run it on one surviving node, stopped, before Open: it makes that
// node the only voter of a new configuration, keeping every entry in its
// log (entries that were not yet committed become committed). Start the node
// then, and join new nodes to it. Never run it while the old majority could
// come back.
func Recover(cfg Config) error {
	bolt, logs, snaps, err := openStores(cfg.Dir)
	if err != nil {
		return err
	}
	defer bolt.Close()
	addr := cfg.Advertise
	if addr == "" {
		addr = cfg.RaftAddr
	}
	_, trans := raft.NewInmemTransport(raft.ServerAddress(addr))
	conf := raft.Configuration{Servers: []raft.Server{{ID: raft.ServerID(cfg.ID), Address: raft.ServerAddress(addr)}}}
	return raft.RecoverCluster(raftConfig(cfg.ID), newFSM(cfg.Policy, node.NewHub(16), cfg.Dir), logs, bolt, snaps, trans, conf)
}

// Apply commits one command through the log and returns its result and the
// log index of the entry that carried it. A command the domain refuses to
// encode (queue.Validate) never reaches Raft: its error comes back in
// Result.Err, as do rejections while applying; err is a cluster failure.
// Any node takes writes: a follower forwards them to the leader and answers
// once its own state holds the write, so a read on this node after the
// answer sees it. While there is no leader it waits up to LeaderWait, then
// fails with node.ErrNoLeader.
func (s *Store) Apply(ctx context.Context, c queue.Command) (res queue.Result, index uint64, err error) {
	b, verr := encodeCommand(nil, c)
	if verr != nil {
		return queue.Result{Err: verr}, 0, nil
	}
	err = s.onLeader(ctx, func() (err error) {
		res, index, err = s.proposeLocal(ctx, b)
		return err
	}, func(addr string) error {
		r, err := s.forwardTo(ctx, addr, b)
		if err != nil {
			return err
		}
		res, index = r.Result, r.Index
		// Read-your-writes on this node; the write is committed either way.
		s.wait(ctx, ReadIndex{Commit: index, Visible: index})
		return nil
	})
	return res, index, err
}

func isRetryable(err error) bool {
	return errors.Is(err, node.ErrNotLeader) || errors.Is(err, node.ErrNoLeader) || errors.Is(err, errUnreachable) || errors.Is(err, errNotSent)
}

func isCluster(err error) bool {
	return errors.Is(err, node.ErrUnknownOutcome) || errors.Is(err, node.ErrHalted) || errors.Is(err, node.ErrLagging)
}

// onLeader runs local when this node leads and remote(leader's address)
// otherwise. While there is no leader, or the request did not reach one
// (local or remote answered node.ErrNotLeader, node.ErrNoLeader or errUnreachable),
// it retries for up to LeaderWait.
func (s *Store) onLeader(ctx context.Context, local func() error, remote func(addr string) error) error {
	deadline := time.NewTimer(s.cfg.LeaderWait)
	defer deadline.Stop()
	for {
		if s.fsm.haltErr() != nil {
			return s.fsm.haltErr()
		}
		var err error
		if s.raft.State() == raft.Leader {
			err = local()
		} else if addr, _ := s.raft.LeaderWithID(); addr != "" {
			err = remote(string(addr))
		} else {
			err = node.ErrNoLeader
		}
		if !isRetryable(err) {
			return err
		}
		select {
		case <-deadline.C:
			return node.ErrNoLeader
		case <-ctx.Done():
			return node.ErrNoLeader
		case <-s.stop:
			return node.ErrNoLeader
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// proposeLocal hands an encoded command to this node's proposer; it fails
// with node.ErrNotLeader (nothing was logged) unless this node leads.
func (s *Store) proposeLocal(ctx context.Context, cmd []byte) (queue.Result, uint64, error) {
	if s.raft.State() != raft.Leader || !s.ready.Load() || !s.clockOK() {
		return queue.Result{}, 0, node.ErrNotLeader // not yet, or its clock may not stamp
	}
	p := &proposal{cmd: cmd, reply: make(chan reply, 1)}
	select {
	case s.proposals <- p:
	case <-ctx.Done():
		return queue.Result{}, 0, node.ErrNoLeader
	case <-s.stop:
		return queue.Result{}, 0, node.ErrNotLeader
	}
	select {
	case r := <-p.reply:
		return r.res, r.index, r.err
	case <-ctx.Done():
		return queue.Result{}, 0, node.ErrUnknownOutcome
	case <-s.stop:
		return queue.Result{}, 0, node.ErrUnknownOutcome
	}
}

// Linearize waits until this node's state holds every write acknowledged
// anywhere in the cluster before the call (the read-index protocol: the
// leader confirms it still leads, and this node catches up to its commit
// index). A read after it is linearizable.
func (s *Store) Linearize(ctx context.Context) error {
	if s.cfg.FaultLocalReads {
		return nil
	}
	var ri ReadIndex
	err := s.onLeader(ctx, func() (err error) {
		ri, err = s.readIndex()
		return err
	}, func(addr string) error {
		err := s.peers.call(ctx, addr, "ReadIndex", struct{}{}, &ri)
		switch {
		case err != nil && ctx.Err() != nil:
			return fmt.Errorf("%w: the leader did not answer in time", node.ErrNoLeader)
		case err != nil && !isRetryable(err) && !isCluster(err):
			return fmt.Errorf("%w: %v", errUnreachable, err) // a read is safe to ask again
		}
		return err
	})
	if err != nil {
		return err
	}
	return s.wait(ctx, ri)
}

// readIndex, on the leader: the commit index, confirmed by a majority still
// in this node's term when asked after it was taken (confirmTerm), and the
// last entry at or below it that the state sees.
//
// Not hashicorp/raft's VerifyLeader: it counts the answer to any heartbeat
// or append that comes back after the check began, also one sent before it.
// A leader paused (SIGSTOP, a VM stall) while a heartbeat was on its way
// finds its followers' old "yes" waiting when it resumes, and it passed the
// check while another leader had committed writes since. The fault test
// caught it serving such a read (TestFaultsLinearizable with -faults.long:
// a client's own ticket missing from the queue it read after).
func (s *Store) readIndex() (ReadIndex, error) {
	if s.raft.State() != raft.Leader {
		return ReadIndex{}, node.ErrNotLeader
	}
	if !s.ready.Load() {
		return ReadIndex{}, node.ErrNoLeader // a new leader's commit index is current only once its barrier applied
	}
	term := s.raft.CurrentTerm()
	commit := s.raft.CommitIndex()
	if !s.confirmTerm(term) {
		return ReadIndex{}, node.ErrNotLeader
	}
	for i := commit; i > 0; i-- {
		var l raft.Log
		if err := s.logs.GetLog(i, &l); err != nil {
			break // compacted: fall back to a barrier
		}
		if l.Type == raft.LogCommand || l.Type == raft.LogConfiguration {
			return ReadIndex{Commit: commit, Visible: i}, nil
		}
	}
	if err := s.raft.Barrier(5 * time.Second).Error(); err != nil {
		return ReadIndex{}, node.ErrNotLeader
	}
	return ReadIndex{Commit: commit, Visible: s.fsm.applied.Load()}, nil
}

// WaitIndex waits until this node's state holds the write at index (an
// X-Talon-Index a client saw), or fails with node.ErrLagging when ctx ends.
func (s *Store) WaitIndex(ctx context.Context, index uint64) error {
	return s.wait(ctx, ReadIndex{Commit: index, Visible: index})
}

// confirmTerm reports whether a majority of the voters, this node among
// them, are in term and this node still leads in it, asked now: a voter
// answers its current term; one that moved to a later term has voted for
// another leader, or will not take this one's appends.
func (s *Store) confirmTerm(term uint64) bool {
	others, voters, err := s.otherVoters()
	if err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	answers := make(chan bool, len(others))
	asked := len(others)
	for _, addr := range others {
		go func() {
			var r TermReply
			err := s.peers.call(ctx, addr, "Term", struct{}{}, &r)
			answers <- err == nil && r.Term == term
		}()
	}
	yes := 1 // this node
	for ; asked > 0 && yes < voters/2+1; asked-- {
		if <-answers {
			yes++
		}
	}
	return yes >= voters/2+1 && s.raft.CurrentTerm() == term && s.raft.State() == raft.Leader
}

func (s *Store) wait(ctx context.Context, ri ReadIndex) error {
	for {
		moved := s.fsm.moved()
		if s.raft.AppliedIndex() >= ri.Commit && s.fsm.applied.Load() >= ri.Visible {
			return nil
		}
		select {
		case <-moved:
		case <-time.After(5 * time.Millisecond): // Raft's own index moves without a notice
		case <-ctx.Done():
			return node.ErrLagging
		case <-s.stop:
			return node.ErrLagging
		}
	}
}

// AppliedIndex is the index of the last write this node's state holds.
func (s *Store) AppliedIndex() uint64 { return s.fsm.applied.Load() }

// propose packs waiting commands into log entries. At most MaxInflight
// entries are in flight; while they commit, new commands queue up and go
// out together in the next entry, so one fsync covers many commands.
func (s *Store) propose() {
	var last int64
	batches(s.proposals, s.stop, s.spawn, s.cfg.MaxInflight, s.cfg.MaxBatch, nil, func(batch []*proposal) func() {
		last = max(last+1, s.stampBound().UnixMilli())
		cmds := make([][]byte, len(batch))
		for i, p := range batch {
			cmds[i] = p.cmd
		}
		sent := time.Now()
		f := s.raft.Apply(encodeBatch(last, cmds), 10*time.Second)
		return func() { s.answer(f, batch, sent) }
	})
}

// batches sends what arrives on ch in batches. It waits for a first item
// and for one of inflight slots, then takes what else is waiting, up to max
// items that go together (together, if not nil, says whether b may join
// a's batch), and calls send in order; the function send returns runs on
// a goroutine of spawn's and frees the slot when done. So while earlier
// batches are on their way, new items queue up and go out together in the
// next one.
func batches[T any](ch <-chan T, stop <-chan struct{}, spawn func(func()), inflight, max int, together func(a, b T) bool, send func([]T) func()) {
	slots := make(chan struct{}, inflight)
	var next []T // the first of the next batch, which did not go with the last
	for {
		batch := next
		if next = nil; batch == nil {
			select {
			case x := <-ch:
				batch = []T{x}
			case <-stop:
				return
			}
		}
		select {
		case slots <- struct{}{}:
		case <-stop:
			return
		}
	drain:
		for len(batch) < max {
			select {
			case x := <-ch:
				if together != nil && !together(batch[0], x) {
					next = []T{x}
					break drain
				}
				batch = append(batch, x)
			default:
				break drain
			}
		}
		wait := send(batch)
		spawn(func() {
			defer func() { <-slots }()
			wait()
		})
	}
}

func (s *Store) answer(f raft.ApplyFuture, batch []*proposal, sent time.Time) {
	if err := f.Error(); err != nil {
		switch {
		case errors.Is(err, raft.ErrNotLeader):
			err = node.ErrNotLeader
		case errors.Is(err, raft.ErrLeadershipLost), errors.Is(err, raft.ErrEnqueueTimeout), errors.Is(err, raft.ErrRaftShutdown):
			err = node.ErrUnknownOutcome
		}
		for _, p := range batch {
			p.reply <- reply{err: err}
		}
		return
	}
	if s.cfg.ObserveCommit != nil {
		s.cfg.ObserveCommit(time.Since(sent), len(batch))
	}
	res, ok := f.Response().([]queue.Result)
	idx := f.Index()
	for i, p := range batch {
		if !ok || len(res) != len(batch) {
			err, _ := f.Response().(error)
			p.reply <- reply{err: fmt.Errorf("cluster: entry not applied: %w", err)}
			continue
		}
		p.reply <- reply{res: res[i], index: idx}
	}
}

// lead runs while the process lives: on gaining leadership it waits until
// the whole log is applied (ready), then proposes a Tick whenever the state
// has time-driven work due.
func (s *Store) lead() {
	t := time.NewTicker(s.cfg.TickEvery)
	defer t.Stop()
	caughtUp := map[string]int{}
	var handedOver time.Time
	for {
		select {
		case <-s.stop:
			return
		case isLeader := <-s.raft.LeaderCh():
			s.ready.Store(false)
			if isLeader && !s.lone() {
				s.measureClocks() // a follower's offset was to the old leader
			}
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
			s.tuneTimeouts()
			if s.raft.State() == raft.Leader && !s.lone() {
				s.measureClocks()
				if !s.clockOK() && time.Since(handedOver) > 5*time.Second {
					// Its clock is off the quorum's: let a node with a right one lead.
					handedOver = time.Now()
					offset, _, _ := s.clock.get(time.Hour)
					s.cfg.Logger.Warn("this node's clock is off the cluster's: handing leadership over", "offset", offset)
					s.raft.LeadershipTransfer()
				}
			}
			due := false
			s.fsm.read(func(st *queue.State) { due = st.Due(s.Now().Unix()) })
			if !s.Leads() {
				continue
			}
			if due {
				if _, _, err := s.Apply(context.Background(), newTick()); err != nil {
					s.cfg.Logger.Warn("tick", "err", err)
				}
			}
			s.promote(caughtUp)
		}
	}
}

// newTick is a Tick with the leader's random bits (queue/ref.go).
func newTick() *queue.Tick {
	seed := make([]byte, 16)
	rand.Read(seed)
	return &queue.Tick{Seed: string(seed)}
}

// Read runs fn with the read side of this node's state, under the state's
// read lock: fn keeps what the reader returns, never the reader.
func (s *Store) Read(fn func(queue.Reader)) { s.fsm.read(func(st *queue.State) { fn(st.Reader()) }) }

// Follow calls fn with every event after seq after, in order, until ctx
// ends or the node closes (node.Hub.Follow).
func (s *Store) Follow(ctx context.Context, after uint64, fn func(queue.Event), onGap func()) {
	s.hub.Follow(ctx, after, fn, onGap)
}

// Since returns the retained events after seq (Hub.Since).
func (s *Store) Since(seq uint64) ([]queue.Event, bool) { return s.hub.Since(seq) }

// Leads reports whether this node is the leader and serving (its region
// may still be to load: the leader loads it).
func (s *Store) Leads() bool { return s.raft.State() == raft.Leader && s.serving() }

// Halted is closed when the node stopped applying the log.
func (s *Store) Halted() <-chan struct{} { return s.fsm.haltCh }

// Ready reports whether this node serves current data: it has not halted,
// its region is loaded, and either it leads and has applied the whole log,
// or it follows a leader that told it its commit index within the last
// seconds (caughtUp) and it has applied nearly all of that.
func (s *Store) Ready() bool { return s.notReady() == "" }

// notReady says why the node is not ready ("" when it is).
func (s *Store) notReady() string {
	if why := s.notServing(); why != "" {
		return why
	}
	loaded := false
	s.fsm.read(func(st *queue.State) { loaded = st.Region != nil })
	if !loaded {
		return node.NotReadyNoRegion
	}
	return ""
}

// serving is Ready without the region: what the cluster itself needs of a
// node (a leader seeds the region once serving).
func (s *Store) serving() bool { return s.notServing() == "" }

func (s *Store) notServing() string {
	if s.fsm.haltErr() != nil {
		return node.NotReadyHalted
	}
	if !s.clockOK() {
		return node.NotReadyClock
	}
	if s.raft.State() == raft.Leader {
		if !s.ready.Load() {
			return node.NotReadyCatchingUp
		}
		return ""
	}
	if addr, _ := s.raft.LeaderWithID(); addr == "" || time.Since(s.raft.LastContact()) > 5*time.Second {
		return node.NotReadyNoLeader
	}
	if c := s.caughtUp.Load(); c == nil || time.Since(c.at) >= caughtUpFor || s.fsm.applied.Load()+readyLag < c.commit {
		return node.NotReadyCatchingUp
	}
	return ""
}

// caughtUp is the leader's commit index as a follower last asked for it.
type caughtUp struct {
	commit uint64
	at     time.Time
}

// caughtUpFor is how long a follower's last answer from the leader counts
// for readiness; it asks every caughtUpEvery.
const (
	caughtUpFor   = 3 * time.Second
	caughtUpEvery = 500 * time.Millisecond
)

// askLeader keeps a follower's caughtUp fresh: the leader's commit index,
// confirmed by the leader, as a target its state must reach to be ready.
// (A restarted follower's own commit index is 0 until the leader first
// speaks: comparing with it said "ready" with an empty state.)
//
// Until it has an answer it asks every 50 ms, so a restarted follower is
// ready as soon as it hears of the leader and has applied, not up to half a
// second later.
func (s *Store) askLeader() {
	t := time.NewTicker(caughtUpEvery / 10)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		if c := s.caughtUp.Load(); c != nil && time.Since(c.at) < caughtUpEvery {
			continue
		}
		addr, _ := s.raft.LeaderWithID()
		if addr == "" || s.raft.State() == raft.Leader {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		var ri ReadIndex
		if err := s.peers.call(ctx, string(addr), "ReadIndex", struct{}{}, &ri); err == nil {
			s.caughtUp.Store(&caughtUp{ri.Commit, time.Now()})
		}
		if d, err := s.offsetTo(ctx, string(addr)); err == nil {
			s.clock.set(-d, 0)
		}
		cancel()
	}
}

// Now is the node's clock: the wall clock, plus what AdvanceClock added.
// The leader stamps every log entry with it.
func (s *Store) Now() time.Time {
	return time.Now().Add(s.cfg.FaultClockOffset + time.Duration(s.offset.Load()))
}

// AdvanceClock moves a dev clock forward by d.
func (s *Store) AdvanceClock(d time.Duration) error {
	if !s.cfg.DevClock || !s.lone() {
		return node.ErrNoDevClock
	}
	if d < 0 {
		return errors.New("cluster: the clock only moves forward")
	}
	s.offset.Add(int64(d))
	return nil
}

// LastContact is how long ago this follower heard from the leader (0 on
// the leader; since the node started when it never has).
func (s *Store) LastContact() time.Duration {
	if s.raft.State() == raft.Leader {
		return 0
	}
	t := s.raft.LastContact()
	if t.IsZero() {
		t = s.started
	}
	return time.Since(t)
}

// readyLag is how many log entries a follower may be behind and be ready.
const readyLag = 64

// node.Status returns the node's Raft status.
func (s *Store) Status() node.Status {
	stats := s.raft.Stats()
	num := func(k string) uint64 { v, _ := strconv.ParseUint(stats[k], 10, 64); return v }
	addr, id := s.raft.LeaderWithID()
	st := node.Status{
		ID: s.cfg.ID, Addr: s.mux.Addr().String(), State: s.raft.State().String(), Leader: string(id), LeaderAddr: string(addr),
		Term: num("term"), CommitIndex: s.raft.CommitIndex(), AppliedIndex: s.raft.AppliedIndex(),
		LastIndex: s.raft.LastIndex(), SnapshotIdx: num("last_snapshot_index"), NotReady: s.notReady(), TZData: queue.TZDataVersion(),
	}
	st.Ready = st.NotReady == ""
	if off := s.ClockOffset(); !math.IsNaN(off) {
		st.ClockOffset = &off
	}
	if st.State != "Leader" {
		st.LastContact = stats["last_contact"]
	}
	if err := s.fsm.haltErr(); err != nil {
		st.Halted = err.Error()
	}
	return st
}

// Close stops the node. Committed state is on disk; nothing is lost.
func (s *Store) Close() error {
	first := false
	s.closeOnce.Do(func() { first = true })
	if !first {
		return nil
	}
	close(s.stop)
	err := s.raft.Shutdown().Error()
	s.trans.Close() // closes the mux: its listener and every connection
	s.peers.close()
	s.running.Wait()
	s.hub.Close()
	return errors.Join(err, s.bolt.Close())
}
