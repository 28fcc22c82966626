package queue_test

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/talon-mfc/talon/queue"
)

// Thirty days after the visit a Tick erases the applicant's name and phone
// from the booking, the notifications held and the snapshot; the visit's
// record and the day's statistics stay.
func TestPersonalDataErased(t *testing.T) {
	e := newEnv(t, "2026-11-23 10:00")
	e.do(&queue.Subscribe{Sub: queue.Subscription{ID: "sms", URL: "https://sms.example/hook", Secret: "secret-0123456789"}})
	kept := e.book("brn", "passport", "2026-11-24 10:00", "+79000000001", false).Booking
	later := e.book("brn", "passport", "2026-12-21 10:00", "+79000000002", false).Booking
	e.now = at("2026-11-24 09:50")
	e.do(&queue.Tick{})
	if r := e.do(&queue.CheckIn{Office: "brn", Booking: kept.ID, Start: kept.Start}); r.Err != nil {
		t.Fatal(r.Err)
	}
	saved := func() string {
		var buf bytes.Buffer
		if err := e.s.Save(&buf); err != nil {
			t.Fatal(err)
		}
		return buf.String()
	}
	if !strings.Contains(saved(), "+79000000001") {
		t.Fatal("the phone is not in the snapshot to begin with: the test proves nothing")
	}
	tickets := len(e.s.Tickets)

	e.now = at("2026-12-24 23:00") // 30 days after the visit's day: not yet
	e.do(&queue.Tick{})
	if b := e.s.Booking(kept.ID, e.now); b.Phone == "" {
		t.Fatal("erased a day early")
	}
	e.now = at("2026-12-25 07:00") // the 31st day after, in UTC
	if !e.s.Due(e.now) {
		t.Fatal("an erasure due should make a tick due")
	}
	e.do(&queue.Tick{})
	b := e.s.Booking(kept.ID, e.now)
	if b.Name != queue.Erased || b.Phone != "" || b.Number == "" || b.Status != queue.BookingCheckedIn {
		t.Fatalf("after the erasure: %+v", b)
	}
	if strings.Contains(saved(), "+79000000001") {
		t.Fatal("the snapshot still holds the erased phone")
	}
	for _, n := range e.s.Outbox["sms"] {
		if n.Booking == kept.ID && n.Phone != "" {
			t.Fatalf("a notification still holds the phone: %+v", n)
		}
	}
	if b := e.s.Booking(later.ID, e.now); b.Phone != "+79000000002" {
		t.Fatalf("a later visit lost its phone: %+v", b)
	}
	if len(e.s.Tickets) != tickets || e.s.Due(e.now) {
		t.Fatal("the erasure changed the records, or is due again")
	}
}

// TicketsIssued reads an office's tickets of a period by their issue time,
// the boundaries as stated, whatever else the state holds.
func TestTicketsIssued(t *testing.T) {
	e := newEnv(t, "2026-11-23 10:00")
	var at []int64
	for i := range 4 {
		e.now += 600
		at = append(at, e.now)
		e.do(&queue.Issue{Office: "brn", Service: []string{"passport", "consult"}[i%2]})
	}
	var got []string
	for tk := range e.s.Reader().TicketsIssued("brn", at[1], at[3]) {
		got = append(got, tk.Number)
	}
	if strings.Join(got, ",") != "К-001,П-002" {
		t.Fatalf("tickets issued in [%d, %d): %v", at[1], at[3], got)
	}
	if n := len(slices.Collect(e.s.Reader().TicketsIssued("bsk", 0, at[3]+1))); n != 0 {
		t.Fatalf("another office's: %d", n)
	}
}
