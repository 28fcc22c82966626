// Package scheduler is talon's policy over the queue state: whom a window
// calls next, the wait estimate printed on a new ticket, an office's load,
// and which office to recommend for a service. Everything here is a pure
// function of the state and the time passed in, so the same code runs inside
// the replicated state machine and in simulations. It must not change state.
package scheduler
