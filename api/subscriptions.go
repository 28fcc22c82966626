package api

import (
	"slices"

	"github.com/valyala/fasthttp"

	"github.com/talon-mfc/talon/queue"
)

// subscriptionView is a subscription as the API shows it: the secret is
// never shown again.
type subscriptionView struct {
	ID      string   `json:"id"`
	URL     string   `json:"url"`
	Kinds   []string `json:"kinds"`
	Offices []string `json:"offices"`
	Pending int      `json:"pending"`
	Dead    int      `json:"dead"`
	Oldest  int64    `json:"oldest_pending_at,omitempty"` // unix seconds of the first undelivered notification
}

func (s *Server) subscriptions(c *fasthttp.RequestCtx) {
	out := []subscriptionView{}
	s.cfg.Store.Read(func(st *queue.State) {
		for _, sub := range st.Subs {
			v := subscriptionView{ID: sub.ID, URL: sub.URL, Kinds: sub.Kinds, Offices: sub.Offices, Pending: len(st.Outbox[sub.ID]), Dead: len(st.Dead[sub.ID])}
			if box := st.Outbox[sub.ID]; len(box) > 0 {
				v.Oldest = box[0].At
			}
			out = append(out, v)
		}
	})
	slices.SortFunc(out, func(a, b subscriptionView) int {
		if a.ID < b.ID {
			return -1
		}
		return 1
	})
	writeJSON(c, 200, map[string]any{"subscriptions": out, "kinds": queue.NotificationKinds})
}

func (s *Server) putSubscription(c *fasthttp.RequestCtx) {
	var sub queue.Subscription
	if !decode(c, &sub) {
		return
	}
	sub.ID = param(c, "id")
	if _, ok := s.apply(c, queue.Command{Kind: queue.KindSubscribe, Sub: &sub}); ok {
		s.subscriptions(c)
	}
}

func (s *Server) deleteSubscription(c *fasthttp.RequestCtx) {
	if _, ok := s.apply(c, queue.Command{Kind: queue.KindUnsubscribe, Name: param(c, "id")}); ok {
		s.subscriptions(c)
	}
}

func (s *Server) deadLetters(c *fasthttp.RequestCtx) {
	var dead []queue.Notification
	found := false
	s.cfg.Store.Read(func(st *queue.State) {
		if st.Subs[param(c, "id")] != nil {
			found, dead = true, slices.Clone(st.Dead[param(c, "id")])
		}
	})
	if !found {
		fail(c, 404, string(queue.CodeNotFound), "no subscription "+param(c, "id"))
		return
	}
	if dead == nil {
		dead = []queue.Notification{}
	}
	writeJSON(c, 200, map[string]any{"subscription": param(c, "id"), "dead": dead})
}

func (s *Server) replay(c *fasthttp.RequestCtx) {
	if _, ok := s.apply(c, queue.Command{Kind: queue.KindReplay, Name: param(c, "id")}); ok {
		s.subscriptions(c)
	}
}
