package api_test

import (
	"context"
	"image/png"

	"bytes"
	"encoding/json"
	"fmt"
	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
	"io"
	"net"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"

	"github.com/talon-mfc/talon/api"
	"github.com/talon-mfc/talon/internal/memstore"
	"github.com/talon-mfc/talon/queue"
	"github.com/talon-mfc/talon/scheduler"
)

var barnaul, _ = queue.LoadLocation("Asia/Barnaul")

func allDay() map[string]string {
	h := map[string]string{}
	for _, d := range []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"} {
		h[d] = "00:00-24:00"
	}
	return h
}

func testRegion() *queue.Region {
	return &queue.Region{
		Name: "test",
		Services: []queue.Service{
			{ID: "passport", Name: "Паспорт", Letter: "П", AvgMinutes: 20, Bookable: true},
			{ID: "consult", Name: "Консультация", Letter: "К", AvgMinutes: 5},
		},
		Offices: []queue.OfficeConfig{
			{ID: "brn", Name: "Барнаул", Address: "пр-т Ленина, 1", Timezone: "Asia/Barnaul", Hours: allDay(), Services: []string{"passport", "consult"},
				Windows: []queue.WindowConfig{
					{Number: 1, Services: []string{"passport"}, Bookings: true},
					{Number: 2, Services: []string{"passport", "consult"}, Bookings: true},
					{Number: 3, Services: []string{"passport"}, Bookings: true},
				}},
			{ID: "bsk", Name: "Бийск", Address: "ул. Ленина, 1", Timezone: "Asia/Barnaul", Hours: allDay(), Services: []string{"passport"},
				Windows: []queue.WindowConfig{{Number: 1, Services: []string{"passport"}, Bookings: true}}},
		},
	}
}

type node struct {
	t    *testing.T
	base string
	keys *queue.Keyring
	auth string
	mu   sync.Mutex
	last http.Header // of the last answer
}

var _ api.Store = (*memstore.Store)(nil)

// start runs the API on loopback over an in-memory node: the HTTP behaviour
// is this package's; replication and read levels are tested with real nodes
// in package cluster and cmd/talond.
func start(t *testing.T, tokens map[string]api.Grant) *node {
	t.Helper()
	store := memstore.New(scheduler.Default{})
	keys, _ := queue.NewKeyring("k1", bytes.Repeat([]byte{7}, 32), nil)
	srv := api.New(api.Config{Store: store, Keys: keys, Policy: scheduler.Default{}, Tokens: tokens, DevClock: true})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &fasthttp.Server{}
	srv.Configure(hs)
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Shutdown(); store.Close() })
	n := &node{t: t, base: "http://" + ln.Addr().String(), keys: keys}
	for tok, g := range tokens {
		if g.Role == api.RoleAdmin {
			n.auth = tok
		}
	}
	if code, body := n.call("PUT", "/api/v1/region", testRegion()); code != 200 {
		t.Fatalf("region: %d %s", code, body)
	}
	n.auth = ""
	return n
}

func (n *node) call(method, path string, body any) (int, map[string]any) {
	n.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		js, _ := json.Marshal(b)
		rd = bytes.NewReader(js)
	}
	req, _ := http.NewRequest(method, n.base+path, rd)
	if n.auth != "" {
		req.Header.Set("Authorization", "Bearer "+n.auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		n.t.Fatal(err)
	}
	defer resp.Body.Close()
	n.mu.Lock()
	n.last = resp.Header
	n.mu.Unlock()
	raw, _ := io.ReadAll(resp.Body)
	out := map[string]any{}
	if len(raw) > 0 && json.Unmarshal(raw, &out) != nil {
		out["raw"] = string(raw)
	}
	return resp.StatusCode, out
}

func errCode(body map[string]any) string {
	e, _ := body["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

func (n *node) want(method, path string, body any, status int, code string) map[string]any {
	n.t.Helper()
	got, out := n.call(method, path, body)
	if got != status || errCode(out) != code {
		n.t.Fatalf("%s %s: %d %v, want %d %q", method, path, got, out, status, code)
	}
	return out
}

// slot is a local slot start d days from today at hh:mm, RFC 3339.
func slot(d, hh, mm int) string {
	n := time.Now().In(barnaul)
	return time.Date(n.Year(), n.Month(), n.Day()+d, hh, mm, 0, 0, barnaul).Format(time.RFC3339)
}

func booking(office, start, phone string, hold bool) map[string]any {
	return map[string]any{"office": office, "service": "passport", "start": start, "hold": hold,
		"applicant": map[string]string{"name": "Петрова Анна", "phone": phone}}
}

// TestBookingStorm: 200 concurrent clients race for passport visits at
// 10:00 and 10:15. A visit lasts 30 minutes and office brn has three
// windows for passports, so the two times share three windows: exactly
// three win. Every other answer is 409 slot_taken with alternatives; the
// window time shows three visits on three windows, and no free seat is
// left at either time.
func TestBookingStorm(t *testing.T) {
	n := start(t, nil)
	slots := []string{slot(1, 10, 0), slot(1, 10, 15)}
	var mu sync.Mutex
	won := map[string]int{}
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, out := n.call("POST", "/api/v1/bookings", booking("brn", slots[i%2], fmt.Sprintf("+7 913 %07d", i), false))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case code == 201 && out["status"] == "confirmed":
				won[out["start"].(string)]++
			case code == 409 && errCode(out) == "slot_taken":
				alt := out["error"].(map[string]any)["alternatives"].(map[string]any)
				if len(alt["same_office"].([]any)) == 0 || len(alt["other_offices"].([]any)) == 0 {
					t.Errorf("409 without alternatives: %v", out)
				}
			default:
				t.Errorf("unexpected answer %d %v", code, out)
			}
		}()
	}
	wg.Wait()
	if won[slots[0]]+won[slots[1]] != 3 {
		t.Fatalf("won %v, want 3 in all", won)
	}
	_, wt := n.call("GET", "/api/v1/offices/brn/window-time?date="+slots[0][:10], nil)
	windows := map[float64]bool{}
	for _, v := range wt["visits"].([]any) {
		windows[v.(map[string]any)["window"].(float64)] = true
	}
	if len(wt["visits"].([]any)) != 3 || len(windows) != 3 {
		t.Fatalf("window time %v", wt)
	}
	_, out := n.call("GET", "/api/v1/offices/brn/slots?service=passport&date="+slots[0][:10], nil)
	free := 0
	for _, s := range out["slots"].([]any) {
		sl := s.(map[string]any)
		if sl["start"] == slots[0] || sl["start"] == slots[1] {
			free += int(sl["free"].(float64))
		}
	}
	if free != 0 {
		t.Fatalf("%d seats still free after the storm", free)
	}
}

func TestBookingLifecycle(t *testing.T) {
	n := start(t, nil)
	b := n.want("POST", "/api/v1/bookings", booking("brn", slot(2, 11, 0), "89130000001", true), 201, "")
	if b["status"] != "held" || b["expires_at"] == "" || b["reschedules_left"] != 3.0 || b["qr"] == "" || b["number"] != "ПЗ-001" {
		t.Fatalf("held booking %v", b)
	}
	id := b["id"].(string)
	n.want("POST", "/api/v1/bookings/"+id+"/confirm", nil, 200, "")
	got := n.want("GET", "/api/v1/bookings/"+id, nil, 200, "")
	if got["status"] != "confirmed" || got["applicant"].(map[string]any)["phone"] != "+79130000001" {
		t.Fatalf("get %v", got)
	}
	moved := n.want("POST", "/api/v1/bookings/"+id+"/reschedule", map[string]string{"start": slot(3, 12, 30)}, 200, "")
	if moved["start"] != slot(3, 12, 30) || moved["reschedules_left"] != 2.0 || moved["qr"] == b["qr"] {
		t.Fatalf("moved %v", moved)
	}
	n.want("POST", "/api/v1/bookings/"+id+"/reschedule", map[string]string{"start": slot(40, 12, 30)}, 422, "outside_horizon")
	n.want("POST", "/api/v1/bookings/"+id+"/reschedule", map[string]string{"start": "tomorrow"}, 400, "invalid_request")
	c := n.want("DELETE", "/api/v1/bookings/"+id, nil, 200, "")
	if c["status"] != "cancelled" || c["qr"] != nil {
		t.Fatalf("cancel %v", c)
	}
	n.want("POST", "/api/v1/bookings/"+id+"/confirm", nil, 409, "cancelled")
	n.want("GET", "/api/v1/bookings/999", nil, 404, "not_found")
	n.want("GET", "/api/v1/bookings/abc", nil, 404, "not_found")
	n.want("POST", "/api/v1/bookings", "{not json", 400, "invalid_request")
	n.want("POST", "/api/v1/bookings", booking("brn", slot(31, 10, 0), "89130000002", false), 422, "outside_horizon")
	n.want("POST", "/api/v1/bookings", booking("brn", slot(1, 10, 5), "89130000002", false), 400, "invalid_request")
	n.want("POST", "/api/v1/bookings", booking("nowhere", slot(1, 10, 0), "89130000002", false), 404, "unknown_office")
	bad := booking("brn", slot(1, 10, 0), "89130000002", false)
	bad["service"] = "consult"
	n.want("POST", "/api/v1/bookings", bad, 422, "not_bookable")
	n.want("POST", "/api/v1/bookings", booking("brn", slot(1, 10, 0), "89130000002", false), 201, "")
	n.want("POST", "/api/v1/bookings", booking("bsk", slot(1, 11, 0), "89130000002", false), 422, "limit_exceeded")
}

func TestRateLimit(t *testing.T) {
	n := start(t, nil)
	var last int
	for i := range 8 {
		last, _ = n.call("POST", "/api/v1/bookings", booking("brn", slot(1, 9, 0), "89130000009", false))
		if i < 6 && last == 429 {
			t.Fatalf("limited after %d requests", i)
		}
	}
	if last != 429 {
		t.Fatalf("8 quick booking requests for one phone: last answer %d, want 429", last)
	}
}

func TestKioskCheckInAndWindow(t *testing.T) {
	n := start(t, nil)
	now := awayFromMidnight(n) // before anything: the jump would end the day's queue
	n.want("POST", "/api/v1/offices/brn/windows/1/call-next", nil, 409, "window_not_open")
	w := n.want("POST", "/api/v1/offices/brn/windows/1/open", nil, 200, "")
	if w["state"] != "open" {
		t.Fatalf("open %v", w)
	}
	if code, _ := n.call("POST", "/api/v1/offices/brn/windows/1/call-next", nil); code != 204 {
		t.Fatalf("call-next on an empty queue: %d", code)
	}
	tk := n.want("POST", "/api/v1/offices/brn/tickets", map[string]string{"service": "passport"}, 201, "")
	if tk["number"] != "П-001" || tk["position"] != 1.0 || tk["status"] != "waiting" {
		t.Fatalf("ticket %v", tk)
	}
	n.want("POST", "/api/v1/offices/brn/tickets", map[string]string{"service": "x"}, 422, "unknown_service")
	n.want("POST", "/api/v1/offices/zzz/tickets", map[string]string{"service": "passport"}, 404, "unknown_office")

	// A booking whose slot begins within the check-in window.
	next := now.Truncate(15 * time.Minute).Add(15 * time.Minute)
	b := n.want("POST", "/api/v1/bookings", booking("brn", next.Format(time.RFC3339), "89130000003", false), 201, "")
	qr := b["qr"].(string)
	n.want("POST", "/api/v1/offices/bsk/checkin", map[string]string{"qr": qr}, 422, "wrong_office")
	forged := []byte(qr)
	forged[10] ^= 1
	n.want("POST", "/api/v1/offices/brn/checkin", map[string]string{"qr": string(forged)}, 400, "invalid_qr")
	other, _ := queue.NewKeyring("k1", bytes.Repeat([]byte{8}, 32), nil)
	id := uint64(0)
	fmt.Sscan(b["id"].(string), &id)
	n.want("POST", "/api/v1/offices/brn/checkin", map[string]string{"qr": other.Sign(queue.Talon{Booking: id, Office: "brn", Start: next.Unix()})}, 400, "invalid_qr")
	ci := n.want("POST", "/api/v1/offices/brn/checkin", map[string]string{"qr": qr}, 200, "")
	if ci["number"] != b["number"] || ci["booking_id"] != b["id"] {
		t.Fatalf("check-in %v", ci)
	}
	n.want("POST", "/api/v1/offices/brn/checkin", map[string]string{"qr": qr}, 409, "already_checked_in")

	called := n.want("POST", "/api/v1/offices/brn/windows/1/call-next", nil, 200, "")
	if called["status"] != "called" || called["window"] != 1.0 {
		t.Fatalf("called %v", called)
	}
	n.want("POST", "/api/v1/offices/brn/windows/1/start", nil, 200, "")
	n.want("POST", "/api/v1/offices/brn/windows/1/redirect", map[string]string{"service": "consult"}, 200, "")
	n.want("POST", "/api/v1/offices/brn/windows/1/finish", nil, 409, "no_current_ticket")
	n.want("POST", "/api/v1/offices/brn/windows/1/dance", nil, 404, "not_found")
	n.want("POST", "/api/v1/offices/brn/windows/9/open", nil, 404, "unknown_window")
	q := n.want("GET", "/api/v1/offices/brn/queue", nil, 200, "")
	if len(q["waiting"].([]any)) != 2 || len(q["windows"].([]any)) != 3 {
		t.Fatalf("queue %v", q)
	}
	offices := n.want("GET", "/api/v1/offices", nil, 200, "")
	load := offices["offices"].([]any)[0].(map[string]any)["load"].(map[string]any)
	if load["waiting"] != 2.0 || load["open_windows"] != 1.0 || load["level"] == "" {
		t.Fatalf("load %v", load)
	}
	rec := n.want("GET", "/api/v1/recommend?service=passport", nil, 200, "")
	if first := rec["offices"].([]any)[0].(map[string]any); first["office"] != "bsk" || first["earliest_slot"] == nil {
		t.Fatalf("recommend %v", rec)
	}
}

func TestRoles(t *testing.T) {
	tokens := map[string]api.Grant{"admin-token-0123456789": {Role: api.RoleAdmin}, "kiosk-token-0123456789": {Role: api.RoleKiosk, Offices: []string{"brn"}},
		"display-token-012345678": {Role: api.RoleDisplay}, "portal-token-0123456789": {Role: api.RolePortal}}
	n := start(t, tokens)
	n.want("POST", "/api/v1/offices/brn/tickets", map[string]string{"service": "passport"}, 401, "unauthorized")
	n.auth = "nope"
	n.want("POST", "/api/v1/offices/brn/tickets", map[string]string{"service": "passport"}, 401, "unauthorized")
	n.auth = "portal-token-0123456789"
	n.want("POST", "/api/v1/offices/brn/tickets", map[string]string{"service": "passport"}, 403, "forbidden")
	n.auth = "kiosk-token-0123456789"
	n.want("POST", "/api/v1/offices/brn/tickets", map[string]string{"service": "passport"}, 201, "")
	n.want("POST", "/api/v1/offices/bsk/tickets", map[string]string{"service": "passport"}, 403, "forbidden")
	n.want("POST", "/api/v1/offices/brn/windows/1/open", nil, 403, "forbidden")
	n.auth = "display-token-012345678"
	n.want("GET", "/api/v1/offices/brn/queue", nil, 200, "")
	n.want("POST", "/api/v1/offices/brn/windows/1/open", nil, 403, "forbidden")
	n.auth = ""
	n.want("GET", "/api/v1/offices", nil, 200, "")
	if c := n.want("GET", "/api/v1/cluster", nil, 200, ""); c["auth"] != "tokens" || c["state"] != "Leader" {
		t.Fatalf("cluster %v", c)
	}
}

// TestTokenInURL: a token in the URL opens only the reads pages make (an
// image, the screens' feed); a write or an admin route wants the header.
func TestTokenInURL(t *testing.T) {
	n := start(t, map[string]api.Grant{"admin-token-0123456789": {Role: api.RoleAdmin}, "kiosk-token-0123456789": {Role: api.RoleKiosk},
		"operator-token-012345678": {Role: api.RoleOperator}})
	n.want("POST", "/api/v1/offices/brn/tickets?token=kiosk-token-0123456789", map[string]string{"service": "passport"}, 401, "unauthorized")
	n.want("GET", "/api/v1/cluster/backup?token=admin-token-0123456789", nil, 401, "unauthorized")
	n.want("GET", "/api/v1/offices/brn/queue?token=operator-token-012345678", nil, 200, "")
}

// TestAuthOffAdminOnLoopback: with authentication off (a demo), anyone may
// queue and book, but administration answers only a client on loopback.
func TestAuthOffAdminOnLoopback(t *testing.T) {
	store := memstore.New(scheduler.Default{})
	defer store.Close()
	srv := api.New(api.Config{Store: store, Policy: scheduler.Default{}})
	ln := fasthttputil.NewInmemoryListener()
	hs := &fasthttp.Server{}
	srv.Configure(hs)
	go hs.Serve(ln)
	defer hs.Shutdown()
	for _, c := range []struct {
		from   string
		method string
		path   string
		want   int
	}{
		{"127.0.0.1", "GET", "/api/v1/cluster/backup", 200},
		{"10.1.2.3", "GET", "/api/v1/cluster/backup", 403},
		{"10.1.2.3", "POST", "/api/v1/cluster/restore", 403},
		{"10.1.2.3", "PUT", "/api/v1/region", 403},
		{"10.1.2.3", "GET", "/debug/pprof/heap", 403},
		{"10.1.2.3", "POST", "/api/v1/cluster/join", 403},
		{"10.1.2.3", "GET", "/api/v1/offices", 200},
	} {
		client := &http.Client{Transport: &http.Transport{DialContext: func(context.Context, string, string) (net.Conn, error) {
			return ln.DialWithLocalAddr(&net.TCPAddr{IP: net.ParseIP(c.from), Port: 40000})
		}}}
		req, _ := http.NewRequest(c.method, "http://talon"+c.path, strings.NewReader("{}"))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("%s from %s: %d, want %d", c.path, c.from, resp.StatusCode, c.want)
		}
	}
}

// TestWebhookTargetsRefused: a subscription to the node itself or a cloud
// metadata address is refused, and a password in a webhook URL is never
// shown again.
func TestWebhookTargetsRefused(t *testing.T) {
	n := start(t, nil)
	for _, u := range []string{"http://127.0.0.1:8080/hook", "http://169.254.169.254/latest/meta-data/", "http://10.1.2.3/sms"} {
		n.want("PUT", "/api/v1/subscriptions/sms", map[string]any{"url": u, "secret": "0123456789abcdef"}, 422, "webhook_target_refused")
	}
	out := n.want("PUT", "/api/v1/subscriptions/sms", map[string]any{"url": "https://gw:hunter2-secret@sms.example/hook", "secret": "0123456789abcdef"}, 200, "")
	if raw, _ := json.Marshal(out); strings.Contains(string(raw), "hunter2") {
		t.Fatalf("the URL's password is shown: %s", raw)
	}
}

// TestPhoneVariants is the finding re-run: one person once held six
// passport bookings (limit one) by writing the phone six ways. Each way is
// now the same E.164 number, or refused.
func TestPhoneVariants(t *testing.T) {
	n := start(t, nil)
	b := n.want("POST", "/api/v1/bookings", booking("brn", slot(1, 9, 0), "+7 913 000-00-03", false), 201, "")
	if b["applicant"].(map[string]any)["phone"] != "+79130000003" {
		t.Fatalf("stored phone %v", b["applicant"])
	}
	for i, c := range []struct{ phone, code string }{
		{"913 000-00-03", "limit_exceeded"}, {"8 913 000 00 03", "limit_exceeded"}, {"8(913)0000003", "limit_exceeded"},
		{"79130000003", "limit_exceeded"}, {"00 7 913 000 00 03", "invalid_phone"}, {"0 913 000 00 03", "invalid_phone"},
		{"07 913 000 00 03", "invalid_phone"}, {"+70 913 000 00 03", "invalid_phone"}, {"12345", "invalid_phone"}, {"+7 913 ABC", "invalid_phone"},
	} {
		n.want("POST", "/api/v1/bookings", booking("brn", slot(1, 10+i, 0), c.phone, false), 422, c.code)
	}
}

// TestNoEnumerationAndBinding is the finding re-run: bookings were 1, 2,
// 3…, readable by counting, and a portal token bound to one office booked
// at another and read its applicants. Now a booking is reached by a
// reference nobody can guess, and every booking route checks the booking's
// own office against the token's.
func TestNoEnumerationAndBinding(t *testing.T) {
	n := start(t, map[string]api.Grant{"portal-token-0123456789": {Role: api.RolePortal}, "admin-token-0123456789": {Role: api.RoleAdmin},
		"portal-bsk-token-0123456": {Role: api.RolePortal, Offices: []string{"bsk"}}})
	n.auth = "portal-token-0123456789"
	b := n.want("POST", "/api/v1/bookings", booking("brn", slot(1, 10, 0), "+79130000001", false), 201, "")
	ref := b["id"].(string)
	if len(ref) != queue.RefLen || !queue.ValidRef(ref) {
		t.Fatalf("booking reference %q", ref)
	}
	for i := range 5 {
		n.want("GET", fmt.Sprintf("/api/v1/bookings/%d", i), nil, 404, "not_found")
	}
	n.want("GET", "/api/v1/bookings/"+ref, nil, 200, "")

	n.auth = "portal-bsk-token-0123456"
	n.want("POST", "/api/v1/bookings", booking("brn", slot(1, 11, 0), "+79130000002", false), 403, "forbidden")
	for _, c := range []struct{ method, path string }{{"GET", ""}, {"GET", "/ticket.pdf"}, {"GET", "/ticket.png"},
		{"POST", "/confirm"}, {"POST", "/reschedule"}, {"DELETE", ""}} {
		n.want(c.method, "/api/v1/bookings/"+ref+c.path, map[string]string{"start": slot(2, 10, 0)}, 403, "forbidden")
	}
	n.want("POST", "/api/v1/bookings", booking("bsk", slot(1, 11, 0), "+79130000002", false), 201, "")
	n.auth = "portal-token-0123456789"
	if got := n.want("GET", "/api/v1/bookings/"+ref, nil, 200, ""); got["status"] != "confirmed" || got["start"] != b["start"] {
		t.Fatalf("the other office's token changed the booking: %v", got)
	}
}

// TestNoFreeTimeSaysWhy: a day without free time comes with its reason.
func TestNoFreeTimeSaysWhy(t *testing.T) {
	n := start(t, nil)
	for date, want := range map[string]string{slot(40, 10, 0)[:10]: "outside_horizon", slot(-2, 10, 0)[:10]: "past"} {
		out := n.want("GET", "/api/v1/offices/brn/slots?service=passport&date="+date, nil, 200, "")
		days, _ := out["no_free_time"].([]any)
		if len(days) != 1 || days[0].(map[string]any)["reason"] != want {
			t.Errorf("%s: %v, want %s", date, out["no_free_time"], want)
		}
	}
	if out := n.want("GET", "/api/v1/offices/brn/slots?service=passport&date="+slot(2, 10, 0)[:10], nil, 200, ""); len(out["no_free_time"].([]any)) != 0 {
		t.Errorf("an open day with free time: %v", out["no_free_time"])
	}
}

// TestBadInput sends malformed and hostile bodies to every write endpoint:
// each answer is a 4xx with an error code, never a 5xx, and nothing changes.
func TestBadInput(t *testing.T) {
	n := start(t, nil)
	b := n.want("POST", "/api/v1/bookings", booking("brn", slot(1, 10, 0), "89130000001", false), 201, "")
	_, before := n.call("GET", "/api/v1/offices/brn/queue", nil)
	long := strings.Repeat("Я", 5000) // over every field's limit, under the body bound (TestBodyBounds in cmd/talond sends more)
	bodies := []string{"", "null", "[]", "{", `{"start": 5}`, `{"service": {"a": 1}}`, `"` + long + `"`,
		`{"office":"brn","service":"pass","start":"` + long + `"}`,
		`{"office":"brn","service":"pass","start":"` + slot(1, 11, 5) + `","applicant":{"name":"` + long + `","phone":"1"}}`,
		`{"qr":"` + long + `"}`, `{"qr":"AAAA"}`, `{"service":"` + long + `"}`, `{"category":"nope","service":"passport"}`}
	paths := []string{"/api/v1/bookings", "/api/v1/bookings/" + b["id"].(string) + "/reschedule", "/api/v1/offices/brn/tickets",
		"/api/v1/offices/brn/checkin", "/api/v1/offices/brn/windows/1/redirect", "/api/v1/bookings/18446744073709551615/confirm",
		"/api/v1/offices/brn/windows/99999999999999999999/open", "/api/v1/offices/" + long[:300] + "/tickets"}
	for _, p := range paths {
		for _, body := range bodies {
			code, out := n.call("POST", p, body)
			if code < 400 || code >= 500 || errCode(out) == "" {
				t.Fatalf("POST %s %.40q: %d %v", p, body, code, out)
			}
		}
	}
	if code, _ := n.call("PUT", "/api/v1/region", `{"offices":[{"id":"x","timezone":"Nowhere/Null"}]}`); code != 422 {
		t.Fatalf("a bad region: %d", code)
	}
	// (The day may be set meanwhile by the leader's tick: only the queue and windows count.)
	if _, after := n.call("GET", "/api/v1/offices/brn/queue", nil); fmt.Sprint(after["waiting"], after["windows"]) != fmt.Sprint(before["waiting"], before["windows"]) {
		t.Fatalf("bad input changed the queue:\n%v\n%v", before, after)
	}
	if got := n.want("GET", "/api/v1/bookings/"+b["id"].(string), nil, 200, ""); got["start"] != b["start"] || got["reschedules_left"] != 3.0 {
		t.Fatalf("bad input changed the booking: %v", got)
	}
}

func TestIdempotencyKeyHeader(t *testing.T) {
	n := start(t, nil)
	post := func(path, key string, body any) (int, map[string]any, string) {
		js, _ := json.Marshal(body)
		req, _ := http.NewRequest("POST", n.base+path, bytes.NewReader(js))
		req.Header.Set("Idempotency-Key", key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out := map[string]any{}
		json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out, resp.Header.Get("Idempotent-Replayed")
	}
	body := booking("brn", slot(1, 12, 0), "89130000055", false)
	c1, b1, r1 := post("/api/v1/bookings", "req-1", body)
	c2, b2, r2 := post("/api/v1/bookings", "req-1", body)
	if c1 != 201 || c2 != 201 || b1["id"] != b2["id"] || r1 != "" || r2 != "true" {
		t.Fatalf("booking retry: %d %v %q / %d %v %q", c1, b1["id"], r1, c2, b2["id"], r2)
	}
	_, t1, _ := post("/api/v1/offices/brn/tickets", "kiosk-1", map[string]string{"service": "passport"})
	_, t2, _ := post("/api/v1/offices/brn/tickets", "kiosk-1", map[string]string{"service": "passport"})
	_, t3, _ := post("/api/v1/offices/brn/tickets", "kiosk-2", map[string]string{"service": "passport"})
	if t1["number"] != "П-001" || t2["number"] != "П-001" || t3["number"] != "П-002" {
		t.Fatalf("ticket retries %v %v %v", t1["number"], t2["number"], t3["number"])
	}
	// The finding re-run: the same key on another office's route once
	// replayed the first office's ticket; with another body it is refused.
	if c, t4, _ := post("/api/v1/offices/bsk/tickets", "kiosk-1", map[string]string{"service": "passport"}); c != 201 || t4["office"] != "bsk" {
		t.Fatalf("the key on another office: %d %v", c, t4)
	}
	if c, out, _ := post("/api/v1/offices/brn/tickets", "kiosk-1", map[string]string{"service": "consult"}); c != 422 || errCode(out) != "idempotency_key_reused" {
		t.Fatalf("the key with another request: %d %v", c, out)
	}
	if c, out, _ := post("/api/v1/bookings", "req-1", booking("brn", slot(1, 13, 0), "89130000055", false)); c != 422 || errCode(out) != "idempotency_key_reused" {
		t.Fatalf("a booking key with another slot: %d %v", c, out)
	}
}

func TestReadLevelsAndIndexes(t *testing.T) {
	n := start(t, nil)
	n.want("POST", "/api/v1/offices/brn/tickets", map[string]any{"service": "passport"}, 201, "")
	idx, err := strconv.ParseUint(n.last.Get("X-Talon-Index"), 10, 64)
	if err != nil || idx == 0 {
		t.Fatalf("a write answered X-Talon-Index %q", n.last.Get("X-Talon-Index"))
	}
	for _, q := range []string{"", "?consistency=local", "?consistency=linearizable", "?min_index=" + strconv.FormatUint(idx, 10)} {
		n.want("GET", "/api/v1/offices/brn"+q, nil, 200, "")
		if got, _ := strconv.ParseUint(n.last.Get("X-Talon-Index"), 10, 64); got < idx {
			t.Errorf("read %q served from index %d, before the write at %d", q, got, idx)
		}
	}
	n.want("GET", "/api/v1/offices/brn?consistency=eventual", nil, 400, "invalid_request")
	n.want("GET", "/api/v1/offices/brn?min_index=-1", nil, 400, "invalid_request")
}

func TestClusterAdmin(t *testing.T) {
	n := start(t, map[string]api.Grant{"admin-token-0123456789": {Role: api.RoleAdmin}})
	n.auth = "admin-token-0123456789"
	out := n.want("GET", "/api/v1/cluster/nodes", nil, 200, "")
	if nodes, _ := out["nodes"].([]any); len(nodes) != 1 {
		t.Fatalf("nodes: %v", out)
	}
	n.want("DELETE", "/api/v1/cluster/nodes/nope", nil, 404, "unknown_node")
	n.want("POST", "/api/v1/cluster/join", map[string]any{"id": "n2"}, 400, "invalid_request")
	n.want("POST", "/api/v1/cluster/restore", "garbage", 400, "invalid_backup")

	n.want("POST", "/api/v1/offices/brn/tickets", map[string]any{"service": "passport"}, 201, "")
	code, backup := n.raw("GET", "/api/v1/cluster/backup")
	if code != 200 || len(backup) < 100 {
		t.Fatalf("backup: %d, %d bytes", code, len(backup))
	}
	n.want("POST", "/api/v1/offices/brn/tickets", map[string]any{"service": "passport"}, 201, "")
	n.want("POST", "/api/v1/cluster/restore", string(backup), 200, "")
	if tk := n.want("POST", "/api/v1/offices/brn/tickets", map[string]any{"service": "passport"}, 201, ""); tk["number"] != "П-002" {
		t.Fatalf("after restoring a backup taken after П-001, the next ticket is %v", tk["number"])
	}
	n.auth = ""
	n.want("GET", "/api/v1/cluster/backup", nil, 401, "unauthorized")
}

func (n *node) raw(method, path string) (int, []byte) {
	n.t.Helper()
	req, _ := http.NewRequest(method, n.base+path, nil)
	req.Header.Set("Authorization", "Bearer "+n.auth)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		n.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func TestStatsRecordsAndHistory(t *testing.T) {
	n := start(t, nil)
	for range 3 {
		n.want("POST", "/api/v1/offices/brn/tickets", map[string]any{"service": "passport"}, 201, "")
	}
	n.want("POST", "/api/v1/offices/brn/windows/1/open", nil, 200, "")
	n.want("POST", "/api/v1/offices/brn/windows/1/call-next", nil, 200, "")
	n.want("POST", "/api/v1/offices/brn/windows/1/start", nil, 200, "")
	n.want("POST", "/api/v1/offices/brn/windows/1/finish", nil, 200, "")

	out := n.want("GET", "/api/v1/offices/brn/stats", nil, 200, "")
	rows := out["services"].([]any)
	var passport map[string]any
	for _, r := range rows {
		if r.(map[string]any)["service"] == "passport" {
			passport = r.(map[string]any)
		}
	}
	if passport["tickets"] != 3.0 || passport["called"] != 1.0 || passport["served"] != 1.0 || passport["called_within_15min_share"] != 1.0 {
		t.Fatalf("stats: %v", passport)
	}
	code, csvBody := n.raw("GET", "/api/v1/offices/brn/stats?format=csv")
	if code != 200 || !strings.HasPrefix(string(csvBody), "office,service,window,tickets") || !strings.Contains(string(csvBody), "brn,passport,,3,1,1,") {
		t.Fatalf("stats csv: %d %s", code, csvBody)
	}
	recs := n.want("GET", "/api/v1/offices/brn/records", nil, 200, "")["records"].([]any)
	if len(recs) != 3 || recs[0].(map[string]any)["outcome"] != "done" || recs[0].(map[string]any)["name"] != nil {
		t.Fatalf("records: %v", recs)
	}
	if code, body := n.raw("GET", "/api/v1/offices/brn/records?format=csv"); code != 200 || strings.Count(string(body), "\n") != 4 {
		t.Fatalf("records csv: %d %s", code, body)
	}
	pts := n.want("GET", "/api/v1/offices/brn/load-history", nil, 200, "")["points"].([]any)
	if last := pts[len(pts)-1].(map[string]any); len(pts) != 288 || last["waiting"] != 2.0 {
		t.Fatalf("history: %d points, last %v", len(pts), pts[len(pts)-1])
	}
	n.want("GET", "/api/v1/offices/brn/stats?from=yesterday", nil, 400, "invalid_request")
	n.want("GET", "/api/v1/offices/brn/stats?from=2026-11-23&to=2026-11-01", nil, 400, "invalid_request")
	n.want("GET", "/api/v1/offices/nope/stats", nil, 404, "unknown_office")
	n.want("GET", "/api/v1/offices/nope/load-history", nil, 404, "unknown_office")
}

// TestPrintedTalonScans: the PNG talon's QR code, read by a real decoder,
// checks the applicant in; the PDF is a PDF; a cancelled booking has none.
func TestPrintedTalonScans(t *testing.T) {
	n := start(t, nil)
	next := awayFromMidnight(n).Truncate(15 * time.Minute).Add(15 * time.Minute)
	b := n.want("POST", "/api/v1/bookings", booking("brn", next.Format(time.RFC3339), "89130000007", false), 201, "")
	id := b["id"].(string)
	for _, format := range []string{"", "?format=receipt"} {
		if code, pdf := n.raw("GET", "/api/v1/bookings/"+id+"/ticket.pdf"+format); code != 200 || !bytes.HasPrefix(pdf, []byte("%PDF-")) {
			t.Fatalf("ticket.pdf%s: %d", format, code)
		}
	}
	n.want("GET", "/api/v1/bookings/"+id+"/ticket.pdf?format=letter", nil, 400, "invalid_request")
	code, raw := n.raw("GET", "/api/v1/bookings/"+id+"/ticket.png")
	if code != 200 {
		t.Fatalf("ticket.png: %d", code)
	}
	img, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	bmp, _ := gozxing.NewBinaryBitmapFromImage(img)
	res, err := qrcode.NewQRCodeReader().Decode(bmp, nil)
	if err != nil {
		t.Fatalf("no QR code on the talon: %v", err)
	}
	if res.GetText() != b["qr"] {
		t.Fatalf("the QR code says %q, the booking %q", res.GetText(), b["qr"])
	}
	n.want("POST", "/api/v1/offices/brn/checkin", map[string]string{"qr": res.GetText()}, 200, "")

	other := n.want("POST", "/api/v1/bookings", booking("brn", next.Add(time.Hour).Format(time.RFC3339), "89130000008", false), 201, "")
	n.want("DELETE", "/api/v1/bookings/"+other["id"].(string), nil, 200, "")
	n.want("GET", "/api/v1/bookings/"+other["id"].(string)+"/ticket.png", nil, 409, "not_active")
	n.want("GET", "/api/v1/bookings/999999/ticket.pdf", nil, 404, "not_found")
}

// TestCachedReadsSeeWrites: a slots answer repeated while nothing changes
// is the same answer, and the first read after a booking shows it (the
// cache is keyed by the applied index).
func TestCachedReadsSeeWrites(t *testing.T) {
	n := start(t, nil)
	path := "/api/v1/offices/brn/slots?service=passport&date=" + slot(1, 0, 0)[:10]
	free := func() float64 {
		out := n.want("GET", path, nil, 200, "")
		return out["slots"].([]any)[40].(map[string]any)["free"].(float64)
	}
	for i := range 3 { // the slot's three seats
		before := free()
		if again := free(); again != before {
			t.Fatalf("a repeated read changed: %v then %v", before, again)
		}
		n.want("POST", "/api/v1/bookings", booking("brn", slot(1, 10, 0), fmt.Sprintf("+7900000%04d", i), false), 201, "")
		if after := free(); after != before-1 {
			t.Fatalf("after booking slot 10:00 its free seats went %v → %v", before, after)
		}
	}
}

// TestRegionChangeAndClosure: a region change that would take window time
// from bookings is refused with the list of them, and goes ahead with
// force; a closure at short notice unplaces the bookings it covers. An
// unplaced booking is marked, listed for the admin, and moves for free.
func TestRegionChangeAndClosure(t *testing.T) {
	n := start(t, nil)
	var ids []string
	for i := range 3 {
		b := n.want("POST", "/api/v1/bookings", booking("brn", slot(1, 10, 0), fmt.Sprintf("+7913000000%d", i), false), 201, "")
		ids = append(ids, b["id"].(string))
	}
	fewer := testRegion()
	fewer.Offices[0].Windows = fewer.Offices[0].Windows[:2]
	out := n.want("PUT", "/api/v1/region", fewer, 409, "bookings_affected")
	if aff := out["error"].(map[string]any)["affected"].([]any); len(aff) != 1 {
		t.Fatalf("affected %v", out)
	}
	wt := n.want("GET", "/api/v1/offices/brn/window-time?date="+slot(1, 10, 0)[:10], nil, 200, "")
	for _, v := range wt["visits"].([]any) {
		if v.(map[string]any)["window"].(float64) == 0 {
			t.Fatalf("a refused region change unplaced a booking: %v", wt)
		}
	}
	out = n.want("PUT", "/api/v1/region?force=true", fewer, 200, "")
	aff := out["affected"].([]any)
	if len(aff) != 1 {
		t.Fatalf("forced: %v", out)
	}
	lost := aff[0].(map[string]any)["id"].(string)
	if b := n.want("GET", "/api/v1/bookings/"+lost, nil, 200, ""); b["affected"] != true {
		t.Fatalf("the unplaced booking is not marked: %v", b)
	}
	if u := n.want("GET", "/api/v1/unplaced-bookings", nil, 200, ""); len(u["bookings"].([]any)) != 1 {
		t.Fatalf("unplaced %v", u)
	}
	moved := n.want("POST", "/api/v1/bookings/"+lost+"/reschedule", map[string]string{"start": slot(1, 11, 0)}, 200, "")
	if moved["affected"] == true || moved["reschedules_left"] != 3.0 {
		t.Fatalf("a free move: %v", moved)
	}
	// The office closes 09:00–12:00 tomorrow: both the 10:00 and the 11:00
	// visits lose their window time; nothing can be booked then.
	out = n.want("POST", "/api/v1/offices/brn/closures", map[string]string{"from": slot(1, 9, 0), "to": slot(1, 12, 0), "reason": "авария"}, 200, "")
	if len(out["affected"].([]any)) != 3 {
		t.Fatalf("closure: %v", out)
	}
	n.want("POST", "/api/v1/bookings", booking("brn", slot(1, 10, 30), "+79130000009", false), 422, "office_closed")
	if u := n.want("GET", "/api/v1/unplaced-bookings", nil, 200, ""); len(u["bookings"].([]any)) != 3 {
		t.Fatalf("unplaced %v", u)
	}
	// Lifting it gives the time back (to the bookings that still fit).
	n.want("POST", "/api/v1/offices/brn/closures", map[string]string{"from": slot(1, 9, 0), "to": slot(1, 9, 0)}, 200, "")
	if u := n.want("GET", "/api/v1/unplaced-bookings", nil, 200, ""); len(u["bookings"].([]any)) != 0 {
		t.Fatalf("unplaced after the closure was lifted: %v", u)
	}
}

// TestAlternativesFollowTheState: the alternatives of a taken slot are
// cached per state, so once the first one offered is filled, the next
// refusal offers it no more.
func TestAlternativesFollowTheState(t *testing.T) {
	n := start(t, nil)
	taken := slot(1, 10, 0)
	phone := 0
	fill := func(start string) map[string]any { // books start until it is refused; the refusal
		for range 10 {
			phone++
			code, out := n.call("POST", "/api/v1/bookings", booking("brn", start, fmt.Sprintf("+7 913 %07d", phone), false))
			if code == 409 {
				return out["error"].(map[string]any)["alternatives"].(map[string]any)
			}
			if code != 201 {
				t.Fatalf("booking %s: %d %v", start, code, out)
			}
		}
		t.Fatalf("%s never filled", start)
		return nil
	}
	first := fill(taken)["same_office"].([]any)[0].(map[string]any)["start"].(string)
	again := fill(taken)["same_office"].([]any)[0].(map[string]any)["start"].(string)
	if again != first {
		t.Fatalf("the same state offered %s, then %s", first, again)
	}
	fill(first)
	for _, a := range fill(taken)["same_office"].([]any) {
		if a.(map[string]any)["start"] == first {
			t.Fatalf("a full slot %s still offered as an alternative", first)
		}
	}
}

// awayFromMidnight is the node's time in Barnaul, after moving its clock
// past midnight when it is 22:00 or later: a day's window time ends at
// midnight, so a visit booked for the next quarter hour (or the hour
// after) would not fit then. (A node without authentication, as start's.)
func awayFromMidnight(n *node) time.Time {
	n.t.Helper()
	now := time.Now().In(barnaul)
	if now.Hour() < 22 {
		return now
	}
	at := time.Date(now.Year(), now.Month(), now.Day()+1, 0, 5, 0, 0, barnaul)
	n.want("POST", "/api/v1/dev/clock", map[string]string{"advance": at.Sub(now).Round(time.Second).String()}, 200, "")
	return at
}

// officeHoursAt runs the API with brn open 08:00-20:00 every day, an admin,
// a kiosk and a brn operator token, and its clock moved to the next hh:mm
// in Barnaul, which it returns.
func officeHoursAt(t *testing.T, hh, mm int) (*node, time.Time) {
	n := start(t, map[string]api.Grant{"admin-token-0123456789": {Role: api.RoleAdmin}, "kiosk-token-0123456789": {Role: api.RoleKiosk},
		"operator-token-012345678": {Role: api.RoleOperator, Offices: []string{"brn"}}})
	reg := testRegion()
	for d := range reg.Offices[0].Hours {
		reg.Offices[0].Hours[d] = "08:00-20:00"
	}
	n.auth = "admin-token-0123456789"
	n.want("PUT", "/api/v1/region", reg, 200, "")
	now := time.Now().In(barnaul)
	at := time.Date(now.Year(), now.Month(), now.Day(), hh, mm, 0, 0, barnaul)
	if at.Before(now) {
		at = at.AddDate(0, 0, 1)
	}
	n.want("POST", "/api/v1/dev/clock", map[string]string{"advance": at.Sub(now).Round(time.Second).String()}, 200, "")
	return n, at
}

// TestClosingSoon: at 19:50 in an office that closes at 20:00, the kiosk
// issues while the queue is short and answers 409 closing_soon, naming the
// next morning's opening, once the forecast call falls after 20:00; a
// kiosk cannot force, an operator can.
func TestClosingSoon(t *testing.T) {
	n, at := officeHoursAt(t, 19, 50)
	n.auth = "kiosk-token-0123456789"
	issue := map[string]any{"service": "passport"}
	n.want("POST", "/api/v1/offices/brn/tickets", issue, 201, "") // nobody waits: called at once
	for i := 0; ; i++ {
		code, out := n.call("POST", "/api/v1/offices/brn/tickets", issue)
		if code == 201 {
			continue
		}
		next := at.AddDate(0, 0, 1)
		if e := out["error"].(map[string]any); code != 409 || e["code"] != "closing_soon" ||
			e["next_open"] != time.Date(next.Year(), next.Month(), next.Day(), 8, 0, 0, 0, barnaul).Format(time.RFC3339) {
			t.Fatalf("after %d more tickets: %d %v", i, code, out)
		}
		if i == 0 || i > 2 {
			t.Fatalf("closing_soon after %d more tickets over 3 passport windows, 20 minutes each", i)
		}
		break
	}
	n.want("POST", "/api/v1/offices/brn/tickets", map[string]any{"service": "passport", "force": true}, 403, "forbidden")
	n.auth = "operator-token-012345678"
	n.want("POST", "/api/v1/offices/brn/tickets", map[string]any{"service": "passport", "force": true}, 201, "")
	n.want("POST", "/api/v1/offices/brn/tickets", issue, 409, "closing_soon")
}

// TestStaffingPlan: the plan for a day a week after a morning with a crowd
// at 10:00 asks for windows then and none in the empty hours; the route
// wants an operator's token and a date within the horizon.
func TestStaffingPlan(t *testing.T) {
	n, at := officeHoursAt(t, 10, 0)
	for range 30 { // 30 walk-ins between 10:00 and 11:00
		n.want("POST", "/api/v1/offices/brn/tickets", map[string]any{"service": "passport", "force": true}, 201, "")
		n.want("POST", "/api/v1/dev/clock", map[string]string{"advance": "1m55s"}, 200, "")
	}
	date := at.AddDate(0, 0, 7).Format(time.DateOnly)
	n.auth = "kiosk-token-0123456789"
	n.want("GET", "/api/v1/offices/brn/staffing?date="+date, nil, 403, "forbidden")
	n.auth = "operator-token-012345678"
	n.want("GET", "/api/v1/offices/brn/staffing?date=2020-01-01", nil, 400, "invalid_request")
	n.want("GET", "/api/v1/offices/nope/staffing", nil, 403, "forbidden")
	out := n.want("GET", "/api/v1/offices/brn/staffing?date="+date, nil, 200, "")
	hours := out["plan"].(map[string]any)["hours"].([]any)
	if len(hours) != 12 {
		t.Fatalf("%d hours planned for 08:00-20:00: %v", len(hours), out)
	}
	for _, h := range hours {
		h := h.(map[string]any)
		windows, _ := h["windows"].([]any)
		switch {
		case h["from"] == "10:00" && (h["expected"].(float64) < 29 || len(windows) < 2 || h["within_15"].(float64) < 0.95):
			t.Errorf("10:00, 30 passports of 20 minutes: %v", h)
		case h["from"] != "09:00" && h["from"] != "10:00" && h["from"] != "11:00" && len(windows) > 0:
			t.Errorf("%s, nobody expected: %v", h["from"], h)
		}
	}
}

// TestStaff: employees sign in for a session; roles and office bindings
// are checked on every staff route; an operator calls only at the window
// they signed in to, and a window nobody is signed in to does not call; a
// supervisor reads the audit, with every command's actor; signing out
// ends the session.
func TestStaff(t *testing.T) {
	n, _ := officeHoursAt(t, 10, 0)
	n.auth = "admin-token-0123456789"
	for id, roles := range map[string][]string{"ivanova": {"operator"}, "petrov": {"operator"}, "sidorova": {"supervisor"}, "zala": {"hall_admin"}} {
		n.want("PUT", "/api/v1/employees/"+id, map[string]any{"name": id, "roles": roles, "offices": []string{"brn"}, "password": "secret-" + id}, 200, "")
	}
	n.want("PUT", "/api/v1/employees/short", map[string]any{"name": "x", "roles": []string{"operator"}, "password": "short"}, 422, "invalid_request")
	n.want("PUT", "/api/v1/employees/x", map[string]any{"name": "x", "roles": []string{"janitor"}, "password": "long-enough"}, 400, "invalid_request")
	if out := n.want("GET", "/api/v1/employees", nil, 200, ""); len(out["employees"].([]any)) != 4 {
		t.Fatalf("employees %v", out)
	}
	n.want("POST", "/api/v1/offices/brn/windows/1/open", nil, 200, "")
	n.want("POST", "/api/v1/offices/brn/tickets", map[string]any{"service": "passport"}, 201, "")
	n.want("POST", "/api/v1/offices/brn/tickets", map[string]any{"service": "passport"}, 201, "")

	n.auth = ""
	n.want("POST", "/api/v1/sessions", map[string]string{"employee": "ivanova", "password": "wrong-password"}, 401, "unauthorized")
	signIn := func(id string) string {
		out := n.want("POST", "/api/v1/sessions", map[string]string{"employee": id, "password": "secret-" + id}, 201, "")
		return out["token"].(string)
	}
	ivanova, petrov, sidorova, zala := signIn("ivanova"), signIn("petrov"), signIn("sidorova"), signIn("zala")

	// Roles on the staff routes.
	for _, tok := range []string{ivanova, sidorova, zala, "kiosk-token-0123456789"} {
		n.auth = tok
		n.want("GET", "/api/v1/employees", nil, 403, "forbidden")
		n.want("PUT", "/api/v1/employees/x", map[string]any{"name": "x", "roles": []string{"admin"}, "password": "long-enough"}, 403, "forbidden")
	}
	for _, tok := range []string{ivanova, zala, "kiosk-token-0123456789"} {
		n.auth = tok
		n.want("GET", "/api/v1/offices/brn/audit", nil, 403, "forbidden")
	}
	n.auth = zala // the hall administrator issues, and does not run windows
	n.want("POST", "/api/v1/offices/brn/tickets", map[string]any{"service": "passport"}, 201, "")
	n.want("POST", "/api/v1/offices/brn/windows/1/call-next", nil, 403, "forbidden")
	n.want("GET", "/api/v1/offices/brn/queue", nil, 200, "")
	n.want("POST", "/api/v1/offices/bsk/tickets", map[string]any{"service": "passport"}, 403, "forbidden")

	// Windows.
	n.auth = "operator-token-012345678"
	n.want("POST", "/api/v1/offices/brn/windows/1/call-next", nil, 409, "window_signed_out")
	n.auth = ivanova
	n.want("POST", "/api/v1/offices/brn/windows/1/call-next", nil, 403, "not_your_window") // sign in first
	n.want("POST", "/api/v1/offices/bsk/windows/1/sign-in", nil, 403, "forbidden")
	n.want("POST", "/api/v1/offices/brn/windows/1/sign-in", nil, 200, "")
	n.auth = "operator-token-012345678" // a device token cannot sign anyone in
	n.want("POST", "/api/v1/offices/brn/windows/2/sign-in", nil, 403, "forbidden")
	n.auth = petrov
	n.want("POST", "/api/v1/offices/brn/windows/1/sign-in", nil, 409, "window_taken")
	n.want("POST", "/api/v1/offices/brn/windows/1/call-next", nil, 403, "not_your_window")
	n.auth = ivanova
	if out := n.want("POST", "/api/v1/offices/brn/windows/1/call-next", nil, 200, ""); out["number"] != "П-001" {
		t.Fatalf("called %v", out)
	}
	n.auth = "operator-token-012345678" // the window's button box acts for ivanova
	n.want("POST", "/api/v1/offices/brn/windows/1/start", nil, 200, "")
	n.auth = sidorova
	n.want("POST", "/api/v1/offices/brn/windows/1/call-next", nil, 200, "")
	entries := n.want("GET", "/api/v1/offices/brn/audit", nil, 200, "")["entries"].([]any)
	var who []string
	for _, e := range entries {
		e := e.(map[string]any)
		who = append(who, fmt.Sprint(e["actor"], " ", e["what"]))
	}
	want := []string{"device:admin open", "device:admin issue", "device:admin issue", "employee:zala issue", "employee:ivanova sign-in",
		"employee:ivanova call-next", "device:operator start", "employee:sidorova call-next"}
	if !reflect.DeepEqual(who, want) {
		t.Fatalf("audit:\n%q\nwant\n%q", who, want)
	}

	// Signing out ends the session and frees the window.
	n.auth = ivanova
	n.want("DELETE", "/api/v1/sessions", nil, 204, "")
	n.want("GET", "/api/v1/offices/brn/queue", nil, 401, "unauthorized")
	n.auth = petrov
	n.want("POST", "/api/v1/offices/brn/windows/1/sign-in", nil, 200, "")
}

// TestDeskAndSupervisor: a hall administrator finds a booking by the
// applicant's phone and checks them in without the QR code (a kiosk
// cannot); a supervisor gives window 1 another service for the day, which
// it then calls; an operator may do neither.
func TestDeskAndSupervisor(t *testing.T) {
	n, at := officeHoursAt(t, 10, 0)
	n.auth = "admin-token-0123456789"
	for id, roles := range map[string][]string{"ivanova": {"operator"}, "sidorova": {"supervisor"}, "zala": {"hall_admin"}} {
		n.want("PUT", "/api/v1/employees/"+id, map[string]any{"name": id, "roles": roles, "offices": []string{"brn"}, "password": "secret-" + id}, 200, "")
	}
	n.want("POST", "/api/v1/bookings", booking("brn", at.Add(15*time.Minute).Format(time.RFC3339), "+7 913 000-00-05", false), 201, "")
	n.auth = ""
	signIn := func(id string) string {
		return n.want("POST", "/api/v1/sessions", map[string]string{"employee": id, "password": "secret-" + id}, 201, "")["token"].(string)
	}
	ivanova, sidorova, zala := signIn("ivanova"), signIn("sidorova"), signIn("zala")

	n.auth = ivanova
	n.want("GET", "/api/v1/offices/brn/bookings?phone=89130000005", nil, 403, "forbidden")
	n.auth = zala
	n.want("GET", "/api/v1/offices/brn/bookings", nil, 400, "invalid_request")
	found := n.want("GET", "/api/v1/offices/brn/bookings?phone=8%20913%20000%2000%2005", nil, 200, "")["bookings"].([]any)
	if len(found) != 1 {
		t.Fatalf("found %v", found)
	}
	ref := found[0].(map[string]any)["booking"].(string)
	n.auth = "kiosk-token-0123456789" // a kiosk takes the talon's QR code only
	n.want("POST", "/api/v1/offices/brn/checkin", map[string]string{"booking": ref}, 400, "invalid_qr")
	n.auth = zala
	if tk := n.want("POST", "/api/v1/offices/brn/checkin", map[string]string{"booking": ref}, 200, ""); tk["status"] != "waiting" {
		t.Fatalf("checked in %v", tk)
	}

	// Window 1 serves passports; for today the supervisor gives it consultations.
	n.want("POST", "/api/v1/offices/brn/tickets", map[string]any{"service": "consult"}, 201, "")
	for _, tok := range []string{ivanova, "operator-token-012345678"} {
		n.auth = tok
		n.want("POST", "/api/v1/offices/brn/windows/1/services", map[string]any{"services": []string{"consult"}}, 403, "forbidden")
	}
	n.auth = sidorova
	if w := n.want("POST", "/api/v1/offices/brn/windows/1/services", map[string]any{"services": []string{"consult"}}, 200, ""); fmt.Sprint(w["today"]) != "[consult]" {
		t.Fatalf("window %v", w)
	}
	n.auth = ivanova
	n.want("POST", "/api/v1/offices/brn/windows/1/sign-in", nil, 200, "")
	n.want("POST", "/api/v1/offices/brn/windows/1/open", nil, 200, "")
	if tk := n.want("POST", "/api/v1/offices/brn/windows/1/call-next", nil, 200, ""); tk["service"] != "consult" {
		t.Fatalf("window 1 called %v", tk)
	}
}
