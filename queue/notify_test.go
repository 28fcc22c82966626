package queue_test

import (
	"bytes"
	"testing"

	"github.com/talon-mfc/talon/queue"
	"github.com/talon-mfc/talon/scheduler"
)

func subscribe(e *env, sub queue.Subscription) {
	e.t.Helper()
	if sub.Secret == "" {
		sub.Secret = "0123456789abcdef"
	}
	wantCode(e.t, e.do(&queue.Subscribe{Sub: sub}), "")
}

func kinds(ns []queue.Notification) []string {
	var out []string
	for _, n := range ns {
		out = append(out, n.Kind)
	}
	return out
}

func TestSubscriptionsAreValidated(t *testing.T) {
	e := newEnv(t, "2026-11-23 10:00")
	for _, sub := range []queue.Subscription{
		{ID: "", URL: "https://x.example/", Secret: "0123456789abcdef"},
		{ID: "Bad ID", URL: "https://x.example/", Secret: "0123456789abcdef"},
		{ID: "sms", URL: "ftp://x.example/", Secret: "0123456789abcdef"},
		{ID: "sms", URL: "https://x.example/", Secret: "short"},
		{ID: "sms", URL: "https://x.example/", Secret: "0123456789abcdef", Kinds: []string{"everything"}},
		{ID: "sms", URL: "https://x.example/", Secret: "0123456789abcdef", Offices: []string{"nowhere"}},
	} {
		before := dump(t, e.s)
		if r := e.do(&queue.Subscribe{Sub: sub}); r.Err == nil {
			t.Errorf("%+v was accepted", sub)
		}
		if dump(t, e.s) != before || len(e.s.Subs) != 0 {
			t.Fatal("a refused subscription changed the state")
		}
	}
	wantCode(t, e.do(&queue.Unsubscribe{ID: "nope"}), queue.CodeNotFound)
	wantCode(t, e.do(&queue.Delivered{Sub: "nope", Seq: 1}), queue.CodeNotFound)
}

// TestNotificationsFlow: the events a gateway wants become notifications in
// event order, filtered by kind and office; delivery trims the outbox, a
// give-up moves the head to the dead letters, and a replay brings them back.
func TestNotificationsFlow(t *testing.T) {
	e := newEnv(t, "2026-11-23 10:00")
	subscribe(e, queue.Subscription{ID: "sms", URL: "https://sms.example/hook", Kinds: []string{queue.NBookingConfirmed, queue.NCalled, queue.NBookingCancelled}})
	subscribe(e, queue.Subscription{ID: "bsk-only", URL: "https://portal.example/hook", Offices: []string{"bsk"}})
	b := e.book("brn", "passport", "2026-11-23 10:30", "+7 900 000-00-01", false).Booking
	e.now = at("2026-11-23 10:05")
	wantCode(t, e.checkIn(b), "")
	e.win(1, queue.ActOpen)
	e.win(1, queue.ActCallNext)
	e.book("brn", "passport", "2026-11-24 11:00", "79000000002", true) // held: not confirmed yet
	c := e.book("brn", "passport", "2026-11-24 12:00", "79000000003", false).Booking
	e.do(&queue.Cancel{Booking: c.ID})

	box := e.s.Outbox["sms"]
	if got := kinds(box); len(got) != 4 || got[0] != queue.NBookingConfirmed || got[1] != queue.NCalled || got[2] != queue.NBookingConfirmed || got[3] != queue.NBookingCancelled {
		t.Fatalf("sms outbox: %v", got)
	}
	for i := 1; i < len(box); i++ {
		if box[i].Seq <= box[i-1].Seq {
			t.Fatal("notifications out of event order")
		}
	}
	if n := box[1]; n.Phone != "+79000000001" || n.BookingNumber == "" || n.Ticket == "" || n.Window != 1 {
		t.Fatalf("the call of a booked applicant: %+v", n)
	}
	if len(e.s.Outbox["bsk-only"]) != 0 {
		t.Fatalf("an office filter let through %v", kinds(e.s.Outbox["bsk-only"]))
	}

	// Delivered up to the second: two left. The head gives up: dead letter.
	wantCode(t, e.do(&queue.Delivered{Sub: "sms", Seq: box[1].Seq}), "")
	wantCode(t, e.do(&queue.Delivered{Sub: "sms", Seq: box[2].Seq, Dead: true}), "")
	if len(e.s.Outbox["sms"]) != 1 || len(e.s.Dead["sms"]) != 1 || e.s.Dead["sms"][0].Seq != box[2].Seq {
		t.Fatalf("outbox %v, dead %v", kinds(e.s.Outbox["sms"]), kinds(e.s.Dead["sms"]))
	}
	// A stale acknowledgement (an older Seq) changes nothing.
	wantCode(t, e.do(&queue.Delivered{Sub: "sms", Seq: box[0].Seq}), "")
	if len(e.s.Outbox["sms"]) != 1 {
		t.Fatal("a stale acknowledgement dropped a notification")
	}
	wantCode(t, e.do(&queue.Replay{Sub: "sms"}), "")
	if got := e.s.Outbox["sms"]; len(got) != 2 || got[0].Seq != box[2].Seq || got[1].Seq != box[3].Seq || len(e.s.Dead["sms"]) != 0 {
		t.Fatalf("after replay: %v", kinds(got))
	}

	// The outbox, dead letters and subscriptions survive a snapshot.
	var buf bytes.Buffer
	e.s.Save(&buf)
	l, err := queue.Load(&buf, scheduler.Default{})
	if err != nil || len(l.Outbox["sms"]) != 2 || l.Subs["sms"] == nil {
		t.Fatalf("after a snapshot: %v %+v", err, l.Outbox)
	}
	wantCode(t, e.do(&queue.Unsubscribe{ID: "sms"}), "")
	if e.s.Outbox["sms"] != nil || e.s.Subs["sms"] != nil {
		t.Fatal("unsubscribe left the outbox")
	}
}

// TestReminderOnceTheDayBefore: at the region's reminder time (18:00 in the
// office's time zone, Asia/Barnaul) each confirmed booking of tomorrow gets
// one reminder, not before, not twice, and not again after a restart; one
// moved within the day (filed under it twice) once, one moved to another
// day not.
func TestReminderOnceTheDayBefore(t *testing.T) {
	e := newEnv(t, "2026-11-23 10:00")
	subscribe(e, queue.Subscription{ID: "sms", URL: "https://sms.example/hook", Kinds: []string{queue.NReminder}})
	e.book("brn", "passport", "2026-11-24 10:00", "79000000001", false)
	e.book("brn", "passport", "2026-11-24 11:00", "79000000002", false)
	e.book("brn", "passport", "2026-11-25 10:00", "79000000003", false) // the day after: not yet
	e.book("brn", "passport", "2026-11-24 12:00", "79000000004", true)  // held, not confirmed
	moved := e.book("brn", "snils", "2026-11-24 14:00", "79000000006", false).Booking.ID
	wantCode(t, e.do(&queue.Reschedule{Booking: moved, Start: at("2026-11-24 15:00")}), "")
	away := e.book("brn", "passport", "2026-11-24 16:00", "79000000007", false).Booking.ID
	wantCode(t, e.do(&queue.Reschedule{Booking: away, Start: at("2026-11-26 10:00")}), "")
	tick := func(when string) int {
		e.now = at(when)
		if e.s.Due(e.now) {
			e.do(&queue.Tick{})
		}
		return len(e.s.Outbox["sms"])
	}
	if n := tick("2026-11-23 17:59"); n != 0 {
		t.Fatalf("%d reminders before 18:00", n)
	}
	if n := tick("2026-11-23 18:00"); n != 3 {
		t.Fatalf("%d reminders at 18:00, want 3", n)
	}
	if e.s.Due(at("2026-11-23 18:30")) {
		t.Fatal("a tick is still due after the reminders went out")
	}
	var buf bytes.Buffer
	e.s.Save(&buf)
	restored, err := queue.Load(&buf, scheduler.Default{})
	if err != nil {
		t.Fatal(err)
	}
	e.s = restored
	if n := tick("2026-11-23 21:00"); n != 3 {
		t.Fatalf("%d reminders after a restart, want still 3", n)
	}
	if n := tick("2026-11-24 18:00"); n != 4 {
		t.Fatalf("%d reminders the next evening, want 4", n)
	}
	for _, n := range e.s.Outbox["sms"] {
		if n.Phone == "" || n.Start == 0 || n.Office != "brn" {
			t.Fatalf("a reminder lacks what the SMS needs: %+v", n)
		}
	}
}

func TestTurnNearAndLoadDropped(t *testing.T) {
	e := newEnv(t, "2026-11-23 10:00")
	subscribe(e, queue.Subscription{ID: "push", URL: "https://push.example/hook", Kinds: []string{queue.NTurnNear, queue.NLoadDropped}})
	e.win(1, queue.ActOpen)
	for range 6 {
		e.issue("passport", "")
	}
	// The first four (0 to 3 ahead) are near at once.
	if got := e.s.Outbox["push"]; len(got) != 4 || got[3].Ahead != 3 || got[3].Ticket != "П-004" {
		t.Fatalf("turn_near after issue: %+v", got)
	}
	e.win(1, queue.ActCallNext)
	box := e.s.Outbox["push"]
	if n := box[len(box)-1]; n.Kind != queue.NTurnNear || n.Ticket != "П-005" || n.Ahead != 3 {
		t.Fatalf("after a call: %+v", n)
	}
	for range 6 {
		e.win(1, queue.ActStart)
		e.win(1, queue.ActCallNext) // finishes the one being served, calls the next
	}
	var levels []string
	for _, n := range e.s.Outbox["push"] {
		if n.Kind == queue.NLoadDropped {
			levels = append(levels, n.Level)
		}
	}
	if len(levels) == 0 || levels[len(levels)-1] != "low" {
		t.Fatalf("load drops: %v", levels)
	}
}
