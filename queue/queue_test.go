package queue_test

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/talon-mfc/talon/queue"
	"github.com/talon-mfc/talon/scheduler"
)

var barnaul, _ = queue.LoadLocation("Asia/Barnaul")

// at is a Barnaul local time "2006-01-02 15:04" as unix seconds.
func at(s string) int64 {
	t, err := time.ParseInLocation("2006-01-02 15:04", s, barnaul)
	if err != nil {
		panic(err)
	}
	return t.Unix()
}

func testRegion() *queue.Region {
	return &queue.Region{
		Name: "test",
		Services: []queue.Service{
			{ID: "passport", Name: "Паспорт", Letter: "П", AvgMinutes: 20, Bookable: true},
			{ID: "snils", Name: "СНИЛС", Letter: "С", AvgMinutes: 10, Bookable: true},
			{ID: "consult", Name: "Консультация", Letter: "К", AvgMinutes: 5},
		},
		Categories: []queue.Category{{ID: "disabled", Name: "Инвалиды I и II групп", Priority: 10}},
		Offices: []queue.OfficeConfig{
			{
				ID: "brn", Name: "Барнаул", Address: "пр. Ленина, 1", Timezone: "Asia/Barnaul",
				Holidays: []queue.Holiday{{Date: "2026-12-31", Hours: "closed"}, {Date: "2026-12-30", Hours: "09:00-13:00"}},
				Services: []string{"passport", "snils", "consult"},
				Windows: []queue.WindowConfig{
					{Number: 1, Services: []string{"passport", "snils"}, Bookings: true},
					{Number: 2, Services: []string{"passport"}, Bookings: true},
					{Number: 3, Services: []string{"consult", "snils"}},
				},
			},
			{
				ID: "bsk", Name: "Бийск", Address: "ул. Ленинградская, 1", Timezone: "Asia/Barnaul",
				Services: []string{"passport"},
				Windows:  []queue.WindowConfig{{Number: 1, Services: []string{"passport"}, Bookings: true}},
			},
		},
	}
}

// env is a state with an applied log, for tests.
type env struct {
	t     *testing.T
	s     *queue.State
	index uint64
	now   int64
}

func newEnv(t *testing.T, now string) *env {
	e := &env{t: t, s: queue.New(scheduler.Default{}), now: at(now)}
	if r := e.do(&queue.SetRegion{Region: testRegion()}); r.Err != nil {
		t.Fatal(r.Err)
	}
	return e
}

func (e *env) do(c queue.Command) queue.Result {
	e.index++
	if t, ok := c.(*queue.Tick); ok && t.Seed == "" {
		c = &queue.Tick{Seed: "a leader's random bits"} // what the cluster's ticks carry
	}
	return e.s.Apply(c, e.now, e.index)
}

func (e *env) book(office, service, start, phone string, hold bool) queue.Result {
	ref := queue.EncodeRef([16]byte{byte(e.index), byte(e.index >> 8), 'r', 'e', 'f'}) // as the API draws one
	return e.do(&queue.Book{Office: office, Service: service, Start: at(start), Name: "Иванов Иван", Phone: phone, Hold: hold, Ref: ref})
}

func (e *env) win(w int, a queue.Action, service ...string) queue.Result {
	c := &queue.WindowAction{Office: "brn", Window: w, Action: a}
	if len(service) > 0 {
		c.Service = service[0]
	}
	return e.do(c)
}

func (e *env) issue(service, category string) queue.Result {
	return e.do(&queue.Issue{Office: "brn", Service: service, Category: category})
}

func (e *env) checkIn(b *queue.Booking) queue.Result {
	return e.do(&queue.CheckIn{Office: b.Office, Booking: b.ID, Start: b.Start})
}

func wantCode(t *testing.T, r queue.Result, code queue.Code) {
	t.Helper()
	if code == "" && r.Err != nil {
		t.Fatalf("unexpected error %v", r.Err)
	}
	if code != "" && (r.Err == nil || r.Err.Code != code) {
		t.Fatalf("got %+v, want error %s", r.Err, code)
	}
}

// dump is a canonical picture of the state, to show a rejected command changed nothing.
func dump(t *testing.T, s *queue.State) string {
	t.Helper()
	offices := map[string]any{}
	for id, o := range s.Offices {
		offices[id] = []any{o.Day, o.Windows, nilIfEmpty(o.Waiting), nilIfEmpty(o.Recent), nilIfEmpty(o.Spans)}
	}
	b, err := json.Marshal([]any{s.Bookings, s.Tickets, s.Counters, s.Retries, offices, s.NextBookingID, s.NextTicketID})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestBookingRules(t *testing.T) {
	// Monday 2026-11-23 10:00 in Barnaul; the horizon ends on 2026-12-23.
	cases := []struct {
		name, office, service, start string
		code                         queue.Code
	}{
		{"first slot of the day", "brn", "passport", "2026-11-24 09:00", ""},
		{"last slot before closing", "brn", "snils", "2026-11-24 17:45", ""},
		{"last 30-minute visit before closing", "brn", "passport", "2026-11-24 17:30", ""},
		{"a 30-minute visit ending after closing", "brn", "passport", "2026-11-24 17:45", queue.CodeOfficeClosed},
		{"slot ending after closing", "brn", "snils", "2026-11-24 18:00", queue.CodeOfficeClosed},
		{"before opening", "brn", "passport", "2026-11-24 08:45", queue.CodeOfficeClosed},
		{"off the 15-minute grid", "brn", "passport", "2026-11-24 09:05", queue.CodeInvalidRequest},
		{"saturday short day", "brn", "passport", "2026-11-28 14:30", ""},
		{"saturday after 15:00", "brn", "passport", "2026-11-28 15:00", queue.CodeOfficeClosed},
		{"sunday", "brn", "passport", "2026-11-29 10:00", queue.CodeOfficeClosed},
		{"holiday closed", "brn", "passport", "2026-12-31 10:00", queue.CodeOutsideHorizon},
		{"30th day ahead", "brn", "passport", "2026-12-23 10:00", ""},
		{"31st day ahead", "brn", "passport", "2026-12-24 10:00", queue.CodeOutsideHorizon},
		{"in the past", "brn", "passport", "2026-11-23 09:45", queue.CodeOutsideHorizon},
		{"slot that has begun", "brn", "passport", "2026-11-23 10:00", queue.CodeOutsideHorizon},
		{"not bookable service", "brn", "consult", "2026-11-24 10:00", queue.CodeNotBookable},
		{"service not offered", "bsk", "snils", "2026-11-24 10:00", queue.CodeUnknownService},
		{"unknown office", "nope", "passport", "2026-11-24 10:00", queue.CodeUnknownOffice},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, "2026-11-23 10:00")
			before := dump(t, e.s)
			r := e.book(c.office, c.service, c.start, "+7 900 000-00-"+string(rune('0'+i%10))+"0", false)
			wantCode(t, r, c.code)
			if c.code != "" && dump(t, e.s) != before {
				t.Fatal("a rejected booking changed the state")
			}
			if c.code == "" && (r.Booking.Status != queue.BookingConfirmed || r.Booking.Number == "") {
				t.Fatalf("booking %+v", r.Booking)
			}
		})
	}
}

func TestHolidayHours(t *testing.T) {
	e := newEnv(t, "2026-12-29 10:00")
	wantCode(t, e.book("brn", "passport", "2026-12-30 12:30", "79000000001", false), "")
	wantCode(t, e.book("brn", "passport", "2026-12-30 12:45", "79000000002", false), queue.CodeOfficeClosed)
	wantCode(t, e.book("brn", "passport", "2026-12-31 10:00", "79000000003", false), queue.CodeOfficeClosed)
}

func TestSeatsAndAlternatives(t *testing.T) {
	e := newEnv(t, "2026-11-23 10:00")
	// Office brn has two windows taking passport bookings, and a passport
	// visit (20 minutes) holds one for two slots: 10:00–10:30.
	wantCode(t, e.book("brn", "passport", "2026-11-24 10:00", "79000000001", false), "")
	wantCode(t, e.book("brn", "passport", "2026-11-24 10:00", "79000000002", false), "")
	before := dump(t, e.s)
	r := e.book("brn", "passport", "2026-11-24 10:00", "79000000003", false)
	wantCode(t, r, queue.CodeSlotTaken)
	if dump(t, e.s) != before {
		t.Fatal("slot_taken changed the state")
	}
	alt := e.s.Alternatives("brn", "passport", at("2026-11-24 10:00"), e.now)
	if len(alt.SameOffice) != 3 || alt.SameOffice[0].Start != at("2026-11-24 09:30") || alt.SameOffice[1].Start != at("2026-11-24 10:30") ||
		alt.SameOffice[2].Start != at("2026-11-24 09:15") || alt.SameOffice[0].Free != 2 {
		t.Fatalf("same-office alternatives %+v", alt.SameOffice)
	}
	if len(alt.OtherOffices) != 1 || alt.OtherOffices[0].Office != "bsk" || alt.OtherOffices[0].Start != at("2026-11-24 10:00") {
		t.Fatalf("other-office alternatives %+v", alt.OtherOffices)
	}
	slots, err := e.s.Slots("brn", "passport", "2026-11-24", 1, e.now)
	if err != nil || len(slots) != 35 || slots[2].Free != 2 || slots[3].Free != 0 || slots[4].Free != 0 || slots[5].Free != 0 || slots[6].Free != 2 ||
		slots[6].End-slots[6].Start != 1800 {
		t.Fatalf("slots %v %+v", err, slots)
	}
	// snils is served by window 1 alone, which a passport visit holds at 10:00.
	wantCode(t, e.book("brn", "snils", "2026-11-24 10:00", "79000000004", false), queue.CodeSlotTaken)
	wantCode(t, e.book("brn", "snils", "2026-11-24 11:00", "79000000001", false), "")
	wantCode(t, e.book("brn", "snils", "2026-11-24 11:00", "79000000004", false), queue.CodeSlotTaken)
}

// TestAdmissionMovesEarlierBookings: a booking is refused only when no
// assignment of windows admits it; the search moves earlier bookings to
// other windows.
func TestAdmissionMovesEarlierBookings(t *testing.T) {
	e := newEnv(t, "2026-11-23 10:00")
	// Passport at 12:00 twice: windows 2 and 1 (the one with fewer skills first).
	p1 := e.book("brn", "passport", "2026-11-24 12:00", "79000000001", false).Booking
	p2 := e.book("brn", "passport", "2026-11-24 12:00", "79000000002", false).Booking
	if p1.Seat != 2 || p2.Seat != 1 {
		t.Fatalf("seats %d, %d", p1.Seat, p2.Seat)
	}
	wantCode(t, e.do(&queue.Cancel{Booking: p1.ID}), "")
	// snils needs window 1, which p2 holds; p2 moves to window 2.
	s := e.book("brn", "snils", "2026-11-24 12:15", "79000000003", false)
	wantCode(t, s, "")
	if s.Booking.Seat != 1 || e.s.Bookings[p2.ID].Seat != 2 {
		t.Fatalf("snils on %d, passport moved to %d", s.Booking.Seat, e.s.Bookings[p2.ID].Seat)
	}
	// Now both windows are held at 12:15: a third visit is refused, and the
	// refusal changes nothing.
	before := dump(t, e.s)
	wantCode(t, e.book("brn", "passport", "2026-11-24 12:00", "79000000004", false), queue.CodeSlotTaken)
	if dump(t, e.s) != before {
		t.Fatal("a refused booking moved others")
	}
	checkWindowTime(t, e.s, nil)
}

func TestApplicantLimit(t *testing.T) {
	e := newEnv(t, "2026-11-23 10:00")
	wantCode(t, e.book("brn", "passport", "2026-11-24 10:00", "+7 (900) 000-00-01", false), "")
	wantCode(t, e.book("bsk", "passport", "2026-11-25 10:00", "89000000001", false), queue.CodeLimitExceeded)
	wantCode(t, e.book("brn", "snils", "2026-11-25 10:00", "79000000001", false), "")
	wantCode(t, e.book("brn", "passport", "2026-11-25 10:00", "not a phone", false), queue.CodeInvalidRequest)
	// Cancelling frees the applicant's quota.
	wantCode(t, e.do(&queue.Cancel{Booking: 1}), "")
	wantCode(t, e.book("bsk", "passport", "2026-11-25 10:00", "79000000001", false), "")
}

func TestHoldExpiryAndConfirm(t *testing.T) {
	e := newEnv(t, "2026-11-23 10:00")
	e.s.Apply(&queue.SetRegion{Region: func() *queue.Region {
		r := testRegion()
		r.Offices[0].Seats = map[string]int{"passport": 1}
		return r
	}()}, e.now, 99)
	e.do(&queue.Tick{})
	held := e.book("brn", "passport", "2026-11-24 10:00", "79000000001", true)
	wantCode(t, held, "")
	if held.Booking.Status != queue.BookingHeld || held.Booking.HoldUntil != e.now+600 {
		t.Fatalf("held %+v", held.Booking)
	}
	wantCode(t, e.book("brn", "passport", "2026-11-24 10:00", "79000000002", false), queue.CodeSlotTaken)
	e.now += 599
	wantCode(t, e.book("brn", "passport", "2026-11-24 10:00", "79000000002", false), queue.CodeSlotTaken)
	e.now++ // the hold has run out: the seat is free without waiting for a tick
	wantCode(t, e.book("brn", "passport", "2026-11-24 10:00", "79000000002", false), "")
	wantCode(t, e.do(&queue.Confirm{Booking: held.Booking.ID}), queue.CodeHoldExpired)

	// A hold confirmed in time becomes a confirmed booking.
	h2 := e.book("brn", "passport", "2026-11-24 11:00", "79000000003", true)
	e.now += 300
	r := e.do(&queue.Confirm{Booking: h2.Booking.ID})
	if r.Err != nil || r.Booking.Status != queue.BookingConfirmed {
		t.Fatalf("confirm %+v", r)
	}
	e.now += 3600
	if e.s.Due(e.now) {
		t.Fatal("nothing should be due after the confirmed hold")
	}
}

func TestTickExpiresHolds(t *testing.T) {
	e := newEnv(t, "2026-11-23 10:00")
	e.do(&queue.Tick{})
	b := e.book("brn", "passport", "2026-11-24 10:00", "79000000001", true).Booking
	e.now += 601
	if !e.s.Due(e.now) {
		t.Fatal("an expired hold should make a tick due")
	}
	e.do(&queue.Tick{})
	ev := e.s.TakeEvents()
	if last := ev[len(ev)-1]; last.Kind != queue.EvBookingExpired || last.Booking.ID != b.ID {
		t.Fatalf("events %+v", ev)
	}
	if e.s.Due(e.now) {
		t.Fatal("still due after the tick")
	}
}

func TestReschedule(t *testing.T) {
	e := newEnv(t, "2026-11-23 10:00")
	b := e.book("brn", "passport", "2026-11-24 10:00", "79000000001", false).Booking
	for i, start := range []string{"2026-11-25 10:00", "2026-11-26 10:00", "2026-12-23 17:30"} {
		r := e.do(&queue.Reschedule{Booking: b.ID, Start: at(start)})
		wantCode(t, r, "")
		if r.Booking.Reschedules != i+1 || r.Booking.OriginalStart != at("2026-11-24 10:00") {
			t.Fatalf("reschedule %d: %+v", i, r.Booking)
		}
	}
	wantCode(t, e.do(&queue.Reschedule{Booking: b.ID, Start: at("2026-11-27 10:00")}), queue.CodeRescheduleLimit)

	// The old seat is freed; the new one is taken; a taken target keeps the old seat.
	c := e.book("brn", "snils", "2026-11-24 10:00", "79000000002", false).Booking
	e.book("brn", "snils", "2026-11-24 11:00", "79000000003", false)
	wantCode(t, e.do(&queue.Reschedule{Booking: c.ID, Start: at("2026-11-24 11:00")}), queue.CodeSlotTaken)
	wantCode(t, e.book("brn", "snils", "2026-11-24 10:00", "79000000004", false), queue.CodeSlotTaken)
	wantCode(t, e.do(&queue.Reschedule{Booking: c.ID, Start: at("2026-11-24 12:00")}), "")
	wantCode(t, e.book("brn", "snils", "2026-11-24 10:00", "79000000004", false), "")
	wantCode(t, e.do(&queue.Reschedule{Booking: c.ID, Start: at("2026-12-24 12:00")}), queue.CodeOutsideHorizon)
}

func TestRescheduleWindowFromOriginalDate(t *testing.T) {
	e := newEnv(t, "2026-11-23 10:00")
	b := e.book("brn", "passport", "2026-11-24 10:00", "79000000001", false).Booking
	e.now = at("2026-12-20 10:00") // the horizon now reaches 2027-01-19
	wantCode(t, e.do(&queue.Reschedule{Booking: b.ID, Start: at("2026-12-25 10:00")}), queue.CodeOutsideHorizon)
	wantCode(t, e.do(&queue.Reschedule{Booking: b.ID, Start: at("2026-12-24 10:00")}), "")
}

func TestCancel(t *testing.T) {
	e := newEnv(t, "2026-11-23 10:00")
	r := e.book("brn", "snils", "2026-11-24 10:00", "79000000001", false)
	wantCode(t, e.book("brn", "snils", "2026-11-24 10:00", "79000000002", false), queue.CodeSlotTaken)
	c := e.do(&queue.Cancel{Booking: r.Booking.ID})
	if c.Err != nil || c.Booking.Status != queue.BookingCancelled {
		t.Fatalf("cancel %+v", c)
	}
	wantCode(t, e.book("brn", "snils", "2026-11-24 10:00", "79000000002", false), "")
	wantCode(t, e.do(&queue.Cancel{Booking: r.Booking.ID}), "")
	wantCode(t, e.do(&queue.Confirm{Booking: r.Booking.ID}), queue.CodeCancelled)
	wantCode(t, e.do(&queue.Cancel{Booking: 999}), queue.CodeNotFound)
}

func TestCheckIn(t *testing.T) {
	e := newEnv(t, "2026-11-23 09:00")
	b := e.book("brn", "passport", "2026-11-23 11:00", "79000000001", false).Booking
	other := e.book("bsk", "passport", "2026-11-23 11:00", "79000000003", false).Booking

	e.now = at("2026-11-23 10:29")
	wantCode(t, e.checkIn(b), queue.CodeTooEarly)
	e.now = at("2026-11-23 10:30")
	wantCode(t, e.do(&queue.CheckIn{Office: "brn", Booking: other.ID, Start: other.Start}), queue.CodeWrongOffice)
	wantCode(t, e.do(&queue.CheckIn{Office: "brn", Booking: b.ID, Start: b.Start + 900}), queue.CodeInvalidQR)
	held := e.book("brn", "snils", "2026-11-23 11:00", "79000000002", true).Booking
	wantCode(t, e.checkIn(held), queue.CodeNotConfirmed)
	r := e.checkIn(b)
	wantCode(t, r, "")
	if r.Ticket.Number != b.Number || r.Ticket.Status != queue.TicketWaiting || r.Booking.Status != queue.BookingCheckedIn {
		t.Fatalf("check-in %+v %+v", r.Ticket, r.Booking)
	}
	wantCode(t, e.checkIn(b), queue.CodeAlreadyCheckedIn)
	// The applicant may book the same service again once checked in.
	wantCode(t, e.book("brn", "passport", "2026-11-24 10:00", "79000000001", false), "")

	late := e.book("brn", "snils", "2026-11-23 12:00", "79000000004", false).Booking
	e.now = at("2026-11-23 12:15")
	wantCode(t, e.checkIn(late), "")
	late2 := e.book("brn", "snils", "2026-11-23 12:30", "79000000005", false).Booking
	e.now = at("2026-11-23 12:46")
	wantCode(t, e.checkIn(late2), queue.CodeTooLate)
	cancelled := e.book("brn", "snils", "2026-11-23 13:00", "79000000006", false).Booking
	e.do(&queue.Cancel{Booking: cancelled.ID})
	wantCode(t, e.checkIn(cancelled), queue.CodeCancelled)
}

func TestWalkInNumbering(t *testing.T) {
	e := newEnv(t, "2026-11-23 17:00")
	want := []string{"П-001", "П-002", "С-001", "П-003"}
	for i, svc := range []string{"passport", "passport", "snils", "passport"} {
		r := e.issue(svc, "")
		wantCode(t, r, "")
		if r.Ticket.Number != want[i] {
			t.Fatalf("ticket %d: %s, want %s", i, r.Ticket.Number, want[i])
		}
	}
	if r := e.issue("passport", ""); r.Ticket.Position != 4 || r.Ticket.EstWait != 3*20*60/2 {
		t.Fatalf("position/estimate %+v", r.Ticket)
	}
	wantCode(t, e.issue("nope", ""), queue.CodeUnknownService)
	wantCode(t, e.issue("passport", "vip"), queue.CodeInvalidRequest)
	e.now = at("2026-11-23 18:00")
	wantCode(t, e.issue("passport", ""), queue.CodeOfficeClosed)
	// Midnight in Barnaul is 17:00 UTC: the next local day starts again at 001.
	e.now = at("2026-11-24 09:00")
	if r := e.issue("passport", ""); r.Err != nil || r.Ticket.Number != "П-001" || r.Ticket.Day != "2026-11-24" {
		t.Fatalf("next day %+v", r)
	}
}

func TestCallingAndWindowLifecycle(t *testing.T) {
	e := newEnv(t, "2026-11-23 10:00")
	b := e.book("brn", "passport", "2026-11-23 10:30", "79000000001", false).Booking
	wantCode(t, e.win(1, queue.ActCallNext), queue.CodeWindowNotOpen)
	e.win(1, queue.ActOpen)
	e.win(2, queue.ActOpen)
	e.win(3, queue.ActOpen)
	if r := e.win(1, queue.ActCallNext); r.Err != nil || r.Ticket != nil {
		t.Fatalf("empty queue %+v", r)
	}
	early := e.issue("passport", "").Ticket // П-001
	e.now += 60
	e.issue("passport", "disabled") // П-002, priority
	e.now += 60
	e.issue("consult", "") // К-001, only window 3 serves it
	e.now = at("2026-11-23 10:20")
	e.checkIn(b)
	e.now = at("2026-11-23 10:25")
	// The booking's time has not come: priority first, then longest wait.
	if r := e.win(1, queue.ActCallNext); r.Ticket.Number != "П-002" {
		t.Fatalf("priority first, got %s", r.Ticket.Number)
	}
	e.now = at("2026-11-23 10:30")
	if r := e.win(2, queue.ActCallNext); r.Ticket.Number != b.Number {
		t.Fatalf("booked applicant at their time first, got %s", r.Ticket.Number)
	}
	wantCode(t, e.win(2, queue.ActCallNext), queue.CodeWindowBusy)
	wantCode(t, e.win(2, queue.ActStart), "")
	// call-next finishes the ticket being served, then calls the next.
	r := e.win(2, queue.ActCallNext)
	if r.Ticket.ID != early.ID || r.Ticket.CalledAt-r.Ticket.ArrivedAt != at("2026-11-23 10:30")-at("2026-11-23 10:00") {
		t.Fatalf("longest wait next %+v", r.Ticket)
	}
	// Recall twice, a third recall is a no-show.
	wantCode(t, e.win(2, queue.ActRecall), "")
	wantCode(t, e.win(2, queue.ActRecall), "")
	if r := e.win(2, queue.ActRecall); r.Ticket.Status != queue.TicketNoShow || r.Window.Current != 0 {
		t.Fatalf("third recall %+v", r.Ticket)
	}
	wantCode(t, e.win(2, queue.ActFinish), queue.CodeNoCurrentTicket)
	// Window 1 does not serve consult; window 3 does.
	wantCode(t, e.win(1, queue.ActFinish), "")
	if r := e.win(1, queue.ActCallNext); r.Ticket != nil {
		t.Fatalf("window 1 took %s", r.Ticket.Number)
	}
	k := e.win(3, queue.ActCallNext).Ticket
	if k.Number != "К-001" {
		t.Fatalf("window 3 called %s", k.Number)
	}
	wantCode(t, e.win(3, queue.ActClose), queue.CodeWindowBusy)
	e.now += 120
	red := e.win(3, queue.ActRedirect, "passport")
	if red.Err != nil || red.Ticket.Number != "К-001" || red.Ticket.Service != "passport" || red.Ticket.ArrivedAt != k.ArrivedAt || red.Ticket.Status != queue.TicketWaiting {
		t.Fatalf("redirect %+v", red)
	}
	if e.s.Tickets[k.ID].Status != queue.TicketRedirected {
		t.Fatal("redirected ticket not closed")
	}
	wantCode(t, e.win(3, queue.ActClose), "")
	wantCode(t, e.win(2, queue.ActPause), "")
	wantCode(t, e.win(2, queue.ActCallNext), queue.CodeWindowNotOpen)
	wantCode(t, e.win(3, queue.ActPause), queue.CodeWindowNotOpen)
	wantCode(t, e.win(9, queue.ActOpen), queue.CodeUnknownWindow)
	wantCode(t, e.win(1, queue.ActCallNext), "")
	wantCode(t, e.win(1, queue.ActNoShow), "")
}

func TestDayRollover(t *testing.T) {
	e := newEnv(t, "2026-11-23 17:00")
	b := e.book("brn", "passport", "2026-11-23 17:30", "79000000001", false).Booking
	e.win(1, queue.ActOpen)
	e.issue("passport", "")
	e.issue("passport", "")
	e.win(1, queue.ActCallNext)
	e.TakeAll()
	e.now = at("2026-11-24 00:00")
	if !e.s.Due(e.now) {
		t.Fatal("midnight should make a tick due")
	}
	e.do(&queue.Tick{})
	kinds := map[queue.EventKind]int{}
	for _, ev := range e.s.TakeEvents() {
		kinds[ev.Kind]++
	}
	if kinds[queue.EvTicketExpired] != 2 || kinds[queue.EvBookingMissed] != 1 || kinds[queue.EvWindowChanged] != 1 {
		t.Fatalf("rollover events %v", kinds)
	}
	if o := e.s.Offices["brn"]; len(o.Waiting) != 0 || o.Window(1).State != queue.WindowClosed || e.s.Bookings[b.ID].Status != queue.BookingMissed {
		t.Fatal("rollover did not clear the day")
	}
}

func (e *env) TakeAll() { e.s.TakeEvents() }

func TestEventsNumberedWithoutGaps(t *testing.T) {
	e := newEnv(t, "2026-11-23 10:00")
	e.TakeAll()
	e.win(1, queue.ActOpen)
	e.issue("passport", "")
	e.win(1, queue.ActCallNext)
	ev := e.s.TakeEvents()
	kinds := []queue.EventKind{queue.EvWindowChanged, queue.EvTicketIssued, queue.EvTurnNear, queue.EvTicketCalled, queue.EvLoadDropped}
	for i, want := range kinds {
		if len(ev) != len(kinds) || ev[i].Kind != want || (i > 0 && ev[i-1].Seq+1 != ev[i].Seq) {
			t.Fatalf("events %+v", ev)
		}
	}
	if ev[len(ev)-1].Index != e.index {
		t.Fatalf("the last event has index %d, want %d", ev[len(ev)-1].Index, e.index)
	}
}

func TestBadInputNeverPanics(t *testing.T) {
	e := newEnv(t, "2026-11-23 10:00")
	before := dump(t, e.s)
	for _, c := range []queue.Command{
		&queue.Book{}, &queue.Confirm{}, &queue.Reschedule{Booking: 5},
		&queue.Issue{}, &queue.CheckIn{}, &queue.WindowAction{}, &queue.WindowAction{Office: "brn", Window: 1},
		&queue.WindowAction{Office: "brn", Window: 1, Action: 77}, &queue.SetRegion{},
		&queue.SetRegion{Region: &queue.Region{Offices: []queue.OfficeConfig{{ID: "x", Timezone: "Mars/Olympus"}}}},
		&queue.Book{Office: "brn", Service: "passport", Start: -1 << 62, Name: "x", Phone: "79000000000"},
		&queue.Subscribe{}, &queue.Unsubscribe{ID: "none"}, &queue.Delivered{Sub: "none"}, &queue.Replay{},
	} {
		if r := e.do(c); r.Err == nil {
			t.Fatalf("%+v accepted", c)
		}
	}
	if dump(t, e.s) != before {
		t.Fatal("rejected commands changed the state")
	}
}

// TestReplicasAgree applies one log to a fresh state and to a state restored
// from a snapshot taken half-way, and compares the results.
func TestReplicasAgree(t *testing.T) {
	log := func(e *env, from, to int) []queue.Result {
		var out []queue.Result
		for i := from; i < to; i++ {
			e.now = at("2026-11-23 10:00") + int64(i)*37
			switch i % 5 {
			case 0:
				out = append(out, e.issue("passport", ""))
			case 1:
				out = append(out, e.book("brn", "passport", "2026-11-24 10:00", "7900000"+string(rune('0'+i%10))+"000", i%2 == 0))
			case 2:
				act := queue.ActOpen
				if i%20 == 17 {
					act = queue.ActPause // an open period ends: a window span
				}
				out = append(out, e.win(1+i%2, act))
			case 3:
				out = append(out, e.win(1+i%2, queue.ActCallNext))
			case 4:
				out = append(out, e.issue("snils", "disabled"))
			}
		}
		return out
	}
	a := newEnv(t, "2026-11-23 10:00")
	b := newEnv(t, "2026-11-23 10:00")
	log(a, 0, 40)
	log(b, 0, 20)
	var buf bytes.Buffer
	if err := b.s.Save(&buf); err != nil {
		t.Fatal(err)
	}
	restored, err := queue.Load(&buf, scheduler.Default{})
	if err != nil {
		t.Fatal(err)
	}
	b.s = restored
	log(b, 20, 40)
	if da, db := dump(t, a.s), dump(t, b.s); da != db {
		for i := range da {
			if i >= len(db) || da[i] != db[i] {
				t.Fatalf("a replica restored from a snapshot diverged at %d:\n%s\n%s", i, da[max(0, i-200):min(len(da), i+200)], db[max(0, i-200):min(len(db), i+200)])
			}
		}
		t.Fatal("a replica restored from a snapshot diverged")
	}
}

func TestRegionChangeKeepsWhatLiveRecordsNeed(t *testing.T) {
	e := newEnv(t, "2026-11-23 10:00")
	e.book("bsk", "passport", "2026-11-24 10:00", "79000000001", false)
	e.issue("snils", "")
	drop := func(mut func(r *queue.Region)) queue.Result {
		r := testRegion()
		mut(r)
		return e.do(&queue.SetRegion{Region: r})
	}
	wantCode(t, drop(func(r *queue.Region) { r.Offices = r.Offices[:1] }), queue.CodeInvalidConfig)
	wantCode(t, drop(func(r *queue.Region) {
		r.Offices[0].Services = []string{"passport", "consult"}
		r.Offices[0].Windows = r.Offices[0].Windows[1:2]
	}), queue.CodeInvalidConfig)
	// Adding a window keeps the live state of the others.
	e.win(1, queue.ActOpen)
	r := drop(func(r *queue.Region) {
		r.Offices[0].Windows = append(r.Offices[0].Windows, queue.WindowConfig{Number: 4, Services: []string{"snils"}})
	})
	wantCode(t, r, "")
	o := e.s.Offices["brn"]
	if o.Window(1).State != queue.WindowOpen || o.Window(4) == nil || len(o.Waiting) != 1 || o.WaitingFor("snils") != 1 {
		t.Fatal("live state lost on a region change")
	}
}

func TestIdempotencyKey(t *testing.T) {
	e := newEnv(t, "2026-11-23 10:00")
	book := &queue.Book{Office: "brn", Service: "passport", Start: at("2026-11-24 10:00"), Name: "Иванов", Phone: "79000000001", Key: "portal:req-1"}
	first := e.do(book)
	again := e.do(book)
	if first.Err != nil || again.Err != nil || !again.Replayed || again.Booking.ID != first.Booking.ID || len(e.s.Bookings) != 1 {
		t.Fatalf("retry of a booking: %+v then %+v", first, again)
	}
	issue := &queue.Issue{Office: "brn", Service: "passport", Key: "kiosk-3:77"}
	t1, t2 := e.do(issue), e.do(issue)
	if !t2.Replayed || t2.Ticket.Number != t1.Ticket.Number || e.do(&queue.Issue{Office: "brn", Service: "passport"}).Ticket.Number != "П-002" {
		t.Fatal("a retried ticket must not use up a number")
	}
	// A rejected command is not remembered: the retry is judged afresh.
	late := &queue.Issue{Office: "brn", Service: "nope", Key: "kiosk-3:78"}
	wantCode(t, e.do(late), queue.CodeUnknownService)
	late.Service = "snils"
	if r := e.do(late); r.Err != nil || r.Replayed {
		t.Fatalf("after a rejection: %+v", r)
	}
	// Keys are forgotten after a day.
	e.now += 24*3600 + 1
	e.do(&queue.Tick{})
	if len(e.s.Retries) != 0 {
		t.Fatalf("%d keys remembered after a day", len(e.s.Retries))
	}
}

// nilIfEmpty makes an empty slice and a nil one dump alike.
func nilIfEmpty[T any](v []T) any {
	if len(v) == 0 {
		return nil
	}
	return v
}

// TestAlternativesNearest checks the outward walk of Alternatives against
// the definition (every free slot within three days, sorted by distance) on
// random fills around a holiday, today and the horizon's end.
func TestAlternativesNearest(t *testing.T) {
	for _, now := range []string{"2026-12-28 11:07", "2026-11-23 19:50"} {
		e := newEnv(t, now)
		rng := rand.New(rand.NewPCG(1, 2))
		var grid []int64
		from := time.Unix(e.now, 0).In(barnaul)
		for d := range 34 {
			slots, err := e.s.Slots("brn", "passport", from.AddDate(0, 0, d).Format(time.DateOnly), 1, e.now)
			if err != nil && d < 31 {
				t.Fatal(err)
			}
			for _, sl := range slots {
				grid = append(grid, sl.Start)
				if rng.IntN(3) > 0 { // fill two thirds of the slots
					for seat := range 2 {
						e.do(&queue.Book{Office: "brn", Service: "passport", Start: sl.Start, Name: "Тест", Phone: fmt.Sprintf("7900%07d", len(grid)*2+seat)})
					}
				}
			}
		}
		for _, start := range append(grid[:40], grid[len(grid)-60:]...) {
			var want []int64
			for d := -3; d <= 3; d++ {
				day := time.Unix(start, 0).In(barnaul).AddDate(0, 0, d)
				slots, _ := e.s.Slots("brn", "passport", day.Format(time.DateOnly), 1, e.now)
				for _, sl := range slots {
					if sl.Free > 0 && sl.Start != start {
						want = append(want, sl.Start)
					}
				}
			}
			slices.SortFunc(want, func(a, b int64) int {
				return cmp.Or(cmp.Compare(max(a-start, start-a), max(b-start, start-b)), cmp.Compare(a, b))
			})
			var got []int64
			for _, sl := range e.s.Alternatives("brn", "passport", start, e.now).SameOffice {
				got = append(got, sl.Start)
			}
			if want = want[:min(3, len(want))]; !slices.Equal(got, want) {
				t.Fatalf("now %s, start %s: alternatives %v, want %v", now, time.Unix(start, 0).In(barnaul), got, want)
			}
		}
	}
}

// BenchmarkSlotSearch: the portal's availability of a day (96 slots, half of
// them full, 10 seats each: ten windows taking 15-minute visits) and the
// alternatives offered on a conflict at the edge of the full half, the
// reads a booking storm makes.
func BenchmarkSlotSearch(b *testing.B) {
	e := newEnv(&testing.T{}, "2026-11-23 09:00")
	r := testRegion()
	r.Offices[0].Hours = map[string]string{"mon": "00:00-24:00", "tue": "00:00-24:00", "wed": "00:00-24:00", "thu": "00:00-24:00",
		"fri": "00:00-24:00", "sat": "00:00-24:00", "sun": "00:00-24:00"}
	r.Services[0].AvgMinutes = 15
	r.Offices[0].Windows = nil
	for w := 1; w <= 10; w++ {
		r.Offices[0].Windows = append(r.Offices[0].Windows, queue.WindowConfig{Number: w, Services: []string{"passport"}, Bookings: true})
	}
	e.do(&queue.SetRegion{Region: r})
	for i := range 48 * 10 {
		e.do(&queue.Book{Office: "brn", Service: "passport", Start: at("2026-11-24 00:00") + int64(i/10)*900, Name: "Тест", Phone: fmt.Sprintf("79%09d", i)})
	}
	b.Run("day", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if s, err := e.s.Slots("brn", "passport", "2026-11-24", 1, e.now); err != nil || len(s) != 96 {
				b.Fatal(err, len(s))
			}
		}
	})
	b.Run("alternatives", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if a := e.s.Alternatives("brn", "passport", at("2026-11-24 11:45"), e.now); len(a.SameOffice) != 3 {
				b.Fatal(a)
			}
		}
	})
}

// TestKioskNearClosing: ten minutes before the office closes (18:00) a
// walk-in who would be called in time gets a ticket; one the forecast puts
// after the last call gets closing_soon naming the next opening (the next
// morning), and nothing changes; an employee can still issue (Force).
func TestKioskNearClosing(t *testing.T) {
	e := newEnv(t, "2026-11-23 17:50")
	wantCode(t, e.issue("passport", ""), "")
	wantCode(t, e.issue("passport", ""), "") // 20 min of work ahead over the 2 passport windows: called at 18:00
	waiting := len(e.s.Offices["brn"].Waiting)
	r := e.issue("passport", "")
	wantCode(t, r, queue.CodeClosingSoon)
	if r.Err.NextOpen != "2026-11-24T09:00:00+07:00" || !strings.Contains(r.Err.Message, "2026-11-24 09:00") {
		t.Fatalf("closing_soon %+v", r.Err)
	}
	if n := len(e.s.Offices["brn"].Waiting); n != waiting {
		t.Fatalf("a refused walk-in changed the queue: %d waiting, was %d", n, waiting)
	}
	wantCode(t, e.issue("consult", ""), "") // another service's window is free
	forced := e.do(&queue.Issue{Office: "brn", Service: "passport", Force: true})
	wantCode(t, forced, "")
	if forced.Ticket.EstWait != 20*60 {
		t.Fatalf("forced ticket %+v", forced.Ticket)
	}
}
