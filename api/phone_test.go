package api

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"

	"github.com/nyaruka/phonenumbers"
)

// TestE164AgreesWithParsing: every number the quick way accepts, the
// library's parser accepts too and writes the same; drawn from every
// country code, national numbers of every length, Russian ones most.
func TestE164AgreesWithParsing(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	codes := phonenumbers.GetSupportedCallingCodes()
	var cc []int
	for c := range codes {
		cc = append(cc, c)
	}
	slices.Sort(cc) // the same draws every run
	accepted := 0
	for i := range 200_000 {
		code := 7
		if i%2 == 1 {
			code = cc[r.IntN(len(cc))]
		}
		raw := "+" + strconv.Itoa(code)
		for range 4 + r.IntN(10) {
			raw += strconv.Itoa(r.IntN(10))
		}
		quick, ok := e164(raw)
		if !ok {
			continue
		}
		accepted++
		n, err := phonenumbers.Parse(raw, "RU")
		if err != nil || !phonenumbers.IsValidNumber(n) || phonenumbers.Format(n, phonenumbers.E164) != quick {
			t.Fatalf("%s: the quick way accepts it as %s, parsing says %v %v", raw, quick, err, n)
		}
	}
	if accepted < 5_000 {
		t.Fatalf("only %d numbers took the quick way", accepted)
	}
	// Belarus's trunk prefix 8 after the country code: parsing strips it
	// (+375 8 10… is +375 10…); the quick way must not keep it.
	if quick, ok := e164("+3758102019573"); ok {
		t.Errorf("+3758102019573 took the quick way as %s", quick)
	}
	for _, raw := range []string{"+79131234567", "+14155552671", "+380441234567"} {
		if _, ok := e164(raw); !ok {
			t.Errorf("%s does not take the quick way", raw)
		}
	}
}

func BenchmarkCanonicalPhone(b *testing.B) {
	for _, raw := range []string{"+79131234567", "8 (913) 123-45-67"} {
		b.Run(raw, func(b *testing.B) {
			for b.Loop() {
				canonicalPhone(raw)
			}
		})
	}
}
