package queue

import "slices"

// Outlook is what a forecast plays out besides the waiting line.
type Outlook struct {
	Expected []Expected // booked applicants expected to check in soon
	// Service is a new ticket's, joining last; with none (""), the playout
	// goes on until every window has made more than Near calls.
	Service string
	Near    int
}

// Forecast is a policy's playout of an office's next calls.
type Forecast struct {
	// Wait is the new ticket's expected wait in seconds; Ahead the calls
	// forecast before its own at the windows that serve its service.
	Wait  int64
	Ahead int
	// Near is, for the waiting tickets played out, the calls before each
	// one's own at the windows that serve its service (with no new ticket).
	Near map[uint64]int
}

// Expected is a booked applicant not in the live queue yet who is likely to
// come: in line and due from At (the slot's start, later by the office's
// usual lateness), with the chance Permille/1000 that they come at all.
type Expected struct {
	Booking  uint64
	Service  string
	At       int64
	Permille int64
}

// Shows counts how an office's booked applicants came: checked in, and how
// late in all (seconds after the slot's start), or missed their day.
type Shows struct {
	Came, Missed int
	Late         int64
}

// Permille is the chance in thousandths that a booked applicant comes,
// from the office's history; with little history it leans on 9 in 10.
func (sh Shows) Permille() int64 {
	const prior, priorCame = 20, 18
	return int64(sh.Came+priorCame) * 1000 / int64(sh.Came+sh.Missed+prior)
}

// MeanLate is how late a booked applicant who came was on average, seconds.
func (sh Shows) MeanLate() int64 { return sh.Late / int64(max(1, sh.Came)) }

// expectHours is how far ahead the forecast looks for booked applicants.
const expectHours = 1

// expected is the confirmed bookings of office o's current day that have
// not checked in and whose slot begins within the next hour or began
// recently enough to check in still, in slot order.
func (s *State) expected(o *Office, now int64) []Expected {
	day, k := o.dayOf(now)
	p := s.plans[planKey{o.Config.ID, day}]
	if p == nil || len(p.cells) == 0 {
		return nil
	}
	late := (s.Region.Rules.CheckinLateMinutes + o.slot - 1) / o.slot
	from, to := max(0, k-late), min(len(p.cells[0])-1, k+expectHours*60/o.slot)
	var out []Expected
	permille, lateBy := o.Shows.Permille(), o.Shows.MeanLate()
	for j := from; j <= to; j++ {
		for w := range p.cells {
			id := p.cells[w][j]
			if id == 0 || j > 0 && p.cells[w][j-1] == id {
				continue // no booking, or not where its visit begins
			}
			b := s.Bookings[id]
			if b == nil || b.Status != BookingConfirmed || b.Start+int64(s.Region.Rules.CheckinLateMinutes)*60 < now {
				continue
			}
			out = append(out, Expected{Booking: id, Service: b.Service, At: b.Start + lateBy, Permille: permille})
		}
	}
	return slices.Clip(out)
}

// Expected is office's bookings expected to check in soon after now (see
// Forecast).
func (r Reader) Expected(office string, now int64) []Expected {
	if o := r.s.Offices[office]; o != nil {
		return r.s.expected(o, now)
	}
	return nil
}
