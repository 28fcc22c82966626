package queue

// EventKind names what happened.
type EventKind string

const (
	EvRegionUpdated     EventKind = "region_updated"
	EvTicketIssued      EventKind = "ticket_issued"     // walk-in ticket, or a redirected applicant queued again
	EvTicketCheckedIn   EventKind = "ticket_checked_in" // a booked applicant joined the live queue
	EvTicketCalled      EventKind = "ticket_called"
	EvTicketRecalled    EventKind = "ticket_recalled"
	EvTicketStarted     EventKind = "ticket_started"
	EvTicketServed      EventKind = "ticket_served"
	EvTicketNoShow      EventKind = "ticket_no_show"
	EvTicketRedirected  EventKind = "ticket_redirected"
	EvTicketPostponed   EventKind = "ticket_postponed"   // back to the queue for a while (a new ticket follows)
	EvTicketTransferred EventKind = "ticket_transferred" // to another window or operator (a new ticket follows)
	EvTicketExpired     EventKind = "ticket_expired"     // still waiting when the office's day ended
	EvBookingMade       EventKind = "booking_made"
	EvBookingConfirmed  EventKind = "booking_confirmed"
	EvBookingMoved      EventKind = "booking_moved"
	EvBookingCancelled  EventKind = "booking_cancelled"
	EvBookingExpired    EventKind = "booking_expired"  // hold not confirmed in time
	EvBookingMissed     EventKind = "booking_missed"   // the day ended without a check-in
	EvSlotTaken         EventKind = "slot_taken"       // a booking or reschedule found no free seat (Booking holds office, service, start)
	EvBookingReminder   EventKind = "booking_reminder" // the day before the visit, at the region's reminder time
	EvTurnNear          EventKind = "turn_near"        // Ahead applicants are ahead of Ticket for its service
	EvLoadDropped       EventKind = "load_dropped"     // the office's load level went down to Level
	EvWindowChanged     EventKind = "window_changed"
	EvBookingAffected   EventKind = "booking_affected" // the booking lost its window time (a region change, a closure); Alternatives offered
	EvOfficeClosed      EventKind = "office_closed"    // a closure at short notice was set (or lifted: To <= From)
)

// Event is a domain event. Seq numbers all events of the region without gaps;
// Index is the log index of the command that produced it, so an event is
// produced identically on every replica. Ticket, Booking and Window are
// copies taken when the event happened.
type Event struct {
	Seq     uint64    `json:"seq"`
	Index   uint64    `json:"index"`
	At      int64     `json:"at"`
	Kind    EventKind `json:"kind"`
	Office  string    `json:"office,omitempty"`
	Window  *Window   `json:"window,omitempty"`
	Ticket  *Ticket   `json:"ticket,omitempty"`
	Booking *Booking  `json:"booking,omitempty"`
	Ahead   int       `json:"ahead,omitempty"`
	Level   string    `json:"level,omitempty"`
	Closure *Closure  `json:"closure,omitempty"`
	// Alternatives are slot starts offered to an affected booking.
	Alternatives []int64 `json:"alternatives,omitempty"`
}
