// Package testenv finds the programs some tests drive (Chromium, Prometheus,
// poppler, systemd-analyze). Without one, its tests skip, naming it and
// what installs it; with TALON_REQUIRE_ALL=1 (set by .ci/run) they fail
// instead, so a full run cannot pass with less checked.
package testenv

import (
	"os"
	"os/exec"
	"testing"
)

// Need returns the path of program, or skips (fails under
// TALON_REQUIRE_ALL=1) saying what the test needs it for.
func Need(t testing.TB, program, forWhat string) string {
	t.Helper()
	path, err := exec.LookPath(program)
	if err == nil {
		return path
	}
	Missing(t, program+" is not installed ("+forWhat+"; .ci/run installs it from Debian)")
	return ""
}

// Missing skips the test saying what is missing, or fails it under
// TALON_REQUIRE_ALL=1.
func Missing(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv("TALON_REQUIRE_ALL") == "1" {
		t.Fatal(msg + ", and TALON_REQUIRE_ALL=1 asks for every test")
	}
	t.Skip(msg)
}
