package main

import (
	"bytes"
	"fmt"
	"syscall"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/talon-mfc/talon/cluster"
	"github.com/talon-mfc/talon/queue"
	"github.com/talon-mfc/talon/scheduler"
)

// restart: a node holding records bookings and tickets is killed (SIGKILL)
// and started again; the figure is the time from the process's start until
// it answers /readyz, and its resident memory then.
//
// The data set is built by talon's own state machine in this process (half
// bookings over the next days, half walk-in tickets issued, called and
// served), restored into a single-node cluster as a backup, and followed by
// bookings through the API, so the restarted node loads a snapshot and
// replays a log tail. Building it through HTTP would take minutes and
// measure the storm again.
func (b *bench) restart() error {
	data, st, err := b.dataset()
	if err != nil {
		return err
	}
	fmt.Fprintf(b.out, "data set: %d bookings and %d tickets, backup %.0f MB\n", len(st.Bookings), len(st.Tickets), float64(len(data))/1e6)
	nodes, err := b.cluster()
	if err != nil {
		return err
	}
	defer stopAll(nodes)
	for try := 1; ; try++ { // a 503 says retry: the restore is the same bytes again
		code, body, err := nodes[0].do("POST", "/api/v1/cluster/restore", data)
		if err == nil && code/100 == 2 {
			break
		}
		if try == 3 || code != 503 {
			return fmt.Errorf("restore: %v %d %s", err, code, body)
		}
		fmt.Fprintf(b.out, "restore answered %d %s; again\n", code, bytes.TrimSpace(body))
	}
	last, middle := st.Bookings[uint64(len(st.Bookings))].Ref, st.Bookings[uint64(len(st.Bookings)/2)].Ref
	for _, nd := range nodes { // every node holds it (followers get it as a snapshot)
		if err := nd.waitReady(time.Minute, "/api/v1/bookings/"+last+"?consistency=local"); err != nil {
			return err
		}
	}
	// A follower restarts (a rolling upgrade restarts followers first); on
	// a single node the figure also holds an election.
	nd := nodes[len(nodes)-1]
	if len(nodes) > 1 {
		if nd, err = follower(nodes); err != nil {
			return err
		}
	}
	// The log tail: bookings on a day the data set left empty.
	tailDay := day(tailDays)
	pairs, err := slotsOf(nodes[0], b.region, tailDay, 0)
	if err != nil {
		return err
	}
	r, acked := storm("log tail", viaHTTP(nodes), pairs[:4], 64, 0, b.limit)
	fmt.Fprintln(b.out, r)

	nd.stop(syscall.SIGKILL)
	t0 := time.Now()
	if err := nd.launch(); err != nil {
		return err
	}
	if err := nd.waitReady(60 * time.Second); err != nil {
		return err
	}
	ready := time.Since(t0)
	rss, peak := memory(nd.cmd.Process.Pid)
	fmt.Fprintf(b.out, "restart of %s after SIGKILL: ready in %.2f s holding %d records; resident %.0f MB (peak %.0f MB)\n",
		nd.id, ready.Seconds(), len(st.Bookings)+len(st.Tickets)+len(acked), float64(rss)/1e6, float64(peak)/1e6)
	// The restarted node holds the data set and the tail.
	var v struct{ Office, Start string }
	for _, a := range []booked{acked[0], acked[len(acked)-1]} {
		if err := nd.getJSON("/api/v1/bookings/"+a.id, &v); err != nil || v.Start != a.pair.starts[a.slot] {
			return fmt.Errorf("LOST ACKNOWLEDGEMENT after the restart: booking %s: %v %+v", a.id, err, v)
		}
	}
	if err := nd.getJSON("/api/v1/bookings/"+middle, &v); err != nil {
		return fmt.Errorf("the data set is gone after the restart: %w", err)
	}
	return nil
}

// tailDays is how many days ahead the log tail books.
const tailDays = 25

// dataset builds the bench region's state with b.records bookings and
// tickets and returns it as a backup.
func (b *bench) dataset() ([]byte, *queue.State, error) {
	var cfg struct {
		Region queue.Region `yaml:"region"`
	}
	if err := yaml.Unmarshal(b.region.config(), &cfg); err != nil {
		return nil, nil, err
	}
	st := queue.New(scheduler.Default{})
	now := time.Now().Unix()
	var index uint64
	apply := func(c queue.Command) error {
		index++
		r := st.Apply(c, now, index)
		st.TakeEvents() // nobody listens here
		if r.Err != nil {
			return fmt.Errorf("%+v: %w", c, r.Err)
		}
		return nil
	}
	if err := apply(&queue.SetRegion{Region: &cfg.Region}); err != nil {
		return nil, nil, err
	}
	// Bookings: all the window time of each office, day after day, in
	// visits of one slot (the services other than passport), up to half the
	// records or as many as the horizon holds; the tickets make up the rest.
	// The tail's day stays empty.
	bookings := b.records / 2
	phone := 0
	loc := mustZone()
	for d := 1; phone < bookings && d < 31; d++ {
		if d == tailDays {
			continue
		}
		date := time.Now().In(loc).AddDate(0, 0, d)
		for o := 0; o < b.region.Offices && phone < bookings; o++ {
			for m := 0; m < 24*60 && phone < bookings; m += 15 {
				start := time.Date(date.Year(), date.Month(), date.Day(), m/60, m%60, 0, 0, loc).Unix()
				for w := range b.region.Windows {
					if phone == bookings {
						break
					}
					phone++
					sv := services[1+(m/15+w)%(len(services)-1)]
					ref := queue.EncodeRef([16]byte{byte(phone), byte(phone >> 8), byte(phone >> 16), byte(phone >> 24), 'b', 'e', 'n', 'c', 'h'})
					if err := apply(&queue.Book{Office: b.region.office(o), Service: sv, Start: start, Name: "Нагрузочный Тест",
						Phone: fmt.Sprintf("+78%09d", phone), Ref: ref}); err != nil {
						return nil, nil, err
					}
				}
			}
		}
	}
	// Tickets: issued, called and served at every window of every office.
	for o := range b.region.Offices {
		for w := 1; w <= b.region.Windows; w++ {
			if err := apply(&queue.WindowAction{Office: b.region.office(o), Window: w, Action: queue.ActOpen}); err != nil {
				return nil, nil, err
			}
		}
	}
	for i := range b.records - phone {
		office, w := b.region.office(i%b.region.Offices), 1+(i/b.region.Offices)%b.region.Windows
		if err := apply(&queue.Issue{Office: office, Service: walkIn}); err != nil {
			return nil, nil, err
		}
		if err := apply(&queue.WindowAction{Office: office, Window: w, Action: queue.ActCallNext}); err != nil {
			return nil, nil, err
		}
		if err := apply(&queue.WindowAction{Office: office, Window: w, Action: queue.ActStart}); err != nil {
			return nil, nil, err
		}
	}
	var buf bytes.Buffer
	if err := cluster.EncodeBackup(&buf, st); err != nil {
		return nil, nil, err
	}
	return buf.Bytes(), st, nil
}
