package queue

// Command is one request to change the state: one Go type per kind, each
// with its own fields. A command enters the log only through Encode, which
// validates it first, and leaves it only through Decode, which enforces the
// same limits: whatever Encode accepts decodes to an equal command, so no
// node ever halts on an entry that passed validation.
//
// The set is closed: only this package defines commands.
type Command interface {
	// Kind is the command's type byte in the log.
	Kind() Kind
	// wire describes the fields once, for the encoder and the decoder alike.
	wire(w wire)
	// check validates what the wire limits do not: ranges and enums.
	check() *Error
	apply(s *State) Result
}

// Kind is a command type. Its value is the type byte of the log entry, so
// values are never reused. A kind with the high bit (Ignorable) set is one
// that a node of an older version may skip; any other kind it does not know
// halts it rather than let replicas diverge.
type Kind byte

// Ignorable marks a kind older nodes may skip.
const Ignorable Kind = 0x80

const (
	KindSetRegion   Kind = 1
	KindBook        Kind = 2
	KindConfirm     Kind = 3
	KindReschedule  Kind = 4
	KindCancel      Kind = 5
	KindIssue       Kind = 6
	KindCheckIn     Kind = 7
	KindWindow      Kind = 8
	KindTick        Kind = 9
	KindSubscribe   Kind = 10
	KindUnsubscribe Kind = 11
	KindDelivered   Kind = 12
	KindReplay      Kind = 13
	KindCloseOffice Kind = 14
	KindSetEmployee Kind = 15
	KindSignOut     Kind = 16
)

// commands makes an empty command of each kind, for Decode.
var commands = [256]func() Command{
	KindSetRegion: func() Command { return new(SetRegion) }, KindBook: func() Command { return new(Book) },
	KindConfirm: func() Command { return new(Confirm) }, KindReschedule: func() Command { return new(Reschedule) },
	KindCancel: func() Command { return new(Cancel) }, KindIssue: func() Command { return new(Issue) },
	KindCheckIn: func() Command { return new(CheckIn) }, KindWindow: func() Command { return new(WindowAction) },
	KindTick: func() Command { return new(Tick) }, KindSubscribe: func() Command { return new(Subscribe) },
	KindUnsubscribe: func() Command { return new(Unsubscribe) }, KindDelivered: func() Command { return new(Delivered) },
	KindReplay: func() Command { return new(Replay) }, KindCloseOffice: func() Command { return new(CloseOffice) },
	KindSetEmployee: func() Command { return new(SetEmployee) }, KindSignOut: func() Command { return new(SignOut) },
}

// SetRegion installs a region configuration. Live state (window states,
// waiting tickets) of offices that still exist is kept. A region in which
// some bookings would lose their window time is refused (bookings_affected)
// unless Force: then they are unplaced and told (booking_affected).
type SetRegion struct {
	Region *Region
	Force  bool
	Actor  string
}

// CloseOffice closes an office at short notice (a power cut, a flood) from
// From to To, replacing a closure with the same From; To <= From lifts it.
// The bookings it takes window time from are unplaced and told.
type CloseOffice struct {
	Office   string
	From, To int64
	Reason   string
	Actor    string
}

// Book books a seat: confirmed at once, or held until confirmed (Hold).
// Key is an idempotency key: a retry with it returns the first result.
type Book struct {
	Office, Service string
	Start           int64 // slot start, unix seconds
	Hold            bool
	Name, Phone     string
	Key             string
	Ref             string // the booking's public reference (ref.go); drawn by the API
	Fingerprint     string // of the request the key came with (applyOnce)
	Actor           string
}

// Confirm confirms a held booking.
type Confirm struct {
	Booking uint64
	Actor   string
}

// Reschedule moves a booking to another slot of its office.
type Reschedule struct {
	Booking uint64
	Start   int64
	Actor   string
}

// Cancel cancels a booking and frees its seat.
type Cancel struct {
	Booking uint64
	Actor   string
}

// Issue issues a walk-in ticket. Key is an idempotency key, as in Book.
type Issue struct {
	Office, Service, Category, Key string
	Fingerprint                    string // of the request the key came with (applyOnce)
	// Force issues even when the applicant would not be called before the
	// office's last call (an employee's decision; a kiosk never sets it).
	Force bool
	Actor string
}

// CheckIn puts a booked applicant who scanned their talon into the live
// queue. Start is the slot start the talon was signed for.
type CheckIn struct {
	Office  string
	Booking uint64
	Start   int64
	Actor   string
}

// WindowAction is what an operator does at a window; Service is the target
// of a redirect, Employee who signs in (ActSignIn).
type WindowAction struct {
	Office   string
	Window   int
	Action   Action
	Service  string
	Employee string   // who signs in; or to whom a ticket is transferred
	Number   string   // the ticket called out of turn (ActCall)
	Reason   string   // why (ActCall)
	Minutes  int      // how long a postponed applicant is away (ActPostpone; 0: 5)
	ToWindow int      // where a ticket is transferred
	Today    []string // the services the window takes for the day (ActServices)
	Actor    string
}

// Tick does the time-driven work that is due: expired holds, day
// rollovers, reminders. The leader proposes it when State.Due says so.
type Tick struct {
	// Seed is random bits of the leader's, from which bookings of earlier
	// versions get their references.
	Seed string
}

// Subscribe adds or replaces a notification webhook.
type Subscribe struct {
	Sub   Subscription
	Actor string
}

// Unsubscribe removes a webhook with its outbox and dead letters.
type Unsubscribe struct {
	ID    string
	Actor string
}

// Delivered records that subscription Sub's gateway took every notification
// up to Seq; with Dead, that the head notification Seq was given up after
// its retries and goes to the dead letters instead.
type Delivered struct {
	Sub  string
	Seq  uint64
	Dead bool
}

// Replay puts a subscription's dead letters back in front of its outbox.
type Replay struct {
	Sub   string
	Actor string
}

func (*SetRegion) Kind() Kind    { return KindSetRegion }
func (*Book) Kind() Kind         { return KindBook }
func (*Confirm) Kind() Kind      { return KindConfirm }
func (*Reschedule) Kind() Kind   { return KindReschedule }
func (*Cancel) Kind() Kind       { return KindCancel }
func (*Issue) Kind() Kind        { return KindIssue }
func (*CheckIn) Kind() Kind      { return KindCheckIn }
func (*WindowAction) Kind() Kind { return KindWindow }
func (*Tick) Kind() Kind         { return KindTick }
func (*Subscribe) Kind() Kind    { return KindSubscribe }
func (*Unsubscribe) Kind() Kind  { return KindUnsubscribe }
func (*Delivered) Kind() Kind    { return KindDelivered }
func (*Replay) Kind() Kind       { return KindReplay }
func (*CloseOffice) Kind() Kind  { return KindCloseOffice }
func (*SetEmployee) Kind() Kind  { return KindSetEmployee }
func (*SignOut) Kind() Kind      { return KindSignOut }

// The fields of each kind on the wire. A field's bit is its place in the
// command's mask; bits are per kind and never reused within a kind, so a
// field can be added without breaking entries written before. The kinds of
// the first version keep the bits of its single shared mask, so the log it
// wrote still decodes.
const (
	bOffice = 1 << iota
	bService
	bCategory
	bStart
	bBooking
	bWindow
	bAction
	bHold
	bName
	bPhone
	bRegion
	bKey
	bSub
	// bActor is who gave a command (an employee, a device: Actor), the same
	// bit in every kind that has one.
	bActor = 1 << 20
)

// MaxActorBytes bounds a command's actor: "employee:" or "device:" and an id.
const MaxActorBytes = 80

// acted is a command given by someone: an employee or a device.
type acted interface{ actor() *string }

func (c *SetRegion) actor() *string    { return &c.Actor }
func (c *CloseOffice) actor() *string  { return &c.Actor }
func (c *Book) actor() *string         { return &c.Actor }
func (c *Confirm) actor() *string      { return &c.Actor }
func (c *Reschedule) actor() *string   { return &c.Actor }
func (c *Cancel) actor() *string       { return &c.Actor }
func (c *Issue) actor() *string        { return &c.Actor }
func (c *CheckIn) actor() *string      { return &c.Actor }
func (c *WindowAction) actor() *string { return &c.Actor }
func (c *Subscribe) actor() *string    { return &c.Actor }
func (c *Unsubscribe) actor() *string  { return &c.Actor }
func (c *Replay) actor() *string       { return &c.Actor }
func (c *SetEmployee) actor() *string  { return &c.Actor }
func (c *SignOut) actor() *string      { return &c.Actor }

// WithActor records who gives command c: "employee:<id>" or
// "device:<name>". Commands nobody gives (Tick, Delivered) have none.
func WithActor(c Command, who string) {
	if a, ok := c.(acted); ok {
		*a.actor() = who
	}
}

// ActorOf is who gave command c, or "".
func ActorOf(c Command) string {
	if a, ok := c.(acted); ok {
		return *a.actor()
	}
	return ""
}

func (c *SetRegion) wire(w wire) {
	w.json(bRegion, "region", &c.Region, MaxRegionBytes)
	w.flag(1<<13, &c.Force)
	w.str(bActor, "actor", &c.Actor, MaxActorBytes)
}

func (c *CloseOffice) wire(w wire) {
	w.str(1<<0, "office", &c.Office, MaxIDBytes)
	w.varint(1<<1, &c.From)
	w.varint(1<<2, &c.To)
	w.str(1<<3, "reason", &c.Reason, MaxReasonBytes)
	w.str(bActor, "actor", &c.Actor, MaxActorBytes)
}

func (c *Book) wire(w wire) {
	w.str(bOffice, "office", &c.Office, MaxIDBytes)
	w.str(bService, "service", &c.Service, MaxIDBytes)
	w.varint(bStart, &c.Start)
	w.flag(bHold, &c.Hold)
	w.str(bName, "applicant name", &c.Name, MaxNameBytes)
	w.str(bPhone, "applicant phone", &c.Phone, MaxPhoneBytes)
	w.str(bKey, "idempotency key", &c.Key, MaxKeyBytes)
	w.str(1<<13, "booking reference", &c.Ref, RefLen)
	w.str(1<<14, "request fingerprint", &c.Fingerprint, MaxFingerprintBytes)
	w.str(bActor, "actor", &c.Actor, MaxActorBytes)
}

func (c *Confirm) wire(w wire) {
	w.uvarint(bBooking, &c.Booking)
	w.str(bActor, "actor", &c.Actor, MaxActorBytes)
}

func (c *Cancel) wire(w wire) {
	w.uvarint(bBooking, &c.Booking)
	w.str(bActor, "actor", &c.Actor, MaxActorBytes)
}

func (c *Reschedule) wire(w wire) {
	w.varint(bStart, &c.Start)
	w.uvarint(bBooking, &c.Booking)
	w.str(bActor, "actor", &c.Actor, MaxActorBytes)
}

func (c *Issue) wire(w wire) {
	w.str(bOffice, "office", &c.Office, MaxIDBytes)
	w.str(bService, "service", &c.Service, MaxIDBytes)
	w.str(bCategory, "category", &c.Category, MaxIDBytes)
	w.str(bKey, "idempotency key", &c.Key, MaxKeyBytes)
	w.str(1<<14, "request fingerprint", &c.Fingerprint, MaxFingerprintBytes)
	w.flag(1<<15, &c.Force)
	w.str(bActor, "actor", &c.Actor, MaxActorBytes)
}

func (c *CheckIn) wire(w wire) {
	w.str(bOffice, "office", &c.Office, MaxIDBytes)
	w.varint(bStart, &c.Start)
	w.uvarint(bBooking, &c.Booking)
	w.str(bActor, "actor", &c.Actor, MaxActorBytes)
}

func (c *WindowAction) wire(w wire) {
	w.str(bOffice, "office", &c.Office, MaxIDBytes)
	w.str(bService, "service", &c.Service, MaxIDBytes)
	w.int(bWindow, &c.Window)
	w.byte(bAction, (*byte)(&c.Action))
	w.str(1<<16, "employee id", &c.Employee, MaxIDBytes)
	w.str(1<<17, "ticket number", &c.Number, MaxIDBytes)
	w.str(1<<18, "reason", &c.Reason, MaxReasonBytes)
	w.int(1<<19, &c.Minutes)
	w.str(bActor, "actor", &c.Actor, MaxActorBytes)
	w.int(1<<21, &c.ToWindow)
	w.json(1<<22, "services", &c.Today, 64*(MaxIDBytes+3))
}

func (c *Tick) wire(w wire) { w.str(1<<0, "seed", &c.Seed, 32) }

func (c *Subscribe) wire(w wire) {
	w.json(bSub, "subscription", &c.Sub, MaxSubscriptionBytes)
	w.str(bActor, "actor", &c.Actor, MaxActorBytes)
}

func (c *Unsubscribe) wire(w wire) {
	w.str(bName, "subscription id", &c.ID, MaxIDBytes)
	w.str(bActor, "actor", &c.Actor, MaxActorBytes)
}

func (c *Delivered) wire(w wire) {
	w.uvarint(bBooking, &c.Seq)
	w.flag(bHold, &c.Dead)
	w.str(bName, "subscription id", &c.Sub, MaxIDBytes)
}

func (c *Replay) wire(w wire) {
	w.str(bName, "subscription id", &c.Sub, MaxIDBytes)
	w.str(bActor, "actor", &c.Actor, MaxActorBytes)
}

// Ranges and enums. Names, phones and whether an office or service exists
// are the state's to judge when the command applies.

func (c *SetRegion) check() *Error {
	if c.Region == nil {
		return errf(CodeInvalidConfig, "no region given")
	}
	if err := c.Region.Validate(); err != nil {
		return errf(CodeInvalidConfig, "%v", err)
	}
	return nil
}

func (c *Book) check() *Error {
	if c.Ref != "" && !ValidRef(c.Ref) {
		return errf(CodeInvalidRequest, "malformed booking reference")
	}
	return nil
}

func (c *CloseOffice) check() *Error {
	if c.From <= 0 {
		return errf(CodeInvalidRequest, "a closure needs its start")
	}
	return nil
}
func (*Issue) check() *Error   { return nil }
func (*CheckIn) check() *Error { return nil }
func (*Tick) check() *Error    { return nil }

func (c *Confirm) check() *Error    { return needBooking(c.Booking) }
func (c *Cancel) check() *Error     { return needBooking(c.Booking) }
func (c *Reschedule) check() *Error { return needBooking(c.Booking) }

func needBooking(id uint64) *Error {
	if id == 0 {
		return errf(CodeInvalidRequest, "no booking given")
	}
	return nil
}

func (c *WindowAction) check() *Error {
	if c.Window <= 0 || c.Window > MaxWindow {
		return errf(CodeUnknownWindow, "window numbers are 1..%d", MaxWindow)
	}
	switch {
	case c.Action < ActOpen || c.Action > ActServices:
		return errf(CodeInvalidRequest, "unknown window action %d", c.Action)
	case c.Action == ActCall && (c.Number == "" || c.Reason == ""):
		return errf(CodeInvalidRequest, "calling out of turn needs the ticket's number and a reason")
	case c.Minutes < 0 || c.Minutes > 240:
		return errf(CodeInvalidRequest, "a postponement is 1 to 240 minutes")
	case c.ToWindow < 0 || c.ToWindow > MaxWindow:
		return errf(CodeUnknownWindow, "window numbers are 1..%d", MaxWindow)
	}
	return nil
}

func (c *Subscribe) check() *Error   { return c.Sub.validate() }
func (c *Unsubscribe) check() *Error { return needID(c.ID) }
func (c *Delivered) check() *Error   { return needID(c.Sub) }
func (c *Replay) check() *Error      { return needID(c.Sub) }
func needID(id string) *Error {
	if !subscriptionID.MatchString(id) {
		return errf(CodeInvalidRequest, "a subscription id is lowercase letters, digits, - and _ (up to 64)")
	}
	return nil
}

func (c *SetRegion) apply(s *State) Result    { return s.setRegion(c) }
func (c *Book) apply(s *State) Result         { return applyOnce(s, c.Key, c.Fingerprint, c, (*State).book) }
func (c *Confirm) apply(s *State) Result      { return s.confirm(c) }
func (c *Reschedule) apply(s *State) Result   { return s.reschedule(c) }
func (c *Cancel) apply(s *State) Result       { return s.cancel(c) }
func (c *Issue) apply(s *State) Result        { return applyOnce(s, c.Key, c.Fingerprint, c, (*State).issue) }
func (c *CheckIn) apply(s *State) Result      { return s.checkIn(c) }
func (c *WindowAction) apply(s *State) Result { return s.window(c) }
func (c *Tick) apply(s *State) Result         { return s.tick(c.Seed) }
func (c *Subscribe) apply(s *State) Result    { return s.subscribe(c) }
func (c *Unsubscribe) apply(s *State) Result  { return s.unsubscribe(c) }
func (c *Delivered) apply(s *State) Result    { return s.delivered(c) }
func (c *Replay) apply(s *State) Result       { return s.replay(c) }
func (c *CloseOffice) apply(s *State) Result  { return s.closeOffice(c) }
