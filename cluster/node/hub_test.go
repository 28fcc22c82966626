package node

import (
	"context"
	"testing"
	"time"

	"github.com/talon-mfc/talon/queue"
)

func TestHub(t *testing.T) {
	h := NewHub(4)
	fast, slow := h.Subscribe(16), h.Subscribe(1)
	var evs []queue.Event
	for seq := uint64(1); seq <= 6; seq++ {
		evs = append(evs, queue.Event{Seq: seq})
	}
	h.Publish(evs)
	for want := uint64(1); want <= 6; want++ {
		if e := <-fast.C; e.Seq != want {
			t.Fatalf("got %d, want %d", e.Seq, want)
		}
	}
	if e, ok := <-slow.C; !ok || e.Seq != 1 {
		t.Fatal("slow subscriber should get what fit in its buffer")
	}
	if _, ok := <-slow.C; ok {
		t.Fatal("a subscriber that could not keep up must be dropped")
	}
	if got, ok := h.Since(3); !ok || len(got) != 3 || got[0].Seq != 4 || got[2].Seq != 6 {
		t.Fatalf("since 3: %v %v", got, ok)
	}
	if _, ok := h.Since(1); ok {
		t.Fatal("events 2..6 no longer all fit in a ring of 4")
	}
	if got, ok := h.Since(6); !ok || len(got) != 0 {
		t.Fatal("nothing after the newest event")
	}
	fast.Close()
	fast.Close()
}

// TestResetStartsAnEpoch: after the state is replaced by an older one (a
// backup restored), event numbers start again lower; a follower is told
// (onGap) and receives the new history's events instead of dropping them.
func TestResetStartsAnEpoch(t *testing.T) {
	h := NewHub(16)
	got := make(chan uint64, 16)
	gaps := make(chan struct{}, 4)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.Follow(ctx, 0, func(e queue.Event) { got <- e.Seq }, func() { gaps <- struct{}{} })
	}()
	defer func() { cancel(); <-done }()
	publishUntilSeen := func(seq uint64) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			h.Publish([]queue.Event{{Seq: seq}})
			select {
			case s := <-got:
				if s == seq {
					return
				}
			case <-time.After(20 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				t.Fatalf("event %d never arrived", seq)
			}
		}
	}
	publishUntilSeen(10) // the follower is subscribed once it sees one
	h.Publish([]queue.Event{{Seq: 11}})
	if s := <-got; s != 11 {
		t.Fatalf("got %d", s)
	}
	h.Reset(5) // a backup at event 5 restored
	select {
	case <-gaps:
	case <-time.After(5 * time.Second):
		t.Fatal("the follower was not told of the new epoch")
	}
	publishUntilSeen(6)
}
