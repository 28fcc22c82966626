package cluster

import (
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
)

// One TCP port carries both Raft and talon's node-to-node RPC (forwarded
// writes, read indexes, membership, clocks). With TLS configured (the
// region's CA, internal/pki), every connection is mutual TLS: a peer
// without a certificate of the region cannot speak either. Inside, the
// first byte of a connection says which; Raft's NetworkTransport sees only
// its own connections.
const (
	connRaft byte = 'R'
	connRPC  byte = 'T'
)

// handshakeWait bounds the TLS handshake and the first byte of a new
// connection.
const handshakeWait = 5 * time.Second

// mux is a raft.StreamLayer over a shared listener. It owns every
// connection it accepts or dials, closes those idle longer than idle, and
// closes them all when it closes, so no reader is left behind (Raft's
// transport closes only its listener).
type mux struct {
	ln        net.Listener
	advertise net.Addr
	local     *net.TCPAddr // the address dials leave from (the bound IP), or nil
	server    *tls.Config  // nil: plain TCP (a single-node demo)
	client    *tls.Config
	idle      time.Duration
	raftConns chan net.Conn
	closed    chan struct{}
	once      sync.Once

	mu      sync.Mutex
	conns   map[*ownedConn]struct{}
	serving sync.WaitGroup // the goroutines of accepted connections and the sweeper
}

// ownedConn is a connection the mux closes when it closes, or when it has
// been idle too long (a peer gone without closing it, or one that opened
// it and said nothing).
type ownedConn struct {
	net.Conn
	m      *mux
	active atomic.Int64 // unix nanoseconds of the last read or write
}

func (c *ownedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.active.Store(time.Now().UnixNano())
	return n, err
}

func (c *ownedConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.active.Store(time.Now().UnixNano())
	return n, err
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
	oc.active.Store(time.Now().UnixNano())
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
// (default: the bound address). server and client are the port's TLS
// configurations (nil: plain TCP); idle is how long a connection may stay
// silent.
func listen(bind, advertise string, server, client *tls.Config, idle time.Duration) (*mux, error) {
	ln, err := net.Listen("tcp", bind)
	if err != nil {
		return nil, err
	}
	m := &mux{ln: ln, advertise: ln.Addr(), server: server, client: client, idle: idle,
		raftConns: make(chan net.Conn, 16), closed: make(chan struct{}), conns: map[*ownedConn]struct{}{}}
	a := ln.Addr().(*net.TCPAddr)
	if advertise != "" {
		m.advertise = advertiseAddr(advertise)
	} else if a.IP.IsUnspecified() {
		ln.Close()
		return nil, errors.New("raft address " + bind + " binds every interface: set an advertise address other nodes can dial")
	}
	if !a.IP.IsUnspecified() {
		m.local = &net.TCPAddr{IP: a.IP}
	}
	return m, nil
}

// serve hands each incoming connection to Raft or to rpc by its first byte,
// until the mux closes; it returns once the RPC connections are served.
func (m *mux) serve(rpc func(net.Conn)) {
	defer m.serving.Wait()
	m.serving.Add(1)
	go func() { defer m.serving.Done(); m.sweep() }()
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
		if m.server != nil {
			nc = tls.Server(nc, m.server)
		}
		c, ok := m.own(nc)
		if !ok {
			return
		}
		m.serving.Add(1)
		go func() {
			defer m.serving.Done()
			var b [1]byte
			c.SetReadDeadline(time.Now().Add(handshakeWait)) // the handshake, then the first byte
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

// sweep closes the connections silent for longer than m.idle.
func (m *mux) sweep() {
	t := time.NewTicker(m.idle / 4)
	defer t.Stop()
	for {
		select {
		case <-m.closed:
			return
		case <-t.C:
		}
		cutoff := time.Now().Add(-m.idle).UnixNano()
		m.mu.Lock()
		for c := range m.conns {
			if c.active.Load() < cutoff {
				c.Conn.Close() // its reader fails and unregisters it
			}
		}
		m.mu.Unlock()
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
	c, err := m.dial(string(addr), connRaft, timeout)
	if err != nil {
		return nil, err
	}
	oc, ok := m.own(c)
	if !ok {
		return nil, net.ErrClosed
	}
	return oc, nil
}

// dial opens a connection of kind to the node at addr: from the bound IP,
// over mutual TLS when configured.
func (m *mux) dial(addr string, kind byte, timeout time.Duration) (net.Conn, error) {
	d := net.Dialer{Timeout: timeout}
	if m.local != nil {
		d.LocalAddr = m.local
	}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	if m.client != nil {
		tc := tls.Client(c, m.client)
		tc.SetDeadline(time.Now().Add(max(timeout, time.Second)))
		if err := tc.Handshake(); err != nil {
			c.Close()
			return nil, err
		}
		tc.SetDeadline(time.Time{})
		c = tc
	}
	if _, err := c.Write([]byte{kind}); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}
