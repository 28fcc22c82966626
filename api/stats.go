package api

import (
	"encoding/csv"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/talon-mfc/talon/metrics/report"
	"github.com/talon-mfc/talon/queue"
)

// period reads ?from= and ?to= for an office: dates in the office's time
// zone (to inclusive) or RFC 3339 times; both default to today. It answers
// 400 itself on failure.
func period(c *fasthttp.RequestCtx, loc *time.Location, now int64) (from, to int64, ok bool) {
	today := time.Unix(now, 0).In(loc).Format(time.DateOnly)
	parse := func(name string, end bool) (int64, bool) {
		v := string(c.QueryArgs().Peek(name))
		if v == "" {
			v = today
		}
		if d, err := time.ParseInLocation(time.DateOnly, v, loc); err == nil {
			if end {
				d = d.AddDate(0, 0, 1)
			}
			return d.Unix(), true
		}
		if t, err := time.Parse(time.RFC3339, v); err == nil {
			return t.Unix(), true
		}
		fail(c, 400, "invalid_request", name+" must be a date (2026-11-23) or an RFC 3339 time")
		return 0, false
	}
	if from, ok = parse("from", false); !ok {
		return 0, 0, false
	}
	if to, ok = parse("to", true); !ok {
		return 0, 0, false
	}
	if to <= from || to-from > 366*24*3600 {
		fail(c, 400, "invalid_request", "the period must end after it starts and span at most a year")
		return 0, 0, false
	}
	return from, to, true
}

// officeRead runs fn on the office in the path (its id and time zone)
// under one read, answering 404 itself for an unknown office.
func (s *Server) officeRead(c *fasthttp.RequestCtx, fn func(r queue.Reader, office string, loc *time.Location)) bool {
	found := false
	s.cfg.Store.Read(func(r queue.Reader) {
		if oc, loc := r.Config(param(c, "office")); oc != nil {
			found = true
			fn(r, oc.ID, loc)
		}
	})
	if !found {
		unknownOffice(c)
	}
	return found
}

// officePeriod is the office in the path, the period asked and the tickets
// of it (and of the day before, which its calls may come from) that have
// left the live state for the archive, read outside the state's lock. On
// false it has answered.
func (s *Server) officePeriod(c *fasthttp.RequestCtx, now int64) (office string, from, to int64, archived []queue.Ticket, ok bool) {
	if !s.officeRead(c, func(_ queue.Reader, id string, loc *time.Location) {
		office = id
		from, to, ok = period(c, loc, now)
	}) || !ok {
		return "", 0, 0, nil, false
	}
	archived, err := s.cfg.Store.ArchivedTickets(office, from-report.TicketLife, to)
	if err != nil {
		fail(c, 500, "internal", "the archive: "+err.Error())
		return "", 0, 0, nil, false
	}
	return office, from, to, archived, true
}

func (s *Server) stats(c *fasthttp.RequestCtx) {
	var services []report.ServiceStats
	var windows []report.WindowStats
	var employees []report.EmployeeStats
	now := s.now()
	office, from, to, archived, ok := s.officePeriod(c, now)
	if !ok {
		return
	}
	s.cfg.Store.Read(func(r queue.Reader) {
		services, windows = report.Stats(r, archived, office, from, to, now)
		employees = report.Employees(r, archived, office, from, to, now)
	})
	if string(c.QueryArgs().Peek("format")) == "csv" {
		// A row per service, window and employee; "open_s" is an employee's time signed in.
		rows := [][]string{{"office", "service", "window", "tickets", "called", "called_within_15min_share", "booked_called",
			"booked_called_within_5min_share", "mean_wait_s", "p90_wait_s", "no_shows", "no_show_rate", "served", "mean_service_s",
			"open_s", "busy_s", "occupancy", "employee"}}
		f := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
		for _, r := range services {
			rows = append(rows, []string{r.Office, r.Service, "", strconv.Itoa(r.Tickets), strconv.Itoa(r.Called), f(r.Within15),
				strconv.Itoa(r.Booked), f(r.BookedOnTime), f(r.MeanWait), f(r.P90Wait), strconv.Itoa(r.NoShows), f(r.NoShowRate),
				strconv.Itoa(r.Served), f(r.MeanService), "", "", "", ""})
		}
		for _, w := range windows {
			rows = append(rows, []string{w.Office, "", strconv.Itoa(w.Window), "", strconv.Itoa(w.Called), "", "", "", "", "", "", "",
				strconv.Itoa(w.Served), f(w.MeanService), strconv.FormatInt(w.OpenSeconds, 10), strconv.FormatInt(w.BusySeconds, 10), f(w.Occupancy), ""})
		}
		for _, e := range employees {
			rows = append(rows, []string{e.Office, "", "", "", strconv.Itoa(e.Called), "", "", "", "", "", "", "",
				strconv.Itoa(e.Served), f(e.MeanService), strconv.FormatInt(e.SignedSeconds, 10), strconv.FormatInt(e.BusySeconds, 10), f(e.Occupancy), e.Employee})
		}
		writeCSV(c, fmt.Sprintf("stats-%s.csv", param(c, "office")), rows)
		return
	}
	if employees == nil {
		employees = []report.EmployeeStats{}
	}
	writeJSON(c, 200, map[string]any{"office": param(c, "office"), "from": rfc(from), "to": rfc(to), "services": services, "windows": windows, "employees": employees})
}

func (s *Server) records(c *fasthttp.RequestCtx) {
	var recs []report.Record
	office, from, to, archived, ok := s.officePeriod(c, s.now())
	if !ok {
		return
	}
	s.cfg.Store.Read(func(r queue.Reader) { recs = report.Records(r, archived, office, from, to) })
	if string(c.QueryArgs().Peek("format")) == "csv" {
		rows := [][]string{{"office", "day", "number", "service", "category", "source", "booking", "slot_start", "issued_at", "arrived_at",
			"called_at", "started_at", "finished_at", "window", "recalls", "outcome", "wait_s", "service_s"}}
		t := func(v int64) string {
			if v == 0 {
				return ""
			}
			return rfc(v)
		}
		for _, r := range recs {
			rows = append(rows, []string{r.Office, r.Day, r.Number, r.Service, r.Category, r.Source, r.Booking, t(r.SlotStart), t(r.IssuedAt),
				t(r.ArrivedAt), t(r.CalledAt), t(r.StartedAt), t(r.FinishedAt), strconv.Itoa(r.Window), strconv.Itoa(r.Recalls), r.Outcome,
				strconv.FormatInt(r.WaitS, 10), strconv.FormatInt(r.ServiceS, 10)})
		}
		writeCSV(c, fmt.Sprintf("records-%s.csv", param(c, "office")), rows)
		return
	}
	if recs == nil {
		recs = []report.Record{}
	}
	writeJSON(c, 200, map[string]any{"office": param(c, "office"), "records": recs})
}

func (s *Server) loadHistory(c *fasthttp.RequestCtx) {
	var pts []report.Point
	if s.officeRead(c, func(r queue.Reader, office string, _ *time.Location) { pts = report.History(r, office, s.now()) }) {
		writeJSON(c, 200, map[string]any{"office": param(c, "office"), "step_s": 300, "points": pts})
	}
}

func rfc(t int64) string { return time.Unix(t, 0).UTC().Format(time.RFC3339) }

func writeCSV(c *fasthttp.RequestCtx, name string, rows [][]string) {
	c.SetContentType("text/csv; charset=utf-8")
	c.Response.Header.Set("Content-Disposition", `attachment; filename="`+name+`"`)
	w := csv.NewWriter(c)
	for _, row := range rows {
		for i, v := range row {
			row[i] = formulaSafe(v)
		}
	}
	w.WriteAll(rows)
}

// formulaSafe keeps a spreadsheet from running a cell as a formula: a value
// that starts with =, +, -, @, a tab or a carriage return, and is not a
// number, gets a leading apostrophe (OWASP's CSV injection advice).
func formulaSafe(v string) string {
	if v == "" || !strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		return v
	}
	if _, err := strconv.ParseFloat(v, 64); err == nil {
		return v
	}
	return "'" + v
}
