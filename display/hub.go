package display

import (
	"bufio"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/valyala/fasthttp"

	"github.com/talon-mfc/talon/cluster"
	"github.com/talon-mfc/talon/queue"
)

// The hall screens' feed. A screen connects to /api/v1/offices/{office}/feed
// (optionally ?window=N) over WebSocket and receives JSON messages:
//
//	{"type":"snapshot","seq":S,"calls":[...],"windows":[...],"waiting":{...}}
//	{"type":"event","seq":S,"kind":"ticket_called","ticket":"П-017","service":"passport","window":5,"at":...,"waiting":{...}}
//
// seq is the domain event number: gapless across the region. A screen that
// reconnects with ?since=S gets every event of its office after S (or a new
// snapshot when the node no longer holds them), so no call is missed or shown
// twice.

// Message is one message to a screen.
type Message struct {
	Type    string         `json:"type"` // snapshot or event
	Seq     uint64         `json:"seq"`
	Kind    string         `json:"kind,omitempty"`
	Ticket  string         `json:"ticket,omitempty"`
	Service string         `json:"service,omitempty"`
	Window  int            `json:"window,omitempty"`
	At      int64          `json:"at,omitempty"`
	Waiting map[string]int `json:"waiting"`
	Calls   []Call         `json:"calls,omitempty"`
	Windows []WindowState  `json:"windows,omitempty"`
}

// Call is a ticket called to a window.
type Call struct {
	Ticket  string `json:"ticket"`
	Service string `json:"service"`
	Window  int    `json:"window"`
	At      int64  `json:"at"`
}

// WindowState is a window as a screen shows it.
type WindowState struct {
	Number int    `json:"number"`
	State  string `json:"state"`
	Ticket string `json:"ticket,omitempty"`
}

// Hub fans the node's domain events out to the screens connected to it.
type Hub struct {
	store *cluster.Store
	log   *slog.Logger
	up    websocket.Upgrader

	mu    sync.Mutex
	conns map[*conn]bool
}

type conn struct {
	office string
	window int
	send   chan frame
}

type frame struct {
	seq  uint64
	data []byte
}

// Timing of the connections.
const (
	sendBuffer = 32 // messages a screen may fall behind before it is dropped (it resumes)
	writeWait  = 5 * time.Second
	pingEvery  = 20 * time.Second
	pongWait   = 45 * time.Second
)

// NewHub starts the hub: it follows the node's event stream.
func NewHub(store *cluster.Store, log *slog.Logger) *Hub {
	if log == nil {
		log = slog.Default()
	}
	h := &Hub{store: store, log: log, conns: map[*conn]bool{},
		// An idle screen holds no write buffer (they come from a pool while
		// a message is written) and a small read buffer (it only sends pongs).
		up: websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }, WriteBufferPool: &sync.Pool{}, WriteBufferSize: 2048}}
	go store.Events().Follow(h.broadcast, nil)
	return h
}

// Connections is the number of connected screens.
func (h *Hub) Connections() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.conns)
}

// broadcast turns a domain event into one serialised message and hands it
// to the screens of its office; a screen whose buffer is full is dropped
// (it reconnects and resumes) so it never slows the others.
func (h *Hub) broadcast(e queue.Event) {
	m, ok := h.message(e)
	if !ok {
		return
	}
	data, _ := json.Marshal(m)
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.conns {
		if c.office != e.Office || (c.window != 0 && c.window != m.Window) {
			continue
		}
		select {
		case c.send <- frame{e.Seq, data}:
		default:
			delete(h.conns, c)
			close(c.send)
		}
	}
}

// message is what a screen is told of an event; ok is false for events
// screens do not show.
func (h *Hub) message(e queue.Event) (Message, bool) {
	m := Message{Type: "event", Seq: e.Seq, Kind: string(e.Kind), At: e.At}
	switch e.Kind {
	case queue.EvTicketIssued, queue.EvTicketCheckedIn, queue.EvTicketCalled, queue.EvTicketRecalled, queue.EvTicketStarted,
		queue.EvTicketServed, queue.EvTicketNoShow, queue.EvTicketRedirected, queue.EvTicketExpired:
		m.Ticket, m.Service = e.Ticket.Number, e.Ticket.Service
		if e.Window != nil {
			m.Window = e.Window.Number
		}
	case queue.EvWindowChanged:
		m.Window = e.Window.Number
	default:
		return m, false
	}
	h.store.Read(func(st *queue.State) { m.Waiting = waiting(st.Offices[e.Office]) })
	return m, true
}

func waiting(o *queue.Office) map[string]int {
	out := map[string]int{}
	if o == nil {
		return out
	}
	for _, sv := range o.Config.Services {
		out[sv] = o.WaitingFor(sv)
	}
	return out
}

// snapshot is an office's screen now: the windows, the calls of the day
// (latest first, at most 20), the waiting counts, and the last event number.
func (h *Hub) snapshot(office string, window int) (Message, bool) {
	m := Message{Type: "snapshot"}
	found := false
	h.store.Read(func(st *queue.State) {
		o := st.Offices[office]
		if o == nil {
			return
		}
		found, m.Seq, m.Waiting = true, st.EventSeq, waiting(o)
		for _, w := range o.Windows {
			ws := WindowState{Number: w.Number, State: string(w.State)}
			if t := st.Tickets[w.Current]; t != nil {
				ws.Ticket = t.Number
			}
			m.Windows = append(m.Windows, ws)
		}
		for _, t := range st.Tickets {
			if t.Office == office && t.Day == o.Day && t.CalledAt > 0 && (window == 0 || t.Window == window) {
				m.Calls = append(m.Calls, Call{Ticket: t.Number, Service: t.Service, Window: t.Window, At: t.CalledAt})
			}
		}
	})
	slices.SortFunc(m.Calls, func(a, b Call) int { return int(b.At - a.At) })
	m.Calls = m.Calls[:min(len(m.Calls), 20)]
	return m, found
}

// Serve upgrades the request to a WebSocket (gorilla/websocket on the
// connection fasthttp hands over) and feeds it.
func (h *Hub) Serve(c *fasthttp.RequestCtx, office string) {
	window, _ := strconv.Atoi(string(c.QueryArgs().Peek("window")))
	since, _ := strconv.ParseUint(string(c.QueryArgs().Peek("since")), 10, 64)
	if _, ok := h.snapshot(office, window); !ok {
		c.Error(`{"error":{"code":"unknown_office","message":"no office `+strconv.Quote(office)+`"}}`, 404)
		return
	}
	req := &http.Request{Method: string(c.Method()), Header: http.Header{}, Host: string(c.Host()), RequestURI: string(c.RequestURI())}
	req.URL, _ = url.ParseRequestURI(string(c.RequestURI()))
	c.Request.Header.VisitAll(func(k, v []byte) { req.Header.Add(string(k), string(v)) })
	if !websocket.IsWebSocketUpgrade(req) {
		c.Error(`{"error":{"code":"invalid_request","message":"a WebSocket upgrade is required"}}`, 400)
		return
	}
	c.HijackSetNoResponse(true)
	c.Hijack(func(nc net.Conn) {
		nc.SetDeadline(time.Time{})
		ws, err := h.up.Upgrade(&hijacked{nc: nc}, req, nil)
		if err != nil {
			h.log.Debug("websocket upgrade", "err", err)
			nc.Close()
			return
		}
		h.feed(ws, office, window, since)
	})
}

// hijacked is the http.ResponseWriter gorilla/websocket upgrades through:
// the raw connection fasthttp handed over.
type hijacked struct{ nc net.Conn }

func (w *hijacked) Header() http.Header         { return http.Header{} }
func (w *hijacked) Write(b []byte) (int, error) { return w.nc.Write(b) }
func (w *hijacked) WriteHeader(int)             {}
func (w *hijacked) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return w.nc, bufio.NewReadWriter(bufio.NewReaderSize(w.nc, 512), bufio.NewWriterSize(w.nc, 16)), nil
}

// feed registers the screen, sends what it missed (or a snapshot), then the
// live events, each exactly once, and pings it; it returns when the screen
// is gone.
func (h *Hub) feed(ws *websocket.Conn, office string, window int, since uint64) {
	c := &conn{office: office, window: window, send: make(chan frame, sendBuffer)}
	h.mu.Lock()
	h.conns[c] = true
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		if h.conns[c] {
			delete(h.conns, c)
			close(c.send)
		}
		h.mu.Unlock()
		ws.Close()
	}()

	var first []frame
	var evs []queue.Event
	complete := false
	if since > 0 {
		evs, complete = h.store.Events().Since(since)
	}
	if complete {
		for _, e := range evs {
			if m, ok := h.message(e); ok && e.Office == office && (window == 0 || m.Window == window) {
				data, _ := json.Marshal(m)
				first = append(first, frame{e.Seq, data})
			}
		}
		since = max(since, lastSeq(evs))
	} else {
		snap, _ := h.snapshot(office, window)
		data, _ := json.Marshal(snap)
		first, since = []frame{{snap.Seq, data}}, snap.Seq
	}

	// The reader: pongs keep the deadline moving; a close ends the feed.
	ws.SetReadLimit(512)
	ws.SetReadDeadline(time.Now().Add(pongWait))
	ws.SetPongHandler(func(string) error { return ws.SetReadDeadline(time.Now().Add(pongWait)) })
	gone := make(chan struct{})
	go func() {
		defer close(gone)
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				return
			}
		}
	}()
	// fasthttp reuses the connection's buffers once this handler returns
	// (and only then closes the socket): stop the reader first.
	defer func() {
		ws.SetReadDeadline(time.Now())
		<-gone
	}()
	write := func(data []byte) bool {
		ws.SetWriteDeadline(time.Now().Add(writeWait))
		return ws.WriteMessage(websocket.TextMessage, data) == nil
	}
	for _, f := range first {
		if !write(f.data) {
			return
		}
	}
	ping := time.NewTicker(pingEvery)
	defer ping.Stop()
	for {
		select {
		case f, ok := <-c.send:
			if !ok {
				return // dropped as too slow: the screen reconnects and resumes
			}
			if f.seq <= since {
				continue // already in the snapshot or the replay
			}
			if !write(f.data) {
				return
			}
		case <-ping.C:
			ws.SetWriteDeadline(time.Now().Add(writeWait))
			if ws.WriteMessage(websocket.PingMessage, nil) != nil {
				return
			}
		case <-gone:
			return
		}
	}
}

func lastSeq(evs []queue.Event) uint64 {
	if len(evs) == 0 {
		return 0
	}
	return evs[len(evs)-1].Seq
}

// DropAll closes every screen's connection (they reconnect and resume): for
// tests of the reconnect, and a node being stopped.
func (h *Hub) DropAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.conns {
		delete(h.conns, c)
		close(c.send)
	}
}
