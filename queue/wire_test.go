package queue_test

import (
	"encoding/hex"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/talon-mfc/talon/queue"
)

// allKinds has one command of every kind with every field set.
func allKinds() []queue.Command {
	return []queue.Command{
		&queue.SetRegion{Region: &queue.Region{Name: "r", Services: []queue.Service{{ID: "a", Letter: "А", AvgMinutes: 15}},
			Offices: []queue.OfficeConfig{{ID: "o", Timezone: "Asia/Barnaul", Services: []string{"a"}}}}},
		&queue.Book{Office: "brn", Service: "passport", Start: 1795500000, Hold: true, Name: "Иванов И.", Phone: "79001234567", Key: "ab:k1"},
		&queue.Confirm{Booking: 3},
		&queue.Reschedule{Booking: 1 << 40, Start: -5},
		&queue.Cancel{Booking: 4},
		&queue.Issue{Office: "brn", Service: "passport", Category: "disabled", Key: "kiosk-7:0042"},
		&queue.CheckIn{Office: "brn", Booking: 9, Start: 1795500900},
		&queue.WindowAction{Office: "brn", Window: 12, Action: queue.ActRedirect, Service: "snils"},
		&queue.Tick{},
		&queue.Subscribe{Sub: queue.Subscription{ID: "sms", URL: "https://sms.example/hook", Kinds: []string{queue.NCalled}, Offices: []string{"brn"}, Secret: "0123456789abcdef"}},
		&queue.Unsubscribe{ID: "sms"},
		&queue.Delivered{Sub: "sms", Seq: 77, Dead: true},
		&queue.Replay{Sub: "sms", Actor: "device:admin"},
		&queue.WindowAction{Office: "brn", Window: 2, Action: queue.ActTransfer, Employee: "ivanova", Number: "П-017", Reason: "why",
			Minutes: 7, ToWindow: 3, Today: []string{"passport", "snils"}, Actor: "employee:petrov"},
		&queue.Issue{Office: "brn", Service: "passport", Force: true, Actor: "employee:zala"},
		&queue.SetEmployee{ID: "ivanova", Name: "Иванова Мария", Roles: []string{queue.RoleOperator, queue.RoleSupervisor},
			Offices: []string{"brn"}, Hash: "$2a$10$abcdefghijklmnopqrstuv", Disabled: true, Actor: "device:admin"},
		&queue.SignOut{Employee: "ivanova", Actor: "employee:ivanova"},
	}
}

func TestEveryKindRoundTrips(t *testing.T) {
	for _, c := range allKinds() {
		b, err := queue.Encode(nil, c)
		if err != nil {
			t.Fatalf("%T: %v", c, err)
		}
		got, derr := queue.Decode(c.Kind(), b)
		if derr != nil || !reflect.DeepEqual(got, c) {
			t.Fatalf("%T: decoded %+v (%v), want %+v", c, got, derr, c)
		}
		// Encoding appends: a prefix stays as it was.
		if b2, _ := queue.Encode([]byte("prefix"), c); string(b2) != "prefix"+string(b) {
			t.Fatalf("%T: Encode does not append", c)
		}
	}
}

// TestFirstVersionEntriesDecode decodes commands as the first version wrote
// them (its single field mask, type byte first), taken from that version's
// encoder: a log written then still replays.
func TestFirstVersionEntriesDecode(t *testing.T) {
	golden := map[string]queue.Command{
		"028b170362726e0870617373706f7274c09fa9b00d10d098d0b2d0b0d0bdd0bed0b220d0982e0b37393030313233343536370561623a6b31": &queue.Book{Office: "brn", Service: "passport", Start: 1795500000, Name: "Иванов И.", Phone: "79001234567", Hold: true, Key: "ab:k1"},
		"041809808080808020":           &queue.Reschedule{Booking: 1 << 40, Start: -5},
		"08630362726e05736e696c731809": &queue.WindowAction{Office: "brn", Window: 12, Action: queue.ActRedirect, Service: "snils"},
		"0687100362726e0870617373706f72740864697361626c65640c6b696f736b2d373a30303432": &queue.Issue{Office: "brn", Service: "passport", Category: "disabled", Key: "kiosk-7:0042"},
		"07190362726ec8ada9b00d09": &queue.CheckIn{Office: "brn", Booking: 9, Start: 1795500900},
		"0900":                     &queue.Tick{},
		"0a80205c7b226964223a22736d73222c2275726c223a2268747470733a2f2f736d732e6578616d706c652f686f6f6b222c226b696e6473223a5b2263616c6c6564225d2c22736563726574223a2230313233343536373839616263646566227d": &queue.Subscribe{Sub: queue.Subscription{ID: "sms", URL: "https://sms.example/hook", Kinds: []string{queue.NCalled}, Secret: "0123456789abcdef"}},
		"0c90034d03736d73": &queue.Delivered{Sub: "sms", Seq: 77, Dead: true},
		"0b800203736d73":   &queue.Unsubscribe{ID: "sms"},
		"0d800203736d73":   &queue.Replay{Sub: "sms"},
		"031003":           &queue.Confirm{Booking: 3},
		"051004":           &queue.Cancel{Booking: 4},
	}
	for h, want := range golden {
		raw, _ := hex.DecodeString(h)
		got, err := queue.Decode(queue.Kind(raw[0]), raw[1:])
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: %+v (%v), want %+v", h, got, err, want)
		}
		again, _ := queue.Encode([]byte{raw[0]}, want)
		if hex.EncodeToString(again) != h {
			t.Fatalf("%T encodes as %x, the first version wrote %s", want, again, h)
		}
	}
}

// TestLimitsAreSymmetric: a field one byte over its limit is refused by
// Encode (field_too_long), and the same bytes written by hand are refused by
// Decode; at the limit both accept.
func TestLimitsAreSymmetric(t *testing.T) {
	at := &queue.Book{Office: strings.Repeat("o", queue.MaxIDBytes), Name: strings.Repeat("я", queue.MaxNameBytes/2),
		Phone: strings.Repeat("7", queue.MaxPhoneBytes), Key: strings.Repeat("k", queue.MaxKeyBytes)}
	b, err := queue.Encode(nil, at)
	if err != nil {
		t.Fatalf("at the limits: %v", err)
	}
	if got, err := queue.Decode(queue.KindBook, b); err != nil || !reflect.DeepEqual(got, at) {
		t.Fatalf("at the limits decoded %v", err)
	}
	over := []queue.Command{
		&queue.Book{Office: strings.Repeat("o", queue.MaxIDBytes+1)},
		&queue.Book{Name: strings.Repeat("n", queue.MaxNameBytes+1)},
		&queue.Book{Phone: strings.Repeat("7", queue.MaxPhoneBytes+1)},
		&queue.Issue{Category: strings.Repeat("c", 1<<20+1)},
		&queue.Issue{Key: strings.Repeat("k", queue.MaxKeyBytes+1)},
		&queue.WindowAction{Office: "brn", Window: 1, Action: queue.ActRedirect, Service: strings.Repeat("s", queue.MaxIDBytes+1)},
		&queue.CheckIn{Office: strings.Repeat("o", queue.MaxIDBytes+1)},
	}
	for _, c := range over {
		if _, err := queue.Encode(nil, c); err == nil || err.Code != queue.CodeFieldTooLong {
			t.Fatalf("%+v: %v, want field_too_long", c, err)
		}
	}
	// Book's office field, hand-written one byte over the limit.
	long := strings.Repeat("o", queue.MaxIDBytes+1)
	raw := append([]byte{1, byte(len(long))}, long...)
	if _, err := queue.Decode(queue.KindBook, raw); err == nil {
		t.Fatal("decoded an office over the limit")
	}
}

func TestValidationBeforeTheLog(t *testing.T) {
	for _, c := range []queue.Command{
		&queue.Confirm{}, &queue.Cancel{}, &queue.Reschedule{Start: 5},
		&queue.WindowAction{Office: "brn", Window: 0, Action: queue.ActOpen},
		&queue.WindowAction{Office: "brn", Window: 1, Action: 77},
		&queue.WindowAction{Office: "brn", Window: queue.MaxWindow + 1, Action: queue.ActOpen},
		&queue.SetRegion{}, &queue.SetRegion{Region: &queue.Region{Offices: []queue.OfficeConfig{{ID: "x", Timezone: "Local"}}}},
		&queue.SetRegion{Region: &queue.Region{Name: strings.Repeat("р", 301)}},
		&queue.Subscribe{Sub: queue.Subscription{ID: "Bad Id", URL: "https://x", Secret: "0123456789abcdef"}},
		&queue.Subscribe{Sub: queue.Subscription{ID: "ok", URL: "ftp://x", Secret: "0123456789abcdef"}},
		&queue.Subscribe{Sub: queue.Subscription{ID: "ok", URL: "https://x", Secret: "short"}},
		&queue.Subscribe{Sub: queue.Subscription{ID: "ok", URL: "https://x", Secret: "0123456789abcdef", Kinds: []string{"nope"}}},
		&queue.Delivered{}, &queue.Replay{Sub: strings.Repeat("x", 65)},
	} {
		if err := queue.Validate(c); err == nil {
			t.Fatalf("%+v passed validation", c)
		}
	}
}

func TestUnknownKindsAndFields(t *testing.T) {
	if _, err := queue.Decode(99, []byte{0}); !errors.Is(err, queue.ErrUnknownKind) {
		t.Fatalf("unknown kind: %v", err)
	}
	if _, err := queue.Decode(queue.KindTick, []byte{0x80, 0x80, 0x01}); err == nil || errors.Is(err, queue.ErrUnknownKind) {
		t.Fatalf("unknown field: %v", err)
	}
	if _, err := queue.Decode(queue.KindConfirm, []byte{0x10, 0x03, 0x00}); err == nil {
		t.Fatal("trailing bytes decoded")
	}
}

// FuzzDecode: no payload makes Decode panic, and whatever it accepts
// encodes again to a payload that decodes to the same command.
func FuzzDecode(f *testing.F) {
	for _, c := range allKinds() {
		b, _ := queue.Encode([]byte{byte(c.Kind())}, c)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		c, err := queue.Decode(queue.Kind(data[0]), data[1:])
		if err != nil || queue.Validate(c) != nil {
			return
		}
		b, verr := queue.Encode(nil, c)
		if verr != nil {
			t.Fatalf("valid %+v does not encode: %v", c, verr)
		}
		if again, err := queue.Decode(c.Kind(), b); err != nil || !reflect.DeepEqual(again, c) {
			t.Fatalf("%+v re-decoded as %+v (%v)", c, again, err)
		}
	})
}

func BenchmarkCodec(b *testing.B) {
	c := &queue.Book{Office: "brn-lenina", Service: "passport", Start: 1795500000, Name: "Иванов Иван Иванович", Phone: "79001234567"}
	buf := make([]byte, 0, 128)
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = queue.Encode(buf[:0], c)
		if _, err := queue.Decode(queue.KindBook, buf); err != nil {
			b.Fatal(err)
		}
	}
}
