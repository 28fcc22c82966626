package scheduler

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/talon-mfc/talon/queue"
)

// TestFirstInRank: the selection is the depth lowest ranks of the line,
// whatever their order in it (checked against sorting the whole line).
func TestFirstInRank(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 200 {
		o := &queue.Office{}
		n := 1 + rng.IntN(400)
		for i := range n {
			o.Waiting = append(o.Waiting, &queue.Ticket{ID: uint64(i + 1), ArrivedAt: int64(rng.IntN(50))}) // many equal times
		}
		depth := 1 + rng.IntN(n)
		r := func(t *queue.Ticket, _ facts, _ int64) rank { return rank{0, t.ArrivedAt, t.ID} }
		got := firstInRank(o, 0, depth, r)
		want := slices.Clone(o.Waiting)
		slices.SortFunc(want, func(a, b *queue.Ticket) int {
			if r(a, facts{}, 0).less(r(b, facts{}, 0)) {
				return -1
			}
			return 1
		})
		ids := func(ts []*queue.Ticket) []uint64 {
			var out []uint64
			for _, t := range ts {
				out = append(out, t.ID)
			}
			slices.Sort(out)
			return out
		}
		if depth < n && !slices.Equal(ids(got), ids(want[:depth])) {
			t.Fatalf("round %d: %d of %d: got %v, want %v", round, depth, n, ids(got), ids(want[:depth]))
		}
	}
}
