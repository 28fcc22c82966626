package cluster

import (
	"testing"
	"time"
)

// The quorum's time is one a majority of the voters' clocks have reached:
// with a voter down, a leader an hour ahead still finds itself off, and a
// follower an hour ahead does not make a right leader think it is off.
func TestQuorumOffset(t *testing.T) {
	for _, c := range []struct {
		name     string
		offsets  []time.Duration
		majority int
		want     time.Duration
	}{
		{"all three agree", []time.Duration{0, 10 * time.Millisecond, -5 * time.Millisecond}, 2, 0},
		{"leader an hour ahead, all answer", []time.Duration{0, -time.Hour, -time.Hour}, 2, -time.Hour},
		{"leader an hour ahead, one voter down", []time.Duration{0, -time.Hour}, 2, -time.Hour},
		{"a follower an hour ahead, one voter down", []time.Duration{0, time.Hour}, 2, 0},
		{"a follower an hour ahead, all answer", []time.Duration{0, time.Hour, 3 * time.Millisecond}, 2, 3 * time.Millisecond},
		{"five voters, leader a day ahead, two down", []time.Duration{0, -24 * time.Hour, -24 * time.Hour}, 3, -24 * time.Hour},
	} {
		if got := quorumOffset(c.offsets, c.majority); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}
