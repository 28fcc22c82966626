package node

import (
	"testing"

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
