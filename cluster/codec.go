package cluster

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/talon-mfc/talon/queue"
)

// A log entry is a batch of commands that share the leader's time stamp:
//
//	entry   = version(1) stamp(uvarint, unix ms) count(uvarint) { len(uvarint) command }
//	command = type(1) payload
//
// The type byte is the command's queue.Kind; its high bit (queue.Ignorable)
// marks a kind that a node of an older version may skip. The payload is the
// domain's (queue.Encode, queue.Decode): this package never looks inside.
// An unknown type without the ignorable bit, or a payload the domain cannot
// decode, stops the node rather than letting replicas diverge.
const (
	entryVersion = 1
	// maxCommandBytes bounds one framed command; the domain's limits keep
	// every command far below it.
	maxCommandBytes = 8 << 20
)

// ErrUnknownCommand means a log entry holds a command this version cannot
// apply; the node halts instead of diverging from its peers.
var ErrUnknownCommand = errors.New("cluster: log entry holds a command this version does not know")

// encodeCommand appends the framed command to b, after the domain
// validated it: nothing it refuses reaches the log.
func encodeCommand(b []byte, c queue.Command) ([]byte, *queue.Error) {
	return queue.Encode(append(b, byte(c.Kind())), c)
}

// decodeCommand reads one framed command. skip is true for an unknown kind
// flagged ignorable.
func decodeCommand(b []byte) (c queue.Command, skip bool, err error) {
	if len(b) == 0 {
		return nil, false, errors.New("cluster: malformed entry: empty command")
	}
	k := queue.Kind(b[0])
	c, err = queue.Decode(k, b[1:])
	switch {
	case err == nil:
		return c, false, nil
	case errors.Is(err, queue.ErrUnknownKind) && k&queue.Ignorable != 0:
		return nil, true, nil
	case errors.Is(err, queue.ErrUnknownKind):
		return nil, false, fmt.Errorf("%w: type %d", ErrUnknownCommand, k)
	}
	return nil, false, fmt.Errorf("%w: %v", ErrUnknownCommand, err)
}

// admit is what the leader does with a command a follower forwarded before
// it proposes it: the bytes must decode to a command of this version that
// passes validation, as if the leader had built it itself.
func admit(b []byte) *queue.Error {
	c, skip, err := decodeCommand(b)
	switch {
	case err != nil || skip:
		return &queue.Error{Code: queue.CodeInvalidCommand, Message: "the forwarded command cannot be applied by this version"}
	case len(b) > maxCommandBytes:
		return &queue.Error{Code: queue.CodeFieldTooLong, Message: "the forwarded command is too long"}
	}
	return queue.Validate(c)
}

// reader decodes the entry framing; the first error sticks.
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

func (r *reader) bytes() []byte {
	n := r.uvarint()
	if n > maxCommandBytes || n > uint64(len(r.b)) {
		r.fail("command too long")
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
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
