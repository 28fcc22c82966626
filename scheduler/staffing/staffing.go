// Package staffing plans how many windows, and which, an office opens in
// each hour of a day so that at least a target share of its applicants
// (95 %) is called within the 15-minute norm: Erlang C per hour as the first
// cut, checked and corrected by simulating the office's real windows and
// skills under talon's calling policy (scheduler/sim).
package staffing

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/talon-mfc/talon/queue"
	"github.com/talon-mfc/talon/scheduler/sim"
)

// Demand is an office's expected load on one day.
type Demand struct {
	Open, Close int                  // minutes from local midnight: arrivals come in between
	PerHour     []map[string]float64 // [hour of the day] service → applicants expected (walk-ins and booked visits)
	Minutes     map[string]float64   // service → mean service time, minutes
	Sigma       map[string]float64   // service → shape of its log-normal service times (0.5 when absent)
	NoShow      float64              // share of applicants gone when called
}

// Window is a window the plan may open, with its skills.
type Window struct {
	Number   int
	Services []string
	like     int // an extra window: the office's window whose skills it has
}

// Hour is the plan for one hour of the day.
type Hour struct {
	From     string  `json:"from"`     // "09:00"
	Expected float64 `json:"expected"` // applicants expected to arrive in it
	ErlangC  int     `json:"erlang_c"` // windows Erlang C asks for, as if every window served every service
	Windows  []int   `json:"windows"`  // the office's windows to open
	// Extra are the windows the office lacks: one more like each listed
	// window (its skills) to make the target in this hour.
	Extra    []int   `json:"extra,omitempty"`
	Within15 float64 `json:"within_15"` // simulated share of its arrivals called within 15 minutes
}

// Plan is a day's staffing plan, with what simulating it gave.
type Plan struct {
	Target          float64 `json:"target"`
	Hours           []Hour  `json:"hours"`
	WindowHours     float64 `json:"window_hours"`       // windows' open hours, following the plan
	Within15        float64 `json:"within_15"`          // the day's share within 15 minutes, following the plan
	AllOpenHours    float64 `json:"all_open_hours"`     // every window open all day
	AllOpenWithin15 float64 `json:"all_open_within_15"` // and the share it gives
}

// Target is the share of applicants a plan calls within 15 minutes.
const Target = 0.95

// norm is the waiting norm, minutes.
const norm = 15

// simDays is how many days each check simulates (the same demand, other
// draws): enough for an hour's share to be read to a point or two.
const simDays = 30

// Make plans office's windows for demand d. First cut: per hour, Erlang
// C's count, placed on the windows whose skills cover the hour's work best.
// Then it simulates the day with the office's real windows and skills under
// policy and corrects: an hour under target gets one more window (the
// office's own while it has one that helps, else an extra one like the
// window that would help most), and an hour well over it gives one up
// while the target holds, until the plan settles.
func Make(d Demand, windows []Window, policy queue.Policy, seed uint64) (Plan, error) {
	plan := Plan{Target: Target}
	if d.Close <= d.Open || len(windows) == 0 {
		return plan, nil
	}
	first, last := d.Open/60, (d.Close-1)/60
	pool := slices.Clone(windows) // the office's windows, then the extra ones added
	open := make([][]int, last-first+1)
	for h := first; h <= last; h++ {
		work := d.work(h)
		c := erlangC(arrivals(d.PerHour[h]), load(work), Target)
		plan.Hours = append(plan.Hours, Hour{From: fmt.Sprintf("%02d:00", h), Expected: arrivals(d.PerHour[h]), ErlangC: c})
		open[h-first] = cover(windows, work, c)
	}
	tried := make([]bool, len(open)) // hours that gave up a window and missed
	var rep *sim.Report
	for step := 0; step < maxSteps; step++ {
		var err error
		if rep, err = simulate(d, pool, open, policy, seed); err != nil {
			return plan, err
		}
		changed, added := false, false
		for i := range open {
			st := rep.Hours[first+i]
			share := ratio(st.Within, st.Called)
			switch {
			case share < Target && !added: // the earliest hour short: later ones may be its backlog
				added = true
				// A window for the service with the most applicants past the
				// norm in the hour: the office's own, else an extra one like
				// the office's that would add most.
				late := latest(rep, first+i)
				work := d.work(first + i)
				w, ok := next(serving(pool[:len(windows)], late), open[i], work)
				if !ok {
					like := likeliest(serving(windows, late), pool, open[i], work)
					w = extraBase + len(pool)
					pool = append(pool, Window{Number: w, Services: skills(windows, like), like: like})
				}
				open[i], changed, tried[i] = append(open[i], w), true, true
			case share >= Target+spare && !tried[i] && len(open[i]) > 1:
				open[i], changed = open[i][:len(open[i])-1], true
			}
		}
		if !changed {
			break
		}
	}
	for i := range open {
		st := rep.Hours[first+i]
		plan.Hours[i].Within15 = ratio(st.Within, st.Called)
		for _, n := range open[i] {
			if n >= extraBase {
				plan.Hours[i].Extra = append(plan.Hours[i].Extra, pool[n-extraBase].like)
			} else {
				plan.Hours[i].Windows = append(plan.Hours[i].Windows, n)
			}
		}
		slices.Sort(plan.Hours[i].Windows)
		slices.Sort(plan.Hours[i].Extra)
	}
	plan.WindowHours, plan.Within15 = rep.WindowHours, rep.Within15
	all := make([][]int, 1)
	for _, w := range windows {
		all[0] = append(all[0], w.Number)
	}
	rep, err := simulate(d, windows, all, policy, seed)
	if err != nil {
		return plan, err
	}
	plan.AllOpenHours, plan.AllOpenWithin15 = rep.WindowHours, rep.Within15
	return plan, nil
}

const (
	maxSteps  = 60   // corrections, at most
	spare     = 0.03 // an hour this far over the target tries one window less
	extraBase = 1000 // extra windows are numbered from here (pool index + extraBase)
)

// latest is the service with the most applicants past the norm among
// those who arrived in hour h.
func latest(rep *sim.Report, h int) string {
	worst, n := "", -1
	for _, s := range slices.Sorted(maps.Keys(rep.ByService)) {
		if st := rep.ByService[s][h]; st.Called-st.Within > n {
			worst, n = s, st.Called-st.Within
		}
	}
	return worst
}

// serving are the windows that serve s.
func serving(windows []Window, s string) []Window {
	var out []Window
	for _, w := range windows {
		if slices.Contains(w.Services, s) {
			out = append(out, w)
		}
	}
	return out
}

// likeliest is the office's window whose skills, in one more window, would
// add most work per window serving each of its services (pool: every
// window so far, open: those open in the hour).
func likeliest(windows, pool []Window, open []int, work map[string]float64) int {
	best, score := windows[0].Number, -1.0
	for _, w := range windows {
		v := 0.0
		for _, s := range w.Services {
			v += work[s] / float64(1+countServing(pool, open, s))
		}
		if v > score {
			best, score = w.Number, v
		}
	}
	return best
}

// skills are window n's services.
func skills(windows []Window, n int) []string {
	for _, w := range windows {
		if w.Number == n {
			return w.Services
		}
	}
	return nil
}

// work is the hour's work by service, minutes of service per hour.
func (d Demand) work(h int) map[string]float64 {
	out := map[string]float64{}
	for s, n := range d.PerHour[h] {
		out[s] = n * d.Minutes[s]
	}
	return out
}

func arrivals(m map[string]float64) float64 {
	n := 0.0
	for _, v := range m {
		n += v
	}
	return n
}

// load is the offered load in Erlangs (busy windows on average).
func load(work map[string]float64) float64 { return arrivals(work) / 60 }

// erlangC is the fewest windows that, serving every service alike, call at
// least target of perHour arrivals bringing load Erlangs within the norm:
// P(wait > t) = C(c, a) · e^(−(c − a)·t/τ), τ the mean service time.
func erlangC(perHour, a, target float64) int {
	if perHour == 0 || a == 0 {
		return 0
	}
	tau := a * 60 / perHour // minutes
	for c := int(a) + 1; ; c++ {
		if 1-waitProb(c, a)*math.Exp(-(float64(c)-a)*norm/tau) >= target {
			return c
		}
	}
}

// waitProb is Erlang's C formula: the chance an arrival waits at all, with c
// servers and a load of a Erlangs (a < c).
func waitProb(c int, a float64) float64 {
	sum, term := 0.0, 1.0 // a^k / k!
	for k := range c {
		if k > 0 {
			term *= a / float64(k)
		}
		sum += term
	}
	last := term * a / float64(c) / (1 - a/float64(c))
	return last / (sum + last)
}

// cover picks n windows (at least one for every service with work) whose
// skills best cover work: each next window is the one that adds most work
// per window serving it.
func cover(windows []Window, work map[string]float64, n int) []int {
	var out []int
	for _, s := range slices.Sorted(maps.Keys(work)) { // every service with work gets a window
		if work[s] > 0 && !served(windows, out, s) {
			if w, ok := next(windows, out, map[string]float64{s: work[s]}); ok {
				out = append(out, w)
			}
		}
	}
	for len(out) < n {
		w, ok := next(windows, out, work)
		if !ok {
			break
		}
		out = append(out, w)
	}
	return out
}

// next is the window not yet in open that adds most work per window
// already serving each of its services.
func next(windows []Window, open []int, work map[string]float64) (int, bool) {
	best, score := 0, 0.0
	for _, w := range windows {
		if slices.Contains(open, w.Number) {
			continue
		}
		v := 0.0
		for _, s := range w.Services {
			v += work[s] / float64(1+countServing(windows, open, s))
		}
		if v > score {
			best, score = w.Number, v
		}
	}
	return best, score > 0
}

func served(windows []Window, open []int, s string) bool { return countServing(windows, open, s) > 0 }

func countServing(windows []Window, open []int, s string) int {
	n := 0
	for _, w := range windows {
		if slices.Contains(open, w.Number) && slices.Contains(w.Services, s) {
			n++
		}
	}
	return n
}

// simulate runs simDays days of demand under the plan (open[i]: the
// windows of hour first+i; a single entry: all day).
func simulate(d Demand, windows []Window, open [][]int, policy queue.Policy, seed uint64) (*sim.Report, error) {
	sc := sim.Scenario{Name: "staffing", Days: simDays, Open: hhmm(d.Open), Close: hhmm(min(d.Close, 24*60-1)), NoShowWalkIn: d.NoShow}
	for i, s := range slices.Sorted(maps.Keys(d.Minutes)) {
		letter := string(rune('А' + i%32))
		sigma := d.Sigma[s]
		if sigma <= 0 {
			sigma = 0.5
		}
		sc.Services = append(sc.Services, sim.ServiceSpec{ID: s, Letter: letter, Share: 1, MeanMinutes: max(1, d.Minutes[s]), Sigma: sigma})
	}
	for _, w := range windows {
		sc.Windows = append(sc.Windows, sim.WindowSpec{Number: w.Number, Services: w.Services})
	}
	for h := d.Open / 60; h <= (d.Close-1)/60; h++ {
		if n := arrivals(d.PerHour[h]); n > 0 {
			sc.Arrivals = append(sc.Arrivals, sim.Rate{Span: sim.Span{From: hhmm(h * 60), To: hhmm(min(24*60-1, h*60+60))}, PerHour: n, Shares: d.PerHour[h]})
		}
	}
	for i, ws := range open {
		sc.Plan = append(sc.Plan, sim.Shift{From: hhmm(max(d.Open, (d.Open/60+i)*60)), Windows: ws})
	}
	return sim.Run(sc, policy, "plan", seed, nil)
}

func hhmm(m int) string { return fmt.Sprintf("%02d:%02d", m/60, m%60) }

func ratio(n, d int) float64 {
	if d == 0 {
		return 1
	}
	return float64(n) / float64(d)
}

// FromScenario is the demand and windows of a simulated office: its
// walk-ins by the hour and its booked visits (those who come), spread over
// the open hours as the simulator books them.
func FromScenario(sc sim.Scenario) (Demand, []Window, error) {
	open, err1 := clockMinutes(sc.Open)
	closeAt, err2 := clockMinutes(sc.Close)
	if err1 != nil || err2 != nil || closeAt <= open {
		return Demand{}, nil, fmt.Errorf("scenario %s: open and close as HH:MM, open first", sc.Name)
	}
	d := Demand{Open: open, Close: closeAt, PerHour: make([]map[string]float64, 24), Minutes: map[string]float64{}, Sigma: map[string]float64{}, NoShow: sc.NoShowWalkIn}
	for h := range d.PerHour {
		d.PerHour[h] = map[string]float64{}
	}
	total, booked := 0.0, 0.0
	for _, s := range sc.Services {
		d.Minutes[s.ID], d.Sigma[s.ID] = s.MeanMinutes, s.Sigma
		total += s.Share
		if s.Bookable {
			booked += s.Share
		}
	}
	for _, r := range sc.Arrivals {
		from, _ := clockMinutes(r.From)
		to, _ := clockMinutes(r.To)
		from, to = max(from, open), min(to, closeAt)
		for h := from / 60; h*60 < to; h++ {
			minutes := float64(min(to, h*60+60) - max(from, h*60))
			for _, s := range sc.Services {
				share := s.Share / total
				if r.Shares != nil {
					share = r.Shares[s.ID] / arrivals(r.Shares)
				}
				d.PerHour[h][s.ID] += r.PerHour * minutes / 60 * share
			}
		}
	}
	if booked > 0 {
		perMinute := float64(sc.BookedPerDay) * (1 - sc.NoShowBooked) / float64(closeAt-open)
		for h := open / 60; h*60 < closeAt; h++ {
			minutes := float64(min(closeAt, h*60+60) - max(open, h*60))
			for _, s := range sc.Services {
				if s.Bookable {
					d.PerHour[h][s.ID] += perMinute * minutes * s.Share / booked
				}
			}
		}
	}
	var ws []Window
	for _, w := range sc.Windows {
		ws = append(ws, Window{Number: w.Number, Services: w.Services})
	}
	return d, ws, nil
}

func clockMinutes(s string) (int, error) {
	var h, m int
	if _, err := fmt.Sscanf(s, "%d:%d", &h, &m); err != nil || h < 0 || h > 24 || m < 0 || m > 59 {
		return 0, fmt.Errorf("%q is no HH:MM", s)
	}
	return h*60 + m, nil
}

// Compare runs office sc's days (its own applicants, bookings and service
// times) with every window open all day, and following the plan.
func (p Plan) Compare(sc sim.Scenario, policy queue.Policy, seed uint64) (everyWindow, followed *sim.Report, err error) {
	all := sc
	all.Plan = []sim.Shift{{From: sc.Open}}
	for _, w := range sc.Windows {
		all.Plan[0].Windows = append(all.Plan[0].Windows, w.Number)
	}
	if everyWindow, err = sim.Run(all, policy, "every window", seed, nil); err != nil {
		return nil, nil, err
	}
	sc.Windows = slices.Clone(sc.Windows)
	p.Follow(&sc)
	followed, err = sim.Run(sc, policy, "the plan", seed, nil)
	return everyWindow, followed, err
}

// Follow has office sc follow the plan: its shifts, and the extra windows
// it asks for (numbered from 1000, with the skills of the window each is
// like).
func (p Plan) Follow(sc *sim.Scenario) {
	type extra struct{ like, nth int }
	numbers := map[extra]int{}
	sc.Plan = nil
	for _, h := range p.Hours {
		ws := slices.Clone(h.Windows)
		seen := map[int]int{}
		for _, like := range h.Extra {
			seen[like]++
			k := extra{like, seen[like]}
			n, ok := numbers[k]
			if !ok {
				n = extraBase + len(numbers)
				numbers[k] = n
				for _, w := range sc.Windows {
					if w.Number == like {
						sc.Windows = append(sc.Windows, sim.WindowSpec{Number: n, Services: w.Services, Bookings: w.Bookings})
					}
				}
			}
			ws = append(ws, n)
		}
		sc.Plan = append(sc.Plan, sim.Shift{From: h.From, Windows: ws})
	}
}

// historyWeeks is how many past weeks of the same weekday the demand is
// averaged over.
const historyWeeks = 8

// FromHistory is office's demand on local date day (YYYY-MM-DD) from its
// own history: its walk-ins by hour and service on the same weekday in the
// past historyWeeks weeks (averaged over the weeks it issued any), its
// service times and walk-ins' no-shows over those weeks, and the visits
// booked for the day, each counted at the chance the office's booked
// applicants come. A day the office is closed has no demand.
func FromHistory(rd queue.Reader, office, day string) (Demand, []Window, error) {
	o := rd.Office(office)
	if o == nil {
		return Demand{}, nil, fmt.Errorf("no office %q", office)
	}
	date, err := time.ParseInLocation(time.DateOnly, day, o.Location())
	if err != nil {
		return Demand{}, nil, fmt.Errorf("date %q is no YYYY-MM-DD", day)
	}
	d := Demand{PerHour: make([]map[string]float64, 24), Minutes: map[string]float64{}, Sigma: map[string]float64{}}
	for h := range d.PerHour {
		d.PerHour[h] = map[string]float64{}
	}
	var windows []Window
	for _, w := range o.Windows {
		windows = append(windows, Window{Number: w.Number, Services: w.Services})
	}
	hours := o.OpenHours(date.Add(12 * time.Hour).Unix())
	if len(hours) == 0 {
		return d, windows, nil
	}
	d.Open, d.Close = hours[0][0], hours[len(hours)-1][1]
	worked := map[string]bool{}    // the same weekdays the office issued tickets on
	logs := map[string][]float64{} // log service times, minutes
	var called, gone int
	for t := range rd.TicketsIssued(office, date.AddDate(0, 0, -7*historyWeeks).Unix(), date.Unix()) {
		if issued := time.Unix(t.IssuedAt, 0).In(o.Location()); issued.Weekday() == date.Weekday() {
			worked[issued.Format(time.DateOnly)] = true
			if t.Booking == 0 && t.RedirectedFrom == 0 {
				d.PerHour[time.Unix(t.ArrivedAt, 0).In(o.Location()).Hour()][t.Service]++
			}
		}
		if t.CalledAt > 0 && t.Booking == 0 {
			called++
			if t.Status == queue.TicketNoShow {
				gone++
			}
		}
		if t.Status == queue.TicketDone && t.StartedAt > 0 && t.FinishedAt > t.StartedAt {
			logs[t.Service] = append(logs[t.Service], math.Log(float64(t.FinishedAt-t.StartedAt)/60))
		}
	}
	for h := range d.PerHour {
		for s := range d.PerHour[h] {
			d.PerHour[h][s] /= float64(len(worked))
		}
	}
	for _, s := range o.Config.Services {
		d.Minutes[s] = float64(o.ServiceMinutes(s))
		if ls := logs[s]; len(ls) >= 20 { // enough to trust: the log-normal that fits them
			mu, sd := meanSD(ls)
			d.Minutes[s], d.Sigma[s] = math.Exp(mu+sd*sd/2), sd
		}
	}
	d.NoShow = ratio(gone, called)
	if called == 0 {
		d.NoShow = 0
	}
	if vs, ok := rd.WindowTime(office, day); ok {
		for _, v := range vs {
			d.PerHour[time.Unix(v.Start, 0).In(o.Location()).Hour()][v.Service] += float64(o.Shows.Chance(v.Start, v.Start-86400)) / 1000
		}
	}
	return d, windows, nil
}

func meanSD(xs []float64) (mean, sd float64) {
	for _, x := range xs {
		mean += x
	}
	mean /= float64(len(xs))
	for _, x := range xs {
		sd += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(sd / float64(len(xs)))
}
