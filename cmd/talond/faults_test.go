package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/talon-mfc/talon/internal/faults"
	"github.com/talon-mfc/talon/queue"
)

// The fault-injection tests, after etcd's robustness tests: three real
// nodes, each on its own loopback address behind a proxy of its cluster
// port (internal/faults cuts and heals links there), concurrent clients
// that issue tickets, book contended slots, cancel and read, and a
// linearizability check of the whole history with porcupine (model in
// linearize_test.go). CI runs each fault once; -faults.long runs them for
// minutes.

var longFaults = flag.Bool("faults.long", false, "run the fault-injection scenarios for minutes instead of once each")

// faultCluster is a 3-node cluster on 127.0.0.31-33 whose links can be cut.
type faultCluster struct {
	t     *testing.T
	nodes []*daemon
	hosts []string
	net   *faults.Net
}

func newFaultCluster(t *testing.T, extra ...string) *faultCluster {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	fc := &faultCluster{t: t, net: faults.New()}
	t.Cleanup(fc.net.Close)
	var raft, front []string
	for i := range 3 {
		host := fmt.Sprintf("127.0.0.%d", 31+i)
		r := freePortOn(t, host)
		p, err := fc.net.Proxy(freePortOn(t, host), r)
		if err != nil {
			t.Fatal(err)
		}
		fc.hosts, raft, front = append(fc.hosts, host), append(raft, r), append(front, p)
	}
	fc.nodes = newNodesAt(t, buildTalond(t), raft, front, extra...)
	startAll(t, fc.nodes)
	return fc
}

func (fc *faultCluster) host(d *daemon) string { return fc.hosts[slices.Index(fc.nodes, d)] }

// healed lifts every fault and waits until every node is ready again.
func (fc *faultCluster) healed() {
	fc.net.Heal()
	for _, d := range fc.nodes {
		if d.cmd.ProcessState != nil { // killed
			d.launch()
		}
		d.cmd.Process.Signal(syscall.SIGCONT)
	}
	for _, d := range fc.nodes {
		d.waitReady()
	}
}

// A fault is done to the cluster while clients run; it returns once the
// fault is over (not necessarily healed). Its sleeps are how long the fault
// lasts (an isolation of 12 s outlives the election timeouts), not waits for
// a condition: nothing is asserted after them; healed and settle then wait
// for the cluster with deadlines.
type fault struct {
	name string
	do   func(fc *faultCluster)
}

var allFaults = []fault{
	{"leader isolated 12 s", func(fc *faultCluster) {
		l, _ := leader(fc.t, fc.nodes)
		fc.net.Isolate(fc.host(l), fc.hosts)
		time.Sleep(12 * time.Second)
	}},
	{"leader killed", func(fc *faultCluster) {
		l, _ := leader(fc.t, fc.nodes)
		l.kill()
		time.Sleep(3 * time.Second)
	}},
	{"leader paused 5 s", func(fc *faultCluster) {
		l, _ := leader(fc.t, fc.nodes)
		l.cmd.Process.Signal(syscall.SIGSTOP)
		time.Sleep(5 * time.Second)
	}},
	{"follower isolated (1|2)", func(fc *faultCluster) {
		_, f := leader(fc.t, fc.nodes)
		fc.net.Isolate(fc.host(f[0]), fc.hosts)
		time.Sleep(5 * time.Second)
	}},
	{"leader cut from one follower", func(fc *faultCluster) {
		l, f := leader(fc.t, fc.nodes)
		fc.net.Cut(fc.host(l), fc.host(f[0]))
		time.Sleep(6 * time.Second)
	}},
	{"flaky link", func(fc *faultCluster) {
		l, f := leader(fc.t, fc.nodes)
		for range 10 {
			fc.net.Cut(fc.host(l), fc.host(f[1]))
			time.Sleep(time.Duration(100+rand.IntN(400)) * time.Millisecond)
			fc.net.Heal()
			time.Sleep(time.Duration(100+rand.IntN(400)) * time.Millisecond)
		}
	}},
	{"follower restarted", func(fc *faultCluster) {
		_, f := leader(fc.t, fc.nodes)
		f[0].kill()
		f[0].launch()
		time.Sleep(3 * time.Second)
	}},
}

// TestFaultsLinearizable runs the faults one after another under clients
// and checks the history: no acknowledged write lost, no number repeated
// or skipped, no seat sold twice, every linearizable read current, and no
// 500 anywhere.
func TestFaultsLinearizable(t *testing.T) {
	fc := newFaultCluster(t)
	h := startHistory(fc, 6)
	rounds := 1
	if *longFaults {
		rounds = 10
	}
	for r := range rounds {
		for _, f := range allFaults {
			h.settle()
			t.Logf("round %d: %s", r+1, f.name)
			f.do(fc)
			fc.healed()
		}
	}
	h.settle()
	ops := h.stop()
	checkHistory(t, h, ops)
}

// TestFaultCheckCatchesStaleReads: with nodes that serve linearizable
// reads from their own state (-fault-local-reads, a deliberate bug), the
// same check finds the stale reads of an isolated leader. A check that
// cannot fail proves nothing.
func TestFaultCheckCatchesStaleReads(t *testing.T) {
	fc := newFaultCluster(t, "-fault-local-reads")
	h := startHistory(fc, 6)
	h.settle()
	allFaults[0].do(fc) // the isolated leader answers reads from what it had
	fc.healed()
	h.settle()
	ops := h.stop()
	if ok, _ := linearizable(h, ops); ok {
		t.Fatalf("%d operations with local reads passed as linearizable", len(ops))
	}
}

// TestIsolatedLeaderNoStall: the leader is cut off for 12 s; writes through
// every surviving node succeed within 1.5 s of the new leader's election
// and keep succeeding, and no node answers 500.
func TestIsolatedLeaderNoStall(t *testing.T) {
	fc := newFaultCluster(t)
	old, survivors := leader(fc.t, fc.nodes)

	type probe struct {
		node       *daemon
		sent, done time.Time
		code       int
	}
	var mu sync.Mutex
	var probes []probe
	stop := make(chan struct{})
	wait := workers(6, stop, func(w, i int) {
		d := fc.nodes[w%3]
		client := &http.Client{Timeout: 15 * time.Second}
		sent := time.Now()
		code, _ := d.post(client, "/api/v1/offices/demo-24h/tickets", map[string]string{"service": "consult"})
		mu.Lock()
		probes = append(probes, probe{d, sent, time.Now(), code})
		mu.Unlock()
		if code != 201 {
			time.Sleep(20 * time.Millisecond) // a client's pause before its retry
		}
	})
	time.Sleep(time.Second)
	cut := time.Now()
	fc.net.Isolate(fc.host(old), fc.hosts)
	var elected time.Time
	var next *daemon
	for elected.IsZero() && time.Since(cut) < 10*time.Second {
		for _, d := range survivors {
			if d.status().State == "Leader" {
				elected, next = time.Now(), d
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	if elected.IsZero() {
		t.Fatal("no new leader within 10 s")
	}
	time.Sleep(12*time.Second - time.Since(cut))
	healAt := time.Now()
	close(stop)
	wait()
	fc.healed()

	for _, d := range survivors {
		first := time.Time{}
		for _, p := range probes {
			if p.node == d && p.code == 201 && !p.done.Before(elected) && (first.IsZero() || p.done.Before(first)) {
				first = p.done
			}
		}
		lag := first.Sub(elected)
		t.Logf("%s (new leader %v): first write acknowledged %s after the election (%s after the cut)", d.id, d == next,
			lag.Round(time.Millisecond), first.Sub(cut).Round(time.Millisecond))
		if first.IsZero() || lag > 1500*time.Millisecond {
			t.Errorf("%s: writes resumed %s after the election; want within 1.5 s", d.id, lag)
		}
		for _, p := range probes {
			if p.node == d && p.sent.After(elected.Add(1500*time.Millisecond)) && p.done.Before(healAt) && p.code != 201 {
				t.Errorf("%s: a write sent %s after the election answered %d", d.id, p.sent.Sub(elected).Round(time.Millisecond), p.code)
			}
			// A write that was waiting for the old leader is answered at
			// once too (done, or 503 for the client to retry).
			if p.node == d && p.sent.Before(elected) && p.done.After(elected.Add(1500*time.Millisecond)) {
				t.Errorf("%s: a write sent before the election was answered (%d) only %s after it", d.id, p.code, p.done.Sub(elected).Round(time.Millisecond))
			}
		}
	}
	for _, p := range probes {
		if p.code == 500 {
			t.Errorf("%s answered 500", p.node.id)
		}
	}
}

// history records what the clients did, for the linearizability check.
type history struct {
	fc      *faultCluster
	slots   []string // the contended slots, RFC 3339
	date    string   // of the contended slots
	today   func() string
	day0    string         // today at the office when the clients started
	seats   map[string]int // free seats of each slot before the run
	start   time.Time
	mu      sync.Mutex
	ops     []timedOp
	fails   []string // answers no client should see
	stopped chan struct{}
	wait    func()
	count   atomic.Int64
}

type timedOp struct {
	client     int
	in         opInput
	out        opOutput
	call, ret  time.Time
	unresolved bool // no definite answer: it may or may not have happened
}

// startHistory starts n clients on contended slots of demo-24h three days
// ahead (one booking window for egrn: one seat per slot).
func startHistory(fc *faultCluster, n int) *history {
	loc, _ := queue.LoadLocation("Asia/Barnaul")
	day := time.Now().In(loc).AddDate(0, 0, 3)
	today := func() string { return time.Now().In(loc).Format(time.DateOnly) }
	h := &history{fc: fc, date: day.Format(time.DateOnly), today: today, seats: map[string]int{}, start: time.Now(), stopped: make(chan struct{})}
	for i := range 4 {
		h.slots = append(h.slots, time.Date(day.Year(), day.Month(), day.Day(), 10, 15*i, 0, 0, loc).Format(time.RFC3339))
	}
	free, ok := h.readSlots(fc.nodes[0])
	if !ok {
		fc.t.Fatal("cannot read the slots")
	}
	for _, s := range h.slots {
		h.seats[s] = free[s]
	}
	h.wait = workers(n, h.stopped, h.client)
	h.day0 = today()
	return h
}

// settle waits until the clients have completed a few more operations:
// the cluster serves.
func (h *history) settle() {
	h.fc.t.Helper()
	base := h.count.Load()
	waitUntil(h.fc.t, 60*time.Second, "clients making progress", func() bool { return h.count.Load() >= base+20 })
}

func (h *history) stop() []timedOp {
	close(h.stopped)
	h.wait()
	return h.ops
}

func (h *history) record(op timedOp) {
	h.mu.Lock()
	h.ops = append(h.ops, op)
	h.mu.Unlock()
	h.count.Add(1)
}

func (h *history) fail(format string, a ...any) {
	h.mu.Lock()
	h.fails = append(h.fails, fmt.Sprintf(format, a...))
	h.mu.Unlock()
}

// client w's i-th operation.
func (h *history) client(w, i int) {
	home := h.fc.nodes[(w+i)%3]
	switch r := rand.IntN(100); {
	case r < 30:
		h.write(w, i, opInput{kind: opIssue, key: keyTickets}, "POST", "/api/v1/offices/demo-24h/tickets", map[string]string{"service": "passport"})
	case r < 60:
		slot := h.slots[rand.IntN(len(h.slots))]
		h.write(w, i, opInput{kind: opBook, key: slot, seats: h.seats[slot]}, "POST", "/api/v1/bookings", map[string]any{
			"office": "demo-24h", "service": "egrn", "start": slot,
			"applicant": map[string]string{"name": "Тест", "phone": fmt.Sprintf("7913%02d%05d", w, i)}})
	case r < 75:
		// Cancel a booking this client holds, picked from the history.
		h.mu.Lock()
		var mine []timedOp
		for _, op := range h.ops {
			if op.client == w && op.in.kind == opBook && op.out.id != "" {
				mine = append(mine, op)
			}
		}
		h.mu.Unlock()
		for _, b := range mine {
			if !h.cancelled(b.out.id) {
				h.write(w, i, opInput{kind: opCancel, key: b.in.key, booking: b.out.id, seats: b.in.seats}, "DELETE", "/api/v1/bookings/"+b.out.id, nil)
				break
			}
		}
	case r < 90:
		call := time.Now()
		free, ok := h.readSlots(home)
		if ok {
			ret := time.Now()
			for _, s := range h.slots {
				h.record(timedOp{client: w, in: opInput{kind: opReadSlot, key: s, seats: h.seats[s]}, out: opOutput{n: free[s]}, call: call, ret: ret})
			}
		}
	default:
		call := time.Now()
		code, body := home.get("/api/v1/offices/demo-24h/queue?consistency=linearizable")
		if code == 200 {
			ret := time.Now()
			var q struct{ Waiting []struct{ Number string } }
			json.Unmarshal([]byte(body), &q)
			n := 0
			for _, tk := range q.Waiting {
				if strings.HasPrefix(tk.Number, "П-") {
					n++
				}
			}
			h.record(timedOp{client: w, in: opInput{kind: opReadQueue, key: keyTickets}, out: opOutput{n: n}, call: call, ret: ret})
		} else if code == 500 {
			h.fail("%s: queue read answered 500: %s", home.id, body)
		}
	}
}

func (h *history) cancelled(id string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, op := range h.ops {
		if op.in.kind == opCancel && op.in.booking == id {
			return true
		}
	}
	return false
}

// readSlots reads the free seats of the contended slots, linearizably.
func (h *history) readSlots(d *daemon) (map[string]int, bool) {
	code, body := d.get("/api/v1/offices/demo-24h/slots?service=egrn&consistency=linearizable&date=" + h.date)
	if code == 500 {
		h.fail("%s: slots read answered 500: %s", d.id, body)
	}
	if code != 200 {
		return nil, false
	}
	var out struct {
		Slots []struct {
			Start string
			Free  int
		}
	}
	json.Unmarshal([]byte(body), &out)
	free := map[string]int{}
	for _, s := range out.Slots {
		free[s.Start] = s.Free
	}
	return free, true
}

// write sends one write with an Idempotency-Key, retrying through the
// nodes in turn on 503s and lost connections, as a kiosk does, for up to
// 20 s; without a definite answer by then the operation stays unresolved.
func (h *history) write(w, i int, in opInput, method, path string, body any) {
	key := fmt.Sprintf("c%d-%d-%d", w, i, h.start.UnixNano())
	js, _ := json.Marshal(body)
	client := &http.Client{Timeout: 12 * time.Second}
	op := timedOp{client: w, in: in, call: time.Now(), unresolved: true}
	for try := 0; time.Since(op.call) < 20*time.Second; try++ {
		d := h.fc.nodes[(w+i+try)%3]
		req, _ := http.NewRequest(method, d.base+path, bytes.NewReader(js))
		req.Header.Set("Idempotency-Key", key)
		resp, err := client.Do(req)
		if err != nil {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		var out struct {
			ID, Number string
			Error      struct{ Code string }
		}
		json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		op.ret, op.unresolved = time.Now(), false
		switch code := resp.StatusCode; {
		case code == 503:
			op.unresolved = true
			time.Sleep(50 * time.Millisecond)
			continue
		case code == 429:
			return // refused before it reached the log
		case in.kind == opIssue && code == 201 && strings.HasPrefix(out.Number, "П-"):
			op.out.n, _ = strconv.Atoi(strings.TrimPrefix(out.Number, "П-"))
		case in.kind == opBook && code == 201:
			op.out.id = out.ID
		case in.kind == opBook && code == 409 && out.Error.Code == "slot_taken":
			op.out.taken = true
		case in.kind == opCancel && (code == 200 || code == 409 && out.Error.Code == "cancelled"):
			// 409: an earlier attempt of this operation cancelled it
		default:
			h.fail("%s %s at %s: %d %+v", method, path, d.id, code, out)
			return
		}
		break // a definite answer
	}
	h.record(op)
}

func checkHistory(t *testing.T, h *history, ops []timedOp) {
	t.Helper()
	if h.today() != h.day0 {
		t.Skip("the office's day changed during the run: ticket numbers started again at 1")
	}
	for _, f := range h.fails {
		t.Error(f)
	}
	counts := map[opKind]int{}
	unresolved := 0
	for _, op := range ops {
		counts[op.in.kind]++
		if op.unresolved {
			unresolved++
		}
	}
	ok, took := linearizable(h, ops)
	t.Logf("%d operations (%d issue, %d book, %d cancel, %d slot reads, %d queue reads; %d unresolved), checked in %s",
		len(ops), counts[opIssue], counts[opBook], counts[opCancel], counts[opReadSlot], counts[opReadQueue], unresolved, took.Round(time.Millisecond))
	if !ok {
		t.Errorf("the history is not linearizable: %s", explain(h, ops))
	}
}

// TestResumedLeaderServesNoStaleRead: the leader is paused (SIGSTOP) while
// clients issue tickets; another leader takes one more; linearizable queue
// reads sent to the paused node wait in its socket, and when it resumes each
// answers 503 or shows that ticket. hashicorp/raft's VerifyLeader alone let
// such a read through on the followers' answers to heartbeats sent before
// the pause (Store.confirmTerm).
func TestResumedLeaderServesNoStaleRead(t *testing.T) {
	fc := newFaultCluster(t)
	stop := make(chan struct{})
	wait := workers(4, stop, func(w, i int) {
		retrying(fc.nodes, w, "/api/v1/offices/demo-24h/tickets", map[string]string{"service": "passport"}, stop)
	})
	defer func() { close(stop); wait() }()
	client := &http.Client{Timeout: 5 * time.Second}
	served := 0
	for round := range 4 {
		l, others := leader(t, fc.nodes)
		l.cmd.Process.Signal(syscall.SIGSTOP)
		var number string
		waitUntil(t, 30*time.Second, "a ticket through another leader", func() bool {
			code, out := others[round%2].post(client, "/api/v1/offices/demo-24h/tickets", map[string]string{"service": "passport"})
			number, _ = out["number"].(string)
			return code == 201
		})
		var conns []net.Conn
		for range 8 { // in the paused node's socket when it resumes
			c, err := net.Dial("tcp", strings.TrimPrefix(l.base, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := c.Write([]byte("GET /api/v1/offices/demo-24h/queue?consistency=linearizable HTTP/1.1\r\nHost: talon\r\nConnection: close\r\n\r\n")); err != nil {
				t.Fatal(err)
			}
			conns = append(conns, c)
		}
		l.cmd.Process.Signal(syscall.SIGCONT)
		for _, c := range conns {
			c.SetReadDeadline(time.Now().Add(30 * time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatalf("round %d: the resumed node's answer: %v", round, err)
			}
			body, _ := io.ReadAll(resp.Body)
			switch {
			case resp.StatusCode == 200 && !strings.Contains(string(body), `"`+number+`"`):
				t.Errorf("round %d: a linearizable read of the resumed old leader lacks %s, acknowledged before it was sent", round, number)
			case resp.StatusCode == 200:
				served++
			case resp.StatusCode != 503:
				t.Errorf("round %d: %d %s", round, resp.StatusCode, body)
			}
		}
		fc.healed()
	}
	t.Logf("%d of 32 reads served by the resumed node, the rest 503", served)
}
