package queue

import (
	"crypto/sha256"
	"encoding/base32"
	"slices"
)

// Booking references. A booking is public by its reference alone: 128
// random bits, drawn outside the state machine (by the API for a new
// booking) and carried in the command, so every replica stores the same. The
// numeric id stays internal (QR tokens sign it; they cannot be forged). A
// booking made by an earlier version, without a reference, gets one from the
// next Tick, derived from random bits the leader put in that Tick.

// RefLen is the length of a reference: 16 bytes in lowercase base32.
const RefLen = 26

var refEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// EncodeRef is the reference of 16 random bytes.
func EncodeRef(b [16]byte) string { return refEncoding.EncodeToString(b[:]) }

// ValidRef reports whether s is a well-formed reference.
func ValidRef(s string) bool {
	if len(s) != RefLen {
		return false
	}
	b, err := refEncoding.DecodeString(s)
	return err == nil && len(b) == 16 && refEncoding.EncodeToString(b) == s
}

// BookingByRef is a copy of the booking with reference ref, or nil.
func (s *State) BookingByRef(ref string, now int64) *Booking {
	if id, ok := s.refs[ref]; ok {
		return s.Booking(id, now)
	}
	return nil
}

// setRef gives b reference ref.
func (s *State) setRef(b *Booking, ref string) {
	b.Ref = ref
	s.refs[ref] = b.ID
}

// assignRefs gives every booking without a reference one derived from seed
// (a Tick's random bits) and the booking's id, in id order.
func (s *State) assignRefs(seed string) {
	if s.unreferenced == 0 || len(seed) < 16 {
		return
	}
	var ids []uint64
	for id, b := range s.Bookings {
		if b.Ref == "" {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		sum := sha256.Sum256(append([]byte(seed), byte(id), byte(id>>8), byte(id>>16), byte(id>>24), byte(id>>32), byte(id>>40), byte(id>>48), byte(id>>56)))
		ref := EncodeRef([16]byte(sum[:16]))
		if _, taken := s.refs[ref]; !taken {
			s.setRef(s.Bookings[id], ref)
			s.unreferenced--
		}
	}
}
