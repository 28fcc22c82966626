package queue_test

import (
	"reflect"
	"testing"

	"github.com/talon-mfc/talon/queue"
)

func (e *env) employee(id string, roles ...string) {
	e.t.Helper()
	wantCode(e.t, e.do(&queue.SetEmployee{ID: id, Name: id, Roles: roles, Offices: []string{"brn"}, Hash: "$2a$10$hash-of-" + id, Actor: "device:admin"}), "")
}

func (e *env) act(actor string, w int, a queue.Action, employee ...string) queue.Result {
	c := &queue.WindowAction{Office: "brn", Window: w, Action: a, Actor: actor}
	if len(employee) > 0 {
		c.Employee = employee[0]
	}
	return e.do(c)
}

// TestOperatorsAtWindows: once operators work at an office, a window calls
// only with one signed in; an operator acts only at their own window and
// signs in only as themselves; a supervisor and a button box act at any;
// the ticket remembers who called it; the day's end and a sign-out free
// the window; and the audit lists every command with its actor.
func TestOperatorsAtWindows(t *testing.T) {
	e := newEnv(t, "2026-11-23 10:00")
	wantCode(t, e.win(1, queue.ActOpen), "")
	e.issue("passport", "")
	wantCode(t, e.win(1, queue.ActCallNext), "") // no staff accounts yet: as before
	e.employee("ivanova", queue.RoleOperator)
	e.employee("petrov", queue.RoleOperator)
	e.employee("sidorova", queue.RoleSupervisor)
	e.issue("passport", "")
	e.issue("passport", "")
	wantCode(t, e.win(1, queue.ActFinish), "")
	wantCode(t, e.act("device:box-1", 1, queue.ActCallNext), queue.CodeWindowSignedOut)
	wantCode(t, e.act("employee:petrov", 1, queue.ActSignIn, "ivanova"), queue.CodeNotYourWindow)
	wantCode(t, e.act("employee:ivanova", 1, queue.ActSignIn, "ivanova"), "")
	wantCode(t, e.act("employee:petrov", 1, queue.ActSignIn, "petrov"), queue.CodeWindowTaken)
	wantCode(t, e.act("employee:petrov", 1, queue.ActCallNext), queue.CodeNotYourWindow)
	r := e.act("employee:ivanova", 1, queue.ActCallNext)
	wantCode(t, r, "")
	if r.Ticket.Employee != "ivanova" {
		t.Fatalf("called by %q", r.Ticket.Employee)
	}
	wantCode(t, e.act("device:box-1", 1, queue.ActStart), "")         // the window's button box acts for ivanova
	wantCode(t, e.act("employee:sidorova", 1, queue.ActCallNext), "") // a supervisor may
	// Ivanova moves to window 2: window 1 is free again.
	wantCode(t, e.win(2, queue.ActOpen), "")
	wantCode(t, e.act("employee:ivanova", 2, queue.ActSignIn, "ivanova"), "")
	if w := e.s.Offices["brn"].Window(1); w.Employee != "" {
		t.Fatalf("window 1 still has %q", w.Employee)
	}
	sessions := e.s.Employees["ivanova"].Sessions
	wantCode(t, e.do(&queue.SignOut{Employee: "ivanova", Actor: "employee:ivanova"}), "")
	if w := e.s.Offices["brn"].Window(2); w.Employee != "" || e.s.Employees["ivanova"].Sessions != sessions+1 {
		t.Fatalf("after signing out: window 2 %q, sessions %d", w.Employee, e.s.Employees["ivanova"].Sessions)
	}
	wantCode(t, e.act("employee:petrov", 2, queue.ActSignIn, "petrov"), "")
	e.now = at("2026-11-24 09:00") // the day ends the sitting
	e.do(&queue.Tick{})
	if w := e.s.Offices["brn"].Window(2); w.Employee != "" {
		t.Fatalf("window 2 still has %q the next day", w.Employee)
	}

	var who []string
	for _, a := range e.s.Reader().AuditOf("brn", at("2026-11-23 00:00"), at("2026-11-24 00:00")) {
		who = append(who, a.Actor+" "+a.What)
	}
	// Commands nobody is known to have given (e.win's) are not in it.
	want := []string{"employee:ivanova sign-in", "employee:ivanova call-next", "device:box-1 start", "employee:sidorova call-next",
		"employee:ivanova sign-in", "employee:petrov sign-in"}
	if !reflect.DeepEqual(who, want) {
		t.Fatalf("audit:\n%q\nwant\n%q", who, want)
	}
	if l := e.reloaded(); !reflect.DeepEqual(l.Employees, e.s.Employees) || !reflect.DeepEqual(l.Audit, e.s.Audit) {
		t.Fatalf("a snapshot lost the employees or the audit")
	}
}

// TestEmployeeCommandsValidate: what Encode refuses never reaches the log.
func TestEmployeeCommandsValidate(t *testing.T) {
	for _, c := range []queue.Command{
		&queue.SetEmployee{ID: "Ivanova", Name: "x", Roles: []string{queue.RoleOperator}},
		&queue.SetEmployee{ID: "ivanova", Roles: []string{queue.RoleOperator}},
		&queue.SetEmployee{ID: "ivanova", Name: "x", Roles: []string{"janitor"}},
		&queue.SetEmployee{ID: "ivanova", Name: "x"},
		&queue.SignOut{},
	} {
		if _, err := queue.Encode(nil, c); err == nil || err.Code != queue.CodeInvalidRequest {
			t.Errorf("%+v: %v", c, err)
		}
	}
	e := newEnv(t, "2026-11-23 10:00")
	wantCode(t, e.do(&queue.SetEmployee{ID: "ivanova", Name: "x", Roles: []string{queue.RoleOperator}}), queue.CodeInvalidRequest) // no password
	wantCode(t, e.do(&queue.SetEmployee{ID: "ivanova", Name: "x", Roles: []string{queue.RoleOperator}, Offices: []string{"nope"}, Hash: "h"}), queue.CodeUnknownOffice)
}

// TestOutOfTurnPostponeTransfer: an operator calls a chosen ticket out of
// turn (with a reason, in the audit), postpones an applicant (not called
// again before the time is up, unless chosen), and transfers one to
// another window, where it is called next, and nowhere else.
func TestOutOfTurnPostponeTransfer(t *testing.T) {
	e := newEnv(t, "2026-11-23 10:00")
	wantCode(t, e.win(1, queue.ActOpen), "")
	wantCode(t, e.win(2, queue.ActOpen), "")
	for range 4 {
		e.issue("passport", "")
	}
	if _, err := queue.Encode(nil, &queue.WindowAction{Office: "brn", Window: 1, Action: queue.ActCall, Number: "П-003"}); err == nil || err.Code != queue.CodeInvalidRequest {
		t.Fatalf("out of turn without a reason: %v", err)
	}
	r := e.do(&queue.WindowAction{Office: "brn", Window: 1, Action: queue.ActCall, Number: "П-003", Reason: "a wheelchair user", Actor: "device:panel-1"})
	wantCode(t, r, "")
	if r.Ticket.Number != "П-003" {
		t.Fatalf("called %s", r.Ticket.Number)
	}
	// Postponed for 10 minutes: window 1 then calls П-001, and not П-003.
	wantCode(t, e.do(&queue.WindowAction{Office: "brn", Window: 1, Action: queue.ActPostpone, Minutes: 10, Actor: "device:panel-1"}), "")
	if r := e.win(1, queue.ActCallNext); r.Ticket.Number != "П-001" {
		t.Fatalf("after a postponement: %s", r.Ticket.Number)
	}
	// Transferred to window 2, where it goes before П-002 and П-004; window 1 never calls it.
	r = e.do(&queue.WindowAction{Office: "brn", Window: 1, Action: queue.ActTransfer, ToWindow: 2, Actor: "device:panel-1"})
	wantCode(t, r, "")
	if r.Ticket.ForWindow != 2 || r.Ticket.Number != "П-001" {
		t.Fatalf("transferred %+v", r.Ticket)
	}
	if r := e.win(1, queue.ActCallNext); r.Ticket.Number != "П-002" {
		t.Fatalf("window 1 called %s", r.Ticket.Number)
	}
	if r := e.win(2, queue.ActCallNext); r.Ticket.Number != "П-001" {
		t.Fatalf("window 2 called %s, not the ticket transferred to it", r.Ticket.Number)
	}
	wantCode(t, e.do(&queue.WindowAction{Office: "brn", Window: 2, Action: queue.ActTransfer, ToWindow: 3}), queue.CodeInvalidRequest) // 3 serves no passport
	e.now += 11 * 60
	wantCode(t, e.win(1, queue.ActStart), "")         // П-002 came
	for _, want := range []string{"П-004", "П-003"} { // its 10 minutes are up: called again, in its turn
		r := e.win(1, queue.ActCallNext)
		if r.Ticket == nil || r.Ticket.Number != want {
			t.Fatalf("after the postponement: %+v, want %s", r.Ticket, want)
		}
		wantCode(t, e.win(1, queue.ActStart), "")
	}
	var what []string
	for _, a := range e.s.Reader().AuditOf("brn", at("2026-11-23 00:00"), at("2026-11-24 00:00")) {
		if a.Detail != "" {
			what = append(what, a.What+": "+a.Detail)
		}
	}
	if want := []string{"call: П-003; a wheelchair user", "postpone: 10 min", "transfer: to window 2"}; !reflect.DeepEqual(what, want) {
		t.Fatalf("audit %q, want %q", what, want)
	}
}
