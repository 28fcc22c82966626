package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestPeopleAtWorkInBrowser: at demo-24h with staff accounts, in Chromium,
//   - the hall administrator signs in at the desk, issues a priority ticket,
//     finds a booking by the applicant's phone and checks them in;
//   - an operator signs in at window 1, calls a chosen ticket out of turn,
//     postpones one and transfers one to window 3, where the next operator
//     sees it first in their queue;
//   - the supervisor sees an applicant who has waited past 15 minutes
//     highlighted, and gives window 2 passports for the day, after which
//     window 2 calls a passport applicant.
func TestPeopleAtWorkInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	ctx, cancel := browser(t)
	defer cancel()
	d := startDaemon(t, buildTalond(t), t.TempDir(), "-dev-clock")
	now := d.awayFromMidnight()
	for id, role := range map[string]string{"ivanova": "operator", "petrov": "operator", "sidorova": "supervisor", "zala": "hall_admin"} {
		body, _ := json.Marshal(map[string]any{"name": strings.ToUpper(id[:1]) + id[1:], "roles": []string{role}, "offices": []string{"demo-24h"}, "password": "secret-" + id})
		if code, _, out := send(t, d, "PUT", "/api/v1/employees/"+id, "", body); code != 200 {
			t.Fatalf("employee %s: %d %v", id, code, out)
		}
	}
	next := now.Truncate(15 * time.Minute).Add(15 * time.Minute)
	d.mustPost("/api/v1/bookings", map[string]any{"office": "demo-24h", "service": "passport", "start": next.Format(time.RFC3339),
		"applicant": map[string]string{"name": "Смирнова Анна", "phone": "+7 913 000-00-07"}})
	type step = chromedp.Action[chromedp.Void]
	run := func(what string, steps ...step) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Text(sel))
		if err != nil {
			t.Fatalf("%s: %v", sel, err)
		}
		return v
	}
	js := func(expr string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		return v
	}
	signIn := func(id string) []step {
		return []step{chromedp.WaitVisible(`#sign-in`), chromedp.SendKeys(`#employee`, id),
			chromedp.SendKeys(`#password`, "secret-"+id+"\r"), chromedp.WaitVisible(`#sign-out`)}
	}
	signOut := []step{chromedp.Click(`#sign-out`), chromedp.WaitVisible(`#sign-in`)}

	// The desk.
	run("the desk", append([]step{chromedp.Navigate(d.base + "/desk/demo-24h")}, signIn("zala")...)...)
	waitJS(t, ctx, "the desk's categories", `!!document.querySelector('#category option[value="disabled"]')`, 5*time.Second)
	run("a priority ticket", chromedp.SetValue(`#service`, "passport"), chromedp.SetValue(`#category`, "disabled"), chromedp.Click(`#issue`))
	waitJS(t, ctx, "the issued ticket", `!!document.querySelector("#issued .msg")`, 5*time.Second)
	if msg := text(`#issued`); !strings.Contains(msg, "П-") {
		t.Fatalf("the desk issued nothing: %s", msg)
	}
	issued := text(`#issued-number`)
	if q := queueOf(t, d); !strings.Contains(q, issued+" disabled") {
		t.Fatalf("the desk's ticket %s is not a priority one: %s", issued, q)
	}
	run("find by phone", chromedp.SendKeys(`#query`, "8 913 000-00-07"), chromedp.Click(`#find-button`))
	waitJS(t, ctx, "the booking found", `document.querySelectorAll("#found tr").length > 0`, 5*time.Second)
	if found := text(`#found`); !strings.Contains(found, "Смирнова Анна") || !strings.Contains(found, "Зарегистрировать") {
		t.Fatalf("found: %s", text(`#found`))
	}
	js(`document.querySelector("button[data-checkin]").click(); "clicked"`)
	waitJS(t, ctx, "checked in", `!!document.querySelector("#checked .msg")`, 5*time.Second)
	if msg := text(`#checked`); !strings.Contains(msg, "П") {
		t.Fatalf("check-in: %s", msg)
	}
	screenshot(t, ctx, "desk")
	run("sign out at the desk", signOut...)

	// Window 1.
	for range 3 {
		d.mustPost("/api/v1/offices/demo-24h/tickets", map[string]string{"service": "passport"})
	}
	run("the operator", append([]step{chromedp.Navigate(d.base + "/operator/demo-24h/1")}, signIn("ivanova")...)...)
	run("open window 1", chromedp.Click(`button[data-action="open"]`))
	waitJS(t, ctx, "the window open", `document.getElementById("state").textContent.includes("открыто")`, 5*time.Second)
	waitJS(t, ctx, "the queue", `document.querySelectorAll("#queue button[data-call]").length >= 4`, 5*time.Second)
	chosen := js(`[...document.querySelectorAll("#queue tr")].at(-1).dataset.number`)
	run("a chosen ticket", chromedp.SendKeys(`#reason`, "заявитель с ребёнком на руках"),
		chromedp.Click(fmt.Sprintf(`button[data-call=%q]`, chosen)))
	waitJS(t, ctx, "the chosen ticket called", fmt.Sprintf(`document.getElementById("current").textContent === %q`, chosen), 5*time.Second)
	run("postpone it", chromedp.Click(`button[data-action="start"]`), chromedp.Click(`button[data-action="postpone"]`))
	waitJS(t, ctx, "the window free again", `document.getElementById("current").textContent === "—"`, 5*time.Second)
	run("call the next", chromedp.Click(`button[data-action="call-next"]`))
	waitJS(t, ctx, "another ticket called", fmt.Sprintf(`!["—", %q].includes(document.getElementById("current").textContent)`, chosen), 5*time.Second)
	transferred := text(`#current`)
	run("transfer it", chromedp.Click(`button[data-action="start"]`),
		chromedp.SendKeys(`#to-window`, "3"), chromedp.Click(`button[data-action="transfer"]`))
	waitJS(t, ctx, "the window free after the transfer", `document.getElementById("current").textContent === "—"`, 5*time.Second)
	screenshot(t, ctx, "operator-levers")
	run("sign out at window 1", signOut...)
	run("window 3", append([]step{chromedp.Navigate(d.base + "/operator/demo-24h/3")}, signIn("petrov")...)...)
	waitJS(t, ctx, "the transferred ticket first at window 3", fmt.Sprintf(`document.querySelector("#queue tr") && document.querySelector("#queue tr").dataset.number === %q && document.querySelector("#queue tr").textContent.includes("передан")`, transferred), 5*time.Second)
	run("sign out at window 3", signOut...)

	// The supervisor.
	run("the supervisor", append(append([]step{chromedp.Navigate(d.base + "/supervisor/demo-24h")}, signIn("sidorova")...), chromedp.WaitVisible(`#waiting tr`))...)
	waitJS(t, ctx, "nobody late yet", `document.querySelectorAll("#waiting tr.late").length === 0`, 5*time.Second)
	d.mustPost("/api/v1/dev/clock", map[string]string{"advance": "16m"})
	waitJS(t, ctx, "an applicant past 15 minutes highlighted", `document.querySelectorAll("#waiting tr.late").length > 0 && document.querySelectorAll("#services tr.late").length > 0`, 10*time.Second)
	js(`document.querySelectorAll('tr[data-window="2"] input[type=checkbox]').forEach(i => { i.checked = i.value === "passport" }); "ok"`)
	run("window 2 takes passports today", chromedp.Click(`button[data-save="2"]`))
	waitJS(t, ctx, "window 2's services saved", `[...document.querySelectorAll('tr[data-window="2"] input:checked')].map(i => i.value).join() === "passport"`, 5*time.Second)
	screenshot(t, ctx, "supervisor")
	// Window 2 (egrn and snils of its own) now calls a passport applicant.
	code, s := d.post(http.DefaultClient, "/api/v1/sessions", map[string]string{"employee": "petrov", "password": "secret-petrov"})
	if code != 201 {
		t.Fatalf("sign in: %d %v", code, s)
	}
	tok := s["token"].(string)
	for _, a := range []string{"sign-in", "open", "call-next"} {
		code, _, out := send(t, d, "POST", "/api/v1/offices/demo-24h/windows/2/"+a, tok, nil)
		if code != 200 {
			t.Fatalf("%s at window 2: %d %v", a, code, out)
		}
		if a == "call-next" && out["service"] != "passport" {
			t.Fatalf("window 2 called %v", out)
		}
	}
	// Who did what: every command of the pages has its employee.
	_, audit := d.get("/api/v1/offices/demo-24h/audit")
	for _, want := range []string{`"actor":"employee:zala","what":"issue"`, `"actor":"employee:zala","what":"check-in"`,
		`"actor":"employee:ivanova","what":"sign-in"`, `"actor":"employee:ivanova","what":"call"`, `"actor":"employee:ivanova","what":"postpone"`,
		`"actor":"employee:ivanova","what":"transfer"`, `"actor":"employee:sidorova","what":"services"`, `"actor":"employee:petrov","what":"call-next"`} {
		if !strings.Contains(audit, want) {
			t.Errorf("the audit has no %s:\n%s", want, audit)
		}
	}
}

// queueOf lists demo-24h's waiting tickets as "number category" pairs.
func queueOf(t *testing.T, d *daemon) string {
	code, body := d.get("/api/v1/offices/demo-24h/queue")
	if code != 200 {
		t.Fatalf("queue: %d %s", code, body)
	}
	var q struct {
		Waiting []struct{ Number, Category string }
	}
	json.Unmarshal([]byte(body), &q)
	var out []string
	for _, w := range q.Waiting {
		out = append(out, w.Number+" "+w.Category)
	}
	return strings.Join(out, ", ")
}
