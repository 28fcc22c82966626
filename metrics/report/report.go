package report

import (
	"iter"
	"math"
	"slices"
	"sort"

	"github.com/talon-mfc/talon/queue"
)

// Package report computes what an office reports of its work: statistics
// per service and window over a period, the visit records for the АИС МФЦ
// (no personal data), and the load history of the last 24 hours.
//
// The figures come from the tickets in the replicated state, read through a
// queue.Reader, so every node gives the same figures for a period. A ticket
// is one place in a queue: an applicant redirected to another service counts
// once in each service they queued for, and their wait runs from their
// arrival. It depends on the domain alone: not on Prometheus, HTTP or Raft.

// ServiceStats are one office's figures for one service over a period:
// the tickets whose applicant arrived in it.
type ServiceStats struct {
	Office        string  `json:"office"`
	Service       string  `json:"service"`
	Tickets       int     `json:"tickets"`
	Called        int     `json:"called"`
	Within15      float64 `json:"called_within_15min_share"` // of the called, waited at most 900 s
	Booked        int     `json:"booked_called"`
	BookedOnTime  float64 `json:"booked_called_within_5min_share"` // called at most 300 s after their slot's start
	MeanWait      float64 `json:"mean_wait_s"`
	P90Wait       float64 `json:"p90_wait_s"` // nearest rank
	NoShows       int     `json:"no_shows"`
	NoShowRate    float64 `json:"no_show_rate"` // of the called
	Served        int     `json:"served"`
	MeanService   float64 `json:"mean_service_s"`
	Expired       int     `json:"expired"`
	StillWaiting  int     `json:"waiting"`
	wait, service []float64
}

// WindowStats are one window's figures over a period: the tickets it first
// called in the period, and how much of its open time it spent serving.
type WindowStats struct {
	Office      string  `json:"office"`
	Window      int     `json:"window"`
	Called      int     `json:"called"`
	Served      int     `json:"served"`
	MeanService float64 `json:"mean_service_s"`
	OpenSeconds int64   `json:"open_s"`
	BusySeconds int64   `json:"busy_s"`
	Occupancy   float64 `json:"occupancy"` // busy / open
	service     []float64
}

// TicketLife bounds how long before an event its ticket was issued: a
// ticket lives one office day (it expires at local midnight).
const TicketLife = 2 * 86400

// issued yields the archived tickets (those of the period that left the
// live state), then the live ones of office issued in [from, to).
func issued(r queue.Reader, archived []queue.Ticket, office string, from, to int64) iter.Seq[queue.Ticket] {
	return func(yield func(queue.Ticket) bool) {
		for _, t := range archived {
			if t.IssuedAt >= from && t.IssuedAt < to && !yield(t) {
				return
			}
		}
		for t := range r.TicketsIssued(office, from, to) {
			if !yield(t) {
				return
			}
		}
	}
}

// Stats computes an office's figures for the period [from, to) at time now.
// It reads the tickets issued in the period and the day before, not all of
// history.
func Stats(r queue.Reader, archived []queue.Ticket, office string, from, to, now int64) ([]ServiceStats, []WindowStats) {
	o := r.Office(office)
	if o == nil {
		return nil, nil
	}
	services := map[string]*ServiceStats{}
	for _, sv := range o.Config.Services {
		services[sv] = &ServiceStats{Office: office, Service: sv}
	}
	windows := map[int]*WindowStats{}
	for _, w := range o.Windows {
		windows[w.Number] = &WindowStats{Office: office, Window: w.Number}
	}
	for t := range issued(r, archived, office, from-TicketLife, to) {
		if w := windows[t.Window]; w != nil && t.CalledAt >= from && t.CalledAt < to {
			w.Called++
			if t.Status == queue.TicketDone && t.StartedAt > 0 {
				w.Served++
				w.service = append(w.service, float64(t.FinishedAt-t.StartedAt))
			}
		}
		if w := windows[t.Window]; w != nil && t.StartedAt > 0 {
			end := t.FinishedAt
			if end == 0 {
				end = now
			}
			w.BusySeconds += overlap(t.StartedAt, end, from, to)
		}
		s := services[t.Service]
		if s == nil || t.ArrivedAt < from || t.ArrivedAt >= to {
			continue
		}
		s.Tickets++
		switch t.Status {
		case queue.TicketWaiting:
			s.StillWaiting++
		case queue.TicketExpired:
			if t.CalledAt == 0 {
				s.Expired++
			}
		}
		if t.CalledAt == 0 {
			continue
		}
		s.Called++
		s.wait = append(s.wait, float64(t.CalledAt-t.ArrivedAt))
		if t.Booking != 0 && t.RedirectedFrom == 0 {
			s.Booked++
			if t.CalledAt-t.SlotStart <= 300 {
				s.BookedOnTime++
			}
		}
		switch t.Status {
		case queue.TicketNoShow:
			s.NoShows++
		case queue.TicketDone:
			if t.StartedAt > 0 {
				s.Served++
				s.service = append(s.service, float64(t.FinishedAt-t.StartedAt))
			}
		}
	}
	for _, sp := range o.Spans {
		if w := windows[sp.Window]; w != nil {
			w.OpenSeconds += overlap(sp.From, sp.To, from, to)
		}
	}
	for _, w := range o.Windows {
		if w.State == queue.WindowOpen {
			windows[w.Number].OpenSeconds += overlap(w.Since, now, from, to)
		}
	}

	var ss []ServiceStats
	for _, s := range services {
		within := 0
		for _, v := range s.wait {
			if v <= 900 {
				within++
			}
		}
		s.Within15 = ratio(float64(within), s.Called)
		s.BookedOnTime = ratio(s.BookedOnTime, s.Booked)
		s.NoShowRate = ratio(float64(s.NoShows), s.Called)
		s.MeanWait, s.P90Wait = mean(s.wait), NearestRank(s.wait, 0.9)
		s.MeanService = mean(s.service)
		ss = append(ss, *s)
	}
	sort.Slice(ss, func(i, j int) bool { return ss[i].Service < ss[j].Service })
	var ws []WindowStats
	for _, w := range windows {
		w.MeanService = mean(w.service)
		w.Occupancy = ratio(float64(w.BusySeconds), int(w.OpenSeconds))
		ws = append(ws, *w)
	}
	sort.Slice(ws, func(i, j int) bool { return ws[i].Window < ws[j].Window })
	return ss, ws
}

func overlap(a, b, from, to int64) int64 {
	return max(0, min(b, to)-max(a, from))
}

func ratio(n float64, d int) float64 {
	if d == 0 {
		return 0
	}
	return round(n / float64(d))
}

func mean(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	sum := 0.0
	for _, x := range v {
		sum += x
	}
	return round(sum / float64(len(v)))
}

// NearestRank is the p-quantile of v by the nearest-rank method (0 when
// v is empty).
func NearestRank(v []float64, p float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[int(math.Ceil(p*float64(len(s))))-1]
}

func round(x float64) float64 { return math.Round(x*10000) / 10000 }

// Point is one 5-minute point of an office's load history.
type Point struct {
	At      int64 `json:"at"`      // the point's time (unix seconds)
	Waiting int   `json:"waiting"` // applicants in the queue at that moment
	Issued  int   `json:"issued"`  // joined the queue in the 5 minutes before
	Called  int   `json:"called"`  // called in the 5 minutes before
}

// History is an office's load over the 24 hours before now, in 288 points
// 5 minutes apart, the last at now.
func History(r queue.Reader, office string, now int64) []Point {
	const step, n = 300, 288
	last := now
	first := last - (n-1)*step
	pts := make([]Point, n)
	for i := range pts {
		pts[i].At = first + int64(i)*step
	}
	slot := func(t int64) int { // the point whose 5 minutes before hold t
		if t <= first-step || t > last {
			return -1
		}
		return int((t - first + step - 1) / step)
	}
	for t := range r.TicketsIssued(office, first-step-TicketLife, last+1) {
		end := t.CalledAt
		if end == 0 {
			end = t.FinishedAt
		}
		if end != 0 && end <= first-step {
			continue
		}
		if i := slot(t.IssuedAt); i >= 0 {
			pts[i].Issued++
		}
		if i := slot(t.CalledAt); t.CalledAt > 0 && i >= 0 {
			pts[i].Called++
		}
		for i := range pts {
			if t.IssuedAt <= pts[i].At && (end == 0 || pts[i].At < end) {
				pts[i].Waiting++
			}
		}
	}
	return pts
}

// Record is one visit for the АИС МФЦ: what happened and when, with no
// personal data (no name, no phone; the booking is referred to by number).
type Record struct {
	Office     string `json:"office"`
	Day        string `json:"day"`
	Number     string `json:"number"`
	Service    string `json:"service"`
	Category   string `json:"category,omitempty"`
	Source     string `json:"source"` // walk_in, booking or redirect
	Booking    string `json:"booking,omitempty"`
	SlotStart  int64  `json:"slot_start,omitempty"`
	IssuedAt   int64  `json:"issued_at"`
	ArrivedAt  int64  `json:"arrived_at"`
	CalledAt   int64  `json:"called_at,omitempty"`
	StartedAt  int64  `json:"started_at,omitempty"`
	FinishedAt int64  `json:"finished_at,omitempty"`
	Window     int    `json:"window,omitempty"`
	Recalls    int    `json:"recalls"`
	Outcome    string `json:"outcome"` // the ticket status
	WaitS      int64  `json:"wait_s,omitempty"`
	ServiceS   int64  `json:"service_s,omitempty"`
}

// Records are the visits to an office that joined a queue in [from, to),
// in order of issue.
func Records(rd queue.Reader, archived []queue.Ticket, office string, from, to int64) []Record {
	var out []Record
	for t := range issued(rd, archived, office, from, to) {
		r := Record{Office: t.Office, Day: t.Day, Number: t.Number, Service: t.Service, Category: t.Category, Source: "walk_in",
			SlotStart: t.SlotStart, IssuedAt: t.IssuedAt, ArrivedAt: t.ArrivedAt, CalledAt: t.CalledAt, StartedAt: t.StartedAt,
			FinishedAt: t.FinishedAt, Window: t.Window, Recalls: t.Recalls, Outcome: string(t.Status)}
		switch {
		case t.RedirectedFrom != 0:
			r.Source = "redirect"
		case t.Booking != 0:
			r.Source = "booking"
		}
		if t.Booking != 0 {
			r.Booking = t.Number // a checked-in booking's ticket carries its number
		}
		if t.CalledAt > 0 {
			r.WaitS = t.CalledAt - t.ArrivedAt
		}
		if t.StartedAt > 0 && t.FinishedAt > 0 {
			r.ServiceS = t.FinishedAt - t.StartedAt
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].IssuedAt != out[j].IssuedAt {
			return out[i].IssuedAt < out[j].IssuedAt
		}
		return out[i].Number < out[j].Number
	})
	return out
}

// EmployeeStats are one employee's figures at an office over a period: the
// tickets they called in it (at the window they were signed in to), and how
// much of their signed-in time they spent serving.
type EmployeeStats struct {
	Office        string  `json:"office"`
	Employee      string  `json:"employee"`
	Called        int     `json:"called"`
	Served        int     `json:"served"`
	MeanService   float64 `json:"mean_service_s"`
	SignedSeconds int64   `json:"signed_in_s"`
	BusySeconds   int64   `json:"busy_s"`
	Occupancy     float64 `json:"occupancy"` // busy / signed in
	service       []float64
}

// Employees computes the figures of the employees who worked at office in
// the period [from, to) at time now, by employee id.
func Employees(r queue.Reader, archived []queue.Ticket, office string, from, to, now int64) []EmployeeStats {
	o := r.Office(office)
	if o == nil {
		return nil
	}
	m := map[string]*EmployeeStats{}
	of := func(id string) *EmployeeStats {
		if m[id] == nil {
			m[id] = &EmployeeStats{Office: office, Employee: id}
		}
		return m[id]
	}
	for _, sit := range o.Sittings {
		if d := overlap(sit.From, sit.To, from, to); d > 0 {
			of(sit.Employee).SignedSeconds += d
		}
	}
	for _, w := range o.Windows {
		if w.Employee != "" {
			of(w.Employee).SignedSeconds += overlap(w.Seated, now, from, to)
		}
	}
	for t := range issued(r, archived, office, from-TicketLife, to) {
		if t.Employee == "" {
			continue
		}
		e := of(t.Employee)
		if t.CalledAt >= from && t.CalledAt < to {
			e.Called++
			if t.Status == queue.TicketDone && t.StartedAt > 0 {
				e.Served++
				e.service = append(e.service, float64(t.FinishedAt-t.StartedAt))
			}
		}
		if t.StartedAt > 0 {
			end := t.FinishedAt
			if end == 0 {
				end = now
			}
			e.BusySeconds += overlap(t.StartedAt, end, from, to)
		}
	}
	var out []EmployeeStats
	for _, e := range m {
		e.MeanService = mean(e.service)
		e.Occupancy = ratio(float64(e.BusySeconds), int(e.SignedSeconds))
		out = append(out, *e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Employee < out[j].Employee })
	return out
}
