package queue

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// BookingStatus is where a booking is in its life.
type BookingStatus string

const (
	BookingHeld      BookingStatus = "held"       // awaiting confirmation, holds its seat until HoldUntil
	BookingConfirmed BookingStatus = "confirmed"  // holds its seat
	BookingCancelled BookingStatus = "cancelled"  // seat freed
	BookingExpired   BookingStatus = "expired"    // hold not confirmed in time
	BookingCheckedIn BookingStatus = "checked_in" // the applicant came and joined the live queue
	BookingMissed    BookingStatus = "missed"     // the day ended without a check-in
)

// Booking is a pre-booked visit (предварительная запись) holding one seat.
type Booking struct {
	ID            uint64        `json:"id"`
	Ref           string        `json:"ref"` // the public reference (ref.go)
	Office        string        `json:"office"`
	Service       string        `json:"service"`
	Start         int64         `json:"start"`
	OriginalStart int64         `json:"original_start"`
	Name          string        `json:"name"`
	Phone         string        `json:"phone"`
	Status        BookingStatus `json:"status"`
	Number        string        `json:"number"`
	Reschedules   int           `json:"reschedules"`
	HoldUntil     int64         `json:"hold_until,omitempty"`
	CreatedAt     int64         `json:"created_at"`
	Ticket        uint64        `json:"ticket,omitempty"`
	// Slots is how many slots the visit holds a window; Seat is the window
	// that holds them (internal: the applicant is called at any free
	// window), 0 while the booking holds no window time (unplaced: the
	// region or a closure took it away).
	Slots int `json:"slots"`
	Seat  int `json:"seat,omitempty"`
}

func (b *Booking) live() bool { return b.Status == BookingHeld || b.Status == BookingConfirmed }

// NormalizePhone is the form a booking stores its phone in: "+" and the
// digits (E.164). The API hands over E.164 it has parsed and validated
// already; log entries of earlier versions carried looser forms, which replay
// as they applied then: the digits, a Russian 8XXXXXXXXXX as 7XXXXXXXXXX.
func NormalizePhone(p string) (string, bool) {
	var b strings.Builder
	for _, r := range p {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '+' || r == ' ' || r == '-' || r == '(' || r == ')':
		default:
			return "", false
		}
	}
	d := b.String()
	if len(d) == 11 && d[0] == '8' {
		d = "7" + d[1:]
	}
	return "+" + d, len(d) >= 10 && len(d) <= 15
}

// activeKey is what the one-active-booking rule counts by: the phone in
// E.164 (bookings of earlier versions stored the digits alone) and the
// service.
func activeKey(phone, service string) string {
	return "+" + strings.TrimPrefix(phone, "+") + "|" + service
}

// slotTaken is the rejection of a full slot. The nearest alternatives are
// not computed here, inside the replicated apply path, but by the caller with
// Alternatives, which only reads.
// slotTaken records the conflict (an event, for the metrics) and answers it.
func (s *State) slotTaken(o *Office, service string, start int64) *Error {
	s.emit(Event{Kind: EvSlotTaken, Office: o.Config.ID, Booking: &Booking{Office: o.Config.ID, Service: service, Start: start}})
	return slotTaken(o, start)
}

func slotTaken(o *Office, start int64) *Error {
	return errf(CodeSlotTaken, "no free seat at %s", time.Unix(start, 0).In(o.loc).Format(time.RFC3339))
}

func (s *State) checkBookable(o *Office, service string) *Error {
	sv := s.Service(service)
	if sv == nil || !o.offers[service] {
		return errf(CodeUnknownService, "office %s does not offer service %q", o.Config.ID, service)
	}
	if !sv.Bookable || o.BookingWindows(service) == 0 {
		return errf(CodeNotBookable, "service %q cannot be booked at office %s", service, o.Config.ID)
	}
	return nil
}

func (s *State) book(c *Book) Result {
	o, err := s.office(c.Office)
	if err != nil {
		return Result{Err: err}
	}
	name := strings.TrimSpace(c.Name)
	phone, ok := NormalizePhone(c.Phone)
	if name == "" || utf8.RuneCountInString(name) > 200 || !ok {
		return Result{Err: errf(CodeInvalidRequest, "applicant needs a name (up to 200 characters) and a phone number")}
	}
	if err := s.checkBookable(o, c.Service); err != nil {
		return Result{Err: err}
	}
	if _, taken := s.refs[c.Ref]; taken {
		return Result{Err: errf(CodeInvalidRequest, "booking reference already in use")}
	}
	if err := s.checkSlot(o, c.Service, c.Start, s.Now); err != nil {
		return Result{Err: err}
	}
	key := activeKey(phone, c.Service)
	if n := s.activeCount(key); n >= s.Region.Rules.ActivePerService {
		return Result{Err: errf(CodeLimitExceeded, "the applicant already holds %d active booking(s) for this service", n)}
	}
	b := &Booking{
		ID: s.NextBookingID + 1, Office: o.Config.ID, Service: c.Service, Start: c.Start, OriginalStart: c.Start,
		Name: name, Phone: phone, Status: BookingConfirmed, CreatedAt: s.Now, Slots: o.visit[c.Service],
	}
	if s.capped(o, c.Service, c.Start) || !s.seat(o, b) {
		return Result{Err: s.slotTaken(o, c.Service, c.Start)}
	}
	s.NextBookingID++
	if c.Ref != "" {
		s.setRef(b, c.Ref)
	} else {
		s.unreferenced++ // an entry of an earlier version: the next Tick gives it one
	}
	if c.Hold {
		b.Status, b.HoldUntil = BookingHeld, s.Now+int64(s.Region.Rules.HoldMinutes)*60
	}
	b.Number = s.bookingNumber(o, b)
	s.Bookings[b.ID] = b
	s.index(b)
	s.dated(b)
	s.filed(b)
	s.emit(Event{Kind: EvBookingMade, Office: o.Config.ID, Booking: copyOf(b)})
	return Result{Booking: copyOf(b)}
}

// bookingNumber numbers bookings per office, local day of the visit and
// service: the service letter, «З» for «запись», and a sequence (ПЗ-004).
func (s *State) bookingNumber(o *Office, b *Booking) string {
	prefix := s.Service(b.Service).Letter + "З"
	return fmt.Sprintf("%s-%03d", prefix, s.count(o, o.localDay(b.Start), prefix))
}

func (s *State) count(o *Office, day, prefix string) int {
	k := o.Config.ID + "|" + day + "|" + prefix
	s.Counters[k]++
	return s.Counters[k]
}

// index adds a live booking to the seat, applicant and hold indexes.
func (s *State) index(b *Booking) {
	k := seatKey{b.Office, b.Service, b.Start}
	s.seats[k] = append(s.seats[k], b.ID)
	a := activeKey(b.Phone, b.Service)
	s.active[a] = append(s.active[a], b.ID)
	if b.Status == BookingHeld {
		s.holds[b.ID] = b.HoldUntil
	}
}

// unindex removes b from the indexes, freeing its seat.
func (s *State) unindex(b *Booking) {
	k := seatKey{b.Office, b.Service, b.Start}
	if s.seats[k] = remove(s.seats[k], b.ID); len(s.seats[k]) == 0 {
		delete(s.seats, k)
	}
	a := activeKey(b.Phone, b.Service)
	if s.active[a] = remove(s.active[a], b.ID); len(s.active[a]) == 0 {
		delete(s.active, a)
	}
	delete(s.holds, b.ID)
}

func remove(ids []uint64, id uint64) []uint64 {
	for i, x := range ids {
		if x == id {
			return append(ids[:i], ids[i+1:]...)
		}
	}
	return ids
}

func (s *State) activeCount(key string) int {
	n := 0
	for _, id := range s.active[key] {
		if b := s.Bookings[id]; b.live() && b.holdsSeat(s.Now) {
			n++
		}
	}
	return n
}

// liveBooking finds a booking that can still change: held (in time) or confirmed.
func (s *State) liveBooking(id uint64) (*Booking, *Error) {
	b := s.Bookings[id]
	if b == nil {
		return nil, errf(CodeNotFound, "no booking %d", id)
	}
	s.expireHold(b)
	switch b.Status {
	case BookingHeld, BookingConfirmed:
		return b, nil
	case BookingCancelled:
		return nil, errf(CodeCancelled, "booking %d is cancelled", id)
	case BookingExpired:
		return nil, errf(CodeHoldExpired, "the hold on booking %d expired", id)
	case BookingCheckedIn:
		return nil, errf(CodeAlreadyCheckedIn, "booking %d is already checked in", id)
	}
	return nil, errf(CodeNotActive, "booking %d is %s", id, b.Status)
}

// expireHold turns a held booking whose time ran out into an expired one.
func (s *State) expireHold(b *Booking) {
	if b.Status == BookingHeld && b.HoldUntil <= s.Now {
		s.unindex(b)
		s.unseat(b)
		b.Status = BookingExpired
		s.emit(Event{Kind: EvBookingExpired, Office: b.Office, Booking: copyOf(b)})
	}
}

func (s *State) confirm(c *Confirm) Result {
	b, err := s.liveBooking(c.Booking)
	if err != nil {
		return Result{Err: err}
	}
	if b.Status == BookingHeld {
		b.Status, b.HoldUntil = BookingConfirmed, 0
		delete(s.holds, b.ID)
		s.emit(Event{Kind: EvBookingConfirmed, Office: b.Office, Booking: copyOf(b)})
	}
	return Result{Booking: copyOf(b)}
}

func (s *State) reschedule(c *Reschedule) Result {
	b, err := s.liveBooking(c.Booking)
	if err != nil {
		return Result{Err: err}
	}
	o := s.Offices[b.Office]
	if o == nil {
		return Result{Err: errf(CodeUnknownOffice, "office %s no longer exists", b.Office)}
	}
	rules := s.Region.Rules
	// A booking that lost its window time (unplaced) moves for free.
	free := b.Seat == 0
	if b.Reschedules >= rules.MaxReschedules && !free {
		return Result{Err: errf(CodeRescheduleLimit, "a booking can be rescheduled at most %d times", rules.MaxReschedules)}
	}
	if c.Start == b.Start && !free {
		return Result{Err: errf(CodeInvalidRequest, "the booking is already at that time")}
	}
	if err := s.checkSlot(o, b.Service, c.Start, s.Now); err != nil {
		return Result{Err: err}
	}
	if d := o.daysBetween(b.OriginalStart, c.Start); d > rules.RescheduleWindowDays || -d > rules.RescheduleWindowDays {
		return Result{Err: errf(CodeOutsideHorizon, "the new date must be within %d days of the original date", rules.RescheduleWindowDays)}
	}
	old := *b
	s.unseat(b)
	b.Start, b.Slots = c.Start, o.visit[b.Service]
	if s.capped(o, b.Service, c.Start) || !s.seat(o, b) {
		b.Start, b.Slots = old.Start, old.Slots
		s.occupy(o, b, old.Seat) // where it was: nothing else changed
		return Result{Err: s.slotTaken(o, b.Service, c.Start)}
	}
	b.Start = old.Start // the indexes know it by its old start
	s.unindex(b)
	b.Start = c.Start
	if !free {
		b.Reschedules++
	}
	if o.localDay(b.Start) != o.localDay(old.Start) {
		b.Number = s.bookingNumber(o, b)
	}
	s.index(b)
	s.dated(b)
	s.filed(b)
	s.emit(Event{Kind: EvBookingMoved, Office: b.Office, Booking: copyOf(b)})
	return Result{Booking: copyOf(b)}
}

func (s *State) cancel(c *Cancel) Result {
	if b := s.Bookings[c.Booking]; b != nil && b.Status == BookingCancelled {
		return Result{Booking: copyOf(b)} // cancelling twice is harmless
	}
	b, err := s.liveBooking(c.Booking)
	if err != nil {
		return Result{Err: err}
	}
	s.unindex(b)
	s.unseat(b)
	b.Status, b.HoldUntil = BookingCancelled, 0
	s.emit(Event{Kind: EvBookingCancelled, Office: b.Office, Booking: copyOf(b)})
	return Result{Booking: copyOf(b)}
}

// Booking returns a copy of booking id as of time now, with a hold that ran
// out shown as expired.
func (s *State) Booking(id uint64, now int64) *Booking {
	b := s.Bookings[id]
	if b == nil {
		return nil
	}
	cp := copyOf(b)
	if cp.Status == BookingHeld && cp.HoldUntil <= max(now, s.Now) {
		cp.Status = BookingExpired
	}
	return cp
}

func copyOf[T any](v *T) *T {
	c := *v
	return &c
}
