// Package windowcheck checks the window-time invariant of an office day
// from outside the planner, for the tests of several packages and for
// talonbench: every visit that holds a seat sits on a window of its office
// that takes bookings and serves its service, and no window holds two
// visits at once. (The queue package's property test checks hours and
// breaks as well, against its configuration.)
package windowcheck

import (
	"fmt"
	"slices"

	"github.com/talon-mfc/talon/queue"
)

// Visit is a booked visit and the window it holds (0: unplaced).
type Visit struct {
	Booking    string
	Service    string
	Window     int
	Start, End int64
}

// Check returns the first violation among visits of office oc, or nil.
// Unplaced visits (window 0) are allowed only when unplaced says so.
func Check(oc *queue.OfficeConfig, visits []Visit, unplaced func(booking string) bool) error {
	byWindow := map[int][]Visit{}
	for _, v := range visits {
		if v.Window == 0 {
			if unplaced == nil || !unplaced(v.Booking) {
				return fmt.Errorf("%s: booking %s holds a seat but no window", oc.ID, v.Booking)
			}
			continue
		}
		i := slices.IndexFunc(oc.Windows, func(w queue.WindowConfig) bool { return w.Number == v.Window })
		if i < 0 || !oc.Windows[i].Bookings || !slices.Contains(oc.Windows[i].Services, v.Service) {
			return fmt.Errorf("%s: booking %s (%s) sits on window %d, which does not take its bookings", oc.ID, v.Booking, v.Service, v.Window)
		}
		if v.End <= v.Start {
			return fmt.Errorf("%s: booking %s holds no time", oc.ID, v.Booking)
		}
		for _, o := range byWindow[v.Window] {
			if o.Start < v.End && v.Start < o.End {
				return fmt.Errorf("DOUBLE BOOKING: %s window %d holds bookings %s and %s at once", oc.ID, v.Window, o.Booking, v.Booking)
			}
		}
		byWindow[v.Window] = append(byWindow[v.Window], v)
	}
	return nil
}

// FromReader is the visits of office on local date day, as r shows them.
func FromReader(r queue.Reader, office, day string) []Visit {
	vs, _ := r.WindowTime(office, day)
	out := make([]Visit, len(vs))
	for i, v := range vs {
		out[i] = Visit{Booking: fmt.Sprint(v.Booking), Service: v.Service, Window: v.Window, Start: v.Start, End: v.End}
	}
	return out
}
