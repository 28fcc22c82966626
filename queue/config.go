package queue

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Region is the configuration of one region: its rules, services and offices.
// It enters the state through the SetRegion command, so every replica holds
// the same configuration. Once installed it is never modified (a change
// installs a new Region), so readers may keep references to its parts.
type Region struct {
	Name       string         `json:"name" yaml:"name"`
	Rules      Rules          `json:"rules" yaml:"rules"`
	Services   []Service      `json:"services" yaml:"services"`
	Categories []Category     `json:"categories" yaml:"categories"`
	Offices    []OfficeConfig `json:"offices" yaml:"offices"`
}

// Rules are the region-wide numbers of docs/domain.md; zero means the default.
type Rules struct {
	SlotMinutes          int `json:"slot_minutes" yaml:"slot_minutes"`                     // 15
	HorizonDays          int `json:"horizon_days" yaml:"horizon_days"`                     // 30
	MaxReschedules       int `json:"max_reschedules" yaml:"max_reschedules"`               // 3
	RescheduleWindowDays int `json:"reschedule_window_days" yaml:"reschedule_window_days"` // 30
	HoldMinutes          int `json:"hold_minutes" yaml:"hold_minutes"`                     // 10
	ActivePerService     int `json:"active_per_service" yaml:"active_per_service"`         // 1
	CheckinEarlyMinutes  int `json:"checkin_early_minutes" yaml:"checkin_early_minutes"`   // 30
	CheckinLateMinutes   int `json:"checkin_late_minutes" yaml:"checkin_late_minutes"`     // 15
	MaxRecalls           int `json:"max_recalls" yaml:"max_recalls"`                       // 2
	TurnNearAhead        int `json:"turn_near_ahead" yaml:"turn_near_ahead"`               // 3: tell an applicant when at most this many are ahead
	// LastCallMinutes is how long before an office closes for the day it
	// calls its last applicant (0: at closing). A kiosk refuses a walk-in
	// whose forecast call falls after it (closing_soon); an employee can
	// still issue one (Issue.Force).
	LastCallMinutes int `json:"last_call_minutes" yaml:"last_call_minutes"`
	// ReminderAt is the local time ("18:00") at which the day-before
	// reminders of an office's bookings are sent.
	ReminderAt string `json:"reminder_at" yaml:"reminder_at"`
	// PersonalDataDays is how many days after the day of a visit the
	// applicant's name and phone are erased (retention.go).
	PersonalDataDays int `json:"personal_data_days" yaml:"personal_data_days"` // 30
	// ArchiveDays is how many days after its day a finished ticket or
	// booking moves from the live state to the archive (retention.go).
	ArchiveDays int `json:"archive_days" yaml:"archive_days"` // 90
	// AuditDays is how many days the audit (who gave which command) is
	// kept; it holds every command, in memory.
	AuditDays int `json:"audit_days" yaml:"audit_days"` // 7
}

func (r *Rules) defaults() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&r.SlotMinutes, 15)
	def(&r.HorizonDays, 30)
	def(&r.MaxReschedules, 3)
	def(&r.RescheduleWindowDays, 30)
	def(&r.HoldMinutes, 10)
	def(&r.ActivePerService, 1)
	def(&r.CheckinEarlyMinutes, 30)
	def(&r.CheckinLateMinutes, 15)
	def(&r.TurnNearAhead, 3)
	def(&r.AuditDays, 7)
	if r.ReminderAt == "" {
		r.ReminderAt = "18:00"
	}
	def(&r.MaxRecalls, 2)
	def(&r.PersonalDataDays, 30)
	def(&r.ArchiveDays, 90)
}

// Service is an МФЦ service (услуга); its letter prefixes its ticket numbers.
type Service struct {
	ID         string `json:"id" yaml:"id"`
	Name       string `json:"name" yaml:"name"`
	NameEN     string `json:"name_en,omitempty" yaml:"name_en"`
	Letter     string `json:"letter" yaml:"letter"`
	AvgMinutes int    `json:"avg_minutes" yaml:"avg_minutes"`
	Bookable   bool   `json:"bookable" yaml:"bookable"`
	// BookingMinutes is how long a booked visit holds a window: whole
	// slots, by default the average service time rounded up to them.
	BookingMinutes int `json:"booking_minutes,omitempty" yaml:"booking_minutes"`
	// BookingHours limits when the service can be booked, every day (for
	// example "09:00-13:00": mornings only); none: whenever the office is open.
	BookingHours string `json:"booking_hours,omitempty" yaml:"booking_hours"`
}

// Category is a priority category of applicants (e.g. disabled people of
// groups I and II); a higher Priority is called first among equals.
type Category struct {
	ID       string `json:"id" yaml:"id"`
	Name     string `json:"name" yaml:"name"`
	NameEN   string `json:"name_en,omitempty" yaml:"name_en"`
	Priority int    `json:"priority" yaml:"priority"`
}

// OfficeConfig describes one office (филиал).
type OfficeConfig struct {
	ID       string            `json:"id" yaml:"id"`
	Name     string            `json:"name" yaml:"name"`
	Address  string            `json:"address" yaml:"address"`
	Timezone string            `json:"timezone" yaml:"timezone"`
	Hours    map[string]string `json:"hours,omitempty" yaml:"hours"` // mon..sun: "09:00-18:00", "08:00-13:00, 14:00-20:00" (a break) or "closed"
	Holidays []Holiday         `json:"holidays,omitempty" yaml:"holidays"`
	Services []string          `json:"services" yaml:"services"`
	Windows  []WindowConfig    `json:"windows" yaml:"windows"`
	// Seats caps how many bookings of a service may start in one slot (the
	// windows' time is the limit without it), e.g. to keep time for walk-ins.
	Seats map[string]int `json:"seats,omitempty" yaml:"seats"`
}

// Holiday overrides one local date: closed, or other hours.
type Holiday struct {
	Date  string `json:"date" yaml:"date"`   // YYYY-MM-DD
	Hours string `json:"hours" yaml:"hours"` // "closed" or "10:00-15:00"
}

// WindowConfig is a service window (окно) and its skills.
type WindowConfig struct {
	Number   int      `json:"number" yaml:"number"`
	Services []string `json:"services" yaml:"services"`
	Bookings bool     `json:"bookings" yaml:"bookings"` // takes booked applicants
	// BookingHours limits when the window takes bookings, every day (for
	// example "08:00-14:00"); none: whenever the office is open.
	BookingHours string `json:"booking_hours,omitempty" yaml:"booking_hours"`
}

// Validate checks the region and fills in the defaults, as SetRegion does.
func (r *Region) Validate() error {
	_, err := r.compile()
	return err
}

// maxTextRunes bounds the names and addresses of a region's configuration.
const maxTextRunes = 300

// checkText checks a name, address or other free text of the configuration.
func checkText(what, s string) error {
	if utf8.RuneCountInString(s) > maxTextRunes || !utf8.ValidString(s) {
		return fmt.Errorf("%s: at most %d characters of UTF-8", what, maxTextRunes)
	}
	return nil
}

// checkID checks an identifier of the configuration: commands carry it, so
// it keeps to their limit.
func checkID(what, s string) error {
	if s == "" || len(s) > MaxIDBytes || strings.ContainsAny(s, "|\x00") {
		return fmt.Errorf("%s %.64q: an id is 1..%d bytes, without | or NUL", what, s, MaxIDBytes)
	}
	return nil
}

// compile validates a region and builds the offices' lookup tables.
func (r *Region) compile() (map[string]*Office, error) {
	r.Rules.defaults()
	if err := checkText("region name", r.Name); err != nil {
		return nil, err
	}
	if _, err := time.Parse("15:04", r.Rules.ReminderAt); err != nil {
		return nil, fmt.Errorf("reminder_at %.16q: want HH:MM", r.Rules.ReminderAt)
	}
	if 60%r.Rules.SlotMinutes != 0 {
		return nil, fmt.Errorf("slot_minutes %d must divide an hour", r.Rules.SlotMinutes)
	}
	services := map[string]*Service{}
	letters := map[string]string{}
	for i := range r.Services {
		sv := &r.Services[i]
		if err := errors.Join(checkID("service", sv.ID), checkText("service name", sv.Name), checkText("service name_en", sv.NameEN)); err != nil {
			return nil, err
		}
		if utf8.RuneCountInString(sv.Letter) != 1 {
			return nil, fmt.Errorf("service %q: needs a one-letter prefix", sv.ID)
		}
		if services[sv.ID] != nil || letters[sv.Letter] != "" {
			return nil, fmt.Errorf("service %q: id or letter %q used twice", sv.ID, sv.Letter)
		}
		if sv.AvgMinutes <= 0 {
			sv.AvgMinutes = 15
		}
		if sv.BookingMinutes <= 0 {
			sv.BookingMinutes = sv.AvgMinutes
		}
		slot := r.Rules.SlotMinutes
		sv.BookingMinutes = (sv.BookingMinutes + slot - 1) / slot * slot
		if sv.BookingMinutes > 8*60 {
			return nil, fmt.Errorf("service %q: booking_minutes %d is longer than 8 hours", sv.ID, sv.BookingMinutes)
		}
		if _, err := parseOptionalSpans(sv.BookingHours); err != nil {
			return nil, fmt.Errorf("service %q: %w", sv.ID, err)
		}
		services[sv.ID], letters[sv.Letter] = sv, sv.ID
	}
	prio, minutes, visit, bookingHours := map[string]int{}, map[string]int{}, map[string]int{}, map[string]spans{}
	for id, sv := range services {
		minutes[id] = sv.AvgMinutes
		visit[id] = sv.BookingMinutes / r.Rules.SlotMinutes
		bookingHours[id], _ = parseOptionalSpans(sv.BookingHours)
	}
	for _, c := range r.Categories {
		if err := errors.Join(checkID("category", c.ID), checkText("category name", c.Name), checkText("category name_en", c.NameEN)); err != nil {
			return nil, err
		}
		if _, dup := prio[c.ID]; dup {
			return nil, fmt.Errorf("category %q: duplicate id", c.ID)
		}
		prio[c.ID] = c.Priority
	}
	offices := map[string]*Office{}
	for i := range r.Offices {
		oc := &r.Offices[i]
		o, err := compileOffice(oc, services)
		if err != nil {
			return nil, fmt.Errorf("office %q: %w", oc.ID, err)
		}
		if offices[oc.ID] != nil {
			return nil, fmt.Errorf("office %q: id used twice", oc.ID)
		}
		o.prio, o.minutes, o.visit, o.bookingHours, o.slot = prio, minutes, visit, bookingHours, r.Rules.SlotMinutes
		offices[oc.ID] = o
	}
	return offices, nil
}

func compileOffice(oc *OfficeConfig, services map[string]*Service) (*Office, error) {
	if err := errors.Join(checkID("office", oc.ID), checkText("name", oc.Name), checkText("address", oc.Address)); err != nil {
		return nil, err
	}
	loc, err := LoadLocation(oc.Timezone)
	if err != nil || oc.Timezone == "" {
		return nil, fmt.Errorf("timezone %.64q: not an IANA zone", oc.Timezone)
	}
	o := &Office{Config: oc, loc: loc, holidays: map[string]spans{}, offers: map[string]bool{}, counts: map[string]int{}}
	if len(oc.Hours) == 0 {
		oc.Hours = map[string]string{}
		for k, v := range defaultHours {
			oc.Hours[k] = v
		}
	}
	for day := range oc.Hours {
		if !slices.Contains(weekdays[:], day) {
			return nil, fmt.Errorf("hours: %.16q is not a day (mon..sun)", day)
		}
	}
	for d, name := range weekdays {
		if o.week[d], err = parseSpans(oc.Hours[name]); err != nil {
			return nil, err
		}
	}
	for _, hd := range oc.Holidays {
		if _, err := time.Parse(time.DateOnly, hd.Date); err != nil {
			return nil, fmt.Errorf("holiday %.16q: want YYYY-MM-DD", hd.Date)
		}
		if o.holidays[hd.Date], err = parseSpans(hd.Hours); err != nil {
			return nil, err
		}
	}
	for _, id := range oc.Services {
		if services[id] == nil {
			return nil, fmt.Errorf("unknown service %.64q", id)
		}
		o.offers[id] = true
	}
	seen := map[int]bool{}
	for _, wc := range oc.Windows {
		if wc.Number <= 0 || wc.Number > MaxWindow || seen[wc.Number] {
			return nil, fmt.Errorf("window %d: numbers are 1..%d and unique", wc.Number, MaxWindow)
		}
		seen[wc.Number] = true
		for _, id := range wc.Services {
			if !o.offers[id] {
				return nil, fmt.Errorf("window %d: service %.64q is not offered by the office", wc.Number, id)
			}
		}
		hours, err := parseOptionalSpans(wc.BookingHours)
		if err != nil {
			return nil, fmt.Errorf("window %d: %w", wc.Number, err)
		}
		o.Windows = append(o.Windows, &Window{Number: wc.Number, Services: wc.Services, Bookings: wc.Bookings, State: WindowClosed, hours: hours})
	}
	slices.SortFunc(o.Windows, func(a, b *Window) int { return a.Number - b.Number })
	for id, n := range oc.Seats {
		if !o.offers[id] || n < 0 {
			return nil, fmt.Errorf("seats for %.64q: not an offered service or negative", id)
		}
	}
	return o, nil
}
