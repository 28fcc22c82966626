package cluster

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/rpc"
	"testing"
	"time"

	"github.com/talon-mfc/talon/internal/pki"
	"github.com/talon-mfc/talon/queue"
	"github.com/talon-mfc/talon/scheduler"
)

// TestClusterPortNeedsACertificate is the finding re-run: over the Raft/RPC
// port, with no certificate, a certificate of another CA, or plain TCP,
// each of ApplyMany (a ticket), a webhook subscription, Join, Restore (an
// empty backup) and an unknown type byte fails and changes nothing.
func TestClusterPortNeedsACertificate(t *testing.T) {
	nodes := startCluster(t, 3)
	leader, _ := leaderOf(nodes)
	ctx := context.Background()
	if r, _, err := leader.Apply(ctx, &queue.SetRegion{Region: region(2)}); err != nil || r.Err != nil {
		t.Fatal(err, r.Err)
	}
	addr := leader.mux.Addr().String()

	other, _ := pki.NewRegion("another")
	_, foreign, err := other.Node("intruder")
	if err != nil {
		t.Fatal(err)
	}
	dialers := map[string]func(kind byte) (net.Conn, error){
		"plain TCP": func(kind byte) (net.Conn, error) {
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				_, err = c.Write([]byte{kind})
			}
			return c, err
		},
		"TLS without a certificate": func(kind byte) (net.Conn, error) {
			return tlsDial(addr, kind, &tls.Config{InsecureSkipVerify: true})
		},
		"a certificate of another CA": func(kind byte) (net.Conn, error) {
			return tlsDial(addr, kind, foreign)
		},
	}
	ticket, _ := encodeCommand(nil, &queue.Issue{Office: "brn", Service: "passport"})
	sub, _ := encodeCommand(nil, &queue.Subscribe{Sub: queue.Subscription{ID: "spy", URL: "https://spy.example", Secret: "0123456789abcdef"}})
	calls := []struct {
		method string
		args   any
		reply  any
	}{
		{"ApplyMany", ForwardBatch{Cmds: [][]byte{ticket}}, &ForwardBatchReply{}},
		{"ApplyMany", ForwardBatch{Cmds: [][]byte{sub}}, &ForwardBatchReply{}},
		{"Join", JoinArgs{ID: "rogue", Addr: "127.0.0.1:1"}, &struct{}{}},
		{"Restore", []byte{}, &struct{}{}},
	}
	for name, dial := range dialers {
		for _, c := range calls {
			conn, err := dial(connRPC)
			if err != nil {
				continue // refused at once: fine
			}
			client := rpc.NewClient(conn)
			done := make(chan error, 1)
			go func() { done <- client.Call("Talon."+c.method, c.args, c.reply) }()
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				err = errors.New("no answer")
			}
			client.Close()
			if err == nil {
				t.Errorf("%s: %s succeeded", name, c.method)
			}
		}
		// An unknown type byte on a Raft stream.
		if conn, err := dial(connRaft); err == nil {
			conn.Write([]byte{0xFF, 0xFF, 0xFF, 0xFF})
			conn.SetReadDeadline(time.Now().Add(2 * time.Second))
			conn.Read(make([]byte, 1))
			conn.Close()
		}
	}
	if err := leader.Linearize(ctx); err != nil {
		t.Fatal(err)
	}
	// (A Tick of the leader's own may have committed meanwhile; nothing else.)
	servers, _ := leader.servers()
	if len(servers) != 3 {
		t.Fatalf("the cluster changed: %d servers", len(servers))
	}
	leader.Read(func(r queue.Reader) {
		tickets := 0
		for range r.Tickets() {
			tickets++
		}
		if r.Region() == nil || len(r.SubscriptionIDs()) != 0 || tickets != 0 {
			t.Errorf("the state changed: region %v, subscriptions %v, %d tickets", r.Region() != nil, r.SubscriptionIDs(), tickets)
		}
	})
	for _, n := range nodes {
		if n.fsm.haltErr() != nil {
			t.Fatalf("%s halted: %v", n.cfg.ID, n.fsm.haltErr())
		}
	}
}

func tlsDial(addr string, kind byte, cfg *tls.Config) (net.Conn, error) {
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: time.Second}, "tcp", addr, cfg)
	if err != nil {
		return nil, err
	}
	if _, err := c.Write([]byte{kind}); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// TestIdleConnectionsClose: a connection that sends its kind and then
// nothing is closed after the idle timeout, so nobody can hold the port's
// connections open for free.
func TestIdleConnectionsClose(t *testing.T) {
	server, client := nodeTLS(t, "n1")
	s, err := Open(Config{ID: "n1", Dir: t.TempDir(), RaftAddr: freeAddr(t), Bootstrap: true, Policy: scheduler.Default{},
		ServerTLS: server, ClientTLS: client, IdleTimeout: 400 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	conn, err := tlsDial(s.mux.Addr().String(), connRPC, client)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Read(make([]byte, 1)); err == nil {
		t.Fatal("the server sent something")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("an idle connection stayed open %v", d)
	}
}
