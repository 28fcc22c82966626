package notify

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"
)

// A webhook cannot reach the node itself, link-local metadata endpoints or
// private networks, neither named in its URL nor by a redirect from an
// allowed gateway; a network allowed by configuration can be reached.
func TestWebhookTargets(t *testing.T) {
	var hits atomic.Int32
	inside := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	defer inside.Close()
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, inside.URL, http.StatusTemporaryRedirect)
	}))
	defer redirect.Close()

	var closed Targets
	for _, u := range []string{inside.URL, "http://127.0.0.1:9/x", "http://169.254.169.254/latest/meta-data", "http://[::1]/",
		"http://10.0.0.5/", "http://192.168.1.1/", "http://100.64.0.1/", "http://0.0.0.0/", "http://localhost:8080/", "ftp://sms.example/",
		"http://[::ffff:127.0.0.1]/"} {
		if err := closed.Check(u); !errors.Is(err, ErrTarget) {
			t.Errorf("Check(%s) = %v, want refused", u, err)
		}
	}
	if err := closed.Check("https://sms.example.ru/hook"); err != nil {
		t.Errorf("a public gateway refused: %v", err)
	}
	if _, err := closed.Client(time.Second).Post(inside.URL, "application/json", nil); !errors.Is(err, ErrTarget) {
		t.Errorf("a loopback gateway: %v", err)
	}

	open := Targets{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	resp, err := open.Client(time.Second).Post(redirect.URL, "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTemporaryRedirect || hits.Load() != 0 {
		t.Errorf("a redirect was followed: %d, %d hits behind it", resp.StatusCode, hits.Load())
	}
	if resp, err := open.Client(time.Second).Post(inside.URL, "application/json", nil); err != nil || resp.StatusCode != 200 || hits.Load() != 1 {
		t.Errorf("an allowed network: %v", err)
	}
}
