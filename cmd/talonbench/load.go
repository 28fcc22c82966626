package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/talon-mfc/talon/metrics/report"
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
			part := &result{codes: map[string]int{}} // this client's, merged at the end
			for i := 0; limit == 0 || time.Since(start) < limit; i++ {
				t0 := time.Now()
				o, code := op(w, i)
				if o == done {
					break
				}
				part.add(o, code, time.Since(t0))
			}
			mu.Lock()
			r.merge(part)
			mu.Unlock()
		}()
	}
	wg.Wait()
	r.elapsed = time.Since(start)
	return r
}

// add counts one request's outcome and latency.
func (r *result) add(o outcome, code string, lat time.Duration) {
	switch o {
	case ok:
		r.ok++
	case conflict:
		r.conflicts++
	case failed:
		r.errs++
		r.codes[code]++
	case done:
		return
	}
	r.lat = append(r.lat, lat.Seconds())
}

func (r *result) merge(p *result) {
	r.ok, r.conflicts, r.errs, r.lat = r.ok+p.ok, r.conflicts+p.conflicts, r.errs+p.errs, append(r.lat, p.lat...)
	for k, v := range p.codes {
		r.codes[k] += v
	}
}

// p is the q-quantile of the latencies, in seconds.
func (r *result) p(q float64) float64 { return report.NearestRank(r.lat, q) }

// rate is successful requests per second.
func (r *result) rate() float64 { return float64(r.ok) / r.elapsed.Seconds() }

func ms(s float64) string { return fmt.Sprintf("%.1f ms", s*1000) }

func (r *result) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-22s %5d clients  %9.0f ok/s  ok %d  conflicts %d  errors %d  p50 %s  p99 %s  max %s  (%.1f s)",
		r.name, r.clients, r.rate(), r.ok, r.conflicts, r.errs,
		ms(report.NearestRank(r.lat, 0.5)), ms(report.NearestRank(r.lat, 0.99)), ms(report.NearestRank(r.lat, 1)), r.elapsed.Seconds())
	for _, k := range slices.Sorted(maps.Keys(r.codes)) {
		fmt.Fprintf(&b, "\n%24s %s × %d", "", k, r.codes[k])
	}
	return b.String()
}

// each runs fn(w, i) for i = 0 … n-1 in workers goroutines (w is the
// worker's number); a worker stops at its first error, and each returns
// one of the errors.
func each(n, workers int, fn func(w, i int) error) error {
	var next atomic.Int64
	var mu sync.Mutex
	var first error
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				if err := fn(w, i); err != nil {
					mu.Lock()
					first = err
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
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
			lat := time.Since(t0)
			mu.Lock()
			r.add(o, code, lat)
			mu.Unlock()
		}()
	}
	wg.Wait()
	r.elapsed = time.Since(start)
	return r
}
