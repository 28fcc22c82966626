package sim

import (
	"math"
	"testing"

	"github.com/talon-mfc/talon/scheduler"
)

// erlangC is the mean wait in an M/M/c queue with arrival rate lambda and
// service rate mu per server (the Erlang C formula).
func erlangC(c int, lambda, mu float64) float64 {
	a := lambda / mu
	rho := a / float64(c)
	sum, term := 0.0, 1.0
	for k := range c {
		if k > 0 {
			term *= a / float64(k)
		}
		sum += term
	}
	last := term * a / float64(c) / (1 - rho)
	pWait := last / (sum + last)
	return pWait / (float64(c)*mu - lambda)
}

// TestMMcMatchesErlangC: one service with exponential service times and
// Poisson arrivals, three windows: the simulated mean wait is within 5% of
// the Erlang C formula.
func TestMMcMatchesErlangC(t *testing.T) {
	const c, meanMin, perHour = 3, 10.0, 15.0 // load 15/18 = 0.83
	sc := Scenario{Name: "M/M/3", Days: 300, Open: "00:00", Close: "20:00", WarmupMinutes: 180,
		Services: []ServiceSpec{{ID: "s", Letter: "С", Share: 1, MeanMinutes: meanMin}},
		Arrivals: []Rate{{Span: Span{From: "00:00", To: "20:00"}, PerHour: perHour}}}
	for i := range c {
		sc.Windows = append(sc.Windows, WindowSpec{Number: i + 1, Services: []string{"s"}})
	}
	rep, err := Run(sc, scheduler.FCFS{}, "fcfs", 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := erlangC(c, perHour/60, 1/meanMin) * 60 // seconds
	if got := rep.MeanWait; math.Abs(got-want)/want > 0.05 {
		t.Fatalf("mean wait %.0f s, Erlang C says %.0f s (%d tickets)", got, want, rep.Tickets)
	}
	t.Logf("M/M/3 at load %.2f: simulated mean wait %.0f s, Erlang C %.0f s, over %d applicants", perHour/18, rep.MeanWait, want, rep.Tickets)
}

// TestShippedScenarios pins, on every shipped scenario with seeds 1 and 2
// (their whole 60 days, as talonsim runs them), on the same applicants:
//   - talon's policy calls at least 4.5 points more within 15 minutes than
//     first come, first served (5 or more in all but two of the 15 runs of
//     seeds 1-5, see SIMULATION.md);
//   - in the overloaded office, where skip shortens the longest waits, its
//     longest wait is no longer than first come, first served's;
//   - talon's forecast errs at least 20 % less on average than the best
//     baseline estimator.
func TestShippedScenarios(t *testing.T) {
	scenarios, err := Shipped()
	if err != nil || len(scenarios) != 3 {
		t.Fatalf("%d scenarios: %v", len(scenarios), err)
	}
	for _, sc := range scenarios {
		for seed := uint64(1); seed <= 2; seed++ {
			fcfs, err := Run(sc, scheduler.FCFS{}, "fcfs", seed, nil)
			if err != nil {
				t.Fatal(err)
			}
			talon, err := Run(sc, scheduler.Default{}, "talon", seed, Baselines)
			if err != nil {
				t.Fatal(err)
			}
			if talon.Tickets != fcfs.Tickets {
				t.Errorf("%s seed %d: the policies met different applicants (%d, %d)", sc.Name, seed, talon.Tickets, fcfs.Tickets)
			}
			if talon.Within15 < fcfs.Within15+0.045 {
				t.Errorf("%s seed %d: within 15 min talon %.3f, fcfs %.3f", sc.Name, seed, talon.Within15, fcfs.Within15)
			}
			if sc.Name == "overloaded" && talon.MaxWait > fcfs.MaxWait {
				t.Errorf("%s seed %d: longest wait talon %.0f s, fcfs %.0f s", sc.Name, seed, talon.MaxWait, fcfs.MaxWait)
			}
			own := talon.Estimators["policy"].MAE
			for name, e := range talon.Estimators {
				if name != "policy" && own > 0.8*e.MAE {
					t.Errorf("%s seed %d: talon's forecast errs %.0f s on average, %s %.0f s", sc.Name, seed, own, name, e.MAE)
				}
			}
		}
	}
}

// TestRecommendationHelpsTheRegion: in the shipped region, walk-ins who
// follow talon's office recommendation are called within 15 minutes more
// often than walk-ins who go to their nearest office.
func TestRecommendationHelpsTheRegion(t *testing.T) {
	rss, err := ShippedRegions()
	if err != nil || len(rss) == 0 {
		t.Fatal(err)
	}
	rs := rss[0]
	rs.Days = 20
	nearest, err := RunRegion(rs, scheduler.Default{}, "talon", 1, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	recommended, err := RunRegion(rs, scheduler.Default{}, "talon", 1, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	if recommended.Within15 <= nearest.Within15 {
		t.Fatalf("within 15 min: recommended %.3f, nearest %.3f", recommended.Within15, nearest.Within15)
	}
}
