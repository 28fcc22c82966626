package queue

import (
	"cmp"
	"iter"
	"slices"
	"sort"
	"time"
)

// Reader is the read side of a State for the layers above the domain (the
// API, the screens, the metrics, notification delivery). Every method
// returns a copy or a part of the configuration, which is never modified
// once installed, so what a caller keeps stays as it was. A Reader is valid
// only while the state's owner holds its read lock (cluster's Store.Read
// hands it out); keep what it returns, never the Reader.
type Reader struct{ s *State }

// Reader returns the read side of s.
func (s *State) Reader() Reader { return Reader{s} }

// Index is the last applied log index.
func (r Reader) Index() uint64 { return r.s.Index }

// EventSeq is the number of the last event.
func (r Reader) EventSeq() uint64 { return r.s.EventSeq }

// Now is the last stamped time.
func (r Reader) Now() int64 { return r.s.Now }

// Region is the installed configuration, nil before one is loaded. It is
// never modified: a change installs a new one.
func (r Reader) Region() *Region { return r.s.Region }

// Rules are the region's rules.
func (r Reader) Rules() Rules { return r.s.Region.Rules }

// Service returns the service with the id.
func (r Reader) Service(id string) (Service, bool) {
	if r.s.Region == nil {
		return Service{}, false
	}
	if sv := r.s.Service(id); sv != nil {
		return *sv, true
	}
	return Service{}, false
}

// Config is an office's configuration and time zone, or nil.
func (r Reader) Config(office string) (*OfficeConfig, *time.Location) {
	if o := r.s.Offices[office]; o != nil {
		return o.Config, o.loc
	}
	return nil, nil
}

// Office returns a copy of an office's live state (its windows, waiting
// tickets, recent calls, open spans), or nil. The copy answers the same
// queries as the office (Offers, Window, WaitingFor, IsOpen, …), so the
// scheduler's functions take it.
func (r Reader) Office(id string) *Office {
	o := r.s.Offices[id]
	if o == nil {
		return nil
	}
	c := *o
	c.Windows = make([]*Window, len(o.Windows))
	for i, w := range o.Windows {
		c.Windows[i] = copyOf(w)
	}
	c.Waiting = make([]*Ticket, len(o.Waiting))
	for i, t := range o.Waiting {
		c.Waiting[i] = copyOf(t)
	}
	c.counts = make(map[string]int, len(o.counts))
	for k, v := range o.counts {
		c.counts[k] = v
	}
	c.Recent = slices.Clone(o.Recent)
	c.Spans = slices.Clip(o.Spans) // only ever appended to: the copy's part never changes
	c.Sittings = slices.Clip(o.Sittings)
	return &c
}

// WaitingCounts is how many wait at an office, per service it offers.
func (r Reader) WaitingCounts(office string) map[string]int {
	out := map[string]int{}
	if o := r.s.Offices[office]; o != nil {
		for _, sv := range o.Config.Services {
			out[sv] = o.counts[sv]
		}
	}
	return out
}

// Booking is a copy of booking id as of time now (a hold that ran out shows
// as expired), or nil.
func (r Reader) Booking(id uint64, now int64) *Booking { return r.s.Booking(id, now) }

// BookingByRef is a copy of the booking with public reference ref, or nil.
func (r Reader) BookingByRef(ref string, now int64) *Booking { return r.s.BookingByRef(ref, now) }

// Ticket is a copy of ticket id, or nil.
func (r Reader) Ticket(id uint64) *Ticket {
	if t := r.s.Tickets[id]; t != nil {
		return copyOf(t)
	}
	return nil
}

// TicketsIssued yields a copy of each ticket of office issued in
// [from, to), in order of issue, without looking at any other.
func (r Reader) TicketsIssued(office string, from, to int64) iter.Seq[Ticket] {
	return func(yield func(Ticket) bool) {
		ts := r.s.issued[office]
		i, _ := slices.BinarySearchFunc(ts, from, func(t *Ticket, at int64) int { return cmp.Compare(t.IssuedAt, at) })
		for ; i < len(ts) && ts[i].IssuedAt < to; i++ {
			if !yield(*ts[i]) {
				return
			}
		}
	}
}

// Tickets yields a copy of every ticket, in no order.
func (r Reader) Tickets() iter.Seq[Ticket] {
	return func(yield func(Ticket) bool) {
		for _, t := range r.s.Tickets {
			if !yield(*t) {
				return
			}
		}
	}
}

// Slots lists the bookable slots (State.Slots).
func (r Reader) Slots(office, service, day string, days int, now int64) ([]Slot, *Error) {
	return r.s.Slots(office, service, day, days, now)
}

// EarliestFree is the first slot of service at office with a free seat
// after now.
func (r Reader) EarliestFree(office, service string, now int64) (Slot, bool) {
	o := r.s.Offices[office]
	if o == nil {
		return Slot{}, false
	}
	return r.s.EarliestFree(o, service, now)
}

// Alternatives are the nearest free slots to a taken one (State.Alternatives).
func (r Reader) Alternatives(office, service string, start, now int64) *Alternatives {
	return r.s.Alternatives(office, service, start, now)
}

// BookingWindows is how many windows of office take bookings for service.
func (r Reader) BookingWindows(office, service string) int {
	if o := r.s.Offices[office]; o != nil {
		return o.BookingWindows(service)
	}
	return 0
}

// Visit is a booked visit's window time, as an office's day shows it.
type Visit struct {
	Booking    uint64 `json:"booking"`
	Number     string `json:"number"`
	Service    string `json:"service"`
	Window     int    `json:"window"` // 0: unplaced, it holds no window time
	Start, End int64
}

// WindowTime lists the visits of office on local date day that hold a
// seat, in booking order, with the window each holds.
func (r Reader) WindowTime(office, day string) ([]Visit, bool) {
	o := r.s.Offices[office]
	if o == nil {
		return nil, false
	}
	out := []Visit{}
	for _, b := range r.s.seated(o) {
		if d, _ := o.dayOf(b.Start); d == day {
			out = append(out, Visit{Booking: b.ID, Number: b.Number, Service: b.Service, Window: b.Seat,
				Start: b.Start, End: b.Start + int64(b.Slots*o.slot)*60})
		}
	}
	return out, true
}

// Unplaced are copies of the live bookings that hold no window time (a
// region change or a closure took it, or they came from a snapshot of the
// first version and did not fit), in booking order.
func (r Reader) Unplaced() []Booking {
	var out []Booking
	for _, ids := range r.s.active {
		for _, id := range ids {
			if b := r.s.Bookings[id]; b.Seat == 0 && b.holdsSeat(r.s.Now) {
				out = append(out, *b)
			}
		}
	}
	slices.SortFunc(out, func(a, b Booking) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// SubscriptionIDs lists the webhook subscriptions, sorted.
func (r Reader) SubscriptionIDs() []string {
	ids := make([]string, 0, len(r.s.Subs))
	for id := range r.s.Subs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// Subscription is a copy of subscription id.
func (r Reader) Subscription(id string) (Subscription, bool) {
	sub := r.s.Subs[id]
	if sub == nil {
		return Subscription{}, false
	}
	c := *sub
	c.Kinds, c.Offices = slices.Clone(sub.Kinds), slices.Clone(sub.Offices)
	return c, true
}

// Backlog is subscription id's outbox: how many notifications wait, how
// many are dead letters, and a copy of the first waiting one (nil: none).
func (r Reader) Backlog(id string) (pending, dead int, head *Notification) {
	box := r.s.Outbox[id]
	if len(box) > 0 {
		n := box[0]
		head = &n
	}
	return len(box), len(r.s.Dead[id]), head
}

// DeadLetters is a copy of subscription id's dead letters.
func (r Reader) DeadLetters(id string) []Notification { return slices.Clone(r.s.Dead[id]) }

// Why a day has no free time (DayClosed).
const (
	DayHoliday = "holiday" // a holiday of the office's calendar closes it
	DayClosed  = "closed"  // the office does not work that weekday
	DayClosure = "closure" // closed at short notice (CloseOffice)
	DayPast    = "past"
	DayTooFar  = "outside_horizon" // beyond the booking horizon
)

// DayClosed says why the office is closed to bookings on its local date day
// as of now ("" when it is open that day: then a day without free time is
// full).
func (r Reader) DayClosed(office, day string, now int64) string {
	o := r.s.Offices[office]
	if o == nil {
		return DayClosed
	}
	d, err := time.ParseInLocation(time.DateOnly, day, o.loc)
	if err != nil {
		return DayClosed
	}
	end := d.AddDate(0, 0, 1).Unix()
	switch h, holiday := o.holidays[day]; {
	case end <= now:
		return DayPast
	case !o.withinDays(d.Unix(), now, r.s.Region.Rules.HorizonDays):
		return DayTooFar
	case holiday && h.closed():
		return DayHoliday
	case o.hoursOn(d).closed():
		return DayClosed
	}
	for _, c := range o.Closures {
		if c.From <= max(d.Unix(), now) && c.To >= end {
			return DayClosure
		}
	}
	return ""
}
