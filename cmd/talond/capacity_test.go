package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/talon-mfc/talon/queue"
)

// nextWeekday is the next Monday–Friday after today in the demo's zone.
func nextWeekday() time.Time {
	loc, _ := queue.LoadLocation("Asia/Barnaul")
	d := time.Now().In(loc).AddDate(0, 0, 1)
	for d.Weekday() == time.Saturday || d.Weekday() == time.Sunday {
		d = d.AddDate(0, 0, 1)
	}
	return d
}

// TestDemoCapacity: the demo's brn-center has four windows that take
// bookings (1 and 2: passport, registration; 4: egrn, snils, matcap; 7:
// passport, egrn, snils). However many applicants try every bookable
// service at 08:00, at most four visits are admitted then, and a passport
// visit (20 minutes) holds its window for two slots: 08:00 and 08:15.
func TestDemoCapacity(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real process")
	}
	d := startDaemon(t, buildTalond(t), t.TempDir())
	day := nextWeekday().Format(time.DateOnly)
	at := func(hhmm string) string { return day + "T" + hhmm + ":00+07:00" }
	book := func(service, start string, i int) (int, map[string]any) {
		return d.post(http.DefaultClient, "/api/v1/bookings", map[string]any{"office": "brn-center", "service": service, "start": start,
			"applicant": map[string]string{"name": "Иванова Мария", "phone": fmt.Sprintf("+7913%07d", i)}})
	}
	won := map[string]int{}
	i := 0
	for range 3 {
		for _, sv := range []string{"passport", "registration", "egrn", "snils", "matcap"} {
			i++
			switch code, out := book(sv, at("08:00"), i); code {
			case 201:
				won[sv]++
			case 409:
			default:
				t.Fatalf("%s: %d %v", sv, code, out)
			}
		}
	}
	total := 0
	for _, n := range won {
		total += n
	}
	if total != 4 {
		t.Fatalf("%d visits admitted at 08:00 (%v); brn-center has 4 booking windows", total, won)
	}
	_, body := d.get("/api/v1/offices/brn-center/window-time?date=" + day)
	var wt struct {
		Visits []struct {
			Service, Start, End string
			Window              int
		}
	}
	json.Unmarshal([]byte(body), &wt)
	if len(wt.Visits) != 4 {
		t.Fatalf("window time %s", body)
	}
	// A passport visit holds its window for two slots: the next weekday,
	// three passports at 08:00 take windows 1, 2 and 7 until 08:30, so
	// registration (windows 1 and 2 only) has no time at 08:15, and has at 08:30.
	next := nextWeekday().AddDate(0, 0, 1)
	for next.Weekday() == time.Saturday || next.Weekday() == time.Sunday {
		next = next.AddDate(0, 0, 1)
	}
	day2 := next.Format(time.DateOnly)
	for k := range 3 {
		if code, out := book("passport", day2+"T08:00:00+07:00", 200+k); code != 201 || out["end"] != day2+"T08:30:00+07:00" {
			t.Fatalf("passport %d: %d %v", k, code, out)
		}
	}
	if code, out := book("registration", day2+"T08:15:00+07:00", 210); code != 409 {
		t.Fatalf("registration at 08:15, while passports hold windows 1 and 2: %d %v", code, out)
	}
	if code, out := book("registration", day2+"T08:30:00+07:00", 211); code != 201 {
		t.Fatalf("registration at 08:30: %d %v", code, out)
	}
	// The free count says the same: nothing left at 08:00 for any service.
	for _, sv := range []string{"passport", "registration", "egrn", "snils", "matcap"} {
		_, body := d.get("/api/v1/offices/brn-center/slots?service=" + sv + "&date=" + day)
		if !strings.Contains(body, `"start":"`+at("08:00")+`","end":`) || !strings.Contains(body, at("08:00")+`","end":"`) {
			t.Fatalf("%s: no 08:00 slot: %s", sv, body)
		}
		var s struct {
			Slots []struct {
				Start string
				Free  int
			}
		}
		json.Unmarshal([]byte(body), &s)
		if s.Slots[0].Start != at("08:00") || s.Slots[0].Free != 0 {
			t.Fatalf("%s at 08:00: %+v", sv, s.Slots[0])
		}
	}
}
