package api_test

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
	"go.yaml.in/yaml/v3"

	"github.com/talon-mfc/talon/api"
	"github.com/talon-mfc/talon/display"
	"github.com/talon-mfc/talon/queue"
)

// TestOpenAPICoversRoutes keeps openapi.yaml and the router in step, and
// checks that every error code the domain can return is listed.
func TestOpenAPICoversRoutes(t *testing.T) {
	raw, err := os.ReadFile("openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			if method != "parameters" {
				documented[strings.ToUpper(method)+" "+path] = true
			}
		}
	}
	routes := api.New(api.Config{Metrics: func(*fasthttp.RequestCtx) {}, DevClock: true, Screens: &display.Hub{}}).Routes()
	slices.Sort(routes)
	for _, r := range routes {
		if !documented[r] {
			t.Errorf("route %s is not in openapi.yaml", r)
		}
		delete(documented, r)
	}
	for r := range documented {
		t.Errorf("openapi.yaml documents %s, which is not served", r)
	}
	for _, code := range []queue.Code{queue.CodeSlotTaken, queue.CodeOutsideHorizon, queue.CodeOfficeClosed, queue.CodeNotBookable,
		queue.CodeLimitExceeded, queue.CodeHoldExpired, queue.CodeRescheduleLimit, queue.CodeInvalidQR, queue.CodeWrongOffice,
		queue.CodeTooEarly, queue.CodeTooLate, queue.CodeAlreadyCheckedIn, queue.CodeCancelled, queue.CodeNoCurrentTicket,
		queue.CodeWindowBusy, queue.CodeWindowNotOpen, queue.CodeNotConfirmed, queue.CodeNotActive, queue.CodeUnknownWindow} {
		if !strings.Contains(string(raw), string(code)) {
			t.Errorf("error code %s is not documented", code)
		}
	}
}
