package faults

import (
	"bufio"
	"io"
	"net"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// echo serves a line echo on host and returns its address.
func echo(t *testing.T, host string) string {
	ln, err := net.Listen("tcp", host+":0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	return ln.Addr().String()
}

func dialFrom(t *testing.T, host, addr string) net.Conn {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(host)}, Timeout: time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// roundTrip sends a line and says whether it came back within wait.
func roundTrip(c net.Conn, wait time.Duration) bool {
	c.SetDeadline(time.Now().Add(wait))
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && line == "ping\n"
}

// A cut drops the bytes of open and new connections between two hosts and
// leaves other hosts alone; healing closes the connections that lost bytes
// and lets new ones through.
func TestCutAndHeal(t *testing.T) {
	n := New()
	defer n.Close()
	front, err := n.Proxy("127.0.0.21:0", echo(t, "127.0.0.21"))
	if err != nil {
		t.Fatal(err)
	}
	fromB, fromC := dialFrom(t, "127.0.0.22", front), dialFrom(t, "127.0.0.23", front)
	if !roundTrip(fromB, 5*time.Second) || !roundTrip(fromC, 5*time.Second) {
		t.Fatal("no traffic through the proxy")
	}

	n.Cut("127.0.0.21", "127.0.0.22")
	if roundTrip(fromB, 300*time.Millisecond) {
		t.Error("bytes crossed a cut link")
	}
	if roundTrip(dialFrom(t, "127.0.0.22", front), 300*time.Millisecond) {
		t.Error("a new connection crossed a cut link")
	}
	if !roundTrip(fromC, 5*time.Second) {
		t.Error("a cut between two hosts stopped a third")
	}

	n.Heal()
	fromB.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := fromB.Read(make([]byte, 1)); err == nil {
		t.Error("a connection that lost bytes stayed open after healing")
	}
	if !roundTrip(dialFrom(t, "127.0.0.22", front), 5*time.Second) {
		t.Error("no traffic after healing")
	}

	n.Isolate("127.0.0.23", []string{"127.0.0.21", "127.0.0.22", "127.0.0.23"})
	if roundTrip(fromC, 300*time.Millisecond) {
		t.Error("bytes reached an isolated host")
	}
}
