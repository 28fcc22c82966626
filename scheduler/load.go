package scheduler

import (
	"sort"

	"github.com/talon-mfc/talon/queue"
)

// Load is an office's load as the portal shows it.
type Load struct {
	Waiting     int    `json:"waiting"`
	AvgWait     int64  `json:"avg_wait_s"` // mean wait of the applicants called in the last hour
	EstWait     int64  `json:"est_wait_s"` // expected wait of an applicant arriving now
	OpenWindows int    `json:"open_windows"`
	FreeWindows int    `json:"free_windows"` // open and not serving anybody
	Level       string `json:"level"`        // low, medium, high
}

// Level thresholds: a wait under 5 minutes is low; up to the 15-minute norm, medium.
const (
	lowWait    = 5 * 60
	normalWait = 15 * 60
)

// OfficeLoad computes the load of office o at time now.
func OfficeLoad(o *queue.Office, now int64) Load {
	l := Load{Waiting: len(o.Waiting)}
	for _, w := range o.Windows {
		if w.State == queue.WindowOpen {
			l.OpenWindows++
			if w.Current == 0 {
				l.FreeWindows++
			}
		}
	}
	var sum, n int64
	for _, c := range o.Recent {
		if now-c.At <= 3600 {
			sum, n = sum+c.Wait, n+1
		}
	}
	if n > 0 {
		l.AvgWait = sum / n
	}
	var work int64
	for _, sv := range o.Config.Services {
		work += int64(o.WaitingFor(sv)) * int64(o.ServiceMinutes(sv)) * 60
	}
	l.EstWait = work / int64(max(1, l.OpenWindows))
	switch {
	case l.EstWait < lowWait:
		l.Level = "low"
	case l.EstWait <= normalWait:
		l.Level = "medium"
	default:
		l.Level = "high"
	}
	return l
}

// Recommendation is one office ranked for a service.
type Recommendation struct {
	Office   string      `json:"office"`
	EstWait  int64       `json:"est_wait_s"`
	Open     bool        `json:"open_now"`
	Earliest *queue.Slot `json:"-"` // the API renders it in the office's time zone
}

// Recommend ranks the offices offering service: open offices first, then by
// the wait a walk-in would have now, then by the earliest free booking slot.
func Recommend(rd queue.Reader, p queue.Policy, service string, now int64) []Recommendation {
	out := []Recommendation{}
	if rd.Region() == nil {
		return out
	}
	for _, oc := range rd.Region().Offices {
		o := rd.Office(oc.ID)
		if !o.Offers(service) {
			continue
		}
		r := Recommendation{Office: oc.ID, EstWait: p.Forecast(o, queue.Outlook{Expected: rd.Expected(oc.ID, now), Service: service}, now).Wait, Open: o.IsOpen(now)}
		if sl, ok := rd.EarliestFree(oc.ID, service, now); ok {
			r.Earliest = &sl
		}
		out = append(out, r)
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Open != b.Open {
			return a.Open
		}
		if a.EstWait != b.EstWait {
			return a.EstWait < b.EstWait
		}
		return earliest(a) < earliest(b)
	})
	return out
}

func earliest(r Recommendation) int64 {
	if r.Earliest == nil {
		return 1 << 62
	}
	return r.Earliest.Start
}
