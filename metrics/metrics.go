// Package metrics exports talon's figures to Prometheus: the domain's
// counters and histograms, the live gauges of queues and windows, the
// node's Raft health, and HTTP latency by route.
//
// The domain figures come from the events of the applied log, which every
// node applies: each node of a region exports the same counters and
// histograms (up to how far it has applied), and gauges read from its own
// copy of the state. Scrape every node and aggregate with max (not sum)
// across instances: see deploy/prometheus.
//
// Labels are office and service (and route or window state) only: never a
// ticket, booking or person. It reads a node through the small Node
// interface below and must not know Raft; the statistics and records an
// office reports are package report's.
package metrics

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/fasthttp/router"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"

	"github.com/talon-mfc/talon/cluster/node"
	"github.com/talon-mfc/talon/queue"
)

// Buckets of the wait histogram, in seconds. 300 and 900 are bucket bounds,
// so the share of applicants called within 5 and within 15 minutes is exact.
var WaitBuckets = []float64{60, 120, 180, 300, 420, 600, 900, 1200, 1800, 2700, 3600, 7200}

// Metrics holds talon's collectors.
type Metrics struct {
	reg *prometheus.Registry
	log *slog.Logger

	wait, service, lateness                    *prometheus.HistogramVec
	issued, finished, recalls, bookings, taken *prometheus.CounterVec
	commit                                     prometheus.Histogram
	commitCommands                             prometheus.Histogram
	http                                       *prometheus.HistogramVec
	missed                                     prometheus.Counter
	notify                                     *prometheus.CounterVec

	stop      context.CancelFunc
	following sync.WaitGroup
}

// Node is what the exporter needs of a node: its state and Raft status at
// each scrape, and the events it applies (cmd/talond passes cluster.Store).
type Node interface {
	Read(fn func(queue.Reader))
	Follow(ctx context.Context, after uint64, fn func(queue.Event), onGap func())
	Status() node.Status
	// LastContact is how long ago this follower heard from the leader (0 on the leader).
	LastContact() time.Duration
	Now() time.Time
}

// New makes the collectors; Attach feeds them from a node.
func New(log *slog.Logger) *Metrics {
	if log == nil {
		log = slog.Default()
	}
	os := []string{"office", "service"}
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		log: log,
		wait: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "talon_wait_seconds", Help: "Time from arrival (ticket issued or booked applicant checked in) to the first call.",
			Buckets: WaitBuckets}, os),
		service: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "talon_service_seconds", Help: "Time from the start of service at a window to its finish.",
			Buckets: []float64{60, 120, 300, 600, 900, 1200, 1800, 2700, 3600}}, os),
		lateness: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "talon_booking_lateness_seconds", Help: "How long after their slot's start booked applicants were first called (0 when called before).",
			Buckets: []float64{0, 60, 120, 300, 600, 900, 1800, 3600}}, os),
		issued: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "talon_tickets_issued_total", Help: "Applicants who joined the live queue, by source: walk_in, booking (checked in) or redirect."},
			[]string{"office", "service", "source"}),
		finished: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "talon_tickets_finished_total", Help: "Tickets that left the queue, by outcome: served, no_show, redirected or expired."},
			[]string{"office", "service", "outcome"}),
		recalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "talon_ticket_recalls_total", Help: "Repeated calls of an applicant who did not come."}, os),
		bookings: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "talon_bookings_total", Help: "Booking events: made, confirmed, rescheduled, cancelled, expired (hold), missed, checked_in, affected (lost its window time)."},
			[]string{"office", "service", "event"}),
		taken: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "talon_booking_conflicts_total", Help: "Bookings and reschedules refused because the slot had no free seat."}, os),
		commit: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "talon_raft_commit_seconds", Help: "Time from proposing a log entry on this node to its commit and apply.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}),
		commitCommands: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "talon_raft_commands_per_entry", Help: "Commands packed into one log entry proposed on this node.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 10)}),
		http: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "talon_http_request_duration_seconds", Help: "HTTP request latency by route, method and status code.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}, []string{"route", "method", "code"}),
		notify: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "talon_notify_attempts_total", Help: "Webhook delivery attempts by this node, by result: ok, failed, dead (given up)."},
			[]string{"subscription", "result"}),
		missed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "talon_metrics_missed_events_total", Help: "Domain events the metrics could not count (the subscriber fell too far behind)."}),
	}
	m.reg.MustRegister(m.wait, m.service, m.lateness, m.issued, m.finished, m.recalls, m.bookings, m.taken,
		m.commit, m.commitCommands, m.http, m.missed, m.notify,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry is where the collectors are registered.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// ObserveCommit is a cluster.Config.ObserveCommit hook.
func (m *Metrics) ObserveCommit(d time.Duration, commands int) {
	m.commit.Observe(d.Seconds())
	m.commitCommands.Observe(float64(commands))
}

// Screens exports the number of connected hall screens (WebSockets).
func (m *Metrics) Screens(count func() int) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "talon_websocket_connections", Help: "Hall screens and panels connected to this node's feed.",
	}, func() float64 { return float64(count()) }))
}

// ObserveNotify is a notify.Config.Observe hook.
func (m *Metrics) ObserveNotify(subscription, result string) {
	m.notify.WithLabelValues(subscription, result).Inc()
}

// Attach feeds the metrics from a node: its event stream (from now on,
// until Close) and, at each scrape, its state and Raft status. dataDir is
// measured for free space.
func (m *Metrics) Attach(s Node, dataDir string) {
	m.reg.MustRegister(&stateCollector{s: s, dir: dataDir})
	ctx, stop := context.WithCancel(context.Background())
	m.stop = stop
	var after uint64 // from now on
	s.Read(func(r queue.Reader) { after = r.EventSeq() })
	m.following.Add(1)
	go func() {
		defer m.following.Done()
		s.Follow(ctx, after, m.Observe, func() {
			m.missed.Inc()
			m.log.Warn("metrics: events missed")
		})
	}()
}

// Close stops following the node's events.
func (m *Metrics) Close() {
	if m.stop != nil {
		m.stop()
	}
	m.following.Wait()
}

// Observe counts one domain event.
func (m *Metrics) Observe(e queue.Event) {
	t, b := e.Ticket, e.Booking
	switch e.Kind {
	case queue.EvTicketIssued:
		source := "walk_in"
		if t.RedirectedFrom != 0 {
			source = "redirect"
		}
		m.issued.WithLabelValues(e.Office, t.Service, source).Inc()
	case queue.EvTicketCheckedIn:
		m.issued.WithLabelValues(e.Office, t.Service, "booking").Inc()
		m.bookings.WithLabelValues(e.Office, t.Service, "checked_in").Inc()
	case queue.EvTicketCalled:
		m.wait.WithLabelValues(e.Office, t.Service).Observe(float64(t.CalledAt - t.ArrivedAt))
		if t.Booking != 0 && t.RedirectedFrom == 0 {
			m.lateness.WithLabelValues(e.Office, t.Service).Observe(float64(max(0, t.CalledAt-t.SlotStart)))
		}
	case queue.EvTicketRecalled:
		m.recalls.WithLabelValues(e.Office, t.Service).Inc()
	case queue.EvTicketServed:
		m.service.WithLabelValues(e.Office, t.Service).Observe(float64(t.FinishedAt - t.StartedAt))
		m.finished.WithLabelValues(e.Office, t.Service, "served").Inc()
	case queue.EvTicketNoShow:
		m.finished.WithLabelValues(e.Office, t.Service, "no_show").Inc()
	case queue.EvTicketRedirected:
		m.finished.WithLabelValues(e.Office, t.Service, "redirected").Inc()
	case queue.EvTicketExpired:
		m.finished.WithLabelValues(e.Office, t.Service, "expired").Inc()
	case queue.EvBookingMade, queue.EvBookingConfirmed, queue.EvBookingMoved, queue.EvBookingCancelled,
		queue.EvBookingExpired, queue.EvBookingMissed:
		m.bookings.WithLabelValues(e.Office, b.Service, bookingEvent[e.Kind]).Inc()
	case queue.EvSlotTaken:
		m.taken.WithLabelValues(e.Office, b.Service).Inc()
	case queue.EvBookingAffected:
		m.bookings.WithLabelValues(e.Office, b.Service, "affected").Inc()
	}
}

var bookingEvent = map[queue.EventKind]string{
	queue.EvBookingMade: "made", queue.EvBookingConfirmed: "confirmed", queue.EvBookingMoved: "rescheduled",
	queue.EvBookingCancelled: "cancelled", queue.EvBookingExpired: "expired", queue.EvBookingMissed: "missed",
}

// Handler serves the exposition.
func (m *Metrics) Handler() fasthttp.RequestHandler {
	return fasthttpadaptor.NewFastHTTPHandler(promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
}

// WrapHTTP measures every request by its route (the router's pattern, never
// the raw path).
func (m *Metrics) WrapHTTP(h fasthttp.RequestHandler) fasthttp.RequestHandler {
	return func(c *fasthttp.RequestCtx) {
		start := time.Now()
		h(c)
		route, _ := c.UserValue(router.MatchedRoutePathParam).(string)
		if route == "" {
			route = "unmatched"
		}
		m.http.WithLabelValues(route, string(c.Method()), strconv.Itoa(c.Response.StatusCode())).Observe(time.Since(start).Seconds())
	}
}

// stateCollector reads the node's state and Raft status at each scrape.
type stateCollector struct {
	s   Node
	dir string
}

var (
	descQueue    = prometheus.NewDesc("talon_queue_length", "Applicants waiting now.", []string{"office", "service"}, nil)
	descOldest   = prometheus.NewDesc("talon_oldest_wait_seconds", "How long the longest-waiting applicant has waited so far.", []string{"office", "service"}, nil)
	descWindows  = prometheus.NewDesc("talon_windows", "Windows by state: open (free), serving (calling or serving someone), paused, closed.", []string{"office", "state"}, nil)
	descLeader   = prometheus.NewDesc("talon_raft_leader", "1 when this node is the leader.", nil, nil)
	descClock    = prometheus.NewDesc("talon_clock_offset_seconds", "This node's clock minus the cluster's (a follower: the leader's; the leader: the quorum's), as last measured.", nil, nil)
	descReady    = prometheus.NewDesc("talon_raft_ready", "1 when this node can serve (see /readyz).", nil, nil)
	descHalted   = prometheus.NewDesc("talon_raft_halted", "1 when this node stopped applying the log.", nil, nil)
	descTerm     = prometheus.NewDesc("talon_raft_term", "Current Raft term.", nil, nil)
	descCommit   = prometheus.NewDesc("talon_raft_commit_index", "Raft commit index known to this node.", nil, nil)
	descApplied  = prometheus.NewDesc("talon_raft_applied_index", "Raft index applied by this node.", nil, nil)
	descContact  = prometheus.NewDesc("talon_raft_last_contact_seconds", "Seconds since this follower last heard from the leader (0 on the leader).", nil, nil)
	descFree     = prometheus.NewDesc("talon_data_free_bytes", "Free bytes on the file system of the data folder.", nil, nil)
	descPending  = prometheus.NewDesc("talon_notify_pending", "Notifications not yet delivered, per subscription.", []string{"subscription"}, nil)
	descDead     = prometheus.NewDesc("talon_notify_dead", "Notifications given up after their retries, per subscription.", []string{"subscription"}, nil)
	descLag      = prometheus.NewDesc("talon_notify_lag_seconds", "Age of the oldest undelivered notification, per subscription (0 when none).", []string{"subscription"}, nil)
	descUnplaced = prometheus.NewDesc("talon_bookings_unplaced", "Live bookings that hold no window time (a region change or closure took it): talonctl unplaced.", []string{"office"}, nil)
)

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descQueue, descOldest, descWindows, descLeader, descReady, descHalted, descTerm, descCommit, descApplied, descContact, descFree, descPending, descDead, descLag, descUnplaced, descClock} {
		ch <- d
	}
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	now := c.s.Now().Unix()
	c.s.Read(func(r queue.Reader) {
		for _, id := range r.SubscriptionIDs() {
			pending, dead, head := r.Backlog(id)
			lag := 0.0
			if head != nil {
				lag = float64(now - head.At)
			}
			ch <- prometheus.MustNewConstMetric(descPending, prometheus.GaugeValue, float64(pending), id)
			ch <- prometheus.MustNewConstMetric(descDead, prometheus.GaugeValue, float64(dead), id)
			ch <- prometheus.MustNewConstMetric(descLag, prometheus.GaugeValue, lag, id)
		}
		if r.Region() == nil {
			return
		}
		unplaced := map[string]float64{}
		for _, b := range r.Unplaced() {
			unplaced[b.Office]++
		}
		for _, oc := range r.Region().Offices {
			o := r.Office(oc.ID)
			waiting, oldest := map[string]float64{}, map[string]float64{}
			for _, sv := range oc.Services {
				waiting[sv], oldest[sv] = 0, 0
			}
			for _, t := range o.Waiting {
				waiting[t.Service]++
				oldest[t.Service] = max(oldest[t.Service], float64(now-t.ArrivedAt))
			}
			for sv, n := range waiting {
				ch <- prometheus.MustNewConstMetric(descQueue, prometheus.GaugeValue, n, oc.ID, sv)
				ch <- prometheus.MustNewConstMetric(descOldest, prometheus.GaugeValue, oldest[sv], oc.ID, sv)
			}
			ch <- prometheus.MustNewConstMetric(descUnplaced, prometheus.GaugeValue, unplaced[oc.ID], oc.ID)
			states := map[string]float64{"open": 0, "serving": 0, "paused": 0, "closed": 0}
			for _, w := range o.Windows {
				states[windowState(w)]++
			}
			for state, n := range states {
				ch <- prometheus.MustNewConstMetric(descWindows, prometheus.GaugeValue, n, oc.ID, state)
			}
		}
	})
	st := c.s.Status()
	ch <- prometheus.MustNewConstMetric(descLeader, prometheus.GaugeValue, boolf(st.State == "Leader"))
	ch <- prometheus.MustNewConstMetric(descReady, prometheus.GaugeValue, boolf(st.Ready))
	ch <- prometheus.MustNewConstMetric(descHalted, prometheus.GaugeValue, boolf(st.Halted != ""))
	ch <- prometheus.MustNewConstMetric(descTerm, prometheus.GaugeValue, float64(st.Term))
	ch <- prometheus.MustNewConstMetric(descCommit, prometheus.GaugeValue, float64(st.CommitIndex))
	ch <- prometheus.MustNewConstMetric(descApplied, prometheus.GaugeValue, float64(st.AppliedIndex))
	ch <- prometheus.MustNewConstMetric(descContact, prometheus.GaugeValue, c.s.LastContact().Seconds())
	if st.ClockOffset != nil {
		ch <- prometheus.MustNewConstMetric(descClock, prometheus.GaugeValue, *st.ClockOffset)
	}
	var fs syscall.Statfs_t
	if c.dir != "" && syscall.Statfs(c.dir, &fs) == nil {
		ch <- prometheus.MustNewConstMetric(descFree, prometheus.GaugeValue, float64(fs.Bavail)*float64(fs.Bsize))
	}
}

func windowState(w *queue.Window) string {
	switch {
	case w.State == queue.WindowOpen && w.Current != 0:
		return "serving"
	case w.State == queue.WindowOpen:
		return "open"
	case w.State == queue.WindowPaused:
		return "paused"
	}
	return "closed"
}

func boolf(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
