package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// kiosk: the region's kiosks issue walk-in tickets and check booked
// applicants in by their QR codes, at a steady rate through every node;
// afterwards every node's queues must hold every acknowledged ticket once,
// numbered without a gap.
func (b *bench) kiosk() error {
	nodes, err := b.cluster()
	if err != nil {
		return err
	}
	defer stopAll(nodes)
	qrs, err := b.soonBookings(nodes)
	if err != nil {
		return err
	}
	fmt.Fprintf(b.out, "booked %d applicants whose check-in window is open\n", len(qrs))

	var mu sync.Mutex
	issued := map[string][]string{} // office → acknowledged walk-in numbers
	for i := range b.region.Offices {
		issued[b.region.office(i)] = nil
	}
	checked := 0
	take := func(code int, body []byte, office string, walkIn bool) (outcome, string) {
		if code != 200 && code != 201 {
			return failed, errorCode(code, body)
		}
		var t struct{ Number string }
		json.Unmarshal(body, &t)
		mu.Lock()
		defer mu.Unlock()
		if walkIn {
			issued[office] = append(issued[office], t.Number)
		} else {
			checked++
		}
		return ok, ""
	}
	cpu := meterCPU(nodes)
	wait := profile(b.profile, "kiosk", nodes, 5)
	r := paced("tickets and check-ins", b.rate, b.run, func(i int) (outcome, string) {
		nd := nodes[i%len(nodes)]
		if i%2 == 1 && i/2 < len(qrs) {
			q := qrs[i/2]
			code, body, err := nd.do("POST", "/api/v1/offices/"+q.office+"/checkin", fmt.Appendf(nil, `{"qr":%q}`, q.qr))
			if err != nil {
				return failed, "transport"
			}
			return take(code, body, q.office, false)
		}
		office := b.region.office(i / 2 % b.region.Offices)
		code, body, err := nd.do("POST", "/api/v1/offices/"+office+"/tickets", []byte(`{"service":"`+walkIn+`"}`))
		if err != nil {
			return failed, "transport"
		}
		return take(code, body, office, true)
	})
	fmt.Fprintln(b.out, r)
	fmt.Fprintln(b.out, cpu)

	wait()
	return checkTickets(nodes, issued, checked, b.out)
}

type talon struct{ office, qr string }

// soonBookings books every seat of the slots whose check-in is open now
// (starting within the next 25 minutes) and returns their QR codes.
func (b *bench) soonBookings(nodes []*node) ([]talon, error) {
	var pairs []*pair
	limit := time.Now().Add(25 * time.Minute)
	for _, d := range []int{0, 1} {
		ps, err := slotsOf(nodes[0], b.region, day(d), 0)
		if err != nil {
			return nil, err
		}
		for _, p := range ps {
			n := 0
			for n < len(p.starts) {
				if t, _ := time.Parse(time.RFC3339, p.starts[n]); t.After(limit) {
					break
				}
				n++
			}
			if p.starts = p.starts[:n]; n > 0 {
				pairs = append(pairs, p)
			}
		}
	}
	_, acked := storm("book for check-in", viaHTTP(nodes), pairs, 64, 0, b.limit)
	var out []talon
	for _, a := range acked {
		var v struct{ QR string }
		if err := nodes[0].getJSON("/api/v1/bookings/"+a.id, &v); err != nil {
			return nil, err
		}
		out = append(out, talon{a.pair.office, v.QR})
	}
	return out, nil
}

// checkTickets: every node's queue of every office holds each acknowledged
// walk-in ticket exactly once, numbered Г-001 … Г-N without a gap or a
// repeat, and as many checked-in applicants as were acknowledged.
func checkTickets(nodes []*node, issued map[string][]string, checked int, out io.Writer) error {
	total := 0
	for _, nd := range nodes {
		waitingBooked := 0
		for office, acked := range issued {
			var q struct {
				Waiting []struct{ Number string }
			}
			if err := nd.getJSON("/api/v1/offices/"+office+"/queue?consistency=linearizable", &q); err != nil {
				return err
			}
			seen := map[string]int{}
			for _, t := range q.Waiting {
				if strings.HasPrefix(t.Number, "Г-") {
					seen[t.Number]++
				} else {
					waitingBooked++
				}
			}
			for i := 1; i <= len(acked); i++ {
				if n := fmt.Sprintf("Г-%03d", i); seen[n] != 1 {
					return fmt.Errorf("on %s office %s holds ticket %s %d times (%d acknowledged)", nd.id, office, n, seen[n], len(acked))
				}
			}
			for _, n := range acked {
				if seen[n] != 1 {
					return fmt.Errorf("LOST ACKNOWLEDGEMENT: ticket %s of %s is not on %s", n, office, nd.id)
				}
			}
			if len(seen) != len(acked) {
				return fmt.Errorf("on %s office %s holds %d walk-in tickets, %d were acknowledged", nd.id, office, len(seen), len(acked))
			}
			total += len(acked)
		}
		if waitingBooked != checked {
			return fmt.Errorf("on %s %d checked-in applicants wait, %d check-ins were acknowledged", nd.id, waitingBooked, checked)
		}
	}
	fmt.Fprintf(out, "check: all %d acknowledged tickets on all %d nodes, numbered without a gap or a repeat; %d checked-in applicants wait\n",
		total/len(nodes), len(nodes), checked)
	return nil
}
