package scheduler

import (
	"math"
	"slices"

	"github.com/talon-mfc/talon/queue"
)

// Default is talon's calling policy and forecast.
//
// Pick: among the waiting tickets for services the window serves, the one
// with the lowest rank (see rankOf): anyone who has waited agingCap or more
// (longest first), then booked applicants whose slot has begun (earliest
// slot first), then priority categories, then everyone else by deadline:
// the 15-minute norm while it can still be kept, agingCap after.
//
// Forecast: a playout of the next calls (see forecast).
type Default struct{}

var _ queue.Policy = Default{}

// Pick implements queue.Policy.
func (Default) Pick(o *queue.Office, w *queue.Window, now int64) *queue.Ticket {
	return pick(o, w, now, rankOf)
}

// Forecast implements queue.Policy.
func (Default) Forecast(o *queue.Office, in queue.Outlook, now int64) queue.Forecast {
	return forecast(o, in, now, rankOf)
}

// FCFS is the baseline most queue systems use: a window calls the
// longest-waiting applicant among the services it serves, with no regard
// for bookings or categories.
type FCFS struct{ Default }

// Pick implements queue.Policy.
func (FCFS) Pick(o *queue.Office, w *queue.Window, now int64) *queue.Ticket {
	var best *queue.Ticket
	for _, t := range o.Waiting {
		if callable(t, w, now) && (best == nil || t.ArrivedAt < best.ArrivedAt || t.ArrivedAt == best.ArrivedAt && t.ID < best.ID) {
			best = t
		}
	}
	return best
}

// Forecast implements queue.Policy: the playout in FCFS's order.
func (FCFS) Forecast(o *queue.Office, in queue.Outlook, now int64) queue.Forecast {
	return forecast(o, in, now, fcfsRank)
}

// rank orders tickets as a window calls them: the lowest first.
type rank struct {
	class int
	at    int64 // within the class, lower first
	id    uint64
}

func (a rank) less(b rank) bool {
	if a.class != b.class {
		return a.class < b.class
	}
	if a.at != b.at {
		return a.at < b.at
	}
	return a.id < b.id
}

// facts is what a rank needs of a ticket besides the ticket: its
// category's priority and its skip (see skip).
type facts struct {
	prio int
	skip int64
}

// ranker ranks tickets at a moment.
type ranker func(t *queue.Ticket, f facts, now int64) rank

// pick is the waiting ticket window w serves with the lowest rank.
func pick(o *queue.Office, w *queue.Window, now int64, r ranker) *queue.Ticket {
	var best *queue.Ticket
	var bestRank rank
	factsOf := factsFor(o)
	for _, t := range o.Waiting {
		if !callable(t, w, now) {
			continue
		}
		k := r(t, factsOf(t), now)
		if t.Reserved(w) { // transferred here: first
			k.class = 0
		}
		if best == nil || k.less(bestRank) {
			best, bestRank = t, k
		}
	}
	return best
}

// factsFor gives the facts of office o's tickets now, working out each
// service's skip once.
func factsFor(o *queue.Office) func(*queue.Ticket) facts {
	skips := map[string]int64{}
	return func(t *queue.Ticket) facts {
		sk, ok := skips[t.Service]
		if !ok {
			sk = skip(o, t.Service)
			skips[t.Service] = sk
		}
		return facts{o.Priority(t.Category), sk}
	}
}

// callable reports whether window w may call t now: it serves t's service,
// t is not postponed past now, and was not transferred elsewhere.
func callable(t *queue.Ticket, w *queue.Window, now int64) bool {
	return w.Takes(t.Service) && t.NotBefore <= now && t.For(w)
}

func fcfsRank(t *queue.Ticket, _ facts, _ int64) rank { return rank{0, t.ArrivedAt, t.ID} }

// rankOf is talon's order. The classes:
//
//  1. anyone who has waited agingCap or more: no wait grows without bound;
//  2. booked applicants whose slot has begun, earliest slot first, so they
//     are called within minutes of their time;
//  3. priority categories, higher first;
//  4. everyone else by deadline: arrival + 15 minutes while the norm can
//     still be kept, arrival + agingCap once it cannot.
//
// Class 4 is what raises the share called within the norm: someone who
// can still make it goes before someone who already missed it, but only by
// agingCap - 15 minutes of arrivals, so a ticket past the norm is passed
// over by those who came up to 25 minutes after it and by no one later.
// In classes 1 and 4 a ticket's skip is taken off its time (see skip).
// Within class 1 the order is otherwise first come, first served: the
// longest waits are what that order is best at.
func rankOf(t *queue.Ticket, f facts, now int64) rank {
	wait := now - t.ArrivedAt
	switch {
	case wait >= agingCap:
		return rank{1, t.ArrivedAt - f.skip, t.ID}
	case due(t, now):
		return rank{2, t.SlotStart, t.ID}
	case f.prio > 0:
		return rank{3, -int64(f.prio)<<32 + t.ArrivedAt, t.ID}
	}
	deadline := t.ArrivedAt + waitNorm
	if wait >= waitNorm {
		deadline = t.ArrivedAt + agingCap
	}
	return rank{4, deadline - f.skip, t.ID}
}

// skip is how much longer a ticket for service is likely to wait when the
// window that could call it now passes it over: until one of the other
// open windows that serve it frees, a mean service time shared among them
// (a whole one when there are none). A window so calls first, of two
// applicants who waited alike, the one fewer other windows can take:
// counting the wait at their next chance evens out the longest waits of
// services that few windows serve.
func skip(o *queue.Office, service string) int64 {
	return int64(o.ServiceMinutes(service)) * 60 / int64(max(1, open(o, service)-1))
}

// open counts the open windows that serve service.
func open(o *queue.Office, service string) int {
	n := 0
	for _, w := range o.Windows {
		if w.State == queue.WindowOpen && w.Takes(service) {
			n++
		}
	}
	return n
}

// Waits that order the classes of rankOf.
const (
	waitNorm = 15 * 60
	agingCap = 40 * 60
)

// due reports whether t is a booked applicant whose slot has begun.
func due(t *queue.Ticket, now int64) bool { return t.Booking != 0 && t.SlotStart <= now }

// pending is a ticket the forecast has yet to call.
type pending struct {
	t     *queue.Ticket // a booked applicant expected to come has no ticket yet: a stand-in
	f     facts
	from  int64  // in line from
	work  int64  // expected service time, seconds
	serve uint64 // the windows (bits) that can serve it
	stand bool   // a booked applicant expected to come
	isNew bool
	k     rank  // its rank from the moment the playout last ranked it
	until int64 // and up to when that rank holds (see changes)
}

// changes is when t's rank next changes after at: it crosses the norm or
// the aging cap, or its slot begins; never for FCFS, but it costs nothing.
func changes(t *queue.Ticket, at int64) int64 {
	next := int64(math.MaxInt64)
	for _, c := range []int64{t.ArrivedAt + waitNorm, t.ArrivedAt + agingCap, t.SlotStart} {
		if c > at && (t.Booking != 0 || c != t.SlotStart) {
			next = min(next, c)
		}
	}
	return next
}

// forecast plays out the office's next calls. Each open window frees when
// its current applicant's mean service time has run (counted from the
// call, so a long service frees its window soon); then the window that
// frees first calls, among those in line by then whose service it serves,
// the one the policy ranks first at that moment, as the policy will. The
// booked applicants expected to check in join the line at their slot when
// they are more likely to come than not (a wait is judged by how far it
// errs, and the middle of the outcomes errs least); the new ticket joins
// now, last among equals, and due from its slot when it is booked. So it knows each window's skills, which windows
// are open, how long the current services have run, the bookings of the
// next hour and whom the policy puts first when. Beyond forecastDepth
// waiting tickets, the work further back is shared among the windows,
// which bounds the cost (it runs on every issue and queue change).
func forecast(o *queue.Office, in queue.Outlook, now int64, r ranker) queue.Forecast {
	service := in.Service
	type window struct {
		w    *queue.Window
		free int64
	}
	var windows []window
	for _, w := range o.Windows {
		if w.State != queue.WindowOpen || len(windows) == 64 {
			continue
		}
		free := now
		if w.Current != 0 {
			mean := int64(o.ServiceMinutes(w.Serving) * 60)
			free = now + max(mean-(now-w.Busy), mean/4)
		}
		windows = append(windows, window{w, free})
	}
	out := queue.Forecast{}
	if service == "" {
		out.Near = map[uint64]int{}
	}
	if service != "" && !slices.ContainsFunc(windows, func(s window) bool { return s.w.Takes(service) }) {
		// No open window serves it yet: the work ahead over the windows that could.
		out.Wait = int64(o.WaitingFor(service)) * int64(o.ServiceMinutes(service)) * 60 / int64(servers(o, service))
		out.Ahead = o.WaitingFor(service)
		return out
	}
	masks, factsOf := map[string]uint64{}, factsFor(o)
	add := func(list []pending, t *queue.Ticket, from, work int64, stand, isNew bool) []pending {
		m, ok := masks[t.Service]
		if !ok {
			for i, s := range windows {
				if s.w.Takes(t.Service) {
					m |= 1 << i
				}
			}
			masks[t.Service] = m
		}
		return append(list, pending{t: t, f: factsOf(t), from: from, work: work, serve: m, stand: stand, isNew: isNew, until: math.MinInt64})
	}
	var line []pending
	first := firstInRank(o, now, forecastDepth, r)
	for _, t := range first {
		line = add(line, t, max(now, t.NotBefore), int64(o.ServiceMinutes(t.Service)*60), false, false)
		if t.ForWindow != 0 || t.ForEmployee != "" { // transferred: only its window calls it
			p := &line[len(line)-1]
			p.serve = 0
			for i, s := range windows {
				if t.Reserved(s.w) {
					p.serve |= 1 << i
				}
			}
		}
	}
	for i, e := range in.Expected {
		stand := &queue.Ticket{ID: math.MaxUint64 - 1 - uint64(i), Service: e.Service, Booking: e.Booking, SlotStart: e.At, ArrivedAt: e.At}
		line = add(line, stand, e.At, int64(o.ServiceMinutes(e.Service)*60)*min(1, e.Permille/500), true, false)
	}
	var rest int64
	if service != "" {
		nt := &queue.Ticket{ID: math.MaxUint64, Service: service, ArrivedAt: now, SlotStart: in.Slot}
		if in.Slot != 0 {
			nt.Booking = math.MaxUint64 // booked: due from its slot
		}
		line = add(line, nt, now, 0, false, true)
		if len(o.Waiting) > len(first) {
			for _, t := range o.Waiting {
				rest += int64(o.ServiceMinutes(t.Service) * 60)
			}
			for _, t := range first {
				rest -= int64(o.ServiceMinutes(t.Service) * 60)
			}
			rest /= int64(servers(o, service))
		}
	}
	calls := make([]int, len(windows)) // calls forecast at each window so far
	ahead := func(mask uint64) int {
		n := 0
		for i, c := range calls {
			if mask&(1<<i) != 0 {
				n += c
			}
		}
		return n
	}
	for len(line) > 0 {
		// The window that frees first and can serve someone in line.
		var any uint64
		for _, p := range line {
			any |= p.serve
		}
		wi := -1
		for i, s := range windows {
			if any&(1<<i) != 0 && (wi < 0 || s.free < windows[wi].free) {
				wi = i
			}
		}
		if wi < 0 {
			return out
		}
		at := windows[wi].free
		best, next := -1, int64(math.MaxInt64)
		var bestRank rank
		for j, p := range line {
			if p.serve&(1<<wi) == 0 {
				continue
			}
			if p.from > at {
				next = min(next, p.from)
				continue
			}
			if p.until <= at {
				line[j].k, line[j].until = r(p.t, p.f, at), changes(p.t, at)
			}
			if best < 0 || line[j].k.less(bestRank) {
				best, bestRank = j, line[j].k
			}
		}
		if best < 0 { // nobody in line for it yet: it waits for the next to come
			windows[wi].free = next
			continue
		}
		p := line[best]
		switch {
		case p.isNew:
			out.Wait, out.Ahead = at-now+rest, ahead(p.serve)
			return out
		case !p.stand && out.Near != nil:
			out.Near[p.t.ID] = ahead(p.serve)
		}
		calls[wi]++
		windows[wi].free = at + p.work
		line[best] = line[len(line)-1] // the order of the line does not matter: ranks decide
		line = line[:len(line)-1]
		if service == "" && fewest(calls, any) > in.Near {
			return out // nobody further back is within Near calls
		}
	}
	return out
}

// fewest is the fewest calls made by a window of mask.
func fewest(calls []int, mask uint64) int {
	n := math.MaxInt
	for i, c := range calls {
		if mask&(1<<i) != 0 {
			n = min(n, c)
		}
	}
	return n
}

// firstInRank is the depth tickets of the waiting line that r ranks first
// now, in no particular order (the playout ranks them as it goes).
func firstInRank(o *queue.Office, now int64, depth int, r ranker) []*queue.Ticket {
	if len(o.Waiting) <= depth {
		return o.Waiting
	}
	type ranked struct {
		t *queue.Ticket
		k rank
	}
	all := make([]ranked, len(o.Waiting))
	factsOf := factsFor(o)
	for i, t := range o.Waiting {
		all[i] = ranked{t, r(t, factsOf(t), now)}
	}
	// Quickselect: all[:depth] become the depth lowest. Ranks are never
	// equal (ids differ), so which tickets they are does not depend on how.
	lo, hi := 0, len(all)-1
	for lo < hi {
		p := all[(lo+hi)/2].k
		i, j := lo, hi
		for i <= j {
			for all[i].k.less(p) {
				i++
			}
			for p.less(all[j].k) {
				j--
			}
			if i <= j {
				all[i], all[j] = all[j], all[i]
				i, j = i+1, j-1
			}
		}
		switch {
		case depth-1 <= j:
			hi = j
		case depth-1 >= i:
			lo = i
		default:
			lo = hi
		}
	}
	out := make([]*queue.Ticket, depth)
	for i := range out {
		out[i] = all[i].t
	}
	return out
}

// forecastDepth bounds the waiting tickets forecast plays out one by one,
// so a forecast costs about the same however long the queue.
const forecastDepth = 100

// Level implements queue.Policy: the office's load level (see OfficeLoad).
func (Default) Level(o *queue.Office, now int64) string { return OfficeLoad(o, now).Level }

// servers counts the windows open for service, or, when none is open, all
// windows that could serve it (they are expected to open); at least one.
func servers(o *queue.Office, service string) int {
	open, all := 0, 0
	for _, w := range o.Windows {
		if w.Takes(service) {
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
