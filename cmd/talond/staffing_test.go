package main

import (
	"strings"
	"testing"
	"time"
)

// TestStaffingForADemoOffice: talonctl staffing answers for a demo office
// of a fresh talond: next Wednesday's twelve hours of brn-center
// (08:00-20:00), with the plan's totals; a Sunday it is closed.
func TestStaffingForADemoOffice(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real process")
	}
	d, ctl := startDaemon(t, buildTalond(t), t.TempDir()), buildTalonctl(t)
	day := time.Now().AddDate(0, 0, 1)
	for day.Weekday() != time.Wednesday {
		day = day.AddDate(0, 0, 1)
	}
	out, err := talonctl(ctl, d, "staffing", "brn-center", day.Format(time.DateOnly))
	if err != nil {
		t.Fatalf("talonctl staffing: %v\n%s", err, out)
	}
	for _, want := range []string{"office brn-center on " + day.Format(time.DateOnly), "HOUR", "08:00", "19:00", "following the plan:", "every window all day:"} {
		if !strings.Contains(out, want) {
			t.Fatalf("no %q in:\n%s", want, out)
		}
	}
	for day.Weekday() != time.Sunday {
		day = day.AddDate(0, 0, 1)
	}
	if out, err := talonctl(ctl, d, "staffing", "brn-center", day.Format(time.DateOnly)); err != nil || !strings.Contains(out, "closed") {
		t.Fatalf("a Sunday: %v\n%s", err, out)
	}
}
