package api

import (
	"strconv"
	"time"

	"github.com/talon-mfc/talon/queue"
	"github.com/talon-mfc/talon/scheduler"
)

// Times in answers are RFC 3339 in the office's own time zone.
func localTime(loc *time.Location, t int64) string {
	if t == 0 || loc == nil {
		return ""
	}
	return time.Unix(t, 0).In(loc).Format(time.RFC3339)
}

type slotView struct {
	Office string `json:"office,omitempty"`
	Start  string `json:"start"`
	End    string `json:"end"`
	Free   int    `json:"free"`
}

func slotsView(r queue.Reader, slots []queue.Slot, withOffice bool) []slotView {
	out := make([]slotView, len(slots))
	for i, sl := range slots {
		_, loc := r.Config(sl.Office)
		out[i] = slotView{Start: localTime(loc, sl.Start), End: localTime(loc, sl.End), Free: sl.Free}
		if withOffice {
			out[i].Office = sl.Office
		}
	}
	return out
}

type alternativesView struct {
	SameOffice   []slotView `json:"same_office"`
	OtherOffices []slotView `json:"other_offices"`
}

func altView(r queue.Reader, a *queue.Alternatives) *alternativesView {
	return &alternativesView{SameOffice: slotsView(r, a.SameOffice, true), OtherOffices: slotsView(r, a.OtherOffices, true)}
}

type applicantView struct {
	Name  string `json:"name"`
	Phone string `json:"phone"`
}

type bookingView struct {
	ID             string        `json:"id"`
	Office         string        `json:"office"`
	OfficeName     string        `json:"office_name"`
	Address        string        `json:"address"`
	Service        string        `json:"service"`
	ServiceName    string        `json:"service_name"`
	Start          string        `json:"start"`
	End            string        `json:"end"`
	Status         string        `json:"status"`
	Number         string        `json:"number"`
	QR             string        `json:"qr,omitempty"`
	RescheduleLeft int           `json:"reschedules_left"`
	OriginalStart  string        `json:"original_start"`
	ExpiresAt      string        `json:"expires_at,omitempty"`
	Applicant      applicantView `json:"applicant"`
	CreatedAt      string        `json:"created_at"`
	TicketID       string        `json:"ticket_id,omitempty"`
	// Affected: the booking lost its window time (a region change or a
	// closure): it may move once for free, to any time that has some.
	Affected bool         `json:"affected,omitempty"`
	talon    *queue.Talon // what QR is signed from, by sign
}

// sign fills in a booking view's QR code. Call it outside Store.Read: a
// signature is the slowest part of the answer, and writers wait on readers.
func (s *Server) sign(v *bookingView) {
	if v.talon != nil {
		v.QR = s.cfg.Keys.Sign(*v.talon)
	}
}

// bookingView is what the API shows of a booking (sign adds the QR code).
func (s *Server) bookingView(r queue.Reader, b *queue.Booking) bookingView {
	oc, loc := r.Config(b.Office)
	rules := r.Rules()
	v := bookingView{
		ID: b.Ref, Office: b.Office,
		Service: b.Service, Start: localTime(loc, b.Start), End: localTime(loc, b.Start+int64(max(1, b.Slots)*rules.SlotMinutes)*60),
		Status: string(b.Status), Number: b.Number, RescheduleLeft: max(0, rules.MaxReschedules-b.Reschedules),
		OriginalStart: localTime(loc, b.OriginalStart), ExpiresAt: localTime(loc, b.HoldUntil),
		Applicant: applicantView{b.Name, b.Phone}, CreatedAt: localTime(loc, b.CreatedAt),
	}
	if oc != nil {
		v.OfficeName, v.Address = oc.Name, oc.Address
	}
	if sv, ok := r.Service(b.Service); ok {
		v.ServiceName = sv.Name
	}
	if b.Status == queue.BookingConfirmed || b.Status == queue.BookingHeld {
		v.talon = &queue.Talon{Booking: b.ID, Office: b.Office, Start: b.Start}
	}
	if b.Ticket != 0 {
		v.TicketID = strconv.FormatUint(b.Ticket, 10)
	}
	v.Affected = b.Seat == 0 && (b.Status == queue.BookingConfirmed || b.Status == queue.BookingHeld)
	return v
}

type ticketView struct {
	ID          string `json:"id"`
	Number      string `json:"number"`
	Office      string `json:"office"`
	Service     string `json:"service"`
	ServiceName string `json:"service_name"`
	Category    string `json:"category,omitempty"`
	Status      string `json:"status"`
	Position    int    `json:"position"`
	EstWait     int64  `json:"est_wait_s"`
	IssuedAt    string `json:"issued_at"`
	ArrivedAt   string `json:"arrived_at"`
	Window      int    `json:"window,omitempty"`
	CalledAt    string `json:"called_at,omitempty"`
	StartedAt   string `json:"started_at,omitempty"`
	FinishedAt  string `json:"finished_at,omitempty"`
	Recalls     int    `json:"recalls,omitempty"`
	BookingID   string `json:"booking_id,omitempty"`
	SlotStart   string `json:"slot_start,omitempty"`
	Employee    string `json:"employee,omitempty"`     // who called it
	NotBefore   string `json:"not_before,omitempty"`   // postponed until
	ForWindow   int    `json:"for_window,omitempty"`   // transferred to
	ForEmployee string `json:"for_employee,omitempty"` // transferred to
}

func ticketViewOf(r queue.Reader, t *queue.Ticket) ticketView {
	_, loc := r.Config(t.Office)
	v := ticketView{
		ID: strconv.FormatUint(t.ID, 10), Number: t.Number, Office: t.Office, Service: t.Service, Category: t.Category,
		Status: string(t.Status), Position: t.Position, EstWait: t.EstWait, IssuedAt: localTime(loc, t.IssuedAt),
		ArrivedAt: localTime(loc, t.ArrivedAt), Window: t.Window, CalledAt: localTime(loc, t.CalledAt),
		StartedAt: localTime(loc, t.StartedAt), FinishedAt: localTime(loc, t.FinishedAt), Recalls: t.Recalls,
		SlotStart: localTime(loc, t.SlotStart), Employee: t.Employee, NotBefore: localTime(loc, t.NotBefore), ForWindow: t.ForWindow,
		ForEmployee: t.ForEmployee,
	}
	if sv, ok := r.Service(t.Service); ok {
		v.ServiceName = sv.Name
	}
	if t.Booking != 0 {
		v.BookingID = refOf(r, t.Booking)
	}
	return v
}

// refOf is the public reference of booking id.
func refOf(r queue.Reader, id uint64) string {
	if b := r.Booking(id, 0); b != nil {
		return b.Ref
	}
	return ""
}

type windowView struct {
	Number   int         `json:"number"`
	State    string      `json:"state"`
	Services []string    `json:"services"`
	Bookings bool        `json:"bookings"`
	Since    string      `json:"since,omitempty"`
	Current  *ticketView `json:"current,omitempty"`
	Today    []string    `json:"today,omitempty"`    // the services it takes today instead of its own
	Employee string      `json:"employee,omitempty"` // the operator signed in to it
	Seated   string      `json:"seated,omitempty"`   // since when
}

func windowViewOf(r queue.Reader, office string, w *queue.Window) windowView {
	_, loc := r.Config(office)
	v := windowView{Number: w.Number, State: string(w.State), Services: w.Services, Bookings: w.Bookings, Since: localTime(loc, w.Since),
		Today: w.Today, Employee: w.Employee, Seated: localTime(loc, w.Seated)}
	if t := r.Ticket(w.Current); t != nil {
		tv := ticketViewOf(r, t)
		v.Current = &tv
	}
	return v
}

type serviceRef struct {
	ID             string `json:"id"`
	Name           string `json:"name"`
	NameEN         string `json:"name_en,omitempty"`
	Letter         string `json:"letter"`
	Bookable       bool   `json:"bookable"`
	BookingWindows int    `json:"booking_windows"` // windows that take its bookings: at most that many of its visits at once
	BookingMinutes int    `json:"booking_minutes"` // how long a booked visit holds a window
}

type officeView struct {
	ID       string            `json:"id"`
	Name     string            `json:"name"`
	Address  string            `json:"address"`
	Timezone string            `json:"timezone"`
	OpenNow  bool              `json:"open_now"`
	Hours    map[string]string `json:"hours,omitempty"`
	Services []serviceRef      `json:"services"`
	Windows  int               `json:"windows"`
	Load     scheduler.Load    `json:"load"`
}

// officeViewOf shows office o (a copy the reader made) at time now.
func officeViewOf(r queue.Reader, o *queue.Office, now int64) officeView {
	v := officeView{
		ID: o.Config.ID, Name: o.Config.Name, Address: o.Config.Address, Timezone: o.Config.Timezone,
		OpenNow: o.IsOpen(now), Hours: o.Config.Hours, Windows: len(o.Windows), Load: scheduler.OfficeLoad(o, now),
		Services: []serviceRef{},
	}
	for _, id := range o.Config.Services {
		sv, _ := r.Service(id)
		v.Services = append(v.Services, serviceRef{ID: id, Name: sv.Name, NameEN: sv.NameEN, Letter: sv.Letter, Bookable: sv.Bookable, BookingWindows: r.BookingWindows(o.Config.ID, id), BookingMinutes: sv.BookingMinutes})
	}
	return v
}
