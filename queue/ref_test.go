package queue_test

import (
	"bytes"
	"testing"

	"github.com/talon-mfc/talon/queue"
	"github.com/talon-mfc/talon/scheduler"
)

// A booking is found by its reference; a reference is used once; bookings
// an earlier version made without one get one from the next Tick, the same
// on every replica, and keep it through a snapshot.
func TestBookingReferences(t *testing.T) {
	e := newEnv(t, "2026-11-23 10:00")
	ref := queue.EncodeRef([16]byte{1, 2, 3})
	b := e.do(&queue.Book{Office: "brn", Service: "passport", Start: at("2026-11-24 10:00"), Name: "Иванов", Phone: "+79000000001", Ref: ref}).Booking
	if got := e.s.BookingByRef(ref, e.now); got == nil || got.ID != b.ID || !queue.ValidRef(ref) {
		t.Fatalf("by reference: %+v", got)
	}
	wantCode(t, e.do(&queue.Book{Office: "brn", Service: "passport", Start: at("2026-11-24 11:00"), Name: "Петров", Phone: "+79000000002", Ref: ref}),
		queue.CodeInvalidRequest)
	if e.s.BookingByRef(queue.EncodeRef([16]byte{9}), e.now) != nil || queue.ValidRef("1") || queue.ValidRef(ref[:25]+"1") {
		t.Fatal("a reference nobody was given")
	}

	// An old-style booking, then the leader's Tick, on this state and on a
	// replica that applies the same.
	oldStyle := func(e *env) *queue.Booking {
		old := e.do(&queue.Book{Office: "brn", Service: "passport", Start: at("2026-11-24 12:00"), Name: "Сидоров", Phone: "79000000003"}).Booking
		if old.Ref != "" || !e.s.Due(e.now) {
			t.Fatal("a booking without a reference must make a tick due")
		}
		e.do(&queue.Tick{Seed: "sixteen random b"})
		return e.s.Booking(old.ID, e.now)
	}
	old := oldStyle(e)
	replica := newEnv(t, "2026-11-23 10:00")
	replica.do(&queue.Book{Office: "brn", Service: "passport", Start: at("2026-11-24 10:00"), Name: "Иванов", Phone: "+79000000001", Ref: ref})
	if r := oldStyle(replica); r.Ref != old.Ref {
		t.Fatalf("replicas disagree: %s, %s", r.Ref, old.Ref)
	}
	var buf bytes.Buffer
	if err := e.s.Save(&buf); err != nil {
		t.Fatal(err)
	}
	restored, err := queue.Load(&buf, scheduler.Default{})
	if err != nil {
		t.Fatal(err)
	}
	if !queue.ValidRef(old.Ref) || e.s.Due(e.now) || restored.BookingByRef(old.Ref, e.now) == nil || restored.Due(e.now) {
		t.Fatalf("after the tick: %+v", old)
	}
}
