package node

import (
	"context"
	"sync"

	"github.com/talon-mfc/talon/queue"
)

// Hub fans the events of the applied log out to subscribers (displays,
// metrics, notifications). Publishing never blocks the state machine: a
// subscriber whose buffer is full is dropped, its channel closed, and it
// resubscribes from the last Seq it saw using Since.
type Hub struct {
	mu     sync.Mutex
	closed chan struct{} // closed with the hub: followers return
	subs   map[*Subscription]struct{}
	ring   []queue.Event // the most recent events, circular: event Seq sits at Seq % len(ring)
	last   uint64        // Seq of the newest retained event
	epoch  uint64        // counts Resets: a state replaced, events numbered anew
	base   uint64        // the Seq the current epoch began after
}

// Subscription receives events on C until it is closed or dropped.
type Subscription struct {
	C   chan queue.Event
	hub *Hub
}

// NewHub keeps the last size events for resuming subscribers.
func NewHub(size int) *Hub {
	return &Hub{subs: map[*Subscription]struct{}{}, ring: make([]queue.Event, size), closed: make(chan struct{})}
}

// Subscribe returns a subscription with a buffer of n events.
func (h *Hub) Subscribe(n int) *Subscription {
	s := &Subscription{C: make(chan queue.Event, n), hub: h}
	h.mu.Lock()
	h.subs[s] = struct{}{}
	h.mu.Unlock()
	return s
}

// Close ends the subscription.
func (s *Subscription) Close() {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	if _, ok := s.hub.subs[s]; ok {
		delete(s.hub.subs, s)
		close(s.C)
	}
}

// Since returns the retained events with Seq > seq, and whether the ring
// still reaches back that far (false: the caller must start from a snapshot).
func (h *Hub) Since(seq uint64) ([]queue.Event, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if seq >= h.last {
		return nil, true
	}
	if h.last-seq > uint64(len(h.ring)) {
		return nil, false
	}
	out := make([]queue.Event, 0, h.last-seq)
	for n := seq + 1; n <= h.last; n++ {
		out = append(out, h.ring[n%uint64(len(h.ring))])
	}
	return out, true
}

// Publish hands the events of an applied batch, in order, to every
// subscriber; it never blocks.
// Reset starts a new epoch: the node's state was replaced (a backup
// restored, a snapshot installed), its last event is now seq, and what the
// ring held is of another history. Every follower is told (onGap) and goes
// on from seq.
func (h *Hub) Reset(seq uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.epoch++
	h.last, h.base = seq, seq
	clear(h.ring)
	for s := range h.subs {
		delete(h.subs, s)
		close(s.C)
	}
}

// position is the hub's epoch and the Seq it began after.
func (h *Hub) position() (epoch, base uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.epoch, h.base
}

func (h *Hub) Publish(evs []queue.Event) {
	if len(evs) == 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, e := range evs {
		h.ring[e.Seq%uint64(len(h.ring))] = e
		h.last = e.Seq
	}
	for s := range h.subs {
		for _, e := range evs {
			select {
			case s.C <- e:
			default:
				delete(h.subs, s)
				close(s.C)
			}
			if _, ok := h.subs[s]; !ok {
				break
			}
		}
	}
}

// Follow calls fn with every event after seq after, in order, until ctx
// ends or the hub closes. It catches up from the ring first, and again
// whenever its subscription is dropped (fn was too slow); onGap, if set, is
// called when events were skipped: the ring no longer reached back, or the
// state was replaced (Reset), after which it goes on from the new history.
// Pass the state's EventSeq read before starting to follow "from now on"
// without a gap.
func (h *Hub) Follow(ctx context.Context, after uint64, fn func(queue.Event), onGap func()) {
	last := after
	epoch, _ := h.position()
	for {
		sub := h.Subscribe(1 << 14)
		if ep, base := h.position(); ep != epoch {
			epoch, last = ep, base // the new history's events are in the ring from there
			if onGap != nil {
				onGap()
			}
		}
		evs, complete := h.Since(last)
		if !complete && onGap != nil {
			onGap()
		}
		for _, e := range evs {
			fn(e)
			last = e.Seq
		}
	events:
		for {
			select {
			case e, ok := <-sub.C:
				if !ok {
					break events // dropped: catch up
				}
				if e.Seq > last {
					fn(e)
					last = e.Seq
				}
			case <-ctx.Done():
				sub.Close()
				return
			case <-h.closed:
				sub.Close()
				return
			}
		}
	}
}

// Close ends every follower.
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	select {
	case <-h.closed:
	default:
		close(h.closed)
	}
}
