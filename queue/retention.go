package queue

import (
	"cmp"
	"slices"
	"strings"
	"time"
)

// Personal data. A booking carries the applicant's name and phone for the
// visit alone (152-ФЗ: the minimum, no longer than needed): Rules.
// PersonalDataDays after the day of the visit, a Tick erases them from the
// booking and from the notifications still held for it. The booking stays,
// without them, for the statistics and the records (which never carried
// them). The log entries that brought them in go with the log's compaction
// after the next snapshots.

const day = 86400

// Erased is what an erased name reads.
const Erased = "—"

// dated files booking b under the UTC day of its visit, for the erasure.
func (s *State) dated(b *Booking) {
	if d := b.Start / day; d > s.ErasedThrough {
		s.byDay[d] = append(s.byDay[d], b.ID)
	}
}

// eraseDay is the last UTC day whose bookings' personal data is due for
// erasure at time now.
func (s *State) eraseDay(now int64) int64 {
	return now/day - int64(s.Region.Rules.PersonalDataDays) - 1
}

// erasePersonal erases the personal data of every booking whose visit day
// is due, and of the notifications held that are as old.
func (s *State) erasePersonal() {
	through := s.eraseDay(s.Now)
	if through <= s.ErasedThrough {
		return
	}
	var days []int64
	for d := range s.byDay {
		if d <= through {
			days = append(days, d)
		}
	}
	slices.Sort(days)
	for _, d := range days {
		for _, id := range s.byDay[d] {
			if b := s.Bookings[id]; b != nil && b.Start/day <= through && !b.live() {
				b.Name, b.Phone = Erased, ""
			}
		}
		delete(s.byDay, d)
	}
	cutoff := (through + 1) * day
	for _, box := range []map[string][]Notification{s.Outbox, s.Dead} {
		for _, ns := range box {
			for i := range ns {
				if ns[i].At < cutoff || ns[i].Start != 0 && ns[i].Start < cutoff {
					ns[i].Phone = ""
				}
			}
		}
	}
	s.ErasedThrough = through
}

// The archive. Rules.ArchiveDays after its day (UTC), a finished ticket or
// booking leaves the live state: a Tick removes it and hands it out in
// Result.Archive, and every node writes what it is handed to its archive on
// disk (cluster), from which the statistics and records of older periods are
// read. Nothing in the archive carries a name or a phone. So the live state,
// its snapshots and a restart stay the size of the last ArchiveDays days,
// whatever the region's age.

// Archive is what a Tick took out of the live state.
type Archive struct {
	Tickets  []Ticket
	Bookings []Booking // names and phones erased
}

// archiveDay is the last UTC day due for the archive at time now.
func (s *State) archiveDay(now int64) int64 {
	return now/day - int64(s.Region.Rules.ArchiveDays) - 1
}

// filed files booking b under its visit's day for the archive.
func (s *State) filed(b *Booking) {
	if d := b.Start / day; d > s.ArchivedThrough {
		s.byVisit[d] = append(s.byVisit[d], b.ID)
	}
}

// archive takes the tickets issued and the bookings visited on the days
// due out of the live state, in id order.
func (s *State) archive() *Archive {
	through := s.archiveDay(s.Now)
	if through <= s.ArchivedThrough {
		return nil
	}
	cutoff := (through + 1) * day
	a := &Archive{}
	for office, ts := range s.issued {
		n := 0
		for n < len(ts) && ts[n].IssuedAt < cutoff && ts[n].Status != TicketWaiting && ts[n].Status != TicketCalled {
			n++
		}
		for _, t := range ts[:n] {
			a.Tickets = append(a.Tickets, *t)
			delete(s.Tickets, t.ID)
		}
		s.issued[office] = slices.Clip(ts[n:])
	}
	var days []int64
	for d := range s.byVisit {
		if d <= through {
			days = append(days, d)
		}
	}
	for _, d := range days {
		for _, id := range s.byVisit[d] {
			if b := s.Bookings[id]; b != nil && b.Start < cutoff && !b.live() {
				cp := *b
				cp.Name, cp.Phone = Erased, ""
				a.Bookings = append(a.Bookings, cp)
				delete(s.Bookings, id)
				delete(s.refs, b.Ref)
				if b.Status == BookingCheckedIn {
					k := seatKey{b.Office, b.Service, b.Start}
					s.seats[k] = remove(s.seats[k], b.ID)
				}
			}
		}
		delete(s.byVisit, d)
	}
	// The numbering of the days gone (a day's key: "office|2026-11-23|П").
	before := time.Unix(cutoff-day, 0).UTC().Format(time.DateOnly) // a day's margin for the offices' zones
	for k := range s.Counters {
		if _, rest, _ := strings.Cut(k, "|"); rest < before {
			delete(s.Counters, k)
		}
	}
	slices.SortFunc(a.Tickets, func(x, y Ticket) int { return cmp.Compare(x.ID, y.ID) })
	slices.SortFunc(a.Bookings, func(x, y Booking) int { return cmp.Compare(x.ID, y.ID) })
	s.ArchivedThrough = through
	return a
}
