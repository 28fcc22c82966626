package api

import (
	"net/url"

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
	s.cfg.Store.Read(func(r queue.Reader) {
		for _, id := range r.SubscriptionIDs() {
			sub, _ := r.Subscription(id)
			v := subscriptionView{ID: sub.ID, URL: redacted(sub.URL), Kinds: sub.Kinds, Offices: sub.Offices}
			var head *queue.Notification
			if v.Pending, v.Dead, head = r.Backlog(id); head != nil {
				v.Oldest = head.At
			}
			out = append(out, v)
		}
	})
	writeJSON(c, 200, map[string]any{"subscriptions": out, "kinds": queue.NotificationKinds})
}

// redacted is a webhook URL without the password it may carry.
func redacted(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Redacted()
}

func (s *Server) putSubscription(c *fasthttp.RequestCtx) {
	cmd, err := subscriptionRequest(param(c, "id"), c.PostBody())
	if err != nil {
		s.domainError(c, err)
		return
	}
	if err := s.cfg.Webhooks.Check(cmd.Sub.URL); err != nil {
		fail(c, 422, "webhook_target_refused", err.Error())
		return
	}
	if _, ok := s.apply(c, cmd); ok {
		s.subscriptions(c)
	}
}

func (s *Server) deleteSubscription(c *fasthttp.RequestCtx) {
	if _, ok := s.apply(c, &queue.Unsubscribe{ID: param(c, "id")}); ok {
		s.subscriptions(c)
	}
}

func (s *Server) deadLetters(c *fasthttp.RequestCtx) {
	var dead []queue.Notification
	found := false
	s.cfg.Store.Read(func(r queue.Reader) {
		if _, found = r.Subscription(param(c, "id")); found {
			dead = r.DeadLetters(param(c, "id"))
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
	if _, ok := s.apply(c, &queue.Replay{Sub: param(c, "id")}); ok {
		s.subscriptions(c)
	}
}
