package cluster

import (
	"errors"
	"reflect"
	"testing"

	"github.com/talon-mfc/talon/queue"
)

func TestCommandRoundTrip(t *testing.T) {
	cmds := []queue.Command{
		{Kind: queue.KindBook, Office: "brn", Service: "passport", Start: 1795500000, Name: "Иванов И.", Phone: "79001234567", Hold: true},
		{Kind: queue.KindReschedule, Booking: 1 << 40, Start: -5},
		{Kind: queue.KindWindow, Office: "brn", Window: 12, Action: queue.ActRedirect, Service: "snils"},
		{Kind: queue.KindIssue, Office: "brn", Service: "passport", Category: "disabled", Key: "kiosk-7:0042"},
		{Kind: queue.KindTick},
		{Kind: queue.KindSetRegion, Region: &queue.Region{Name: "r", Services: []queue.Service{{ID: "a", Letter: "А"}}}},
		{Kind: queue.KindSubscribe, Sub: &queue.Subscription{ID: "sms", URL: "https://sms.example/hook", Kinds: []string{queue.NCalled}, Secret: "0123456789abcdef"}},
		{Kind: queue.KindDelivered, Name: "sms", Booking: 77, Hold: true},
	}
	var raw [][]byte
	for _, c := range cmds {
		b, err := encodeCommand(nil, &c)
		if err != nil {
			t.Fatal(err)
		}
		raw = append(raw, b)
	}
	stamp, got, err := decodeBatch(encodeBatch(1795500000123, raw))
	if err != nil || stamp != 1795500000123 || len(got) != len(cmds) {
		t.Fatalf("batch %v %d %d", err, stamp, len(got))
	}
	for i, b := range got {
		c, skip, err := decodeCommand(b)
		if err != nil || skip || !reflect.DeepEqual(c, cmds[i]) {
			t.Fatalf("command %d: %+v %v, want %+v", i, c, err, cmds[i])
		}
	}
}

func TestUnknownCommands(t *testing.T) {
	if _, skip, err := decodeCommand([]byte{ignorableFlag | 99, 0}); !skip || err != nil {
		t.Fatalf("ignorable unknown type: skip=%v err=%v", skip, err)
	}
	if _, _, err := decodeCommand([]byte{99, 0}); !errors.Is(err, ErrUnknownCommand) {
		t.Fatalf("unknown type: %v", err)
	}
	if _, _, err := decodeCommand([]byte{byte(queue.KindTick), 0x80, 0x80, 0x01}); !errors.Is(err, ErrUnknownCommand) {
		t.Fatalf("unknown field: %v", err)
	}
	if _, _, err := decodeBatch([]byte{9, 0, 0}); !errors.Is(err, ErrUnknownCommand) {
		t.Fatalf("unknown entry version: %v", err)
	}
}

func FuzzDecode(f *testing.F) {
	b, _ := encodeCommand(nil, &queue.Command{Kind: queue.KindBook, Office: "brn", Name: "x", Start: 7})
	f.Add(encodeBatch(1, [][]byte{b}))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, cmds, err := decodeBatch(data)
		if err != nil {
			return
		}
		for _, c := range cmds {
			decodeCommand(c) // must not panic
		}
	})
}

func BenchmarkCodec(b *testing.B) {
	c := queue.Command{Kind: queue.KindBook, Office: "brn-lenina", Service: "passport", Start: 1795500000, Name: "Иванов Иван Иванович", Phone: "79001234567"}
	buf := make([]byte, 0, 128)
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = encodeCommand(buf[:0], &c)
		if _, _, err := decodeCommand(buf); err != nil {
			b.Fatal(err)
		}
	}
}
