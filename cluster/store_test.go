package cluster

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/talon-mfc/talon/cluster/node"
	"github.com/talon-mfc/talon/internal/windowcheck"
	"github.com/talon-mfc/talon/queue"
	"github.com/talon-mfc/talon/scheduler"
)

func allDay() map[string]string {
	h := map[string]string{}
	for _, d := range []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"} {
		h[d] = "00:00-24:00"
	}
	return h
}

// region is one office open all day with windows windows taking 15-minute
// passport visits: windows seats per slot.
func region(windows int) *queue.Region {
	r := &queue.Region{
		Name:     "test",
		Services: []queue.Service{{ID: "passport", Name: "Паспорт", Letter: "П", AvgMinutes: 15, Bookable: true}},
		Offices: []queue.OfficeConfig{{
			ID: "brn", Name: "Барнаул", Timezone: "Asia/Barnaul", Hours: allDay(), Services: []string{"passport"},
		}},
	}
	for w := 1; w <= windows; w++ {
		r.Offices[0].Windows = append(r.Offices[0].Windows, queue.WindowConfig{Number: w, Services: []string{"passport"}, Bookings: true})
	}
	return r
}

// checkWindowTime checks the window-time invariant of office brn on the
// day of start on node s.
func checkWindowTime(t *testing.T, s *Store, start int64) {
	t.Helper()
	s.Read(func(r queue.Reader) {
		oc, loc := r.Config("brn")
		day := time.Unix(start, 0).In(loc).Format(time.DateOnly)
		if err := windowcheck.Check(oc, windowcheck.FromReader(r, "brn", day), nil); err != nil {
			t.Errorf("node %s: %v", s.cfg.ID, err)
		}
	})
}

func openStore(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(Config{ID: "n1", Dir: dir, RaftAddr: "127.0.0.1:0", Bootstrap: true, Policy: scheduler.Default{}})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !s.serving() {
		if time.Now().After(deadline) {
			t.Fatal("node not ready")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return s
}

func apply(t *testing.T, s *Store, c queue.Command) queue.Result {
	t.Helper()
	r, _, err := s.Apply(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// tomorrow10 is 10:00 tomorrow in Barnaul, a slot in the future.
func tomorrow10() int64 {
	loc, _ := queue.LoadLocation("Asia/Barnaul")
	n := time.Now().In(loc)
	return time.Date(n.Year(), n.Month(), n.Day()+1, 10, 0, 0, 0, loc).Unix()
}

func TestStoreContentionAndRestart(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	if r := apply(t, s, &queue.SetRegion{Region: region(3)}); r.Err != nil {
		t.Fatal(r.Err)
	}
	start := tomorrow10()
	var mu sync.Mutex
	won, taken := 0, 0
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, _, err := s.Apply(context.Background(), &queue.Book{Office: "brn", Service: "passport", Start: start, Name: "Заявитель", Phone: fmt.Sprintf("7900%07d", i)})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				t.Error(err)
			case r.Err == nil:
				won++
			case r.Err.Code == queue.CodeSlotTaken:
				taken++
			default:
				t.Error(r.Err)
			}
		}()
	}
	numbers := make(chan string, 50)
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, _, err := s.Apply(context.Background(), &queue.Issue{Office: "brn", Service: "passport"})
			if err != nil || r.Err != nil {
				t.Error(err, r.Err)
				return
			}
			numbers <- r.Ticket.Number
		}()
	}
	wg.Wait()
	close(numbers)
	if won != 3 || taken != 197 {
		t.Fatalf("won %d, taken %d; want 3 and 197", won, taken)
	}
	checkWindowTime(t, s, start)
	seen := map[string]bool{}
	for n := range numbers {
		seen[n] = true
	}
	for i := 1; i <= 50; i++ {
		if !seen[fmt.Sprintf("П-%03d", i)] {
			t.Fatalf("ticket П-%03d missing; got %v", i, seen)
		}
	}

	// Snapshot half-way, write more, restart: both the snapshot and the log
	// after it come back.
	if err := s.raft.Snapshot().Error(); err != nil {
		t.Fatal(err)
	}
	apply(t, s, &queue.Issue{Office: "brn", Service: "passport"})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, dir)
	defer s.Close()
	r := apply(t, s, &queue.Issue{Office: "brn", Service: "passport"})
	if r.Err != nil || r.Ticket.Number != "П-052" {
		t.Fatalf("after restart got %+v %v, want П-052", r.Ticket, r.Err)
	}
	s.fsm.read(func(st *queue.State) {
		if len(st.Bookings) != 3 {
			t.Fatalf("%d bookings after restart", len(st.Bookings))
		}
	})
}

func TestHaltOnUnknownCommand(t *testing.T) {
	s := openStore(t, t.TempDir())
	defer s.Close()
	unknown := encodeBatch(time.Now().UnixMilli(), [][]byte{{77, 0}})
	if err := s.raft.Apply(unknown, time.Second).Error(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.Halted():
	case <-time.After(5 * time.Second):
		t.Fatal("node did not halt")
	}
	if s.Ready() || s.Status().Halted == "" {
		t.Fatal("a halted node must not be ready")
	}
	if r, _, err := s.Apply(context.Background(), &queue.Tick{}); err == nil {
		t.Fatalf("halted node applied a command: %+v", r)
	}
}

// BenchmarkApply measures the FSM apply path: one log entry of 256
// bookings, spread over a month of slots with 4 seats each.
func BenchmarkApply(b *testing.B) {
	const seats, perEntry = 4, 256
	newState := func() *fsm {
		f := newFSM(scheduler.Default{}, node.NewHub(1024), b.TempDir())
		reg, _ := encodeCommand(nil, &queue.SetRegion{Region: region(seats)})
		f.Apply(&raftLog(1, encodeBatch(time.Now().UnixMilli(), [][]byte{reg}))[0])
		return f
	}
	f, start, capacity := newState(), tomorrow10(), 28*96*seats
	cmds := make([][]byte, perEntry)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i+perEntry > capacity {
			b.StopTimer()
			f, i = newState(), 0
			b.StartTimer()
		}
		for j := range cmds {
			i++
			cmds[j], _ = encodeCommand(cmds[j][:0], &queue.Book{Office: "brn", Service: "passport", Start: start + int64(i/seats)*900, Name: "Заявитель", Phone: fmt.Sprintf("79%09d", i)})
		}
		logs := raftLog(uint64(i), encodeBatch(time.Now().UnixMilli(), cmds))
		for _, r := range f.ApplyBatch([]*raftLogT{&logs[0]})[0].([]queue.Result) {
			if r.Err != nil {
				b.Fatal(r.Err)
			}
		}
	}
	b.ReportMetric(float64(b.N*perEntry)/b.Elapsed().Seconds(), "bookings/s")
}

// BenchmarkRestart measures how long a node with a large state takes from
// Open to Ready: it loads the latest snapshot and replays the log after it.
// The state: 100k tickets in one snapshot, then 5k more in the log.
func BenchmarkRestart(b *testing.B) {
	dir := b.TempDir()
	cfg := Config{ID: "n1", Dir: dir, RaftAddr: "127.0.0.1:0", Bootstrap: true, Policy: scheduler.Default{}}
	s, err := Open(cfg)
	if err != nil {
		b.Fatal(err)
	}
	for !s.serving() {
		time.Sleep(10 * time.Millisecond)
	}
	ctx := context.Background()
	s.Apply(ctx, &queue.SetRegion{Region: region(4)})
	issue := func(n int) {
		var wg sync.WaitGroup
		for w := range 64 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range n / 64 {
					if r, _, err := s.Apply(ctx, &queue.Issue{Office: "brn", Service: "passport"}); err != nil || r.Err != nil {
						b.Error(w, err, r.Err)
						return
					}
				}
			}()
		}
		wg.Wait()
	}
	issue(100_000)
	if err := s.raft.Snapshot().Error(); err != nil {
		b.Fatal(err)
	}
	issue(5_000)
	s.Close()
	var opening time.Duration
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		s, err := Open(cfg)
		if err != nil {
			b.Fatal(err)
		}
		opening += time.Since(start)
		for !s.serving() {
			time.Sleep(time.Millisecond)
		}
		b.StopTimer()
		s.fsm.read(func(st *queue.State) {
			if len(st.Tickets) < 104_000 {
				b.Fatalf("%d tickets after restart", len(st.Tickets))
			}
		})
		s.Close()
		b.StartTimer()
	}
	// Open restores the snapshot; the rest of ns/op is the election (a lone
	// voter stands at once), replaying the log and the barrier.
	b.ReportMetric(float64(opening.Milliseconds())/float64(b.N), "ms-open")
}
