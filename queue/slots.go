package queue

import (
	"slices"
	"time"
)

// Slot is one bookable interval of an office for a service.
type Slot struct {
	Office string `json:"office"`
	Start  int64  `json:"start"` // unix seconds
	End    int64  `json:"end"`
	Free   int    `json:"free"`
}

// Seats is how many applicants one slot of service holds at office o: the
// configured override, or the number of windows that take bookings for it.
func (s *State) Seats(o *Office, service string) int { return o.seats[service] }

func (o *Office) countSeats(service string) int {
	if n, ok := o.Config.Seats[service]; ok {
		return n
	}
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

func (s *State) taken(k seatKey) int {
	n := 0
	for _, id := range s.seats[k] {
		if s.Bookings[id].holdsSeat(s.Now) {
			n++
		}
	}
	return n
}

func (s *State) free(o *Office, service string, start int64) int {
	return s.Seats(o, service) - s.taken(seatKey{o.Config.ID, service, start})
}

// checkSlot says whether start is a bookable slot of office o at time now:
// on the slot grid, in the future, within the horizon, inside working hours.
func (s *State) checkSlot(o *Office, start, now int64) *Error {
	slot := s.Region.Rules.SlotMinutes
	lt := time.Unix(start, 0).In(o.loc)
	h := o.hoursOn(lt)
	m := lt.Hour()*60 + lt.Minute()
	if lt.Second() != 0 || (m-h.Open)%slot != 0 {
		return errf(CodeInvalidRequest, "start %s is not on the %d-minute slot grid", lt.Format(time.RFC3339), slot)
	}
	if start <= now {
		return errf(CodeOutsideHorizon, "the slot %s has already begun", lt.Format(time.RFC3339))
	}
	if !o.withinDays(start, now, s.Region.Rules.HorizonDays) {
		return errf(CodeOutsideHorizon, "slots can be booked at most %d days ahead", s.Region.Rules.HorizonDays)
	}
	if h.closed() || m < h.Open || m+slot > h.Close {
		return errf(CodeOfficeClosed, "office %s does not work at %s", o.Config.ID, lt.Format("2006-01-02 15:04"))
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

// daySlots lists the slot starts of office o on the local date d.
func (s *State) daySlots(o *Office, d time.Time) []int64 {
	h := o.hoursOn(d)
	slot := s.Region.Rules.SlotMinutes
	var out []int64
	for m := h.Open; m+slot <= h.Close; m += slot {
		out = append(out, time.Date(d.Year(), d.Month(), d.Day(), m/60, m%60, 0, 0, o.loc).Unix())
	}
	return out
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
	for i := 0; i < days; i++ {
		for _, st := range s.daySlots(o, d.AddDate(0, 0, i)) {
			if st > now && o.withinDays(st, now, s.Region.Rules.HorizonDays) {
				out = append(out, s.slot(o, service, st))
			}
		}
	}
	return out, nil
}

func (s *State) slot(o *Office, service string, start int64) Slot {
	return Slot{Office: o.Config.ID, Start: start, End: start + int64(s.Region.Rules.SlotMinutes)*60, Free: s.free(o, service, start)}
}

// EarliestFree is the first slot of service with a free seat after now, if any.
func (s *State) EarliestFree(o *Office, service string, now int64) (Slot, bool) {
	if s.checkBookable(o, service) != nil {
		return Slot{}, false
	}
	f := time.Unix(now, 0).In(o.loc)
	for i := 0; i <= s.Region.Rules.HorizonDays; i++ {
		for _, st := range s.daySlots(o, time.Date(f.Year(), f.Month(), f.Day()+i, 0, 0, 0, 0, o.loc)) {
			if st > now && s.free(o, service, st) > 0 {
				return s.slot(o, service, st), true
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
		if other == o || s.checkBookable(other, service) != nil || s.checkSlot(other, start, now) != nil {
			continue
		}
		if s.free(other, service, start) > 0 && len(alt.OtherOffices) < maxAlternatives {
			alt.OtherOffices = append(alt.OtherOffices, s.slot(other, service, start))
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
	day := func(i int) []int64 {
		return s.daySlots(o, time.Date(lt.Year(), lt.Month(), lt.Day()+i, 0, 0, 0, 0, o.loc))
	}
	const reach = 3
	slots := day(0)
	k, _ := slices.BinarySearch(slots, start)
	left, right := slots[:k], slots[k:]
	if len(right) > 0 && right[0] == start {
		right = right[1:]
	}
	ld, rd := 0, 0
	out := []Slot{}
	for len(out) < n {
		for len(left) == 0 && ld > -reach {
			ld--
			left = day(ld)
		}
		for len(right) == 0 && rd < reach {
			rd++
			right = day(rd)
		}
		var st int64
		switch {
		case len(left) > 0 && (len(right) == 0 || start-left[len(left)-1] <= right[0]-start):
			st, left = left[len(left)-1], left[:len(left)-1]
			if st <= now { // the rest of this side is past too
				left, ld = nil, -reach
				continue
			}
		case len(right) > 0:
			st, right = right[0], right[1:]
			if !o.withinDays(st, now, s.Region.Rules.HorizonDays) { // and so is the rest of this side
				right, rd = nil, reach
				continue
			}
		default:
			return out
		}
		if s.free(o, service, st) > 0 {
			out = append(out, s.slot(o, service, st))
		}
	}
	return out
}
