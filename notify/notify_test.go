package notify

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/talon-mfc/talon/cluster"
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
	s, err := cluster.Open(cluster.Config{ID: "n1", Dir: t.TempDir(), RaftAddr: "127.0.0.1:0", Bootstrap: true, Policy: scheduler.Default{}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for deadline := time.Now().Add(10 * time.Second); !s.Ready(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("not ready")
		}
	}
	ctx := context.Background()
	apply := func(c queue.Command) {
		t.Helper()
		if r, err := s.Apply(ctx, c); err != nil || r.Err != nil {
			t.Fatal(err, r.Err)
		}
	}
	loc, _ := time.LoadLocation("Asia/Barnaul")
	hours := map[string]string{}
	for _, d := range []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"} {
		hours[d] = "00:00-24:00"
	}
	apply(queue.Command{Kind: queue.KindSetRegion, Region: &queue.Region{Name: "t",
		Services: []queue.Service{{ID: "passport", Name: "Паспорт", Letter: "П", AvgMinutes: 20, Bookable: true}},
		Offices: []queue.OfficeConfig{{ID: "brn", Name: "Барнаул", Timezone: "Asia/Barnaul", Hours: hours, Services: []string{"passport"},
			Windows: []queue.WindowConfig{{Number: 1, Services: []string{"passport"}, Bookings: true}}}}}})
	apply(queue.Command{Kind: queue.KindSubscribe, Sub: &queue.Subscription{ID: "sms", URL: gw.URL, Secret: "secret-0123456789"}})
	n := time.Now().In(loc)
	apply(queue.Command{Kind: queue.KindBook, Office: "brn", Service: "passport", Name: "Иванов", Phone: "79000000001",
		Start: time.Date(n.Year(), n.Month(), n.Day()+1, 10, 0, 0, 0, loc).Unix()})

	var dead atomic.Int32
	d := New(Config{Store: s, MaxAttempts: 2, MaxBackoff: 10 * time.Millisecond, Observe: func(_, r string) {
		if r == "dead" {
			dead.Add(1)
		}
	}})
	stop := make(chan struct{})
	go d.Run(stop)
	defer close(stop)
	counts := func() (dead, pending int) {
		s.Read(func(st *queue.State) { dead, pending = len(st.Dead["sms"]), len(st.Outbox["sms"]) })
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
	apply(queue.Command{Kind: queue.KindReplay, Name: "sms"})
	waitFor("the replayed delivery", func() bool { d, p := counts(); return d == 0 && p == 0 && calls.Load() == 3 })
}
