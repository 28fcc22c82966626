package cluster

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/talon-mfc/talon/queue"
)

// A log entry is a batch of commands that share the leader's time stamp:
//
//	entry   = version(1) stamp(uvarint, unix ms) count(uvarint) { len(uvarint) command }
//	command = type(1) mask(uvarint) fields...
//
// The type byte is the queue.Kind; its high bit marks a command that an older
// node may skip. The mask says which fields follow, in bit order, so fields
// can be added without breaking old entries. An unknown type without the
// ignorable bit, or an unknown field, stops the node rather than letting
// replicas diverge.
const (
	entryVersion   = 1
	ignorableFlag  = 0x80
	maxFieldLength = 1 << 20
)

const (
	fOffice = 1 << iota
	fService
	fCategory
	fStart
	fBooking
	fWindow
	fAction
	fHold
	fName
	fPhone
	fRegion
	fKey
	fSub
	fAll = fSub<<1 - 1
)

// ErrUnknownCommand means a log entry holds a command this version cannot
// apply; the node halts instead of diverging from its peers.
var ErrUnknownCommand = errors.New("cluster: log entry holds a command this version does not know")

// encodeCommand appends the wire form of c to b.
func encodeCommand(b []byte, c *queue.Command) ([]byte, error) {
	var mask uint64
	set := func(bit uint64, present bool) {
		if present {
			mask |= bit
		}
	}
	set(fOffice, c.Office != "")
	set(fService, c.Service != "")
	set(fCategory, c.Category != "")
	set(fStart, c.Start != 0)
	set(fBooking, c.Booking != 0)
	set(fWindow, c.Window != 0)
	set(fAction, c.Action != 0)
	set(fHold, c.Hold)
	set(fName, c.Name != "")
	set(fPhone, c.Phone != "")
	set(fRegion, c.Region != nil)
	set(fKey, c.Key != "")
	set(fSub, c.Sub != nil)
	b = append(b, byte(c.Kind))
	b = binary.AppendUvarint(b, mask)
	str := func(bit uint64, s string) {
		if mask&bit != 0 {
			b = binary.AppendUvarint(b, uint64(len(s)))
			b = append(b, s...)
		}
	}
	str(fOffice, c.Office)
	str(fService, c.Service)
	str(fCategory, c.Category)
	if mask&fStart != 0 {
		b = binary.AppendVarint(b, c.Start)
	}
	if mask&fBooking != 0 {
		b = binary.AppendUvarint(b, c.Booking)
	}
	if mask&fWindow != 0 {
		b = binary.AppendVarint(b, int64(c.Window))
	}
	if mask&fAction != 0 {
		b = append(b, byte(c.Action))
	}
	str(fName, c.Name)
	str(fPhone, c.Phone)
	if mask&fRegion != 0 {
		js, err := json.Marshal(c.Region)
		if err != nil {
			return nil, err
		}
		str(fRegion, string(js))
	}
	str(fKey, c.Key)
	if mask&fSub != 0 {
		js, err := json.Marshal(c.Sub)
		if err != nil {
			return nil, err
		}
		str(fSub, string(js))
	}
	return b, nil
}

// reader decodes the wire form; the first error sticks.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("cluster: malformed entry: %s", what)
	}
}

func (r *reader) byte() byte {
	if len(r.b) < 1 {
		r.fail("short")
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("bad uvarint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail("bad varint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) bytes() []byte {
	n := r.uvarint()
	if n > maxFieldLength || n > uint64(len(r.b)) {
		r.fail("field too long")
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) str(mask, bit uint64) string {
	if mask&bit == 0 {
		return ""
	}
	return string(r.bytes())
}

// decodeCommand reads one command. skip is true for an unknown command
// flagged ignorable.
func decodeCommand(b []byte) (c queue.Command, skip bool, err error) {
	r := &reader{b: b}
	t := r.byte()
	c.Kind = queue.Kind(t &^ ignorableFlag)
	if r.err == nil && !queue.Known(c.Kind) {
		if t&ignorableFlag != 0 {
			return c, true, nil
		}
		return c, false, fmt.Errorf("%w: type %d", ErrUnknownCommand, t)
	}
	mask := r.uvarint()
	if mask&^fAll != 0 {
		return c, false, fmt.Errorf("%w: fields %#x", ErrUnknownCommand, mask&^fAll)
	}
	c.Office = r.str(mask, fOffice)
	c.Service = r.str(mask, fService)
	c.Category = r.str(mask, fCategory)
	if mask&fStart != 0 {
		c.Start = r.varint()
	}
	if mask&fBooking != 0 {
		c.Booking = r.uvarint()
	}
	if mask&fWindow != 0 {
		c.Window = int(r.varint())
	}
	if mask&fAction != 0 {
		c.Action = queue.Action(r.byte())
	}
	c.Hold = mask&fHold != 0
	c.Name = r.str(mask, fName)
	c.Phone = r.str(mask, fPhone)
	if mask&fRegion != 0 {
		c.Region = new(queue.Region)
		if err := json.Unmarshal(r.bytes(), c.Region); err != nil {
			r.fail("region: " + err.Error())
		}
	}
	c.Key = r.str(mask, fKey)
	if mask&fSub != 0 {
		c.Sub = new(queue.Subscription)
		if err := json.Unmarshal(r.bytes(), c.Sub); err != nil {
			r.fail("subscription: " + err.Error())
		}
	}
	if r.err == nil && len(r.b) != 0 {
		r.fail("trailing bytes")
	}
	return c, false, r.err
}

// encodeBatch builds one log entry from already encoded commands.
func encodeBatch(stampMillis int64, cmds [][]byte) []byte {
	n := 12
	for _, c := range cmds {
		n += len(c) + binary.MaxVarintLen32
	}
	b := make([]byte, 0, n)
	b = append(b, entryVersion)
	b = binary.AppendUvarint(b, uint64(stampMillis))
	b = binary.AppendUvarint(b, uint64(len(cmds)))
	for _, c := range cmds {
		b = binary.AppendUvarint(b, uint64(len(c)))
		b = append(b, c...)
	}
	return b
}

// decodeBatch splits a log entry into its stamp and raw commands.
func decodeBatch(b []byte) (stampMillis int64, cmds [][]byte, err error) {
	r := &reader{b: b}
	if v := r.byte(); r.err == nil && v != entryVersion {
		return 0, nil, fmt.Errorf("%w: entry version %d", ErrUnknownCommand, v)
	}
	stampMillis = int64(r.uvarint())
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.fail("count")
	}
	for i := uint64(0); i < n && r.err == nil; i++ {
		cmds = append(cmds, r.bytes())
	}
	if r.err == nil && len(r.b) != 0 {
		r.fail("trailing bytes")
	}
	return stampMillis, cmds, r.err
}
