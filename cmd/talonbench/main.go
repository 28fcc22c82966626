// Command talonbench measures whole-system figures: it starts real talond
// processes (a 3-node cluster on loopback), drives them over HTTP and
// WebSocket, measures a ceiling in the same run, and checks afterwards that
// nothing was double booked or lost.
//
//	talonbench [flags] storm|kiosk|reads|display|restart|all|peers
//
// BENCHMARKS.md has the command for each scenario and the results.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/talon-mfc/talon/queue"
)

// bench holds a run's settings.
type bench struct {
	bin     string // talond binary
	dir     string // scratch folder for the nodes' data
	out     io.Writer
	region  region
	nodes   int
	clients int
	limit   time.Duration // longest timed phase
	profile string        // folder for CPU profiles of the nodes, taken during the main phase

	popular  int           // storm: the popular slots
	rate     int           // kiosk: requests per second
	run      time.Duration // kiosk: how long the kiosks run
	displays int           // display: connected screens
	calls    int           // display: calls measured
	records  int           // restart: bookings and tickets held
	ceiling  time.Duration // how long each ceiling is measured
}

var scenarios = map[string]func(*bench) error{
	"storm":   (*bench).storm,
	"kiosk":   (*bench).kiosk,
	"reads":   (*bench).reads,
	"display": (*bench).display,
	"restart": (*bench).restart,
	"peers":   (*bench).peers,
}

var order = []string{"storm", "kiosk", "reads", "display", "restart"}

func main() {
	b := &bench{out: os.Stdout}
	flag.StringVar(&b.bin, "talond", "", "talond binary (default: build it from this source tree)")
	flag.IntVar(&b.nodes, "nodes", 3, "cluster nodes")
	flag.IntVar(&b.region.Offices, "offices", 16, "offices in the bench region")
	flag.IntVar(&b.region.Windows, "windows", 10, "windows per office: at most that many visits at once")
	flag.IntVar(&b.clients, "clients", 256, "concurrent clients")
	flag.DurationVar(&b.limit, "limit", time.Minute, "longest timed phase")
	flag.StringVar(&b.profile, "profile", "", "save CPU profiles of the nodes during each scenario's main phase to this folder")
	flag.DurationVar(&b.ceiling, "ceiling", 5*time.Second, "how long each ceiling is measured")
	flag.IntVar(&b.popular, "popular", 3, "storm: popular slots everyone races for first")
	flag.IntVar(&b.rate, "rate", 200, "kiosk: tickets and check-ins per second")
	flag.DurationVar(&b.run, "run", 10*time.Second, "kiosk: how long the kiosks run")
	flag.IntVar(&b.displays, "displays", 5000, "display: connected hall screens")
	flag.IntVar(&b.calls, "calls", 30, "display: calls measured")
	flag.IntVar(&b.records, "records", 1_000_000, "restart: bookings and tickets the node holds")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: talonbench [flags] storm|kiosk|reads|display|restart|all|peers")
		flag.PrintDefaults()
	}
	flag.Parse()
	if err := b.main(flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "talonbench:", err)
		os.Exit(1)
	}
}

func (b *bench) main(args []string) error {
	if len(args) != 1 || (scenarios[args[0]] == nil && args[0] != "all") {
		flag.Usage()
		os.Exit(2)
	}
	for name, v := range map[string]int{"nodes": b.nodes, "offices": b.region.Offices, "windows": b.region.Windows, "clients": b.clients,
		"popular": b.popular, "rate": b.rate, "displays": b.displays, "calls": b.calls, "records": b.records} {
		if v < 1 {
			return fmt.Errorf("-%s must be at least 1", name)
		}
	}
	if b.region.Offices > 99 || b.limit <= 0 || b.ceiling <= 0 || b.run <= 0 {
		return fmt.Errorf("-offices is at most 99; -limit, -ceiling and -run must be positive")
	}
	if b.profile != "" {
		if err := os.MkdirAll(b.profile, 0o755); err != nil {
			return err
		}
	}
	dir, err := os.MkdirTemp("", "talonbench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	b.dir = dir
	if b.bin == "" {
		if b.bin, err = buildTalond(dir); err != nil {
			return err
		}
	}
	run := []string{args[0]}
	if args[0] == "all" {
		run = order
	}
	for _, name := range run {
		if err := b.scenario(name); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}

// scenario runs one scenario in a folder of its own.
func (b *bench) scenario(name string) error {
	sub := *b
	var err error
	if sub.dir, err = os.MkdirTemp(b.dir, name); err != nil {
		return err
	}
	defer os.RemoveAll(sub.dir)
	fmt.Fprintf(b.out, "== %s\n", name)
	return scenarios[name](&sub)
}

// cluster starts the scenario's cluster.
func (b *bench) cluster() ([]*node, error) {
	fmt.Fprintf(b.out, "cluster: %d talond nodes on loopback, %d offices × %d windows\n", b.nodes, b.region.Offices, b.region.Windows)
	return startCluster(b.bin, b.dir, b.nodes, b.region)
}

// day is the local date days from now in the bench region's time zone.
func day(days int) string {
	return time.Now().In(mustZone()).AddDate(0, 0, days).Format(time.DateOnly)
}

// mustZone is the bench region's time zone (from talon's embedded zone
// data, so it is always there).
func mustZone() *time.Location {
	loc, err := queue.LoadLocation("Asia/Barnaul")
	if err != nil {
		panic(err)
	}
	return loc
}

// storm: portal clients race for a popular office's first slots, then book
// a whole day of the region; the same clients then book against the naive
// design (one fsync per booking).
func (b *bench) storm() error {
	nodes, err := b.cluster()
	if err != nil {
		return err
	}
	defer stopAll(nodes)
	popular, err := slotsOf(nodes[0], b.region, day(1), b.popular)
	if err != nil {
		return err
	}
	r, acked := storm("popular slots", viaHTTP(nodes), popular, b.clients, 1, b.limit)
	fmt.Fprintln(b.out, r)
	if err := checkBookings(nodes, b.region, day(1), acked, b.out); err != nil {
		return err
	}
	whole, err := slotsOf(nodes[0], b.region, day(2), 0)
	if err != nil {
		return err
	}
	wait := profile(b.profile, "storm", nodes, 5)
	cpu := meterCPU(nodes)
	talon, acked := storm("whole day", viaHTTP(nodes), whole, b.clients, 0, b.limit)
	fmt.Fprintln(b.out, talon)
	fmt.Fprintln(b.out, cpu)
	wait()
	if err := checkBookings(nodes, b.region, day(2), acked, b.out); err != nil {
		return err
	}
	stopAll(nodes)

	nd, stop, err := naive(b.dir, b.region.Windows)
	if err != nil {
		return err
	}
	defer stop()
	for _, p := range whole {
		p.next.Store(0)
	}
	ceiling, _ := storm("naive: fsync each", viaHTTP([]*node{nd}), whole, b.clients, 0, b.ceiling)
	fmt.Fprintln(b.out, ceiling)
	fmt.Fprintf(b.out, "ratio: talon %.0f bookings/s = %.1f× the naive design's %.0f/s\n", talon.rate(), talon.rate()/ceiling.rate(), ceiling.rate())
	return nil
}
