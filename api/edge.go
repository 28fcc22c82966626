package api

import (
	"crypto/sha256"
	"errors"
	"net"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
)

// The edge: what a request may be before a handler sees it. Bodies are
// bounded per route, and a declared length over the bound is answered 413
// before a byte of the body is read (fasthttp would otherwise allocate the
// declared length up front). Only an admin's region or backup upload may be
// large.
const (
	// MaxHeaderBytes bounds the request line and headers.
	MaxHeaderBytes = 8 << 10
	// SmallBody bounds every other body: JSON writes (a booking, a ticket, a
	// subscription) need a few KiB.
	SmallBody = 32 << 10
	// RegionBody bounds PUT /api/v1/region (admin).
	RegionBody = 8 << 20
	// RestoreBody bounds POST /api/v1/cluster/restore (admin).
	RestoreBody = 256 << 20
	// smallRead is how long a small request may take to arrive; a large
	// upload gets largeRead.
	smallRead = 10 * time.Second
	largeRead = 5 * time.Minute
)

// Configure sets srv's bounds and edge behaviour for this API: per-route
// body limits, header size, read and idle timeouts, JSON errors for what
// fails before a handler runs.
func (s *Server) Configure(srv *fasthttp.Server) {
	srv.Handler = s.Handler()
	srv.HeaderReceived = s.requestLimits
	srv.ErrorHandler = edgeError
	srv.MaxRequestBodySize = RestoreBody
	srv.ReadBufferSize = MaxHeaderBytes
	srv.ReadTimeout, srv.WriteTimeout, srv.IdleTimeout = 30*time.Second, 30*time.Second, 2*time.Minute
	srv.DisablePreParseMultipartForm = true
	srv.NoDefaultServerHeader = true
	srv.KeepHijackedConns = true // the hall screens' feed serves its connections itself (display.Hub.Serve)
}

// requestLimits is the body bound and read timeout of a request, from its
// headers alone.
func (s *Server) requestLimits(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
	small := fasthttp.RequestConfig{MaxRequestBodySize: SmallBody, ReadTimeout: smallRead}
	var large int
	path, _, _ := strings.Cut(string(h.RequestURI()), "?") // another spelling of the path only gets the small bound
	switch {
	case h.IsPut() && path == "/api/v1/region":
		large = RegionBody
	case h.IsPost() && path == "/api/v1/cluster/restore":
		large = RestoreBody
	default:
		return small
	}
	if s.AuthEnabled() {
		auth := h.Peek("Authorization")
		const prefix = "Bearer "
		if len(auth) <= len(prefix) || string(auth[:len(prefix)]) != prefix || s.tokens[sha256.Sum256(auth[len(prefix):])].Role != RoleAdmin {
			return small // no upload from whoever is not an admin
		}
	}
	return fasthttp.RequestConfig{MaxRequestBodySize: large, ReadTimeout: largeRead}
}

// edgeError answers a request fasthttp could not read, in the API's error
// format, and closes the connection.
func edgeError(c *fasthttp.RequestCtx, err error) {
	var ne net.Error
	switch {
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		fail(c, 413, "body_too_large", "the request body is larger than this route takes")
	case errors.As(err, new(*fasthttp.ErrSmallBuffer)):
		fail(c, 431, "headers_too_large", "the request line and headers exceed 8 KiB")
	case errors.As(err, &ne) && ne.Timeout():
		fail(c, 408, "request_timeout", "the request did not arrive in time")
	default:
		fail(c, 400, "invalid_request", "malformed HTTP request")
	}
	c.SetConnectionClose()
}

// secure sets the headers every answer carries: no MIME sniffing, no
// referrer leaking a page's token, no framing (the pages add their own
// Content-Security-Policy).
func secure(h fasthttp.RequestHandler) fasthttp.RequestHandler {
	return func(c *fasthttp.RequestCtx) {
		c.Response.Header.Set("X-Content-Type-Options", "nosniff")
		c.Response.Header.Set("Referrer-Policy", "no-referrer")
		c.Response.Header.Set("X-Frame-Options", "DENY")
		h(c)
	}
}
