package main

import (
	"bytes"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/talon-mfc/talon/internal/testenv"
)

// small is every scenario at a size the test suite can afford: the same
// real talond processes and the same checks as a full run.
func small(t *testing.T) *bench {
	dir := t.TempDir()
	bin, err := buildTalond(dir)
	if err != nil {
		t.Fatal(err)
	}
	return &bench{bin: bin, dir: dir, out: &bytes.Buffer{}, region: region{Offices: 2, Windows: 2}, nodes: 3, clients: 16,
		limit: time.Minute, ceiling: 500 * time.Millisecond, popular: 2, rate: 40, run: 2 * time.Second,
		displays: 30, calls: 4, records: 4000}
}

// TestScenarios runs each scenario small: its own checks (no seat with two
// applicants, every acknowledged booking and ticket on every node, every
// call on every screen, the data back after a restart) fail the test.
func TestScenarios(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("needs the go command to build talond")
	}
	b := small(t)
	for _, name := range order {
		t.Run(name, func(t *testing.T) {
			if err := b.scenario(name); err != nil {
				t.Fatalf("%v\n%s", err, b.out)
			}
		})
	}
	t.Log(b.out)
	for _, want := range []string{"check: window time on all 3 nodes holds exactly", "check: all", "missing 0", "restart of n"} {
		if !strings.Contains(b.out.(*bytes.Buffer).String(), want) {
			t.Errorf("the report lacks %q:\n%s", want, b.out)
		}
	}
}

// TestChecksCatchViolations: the storm's check fails on a booking the
// cluster never acknowledged holding (a lost acknowledgement), on a seat
// counted twice, and on an answer that names the wrong slot.
func TestChecksCatchViolations(t *testing.T) {
	b := small(t)
	nodes, err := b.cluster()
	if err != nil {
		t.Fatal(err)
	}
	defer stopAll(nodes)
	pairs, err := slotsOf(nodes[0], b.region, day(1), 0)
	if err != nil {
		t.Fatal(err)
	}
	pairs = slices.DeleteFunc(pairs, func(p *pair) bool { return p.office != b.region.office(0) || p.service != "egrn" }) // visits of one slot
	pairs[0].starts = pairs[0].starts[:3]
	_, acked := storm("fill three slots", viaHTTP(nodes), pairs, 8, 0, time.Minute)
	if len(acked) != 3*b.region.Windows {
		t.Fatalf("%d bookings acknowledged for %d window-slots", len(acked), 3*b.region.Windows)
	}
	if err := checkBookings(nodes, b.region, day(1), acked, b.out); err != nil {
		t.Fatalf("a correct run failed its check: %v", err)
	}
	lost := append(acked[:len(acked):len(acked)], booked{id: "999999", pair: pairs[0], slot: 2})
	twice := append(acked[:len(acked):len(acked)], acked[0])
	wrong := append([]booked{}, acked...)
	wrong[0].slot, wrong[len(wrong)-1].slot = wrong[len(wrong)-1].slot, wrong[0].slot
	for name, bad := range map[string][]booked{"lost": lost, "twice": twice} {
		if err := checkBookings(nodes, b.region, day(1), bad, b.out); err == nil {
			t.Errorf("the check passed a %s booking", name)
		}
	}
	if wrong[0].slot != acked[0].slot {
		if err := checkBookings(nodes, b.region, day(1), wrong, b.out); err == nil {
			t.Error("the check passed bookings that read back at other times")
		}
	}
}

// TestPeers runs the storm small against talon, PostgreSQL and etcd, each
// with its check (the bookings held are exactly the acknowledged ones, no
// slot counted above its windows).
func TestPeers(t *testing.T) {
	if _, err := find("initdb", "/usr/lib/postgresql/*/bin"); err != nil {
		testenv.Missing(t, "PostgreSQL is not installed (the peers' storm; .ci/run installs postgresql from Debian)")
	}
	if _, err := find("etcd"); err != nil {
		testenv.Missing(t, "etcd is not installed (the peers' storm; .ci/run installs etcd-server from Debian)")
	}
	b := small(t)
	if err := b.scenario("peers"); err != nil {
		t.Fatalf("%v\n%s", err, b.out)
	}
	t.Log(b.out)
	for _, want := range []string{"check: window time on all 3 nodes", "check: postgresql holds exactly", "check: etcd holds exactly", "talon's ratio"} {
		if !strings.Contains(b.out.(*bytes.Buffer).String(), want) {
			t.Errorf("the report lacks %q", want)
		}
	}
}

// TestPeerCheckCatchesViolations: the peers' check fails on a lost
// booking, an invented one, a slot counted above its windows and a count
// that is not the acknowledged visits.
func TestPeerCheckCatchesViolations(t *testing.T) {
	p := &pair{office: "bench-01", service: "passport", starts: []string{"2026-12-01T10:00:00+07:00", "2026-12-01T10:15:00+07:00"}}
	acked := []booked{{"1", p, 0}, {"2", p, 1}}
	good := func() (map[string]bool, map[string]int) {
		return map[string]bool{"1": true, "2": true},
			map[string]int{"bench-01|2026-12-01T10:00:00+07:00": 1, "bench-01|2026-12-01T10:15:00+07:00": 2, "bench-01|2026-12-01T10:30:00+07:00": 1}
	}
	check := func(change func(ids map[string]bool, taken map[string]int)) error {
		ids, taken := good()
		change(ids, taken)
		return checkPeer(&peer{name: "test", state: func() (map[string]bool, map[string]int, error) { return ids, taken, nil }}, acked, 2)
	}
	if err := check(func(map[string]bool, map[string]int) {}); err != nil {
		t.Fatalf("a correct state failed the check: %v", err)
	}
	for name, change := range map[string]func(map[string]bool, map[string]int){
		"lost":      func(ids map[string]bool, _ map[string]int) { delete(ids, "2") },
		"invented":  func(ids map[string]bool, _ map[string]int) { ids["3"] = true },
		"oversold":  func(_ map[string]bool, taken map[string]int) { taken["bench-01|2026-12-01T10:15:00+07:00"] = 3 },
		"miscount":  func(_ map[string]bool, taken map[string]int) { taken["bench-01|2026-12-01T10:30:00+07:00"] = 0 },
		"uncounted": func(_ map[string]bool, taken map[string]int) { delete(taken, "bench-01|2026-12-01T10:00:00+07:00") },
	} {
		if check(change) == nil {
			t.Errorf("the check passed a %s booking", name)
		}
	}
}
