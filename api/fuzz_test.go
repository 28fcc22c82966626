package api

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/talon-mfc/talon/queue"
)

// parse builds the command of write route from fuzzed path parameters and
// body, through the parsing the handlers use.
func parse(keys *queue.Keyring, route byte, a, b string, body []byte) (queue.Command, *queue.Error) {
	actions := []string{"open", "close", "pause", "call-next", "recall", "start", "finish", "no-show", "redirect", a}
	switch route % 8 {
	case 0:
		return bookRequest(body, a)
	case 1:
		return rescheduleRequest(uint64(len(a)), body)
	case 2:
		return issueRequest(a, body, b)
	case 3:
		return checkInRequest(keys, a, body)
	case 4:
		return windowRequest(a, b, actions[int(route/8)%len(actions)], body)
	case 5:
		return regionRequest(body, len(a) > 0)
	case 6:
		return subscriptionRequest(a, body)
	default:
		return closureRequest(a, body)
	}
}

type request struct {
	route byte
	a, b  string
	body  string
}

// validRequests are one valid request of each write route: the fuzzer's
// seeds.
func validRequests(keys *queue.Keyring) []request {
	qr := keys.Sign(queue.Talon{Booking: 3, Office: "brn", Start: 1795500000})
	return []request{
		{0, "key", "", `{"office":"brn","service":"passport","start":"2026-11-30T10:00:00+07:00","applicant":{"name":"Иванова Мария","phone":"+7 913 000-00-01"}}`},
		{1, "x", "", `{"start":"2026-11-30T10:15:00+07:00"}`},
		{2, "brn", "k", `{"service":"passport","category":"disabled"}`},
		{3, "brn", "", `{"qr":"` + qr + `"}`},
		{4 + 8*8, "brn", "3", `{"service":"snils"}`}, // redirect
		{5, "", "", `{"name":"r","services":[{"id":"a","name":"А","letter":"А","avg_minutes":15,"bookable":true}],` +
			`"offices":[{"id":"o","name":"О","timezone":"Asia/Barnaul","hours":{"mon":"09:00-13:00"},"holidays":[{"date":"2026-12-31","hours":"closed"}],` +
			`"services":["a"],"windows":[{"number":1,"services":["a"],"bookings":true}],"seats":{"a":2}}]}`},
		{6, "sms", "", `{"url":"https://sms.example/hook","secret":"0123456789abcdef","kinds":["called"],"offices":["brn"]}`},
		{7, "brn", "", `{"from":"2026-11-30T10:00:00+07:00","to":"2026-11-30T14:00:00+07:00","reason":"авария на подстанции"}`},
	}
}

func TestValidRequestsAreValid(t *testing.T) {
	keys, _ := queue.NewKeyring("k1", bytes.Repeat([]byte{7}, 32), nil)
	for _, r := range validRequests(keys) {
		cmd, err := parse(keys, r.route, r.a, r.b, []byte(r.body))
		if err != nil {
			t.Fatalf("route %d: %v", r.route, err)
		}
		if err := queue.Validate(cmd); err != nil {
			t.Fatalf("route %d: %v", r.route, err)
		}
	}
}

// FuzzCommandPath builds commands from random requests as the API does,
// validates, encodes, decodes and compares: every command that passes
// validation round-trips, so no node ever halts on what the API let
// through.
func FuzzCommandPath(f *testing.F) {
	keys, _ := queue.NewKeyring("k1", bytes.Repeat([]byte{7}, 32), nil)
	for _, r := range validRequests(keys) {
		f.Add(r.route, r.a, r.b, []byte(r.body))
	}
	f.Fuzz(func(t *testing.T, route byte, a, b string, body []byte) {
		cmd, perr := parse(keys, route, a, b, body)
		if perr != nil || queue.Validate(cmd) != nil {
			return
		}
		wire, err := queue.Encode(nil, cmd)
		if err != nil {
			t.Fatalf("%+v passed validation but does not encode: %v", cmd, err)
		}
		got, derr := queue.Decode(cmd.Kind(), wire)
		if derr != nil {
			t.Fatalf("%+v passed validation but its entry would halt a node: %v", cmd, derr)
		}
		again, _ := queue.Encode(nil, got)
		if !bytes.Equal(again, wire) {
			t.Fatalf("%+v decoded as %+v", cmd, got)
		}
		switch cmd.(type) {
		case *queue.SetRegion, *queue.Subscribe: // JSON inside: empty and absent lists read back alike
		default:
			if !reflect.DeepEqual(got, cmd) {
				t.Fatalf("%+v decoded as %+v", cmd, got)
			}
		}
	})
}
