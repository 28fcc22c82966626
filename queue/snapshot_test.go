package queue_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/talon-mfc/talon/queue"
	"github.com/talon-mfc/talon/scheduler"
)

// BenchmarkSnapshot saves and loads a state of 100k bookings and 100k tickets
// (36 slots of 3000 seats: an artificial shape that keeps the setup short).
func BenchmarkSnapshot(b *testing.B) {
	e := newEnv(&testing.T{}, "2026-11-23 09:00")
	r := testRegion()
	r.Offices[0].Seats = map[string]int{"passport": 3000}
	e.do(&queue.SetRegion{Region: r})
	for i := range 100_000 {
		e.do(&queue.Book{Office: "brn", Service: "passport", Start: at("2026-11-24 09:00") + int64(i%36)*900, Name: "Заявитель Тестовый", Phone: fmt.Sprintf("79%09d", i)})
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
