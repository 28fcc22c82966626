package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestReproducible: the same seed gives the same report; another seed does not.
func TestReproducible(t *testing.T) {
	run1, run2, other := new(bytes.Buffer), new(bytes.Buffer), new(bytes.Buffer)
	for _, c := range []struct {
		seed string
		out  *bytes.Buffer
	}{{"5", run1}, {"5", run2}, {"6", other}} {
		if err := run([]string{"-seed", c.seed, "-days", "5"}, c.out); err != nil {
			t.Fatal(err)
		}
	}
	if run1.String() != run2.String() {
		t.Fatal("the same seed gave different results")
	}
	if run1.String() == other.String() {
		t.Fatal("another seed gave the same results")
	}
	for _, want := range []string{"## city", "## overloaded", "## small-town", "first-come-first-served", "talon (forecast)", "head-of-line"} {
		if !strings.Contains(run1.String(), want) {
			t.Errorf("the report lacks %q:\n%s", want, run1)
		}
	}
}

func TestBadScenario(t *testing.T) {
	if err := run([]string{"/nonexistent.yaml"}, new(bytes.Buffer)); err == nil {
		t.Fatal("a missing scenario file was accepted")
	}
}
