package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/talon-mfc/talon/queue"
)

// TestRetention: thirty days after a visit the applicant's name and phone are
// gone from the node's state, its snapshots and a backup, and the visit's day
// reports the same statistics as before.
func TestRetention(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real process")
	}
	var cfg map[string]any
	yaml.Unmarshal(demoYAML, &cfg)
	node := cfg["node"].(map[string]any)
	node["snapshot_threshold"], node["snapshot_interval"] = 2, "300ms" // snapshots often, to look into
	raw, _ := yaml.Marshal(cfg)
	path := filepath.Join(t.TempDir(), "talond.yaml")
	os.WriteFile(path, raw, 0o600)
	dir := t.TempDir()
	d := startDaemon(t, buildTalond(t), dir, "-config", path, "-dev-clock")

	const name, phone = "Иванова Мария Петровна", "+79130000042"
	loc, _ := queue.LoadLocation("Asia/Barnaul")
	start := time.Now().In(loc).Add(20 * time.Minute).Truncate(15 * time.Minute)
	b := d.mustPost("/api/v1/bookings", map[string]any{"office": "demo-24h", "service": "egrn", "start": start.Format(time.RFC3339),
		"applicant": map[string]string{"name": name, "phone": phone}})
	d.mustPost("/api/v1/offices/demo-24h/checkin", map[string]string{"qr": b["qr"].(string)})
	for _, a := range []string{"open", "call-next", "start", "finish", "close"} { // closed: the day's figures are final
		d.mustPost("/api/v1/offices/demo-24h/windows/2/"+a, nil)
	}
	day := start.Format(time.DateOnly)
	stats := func() string {
		code, body := d.get("/api/v1/offices/demo-24h/stats?from=" + day + "&to=" + day)
		if code != 200 {
			t.Fatalf("stats: %d %s", code, body)
		}
		return body
	}
	before := stats()
	if !strings.Contains(before, `"served":1`) {
		t.Fatalf("the visit is not in the day's statistics: %s", before)
	}
	holds := func(data []byte) bool {
		return bytes.Contains(data, []byte(phone)) || bytes.Contains(data, []byte(name))
	}
	backup := func() []byte {
		resp, err := http.Get(d.base + "/api/v1/cluster/backup")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		return data
	}
	snapshots := func() (n int, clean bool) {
		files, _ := filepath.Glob(filepath.Join(dir, "snapshots", "*", "state.bin"))
		clean = true
		for _, f := range files {
			data, _ := os.ReadFile(f)
			clean = clean && !holds(data)
		}
		return len(files), clean
	}
	if !holds(backup()) {
		t.Fatal("the backup does not hold the applicant to begin with: the test would prove nothing")
	}

	d.mustPost("/api/v1/dev/clock", map[string]string{"advance": "768h"}) // 32 days
	waitUntil(t, 20*time.Second, "the name and phone erased", func() bool {
		_, body := d.get("/api/v1/bookings/" + b["id"].(string))
		return strings.Contains(body, `"name":"—"`) && !strings.Contains(body, phone)
	})
	waitUntil(t, 30*time.Second, "snapshots without them", func() bool {
		d.post(http.DefaultClient, "/api/v1/offices/demo-24h/tickets", map[string]string{"service": "consult"}) // entries, so snapshots come
		n, clean := snapshots()
		return n > 0 && clean
	})
	if holds(backup()) {
		t.Fatal("a backup still holds the applicant's name or phone")
	}
	if after := stats(); after != before {
		t.Fatalf("the day's statistics changed:\n%s\n%s", before, after)
	}
	var v map[string]any
	_, body := d.get("/api/v1/bookings/" + b["id"].(string))
	json.Unmarshal([]byte(body), &v)
	if v["status"] != "checked_in" || v["number"] != b["number"] {
		t.Fatalf("the booking itself is gone: %s", body)
	}
	records := func() string {
		code, body := d.get("/api/v1/offices/demo-24h/records?from=" + day + "&to=" + day)
		if code != 200 || !strings.Contains(body, b["number"].(string)) {
			t.Fatalf("records: %d %s", code, body)
		}
		return body
	}
	visits := records()

	// Ninety days after, the visit leaves the live state for the archive:
	// the booking is no longer there, the day's figures and records are.
	d.mustPost("/api/v1/dev/clock", map[string]string{"advance": "1488h"}) // 62 days more
	waitUntil(t, 20*time.Second, "the booking archived", func() bool {
		code, _ := d.get("/api/v1/bookings/" + b["id"].(string))
		return code == 404
	})
	if after := stats(); after != before {
		t.Fatalf("the day's statistics changed with the archive:\n%s\n%s", before, after)
	}
	if after := records(); after != visits {
		t.Fatalf("the day's records changed with the archive:\n%s\n%s", visits, after)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "archive", "demo-24h", "*.json"))
	if len(files) == 0 {
		t.Fatal("no archive on disk")
	}
	for _, f := range files {
		data, _ := os.ReadFile(f)
		if holds(data) {
			t.Fatalf("%s holds the applicant's name or phone", f)
		}
	}
	if bytes.Contains(backup(), []byte(b["number"].(string))) {
		t.Fatal("the archived booking is still in the live state's backup")
	}
}
