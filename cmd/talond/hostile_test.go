package main

import (
	"bytes"
	"encoding/json"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/talon-mfc/talon/queue"
)

// Tokens of the hostile-client test: the least privileged role that may
// call each write, bound to one office where the role allows it.
const (
	adminToken    = "admin-token-0123456789"
	portalToken   = "portal-token-0123456789"
	kioskToken    = "kiosk-token-0123456789"
	operatorToken = "operator-token-0123456789"
)

// authConfig writes a configuration of the demo region with a token per
// role, kiosk and operator bound to demo-24h.
func authConfig(t *testing.T) string { return authConfigWith(t, nil) }

// authConfigWith is authConfig with auth.limits.
func authConfigWith(t *testing.T, limits map[string]any) string {
	var cfg map[string]any
	if err := yaml.Unmarshal(demoYAML, &cfg); err != nil {
		t.Fatal(err)
	}
	cfg["auth"] = map[string]any{"tokens": []map[string]any{
		{"token": adminToken, "role": "admin", "name": "admin"},
		{"token": portalToken, "role": "portal", "name": "portal"},
		{"token": kioskToken, "role": "kiosk", "name": "kiosk", "offices": []string{"demo-24h"}},
		{"token": operatorToken, "role": "operator", "name": "operator", "offices": []string{"demo-24h"}},
	}, "limits": limits}
	raw, _ := yaml.Marshal(cfg)
	path := filepath.Join(t.TempDir(), "talond.yaml")
	os.WriteFile(path, raw, 0o600)
	return path
}

// send makes a request with a bearer token and returns the status and the
// error code of a JSON error answer ("" for none).
func send(t *testing.T, d *daemon, method, path, token string, body []byte) (int, string, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, d.base+path, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out := map[string]any{}
	json.NewDecoder(resp.Body).Decode(&out)
	code := ""
	if e, ok := out["error"].(map[string]any); ok {
		code, _ = e["code"].(string)
	}
	return resp.StatusCode, code, out
}

// variants returns a copy of v for every string in it (a value, or a key
// of an object), with that one string replaced by long.
func variants(v any, long string) []any {
	var out []any
	switch x := v.(type) {
	case string:
		out = append(out, long)
	case []any:
		for i := range x {
			for _, alt := range variants(x[i], long) {
				c := slices.Clone(x)
				c[i] = alt
				out = append(out, c)
			}
		}
	case map[string]any:
		for k, val := range x {
			for _, alt := range variants(val, long) {
				c := maps.Clone(x)
				c[k] = alt
				out = append(out, c)
			}
			c := maps.Clone(x)
			delete(c, k)
			c[long] = val
			out = append(out, c)
		}
	}
	return out
}

// TestHostileFieldsNeverReachTheLog is the finding behind the command path,
// re-run: an over-long string (16 KiB + 1 in writes, 1 MiB + 1 in the
// region) in each string field of each write the API accepts, sent to a follower of a 3-node cluster with authentication on,
// with the least privileged token that may call it, once halted every node
// for good. Every answer must be a 4xx with a code; then writes and reads
// work on every node, and all three restarted come up ready with the same
// state.
func TestHostileFieldsNeverReachTheLog(t *testing.T) {
	nodes := newCluster(t, 3, "-config", authConfig(t))
	_, followers := leader(t, nodes)
	f := followers[0]
	// Over every field's limit and under the body bound of the route (a
	// larger body is refused at the edge: TestBodyBounds); the region, an
	// admin's upload, takes 1 MiB + 1 byte.
	long := strings.Repeat("ж", 8<<10) + "x" // 16 KiB + 1 byte
	huge := strings.Repeat("ж", 1<<19) + "x"
	js := func(v any) []byte { b, _ := json.Marshal(v); return b }
	loc, _ := queue.LoadLocation("Asia/Barnaul")
	tomorrow := time.Now().In(loc).AddDate(0, 0, 1).Format(time.DateOnly)

	// A booking to reschedule and a ticket at a window to redirect.
	code, _, b := send(t, f, "POST", "/api/v1/bookings", portalToken, js(map[string]any{"office": "demo-24h", "service": "passport",
		"start": tomorrow + "T10:00:00+07:00", "applicant": map[string]string{"name": "Иванова Мария", "phone": "+7 913 000-00-01"}}))
	if code != 201 {
		t.Fatalf("booking: %d %v", code, b)
	}
	send(t, f, "POST", "/api/v1/offices/demo-24h/tickets", kioskToken, js(map[string]string{"service": "passport"}))
	send(t, f, "POST", "/api/v1/offices/demo-24h/windows/1/open", operatorToken, nil)
	if code, _, out := send(t, f, "POST", "/api/v1/offices/demo-24h/windows/1/call-next", operatorToken, nil); code != 200 {
		t.Fatalf("call-next: %d %v", code, out)
	}

	type write struct {
		name, method, path, token string
		body                      func(long string) []byte
	}
	booking := func(office, service, start, name, phone string) []byte {
		return js(map[string]any{"office": office, "service": service, "start": start,
			"applicant": map[string]string{"name": name, "phone": phone}})
	}
	start := tomorrow + "T11:00:00+07:00"
	writes := []write{
		{"booking office", "POST", "/api/v1/bookings", portalToken, func(l string) []byte { return booking(l, "passport", start, "Иванов", "+79130000002") }},
		{"booking service", "POST", "/api/v1/bookings", portalToken, func(l string) []byte { return booking("demo-24h", l, start, "Иванов", "+79130000002") }},
		{"booking start", "POST", "/api/v1/bookings", portalToken, func(l string) []byte { return booking("demo-24h", "passport", l, "Иванов", "+79130000002") }},
		{"booking name", "POST", "/api/v1/bookings", portalToken, func(l string) []byte { return booking("demo-24h", "passport", start, l, "+79130000002") }},
		{"booking phone", "POST", "/api/v1/bookings", portalToken, func(l string) []byte { return booking("demo-24h", "passport", start, "Иванов", l) }},
		{"reschedule start", "POST", "/api/v1/bookings/" + b["id"].(string) + "/reschedule", portalToken, func(l string) []byte { return js(map[string]string{"start": l}) }},
		{"ticket service", "POST", "/api/v1/offices/demo-24h/tickets", kioskToken, func(l string) []byte { return js(map[string]string{"service": l}) }},
		{"ticket category", "POST", "/api/v1/offices/demo-24h/tickets", kioskToken, func(l string) []byte { return js(map[string]string{"service": "passport", "category": l}) }},
		{"check-in qr", "POST", "/api/v1/offices/demo-24h/checkin", kioskToken, func(l string) []byte { return js(map[string]string{"qr": l}) }},
		{"redirect service", "POST", "/api/v1/offices/demo-24h/windows/1/redirect", operatorToken, func(l string) []byte { return js(map[string]string{"service": l}) }},
		{"call ticket", "POST", "/api/v1/offices/demo-24h/windows/1/call", operatorToken, func(l string) []byte { return js(map[string]string{"ticket": l, "reason": "x"}) }},
		{"call reason", "POST", "/api/v1/offices/demo-24h/windows/1/call", operatorToken, func(l string) []byte {
			return js(map[string]string{"ticket": "П-001", "reason": l})
		}},
		{"transfer employee", "POST", "/api/v1/offices/demo-24h/windows/1/transfer", operatorToken, func(l string) []byte { return js(map[string]string{"employee": l}) }},
		{"window services", "POST", "/api/v1/offices/demo-24h/windows/1/services", adminToken, func(l string) []byte { return js(map[string]any{"services": []string{l}}) }},
		{"employee id", "PUT", "/api/v1/employees/" + strings.Repeat("a", 65), adminToken, func(l string) []byte {
			return js(map[string]any{"name": "x", "roles": []string{"operator"}, "password": "long-enough"})
		}},
		{"employee name", "PUT", "/api/v1/employees/ivanova", adminToken, func(l string) []byte {
			return js(map[string]any{"name": l, "roles": []string{"operator"}, "password": "long-enough"})
		}},
		{"employee role", "PUT", "/api/v1/employees/ivanova", adminToken, func(l string) []byte {
			return js(map[string]any{"name": "x", "roles": []string{l}, "password": "long-enough"})
		}},
		{"employee office", "PUT", "/api/v1/employees/ivanova", adminToken, func(l string) []byte {
			return js(map[string]any{"name": "x", "roles": []string{"operator"}, "offices": []string{l}, "password": "long-enough"})
		}},
		{"employee password", "PUT", "/api/v1/employees/ivanova", adminToken, func(l string) []byte {
			return js(map[string]any{"name": "x", "roles": []string{"operator"}, "password": l})
		}},
		{"sign-in employee", "POST", "/api/v1/sessions", "", func(l string) []byte { return js(map[string]string{"employee": l, "password": "x"}) }},
		{"subscription url", "PUT", "/api/v1/subscriptions/sms", adminToken, func(l string) []byte {
			return js(map[string]any{"url": l, "secret": "0123456789abcdef"})
		}},
		{"subscription secret", "PUT", "/api/v1/subscriptions/sms", adminToken, func(l string) []byte {
			return js(map[string]any{"url": "https://sms.example/hook", "secret": l})
		}},
		{"subscription kind", "PUT", "/api/v1/subscriptions/sms", adminToken, func(l string) []byte {
			return js(map[string]any{"url": "https://sms.example/hook", "secret": "0123456789abcdef", "kinds": []string{l}})
		}},
		{"subscription office", "PUT", "/api/v1/subscriptions/sms", adminToken, func(l string) []byte {
			return js(map[string]any{"url": "https://sms.example/hook", "secret": "0123456789abcdef", "offices": []string{l}})
		}},
	}
	check := func(name string, code int, errCode string) {
		t.Helper()
		if code < 400 || code > 499 || errCode == "" {
			t.Errorf("%s: answered %d %q, want a 4xx with a code", name, code, errCode)
		}
	}
	for _, w := range writes {
		code, errCode, _ := send(t, f, w.method, w.path, w.token, w.body(long))
		check(w.name, code, errCode)
	}
	// Every string of the region, one at a time (and every key of its
	// objects, such as a weekday of the hours).
	var cfg struct {
		Region any `yaml:"region"`
	}
	yaml.Unmarshal(demoYAML, &cfg)
	var region any
	json.Unmarshal(js(cfg.Region), &region)
	docs := variants(region, huge)
	if len(docs) < 100 {
		t.Fatalf("only %d region fields to try", len(docs))
	}
	for _, doc := range docs {
		code, errCode, _ := send(t, f, "PUT", "/api/v1/region", adminToken, js(doc))
		check("region field", code, errCode)
	}

	// Writes and reads work on every node.
	state := func(d *daemon) string {
		_, _, q := send(t, d, "GET", "/api/v1/offices/demo-24h/queue?consistency=linearizable", operatorToken, nil)
		_, _, bk := send(t, d, "GET", "/api/v1/bookings/"+b["id"].(string), portalToken, nil)
		delete(q, "load") // waits move with the clock
		return string(js([]any{q["waiting"], q["windows"], bk["status"], bk["start"]}))
	}
	for _, d := range nodes {
		if code, _, out := send(t, d, "POST", "/api/v1/offices/demo-24h/tickets", kioskToken, js(map[string]string{"service": "passport"})); code != 201 {
			t.Fatalf("%s: a ticket after the hostile writes: %d %v", d.id, code, out)
		}
	}
	before := state(nodes[0])
	for _, d := range nodes[1:] {
		if got := state(d); got != before {
			t.Fatalf("%s disagrees:\n%s\n%s", d.id, got, before)
		}
	}
	// A restart of all three comes up ready with the same state.
	for _, d := range nodes {
		d.kill()
	}
	startAll(t, nodes)
	for _, d := range nodes {
		if got := state(d); got != before {
			t.Fatalf("%s after the restart:\n%s\nwant\n%s", d.id, got, before)
		}
	}
}
