package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/talon-mfc/talon/notify"
	"github.com/talon-mfc/talon/queue"
)

// receiver is a gateway: it records every request and fails while told to.
type receiver struct {
	mu        sync.Mutex
	failUntil time.Time
	failed    int
	got       []delivery
}

type delivery struct {
	key, body string
	seq       uint64
	kind      string
	booking   string
	signed    bool
}

const webhookSecret = "gateway-secret-0123456789"

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	var b notify.Body
	json.Unmarshal(body, &b)
	r.mu.Lock()
	r.got = append(r.got, delivery{key: req.Header.Get("Idempotency-Key"), body: string(body), seq: b.Seq, kind: b.Kind, booking: b.BookingRef,
		signed: notify.Verify(webhookSecret, body, req.Header.Get("X-Talon-Signature"))})
	failing := time.Now().Before(r.failUntil)
	if failing {
		r.failed++
	}
	r.mu.Unlock()
	if failing {
		http.Error(w, "gateway down", 500)
		return
	}
	time.Sleep(3 * time.Millisecond)
}

// TestNotificationsSurviveFailover: a webhook that fails for its first two
// seconds, bookings through all nodes, and the leader SIGKILLed while
// notifications are pending. Every acknowledged booking's confirmation
// arrives at least once, in order, signed, and every repeat carries the
// same idempotency key and body.
func TestNotificationsSurviveFailover(t *testing.T) {
	nodes := newCluster(t, 3, "-webhook-allow", "127.0.0.0/8")
	rcv := &receiver{failUntil: time.Now().Add(2 * time.Second)}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	lead, followers := leader(t, nodes)
	req, _ := http.NewRequest("PUT", followers[0].base+"/api/v1/subscriptions/gateway", strings.NewReader(
		fmt.Sprintf(`{"url": %q, "secret": %q, "kinds": ["booking_confirmed", "called"]}`, srv.URL, webhookSecret)))
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("subscribe: %v %v", err, resp)
	}

	loc, _ := queue.LoadLocation("Asia/Barnaul")
	day := time.Now().In(loc).AddDate(0, 0, 2)
	var mu sync.Mutex
	acked := map[string]bool{}
	stop := make(chan struct{})
	wait := workers(4, stop, func(w, i int) {
		start := time.Date(day.Year(), day.Month(), day.Day(), 0, 15*(4*i+w), 0, 0, loc).Format(time.RFC3339)
		code, out := retrying(nodes, w+i, "/api/v1/bookings", map[string]any{"office": "demo-24h", "service": "egrn", "start": start,
			"applicant": map[string]string{"name": "Тест", "phone": fmt.Sprintf("7923%02d%05d", w, i)}}, stop)
		if code == 201 {
			mu.Lock()
			acked[out["id"].(string)] = true
			mu.Unlock()
		}
	})
	time.Sleep(3 * time.Second)
	if pending := pendingAt(t, lead); pending == 0 {
		t.Fatal("nothing pending when the leader was to be killed: the test would prove nothing")
	}
	lead.kill()
	time.Sleep(2 * time.Second)
	close(stop)
	wait()

	deadline := time.Now().Add(60 * time.Second)
	for {
		rcv.mu.Lock()
		seen := map[string]bool{}
		for _, d := range rcv.got {
			if d.kind == "booking_confirmed" {
				seen[d.booking] = true
			}
		}
		missing := 0
		for id := range acked {
			if !seen[id] {
				missing++
			}
		}
		rcv.mu.Unlock()
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d acknowledged bookings never notified", missing, len(acked))
		}
		time.Sleep(100 * time.Millisecond)
	}

	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	first := map[uint64]delivery{}
	var maxSeq uint64
	repeats := 0
	for _, d := range rcv.got {
		if !d.signed {
			t.Fatalf("a request with a bad signature: %s", d.body)
		}
		if f, ok := first[d.seq]; ok {
			repeats++
			if f.key != d.key || f.body != d.body {
				t.Fatalf("a repeat of %d changed: key %q → %q", d.seq, f.key, d.key)
			}
			continue
		}
		if d.seq < maxSeq {
			t.Fatalf("notification %d arrived after %d: out of order", d.seq, maxSeq)
		}
		first[d.seq], maxSeq = d, d.seq
	}
	if rcv.failed == 0 {
		t.Fatal("the gateway never failed")
	}
	t.Logf("%d bookings acknowledged; %d requests, %d distinct notifications, %d repeats (%d refused while the gateway was down)",
		len(acked), len(rcv.got), len(first), repeats, rcv.failed)
}

// pendingAt is the number of undelivered notifications a node reports.
func pendingAt(t *testing.T, d *daemon) int {
	_, body := d.get("/api/v1/subscriptions")
	var out struct{ Subscriptions []struct{ Pending int } }
	json.NewDecoder(bytes.NewReader([]byte(body))).Decode(&out)
	n := 0
	for _, s := range out.Subscriptions {
		n += s.Pending
	}
	return n
}

// TestReminderAcrossRestart: a talond whose clock the test moves to 18:00
// (Asia/Barnaul) the evening before two bookings sends one reminder for
// each; restarted and moved there again, it sends none twice.
func TestReminderAcrossRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	rcv := &receiver{}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	d := startDaemon(t, buildTalond(t), t.TempDir(), "-dev-clock", "-webhook-allow", "127.0.0.0/8")
	req, _ := http.NewRequest("PUT", d.base+"/api/v1/subscriptions/sms", strings.NewReader(
		fmt.Sprintf(`{"url": %q, "secret": %q, "kinds": ["reminder"]}`, srv.URL, webhookSecret)))
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("subscribe: %v %v", err, resp)
	}
	loc, _ := queue.LoadLocation("Asia/Barnaul")
	now := time.Now().In(loc)
	visit := time.Date(now.Year(), now.Month(), now.Day()+2, 10, 0, 0, 0, loc)
	for i, phone := range []string{"79230000001", "79230000002"} {
		if code, out := d.post(http.DefaultClient, "/api/v1/bookings", map[string]any{"office": "demo-24h", "service": "egrn",
			"start": visit.Add(time.Duration(i) * 15 * time.Minute).Format(time.RFC3339), "applicant": map[string]string{"name": "Тест", "phone": phone}}); code != 201 {
			t.Fatalf("booking: %d %v", code, out)
		}
	}
	eve := time.Date(visit.Year(), visit.Month(), visit.Day()-1, 18, 0, 30, 0, loc)
	toEve := func() {
		if code, out := d.post(http.DefaultClient, "/api/v1/dev/clock", map[string]string{"advance": time.Until(eve).Round(time.Second).String()}); code != 200 {
			t.Fatalf("clock: %d %v", code, out)
		}
	}
	reminders := func() int {
		rcv.mu.Lock()
		defer rcv.mu.Unlock()
		seen := map[uint64]bool{}
		for _, g := range rcv.got {
			if g.kind != "reminder" || !g.signed {
				t.Fatalf("unexpected delivery %+v", g)
			}
			seen[g.seq] = true
		}
		return len(seen)
	}
	if reminders() != 0 {
		t.Fatal("a reminder before the evening")
	}
	toEve()
	deadline := time.Now().Add(15 * time.Second)
	for reminders() < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("%d reminders at 18:00, want 2", reminders())
		}
		time.Sleep(50 * time.Millisecond)
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	d.cmd.Wait()
	d.start()
	toEve()
	time.Sleep(3 * time.Second) // several ticks
	if n := reminders(); n != 2 {
		t.Fatalf("%d distinct reminders after a restart, want 2", n)
	}
}
