package queue

import (
	"slices"
	"time"
)

// Slot is one bookable interval of an office for a service: Free more
// visits of the service can start then, if nobody else books (capacity.go).
type Slot struct {
	Office string `json:"office"`
	Start  int64  `json:"start"` // unix seconds
	End    int64  `json:"end"`
	Free   int    `json:"free"`
}

// BookingWindows is how many windows of office o take bookings for
// service: at most that many of its visits at once.
func (o *Office) BookingWindows(service string) int {
	n := 0
	for _, w := range o.Windows {
		if w.Bookings && w.Serves(service) {
			n++
		}
	}
	return n
}

// holdsSeat reports whether booking b occupies its seat at time now.
func (b *Booking) holdsSeat(now int64) bool {
	switch b.Status {
	case BookingConfirmed, BookingCheckedIn:
		return true
	case BookingHeld:
		return b.HoldUntil > now
	}
	return false
}

// startingAt counts the bookings of k's service that start in k's slot and
// hold their seat.
func (s *State) startingAt(k seatKey) int {
	n := 0
	for _, id := range s.seats[k] {
		if s.Bookings[id].holdsSeat(s.Now) {
			n++
		}
	}
	return n
}

// capped reports whether the office's configured cap (OfficeConfig.Seats)
// allows no more bookings of service at start.
func (s *State) capped(o *Office, service string, start int64) bool {
	limit, ok := o.Config.Seats[service]
	return ok && s.startingAt(seatKey{o.Config.ID, service, start}) >= limit
}

// checkSlot says whether a visit of service at start is bookable at office
// o at time now: on the slot grid, in the future, within the horizon, with
// the office open for the whole visit and some window that could take it.
func (s *State) checkSlot(o *Office, service string, start, now int64) *Error {
	slot := s.Region.Rules.SlotMinutes
	lt := time.Unix(start, 0).In(o.loc)
	if lt.Second() != 0 || lt.Minute()%slot != 0 {
		return errf(CodeInvalidRequest, "start %s is not on the %d-minute slot grid", lt.Format(time.RFC3339), slot)
	}
	if start <= now {
		return errf(CodeOutsideHorizon, "the slot %s has already begun", lt.Format(time.RFC3339))
	}
	if !o.withinDays(start, now, s.Region.Rules.HorizonDays) {
		return errf(CodeOutsideHorizon, "slots can be booked at most %d days ahead", s.Region.Rules.HorizonDays)
	}
	day, k := o.dayOf(start)
	v := visit{service: service, k: k, n: o.visit[service]}
	m := k * slot
	if !o.hoursOn(lt).covers(m, m+v.n*slot) || o.closedAt(start, v.n*slot) {
		return errf(CodeOfficeClosed, "office %s does not work at %s for a visit of %d minutes", o.Config.ID, lt.Format("2006-01-02 15:04"), v.n*slot)
	}
	if !o.fitsSomewhere(s.planToRead(o, day), v) {
		return errf(CodeNotBookable, "service %s cannot be booked at office %s at %s (its booking hours, or the windows')", service, o.Config.ID, lt.Format("2006-01-02 15:04"))
	}
	return nil
}

// withinDays reports whether the local date of t is at most days after the
// local date of from.
func (o *Office) withinDays(t, from int64, days int) bool { return o.daysBetween(from, t) <= days }

// daysBetween counts local calendar days from the date of a to the date of b.
func (o *Office) daysBetween(a, b int64) int {
	date := func(t int64) time.Time {
		l := time.Unix(t, 0).In(o.loc)
		return time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, time.UTC)
	}
	return int(date(b).Sub(date(a)).Hours() / 24)
}

// dayCounter counts a day's free seats of one service (freeCounter), and
// lists its bookable slots.
type dayCounter struct {
	*freeCounter
	service string
	limit   int // the most visits that could start at once: the booking windows
}

func (s *State) dayCounter(o *Office, service string, d time.Time) dayCounter {
	return dayCounter{s.freeCounter(o, d.Format(time.DateOnly)), service, o.BookingWindows(service)}
}

// starts are the slots of the day at which some window could hold a visit
// of the service, in order: (slot of the day, start instant).
func (dc dayCounter) starts() (ks []int, ts []int64) {
	n := dc.o.visit[dc.service]
	d := dc.date
	for k := range dc.o.slotsPerDay() {
		if dc.o.fitsSomewhere(dc.p, visit{service: dc.service, k: k, n: n}) {
			ks, ts = append(ks, k), append(ts, time.Date(d.Year(), d.Month(), d.Day(), 0, k*dc.o.slot, 0, 0, dc.o.loc).Unix())
		}
	}
	return ks, ts
}

// freeSlot is the Slot at k (starting at t) with all its free seats, if it
// has any: counting stops at the first when there is none.
func (dc dayCounter) freeSlot(k int, t int64) (Slot, bool) {
	if dc.slot(k, t, 1).Free == 0 {
		return Slot{}, false
	}
	return dc.slot(k, t, dc.limit), true
}

// slot is the Slot at k (starting at t) with its free seats, up to limit,
// the cap applied.
func (dc dayCounter) slot(k int, t int64, limit int) Slot {
	free := dc.free(dc.service, k, min(limit, dc.limit))
	if dc.s.capped(dc.o, dc.service, t) {
		free = 0
	} else if c, ok := dc.o.Config.Seats[dc.service]; ok {
		free = min(free, c-dc.s.startingAt(seatKey{dc.o.Config.ID, dc.service, t}))
	}
	return Slot{Office: dc.o.Config.ID, Start: t, End: t + int64(dc.o.visit[dc.service]*dc.o.slot)*60, Free: free}
}

// Slots lists the bookable slots of service at an office for days local
// dates from day (YYYY-MM-DD), as seen at time now.
func (s *State) Slots(officeID, service, day string, days int, now int64) ([]Slot, *Error) {
	o, err := s.office(officeID)
	if err != nil {
		return nil, err
	}
	if err := s.checkBookable(o, service); err != nil {
		return nil, err
	}
	d, perr := time.ParseInLocation(time.DateOnly, day, o.loc)
	if perr != nil {
		return nil, errf(CodeInvalidRequest, "date %q: want YYYY-MM-DD", day)
	}
	if days < 1 || days > s.Region.Rules.HorizonDays+1 {
		return nil, errf(CodeInvalidRequest, "days must be 1..%d", s.Region.Rules.HorizonDays+1)
	}
	out := []Slot{}
	for i := range days {
		day := d.AddDate(0, 0, i)
		if !o.withinDays(day.Unix(), now, s.Region.Rules.HorizonDays) {
			break
		}
		dc := s.dayCounter(o, service, day)
		ks, ts := dc.starts()
		for j, t := range ts {
			if t > now {
				out = append(out, dc.slot(ks[j], t, dc.limit))
			}
		}
	}
	return out, nil
}

// EarliestFree is the first slot of service with a free seat after now, if any.
func (s *State) EarliestFree(o *Office, service string, now int64) (Slot, bool) {
	if s.checkBookable(o, service) != nil {
		return Slot{}, false
	}
	f := time.Unix(now, 0).In(o.loc)
	for i := 0; i <= s.Region.Rules.HorizonDays; i++ {
		dc := s.dayCounter(o, service, time.Date(f.Year(), f.Month(), f.Day()+i, 0, 0, 0, 0, o.loc))
		ks, ts := dc.starts()
		for j, t := range ts {
			if t > now {
				if sl, ok := dc.freeSlot(ks[j], t); ok {
					return sl, true
				}
			}
		}
	}
	return Slot{}, false
}

const maxAlternatives = 3

// Alternatives are the nearest free slots to start as seen at time now: at
// the same office by closeness in time (within three days either way and the
// horizon), and at other offices offering the service at the same instant.
func (s *State) Alternatives(office, service string, start, now int64) *Alternatives {
	alt := &Alternatives{SameOffice: []Slot{}, OtherOffices: []Slot{}}
	o := s.Offices[office]
	if o == nil || s.checkBookable(o, service) != nil {
		return alt
	}
	alt.SameOffice = s.nearestFree(o, service, start, now, maxAlternatives)
	for _, oc := range s.Region.Offices {
		other := s.Offices[oc.ID]
		if other == o || len(alt.OtherOffices) == maxAlternatives || s.checkBookable(other, service) != nil ||
			s.checkSlot(other, service, start, now) != nil {
			continue
		}
		day, k := other.dayOf(start)
		dc := dayCounter{s.freeCounter(other, day), service, other.BookingWindows(service)}
		if sl, ok := dc.freeSlot(k, start); ok {
			alt.OtherOffices = append(alt.OtherOffices, sl)
		}
	}
	return alt
}

// nearestFree is up to n free slots of service at office o nearest to
// start (an earlier one first on a tie), within three days either way, in
// the future and within the horizon. It walks out from start both ways, a
// day at a time, so a conflict in a storm costs a few slots, not a week.
func (s *State) nearestFree(o *Office, service string, start, now int64, n int) []Slot {
	lt := time.Unix(start, 0).In(o.loc)
	type daySlots struct {
		dc dayCounter
		ks []int
		ts []int64
	}
	day := func(i int) daySlots {
		dc := s.dayCounter(o, service, time.Date(lt.Year(), lt.Month(), lt.Day()+i, 0, 0, 0, 0, o.loc))
		ks, ts := dc.starts()
		return daySlots{dc, ks, ts}
	}
	const reach = 3
	d0 := day(0)
	at, _ := slices.BinarySearch(d0.ts, start)
	// left and right walk away from start: a day and the part of it left.
	left, right := d0, d0
	left.ks, left.ts = d0.ks[:at], d0.ts[:at]
	right.ks, right.ts = d0.ks[at:], d0.ts[at:]
	if len(right.ts) > 0 && right.ts[0] == start {
		right.ks, right.ts = right.ks[1:], right.ts[1:]
	}
	ld, rd := 0, 0
	out := []Slot{}
	for len(out) < n {
		for len(left.ts) == 0 && ld > -reach {
			ld--
			left = day(ld)
		}
		for len(right.ts) == 0 && rd < reach {
			rd++
			right = day(rd)
		}
		var sl Slot
		var ok bool
		switch {
		case len(left.ts) > 0 && (len(right.ts) == 0 || start-left.ts[len(left.ts)-1] <= right.ts[0]-start):
			i := len(left.ts) - 1
			if left.ts[i] <= now { // the rest of this side is past too
				left.ts, ld = nil, -reach
				continue
			}
			sl, ok = left.dc.freeSlot(left.ks[i], left.ts[i])
			left.ks, left.ts = left.ks[:i], left.ts[:i]
		case len(right.ts) > 0:
			if !o.withinDays(right.ts[0], now, s.Region.Rules.HorizonDays) { // and so is the rest of this side
				right.ts, rd = nil, reach
				continue
			}
			sl, ok = right.dc.freeSlot(right.ks[0], right.ts[0])
			right.ks, right.ts = right.ks[1:], right.ts[1:]
		default:
			return out
		}
		if ok {
			out = append(out, sl)
		}
	}
	return out
}
