package queue_test

import (
	"bytes"
	"fmt"
	"os"
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
