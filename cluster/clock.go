package cluster

import (
	"context"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// Clocks. The leader stamps every log entry with its clock, and the domain
// takes the stamps for the region's time (a later stamp never goes back).
// So one node with a fast clock, leading for a moment, would move the
// region's time for good: holds expire early, the day rolls over. Each
// node therefore measures its clock against the others', through the node
// RPC (corrected by half the round trip):
//
//   - a follower, against the leader's, when it asks for the leader's commit
//     index (askLeader);
//   - the leader, against each voter's, every clockEvery; the median of the
//     voters' offsets (its own is 0) is how far the quorum's clocks are from
//     its own.
//
// A node whose offset exceeds MaxClockOffset is not ready; a leader whose
// clock is that far from the quorum's hands leadership over and takes no
// writes, and a leader never stamps a time further ahead than MaxClockOffset
// beyond the quorum's.

// clockEvery is how often the leader measures the voters' clocks.
const clockEvery = time.Second

// clocks is what a node knows of its clock against the cluster's.
type clocks struct {
	mu       sync.Mutex
	offset   time.Duration // this node's clock minus the cluster's (a follower: the leader's; the leader: the quorum's)
	measured time.Time     // when offset was last measured; zero: never
	quorum   time.Duration // on the leader: the quorum's clocks minus its own
}

func (c *clocks) set(offset, quorum time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset, c.quorum, c.measured = offset, quorum, time.Now()
}

// get is the offset if measured within fresh, and whether it was.
func (c *clocks) get(fresh time.Duration) (offset, quorum time.Duration, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.offset, c.quorum, !c.measured.IsZero() && time.Since(c.measured) < fresh
}

// TimeReply is a node's clock, for a time exchange.
type TimeReply struct{ UnixNano int64 }

func (v service) Time(_ struct{}, r *TimeReply) error {
	r.UnixNano = v.s.Now().UnixNano()
	return nil
}

// offsetTo measures the clock of the node at addr against this node's:
// theirs minus ours, at the midpoint of the exchange.
func (s *Store) offsetTo(ctx context.Context, addr string) (time.Duration, error) {
	var r TimeReply
	t0 := s.Now()
	if err := s.peers.call(ctx, addr, "Time", struct{}{}, &r); err != nil {
		return 0, err
	}
	t1 := s.Now()
	mid := t0.Add(t1.Sub(t0) / 2)
	return time.Unix(0, r.UnixNano).Sub(mid), nil
}

// measureClocks, on the leader, measures the voters' clocks against its own
// and takes the quorum's: the latest time a majority of the voters' clocks
// has reached (of the k that answered, sorted, the offset at k − majority;
// with all answering, the median). A voter that is down is waited for only
// 100 ms once a majority answered. A single voter has nobody to compare
// with.
func (s *Store) measureClocks() {
	others, voters, err := s.otherVoters()
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	answers := make(chan time.Duration, len(others))
	asked := len(others)
	for _, addr := range others {
		go func() {
			d, err := s.offsetTo(ctx, addr)
			if err != nil {
				d = math.MinInt64 // no answer
			}
			answers <- d
		}()
	}
	majority := voters/2 + 1
	offsets := []time.Duration{0}
	var late <-chan time.Time
collect:
	for ; asked > 0; asked-- {
		select {
		case d := <-answers:
			if d != math.MinInt64 {
				offsets = append(offsets, d)
			}
		case <-late:
			break collect
		}
		if len(offsets) == majority {
			late = time.After(100 * time.Millisecond)
		}
	}
	if len(offsets) < majority {
		return // no majority answered: the last measurement ages out
	}
	quorum := quorumOffset(offsets, majority)
	s.clock.set(-quorum, quorum)
}

// quorumOffset is, of the offsets of the voters that answered (the
// leader's own, 0, among them), the latest time at least a majority of the
// voters' clocks have reached, as an offset to the leader's clock.
func quorumOffset(offsets []time.Duration, majority int) time.Duration {
	offsets = slices.Sorted(slices.Values(offsets))
	return offsets[len(offsets)-majority]
}

// clockOK reports whether this node's clock is within MaxClockOffset of the
// cluster's, as measured lately. A node that could not measure yet counts
// as off only when it leads others (it must not stamp blindly).
func (s *Store) clockOK() bool {
	offset, _, ok := s.clock.get(3 * clockEvery)
	if !ok {
		return s.raft.State() == raft.Leader && s.lone()
	}
	return offset.Abs() <= s.cfg.MaxClockOffset
}

// lone reports whether this node is the only voter.
func (s *Store) lone() bool { return s.Voters() == 1 }

// Voters is the number of voters in the cluster's configuration (0 when it
// cannot be read).
func (s *Store) Voters() int {
	servers, err := s.servers()
	if err != nil {
		return 0
	}
	voters := 0
	for _, sv := range servers {
		if sv.Suffrage == raft.Voter {
			voters++
		}
	}
	return voters
}

// stampBound is the latest time the leader may stamp: MaxClockOffset ahead
// of the quorum's clocks, or its own clock when that is earlier.
func (s *Store) stampBound() time.Time {
	now := s.Now()
	if _, quorum, ok := s.clock.get(3 * clockEvery); ok {
		if bound := now.Add(quorum + s.cfg.MaxClockOffset); bound.Before(now) {
			return bound
		}
	}
	return now
}

// ClockOffset is this node's clock minus the cluster's, in seconds, as last
// measured (NaN before the first measurement).
func (s *Store) ClockOffset() float64 {
	offset, _, ok := s.clock.get(time.Hour)
	if !ok {
		return math.NaN()
	}
	return offset.Seconds()
}
