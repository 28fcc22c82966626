package queue

import (
	"fmt"
	"slices"
	"strings"
)

// span is an interval [Open, Close) in minutes from local midnight.
type span struct{ Open, Close int }

// spans are the intervals of one day in which something is open (an
// office, a window taking bookings, a service bookable), in order and not
// overlapping; none is closed all day. A lunch break is the gap between
// two: "08:00-13:00, 14:00-20:00".
type spans []span

// allDay is open all day: the hours of a window or service that names none.
var allDay = spans{{0, 24 * 60}}

func (ss spans) closed() bool { return len(ss) == 0 }

// covers reports whether [from, to) lies inside one interval.
func (ss spans) covers(from, to int) bool {
	for _, s := range ss {
		if from >= s.Open && to <= s.Close {
			return true
		}
	}
	return false
}

// parseSpans reads "HH:MM-HH:MM[, HH:MM-HH:MM…]", "closed" or "" (closed).
func parseSpans(s string) (spans, error) {
	s = strings.TrimSpace(s)
	if len(s) > 200 {
		return nil, fmt.Errorf("hours %.32q…: too long", s)
	}
	if s == "" || s == "closed" {
		return nil, nil
	}
	var out spans
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		var h1, m1, h2, m2 int
		if _, err := fmt.Sscanf(part, "%d:%d-%d:%d", &h1, &m1, &h2, &m2); err != nil || len(part) > 11 {
			return nil, fmt.Errorf("hours %.32q: want HH:MM-HH:MM, several separated by commas, or closed", s)
		}
		sp := span{h1*60 + m1, h2*60 + m2}
		if h1 < 0 || m1 < 0 || m1 > 59 || m2 < 0 || m2 > 59 || sp.Open < 0 || sp.Close > 24*60 || sp.Close <= sp.Open {
			return nil, fmt.Errorf("hours %.32q: %s is not a time range within one day", s, part)
		}
		if len(out) > 0 && sp.Open < out[len(out)-1].Close {
			return nil, fmt.Errorf("hours %.32q: intervals must be in order and must not overlap", s)
		}
		out = append(out, sp)
	}
	return out, nil
}

// parseOptionalSpans is parseSpans for the booking hours of a window or a
// service, where none given means all day.
func parseOptionalSpans(s string) (spans, error) {
	if strings.TrimSpace(s) == "" {
		return allDay, nil
	}
	ss, err := parseSpans(s)
	if err == nil && ss.closed() {
		return nil, fmt.Errorf("booking hours %q: leave them out, or set bookable: false", s)
	}
	return ss, err
}

// intersect is the part of the day open in both a and b.
func intersect(a, b spans) spans {
	var out spans
	for _, x := range a {
		for _, y := range b {
			if lo, hi := max(x.Open, y.Open), min(x.Close, y.Close); lo < hi {
				out = append(out, span{lo, hi})
			}
		}
	}
	slices.SortFunc(out, func(p, q span) int { return p.Open - q.Open })
	return out
}

var weekdays = [7]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// Default working hours: Monday to Friday 09:00–18:00, Saturday 10:00–15:00.
var defaultHours = map[string]string{
	"mon": "09:00-18:00", "tue": "09:00-18:00", "wed": "09:00-18:00", "thu": "09:00-18:00",
	"fri": "09:00-18:00", "sat": "10:00-15:00", "sun": "closed",
}
