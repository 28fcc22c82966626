package api

import (
	"bytes"
	"context"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"
)

// The cluster administration endpoints talonctl uses. They act on the whole
// cluster from any node.

func adminCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 30*time.Second)
}

func (s *Server) nodes(c *fasthttp.RequestCtx) {
	ctx, cancel := adminCtx()
	defer cancel()
	ns, err := s.cfg.Store.Nodes(ctx)
	if err != nil {
		s.clusterError(c, err)
		return
	}
	writeJSON(c, 200, map[string]any{"nodes": ns})
}

func (s *Server) join(c *fasthttp.RequestCtx) {
	var req struct {
		ID   string `json:"id"`
		Addr string `json:"addr"`
	}
	if !decode(c, &req) {
		return
	}
	if req.ID == "" || req.Addr == "" {
		fail(c, 400, "invalid_request", "id and addr (the node's Raft address) are required")
		return
	}
	ctx, cancel := adminCtx()
	defer cancel()
	if err := s.cfg.Store.Join(ctx, req.ID, req.Addr); err != nil {
		s.clusterError(c, err)
		return
	}
	s.nodes(c)
}

func (s *Server) removeNode(c *fasthttp.RequestCtx) {
	ctx, cancel := adminCtx()
	defer cancel()
	if err := s.cfg.Store.Remove(ctx, param(c, "id")); err != nil {
		s.clusterError(c, err)
		return
	}
	s.nodes(c)
}

func (s *Server) transfer(c *fasthttp.RequestCtx) {
	var req struct {
		ID string `json:"id"` // empty: any up-to-date voter
	}
	if len(c.PostBody()) > 0 && !decode(c, &req) {
		return
	}
	ctx, cancel := adminCtx()
	defer cancel()
	if err := s.cfg.Store.TransferLeadership(ctx, req.ID); err != nil {
		s.clusterError(c, err)
		return
	}
	s.nodes(c)
}

func (s *Server) backup(c *fasthttp.RequestCtx) {
	ctx, cancel := adminCtx()
	defer cancel()
	var buf bytes.Buffer
	index, err := s.cfg.Store.Backup(ctx, &buf)
	if err != nil {
		s.clusterError(c, err)
		return
	}
	c.Response.Header.Set(indexHeader, strconv.FormatUint(index, 10))
	c.Response.Header.Set("Content-Disposition", `attachment; filename="talon-`+strconv.FormatUint(index, 10)+`.backup"`)
	c.SetContentType("application/octet-stream")
	c.SetBody(buf.Bytes())
}

func (s *Server) restore(c *fasthttp.RequestCtx) {
	ctx, cancel := adminCtx()
	defer cancel()
	if err := s.cfg.Store.Restore(ctx, c.PostBody()); err != nil {
		s.clusterError(c, err)
		return
	}
	writeJSON(c, 200, map[string]any{"restored": true, "applied_index": s.cfg.Store.AppliedIndex()})
}

// advanceClock moves a dev clock forward: {"advance": "20m"}.
func (s *Server) advanceClock(c *fasthttp.RequestCtx) {
	var req struct {
		Advance string `json:"advance"`
	}
	if !decode(c, &req) {
		return
	}
	d, err := time.ParseDuration(req.Advance)
	if err != nil || d < 0 {
		fail(c, 400, "invalid_request", "advance must be a positive duration such as 20m")
		return
	}
	if err := s.cfg.Store.AdvanceClock(d); err != nil {
		fail(c, 409, "no_dev_clock", err.Error())
		return
	}
	writeJSON(c, 200, map[string]any{"now": s.cfg.Store.Now().Format(time.RFC3339)})
}
