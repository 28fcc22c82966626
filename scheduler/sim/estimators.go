package sim

import "github.com/talon-mfc/talon/queue"

// Baselines are the published wait estimators talon's is compared with
// (Ibrahim & Whitt, "Real-time delay estimation in overloaded multiserver
// queues", and the queue-length estimator most systems show).
var Baselines = map[string]Estimator{
	// Queue length: applicants ahead for the service times the mean service
	// time, over the windows open for it.
	"queue-length": func(v View) float64 {
		ahead, servers := 0, 0
		for _, t := range v.Office.Waiting {
			if t.Service == v.Ticket.Service && t.ID != v.Ticket.ID {
				ahead++
			}
		}
		for _, w := range v.Office.Windows {
			if w.State == queue.WindowOpen && w.Serves(v.Ticket.Service) {
				servers++
			}
		}
		return float64(ahead) * float64(v.Office.ServiceMinutes(v.Ticket.Service)*60) / float64(max(1, servers))
	},
	// LES: the wait of the last applicant of the service to be called.
	"last-to-enter-service": func(v View) float64 { return float64(v.LastWait[v.Ticket.Service]) },
	// HOL: how long the applicant at the head of the service's line has
	// waited so far.
	"head-of-line": func(v View) float64 {
		for _, t := range v.Office.Waiting {
			if t.Service == v.Ticket.Service && t.ID != v.Ticket.ID {
				return float64(v.Now - t.ArrivedAt)
			}
		}
		return 0
	},
}
