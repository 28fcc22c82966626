package queue_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/talon-mfc/talon/queue"
)

// This file checks the window-time invariant from the configuration alone,
// with code of its own (not the production planner): every booking that
// holds a seat sits on a window that takes bookings and serves its service,
// for its whole visit, inside the office's, the window's and the service's
// booking hours, and no two visits share a window at the same time. It also
// searches exhaustively for an assignment, to show that a refused booking
// could not have been admitted.

// interval is [from, to) in minutes from local midnight.
type interval struct{ from, to int }

// hoursOf parses "HH:MM-HH:MM, …" (empty or "closed": none).
func hoursOf(t *testing.T, s string) []interval {
	var out []interval
	s = strings.TrimSpace(s)
	if s == "" || s == "closed" {
		return nil
	}
	for _, part := range strings.Split(s, ",") {
		var h1, m1, h2, m2 int
		if _, err := fmt.Sscanf(strings.TrimSpace(part), "%d:%d-%d:%d", &h1, &m1, &h2, &m2); err != nil {
			t.Fatalf("hours %q: %v", s, err)
		}
		out = append(out, interval{h1*60 + m1, h2*60 + m2})
	}
	return out
}

func inside(hours []interval, from, to int) bool {
	return slices.ContainsFunc(hours, func(h interval) bool { return from >= h.from && to <= h.to })
}

// officeHours is the office's hours on the local date of t.
func officeHours(t *testing.T, oc *queue.OfficeConfig, lt time.Time) []interval {
	for _, h := range oc.Holidays {
		if h.Date == lt.Format(time.DateOnly) {
			return hoursOf(t, h.Hours)
		}
	}
	return hoursOf(t, oc.Hours[strings.ToLower(lt.Weekday().String()[:3])])
}

// demand is a visit to place: service, local day and minutes.
type demand struct {
	id       uint64
	service  string
	day      string
	from, to int
}

// eligible reports whether window wc may hold d at office oc.
func eligible(t *testing.T, s *queue.State, oc *queue.OfficeConfig, wc queue.WindowConfig, d demand) bool {
	r := s.Region
	if !wc.Bookings || !slices.Contains(wc.Services, d.service) {
		return false
	}
	if wc.BookingHours != "" && !inside(hoursOf(t, wc.BookingHours), d.from, d.to) {
		return false
	}
	for _, sv := range r.Services {
		if sv.ID == d.service && sv.BookingHours != "" && !inside(hoursOf(t, sv.BookingHours), d.from, d.to) {
			return false
		}
	}
	loc, _ := queue.LoadLocation(oc.Timezone)
	day, _ := time.ParseInLocation(time.DateOnly, d.day, loc)
	from := time.Date(day.Year(), day.Month(), day.Day(), 0, d.from, 0, 0, loc).Unix()
	to := time.Date(day.Year(), day.Month(), day.Day(), 0, d.to, 0, 0, loc).Unix()
	for _, c := range s.Offices[oc.ID].Closures {
		if from < c.To && c.From < to {
			return false
		}
	}
	return inside(officeHours(t, oc, day), d.from, d.to)
}

// demandOf is booking b's visit.
func demandOf(r *queue.Region, b *queue.Booking) demand {
	oc := officeConfig(r, b.Office)
	loc, _ := queue.LoadLocation(oc.Timezone)
	lt := time.Unix(b.Start, 0).In(loc)
	m := lt.Hour()*60 + lt.Minute()
	return demand{b.ID, b.Service, lt.Format(time.DateOnly), m, m + b.Slots*r.Rules.SlotMinutes}
}

func officeConfig(r *queue.Region, id string) *queue.OfficeConfig {
	for i := range r.Offices {
		if r.Offices[i].ID == id {
			return &r.Offices[i]
		}
	}
	return nil
}

func holdsSeat(s *queue.State, b *queue.Booking) bool {
	return b.Status == queue.BookingConfirmed || b.Status == queue.BookingCheckedIn || b.Status == queue.BookingHeld && b.HoldUntil > s.Now
}

// checkWindowTime asserts the invariant; unplaced may hold bookings that
// a region change or closure took window time from (they hold no window).
func checkWindowTime(t *testing.T, s *queue.State, unplaced map[uint64]bool) {
	t.Helper()
	type cell struct {
		office, day string
		window      int
	}
	taken := map[cell][]demand{}
	for _, b := range s.Bookings {
		if !holdsSeat(s, b) {
			continue
		}
		if b.Seat == 0 {
			// A checked-in applicant is in the live queue: a region change
			// may leave them without window time, and nobody is told.
			if !unplaced[b.ID] && b.Status != queue.BookingCheckedIn {
				t.Fatalf("booking %d (%s %s) holds a seat but no window", b.ID, b.Office, b.Service)
			}
			continue
		}
		oc := officeConfig(s.Region, b.Office)
		i := slices.IndexFunc(oc.Windows, func(w queue.WindowConfig) bool { return w.Number == b.Seat })
		d := demandOf(s.Region, b)
		if i < 0 || !eligible(t, s, oc, oc.Windows[i], d) {
			t.Fatalf("booking %d (%s %s %s %d–%d min) sits on window %d, which may not hold it", b.ID, b.Office, b.Service, d.day, d.from, d.to, b.Seat)
		}
		k := cell{b.Office, d.day, b.Seat}
		for _, o := range taken[k] {
			if o.from < d.to && d.from < o.to {
				t.Fatalf("window %d of %s on %s holds bookings %d and %d at once", b.Seat, b.Office, d.day, o.id, b.ID)
			}
		}
		taken[k] = append(taken[k], d)
	}
}

// assignable reports whether the visits can all be given windows of office
// oc without overlap: an exhaustive search over time, slot by slot, whose
// state is how long each window stays busy.
func assignable(t *testing.T, s *queue.State, oc *queue.OfficeConfig, ds []demand) bool {
	slot := s.Region.Rules.SlotMinutes
	nw := len(oc.Windows)
	if nw > 8 {
		t.Fatalf("exhaustive search is for small offices, not %d windows", nw)
	}
	fits := make([][]bool, len(ds)) // [demand][window]
	starting := map[int][]int{}     // slot → demands starting then
	first, last := 24*60, 0
	for i, d := range ds {
		fits[i] = make([]bool, nw)
		for w, wc := range oc.Windows {
			fits[i][w] = eligible(t, s, oc, wc, d)
		}
		starting[d.from/slot] = append(starting[d.from/slot], i)
		first, last = min(first, d.from/slot), max(last, d.to/slot)
	}
	type state [8]int8 // slots each window stays busy
	states := map[state]bool{{}: true}
	for k := first; k < last; k++ {
		next := map[state]bool{}
		for st := range states {
			var assign func(j int, st state)
			assign = func(j int, st state) {
				if j == len(starting[k]) {
					for w := range nw { // time moves on a slot
						st[w] = max(0, st[w]-1)
					}
					next[st] = true
					return
				}
				i := starting[k][j]
				for w := range nw {
					if st[w] == 0 && fits[i][w] {
						n := st
						n[w] = int8((ds[i].to - ds[i].from) / slot)
						assign(j+1, n)
					}
				}
			}
			assign(0, st)
		}
		if states = next; len(states) == 0 {
			return false
		}
	}
	return true
}

// couldAdmit reports whether a visit of service at start (slots long) fits
// with the seated bookings of its office and day, by exhaustive search.
func couldAdmit(t *testing.T, s *queue.State, office, service string, start int64, slots int) bool {
	t.Helper()
	r := s.Region
	oc := officeConfig(r, office)
	nd := demandOf(r, &queue.Booking{Office: office, Service: service, Start: start, Slots: slots})
	ds := []demand{nd}
	for _, b := range s.Bookings {
		if b.Office == office && holdsSeat(s, b) && b.Seat != 0 {
			if d := demandOf(r, b); d.day == nd.day {
				ds = append(ds, d)
			}
		}
	}
	return assignable(t, s, oc, ds)
}
