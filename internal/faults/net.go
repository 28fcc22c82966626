// Package faults injects network faults between the nodes of a test
// cluster: a TCP proxy in front of each node's cluster port, which knows the
// peer at the other end of each connection by its source address (nodes dial
// from the address they bind, one loopback address per node), and can cut a
// link between two nodes, isolate a node, and heal.
//
// A cut link is a black hole, as a partition is on a real network: the
// proxy keeps the connections open and drops every byte both ways, so the
// nodes find out only through their own timeouts. Healing closes those
// connections (their streams lost bytes) and lets new ones through.
package faults

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
)

// Net is the proxies of one cluster.
type Net struct {
	mu      sync.Mutex
	cut     map[[2]string]bool // {from, to} hosts
	conns   map[*conn]struct{}
	proxies []net.Listener
	wg      sync.WaitGroup
}

type conn struct {
	from, to string
	dead     atomic.Bool
	a, b     net.Conn // a: from the dialing node; b: to the node behind the proxy (nil when dead from the start)
}

// New makes an empty network.
func New() *Net {
	return &Net{cut: map[[2]string]bool{}, conns: map[*conn]struct{}{}}
}

// Proxy listens on listen and forwards each connection to target, the
// cluster port of the node at target's host. It returns the address to
// advertise for that node.
func (n *Net) Proxy(listen, target string) (string, error) {
	to, _, err := net.SplitHostPort(target)
	if err != nil {
		return "", err
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return "", err
	}
	n.mu.Lock()
	n.proxies = append(n.proxies, ln)
	n.mu.Unlock()
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		for {
			a, err := ln.Accept()
			if err != nil {
				return
			}
			from, _, _ := net.SplitHostPort(a.RemoteAddr().String())
			n.wg.Add(1)
			go func() { defer n.wg.Done(); n.forward(&conn{from: from, to: to, a: a}, target) }()
		}
	}()
	return ln.Addr().String(), nil
}

func (n *Net) forward(c *conn, target string) {
	n.mu.Lock()
	dead := n.cut[[2]string{c.from, c.to}]
	n.conns[c] = struct{}{}
	n.mu.Unlock()
	defer func() {
		n.mu.Lock()
		delete(n.conns, c)
		n.mu.Unlock()
		c.close()
	}()
	if dead {
		c.dead.Store(true)
		io.Copy(io.Discard, c.a) // until healed
		return
	}
	b, err := net.Dial("tcp", target)
	if err != nil {
		return
	}
	n.mu.Lock()
	c.b = b
	n.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { c.pipe(b, c.a); done <- struct{}{} }()
	go func() { c.pipe(c.a, b); done <- struct{}{} }()
	<-done
	c.close()
	<-done
}

// pipe copies src to dst until either ends, dropping the bytes once the
// connection is dead.
func (c *conn) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		k, err := src.Read(buf)
		if k > 0 && !c.dead.Load() {
			if _, werr := dst.Write(buf[:k]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (c *conn) close() {
	c.a.Close()
	if c.b != nil {
		c.b.Close()
	}
}

// Cut drops all traffic between hosts a and b, both ways.
func (n *Net) Cut(a, b string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.cut[[2]string{a, b}], n.cut[[2]string{b, a}] = true, true
	for c := range n.conns {
		if n.cut[[2]string{c.from, c.to}] {
			c.dead.Store(true)
		}
	}
}

// Isolate cuts host a from every other host in hosts.
func (n *Net) Isolate(a string, hosts []string) {
	for _, h := range hosts {
		if h != a {
			n.Cut(a, h)
		}
	}
}

// Heal lifts every cut and closes the connections that lost bytes.
func (n *Net) Heal() {
	n.mu.Lock()
	defer n.mu.Unlock()
	clear(n.cut)
	for c := range n.conns {
		if c.dead.Load() {
			c.close()
		}
	}
}

// Close stops the proxies and closes every connection.
func (n *Net) Close() {
	n.mu.Lock()
	for _, ln := range n.proxies {
		ln.Close()
	}
	for c := range n.conns {
		c.close()
	}
	n.mu.Unlock()
	n.wg.Wait()
}
