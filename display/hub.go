package display

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/valyala/fasthttp"

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
//
// A screen costs one goroutine, its own reader (pongs and its close); the
// writing is done by a small pool of writers that the broadcaster hands the
// screens with something to send, so thousands of idle screens hold no
// buffers, channels or timers, and a call wakes a few writers, not one
// goroutine per screen.
type Hub struct {
	feed    Feed
	log     *slog.Logger
	up      websocket.Upgrader
	work    chan *conn // screens with frames to write, each at most once
	stop    context.CancelFunc
	quit    <-chan struct{} // closed by Close
	running sync.WaitGroup  // the follower, the pinger and the writers
	origins map[string]bool // other origins whose pages may open the feed (AllowOrigins)

	mu    sync.Mutex
	conns map[*conn]bool
}

type conn struct {
	office string
	window int
	ws     *websocket.Conn
	out    *batchConn // what ws writes through

	mu      sync.Mutex
	idle    sync.Cond // signalled when a writer lets go of the screen
	pending []frame   // to write, in order
	since   uint64    // the first frames covered events up to here
	ready   bool      // the first frames are out: writers may take over
	queued  bool      // a writer has the screen or will take it
	closed  bool
}

// frame is a message to write; a nil message is a ping.
type frame struct {
	seq    uint64
	msg    *websocket.PreparedMessage
	always bool // a snapshot: written whatever the screen has seen
}

// Timing of the connections.
const (
	sendBuffer = 32 // frames a screen may fall behind before it is dropped (it resumes)
	writeWait  = 5 * time.Second
	pingEvery  = 20 * time.Second
	pongWait   = 45 * time.Second
	writers    = 32 // a writer stuck on a dead screen holds up only its own
)

// Feed is what the screens need of a node: its state, and the events it
// applies (cmd/talond passes cluster.Store).
type Feed interface {
	Read(fn func(queue.Reader))
	// Follow calls fn with every event after seq after, in order, until ctx ends.
	Follow(ctx context.Context, after uint64, fn func(queue.Event), onGap func())
	// Since returns the retained events after seq, and whether they reach
	// back that far.
	Since(seq uint64) ([]queue.Event, bool)
}

// NewHub starts the hub: it follows the node's event stream until Close.
func NewHub(feed Feed, log *slog.Logger) *Hub {
	if log == nil {
		log = slog.Default()
	}
	ctx, stop := context.WithCancel(context.Background())
	h := &Hub{feed: feed, log: log, conns: map[*conn]bool{}, work: make(chan *conn, 1<<16), stop: stop, quit: ctx.Done(),
		// Write buffers come from a pool while a message is written; the
		// read buffer is small (a screen only sends pongs).
		// (Serve checks the origin itself: originOK.)
		up: websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }, WriteBufferPool: &sync.Pool{}, WriteBufferSize: 2048}}
	var after uint64
	feed.Read(func(r queue.Reader) { after = r.EventSeq() })
	h.running.Add(writers + 2)
	for range writers {
		go func() { defer h.running.Done(); h.writer() }()
	}
	go func() { defer h.running.Done(); h.ping() }()
	go func() { defer h.running.Done(); feed.Follow(ctx, after, h.broadcast, h.resync) }()
	return h
}

// AllowOrigins lets pages of other origins (such as "https://portal.example")
// open the feed; a page of the node's own origin and a client that sends no
// Origin (a screen's own player) always may. Call it before serving.
func (h *Hub) AllowOrigins(origins []string) {
	h.origins = map[string]bool{}
	for _, o := range origins {
		h.origins[strings.ToLower(strings.TrimSuffix(o, "/"))] = true
	}
}

// originOK is the WebSocket origin check, against cross-site pages that
// would read a screen's feed with the browser's credentials.
func (h *Hub) originOK(origin, host string) bool {
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil {
		return false
	}
	return strings.EqualFold(u.Host, host) || h.origins[strings.ToLower(origin)]
}

// Close stops the hub and drops every screen (they reconnect to another
// node, or to this one when it is back).
func (h *Hub) Close() {
	h.stop()
	h.running.Wait()
	// No writer is left: wake the readers that wait for one to let go,
	// those of the screens still registered and of those handed over.
	wake := func(c *conn) {
		c.mu.Lock()
		c.idle.Broadcast()
		c.mu.Unlock()
		c.drop()
	}
	h.mu.Lock()
	for c := range h.conns {
		wake(c)
	}
	h.mu.Unlock()
	for {
		select {
		case c := <-h.work:
			wake(c)
		default:
			return
		}
	}
}

func (h *Hub) closing() bool {
	select {
	case <-h.quit:
		return true
	default:
		return false
	}
}

// hand gives screen c to a writer, unless the hub is closing.
func (h *Hub) hand(c *conn) {
	if !h.closing() {
		h.work <- c
	}
}

// Connections is the number of connected screens.
func (h *Hub) Connections() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.conns)
}

// broadcast turns a domain event into one prepared message (serialised and
// framed once) and queues it for the screens of its office.
func (h *Hub) broadcast(e queue.Event) {
	m, ok := h.message(e)
	if !ok {
		return
	}
	data, _ := json.Marshal(m)
	pm, err := websocket.NewPreparedMessage(websocket.TextMessage, data)
	if err != nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.conns {
		if c.office == e.Office && (c.window == 0 || c.window == m.Window) {
			h.enqueue(c, frame{seq: e.Seq, msg: pm})
		}
	}
}

// resync gives every screen a fresh snapshot when events were skipped:
// the node's state was replaced (a backup restored: the event numbers start
// again) or the hub fell behind.
func (h *Hub) resync() {
	type screen struct {
		office string
		window int
	}
	snaps := map[screen]frame{}
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.conns {
		k := screen{c.office, c.window}
		f, ok := snaps[k]
		if !ok {
			snap, found := h.snapshot(c.office, c.window)
			if !found {
				continue
			}
			data, _ := json.Marshal(snap)
			pm, err := websocket.NewPreparedMessage(websocket.TextMessage, data)
			if err != nil {
				continue
			}
			f = frame{seq: snap.Seq, msg: pm, always: true}
			snaps[k] = f
		}
		c.mu.Lock()
		c.pending, c.since = nil, f.seq // what was queued belongs to the old history
		c.mu.Unlock()
		h.enqueue(c, f)
	}
}

// ping queues a ping to every screen now and then; one that does not
// answer within pongWait is gone (its reader times out).
func (h *Hub) ping() {
	t := time.NewTicker(pingEvery)
	defer t.Stop()
	for {
		select {
		case <-h.quit:
			return
		case <-t.C:
		}
		h.mu.Lock()
		for c := range h.conns {
			h.enqueue(c, frame{})
		}
		h.mu.Unlock()
	}
}

// enqueue adds a frame for screen c (h.mu held) and hands the screen to a
// writer; a screen whose backlog is full is dropped so it never slows the
// others (it reconnects and resumes).
func (h *Hub) enqueue(c *conn, f frame) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	if len(c.pending) >= sendBuffer {
		c.mu.Unlock()
		delete(h.conns, c)
		c.drop()
		return
	}
	c.pending = append(c.pending, f)
	hand := c.ready && !c.queued
	if hand {
		c.queued = true
	}
	c.mu.Unlock()
	if hand {
		h.hand(c)
	}
}

// writer writes the screens it is handed until their backlog is empty, and
// returns when the hub closes.
func (h *Hub) writer() {
	for {
		var c *conn
		select {
		case c = <-h.work:
		case <-h.quit:
			return
		}
		for {
			c.mu.Lock()
			batch, since := c.pending, c.since
			c.pending = nil
			if len(batch) == 0 || c.closed {
				c.queued = false
				c.idle.Broadcast()
				c.mu.Unlock()
				break
			}
			c.mu.Unlock()
			if err := c.write(batch, since); err != nil {
				c.drop()
			}
		}
	}
}

// write sends a batch of frames in one write to the socket (a call-next
// brings two events: the previous applicant served, the next one called).
func (c *conn) write(batch []frame, since uint64) error {
	c.out.gather()
	var err error
	for _, f := range batch {
		switch {
		case err != nil:
		case f.msg == nil:
			err = c.ws.WriteMessage(websocket.PingMessage, nil)
		case f.always || f.seq > since: // else already in the snapshot or the replay
			err = c.ws.WritePreparedMessage(f.msg)
		}
	}
	c.ws.SetWriteDeadline(time.Now().Add(writeWait))
	return cmp.Or(c.out.flush(), err)
}

// batchConn is the connection a screen's WebSocket writes through: while a
// writer gathers a batch, frames go into a pooled buffer, and flush sends
// them in one write. Other writes (a control frame the reader answers) go
// straight through, or into the gathered batch.
type batchConn struct {
	net.Conn
	mu  sync.Mutex
	buf *bytes.Buffer
}

var batchBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func (b *batchConn) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf != nil {
		return b.buf.Write(p)
	}
	return b.Conn.Write(p)
}

func (b *batchConn) gather() {
	b.mu.Lock()
	b.buf = batchBuffers.Get().(*bytes.Buffer)
	b.mu.Unlock()
}

func (b *batchConn) flush() error {
	b.mu.Lock()
	buf := b.buf
	b.buf = nil
	b.mu.Unlock()
	_, err := b.Conn.Write(buf.Bytes())
	buf.Reset()
	batchBuffers.Put(buf)
	return err
}

// drop ends the screen's connection: its reader wakes, unregisters it and
// returns.
func (c *conn) drop() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.ws.UnderlyingConn().SetReadDeadline(time.Now())
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
	h.feed.Read(func(r queue.Reader) { m.Waiting = r.WaitingCounts(e.Office) })
	return m, true
}

// snapshot is an office's screen now: the windows, the calls of the day
// (latest first, at most 20), the waiting counts, and the last event number.
func (h *Hub) snapshot(office string, window int) (Message, bool) {
	m := Message{Type: "snapshot"}
	found := false
	h.feed.Read(func(r queue.Reader) {
		o := r.Office(office)
		if o == nil {
			return
		}
		found, m.Seq, m.Waiting = true, r.EventSeq(), r.WaitingCounts(office)
		for _, w := range o.Windows {
			ws := WindowState{Number: w.Number, State: string(w.State)}
			if t := r.Ticket(w.Current); t != nil {
				ws.Ticket = t.Number
			}
			m.Windows = append(m.Windows, ws)
		}
		for t := range r.TicketsIssued(office, r.Now()-2*86400, math.MaxInt64) { // today's, not all of history
			if t.Day == o.Day && t.CalledAt > 0 && (window == 0 || t.Window == window) {
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
	if !h.originOK(req.Header.Get("Origin"), req.Host) {
		c.Error(`{"error":{"code":"forbidden","message":"pages of this origin may not open the feed"}}`, 403)
		return
	}
	// The screen is served on the raw connection by a goroutine of its own,
	// and the hijack handler returns at once: fasthttp's read buffer of the
	// connection (8 KiB, the header bound) is then garbage instead of held for
	// as long as the screen stays (8 of 22.5 KB per idle screen). So the
	// server must keep hijacked connections (api.Configure sets it). A
	// client sends nothing before the upgrade's answer, so that buffer holds
	// nothing to lose.
	raw := c.Conn()
	c.HijackSetNoResponse(true)
	c.Hijack(func(net.Conn) { go h.screen(raw, req, office, window, since) })
}

// screen upgrades the connection of a screen and reads it until it goes.
func (h *Hub) screen(nc net.Conn, req *http.Request, office string, window int, since uint64) {
	defer nc.Close()
	nc.SetDeadline(time.Time{})
	// The upgrade and the first frames (a snapshot's JSON) run on a
	// goroutine of their own, so this one, which then reads the screen for
	// as long as it stays, keeps a small stack.
	var sc *conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		out := &batchConn{Conn: nc}
		ws, err := h.up.Upgrade(&hijacked{nc: out}, req, nil)
		if err != nil {
			h.log.Debug("websocket upgrade", "err", err)
			return
		}
		sc = h.open(ws, out, office, window, since)
	}()
	<-done
	if sc != nil {
		h.read(sc)
	}
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

// open registers the screen, sends what it missed (or a snapshot), then
// hands it to the writers for the live events, each exactly once. It
// returns nil if the screen is gone already.
func (h *Hub) open(ws *websocket.Conn, out *batchConn, office string, window int, since uint64) *conn {
	c := &conn{office: office, window: window, ws: ws, out: out}
	c.idle.L = &c.mu
	h.mu.Lock()
	h.conns[c] = true // from now on events queue up for it
	h.mu.Unlock()

	var first [][]byte
	var evs []queue.Event
	complete := false
	var head uint64
	h.feed.Read(func(r queue.Reader) { head = r.EventSeq() })
	if since > 0 && since <= head { // further: a screen of another history (a backup restored since)
		evs, complete = h.feed.Since(since)
	}
	if complete {
		for _, e := range evs {
			if m, ok := h.message(e); ok && e.Office == office && (window == 0 || m.Window == window) {
				data, _ := json.Marshal(m)
				first = append(first, data)
			}
		}
		since = max(since, lastSeq(evs))
	} else {
		snap, _ := h.snapshot(office, window)
		data, _ := json.Marshal(snap)
		first, since = [][]byte{data}, snap.Seq
	}
	for _, data := range first { // no writer has the screen yet
		ws.SetWriteDeadline(time.Now().Add(writeWait))
		if ws.WriteMessage(websocket.TextMessage, data) != nil {
			h.close(c)
			return nil
		}
	}
	c.mu.Lock()
	c.since, c.ready = since, true
	hand := len(c.pending) > 0 && !c.closed
	c.queued = hand
	c.mu.Unlock()
	if hand {
		h.hand(c)
	}
	return c
}

// read reads the screen (pongs, its close) until it is gone.
func (h *Hub) read(c *conn) {
	defer h.close(c)
	c.ws.SetReadLimit(512)
	c.ws.SetReadDeadline(time.Now().Add(pongWait))
	c.ws.SetPongHandler(func(string) error { return c.ws.SetReadDeadline(time.Now().Add(pongWait)) })
	for {
		if _, _, err := c.ws.ReadMessage(); err != nil {
			return
		}
	}
}

// close unregisters the screen once no writer holds it (screen then
// closes the connection).
func (h *Hub) close(c *conn) {
	c.mu.Lock()
	c.closed = true // no more frames for it
	for c.queued && !h.closing() {
		c.idle.Wait()
	}
	c.mu.Unlock()
	h.mu.Lock()
	delete(h.conns, c)
	h.mu.Unlock()
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
		c.drop()
	}
}
