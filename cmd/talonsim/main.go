// Command talonsim simulates office days with talon's real queue and
// scheduler code, and compares calling policies and wait estimators.
//
//	talonsim                         the shipped scenarios, seed 1
//	talonsim -seed 7 -days 30 my-office.yaml
//	talonsim -plan                   staffing plans, and the days that follow them
//
// Results are the same for the same seed.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"text/tabwriter"

	"github.com/talon-mfc/talon/queue"
	"github.com/talon-mfc/talon/scheduler"
	"github.com/talon-mfc/talon/scheduler/sim"
	"github.com/talon-mfc/talon/scheduler/staffing"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "talonsim:", err)
		os.Exit(1)
	}
}

func run(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("talonsim", flag.ContinueOnError)
	seed := fs.Uint64("seed", 1, "random seed (same seed, same results)")
	days := fs.Int("days", 0, "days to simulate (default: the scenario's)")
	kiosk := fs.Bool("kiosk-closes", false, "the kiosk refuses walk-ins it forecasts past the last call (closing_soon): they go home")
	plan := fs.Bool("plan", false, "plan each office's windows by the hour (scheduler/staffing) and simulate its days following the plan")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var scenarios []sim.Scenario
	if fs.NArg() == 0 {
		var err error
		if scenarios, err = sim.Shipped(); err != nil {
			return err
		}
	}
	for _, path := range fs.Args() {
		sc, err := sim.Load(path)
		if err != nil {
			return err
		}
		scenarios = append(scenarios, sc)
	}
	if *plan {
		return plans(out, scenarios, *seed, *days)
	}
	policies := []struct {
		name string
		p    queue.Policy
	}{{"first-come-first-served", scheduler.FCFS{}}, {"talon", scheduler.Default{}}}
	if fs.NArg() == 0 {
		if err := regions(out, *seed, *days); err != nil {
			return err
		}
	}
	for _, sc := range scenarios {
		if *days > 0 {
			sc.Days = *days
		}
		sc.KioskCloses = sc.KioskCloses || *kiosk
		fmt.Fprintf(out, "\n## %s (%d days, seed %d)\n\n", sc.Name, sc.Days, *seed)
		w := tabwriter.NewWriter(out, 2, 4, 2, ' ', tabwriter.Debug)
		fmt.Fprintln(w, "policy\tapplicants\twithin 15 min\tbooked within 5 min\tmean wait\tp90 wait\tlongest wait\toccupancy\tturned away at closing")
		var talon *sim.Report
		for _, pol := range policies {
			rep, err := sim.Run(sc, pol.p, pol.name, *seed, sim.Baselines)
			if err != nil {
				return err
			}
			talon = rep
			fmt.Fprintf(w, "%s\t%d\t%.1f%%\t%.1f%%\t%s\t%s\t%s\t%.1f%%\t%d\n", pol.name, rep.Tickets, 100*rep.Within15, 100*rep.BookedOn,
				minutes(rep.MeanWait), minutes(rep.P90Wait), minutes(rep.MaxWait), 100*rep.Occupancy, rep.TurnedAway)
		}
		w.Flush()
		fmt.Fprintf(out, "\nWait estimates given at issue under the talon policy, against the real wait:\n\n")
		w = tabwriter.NewWriter(out, 2, 4, 2, ' ', tabwriter.Debug)
		fmt.Fprintln(w, "estimator\tmean abs error\tp90 abs error")
		names := make([]string, 0, len(talon.Estimators))
		for n := range talon.Estimators {
			names = append(names, n)
		}
		sort.Slice(names, func(i, j int) bool { return talon.Estimators[names[i]].MAE < talon.Estimators[names[j]].MAE })
		for _, n := range names {
			e := talon.Estimators[n]
			label := n
			if n == "policy" {
				label = "talon (forecast)"
			}
			fmt.Fprintf(w, "%s\t%s\t%s\n", label, minutes(e.MAE), minutes(e.P90))
		}
		w.Flush()
	}
	return nil
}

// plans prints each scenario's staffing plan, then simulates its days
// with every window open all day and following the plan.
func plans(out io.Writer, scenarios []sim.Scenario, seed uint64, days int) error {
	for _, sc := range scenarios {
		if days > 0 {
			sc.Days = days
		}
		d, windows, err := staffing.FromScenario(sc)
		if err != nil {
			return err
		}
		p, err := staffing.Make(d, windows, scheduler.Default{}, seed)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "\n## %s: staffing plan for %.0f %% within 15 minutes (seed %d)\n\n", sc.Name, 100*p.Target, seed)
		w := tabwriter.NewWriter(out, 2, 4, 2, ' ', tabwriter.Debug)
		fmt.Fprintln(w, "hour\texpected\tErlang C\twindows\textra windows like\twithin 15 min (planned)")
		for _, h := range p.Hours {
			fmt.Fprintf(w, "%s\t%.1f\t%d\t%v\t%v\t%.1f%%\n", h.From, h.Expected, h.ErlangC, h.Windows, h.Extra, 100*h.Within15)
		}
		w.Flush()
		fmt.Fprintf(out, "\n%d days of the scenario (talon's policy):\n\n", sc.Days)
		w = tabwriter.NewWriter(out, 2, 4, 2, ' ', tabwriter.Debug)
		fmt.Fprintln(w, "windows\twithin 15 min\twindow-hours a day\tlongest wait")
		every, followed, err := p.Compare(sc, scheduler.Default{}, seed)
		if err != nil {
			return err
		}
		for i, rep := range []*sim.Report{every, followed} {
			label := []string{"every window all day", "following the plan"}[i]
			fmt.Fprintf(w, "%s\t%.1f%%\t%.1f\t%s\n", label, 100*rep.Within15, rep.WindowHours, minutes(rep.MaxWait))
		}
		w.Flush()
	}
	return nil
}

func minutes(seconds float64) string { return fmt.Sprintf("%.1f min", seconds/60) }

// regions compares, on the shipped region scenarios, walk-ins who go to
// their nearest office with walk-ins who follow talon's recommendation.
func regions(out io.Writer, seed uint64, days int) error {
	rss, err := sim.ShippedRegions()
	if err != nil {
		return err
	}
	for _, rs := range rss {
		if days > 0 {
			rs.Days = days
		}
		fmt.Fprintf(out, "\n## %s: %d offices, %d minutes apart (%d days, seed %d)\n\n", rs.Name, len(rs.Offices), rs.TravelMinutes, rs.Days, seed)
		w := tabwriter.NewWriter(out, 2, 4, 2, ' ', tabwriter.Debug)
		fmt.Fprintln(w, "walk-ins go to\tapplicants\twithin 15 min\tmean wait\tp90 wait\tlongest wait")
		for _, rec := range []bool{false, true} {
			rep, err := sim.RunRegion(rs, scheduler.Default{}, "talon", seed, nil, rec)
			if err != nil {
				return err
			}
			label := "the nearest office"
			if rec {
				label = "talon's recommendation"
			}
			fmt.Fprintf(w, "%s\t%d\t%.1f%%\t%s\t%s\t%s\n", label, rep.Tickets, 100*rep.Within15, minutes(rep.MeanWait), minutes(rep.P90Wait), minutes(rep.MaxWait))
		}
		w.Flush()
	}
	return nil
}
