package queue

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strings"
	"time"
)

// Policy is the calling policy and the wait estimate. It must be a pure
// function of its arguments, because every replica calls it while applying
// the log.
type Policy interface {
	// Pick chooses the ticket that window w calls next, or nil.
	Pick(o *Office, w *Window, now int64) *Ticket
	// Forecast plays out office o's next calls from now (see Outlook).
	Forecast(o *Office, in Outlook, now int64) Forecast
	// Level is office o's load level: low, medium or high.
	Level(o *Office, now int64) string
}

// State is the whole replicated state of a region.
type State struct {
	Region  *Region
	Offices map[string]*Office
	policy  Policy

	Now           int64  // last stamped time (unix seconds), never goes back
	Index         uint64 // last applied log index
	EventSeq      uint64 // last event number
	NextBookingID uint64
	NextTicketID  uint64
	// ErasedThrough is the last UTC day (unix seconds / 86400) whose
	// bookings' personal data has been erased (retention.go).
	ErasedThrough int64
	// ArchivedThrough is the last UTC day whose finished tickets and
	// bookings have left the live state for the archive.
	ArchivedThrough int64
	Bookings        map[uint64]*Booking
	Tickets         map[uint64]*Ticket
	Counters        map[string]int   // "office|day|prefix" → last number issued
	Retries         map[string]Retry // "kind|key" → what the first command with that idempotency key made
	Subs            map[string]*Subscription
	Outbox          map[string][]Notification // per subscription, in event order, not yet delivered
	Dead            map[string][]Notification // per subscription, given up after retries
	Employees       map[string]*Employee
	// Audit is every state-changing command given by someone, in order
	// (audit.go); entries older than ArchiveDays leave it.
	Audit []AuditEntry

	seats   map[seatKey][]uint64 // bookings starting in a slot, per service (for the configured caps)
	plans   map[planKey]*plan    // window time per office day (capacity.go), rebuilt from Booking.Seat on load
	placer  *placer              // reused by every admission (placerFor)
	active  map[string][]uint64  // "phone|service" → the applicant's active bookings
	holds   map[uint64]int64     // held bookings → hold expiry
	refs    map[string]uint64    // booking reference → id
	byDay   map[int64][]uint64   // UTC day of the visit → bookings whose personal data is still held
	byVisit map[int64][]uint64   // UTC day of the visit → bookings not archived yet
	issued  map[string][]*Ticket // office → its tickets in order of issue (and of IssuedAt)
	// unreferenced counts bookings without a reference (made by an earlier
	// version), which the next Tick references.
	unreferenced int

	events []Event
}

// Retry remembers what a command with an idempotency key produced, and
// the fingerprint of the request it came with.
type Retry struct {
	Booking, Ticket uint64
	At              int64
	Fingerprint     string
}

// retryTTL is how long an idempotency key is remembered.
const retryTTL = 24 * 3600

type seatKey struct {
	Office, Service string
	Start           int64
}

// New returns an empty state using policy p.
func New(p Policy) *State {
	return &State{
		policy: p, Offices: map[string]*Office{},
		Bookings: map[uint64]*Booking{}, Tickets: map[uint64]*Ticket{}, Counters: map[string]int{}, Retries: map[string]Retry{},
		Subs: map[string]*Subscription{}, Outbox: map[string][]Notification{}, Dead: map[string][]Notification{}, Employees: map[string]*Employee{},
		seats: map[seatKey][]uint64{}, active: map[string][]uint64{}, holds: map[uint64]int64{}, plans: map[planKey]*plan{},
		refs: map[string]uint64{}, byDay: map[int64][]uint64{}, byVisit: map[int64][]uint64{}, issued: map[string][]*Ticket{},
	}
}

// Office is an office's configuration and its live state.
type Office struct {
	Config  *OfficeConfig
	Windows []*Window // sorted by number
	Waiting []*Ticket // waiting tickets in arrival order; change through enqueue, unqueue, setWaiting
	Day     string    // the local day the live queue belongs to
	Recent  []Call    // the latest calls, for the load figures
	Shows   Shows     // how its booked applicants came, for the forecast
	Spans   []Span    // past periods in which a window was open, for occupancy
	// Sittings are past periods an employee was signed in to a window.
	Sittings []Sitting
	// RemindedFor is the date whose bookings were reminded; Level the last
	// load level, to tell when it drops.
	RemindedFor, Level string
	Closures           []Closure // short-notice closings (CloseOffice)
	loc                *time.Location
	week               [7]spans
	holidays           map[string]spans
	offers             map[string]bool
	prio               map[string]int   // category → priority, shared by the region's offices
	minutes            map[string]int   // service → average minutes, shared by the region's offices
	counts             map[string]int   // service → tickets waiting for it
	visit              map[string]int   // service → slots a booked visit holds a window, shared by the region's offices
	bookingHours       map[string]spans // service → when it can be booked, shared by the region's offices
	slot               int              // slot length in minutes
}

// Sitting is a period [From, To) in which Employee was signed in to Window.
type Sitting struct {
	Employee string
	Window   int
	From, To int64
}

// Span is a period [From, To) in which window Window was open.
type Span struct {
	Window   int
	From, To int64
}

// WaitingFor is the number of tickets waiting for service.
func (o *Office) WaitingFor(service string) int { return o.counts[service] }

func (o *Office) setWaiting(ts []*Ticket) {
	o.Waiting, o.counts = ts, map[string]int{}
	for _, t := range ts {
		o.counts[t.Service]++
	}
}

func (o *Office) unqueue(t *Ticket) {
	for i, x := range o.Waiting {
		if x == t {
			o.Waiting = append(o.Waiting[:i], o.Waiting[i+1:]...)
			o.counts[t.Service]--
			return
		}
	}
}

// Priority is the priority of an applicant category (0 for none).
func (o *Office) Priority(category string) int { return o.prio[category] }

// ServiceMinutes is the configured average service time of a service.
func (o *Office) ServiceMinutes(service string) int { return o.minutes[service] }

// Call records one call of a waiting applicant.
type Call struct{ At, Wait int64 }

const recentCalls = 64

// Location is the office's time zone.
func (o *Office) Location() *time.Location { return o.loc }

// Offers reports whether the office provides the service.
func (o *Office) Offers(service string) bool { return o.offers[service] }

// Window returns window number n, or nil.
func (o *Office) Window(n int) *Window {
	i := sort.Search(len(o.Windows), func(i int) bool { return o.Windows[i].Number >= n })
	if i < len(o.Windows) && o.Windows[i].Number == n {
		return o.Windows[i]
	}
	return nil
}

// WindowState is closed, open or paused.
type WindowState string

const (
	WindowClosed WindowState = "closed"
	WindowOpen   WindowState = "open"
	WindowPaused WindowState = "paused"
)

// Window is a service window and what it is doing.
type Window struct {
	Number   int         `json:"number"`
	Services []string    `json:"services"`
	Bookings bool        `json:"bookings"`
	State    WindowState `json:"state"`
	Current  uint64      `json:"current,omitempty"` // ticket called or being served
	Since    int64       `json:"since,omitempty"`
	Serving  string      `json:"serving,omitempty"`    // the current ticket's service
	Busy     int64       `json:"busy_since,omitempty"` // when the current ticket was called
	Employee string      `json:"employee,omitempty"`   // the operator signed in to it
	Seated   int64       `json:"seated,omitempty"`     // since when
	// Today are the services the window takes today instead of its own
	// (a supervisor's change, until the day ends); bookings still count on
	// its own services.
	Today []string `json:"today,omitempty"`
	hours spans    // when it takes bookings (within the office's hours)
}

// Takes reports whether the window calls applicants for service today.
func (w *Window) Takes(service string) bool {
	if w.Today != nil {
		return slices.Contains(w.Today, service)
	}
	return w.Serves(service)
}

// Serves reports whether the window has the skill for service.
func (w *Window) Serves(service string) bool {
	for _, s := range w.Services {
		if s == service {
			return true
		}
	}
	return false
}

// Action is what an operator does at a window.
type Action byte

const (
	ActOpen Action = iota + 1
	ActClose
	ActPause
	ActCallNext
	ActRecall
	ActStart
	ActFinish
	ActNoShow
	ActRedirect
	ActSignIn   // an operator takes the window (WindowAction.Employee)
	ActSignOut  // and leaves it
	ActCall     // call a chosen waiting ticket out of turn (Number, Reason)
	ActPostpone // the current applicant back to the queue for Minutes
	ActTransfer // the current applicant to window ToWindow, or to Employee's window
	ActServices // the services the window takes for the rest of the day (Today; none: its own)
)

var actionNames = map[string]Action{
	"open": ActOpen, "close": ActClose, "pause": ActPause, "call-next": ActCallNext, "recall": ActRecall,
	"start": ActStart, "finish": ActFinish, "no-show": ActNoShow, "redirect": ActRedirect,
	"sign-in": ActSignIn, "sign-out": ActSignOut, "call": ActCall, "postpone": ActPostpone, "transfer": ActTransfer,
	"services": ActServices,
}

// String is the action's API path word.
func (a Action) String() string {
	for k, v := range actionNames {
		if v == a {
			return k
		}
	}
	return "unknown"
}

// ParseAction maps an API path word to an Action.
func ParseAction(s string) (Action, bool) { a, ok := actionNames[s]; return a, ok }

// Result is what a command returns to its caller: a copy of what it changed,
// or the error that rejected it.
type Result struct {
	Booking *Booking `json:"booking,omitempty"`
	Ticket  *Ticket  `json:"ticket,omitempty"`
	Window  *Window  `json:"window,omitempty"`
	Err     *Error   `json:"error,omitempty"`
	// Affected are the bookings a region change or closure took window
	// time from, or would have (with bookings_affected).
	Affected []uint64 `json:"affected,omitempty"`
	// Replayed: a command with the same idempotency key was applied
	// before; this is its result, and nothing changed now.
	Replayed bool `json:"replayed,omitempty"`
	// Archive is what a Tick took out of the live state, for the node to
	// write to its archive.
	Archive *Archive `json:"-"`
}

// Apply applies one command at time now (stamped by the leader) as part of
// log entry index. Time never goes back: a stamp older than the last one is
// raised to it. A rejected command changes nothing, apart from time-driven
// work that was due anyway (an expired hold, a day rollover).
func (s *State) Apply(c Command, now int64, index uint64) Result {
	if now > s.Now {
		s.Now = now
	}
	s.Index = index
	if _, ok := c.(*SetRegion); !ok && s.Region == nil {
		return Result{Err: errf(CodeInvalidConfig, "no region is configured yet")}
	}
	r := c.apply(s)
	if r.Err == nil && !r.Replayed {
		s.record(c, r)
	}
	switch c := c.(type) {
	case *Tick:
		for _, oc := range s.Region.Offices {
			s.remind(s.Offices[oc.ID])
			s.loadChanged(s.Offices[oc.ID])
		}
	case *Issue, *CheckIn:
		// A newcomer brings nobody else nearer: only they may be near.
		if r.Err == nil && r.Ticket != nil {
			o := s.Offices[r.Ticket.Office]
			s.nearNew(o, r.Ticket.ID)
			s.loadChanged(o)
		}
	case *WindowAction:
		if o := s.Offices[c.Office]; o != nil {
			if c.Action != ActStart && c.Action != ActRecall { // those two move nobody
				s.nearTurn(o)
			}
			s.loadChanged(o)
		}
	}
	return r
}

// applyOnce applies a command that carries an idempotency key: the first
// success is remembered, and a retry with the same key returns it
// unchanged. The same key with another request (its fingerprint differs)
// is refused, as Stripe does: idempotency_key_reused.
func applyOnce[C Command](s *State, key, fingerprint string, c C, apply func(*State, C) Result) Result {
	if r, ok := s.replayed(key, fingerprint, c); ok {
		return r
	}
	res := s.remember(key, c, apply(s, c))
	if key != "" && res.Err == nil {
		r := s.Retries[retryKey(key, c)]
		r.Fingerprint = fingerprint
		s.Retries[retryKey(key, c)] = r
	}
	return res
}

func retryKey(key string, c Command) string { return fmt.Sprint(c.Kind(), "|", key) }

func (s *State) replayed(key, fingerprint string, c Command) (Result, bool) {
	if key == "" {
		return Result{}, false
	}
	if r, ok := s.Retries[retryKey(key, c)]; ok {
		if r.Fingerprint != "" && fingerprint != "" && r.Fingerprint != fingerprint {
			return Result{Err: errf(CodeIdempotencyKeyReused, "this Idempotency-Key came with another request")}, true
		}
		if b := s.Bookings[r.Booking]; b != nil {
			return Result{Booking: copyOf(b), Replayed: true}, true
		}
		if t := s.Tickets[r.Ticket]; t != nil {
			return Result{Ticket: copyOf(t), Replayed: true}, true
		}
	}
	return Result{}, false
}

func (s *State) remember(key string, c Command, res Result) Result {
	switch {
	case key == "":
	case res.Booking != nil:
		s.Retries[retryKey(key, c)] = Retry{Booking: res.Booking.ID, At: s.Now}
	case res.Ticket != nil:
		s.Retries[retryKey(key, c)] = Retry{Ticket: res.Ticket.ID, At: s.Now}
	}
	return res
}

// TakeEvents returns the events produced since the last call.
func (s *State) TakeEvents() []Event {
	ev := s.events
	s.events = nil
	return ev
}

func (s *State) emit(e Event) {
	s.EventSeq++
	e.Seq, e.Index, e.At = s.EventSeq, s.Index, s.Now
	s.events = append(s.events, e)
	s.notify(e)
}

func (s *State) office(id string) (*Office, *Error) {
	if o := s.Offices[id]; o != nil {
		return o, nil
	}
	return nil, errf(CodeUnknownOffice, "no office %q", id)
}

// Service returns the service with the id, or nil.
func (s *State) Service(id string) *Service {
	for i := range s.Region.Services {
		if s.Region.Services[i].ID == id {
			return &s.Region.Services[i]
		}
	}
	return nil
}

// Rules are the region's rules with defaults filled in.
func (s *State) Rules() Rules { return s.Region.Rules }

// setRegion installs a new region configuration. Live state (window states,
// waiting tickets) of offices that still exist is kept.
func (s *State) setRegion(c *SetRegion) Result {
	if c.Region == nil {
		return Result{Err: errf(CodeInvalidConfig, "no region given")}
	}
	r := *c.Region
	offices, err := r.compile()
	if err != nil {
		return Result{Err: errf(CodeInvalidConfig, "%v", err)}
	}
	if err := s.stillServed(offices); err != nil {
		return Result{Err: err}
	}
	for id, o := range offices {
		old := s.Offices[id]
		if old == nil {
			continue
		}
		o.setWaiting(old.Waiting)
		o.Day, o.Recent, o.Spans, o.RemindedFor, o.Level, o.Closures, o.Shows, o.Sittings = old.Day, old.Recent, old.Spans, old.RemindedFor, old.Level, old.Closures, old.Shows, old.Sittings
		for _, w := range o.Windows {
			if ow := old.Window(w.Number); ow != nil {
				w.State, w.Current, w.Since, w.Serving, w.Busy, w.Employee, w.Seated = ow.State, ow.Current, ow.Since, ow.Serving, ow.Busy, ow.Employee, ow.Seated
			}
		}
	}
	// The bookings' window time under the new configuration.
	ids := slices.Sorted(maps.Keys(offices))
	plans := make([]assignment, len(ids))
	var lost []uint64
	for i, id := range ids {
		plans[i] = s.assignAll(offices[id])
		lost = append(lost, plans[i].lost...)
	}
	if len(lost) > 0 && !c.Force {
		slices.Sort(lost)
		var numbers []string
		for _, id := range lost[:min(len(lost), 10)] {
			numbers = append(numbers, s.Bookings[id].Number)
		}
		return Result{Affected: lost, Err: errf(CodeBookingsAffected,
			"%d booking(s) would lose their window time (%s…): change the region, move them, or load it with force (they are told and may move for free)",
			len(lost), strings.Join(numbers, ", "))}
	}
	s.Region, s.Offices = &r, offices
	s.emit(Event{Kind: EvRegionUpdated})
	for i, id := range ids {
		s.install(offices[id], plans[i])
	}
	return Result{Affected: lost}
}

// stillServed refuses a region that drops an office or service which live
// bookings or tickets still need: cancel or move them first.
func (s *State) stillServed(offices map[string]*Office) *Error {
	need := func(office, service, what string) *Error {
		if o := offices[office]; o == nil || !o.offers[service] {
			return errf(CodeInvalidConfig, "office %s must keep service %s: %s still needs it", office, service, what)
		}
		return nil
	}
	for _, ids := range s.active {
		for _, id := range ids {
			if b := s.Bookings[id]; b.live() {
				if err := need(b.Office, b.Service, fmt.Sprintf("booking %d", b.ID)); err != nil {
					return err
				}
			}
		}
	}
	for id, o := range s.Offices {
		for _, t := range o.Waiting {
			if err := need(id, t.Service, "ticket "+t.Number); err != nil {
				return err
			}
		}
		for _, w := range o.Windows {
			if t := s.Tickets[w.Current]; t != nil {
				if err := need(id, t.Service, "ticket "+t.Number); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// localDay is the office's local date of t, as YYYY-MM-DD.
func (o *Office) localDay(t int64) string {
	return time.Unix(t, 0).In(o.loc).Format(time.DateOnly)
}

// hoursOn returns the opening hours on the local date of t.
func (o *Office) hoursOn(t time.Time) spans {
	if h, ok := o.holidays[t.Format(time.DateOnly)]; ok {
		return h
	}
	return o.week[t.Weekday()]
}

// lastCall is when office o calls its last applicant of the local day of
// t: minutesBefore its closing for the day. An office open through
// midnight into the next day never has one.
func (o *Office) lastCall(t int64, minutesBefore int) int64 {
	lt := time.Unix(t, 0).In(o.loc)
	h := o.hoursOn(lt)
	if h.closed() {
		return t
	}
	end := h[len(h)-1].Close
	if next := o.hoursOn(time.Date(lt.Year(), lt.Month(), lt.Day()+1, 12, 0, 0, 0, o.loc)); end == 24*60 && !next.closed() && next[0].Open == 0 {
		return math.MaxInt64
	}
	return time.Date(lt.Year(), lt.Month(), lt.Day(), 0, end-minutesBefore, 0, 0, o.loc).Unix()
}

// nextOpening is when office o next opens after t, by its hours (within
// four weeks; t itself when it never does).
func (o *Office) nextOpening(t int64) int64 {
	lt := time.Unix(t, 0).In(o.loc)
	for d := range 28 {
		day := time.Date(lt.Year(), lt.Month(), lt.Day()+d, 0, 0, 0, 0, o.loc)
		for _, sp := range o.hoursOn(day) {
			if start := time.Date(day.Year(), day.Month(), day.Day(), 0, sp.Open, 0, 0, o.loc).Unix(); start > t {
				return start
			}
		}
	}
	return t
}

// OpenHours are the office's opening hours on the local date of t, as
// [open, close) minutes from local midnight; none when it is closed.
func (o *Office) OpenHours(t int64) [][2]int {
	var out [][2]int
	for _, sp := range o.hoursOn(time.Unix(t, 0).In(o.loc)) {
		out = append(out, [2]int{sp.Open, sp.Close})
	}
	return out
}

// IsOpen reports whether the office works at instant t.
func (o *Office) IsOpen(t int64) bool {
	lt := time.Unix(t, 0).In(o.loc)
	m := lt.Hour()*60 + lt.Minute()
	return o.hoursOn(lt).covers(m, m+1)
}

func (s *State) nextID(p *uint64) uint64 { *p++; return *p }
