package queue_test

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/talon-mfc/talon/queue"
)

// checkInvariants asserts what must hold after any sequence of commands.
func checkInvariants(t *testing.T, s *queue.State) {
	t.Helper()
	checkWindowTime(t, s, nil)
	active := map[string]int{}
	for _, b := range s.Bookings {
		holds := b.Status == queue.BookingConfirmed || b.Status == queue.BookingCheckedIn || b.Status == queue.BookingHeld && b.HoldUntil > s.Now
		if !holds {
			continue
		}
		if b.Status != queue.BookingCheckedIn {
			if active[b.Phone+b.Service]++; active[b.Phone+b.Service] > s.Rules().ActivePerService {
				t.Fatalf("applicant %s holds more than %d bookings for %s", b.Phone, s.Rules().ActivePerService, b.Service)
			}
		}
		if b.Reschedules > s.Rules().MaxReschedules {
			t.Fatalf("booking %d rescheduled %d times", b.ID, b.Reschedules)
		}
	}
	// Walk-in numbers per office, day and letter are exactly 1..N.
	numbers := map[string][]int{}
	for _, tk := range s.Tickets {
		if tk.Booking != 0 || tk.RedirectedFrom != 0 {
			continue
		}
		letter, n, _ := strings.Cut(tk.Number, "-")
		v, _ := strconv.Atoi(n)
		k := tk.Office + tk.Day + letter
		numbers[k] = append(numbers[k], v)
	}
	for k, ns := range numbers {
		seen := make([]bool, len(ns)+1)
		for _, n := range ns {
			if n < 1 || n > len(ns) || seen[n] {
				t.Fatalf("ticket numbers of %s are not 1..%d without repeats: %v", k, len(ns), ns)
			}
			seen[n] = true
		}
	}
	for id, o := range s.Offices {
		for _, tk := range o.Waiting {
			if tk.Status != queue.TicketWaiting || s.Tickets[tk.ID] != tk {
				t.Fatalf("office %s: ticket %s in the waiting line is %s", id, tk.Number, tk.Status)
			}
		}
		for _, w := range o.Windows {
			if tk := s.Tickets[w.Current]; w.Current != 0 && (tk == nil || tk.Status != queue.TicketCalled && tk.Status != queue.TicketServing || tk.Window != w.Number) {
				t.Fatalf("office %s window %d: current ticket %v", id, w.Number, tk)
			}
		}
	}
}

// randomCommand makes a command from random numbers: valid and invalid
// offices, services, times, bookings, windows and actions alike.
func randomCommand(r *rand.Rand, e *env) queue.Command {
	offices := []string{"brn", "brn", "brn", "bsk", "nope"}
	services := []string{"passport", "passport", "snils", "consult", "x"}
	office, service := offices[r.IntN(len(offices))], services[r.IntN(len(services))]
	start := e.now/900*900 + int64(r.IntN(4*24*3)-8)*900 + int64(r.IntN(30)/29)*int64(r.IntN(40*24*4))*900 + int64(r.IntN(20)/19)*60
	booking := uint64(r.IntN(int(e.s.NextBookingID) + 3))
	category := ""
	if r.IntN(10) == 0 {
		category = "disabled"
	}
	switch r.IntN(10) {
	case 0, 1:
		return &queue.Book{Office: office, Service: service, Start: start, Hold: r.IntN(2) == 0,
			Name: "Заявитель", Phone: fmt.Sprintf("7913000%04d", r.IntN(60))}
	case 2:
		return &queue.Confirm{Booking: booking}
	case 3:
		return &queue.Reschedule{Booking: booking, Start: start}
	case 4:
		return &queue.Cancel{Booking: booking}
	case 5:
		return &queue.Issue{Office: office, Service: service, Category: category}
	case 6:
		c := &queue.CheckIn{Office: office, Booking: booking, Start: start}
		for _, b := range e.s.Bookings { // prefer a booking whose check-in window is open
			if b.Start-1800 <= e.now && e.now <= b.Start+900 && r.IntN(4) > 0 {
				c.Booking, c.Office, c.Start = b.ID, b.Office, b.Start
				break
			}
		}
		return c
	case 7, 8:
		return &queue.WindowAction{Office: office, Service: service, Window: r.IntN(5), Action: queue.Action(r.IntN(11))}
	}
	return &queue.Tick{}
}

// step moves time on: mostly seconds to minutes, now and then six hours.
func step(r *rand.Rand) int64 {
	if r.IntN(60) == 0 {
		return 6 * 3600
	}
	return int64(r.IntN(300))
}

// TestRandomCommandsKeepInvariants applies long random sequences of commands,
// with time moving on by seconds, minutes and now and then hours, and checks after each
// that no seat is double booked, no applicant exceeds the limit, walk-in
// numbers have no gap or repeat, and the live queue is consistent.
func TestRandomCommandsKeepInvariants(t *testing.T) {
	for seed := range uint64(8) {
		r := rand.New(rand.NewPCG(seed, 1))
		e := newEnv(t, "2026-11-23 08:50")
		for range 3000 {
			e.now += step(r)
			e.do(randomCommand(r, e))
			checkInvariants(t, e.s)
		}
	}
}

func FuzzCommands(f *testing.F) {
	f.Add(uint64(1), uint16(200))
	f.Fuzz(func(t *testing.T, seed uint64, n uint16) {
		r := rand.New(rand.NewPCG(seed, 2))
		e := newEnv(t, "2026-11-23 08:50")
		for range int(n) % 2000 {
			e.now += step(r)
			e.do(randomCommand(r, e))
		}
		checkInvariants(t, e.s)
	})
}
