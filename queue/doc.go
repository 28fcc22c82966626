// Package queue is talon's domain: a region's offices, services and windows,
// 15-minute booking slots, bookings, walk-in and checked-in tickets, calls to
// windows, and every rule of DOMAIN.md.
//
// It is a pure, deterministic state machine: no clock reads, no randomness,
// no I/O. Time arrives inside each command (the Raft leader stamps it), so
// every replica that applies the same log computes the same state and the
// same events. It must not know about Raft, HTTP, displays or metrics; the
// calling policy and the wait estimate are injected as a Policy so that the
// scheduler package can be swapped without touching the rules here.
package queue
