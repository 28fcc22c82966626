package queue

import (
	"encoding/gob"
	"fmt"
	"io"
	"sort"
)

const snapshotVersion = 1

// snapshot is the persistent part of State; the indexes are rebuilt on load.
type snapshot struct {
	Version                     int
	Region                      *Region
	Now                         int64
	Index, EventSeq             uint64
	NextBookingID, NextTicketID uint64
	Bookings                    []*Booking
	Tickets                     []*Ticket
	Counters                    map[string]int
	Retries                     map[string]Retry
	Offices                     []officeSnapshot
	Subs                        map[string]*Subscription
	Outbox, Dead                map[string][]Notification
}

type officeSnapshot struct {
	ID, Day            string
	Windows            []Window
	Waiting            []uint64
	Recent             []Call
	Spans              []Span
	RemindedFor, Level string
}

// Save writes the whole state to w.
func (s *State) Save(w io.Writer) error {
	snap := snapshot{
		Version: snapshotVersion, Region: s.Region, Now: s.Now, Index: s.Index, EventSeq: s.EventSeq,
		NextBookingID: s.NextBookingID, NextTicketID: s.NextTicketID, Counters: s.Counters, Retries: s.Retries,
		Subs: s.Subs, Outbox: s.Outbox, Dead: s.Dead,
		Bookings: make([]*Booking, 0, len(s.Bookings)), Tickets: make([]*Ticket, 0, len(s.Tickets)),
	}
	for _, b := range s.Bookings {
		snap.Bookings = append(snap.Bookings, b)
	}
	for _, t := range s.Tickets {
		snap.Tickets = append(snap.Tickets, t)
	}
	for id, o := range s.Offices {
		os := officeSnapshot{ID: id, Day: o.Day, Recent: o.Recent, Spans: o.Spans, RemindedFor: o.RemindedFor, Level: o.Level}
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

// Load reads a state written by Save.
func Load(r io.Reader, p Policy) (*State, error) {
	var snap snapshot
	if err := gob.NewDecoder(r).Decode(&snap); err != nil {
		return nil, fmt.Errorf("decode snapshot: %w", err)
	}
	if snap.Version != snapshotVersion {
		return nil, fmt.Errorf("snapshot version %d, want %d", snap.Version, snapshotVersion)
	}
	s := New(p)
	s.Now, s.Index, s.EventSeq = snap.Now, snap.Index, snap.EventSeq
	s.NextBookingID, s.NextTicketID = snap.NextBookingID, snap.NextTicketID
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
	for _, t := range snap.Tickets {
		s.Tickets[t.ID] = t
	}
	sort.Slice(snap.Bookings, func(i, j int) bool { return snap.Bookings[i].ID < snap.Bookings[j].ID })
	for _, b := range snap.Bookings {
		s.Bookings[b.ID] = b
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
		o.Day, o.Recent, o.Spans, o.RemindedFor, o.Level = os.Day, os.Recent, os.Spans, os.RemindedFor, os.Level
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
	return s, nil
}
