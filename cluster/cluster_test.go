package cluster

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/talon-mfc/talon/cluster/node"
	"github.com/talon-mfc/talon/internal/pki"
	"github.com/talon-mfc/talon/queue"
	"github.com/talon-mfc/talon/scheduler"
)

var (
	addrsMu sync.Mutex
	addrs   = map[string]bool{}
)

// freeAddr is a free loopback address, never the same one twice in a run.
func freeAddr(t *testing.T) string {
	t.Helper()
	addrsMu.Lock()
	defer addrsMu.Unlock()
	for {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		a := l.Addr().String()
		l.Close()
		if !addrs[a] {
			addrs[a] = true
			return a
		}
	}
}

// testRegion is the region CA of this package's tests.
var testRegion = sync.OnceValue(func() *pki.Region {
	r, err := pki.NewRegion("test")
	if err != nil {
		panic(err)
	}
	return r
})

// nodeTLS are node id's TLS configurations, certified by testRegion.
func nodeTLS(t *testing.T, id string) (server, client *tls.Config) {
	t.Helper()
	server, client, err := testRegion().Node(id)
	if err != nil {
		t.Fatal(err)
	}
	return server, client
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startCluster starts n in-process nodes that form a cluster by
// bootstrap-expect, and waits until every one is ready.
func startCluster(t *testing.T, n int) []*Store {
	t.Helper()
	join := make([]string, n)
	for i := range join {
		join[i] = freeAddr(t)
	}
	nodes := make([]*Store, n)
	for i := range nodes {
		id := fmt.Sprintf("n%d", i+1)
		server, client := nodeTLS(t, id)
		s, err := Open(Config{ID: id, Dir: t.TempDir(), RaftAddr: join[i], BootstrapExpect: n,
			Join: join, Policy: scheduler.Default{}, ServerTLS: server, ClientTLS: client})
		if err != nil {
			t.Fatal(err)
		}
		nodes[i] = s
		t.Cleanup(func() { s.Close() })
	}
	waitFor(t, "all nodes ready", func() bool {
		for _, s := range nodes {
			if !s.serving() {
				return false
			}
		}
		return true
	})
	return nodes
}

func leaderOf(nodes []*Store) (leader *Store, followers []*Store) {
	for _, s := range nodes {
		if s.Status().State == "Leader" {
			leader = s
		} else {
			followers = append(followers, s)
		}
	}
	return leader, followers
}

func TestClusterForwardsAndReadsLinearizably(t *testing.T) {
	nodes := startCluster(t, 3)
	leader, followers := leaderOf(nodes)
	if leader == nil || len(followers) != 2 {
		t.Fatal("no single leader")
	}
	ctx := context.Background()
	f := followers[0]
	if r, _, err := f.Apply(ctx, &queue.SetRegion{Region: region(3)}); err != nil || r.Err != nil {
		t.Fatal(err, r.Err)
	}
	r, idx, err := f.Apply(ctx, &queue.Book{Office: "brn", Service: "passport", Start: tomorrow10(), Name: "Иванов", Phone: "79000000001"})
	if err != nil || r.Err != nil || r.Booking == nil {
		t.Fatal(err, r.Err)
	}
	// The follower that took the write answers only once it holds it.
	if f.AppliedIndex() < idx {
		t.Fatalf("follower applied %d < write index %d", f.AppliedIndex(), idx)
	}
	for _, s := range nodes {
		if err := s.Linearize(ctx); err != nil {
			t.Fatal(err)
		}
		s.fsm.read(func(st *queue.State) {
			if b := st.Bookings[r.Booking.ID]; b == nil || b.Phone != "+79000000001" {
				t.Errorf("node %s: booking %d not there after a linearizable read", s.cfg.ID, r.Booking.ID)
			}
		})
	}

	// 90 clients race for 3 seats through all three nodes: exactly 3 win.
	var mu sync.Mutex
	won := 0
	var wg sync.WaitGroup
	for i := range 90 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, _, err := nodes[i%3].Apply(ctx, &queue.Book{Office: "brn", Service: "passport", Start: tomorrow10() + 900, Name: "Заявитель", Phone: fmt.Sprintf("7901%07d", i)})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				t.Error(err)
			case r.Err == nil:
				won++
			case r.Err.Code != queue.CodeSlotTaken:
				t.Error(r.Err)
			}
		}()
	}
	wg.Wait()
	if won != 3 {
		t.Fatalf("%d won 3 seats", won)
	}
	for _, s := range nodes {
		s.WaitIndex(ctx, leader.AppliedIndex())
		checkWindowTime(t, s, tomorrow10())
	}
	// Every node applied the log, so every node saw the same events.
	for _, s := range nodes {
		s.WaitIndex(ctx, leader.AppliedIndex())
		ev, _ := s.Since(0)
		want, _ := leader.Since(0)
		if len(ev) != len(want) || len(ev) == 0 || ev[len(ev)-1].Seq != want[len(want)-1].Seq || ev[len(ev)-1].Index != want[len(want)-1].Index {
			t.Errorf("node %s has %d events, the leader %d", s.cfg.ID, len(ev), len(want))
		}
	}
}

func TestClusterMembershipTransferAndRestore(t *testing.T) {
	nodes := startCluster(t, 3)
	ctx := context.Background()
	leader, followers := leaderOf(nodes)
	if r, _, err := leader.Apply(ctx, &queue.SetRegion{Region: region(3)}); err != nil || r.Err != nil {
		t.Fatal(err, r.Err)
	}
	issue := func(s *Store) string {
		t.Helper()
		r, _, err := s.Apply(ctx, &queue.Issue{Office: "brn", Service: "passport"})
		if err != nil || r.Err != nil {
			t.Fatal(err, r.Err)
		}
		return r.Ticket.Number
	}
	issue(followers[1])

	// Planned maintenance: hand leadership to a chosen follower.
	to := followers[0]
	if err := followers[1].TransferLeadership(ctx, to.cfg.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the new leader", func() bool { return to.Status().State == "Leader" && to.serving() })
	if n := issue(leader); n != "П-002" {
		t.Fatalf("after the transfer got %s, want П-002", n)
	}

	// Backup, write more, restore: the region is back at the backup.
	var buf bytes.Buffer
	if _, err := leader.Backup(ctx, &buf); err != nil {
		t.Fatal(err)
	}
	issue(to)
	if err := leader.Restore(ctx, []byte("not a backup")); !errors.Is(err, node.ErrBadBackup) {
		t.Fatalf("restoring garbage: %v", err)
	}
	if err := leader.Restore(ctx, buf.Bytes()); err != nil {
		t.Fatal(err)
	}
	for _, s := range nodes {
		if err := s.Linearize(ctx); err != nil {
			t.Fatal(err)
		}
		s.fsm.read(func(st *queue.State) {
			if len(st.Tickets) != 2 {
				t.Errorf("node %s has %d tickets after the restore, want 2", s.cfg.ID, len(st.Tickets))
			}
		})
	}
	if n := issue(followers[1]); n != "П-003" {
		t.Fatalf("after the restore got %s, want П-003", n)
	}

	// A fourth node joins through a follower, catches up and is promoted.
	server, client := nodeTLS(t, "n4")
	s4, err := Open(Config{ID: "n4", Dir: t.TempDir(), RaftAddr: freeAddr(t), Join: []string{followers[1].mux.Addr().String()}, Policy: scheduler.Default{},
		ServerTLS: server, ClientTLS: client})
	if err != nil {
		t.Fatal(err)
	}
	defer s4.Close()
	waitFor(t, "n4 to become a voter", func() bool {
		ns, _ := to.Nodes(ctx)
		for _, n := range ns {
			if n.ID == "n4" && n.Suffrage == "Voter" && n.Status != nil && n.Lag < readyLag {
				return true
			}
		}
		return false
	})
	if err := s4.Linearize(ctx); err != nil {
		t.Fatal(err)
	}
	s4.fsm.read(func(st *queue.State) {
		if len(st.Tickets) != 3 {
			t.Errorf("n4 has %d tickets, want 3", len(st.Tickets))
		}
	})
	if err := followers[1].Remove(ctx, "n4"); err != nil {
		t.Fatal(err)
	}
	if err := followers[1].Remove(ctx, "n9"); !errors.Is(err, node.ErrUnknownNode) {
		t.Fatalf("removing an unknown node: %v", err)
	}
	ns, _ := to.Nodes(ctx)
	if len(ns) != 3 {
		t.Fatalf("%d nodes after removing n4", len(ns))
	}
}

func TestNoLeaderWaitIsBounded(t *testing.T) {
	nodes := startCluster(t, 3)
	leader, followers := leaderOf(nodes)
	leader.Close()
	followers[0].Close()
	s := followers[1]
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	start := time.Now()
	_, _, err := s.Apply(ctx, &queue.Tick{})
	if !errors.Is(err, node.ErrNoLeader) && !errors.Is(err, node.ErrUnknownOutcome) {
		t.Fatalf("with no quorum: %v", err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("waited %s", el)
	}
	if err := s.Linearize(context.Background()); !errors.Is(err, node.ErrNoLeader) { // LeaderWait, 5 s
		t.Fatalf("linearizable read with no quorum: %v", err)
	}
}

// TestLoneVoterTimeouts: a single-node cluster runs with the short
// timeouts (it leads at once after a start), and a node that is no longer
// the only voter goes back to Raft's defaults.
func TestLoneVoterTimeouts(t *testing.T) {
	server, client := nodeTLS(t, "n1")
	s1, err := Open(Config{ID: "n1", Dir: t.TempDir(), RaftAddr: freeAddr(t), Bootstrap: true, Policy: scheduler.Default{}, ServerTLS: server, ClientTLS: client,
		TickEvery: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s1.Close()
	waitFor(t, "n1 ready", s1.serving)
	if got := s1.raft.ReloadableConfig().HeartbeatTimeout; got != loneTimeout {
		t.Fatalf("a lone voter's heartbeat timeout is %v, want %v", got, loneTimeout)
	}
	server2, client2 := nodeTLS(t, "n2")
	s2, err := Open(Config{ID: "n2", Dir: t.TempDir(), RaftAddr: freeAddr(t), Join: []string{s1.mux.Addr().String()}, ServerTLS: server2, ClientTLS: client2,
		Policy: scheduler.Default{}, TickEvery: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	def := raftConfig("n1").HeartbeatTimeout
	waitFor(t, "n1 back on the default timeouts with two voters", func() bool {
		return s1.raft.ReloadableConfig().HeartbeatTimeout == def && s1.raft.ReloadableConfig().ElectionTimeout == def
	})
	if got := s2.raft.ReloadableConfig().HeartbeatTimeout; got != def {
		t.Fatalf("the joined node's heartbeat timeout is %v, want %v", got, def)
	}
}

// TestRestoreFromAnotherHistory: a backup made elsewhere (another cluster,
// or built offline) carries the applied index of its own history. After it
// is restored, and after a node holding it restarts, every node's applied
// index is one of this cluster's log indexes, so reads that wait for an
// index (linearizable, min_index) wait for the right entries.
func TestRestoreFromAnotherHistory(t *testing.T) {
	nodes := startCluster(t, 3)
	ctx := context.Background()
	leader, followers := leaderOf(nodes)
	other := queue.New(scheduler.Default{})
	other.Apply(&queue.SetRegion{Region: region(2)}, time.Now().Unix(), 1_000_000)
	var backup bytes.Buffer
	if err := EncodeBackup(&backup, other); err != nil {
		t.Fatal(err)
	}
	if err := leader.Restore(ctx, backup.Bytes()); err != nil {
		t.Fatal(err)
	}
	// The leader wrote the restored snapshot at an index of its log.
	inThisLog := func(s *Store) bool { return s.AppliedIndex() > 0 && s.AppliedIndex() <= leader.raft.LastIndex() }
	for _, s := range nodes {
		waitFor(t, s.cfg.ID+" to hold the restored region", func() bool {
			ok := false
			s.fsm.read(func(st *queue.State) { ok = st.Offices["brn"] != nil })
			return ok
		})
		if !inThisLog(s) {
			t.Fatalf("%s applied index %d after the restore; the leader's log ends at %d", s.cfg.ID, s.AppliedIndex(), leader.raft.LastIndex())
		}
	}
	r, idx, err := followers[0].Apply(ctx, &queue.Issue{Office: "brn", Service: "passport"})
	if err != nil || r.Err != nil {
		t.Fatal(err, r.Err)
	}
	// The follower restarts from the restored snapshot and its log.
	f := followers[1]
	f.Close()
	f2, err := Open(f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer f2.Close()
	if !inThisLog(f2) {
		t.Fatalf("restarted: applied index %d; the leader's log ends at %d", f2.AppliedIndex(), leader.raft.LastIndex())
	}
	if err := f2.WaitIndex(ctx, idx); err != nil {
		t.Fatal(err)
	}
	f2.fsm.read(func(st *queue.State) {
		if st.Tickets[r.Ticket.ID] == nil {
			t.Error("the restarted node lacks a ticket written before its restart")
		}
	})
}

// TestForwardOneByOne: the single-write RPC that followers of the previous
// version use during a rolling upgrade still commits at the leader and is
// refused, unlogged, by a follower.
func TestForwardOneByOne(t *testing.T) {
	nodes := startCluster(t, 3)
	ctx := context.Background()
	leader, followers := leaderOf(nodes)
	cmd, err := encodeCommand(nil, &queue.SetRegion{Region: region(2)})
	if err != nil {
		t.Fatal(err)
	}
	var r ForwardReply
	if err := followers[0].peers.call(ctx, followers[1].mux.Addr().String(), "Apply", ForwardArgs{Cmd: cmd}, &r); !errors.Is(err, node.ErrNotLeader) {
		t.Fatalf("a follower took a forwarded write: %v", err)
	}
	if err := followers[0].peers.call(ctx, leader.mux.Addr().String(), "Apply", ForwardArgs{Cmd: cmd}, &r); err != nil || r.Result.Err != nil || r.Index == 0 {
		t.Fatalf("forwarded to the leader: %v %+v", err, r)
	}
	if err := followers[0].WaitIndex(ctx, r.Index); err != nil {
		t.Fatal(err)
	}
	followers[0].fsm.read(func(st *queue.State) {
		if st.Offices["brn"] == nil {
			t.Error("the forwarded write is not in the follower's state")
		}
	})
}

// TestConfirmTerm: the leader's read index is confirmed by questions asked
// after it was taken, not by answers to earlier heartbeats: the current
// term is confirmed while a follower answers, an earlier term is not (the
// followers answer a later one), and with both followers gone nothing is.
func TestConfirmTerm(t *testing.T) {
	nodes := startCluster(t, 3)
	l, f := leaderOf(nodes)
	term := l.raft.CurrentTerm()
	if !l.confirmTerm(term) {
		t.Fatal("the leader's own term was not confirmed")
	}
	if l.confirmTerm(term - 1) {
		t.Fatal("an earlier term was confirmed")
	}
	f[0].Close()
	if !l.confirmTerm(term) {
		t.Fatal("one follower of two gone: the term was not confirmed")
	}
	f[1].Close()
	if l.confirmTerm(term) {
		t.Fatal("both followers gone: the term was confirmed")
	}
}
