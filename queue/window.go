package queue

import (
	"cmp"
	"slices"
)

func (s *State) window(c *WindowAction) Result {
	o, err := s.office(c.Office)
	if err != nil {
		return Result{Err: err}
	}
	w := o.Window(c.Window)
	if w == nil {
		return Result{Err: errf(CodeUnknownWindow, "office %s has no window %d", o.Config.ID, c.Window)}
	}
	if c.Action < ActOpen || c.Action > ActServices {
		return Result{Err: errf(CodeInvalidRequest, "unknown window action %d", c.Action)}
	}
	s.rollover(o)
	if err := s.mayAct(o, w, c); err != nil {
		return Result{Err: err}
	}
	cur := s.Tickets[w.Current]
	switch c.Action {
	case ActSignIn:
		return s.signIn(o, w, c.Employee)
	case ActSignOut:
		if w.Employee != "" {
			s.leave(o, w)
		}
	case ActOpen:
		s.setWindow(o, w, WindowOpen)
	case ActPause:
		if w.State == WindowClosed {
			return Result{Err: errf(CodeWindowNotOpen, "window %d is closed", w.Number)}
		}
		s.setWindow(o, w, WindowPaused)
	case ActClose:
		if cur != nil {
			return Result{Err: errf(CodeWindowBusy, "window %d still has ticket %s", w.Number, cur.Number)}
		}
		s.setWindow(o, w, WindowClosed)
	case ActCallNext:
		return s.call(o, w, cur, func() *Ticket { return s.policy.Pick(o, w, s.Now) })
	case ActCall:
		return s.callChosen(o, w, cur, c.Number)
	case ActServices:
		for _, sv := range c.Today {
			if !o.offers[sv] {
				return Result{Err: errf(CodeUnknownService, "office %s does not offer service %q", o.Config.ID, sv)}
			}
		}
		w.Today = nil
		if len(c.Today) > 0 {
			w.Today = slices.Clone(c.Today)
		}
		s.emit(Event{Kind: EvWindowChanged, Office: o.Config.ID, Window: copyOf(w)})
	case ActRecall, ActStart, ActFinish, ActNoShow, ActRedirect, ActPostpone, ActTransfer:
		if cur == nil {
			return Result{Err: errf(CodeNoCurrentTicket, "window %d has no current ticket", w.Number)}
		}
		return s.handle(o, w, cur, c)
	}
	return Result{Window: copyOf(w)}
}

func (s *State) setWindow(o *Office, w *Window, st WindowState) {
	if w.State == st {
		return
	}
	if w.State == WindowOpen {
		o.Spans = append(o.Spans, Span{Window: w.Number, From: w.Since, To: s.Now})
	}
	w.State, w.Since = st, s.Now
	s.emit(Event{Kind: EvWindowChanged, Office: o.Config.ID, Window: copyOf(w)})
}

// call calls the applicant pick chooses (the policy's, or the operator's).
// A ticket still being served is finished first (one button on a hardware
// box); a ticket called but not yet come must be started, recalled or
// marked no-show first.
func (s *State) call(o *Office, w *Window, cur *Ticket, pick func() *Ticket) Result {
	if w.State != WindowOpen {
		return Result{Err: errf(CodeWindowNotOpen, "window %d is %s", w.Number, w.State)}
	}
	if cur != nil && cur.Status == TicketCalled {
		return Result{Err: errf(CodeWindowBusy, "ticket %s is called and not yet started", cur.Number)}
	}
	if cur != nil {
		s.end(o, w, cur, TicketDone, EvTicketServed)
	}
	t := pick()
	if t == nil {
		return Result{Window: copyOf(w)}
	}
	o.unqueue(t)
	t.Status, t.CalledAt, t.Window, t.Employee = TicketCalled, s.Now, w.Number, w.Employee
	w.Current, w.Serving, w.Busy = t.ID, t.Service, s.Now
	o.Recent = append(o.Recent, Call{At: s.Now, Wait: s.Now - t.ArrivedAt})
	if len(o.Recent) > recentCalls {
		o.Recent = o.Recent[len(o.Recent)-recentCalls:]
	}
	s.emit(Event{Kind: EvTicketCalled, Office: o.Config.ID, Ticket: copyOf(t), Window: copyOf(w)})
	return Result{Ticket: copyOf(t), Window: copyOf(w)}
}

// handle applies an action to the window's current ticket.
func (s *State) handle(o *Office, w *Window, t *Ticket, c *WindowAction) Result {
	switch c.Action {
	case ActRecall:
		if t.Status != TicketCalled {
			return Result{Err: errf(CodeNoCurrentTicket, "ticket %s is already being served", t.Number)}
		}
		if t.Recalls >= s.Region.Rules.MaxRecalls {
			s.end(o, w, t, TicketNoShow, EvTicketNoShow)
			break
		}
		t.Recalls++
		s.emit(Event{Kind: EvTicketRecalled, Office: o.Config.ID, Ticket: copyOf(t), Window: copyOf(w)})
	case ActStart:
		if t.Status == TicketCalled {
			t.Status, t.StartedAt = TicketServing, s.Now
			s.emit(Event{Kind: EvTicketStarted, Office: o.Config.ID, Ticket: copyOf(t), Window: copyOf(w)})
		}
	case ActFinish:
		s.end(o, w, t, TicketDone, EvTicketServed)
	case ActNoShow:
		if t.Status != TicketCalled {
			return Result{Err: errf(CodeWindowBusy, "ticket %s is being served; finish it instead", t.Number)}
		}
		s.end(o, w, t, TicketNoShow, EvTicketNoShow)
	case ActRedirect:
		return s.redirect(o, w, t, c.Service)
	case ActPostpone:
		return s.postpone(o, w, t, cmp.Or(c.Minutes, 5))
	case ActTransfer:
		return s.transfer(o, w, t, c)
	}
	return Result{Ticket: copyOf(t), Window: copyOf(w)}
}

// end closes the window's current ticket with a final status.
func (s *State) end(o *Office, w *Window, t *Ticket, st TicketStatus, kind EventKind) {
	if t.StartedAt == 0 && st == TicketDone {
		t.StartedAt = s.Now
	}
	t.Status, t.FinishedAt = st, s.Now
	w.Current, w.Serving, w.Busy = 0, "", 0
	s.emit(Event{Kind: kind, Office: o.Config.ID, Ticket: copyOf(t), Window: copyOf(w)})
}

// redirect sends the applicant to another service: the ticket ends as
// redirected and a new ticket with the same number and original arrival time
// joins the queue of that service.
func (s *State) redirect(o *Office, w *Window, t *Ticket, service string) Result {
	if s.Service(service) == nil || !o.offers[service] {
		return Result{Err: errf(CodeUnknownService, "office %s does not offer service %q", o.Config.ID, service)}
	}
	if service == t.Service {
		return Result{Err: errf(CodeInvalidRequest, "ticket %s is already for service %s", t.Number, service)}
	}
	return s.requeue(o, w, t, service, EvTicketRedirected, func(*Ticket) {})
}

// requeue ends window w's ticket t as redirected (kind: how it is told)
// and queues the applicant again, with the same number and arrival time,
// for service; set marks the new ticket (for a window, not before a time).
func (s *State) requeue(o *Office, w *Window, t *Ticket, service string, kind EventKind, set func(*Ticket)) Result {
	s.end(o, w, t, TicketRedirected, kind)
	n := &Ticket{
		ID: s.nextID(&s.NextTicketID), Office: o.Config.ID, Service: service, Number: t.Number,
		Category: t.Category, Booking: t.Booking, SlotStart: t.SlotStart, RedirectedFrom: t.ID,
	}
	set(n)
	s.enqueue(o, n, t.ArrivedAt, s.forecast(o, n.Service, n.SlotStart))
	s.emit(Event{Kind: EvTicketIssued, Office: o.Config.ID, Ticket: copyOf(n)})
	return Result{Ticket: copyOf(n), Window: copyOf(w)}
}

// postpone sends window w's applicant back to the queue, to be called
// again no sooner than minutes from now (they went to fetch a document).
func (s *State) postpone(o *Office, w *Window, t *Ticket, minutes int) Result {
	return s.requeue(o, w, t, t.Service, EvTicketPostponed, func(n *Ticket) { n.NotBefore = s.Now + int64(minutes)*60 })
}

// transfer sends window w's applicant to another window of the office, or
// to the window an employee is signed in to: only there are they called,
// and before anyone else.
func (s *State) transfer(o *Office, w *Window, t *Ticket, c *WindowAction) Result {
	switch {
	case c.ToWindow != 0:
		to := o.Window(c.ToWindow)
		if to == nil || to == w {
			return Result{Err: errf(CodeUnknownWindow, "no other window %d at office %s", c.ToWindow, o.Config.ID)}
		}
		if !to.Takes(t.Service) {
			return Result{Err: errf(CodeInvalidRequest, "window %d does not serve %s", to.Number, t.Service)}
		}
	case c.Employee != "":
		e := s.Employees[c.Employee]
		if e == nil || e.Disabled || !e.Has(RoleOperator) || !e.WorksAt(o.Config.ID) {
			return Result{Err: errf(CodeNotFound, "no operator %q at office %s", c.Employee, o.Config.ID)}
		}
	default:
		return Result{Err: errf(CodeInvalidRequest, "a transfer needs a window or an employee")}
	}
	return s.requeue(o, w, t, t.Service, EvTicketTransferred, func(n *Ticket) { n.ForWindow, n.ForEmployee = c.ToWindow, c.Employee })
}

// callChosen calls waiting ticket number at window w out of turn (the
// operator says why: Reason).
func (s *State) callChosen(o *Office, w *Window, cur *Ticket, number string) Result {
	var chosen *Ticket
	for _, t := range o.Waiting {
		if t.Number == number && w.Takes(t.Service) && t.For(w) {
			chosen = t
			break
		}
	}
	if chosen == nil {
		return Result{Err: errf(CodeNotFound, "no ticket %s waits for window %d", number, w.Number)}
	}
	return s.call(o, w, cur, func() *Ticket { return chosen })
}
