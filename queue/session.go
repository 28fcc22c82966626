package queue

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/binary"
	"strings"
)

// Session is what an employee's session token says: who, made at which of
// their session counts (Employee.Sessions), valid until when, signed with
// which key. Any node checks it with the region's talon keys; a sign-out
// moves the count on, which ends every earlier session.
type Session struct {
	Employee string
	Count    uint64
	Expires  int64
	KeyID    string
}

// sessionContext separates session signatures from talons'.
var sessionContext = []byte("talon-session-v1\x00")

// SessionPrefix starts every session token (device tokens never do).
const SessionPrefix = "s1."

// SignSession makes a session token.
func (k *Keyring) SignSession(s Session) string {
	msg := []byte{byte(len(k.active))}
	msg = append(msg, k.active...)
	msg = append(msg, byte(len(s.Employee)))
	msg = append(msg, s.Employee...)
	msg = binary.AppendUvarint(msg, s.Count)
	msg = binary.AppendVarint(msg, s.Expires)
	msg = append(msg, ed25519.Sign(k.priv, append(append([]byte{}, sessionContext...), msg...))...)
	return SessionPrefix + base64.RawURLEncoding.EncodeToString(msg)
}

// VerifySession checks a session token's signature and returns what it
// says (not whether it is still current: that is the state's).
func (k *Keyring) VerifySession(token string) (Session, bool) {
	body, ok := strings.CutPrefix(token, SessionPrefix)
	if !ok || len(body) > 256 || strings.ContainsAny(body, "\r\n=") {
		return Session{}, false
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(body)
	if err != nil || len(raw) < 2+ed25519.SignatureSize {
		return Session{}, false
	}
	msg, sig := raw[:len(raw)-ed25519.SignatureSize], raw[len(raw)-ed25519.SignatureSize:]
	rest := msg
	field := func() (string, bool) {
		if len(rest) < 1 || len(rest) < 1+int(rest[0]) {
			return "", false
		}
		f := string(rest[1 : 1+int(rest[0])])
		rest = rest[1+int(rest[0]):]
		return f, true
	}
	var s Session
	if s.KeyID, ok = field(); !ok {
		return Session{}, false
	}
	if s.Employee, ok = field(); !ok {
		return Session{}, false
	}
	var n int
	if s.Count, n = binary.Uvarint(rest); n <= 0 {
		return Session{}, false
	}
	rest = rest[n:]
	if s.Expires, n = binary.Varint(rest); n <= 0 || n != len(rest) {
		return Session{}, false
	}
	pub := k.pub[s.KeyID]
	if pub == nil || !ed25519.Verify(pub, append(append([]byte{}, sessionContext...), msg...), sig) {
		return Session{}, false
	}
	return s, true
}

// Current reports whether session s still holds at now: its employee
// exists, is not disabled, has not signed out since, and it has not expired.
func (r Reader) Current(s Session, now int64) (*Employee, bool) {
	e := r.s.Employees[s.Employee]
	if e == nil || e.Disabled || e.Sessions != s.Count || now >= s.Expires {
		return nil, false
	}
	c := *e
	c.Roles, c.Offices = append([]string(nil), e.Roles...), append([]string(nil), e.Offices...)
	return &c, true
}

// Employee is a copy of employee id, or nil.
func (r Reader) Employee(id string) *Employee {
	if e := r.s.Employees[id]; e != nil {
		c := *e
		return &c
	}
	return nil
}

// Employees are copies of every employee, in id order.
func (r Reader) Employees() []Employee {
	var out []Employee
	for _, e := range r.s.Employees {
		out = append(out, *e)
	}
	sortEmployees(out)
	return out
}
