package api

import (
	"strings"
	"time"

	"github.com/valyala/fasthttp"
	"golang.org/x/crypto/bcrypt"

	"github.com/talon-mfc/talon/queue"
)

// Employees sign in with a password for a session token that any node
// checks against the region's talon keys and the replicated employee (a
// sign-out, a new password or disabling them ends it). A session lasts a
// working day at most.
const (
	sessionHours = 12
	bcryptCost   = 10
	minPassword  = 8
)

// employeeRoles are the API roles an employee's roles give.
var employeeRoles = map[string][]Role{
	queue.RoleOperator:   {RoleOperator},
	queue.RoleHallAdmin:  {RoleKiosk, RoleDisplay, RoleHallAdmin},
	queue.RoleSupervisor: {RoleSupervisor},
	queue.RoleAdmin:      {RoleAdmin},
}

// session is the grant of a current session token.
func (s *Server) session(token string) (Grant, bool) {
	if s.cfg.Keys == nil || !strings.HasPrefix(token, queue.SessionPrefix) {
		return Grant{}, false
	}
	ss, ok := s.cfg.Keys.VerifySession(token)
	if !ok {
		return Grant{}, false
	}
	var e *queue.Employee
	s.cfg.Store.Read(func(r queue.Reader) { e, ok = r.Current(ss, s.now()) })
	if !ok {
		return Grant{}, false
	}
	g := Grant{Role: RoleDisplay, Employee: e.ID, Offices: e.Offices}
	for _, r := range e.Roles {
		g.Roles = append(g.Roles, employeeRoles[r]...)
	}
	return g, true
}

type employeeView struct {
	ID       string   `json:"id"`
	Name     string   `json:"name"`
	Roles    []string `json:"roles"`
	Offices  []string `json:"offices"`
	Disabled bool     `json:"disabled,omitempty"`
}

func viewOf(e *queue.Employee) employeeView {
	return employeeView{ID: e.ID, Name: e.Name, Roles: e.Roles, Offices: e.Offices, Disabled: e.Disabled}
}

// putEmployee creates or changes an employee (PUT /api/v1/employees/{id}).
func (s *Server) putEmployee(c *fasthttp.RequestCtx) {
	var req struct {
		Name     string   `json:"name"`
		Roles    []string `json:"roles"`
		Offices  []string `json:"offices"`
		Password string   `json:"password"`
		Disabled bool     `json:"disabled"`
	}
	if err := parseBody(c.PostBody(), &req); err != nil {
		s.domainError(c, err)
		return
	}
	cmd := &queue.SetEmployee{ID: param(c, "id"), Name: req.Name, Roles: req.Roles, Offices: req.Offices, Disabled: req.Disabled}
	if req.Password != "" {
		if len(req.Password) < minPassword || len(req.Password) > 72 { // bcrypt reads 72 bytes at most
			fail(c, 422, "invalid_request", "a password has 8 to 72 bytes")
			return
		}
		h, err := bcrypt.GenerateFromPassword([]byte(req.Password), bcryptCost)
		if err != nil {
			fail(c, 500, "internal", err.Error())
			return
		}
		cmd.Hash = string(h)
	}
	if _, ok := s.apply(c, cmd); ok {
		var v employeeView
		s.cfg.Store.Read(func(r queue.Reader) { v = viewOf(r.Employee(cmd.ID)) })
		writeJSON(c, 200, v)
	}
}

// employees lists the region's employees (GET /api/v1/employees).
func (s *Server) employees(c *fasthttp.RequestCtx) {
	out := []employeeView{}
	s.cfg.Store.Read(func(r queue.Reader) {
		for _, e := range r.Employees() {
			out = append(out, viewOf(&e))
		}
	})
	writeJSON(c, 200, map[string]any{"employees": out})
}

// signIn checks an employee's password and answers a session token (POST
// /api/v1/sessions). Tries are limited per employee, on every node.
func (s *Server) signIn(c *fasthttp.RequestCtx) {
	var req struct {
		Employee string `json:"employee"`
		Password string `json:"password"`
	}
	if err := parseBody(c.PostBody(), &req); err != nil {
		s.domainError(c, err)
		return
	}
	if !s.limits.allow("sign-in:"+req.Employee, signInLimit, s.cfg.Store.Voters()) {
		c.Response.Header.Set("Retry-After", "60")
		fail(c, 429, "rate_limited", "too many sign-in attempts for this employee; wait a minute")
		return
	}
	var e *queue.Employee
	s.cfg.Store.Read(func(r queue.Reader) { e = r.Employee(req.Employee) })
	if e == nil || e.Disabled || bcrypt.CompareHashAndPassword([]byte(e.Hash), []byte(req.Password)) != nil {
		fail(c, 401, "unauthorized", "unknown employee or wrong password")
		return
	}
	expires := time.Unix(s.now(), 0).Add(sessionHours * time.Hour)
	token := s.cfg.Keys.SignSession(queue.Session{Employee: e.ID, Count: e.Sessions, Expires: expires.Unix(), KeyID: s.cfg.Keys.Active()})
	writeJSON(c, 201, map[string]any{"token": token, "expires": expires.Format(time.RFC3339), "employee": viewOf(e)})
}

// signInLimit is how often one employee may try to sign in.
var signInLimit = Limit{PerMinute: 10, Burst: 5}

// signOut ends the caller's sessions and signs them out of their window
// (DELETE /api/v1/sessions).
func (s *Server) signOut(c *fasthttp.RequestCtx) {
	g, _ := c.UserValue(grantKey).(Grant)
	if g.Employee == "" {
		fail(c, 403, "forbidden", "only an employee's session signs out")
		return
	}
	if _, ok := s.apply(c, &queue.SignOut{Employee: g.Employee}); ok {
		c.SetStatusCode(204)
	}
}

// auditView is one entry of an office's audit.
type auditView struct {
	At      string `json:"at"`
	Actor   string `json:"actor"`
	What    string `json:"what"`
	Ticket  string `json:"ticket,omitempty"` // its number
	Booking string `json:"booking,omitempty"`
	Window  int    `json:"window,omitempty"`
	Detail  string `json:"detail,omitempty"`
}

func auditViews(r queue.Reader, office string, es []queue.AuditEntry) []auditView {
	_, loc := r.Config(office)
	out := []auditView{}
	for _, e := range es {
		v := auditView{At: localTime(loc, e.At), Actor: e.Actor, What: e.What, Window: e.Window, Detail: e.Detail}
		if t := r.Ticket(e.Ticket); t != nil {
			v.Ticket = t.Number
		}
		if e.Booking != 0 {
			v.Booking = refOf(r, e.Booking)
		}
		out = append(out, v)
	}
	return out
}

// audit lists who did what at an office on a local day (GET
// /api/v1/offices/{office}/audit?date=; default today).
func (s *Server) audit(c *fasthttp.RequestCtx) {
	office, date := param(c, "office"), string(c.QueryArgs().Peek("date"))
	var out []auditView
	found, bad := false, false
	s.cfg.Store.Read(func(r queue.Reader) {
		_, loc := r.Config(office)
		if loc == nil {
			return
		}
		found = true
		if date == "" {
			date = time.Unix(s.now(), 0).In(loc).Format(time.DateOnly)
		}
		d, err := time.ParseInLocation(time.DateOnly, date, loc)
		if bad = err != nil; bad {
			return
		}
		out = auditViews(r, office, r.AuditOf(office, d.Unix(), d.AddDate(0, 0, 1).Unix()))
	})
	switch {
	case !found:
		unknownOffice(c)
	case bad:
		fail(c, 400, "invalid_request", "date must be YYYY-MM-DD")
	default:
		writeJSON(c, 200, map[string]any{"office": office, "date": date, "entries": out})
	}
}

// bookingHistory lists a booking's changes and who made them (GET
// /api/v1/bookings/{id}/history).
func (s *Server) bookingHistory(c *fasthttp.RequestCtx) {
	b, _, ok := s.pathBooking(c)
	if !ok {
		return
	}
	var out []auditView
	s.cfg.Store.Read(func(r queue.Reader) { out = auditViews(r, b.Office, r.BookingHistory(b.ID)) })
	writeJSON(c, 200, map[string]any{"booking": param(c, "id"), "history": out})
}

// checkInByHand checks in the booking (its reference) a hall administrator
// found, having seen the applicant.
func (s *Server) checkInByHand(c *fasthttp.RequestCtx, ref string) {
	var b *queue.Booking
	s.cfg.Store.Read(func(r queue.Reader) { b = r.BookingByRef(ref, s.now()) })
	switch {
	case b == nil:
		fail(c, 404, "not_found", "no booking "+ref)
		return
	case b.Office != param(c, "office"):
		s.domainError(c, &queue.Error{Code: queue.CodeWrongOffice, Message: "this booking is for office " + b.Office})
		return
	}
	if r, ok := s.apply(c, &queue.CheckIn{Office: b.Office, Booking: b.ID, Start: b.Start}); ok {
		s.answerTicket(c, 200, r.Ticket)
	}
}

// findBookings lists an office's bookings of a day matching a phone or a
// booking number, for the hall administrator who meets the applicant (GET
// /api/v1/offices/{office}/bookings?phone=|number=&date=; default today).
func (s *Server) findBookings(c *fasthttp.RequestCtx) {
	office, date := param(c, "office"), string(c.QueryArgs().Peek("date"))
	phone, number := string(c.QueryArgs().Peek("phone")), strings.TrimSpace(string(c.QueryArgs().Peek("number")))
	if phone == "" && number == "" {
		fail(c, 400, "invalid_request", "give a phone or a booking number")
		return
	}
	if phone != "" {
		p, err := canonicalPhone(phone)
		if err != nil {
			s.domainError(c, err)
			return
		}
		phone = p
	}
	type found struct {
		Booking string `json:"booking"`
		Number  string `json:"number"`
		Service string `json:"service"`
		Start   string `json:"start"`
		Name    string `json:"name"`
		Phone   string `json:"phone"`
		Status  string `json:"status"`
	}
	out, ok := []found{}, false
	s.cfg.Store.Read(func(r queue.Reader) {
		_, loc := r.Config(office)
		if ok = loc != nil; !ok {
			return
		}
		if date == "" {
			date = time.Unix(s.now(), 0).In(loc).Format(time.DateOnly)
		}
		vs, _ := r.WindowTime(office, date)
		for _, v := range vs {
			b := r.Booking(v.Booking, s.now())
			if b == nil || phone != "" && b.Phone != phone || number != "" && !strings.EqualFold(b.Number, number) {
				continue
			}
			out = append(out, found{Booking: refOf(r, b.ID), Number: b.Number, Service: b.Service, Start: localTime(loc, b.Start),
				Name: b.Name, Phone: b.Phone, Status: string(b.Status)})
		}
	})
	if !ok {
		unknownOffice(c)
		return
	}
	writeJSON(c, 200, map[string]any{"office": office, "date": date, "bookings": out})
}
