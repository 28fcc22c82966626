package cluster

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/talon-mfc/talon/queue"
)

// A node that installed a snapshot never applied the Ticks that wrote the
// archive's older days: it fetches the files it lacks from the leader.
func TestArchiveCatchesUp(t *testing.T) {
	nodes := startCluster(t, 3)
	leader, followers := leaderOf(nodes)
	day := &queue.Archive{Tickets: []queue.Ticket{{ID: 7, Office: "brn", Number: "П-007", IssuedAt: 1764000000, Status: queue.TicketDone}}}
	if err := leader.fsm.archive.write(day); err != nil {
		t.Fatal(err)
	}
	f := followers[0]
	f.fsm.restored <- struct{}{} // as after installing a snapshot
	name := dayName("brn", 1764000000)
	waitFor(t, "the follower's archive", func() bool {
		_, err := os.Stat(filepath.Join(f.fsm.archive.dir, name))
		return err == nil
	})
	got, err := f.fsm.archive.tickets("brn", 1764000000-86400, 1764000000+86400, 1764000000/86400+1)
	if err != nil || len(got) != 1 || got[0].Number != "П-007" {
		t.Fatalf("the fetched day: %v %+v", err, got)
	}
	// The same day written again (a replayed Tick) merges, not duplicates.
	if err := leader.fsm.archive.write(day); err != nil {
		t.Fatal(err)
	}
	from, to := int64(1764000000-86400), int64(1764000000+86400)
	if again, _ := leader.fsm.archive.tickets("brn", from, to, to/86400); len(again) != 1 {
		t.Fatalf("a replayed archive doubled the day: %d tickets", len(again))
	}
	// A state restored from before the day was archived holds it itself.
	if older, _ := leader.fsm.archive.tickets("brn", from, to, 1764000000/86400-1); len(older) != 0 {
		t.Fatalf("the archive answered for a day the state holds: %+v", older)
	}
}
