package queue

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"
	"sync"
)

// The limits of command fields, in bytes. Encode refuses a command with a
// longer field (field_too_long) and Decode refuses an entry with one, so the
// two agree by construction. Entries in the log were written under these
// limits: they may grow in a later version, never shrink.
const (
	MaxIDBytes           = 64       // office, service, category and subscription ids
	MaxNameBytes         = 800      // an applicant's name (200 characters of Cyrillic)
	MaxPhoneBytes        = 32       // a phone number as typed
	MaxKeyBytes          = 160      // an idempotency key with the API's scope prefix
	MaxRegionBytes       = 4 << 20  // a region configuration, as JSON
	MaxSubscriptionBytes = 16 << 10 // a webhook subscription, as JSON
	MaxWindow            = 9999     // the highest window number
	MaxReasonBytes       = 1000     // why an office closes, as the applicants are told
	MaxFingerprintBytes  = 64       // a request's fingerprint, with an idempotency key
)

// A command's wire form (the payload after its kind byte) is a mask of the
// fields present, then those fields in bit order:
//
//	payload = mask(uvarint) fields...
//	string  = len(uvarint) bytes      (json fields alike)
//	number  = varint or uvarint; flag = its bit alone; byte = one byte
//
// A zero field is left out. Each kind's wire method lists its fields once;
// the encoder, the decoder and so the limits follow that one list.
type wire interface {
	str(bit uint64, name string, v *string, limit int)
	varint(bit uint64, v *int64)
	int(bit uint64, v *int)
	uvarint(bit uint64, v *uint64)
	byte(bit uint64, v *byte)
	flag(bit uint64, v *bool)
	json(bit uint64, name string, v any, limit int)
}

// ErrUnknownKind: Decode met a kind this version does not know.
var ErrUnknownKind = errors.New("queue: unknown command kind")

// Encode validates c and appends its payload (its kind is not included) to
// b. A command that fails gets an *Error (field_too_long, invalid_request,
// invalid_config, …) and nothing is appended.
func Encode(b []byte, c Command) ([]byte, *Error) {
	if err := c.check(); err != nil {
		return b, err
	}
	start := len(b)
	e := encoders.Get().(*encoder) // c.wire's argument escapes: reuse it
	*e = encoder{fields: b}
	c.wire(e)
	mask, out, err := e.mask, e.fields, e.err
	*e = encoder{}
	encoders.Put(e)
	if err != nil {
		return b, err
	}
	// The mask goes first: grow by its length, move the fields up behind it.
	var m [binary.MaxVarintLen64]byte
	n := binary.PutUvarint(m[:], mask)
	out = append(out, m[:n]...)
	copy(out[start+n:], out[start:len(out)-n])
	copy(out[start:], m[:n])
	return out, nil
}

// Validate reports whether c may enter the log (nil), or why not.
func Validate(c Command) *Error {
	_, err := Encode(nil, c)
	return err
}

// Decode reads the payload of a command of kind k. It fails with
// ErrUnknownKind for a kind this version does not know, and with another
// error for a payload Encode could not have written.
func Decode(k Kind, payload []byte) (Command, error) {
	mk := commands[k]
	if mk == nil {
		return nil, fmt.Errorf("%w: %d", ErrUnknownKind, k)
	}
	c := mk()
	d := decoders.Get().(*decoder)
	defer func() { *d = decoder{}; decoders.Put(d) }()
	*d = decoder{b: payload}
	d.mask = d.readUvarint()
	c.wire(d)
	switch {
	case d.err != nil:
		return nil, d.err
	case d.mask&^d.seen != 0:
		return nil, fmt.Errorf("queue: %d command with unknown fields %#x", k, d.mask&^d.seen)
	case len(d.b) != 0:
		return nil, fmt.Errorf("queue: %d command with trailing bytes", k)
	}
	return c, nil
}

var (
	encoders = sync.Pool{New: func() any { return new(encoder) }}
	decoders = sync.Pool{New: func() any { return new(decoder) }}
)

// encoder writes the fields that are present; the first error sticks.
type encoder struct {
	mask, last uint64
	fields     []byte
	err        *Error
}

func (e *encoder) set(bit uint64, present bool) bool {
	if bit <= e.last {
		panic(fmt.Sprintf("queue: wire fields out of order (bit %d after %d)", bits.TrailingZeros64(bit), bits.TrailingZeros64(e.last)))
	}
	e.last = bit
	if present && e.err == nil {
		e.mask |= bit
		return true
	}
	return false
}

func (e *encoder) str(bit uint64, name string, v *string, limit int) {
	if e.set(bit, *v != "") {
		e.bytes(name, *v, limit)
	}
}

func (e *encoder) bytes(name, s string, limit int) {
	if len(s) > limit {
		e.err = errf(CodeFieldTooLong, "%s: %d bytes, longer than its limit of %d", name, len(s), limit)
		return
	}
	e.fields = binary.AppendUvarint(e.fields, uint64(len(s)))
	e.fields = append(e.fields, s...)
}

func (e *encoder) varint(bit uint64, v *int64) {
	if e.set(bit, *v != 0) {
		e.fields = binary.AppendVarint(e.fields, *v)
	}
}

func (e *encoder) int(bit uint64, v *int) {
	n := int64(*v)
	e.varint(bit, &n)
}

func (e *encoder) uvarint(bit uint64, v *uint64) {
	if e.set(bit, *v != 0) {
		e.fields = binary.AppendUvarint(e.fields, *v)
	}
}

func (e *encoder) byte(bit uint64, v *byte) {
	if e.set(bit, *v != 0) {
		e.fields = append(e.fields, *v)
	}
}

func (e *encoder) flag(bit uint64, v *bool) { e.set(bit, *v) }

func (e *encoder) json(bit uint64, name string, v any, limit int) {
	js, err := json.Marshal(v)
	if err != nil && e.err == nil {
		e.err = errf(CodeInvalidRequest, "%s: %v", name, err)
	}
	if e.set(bit, err == nil && string(js) != "null") {
		e.bytes(name, string(js), limit)
	}
}

// decoder reads the fields its mask says are present; the first error sticks.
type decoder struct {
	b          []byte
	mask, seen uint64
	err        error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = errors.New("queue: malformed command: " + what)
	}
}

func (d *decoder) has(bit uint64) bool {
	d.seen |= bit
	return d.mask&bit != 0 && d.err == nil
}

func (d *decoder) readUvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("bad uvarint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) readBytes(limit int) []byte {
	n := d.readUvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(limit) || n > uint64(len(d.b)) {
		d.fail("field too long")
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) str(bit uint64, _ string, v *string, limit int) {
	if d.has(bit) {
		*v = string(d.readBytes(limit))
	}
}

func (d *decoder) varint(bit uint64, v *int64) {
	if d.has(bit) {
		x, n := binary.Varint(d.b)
		if n <= 0 {
			d.fail("bad varint")
			return
		}
		*v, d.b = x, d.b[n:]
	}
}

func (d *decoder) int(bit uint64, v *int) {
	var n int64
	d.varint(bit, &n)
	*v = int(n)
}

func (d *decoder) uvarint(bit uint64, v *uint64) {
	if d.has(bit) {
		*v = d.readUvarint()
	}
}

func (d *decoder) byte(bit uint64, v *byte) {
	if d.has(bit) {
		if len(d.b) == 0 {
			d.fail("short")
			return
		}
		*v, d.b = d.b[0], d.b[1:]
	}
}

func (d *decoder) flag(bit uint64, v *bool) { *v = d.has(bit) }

func (d *decoder) json(bit uint64, _ string, v any, limit int) {
	if d.has(bit) {
		if js := d.readBytes(limit); d.err == nil {
			if err := json.Unmarshal(js, v); err != nil {
				d.fail(err.Error())
			}
		}
	}
}
