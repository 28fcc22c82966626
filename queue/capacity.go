package queue

import (
	"cmp"
	"maps"
	"slices"
	"time"
)

// Capacity: a booked seat is a window's time.
//
// A visit of service s booked at slot t holds one window that takes
// bookings and serves s, for as many slots as the service's visits last
// (Service.BookingMinutes), inside the office's hours that day (its breaks
// and closures), the window's booking hours and the service's. Each office
// day has a plan: for every window and slot, the booking that holds it.
//
// Invariant, after every command: each booking that holds a seat
// (confirmed, held in time, checked in) is in the plan of its day on one
// such window for its whole visit (Booking.Seat), and no cell holds two
// bookings. The window is internal (the applicant is called at whichever
// window is free) and may change to admit another booking: a booking is
// refused only when no assignment admits it. The search for one moves the
// bookings in the way to other windows, those in their way in turn, and so
// on; it is complete (it finds an assignment whenever one exists), bounded
// by a step budget counted the same on every replica, and skipped when a
// quick count per slot (a matching of that slot's bookings to windows)
// already shows there is none.

// planKey names an office day.
type planKey struct{ office, day string }

// plan is the window time of one office on one local day.
type plan struct {
	avail [][]bool   // [window index][slot of the day]: the window takes bookings then
	cells [][]uint64 // [window index][slot of the day]: the booking holding it, 0 for none
}

// visit is what a booking needs of a plan.
type visit struct {
	id      uint64
	service string
	k, n    int // its first slot of the day, and how many it holds
}

// searchSteps bounds one admission's search (windows tried); a search that
// runs out refuses, as on every replica.
const searchSteps = 4096

// slotsPerDay is the number of slots of a local day.
func (o *Office) slotsPerDay() int { return 24 * 60 / o.slot }

// dayOf is the local date of t and its slot of the day.
func (o *Office) dayOf(t int64) (day string, k int) {
	lt := time.Unix(t, 0).In(o.loc)
	return lt.Format(time.DateOnly), (lt.Hour()*60 + lt.Minute()) / o.slot
}

// slotStart is the instant slot k of local date day begins.
func (o *Office) slotStart(day string, k int) int64 {
	d, _ := time.ParseInLocation(time.DateOnly, day, o.loc)
	return time.Date(d.Year(), d.Month(), d.Day(), 0, k*o.slot, 0, 0, o.loc).Unix()
}

// newPlan is an empty plan of office o on day: when each window takes bookings.
func (o *Office) newPlan(day string) *plan {
	d, _ := time.ParseInLocation(time.DateOnly, day, o.loc)
	hours := o.hoursOn(d)
	n := o.slotsPerDay()
	p := &plan{avail: make([][]bool, len(o.Windows)), cells: make([][]uint64, len(o.Windows))}
	for w, win := range o.Windows {
		p.avail[w], p.cells[w] = make([]bool, n), make([]uint64, n)
		if !win.Bookings {
			continue
		}
		open := intersect(hours, win.hours)
		for k := range n {
			p.avail[w][k] = open.covers(k*o.slot, (k+1)*o.slot)
			if p.avail[w][k] && len(o.Closures) > 0 {
				p.avail[w][k] = !o.closedAt(time.Date(d.Year(), d.Month(), d.Day(), 0, k*o.slot, 0, 0, o.loc).Unix(), o.slot)
			}
		}
	}
	return p
}

// clone copies the cells (the availability is never changed).
func (p *plan) clone() *plan {
	c := &plan{avail: p.avail, cells: make([][]uint64, len(p.cells))}
	for w := range p.cells {
		c.cells[w] = slices.Clone(p.cells[w])
	}
	return c
}

// fits reports whether window w could hold visit v, were it free.
func (o *Office) fits(p *plan, w int, v visit) bool {
	return o.fitsIn(p, w, v, o.bookingHours[v.service])
}

// fitsIn is fits with the service's booking hours at hand.
func (o *Office) fitsIn(p *plan, w int, v visit, hours spans) bool {
	if v.k < 0 || v.k+v.n > len(p.avail[w]) || !o.Windows[w].Serves(v.service) {
		return false
	}
	for j := v.k; j < v.k+v.n; j++ {
		if !p.avail[w][j] || !hours.covers(j*o.slot, (j+1)*o.slot) {
			return false
		}
	}
	return true
}

// placer admits visits into a plan, moving others between windows. Every
// change is logged, so a failed search leaves the plan as it was.
type placer struct {
	o      *Office
	p      *plan
	b      bookings
	pinned map[uint64]bool // placed or moved in this admission: not moved again
	log    []cellChange
	pins   []uint64 // pinned, in order, so a rollback unpins
	steps  int
	marked bool             // the search tries each stretch of a window once
	tried  map[stretch]bool // the stretches it tried
}

// bookings is what a placer asks of the ids in its plan's cells.
type bookings interface {
	// held reports whether id holds its seat now; if not, its cells are free.
	held(id uint64) bool
	// visit is held booking id's visit.
	visit(id uint64) visit
}

// stateBookings are the bookings of office o in the state.
type stateBookings struct {
	s *State
	o *Office
}

func (sb stateBookings) held(id uint64) bool {
	b := sb.s.Bookings[id]
	return b != nil && b.holdsSeat(sb.s.Now)
}

func (sb stateBookings) visit(id uint64) visit {
	b := sb.s.Bookings[id]
	return visit{id: b.ID, service: b.Service, k: sb.o.slotOf(b.Start), n: b.Slots}
}

// mark is a point a placer can roll back to.
type mark struct{ log, pins int }

type cellChange struct {
	w, k int
	was  uint64
}

func newPlacer(o *Office, p *plan, b bookings) *placer {
	return &placer{o: o, p: p, b: b, pinned: map[uint64]bool{}}
}

func (pl *placer) set(w, k int, id uint64) {
	pl.log = append(pl.log, cellChange{w, k, pl.p.cells[w][k]})
	pl.p.cells[w][k] = id
}

func (pl *placer) pin(id uint64) {
	pl.pinned[id] = true
	pl.pins = append(pl.pins, id)
}

func (pl *placer) mark() mark { return mark{len(pl.log), len(pl.pins)} }

func (pl *placer) rollback(m mark) {
	for i := len(pl.log) - 1; i >= m.log; i-- {
		c := pl.log[i]
		pl.p.cells[c.w][c.k] = c.was
	}
	for _, id := range pl.pins[m.pins:] {
		delete(pl.pinned, id)
	}
	pl.log, pl.pins = pl.log[:m.log], pl.pins[:m.pins]
}

// blockers are the bookings that hold cells of window w during v; ok is
// false when one of them may not move.
func (pl *placer) blockers(w int, v visit) (out []visit, ok bool) {
	for j := v.k; j < v.k+v.n; j++ {
		id := pl.p.cells[w][j]
		if id == 0 || id == v.id || slices.ContainsFunc(out, func(b visit) bool { return b.id == id }) {
			continue
		}
		if pl.pinned[id] { // being placed (perhaps not a booking yet) or moved already
			return nil, false
		}
		if pl.b.held(id) {
			out = append(out, pl.b.visit(id))
		}
	}
	return out, true
}

// free reports whether window w's cells during v hold no live booking.
func (pl *placer) free(w int, v visit) bool {
	for j := v.k; j < v.k+v.n; j++ {
		if id := pl.p.cells[w][j]; id != 0 {
			if pl.pinned[id] || pl.b.held(id) {
				return false
			}
		}
	}
	return true
}

// admit finds v a window: a free one if there is (the one with the fewest
// skills, so the versatile windows stay free for the services only they
// serve), else a search. The bookings pinned afterwards are v and those
// moved for it. It reports false, the plan unchanged, when no assignment
// admits v.
func (pl *placer) admit(v visit) bool {
	clear(pl.pinned)
	pl.pins = pl.pins[:0]
	m := pl.mark()
	pl.pin(v.id)
	best := -1
	for w := range pl.o.Windows {
		if best >= 0 && len(pl.o.Windows[w].Services) >= len(pl.o.Windows[best].Services) || !pl.o.fits(pl.p, w, v) {
			continue
		}
		if pl.free(w, v) {
			best = w
		}
	}
	if best >= 0 {
		for j := v.k; j < v.k+v.n; j++ {
			pl.set(best, j, v.id)
		}
		return true
	}
	pl.rollback(m)
	return pl.search(v)
}

// search admits v by moving others, when no window is free for it. It
// first searches as Kuhn's augmenting paths do: each stretch of a window
// is tried to be freed once, which bounds the work by the windows and
// slots of the day, and is exact when every visit is one slot long. When
// that fails for a visit of one slot, a complete search (each booking
// moved at most once, within a step budget) makes sure.
func (pl *placer) search(v visit) bool {
	if !pl.matchable(v) {
		return false
	}
	if pl.try(v, true) {
		return true
	}
	return v.n == 1 && pl.try(v, false)
}

// try is one search: marked (each stretch tried once) or complete.
func (pl *placer) try(v visit, marked bool) bool {
	clear(pl.pinned)
	pl.pins = pl.pins[:0]
	if pl.tried == nil {
		pl.tried = map[stretch]bool{}
	}
	clear(pl.tried)
	pl.marked = marked
	m := pl.mark()
	pl.pin(v.id)
	pl.steps = searchSteps
	if pl.place(v) {
		return true
	}
	pl.rollback(m)
	return false
}

// stretch is a window's slots k..k+n-1.
type stretch struct{ w, k, n int }

// place puts v (pinned) on a window, moving the bookings in its way.
func (pl *placer) place(v visit) bool {
	type candidate struct{ w, blockers int }
	var cands []candidate
	for w := range pl.o.Windows {
		if !pl.o.fits(pl.p, w, v) {
			continue
		}
		if bs, ok := pl.blockers(w, v); ok {
			cands = append(cands, candidate{w, len(bs)})
		}
	}
	slices.SortStableFunc(cands, func(a, b candidate) int {
		if a.blockers != b.blockers {
			return a.blockers - b.blockers
		}
		return len(pl.o.Windows[a.w].Services) - len(pl.o.Windows[b.w].Services)
	})
	for _, c := range cands {
		if pl.steps--; pl.steps < 0 {
			return false
		}
		if s := (stretch{c.w, v.k, v.n}); pl.marked {
			if pl.tried[s] {
				continue
			}
			pl.tried[s] = true
		}
		bs, ok := pl.blockers(c.w, v)
		if !ok {
			continue
		}
		m := pl.mark()
		for _, b := range bs {
			for j := b.k; j < b.k+b.n; j++ {
				if pl.p.cells[c.w][j] == b.id {
					pl.set(c.w, j, 0)
				}
			}
			pl.pin(b.id)
		}
		for j := v.k; j < v.k+v.n; j++ {
			pl.set(c.w, j, v.id)
		}
		moved := 0
		for _, b := range bs {
			if !pl.place(b) {
				break
			}
			moved++
		}
		if moved == len(bs) {
			return true
		}
		pl.rollback(m)
	}
	return false
}

// matchable is the quick count: in each slot of v, the bookings holding
// that slot and v itself can be matched to distinct windows that fit them.
// Without it no assignment exists; with it the search usually succeeds at
// once. (For visits of one slot it is the whole question.)
func (pl *placer) matchable(v visit) bool {
	for j := v.k; j < v.k+v.n; j++ {
		ids := []uint64{v.id}
		open := 0
		for w := range pl.o.Windows {
			if pl.p.avail[w][j] {
				open++
			}
			if id := pl.p.cells[w][j]; id != 0 && !slices.Contains(ids, id) && pl.b.held(id) {
				ids = append(ids, id)
			}
		}
		// More visits than windows open for bookings then: no matching
		// (the common case of a full slot, found without one).
		if len(ids) > open {
			return false
		}
		items := []visit{v}
		for _, id := range ids[1:] {
			items = append(items, pl.b.visit(id))
		}
		fitting := 0
		for w := range pl.o.Windows {
			if slices.ContainsFunc(items, func(b visit) bool { return pl.o.fits(pl.p, w, b) }) {
				fitting++
			}
		}
		if len(items) > fitting || !pl.matching(items) {
			return false
		}
	}
	return true
}

// matching reports whether items can be given distinct windows that fit
// them (Kuhn's augmenting paths).
func (pl *placer) matching(items []visit) bool {
	owner := make([]int, len(pl.o.Windows)) // window → item+1
	var try func(i int, seen []bool) bool
	try = func(i int, seen []bool) bool {
		for w := range pl.o.Windows {
			if seen[w] || !pl.o.fits(pl.p, w, items[i]) {
				continue
			}
			seen[w] = true
			if owner[w] == 0 || try(owner[w]-1, seen) {
				owner[w] = i + 1
				return true
			}
		}
		return false
	}
	for i := range items {
		if !try(i, make([]bool, len(pl.o.Windows))) {
			return false
		}
	}
	return true
}

// windowOf is the window (index) whose plan holds id at slot k, or -1.
func (p *plan) windowOf(id uint64, k int) int {
	for w := range p.cells {
		if p.cells[w][k] == id {
			return w
		}
	}
	return -1
}

// visitOf is booking b's visit and day at office o.
func (o *Office) visitOf(b *Booking) (string, visit) {
	day, k := o.dayOf(b.Start)
	return day, visit{id: b.ID, service: b.Service, k: k, n: b.Slots}
}

// slotOf is the slot of the day t falls in.
func (o *Office) slotOf(t int64) int {
	lt := time.Unix(t, 0).In(o.loc)
	return (lt.Hour()*60 + lt.Minute()) / o.slot
}

// planToRead is the plan of office o on day, or a fresh one, which is not
// kept: reads never change the state.
func (s *State) planToRead(o *Office, day string) *plan {
	if p := s.plans[planKey{o.Config.ID, day}]; p != nil {
		return p
	}
	return o.newPlan(day)
}

// planOf is the plan of office o on day, made and kept when first needed.
func (s *State) planOf(o *Office, day string) *plan {
	k := planKey{o.Config.ID, day}
	p := s.plans[k]
	if p == nil {
		p = o.newPlan(day)
		s.plans[k] = p
	}
	return p
}

// seat gives booking b a window for its visit, moving other bookings of
// the day between windows if need be. False: no assignment admits it, and
// nothing changed.
func (s *State) seat(o *Office, b *Booking) bool {
	day, v := o.visitOf(b)
	p := s.planOf(o, day)
	pl := s.placerFor(o, p)
	if !pl.admit(v) {
		return false
	}
	b.Seat = o.Windows[p.windowOf(b.ID, v.k)].Number
	for id := range pl.pinned { // and those moved for it
		if x := s.Bookings[id]; x != nil && x != b {
			_, xv := o.visitOf(x)
			x.Seat = o.Windows[p.windowOf(id, xv.k)].Number
		}
	}
	return true
}

// occupy puts booking b back on window number n (0: nowhere), whose cells
// for its visit are known to be free.
func (s *State) occupy(o *Office, b *Booking, n int) {
	w := o.windowIndex(n)
	if w < 0 {
		return
	}
	day, v := o.visitOf(b)
	p := s.planOf(o, day)
	for j := v.k; j < v.k+v.n; j++ {
		p.cells[w][j] = b.ID
	}
	b.Seat = n
}

// placerFor is the state's placer, aimed at plan p of office o: one serves
// every admission the state makes (they come one at a time), so admitting
// allocates nothing but what the search needs.
func (s *State) placerFor(o *Office, p *plan) *placer {
	if s.placer == nil {
		s.placer = newPlacer(o, p, stateBookings{s, o})
	}
	pl := s.placer
	pl.o, pl.p, pl.b = o, p, stateBookings{s, o}
	pl.log = pl.log[:0]
	return pl
}

// unseat frees booking b's window time.
func (s *State) unseat(b *Booking) {
	o := s.Offices[b.Office]
	if b.Seat == 0 || o == nil {
		b.Seat = 0
		return
	}
	day, v := o.visitOf(b)
	if p := s.plans[planKey{b.Office, day}]; p != nil {
		if w := o.windowIndex(b.Seat); w >= 0 {
			for j := v.k; j < v.k+v.n && j < len(p.cells[w]); j++ {
				if p.cells[w][j] == b.ID {
					p.cells[w][j] = 0
				}
			}
		}
	}
	b.Seat = 0
}

// windowIndex is the index of window number n in o.Windows, or -1.
func (o *Office) windowIndex(n int) int {
	for i, w := range o.Windows {
		if w.Number == n {
			return i
		}
	}
	return -1
}

// fitsSomewhere reports whether some window could hold a visit of service
// at start, were every window free: the slot is bookable at all.
func (o *Office) fitsSomewhere(p *plan, v visit) bool {
	for w := range o.Windows {
		if o.fits(p, w, v) {
			return true
		}
	}
	return false
}

// hypothetical visits stand for bookings not made, when free counts.
const hypothetical = ^uint64(0) - 1<<16

// freeCounter counts free seats on a scratch copy of a day's plan, so that
// reads never change the state.
type freeCounter struct {
	s    *State
	o    *Office
	day  string
	date time.Time // the day's local midnight
	p    *plan
	own  bool    // p is the counter's copy, not the state's
	pl   *placer // reused from slot to slot
	hyp  map[uint64]visit
}

// held: a hypothetical visit always; a booking, as the state says.
func (fc *freeCounter) held(id uint64) bool {
	return id >= hypothetical || id != 0 && stateBookings{fc.s, fc.o}.held(id)
}

// writable makes the counter's plan its own copy before a free count
// changes it.
func (fc *freeCounter) writable() {
	if fc.own {
		return
	}
	fc.p, fc.own = fc.p.clone(), true
	if fc.pl != nil {
		fc.pl.p = fc.p
	}
}

func (fc *freeCounter) visit(id uint64) visit {
	if v, ok := fc.hyp[id]; ok {
		return v
	}
	return stateBookings{fc.s, fc.o}.visit(id)
}

// freeCounter counts free seats of office o on day. It reads the state's
// plan until a count needs to change one (writable).
func (s *State) freeCounter(o *Office, day string) *freeCounter {
	fc := &freeCounter{s: s, o: o, day: day, hyp: map[uint64]visit{}}
	if fc.p = s.plans[planKey{o.Config.ID, day}]; fc.p == nil {
		fc.p, fc.own = o.newPlan(day), true
	}
	fc.date, _ = time.ParseInLocation(time.DateOnly, day, o.loc)
	return fc
}

// free is how many more visits of service starting at slot k the windows
// admit, up to limit, if nobody else books.
func (fc *freeCounter) free(service string, k, limit int) int {
	v := visit{service: service, k: k, n: fc.o.visit[service]}
	if fc.pl == nil {
		fc.pl = newPlacer(fc.o, fc.p, fc)
	}
	pl := fc.pl
	// The windows that fit v, and those of them free now: when all are
	// free, no search can find more.
	hours := fc.o.bookingHours[service]
	fit, free := 0, 0
	for w := range fc.o.Windows {
		if fc.o.fitsIn(fc.p, w, v, hours) {
			fit++
			if pl.free(w, v) {
				free++
			}
		}
	}
	if free == fit || free >= limit {
		return min(free, limit)
	}
	// Some windows that fit v are taken: fill the free ones, then see
	// whether moving others makes room for more (which the quick count
	// often rules out without a copy of the plan).
	if free == 0 {
		v.id = hypothetical
		fc.hyp[v.id] = v
		ok := pl.matchable(v)
		clear(fc.hyp)
		if !ok {
			return 0
		}
	}
	fc.writable()
	n := 0
	for w := range fc.o.Windows {
		if fc.o.fitsIn(fc.p, w, v, hours) && pl.free(w, v) {
			v.id = hypothetical + uint64(n)
			fc.hyp[v.id] = v
			for j := v.k; j < v.k+v.n; j++ {
				pl.set(w, j, v.id)
			}
			n++
		}
	}
	admitted := slices.Clone(pl.log) // what the admissions changed, undone at the end
	pl.log = pl.log[:0]
	for n < limit { // no window is free for v any more: only a search can make room
		v.id = hypothetical + uint64(n)
		fc.hyp[v.id] = v
		if !pl.search(v) {
			break
		}
		admitted = append(admitted, pl.log...)
		pl.log = pl.log[:0]
		n++
	}
	for i := len(admitted) - 1; i >= 0; i-- { // the scratch plan serves the next slot as it was
		c := admitted[i]
		fc.p.cells[c.w][c.k] = c.was
	}
	clear(fc.hyp)
	return n
}

// seated are the bookings of office o that hold a seat on day today or
// later (the caps' index holds every live and checked-in booking), in
// booking order.
func (s *State) seated(o *Office) []*Booking { return s.seatedIn(o.Config.ID)[o.Config.ID] }

// seatedByOffice is seated for every office, in one pass over the seats.
func (s *State) seatedByOffice() map[string][]*Booking { return s.seatedIn("") }

// seatedIn is seated for office, or for every office when it is "".
func (s *State) seatedIn(office string) map[string][]*Booking {
	out := map[string][]*Booking{}
	for k, ids := range s.seats {
		if office != "" && k.Office != office {
			continue
		}
		for _, id := range ids {
			if b := s.Bookings[id]; b.holdsSeat(s.Now) {
				out[k.Office] = append(out[k.Office], b)
			}
		}
	}
	for _, bs := range out {
		slices.SortFunc(bs, func(a, b *Booking) int { return cmp.Compare(a.ID, b.ID) })
	}
	return out
}

// assignment is window time found for an office's bookings (assignAll).
type assignment struct {
	plans map[planKey]*plan
	seats map[uint64]int // booking → window number, 0: none
	lost  []uint64       // had a window and get none, in booking order
}

// assignAll finds window time for office o's seated bookings on fresh
// plans (o's configuration may be new): each keeps its window where that
// still fits and is free, the others are admitted again in booking order.
// It changes no booking.
func (s *State) assignAll(o *Office) assignment {
	a := assignment{plans: map[planKey]*plan{}, seats: map[uint64]int{}}
	get := func(day string) *plan {
		k := planKey{o.Config.ID, day}
		if a.plans[k] == nil {
			a.plans[k] = o.newPlan(day)
		}
		return a.plans[k]
	}
	var rest []*Booking
	for _, b := range s.seated(o) {
		day, v := o.visitOf(b)
		p := get(day)
		w := o.windowIndex(b.Seat)
		if w < 0 || !o.fits(p, w, v) || slices.ContainsFunc(p.cells[w][v.k:v.k+v.n], func(id uint64) bool { return id != 0 }) {
			rest = append(rest, b)
			continue
		}
		for j := v.k; j < v.k+v.n; j++ {
			p.cells[w][j] = b.ID
		}
		a.seats[b.ID] = b.Seat
	}
	for _, b := range rest {
		day, v := o.visitOf(b)
		p := get(day)
		pl := newPlacer(o, p, stateBookings{s, o})
		if !pl.admit(v) {
			a.seats[b.ID] = 0
			if b.Seat != 0 && b.Status != BookingCheckedIn {
				a.lost = append(a.lost, b.ID)
			}
			continue
		}
		for id := range pl.pinned {
			_, xv := o.visitOf(s.Bookings[id])
			a.seats[id] = o.Windows[p.windowOf(id, xv.k)].Number
		}
	}
	return a
}

// install makes an assignment of office o the state's, and tells the
// bookings it took window time from (which it returns).
func (s *State) install(o *Office, a assignment) []uint64 {
	for k := range s.plans {
		if k.office == o.Config.ID {
			delete(s.plans, k)
		}
	}
	maps.Copy(s.plans, a.plans)
	for id, n := range a.seats {
		s.Bookings[id].Seat = n
	}
	for _, id := range a.lost {
		b := s.Bookings[id]
		var alts []int64
		for _, sl := range s.nearestFree(o, b.Service, b.Start, s.Now, maxAlternatives) {
			alts = append(alts, sl.Start)
		}
		s.emit(Event{Kind: EvBookingAffected, Office: b.Office, Booking: copyOf(b), Alternatives: alts})
	}
	return a.lost
}

// replan finds window time for office o's bookings again after its hours
// changed (a closure), and tells those that lost theirs.
func (s *State) replan(o *Office) []uint64 { return s.install(o, s.assignAll(o)) }
