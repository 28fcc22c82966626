package scheduler

import (
	"cmp"
	"maps"
	"slices"

	"github.com/talon-mfc/talon/queue"
)

// Default is talon's first calling policy and wait estimate.
//
// Pick: among waiting tickets for services the window serves, the first by
// ahead: booked applicants whose slot has begun, then anyone waiting 40
// minutes or more, then priority categories, then those who can still make
// the 15-minute norm, then the rest; the longest wait first within each.
//
// EstimateWait: a forecast of the next calls (see EstimateWait).
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

// ahead reports whether a is called before b. The classes, in order:
//
//  1. booked applicants whose slot has begun (earliest slot first), so they
//     are called within minutes of their time;
//  2. anyone who has waited agingCap or more (longest first): however the
//     rest is ordered, no wait grows without bound;
//  3. priority categories (higher first);
//  4. those who can still be called within the 15-minute norm (longest
//     wait first: nearest to breaking it);
//  5. those past the norm but under agingCap (longest first).
//
// Class 4 before 5 raises the share called within the norm when the office
// falls behind; class 2 keeps the longest wait at bay.
func ahead(o *queue.Office, a, b *queue.Ticket, now int64) bool {
	if ca, cb := class(o, a, now), class(o, b, now); ca != cb {
		return ca < cb
	}
	if due(a, now) && a.SlotStart != b.SlotStart {
		return a.SlotStart < b.SlotStart
	}
	if pa, pb := o.Priority(a.Category), o.Priority(b.Category); pa != pb {
		return pa > pb
	}
	// Skill-aware: a ticket fewer open windows can serve goes first, so a
	// window with several skills takes what only it can do and leaves the
	// rest to the others (only below the aging cap: no one starves).
	if c := class(o, a, now); c >= 4 && a.Service != b.Service {
		if sa, sb := open(o, a.Service), open(o, b.Service); sa != sb {
			return sa < sb
		}
	}
	if a.ArrivedAt != b.ArrivedAt {
		return a.ArrivedAt < b.ArrivedAt
	}
	return a.ID < b.ID
}

// open counts the open windows that serve service.
func open(o *queue.Office, service string) int {
	n := 0
	for _, w := range o.Windows {
		if w.State == queue.WindowOpen && w.Serves(service) {
			n++
		}
	}
	return n
}

// Waits that order the classes of ahead.
const (
	waitNorm = 15 * 60
	agingCap = 40 * 60
)

func class(o *queue.Office, t *queue.Ticket, now int64) int {
	wait := now - t.ArrivedAt
	switch {
	case wait >= agingCap:
		return 1
	case due(t, now):
		return 2
	case o.Priority(t.Category) > 0:
		return 3
	case wait < waitNorm:
		return 4
	}
	return 5
}

// due reports whether t is a booked applicant whose slot has begun.
func due(t *queue.Ticket, now int64) bool { return t.Booking != 0 && t.SlotStart <= now }

// EstimateWait implements queue.Policy: a forecast of the office's next
// calls. Windows open now free up when their current applicant's mean
// service time has run (counted from the call, so a long service frees its
// window soon), then each free window takes the first applicant in call
// order that it can serve, as the policy would; the new ticket joins last.
// So it knows each window's skills, which windows are open, how long the
// current services have run, and whom the policy puts first.
func (Default) EstimateWait(o *queue.Office, service string, now int64) int64 {
	type slot struct {
		w    *queue.Window
		free int64
	}
	var windows []slot
	for _, w := range o.Windows {
		if w.State != queue.WindowOpen {
			continue
		}
		free := now
		if w.Current != 0 {
			mean := int64(o.ServiceMinutes(w.Serving) * 60)
			free = now + max(mean-(now-w.Busy), mean/4)
		}
		windows = append(windows, slot{w, free})
	}
	if !slices.ContainsFunc(windows, func(s slot) bool { return s.w.Serves(service) }) {
		// No open window serves it yet: the work ahead over the windows that could.
		return int64(o.WaitingFor(service)) * int64(o.ServiceMinutes(service)) * 60 / int64(servers(o, service))
	}
	// Forecast the first forecastDepth calls one by one; the work queued
	// behind them is shared by the windows that serve the service.
	pending := inCallOrder(o, now, forecastDepth)
	var rest int64
	if len(o.Waiting) > forecastDepth {
		for _, t := range o.Waiting {
			rest += int64(o.ServiceMinutes(t.Service) * 60)
		}
		for _, t := range pending {
			rest -= int64(o.ServiceMinutes(t.Service) * 60)
		}
		rest /= int64(servers(o, service))
	}
	pending = append(pending, nil) // the new ticket
	// who[j] says which windows can serve pending[j] (a bit per window; an
	// office has far fewer than 64 windows, and the rest never serve).
	serves := map[string]uint64{}
	who := make([]uint64, len(pending))
	for j, t := range pending {
		sv := svc(t, service)
		m, ok := serves[sv]
		if !ok {
			for i, s := range windows {
				if i < 64 && s.w.Serves(sv) {
					m |= 1 << i
				}
			}
			serves[sv] = m
		}
		who[j] = m
	}
	for {
		// The window that frees first and can serve someone pending.
		best, idx := -1, -1
		for i, s := range windows {
			if i >= 64 || best >= 0 && s.free >= windows[best].free {
				continue
			}
			for j, m := range who {
				if m&(1<<i) != 0 {
					best, idx = i, j
					break
				}
			}
		}
		if best < 0 {
			return 0
		}
		if pending[idx] == nil {
			return windows[best].free - now + rest
		}
		windows[best].free += int64(o.ServiceMinutes(pending[idx].Service) * 60)
		pending, who = slices.Delete(pending, idx, idx+1), slices.Delete(who, idx, idx+1)
	}
}

// inCallOrder is the first depth tickets of the waiting line in the order
// the policy would call them (as ahead orders them). The line is in arrival
// order already, so the tickets are grouped by the rest of the sort key in
// one pass and only the groups are sorted.
func inCallOrder(o *queue.Office, now int64, depth int) []*queue.Ticket {
	type group struct {
		class, prio, scarcity int
		slot                  int64
	}
	windows := map[string]int{}
	groups := map[group][]*queue.Ticket{}
	for _, t := range o.Waiting {
		g := group{class: class(o, t, now), prio: -o.Priority(t.Category)}
		if g.class >= 4 {
			n, ok := windows[t.Service]
			if !ok {
				n = open(o, t.Service)
				windows[t.Service] = n
			}
			g.scarcity = n
		}
		if due(t, now) {
			g.slot = t.SlotStart
		}
		groups[g] = append(groups[g], t)
	}
	keys := slices.SortedFunc(maps.Keys(groups), func(a, b group) int {
		return cmp.Or(cmp.Compare(a.class, b.class), cmp.Compare(a.slot, b.slot), cmp.Compare(a.prio, b.prio), cmp.Compare(a.scarcity, b.scarcity))
	})
	out := make([]*queue.Ticket, 0, min(depth, len(o.Waiting)))
	for _, k := range keys {
		for _, t := range groups[k] {
			if len(out) == depth {
				return out
			}
			out = append(out, t)
		}
	}
	return out
}

// forecastDepth bounds the calls EstimateWait plays out one by one, so an
// estimate costs the same however long the queue (it runs on every issue).
const forecastDepth = 200

// svc is a ticket's service; nil stands for the new ticket.
func svc(t *queue.Ticket, service string) string {
	if t == nil {
		return service
	}
	return t.Service
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
