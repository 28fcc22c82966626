package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/talon-mfc/talon/internal/testenv"
	"github.com/talon-mfc/talon/queue"
)

// TestPrometheusScrapesServiceLevel runs a real Prometheus server against a
// talond whose clock the test moves: four walk-ins at demo-24h are called
// after 2, 10, 20 and 30 minutes, so exactly half are called within the
// 15-minute norm, and PromQL over the scraped histogram must say 0.5.
func TestPrometheusScrapesServiceLevel(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	promBin := testenv.Need(t, "prometheus", "a real Prometheus scraping talond")
	d := startDaemon(t, buildTalond(t), t.TempDir(), "-dev-clock")
	post := func(path string, body any) map[string]any {
		t.Helper()
		code, out := d.post(http.DefaultClient, path, body)
		if code/100 != 2 {
			t.Fatalf("POST %s: %d %v", path, code, out)
		}
		return out
	}
	advance := func(d time.Duration) map[string]any {
		return post("/api/v1/dev/clock", map[string]string{"advance": d.String()})
	}
	// Keep the scripted 30 minutes inside one local day in Barnaul.
	loc, _ := queue.LoadLocation("Asia/Barnaul")
	if now := time.Now().In(loc); now.Hour() == 23 {
		advance(time.Hour)
	}

	for range 4 {
		post("/api/v1/offices/demo-24h/tickets", map[string]string{"service": "passport"})
	}
	post("/api/v1/offices/demo-24h/windows/1/open", nil)
	for _, step := range []time.Duration{2 * time.Minute, 8 * time.Minute, 10 * time.Minute, 10 * time.Minute} {
		advance(step)
		tk := post("/api/v1/offices/demo-24h/windows/1/call-next", nil)
		if tk["number"] == nil {
			t.Fatalf("call-next called nobody: %v", tk)
		}
		post("/api/v1/offices/demo-24h/windows/1/start", nil)
		post("/api/v1/offices/demo-24h/windows/1/finish", nil)
	}

	dir := t.TempDir()
	promAddr := freePort(t)
	target, _ := url.Parse(d.base)
	cfg := fmt.Sprintf("global: {scrape_interval: 1s}\nscrape_configs:\n  - job_name: talon\n    static_configs: [{targets: [%q]}]\n", target.Host)
	os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o600)
	prom := exec.Command(promBin, "--config.file="+filepath.Join(dir, "prometheus.yml"), "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+promAddr)
	var logs bytes.Buffer
	prom.Stdout, prom.Stderr = &logs, &logs
	if err := prom.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { prom.Process.Kill(); prom.Wait() }()

	query := func(q string) (float64, bool) {
		resp, err := http.Get("http://" + promAddr + "/api/v1/query?query=" + url.QueryEscape(q))
		if err != nil {
			return 0, false
		}
		defer resp.Body.Close()
		var out struct {
			Data struct {
				Result []struct {
					Value [2]any `json:"value"`
				} `json:"result"`
			} `json:"data"`
		}
		if json.NewDecoder(resp.Body).Decode(&out) != nil || len(out.Data.Result) != 1 {
			return 0, false
		}
		v, err := strconv.ParseFloat(out.Data.Result[0].Value[1].(string), 64)
		return v, err == nil
	}
	const serviceLevel = `sum(max without (instance) (talon_wait_seconds_bucket{office="demo-24h", le="900"}))
		/ sum(max without (instance) (talon_wait_seconds_count{office="demo-24h"}))`
	deadline := time.Now().Add(60 * time.Second)
	for {
		if v, ok := query(serviceLevel); ok {
			if v != 0.5 {
				t.Fatalf("15-minute service level = %v, want 0.5", v)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Prometheus never answered the service level:\n%s", logs.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	if v, ok := query(`sum(talon_tickets_issued_total{office="demo-24h"})`); !ok || v != 4 {
		t.Fatalf("tickets issued = %v, want 4", v)
	}
	if v, ok := query(`sum(talon_tickets_finished_total{office="demo-24h", outcome="served"})`); !ok || v != 4 {
		t.Fatalf("tickets served = %v, want 4", v)
	}
	if v, ok := query(`histogram_quantile(0.5, sum by (le) (talon_wait_seconds_bucket{office="demo-24h"}))`); !ok || v < 420 || v > 900 {
		t.Fatalf("median wait = %v s, want between the 420 and 900 s bounds", v)
	}
}
