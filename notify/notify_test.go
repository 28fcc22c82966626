package notify

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/talon-mfc/talon/internal/memstore"
	"github.com/talon-mfc/talon/queue"
	"github.com/talon-mfc/talon/scheduler"
)

func TestSignature(t *testing.T) {
	body := []byte(`{"seq":1}`)
	sig := Sign("secret-0123456789", body)
	if !Verify("secret-0123456789", body, sig) || Verify("other-secret-012345", body, sig) || Verify("secret-0123456789", []byte(`{"seq":2}`), sig) {
		t.Fatal("signature check")
	}
}

// TestDeadLetterAndReplay: a gateway that keeps failing gets each
// notification MaxAttempts times, then it goes to the dead letters; after a
// replay a healthy gateway receives it.
func TestDeadLetterAndReplay(t *testing.T) {
	var healthy atomic.Bool
	var calls atomic.Int32
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		calls.Add(1)
		if !healthy.Load() {
			http.Error(w, "down", 503)
		}
	}))
	defer gw.Close()
	s := memstore.New(scheduler.Default{})
	defer s.Close()
	ctx := context.Background()
	apply := func(c queue.Command) {
		t.Helper()
		if r, _, err := s.Apply(ctx, c); err != nil || r.Err != nil {
			t.Fatal(err, r.Err)
		}
	}
	loc, _ := queue.LoadLocation("Asia/Barnaul")
	hours := map[string]string{}
	for _, d := range []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"} {
		hours[d] = "00:00-24:00"
	}
	apply(&queue.SetRegion{Region: &queue.Region{Name: "t",
		Services: []queue.Service{{ID: "passport", Name: "Паспорт", Letter: "П", AvgMinutes: 20, Bookable: true}},
		Offices: []queue.OfficeConfig{{ID: "brn", Name: "Барнаул", Timezone: "Asia/Barnaul", Hours: hours, Services: []string{"passport"},
			Windows: []queue.WindowConfig{{Number: 1, Services: []string{"passport"}, Bookings: true}}}}}})
	apply(&queue.Subscribe{Sub: queue.Subscription{ID: "sms", URL: gw.URL, Secret: "secret-0123456789"}})
	n := time.Now().In(loc)
	apply(&queue.Book{Office: "brn", Service: "passport", Name: "Иванов", Phone: "79000000001", Start: time.Date(n.Year(), n.Month(), n.Day()+1, 10, 0, 0, 0, loc).Unix()})

	var dead atomic.Int32
	d := New(Config{Store: s, Targets: Targets{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}, MaxAttempts: 2, MaxBackoff: 10 * time.Millisecond, Observe: func(_, r string) {
		if r == "dead" {
			dead.Add(1)
		}
	}})
	running, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); d.Run(running) }()
	defer func() { stop(); <-done }()
	counts := func() (dead, pending int) {
		s.Read(func(r queue.Reader) { pending, dead, _ = r.Backlog("sms") })
		return dead, pending
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}
	waitFor("the dead letter", func() bool { d, p := counts(); return d == 1 && p == 0 })
	if calls.Load() != 2 || dead.Load() != 1 {
		t.Fatalf("%d attempts, want 2", calls.Load())
	}
	healthy.Store(true)
	apply(&queue.Replay{Sub: "sms"})
	waitFor("the replayed delivery", func() bool { d, p := counts(); return d == 0 && p == 0 && calls.Load() == 3 })
}
