package cluster

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/talon-mfc/talon/queue"
)

func TestEntryRoundTrip(t *testing.T) {
	cmds := []queue.Command{
		&queue.Book{Office: "brn", Service: "passport", Start: 1795500000, Name: "Иванов И.", Phone: "79001234567", Hold: true},
		&queue.Reschedule{Booking: 1 << 40, Start: -5},
		&queue.Tick{},
		&queue.Delivered{Sub: "sms", Seq: 77, Dead: true},
	}
	var raw [][]byte
	for _, c := range cmds {
		b, err := encodeCommand(nil, c)
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
	if _, skip, err := decodeCommand([]byte{byte(queue.Ignorable) | 99, 0}); !skip || err != nil {
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

// TestNothingOverLongEntersTheLog is the finding behind the command path:
// a 1 MiB + 1 field used to be encoded, committed, and then halt every node
// that decoded it. Now encoding refuses it, and so does the leader when a
// follower forwards the bytes.
func TestNothingOverLongEntersTheLog(t *testing.T) {
	long := strings.Repeat("x", 1<<20+1)
	for _, c := range []queue.Command{
		&queue.Issue{Office: "brn", Service: "passport", Category: long},
		&queue.Book{Office: "brn", Service: "passport", Start: 1, Name: long, Phone: "79000000000"},
	} {
		if _, err := encodeCommand(nil, c); err == nil || err.Code != queue.CodeFieldTooLong {
			t.Fatalf("%T encoded: %v", c, err)
		}
	}
	// The same command framed by hand, as a hostile or older follower might.
	raw := []byte{byte(queue.KindIssue), 0x07, 3, 'b', 'r', 'n', 8}
	raw = append(raw, "passport"...)
	raw = append(raw, 0x81, 0x80, 0x40) // uvarint 1 MiB + 1
	raw = append(raw, long...)
	if err := admit(raw); err == nil {
		t.Fatal("the leader admitted an over-long forwarded command")
	}
}

// FuzzForwarded feeds random bytes to the leader's forwarded-command entry
// point: whatever it admits, the FSM decodes when the entry applies.
func FuzzForwarded(f *testing.F) {
	for _, c := range []queue.Command{
		&queue.Book{Office: "brn", Service: "passport", Start: 7, Name: "x", Phone: "79000000000"},
		&queue.WindowAction{Office: "brn", Window: 3, Action: queue.ActRedirect, Service: "snils"},
		&queue.Subscribe{Sub: queue.Subscription{ID: "s", URL: "https://x", Secret: "0123456789abcdef"}},
		&queue.Tick{},
	} {
		b, _ := encodeCommand(nil, c)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if admit(data) != nil {
			return
		}
		_, cmds, err := decodeBatch(encodeBatch(1, [][]byte{data}))
		if err != nil {
			t.Fatalf("admitted %x does not frame: %v", data, err)
		}
		if _, skip, err := decodeCommand(cmds[0]); err != nil || skip {
			t.Fatalf("admitted %x does not decode: %v", data, err)
		}
	})
}

// FuzzDecode: no entry makes the decoder panic.
func FuzzDecode(f *testing.F) {
	b, _ := encodeCommand(nil, &queue.Book{Office: "brn", Name: "x", Start: 7})
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
