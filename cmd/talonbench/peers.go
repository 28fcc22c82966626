package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// The peers are what a region would pick instead of talon to book its
// window time: PostgreSQL (one node, default durability: a transaction per
// booking that takes a guarded counter of each slot it needs) and etcd (three
// members, one Txn per booking comparing the versions of the slots' counters).
// In the bench region every window serves every service, so a counter of the
// visits holding each 15-minute slot of an office, at most the office's
// windows, is exactly talon's rule there (intervals on identical windows:
// when no slot holds more visits than windows, the visits fit on the windows).

// peer is one such system, started by talonbench for the storm.
type peer struct {
	name  string // in the storm's lines
	what  string // in the table: what it does per booking
	book  booker
	state func() (ids map[string]bool, taken map[string]int, err error) // the bookings held and each slot's counter
	pids  func() []int                                                  // the server's processes, for their CPU
	stop  func()
}

// slotSpan is how many 15-minute slots a visit for service holds (the
// bench region's average times: a passport 20 minutes, the others 15 or
// less).
func slotSpan(service string) int {
	if service == "passport" {
		return 2
	}
	return 1
}

// slotKeys are the office's slots a visit starting at start holds, as the
// peers key them: the office and each slot's start in RFC 3339.
func slotKeys(office, service, start string) ([]string, error) {
	t, err := time.Parse(time.RFC3339, start)
	if err != nil {
		return nil, err
	}
	keys := make([]string, slotSpan(service))
	for i := range keys {
		keys[i] = office + "|" + t.Add(time.Duration(i)*15*time.Minute).Format(time.RFC3339)
	}
	return keys, nil
}

// checkPeer holds a peer to the promises talon's check holds talon to: it
// keeps exactly the acknowledged bookings (none lost, none invented), and
// each slot's counter is the number of acknowledged visits holding it and
// at most the office's windows.
func checkPeer(p *peer, acked []booked, windows int) error {
	ids, taken, err := p.state()
	if err != nil {
		return err
	}
	want := map[string]int{}
	for _, b := range acked {
		if !ids[b.id] {
			return fmt.Errorf("LOST ACKNOWLEDGEMENT: %s does not hold booking %s", p.name, b.id)
		}
		keys, err := slotKeys(b.pair.office, b.pair.service, b.pair.starts[b.slot])
		if err != nil {
			return err
		}
		for _, k := range keys {
			want[k]++
		}
	}
	if len(ids) != len(acked) {
		return fmt.Errorf("%s holds %d bookings, %d were acknowledged", p.name, len(ids), len(acked))
	}
	for k, n := range taken {
		if n > windows {
			return fmt.Errorf("OVERSOLD: %s counts %d visits at %s for %d windows", p.name, n, k, windows)
		}
		if n != want[k] {
			return fmt.Errorf("%s counts %d visits at %s, %d were acknowledged", p.name, n, k, want[k])
		}
		delete(want, k)
	}
	for k, n := range want {
		if n > 0 {
			return fmt.Errorf("%s has no count at %s, which holds %d acknowledged visits", p.name, k, n)
		}
	}
	return nil
}

// row is one system's line of the peers' table.
type row struct {
	name string
	r    *result
	cpu  time.Duration // server CPU over the phase, all processes
}

func (r row) perBooking() time.Duration { return r.cpu / time.Duration(max(r.r.ok, 1)) }

// peers runs the storm's whole day against talon, PostgreSQL and etcd in
// turn, each alone on the machine, with the same clients and checks, and
// prints the ratios. A peer whose programs are not installed is skipped,
// saying so.
func (b *bench) peers() error {
	nodes, err := b.cluster()
	if err != nil {
		return err
	}
	defer stopAll(nodes)
	whole, err := slotsOf(nodes[0], b.region, day(2), 0)
	if err != nil {
		return err
	}
	pids := func() []int {
		var out []int
		for _, nd := range nodes {
			out = append(out, nd.cmd.Process.Pid)
		}
		return out
	}
	wait := profile(b.profile, "peers", nodes, 5)
	cpu := meterProcs(pids)
	r, acked := storm("talon", viaHTTP(nodes), whole, b.clients, 0, b.limit)
	rows := []row{{fmt.Sprintf("talon, %d nodes: HTTP + JSON, window placement, Ed25519 talon, Raft", b.nodes), r, cpu()}}
	fmt.Fprintln(b.out, r)
	wait()
	if err := checkBookings(nodes, b.region, day(2), acked, b.out); err != nil {
		return err
	}
	stopAll(nodes)

	for _, start := range []func(*bench) (*peer, error){startPostgres, startEtcd} {
		p, err := start(b)
		var missing *missingError
		if errors.As(err, &missing) {
			fmt.Fprintf(b.out, "%s: skipped: %v\n", missing.peer, err)
			continue
		}
		if err != nil {
			return err
		}
		for _, pr := range whole {
			pr.next.Store(0)
		}
		cpu := meterProcs(p.pids)
		r, acked := storm(p.name, p.book, whole, b.clients, 0, b.limit)
		rows = append(rows, row{p.what, r, cpu()})
		fmt.Fprintln(b.out, r)
		err = checkPeer(p, acked, b.region.Windows)
		p.stop()
		if err != nil {
			return err
		}
		fmt.Fprintf(b.out, "check: %s holds exactly the %d acknowledged bookings; every slot's count is its acknowledged visits, none above %d windows\n",
			p.name, len(acked), b.region.Windows)
	}
	b.table(rows)
	return nil
}

// table prints the peers' rows and talon's ratio to each.
func (b *bench) table(rows []row) {
	tw := tabwriter.NewWriter(b.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "system\tbookings/s\trequests/s\tp99\tserver CPU per booking\ttalon's ratio")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%.0f\t%.0f\t%s\t%d µs\t%.2f×\n", r.name, r.r.rate(), float64(r.r.ok+r.r.conflicts)/r.r.elapsed.Seconds(),
			ms(r.r.p(0.99)), r.perBooking().Microseconds(), rows[0].r.rate()/r.r.rate())
	}
	tw.Flush()
}

// missingError says a peer's programs are not installed.
type missingError struct{ peer, what string }

func (e *missingError) Error() string {
	return e.what + " not found (Debian: apt-get install " + e.peer + ")"
}

// meterProcs measures the CPU the processes pids lists use from now until
// the returned function is called (a process that ends in between loses
// its part).
func meterProcs(pids func() []int) func() time.Duration {
	start := map[int]time.Duration{}
	for _, pid := range pids() {
		start[pid] = cpuTime(pid)
	}
	return func() time.Duration {
		var sum time.Duration
		for _, pid := range pids() {
			sum += cpuTime(pid) - start[pid]
		}
		return sum
	}
}

// children are the processes whose parent is pid.
func children(pid int) []int {
	var out []int
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		child, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		b, _ := os.ReadFile(filepath.Join("/proc", d.Name(), "stat"))
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			out = append(out, child)
		}
	}
	return out
}

// waitPort waits until something accepts connections at addr, or the
// process ends (exited closes; nil: not watched).
func waitPort(cmd *exec.Cmd, exited <-chan struct{}, addr string, logs fmt.Stringer) error {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if conn, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			conn.Close()
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("%s ended:\n%s", filepath.Base(cmd.Path), tail(logs.String(), 3000))
		case <-time.After(20 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s did not listen at %s:\n%s", filepath.Base(cmd.Path), addr, tail(logs.String(), 3000))
}

// find is the path of program: on the PATH or in one of the folders
// (patterns).
func find(program string, folders ...string) (string, error) {
	if path, err := exec.LookPath(program); err == nil {
		return path, nil
	}
	for _, pattern := range folders {
		matches, _ := filepath.Glob(filepath.Join(pattern, program))
		slices.Sort(matches)
		if len(matches) > 0 {
			return matches[len(matches)-1], nil // the newest version
		}
	}
	return "", fmt.Errorf("%s not on the PATH", program)
}
