package main

import (
	"bytes"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/talon-mfc/talon/internal/windowcheck"
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

// booker books slot idx of p for client w: the booking's id when it is
// acknowledged, conflict when the slot is full.
type booker func(w int, p *pair, idx int) (id string, o outcome, code string)

// viaHTTP books through talon's API (client w uses target w mod len).
func viaHTTP(targets []*node) booker {
	return func(w int, p *pair, idx int) (string, outcome, string) {
		code, body, err := targets[w%len(targets)].do("POST", "/api/v1/bookings", bookingBody(p.office, p.service, p.starts[idx]))
		switch {
		case err != nil:
			return "", failed, "transport"
		case code == 201:
			return field(body, "id"), ok, ""
		case code == 409 && field(body, "code") == "slot_taken":
			return "", conflict, ""
		default:
			return "", failed, errorCode(code, body)
		}
	}
}

// storm books the slots of pairs with book until every slot is full or
// limit has passed. Each client books at most perClient times (0: no
// bound).
func storm(name string, book booker, pairs []*pair, clients, perClient int, limit time.Duration) (*result, []booked) {
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
			id, o, code := book(w, p, idx)
			switch o {
			case ok:
				acked[w] = append(acked[w], booked{id, p, idx})
			case conflict:
				p.next.CompareAndSwap(int32(idx), int32(idx+1))
			}
			return o, code
		}
		return done, ""
	})
	var all []booked
	for _, a := range acked {
		all = append(all, a...)
	}
	return r, all
}

// checkBookings proves the storm kept its promises on every node: the
// window time of each office on date holds exactly the acknowledged
// bookings (none lost, none invented), each on a window that takes its
// service's bookings, no window holding two visits at once; and every
// acknowledged booking reads back, linearizably, with its office and time.
func checkBookings(nodes []*node, r region, date string, acked []booked, out io.Writer) error {
	want := map[string]map[string]bool{} // office → acknowledged booking ids
	for _, b := range acked {
		if want[b.pair.office] == nil {
			want[b.pair.office] = map[string]bool{}
		}
		if want[b.pair.office][b.id] {
			return fmt.Errorf("booking %s acknowledged twice", b.id)
		}
		want[b.pair.office][b.id] = true
	}
	used := 0
	for _, nd := range nodes {
		used = 0
		for i := range r.Offices {
			office := r.office(i)
			var v struct {
				Visits []struct {
					Booking, Service, Start, End string
					Window                       int
				} `json:"visits"`
			}
			path := fmt.Sprintf("/api/v1/offices/%s/window-time?date=%s&consistency=linearizable", office, date)
			if err := nd.getJSON(path, &v); err != nil {
				return err
			}
			var visits []windowcheck.Visit
			for _, x := range v.Visits {
				start, _ := time.Parse(time.RFC3339, x.Start)
				end, _ := time.Parse(time.RFC3339, x.End)
				visits = append(visits, windowcheck.Visit{Booking: x.Booking, Service: x.Service, Window: x.Window, Start: start.Unix(), End: end.Unix()})
				if !want[office][x.Booking] {
					return fmt.Errorf("on %s %s holds booking %s, which was never acknowledged", nd.id, office, x.Booking)
				}
				used += int(end.Sub(start) / (15 * time.Minute))
			}
			if len(visits) != len(want[office]) {
				return fmt.Errorf("LOST ACKNOWLEDGEMENT: on %s %s holds %d bookings on %s, %d were acknowledged", nd.id, office, len(visits), date, len(want[office]))
			}
			oc := r.officeConfig(i)
			if err := windowcheck.Check(&oc, visits, nil); err != nil {
				return fmt.Errorf("on %s: %w", nd.id, err)
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
	fmt.Fprintf(out, "check: window time on all %d nodes holds exactly the %d acknowledged bookings, no window holds two visits at once, "+
		"each on a window that takes its service (%d of %d window-slots of %s booked); all read back\n",
		len(nodes), len(acked), used, r.Offices*r.Windows*24*4, date)
	return nil
}
