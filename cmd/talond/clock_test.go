package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestOneBadClock: a node whose clock runs an hour, or a day, ahead is
// made leader. It is not ready, reports its offset, hands leadership over
// and stamps nothing: tickets issued afterwards carry real time, numbering
// goes on, and tomorrow's booking is still confirmed (a day's rollover
// would have made it missed and restarted the numbers at 001).
func TestOneBadClock(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	bin, ctl := buildTalond(t), buildTalonctl(t)
	for _, skew := range []time.Duration{time.Hour, 24 * time.Hour} {
		t.Run(skew.String(), func(t *testing.T) {
			nodes := newNodes(t, bin, 3)
			bad := nodes[2]
			bad.args = append(bad.args, "-fault-clock-offset", skew.String())
			for _, d := range nodes {
				d.launch()
			}
			good := nodes[:2]
			for _, d := range good {
				d.waitReady()
			}
			issue := func() map[string]any {
				t.Helper()
				code, out := retrying(good, 0, "/api/v1/offices/demo-24h/tickets", map[string]string{"service": "passport"}, nil)
				if code != 201 {
					t.Fatalf("ticket: %d %v", code, out)
				}
				return out
			}
			first := issue()
			code, booking := retrying(good, 1, "/api/v1/bookings", map[string]any{"office": "demo-24h", "service": "passport",
				"start":     time.Now().Add(26 * time.Hour).Truncate(time.Hour).Format(time.RFC3339),
				"applicant": map[string]string{"name": "Иванова Мария", "phone": "+79130000001"}}, nil)
			if code != 201 {
				t.Fatalf("booking: %d %v", code, booking)
			}
			// Make the bad clock's node the leader.
			body, _ := json.Marshal(map[string]string{"id": bad.id})
			for deadline := time.Now().Add(20 * time.Second); bad.status().State != "Leader"; time.Sleep(100 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("%s never became the leader", bad.id)
				}
				http.Post(good[0].base+"/api/v1/cluster/transfer-leadership", "application/json", strings.NewReader(string(body)))
			}
			// It hands over, and is not ready while its clock is off.
			waitUntil(t, 20*time.Second, "a leader with a right clock", func() bool {
				l, _ := leader(t, nodes)
				return l != bad
			})
			if code, _ := bad.get("/readyz"); code == 200 {
				t.Fatal("the node with the bad clock says it is ready")
			}
			var st struct {
				ClockOffset *float64 `json:"clock_offset_s"`
				NotReady    string   `json:"not_ready"`
			}
			_, raw := bad.get("/api/v1/cluster")
			json.Unmarshal([]byte(raw), &st)
			if st.ClockOffset == nil || *st.ClockOffset < skew.Seconds()-5 || *st.ClockOffset > skew.Seconds()+5 {
				t.Fatalf("the bad clock reports offset %v, want about %v s: %s", st.ClockOffset, skew.Seconds(), raw)
			}
			if st.NotReady != "clock_off" {
				t.Fatalf("the bad clock's node says it is not ready because %q", st.NotReady)
			}
			if out, err := talonctl(ctl, good[0], "status"); err == nil || !strings.Contains(out, bad.id+" not ready: clock off") {
				t.Fatalf("talonctl status with a bad clock: %v\n%s", err, out)
			}
			next := issue()
			issued, _ := time.Parse(time.RFC3339, next["issued_at"].(string))
			if d := time.Since(issued); d > 5*time.Second || d < -5*time.Second {
				t.Fatalf("a ticket after the bad leader carries %s, %v from real time", issued, d)
			}
			if first["number"] != "П-001" || next["number"] != "П-002" {
				t.Fatalf("numbers %v then %v: the day rolled over", first["number"], next["number"])
			}
			_, raw = good[0].get("/api/v1/bookings/" + booking["id"].(string) + "?consistency=linearizable")
			if !strings.Contains(raw, `"status":"confirmed"`) {
				t.Fatalf("tomorrow's booking after the bad leader: %s", raw)
			}
		})
	}
}

// waitUntil polls cond until it holds or within has passed.
func waitUntil(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(within); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}
