package api

import (
	"crypto/sha256"
	"encoding/hex"
	"math"
	"strconv"
	"sync"

	"github.com/valyala/fasthttp"
	"golang.org/x/time/rate"
)

// Rate limits. Each is a region-wide budget that every node enforces a
// share of (the budget divided by the voters): a client that spreads its
// requests over the nodes gets the budget, one that sticks to a node gets its
// share, and none gets more. The alternative, counting in the replicated
// state, would be exact but would put every refused request into the log,
// which is what a flood must not reach; the shares cost no log entry and
// no coordination. A limiter is forgotten only once it is full again, so
// memory stays bounded without forgiving anyone.

// Limit is a budget of writes: PerMinute on average, Burst at once.
type Limit struct {
	PerMinute float64 `yaml:"per_minute"`
	Burst     int     `yaml:"burst"`
}

// DefaultLimits are the write budgets per token by role. The portal's is one
// backend's for all its users (the per-phone limit guards each applicant);
// a kiosk prints a ticket every few seconds at most; an operator presses a
// button or two a minute.
var DefaultLimits = map[Role]Limit{
	RolePortal:   {PerMinute: 1200, Burst: 200},
	RoleKiosk:    {PerMinute: 30, Burst: 20},
	RoleOperator: {PerMinute: 120, Burst: 30},
	RoleDisplay:  {PerMinute: 60, Burst: 10},
}

type limiters struct {
	mu sync.Mutex
	m  map[string]*rate.Limiter
}

// maxLimiters is where idle limiters are swept.
const maxLimiters = 100_000

// allow takes one from key's budget l, this node's share of it.
func (ls *limiters) allow(key string, l Limit, voters int) bool {
	n := float64(max(1, voters))
	ls.mu.Lock()
	lim := ls.m[key]
	if lim == nil {
		if len(ls.m) >= maxLimiters {
			for k, x := range ls.m {
				if x.Tokens() >= float64(x.Burst()) { // full: forgetting it forgives nothing
					delete(ls.m, k)
				}
			}
		}
		lim = rate.NewLimiter(rate.Limit(l.PerMinute/60/n), max(1, int(math.Ceil(float64(l.Burst)/n))))
		ls.m[key] = lim
	}
	ls.mu.Unlock()
	return lim.Allow()
}

// allowToken applies the write budget of the caller's role to its token,
// answering 429 itself when it is spent.
func (s *Server) allowToken(c *fasthttp.RequestCtx, g Grant) bool {
	l, ok := s.cfg.Limits[g.Role]
	if !ok {
		return true // admin: no budget
	}
	h := sha256.Sum256(c.Request.Header.Peek("Authorization"))
	if s.limits.allow("token:"+hex.EncodeToString(h[:8]), l, s.cfg.Store.Voters()) {
		return true
	}
	c.Response.Header.Set("Retry-After", strconv.Itoa(int(math.Ceil(60/l.PerMinute*float64(max(1, s.cfg.Store.Voters()))))))
	fail(c, 429, "rate_limited", "this token's write budget ("+string(g.Role)+") is spent for now; retry later")
	return false
}

// allow applies the per-applicant booking rate limit.
func (s *Server) allow(c *fasthttp.RequestCtx, key string) bool {
	l := Limit{PerMinute: float64(s.cfg.BookingRate) * 60, Burst: s.cfg.BookingBurst}
	if s.limits.allow(key, l, s.cfg.Store.Voters()) {
		return true
	}
	c.Response.Header.Set("Retry-After", "6")
	fail(c, 429, "rate_limited", "too many booking requests for this applicant; retry later")
	return false
}
