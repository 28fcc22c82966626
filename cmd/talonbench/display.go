package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/talon-mfc/talon/metrics/report"
)

// screen is one connected hall display: when each called ticket reached it.
type screen struct {
	ws     *websocket.Conn
	mu     sync.Mutex
	called map[string]time.Time
}

// display: hall screens connect across the nodes, all to one office (the
// worst case: every call goes to every screen); an operator calls applicant
// after applicant, and each screen notes when the call reached it. The
// latency runs from the operator's request (before Raft commits the call)
// to the screen. Memory per idle screen is the nodes' resident memory
// grown by connecting them, divided by their number.
func (b *bench) display() error {
	nodes, err := b.cluster()
	if err != nil {
		return err
	}
	defer stopAll(nodes)
	const office = "bench-01"
	for i := range b.calls {
		if code, body, err := nodes[i%len(nodes)].do("POST", "/api/v1/offices/"+office+"/tickets", []byte(`{"service":"`+walkIn+`"}`)); err != nil || code != 201 {
			return fmt.Errorf("issue: %v %d %s", err, code, body)
		}
	}
	if code, body, err := nodes[0].do("POST", "/api/v1/offices/"+office+"/windows/1/open", nil); err != nil || code != 200 {
		return fmt.Errorf("open window: %v %d %s", err, code, body)
	}

	time.Sleep(time.Second) // let the nodes settle before the memory baseline
	before := rss(nodes)
	screens, err := connect(nodes, office, b.displays)
	defer func() {
		for _, s := range screens {
			s.ws.Close()
		}
	}()
	if err != nil {
		return err
	}
	time.Sleep(3 * time.Second) // idle: only the pings' timers run
	grown := rss(nodes) - before
	if b.profile != "" {
		if code, body, err := nodes[0].do("GET", "/debug/pprof/heap", nil); err == nil && code == 200 {
			os.WriteFile(filepath.Join(b.profile, "display-heap-"+nodes[0].id+".pprof"), body, 0o644)
		}
		if code, body, err := nodes[0].do("GET", "/debug/pprof/goroutine?debug=1", nil); err == nil && code == 200 {
			os.WriteFile(filepath.Join(b.profile, "display-goroutines-"+nodes[0].id+".txt"), body, 0o644)
		}
	}
	fmt.Fprintf(b.out, "connected %d screens to %s across %d nodes; resident memory grew %.1f MB: %.1f KB per idle screen\n",
		len(screens), office, len(nodes), float64(grown)/1e6, float64(grown)/float64(len(screens))/1024)

	cpu := meterCPU(nodes)
	wait := profile(b.profile, "display", nodes, 4)
	sent := map[string]time.Time{}
	for i := range b.calls {
		nd := nodes[i%len(nodes)]
		t0 := time.Now()
		code, body, err := nd.do("POST", "/api/v1/offices/"+office+"/windows/1/call-next", nil)
		if err != nil || code != 200 {
			return fmt.Errorf("call-next: %v %d %s", err, code, body)
		}
		var t struct{ Number string }
		json.Unmarshal(body, &t)
		sent[t.Number] = t0
		// The applicant comes to the window (in a hall, half a minute later):
		// the start goes out after the call has spread, not into it.
		time.Sleep(200 * time.Millisecond)
		if code, body, err := nd.do("POST", "/api/v1/offices/"+office+"/windows/1/start", nil); err != nil || code != 200 {
			return fmt.Errorf("start: %v %d %s", err, code, body)
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(time.Second)
	fmt.Fprintln(b.out, cpu)
	wait()
	var lat []float64
	missing := 0
	for _, s := range screens {
		s.mu.Lock()
		for n, t0 := range sent {
			if at, ok := s.called[n]; ok {
				lat = append(lat, at.Sub(t0).Seconds())
			} else {
				missing++
			}
		}
		s.mu.Unlock()
	}
	fmt.Fprintf(b.out, "call → screen: %d calls × %d screens: p50 %s  p99 %s  max %s  missing %d\n", len(sent), len(screens),
		ms(report.NearestRank(lat, 0.5)), ms(report.NearestRank(lat, 0.99)), ms(report.NearestRank(lat, 1)), missing)
	if missing > 0 {
		return fmt.Errorf("%d calls never reached their screen", missing)
	}
	return nil
}

// connect opens n screens of office, spread over the nodes, each reading
// its feed in a goroutine of its own.
func connect(nodes []*node, office string, n int) ([]*screen, error) {
	dialer := websocket.Dialer{ReadBufferSize: 1024, WriteBufferSize: 256, HandshakeTimeout: 30 * time.Second}
	screens := make([]*screen, n)
	err := each(n, 64, func(_, i int) error {
		ws, _, err := dialer.Dial(fmt.Sprintf("ws://%s/api/v1/offices/%s/feed", nodes[i%len(nodes)].http, office), nil)
		if err == nil {
			_, _, err = ws.ReadMessage() // the snapshot
		}
		if err != nil {
			return fmt.Errorf("screen %d: %w", i, err)
		}
		screens[i] = &screen{ws: ws, called: map[string]time.Time{}}
		go screens[i].read()
		return nil
	})
	var out []*screen
	for _, s := range screens {
		if s != nil {
			out = append(out, s)
		}
	}
	return out, err
}

func (s *screen) read() {
	for {
		_, data, err := s.ws.ReadMessage()
		if err != nil {
			return
		}
		at := time.Now()
		// Cheaper than decoding: thousands of screens share two cores.
		if bytes.Contains(data, []byte(`"kind":"ticket_called"`)) {
			_, rest, _ := bytes.Cut(data, []byte(`"ticket":"`))
			ticket, _, _ := bytes.Cut(rest, []byte(`"`))
			s.mu.Lock()
			s.called[string(ticket)] = at
			s.mu.Unlock()
		}
	}
}

// rss is the nodes' resident memory together.
func rss(nodes []*node) int64 {
	var sum int64
	for _, nd := range nodes {
		r, _ := memory(nd.cmd.Process.Pid)
		sum += r
	}
	return sum
}
