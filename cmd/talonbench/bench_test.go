package main

import (
	"bytes"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
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
	_, acked := storm("fill three slots", nodes, pairs, 8, 0, time.Minute)
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
