package main

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"

	"github.com/talon-mfc/talon/queue"
)

// js evaluates a JavaScript expression in the page.
func js[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return v
}

// choose sets a select or input and tells the page, as a person would.
func choose(t *testing.T, ctx context.Context, id, value string) {
	t.Helper()
	js[string](t, ctx, fmt.Sprintf(`(e => { e.value = %q; e.dispatchEvent(new Event("change")); return e.value })(document.getElementById(%q))`, value, id))
}

// noSideScroll fails when the page is wider than its viewport.
func noSideScroll(t *testing.T, ctx context.Context, where string) {
	t.Helper()
	if w := js[[]int](t, ctx, `[document.documentElement.scrollWidth, window.innerWidth]`); w[0] > w[1] {
		t.Errorf("%s: the page is %d px wide in a %d px viewport", where, w[0], w[1])
	}
}

// bookingDay is the next weekday of brn-center's (Asia/Barnaul) that is
// not a holiday of the demo region.
func bookingDay() string {
	loc, _ := queue.LoadLocation("Asia/Barnaul")
	d := time.Now().In(loc).AddDate(0, 0, 1)
	for d.Weekday() == time.Saturday || d.Weekday() == time.Sunday || (d.Month() == time.December && d.Day() == 31) || (d.Month() == time.January && d.Day() <= 8) {
		d = d.AddDate(0, 0, 1)
	}
	return d.Format(time.DateOnly)
}

// TestPortalInBrowser: at phone and desktop width the portal books a time
// after 16:00 at brn-center through its form, holds and confirms it, shows
// the talon with a QR code check-in accepts, moves it and cancels it, with
// no sideways scrolling; a time taken meanwhile gets the Russian message and
// the nearest free times.
func TestPortalInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	d := startDaemon(t, buildTalond(t), t.TempDir())
	day := bookingDay()
	for i, vp := range []struct {
		name string
		w, h int64
		opts []chromedp.EmulateViewportOption
	}{{"phone", 390, 844, []chromedp.EmulateViewportOption{chromedp.EmulateMobile, chromedp.EmulatePortrait, chromedp.EmulateTouch}}, {"desktop", 1920, 1080, nil}} {
		t.Run(vp.name, func(t *testing.T) {
			ctx, cancel := browser(t)
			defer cancel()
			if err := chromedp.Do(ctx, chromedp.EmulateViewport(vp.w, vp.h, vp.opts...), chromedp.Navigate(d.base+"/")); err != nil {
				t.Fatal(err)
			}
			waitJS(t, ctx, "the offices", `!!document.querySelector('#office option[value="brn-center"]')`, 10*time.Second)
			choose(t, ctx, "office", "brn-center")
			choose(t, ctx, "service", "passport")
			choose(t, ctx, "date", day)
			late := `[...document.querySelectorAll("#slots button")].filter(b => b.textContent >= "16:00")`
			waitJS(t, ctx, "times after 16:00", late+`.length > 3`, 10*time.Second)
			noSideScroll(t, ctx, "the times")
			screenshot(t, ctx, "portal-"+vp.name)
			pick := func(n int) string {
				return js[string](t, ctx, fmt.Sprintf(`(b => { b.click(); return b.dataset.start })(%s[%d])`, late, n))
			}
			start := pick(2 * i)
			if vp.name == "phone" {
				// Someone takes the time while this applicant types.
				for k := range 3 {
					d.post(http.DefaultClient, "/api/v1/bookings", map[string]any{"office": "brn-center", "service": "passport", "start": start,
						"applicant": map[string]string{"name": "Другой Заявитель", "phone": fmt.Sprintf("+7913555000%d", k)}})
				}
			}
			if err := chromedp.Do(ctx, chromedp.SendKeys(`#name`, "Иванова Мария Петровна"), chromedp.SendKeys(`#phone`, "8 (913) 000-00-4"+fmt.Sprint(i)),
				chromedp.Click(`#hold`)); err != nil {
				t.Fatal(err)
			}
			if vp.name == "phone" {
				waitJS(t, ctx, "the taken time's message", `!!document.getElementById("message")`, 10*time.Second)
				if msg := js[string](t, ctx, `document.getElementById("message").textContent`); !strings.Contains(msg, "уже заняли") ||
					!js[bool](t, ctx, `document.querySelectorAll("#alternatives button").length > 0`) {
					t.Fatalf("a taken time: %q", msg)
				}
				screenshot(t, ctx, "portal-taken")
				// The times again, read anew: without the one taken (a list
				// still on the page from before would offer its neighbour,
				// which the taken visits' second slot fills too).
				waitJS(t, ctx, "the times again", fmt.Sprintf(`%s.length > 3 && !%s.some(b => b.dataset.start === %q)`, late, late, start), 10*time.Second)
				start = pick(1)
				if err := chromedp.Do(ctx, chromedp.Click(`#hold`)); err != nil {
					t.Fatal(err)
				}
			}
			waitJS(t, ctx, "the hold", `!document.getElementById("held").classList.contains("hidden")`, 10*time.Second)
			if err := chromedp.Do(ctx, chromedp.Click(`#confirm`)); err != nil {
				t.Fatal(err)
			}
			waitJS(t, ctx, "the talon", `!!document.getElementById("talon-number") && document.getElementById("talon-qr").naturalWidth > 0`, 10*time.Second)
			noSideScroll(t, ctx, "the talon")
			screenshot(t, ctx, "portal-talon-"+vp.name)
			ref := strings.TrimPrefix(js[string](t, ctx, `location.hash`), "#booking=")

			// The QR code the page shows is one check-in accepts (too early
			// for a visit on another day, but a valid talon of this office).
			resp, err := http.Get(d.base + "/api/v1/bookings/" + ref + "/ticket.png")
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			img, err := png.Decode(bytes.NewReader(raw))
			if err != nil {
				t.Fatal(err)
			}
			bmp, _ := gozxing.NewBinaryBitmapFromImage(img)
			qr, err := qrcode.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_TRY_HARDER: true})
			if err != nil {
				t.Fatal(err)
			}
			if code, out := d.post(http.DefaultClient, "/api/v1/offices/brn-center/checkin", map[string]string{"qr": qr.GetText()}); code != 422 || !strings.Contains(fmt.Sprint(out["error"]), "code:too_early") {
				t.Fatalf("check-in of the talon's QR code: %d %v", code, out)
			}

			// Move it to another time after 16:00, then cancel it.
			if err := chromedp.Do(ctx, chromedp.Click(`#move`)); err != nil {
				t.Fatal(err)
			}
			waitJS(t, ctx, "the move", `!document.getElementById("mode").classList.contains("hidden")`, 10*time.Second)
			waitJS(t, ctx, "the times to move to", late+`.length > 3`, 10*time.Second)
			moved := pick(3)
			waitJS(t, ctx, "the moved talon", fmt.Sprintf(`document.getElementById("talon").textContent.includes(%q)`, moved[11:16]), 10*time.Second)
			_, body := d.get("/api/v1/bookings/" + ref)
			if !strings.Contains(body, `"start":"`+moved+`"`) || start == moved {
				t.Fatalf("moved from %s to %s: %s", start, moved, body)
			}
			if err := chromedp.Do(ctx, chromedp.Click(`#cancel`), chromedp.Click(`#cancel`)); err != nil {
				t.Fatal(err)
			}
			waitJS(t, ctx, "the cancellation", `document.querySelector("#talon h3").textContent === "Запись отменена"`, 10*time.Second)
			if _, body := d.get("/api/v1/bookings/" + ref); !strings.Contains(body, `"status":"cancelled"`) {
				t.Fatalf("after the cancel: %s", body)
			}
		})
	}
}

// TestPagesInTheOfficesTime: a hall screen in a browser on another zone
// shows the office's time; an unknown office or window gets a clear page.
func TestPagesInTheOfficesTime(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	d := startDaemon(t, buildTalond(t), t.TempDir())
	ctx, cancel := browser(t)
	defer cancel()
	zone := chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "America/New_York"})
		return err
	})
	if err := chromedp.Do(ctx, zone, chromedp.Navigate(d.base+"/display/demo-24h")); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "the clock", `document.getElementById("clock").textContent.length === 5`, 10*time.Second)
	loc, _ := queue.LoadLocation("Asia/Barnaul")
	ny, _ := queue.LoadLocation("America/New_York")
	shown := js[string](t, ctx, `document.getElementById("clock").textContent`)
	now := time.Now()
	if shown != now.In(loc).Format("15:04") && shown != now.Add(-time.Minute).In(loc).Format("15:04") {
		t.Fatalf("the hall screen shows %s; Barnaul's time is %s, the browser's %s", shown, now.In(loc).Format("15:04"), now.In(ny).Format("15:04"))
	}
	if js[string](t, ctx, `Intl.DateTimeFormat().resolvedOptions().timeZone`) != "America/New_York" {
		t.Fatal("the browser's zone was not changed: the test proves nothing")
	}
	// The screen above window 1 shows the ticket called to it.
	tk := d.mustPost("/api/v1/offices/demo-24h/tickets", map[string]string{"service": "passport"})
	d.mustPost("/api/v1/offices/demo-24h/windows/1/open", nil)
	d.mustPost("/api/v1/offices/demo-24h/windows/1/call-next", nil)
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 720), chromedp.Navigate(d.base+"/window/demo-24h/1")); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "the window screen", fmt.Sprintf(`document.getElementById("ticket").textContent === %q`, tk["number"]), 10*time.Second)
	screenshot(t, ctx, "window-screen")
	for _, path := range []string{"/display/demo24h", "/operator/demo-24h/9", "/window/demo-24h/9", "/kiosk/nowhere", "/checkin/nowhere"} {
		if err := chromedp.Do(ctx, chromedp.Navigate(d.base+path)); err != nil {
			t.Fatal(err)
		}
		waitJS(t, ctx, path+": a clear page", `!!document.getElementById("not-found")`, 10*time.Second)
	}
}
