package api

import (
	"strconv"
	"time"

	"github.com/talon-mfc/talon/queue"
	"github.com/talon-mfc/talon/scheduler"
)

// Times in answers are RFC 3339 in the office's own time zone.
func localTime(o *queue.Office, t int64) string {
	if t == 0 {
		return ""
	}
	return time.Unix(t, 0).In(o.Location()).Format(time.RFC3339)
}

type slotView struct {
	Office string `json:"office,omitempty"`
	Start  string `json:"start"`
	End    string `json:"end"`
	Free   int    `json:"free"`
}

func slotsView(st *queue.State, slots []queue.Slot, withOffice bool) []slotView {
	out := make([]slotView, len(slots))
	for i, sl := range slots {
		o := st.Offices[sl.Office]
		out[i] = slotView{Start: localTime(o, sl.Start), End: localTime(o, sl.End), Free: sl.Free}
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

func altView(st *queue.State, a *queue.Alternatives) *alternativesView {
	return &alternativesView{SameOffice: slotsView(st, a.SameOffice, true), OtherOffices: slotsView(st, a.OtherOffices, true)}
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
	talon          *queue.Talon  // what QR is signed from, by sign
}

// sign fills in a booking view's QR code. Call it outside Store.Read: a
// signature is the slowest part of the answer, and writers wait on readers.
func (s *Server) sign(v *bookingView) {
	if v.talon != nil {
		v.QR = s.cfg.Keys.Sign(*v.talon)
	}
}

// bookingView is what the API shows of a booking (sign adds the QR code).
func (s *Server) bookingView(st *queue.State, b *queue.Booking) bookingView {
	o := st.Offices[b.Office]
	sv := st.Service(b.Service)
	v := bookingView{
		ID: strconv.FormatUint(b.ID, 10), Office: b.Office, OfficeName: o.Config.Name, Address: o.Config.Address,
		Service: b.Service, Start: localTime(o, b.Start), End: localTime(o, b.Start+int64(st.Rules().SlotMinutes)*60),
		Status: string(b.Status), Number: b.Number, RescheduleLeft: max(0, st.Rules().MaxReschedules-b.Reschedules),
		OriginalStart: localTime(o, b.OriginalStart), ExpiresAt: localTime(o, b.HoldUntil),
		Applicant: applicantView{b.Name, b.Phone}, CreatedAt: localTime(o, b.CreatedAt),
	}
	if sv != nil {
		v.ServiceName = sv.Name
	}
	if b.Status == queue.BookingConfirmed || b.Status == queue.BookingHeld {
		v.talon = &queue.Talon{Booking: b.ID, Office: b.Office, Start: b.Start}
	}
	if b.Ticket != 0 {
		v.TicketID = strconv.FormatUint(b.Ticket, 10)
	}
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
}

func ticketViewOf(st *queue.State, t *queue.Ticket) ticketView {
	o := st.Offices[t.Office]
	v := ticketView{
		ID: strconv.FormatUint(t.ID, 10), Number: t.Number, Office: t.Office, Service: t.Service, Category: t.Category,
		Status: string(t.Status), Position: t.Position, EstWait: t.EstWait, IssuedAt: localTime(o, t.IssuedAt),
		ArrivedAt: localTime(o, t.ArrivedAt), Window: t.Window, CalledAt: localTime(o, t.CalledAt),
		StartedAt: localTime(o, t.StartedAt), FinishedAt: localTime(o, t.FinishedAt), Recalls: t.Recalls,
		SlotStart: localTime(o, t.SlotStart),
	}
	if sv := st.Service(t.Service); sv != nil {
		v.ServiceName = sv.Name
	}
	if t.Booking != 0 {
		v.BookingID = strconv.FormatUint(t.Booking, 10)
	}
	return v
}

type windowView struct {
	Number   int         `json:"number"`
	State    string      `json:"state"`
	Services []string    `json:"services"`
	Bookings bool        `json:"bookings"`
	Since    string      `json:"since,omitempty"`
	Current  *ticketView `json:"current,omitempty"`
}

func windowViewOf(st *queue.State, o *queue.Office, w *queue.Window) windowView {
	v := windowView{Number: w.Number, State: string(w.State), Services: w.Services, Bookings: w.Bookings, Since: localTime(o, w.Since)}
	if t := st.Tickets[w.Current]; t != nil {
		tv := ticketViewOf(st, t)
		v.Current = &tv
	}
	return v
}

type serviceRef struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	NameEN   string `json:"name_en,omitempty"`
	Letter   string `json:"letter"`
	Bookable bool   `json:"bookable"`
	Seats    int    `json:"seats_per_slot"`
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

func officeViewOf(st *queue.State, o *queue.Office, now int64) officeView {
	v := officeView{
		ID: o.Config.ID, Name: o.Config.Name, Address: o.Config.Address, Timezone: o.Config.Timezone,
		OpenNow: o.IsOpen(now), Hours: o.Config.Hours, Windows: len(o.Windows), Load: scheduler.OfficeLoad(o, now),
		Services: []serviceRef{},
	}
	for _, id := range o.Config.Services {
		sv := st.Service(id)
		v.Services = append(v.Services, serviceRef{ID: id, Name: sv.Name, NameEN: sv.NameEN, Letter: sv.Letter, Bookable: sv.Bookable, Seats: st.Seats(o, id)})
	}
	return v
}
