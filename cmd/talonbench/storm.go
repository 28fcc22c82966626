package main

import (
	"bytes"
	"fmt"
	"io"
	"sync/atomic"
	"time"
)

// pair is one office and service on one day: its slots in order and the
// earliest one not yet known to be full. Clients, like portal users, book
// the earliest free slot and move on when it is taken.
type pair struct {
	office, service string
	starts          []string
	next            atomic.Int32
}

// booked is an acknowledged booking.
type booked struct {
	id   string
	pair *pair
	slot int
}

// slotsOf lists the slots of every office and service of the region on
// date, as node nd sees them.
func slotsOf(nd *node, r region, date string, only int) ([]*pair, error) {
	var out []*pair
	for i := range r.Offices {
		for _, sv := range services {
			var v struct {
				Slots []struct {
					Start string `json:"start"`
				} `json:"slots"`
			}
			if err := nd.getJSON(fmt.Sprintf("/api/v1/offices/%s/slots?service=%s&date=%s", r.office(i), sv, date), &v); err != nil {
				return nil, err
			}
			p := &pair{office: r.office(i), service: sv}
			for _, s := range v.Slots {
				p.starts = append(p.starts, s.Start)
			}
			if only > 0 {
				p.starts = p.starts[:min(only, len(p.starts))]
			}
			out = append(out, p)
			if only > 0 {
				return out, nil // the popular phase: the first office's first service
			}
		}
	}
	return out, nil
}

// field is the first string field name of a JSON answer: cheaper than
// decoding it, when the clients share the machine with the nodes.
func field(body []byte, name string) string {
	_, rest, _ := bytes.Cut(body, []byte(`"`+name+`":"`))
	v, _, _ := bytes.Cut(rest, []byte(`"`))
	return string(v)
}

var phones atomic.Int64

// bookingBody is a booking request with a phone never used before (the
// rules allow one active booking per applicant and service).
func bookingBody(office, service, start string) []byte {
	return fmt.Appendf(nil, `{"office":%q,"service":%q,"start":%q,"applicant":{"name":"Нагрузочный Тест","phone":"+79%09d"}}`,
		office, service, start, phones.Add(1))
}

// storm books the slots of pairs through targets (client w uses target w
// mod len) until every slot is full or limit has passed. Each client books
// at most perClient times (0: no bound).
func storm(name string, targets []*node, pairs []*pair, clients, perClient int, limit time.Duration) (*result, []booked) {
	acked := make([][]booked, clients)
	r := drive(name, clients, limit, func(w, i int) (outcome, string) {
		if perClient > 0 && len(acked[w]) >= perClient {
			return done, ""
		}
		for k := range pairs {
			p := pairs[(w*7+i+k)%len(pairs)]
			idx := int(p.next.Load())
			if idx >= len(p.starts) {
				continue
			}
			code, body, err := targets[w%len(targets)].do("POST", "/api/v1/bookings", bookingBody(p.office, p.service, p.starts[idx]))
			switch {
			case err != nil:
				return failed, "transport"
			case code == 201:
				acked[w] = append(acked[w], booked{field(body, "id"), p, idx})
				return ok, ""
			case code == 409 && field(body, "code") == "slot_taken":
				p.next.CompareAndSwap(int32(idx), int32(idx+1))
				return conflict, ""
			default:
				return failed, errorCode(code, body)
			}
		}
		return done, ""
	})
	var all []booked
	for _, a := range acked {
		all = append(all, a...)
	}
	return r, all
}

// checkBookings proves the storm kept its promises on every node: no slot
// holds more applicants than seats, each slot holds exactly the bookings
// acknowledged for it (none lost, none invented), and every acknowledged
// booking reads back, linearizably, with its office and time.
func checkBookings(nodes []*node, pairs []*pair, date string, seats int, acked []booked, out io.Writer) error {
	perSlot := map[*pair][]int{}
	for _, p := range pairs {
		perSlot[p] = make([]int, len(p.starts))
	}
	for _, b := range acked {
		perSlot[b.pair][b.slot]++
	}
	for _, nd := range nodes {
		for _, p := range pairs {
			var v struct {
				Slots []struct {
					Start string `json:"start"`
					Free  int    `json:"free"`
				} `json:"slots"`
			}
			path := fmt.Sprintf("/api/v1/offices/%s/slots?service=%s&date=%s&consistency=linearizable", p.office, p.service, date)
			if err := nd.getJSON(path, &v); err != nil {
				return err
			}
			free := map[string]int{}
			for _, s := range v.Slots {
				free[s.Start] = s.Free
			}
			for i, start := range p.starts {
				taken := seats - free[start]
				if taken > seats {
					return fmt.Errorf("DOUBLE BOOKING on %s: %s %s %s holds %d applicants for %d seats", nd.id, p.office, p.service, start, taken, seats)
				}
				if taken != perSlot[p][i] {
					return fmt.Errorf("on %s %s %s %s holds %d bookings, %d were acknowledged", nd.id, p.office, p.service, start, taken, perSlot[p][i])
				}
			}
		}
	}
	err := each(len(acked), 32, func(w, i int) error {
		b := acked[i]
		var v struct {
			Office, Start, Status string
		}
		err := nodes[w%len(nodes)].getJSON("/api/v1/bookings/"+b.id, &v)
		if err == nil && (v.Office != b.pair.office || v.Start != b.pair.starts[b.slot] || v.Status != "confirmed") {
			err = fmt.Errorf("booking %s reads back as %+v", b.id, v)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("LOST ACKNOWLEDGEMENT: %w", err)
	}
	fmt.Fprintf(out, "check: no slot over its %d seats, each slot holds exactly its acknowledged bookings on all %d nodes, all %d acknowledged bookings read back\n",
		seats, len(nodes), len(acked))
	return nil
}
