package queue

import (
	"cmp"
	"encoding/gob"
	"fmt"
	"io"
	"slices"
	"unique"
)

// snapshotVersion 2 added the bookings' window time (Booking.Seat, Slots)
// and the offices' closures; Load still reads version 1 and finds its
// bookings window time.
const snapshotVersion = 2

// snapshot is the persistent part of State; the indexes are rebuilt on load.
type snapshot struct {
	Version                     int
	Region                      *Region
	Now                         int64
	Index, EventSeq             uint64
	NextBookingID, NextTicketID uint64
	ErasedThrough               int64
	ArchivedThrough             int64
	Bookings                    []*Booking
	Tickets                     []*Ticket
	Counters                    map[string]int
	Retries                     map[string]Retry
	Offices                     []officeSnapshot
	Subs                        map[string]*Subscription
	Outbox, Dead                map[string][]Notification
	Employees                   map[string]*Employee // absent before staff accounts
	Audit                       []AuditEntry
}

type officeSnapshot struct {
	ID, Day            string
	Windows            []Window
	Waiting            []uint64
	Recent             []Call
	Spans              []Span
	RemindedFor, Level string
	Closures           []Closure
	Shows              Shows // absent before the forecast counted them: zero
	Sittings           []Sitting
}

// Save writes the whole state to w.
func (s *State) Save(w io.Writer) error {
	snap := snapshot{
		Version: snapshotVersion, Region: s.Region, Now: s.Now, Index: s.Index, EventSeq: s.EventSeq,
		NextBookingID: s.NextBookingID, NextTicketID: s.NextTicketID, ErasedThrough: s.ErasedThrough, ArchivedThrough: s.ArchivedThrough, Counters: s.Counters, Retries: s.Retries,
		Subs: s.Subs, Outbox: s.Outbox, Dead: s.Dead, Employees: s.Employees, Audit: s.Audit,
		Bookings: make([]*Booking, 0, len(s.Bookings)), Tickets: make([]*Ticket, 0, len(s.Tickets)),
	}
	// In ID order (IDs are never reused, nothing is ever deleted), so Load
	// rebuilds the indexes in the order they were made without sorting.
	for id := uint64(1); id <= s.NextBookingID; id++ {
		if b := s.Bookings[id]; b != nil {
			snap.Bookings = append(snap.Bookings, b)
		}
	}
	for id := uint64(1); id <= s.NextTicketID; id++ {
		if t := s.Tickets[id]; t != nil {
			snap.Tickets = append(snap.Tickets, t)
		}
	}
	for id, o := range s.Offices {
		os := officeSnapshot{ID: id, Day: o.Day, Recent: o.Recent, Spans: o.Spans, RemindedFor: o.RemindedFor, Level: o.Level, Closures: o.Closures, Shows: o.Shows, Sittings: o.Sittings}
		for _, w := range o.Windows {
			os.Windows = append(os.Windows, *w)
		}
		for _, t := range o.Waiting {
			os.Waiting = append(os.Waiting, t.ID)
		}
		snap.Offices = append(snap.Offices, os)
	}
	return gob.NewEncoder(w).Encode(&snap)
}

func intern(s string) string { return unique.Make(s).Value() }

// Load reads a state written by Save.
func Load(r io.Reader, p Policy) (*State, error) {
	var snap snapshot
	if err := gob.NewDecoder(r).Decode(&snap); err != nil {
		return nil, fmt.Errorf("decode snapshot: %w", err)
	}
	if snap.Version != snapshotVersion && snap.Version != 1 {
		return nil, fmt.Errorf("snapshot version %d, want %d or 1", snap.Version, snapshotVersion)
	}
	s := New(p)
	s.Now, s.Index, s.EventSeq = snap.Now, snap.Index, snap.EventSeq
	s.NextBookingID, s.NextTicketID, s.ErasedThrough = snap.NextBookingID, snap.NextTicketID, snap.ErasedThrough
	s.ArchivedThrough = snap.ArchivedThrough
	if snap.Counters != nil {
		s.Counters = snap.Counters
	}
	if snap.Retries != nil {
		s.Retries = snap.Retries
	}
	if snap.Subs != nil {
		s.Subs, s.Outbox, s.Dead = snap.Subs, snap.Outbox, snap.Dead
	}
	if s.Outbox == nil || s.Dead == nil {
		s.Outbox, s.Dead = map[string][]Notification{}, map[string][]Notification{}
	}
	if snap.Employees != nil {
		s.Employees = snap.Employees
	}
	s.Audit = snap.Audit
	// A region holds a million of these: the strings every record repeats
	// (office, service, status, day) are kept once.
	s.Tickets = make(map[uint64]*Ticket, len(snap.Tickets))
	for _, t := range snap.Tickets {
		t.Office, t.Service, t.Day, t.Category = intern(t.Office), intern(t.Service), intern(t.Day), intern(t.Category)
		t.Status = TicketStatus(intern(string(t.Status)))
		s.Tickets[t.ID] = t
		s.issued[t.Office] = append(s.issued[t.Office], t) // saved in id order: issue order
	}
	if !slices.IsSortedFunc(snap.Bookings, func(a, b *Booking) int { return cmp.Compare(a.ID, b.ID) }) {
		slices.SortFunc(snap.Bookings, func(a, b *Booking) int { return cmp.Compare(a.ID, b.ID) })
	}
	s.Bookings = make(map[uint64]*Booking, len(snap.Bookings))
	s.refs, s.active = make(map[string]uint64, len(snap.Bookings)), make(map[string][]uint64, len(snap.Bookings))
	for _, b := range snap.Bookings {
		b.Office, b.Service, b.Status = intern(b.Office), intern(b.Service), BookingStatus(intern(string(b.Status)))
		s.Bookings[b.ID] = b
		s.dated(b)
		s.filed(b)
		if b.Ref != "" {
			s.refs[b.Ref] = b.ID
		} else {
			s.unreferenced++
		}
		switch {
		case b.live():
			s.index(b)
		case b.Status == BookingCheckedIn:
			k := seatKey{b.Office, b.Service, b.Start}
			s.seats[k] = append(s.seats[k], b.ID)
		}
	}
	if snap.Region == nil {
		return s, nil
	}
	offices, err := snap.Region.compile()
	if err != nil {
		return nil, fmt.Errorf("snapshot region: %w", err)
	}
	s.Region, s.Offices = snap.Region, offices
	for _, os := range snap.Offices {
		o := offices[os.ID]
		if o == nil {
			continue
		}
		o.Day, o.Recent, o.Spans, o.RemindedFor, o.Level, o.Closures, o.Shows, o.Sittings = os.Day, os.Recent, os.Spans, os.RemindedFor, os.Level, os.Closures, os.Shows, os.Sittings
		for _, w := range os.Windows {
			if ow := o.Window(w.Number); ow != nil {
				ow.State, ow.Current, ow.Since, ow.Serving, ow.Busy = w.State, w.Current, w.Since, w.Serving, w.Busy
			}
		}
		waiting := make([]*Ticket, 0, len(os.Waiting))
		for _, id := range os.Waiting {
			waiting = append(waiting, s.Tickets[id])
		}
		o.setWaiting(waiting)
	}
	s.restorePlans()
	return s, nil
}

// restorePlans rebuilds the window time from the bookings' seats; a
// booking without one (unplaced, or from a version 1 snapshot) is admitted
// again in booking order, and stays unplaced, never dropped, if none fits.
func (s *State) restorePlans() {
	var rest []*Booking
	seated := s.seatedByOffice()
	for _, oc := range s.Region.Offices {
		o := s.Offices[oc.ID]
		for _, b := range seated[oc.ID] {
			if b.Slots == 0 {
				b.Slots = o.visit[b.Service]
			}
			day, v := o.visitOf(b)
			p := s.planOf(o, day)
			w := o.windowIndex(b.Seat)
			if w < 0 || !o.fits(p, w, v) || slices.ContainsFunc(p.cells[w][v.k:v.k+v.n], func(id uint64) bool { return id != 0 }) {
				rest = append(rest, b)
				continue
			}
			s.occupy(o, b, b.Seat)
		}
	}
	slices.SortFunc(rest, func(a, b *Booking) int { return cmp.Compare(a.ID, b.ID) })
	for _, b := range rest {
		b.Seat = 0
		s.seat(s.Offices[b.Office], b)
	}
}
