// Package notify delivers the notifications of the replicated outboxes
// (queue.Notification) to the subscribed webhooks: SMS and push gateways,
// the portal.
//
// Only the leader delivers. For each subscription it posts the head of the
// outbox, and once the gateway answers 2xx it commits a Delivered command;
// so a new leader resumes at the first notification not yet acknowledged.
// Delivery is at least once and in order per subscription. Every request
// carries the same Idempotency-Key on a retry ("<subscription>-<seq>") and
// an HMAC-SHA256 signature of its body with the subscription's secret:
//
//	X-Talon-Signature: sha256=<hex>
//
// A notification that fails MaxAttempts times (with exponential backoff) is
// moved to the subscription's dead letters; `talonctl replay` puts them back.
//
// It reads a node through the small Node interface below and must not know
// Raft.
package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/talon-mfc/talon/queue"
)

// Node is what delivery needs of a node (cmd/talond passes cluster.Store).
type Node interface {
	Read(fn func(queue.Reader))
	Apply(ctx context.Context, c queue.Command) (queue.Result, uint64, error)
	// Leads reports whether this node is the ready leader.
	Leads() bool
}

// Config configures delivery.
type Config struct {
	Store       Node
	Logger      *slog.Logger
	Client      *http.Client  // default: Targets' client with a 10 s timeout
	Targets     Targets       // where webhooks may connect
	MaxAttempts int           // before a notification goes to the dead letters (default 12)
	MaxBackoff  time.Duration // between attempts (default 1 min; the first wait is 1 s)
	// Observe, when set, hears each attempt: result is ok, failed or dead.
	Observe func(subscription, result string)
}

// Deliverer runs one delivery loop per subscription while its node leads.
type Deliverer struct {
	cfg   Config
	mu    sync.Mutex
	subs  map[string]chan struct{} // subscription → its loop's quit channel
	loops sync.WaitGroup
}

// New makes a deliverer; Run starts it.
func New(cfg Config) *Deliverer {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Client == nil {
		cfg.Client = cfg.Targets.Client(10 * time.Second)
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 12
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = time.Minute
	}
	if cfg.Observe == nil {
		cfg.Observe = func(string, string) {}
	}
	return &Deliverer{cfg: cfg, subs: map[string]chan struct{}{}}
}

// Run keeps a delivery loop for every subscription while this node is the
// ready leader, until ctx ends; it returns once every loop has.
func (d *Deliverer) Run(ctx context.Context) {
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	defer d.loops.Wait()
	defer d.sync(nil)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		var ids []string
		if d.cfg.Store.Leads() {
			d.cfg.Store.Read(func(r queue.Reader) { ids = r.SubscriptionIDs() })
		}
		d.sync(ids)
	}
}

// sync starts loops for ids and stops the others.
func (d *Deliverer) sync(ids []string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
		if d.subs[id] == nil {
			quit := make(chan struct{})
			d.subs[id] = quit
			d.loops.Add(1)
			go func() {
				defer d.loops.Done()
				d.loop(id, quit)
			}()
		}
	}
	for id, quit := range d.subs {
		if !want[id] {
			close(quit)
			delete(d.subs, id)
		}
	}
}

// loop delivers subscription id's outbox in order until quit.
func (d *Deliverer) loop(id string, quit chan struct{}) {
	attempts := 0
	wait := func(dur time.Duration) bool {
		select {
		case <-quit:
			return false
		case <-time.After(dur):
			return true
		}
	}
	for {
		sub, head, ok := d.head(id)
		switch {
		case !ok:
			return
		case head == nil:
			if !wait(100 * time.Millisecond) {
				return
			}
			continue
		}
		err := d.post(sub, *head)
		if err == nil {
			d.cfg.Observe(id, "ok")
			attempts = 0
			d.commit(&queue.Delivered{Sub: id, Seq: head.Seq})
			continue
		}
		d.cfg.Observe(id, "failed")
		attempts++
		d.cfg.Logger.Warn("notification not delivered", "subscription", id, "notification", head.String(), "attempt", attempts, "err", err)
		if attempts >= d.cfg.MaxAttempts {
			d.cfg.Observe(id, "dead")
			attempts = 0
			d.commit(&queue.Delivered{Sub: id, Seq: head.Seq, Dead: true})
			continue
		}
		if !wait(min(d.cfg.MaxBackoff, time.Second<<min(attempts-1, 16))) {
			return
		}
	}
}

// head reads the subscription and the first notification of its outbox; ok
// is false once the subscription is gone.
func (d *Deliverer) head(id string) (sub queue.Subscription, head *queue.Notification, ok bool) {
	d.cfg.Store.Read(func(r queue.Reader) {
		if sub, ok = r.Subscription(id); ok {
			_, _, head = r.Backlog(id)
		}
	})
	return sub, head, ok
}

func (d *Deliverer) commit(c *queue.Delivered) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if r, _, err := d.cfg.Store.Apply(ctx, c); err != nil || r.Err != nil {
		// Not recorded: the notification is sent again (same key), which
		// at-least-once allows.
		d.cfg.Logger.Warn("recording a delivery", "subscription", c.Sub, "err", err, "refused", r.Err)
	}
}

// Body is what a gateway receives.
type Body struct {
	Subscription string `json:"subscription"`
	queue.Notification
}

func (d *Deliverer) post(sub queue.Subscription, n queue.Notification) error {
	body, err := json.Marshal(Body{Subscription: sub.ID, Notification: n})
	if err != nil {
		return err
	}
	req, err := http.NewRequest("POST", sub.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "talon-notify/1")
	req.Header.Set("Idempotency-Key", sub.ID+"-"+strconv.FormatUint(n.Seq, 10))
	req.Header.Set("X-Talon-Event", n.Kind)
	req.Header.Set("X-Talon-Signature", Sign(sub.Secret, body))
	resp, err := d.cfg.Client.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("gateway answered %s", resp.Status)
	}
	return nil
}

// Sign is the X-Talon-Signature of body: "sha256=" and the hex HMAC-SHA256
// of the body with the subscription's secret. A gateway recomputes it and
// compares in constant time (Verify).
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify checks a signature as a gateway should.
func Verify(secret string, body []byte, signature string) bool {
	return hmac.Equal([]byte(Sign(secret, body)), []byte(signature))
}
