package main

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/talon-mfc/talon/internal/pki"
	"github.com/talon-mfc/talon/queue"
)

// The system tests in this file run clusters of real talond processes on
// loopback and kill them with SIGKILL.

// newNodes prepares n cluster nodes that form one cluster by
// bootstrap-expect, sharing one talon signing key and a region CA for the
// Raft port; extra flags go to all.
func newNodes(t *testing.T, bin string, n int, extra ...string) []*daemon {
	raft := make([]string, n)
	for i := range raft {
		raft[i] = freePort(t)
	}
	return newNodesAt(t, bin, raft, raft, extra...)
}

// newNodesAt is newNodes with the nodes' Raft addresses, and the addresses
// the others dial them at (a proxy's, or the same).
func newNodesAt(t *testing.T, bin string, raft, advertise []string, extra ...string) []*daemon {
	region, err := pki.NewRegion("test")
	if err != nil {
		t.Fatal(err)
	}
	seed := make([]byte, 32)
	rand.Read(seed)
	key := filepath.Join(t.TempDir(), "qr.seed")
	os.WriteFile(key, []byte(base64.StdEncoding.EncodeToString(seed)), 0o600)
	nodes := make([]*daemon, len(raft))
	for i := range nodes {
		httpAddr := freePort(t)
		id := fmt.Sprintf("n%d", i+1)
		nodes[i] = &daemon{t: t, bin: bin, base: "http://" + httpAddr, id: id, raft: advertise[i], region: region,
			args: append([]string{"-id", id, "-data", t.TempDir(), "-http", httpAddr, "-raft", raft[i], "-advertise", advertise[i],
				"-bootstrap-expect", strconv.Itoa(len(raft)), "-join", strings.Join(advertise, ","), "-qr-key", key,
				"-tls-dir", nodeTLSDir(t, region, id)}, extra...)}
	}
	return nodes
}

// nodeTLSDir writes node id's certificate of region into a folder for -tls-dir.
func nodeTLSDir(t *testing.T, region *pki.Region, id string) string {
	dir := t.TempDir()
	if err := region.WriteNode(dir, id, "127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	return dir
}

// newCluster starts n nodes of a new cluster and waits until all are ready.
func newCluster(t *testing.T, n int, extra ...string) []*daemon {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	nodes := newNodes(t, buildTalond(t), n, extra...)
	startAll(t, nodes)
	return nodes
}

func startAll(t *testing.T, nodes []*daemon) {
	for _, d := range nodes {
		d.launch()
	}
	for _, d := range nodes {
		d.waitReady()
	}
}

type nodeStatus struct {
	ID, State, Leader string
	AppliedIndex      uint64 `json:"applied_index"`
	LastIndex         uint64 `json:"last_index"`
	SnapshotIndex     uint64 `json:"snapshot_index"`
	Ready             bool
	NotReady          string `json:"not_ready"`
}

func (d *daemon) status() nodeStatus {
	var st nodeStatus
	_, body := d.get("/api/v1/cluster")
	json.Unmarshal([]byte(body), &st)
	return st
}

// leader finds the leader among the live nodes.
func leader(t *testing.T, nodes []*daemon) (*daemon, []*daemon) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		var l *daemon
		var rest []*daemon
		for _, d := range nodes {
			if d.status().State == "Leader" {
				l = d
			} else {
				rest = append(rest, d)
			}
		}
		if l != nil {
			return l, rest
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("no leader")
	return nil, nil
}

// retrying sends a write until it gets an answer other than a 503 or a
// connection failure, through the nodes in turn, with one Idempotency-Key:
// what a kiosk or the portal does during a failover.
func retrying(nodes []*daemon, start int, path string, body any, stop <-chan struct{}) (int, map[string]any) {
	code, out, _ := retryingAt(nodes, start, path, body, stop)
	return code, out
}

// retryingAt is retrying that also tells when the answered attempt was sent.
func retryingAt(nodes []*daemon, start int, path string, body any, stop <-chan struct{}) (int, map[string]any, time.Time) {
	key := fmt.Sprintf("%x", time.Now().UnixNano()) + strconv.Itoa(start)
	js, _ := json.Marshal(body)
	client := &http.Client{Timeout: 15 * time.Second}
	for i := start; ; i++ {
		d := nodes[i%len(nodes)]
		req, _ := http.NewRequest("POST", d.base+path, bytes.NewReader(js))
		req.Header.Set("Idempotency-Key", key)
		sent := time.Now()
		resp, err := client.Do(req)
		if err == nil {
			out := map[string]any{}
			json.NewDecoder(resp.Body).Decode(&out)
			resp.Body.Close()
			if resp.StatusCode != 503 {
				return resp.StatusCode, out, sent
			}
		}
		select {
		case <-stop:
			return 0, nil, sent
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// queueNumbers reads the waiting ticket numbers of an office at a node.
func queueNumbers(t *testing.T, d *daemon, office string) map[string]bool {
	t.Helper()
	code, body := d.get("/api/v1/offices/" + office + "/queue?consistency=linearizable")
	if code != 200 {
		t.Fatalf("%s: queue: %d %s", d.id, code, body)
	}
	var q struct {
		Waiting []struct{ Number string } `json:"waiting"`
	}
	json.Unmarshal([]byte(body), &q)
	out := map[string]bool{}
	for _, tk := range q.Waiting {
		if out[tk.Number] {
			t.Fatalf("%s: ticket %s twice", d.id, tk.Number)
		}
		out[tk.Number] = true
	}
	return out
}

// checkTickets: every acknowledged ticket is in the queue at every node, and
// the numbers are П-001..П-N with no gap or repeat.
func checkTickets(t *testing.T, nodes []*daemon, office string, acked map[string]bool) int {
	t.Helper()
	var n int
	for _, d := range nodes {
		got := queueNumbers(t, d, office)
		for num := range acked {
			if !got[num] {
				t.Fatalf("%s: acknowledged ticket %s lost", d.id, num)
			}
		}
		var nums []int
		for num := range got {
			v, _ := strconv.Atoi(strings.TrimPrefix(num, "П-"))
			nums = append(nums, v)
		}
		sort.Ints(nums)
		for i, v := range nums {
			if v != i+1 {
				t.Fatalf("%s: ticket numbers have a gap or repeat at %d: %v", d.id, i, nums)
			}
		}
		if n != 0 && len(nums) != n {
			t.Fatalf("%s has %d tickets, another node %d", d.id, len(nums), n)
		}
		n = len(nums)
	}
	return n
}

// TestClusterFailover: a 3-node cluster takes a booking at a follower and
// every node reads it linearizably; then, under a load of tickets and of
// bookings racing for few seats through all nodes, the leader is SIGKILLed.
// No acknowledged write is lost, ticket numbers stay gapless, no seat is
// sold twice, writes resume within seconds, and the killed node rejoins and
// catches up.
func TestClusterFailover(t *testing.T) {
	nodes := newCluster(t, 3)
	lead, followers := leader(t, nodes)

	loc, _ := queue.LoadLocation("Asia/Barnaul")
	day := time.Now().In(loc).AddDate(0, 0, 3)
	// Bookers race through the slots of demo-24h in the same order, so each
	// slot is contended, before, during and after the failover.
	slot := func(i int) string {
		return time.Date(day.Year(), day.Month(), day.Day(), 0, 15*i, 0, 0, loc).Format(time.RFC3339)
	}
	code, b := followers[0].post(http.DefaultClient, "/api/v1/bookings", map[string]any{"office": "demo-24h", "service": "egrn",
		"start": slot(0), "applicant": map[string]string{"name": "Иванов", "phone": "79130000001"}})
	if code != 201 {
		t.Fatalf("booking at a follower: %d %v", code, b)
	}
	for _, d := range nodes {
		if code, body := d.get("/api/v1/bookings/" + b["id"].(string)); code != 200 || !strings.Contains(body, "79130000001") {
			t.Fatalf("%s: booking written at %s not readable: %d %s", d.id, followers[0].id, code, body)
		}
	}
	seats := freeSeats(t, lead, slot(0)) + 1 // the one just booked

	var mu sync.Mutex
	tickets := map[string]bool{}
	perSlot := map[string]int{slot(0): 1}
	booked := []string{b["id"].(string)}
	var killedAt, resumedAt atomic.Int64
	stop := make(chan struct{})
	wait := workers(12, stop, func(w, i int) {
		var code int
		var out map[string]any
		var sent time.Time
		if w%3 != 0 {
			code, out, sent = retryingAt(nodes, w+i, "/api/v1/offices/demo-24h/tickets", map[string]string{"service": "passport"}, stop)
		} else {
			code, out, sent = retryingAt(nodes, w+i, "/api/v1/bookings", map[string]any{"office": "demo-24h", "service": "egrn",
				"start": slot(i/2 + 1), "applicant": map[string]string{"name": "Тест", "phone": fmt.Sprintf("7913%02d%05d", w, i)}}, stop)
		}
		if k := killedAt.Load(); code/100 == 2 && k != 0 && sent.UnixNano() > k {
			resumedAt.CompareAndSwap(0, time.Now().UnixNano())
		}
		mu.Lock()
		switch {
		case code == 201 && out["number"] != nil && strings.HasPrefix(out["number"].(string), "П-"):
			tickets[out["number"].(string)] = true
		case code == 201:
			perSlot[out["start"].(string)]++
			booked = append(booked, out["id"].(string))
		case code == 0, code == 409, code == 422, code == 429:
		default:
			t.Errorf("unexpected answer %d %v", code, out)
		}
		mu.Unlock()
	})
	time.Sleep(2 * time.Second)
	killedAt.Store(time.Now().UnixNano())
	lead.kill()
	for resumedAt.Load() == 0 && time.Since(time.Unix(0, killedAt.Load())) < 30*time.Second {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(2 * time.Second)
	close(stop)
	wait()
	if resumedAt.Load() == 0 {
		t.Fatal("writes did not resume after the leader was killed")
	}
	resume := time.Duration(resumedAt.Load() - killedAt.Load())

	n := checkTickets(t, followers, "demo-24h", tickets)
	for s, c := range perSlot {
		if c > seats {
			t.Fatalf("slot %s: %d bookings acknowledged for %d seats", s, c, seats)
		}
	}
	for _, id := range booked {
		for _, d := range followers {
			if code, _ := d.get("/api/v1/bookings/" + id); code != 200 {
				t.Fatalf("%s: acknowledged booking %s lost: %d", d.id, id, code)
			}
		}
	}

	// The killed node comes back, catches up, and serves the same state.
	start := time.Now()
	lead.launch()
	lead.waitReady()
	rejoin := time.Since(start)
	checkTickets(t, nodes, "demo-24h", tickets)
	t.Logf("failover: writes resumed %s after SIGKILL of the leader; %d tickets (%d acknowledged); %d bookings in %d slots of %d seats; the killed node was ready again %s after restart",
		resume.Round(time.Millisecond), n, len(tickets), len(booked), len(perSlot), seats, rejoin.Round(time.Millisecond))
	if resume > 10*time.Second {
		t.Errorf("writes resumed only after %s", resume)
	}
}

// freeSeats is the free count of the egrn slot at demo-24h starting at start.
func freeSeats(t *testing.T, d *daemon, start string) int {
	t.Helper()
	date := start[:10]
	code, body := d.get("/api/v1/offices/demo-24h/slots?service=egrn&consistency=linearizable&date=" + date)
	if code != 200 {
		t.Fatalf("slots: %d %s", code, body)
	}
	var out struct {
		Slots []struct {
			Start string
			Free  int
		}
	}
	json.Unmarshal([]byte(body), &out)
	for _, s := range out.Slots {
		if s.Start == start {
			return s.Free
		}
	}
	t.Fatalf("no slot %s in %s", start, body)
	return 0
}

// TestRejoinBySnapshot: a node that was down while the others wrote and
// compacted their logs comes back and catches up from a snapshot.
func TestRejoinBySnapshot(t *testing.T) {
	var cfg Config
	if err := yaml.Unmarshal(demoYAML, &cfg); err != nil {
		t.Fatal(err)
	}
	cfg.Node.SnapshotThreshold, cfg.Node.TrailingLogs, cfg.Node.SnapshotInterval = 64, 16, 200*time.Millisecond
	raw, err := yaml.Marshal(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "talond.yaml")
	os.WriteFile(file, raw, 0o600)
	nodes := newCluster(t, 3, "-config", file)
	_, followers := leader(t, nodes)
	down := followers[0]
	down.kill()

	acked := map[string]bool{}
	live := []*daemon{}
	for _, d := range nodes {
		if d != down {
			live = append(live, d)
		}
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				code, out := retrying(live, w+i, "/api/v1/offices/demo-24h/tickets", map[string]string{"service": "passport"}, nil)
				mu.Lock()
				if code != 201 {
					t.Errorf("ticket: %d %v", code, out)
				} else {
					acked[out["number"].(string)] = true
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	l, _ := leader(t, live)
	deadline := time.Now().Add(20 * time.Second)
	for l.status().SnapshotIndex < 100 {
		if time.Now().After(deadline) {
			t.Fatalf("the leader took no snapshot: %+v", l.status())
		}
		time.Sleep(100 * time.Millisecond)
	}
	down.launch()
	down.waitReady()
	checkTickets(t, nodes, "demo-24h", acked)
	if st := down.status(); st.SnapshotIndex == 0 {
		t.Fatalf("the node caught up without a snapshot: %+v", st)
	}
}

// TestFiveNodesTolerateTwoFailures: with two of five nodes killed (the
// leader among them), the other three elect a leader and serve writes and
// linearizable reads.
func TestFiveNodesTolerateTwoFailures(t *testing.T) {
	nodes := newCluster(t, 5)
	lead, followers := leader(t, nodes)
	acked := map[string]bool{}
	issue := func(via []*daemon) {
		code, out := retrying(via, 0, "/api/v1/offices/demo-24h/tickets", map[string]string{"service": "passport"}, nil)
		if code != 201 {
			t.Fatalf("ticket: %d %v", code, out)
		}
		acked[out["number"].(string)] = true
	}
	issue(nodes)
	lead.kill()
	followers[0].kill()
	live := followers[1:]
	for range 20 {
		issue(live)
	}
	if n := checkTickets(t, live, "demo-24h", acked); n != 21 {
		t.Fatalf("%d tickets, want 21", n)
	}
}

// TestDisasterRecovery: all three nodes die; only one disk survives. That
// node restarts with -recover as the only voter with every acknowledged
// write, and a fresh node joins it with talonctl.
func TestDisasterRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	nodes := newCluster(t, 3)
	bin, ctl := nodes[0].bin, buildTalonctl(t)
	acked := map[string]bool{}
	for i := range 30 {
		code, out := retrying(nodes, i, "/api/v1/offices/demo-24h/tickets", map[string]string{"service": "passport"}, nil)
		if code != 201 {
			t.Fatalf("ticket: %d %v", code, out)
		}
		acked[out["number"].(string)] = true
	}
	for _, d := range nodes {
		d.kill()
	}
	survivor := nodes[2]
	survivor.args = append(survivor.args, "-recover")
	survivor.launch()
	survivor.waitReady()
	checkTickets(t, []*daemon{survivor}, "demo-24h", acked)

	// A fresh node joins the recovered one.
	httpAddr := freePort(t)
	fresh := &daemon{t: t, bin: bin, id: "n4", raft: freePort(t), base: "http://" + httpAddr}
	fresh.args = []string{"-id", "n4", "-data", t.TempDir(), "-http", httpAddr, "-raft", fresh.raft, "-qr-key", flagValue(survivor.args, "-qr-key"),
		"-tls-dir", nodeTLSDir(t, survivor.region, "n4")}
	fresh.launch()
	if out, err := talonctl(ctl, survivor, "join", "n4", fresh.raft); err != nil {
		t.Fatalf("talonctl join: %v\n%s", err, out)
	}
	fresh.waitReady()
	checkTickets(t, []*daemon{survivor, fresh}, "demo-24h", acked)
	deadline := time.Now().Add(20 * time.Second)
	for {
		out, err := talonctl(ctl, fresh, "status")
		if err == nil && strings.Count(out, "Voter") == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("talonctl status after the join: %v\n%s", err, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// flagValue is the value of a flag in args.
func flagValue(args []string, name string) string {
	for i := 0; i+1 < len(args); i++ {
		if args[i] == name {
			return args[i+1]
		}
	}
	return ""
}

// TestTalonctl drives a 3-node cluster with talonctl: status, leadership
// transfer, backup and restore, and loading a region.
func TestTalonctl(t *testing.T) {
	nodes := newCluster(t, 3)
	ctl := buildTalonctl(t)
	lead, followers := leader(t, nodes)
	run := func(d *daemon, args ...string) string {
		t.Helper()
		out, err := talonctl(ctl, d, args...)
		if err != nil {
			t.Fatalf("talonctl %v: %v\n%s", args, err, out)
		}
		return out
	}
	if out := run(followers[0], "status"); !strings.Contains(out, "healthy: 3 nodes") || strings.Count(out, "Leader") != 1 {
		t.Fatalf("status:\n%s", out)
	}
	run(followers[0], "transfer-leadership", followers[1].id)
	for deadline := time.Now().Add(10 * time.Second); followers[1].status().State != "Leader"; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s did not become the leader after the transfer", followers[1].id)
		}
	}

	backup := filepath.Join(t.TempDir(), "region.backup")
	retrying(nodes, 0, "/api/v1/offices/demo-24h/tickets", map[string]string{"service": "passport"}, nil)
	run(lead, "backup", backup)
	retrying(nodes, 1, "/api/v1/offices/demo-24h/tickets", map[string]string{"service": "passport"}, nil)
	run(followers[0], "restore", backup)
	if n := checkTickets(t, nodes, "demo-24h", nil); n != 1 {
		t.Fatalf("%d tickets after restoring a backup that had 1", n)
	}

	region := filepath.Join(t.TempDir(), "region.yaml")
	os.WriteFile(region, []byte(`name: Тест
services: [{id: passport, name: Паспорт, letter: П, avg_minutes: 20, bookable: true}]
offices:
  - id: test-office
    name: Тестовый офис
    timezone: Asia/Barnaul
    services: [passport]
    windows: [{number: 1, services: [passport], bookings: true}]
`), 0o600)
	if out, err := talonctl(ctl, lead, "region", "load", region); err == nil {
		t.Fatalf("loading a region that drops offices with live records should fail:\n%s", out)
	}
	// Webhooks: subscribe, list, dead letters, unsubscribe.
	sub := exec.Command(ctl, "-addr", lead.base, "subscribe", "sms", "https://sms.example/hook", "called,reminder", "demo-24h")
	sub.Env = append(os.Environ(), "TALON_WEBHOOK_SECRET=webhook-secret-0123456789")
	if out, err := sub.CombinedOutput(); err != nil || !strings.Contains(string(out), "called,reminder") {
		t.Fatalf("talonctl subscribe: %v\n%s", err, out)
	}
	if out := run(followers[1], "subscriptions"); !strings.Contains(out, "https://sms.example/hook") || strings.Contains(out, "webhook-secret") {
		t.Fatalf("subscriptions:\n%s", out)
	}
	if out := run(followers[0], "dead", "sms"); !strings.Contains(out, "0 dead letters") {
		t.Fatalf("dead:\n%s", out)
	}
	run(followers[0], "replay", "sms")
	run(lead, "unsubscribe", "sms")
	if out, err := talonctl(ctl, lead, "dead", "sms"); err == nil {
		t.Fatalf("dead letters of a removed subscription: %s", out)
	}

	if out, err := talonctl(ctl, lead, "region", "load", "/nonexistent.yaml"); err == nil {
		t.Fatalf("loading a missing file: %s", out)
	}
	var cfg Config
	yaml.Unmarshal(demoYAML, &cfg)
	cfg.Region.Offices[0].Name = "МФЦ на Ленина (обновлено)"
	raw, _ := yaml.Marshal(cfg.Region)
	os.WriteFile(region, raw, 0o600)
	run(lead, "region", "load", region)
	for _, d := range nodes {
		if _, body := d.get("/api/v1/offices/" + cfg.Region.Offices[0].ID + "?consistency=linearizable"); !strings.Contains(body, "(обновлено)") {
			t.Fatalf("%s: the loaded region is not there: %s", d.id, body)
		}
	}

	// Window time: a booked visit at demo-24h loses its window to a closure
	// and gets it back; a region without booking windows there is refused
	// until forced.
	loc, _ := queue.LoadLocation("Asia/Barnaul")
	tomorrow := time.Now().In(loc).AddDate(0, 0, 1).Format(time.DateOnly)
	code, b := lead.post(http.DefaultClient, "/api/v1/bookings", map[string]any{"office": "demo-24h", "service": "passport",
		"start": tomorrow + "T10:00:00+07:00", "applicant": map[string]string{"name": "Иванова Мария", "phone": "+79130000077"}})
	if code != 201 {
		t.Fatalf("booking: %d %v", code, b)
	}
	number := b["number"].(string)
	if out := run(followers[0], "close", "demo-24h", tomorrow+"T09:00:00+07:00", tomorrow+"T12:00:00+07:00", "авария"); !strings.Contains(out, number) {
		t.Fatalf("close:\n%s", out)
	}
	if out := run(lead, "unplaced"); !strings.Contains(out, number) || !strings.Contains(out, "1 booking(s)") {
		t.Fatalf("unplaced:\n%s", out)
	}
	run(lead, "reopen", "demo-24h", tomorrow+"T09:00:00+07:00")
	if out := run(lead, "unplaced"); !strings.Contains(out, "0 booking(s)") {
		t.Fatalf("unplaced after the closure was lifted:\n%s", out)
	}
	for i := range cfg.Region.Offices {
		if cfg.Region.Offices[i].ID == "demo-24h" {
			for w := range cfg.Region.Offices[i].Windows {
				cfg.Region.Offices[i].Windows[w].Bookings = false
			}
		}
	}
	raw, _ = yaml.Marshal(cfg.Region)
	os.WriteFile(region, raw, 0o600)
	if out, err := talonctl(ctl, lead, "region", "load", region); err == nil || !strings.Contains(out, number) || !strings.Contains(out, "--force") {
		t.Fatalf("a region that takes a booking's window time was loaded: %v\n%s", err, out)
	}
	if out := run(lead, "region", "load", region, "--force"); !strings.Contains(out, number) {
		t.Fatalf("forced:\n%s", out)
	}
}

func buildTalonctl(t *testing.T) string {
	bin := filepath.Join(t.TempDir(), "talonctl")
	if out, err := exec.Command("go", "build", "-o", bin, "../talonctl").CombinedOutput(); err != nil {
		t.Fatalf("build talonctl: %v\n%s", err, out)
	}
	return bin
}

func talonctl(bin string, d *daemon, args ...string) (string, error) {
	out, err := exec.Command(bin, append([]string{"-addr", d.base}, args...)...).CombinedOutput()
	return string(out), err
}
