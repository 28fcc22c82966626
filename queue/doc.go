// Package queue is talon's domain: a region's offices, services and windows,
// 15-minute booking slots, bookings, walk-in and checked-in tickets, calls to
// windows, notifications' outboxes, and the rules of an МФЦ region (see
// docs/domain.md).
//
// It is a pure, deterministic state machine: no clock reads, no randomness,
// no I/O. Time arrives inside each command (the Raft leader stamps it), so
// every replica that applies the same log computes the same state and the
// same events; office time zones come from the time zone database embedded
// here, never from the host. It owns its commands: one type per kind, each
// with its validation and its wire form (Encode, Decode). The layers above
// read it through a Reader, which hands out copies. It must not know about
// Raft, HTTP, displays or metrics; the calling policy and the wait estimate
// are injected as a Policy so that the scheduler package can be swapped
// without touching the rules here.
package queue
