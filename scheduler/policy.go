package scheduler

import "github.com/talon-mfc/talon/queue"

// Default is talon's first calling policy and wait estimate.
//
// Pick: among waiting tickets for services the window serves, booked
// applicants whose slot has begun come first (earliest slot first), then
// higher priority categories, then the longest wait.
//
// EstimateWait: the work queued for the service ahead of a new ticket,
// divided by the windows open for it.
type Default struct{}

var _ queue.Policy = Default{}

// Pick implements queue.Policy.
func (Default) Pick(o *queue.Office, w *queue.Window, now int64) *queue.Ticket {
	var best *queue.Ticket
	for _, t := range o.Waiting {
		if w.Serves(t.Service) && (best == nil || ahead(o, t, best, now)) {
			best = t
		}
	}
	return best
}

// FCFS is the baseline most queue systems use: a window calls the
// longest-waiting applicant among the services it serves, with no regard
// for bookings or categories. Its estimate is Default's.
type FCFS struct{ Default }

// Pick implements queue.Policy.
func (FCFS) Pick(o *queue.Office, w *queue.Window, now int64) *queue.Ticket {
	var best *queue.Ticket
	for _, t := range o.Waiting {
		if w.Serves(t.Service) && (best == nil || t.ArrivedAt < best.ArrivedAt || t.ArrivedAt == best.ArrivedAt && t.ID < best.ID) {
			best = t
		}
	}
	return best
}

// ahead reports whether a is called before b.
func ahead(o *queue.Office, a, b *queue.Ticket, now int64) bool {
	ad, bd := due(a, now), due(b, now)
	switch {
	case ad != bd:
		return ad
	case ad && a.SlotStart != b.SlotStart:
		return a.SlotStart < b.SlotStart
	}
	if pa, pb := o.Priority(a.Category), o.Priority(b.Category); pa != pb {
		return pa > pb
	}
	if a.ArrivedAt != b.ArrivedAt {
		return a.ArrivedAt < b.ArrivedAt
	}
	return a.ID < b.ID
}

// due reports whether t is a booked applicant whose slot has begun.
func due(t *queue.Ticket, now int64) bool { return t.Booking != 0 && t.SlotStart <= now }

// EstimateWait implements queue.Policy.
func (Default) EstimateWait(o *queue.Office, service string, now int64) int64 {
	return int64(o.WaitingFor(service)) * int64(o.ServiceMinutes(service)) * 60 / int64(servers(o, service))
}

// Level implements queue.Policy: the office's load level (see OfficeLoad).
func (Default) Level(o *queue.Office, now int64) string { return OfficeLoad(o, now).Level }

// servers counts the windows open for service, or, when none is open, all
// windows that could serve it (they are expected to open); at least one.
func servers(o *queue.Office, service string) int {
	open, all := 0, 0
	for _, w := range o.Windows {
		if w.Serves(service) {
			all++
			if w.State == queue.WindowOpen {
				open++
			}
		}
	}
	if open > 0 {
		return open
	}
	return max(1, all)
}
