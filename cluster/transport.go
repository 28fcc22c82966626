package cluster

import (
	"errors"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// One TCP port carries both Raft and talon's node-to-node RPC (forwarded
// writes, read indexes, membership). The first byte of a connection says
// which; Raft's NetworkTransport sees only its own connections.
const (
	connRaft byte = 'R'
	connRPC  byte = 'T'
)

// mux is a raft.StreamLayer over a shared listener. It owns every
// connection it accepts or dials, and closes them all when it closes, so
// no reader is left behind (Raft's transport closes only its listener).
type mux struct {
	ln        net.Listener
	advertise net.Addr
	raftConns chan net.Conn
	closed    chan struct{}
	once      sync.Once

	mu      sync.Mutex
	conns   map[*ownedConn]struct{}
	serving sync.WaitGroup // the goroutines of accepted connections
}

// ownedConn is a connection the mux closes when it closes.
type ownedConn struct {
	net.Conn
	m *mux
}

func (c *ownedConn) Close() error {
	c.m.mu.Lock()
	delete(c.m.conns, c)
	c.m.mu.Unlock()
	return c.Conn.Close()
}

// own registers c, or closes it when the mux is closed already.
func (m *mux) own(c net.Conn) (*ownedConn, bool) {
	oc := &ownedConn{Conn: c, m: m}
	m.mu.Lock()
	defer m.mu.Unlock()
	select {
	case <-m.closed:
		c.Close()
		return nil, false
	default:
	}
	m.conns[oc] = struct{}{}
	return oc, true
}

type advertiseAddr string

func (a advertiseAddr) Network() string { return "tcp" }
func (a advertiseAddr) String() string  { return string(a) }

// listen opens the shared port; advertise is the address other nodes dial
// (default: the bound address).
func listen(bind, advertise string) (*mux, error) {
	ln, err := net.Listen("tcp", bind)
	if err != nil {
		return nil, err
	}
	m := &mux{ln: ln, advertise: ln.Addr(), raftConns: make(chan net.Conn, 16), closed: make(chan struct{}), conns: map[*ownedConn]struct{}{}}
	if advertise != "" {
		m.advertise = advertiseAddr(advertise)
	} else if a := ln.Addr().(*net.TCPAddr); a.IP.IsUnspecified() {
		ln.Close()
		return nil, errors.New("raft address " + bind + " binds every interface: set an advertise address other nodes can dial")
	}
	return m, nil
}

// serve hands each incoming connection to Raft or to rpc by its first byte,
// until the mux closes; it returns once the RPC connections are served.
func (m *mux) serve(rpc func(net.Conn)) {
	defer m.serving.Wait()
	for {
		nc, err := m.ln.Accept()
		if err != nil {
			select {
			case <-m.closed:
				return
			default:
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		c, ok := m.own(nc)
		if !ok {
			return
		}
		m.serving.Add(1)
		go func() {
			defer m.serving.Done()
			var b [1]byte
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := c.Read(b[:]); err != nil {
				c.Close()
				return
			}
			c.SetReadDeadline(time.Time{})
			switch b[0] {
			case connRaft:
				select {
				case m.raftConns <- c:
				case <-m.closed:
					c.Close()
				}
			case connRPC:
				rpc(c)
			default:
				c.Close()
			}
		}()
	}
}

// Accept implements raft.StreamLayer.
func (m *mux) Accept() (net.Conn, error) {
	select {
	case c := <-m.raftConns:
		return c, nil
	case <-m.closed:
		return nil, net.ErrClosed
	}
}

// Close implements raft.StreamLayer: it closes the listener and every
// connection.
func (m *mux) Close() error {
	m.once.Do(func() {
		m.mu.Lock()
		close(m.closed)
		conns := m.conns
		m.conns = map[*ownedConn]struct{}{}
		m.mu.Unlock()
		m.ln.Close()
		for c := range conns {
			c.Conn.Close()
		}
	})
	return nil
}

// Addr implements raft.StreamLayer: the advertised address.
func (m *mux) Addr() net.Addr { return m.advertise }

// Dial implements raft.StreamLayer.
func (m *mux) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	c, err := dial(string(addr), connRaft, timeout)
	if err != nil {
		return nil, err
	}
	oc, ok := m.own(c)
	if !ok {
		return nil, net.ErrClosed
	}
	return oc, nil
}

func dial(addr string, kind byte, timeout time.Duration) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, err
	}
	if _, err := c.Write([]byte{kind}); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}
