package queue

import "slices"

// Outlook is what a forecast plays out besides the waiting line.
type Outlook struct {
	Expected []Expected // booked applicants expected to check in soon
	// Service is a new ticket's, joining last; with none (""), the playout
	// goes on until every window has made more than Near calls.
	Service string
	Near    int
	// Slot is the new ticket's booked slot start when it is a booked
	// applicant checking in (due from then on), else 0.
	Slot int64
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

// Expected is a booked applicant not in the live queue yet who may still
// come: in line and due from At (the slot's start, or now when it has
// begun), with the chance Permille/1000 that they come.
type Expected struct {
	Booking  uint64
	Service  string
	At       int64
	Permille int64
}

// Shows counts how an office's booked applicants came: those who checked
// in, by when (At: 5-minute buckets of the time from their slot's start,
// from 30 minutes before to 15 after), and those who missed their day.
type Shows struct {
	Came, Missed int
	At           [showBuckets]int
}

const (
	showBuckets = 9
	bucketSecs  = 300
	firstBucket = -30 * 60 // seconds from the slot's start
)

// came records a check-in at now for a slot starting at start.
func (sh *Shows) came(start, now int64) {
	sh.Came++
	sh.At[min(showBuckets-1, max(0, (now-start-firstBucket)/bucketSecs))]++
}

// Chance is, in thousandths, the chance that a booked applicant whose slot
// begins at start and who has not checked in by now still comes: of those
// who come at all (Came against Missed), the share who check in after now
// (At), given that they have not yet. With little history it leans on 9
// in 10 coming, at any time of the check-in window alike.
func (sh Shows) Chance(start, now int64) int64 {
	const prior, priorCame, priorAt = 20, 18, 2
	p := int64(sh.Came+priorCame) * 1000 / int64(sh.Came+sh.Missed+prior)
	offset := now - start
	var after, all int64 // comers × seconds of their bucket after now, and in all
	for b, n := range sh.At {
		w, lo := int64(n+priorAt), int64(firstBucket+b*bucketSecs)
		all += w * bucketSecs
		after += w * min(bucketSecs, max(0, lo+bucketSecs-offset))
	}
	return 1000 * p * after / ((1000-p)*all + p*after)
}

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
			out = append(out, Expected{Booking: id, Service: b.Service, At: max(now, b.Start), Permille: o.Shows.Chance(b.Start, now)})
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
