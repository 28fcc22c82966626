package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/talon-mfc/talon/internal/testenv"
	"github.com/talon-mfc/talon/queue"
)

// The browser tests drive a real headless Chromium (Debian's, installed by
// .ci/run) against a running talond. TALON_SCREENSHOTS=docs/screenshots
// also saves screenshots of the pages there.

func browser(t *testing.T) (context.Context, context.CancelFunc) {
	t.Helper()
	path := testenv.Need(t, "chromium", "the pages in a real browser")
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"), chromedp.WindowSize(1600, 900))
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(alloc)
	// Whatever the pages' Content-Security-Policy blocks fails the test.
	var mu sync.Mutex
	var blocked []string
	err := chromedp.Listen(ctx, func(ev any) {
		var text string
		switch e := ev.(type) {
		case *cdplog.EventEntryAdded:
			text = e.Entry.Text
		case *runtime.EventConsoleAPICalled:
			for _, a := range e.Args {
				text += string(a.Value)
			}
		}
		if strings.Contains(text, "Content Security Policy") {
			mu.Lock()
			blocked = append(blocked, text)
			mu.Unlock()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, b := range blocked {
			t.Errorf("the page's Content-Security-Policy blocked something: %s", b)
		}
	})
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	return ctx, func() { cancelTimeout(); cancelCtx(); cancelAlloc() }
}

// waitJS polls a JavaScript condition in the page until it holds.
func waitJS(t *testing.T, ctx context.Context, what, cond string, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		if ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](cond)); err == nil && ok {
			return time.Since(start)
		}
		if time.Since(start) > within {
			t.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func screenshot(t *testing.T, ctx context.Context, name string) {
	dir := os.Getenv("TALON_SCREENSHOTS")
	if dir == "" {
		return
	}
	waitJS(t, ctx, "the page settled for its screenshot", `document.readyState === "complete" && document.fonts.status === "loaded"`, 5*time.Second)
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644)
}

// awayFromMidnight is the daemon's time in Barnaul, after moving its dev
// clock past midnight when it is 22:00 or later: a day's window time ends
// at midnight, so a passport visit (two slots) booked for the next quarter
// hour would not fit then, and a test's queue would end with the day.
func (d *daemon) awayFromMidnight() time.Time {
	d.t.Helper()
	loc, _ := queue.LoadLocation("Asia/Barnaul")
	now := time.Now().In(loc)
	if now.Hour() < 22 {
		return now
	}
	at := time.Date(now.Year(), now.Month(), now.Day()+1, 0, 5, 0, 0, loc)
	d.mustPost("/api/v1/dev/clock", map[string]string{"advance": at.Sub(now).Round(time.Second).String()})
	return at
}

func (d *daemon) mustPost(path string, body any) map[string]any {
	d.t.Helper()
	code, out := d.post(http.DefaultClient, path, body)
	if code/100 != 2 {
		d.t.Fatalf("POST %s: %d %v", path, code, out)
	}
	return out
}

// TestHallDisplayInBrowser: a call appears on the hall display within a
// second and is announced once; ten calls made at once all appear, each
// queued for announcement once, in order; after the server drops the
// connection the display reconnects and shows the calls made meanwhile
// exactly once.
func TestHallDisplayInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	ctx, cancel := browser(t)
	defer cancel()
	d := startDaemon(t, buildTalond(t), t.TempDir(), "-dev-clock")
	for w := 1; w <= 3; w++ {
		d.mustPost(fmt.Sprintf("/api/v1/offices/demo-24h/windows/%d/open", w), nil)
	}
	for i := range 24 {
		service := "passport" // windows 1 and 3
		if i%2 == 1 {
			service = "egrn" // windows 2 and 3
		}
		d.mustPost("/api/v1/offices/demo-24h/tickets", map[string]string{"service": service})
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(d.base+"/display/demo-24h")); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "the display connects", `!document.body.classList.contains("is-offline") && document.querySelector("#waiting .svc") !== null`, 10*time.Second)

	// One call: on screen within a second, announced once.
	sent := time.Now()
	tk := d.mustPost("/api/v1/offices/demo-24h/windows/1/call-next", nil)
	first := tk["number"].(string)
	waitJS(t, ctx, "the call on screen", fmt.Sprintf(`document.querySelector('tr[data-ticket=%q]') !== null`, first), time.Second)
	shown := time.Since(sent)
	waitJS(t, ctx, "the announcement", fmt.Sprintf(`window.talonAnnounced.includes(%q)`, first+"→1"), 5*time.Second)
	screenshot(t, ctx, "hall-display-one-call")

	// Ten calls at once, over three windows.
	var mu sync.Mutex
	var ten []string
	var wg sync.WaitGroup
	for w := 1; w <= 3; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 4 && !(w == 3 && i == 2); i++ { // 4 + 4 + 2 calls
				d.post(http.DefaultClient, fmt.Sprintf("/api/v1/offices/demo-24h/windows/%d/start", w), nil) // the one called before, if any
				code, out := d.post(http.DefaultClient, fmt.Sprintf("/api/v1/offices/demo-24h/windows/%d/call-next", w), nil)
				if code != 200 {
					t.Errorf("call-next: %d %v", code, out)
					return
				}
				mu.Lock()
				ten = append(ten, fmt.Sprintf("%s→%d", out["number"], w))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(ten) != 10 {
		t.Fatalf("%d calls made", len(ten))
	}
	for _, c := range ten {
		num := strings.Split(c, "→")[0]
		waitJS(t, ctx, "call "+c+" on screen", fmt.Sprintf(`document.querySelector('tr[data-ticket=%q]') !== null`, num), 3*time.Second)
	}
	checkAnnouncements(t, ctx, append([]string{first + "→1"}, ten...))
	screenshot(t, ctx, "hall-display")

	// The server drops every screen; calls are made while it reconnects.
	d.mustPost("/api/v1/dev/drop-screens", nil)
	var meanwhile []string
	for w := 1; w <= 3; w++ {
		d.post(http.DefaultClient, fmt.Sprintf("/api/v1/offices/demo-24h/windows/%d/start", w), nil)
		out := d.mustPost(fmt.Sprintf("/api/v1/offices/demo-24h/windows/%d/call-next", w), nil)
		meanwhile = append(meanwhile, fmt.Sprintf("%s→%d", out["number"], w))
	}
	for _, c := range meanwhile {
		num := strings.Split(c, "→")[0]
		waitJS(t, ctx, "call "+c+" after the reconnect", fmt.Sprintf(`document.querySelector('tr[data-ticket=%q]') !== null`, num), 10*time.Second)
	}
	checkAnnouncements(t, ctx, append(append([]string{first + "→1"}, ten...), meanwhile...))
	t.Logf("a call reached the hall display %s after the API call; 10 simultaneous calls and 3 made during a reconnect all shown and queued once", shown.Round(time.Millisecond))
}

// checkAnnouncements: every call was queued for announcement exactly once,
// and what was announced so far is the queue's beginning, in order.
func checkAnnouncements(t *testing.T, ctx context.Context, calls []string) {
	t.Helper()
	waitJS(t, ctx, "all calls queued for announcement", fmt.Sprintf(`window.talonQueued.length >= %d`, len(calls)), 5*time.Second)
	queued, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`window.talonQueued`))
	if err != nil {
		t.Fatal(err)
	}
	announced, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`window.talonAnnounced`))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, q := range queued {
		seen[q]++
	}
	for _, c := range calls {
		if seen[c] != 1 {
			t.Fatalf("call %s queued for announcement %d times: %v", c, seen[c], queued)
		}
	}
	if len(queued) != len(calls) {
		t.Fatalf("%d announcements queued for %d calls: %v", len(queued), len(calls), queued)
	}
	for i, a := range announced {
		if queued[i] != a {
			t.Fatalf("announced %v, not in the order queued %v", announced, queued)
		}
	}
}

// TestFrontDeskInBrowser: the kiosk issues a ticket; the operator panel
// opens its window and calls the next ticket; the check-in page accepts a
// valid QR code (typed by a handheld scanner) and rejects a forged one.
func TestFrontDeskInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	ctx, cancel := browser(t)
	defer cancel()
	d := startDaemon(t, buildTalond(t), t.TempDir(), "-dev-clock")
	now := d.awayFromMidnight()

	// Kiosk.
	if err := chromedp.Do(ctx,
		chromedp.Navigate(d.base+"/kiosk/demo-24h"),
		chromedp.WaitVisible(`#services button[data-service="passport"]`),
	); err != nil {
		t.Fatal(err)
	}
	screenshot(t, ctx, "kiosk")
	if err := chromedp.Do(ctx, chromedp.Click(`#services button[data-service="passport"]`), chromedp.WaitVisible(`#number`)); err != nil {
		t.Fatal(err)
	}
	number, err := chromedp.Run(ctx, chromedp.Text(`#number`))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^П-\d{3}$`).MatchString(number) {
		t.Fatalf("the kiosk printed %q", number)
	}
	screenshot(t, ctx, "kiosk-ticket")

	// Operator panel of window 1 (passport): open the window, call the next,
	// which is the kiosk's ticket.
	if err := chromedp.Do(ctx,
		chromedp.Navigate(d.base+"/operator/demo-24h/1"),
		chromedp.WaitVisible(`button[data-action="open"]`),
		chromedp.Click(`button[data-action="open"]`),
	); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "the window open", `document.getElementById("state").textContent.includes("открыто")`, 5*time.Second)
	if err := chromedp.Do(ctx, chromedp.Click(`button[data-action="call-next"]`)); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "the called ticket on the panel", fmt.Sprintf(`document.getElementById("current").textContent === %q`, number), 5*time.Second)
	d.mustPost("/api/v1/offices/demo-24h/tickets", map[string]string{"service": "passport"})
	d.mustPost("/api/v1/offices/demo-24h/tickets", map[string]string{"service": "registration"})
	waitJS(t, ctx, "the queue on the panel", `document.querySelectorAll("#queue tr").length >= 2`, 5*time.Second)
	screenshot(t, ctx, "operator-panel")

	// Check-in with a talon booked for the next quarter hour.
	next := now.Truncate(15 * time.Minute).Add(15 * time.Minute)
	b := d.mustPost("/api/v1/bookings", map[string]any{"office": "demo-24h", "service": "passport", "start": next.Format(time.RFC3339),
		"applicant": map[string]string{"name": "Иванова Мария", "phone": "+7 913 000-00-01"}})
	forged := strings.Replace(b["qr"].(string), "A", "B", 1)
	if err := chromedp.Do(ctx,
		chromedp.Navigate(d.base+"/checkin/demo-24h"),
		chromedp.WaitVisible(`#code`),
		chromedp.SendKeys(`#code`, forged+"\r"),
		chromedp.WaitVisible(`#outcome`),
	); err != nil {
		t.Fatal(err)
	}
	outcome, err := chromedp.Run(ctx, chromedp.AttributeValue(`#outcome`, "data-outcome"))
	if err != nil || outcome.Value != "invalid_qr" {
		t.Fatalf("a forged QR code: %+v %v", outcome, err)
	}
	if err := chromedp.Do(ctx, chromedp.SendKeys(`#code`, b["qr"].(string)+"\r")); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "the check-in accepted", `document.getElementById("outcome") && document.getElementById("outcome").dataset.outcome === "ok"`, 5*time.Second)
	screenshot(t, ctx, "check-in")
}

// TestStaffingInBrowser: a week after an hour in which eight passport
// applicants came to demo-24h, the supervisor's plan page shows windows
// planned for that hour, and, in the current hour's row, which open
// windows the plan does not have and which planned ones are closed.
func TestStaffingInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	ctx, cancel := browser(t)
	defer cancel()
	d := startDaemon(t, buildTalond(t), t.TempDir(), "-dev-clock")
	loc, _ := queue.LoadLocation("Asia/Barnaul")
	hour := time.Now().In(loc).Format("15") + ":00"
	for range 8 {
		d.mustPost("/api/v1/offices/demo-24h/tickets", map[string]string{"service": "passport"})
	}
	d.mustPost("/api/v1/dev/clock", map[string]string{"advance": "168h"})
	d.mustPost("/api/v1/offices/demo-24h/windows/1/open", nil)
	d.mustPost("/api/v1/offices/demo-24h/windows/2/open", nil)
	if err := chromedp.Do(ctx, chromedp.Navigate(d.base+"/staffing/demo-24h"), chromedp.WaitVisible(`#plan tr td`)); err != nil {
		t.Fatal(err)
	}
	row := fmt.Sprintf(`[...document.querySelectorAll("#plan tr")].find(r => r.cells[0].textContent === %q)`, hour)
	waitJS(t, ctx, "windows planned for the hour of the crowd", row+`.cells[2].textContent !== "—"`, 30*time.Second)
	if now, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("now") ? document.getElementById("now").cells[0].textContent : ""`)); err != nil || now != hour {
		t.Logf("the hour turned (%q, %v): the open windows are not compared", now, err)
		return
	}
	// Window 2 (egrn, snils) serves no passport: open, but not in the plan.
	waitJS(t, ctx, "window 2 open beyond the plan", `[...document.querySelectorAll("#now .extra-open")].some(e => e.textContent === "2")`, 5*time.Second)
	planned, err := chromedp.Run(ctx, chromedp.Evaluate[string](row+`.cells[2].textContent`))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(planned, "3") {
		waitJS(t, ctx, "window 3 planned but closed", `document.querySelector("#now .missing").textContent.includes("3")`, 5*time.Second)
	}
	screenshot(t, ctx, "staffing")
}
