package queue

import "slices"

// Closure is a short-notice closing of an office (a power cut, a flood):
// in [From, To) nobody can book a visit or take a ticket, and the bookings
// then lose their window time and are told (booking_affected).
type Closure struct {
	From, To int64
	Reason   string
}

// closedAt reports whether a closure overlaps the minutes from t on.
func (o *Office) closedAt(t int64, minutes int) bool {
	for _, c := range o.Closures {
		if t < c.To && t+int64(minutes)*60 > c.From {
			return true
		}
	}
	return false
}

// maxClosures bounds an office's closures; the past ones are dropped first.
const maxClosures = 64

// closeOffice records, replaces (same From) or lifts (To <= From) a
// closure, and replans the office: the bookings it takes window time from
// are unplaced and told.
func (s *State) closeOffice(c *CloseOffice) Result {
	o, err := s.office(c.Office)
	if err != nil {
		return Result{Err: err}
	}
	cs := slices.DeleteFunc(slices.Clone(o.Closures), func(x Closure) bool { return x.From == c.From || x.To <= s.Now })
	if c.To > c.From {
		if c.To-c.From > 366*24*3600 {
			return Result{Err: errf(CodeInvalidRequest, "a closure lasts at most a year")}
		}
		cs = append(cs, Closure{From: c.From, To: c.To, Reason: c.Reason})
	}
	if len(cs) > maxClosures {
		return Result{Err: errf(CodeInvalidRequest, "an office has at most %d closures", maxClosures)}
	}
	slices.SortFunc(cs, func(a, b Closure) int { return int(a.From - b.From) })
	o.Closures = cs
	s.emit(Event{Kind: EvOfficeClosed, Office: o.Config.ID, Closure: &Closure{From: c.From, To: c.To, Reason: c.Reason}})
	return Result{Affected: s.replan(o)}
}
