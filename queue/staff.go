package queue

import (
	"regexp"
	"slices"
	"strings"
)

// Roles an employee can have.
const (
	RoleOperator   = "operator"   // serves applicants at a window
	RoleHallAdmin  = "hall_admin" // администратор зала: issues tickets, checks applicants in
	RoleSupervisor = "supervisor" // runs an office's windows, reads its audit
	RoleAdmin      = "admin"      // administers the region
)

var roles = []string{RoleOperator, RoleHallAdmin, RoleSupervisor, RoleAdmin}

// Employee is a person who works in the region's offices. Sessions counts
// the employee's sign-outs: a session token carries the count it was made
// at, and stops working once it moves on.
type Employee struct {
	ID       string   `json:"id"`
	Name     string   `json:"name"`
	Roles    []string `json:"roles"`
	Offices  []string `json:"offices"` // none: every office
	Hash     string   `json:"-"`       // bcrypt of the password (made by the API, never the password)
	Sessions uint64   `json:"-"`
	Disabled bool     `json:"disabled,omitempty"`
}

// Has reports whether e has role.
func (e *Employee) Has(role string) bool { return slices.Contains(e.Roles, role) }

// WorksAt reports whether e works at office (an employee of no office
// works at every one).
func (e *Employee) WorksAt(office string) bool {
	return len(e.Offices) == 0 || slices.Contains(e.Offices, office)
}

// SetEmployee creates or changes an employee. An empty Hash keeps the
// password the employee has; a disabled employee's sessions end.
type SetEmployee struct {
	ID, Name       string
	Roles, Offices []string
	Hash           string
	Disabled       bool
	Actor          string
}

// SignOut ends an employee's sessions and signs them out of any window.
type SignOut struct {
	Employee string
	Actor    string
}

// Limits of an employee's fields.
const (
	MaxEmployeeOffices = 64
	MaxHashBytes       = 128 // a bcrypt hash is 60
)

var employeeID = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

func (c *SetEmployee) wire(w wire) {
	w.str(1<<0, "employee id", &c.ID, MaxIDBytes)
	w.str(1<<1, "employee name", &c.Name, MaxNameBytes)
	w.json(1<<2, "roles", &c.Roles, 256)
	w.json(1<<3, "offices", &c.Offices, MaxEmployeeOffices*(MaxIDBytes+3))
	w.str(1<<4, "password hash", &c.Hash, MaxHashBytes)
	w.flag(1<<5, &c.Disabled)
	w.str(bActor, "actor", &c.Actor, MaxActorBytes)
}

func (c *SignOut) wire(w wire) {
	w.str(1<<0, "employee id", &c.Employee, MaxIDBytes)
	w.str(bActor, "actor", &c.Actor, MaxActorBytes)
}

func (c *SetEmployee) check() *Error {
	switch {
	case !employeeID.MatchString(c.ID):
		return errf(CodeInvalidRequest, "an employee id is lowercase letters, digits, '.', '-' and '_' (up to 64)")
	case c.Name == "":
		return errf(CodeInvalidRequest, "an employee needs a name")
	case len(c.Roles) == 0:
		return errf(CodeInvalidRequest, "an employee needs a role: %v", roles)
	case len(c.Offices) > MaxEmployeeOffices:
		return errf(CodeInvalidRequest, "at most %d offices", MaxEmployeeOffices)
	}
	for _, r := range c.Roles {
		if !slices.Contains(roles, r) {
			return errf(CodeInvalidRequest, "unknown role %q: %v", r, roles)
		}
	}
	return nil
}

func (c *SignOut) check() *Error {
	if !employeeID.MatchString(c.Employee) {
		return errf(CodeInvalidRequest, "no employee given")
	}
	return nil
}

func (c *SetEmployee) apply(s *State) Result { return s.setEmployee(c) }
func (c *SignOut) apply(s *State) Result     { return s.signOut(c.Employee) }

func (s *State) setEmployee(c *SetEmployee) Result {
	for _, o := range c.Offices {
		if s.Offices[o] == nil {
			return Result{Err: errf(CodeUnknownOffice, "no office %q", o)}
		}
	}
	e := s.Employees[c.ID]
	if e == nil {
		if c.Hash == "" {
			return Result{Err: errf(CodeInvalidRequest, "a new employee needs a password")}
		}
		e = &Employee{ID: c.ID}
		s.Employees[c.ID] = e
	}
	e.Name, e.Roles, e.Offices, e.Disabled = c.Name, slices.Clone(c.Roles), slices.Clone(c.Offices), c.Disabled
	if c.Hash != "" {
		e.Hash = c.Hash
		e.Sessions++ // a new password ends the sessions made with the old one
	}
	if e.Disabled {
		s.signOut(e.ID)
	}
	return Result{}
}

// signOut ends employee id's sessions and frees any window they are
// signed in to.
func (s *State) signOut(id string) Result {
	e := s.Employees[id]
	if e == nil {
		return Result{Err: errf(CodeNotFound, "no employee %q", id)}
	}
	e.Sessions++
	s.standUp(id, nil)
	return Result{}
}

// standUp signs employee id out of every window they sit at but keep.
func (s *State) standUp(id string, keep *Window) {
	for _, oc := range s.Region.Offices {
		o := s.Offices[oc.ID]
		for _, w := range o.Windows {
			if w.Employee == id && w != keep {
				s.leave(o, w)
			}
		}
	}
}

// leave signs window w's employee out of it.
func (s *State) leave(o *Office, w *Window) {
	o.Sittings = append(o.Sittings, Sitting{Employee: w.Employee, Window: w.Number, From: w.Seated, To: s.Now})
	w.Employee, w.Seated = "", 0
	s.emit(Event{Kind: EvWindowChanged, Office: o.Config.ID, Window: copyOf(w)})
}

// staffed reports whether office o's windows are run by signed-in
// employees: whether any employee who serves applicants works there. Such
// an office's windows call only with an operator signed in.
func (s *State) staffed(o *Office) bool {
	for _, e := range s.Employees {
		if !e.Disabled && e.Has(RoleOperator) && e.WorksAt(o.Config.ID) && len(e.Offices) > 0 {
			return true
		}
	}
	return false
}

// employeeActor is the employee an actor names, or nil for a device or
// nobody.
func (s *State) employeeActor(actor string) *Employee {
	id, ok := strings.CutPrefix(actor, "employee:")
	if !ok {
		return nil
	}
	return s.Employees[id]
}

// mayAct checks that the one giving window action c may: an operator acts
// only at the window they are signed in to (and signs in only as
// themselves); a supervisor or administrator of the office at any of its
// windows; a device (a button box, the panel's token) as the window's
// operator. In an office whose windows are run by signed-in operators, a
// window nobody is signed in to cannot call.
func (s *State) mayAct(o *Office, w *Window, c *WindowAction) *Error {
	if e := s.employeeActor(c.Actor); e != nil && !(e.Has(RoleSupervisor) || e.Has(RoleAdmin)) {
		switch {
		case c.Action == ActSignIn && c.Employee != e.ID:
			return errf(CodeNotYourWindow, "an operator signs in as themselves")
		case c.Action != ActSignIn && w.Employee != e.ID:
			return errf(CodeNotYourWindow, "window %d is not %s's: sign in to it first", w.Number, e.ID)
		}
	}
	if (c.Action == ActCallNext || c.Action == ActCall) && w.Employee == "" && s.staffed(o) {
		return errf(CodeWindowSignedOut, "nobody is signed in to window %d", w.Number)
	}
	return nil
}

// signIn sits employee id at window w of office o (leaving any other
// window they sat at).
func (s *State) signIn(o *Office, w *Window, id string) Result {
	e := s.Employees[id]
	switch {
	case e == nil || e.Disabled:
		return Result{Err: errf(CodeNotFound, "no employee %q", id)}
	case !e.Has(RoleOperator) || !e.WorksAt(o.Config.ID):
		return Result{Err: errf(CodeNotYourWindow, "%s does not serve at office %s", id, o.Config.ID)}
	case w.Employee != "" && w.Employee != id:
		return Result{Err: errf(CodeWindowTaken, "%s is signed in to window %d", w.Employee, w.Number)}
	}
	s.standUp(id, w)
	if w.Employee != id {
		w.Employee, w.Seated = id, s.Now
		s.emit(Event{Kind: EvWindowChanged, Office: o.Config.ID, Window: copyOf(w)})
	}
	return Result{Window: copyOf(w)}
}

func sortEmployees(es []Employee) {
	slices.SortFunc(es, func(a, b Employee) int { return strings.Compare(a.ID, b.ID) })
}
