package display_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/valyala/fasthttp"

	"github.com/talon-mfc/talon/api"
	"github.com/talon-mfc/talon/display"
	"github.com/talon-mfc/talon/internal/memstore"
	"github.com/talon-mfc/talon/queue"
	"github.com/talon-mfc/talon/scheduler"
)

// TestFeedResumes: a screen gets a snapshot, then each event it shows; after
// its connection is dropped it resumes with ?since= and gets exactly the
// events it missed, in order (events screens do not show, such as turn_near,
// leave gaps in seq).
func TestFeedResumes(t *testing.T) {
	store := memstore.New(scheduler.Default{})
	defer store.Close()
	hours := map[string]string{}
	for _, d := range []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"} {
		hours[d] = "00:00-24:00"
	}
	ctx := context.Background()
	apply := func(c queue.Command) {
		t.Helper()
		if r, _, err := store.Apply(ctx, c); err != nil || r.Err != nil {
			t.Fatal(err, r.Err)
		}
	}
	apply(&queue.SetRegion{Region: &queue.Region{Name: "t",
		Services: []queue.Service{{ID: "passport", Name: "Паспорт", Letter: "П", AvgMinutes: 20}},
		Offices: []queue.OfficeConfig{{ID: "brn", Name: "Барнаул", Timezone: "Asia/Barnaul", Hours: hours, Services: []string{"passport"},
			Windows: []queue.WindowConfig{{Number: 1, Services: []string{"passport"}}}}}}})
	keys, _ := queue.NewKeyring("k", bytes.Repeat([]byte{1}, 32), nil)
	hub := display.NewHub(store, nil)
	defer hub.Close()
	srv := api.New(api.Config{Store: store, Keys: keys, Policy: scheduler.Default{}, Screens: hub})
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	hs := &fasthttp.Server{}
	srv.Configure(hs)
	go hs.Serve(ln)
	defer hs.Shutdown()
	url := "ws://" + ln.Addr().String() + "/api/v1/offices/brn/feed"

	read := func(ws *websocket.Conn) display.Message {
		t.Helper()
		ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		var m display.Message
		_, data, err := ws.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		json.Unmarshal(data, &m)
		return m
	}
	// A page of another site may not read the feed; the node's own pages,
	// an allowed origin and a player that sends no Origin may.
	hub.AllowOrigins([]string{"https://portal.example"})
	for origin, ok := range map[string]bool{"https://evil.example": false, "http://" + ln.Addr().String(): true, "https://portal.example": true, "null": false} {
		ws, resp, err := websocket.DefaultDialer.Dial(url, http.Header{"Origin": {origin}})
		if (err == nil) != ok {
			t.Fatalf("origin %s: %v (%v)", origin, err, resp)
		}
		if err == nil {
			ws.Close()
		} else if resp.StatusCode != 403 {
			t.Fatalf("origin %s: %d", origin, resp.StatusCode)
		}
	}
	ws, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	snap := read(ws)
	if snap.Type != "snapshot" || len(snap.Windows) != 1 {
		t.Fatalf("first message: %+v", snap)
	}
	apply(&queue.Issue{Office: "brn", Service: "passport"})
	ev := read(ws)
	if ev.Type != "event" || ev.Kind != "ticket_issued" || ev.Ticket != "П-001" || ev.Seq <= snap.Seq || ev.Waiting["passport"] != 1 {
		t.Fatalf("event: %+v", ev)
	}
	for hub.Connections() != 1 {
		time.Sleep(10 * time.Millisecond)
	}
	hub.DropAll()
	ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, _, err := ws.ReadMessage(); err == nil {
		t.Fatal("the connection was not dropped")
	}

	apply(&queue.Issue{Office: "brn", Service: "passport"})
	apply(&queue.WindowAction{Office: "brn", Window: 1, Action: queue.ActOpen})
	ws, _, err = websocket.DefaultDialer.Dial(url+"?since="+jsonNumber(ev.Seq), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	missed := []display.Message{read(ws), read(ws)}
	if missed[0].Ticket != "П-002" || missed[1].Kind != "window_changed" || missed[0].Seq <= ev.Seq || missed[1].Seq <= missed[0].Seq {
		t.Fatalf("after the reconnect: %+v", missed)
	}
	var backup bytes.Buffer // the office with two waiting and window 1 open
	if _, err := store.Backup(ctx, &backup); err != nil {
		t.Fatal(err)
	}
	apply(&queue.WindowAction{Office: "brn", Window: 1, Action: queue.ActCallNext})
	call := read(ws)
	if call.Kind != "ticket_called" || call.Window != 1 || call.Ticket != "П-001" || call.Seq <= missed[1].Seq {
		t.Fatalf("the call: %+v", call)
	}

	// Restoring the older backup numbers events from a lower seq again: the
	// screen gets a fresh snapshot, then the next call, though its seq is
	// not above the last one the screen saw.
	if err := store.Restore(ctx, backup.Bytes()); err != nil {
		t.Fatal(err)
	}
	if m := read(ws); m.Type != "snapshot" || m.Seq >= call.Seq || m.Waiting["passport"] != 2 {
		t.Fatalf("after the restore: %+v", m)
	}
	apply(&queue.WindowAction{Office: "brn", Window: 1, Action: queue.ActCallNext})
	if again := read(ws); again.Kind != "ticket_called" || again.Ticket != "П-001" || again.Seq > call.Seq {
		t.Fatalf("the call after the restore: %+v", again)
	}
}

func jsonNumber(n uint64) string { b, _ := json.Marshal(n); return string(b) }
