package scheduler_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/talon-mfc/talon/queue"
	"github.com/talon-mfc/talon/scheduler"
)

func region() *queue.Region {
	all := map[string]string{}
	for _, d := range []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"} {
		all[d] = "00:00-24:00"
	}
	office := func(id string, windows ...queue.WindowConfig) queue.OfficeConfig {
		return queue.OfficeConfig{ID: id, Name: id, Timezone: "Asia/Barnaul", Hours: all, Services: []string{"p", "s"}, Windows: windows}
	}
	return &queue.Region{
		Services:   []queue.Service{{ID: "p", Letter: "П", AvgMinutes: 20, Bookable: true}, {ID: "s", Letter: "С", AvgMinutes: 10, Bookable: true}},
		Categories: []queue.Category{{ID: "vip", Priority: 5}},
		Offices: []queue.OfficeConfig{
			office("a", queue.WindowConfig{Number: 1, Services: []string{"p", "s"}, Bookings: true}, queue.WindowConfig{Number: 2, Services: []string{"s"}}),
			office("b", queue.WindowConfig{Number: 1, Services: []string{"p", "s"}, Bookings: true}),
		},
	}
}

type sim struct {
	t   *testing.T
	s   *queue.State
	now int64
	idx uint64
}

func newSim(t *testing.T) *sim {
	x := &sim{t: t, s: queue.New(scheduler.Default{}), now: time.Date(2026, 11, 23, 3, 0, 0, 0, time.UTC).Unix()}
	x.do(&queue.SetRegion{Region: region()})
	return x
}

func (x *sim) do(c queue.Command) queue.Result {
	x.idx++
	r := x.s.Apply(c, x.now, x.idx)
	if r.Err != nil {
		x.t.Fatalf("%+v: %v", c, r.Err)
	}
	return r
}

func (x *sim) ticket(office, service, category string) *queue.Ticket {
	x.now += 60
	return x.do(&queue.Issue{Office: office, Service: service, Category: category}).Ticket
}

func TestPickOrder(t *testing.T) {
	x := newSim(t)
	slot := x.now + 1800
	b := x.do(&queue.Book{Office: "a", Service: "p", Start: slot, Name: "Б", Phone: "79000000000"}).Booking
	first := x.ticket("a", "p", "")
	x.ticket("a", "s", "")
	vip := x.ticket("a", "p", "vip")
	x.now = slot - 600
	x.do(&queue.CheckIn{Office: "a", Booking: b.ID, Start: b.Start})
	o := x.s.Offices["a"]
	w1, w2 := o.Window(1), o.Window(2)
	p := scheduler.Default{}
	if got := p.Pick(o, w1, x.now); got.ID != vip.ID {
		t.Fatalf("before the booked time: picked %s, want the priority ticket", got.Number)
	}
	if got := p.Pick(o, w1, slot); got.Booking != b.ID {
		t.Fatalf("at the booked time: picked %s, want the booking", got.Number)
	}
	if got := p.Pick(o, w2, slot); got.Service != "s" {
		t.Fatalf("window 2 serves only s, picked %s", got.Number)
	}
	// Past the aging cap (40 minutes) the longest wait goes before all.
	if got := p.Pick(o, w1, first.ArrivedAt+40*60); got.ID != first.ID {
		t.Fatalf("after 40 minutes of waiting: picked %s, want %s", got.Number, first.Number)
	}

}

func TestEstimateAndLoad(t *testing.T) {
	x := newSim(t)
	p := scheduler.Default{}
	o := x.s.Offices["a"]
	if l := scheduler.OfficeLoad(o, x.now); l.Level != "low" || l.Waiting != 0 {
		t.Fatalf("empty office load %+v", l)
	}
	for range 3 {
		x.ticket("a", "p", "")
	}
	// 3 passport applicants × 20 min, one window serves passports (none open).
	if est := p.Forecast(o, queue.Outlook{Service: "p"}, x.now).Wait; est != 3*20*60 {
		t.Fatalf("estimate %d", est)
	}
	x.do(&queue.WindowAction{Office: "a", Window: 1, Action: queue.ActOpen})
	x.do(&queue.WindowAction{Office: "a", Window: 2, Action: queue.ActOpen})
	l := scheduler.OfficeLoad(o, x.now)
	if l.Waiting != 3 || l.OpenWindows != 2 || l.FreeWindows != 2 || l.EstWait != 3*20*60/2 || l.Level != "high" {
		t.Fatalf("load %+v", l)
	}
	x.now += 120
	x.do(&queue.WindowAction{Office: "a", Window: 1, Action: queue.ActCallNext})
	if l := scheduler.OfficeLoad(o, x.now); l.FreeWindows != 1 || l.AvgWait != 240 || l.EstWait != 2*20*60/2 || l.Level != "high" {
		t.Fatalf("load after a call %+v", l)
	}
}

func TestRecommend(t *testing.T) {
	x := newSim(t)
	x.ticket("a", "p", "")
	x.ticket("a", "p", "")
	recs := scheduler.Recommend(x.s.Reader(), scheduler.Default{}, "p", x.now)
	if len(recs) != 2 || recs[0].Office != "b" || recs[0].EstWait != 0 || recs[1].EstWait != 2*20*60 || recs[0].Earliest == nil {
		t.Fatalf("recommend %+v", recs)
	}
}

// busyOffice is office "a" with both windows open and 1,000 waiting, a
// third of them for the service only window 1 serves.
func busyOffice() (*queue.Office, int64) {
	x := busySim()
	return x.s.Offices["a"], x.now
}

func busySim() *sim {
	x := newSim(&testing.T{})
	x.do(&queue.WindowAction{Office: "a", Window: 1, Action: queue.ActOpen})
	x.do(&queue.WindowAction{Office: "a", Window: 2, Action: queue.ActOpen})
	for i := range 1000 {
		svc := "p"
		if i%3 == 0 {
			svc = "s"
		}
		x.do(&queue.Issue{Office: "a", Service: svc})
	}
	return x
}

// BenchmarkForecast: the forecast for a new ticket with 1,000 waiting
// (it runs inside the state machine on every issue).
func BenchmarkForecast(b *testing.B) {
	o, now := busyOffice()
	p := scheduler.Default{}
	b.ReportAllocs()
	for b.Loop() {
		p.Forecast(o, queue.Outlook{Service: "p"}, now)
	}
}

// BenchmarkPick: whom a window calls next with 1,000 waiting (every
// call-next runs it inside the state machine).
func BenchmarkPick(b *testing.B) {
	o, now := busyOffice()
	for _, p := range []queue.Policy{scheduler.Default{}, scheduler.FCFS{}} {
		b.Run(fmt.Sprintf("%T", p), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if p.Pick(o, o.Windows[0], now) == nil {
					b.Fatal("nobody picked")
				}
			}
		})
	}
}

// TestForecastSeesBookings: a booked applicant whose slot begins in ten
// minutes goes first then, so the forecast for a walk-in behind two others
// grows by their visit; once they check in they count once, as a waiting
// ticket; and the chance they come follows the office's history.
func TestForecastSeesBookings(t *testing.T) {
	x := newSim(t)
	x.now = time.Date(2026, 11, 23, 3, 5, 0, 0, time.UTC).Unix() // 10:05 in Barnaul
	slot := x.now + 10*60
	b := x.do(&queue.Book{Office: "b", Service: "p", Start: slot, Name: "Б", Phone: "79000000000"}).Booking
	x.do(&queue.WindowAction{Office: "b", Window: 1, Action: queue.ActOpen})
	x.ticket("b", "p", "")
	x.ticket("b", "p", "")
	rd, p := x.s.Reader(), scheduler.Default{}
	exp := rd.Expected("b", x.now)
	// No history: 9 in 10 come, checking in at any time of the 45-minute
	// window alike; 8 minutes before the slot 23 of its 45 minutes are
	// still ahead: 0.9·23/45 / (0.1 + 0.9·23/45) = 0.821.
	if len(exp) != 1 || exp[0].Booking != b.ID || exp[0].Permille != 821 || exp[0].At != slot {
		t.Fatalf("expected %+v", exp)
	}
	o := rd.Office("b")
	without := p.Forecast(o, queue.Outlook{Service: "p"}, x.now)
	with := p.Forecast(o, queue.Outlook{Expected: exp, Service: "p"}, x.now)
	// The window calls the first walk-in now (20 min), then the booking is
	// due and goes before the second walk-in, likelier to come than not: its
	// 20 minutes more.
	if without.Wait != 2*20*60 || with.Wait != without.Wait+20*60 || with.Ahead != 3 {
		t.Fatalf("without the booking %+v, with it %+v", without, with)
	}
	x.now = slot - 5*60
	x.do(&queue.CheckIn{Office: "b", Booking: b.ID, Start: b.Start})
	if exp := x.s.Reader().Expected("b", x.now); len(exp) != 0 {
		t.Fatalf("a checked-in booking is still expected: %+v", exp)
	}
	// It came 5 minutes early; a booking a day ahead now comes 19 in 21.
	sh := x.s.Offices["b"].Shows
	if sh.Came != 1 || sh.Missed != 0 || sh.At[5] != 1 || sh.Chance(slot+86400, slot) != 19*1000/21 {
		t.Fatalf("shows %+v (%d ‰)", sh, sh.Chance(slot+86400, slot))
	}
	// Once its slot has begun and the check-in window closes, nobody is
	// expected any more.
	if c := sh.Chance(slot, slot+15*60); c != 0 {
		t.Fatalf("chance at the end of the check-in window: %d ‰", c)
	}
}

// BenchmarkApplicant: one applicant through an office with 1,000 waiting,
// as the state machine applies it: issue (with its forecast), then call,
// start and finish at window 1 (each telling those whose turn is near).
func BenchmarkApplicant(b *testing.B) {
	x := busySim()
	b.ReportAllocs()
	for b.Loop() {
		x.do(&queue.Issue{Office: "a", Service: "p"})
		for _, a := range []queue.Action{queue.ActCallNext, queue.ActStart, queue.ActFinish} {
			x.do(&queue.WindowAction{Office: "a", Window: 1, Action: a})
		}
	}
}
