package main

import (
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/talon-mfc/talon/cluster/node"
)

// notReadyReasons are the reasons /readyz may give for a 503.
var notReadyReasons = []string{node.NotReadyHalted, node.NotReadyClock, node.NotReadyNoLeader, node.NotReadyCatchingUp, node.NotReadyNoRegion}

// watchReadiness polls a node every 10 ms until stop and fails the test
// whenever /readyz answers 200 while the node serves an empty or older
// state: its offices missing, or its applied index below floor.
func watchReadiness(t *testing.T, d *daemon, floor uint64, stop <-chan struct{}) (readySeen *atomic.Bool, wait func()) {
	readySeen = new(atomic.Bool)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			if code, body := d.get("/readyz"); code != 200 {
				if code == 503 && !slices.ContainsFunc(notReadyReasons, func(r string) bool { return strings.Contains(body, ": "+r) }) {
					t.Errorf("%s: not ready, and it says no reason: %s", d.id, body)
				}
				continue
			}
			readySeen.Store(true)
			_, offices := d.get("/api/v1/offices")
			var st nodeStatus
			_, raw := d.get("/api/v1/cluster")
			json.Unmarshal([]byte(raw), &st)
			if !strings.Contains(offices, "demo-24h") || st.AppliedIndex < floor {
				t.Errorf("%s said ready serving offices %.80q at applied index %d (the cluster was at %d)", d.id, offices, st.AppliedIndex, floor)
				return
			}
		}
	}()
	return readySeen, wg.Wait
}

// TestReadinessIsHonest: a follower restarted while the cluster takes
// writes is never ready before it has caught up with what the leader had
// committed, and a new node is never ready before its region is loaded.
func TestReadinessIsHonest(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	nodes := newCluster(t, 3)
	_, followers := leader(t, nodes)
	f := followers[0]
	stop := make(chan struct{})
	done := workers(4, stop, func(w, i int) {
		retrying(nodes, w, "/api/v1/offices/demo-24h/tickets", map[string]string{"service": "passport"}, stop)
	})
	l, _ := leader(t, nodes)
	base := l.status().AppliedIndex
	waitUntil(t, 10*time.Second, "writes under way", func() bool { return l.status().AppliedIndex > base+20 })
	f.kill()
	l, _ = leader(t, nodes)
	base = l.status().AppliedIndex
	waitUntil(t, 30*time.Second, "writes the follower misses", func() bool { return l.status().AppliedIndex > base+500 })
	floor := l.status().AppliedIndex // all the follower must hold before it may say ready
	watch := make(chan struct{})
	seen, wait := watchReadiness(t, f, floor, watch)
	f.launch()
	waitUntil(t, 30*time.Second, "the restarted follower ready", seen.Load)
	close(watch)
	wait()
	close(stop)
	done()

	// A new single node: never ready before the region in its configuration is loaded.
	d := &daemon{t: t, bin: nodes[0].bin, base: "http://" + freePort(t), id: "fresh"}
	d.args = []string{"-data", t.TempDir(), "-http", strings.TrimPrefix(d.base, "http://"), "-raft", freePort(t)}
	watch = make(chan struct{})
	seen, wait = watchReadiness(t, d, 0, watch)
	d.launch()
	waitUntil(t, 30*time.Second, "the new node ready", seen.Load)
	close(watch)
	wait()
}
