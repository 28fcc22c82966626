package queue_test

import (
	"bytes"
	"fmt"
	"os"
	"reflect"
	"slices"
	"testing"

	"github.com/talon-mfc/talon/queue"
	"github.com/talon-mfc/talon/scheduler"
)

// BenchmarkSnapshot saves and loads a state of 100k bookings and 100k
// tickets: an office of 50 windows open around the clock, booked full with
// visits of one slot for 21 days.
func BenchmarkSnapshot(b *testing.B) {
	e := newEnv(&testing.T{}, "2026-11-23 09:00")
	r := testRegion()
	r.Offices[0].Hours = map[string]string{"mon": "00:00-24:00", "tue": "00:00-24:00", "wed": "00:00-24:00", "thu": "00:00-24:00",
		"fri": "00:00-24:00", "sat": "00:00-24:00", "sun": "00:00-24:00"}
	r.Offices[0].Holidays = nil
	r.Offices[0].Windows = nil
	for w := 1; w <= 50; w++ {
		r.Offices[0].Windows = append(r.Offices[0].Windows, queue.WindowConfig{Number: w, Services: []string{"snils"}, Bookings: true})
	}
	e.do(&queue.SetRegion{Region: r})
	for i := range 100_000 {
		start := at("2026-11-24 00:00") + int64(i/50)*900
		if r := e.do(&queue.Book{Office: "brn", Service: "snils", Start: start, Name: "Заявитель Тестовый", Phone: fmt.Sprintf("79%09d", i)}); r.Err != nil {
			b.Fatal(r.Err)
		}
		e.do(&queue.Issue{Office: "brn", Service: "passport"})
	}
	if len(e.s.Bookings) != 100_000 || len(e.s.Tickets) != 100_000 {
		b.Fatalf("%d bookings, %d tickets", len(e.s.Bookings), len(e.s.Tickets))
	}
	var buf bytes.Buffer
	b.ResetTimer()
	for b.Loop() {
		buf.Reset()
		if err := e.s.Save(&buf); err != nil {
			b.Fatal(err)
		}
		if _, err := queue.Load(bytes.NewReader(buf.Bytes()), scheduler.Default{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(buf.Len())/1e6, "MB")
}

// TestFirstVersionSnapshot loads a snapshot the first version wrote (seats
// counted per service, no window time): brn's three windows held three
// passport visits at 10:00, one snils visit at 10:00, three passport
// visits at 10:15 and one at 11:00. Loading finds window time for the
// bookings in booking order; the ones that do not fit are kept, live and
// listed, never dropped.
func TestFirstVersionSnapshot(t *testing.T) {
	raw, err := os.ReadFile("testdata/v1.snapshot")
	if err != nil {
		t.Fatal(err)
	}
	s, err := queue.Load(bytes.NewReader(raw), scheduler.Default{})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Bookings) != 8 {
		t.Fatalf("%d bookings, want all 8", len(s.Bookings))
	}
	var unplaced []uint64
	for _, b := range s.Reader().Unplaced() {
		unplaced = append(unplaced, b.ID)
	}
	// Booking order: 1–3 (passport 10:00) take the three windows until
	// 10:30; 4 (snils 10:00) and 5–7 (passport 10:15) find none; 8
	// (passport 11:00) does.
	if !slices.Equal(unplaced, []uint64{4, 5, 6, 7}) {
		t.Fatalf("unplaced %v", unplaced)
	}
	for _, b := range s.Bookings {
		if b.Status != queue.BookingConfirmed || b.Slots == 0 {
			t.Fatalf("booking %d: %s, %d slots", b.ID, b.Status, b.Slots)
		}
	}
	checkWindowTime(t, s, map[uint64]bool{4: true, 5: true, 6: true, 7: true})
	// An unplaced booking moves for free; a cancellation makes room.
	e := &env{t: t, s: s, now: s.Now, index: s.Index}
	if r := e.do(&queue.Cancel{Booking: 1}); r.Err != nil {
		t.Fatal(r.Err)
	}
	r := e.do(&queue.Reschedule{Booking: 4, Start: s.Bookings[4].Start + 1800})
	if r.Err != nil || r.Booking.Reschedules != 0 || r.Booking.Seat == 0 {
		t.Fatalf("the free move: %+v", r)
	}
}

// BenchmarkHundredDays runs an office for 100 (and 200) days: 1,000
// walk-in tickets and 500 booked visits a day, a Tick each night. It saves
// and loads the state it ends with, with the archive (finished records leave
// the live state 90 days after their day) and without it (kept for ever, as
// before). The figure per operation is a restart's load; MB is the snapshot.
func BenchmarkHundredDays(b *testing.B) {
	for _, c := range []struct {
		name       string
		keep, days int
	}{{"100d/archive-90d", 90, 100}, {"100d/keep-all", 100_000, 100}, {"200d/archive-90d", 90, 200}, {"200d/keep-all", 100_000, 200}} {
		b.Run(c.name, func(b *testing.B) {
			e := newEnv(&testing.T{}, "2026-01-05 08:00")
			r := testRegion()
			r.Rules.ArchiveDays = c.keep
			r.Offices[0].Hours = map[string]string{"mon": "08:00-20:00", "tue": "08:00-20:00", "wed": "08:00-20:00", "thu": "08:00-20:00",
				"fri": "08:00-20:00", "sat": "08:00-20:00", "sun": "08:00-20:00"}
			r.Offices[0].Holidays, r.Offices[0].Windows = nil, nil
			for w := 1; w <= 50; w++ {
				r.Offices[0].Windows = append(r.Offices[0].Windows, queue.WindowConfig{Number: w, Services: []string{"snils"}, Bookings: true})
			}
			e.do(&queue.SetRegion{Region: r})
			archived, phone := 0, 0
			for d := range c.days {
				morning := at("2026-01-05 08:00") + int64(d)*86400
				e.now = morning
				if res := e.do(&queue.Tick{}); res.Archive != nil {
					archived += len(res.Archive.Tickets) + len(res.Archive.Bookings)
				}
				for i := range 1000 {
					e.now = morning + int64(i)*40
					e.do(&queue.Issue{Office: "brn", Service: "passport"})
				}
				for i := range 500 {
					phone++
					start := morning + 86400 + int64(i/50)*900
					ref := queue.EncodeRef([16]byte{byte(phone), byte(phone >> 8), byte(phone >> 16), 'h'})
					if res := e.do(&queue.Book{Office: "brn", Service: "snils", Start: start, Name: "Заявитель Тестовый",
						Phone: fmt.Sprintf("+79%09d", phone), Ref: ref}); res.Err != nil {
						b.Fatal(res.Err)
					}
				}
			}
			var buf bytes.Buffer
			if err := e.s.Save(&buf); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, err := queue.Load(bytes.NewReader(buf.Bytes()), scheduler.Default{}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(buf.Len())/1e6, "MB")
			b.ReportMetric(float64(len(e.s.Tickets)+len(e.s.Bookings)), "live-records")
			b.ReportMetric(float64(archived), "archived-records")
		})
	}
}

// TestSnapshotRoundTrip: every booking and ticket reads back from a
// snapshot as it was, its strings (packed and interned on load) included.
// reloaded is the env's state saved as a snapshot and loaded back.
func (e *env) reloaded() *queue.State {
	e.t.Helper()
	var buf bytes.Buffer
	if err := e.s.Save(&buf); err != nil {
		e.t.Fatal(err)
	}
	l, err := queue.Load(&buf, scheduler.Default{})
	if err != nil {
		e.t.Fatal(err)
	}
	return l
}

func TestSnapshotRoundTrip(t *testing.T) {
	e := newEnv(t, "2026-11-23 10:00")
	e.win(1, queue.ActOpen)
	for i := range 5 {
		e.book("brn", "passport", fmt.Sprintf("2026-11-24 %d:00", 10+i), fmt.Sprintf("7900000000%d", i), i%2 == 0)
		e.issue("passport", "")
	}
	e.win(1, queue.ActCallNext)
	if l := e.reloaded(); !reflect.DeepEqual(l.Bookings, e.s.Bookings) || !reflect.DeepEqual(l.Tickets, e.s.Tickets) {
		t.Fatalf("after a snapshot:\n%+v\n%+v\nwant\n%+v\n%+v", l.Bookings, l.Tickets, e.s.Bookings, e.s.Tickets)
	}
}
