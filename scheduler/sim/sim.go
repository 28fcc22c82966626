// Package sim is a discrete-event simulation of office days. It drives the
// real queue.State through the same commands the API sends (book, issue,
// check in, open, call next, start, finish, no-show, pause), with the
// calling policy under test, and reports the day as the statistics API
// would, plus the error of each wait estimator.
package sim

import (
	"container/heap"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/talon-mfc/talon/metrics"
	"github.com/talon-mfc/talon/queue"
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
	// WarmupMinutes leaves out of the figures the applicants who arrive this
	// soon after opening (for steady-state checks; 0 for real days).
	WarmupMinutes int `yaml:"warmup_minutes"`
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

// Span is a local time interval, "13:00"–"14:00".
type Span struct {
	From string `yaml:"from"`
	To   string `yaml:"to"`
}

// Rate is a walk-in arrival rate over a time of day.
type Rate struct {
	Span    `yaml:",inline"`
	PerHour float64 `yaml:"per_hour"`
}

// Report is what a simulation found.
type Report struct {
	Scenario   string
	Policy     string
	Days       int
	Tickets    int
	Within15   float64 // share of called applicants who waited at most 15 minutes
	BookedOn   float64 // share of booked applicants called within 5 minutes of their slot
	MeanWait   float64 // seconds
	P90Wait    float64
	MaxWait    float64
	Occupancy  float64 // busy / open over all windows
	Estimators map[string]EstimateError
}

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

const office = "sim"

var day0 = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC) // a Monday

// Run simulates the scenario under policy with the seed; estimators are
// scored against the real waits (the policy's own estimate is "policy").
func Run(sc Scenario, policy queue.Policy, name string, seed uint64, estimators map[string]Estimator) (*Report, error) {
	if sc.Days <= 0 {
		sc.Days = 20
	}
	open, err1 := clock(sc.Open)
	closeAt, err2 := clock(sc.Close)
	if err1 != nil || err2 != nil || closeAt <= open {
		return nil, fmt.Errorf("scenario %s: open and close must be HH:MM, open first", sc.Name)
	}
	r := &runner{sc: sc, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), st: queue.New(policy),
		est: estimators, errs: map[string][]float64{}, promised: map[uint64]map[string]float64{}, noShow: map[uint64]bool{}, duration: map[uint64]int64{},
		spec: map[string]ServiceSpec{}, lastWait: map[string]int64{}}
	for _, s := range sc.Services {
		r.spec[s.ID] = s
	}
	if err := r.apply(day0.Unix()-86400, queue.Command{Kind: queue.KindSetRegion, Region: r.region()}); err != nil {
		return nil, err
	}
	for d := range sc.Days {
		if err := r.day(day0.AddDate(0, 0, d), open, closeAt); err != nil {
			return nil, err
		}
	}
	rep := &Report{Scenario: sc.Name, Policy: name, Days: sc.Days, Estimators: map[string]EstimateError{}}
	var waits []float64
	var called, within, booked, onTime int
	for _, t := range r.st.Tickets {
		if t.RedirectedFrom != 0 || (t.ArrivedAt-day0.Unix())%86400 < int64(open+sc.WarmupMinutes)*60 {
			continue
		}
		rep.Tickets++
		if t.CalledAt == 0 {
			continue
		}
		wait := float64(t.CalledAt - t.ArrivedAt)
		waits, called = append(waits, wait), called+1
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
	rep.Within15, rep.BookedOn, rep.P90Wait = ratio(within, called), ratio(onTime, booked), quantile(waits, 0.9)
	end := day0.AddDate(0, 0, sc.Days).Unix()
	_, windows := metrics.Stats(r.st, office, day0.Unix(), end, end)
	var busy, opened int64
	for _, w := range windows {
		busy, opened = busy+w.BusySeconds, opened+w.OpenSeconds
	}
	rep.Occupancy = ratio(int(busy), int(opened))
	for name, errs := range r.errs {
		sum := 0.0
		for _, e := range errs {
			sum += e
		}
		rep.Estimators[name] = EstimateError{MAE: sum / math.Max(1, float64(len(errs))), P90: quantile(errs, 0.9), N: len(errs)}
	}
	return rep, nil
}

type runner struct {
	sc       Scenario
	rng      *rand.Rand
	st       *queue.State
	index    uint64
	now      int64
	events   eventHeap
	seq      int
	est      map[string]Estimator
	errs     map[string][]float64
	promised map[uint64]map[string]float64 // ticket → estimator → promised wait
	noShow   map[uint64]bool               // tickets whose applicant is gone when called
	duration map[uint64]int64              // tickets' service times
	spec     map[string]ServiceSpec
	idle     map[int]bool  // windows open with nobody to call
	breakDue map[int]int64 // windows to take a break (of this length) once their applicant is done
	lastWait map[string]int64
	closed   bool // the day's arrivals are over
}

func (r *runner) region() *queue.Region {
	hours := map[string]string{}
	for _, d := range []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"} {
		hours[d] = r.sc.Open + "-" + r.sc.Close
	}
	reg := &queue.Region{Name: r.sc.Name, Rules: queue.Rules{HorizonDays: 30},
		Categories: []queue.Category{{ID: "priority", Name: "Льготная категория", Priority: 10}}}
	oc := queue.OfficeConfig{ID: office, Name: r.sc.Name, Timezone: "UTC", Hours: hours}
	for _, s := range r.sc.Services {
		reg.Services = append(reg.Services, queue.Service{ID: s.ID, Name: s.ID, Letter: s.Letter, AvgMinutes: max(1, int(math.Round(s.MeanMinutes))), Bookable: s.Bookable})
		oc.Services = append(oc.Services, s.ID)
	}
	for _, w := range r.sc.Windows {
		oc.Windows = append(oc.Windows, queue.WindowConfig{Number: w.Number, Services: w.Services, Bookings: w.Bookings})
	}
	reg.Offices = []queue.OfficeConfig{oc}
	return reg
}

func (r *runner) apply(now int64, c queue.Command) error {
	_, err := r.do(now, c)
	return err
}

func (r *runner) do(now int64, c queue.Command) (queue.Result, error) {
	r.index++
	c.Office = office
	res := r.st.Apply(&c, now, r.index)
	r.st.TakeEvents()
	if res.Err != nil {
		return res, fmt.Errorf("%s at %s: %s", kindName(c), time.Unix(now, 0).UTC().Format(time.DateTime), res.Err.Message)
	}
	return res, nil
}

func kindName(c queue.Command) string { return fmt.Sprintf("command %d/%d", c.Kind, c.Action) }

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
)

type event struct {
	at, seq int64
	kind    int
	window  int
	service string
	booking *queue.Booking
	prio    bool
	length  int64 // of a break, seconds
	// Drawn when the applicant is generated, so every policy meets the same
	// applicants with the same service times (common random numbers).
	duration int64
	gone     bool // not there when called
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
func (r *runner) day(d time.Time, open, closeAt int) error {
	base := d.Unix()
	r.idle, r.closed, r.breakDue = map[int]bool{}, false, map[int]int64{}
	r.at(event{at: base + int64(open)*60, kind: evOpen})
	if err := r.book(base, open, closeAt); err != nil {
		return err
	}
	for _, w := range r.sc.Windows {
		for _, b := range w.Breaks {
			from, _ := clock(b.From)
			to, _ := clock(b.To)
			r.at(event{at: base + int64(from)*60, kind: evBreak, window: w.Number, length: int64(to-from) * 60})
		}
	}
	r.walkIns(base, open, closeAt)
	r.at(event{at: base + int64(closeAt)*60 - 1, kind: evClose})
	for r.events.Len() > 0 {
		e := heap.Pop(&r.events).(event)
		r.now = max(r.now, e.at)
		if r.st.Due(r.now) { // what the leader's ticker does: rollover at midnight, expired holds
			if err := r.apply(r.now, queue.Command{Kind: queue.KindTick}); err != nil {
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
func (r *runner) book(base int64, open, closeAt int) error {
	var bookable []ServiceSpec
	total := 0.0
	for _, s := range r.sc.Services {
		if s.Bookable {
			bookable, total = append(bookable, s), total+s.Share
		}
	}
	if len(bookable) == 0 || r.sc.BookedPerDay == 0 {
		return nil
	}
	slots := (closeAt - open) / 15
	for i := range r.sc.BookedPerDay {
		s := pick(r.rng, bookable, total)
		start := base + int64(open)*60 + int64((i*slots/r.sc.BookedPerDay)%slots)*900
		res, err := r.do(base-6*3600, queue.Command{Kind: queue.KindBook, Service: s.ID, Start: start, Name: "Заявитель",
			Phone: fmt.Sprintf("7900%07d", r.index%10_000_000)})
		if err != nil {
			continue // the slot's seats are taken: that applicant books elsewhere
		}
		gone := r.rng.Float64() < r.sc.NoShowBooked
		early := r.rng.NormFloat64()*r.sc.EarlySD + r.sc.EarlyMinutes
		early = math.Max(-14, math.Min(29, early))
		duration := r.serviceTime(s.ID)
		if gone {
			continue
		}
		r.at(event{at: max(start-int64(early*60), base+int64(open)*60), kind: evCheckIn, booking: res.Booking, duration: duration})
	}
	return nil
}

// walkIns schedules the day's walk-ins: a Poisson process whose rate
// changes with the time of day.
func (r *runner) walkIns(base int64, open, closeAt int) {
	total := 0.0
	for _, s := range r.sc.Services {
		total += s.Share
	}
	for _, rate := range r.sc.Arrivals {
		from, _ := clock(rate.From)
		to, _ := clock(rate.To)
		from, to = max(from, open), min(to, closeAt)
		if rate.PerHour <= 0 || to <= from {
			continue
		}
		t := float64(from) * 60
		for {
			t += r.rng.ExpFloat64() * 3600 / rate.PerHour
			if t >= float64(to)*60 {
				break
			}
			s := pick(r.rng, r.sc.Services, total)
			r.at(event{at: base + int64(t), kind: evWalkIn, service: s.ID, prio: r.rng.Float64() < r.sc.PriorityShare,
				gone: r.rng.Float64() < r.sc.NoShowWalkIn, duration: r.serviceTime(s.ID)})
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
		if r.closed && e.kind == evWalkIn {
			return nil
		}
		var res queue.Result
		var err error
		if e.kind == evWalkIn {
			cat := ""
			if e.prio {
				cat = "priority"
			}
			res, err = r.do(r.now, queue.Command{Kind: queue.KindIssue, Service: e.service, Category: cat})
		} else {
			res, err = r.do(r.now, queue.Command{Kind: queue.KindCheckIn, Booking: e.booking.ID, Start: e.booking.Start})
		}
		if err != nil {
			return nil // e.g. a check-in outside the allowed window: the applicant goes home
		}
		r.noShow[res.Ticket.ID], r.duration[res.Ticket.ID] = e.gone, e.duration
		r.promise(res.Ticket)
		for _, w := range slices.Sorted(maps.Keys(r.idle)) { // in order: the same seed gives the same day
			delete(r.idle, w)
			r.at(event{at: r.now, kind: evFree, window: w})
		}
	case evFree:
		return r.callNext(e.window)
	case evFinish, evNoShow:
		// After midnight the day's rollover has already ended the ticket
		// (it expired): then there is nothing to finish.
		act := map[int]queue.Action{evFinish: queue.ActFinish, evNoShow: queue.ActNoShow}[e.kind]
		if res, err := r.do(r.now, queue.Command{Kind: queue.KindWindow, Window: e.window, Action: act}); err != nil && res.Err.Code != queue.CodeNoCurrentTicket {
			return err
		}
		return r.callNext(e.window)
	case evBreak:
		w := r.window(e.window)
		if w.State != queue.WindowOpen {
			return nil
		}
		if w.Current != 0 { // after the current applicant
			r.breakDue[e.window] = e.length
			return nil
		}
		return r.pause(e.window, e.length)
	case evBackEnd:
		if r.window(e.window).State == queue.WindowPaused {
			if err := r.apply(r.now, queue.Command{Kind: queue.KindWindow, Window: e.window, Action: queue.ActOpen}); err != nil {
				return err
			}
			return r.callNext(e.window)
		}
	case evClose:
		r.closed = true
	case evOpen:
		for _, w := range r.sc.Windows {
			if err := r.apply(r.now, queue.Command{Kind: queue.KindWindow, Window: w.Number, Action: queue.ActOpen}); err != nil {
				return err
			}
			r.at(event{at: r.now, kind: evFree, window: w.Number})
		}
	}
	return nil
}

func (r *runner) window(n int) *queue.Window { return r.st.Offices[office].Window(n) }

// pause starts window n's break of length seconds.
func (r *runner) pause(n int, length int64) error {
	delete(r.idle, n)
	delete(r.breakDue, n)
	r.at(event{at: r.now + length, kind: evBackEnd, window: n})
	return r.apply(r.now, queue.Command{Kind: queue.KindWindow, Window: n, Action: queue.ActPause})
}

// callNext has window n call the policy's pick, or wait for an arrival; a
// window whose break is due takes it first.
func (r *runner) callNext(n int) error {
	w := r.window(n)
	if w.State != queue.WindowOpen || w.Current != 0 {
		return nil
	}
	if length := r.breakDue[n]; length > 0 {
		return r.pause(n, length)
	}
	res, err := r.do(r.now, queue.Command{Kind: queue.KindWindow, Window: n, Action: queue.ActCallNext})
	if err != nil {
		return err
	}
	t := res.Ticket
	if t == nil && r.closed {
		return r.apply(r.now, queue.Command{Kind: queue.KindWindow, Window: n, Action: queue.ActClose}) // the day's work is done
	}
	if t == nil {
		r.idle[n] = true
		return nil
	}
	r.score(t)
	if r.noShow[t.ID] {
		r.at(event{at: r.now + 120, kind: evNoShow, window: n})
		return nil
	}
	if err := r.apply(r.now, queue.Command{Kind: queue.KindWindow, Window: n, Action: queue.ActStart}); err != nil {
		return err
	}
	r.at(event{at: r.now + r.duration[t.ID], kind: evFinish, window: n})
	return nil
}

// serviceTime draws a service time in seconds: log-normal with the
// service's mean, or exponential when its shape is 0.
func (r *runner) serviceTime(service string) int64 {
	s := r.spec[service]
	mean := s.MeanMinutes * 60
	if s.Sigma <= 0 {
		return max(1, int64(r.rng.ExpFloat64()*mean))
	}
	mu := math.Log(mean) - s.Sigma*s.Sigma/2
	return max(1, int64(math.Exp(mu+s.Sigma*r.rng.NormFloat64())))
}

// promise records what each estimator promises a ticket as it joins.
func (r *runner) promise(t *queue.Ticket) {
	o := r.st.Offices[office]
	p := map[string]float64{"policy": float64(t.EstWait)}
	v := View{Office: o, Ticket: r.st.Tickets[t.ID], Now: r.now, LastWait: r.lastWait}
	for name, est := range r.est {
		p[name] = est(v)
	}
	r.promised[t.ID] = p
}

// score compares the promises with the real wait, once a ticket is called.
func (r *runner) score(t *queue.Ticket) {
	p := r.promised[t.ID]
	if p == nil {
		r.lastWait[t.Service] = t.CalledAt - t.ArrivedAt
		return
	}
	wait := float64(t.CalledAt - t.ArrivedAt)
	r.lastWait[t.Service] = t.CalledAt - t.ArrivedAt
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

func quantile(v []float64, p float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[int(math.Ceil(p*float64(len(s))))-1]
}
