package api

import (
	"sync"

	"github.com/valyala/fasthttp"
)

// answers caches the portal's public reads (slots, offices, services,
// recommendations). Such an answer is a function of the request, the state
// (its applied index) and the clock's second, so while neither moves, the
// thousands of portal users asking for the same office's day share one
// rendering. A write or the next second empties the cache. An answer stored
// under index i was rendered from a state at i or later, never earlier, so
// it is never older than a fresh one would be.
type answers = cache[string, answer]

// cache holds values that are a function of their key, the state's applied
// index and the clock's second: it empties when either moves.
type cache[K comparable, V any] struct {
	mu    sync.Mutex
	index uint64
	now   int64
	m     map[K]V
}

type answer struct {
	status int
	ctype  string
	body   []byte
}

// maxAnswers bounds the cache (a day's slots are a few kilobytes).
const maxAnswers = 2048

func (a *cache[K, V]) get(key K, index uint64, now int64) (V, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.index != index || a.now != now {
		a.index, a.now, a.m = index, now, map[K]V{}
	}
	v, ok := a.m[key]
	return v, ok
}

func (a *cache[K, V]) put(key K, index uint64, now int64, v V) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.index == index && a.now == now && len(a.m) < maxAnswers {
		a.m[key] = v
	}
}

// cached is reads(local, h) answered from the cache when it can be.
func (s *Server) cached(h fasthttp.RequestHandler) fasthttp.RequestHandler {
	return s.reads(local, func(c *fasthttp.RequestCtx) {
		key, index, now := string(c.RequestURI()), s.cfg.Store.AppliedIndex(), s.now()
		if v, ok := s.answers.get(key, index, now); ok {
			c.SetStatusCode(v.status)
			c.SetContentType(v.ctype)
			c.Response.SetBodyRaw(v.body) // cached bodies are never changed
			return
		}
		h(c)
		if c.Response.StatusCode() == 200 {
			s.answers.put(key, index, now, answer{200, string(c.Response.Header.ContentType()), append([]byte(nil), c.Response.Body()...)})
		}
	})
}
