package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/fasthttp/router"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/pprofhandler"
	"golang.org/x/time/rate"

	"github.com/talon-mfc/talon/cluster/node"
	"github.com/talon-mfc/talon/display"
	"github.com/talon-mfc/talon/notify"
	"github.com/talon-mfc/talon/queue"
	"github.com/talon-mfc/talon/scheduler/staffing"
)

//go:embed openapi.yaml
var openapiYAML []byte

// Role is what a bearer token may do.
type Role string

const (
	RoleAdmin    Role = "admin"
	RoleOperator Role = "operator"
	RoleKiosk    Role = "kiosk"
	RoleDisplay  Role = "display"
	RolePortal   Role = "portal"
)

// Grant is what one bearer token may do: act in a role, in the listed
// offices only (none listed: every office). A kiosk or operator token is
// normally bound to its office.
type Grant struct {
	Role    Role
	Offices []string
	Name    string // a device token's name, for the audit
	// Employee is the employee of a session token, whose roles (Roles, the
	// API's for each of theirs) it acts with.
	Employee string
	Roles    []Role
}

// Employee roles a device token may have too: RoleSupervisor runs an
// office's windows and reads its audit; RoleHallAdmin finds applicants'
// bookings and checks them in without their QR code.
const (
	RoleSupervisor Role = "supervisor"
	RoleHallAdmin  Role = "hall_admin"
)

// allows reports whether the grant may do what needs role (get: a read).
// Display tokens may also make the operator-level reads, operators do what
// a display or a kiosk does, supervisors what an operator does.
func (g Grant) allows(role Role, get bool) bool {
	for _, r := range append([]Role{g.Role}, g.Roles...) {
		if r == role || r == RoleAdmin || role == RoleOperator && (r == RoleDisplay && get || r == RoleSupervisor) || role == RoleHallAdmin && r == RoleSupervisor ||
			role == RolePortal && get && r == RoleHallAdmin || // a hall administrator reprints a talon
			(role == RoleDisplay || role == RoleKiosk) && (r == RoleOperator || r == RoleSupervisor) {
			return true
		}
	}
	return false
}

// actor is who the grant acts as, for the audit.
func (g Grant) actor() string {
	switch {
	case g.Employee != "":
		return "employee:" + g.Employee
	case g.Name != "":
		return "device:" + g.Name
	}
	return "device:" + string(g.Role)
}

func (g Grant) covers(office string) bool {
	if office == "" || len(g.Offices) == 0 {
		return true
	}
	for _, o := range g.Offices {
		if o == office {
			return true
		}
	}
	return false
}

// Store is what the API needs of a talon node: cmd/talond passes the real
// one (cluster.Store), the tests an in-memory one.
type Store interface {
	Writer
	Reads
	Admin
}

// Writer commits commands. A command the domain refuses (queue.Validate)
// or rejects comes back in Result.Err; err is a cluster failure (the
// errors of package node).
type Writer interface {
	Apply(ctx context.Context, c queue.Command) (r queue.Result, index uint64, err error)
}

// Reads reads the node's state at a chosen consistency.
type Reads interface {
	// Read runs fn on this node's state as it is.
	Read(fn func(queue.Reader))
	// Linearize waits until this node holds every write acknowledged before.
	Linearize(ctx context.Context) error
	// WaitIndex waits until this node holds the write at index.
	WaitIndex(ctx context.Context, index uint64) error
	AppliedIndex() uint64
	Now() time.Time
	// ArchivedTickets are the tickets of office issued in [from, to) that
	// have left the live state for the node's archive.
	ArchivedTickets(office string, from, to int64) ([]queue.Ticket, error)
}

// Admin administers the cluster.
type Admin interface {
	Status() node.Status
	Nodes(ctx context.Context) ([]node.Member, error)
	Join(ctx context.Context, id, addr string) error
	Remove(ctx context.Context, id string) error
	TransferLeadership(ctx context.Context, id string) error
	Backup(ctx context.Context, w io.Writer) (uint64, error)
	Restore(ctx context.Context, data []byte) error
	// Voters is the number of voting nodes: each enforces its share of a
	// region-wide rate limit.
	Voters() int
	AdvanceClock(d time.Duration) error
}

// Config configures the API.
type Config struct {
	Store  Store
	Keys   *queue.Keyring
	Policy queue.Policy
	Tokens map[string]Grant // bearer token → what it may do; empty turns authentication off (demo only)
	Logger *slog.Logger
	// BookingRate limits booking writes per applicant phone (default one per
	// 6 s with a burst of 6), against slot scalpers: region-wide, each node
	// allowing its share.
	BookingRate  rate.Limit
	BookingBurst int
	// Limits bound each token's writes by its role, region-wide (each node
	// allows its share; DefaultLimits when nil).
	Limits       map[Role]Limit
	WriteTimeout time.Duration // how long a write may wait for its commit (default 10 s)
	// Metrics, when set, serves GET /metrics (the Prometheus exposition).
	Metrics fasthttp.RequestHandler
	// Screens feeds the hall screens (GET /api/v1/offices/{office}/feed);
	// with it the pages are served too.
	Screens *display.Hub
	// Webhooks says where subscriptions may point.
	Webhooks notify.Targets
	// DevClock serves POST /api/v1/dev/clock (admin), which moves a dev
	// clock forward (cluster.Config.DevClock): demos and tests only.
	DevClock bool
}

// Server serves the API.
type Server struct {
	cfg     Config
	tokens  map[[32]byte]Grant
	router  *router.Router
	limits  limiters
	answers answers // the public reads' cache
	alts    alts    // the alternatives of taken slots
	plans   plans   // staffing plans
}

// plans caches staffing plans for planTTL: a plan simulates a month of the
// day several times over (seconds of CPU), and the history and bookings it
// comes from move slowly.
type plans = cache[string, staffing.Plan]

const planTTL = 300 // seconds

// alts caches the alternatives offered for a taken slot. In a storm the
// requests that find a popular slot taken come many at once, at the same
// state and second, and all get the same nearest free slots.
type alts = cache[altKey, *alternativesView]

type altKey struct {
	office, service string
	start           int64
}

// New builds the API server.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.BookingRate == 0 {
		cfg.BookingRate, cfg.BookingBurst = rate.Every(6*time.Second), 6
	}
	if cfg.WriteTimeout == 0 {
		cfg.WriteTimeout = 10 * time.Second
	}
	if cfg.Limits == nil {
		cfg.Limits = DefaultLimits
	}
	s := &Server{cfg: cfg, tokens: map[[32]byte]Grant{}, limits: limiters{m: map[string]*rate.Limiter{}}, router: router.New()}
	for tok, g := range cfg.Tokens {
		s.tokens[sha256.Sum256([]byte(tok))] = g
	}
	r := s.router
	r.SaveMatchedRoutePath = true // metrics label requests by route
	// No redirects to a fixed path: fasthttp would write the client's Host
	// header into the Location.
	r.RedirectTrailingSlash, r.RedirectFixedPath = false, false
	r.GET("/api/v1", s.index)
	if cfg.Screens != nil {
		r.GET("/", display.Page("portal"))
		r.GET("/static/{file}", display.Static)
		r.GET("/display/{office}", display.Page("display"))
		r.GET("/window/{office}/{window}", display.Page("window"))
		r.GET("/operator/{office}/{window}", display.Page("operator"))
		r.GET("/kiosk/{office}", display.Page("kiosk"))
		r.GET("/checkin/{office}", display.Page("checkin"))
		r.GET("/staffing/{office}", display.Page("staffing"))
		r.GET("/desk/{office}", display.Page("desk"))
		r.GET("/supervisor/{office}", display.Page("supervisor"))
		r.GET("/api/v1/offices/{office}/feed", s.need(RoleDisplay, func(c *fasthttp.RequestCtx) { cfg.Screens.Serve(c, param(c, "office")) }))
	} else {
		r.GET("/", s.index)
	}
	if cfg.Metrics != nil {
		r.GET("/metrics", cfg.Metrics)
	}
	if cfg.DevClock {
		r.POST("/api/v1/dev/clock", s.need(RoleAdmin, s.advanceClock))
		if cfg.Screens != nil {
			r.POST("/api/v1/dev/drop-screens", s.need(RoleAdmin, func(c *fasthttp.RequestCtx) {
				cfg.Screens.DropAll()
				c.SetStatusCode(204)
			}))
		}
	}
	// Profiles for whoever tunes a node (admin only): /debug/pprof/profile?seconds=N, heap, goroutine…
	r.GET("/debug/pprof/{profile:*}", s.need(RoleAdmin, pprofhandler.PprofHandler))
	r.GET("/healthz", func(c *fasthttp.RequestCtx) { c.SetBodyString("ok\n") })
	r.GET("/readyz", s.readyz)
	r.GET("/api/v1/cluster", s.cluster)
	r.GET("/api/v1/openapi.yaml", func(c *fasthttp.RequestCtx) {
		c.SetContentType("application/yaml")
		c.SetBody(openapiYAML)
	})
	r.GET("/api/v1/cluster/nodes", s.need(RoleAdmin, s.nodes))
	r.POST("/api/v1/cluster/join", s.need(RoleAdmin, s.join))
	r.DELETE("/api/v1/cluster/nodes/{id}", s.need(RoleAdmin, s.removeNode))
	r.POST("/api/v1/cluster/transfer-leadership", s.need(RoleAdmin, s.transfer))
	r.GET("/api/v1/cluster/backup", s.need(RoleAdmin, s.backup))
	r.POST("/api/v1/cluster/restore", s.need(RoleAdmin, s.restore))
	r.GET("/api/v1/keys", s.keys)
	r.GET("/api/v1/services", s.cached(s.services))
	r.GET("/api/v1/offices", s.cached(s.offices))
	r.GET("/api/v1/offices/{office}", s.cached(s.officeOne))
	r.GET("/api/v1/offices/{office}/slots", s.cached(s.slots))
	r.GET("/api/v1/recommend", s.cached(s.recommend))
	r.POST("/api/v1/bookings", s.need(RolePortal, s.book))
	r.GET("/api/v1/bookings/{id}", s.need(RolePortal, s.reads(linearizable, s.getBooking)))
	r.GET("/api/v1/bookings/{id}/ticket.pdf", s.need(RolePortal, s.reads(linearizable, s.talonPDF)))
	r.GET("/api/v1/bookings/{id}/ticket.png", s.need(RolePortal, s.reads(linearizable, s.talonPNG)))
	r.POST("/api/v1/bookings/{id}/confirm", s.need(RolePortal, s.confirm))
	r.POST("/api/v1/bookings/{id}/reschedule", s.need(RolePortal, s.reschedule))
	r.DELETE("/api/v1/bookings/{id}", s.need(RolePortal, s.cancel))
	r.POST("/api/v1/offices/{office}/tickets", s.need(RoleKiosk, s.issue))
	r.POST("/api/v1/offices/{office}/checkin", s.need(RoleKiosk, s.checkIn))
	r.GET("/api/v1/offices/{office}/queue", s.need(RoleOperator, s.reads(local, s.queueView)))
	r.POST("/api/v1/offices/{office}/windows/{window}/{action}", s.need(RoleOperator, s.windowAction))
	r.PUT("/api/v1/region", s.need(RoleAdmin, s.setRegion))
	r.POST("/api/v1/offices/{office}/closures", s.need(RoleAdmin, s.closeOffice))
	r.GET("/api/v1/unplaced-bookings", s.need(RoleAdmin, s.reads(linearizable, s.unplaced)))
	r.GET("/api/v1/offices/{office}/window-time", s.need(RoleOperator, s.reads(local, s.windowTime)))
	r.GET("/api/v1/offices/{office}/staffing", s.need(RoleOperator, s.reads(local, s.staffing)))
	r.GET("/api/v1/employees", s.need(RoleAdmin, s.reads(local, s.employees)))
	r.GET("/api/v1/offices/{office}/bookings", s.need(RoleHallAdmin, s.reads(local, s.findBookings)))
	r.PUT("/api/v1/employees/{id}", s.need(RoleAdmin, s.putEmployee))
	r.POST("/api/v1/sessions", s.signIn)
	r.DELETE("/api/v1/sessions", s.need(RoleDisplay, s.signOut))
	r.GET("/api/v1/offices/{office}/audit", s.need(RoleSupervisor, s.reads(local, s.audit)))
	r.GET("/api/v1/bookings/{id}/history", s.need(RoleSupervisor, s.reads(linearizable, s.bookingHistory)))
	r.GET("/api/v1/subscriptions", s.need(RoleAdmin, s.reads(linearizable, s.subscriptions)))
	r.PUT("/api/v1/subscriptions/{id}", s.need(RoleAdmin, s.putSubscription))
	r.DELETE("/api/v1/subscriptions/{id}", s.need(RoleAdmin, s.deleteSubscription))
	r.GET("/api/v1/subscriptions/{id}/dead", s.need(RoleAdmin, s.reads(linearizable, s.deadLetters)))
	r.POST("/api/v1/subscriptions/{id}/replay", s.need(RoleAdmin, s.replay))
	r.GET("/api/v1/offices/{office}/load-history", s.cached(s.loadHistory))
	r.GET("/api/v1/offices/{office}/stats", s.need(RoleOperator, s.reads(local, s.stats)))
	r.GET("/api/v1/offices/{office}/records", s.need(RoleOperator, s.reads(local, s.records)))
	r.NotFound = func(c *fasthttp.RequestCtx) { fail(c, 404, "not_found", "no such endpoint") }
	r.MethodNotAllowed = func(c *fasthttp.RequestCtx) { fail(c, 405, "method_not_allowed", "method not allowed here") }
	r.PanicHandler = func(c *fasthttp.RequestCtx, v any) {
		cfg.Logger.Error("handler panic", "path", string(c.Path()), "panic", v)
		fail(c, 500, "internal", "internal error")
	}
	return s
}

// Routes lists the registered routes as "METHOD /path".
func (s *Server) Routes() []string {
	var out []string
	for method, paths := range s.router.List() {
		for _, p := range paths {
			out = append(out, method+" "+strings.ReplaceAll(p, ":*}", "}")) // a catch-all as OpenAPI writes it
		}
	}
	return out
}

// Handler is the fasthttp handler of the API.
func (s *Server) Handler() fasthttp.RequestHandler { return secure(s.router.Handler) }

// AuthEnabled reports whether bearer tokens are checked.
func (s *Server) AuthEnabled() bool { return len(s.tokens) > 0 }

// need guards h: the bearer token (a device's, or an employee's session)
// must carry role (or admin, see Grant.allows), for the office in the path.
func (s *Server) need(role Role, h fasthttp.RequestHandler) fasthttp.RequestHandler {
	return func(c *fasthttp.RequestCtx) {
		if !s.AuthEnabled() {
			if role == RoleAdmin && !c.RemoteIP().IsLoopback() {
				fail(c, 403, "forbidden", "authentication is off: administration answers only on loopback")
				return
			}
			// Employees still sign in: their session says who acts.
			if tok, ok := bytes.CutPrefix(c.Request.Header.Peek("Authorization"), []byte("Bearer ")); ok {
				if g, ok := s.session(string(tok)); ok {
					c.SetUserValue(grantKey, g)
				}
			}
			h(c)
			return
		}
		auth := c.Request.Header.Peek("Authorization")
		if t := c.QueryArgs().Peek("token"); len(auth) == 0 && len(t) > 0 {
			// Pages, images and the screens' WebSocket cannot set headers;
			// nothing else takes a token in its URL (it ends up in logs).
			if !c.IsGet() || role == RoleAdmin {
				c.Response.Header.Set("WWW-Authenticate", `Bearer realm="talon"`)
				fail(c, 401, "unauthorized", "a token in the URL is taken only by reads that pages make; send Authorization: Bearer")
				return
			}
			auth = append([]byte("Bearer "), t...)
		}
		const prefix = "Bearer "
		if len(auth) <= len(prefix) || string(auth[:len(prefix)]) != prefix {
			c.Response.Header.Set("WWW-Authenticate", `Bearer realm="talon"`)
			fail(c, 401, "unauthorized", "a bearer token is required")
			return
		}
		g, ok := s.tokens[sha256.Sum256(auth[len(prefix):])]
		if !ok {
			g, ok = s.session(string(auth[len(prefix):]))
		}
		switch {
		case !ok:
			fail(c, 401, "unauthorized", "unknown or expired token")
		case !g.allows(role, c.IsGet()):
			fail(c, 403, "forbidden", "this token's role ("+string(g.Role)+") may not do this")
		case !g.covers(param(c, "office")):
			fail(c, 403, "forbidden", "this token is not for office "+param(c, "office"))
		case !c.IsGet() && !s.allowToken(c, g): // answered 429
		default:
			c.SetUserValue(grantKey, g)
			h(c)
		}
	}
}

// grantKey holds the caller's Grant on a request that passed need.
const grantKey = "talon.grant"

// mayAct checks the caller's office binding against the office of the
// resource itself (a booking's, a booking request's), answering 403 itself
// when it does not cover it.
func (s *Server) mayAct(c *fasthttp.RequestCtx, office string) bool {
	if g, ok := c.UserValue(grantKey).(Grant); ok && !g.covers(office) {
		fail(c, 403, "forbidden", "this token is not for office "+office)
		return false
	}
	return true
}

// index tells a person who opens the node in a browser where to go.
func (s *Server) index(c *fasthttp.RequestCtx) {
	writeJSON(c, 200, map[string]any{
		"talon":   "electronic queue and booking for МФЦ offices",
		"offices": "/api/v1/offices",
		"openapi": "/api/v1/openapi.yaml",
		"cluster": "/api/v1/cluster",
		"health":  []string{"/healthz", "/readyz"},
	})
}

func (s *Server) readyz(c *fasthttp.RequestCtx) {
	// The reason comes from the same look as the answer (a node that turns
	// ready between two requests cannot answer 503 without one).
	if st := s.cfg.Store.Status(); !st.Ready {
		fail(c, 503, "not_ready", "this node cannot serve current data yet: "+st.NotReady)
		return
	}
	c.SetBodyString("ready\n")
}

func (s *Server) cluster(c *fasthttp.RequestCtx) {
	mode := "tokens"
	if !s.AuthEnabled() {
		mode = "off (demo: every request is allowed; configure tokens before real use)"
	}
	writeJSON(c, 200, struct {
		node.Status
		Auth string `json:"auth"`
	}{s.cfg.Store.Status(), mode})
}

// apply commits a command and answers the cluster errors itself; ok is false
// when it already answered.
func (s *Server) apply(c *fasthttp.RequestCtx, cmd queue.Command) (queue.Result, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.WriteTimeout)
	defer cancel()
	if g, ok := c.UserValue(grantKey).(Grant); ok {
		queue.WithActor(cmd, g.actor())
	}
	r, index, err := s.cfg.Store.Apply(ctx, cmd)
	if index > 0 {
		c.Response.Header.Set(indexHeader, strconv.FormatUint(index, 10))
	}
	switch {
	case err == nil && r.Err == nil:
		if r.Replayed {
			c.Response.Header.Set("Idempotent-Replayed", "true")
		}
		return r, true
	case err == nil && r.Err.Code == queue.CodeBookingsAffected:
		writeJSON(c, statusOf[r.Err.Code], map[string]any{"error": errorBody{Code: string(r.Err.Code), Message: r.Err.Message, Affected: s.affectedView(r.Affected)}})
	case err == nil:
		var alt *alternativesView
		if r.Err.Code == queue.CodeSlotTaken {
			alt = s.alternatives(cmd)
		}
		s.writeError(c, r.Err, alt)
	default:
		s.clusterError(c, err)
	}
	return r, false
}

// clusterError answers a failure of the cluster (not of the request).
func (s *Server) clusterError(c *fasthttp.RequestCtx, err error) {
	retry := func(code, msg string) {
		c.Response.Header.Set("Retry-After", "1")
		fail(c, 503, code, msg)
	}
	switch {
	case errors.Is(err, node.ErrNotLeader), errors.Is(err, node.ErrNoLeader):
		retry("no_leader", "the cluster has no leader that can commit this; retry")
	case errors.Is(err, node.ErrUnknownOutcome):
		retry("unknown_outcome", "leadership changed while committing; the write may or may not have happened (retry with the same Idempotency-Key)")
	case errors.Is(err, node.ErrLagging):
		retry("lagging", "this node has not caught up to the requested index yet; retry, or ask another node")
	case errors.Is(err, node.ErrHalted):
		retry("halted", "this node stopped applying the log; ask another node")
	case errors.Is(err, node.ErrUnknownNode):
		fail(c, 404, "unknown_node", err.Error())
	case errors.Is(err, node.ErrBadBackup):
		fail(c, 400, "invalid_backup", err.Error())
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		retry("timeout", "the cluster did not answer in time; retry")
	default:
		// Whatever else the cluster met (a peer gone mid-call) is its
		// condition, not the request's: a 503 the client may retry.
		s.cfg.Logger.Warn("cluster", "err", err)
		retry("unavailable", "the cluster could not complete this now; retry")
	}
}

// indexHeader carries the log index of a write, or the applied index of the
// state a read was served from. A client that passes it back as min_index
// reads its own write on any node.
const indexHeader = "X-Talon-Index"

// Read levels.
const (
	local        = "local"        // this node's state as it is: fast, maybe behind
	linearizable = "linearizable" // every write acknowledged before the read is in it
)

// reads wraps a read handler: the consistency query parameter (default def)
// chooses the level, and min_index waits until this node holds that write.
// The answer carries the applied index it was served from.
func (s *Server) reads(def string, h fasthttp.RequestHandler) fasthttp.RequestHandler {
	return func(c *fasthttp.RequestCtx) {
		level := def
		if v := c.QueryArgs().Peek("consistency"); len(v) > 0 {
			level = string(v)
		}
		// A local read without min_index waits for nothing: the hot path.
		if (level != local || c.QueryArgs().Has("min_index")) && !s.await(c, level) {
			return
		}
		c.Response.Header.Set(indexHeader, strconv.FormatUint(s.cfg.Store.AppliedIndex(), 10))
		h(c)
	}
}

// await waits until this node may serve a read at level and min_index; on
// false it has answered the error.
func (s *Server) await(c *fasthttp.RequestCtx, level string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.WriteTimeout)
	defer cancel()
	var err error
	switch level {
	case local:
	case linearizable:
		err = s.cfg.Store.Linearize(ctx)
	default:
		fail(c, 400, "invalid_request", "consistency must be local or linearizable")
		return false
	}
	if v := c.QueryArgs().Peek("min_index"); err == nil && len(v) > 0 {
		n, perr := strconv.ParseUint(string(v), 10, 64)
		if perr != nil {
			fail(c, 400, "invalid_request", "min_index must be a log index")
			return false
		}
		err = s.cfg.Store.WaitIndex(ctx, n)
	}
	if err != nil {
		s.clusterError(c, err)
		return false
	}
	return true
}

// alternatives are the nearest free slots for a slot_taken answer to a
// booking or reschedule, computed and rendered under one read of the state
// (or taken from the cache, when another request already did at that
// state and second; the views are never changed after).
func (s *Server) alternatives(cmd queue.Command) (v *alternativesView) {
	now := s.now()
	s.cfg.Store.Read(func(r queue.Reader) {
		var office, service string
		var start int64
		switch c := cmd.(type) {
		case *queue.Book:
			office, service, start = c.Office, c.Service, c.Start
		case *queue.Reschedule:
			if b := r.Booking(c.Booking, now); b != nil {
				office, service, start = b.Office, b.Service, c.Start
			}
		}
		key := altKey{office, service, start}
		if cached, ok := s.alts.get(key, r.Index(), now); ok {
			v = cached
			return
		}
		v = altView(r, r.Alternatives(office, service, start, now))
		s.alts.put(key, r.Index(), now, v)
	})
	return v
}

var statusOf = map[queue.Code]int{
	queue.CodeInvalidRequest: 400, queue.CodeInvalidQR: 400,
	queue.CodeNotFound: 404, queue.CodeUnknownOffice: 404, queue.CodeUnknownWindow: 404,
	queue.CodeSlotTaken: 409, queue.CodeHoldExpired: 409, queue.CodeAlreadyCheckedIn: 409, queue.CodeCancelled: 409,
	queue.CodeNoCurrentTicket: 409, queue.CodeWindowBusy: 409, queue.CodeWindowNotOpen: 409,
	queue.CodeNotConfirmed: 409, queue.CodeNotActive: 409,
	queue.CodeUnknownService: 422, queue.CodeOutsideHorizon: 422, queue.CodeOfficeClosed: 422, queue.CodeNotBookable: 422,
	queue.CodeLimitExceeded: 422, queue.CodeRescheduleLimit: 422, queue.CodeWrongOffice: 422, queue.CodeTooEarly: 422,
	queue.CodeTooLate: 422, queue.CodeInvalidConfig: 422, queue.CodeFieldTooLong: 422, queue.CodeInvalidCommand: 422,
	queue.CodeBookingsAffected: 409, queue.CodeInvalidPhone: 422, queue.CodeIdempotencyKeyReused: 422, queue.CodeClosingSoon: 409,
	queue.CodeWindowSignedOut: 409, queue.CodeNotYourWindow: 403, queue.CodeWindowTaken: 409,
}

type errorBody struct {
	Code         string            `json:"code"`
	Message      string            `json:"message"`
	Alternatives *alternativesView `json:"alternatives,omitempty"`
	Affected     []affectedBooking `json:"affected,omitempty"`  // with bookings_affected
	NextOpen     string            `json:"next_open,omitempty"` // with closing_soon
}

func (s *Server) domainError(c *fasthttp.RequestCtx, e *queue.Error) { s.writeError(c, e, nil) }

func (s *Server) writeError(c *fasthttp.RequestCtx, e *queue.Error, alt *alternativesView) {
	status, ok := statusOf[e.Code]
	if !ok {
		status = 500
	}
	writeJSON(c, status, map[string]any{"error": errorBody{Code: string(e.Code), Message: e.Message, Alternatives: alt, NextOpen: e.NextOpen}})
}

func fail(c *fasthttp.RequestCtx, status int, code, msg string) {
	writeJSON(c, status, map[string]any{"error": errorBody{Code: code, Message: msg}})
}

func writeJSON(c *fasthttp.RequestCtx, status int, v any) {
	c.SetStatusCode(status)
	c.SetContentType("application/json; charset=utf-8")
	enc := json.NewEncoder(c)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		c.SetStatusCode(500)
	}
}

// decode reads a JSON body into v, answering 400 itself on failure.
func decode(c *fasthttp.RequestCtx, v any) bool {
	if err := json.Unmarshal(c.PostBody(), v); err != nil {
		fail(c, 400, "invalid_request", "request body: "+err.Error())
		return false
	}
	return true
}

func param(c *fasthttp.RequestCtx, name string) string {
	v, _ := c.UserValue(name).(string)
	return v
}

// idParam parses a numeric path id, answering 404 itself on failure.
func idParam(c *fasthttp.RequestCtx, name string) (uint64, bool) {
	id, err := strconv.ParseUint(param(c, name), 10, 64)
	if err != nil || id == 0 {
		fail(c, 404, "not_found", "no "+name+" "+strconv.Quote(param(c, name)))
		return 0, false
	}
	return id, true
}
