package queue

import "slices"

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
