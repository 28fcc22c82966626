package api

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/talon-mfc/talon/queue"
	"github.com/talon-mfc/talon/scheduler"
)

func (s *Server) now() int64 { return s.cfg.Store.Now().Unix() }

func (s *Server) keys(c *fasthttp.RequestCtx) {
	out := map[string]string{}
	for id, k := range s.cfg.Keys.PublicKeys() {
		out[id] = base64.StdEncoding.EncodeToString(k)
	}
	writeJSON(c, 200, map[string]any{"algorithm": "Ed25519", "keys": out})
}

func (s *Server) services(c *fasthttp.RequestCtx) {
	var body map[string]any
	s.cfg.Store.Read(func(st *queue.State) {
		body = map[string]any{"services": []queue.Service{}, "categories": []queue.Category{}}
		if st.Region != nil {
			body["services"], body["categories"] = st.Region.Services, st.Region.Categories
		}
	})
	writeJSON(c, 200, body)
}

func (s *Server) offices(c *fasthttp.RequestCtx) {
	out := []officeView{}
	t := s.now()
	s.cfg.Store.Read(func(st *queue.State) {
		if st.Region == nil {
			return
		}
		for _, oc := range st.Region.Offices {
			out = append(out, officeViewOf(st, st.Offices[oc.ID], t))
		}
	})
	writeJSON(c, 200, map[string]any{"offices": out})
}

func (s *Server) officeOne(c *fasthttp.RequestCtx) {
	var v *officeView
	s.cfg.Store.Read(func(st *queue.State) {
		if o := st.Offices[param(c, "office")]; o != nil {
			ov := officeViewOf(st, o, s.now())
			v = &ov
		}
	})
	if v == nil {
		fail(c, 404, string(queue.CodeUnknownOffice), "no office "+strconv.Quote(param(c, "office")))
		return
	}
	writeJSON(c, 200, v)
}

func (s *Server) slots(c *fasthttp.RequestCtx) {
	args := c.QueryArgs()
	days := 1
	if d := args.Peek("days"); d != nil {
		var err error
		if days, err = strconv.Atoi(string(d)); err != nil {
			fail(c, 400, "invalid_request", "days must be a number")
			return
		}
	}
	var out []slotView
	var derr *queue.Error
	t := s.now()
	s.cfg.Store.Read(func(st *queue.State) {
		date := string(args.Peek("date"))
		if o := st.Offices[param(c, "office")]; o != nil && date == "" {
			date = time.Unix(t, 0).In(o.Location()).Format(time.DateOnly)
		}
		var slots []queue.Slot
		if slots, derr = st.Slots(param(c, "office"), string(args.Peek("service")), date, days, t); derr == nil {
			out = slotsView(st, slots, false)
		}
	})
	if derr != nil {
		s.domainError(c, derr)
		return
	}
	writeJSON(c, 200, map[string]any{"office": param(c, "office"), "service": string(args.Peek("service")), "slots": out})
}

func (s *Server) recommend(c *fasthttp.RequestCtx) {
	service := string(c.QueryArgs().Peek("service"))
	type item struct {
		scheduler.Recommendation
		Name     string    `json:"name"`
		Address  string    `json:"address"`
		Earliest *slotView `json:"earliest_slot,omitempty"`
	}
	out := []item{}
	known := false
	s.cfg.Store.Read(func(st *queue.State) {
		if st.Region == nil || st.Service(service) == nil {
			return
		}
		known = true
		for _, r := range scheduler.Recommend(st, s.cfg.Policy, service, s.now()) {
			o := st.Offices[r.Office]
			it := item{Recommendation: r, Name: o.Config.Name, Address: o.Config.Address}
			if r.Earliest != nil {
				it.Earliest = &slotsView(st, []queue.Slot{*r.Earliest}, false)[0]
			}
			out = append(out, it)
		}
	})
	if !known {
		fail(c, 422, string(queue.CodeUnknownService), "no service "+strconv.Quote(service))
		return
	}
	writeJSON(c, 200, map[string]any{"service": service, "offices": out})
}

// parseStart reads an RFC 3339 slot start.
func parseStart(c *fasthttp.RequestCtx, s string) (int64, bool) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		fail(c, 400, "invalid_request", "start must be an RFC 3339 time, e.g. 2026-11-24T10:00:00+07:00")
		return 0, false
	}
	return t.Unix(), true
}

func (s *Server) book(c *fasthttp.RequestCtx) {
	var req struct {
		Office    string `json:"office"`
		Service   string `json:"service"`
		Start     string `json:"start"`
		Hold      bool   `json:"hold"`
		Applicant struct {
			Name  string `json:"name"`
			Phone string `json:"phone"`
		} `json:"applicant"`
	}
	if !decode(c, &req) {
		return
	}
	start, ok := parseStart(c, req.Start)
	if !ok {
		return
	}
	phone, _ := queue.NormalizePhone(req.Applicant.Phone)
	if !s.allow(c, "phone:"+phone) {
		return
	}
	cmd := queue.Command{Kind: queue.KindBook, Office: req.Office, Service: req.Service, Start: start,
		Name: req.Applicant.Name, Phone: req.Applicant.Phone, Hold: req.Hold, Key: idempotencyKey(c)}
	if r, ok := s.apply(c, cmd); ok {
		s.answerBooking(c, 201, r.Booking)
	}
}

// idempotencyKey is the client's Idempotency-Key header (up to 128 bytes):
// a retry with the same key within a day gets the first answer instead of a
// second booking or ticket. Keys are scoped by a hash of the caller's token,
// so two clients cannot collide by accident and no token enters the state.
func idempotencyKey(c *fasthttp.RequestCtx) string {
	k := c.Request.Header.Peek("Idempotency-Key")
	if len(k) == 0 {
		return ""
	}
	h := sha256.Sum256(c.Request.Header.Peek("Authorization"))
	return hex.EncodeToString(h[:8]) + ":" + string(k)
}

func (s *Server) answerBooking(c *fasthttp.RequestCtx, status int, b *queue.Booking) {
	var v bookingView
	s.cfg.Store.Read(func(st *queue.State) { v = s.bookingView(st, b) })
	s.sign(&v)
	writeJSON(c, status, v)
}

func (s *Server) getBooking(c *fasthttp.RequestCtx) {
	id, ok := idParam(c, "id")
	if !ok {
		return
	}
	var v *bookingView
	s.cfg.Store.Read(func(st *queue.State) {
		if b := st.Booking(id, s.now()); b != nil {
			bv := s.bookingView(st, b)
			v = &bv
		}
	})
	if v == nil {
		fail(c, 404, "not_found", "no booking "+strconv.FormatUint(id, 10))
		return
	}
	s.sign(v)
	writeJSON(c, 200, v)
}

// bookingCommand runs a command on the booking in the path.
func (s *Server) bookingCommand(c *fasthttp.RequestCtx, kind queue.Kind, start int64) {
	id, ok := idParam(c, "id")
	if !ok {
		return
	}
	if r, ok := s.apply(c, queue.Command{Kind: kind, Booking: id, Start: start}); ok {
		s.answerBooking(c, 200, r.Booking)
	}
}

func (s *Server) confirm(c *fasthttp.RequestCtx) { s.bookingCommand(c, queue.KindConfirm, 0) }
func (s *Server) cancel(c *fasthttp.RequestCtx)  { s.bookingCommand(c, queue.KindCancel, 0) }

func (s *Server) reschedule(c *fasthttp.RequestCtx) {
	var req struct {
		Start string `json:"start"`
	}
	if !decode(c, &req) {
		return
	}
	if start, ok := parseStart(c, req.Start); ok && s.allow(c, "booking:"+param(c, "id")) {
		s.bookingCommand(c, queue.KindReschedule, start)
	}
}

func (s *Server) answerTicket(c *fasthttp.RequestCtx, status int, t *queue.Ticket) {
	var v ticketView
	s.cfg.Store.Read(func(st *queue.State) { v = ticketViewOf(st, t) })
	writeJSON(c, status, v)
}

func (s *Server) issue(c *fasthttp.RequestCtx) {
	var req struct {
		Service  string `json:"service"`
		Category string `json:"category"`
	}
	if !decode(c, &req) {
		return
	}
	cmd := queue.Command{Kind: queue.KindIssue, Office: param(c, "office"), Service: req.Service, Category: req.Category, Key: idempotencyKey(c)}
	if r, ok := s.apply(c, cmd); ok {
		s.answerTicket(c, 201, r.Ticket)
	}
}

func (s *Server) checkIn(c *fasthttp.RequestCtx) {
	var req struct {
		QR string `json:"qr"`
	}
	if !decode(c, &req) {
		return
	}
	talon, err := s.cfg.Keys.Verify(req.QR)
	if err != nil {
		s.domainError(c, err.(*queue.Error))
		return
	}
	office := param(c, "office")
	if talon.Office != office {
		s.domainError(c, &queue.Error{Code: queue.CodeWrongOffice, Message: "this talon is for office " + talon.Office})
		return
	}
	if r, ok := s.apply(c, queue.Command{Kind: queue.KindCheckIn, Office: office, Booking: talon.Booking, Start: talon.Start}); ok {
		s.answerTicket(c, 200, r.Ticket)
	}
}

func (s *Server) queueView(c *fasthttp.RequestCtx) {
	type view struct {
		Office  string         `json:"office"`
		Day     string         `json:"day"`
		Waiting []ticketView   `json:"waiting"`
		Windows []windowView   `json:"windows"`
		Load    scheduler.Load `json:"load"`
	}
	var v *view
	s.cfg.Store.Read(func(st *queue.State) {
		o := st.Offices[param(c, "office")]
		if o == nil {
			return
		}
		v = &view{Office: o.Config.ID, Day: o.Day, Waiting: []ticketView{}, Windows: []windowView{}, Load: scheduler.OfficeLoad(o, s.now())}
		for _, t := range o.Waiting {
			v.Waiting = append(v.Waiting, ticketViewOf(st, t))
		}
		for _, w := range o.Windows {
			v.Windows = append(v.Windows, windowViewOf(st, o, w))
		}
	})
	if v == nil {
		fail(c, 404, string(queue.CodeUnknownOffice), "no office "+strconv.Quote(param(c, "office")))
		return
	}
	writeJSON(c, 200, v)
}

func (s *Server) windowAction(c *fasthttp.RequestCtx) {
	action, ok := queue.ParseAction(param(c, "action"))
	if !ok {
		fail(c, 404, "not_found", "no window action "+strconv.Quote(param(c, "action")))
		return
	}
	n, err := strconv.Atoi(param(c, "window"))
	if err != nil || n <= 0 {
		fail(c, 404, string(queue.CodeUnknownWindow), "no window "+strconv.Quote(param(c, "window")))
		return
	}
	cmd := queue.Command{Kind: queue.KindWindow, Office: param(c, "office"), Window: n, Action: action}
	if action == queue.ActRedirect {
		var req struct {
			Service string `json:"service"`
		}
		if !decode(c, &req) {
			return
		}
		cmd.Service = req.Service
	}
	r, ok := s.apply(c, cmd)
	switch {
	case !ok:
	case r.Ticket != nil:
		s.answerTicket(c, 200, r.Ticket)
	case action == queue.ActCallNext:
		c.SetStatusCode(204) // nobody waits for this window's services
	default:
		var v windowView
		s.cfg.Store.Read(func(st *queue.State) { v = windowViewOf(st, st.Offices[cmd.Office], r.Window) })
		writeJSON(c, 200, v)
	}
}

func (s *Server) setRegion(c *fasthttp.RequestCtx) {
	var region queue.Region
	if !decode(c, &region) {
		return
	}
	if _, ok := s.apply(c, queue.Command{Kind: queue.KindSetRegion, Region: &region}); ok {
		s.offices(c)
	}
}
