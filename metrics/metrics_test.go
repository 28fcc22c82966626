package metrics

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/talon-mfc/talon/internal/memstore"
	"github.com/talon-mfc/talon/queue"
	"github.com/talon-mfc/talon/scheduler"
)

func allDay() map[string]string {
	h := map[string]string{}
	for _, d := range []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"} {
		h[d] = "00:00-24:00"
	}
	return h
}

func region() *queue.Region {
	return &queue.Region{
		Name:     "test",
		Services: []queue.Service{{ID: "passport", Name: "Паспорт", Letter: "П", AvgMinutes: 20, Bookable: true}},
		Offices: []queue.OfficeConfig{{
			ID: "brn", Name: "Барнаул", Timezone: "Asia/Barnaul", Hours: allDay(), Services: []string{"passport"},
			Windows: []queue.WindowConfig{{Number: 1, Services: []string{"passport"}, Bookings: true}},
		}},
	}
}

// day drives a state through commands at given times and feeds its events
// to m.
type day struct {
	t     *testing.T
	st    *queue.State
	m     *Metrics
	index uint64
}

func (d *day) at(now int64, c queue.Command) queue.Result {
	d.t.Helper()
	d.index++
	r := d.st.Apply(c, now, d.index)
	for _, e := range d.st.TakeEvents() {
		d.m.Observe(e)
	}
	return r
}

func histogram(t *testing.T, m *Metrics, name string) *dto.Histogram {
	t.Helper()
	mfs, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetHistogram()
		}
	}
	t.Fatalf("no %s", name)
	return nil
}

func bucket(h *dto.Histogram, le float64) uint64 {
	for _, b := range h.GetBucket() {
		if b.GetUpperBound() == le {
			return b.GetCumulativeCount()
		}
	}
	return 0
}

// TestWaitsFromEvents: three walk-ins called after 100 s, 400 s and 1000 s
// land in the buckets that give "2 of 3 within 15 minutes".
func TestWaitsFromEvents(t *testing.T) {
	m := New(nil)
	d := &day{t: t, st: queue.New(scheduler.Default{}), m: m}
	t0 := time.Date(2026, 11, 23, 3, 0, 0, 0, time.UTC).Unix() // 10:00 in Barnaul
	d.at(t0, &queue.SetRegion{Region: region()})
	for range 3 {
		d.at(t0, &queue.Issue{Office: "brn", Service: "passport"})
	}
	d.at(t0, &queue.WindowAction{Office: "brn", Window: 1, Action: queue.ActOpen})
	for _, wait := range []int64{100, 400, 1000} {
		if r := d.at(t0+wait, &queue.WindowAction{Office: "brn", Window: 1, Action: queue.ActCallNext}); r.Err != nil || r.Ticket == nil {
			t.Fatal(r.Err)
		}
		d.at(t0+wait, &queue.WindowAction{Office: "brn", Window: 1, Action: queue.ActStart})
		d.at(t0+wait+30, &queue.WindowAction{Office: "brn", Window: 1, Action: queue.ActFinish})
	}
	h := histogram(t, m, "talon_wait_seconds")
	if h.GetSampleCount() != 3 || bucket(h, 300) != 1 || bucket(h, 900) != 2 || h.GetSampleSum() != 1500 {
		t.Fatalf("wait histogram: %v", h)
	}
	if s := histogram(t, m, "talon_service_seconds"); s.GetSampleCount() != 3 || s.GetSampleSum() != 90 {
		t.Fatalf("service histogram: %v", s)
	}
	if n := testutil.ToFloat64(m.issued.WithLabelValues("brn", "passport", "walk_in")); n != 3 {
		t.Fatalf("issued %v", n)
	}
	if n := testutil.ToFloat64(m.finished.WithLabelValues("brn", "passport", "served")); n != 3 {
		t.Fatalf("served %v", n)
	}

	// A slot conflict is counted from its event.
	slot := t0 + 3600
	d.at(t0, &queue.Book{Office: "brn", Service: "passport", Start: slot, Name: "А", Phone: "79000000001"})
	if r := d.at(t0, &queue.Book{Office: "brn", Service: "passport", Start: slot, Name: "Б", Phone: "79000000002"}); r.Err == nil || r.Err.Code != queue.CodeSlotTaken {
		t.Fatalf("second booking: %v", r.Err)
	}
	if n := testutil.ToFloat64(m.taken.WithLabelValues("brn", "passport")); n != 1 {
		t.Fatalf("conflicts %v", n)
	}
	if n := testutil.ToFloat64(m.bookings.WithLabelValues("brn", "passport", "made")); n != 1 {
		t.Fatalf("bookings made %v", n)
	}
}

// attached is metrics following an in-memory node, both closed at the end
// of the test.
func attached(t *testing.T) (*Metrics, *memstore.Store) {
	m, s := New(nil), memstore.New(scheduler.Default{})
	t.Cleanup(s.Close)
	m.Attach(s, t.TempDir())
	t.Cleanup(m.Close)
	return m, s
}

// TestExpositionFollowsConventions runs the client library's linter over
// the whole exposition of a live node, and checks that no label carries a
// ticket or person.
func TestExpositionFollowsConventions(t *testing.T) {
	m, s := attached(t)
	ctx := context.Background()
	s.Apply(ctx, &queue.SetRegion{Region: region()})
	s.Apply(ctx, &queue.Issue{Office: "brn", Service: "passport"})
	deadline := time.Now().Add(5 * time.Second)
	for testutil.ToFloat64(m.issued.WithLabelValues("brn", "passport", "walk_in")) != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the issued ticket was not counted")
		}
		time.Sleep(10 * time.Millisecond)
	}
	problems, err := testutil.GatherAndLint(m.reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
	mfs, _ := m.reg.Gather()
	names := map[string]bool{}
	for _, mf := range mfs {
		names[mf.GetName()] = true
		for _, mt := range mf.GetMetric() {
			for _, l := range mt.GetLabel() {
				if n := l.GetName(); strings.Contains(n, "ticket") || strings.Contains(n, "booking") || n == "phone" || n == "name" {
					t.Errorf("%s has a per-record label %s", mf.GetName(), n)
				}
			}
		}
	}
	for _, want := range []string{"talon_queue_length", "talon_oldest_wait_seconds", "talon_windows", "talon_raft_leader",
		"talon_raft_applied_index", "talon_raft_commit_seconds", "talon_data_free_bytes", "talon_tickets_issued_total"} {
		if !names[want] {
			t.Errorf("%s is not exported", want)
		}
	}
	if v := gauge(t, m, "talon_raft_leader"); v != 1 {
		t.Errorf("talon_raft_leader = %v on a single node", v)
	}
}

// gauge reads an unlabelled gauge.
func gauge(t *testing.T, m *Metrics, name string) float64 {
	mfs, _ := m.reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no %s", name)
	return 0
}

// TestMetricsFollowARestore: after an older backup is restored (event
// numbers start again lower), the metrics still count the next call.
func TestMetricsFollowARestore(t *testing.T) {
	m, s := attached(t)
	ctx := context.Background()
	do := func(c queue.Command) {
		t.Helper()
		if r, _, err := s.Apply(ctx, c); err != nil || r.Err != nil {
			t.Fatal(err, r.Err)
		}
	}
	calls := func() uint64 { return waitCount(m) }
	waitFor := func(what string, n uint64) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); calls() != n; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d calls counted, want %d", what, calls(), n)
			}
		}
	}
	do(&queue.SetRegion{Region: region()})
	do(&queue.Issue{Office: "brn", Service: "passport"})
	do(&queue.Issue{Office: "brn", Service: "passport"})
	do(&queue.WindowAction{Office: "brn", Window: 1, Action: queue.ActOpen})
	var backup bytes.Buffer
	if _, err := s.Backup(ctx, &backup); err != nil {
		t.Fatal(err)
	}
	do(&queue.WindowAction{Office: "brn", Window: 1, Action: queue.ActCallNext})
	waitFor("before the restore", 1)
	if err := s.Restore(ctx, backup.Bytes()); err != nil {
		t.Fatal(err)
	}
	do(&queue.WindowAction{Office: "brn", Window: 1, Action: queue.ActCallNext})
	waitFor("after the restore", 2)
}

// waitCount is how many waits were observed (0 before the first).
func waitCount(m *Metrics) uint64 {
	mfs, _ := m.reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() == "talon_wait_seconds" {
			return mf.GetMetric()[0].GetHistogram().GetSampleCount()
		}
	}
	return 0
}
