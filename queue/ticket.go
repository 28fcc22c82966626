package queue

import (
	"fmt"
	"sort"
	"time"
)

// TicketStatus is where a ticket is in its life:
// waiting → called → serving → done | no_show | redirected (| expired at day end).
type TicketStatus string

const (
	TicketWaiting    TicketStatus = "waiting"
	TicketCalled     TicketStatus = "called"
	TicketServing    TicketStatus = "serving"
	TicketDone       TicketStatus = "done"
	TicketNoShow     TicketStatus = "no_show"
	TicketRedirected TicketStatus = "redirected"
	TicketExpired    TicketStatus = "expired"
)

// Ticket is an applicant in the live queue: a walk-in, or a booking checked in.
type Ticket struct {
	ID             uint64       `json:"id"`
	Office         string       `json:"office"`
	Service        string       `json:"service"`
	Number         string       `json:"number"`
	Category       string       `json:"category,omitempty"`
	Booking        uint64       `json:"booking,omitempty"`
	SlotStart      int64        `json:"slot_start,omitempty"`
	Day            string       `json:"day"`
	IssuedAt       int64        `json:"issued_at"`
	ArrivedAt      int64        `json:"arrived_at"` // kept on redirect, so the wait counts from arrival
	CalledAt       int64        `json:"called_at,omitempty"`
	StartedAt      int64        `json:"started_at,omitempty"`
	FinishedAt     int64        `json:"finished_at,omitempty"`
	Status         TicketStatus `json:"status"`
	Window         int          `json:"window,omitempty"`
	Employee       string       `json:"employee,omitempty"` // the operator signed in to the window that called it
	Recalls        int          `json:"recalls,omitempty"`
	Position       int          `json:"position"`   // at issue: 1 + the calls forecast before its own at the windows that serve its service
	EstWait        int64        `json:"est_wait_s"` // wait estimate given at issue, seconds
	RedirectedFrom uint64       `json:"redirected_from,omitempty"`
	// A postponed applicant is not called before NotBefore; a transferred
	// one only at window ForWindow, or the window employee ForEmployee is
	// signed in to, and first there.
	NotBefore   int64  `json:"not_before,omitempty"`
	ForWindow   int    `json:"for_window,omitempty"`
	ForEmployee string `json:"for_employee,omitempty"`
	Near        bool   `json:"-"` // told that its turn is near
}

func (s *State) issue(c *Issue) Result {
	o, err := s.office(c.Office)
	if err != nil {
		return Result{Err: err}
	}
	sv := s.Service(c.Service)
	if sv == nil || !o.offers[c.Service] {
		return Result{Err: errf(CodeUnknownService, "office %s does not offer service %q", o.Config.ID, c.Service)}
	}
	if _, known := o.prio[c.Category]; c.Category != "" && !known {
		return Result{Err: errf(CodeInvalidRequest, "unknown category %q", c.Category)}
	}
	if !o.IsOpen(s.Now) {
		return Result{Err: errf(CodeOfficeClosed, "office %s is closed now", o.Config.ID)}
	}
	s.rollover(o)
	f := s.forecast(o, c.Service, 0)
	if last := o.lastCall(s.Now, s.Region.Rules.LastCallMinutes); !c.Force && s.Now+f.Wait > last {
		next := time.Unix(o.nextOpening(s.Now), 0).In(o.loc)
		return Result{Err: &Error{Code: CodeClosingSoon, NextOpen: next.Format(time.RFC3339), Message: fmt.Sprintf(
			"office %s calls its last applicant at %s and would call this one at about %s; it opens again at %s",
			o.Config.ID, time.Unix(last, 0).In(o.loc).Format("15:04"), time.Unix(s.Now+f.Wait, 0).In(o.loc).Format("15:04"), next.Format("2006-01-02 15:04"))}}
	}
	t := &Ticket{
		ID: s.nextID(&s.NextTicketID), Office: o.Config.ID, Service: c.Service, Category: c.Category,
		Number: fmt.Sprintf("%s-%03d", sv.Letter, s.count(o, o.Day, sv.Letter)),
	}
	s.enqueue(o, t, s.Now, f)
	s.emit(Event{Kind: EvTicketIssued, Office: o.Config.ID, Ticket: copyOf(t)})
	return Result{Ticket: copyOf(t)}
}

// forecast is the policy's forecast for a new ticket for service at office
// o (booked for slot, or a walk-in: 0).
func (s *State) forecast(o *Office, service string, slot int64) Forecast {
	return s.policy.Forecast(o, Outlook{Expected: s.expected(o, s.Now), Service: service, Slot: slot}, s.Now)
}

// enqueue puts t into the office's waiting line, with its position and the
// wait estimate it is given (f: the forecast for it).
func (s *State) enqueue(o *Office, t *Ticket, arrived int64, f Forecast) {
	t.Day, t.IssuedAt, t.ArrivedAt, t.Status = o.Day, s.Now, arrived, TicketWaiting
	t.Position, t.EstWait = f.Ahead+1, f.Wait
	o.Waiting = append(o.Waiting, t)
	o.counts[t.Service]++
	s.Tickets[t.ID] = t
	s.issued[t.Office] = append(s.issued[t.Office], t)
}

// checkIn puts a booked applicant who scanned their talon into the live
// queue. Start is the slot start the talon was issued for.
func (s *State) checkIn(c *CheckIn) Result {
	b := s.Bookings[c.Booking]
	if b == nil {
		return Result{Err: errf(CodeNotFound, "no booking %d", c.Booking)}
	}
	if b.Office != c.Office {
		return Result{Err: errf(CodeWrongOffice, "this talon is for office %s", b.Office)}
	}
	if b.Start != c.Start {
		return Result{Err: errf(CodeInvalidQR, "this talon was replaced when the booking was rescheduled")}
	}
	if b.Status == BookingMissed {
		return Result{Err: errf(CodeTooLate, "the day of booking %d has passed", b.ID)}
	}
	b, err := s.liveBooking(c.Booking)
	if err != nil {
		return Result{Err: err}
	}
	if b.Status == BookingHeld {
		return Result{Err: errf(CodeNotConfirmed, "booking %d was never confirmed", b.ID)}
	}
	o, err := s.office(b.Office)
	if err != nil {
		return Result{Err: err}
	}
	r := s.Region.Rules
	if s.Now < b.Start-int64(r.CheckinEarlyMinutes)*60 {
		return Result{Err: errf(CodeTooEarly, "check-in opens %d minutes before the booked time", r.CheckinEarlyMinutes)}
	}
	if s.Now > b.Start+int64(r.CheckinLateMinutes)*60 {
		return Result{Err: errf(CodeTooLate, "check-in closed %d minutes after the booked time", r.CheckinLateMinutes)}
	}
	s.rollover(o)
	a := activeKey(b.Phone, b.Service)
	if s.active[a] = remove(s.active[a], b.ID); len(s.active[a]) == 0 {
		delete(s.active, a)
	}
	t := &Ticket{ID: s.nextID(&s.NextTicketID), Office: o.Config.ID, Service: b.Service, Number: b.Number, Booking: b.ID, SlotStart: b.Start}
	b.Status, b.Ticket = BookingCheckedIn, t.ID // first: the forecast no longer expects it
	s.enqueue(o, t, s.Now, s.forecast(o, t.Service, t.SlotStart))
	o.Shows.came(b.Start, s.Now)
	s.emit(Event{Kind: EvTicketCheckedIn, Office: o.Config.ID, Ticket: copyOf(t), Booking: copyOf(b)})
	return Result{Ticket: copyOf(t), Booking: copyOf(b)}
}

// rollover starts the office's new local day: tickets still in the queue
// expire, windows close, and live bookings of past days are marked missed.
func (s *State) rollover(o *Office) {
	today := o.localDay(s.Now)
	if o.Day == today {
		return
	}
	if o.Day != "" {
		for _, w := range o.Windows {
			if t := s.Tickets[w.Current]; t != nil {
				s.end(o, w, t, TicketExpired, EvTicketExpired)
			}
			if w.State != WindowClosed {
				s.setWindow(o, w, WindowClosed)
			}
			if w.Employee != "" { // the day ends the operator's sitting
				s.leave(o, w)
			}
			w.Today = nil
		}
		for _, t := range o.Waiting {
			t.Status, t.FinishedAt = TicketExpired, s.Now
			s.emit(Event{Kind: EvTicketExpired, Office: o.Config.ID, Ticket: copyOf(t)})
		}
		o.setWaiting(nil)
		s.missBookings(o, today)
		for k := range s.Counters {
			if p := o.Config.ID + "|"; len(k) > len(p)+10 && k[:len(p)] == p && k[len(p):len(p)+10] < today {
				delete(s.Counters, k)
			}
		}
		for k := range s.plans {
			if k.office == o.Config.ID && k.day < today {
				delete(s.plans, k)
			}
		}
		for k := range s.seats {
			if k.Office == o.Config.ID && o.localDay(k.Start) < today {
				delete(s.seats, k)
			}
		}
	}
	o.Day = today
}

// missBookings marks the live bookings of office o dated before today as missed.
func (s *State) missBookings(o *Office, today string) {
	var ids []uint64
	for _, list := range s.active {
		for _, id := range list {
			if b := s.Bookings[id]; b.Office == o.Config.ID && o.localDay(b.Start) < today {
				ids = append(ids, id)
			}
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, id := range ids {
		b := s.Bookings[id]
		s.unindex(b)
		s.unseat(b)
		b.Status, b.HoldUntil = BookingMissed, 0
		o.Shows.Missed++
		s.emit(Event{Kind: EvBookingMissed, Office: b.Office, Booking: copyOf(b)})
	}
}

// tick does the time-driven work: expired holds and day rollovers. The
// leader proposes it when Due says there is something to do.
func (s *State) tick(seed string) Result {
	s.assignRefs(seed)
	s.trimAudit()
	for _, oc := range s.Region.Offices {
		s.rollover(s.Offices[oc.ID])
	}
	var ids []uint64
	for id, until := range s.holds {
		if until <= s.Now {
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, id := range ids {
		s.expireHold(s.Bookings[id])
	}
	for k, r := range s.Retries {
		if s.Now-r.At > retryTTL {
			delete(s.Retries, k)
		}
	}
	// After the rollover has ended the visits due:
	s.erasePersonal()
	return Result{Archive: s.archive()}
}

// Due reports whether a Tick at time now would change anything.
func (s *State) Due(now int64) bool {
	if s.Region == nil {
		return false
	}
	now = max(now, s.Now) // a Tick is stamped no earlier than the state's time
	if s.unreferenced > 0 || s.eraseDay(now) > s.ErasedThrough || s.archiveDay(now) > s.ArchivedThrough {
		return true
	}
	for _, o := range s.Offices {
		if o.Day != o.localDay(now) {
			return true
		}
	}
	for _, until := range s.holds {
		if until <= now {
			return true
		}
	}
	for _, o := range s.Offices {
		if _, due := s.reminderDue(o, now); due {
			return true
		}
	}
	return false
}

// For reports whether window w may call t as far as a transfer goes: t was
// not transferred, or to w.
func (t *Ticket) For(w *Window) bool {
	return (t.ForWindow == 0 || t.ForWindow == w.Number) && (t.ForEmployee == "" || t.ForEmployee == w.Employee)
}

// Reserved reports whether t was transferred to window w: it goes first there.
func (t *Ticket) Reserved(w *Window) bool {
	return t.ForWindow != 0 && t.ForWindow == w.Number || t.ForEmployee != "" && t.ForEmployee == w.Employee
}
