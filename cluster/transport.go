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

// mux is a raft.StreamLayer over a shared listener.
type mux struct {
	ln        net.Listener
	advertise net.Addr
	raftConns chan net.Conn
	rpc       func(net.Conn)
	closed    chan struct{}
	once      sync.Once
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
	m := &mux{ln: ln, advertise: ln.Addr(), raftConns: make(chan net.Conn, 16), closed: make(chan struct{})}
	if advertise != "" {
		m.advertise = advertiseAddr(advertise)
	} else if a := ln.Addr().(*net.TCPAddr); a.IP.IsUnspecified() {
		ln.Close()
		return nil, errors.New("raft address " + bind + " binds every interface: set an advertise address other nodes can dial")
	}
	return m, nil
}

// serve hands each incoming connection to Raft or to rpc by its first byte.
func (m *mux) serve(rpc func(net.Conn)) {
	for {
		c, err := m.ln.Accept()
		if err != nil {
			select {
			case <-m.closed:
				return
			default:
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		go func() {
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

// Close implements raft.StreamLayer.
func (m *mux) Close() error {
	m.once.Do(func() { close(m.closed); m.ln.Close() })
	return nil
}

// Addr implements raft.StreamLayer: the advertised address.
func (m *mux) Addr() net.Addr { return m.advertise }

// Dial implements raft.StreamLayer.
func (m *mux) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	return dial(string(addr), connRaft, timeout)
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
