package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/rpc"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/talon-mfc/talon/cluster/node"
	"github.com/talon-mfc/talon/queue"
)

// The node-to-node RPC (net/rpc with gob, multiplexed on one connection per
// peer) carries what a follower asks of the leader, and what nodes ask of
// each other to form and watch the cluster. The types below are its wire
// format.

// ForwardArgs is a write a follower forwards to the leader: one encoded
// command (the same bytes that go into the log).
type ForwardArgs struct{ Cmd []byte }

// ForwardReply is the command's result and the log index that carried it.
type ForwardReply struct {
	Result queue.Result
	Index  uint64
}

// ForwardBatch is the writes a follower has gathered for the leader while
// its earlier batches were on their way (as the leader gathers commands
// into log entries): one RPC carries many.
type ForwardBatch struct{ Cmds [][]byte }

// ForwardBatchReply answers each command of a ForwardBatch in order: its
// reply, or the error it met (Errs[i] non-empty).
type ForwardBatchReply struct {
	Replies []ForwardReply
	Errs    []string
}

// ReadIndex is where a linearizable read must wait for: the leader's commit
// index when it last confirmed its leadership, and the last entry at or
// below it that changes the state.
type ReadIndex struct{ Commit, Visible uint64 }

// Hello is what a node says about itself to a node that wants to join or
// bootstrap.
type Hello struct {
	ID, Addr string
	Servers  []string // ids in its Raft configuration (none: not in a cluster yet)
}

// JoinArgs names a node to add.
type JoinArgs struct{ ID, Addr string }

// errUnreachable: the request never reached the peer (dial failed, or the
// connection was already closed when it was about to be sent).
var errUnreachable = errors.New("cluster: peer unreachable")

// wireErrors keep their identity across the RPC.
var wireErrors = []error{node.ErrNotLeader, node.ErrNoLeader, node.ErrUnknownOutcome, node.ErrHalted, node.ErrLagging, node.ErrUnknownNode, node.ErrBadBackup}

func fromWire(err error) error {
	var se rpc.ServerError
	if !errors.As(err, &se) {
		return err
	}
	for _, e := range wireErrors {
		if strings.HasPrefix(string(se), e.Error()) {
			return fmt.Errorf("%w%s", e, strings.TrimPrefix(string(se), e.Error()))
		}
	}
	return errors.New(string(se))
}

// service is what a node answers on the RPC port.
type service struct{ s *Store }

// Apply answers one forwarded write: what followers of the previous
// version send during a rolling upgrade (this version sends ApplyMany).
func (v service) Apply(a ForwardArgs, r *ForwardReply) error {
	var b ForwardBatchReply
	if err := v.ApplyMany(ForwardBatch{Cmds: [][]byte{a.Cmd}}, &b); err != nil {
		return err
	}
	if b.Errs[0] != "" {
		return errors.New(b.Errs[0]) // the caller reads the error's text (fromWire)
	}
	*r = b.Replies[0]
	return nil
}

// ApplyMany proposes a follower's batch; the commands join the leader's
// own in log entries, and each is answered on its own.
func (v service) ApplyMany(a ForwardBatch, r *ForwardBatchReply) error {
	if v.s.raft.State() != raft.Leader {
		return node.ErrNotLeader
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res := make([]reply, len(a.Cmds))
	var wg sync.WaitGroup
	for i, cmd := range a.Cmds {
		// Only what this version would have built itself goes into the log.
		if err := admit(cmd); err != nil {
			res[i].res = queue.Result{Err: err}
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			res[i].res, res[i].index, res[i].err = v.s.proposeLocal(ctx, cmd)
		}()
	}
	wg.Wait()
	r.Replies, r.Errs = make([]ForwardReply, len(res)), make([]string, len(res))
	for i, x := range res {
		if x.err != nil {
			r.Errs[i] = x.err.Error()
			continue
		}
		r.Replies[i] = ForwardReply{Result: x.res, Index: x.index}
	}
	return nil
}

func (v service) ReadIndex(_ struct{}, r *ReadIndex) (err error) {
	*r, err = v.s.readIndex()
	return err
}

// TermReply is a node's current Raft term.
type TermReply struct{ Term uint64 }

func (v service) Term(_ struct{}, r *TermReply) error {
	r.Term = v.s.raft.CurrentTerm()
	return nil
}

func (v service) Hello(_ struct{}, h *Hello) error {
	*h = v.s.hello()
	return nil
}

func (v service) Status(_ struct{}, st *node.Status) error {
	*st = v.s.Status()
	return nil
}

func (v service) Join(a JoinArgs, _ *struct{}) error {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return v.s.Join(ctx, a.ID, a.Addr)
}

func (v service) Remove(id string, _ *struct{}) error {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return v.s.Remove(ctx, id)
}

func (v service) Transfer(to string, _ *struct{}) error { return v.s.transferLocal(to) }

func (v service) Restore(data []byte, _ *struct{}) error { return v.s.restoreLocal(data) }

// peers keeps one RPC client per peer address.
type peers struct {
	mu      sync.Mutex
	clients map[string]*rpc.Client
	dial    func(addr string) (net.Conn, error) // an RPC connection to a peer (the mux's)
}

func (p *peers) client(addr string) (*rpc.Client, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c := p.clients[addr]; c != nil {
		return c, nil
	}
	conn, err := p.dial(addr)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errUnreachable, err)
	}
	c := rpc.NewClient(conn)
	p.clients[addr] = c
	return c, nil
}

func (p *peers) drop(addr string, c *rpc.Client) {
	p.mu.Lock()
	if p.clients[addr] == c {
		delete(p.clients, addr)
	}
	p.mu.Unlock()
	c.Close()
}

// call invokes method on the peer at addr. errUnreachable means the request
// was not sent; any other transport error leaves its fate unknown.
func (p *peers) call(ctx context.Context, addr, method string, args, reply any) error {
	for attempt := 0; ; attempt++ {
		c, err := p.client(addr)
		if err != nil {
			return err
		}
		call := c.Go("Talon."+method, args, reply, make(chan *rpc.Call, 1))
		select {
		case <-call.Done:
		case <-ctx.Done():
			return ctx.Err()
		}
		switch {
		case call.Error == nil:
			return nil
		case errors.Is(call.Error, rpc.ErrShutdown):
			// The client was already dead: nothing was sent. Redial once.
			p.drop(addr, c)
			if attempt == 0 {
				continue
			}
			return errUnreachable
		case errors.As(call.Error, new(rpc.ServerError)):
			return fromWire(call.Error)
		default:
			p.drop(addr, c)
			return call.Error
		}
	}
}

func (p *peers) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for a, c := range p.clients {
		c.Close()
		delete(p.clients, a)
	}
}

// serveRPC serves one incoming RPC connection.
func (s *Store) serveRPC(conn net.Conn) { s.rpc.ServeConn(conn) }
