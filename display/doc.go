// Package display is the front of house: the embedded pages (the portal,
// the hall screen, the screen above a window, the operator's panel, the
// kiosk, check-in) and the hall screens' WebSocket feed. The feed follows a
// node's events and reads its state through the small Feed interface (a
// queue.Reader hands out copies); it must not know Raft or the cluster. The
// printed talon is package printout's.
package display
