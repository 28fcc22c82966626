package queue

import (
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"time"
)

// Notifications for SMS/push gateways and the portal. The state machine
// turns events into notifications, one outbox per subscription, in event
// order; the leader delivers the head of each outbox and commits a Delivered
// command when the gateway took it. The outbox and the delivery position are
// replicated, so a new leader goes on where the old one stopped: delivery is
// at least once, in order, per subscription.

// Subscription is a webhook that wants some kinds of notification.
type Subscription struct {
	ID      string   `json:"id"`
	URL     string   `json:"url"`
	Kinds   []string `json:"kinds,omitempty"`   // none: every kind
	Offices []string `json:"offices,omitempty"` // none: every office
	Secret  string   `json:"secret"`            // signs each request (HMAC-SHA256 of the body)
}

// Notification kinds.
const (
	NBookingConfirmed   = "booking_confirmed"
	NBookingRescheduled = "booking_rescheduled"
	NBookingCancelled   = "booking_cancelled"
	NReminder           = "reminder"  // the day before the visit, at the region's reminder time
	NTurnNear           = "turn_near" // at most turn_near_ahead applicants ahead
	NCalled             = "called"    // called (or called again) to a window
	NNoShow             = "no_show"
	NLoadDropped        = "load_dropped"     // an office's load level went down
	NBookingAffected    = "booking_affected" // the booking lost its window time (a region change, a closure): offer the alternatives
)

// NotificationKinds are all the kinds, for validation and documentation.
var NotificationKinds = []string{NBookingConfirmed, NBookingRescheduled, NBookingCancelled, NReminder, NTurnNear, NCalled, NNoShow, NLoadDropped, NBookingAffected}

// Notification is one message for a gateway. Personal data is limited to
// the applicant's phone, for bookings only (the SMS needs it); walk-ins are
// known by ticket number alone.
type Notification struct {
	Seq           uint64 `json:"seq"` // the event's number: unique and increasing
	Kind          string `json:"kind"`
	At            int64  `json:"at"`
	Office        string `json:"office"`
	Service       string `json:"service,omitempty"`
	Booking       uint64 `json:"-"`                 // internal id
	BookingRef    string `json:"booking,omitempty"` // the booking's public reference
	BookingNumber string `json:"booking_number,omitempty"`
	Start         int64  `json:"start,omitempty"` // the booked slot
	Phone         string `json:"phone,omitempty"`
	Ticket        string `json:"ticket,omitempty"` // ticket number
	Window        int    `json:"window,omitempty"`
	Ahead         int    `json:"ahead,omitempty"`
	Level         string `json:"level,omitempty"`
	// Alternatives are slot starts at the same office an affected booking
	// may move to (without using one of its reschedules).
	Alternatives []int64 `json:"alternatives,omitempty"`
}

// outboxLimit bounds a subscription's undelivered notifications; beyond it
// the oldest go to the dead letters (also bounded).
const outboxLimit = 100_000

var subscriptionID = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// Limits of a subscription, besides its id's.
const (
	maxURLBytes          = 2048
	minSecret, maxSecret = 16, 256
	maxSubOffices        = 128
)

// validate checks a subscription's form; whether its offices exist is the
// state's to judge.
func (sub *Subscription) validate() *Error {
	if err := needID(sub.ID); err != nil {
		return err
	}
	if len(sub.URL) > maxURLBytes || len(sub.Secret) > maxSecret || len(sub.Offices) > maxSubOffices {
		return errf(CodeFieldTooLong, "a subscription's url is at most %d bytes, its secret %d, its offices %d", maxURLBytes, maxSecret, maxSubOffices)
	}
	if u, err := url.Parse(sub.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errf(CodeInvalidRequest, "url must be an absolute http(s) URL")
	}
	if len(sub.Secret) < minSecret {
		return errf(CodeInvalidRequest, "secret must be at least %d characters", minSecret)
	}
	for _, k := range sub.Kinds {
		if !slices.Contains(NotificationKinds, k) {
			return errf(CodeInvalidRequest, "unknown notification kind %.64q", k)
		}
	}
	for _, o := range sub.Offices {
		if len(o) > MaxIDBytes {
			return errf(CodeFieldTooLong, "office ids are at most %d bytes", MaxIDBytes)
		}
	}
	return nil
}

func (s *State) subscribe(c *Subscribe) Result {
	sub := c.Sub
	if err := sub.validate(); err != nil {
		return Result{Err: err}
	}
	for _, o := range sub.Offices {
		if s.Offices[o] == nil {
			return Result{Err: errf(CodeUnknownOffice, "no office %q", o)}
		}
	}
	s.Subs[sub.ID] = &sub
	return Result{}
}

func (s *State) unsubscribe(c *Unsubscribe) Result {
	if s.Subs[c.ID] == nil {
		return Result{Err: errf(CodeNotFound, "no subscription %q", c.ID)}
	}
	delete(s.Subs, c.ID)
	delete(s.Outbox, c.ID)
	delete(s.Dead, c.ID)
	return Result{}
}

// delivered records that the gateway took every notification up to c.Seq,
// or, with c.Dead, that the head notification c.Seq goes to the dead letters.
func (s *State) delivered(c *Delivered) Result {
	box := s.Outbox[c.Sub]
	if s.Subs[c.Sub] == nil {
		return Result{Err: errf(CodeNotFound, "no subscription %q", c.Sub)}
	}
	if c.Dead {
		if len(box) > 0 && box[0].Seq == c.Seq {
			s.bury(c.Sub, box[0])
			s.Outbox[c.Sub] = box[1:]
		}
		return Result{}
	}
	n := sort.Search(len(box), func(i int) bool { return box[i].Seq > c.Seq })
	s.Outbox[c.Sub] = box[n:]
	return Result{}
}

// replay puts a subscription's dead letters back in front of its outbox.
func (s *State) replay(c *Replay) Result {
	if s.Subs[c.Sub] == nil {
		return Result{Err: errf(CodeNotFound, "no subscription %q", c.Sub)}
	}
	s.Outbox[c.Sub] = append(s.Dead[c.Sub], s.Outbox[c.Sub]...)
	delete(s.Dead, c.Sub)
	return Result{}
}

func (s *State) bury(sub string, n Notification) {
	d := append(s.Dead[sub], n)
	if len(d) > outboxLimit {
		d = d[len(d)-outboxLimit:]
	}
	s.Dead[sub] = d
}

// notify turns an event into the notifications the subscriptions want.
func (s *State) notify(e Event) {
	if len(s.Subs) == 0 {
		return
	}
	n := Notification{Seq: e.Seq, At: e.At, Office: e.Office}
	b, t := e.Booking, e.Ticket
	switch e.Kind {
	case EvBookingMade:
		if b.Status != BookingConfirmed {
			return
		}
		n.Kind = NBookingConfirmed
	case EvBookingConfirmed:
		n.Kind = NBookingConfirmed
	case EvBookingMoved:
		n.Kind = NBookingRescheduled
	case EvBookingCancelled:
		n.Kind = NBookingCancelled
	case EvBookingReminder:
		n.Kind = NReminder
	case EvTurnNear:
		n.Kind, n.Ahead = NTurnNear, e.Ahead
	case EvTicketCalled, EvTicketRecalled:
		n.Kind = NCalled
	case EvTicketNoShow:
		n.Kind = NNoShow
	case EvLoadDropped:
		n.Kind, n.Level = NLoadDropped, e.Level
	case EvBookingAffected:
		n.Kind, n.Alternatives = NBookingAffected, e.Alternatives
	default:
		return
	}
	if t != nil {
		n.Service, n.Ticket, n.Window = t.Service, t.Number, t.Window
		if b == nil && t.Booking != 0 {
			b = s.Bookings[t.Booking]
		}
	}
	if e.Window != nil {
		n.Window = e.Window.Number
	}
	if b != nil {
		n.Service, n.Booking, n.BookingRef, n.BookingNumber, n.Start, n.Phone = b.Service, b.ID, b.Ref, b.Number, b.Start, b.Phone
	}
	ids := make([]string, 0, len(s.Subs))
	for id := range s.Subs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		sub := s.Subs[id]
		if (len(sub.Kinds) > 0 && !slices.Contains(sub.Kinds, n.Kind)) || (len(sub.Offices) > 0 && !slices.Contains(sub.Offices, n.Office)) {
			continue
		}
		box := append(s.Outbox[id], n)
		if len(box) > outboxLimit {
			s.bury(id, box[0])
			box = box[1:]
		}
		s.Outbox[id] = box
	}
}

// reminderDue reports whether office o's reminders for tomorrow are due at
// now: its local reminder time today has come and they were not sent.
func (s *State) reminderDue(o *Office, now int64) (tomorrow string, due bool) {
	t := time.Unix(now, 0).In(o.loc)
	tomorrow = t.AddDate(0, 0, 1).Format(time.DateOnly)
	hh, mm := s.Region.Rules.reminderClock()
	return tomorrow, o.RemindedFor != tomorrow && t.Hour()*60+t.Minute() >= hh*60+mm
}

// remind sends the reminders of office o for tomorrow's bookings, once.
func (s *State) remind(o *Office) {
	tomorrow, due := s.reminderDue(o, s.Now)
	if !due {
		return
	}
	// Tomorrow's visits are filed under the UTC days its local day spans
	// (a scan of every booking took 2.7 s of the state machine's time with
	// 445k bookings in 16 offices, each office's reminders once a day).
	start, end := o.slotStart(tomorrow, 0), o.slotStart(tomorrow, o.slotsPerDay())
	var ids []uint64
	for d := start / day; d <= (end-1)/day; d++ {
		for _, id := range s.byVisit[d] {
			if b := s.Bookings[id]; b != nil && b.Office == o.Config.ID && b.Status == BookingConfirmed && b.Start >= start && b.Start < end {
				ids = append(ids, id)
			}
		}
	}
	slices.Sort(ids)
	ids = slices.Compact(ids) // a booking moved within the day is filed twice
	for _, id := range ids {
		s.emit(Event{Kind: EvBookingReminder, Office: o.Config.ID, Booking: copyOf(s.Bookings[id])})
	}
	o.RemindedFor = tomorrow
}

// nearNew tells a newcomer to office o's queue, ticket id, that their turn
// is near when the forecast they were given puts them at most
// turn_near_ahead calls from it.
func (s *State) nearNew(o *Office, id uint64) {
	if t := s.Tickets[id]; t != nil && t.Status == TicketWaiting && !t.Near && t.Position-1 <= s.Region.Rules.TurnNearAhead {
		t.Near = true
		s.emit(Event{Kind: EvTurnNear, Office: o.Config.ID, Ticket: copyOf(t), Ahead: t.Position - 1})
	}
}

// nearTurn tells the waiting applicants of office o whom the policy's
// forecast now puts at most turn_near_ahead calls from their own (at the
// windows that serve their service), once per ticket.
func (s *State) nearTurn(o *Office) {
	if len(o.Waiting) == 0 {
		return
	}
	n := s.Region.Rules.TurnNearAhead
	f := s.policy.Forecast(o, Outlook{Expected: s.expected(o, s.Now), Near: n}, s.Now)
	for _, t := range o.Waiting {
		if k, ok := f.Near[t.ID]; ok && k <= n && !t.Near {
			t.Near = true
			s.emit(Event{Kind: EvTurnNear, Office: o.Config.ID, Ticket: copyOf(t), Ahead: k})
		}
	}
}

// loadChanged follows office o's load level and tells when it went down.
func (s *State) loadChanged(o *Office) {
	level := s.policy.Level(o, s.Now)
	if rank(level) < rank(o.Level) {
		s.emit(Event{Kind: EvLoadDropped, Office: o.Config.ID, Level: level})
	}
	o.Level = level
}

func rank(level string) int {
	return map[string]int{"low": 1, "medium": 2, "high": 3}[level]
}

func (r *Rules) reminderClock() (hh, mm int) {
	t, err := time.Parse("15:04", r.ReminderAt)
	if err != nil {
		return 18, 0
	}
	return t.Hour(), t.Minute()
}

// String names a notification for logs and idempotency keys.
func (n Notification) String() string { return n.Kind + "#" + strconv.FormatUint(n.Seq, 10) }
