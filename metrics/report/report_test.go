package report

import (
	"reflect"
	"testing"
	"time"

	"github.com/talon-mfc/talon/queue"
	"github.com/talon-mfc/talon/scheduler"
)

func region() *queue.Region {
	hours := map[string]string{}
	for _, d := range []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"} {
		hours[d] = "00:00-24:00"
	}
	return &queue.Region{
		Name:     "test",
		Services: []queue.Service{{ID: "passport", Name: "Паспорт", Letter: "П", AvgMinutes: 20, Bookable: true}},
		Offices: []queue.OfficeConfig{{
			ID: "brn", Name: "Барнаул", Timezone: "Asia/Barnaul", Hours: hours, Services: []string{"passport"},
			Windows: []queue.WindowConfig{{Number: 1, Services: []string{"passport"}, Bookings: true}},
		}},
	}
}

// day drives a state through commands at given times.
type day struct {
	st    *queue.State
	index uint64
}

func (d *day) at(now int64, c queue.Command) queue.Result {
	d.index++
	r := d.st.Apply(c, now, d.index)
	d.st.TakeEvents()
	return r
}

// scriptedDay drives one office through a morning whose figures are worked
// out by hand in TestStatsOfAScriptedDay. t0 is 10:00 in Barnaul; commands
// come in time order (the state's clock never goes back).
func scriptedDay(t *testing.T) (*queue.State, int64) {
	t0 := time.Date(2026, 11, 23, 3, 0, 0, 0, time.UTC).Unix()
	d := &day{st: queue.New(scheduler.FCFS{})} // first come, first served: a call order easy to follow by hand
	r := region()
	r.Services = append(r.Services, queue.Service{ID: "consult", Name: "Консультация", Letter: "К", AvgMinutes: 5})
	r.Offices[0].Services = []string{"passport", "consult"}
	r.Offices[0].Windows = []queue.WindowConfig{{Number: 1, Services: []string{"passport"}, Bookings: true}, {Number: 2, Services: []string{"passport", "consult"}}}
	must := func(res queue.Result) queue.Result {
		t.Helper()
		if res.Err != nil {
			t.Fatal(res.Err)
		}
		return res
	}
	win := func(at int64, n int, a queue.Action) queue.Result {
		t.Helper()
		return must(d.at(t0+at, &queue.WindowAction{Office: "brn", Window: n, Action: a}))
	}
	issue := func(at int64, service string) {
		t.Helper()
		must(d.at(t0+at, &queue.Issue{Office: "brn", Service: service}))
	}
	must(d.at(t0, &queue.SetRegion{Region: r}))
	b := must(d.at(t0, &queue.Book{Office: "brn", Service: "passport", Start: t0 + 1800, Name: "Д", Phone: "79000000004"})).Booking
	win(0, 1, queue.ActOpen)
	win(0, 2, queue.ActOpen)
	issue(0, "passport")  // A
	issue(60, "passport") // B
	issue(120, "consult") // C
	if tk := win(300, 1, queue.ActCallNext).Ticket; tk.Number != "П-001" {
		t.Fatalf("window 1 called %s", tk.Number)
	}
	win(330, 1, queue.ActStart)
	if tk := win(400, 2, queue.ActCallNext).Ticket; tk.Number != "П-002" {
		t.Fatalf("window 2 called %s", tk.Number)
	}
	win(500, 2, queue.ActNoShow)
	if tk := win(500, 2, queue.ActCallNext).Ticket; tk.Number != "К-001" {
		t.Fatalf("window 2 called %s", tk.Number)
	}
	win(520, 2, queue.ActStart)
	win(820, 2, queue.ActFinish)
	win(930, 1, queue.ActFinish)
	must(d.at(t0+1500, &queue.CheckIn{Office: "brn", Booking: b.ID, Start: b.Start})) // D
	if tk := win(2000, 1, queue.ActCallNext).Ticket; tk.Booking != b.ID {
		t.Fatalf("window 1 called %s, not the booking", tk.Number)
	}
	win(2000, 1, queue.ActStart)
	issue(2100, "passport") // E
	win(2900, 1, queue.ActFinish)
	issue(3000, "passport") // F, still waiting at the end
	if tk := win(3300, 2, queue.ActCallNext).Ticket; tk.Number != "П-003" {
		t.Fatalf("window 2 called %s", tk.Number)
	}
	win(3300, 2, queue.ActStart)
	win(3600, 2, queue.ActFinish)
	win(3700, 2, queue.ActClose)
	return d.st, t0
}

func TestStatsOfAScriptedDay(t *testing.T) {
	st, t0 := scriptedDay(t)
	services, windows := Stats(st.Reader(), nil, "brn", t0-3600, t0+7200, t0+4000)
	wantServices := []ServiceStats{
		// consult: C waited 380 s, served 300 s.
		{Office: "brn", Service: "consult", Tickets: 1, Called: 1, Within15: 1, MeanWait: 380, P90Wait: 380, Served: 1, MeanService: 300},
		// passport: A 300 s, B 340 s (no-show), D 500 s (booked, called 200 s after its slot), E 1200 s; F waits.
		// Within 15 min 3/4; mean wait 2340/4; p90 by nearest rank the 4th of 4; served A 600, D 900, E 300.
		{Office: "brn", Service: "passport", Tickets: 5, Called: 4, Within15: 0.75, Booked: 1, BookedOnTime: 1, MeanWait: 585, P90Wait: 1200,
			NoShows: 1, NoShowRate: 0.25, Served: 3, MeanService: 600, StillWaiting: 1},
	}
	if len(services) != len(wantServices) {
		t.Fatalf("%d service rows", len(services))
	}
	for i, want := range wantServices {
		got := services[i]
		got.wait, got.service = nil, nil
		if !reflect.DeepEqual(got, want) {
			t.Errorf("service row %d:\n got %+v\nwant %+v", i, got, want)
		}
	}
	wantWindows := []WindowStats{
		// Window 1: called A and D, served both (600 + 900 s), open from t0 until now (4000 s).
		{Office: "brn", Window: 1, Called: 2, Served: 2, MeanService: 750, OpenSeconds: 4000, BusySeconds: 1500, Occupancy: 0.375},
		// Window 2: called B, C and E, served C and E (300 s each), open from t0 until closed at t0+3700.
		{Office: "brn", Window: 2, Called: 3, Served: 2, MeanService: 300, OpenSeconds: 3700, BusySeconds: 600, Occupancy: 0.1622},
	}
	for i, want := range wantWindows {
		got := windows[i]
		got.service = nil
		if !reflect.DeepEqual(got, want) {
			t.Errorf("window row %d:\n got %+v\nwant %+v", i, got, want)
		}
	}

	// A period before anything happened has nothing in it.
	services, windows = Stats(st.Reader(), nil, "brn", t0-7200, t0-3600, t0+4000)
	if services[1].Tickets != 0 || windows[0].OpenSeconds != 0 || windows[0].Called != 0 {
		t.Errorf("an empty period: %+v %+v", services, windows)
	}
}

func TestHistoryAndRecords(t *testing.T) {
	st, t0 := scriptedDay(t)
	pts := History(st.Reader(), "brn", t0+3900)
	if len(pts) != 288 || pts[287].At != t0+3900 {
		t.Fatalf("%d points, last at %d", len(pts), pts[len(pts)-1].At-t0)
	}
	at := func(rel int64) Point {
		for _, p := range pts {
			if p.At == t0+rel {
				return p
			}
		}
		t.Fatalf("no point at t0%+d", rel)
		return Point{}
	}
	// At t0+300 A has just been called; B and C wait. At t0+3000 E waits and
	// F has just arrived.
	for rel, want := range map[int64]Point{
		300:  {At: t0 + 300, Waiting: 2, Issued: 2, Called: 1},
		3000: {At: t0 + 3000, Waiting: 2, Issued: 1, Called: 0},
		3300: {At: t0 + 3300, Waiting: 1, Issued: 0, Called: 1},
		-600: {At: t0 - 600},
	} {
		if got := at(rel); got != want {
			t.Errorf("point at t0%+d: got %+v, want %+v", rel, got, want)
		}
	}

	recs := Records(st.Reader(), nil, "brn", t0-3600, t0+7200)
	var numbers, sources, outcomes []string
	for _, r := range recs {
		numbers, sources, outcomes = append(numbers, r.Number), append(sources, r.Source), append(outcomes, r.Outcome)
	}
	want := []string{"П-001", "П-002", "К-001", "ПЗ-001", "П-003", "П-004"}
	if len(recs) != 6 || recs[3].Source != "booking" || recs[3].Booking == "" || recs[1].Outcome != "no_show" || recs[5].Outcome != "waiting" {
		t.Fatalf("records: %v %v %v", numbers, sources, outcomes)
	}
	for i, n := range want {
		if recs[i].Number != n && !(i == 3 && recs[i].Source == "booking") {
			t.Errorf("record %d is %s, want %s", i, recs[i].Number, n)
		}
	}
	if recs[0].WaitS != 300 || recs[0].ServiceS != 600 || recs[3].WaitS != 500 {
		t.Errorf("record times: %+v %+v", recs[0], recs[3])
	}
}
