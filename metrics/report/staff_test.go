package report

import (
	"reflect"
	"testing"
	"time"

	"github.com/talon-mfc/talon/queue"
	"github.com/talon-mfc/talon/scheduler"
)

// TestEmployeesOfAScriptedDay: two operators' morning, worked out by hand.
//
//	10:00 ivanova signs in to window 1, petrov to window 2; four passports.
//	ivanova: П-001 10:00, started 10:01, finished 10:11 (600 s); П-003 10:11,
//	  10:12-10:17 (300 s); signs out 10:30 (1,800 s signed in).
//	petrov: П-002 10:00, 10:02-10:22 (1,200 s); П-004 10:22, no-show 10:25;
//	  signs out 11:00 (3,600 s).
//
// Every command of the morning is in the audit with its actor.
func TestEmployeesOfAScriptedDay(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 3, 0, 0, 0, time.UTC).Unix() // 10:00 in Barnaul
	d := &day{st: queue.New(scheduler.FCFS{})}
	r := region()
	r.Offices[0].Windows = append(r.Offices[0].Windows, queue.WindowConfig{Number: 2, Services: []string{"passport"}})
	commands := 0
	do := func(minute int64, actor string, c queue.Command) {
		t.Helper()
		queue.WithActor(c, actor)
		if res := d.at(t0+minute*60, c); res.Err != nil {
			t.Fatalf("%T %+v: %v", c, c, res.Err)
		}
		commands++
	}
	win := func(minute int64, who string, n int, a queue.Action) {
		t.Helper()
		c := &queue.WindowAction{Office: "brn", Window: n, Action: a}
		if a == queue.ActSignIn {
			c.Employee = who
		}
		do(minute, "employee:"+who, c)
	}
	do(0, "device:admin", &queue.SetRegion{Region: r})
	for _, id := range []string{"ivanova", "petrov"} {
		do(0, "device:admin", &queue.SetEmployee{ID: id, Name: id, Roles: []string{queue.RoleOperator}, Offices: []string{"brn"}, Hash: "h"})
	}
	win(0, "ivanova", 1, queue.ActSignIn)
	win(0, "ivanova", 1, queue.ActOpen)
	win(0, "petrov", 2, queue.ActSignIn)
	win(0, "petrov", 2, queue.ActOpen)
	for range 4 {
		do(0, "device:kiosk-1", &queue.Issue{Office: "brn", Service: "passport"})
	}
	win(0, "ivanova", 1, queue.ActCallNext)
	win(0, "petrov", 2, queue.ActCallNext)
	win(1, "ivanova", 1, queue.ActStart)
	win(2, "petrov", 2, queue.ActStart)
	win(11, "ivanova", 1, queue.ActFinish)
	win(11, "ivanova", 1, queue.ActCallNext)
	win(12, "ivanova", 1, queue.ActStart)
	win(17, "ivanova", 1, queue.ActFinish)
	win(22, "petrov", 2, queue.ActFinish)
	win(22, "petrov", 2, queue.ActCallNext)
	win(25, "petrov", 2, queue.ActNoShow)
	do(30, "employee:ivanova", &queue.SignOut{Employee: "ivanova"})
	win(60, "petrov", 2, queue.ActSignOut)

	got := Employees(d.st.Reader(), nil, "brn", t0, t0+3*3600, t0+3*3600)
	want := []EmployeeStats{
		{Office: "brn", Employee: "ivanova", Called: 2, Served: 2, MeanService: 450, SignedSeconds: 1800, BusySeconds: 900, Occupancy: 0.5},
		{Office: "brn", Employee: "petrov", Called: 2, Served: 1, MeanService: 1200, SignedSeconds: 3600, BusySeconds: 1200, Occupancy: 0.3333},
	}
	for i := range got {
		got[i].service = nil
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("employees\n%+v\nwant\n%+v", got, want)
	}
	audit := d.st.Reader().AuditOf("", t0, t0+86400)
	if len(audit) != commands {
		t.Fatalf("%d audit entries for %d commands", len(audit), commands)
	}
	for _, a := range audit {
		if a.Actor == "" || a.What == "" {
			t.Fatalf("an entry without its actor or command: %+v", a)
		}
	}
}
