package queue

import (
	"sort"
	"strconv"
	"strings"
	"unique"
)

// AuditEntry is one state-changing command someone gave (an employee, a
// device), and what it touched: who did what to which ticket or booking.
type AuditEntry struct {
	At      int64
	Office  string
	Actor   string
	What    string // the command: issue, check-in, call-next, book, …
	Ticket  uint64 // the API shows its number
	Booking uint64 // and its reference
	Window  int
	Detail  string // a redirect's service, an employee signing in, …
}

// record appends command c, which succeeded with r, to the audit. Commands
// nobody gives (ticks, deliveries), and those whose giver is unknown (an API
// with authentication off, and no employee's session), are not recorded: an
// entry holds about 110 bytes of memory for audit_days.
func (s *State) record(c Command, r Result) {
	a, ok := c.(acted)
	if !ok || *a.actor() == "" {
		return
	}
	e := AuditEntry{At: s.Now, Actor: unique.Make(*a.actor()).Value()} // few actors, many entries: one copy each
	if r.Ticket != nil {
		e.Office, e.Ticket, e.Booking = r.Ticket.Office, r.Ticket.ID, r.Ticket.Booking
	}
	if r.Booking != nil {
		e.Office, e.Booking = r.Booking.Office, r.Booking.ID
	}
	switch c := c.(type) {
	case *SetRegion:
		e.What = "set-region"
	case *CloseOffice:
		e.What, e.Office, e.Detail = "close-office", c.Office, c.Reason
	case *Book:
		e.What = "book"
	case *Confirm:
		e.What = "confirm"
	case *Reschedule:
		e.What = "reschedule"
	case *Cancel:
		e.What = "cancel"
	case *Issue:
		e.What, e.Office = "issue", c.Office
		if c.Force {
			e.Detail = "past the last call"
		}
	case *CheckIn:
		e.What = "check-in"
	case *WindowAction:
		e.What, e.Office, e.Window = c.Action.String(), c.Office, c.Window
		var parts []string
		for _, p := range []string{c.Service, c.Employee, c.Number, c.Reason} {
			if p != "" {
				parts = append(parts, p)
			}
		}
		if c.ToWindow != 0 {
			parts = append(parts, "to window "+strconv.Itoa(c.ToWindow))
		}
		if len(c.Today) > 0 {
			parts = append(parts, strings.Join(c.Today, ", "))
		}
		if c.Minutes != 0 {
			parts = append(parts, strconv.Itoa(c.Minutes)+" min")
		}
		e.Detail = strings.Join(parts, "; ")
	case *Subscribe:
		e.What, e.Detail = "subscribe", c.Sub.ID
	case *Unsubscribe:
		e.What, e.Detail = "unsubscribe", c.ID
	case *Replay:
		e.What, e.Detail = "replay", c.Sub
	case *SetEmployee:
		e.What, e.Detail = "set-employee", c.ID
	case *SignOut:
		e.What, e.Detail = "sign-out", c.Employee
	}
	s.Audit = append(s.Audit, e)
}

// AuditOf is the audit entries of office (all offices: "", and the
// region's own entries with them) from from to to, in order.
func (r Reader) AuditOf(office string, from, to int64) []AuditEntry {
	a := r.s.Audit
	i := sort.Search(len(a), func(i int) bool { return a[i].At >= from })
	var out []AuditEntry
	for ; i < len(a) && a[i].At < to; i++ {
		if office == "" || a[i].Office == office {
			out = append(out, a[i])
		}
	}
	return out
}

// BookingHistory is the audit entries of booking id, in order.
func (r Reader) BookingHistory(id uint64) []AuditEntry {
	var out []AuditEntry
	for _, e := range r.s.Audit {
		if e.Booking == id {
			out = append(out, e)
		}
	}
	return out
}

// trimAudit lets entries older than AuditDays go, a day's at a time: the
// audit is every command, and the state holds it in memory.
func (s *State) trimAudit() {
	cut := s.Now - int64(s.Region.Rules.AuditDays)*86400
	if len(s.Audit) == 0 || s.Audit[0].At >= cut-86400 {
		return
	}
	i := sort.Search(len(s.Audit), func(i int) bool { return s.Audit[i].At >= cut })
	s.Audit = append([]AuditEntry(nil), s.Audit[i:]...)
}
