// Package sim is a discrete-event simulation of office days. It drives the
// real queue.State through the same commands the API sends (book, issue,
// check in, open, call next, start, finish, no-show, pause), with the
// calling policy under test, and reports the day as the statistics API
// would, plus the error of each wait estimator.
package sim

import (
	"cmp"
	"container/heap"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/talon-mfc/talon/metrics/report"
	"github.com/talon-mfc/talon/queue"
	"github.com/talon-mfc/talon/scheduler"
)

// Scenario describes an office and the applicants of a day.
type Scenario struct {
	Name     string        `yaml:"name"`
	Days     int           `yaml:"days"`  // simulated days (default 20)
	Open     string        `yaml:"open"`  // "09:00"
	Close    string        `yaml:"close"` // "18:00": no arrivals after; windows serve who waits
	Services []ServiceSpec `yaml:"services"`
	Windows  []WindowSpec  `yaml:"windows"`
	// Arrivals of walk-ins per hour over the day (piecewise constant).
	Arrivals []Rate `yaml:"arrivals"`
	// Booked visits per day (spread over the open hours' slots of bookable
	// services, in the services' shares), their punctuality, and no-shows.
	BookedPerDay  int     `yaml:"booked_per_day"`
	EarlyMinutes  float64 `yaml:"early_minutes"`    // booked applicants arrive this much before the slot on average
	EarlySD       float64 `yaml:"early_sd_minutes"` // spread (normal), clipped to the check-in window
	NoShowBooked  float64 `yaml:"no_show_booked"`   // share of booked applicants who never come
	NoShowWalkIn  float64 `yaml:"no_show_walk_in"`  // share of walk-ins gone when called
	PriorityShare float64 `yaml:"priority_share"`   // share of walk-ins in a priority category
	// Plan, when given, staffs the windows by the hour (a staffing plan,
	// scheduler/staffing): from each shift's start until the next one's, the
	// shift's windows are open; a window leaving the plan closes after its
	// current applicant. The windows' breaks are then left out (the plan's
	// hours are staffed ones). Arrivals still stop at closing, and the last
	// shift serves who waits.
	Plan []Shift `yaml:"plan"`
	// KioskCloses has the kiosk refuse walk-ins it forecasts past the last
	// call (closing_soon), who then go home; by default they are issued by
	// hand, so that the policies meet the same crowd.
	KioskCloses bool `yaml:"kiosk_closes"`
	// WarmupMinutes leaves out of the figures the applicants who arrive this
	// soon after opening (for steady-state checks; 0 for real days).
	WarmupMinutes int `yaml:"warmup_minutes"`
}

// RegionScenario is several offices whose applicants either go to their
// nearest office (the office whose arrivals they are) or ask talon's
// recommendation and go to another office when its expected wait, plus the
// trip, is shorter.
type RegionScenario struct {
	Name          string     `yaml:"name"`
	Days          int        `yaml:"days"`
	TravelMinutes int        `yaml:"travel_minutes"` // to an office other than one's nearest
	Offices       []Scenario `yaml:"offices"`        // each office's name is its id
}

// ServiceSpec is a service: its share of walk-ins and its service time,
// log-normal with the given mean and shape (0: exponential).
type ServiceSpec struct {
	ID          string  `yaml:"id"`
	Letter      string  `yaml:"letter"`
	Share       float64 `yaml:"share"`
	MeanMinutes float64 `yaml:"mean_minutes"`
	Sigma       float64 `yaml:"sigma"`
	Bookable    bool    `yaml:"bookable"`
}

// WindowSpec is a window, its skills, and its breaks.
type WindowSpec struct {
	Number   int      `yaml:"number"`
	Services []string `yaml:"services"`
	Bookings bool     `yaml:"bookings"`
	Breaks   []Span   `yaml:"breaks"`
}

// Shift is a staffing plan's period: from From ("09:00") on, Windows are open.
type Shift struct {
	From    string `yaml:"from"`
	Windows []int  `yaml:"windows"`
}

// Span is a local time interval, "13:00"–"14:00".
type Span struct {
	From string `yaml:"from"`
	To   string `yaml:"to"`
}

// Rate is a walk-in arrival rate over a time of day; Shares, when given,
// are the services' shares of it then (else the services' own).
type Rate struct {
	Span    `yaml:",inline"`
	PerHour float64            `yaml:"per_hour"`
	Shares  map[string]float64 `yaml:"shares"`
}

// Report is what a simulation found.
type Report struct {
	Scenario  string
	Policy    string
	Days      int
	Tickets   int
	Within15  float64 // share of called applicants who waited at most 15 minutes
	BookedOn  float64 // share of booked applicants called within 5 minutes of their slot
	MeanWait  float64 // seconds
	P90Wait   float64
	MaxWait   float64
	Occupancy float64 // busy / open over all windows
	// WindowHours is the windows' open time per day, hours; Hours the
	// called applicants and those within 15 minutes by the local hour
	// they arrived in.
	WindowHours float64
	Hours       [24]HourStat
	ByService   map[string]*[24]HourStat // the same per service
	TurnedAway  int                      // walk-ins the kiosk refused near closing (KioskCloses)
	Estimators  map[string]EstimateError
}

// HourStat counts the applicants who arrived in one hour of the day.
type HourStat struct{ Called, Within int }

// EstimateError is how far an estimator's promise at issue was from the
// real wait, in seconds.
type EstimateError struct {
	MAE, P90 float64
	N        int
}

// Estimator predicts, at the moment a ticket joins the queue, its wait in
// seconds.
type Estimator func(v View) float64

// View is what an estimator sees when a ticket joins the queue.
type View struct {
	Office   *queue.Office
	Ticket   *queue.Ticket
	Now      int64
	LastWait map[string]int64 // per service, the wait of the last applicant called
}

var day0 = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC) // a Monday

// Run simulates one office under policy with the seed; estimators are
// scored against the real waits (the policy's own estimate is "policy").
func Run(sc Scenario, policy queue.Policy, name string, seed uint64, estimators map[string]Estimator) (*Report, error) {
	sc.Name, sc.Days = cmpOr(sc.Name, "sim"), cmpOr(sc.Days, 20)
	return RunRegion(RegionScenario{Name: sc.Name, Days: sc.Days, Offices: []Scenario{sc}}, policy, name, seed, estimators, false)
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// RunRegion simulates a region of offices; with recommend, walk-ins follow
// talon's office recommendation (scheduler.Recommend).
func RunRegion(rs RegionScenario, policy queue.Policy, name string, seed uint64, estimators map[string]Estimator, recommend bool) (*Report, error) {
	rs.Days = cmpOr(rs.Days, 20)
	r := &runner{rs: rs, policy: policy, recommend: recommend, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), st: queue.New(policy),
		est: estimators, errs: map[string][]float64{}, promised: map[uint64]map[string]float64{}, noShow: map[uint64]bool{}, duration: map[uint64]int64{},
		lastWait: map[string]map[string]int64{}}
	for i, sc := range rs.Offices {
		open, err1 := clock(sc.Open)
		closeAt, err2 := clock(sc.Close)
		if err1 != nil || err2 != nil || closeAt <= open || sc.Name == "" {
			return nil, fmt.Errorf("scenario %s: office %d needs a name, and open and close as HH:MM, open first", rs.Name, i+1)
		}
		r.hours = append(r.hours, [2]int{open, closeAt})
	}
	if err := r.apply(day0.Unix()-86400, &queue.SetRegion{Region: r.region()}); err != nil {
		return nil, err
	}
	for d := range rs.Days {
		if err := r.day(day0.AddDate(0, 0, d)); err != nil {
			return nil, err
		}
	}
	rep := &Report{Scenario: rs.Name, Policy: name, Days: rs.Days, Estimators: map[string]EstimateError{}, TurnedAway: r.turnedAway, ByService: map[string]*[24]HourStat{}}
	var waits []float64
	var called, within, booked, onTime int
	for _, t := range r.st.Tickets {
		i := r.officeIndex(t.Office)
		if t.RedirectedFrom != 0 || (t.ArrivedAt-day0.Unix())%86400 < int64(r.hours[i][0]+rs.Offices[i].WarmupMinutes)*60 {
			continue
		}
		rep.Tickets++
		if t.CalledAt == 0 {
			continue
		}
		wait := float64(t.CalledAt - t.ArrivedAt)
		waits, called = append(waits, wait), called+1
		hour := (t.ArrivedAt - day0.Unix()) % 86400 / 3600
		if rep.ByService[t.Service] == nil {
			rep.ByService[t.Service] = &[24]HourStat{}
		}
		for _, h := range []*HourStat{&rep.Hours[hour], &rep.ByService[t.Service][hour]} {
			h.Called++
			if wait <= 900 {
				h.Within++
			}
		}
		rep.MeanWait += wait
		rep.MaxWait = max(rep.MaxWait, wait)
		if wait <= 900 {
			within++
		}
		if t.Booking != 0 {
			booked++
			if t.CalledAt-t.SlotStart <= 300 {
				onTime++
			}
		}
	}
	rep.MeanWait /= math.Max(1, float64(called))
	rep.Within15, rep.BookedOn, rep.P90Wait = ratio(within, called), ratio(onTime, booked), report.NearestRank(waits, 0.9)
	end := day0.AddDate(0, 0, rs.Days).Unix()
	var busy, opened int64
	for _, sc := range rs.Offices {
		_, windows := report.Stats(r.st.Reader(), nil, sc.Name, day0.Unix(), end, end)
		for _, w := range windows {
			busy, opened = busy+w.BusySeconds, opened+w.OpenSeconds
		}
	}
	rep.Occupancy = ratio(int(busy), int(opened))
	rep.WindowHours = float64(opened) / 3600 / float64(rs.Days)
	for name, errs := range r.errs {
		sum := 0.0
		for _, e := range errs {
			sum += e
		}
		rep.Estimators[name] = EstimateError{MAE: sum / math.Max(1, float64(len(errs))), P90: report.NearestRank(errs, 0.9), N: len(errs)}
	}
	return rep, nil
}

type runner struct {
	rs         RegionScenario
	hours      [][2]int // per office: open and close, minutes from midnight
	policy     queue.Policy
	recommend  bool
	turnedAway int
	rng        *rand.Rand
	st         *queue.State
	index      uint64
	now        int64
	events     eventHeap
	seq        int
	est        map[string]Estimator
	errs       map[string][]float64
	promised   map[uint64]map[string]float64 // ticket → estimator → promised wait
	noShow     map[uint64]bool               // tickets whose applicant is gone when called
	duration   map[uint64]int64              // tickets' service times
	idle       map[wkey]bool                 // windows open with nobody to call
	breakDue   map[wkey]int64                // windows to take a break (of this length) once their applicant is done
	closeDue   map[wkey]bool                 // windows the plan closes once their applicant is done
	lastWait   map[string]map[string]int64   // office → service → the wait of the last applicant called
	closed     map[int]bool                  // offices whose day's arrivals are over
}

// wkey is a window of an office (by index).
type wkey struct{ office, n int }

func (r *runner) officeIndex(id string) int {
	for i, sc := range r.rs.Offices {
		if sc.Name == id {
			return i
		}
	}
	return -1
}

func (r *runner) region() *queue.Region {
	reg := &queue.Region{Name: r.rs.Name, Rules: queue.Rules{HorizonDays: 30},
		Categories: []queue.Category{{ID: "priority", Name: "Льготная категория", Priority: 10}}}
	known := map[string]bool{}
	for _, sc := range r.rs.Offices {
		hours := map[string]string{}
		for _, d := range []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"} {
			hours[d] = sc.Open + "-" + sc.Close
		}
		oc := queue.OfficeConfig{ID: sc.Name, Name: sc.Name, Timezone: "UTC", Hours: hours}
		for _, s := range sc.Services {
			if !known[s.ID] {
				known[s.ID] = true
				reg.Services = append(reg.Services, queue.Service{ID: s.ID, Name: s.ID, Letter: s.Letter, AvgMinutes: max(1, int(math.Round(s.MeanMinutes))), Bookable: s.Bookable})
			}
			oc.Services = append(oc.Services, s.ID)
		}
		for _, w := range sc.Windows {
			oc.Windows = append(oc.Windows, queue.WindowConfig{Number: w.Number, Services: w.Services, Bookings: w.Bookings})
		}
		reg.Offices = append(reg.Offices, oc)
	}
	return reg
}

func (r *runner) apply(now int64, c queue.Command) error {
	_, err := r.do(now, c)
	return err
}

func (r *runner) do(now int64, c queue.Command) (queue.Result, error) {
	r.index++
	res := r.st.Apply(c, now, r.index)
	r.st.TakeEvents()
	if res.Err != nil {
		return res, fmt.Errorf("%T%+v at %s: %s", c, c, time.Unix(now, 0).UTC().Format(time.DateTime), res.Err.Message)
	}
	return res, nil
}

// Event kinds of the simulation.
const (
	evWalkIn = iota
	evCheckIn
	evFree    // a window looks for its next applicant
	evFinish  // service ends
	evNoShow  // the operator gives up on a called applicant
	evBreak   // a window's break starts
	evBackEnd // a window's break ends
	evClose   // arrivals end
	evOpen    // the windows open
	evShift   // a staffing plan's shift begins (window: its index)
)

type event struct {
	at, seq int64
	kind    int
	office  int // index in the scenario's offices
	window  int
	service string
	booking *queue.Booking
	prio    bool
	length  int64 // of a break, seconds
	// Drawn when the applicant is generated, so every policy meets the same
	// applicants with the same service times (common random numbers).
	duration int64
	gone     bool // not there when called
	moved    bool // went to a recommended office already
}

type eventHeap []event

func (h eventHeap) Len() int { return len(h) }
func (h eventHeap) Less(i, j int) bool {
	return h[i].at < h[j].at || h[i].at == h[j].at && h[i].seq < h[j].seq
}
func (h eventHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *eventHeap) Push(x any)   { *h = append(*h, x.(event)) }
func (h *eventHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

func (r *runner) at(e event) {
	r.seq++
	e.seq = int64(r.seq)
	heap.Push(&r.events, e)
}

// day runs one day: bookings made the evening before, walk-ins by the
// arrival rates, windows opened at opening time, breaks, and service until
// the queue is empty after closing.
func (r *runner) day(d time.Time) error {
	base := d.Unix()
	r.idle, r.closed, r.breakDue, r.closeDue = map[wkey]bool{}, map[int]bool{}, map[wkey]int64{}, map[wkey]bool{}
	for i, sc := range r.rs.Offices {
		open, closeAt := r.hours[i][0], r.hours[i][1]
		if len(sc.Plan) == 0 {
			r.at(event{at: base + int64(open)*60, kind: evOpen, office: i})
		}
		for j, sh := range sc.Plan {
			from, _ := clock(sh.From)
			r.at(event{at: base + int64(max(from, open))*60, kind: evShift, office: i, window: j})
		}
		if err := r.book(i, base); err != nil {
			return err
		}
		for _, w := range sc.Windows {
			if len(sc.Plan) > 0 {
				break // the plan's hours are staffed: no breaks
			}
			for _, b := range w.Breaks {
				from, _ := clock(b.From)
				to, _ := clock(b.To)
				r.at(event{at: base + int64(from)*60, kind: evBreak, office: i, window: w.Number, length: int64(to-from) * 60})
			}
		}
		r.walkIns(i, base)
		r.at(event{at: base + int64(closeAt)*60 - 1, kind: evClose, office: i})
	}
	for r.events.Len() > 0 {
		e := heap.Pop(&r.events).(event)
		r.now = max(r.now, e.at)
		if r.st.Due(r.now) { // what the leader's ticker does: rollover at midnight, expired holds
			if err := r.apply(r.now, &queue.Tick{}); err != nil {
				return err
			}
		}
		if err := r.handle(e); err != nil {
			return err
		}
	}
	return nil
}

// book makes the day's booked visits the evening before, and schedules
// their arrivals.
func (r *runner) book(i int, base int64) error {
	sc, open, closeAt := r.rs.Offices[i], r.hours[i][0], r.hours[i][1]
	var bookable []ServiceSpec
	total := 0.0
	for _, s := range sc.Services {
		if s.Bookable {
			bookable, total = append(bookable, s), total+s.Share
		}
	}
	if len(bookable) == 0 || sc.BookedPerDay == 0 {
		return nil
	}
	slots := (closeAt - open) / 15
	for k := range sc.BookedPerDay {
		s := pick(r.rng, bookable, total)
		// The applicant asks for a slot; when it is taken they take the
		// next one with window time left that day, as the portal offers,
		// and go elsewhere when there is none.
		var res queue.Result
		var err error
		for j := (k * slots / sc.BookedPerDay) % slots; j < slots; j++ {
			start := base + int64(open)*60 + int64(j)*900
			res, err = r.do(base-6*3600, &queue.Book{Office: sc.Name, Service: s.ID, Start: start, Name: "Заявитель", Phone: fmt.Sprintf("7900%07d", r.index%10_000_000)})
			if err == nil || res.Err == nil || res.Err.Code != queue.CodeSlotTaken && res.Err.Code != queue.CodeOfficeClosed {
				break
			}
		}
		if err != nil {
			continue
		}
		start := res.Booking.Start
		gone := r.rng.Float64() < sc.NoShowBooked
		early := r.rng.NormFloat64()*sc.EarlySD + sc.EarlyMinutes
		early = math.Max(-14, math.Min(29, early))
		duration := serviceTime(r.rng, s)
		if gone {
			continue
		}
		r.at(event{at: max(start-int64(early*60), base+int64(open)*60), kind: evCheckIn, office: i, booking: res.Booking, duration: duration})
	}
	return nil
}

// walkIns schedules the day's walk-ins: a Poisson process whose rate
// changes with the time of day.
func (r *runner) walkIns(i int, base int64) {
	sc, open, closeAt := r.rs.Offices[i], r.hours[i][0], r.hours[i][1]
	total := 0.0
	for _, s := range sc.Services {
		total += s.Share
	}
	for _, rate := range sc.Arrivals {
		from, _ := clock(rate.From)
		to, _ := clock(rate.To)
		from, to = max(from, open), min(to, closeAt)
		if rate.PerHour <= 0 || to <= from {
			continue
		}
		specs, total := sc.Services, total
		if rate.Shares != nil {
			specs, total = slices.Clone(sc.Services), 0
			for j := range specs {
				specs[j].Share = rate.Shares[specs[j].ID]
				total += specs[j].Share
			}
		}
		t := float64(from) * 60
		for {
			t += r.rng.ExpFloat64() * 3600 / rate.PerHour
			if t >= float64(to)*60 {
				break
			}
			s := pick(r.rng, specs, total)
			r.at(event{at: base + int64(t), kind: evWalkIn, office: i, service: s.ID, prio: r.rng.Float64() < sc.PriorityShare,
				gone: r.rng.Float64() < sc.NoShowWalkIn, duration: serviceTime(r.rng, s)})
		}
	}
}

func pick(rng *rand.Rand, specs []ServiceSpec, total float64) ServiceSpec {
	x := rng.Float64() * total
	for _, s := range specs {
		if x -= s.Share; x < 0 {
			return s
		}
	}
	return specs[len(specs)-1]
}

func (r *runner) handle(e event) error {
	switch e.kind {
	case evWalkIn, evCheckIn:
		if r.closed[e.office] && e.kind == evWalkIn {
			return nil
		}
		if e.kind == evWalkIn && r.recommend && !e.moved && r.elsewhere(&e) {
			return nil
		}
		var res queue.Result
		var err error
		id := r.rs.Offices[e.office].Name
		if e.kind == evWalkIn {
			cat := ""
			if e.prio {
				cat = "priority"
			}
			// Force: the simulated crowd is served whatever the hour, so
			// the policies meet the same applicants; the kiosk's closing
			// rule (closing_soon) is measured on its own (SIMULATION.md).
			res, err = r.do(r.now, &queue.Issue{Office: id, Service: e.service, Category: cat, Force: !r.rs.Offices[e.office].KioskCloses})
		} else {
			res, err = r.do(r.now, &queue.CheckIn{Office: id, Booking: e.booking.ID, Start: e.booking.Start})
		}
		if err != nil {
			if res.Err != nil && res.Err.Code == queue.CodeClosingSoon {
				r.turnedAway++
			}
			return nil // e.g. a check-in outside the allowed window: the applicant goes home
		}
		r.noShow[res.Ticket.ID], r.duration[res.Ticket.ID] = e.gone, e.duration
		r.promise(res.Ticket)
		for _, w := range slices.SortedFunc(maps.Keys(r.idle), func(a, b wkey) int { return cmp.Or(a.office-b.office, a.n-b.n) }) {
			if w.office == e.office { // in order: the same seed gives the same day
				delete(r.idle, w)
				r.at(event{at: r.now, kind: evFree, office: w.office, window: w.n})
			}
		}
	case evFree:
		return r.callNext(wkey{e.office, e.window})
	case evFinish, evNoShow:
		// After midnight the day's rollover has already ended the ticket
		// (it expired): then there is nothing to finish.
		act := map[int]queue.Action{evFinish: queue.ActFinish, evNoShow: queue.ActNoShow}[e.kind]
		if res, err := r.do(r.now, &queue.WindowAction{Office: r.rs.Offices[e.office].Name, Window: e.window, Action: act}); err != nil && res.Err.Code != queue.CodeNoCurrentTicket {
			return err
		}
		return r.callNext(wkey{e.office, e.window})
	case evBreak:
		k := wkey{e.office, e.window}
		w := r.window(k)
		if w.State != queue.WindowOpen {
			return nil
		}
		if w.Current != 0 { // after the current applicant
			r.breakDue[k] = e.length
			return nil
		}
		return r.pause(k, e.length)
	case evBackEnd:
		k := wkey{e.office, e.window}
		if r.window(k).State == queue.WindowPaused {
			if err := r.apply(r.now, &queue.WindowAction{Office: r.rs.Offices[e.office].Name, Window: e.window, Action: queue.ActOpen}); err != nil {
				return err
			}
			return r.callNext(k)
		}
	case evClose:
		r.closed[e.office] = true
	case evOpen:
		sc := r.rs.Offices[e.office]
		for _, w := range sc.Windows {
			if err := r.apply(r.now, &queue.WindowAction{Office: sc.Name, Window: w.Number, Action: queue.ActOpen}); err != nil {
				return err
			}
			r.at(event{at: r.now, kind: evFree, office: e.office, window: w.Number})
		}
	case evShift:
		return r.shift(e.office, r.rs.Offices[e.office].Plan[e.window].Windows)
	}
	return nil
}

// shift opens the windows of a plan's shift and closes the others, each
// after its current applicant.
func (r *runner) shift(office int, windows []int) error {
	for _, w := range r.rs.Offices[office].Windows {
		k := wkey{office, w.Number}
		in := slices.Contains(windows, w.Number)
		state := r.window(k).State
		switch {
		case in && state != queue.WindowOpen:
			if _, err := r.windowDo(k, queue.ActOpen); err != nil {
				return err
			}
			r.at(event{at: r.now, kind: evFree, office: office, window: w.Number})
		case in:
			delete(r.closeDue, k) // staying after all
		case state == queue.WindowOpen && r.window(k).Current != 0:
			r.closeDue[k] = true
		case state == queue.WindowOpen:
			delete(r.idle, k)
			if _, err := r.windowDo(k, queue.ActClose); err != nil {
				return err
			}
		}
	}
	return nil
}

func (r *runner) window(k wkey) *queue.Window {
	return r.st.Offices[r.rs.Offices[k.office].Name].Window(k.n)
}

// windowDo runs a window action.
func (r *runner) windowDo(k wkey, a queue.Action) (queue.Result, error) {
	return r.do(r.now, &queue.WindowAction{Office: r.rs.Offices[k.office].Name, Window: k.n, Action: a})
}

// pause starts window k's break of length seconds.
func (r *runner) pause(k wkey, length int64) error {
	delete(r.idle, k)
	delete(r.breakDue, k)
	r.at(event{at: r.now + length, kind: evBackEnd, office: k.office, window: k.n})
	_, err := r.windowDo(k, queue.ActPause)
	return err
}

// callNext has window k call the policy's pick, or wait for an arrival; a
// window whose break is due takes it first.
func (r *runner) callNext(k wkey) error {
	w := r.window(k)
	if w.State != queue.WindowOpen || w.Current != 0 {
		return nil
	}
	if length := r.breakDue[k]; length > 0 {
		return r.pause(k, length)
	}
	if r.closeDue[k] {
		delete(r.closeDue, k)
		_, err := r.windowDo(k, queue.ActClose)
		return err
	}
	res, err := r.windowDo(k, queue.ActCallNext)
	if err != nil {
		return err
	}
	t := res.Ticket
	if t == nil && r.closed[k.office] {
		_, err := r.windowDo(k, queue.ActClose) // the day's work is done
		return err
	}
	if t == nil {
		r.idle[k] = true
		return nil
	}
	r.score(t)
	if r.noShow[t.ID] {
		r.at(event{at: r.now + 120, kind: evNoShow, office: k.office, window: k.n})
		return nil
	}
	if _, err := r.windowDo(k, queue.ActStart); err != nil {
		return err
	}
	r.at(event{at: r.now + r.duration[t.ID], kind: evFinish, office: k.office, window: k.n})
	return nil
}

// elsewhere sends a walk-in to another office when talon recommends one
// whose expected wait plus the trip beats the nearest office's; it reports
// whether the applicant left.
func (r *runner) elsewhere(e *event) bool {
	here := r.rs.Offices[e.office].Name
	recs := scheduler.Recommend(r.st.Reader(), r.policy, e.service, r.now)
	var hereWait int64 = -1
	for _, rec := range recs {
		if rec.Office == here {
			hereWait = rec.EstWait
		}
	}
	travel := int64(r.rs.TravelMinutes) * 60
	for _, rec := range recs {
		if !rec.Open || rec.Office == here {
			continue
		}
		if hereWait >= 0 && rec.EstWait+travel >= hereWait {
			return false
		}
		moved := *e
		moved.office, moved.moved, moved.at = r.officeIndex(rec.Office), true, r.now+travel
		r.at(moved)
		return true
	}
	return false
}

// serviceTime draws a service time in seconds: log-normal with the
// service's mean, or exponential when its shape is 0.
func serviceTime(rng *rand.Rand, s ServiceSpec) int64 {
	mean := s.MeanMinutes * 60
	if s.Sigma <= 0 {
		return max(1, int64(rng.ExpFloat64()*mean))
	}
	mu := math.Log(mean) - s.Sigma*s.Sigma/2
	return max(1, int64(math.Exp(mu+s.Sigma*rng.NormFloat64())))
}

// promise records what each estimator promises a ticket as it joins.
func (r *runner) promise(t *queue.Ticket) {
	o := r.st.Offices[t.Office]
	p := map[string]float64{"policy": float64(t.EstWait)}
	v := View{Office: o, Ticket: r.st.Tickets[t.ID], Now: r.now, LastWait: r.lastWait[t.Office]}
	for name, est := range r.est {
		p[name] = est(v)
	}
	r.promised[t.ID] = p
}

// score compares the promises with the real wait, once a ticket is called.
func (r *runner) score(t *queue.Ticket) {
	if r.lastWait[t.Office] == nil {
		r.lastWait[t.Office] = map[string]int64{}
	}
	r.lastWait[t.Office][t.Service] = t.CalledAt - t.ArrivedAt
	p := r.promised[t.ID]
	if p == nil {
		return
	}
	wait := float64(t.CalledAt - t.ArrivedAt)
	for name, v := range p {
		r.errs[name] = append(r.errs[name], math.Abs(v-wait))
	}
	delete(r.promised, t.ID)
}

func clock(s string) (int, error) {
	t, err := time.Parse("15:04", s)
	if err != nil {
		return 0, err
	}
	return t.Hour()*60 + t.Minute(), nil
}

func ratio(n, d int) float64 {
	if d == 0 {
		return 0
	}
	return float64(n) / float64(d)
}
