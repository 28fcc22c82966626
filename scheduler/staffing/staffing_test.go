package staffing

import (
	"math"
	"slices"
	"testing"

	"github.com/talon-mfc/talon/scheduler"
	"github.com/talon-mfc/talon/scheduler/sim"
)

// TestErlangC: the formula against values worked by hand.
func TestErlangC(t *testing.T) {
	// P(wait) for 2 servers at 1 Erlang is 1/3.
	if p := waitProb(2, 1); math.Abs(p-1.0/3) > 1e-9 {
		t.Fatalf("Erlang C(2, 1) = %f, want 1/3", p)
	}
	// 5 Erlangs, 3-minute services: 6 windows leave 1-C·e^(-5) ≈ 99.7 %
	// within 15 minutes; 5 windows cannot serve 5 Erlangs at all.
	if c := erlangC(100, 5, 0.95); c != 6 {
		t.Fatalf("5 Erlangs of 3-minute services: %d windows, want 6", c)
	}
	if c := erlangC(0, 0, 0.95); c != 0 {
		t.Fatalf("no demand: %d windows", c)
	}
}

// TestPlansKeepTheNorm: on every shipped scenario, the days that follow
// the plan (simulated with the scenario's own applicants, bookings and
// service times, not the planner's model of them) call at least 95 % within
// 15 minutes, where every window open all day does not; in the city, which
// has the windows for it, the plan does so with fewer window-hours than
// opening every window all day. The overloaded office and the small town
// need windows they do not have (the plan's extra windows).
func TestPlansKeepTheNorm(t *testing.T) {
	if testing.Short() {
		t.Skip("plans three offices (about 10 s)")
	}
	scenarios, err := sim.Shipped()
	if err != nil {
		t.Fatal(err)
	}
	for _, sc := range scenarios {
		sc.Days = 30
		d, windows, err := FromScenario(sc)
		if err != nil {
			t.Fatal(err)
		}
		p, err := Make(d, windows, scheduler.Default{}, 1)
		if err != nil {
			t.Fatal(err)
		}
		everyWindow, planned, err := p.Compare(sc, scheduler.Default{}, 2)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: every window %.1f %% in %.1f window-hours a day, the plan %.1f %% in %.1f", sc.Name,
			100*everyWindow.Within15, everyWindow.WindowHours, 100*planned.Within15, planned.WindowHours)
		if planned.Within15 < Target || everyWindow.Within15 >= Target {
			t.Errorf("%s: within 15 minutes %.3f following the plan, %.3f with every window", sc.Name, planned.Within15, everyWindow.Within15)
		}
		extra := slices.ContainsFunc(p.Hours, func(h Hour) bool { return len(h.Extra) > 0 })
		if sc.Name == "city" && planned.WindowHours >= everyWindow.WindowHours {
			t.Errorf("city: the plan takes %.1f window-hours, every window %.1f", planned.WindowHours, everyWindow.WindowHours)
		}
		if sc.Name != "city" && !extra {
			t.Errorf("%s: the plan asks for no extra window", sc.Name)
		}
	}
}
