package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/talon-mfc/talon/metrics"
)

// outcome is what one request came to.
type outcome int

const (
	ok       outcome = iota
	conflict         // refused by a rule (a full slot): counted, not an error
	failed           // an error: the code goes into the report
	done             // nothing left for this client to do (not timed)
)

// result is one load phase: counts, rate and latencies.
type result struct {
	name                string
	clients             int
	ok, conflicts, errs int
	codes               map[string]int
	elapsed             time.Duration
	lat                 []float64 // seconds
}

// drive runs clients concurrent clients, each calling op in a loop until
// it says done or the phase has run for limit (0: no limit).
func drive(name string, clients int, limit time.Duration, op func(client, i int) (outcome, string)) *result {
	r := &result{name: name, clients: clients, codes: map[string]int{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	for w := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat []float64
			var okN, confN, errN int
			codes := map[string]int{}
			for i := 0; limit == 0 || time.Since(start) < limit; i++ {
				t0 := time.Now()
				o, code := op(w, i)
				if o == done {
					break
				}
				lat = append(lat, time.Since(t0).Seconds())
				switch o {
				case ok:
					okN++
				case conflict:
					confN++
				case failed:
					errN++
					codes[code]++
				}
			}
			mu.Lock()
			r.lat = append(r.lat, lat...)
			r.ok, r.conflicts, r.errs = r.ok+okN, r.conflicts+confN, r.errs+errN
			for k, v := range codes {
				r.codes[k] += v
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	r.elapsed = time.Since(start)
	return r
}

// rate is successful requests per second.
func (r *result) rate() float64 { return float64(r.ok) / r.elapsed.Seconds() }

func ms(s float64) string { return fmt.Sprintf("%.1f ms", s*1000) }

func (r *result) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-22s %5d clients  %9.0f ok/s  ok %d  conflicts %d  errors %d  p50 %s  p99 %s  max %s  (%.1f s)",
		r.name, r.clients, r.rate(), r.ok, r.conflicts, r.errs,
		ms(metrics.NearestRank(r.lat, 0.5)), ms(metrics.NearestRank(r.lat, 0.99)), ms(metrics.NearestRank(r.lat, 1)), r.elapsed.Seconds())
	for _, k := range slices.Sorted(maps.Keys(r.codes)) {
		fmt.Fprintf(&b, "\n%24s %s × %d", "", k, r.codes[k])
	}
	return b.String()
}

// errorCode is the machine-readable code of an API error answer.
func errorCode(status int, body []byte) string {
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error.Code != "" {
		return e.Error.Code
	}
	return fmt.Sprintf("http_%d", status)
}

// paced sends requests at rate per second for d, each in its own goroutine
// (an open loop: a slow answer does not slow the arrivals), as kiosks and
// portal users do.
func paced(name string, rate int, d time.Duration, op func(i int) (outcome, string)) *result {
	r := &result{name: name, clients: rate, codes: map[string]int{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	n := int(d.Seconds() * float64(rate))
	for i := range n {
		time.Sleep(time.Until(start.Add(time.Duration(i) * time.Second / time.Duration(rate))))
		wg.Add(1)
		go func() {
			defer wg.Done()
			t0 := time.Now()
			o, code := op(i)
			lat := time.Since(t0).Seconds()
			mu.Lock()
			defer mu.Unlock()
			switch o {
			case ok:
				r.ok++
			case conflict:
				r.conflicts++
			case failed:
				r.errs++
				r.codes[code]++
			}
			if o != done {
				r.lat = append(r.lat, lat)
			}
		}()
	}
	wg.Wait()
	r.elapsed = time.Since(start)
	return r
}
