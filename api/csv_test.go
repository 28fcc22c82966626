package api

import "testing"

func TestFormulaSafe(t *testing.T) {
	for in, want := range map[string]string{
		"=HYPERLINK(\"http://evil\")": "'=HYPERLINK(\"http://evil\")", "+7 913": "'+7 913", "-cmd|' /C calc'!A0": "'-cmd|' /C calc'!A0",
		"@SUM(A1)": "'@SUM(A1)", "\tx": "'\tx", "-15": "-15", "+3.5": "+3.5", "П-001": "П-001", "": "", "brn-center": "brn-center",
	} {
		if got := formulaSafe(in); got != want {
			t.Errorf("formulaSafe(%q) = %q, want %q", in, got, want)
		}
	}
}
