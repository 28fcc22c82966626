package api

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fasthttp/router"
	"github.com/nyaruka/phonenumbers"
	"github.com/valyala/fasthttp"

	"github.com/talon-mfc/talon/queue"
	"github.com/talon-mfc/talon/scheduler"
	"github.com/talon-mfc/talon/scheduler/staffing"
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
	body := map[string]any{"services": []queue.Service{}, "categories": []queue.Category{}}
	s.cfg.Store.Read(func(r queue.Reader) {
		if reg := r.Region(); reg != nil {
			body["services"], body["categories"] = reg.Services, reg.Categories
		}
	})
	writeJSON(c, 200, body)
}

func (s *Server) offices(c *fasthttp.RequestCtx) {
	out := []officeView{}
	t := s.now()
	s.cfg.Store.Read(func(r queue.Reader) {
		if reg := r.Region(); reg != nil {
			for _, oc := range reg.Offices {
				out = append(out, officeViewOf(r, r.Office(oc.ID), t))
			}
		}
	})
	writeJSON(c, 200, map[string]any{"offices": out})
}

func (s *Server) officeOne(c *fasthttp.RequestCtx) {
	var v *officeView
	s.cfg.Store.Read(func(r queue.Reader) {
		if o := r.Office(param(c, "office")); o != nil {
			ov := officeViewOf(r, o, s.now())
			v = &ov
		}
	})
	if v == nil {
		unknownOffice(c)
		return
	}
	writeJSON(c, 200, v)
}

func unknownOffice(c *fasthttp.RequestCtx) {
	fail(c, 404, string(queue.CodeUnknownOffice), "no office "+strconv.Quote(param(c, "office")))
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
	empty := []dayView{}
	t := s.now()
	s.cfg.Store.Read(func(r queue.Reader) {
		date := string(args.Peek("date"))
		_, loc := r.Config(param(c, "office"))
		if loc != nil && date == "" {
			date = time.Unix(t, 0).In(loc).Format(time.DateOnly)
		}
		var slots []queue.Slot
		if slots, derr = r.Slots(param(c, "office"), string(args.Peek("service")), date, days, t); derr != nil {
			return
		}
		out = slotsView(r, slots, false)
		// Each day without free time, and why.
		free := map[string]bool{}
		for _, sl := range slots {
			if sl.Free > 0 {
				free[time.Unix(sl.Start, 0).In(loc).Format(time.DateOnly)] = true
			}
		}
		d, _ := time.ParseInLocation(time.DateOnly, date, loc)
		for i := range days {
			day := d.AddDate(0, 0, i).Format(time.DateOnly)
			if !free[day] {
				empty = append(empty, dayView{day, cmp.Or(r.DayClosed(param(c, "office"), day, t), "full")})
			}
		}
	})
	if derr != nil {
		s.domainError(c, derr)
		return
	}
	writeJSON(c, 200, map[string]any{"office": param(c, "office"), "service": string(args.Peek("service")), "slots": out, "no_free_time": empty})
}

// dayView is a day without free time, and why: holiday, closed (not a
// working day), closure (closed at short notice), past, outside_horizon,
// or full.
type dayView struct {
	Date   string `json:"date"`
	Reason string `json:"reason"`
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
	s.cfg.Store.Read(func(r queue.Reader) {
		if _, known = r.Service(service); !known {
			return
		}
		for _, rec := range scheduler.Recommend(r, s.cfg.Policy, service, s.now()) {
			oc, _ := r.Config(rec.Office)
			it := item{Recommendation: rec, Name: oc.Name, Address: oc.Address}
			if rec.Earliest != nil {
				it.Earliest = &slotsView(r, []queue.Slot{*rec.Earliest}, false)[0]
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

// The requests of the writes: each turns a route's path parameters and body
// into the command it proposes, or a 4xx error. The handlers and the fuzz
// test of the command path use them alike.

func badRequest(format string, args ...any) *queue.Error {
	return &queue.Error{Code: queue.CodeInvalidRequest, Message: fmt.Sprintf(format, args...)}
}

// parseBody reads a JSON body into v.
func parseBody(body []byte, v any) *queue.Error {
	if err := json.Unmarshal(body, v); err != nil {
		return badRequest("request body: %v", err)
	}
	return nil
}

// parseStrict reads a JSON body into v and refuses a field v does not
// have: a misspelt key of a configuration must not be dropped in silence.
func parseStrict(body []byte, v any) *queue.Error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequest("request body: %.200v", err)
	}
	if dec.More() {
		return badRequest("request body: one JSON object expected")
	}
	return nil
}

// parseStart reads an RFC 3339 slot start.
func parseStart(s string) (int64, *queue.Error) { return parseTime("start", s) }

// parseTime reads an RFC 3339 time.
func parseTime(name, s string) (int64, *queue.Error) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return 0, badRequest("%s must be an RFC 3339 time, e.g. 2026-11-24T10:00:00+07:00", name)
	}
	return t.Unix(), nil
}

func bookRequest(body []byte, key string) (*queue.Book, *queue.Error) {
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
	if err := parseBody(body, &req); err != nil {
		return nil, err
	}
	start, err := parseStart(req.Start)
	if err != nil {
		return nil, err
	}
	phone, err := canonicalPhone(req.Applicant.Phone)
	if err != nil {
		return nil, err
	}
	var ref [16]byte
	rand.Read(ref[:])
	return &queue.Book{Office: req.Office, Service: req.Service, Start: start, Hold: req.Hold,
		Name: req.Applicant.Name, Phone: phone, Key: key, Ref: queue.EncodeRef(ref)}, nil
}

// canonicalPhone parses an applicant's phone (a Russian number may be
// written as a Russian would: 8 913…, +7 (913) …, 913 …) into E.164, the one
// form every limit and lookup uses; a number that is not a valid one is
// refused.
func canonicalPhone(raw string) (string, *queue.Error) {
	if len(raw) > queue.MaxPhoneBytes {
		return "", &queue.Error{Code: queue.CodeFieldTooLong, Message: "applicant phone is longer than " + strconv.Itoa(queue.MaxPhoneBytes) + " bytes"}
	}
	if e, ok := e164(raw); ok {
		return e, nil
	}
	n, err := phonenumbers.Parse(raw, "RU")
	if err != nil || !phonenumbers.IsValidNumber(n) {
		return "", &queue.Error{Code: queue.CodeInvalidPhone, Message: "applicant phone " + strconv.Quote(raw) + " is not a valid phone number"}
	}
	return phonenumbers.Format(n, phonenumbers.E164), nil
}

// trunkPrefixes are, per country code, the national prefixes the parser
// strips from a national number (Belarus's 8, …), from the library's
// metadata, compiled once.
var trunkPrefixes = sync.OnceValue(func() map[int]*regexp.Regexp {
	patterns := map[int][]string{} // a country code's regions' prefixes
	if all, err := phonenumbers.MetadataCollection(); err == nil {
		for _, md := range all.GetMetadata() {
			p := md.GetNationalPrefixForParsing()
			if p == "" {
				p = regexp.QuoteMeta(md.GetNationalPrefix())
			}
			if cc := int(md.GetCountryCode()); p != "" && !slices.Contains(patterns[cc], p) {
				patterns[cc] = append(patterns[cc], p)
			}
		}
	}
	m := map[int]*regexp.Regexp{}
	for cc, ps := range patterns {
		re, err := regexp.Compile(`^(?:(?:` + strings.Join(ps, `)|(?:`) + `))`)
		if err != nil { // not Go's syntax: always the full way
			re = regexp.MustCompile(`^`)
		}
		m[cc] = re
	}
	return m
})

// trunkPrefixed reports whether a national number starts as a trunk
// prefix of country code cc does.
func trunkPrefixed(cc int, national string) bool {
	re := trunkPrefixes()[cc]
	return re != nil && re.MatchString(national)
}

// e164 is canonicalPhone's quick way for a valid number already written
// in E.164 (a plus and digits, as portals send it), which needs no parsing:
// the country code is the prefix of one to three digits that names one
// (the codes are prefix-free), the rest the national number, valid as the
// library's metadata says. Parsing is most of a booking request's cost to
// read (7 of 10 µs); this takes 2. Whatever it does not accept goes the
// full way.
func e164(raw string) (string, bool) {
	if len(raw) < 8 || len(raw) > 16 || raw[0] != '+' {
		return "", false
	}
	for i := 1; i < len(raw); i++ {
		if raw[i] < '0' || raw[i] > '9' {
			return "", false
		}
	}
	for l := 1; l <= 3; l++ {
		cc, _ := strconv.Atoi(raw[1 : 1+l])
		if phonenumbers.GetRegionCodeForCountryCode(cc) == phonenumbers.UNKNOWN_REGION {
			continue
		}
		if raw[1+l] == '0' || trunkPrefixed(cc, raw[1+l:]) { // leading zeros, or what parsing would take for a trunk prefix: the full way
			return "", false
		}
		code := int32(cc)
		national, _ := strconv.ParseUint(raw[1+l:], 10, 64)
		return raw, phonenumbers.IsValidNumber(&phonenumbers.PhoneNumber{CountryCode: &code, NationalNumber: &national})
	}
	return "", false
}

func rescheduleRequest(id uint64, body []byte) (*queue.Reschedule, *queue.Error) {
	var req struct {
		Start string `json:"start"`
	}
	if err := parseBody(body, &req); err != nil {
		return nil, err
	}
	start, err := parseStart(req.Start)
	if err != nil {
		return nil, err
	}
	return &queue.Reschedule{Booking: id, Start: start}, nil
}

func issueRequest(office string, body []byte, key string) (*queue.Issue, *queue.Error) {
	var req struct {
		Service  string `json:"service"`
		Category string `json:"category"`
		Force    bool   `json:"force"`
	}
	if err := parseBody(body, &req); err != nil {
		return nil, err
	}
	return &queue.Issue{Office: office, Service: req.Service, Category: req.Category, Key: key, Force: req.Force}, nil
}

// checkInRequest checks the talon's signature: only a talon this region
// signed for this office becomes a command.
func checkInRequest(keys *queue.Keyring, office string, body []byte) (*queue.CheckIn, *queue.Error) {
	req, err := parseCheckIn(body)
	if err != nil {
		return nil, err
	}
	return talonCheckIn(keys, office, req.QR)
}

// checkInBody is a check-in: a talon's QR code, or (a hall administrator's)
// the reference of the booking they found.
type checkInBody struct {
	QR      string `json:"qr"`
	Booking string `json:"booking"`
}

func parseCheckIn(body []byte) (checkInBody, *queue.Error) {
	var req checkInBody
	return req, parseBody(body, &req)
}

// talonCheckIn is the check-in a talon's QR code asks for at office.
func talonCheckIn(keys *queue.Keyring, office, qr string) (*queue.CheckIn, *queue.Error) {
	talon, err := keys.Verify(qr)
	if err != nil {
		return nil, err.(*queue.Error)
	}
	if talon.Office != office {
		return nil, &queue.Error{Code: queue.CodeWrongOffice, Message: "this talon is for office " + talon.Office}
	}
	return &queue.CheckIn{Office: office, Booking: talon.Booking, Start: talon.Start}, nil
}

func windowRequest(office, window, action string, body []byte) (*queue.WindowAction, *queue.Error) {
	a, ok := queue.ParseAction(action)
	if !ok {
		return nil, &queue.Error{Code: queue.CodeNotFound, Message: "no window action " + strconv.Quote(action)}
	}
	n, err := strconv.Atoi(window)
	if err != nil || n <= 0 || n > queue.MaxWindow {
		return nil, &queue.Error{Code: queue.CodeUnknownWindow, Message: "no window " + strconv.Quote(window)}
	}
	cmd := &queue.WindowAction{Office: office, Window: n, Action: a}
	switch a {
	case queue.ActRedirect, queue.ActCall, queue.ActPostpone, queue.ActTransfer, queue.ActServices:
		var req struct {
			Services []string `json:"services"` // services
			Service  string   `json:"service"`  // redirect
			Ticket   string   `json:"ticket"`   // call: the number
			Reason   string   `json:"reason"`   // call
			Minutes  int      `json:"minutes"`  // postpone
			Window   int      `json:"window"`   // transfer
			Employee string   `json:"employee"` // transfer
		}
		if err := parseBody(body, &req); err != nil {
			return nil, err
		}
		cmd.Service, cmd.Number, cmd.Reason, cmd.Minutes, cmd.ToWindow = req.Service, req.Ticket, req.Reason, req.Minutes, req.Window
		if a == queue.ActTransfer {
			cmd.Employee = req.Employee
		}
		cmd.Today = req.Services
	}
	return cmd, nil
}

func regionRequest(body []byte, force bool) (*queue.SetRegion, *queue.Error) {
	var region queue.Region
	if err := parseStrict(body, &region); err != nil {
		return nil, err
	}
	return &queue.SetRegion{Region: &region, Force: force}, nil
}

func closureRequest(office string, body []byte) (*queue.CloseOffice, *queue.Error) {
	var req struct {
		From   string `json:"from"`
		To     string `json:"to"`
		Reason string `json:"reason"`
	}
	if err := parseStrict(body, &req); err != nil {
		return nil, err
	}
	from, err := parseTime("from", req.From)
	if err != nil {
		return nil, err
	}
	to, err := parseTime("to", req.To)
	if err != nil {
		return nil, err
	}
	return &queue.CloseOffice{Office: office, From: from, To: to, Reason: req.Reason}, nil
}

func subscriptionRequest(id string, body []byte) (*queue.Subscribe, *queue.Error) {
	var sub queue.Subscription
	if err := parseStrict(body, &sub); err != nil {
		return nil, err
	}
	sub.ID = id
	return &queue.Subscribe{Sub: sub}, nil
}

func (s *Server) book(c *fasthttp.RequestCtx) {
	key, fingerprint, ok := idempotencyKey(c)
	if !ok {
		return
	}
	cmd, err := bookRequest(c.PostBody(), key)
	if err != nil {
		s.domainError(c, err)
		return
	}
	cmd.Fingerprint = fingerprint
	if !s.mayAct(c, cmd.Office) {
		return
	}
	if !s.allow(c, "phone:"+cmd.Phone) {
		return
	}
	if r, ok := s.apply(c, cmd); ok {
		s.answerBooking(c, 201, r.Booking)
	}
}

// maxKeyBytes bounds a client's Idempotency-Key.
const maxKeyBytes = 128

// idempotencyKey is the client's Idempotency-Key header (up to 128 bytes):
// a retry with the same key within a day gets the first answer instead of a
// second booking or ticket. A key is scoped by the caller (a hash of its
// token; with authentication off, its address), the method, the route and
// the office in the path, so two callers or two offices cannot meet by
// accident and no token enters the state. The fingerprint of the whole
// request goes with it: the same key with another request is refused
// (idempotency_key_reused). On false it has answered the error.
func idempotencyKey(c *fasthttp.RequestCtx) (key, fingerprint string, ok bool) {
	k := c.Request.Header.Peek("Idempotency-Key")
	if len(k) == 0 {
		return "", "", true
	}
	if len(k) > maxKeyBytes {
		fail(c, 400, "invalid_request", "the Idempotency-Key header is at most 128 bytes")
		return "", "", false
	}
	caller := c.Request.Header.Peek("Authorization")
	if len(caller) == 0 {
		caller = []byte(c.RemoteIP().String())
	}
	route, _ := c.UserValue(router.MatchedRoutePathParam).(string)
	scope := sha256.Sum256(bytes.Join([][]byte{caller, c.Method(), []byte(route), []byte(param(c, "office"))}, []byte{0}))
	request := sha256.Sum256(bytes.Join([][]byte{c.Method(), c.Path(), c.PostBody()}, []byte{0}))
	return hex.EncodeToString(scope[:8]) + ":" + string(k), hex.EncodeToString(request[:12]), true
}

func (s *Server) answerBooking(c *fasthttp.RequestCtx, status int, b *queue.Booking) {
	var v bookingView
	s.cfg.Store.Read(func(r queue.Reader) { v = s.bookingView(r, b) })
	s.sign(&v)
	writeJSON(c, status, v)
}

// pathBooking is the booking whose reference is in the path, and its view,
// if the caller may see it; otherwise it has answered (404, or 403 for a
// token bound to other offices).
func (s *Server) pathBooking(c *fasthttp.RequestCtx) (*queue.Booking, bookingView, bool) {
	ref := param(c, "id")
	var b *queue.Booking
	var v bookingView
	find := func() {
		s.cfg.Store.Read(func(r queue.Reader) {
			if b = r.BookingByRef(ref, s.now()); b != nil {
				v = s.bookingView(r, b)
			}
		})
	}
	if find(); b == nil && queue.ValidRef(ref) {
		// Made a moment ago through another node? This one may be behind.
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.WriteTimeout)
		err := s.cfg.Store.Linearize(ctx)
		cancel()
		if err != nil {
			s.clusterError(c, err)
			return nil, v, false
		}
		find()
	}
	if b == nil {
		fail(c, 404, "not_found", "no booking "+strconv.Quote(ref))
		return nil, v, false
	}
	return b, v, s.mayAct(c, b.Office)
}

func (s *Server) getBooking(c *fasthttp.RequestCtx) {
	if _, v, ok := s.pathBooking(c); ok {
		s.sign(&v)
		writeJSON(c, 200, v)
	}
}

// bookingCommand runs a command on the booking in the path.
func (s *Server) bookingCommand(c *fasthttp.RequestCtx, cmd func(id uint64) (queue.Command, *queue.Error)) {
	b, _, ok := s.pathBooking(c)
	if !ok {
		return
	}
	command, err := cmd(b.ID)
	if err != nil {
		s.domainError(c, err)
		return
	}
	if r, ok := s.apply(c, command); ok {
		s.answerBooking(c, 200, r.Booking)
	}
}

func (s *Server) confirm(c *fasthttp.RequestCtx) {
	s.bookingCommand(c, func(id uint64) (queue.Command, *queue.Error) { return &queue.Confirm{Booking: id}, nil })
}

func (s *Server) cancel(c *fasthttp.RequestCtx) {
	s.bookingCommand(c, func(id uint64) (queue.Command, *queue.Error) { return &queue.Cancel{Booking: id}, nil })
}

func (s *Server) reschedule(c *fasthttp.RequestCtx) {
	if !s.allow(c, "booking:"+param(c, "id")) {
		return
	}
	s.bookingCommand(c, func(id uint64) (queue.Command, *queue.Error) { return rescheduleRequest(id, c.PostBody()) })
}

func (s *Server) answerTicket(c *fasthttp.RequestCtx, status int, t *queue.Ticket) {
	var v ticketView
	s.cfg.Store.Read(func(r queue.Reader) { v = ticketViewOf(r, t) })
	writeJSON(c, status, v)
}

func (s *Server) issue(c *fasthttp.RequestCtx) {
	key, fingerprint, ok := idempotencyKey(c)
	if !ok {
		return
	}
	cmd, err := issueRequest(param(c, "office"), c.PostBody(), key)
	if err != nil {
		s.domainError(c, err)
		return
	}
	cmd.Fingerprint = fingerprint
	if g, ok := c.UserValue(grantKey).(Grant); ok && cmd.Force && g.Role == RoleKiosk {
		fail(c, 403, "forbidden", "a kiosk cannot issue past the last call: an operator or administrator can (force)")
		return
	}
	if r, ok := s.apply(c, cmd); ok {
		s.answerTicket(c, 201, r.Ticket)
	}
}

func (s *Server) checkIn(c *fasthttp.RequestCtx) {
	req, err := parseCheckIn(c.PostBody())
	if err != nil {
		s.domainError(c, err)
		return
	}
	if g, ok := c.UserValue(grantKey).(Grant); req.Booking != "" && (!ok || g.allows(RoleHallAdmin, false)) {
		s.checkInByHand(c, req.Booking)
		return
	}
	cmd, err := talonCheckIn(s.cfg.Keys, param(c, "office"), req.QR)
	if err != nil {
		s.domainError(c, err)
		return
	}
	if r, ok := s.apply(c, cmd); ok {
		s.answerTicket(c, 200, r.Ticket)
	}
}

func (s *Server) queueView(c *fasthttp.RequestCtx) {
	type view struct {
		Office  string         `json:"office"`
		Day     string         `json:"day"`
		Now     string         `json:"now"` // the node's clock, for the waits
		Waiting []ticketView   `json:"waiting"`
		Windows []windowView   `json:"windows"`
		Load    scheduler.Load `json:"load"`
	}
	var v *view
	s.cfg.Store.Read(func(r queue.Reader) {
		o := r.Office(param(c, "office"))
		if o == nil {
			return
		}
		v = &view{Office: o.Config.ID, Day: o.Day, Now: localTime(o.Location(), s.now()), Waiting: []ticketView{}, Windows: []windowView{}, Load: scheduler.OfficeLoad(o, s.now())}
		for _, t := range o.Waiting {
			v.Waiting = append(v.Waiting, ticketViewOf(r, t))
		}
		for _, w := range o.Windows {
			v.Windows = append(v.Windows, windowViewOf(r, o.Config.ID, w))
		}
	})
	if v == nil {
		unknownOffice(c)
		return
	}
	writeJSON(c, 200, v)
}

func (s *Server) windowAction(c *fasthttp.RequestCtx) {
	cmd, err := windowRequest(param(c, "office"), param(c, "window"), param(c, "action"), c.PostBody())
	if err != nil {
		s.domainError(c, err)
		return
	}
	g, authed := c.UserValue(grantKey).(Grant)
	switch {
	case cmd.Action == queue.ActSignIn: // the session's employee signs in
		if cmd.Employee = g.Employee; g.Employee == "" {
			fail(c, 403, "forbidden", "an operator signs in to a window with their own session (POST /api/v1/sessions)")
			return
		}
	case cmd.Action == queue.ActServices && authed && !g.allows(RoleSupervisor, false):
		fail(c, 403, "forbidden", "a supervisor changes the services a window takes")
		return
	}
	r, ok := s.apply(c, cmd)
	switch {
	case !ok:
	case r.Ticket != nil:
		s.answerTicket(c, 200, r.Ticket)
	case cmd.Action == queue.ActCallNext:
		c.SetStatusCode(204) // nobody waits for this window's services
	default:
		var v windowView
		s.cfg.Store.Read(func(rd queue.Reader) { v = windowViewOf(rd, cmd.Office, r.Window) })
		writeJSON(c, 200, v)
	}
}

// setRegion loads a region; with ?force=true also when bookings would lose
// their window time (they are told, and may move for free).
func (s *Server) setRegion(c *fasthttp.RequestCtx) {
	cmd, err := regionRequest(c.PostBody(), string(c.QueryArgs().Peek("force")) == "true")
	if err != nil {
		s.domainError(c, err)
		return
	}
	if r, ok := s.apply(c, cmd); ok {
		writeJSON(c, 200, map[string]any{"region": cmd.Region.Name, "affected": s.affectedView(r.Affected)})
	}
}

// closeOffice closes an office at short notice (or lifts a closure: to
// not after from); it answers the bookings that lost their window time.
func (s *Server) closeOffice(c *fasthttp.RequestCtx) {
	cmd, err := closureRequest(param(c, "office"), c.PostBody())
	if err != nil {
		s.domainError(c, err)
		return
	}
	if r, ok := s.apply(c, cmd); ok {
		writeJSON(c, 200, map[string]any{"office": cmd.Office, "affected": s.affectedView(r.Affected)})
	}
}

// affectedBooking is a booking that lost its window time.
type affectedBooking struct {
	ID      string `json:"id"`
	Number  string `json:"number"`
	Office  string `json:"office"`
	Service string `json:"service"`
	Start   string `json:"start"`
	Status  string `json:"status"`
}

func (s *Server) affectedView(ids []uint64) []affectedBooking {
	out := []affectedBooking{}
	s.cfg.Store.Read(func(r queue.Reader) {
		for _, id := range ids {
			if b := r.Booking(id, s.now()); b != nil {
				_, loc := r.Config(b.Office)
				out = append(out, affectedBooking{b.Ref, b.Number, b.Office, b.Service, localTime(loc, b.Start), string(b.Status)})
			}
		}
	})
	return out
}

// unplaced lists the live bookings that hold no window time.
func (s *Server) unplaced(c *fasthttp.RequestCtx) {
	var ids []uint64
	s.cfg.Store.Read(func(r queue.Reader) {
		for _, b := range r.Unplaced() {
			ids = append(ids, b.ID)
		}
	})
	writeJSON(c, 200, map[string]any{"bookings": s.affectedView(ids)})
}

// windowTime is an office day's booked visits and the windows they hold.
func (s *Server) windowTime(c *fasthttp.RequestCtx) {
	type visit struct {
		Booking string `json:"booking"`
		Number  string `json:"number"`
		Service string `json:"service"`
		Window  int    `json:"window"`
		Start   string `json:"start"`
		End     string `json:"end"`
	}
	var out []visit
	date := string(c.QueryArgs().Peek("date"))
	found := false
	s.cfg.Store.Read(func(r queue.Reader) {
		_, loc := r.Config(param(c, "office"))
		if loc == nil {
			return
		}
		if date == "" {
			date = time.Unix(s.now(), 0).In(loc).Format(time.DateOnly)
		}
		vs, _ := r.WindowTime(param(c, "office"), date)
		found, out = true, []visit{}
		for _, v := range vs {
			out = append(out, visit{refOf(r, v.Booking), v.Number, v.Service, v.Window, localTime(loc, v.Start), localTime(loc, v.End)})
		}
	})
	if !found {
		unknownOffice(c)
		return
	}
	writeJSON(c, 200, map[string]any{"office": param(c, "office"), "date": date, "visits": out})
}

// staffing answers an office's staffing plan for a date (default:
// tomorrow, in the office's time zone), within the booking horizon.
func (s *Server) staffing(c *fasthttp.RequestCtx) {
	office, date := param(c, "office"), string(c.QueryArgs().Peek("date"))
	var demand staffing.Demand
	var windows []staffing.Window
	var derr error
	var p staffing.Plan
	found, cached, bucket := false, false, s.now()/planTTL
	s.cfg.Store.Read(func(r queue.Reader) {
		_, loc := r.Config(office)
		if loc == nil {
			return
		}
		found = true
		today := time.Unix(s.now(), 0).In(loc)
		if date == "" {
			date = today.AddDate(0, 0, 1).Format(time.DateOnly)
		}
		d, err := time.ParseInLocation(time.DateOnly, date, loc)
		if err != nil || d.Before(today.AddDate(0, 0, -1)) || d.After(today.AddDate(0, 0, r.Rules().HorizonDays)) {
			derr = fmt.Errorf("date must be YYYY-MM-DD, from today to %d days ahead", r.Rules().HorizonDays)
			return
		}
		if p, cached = s.plans.get(office+" "+date, 0, bucket); !cached {
			demand, windows, derr = staffing.FromHistory(r, office, date)
		}
	})
	switch {
	case !found:
		unknownOffice(c)
		return
	case derr != nil:
		fail(c, 400, "invalid_request", derr.Error())
		return
	}
	if !cached {
		var err error
		if p, err = staffing.Make(demand, windows, s.cfg.Policy, 1); err != nil {
			fail(c, 500, "internal", err.Error())
			return
		}
		s.plans.put(office+" "+date, 0, bucket, p)
	}
	writeJSON(c, 200, map[string]any{"office": office, "date": date, "plan": p})
}
