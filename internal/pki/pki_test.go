package pki

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"testing"
)

// A node's folder is read under talon's names and under a Kubernetes TLS
// secret's; the configurations it gives let two nodes of the region talk.
func TestLoadBothLayouts(t *testing.T) {
	r, err := NewRegion("test")
	if err != nil {
		t.Fatal(err)
	}
	a, b := t.TempDir(), t.TempDir()
	if err := r.WriteNode(a, "n1"); err != nil {
		t.Fatal(err)
	}
	if err := r.WriteNode(b, "n2"); err != nil {
		t.Fatal(err)
	}
	for from, to := range map[string]string{CertFile: "tls.crt", KeyFile: "tls.key"} {
		if err := os.Rename(filepath.Join(b, from), filepath.Join(b, to)); err != nil {
			t.Fatal(err)
		}
	}
	serverA, _, err := Load(a)
	if err != nil {
		t.Fatal(err)
	}
	_, clientB, err := Load(b)
	if err != nil {
		t.Fatal(err)
	}
	l, err := tls.Listen("tcp", "127.0.0.1:0", serverA)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		if c, err := l.Accept(); err == nil {
			c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	c, err := tls.Dial("tcp", l.Addr().String(), clientB)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Handshake(); err != nil {
		t.Fatal(err)
	}
	c.Close()

	os.Remove(filepath.Join(b, "tls.key"))
	if _, _, err := Load(b); err == nil {
		t.Error("a folder without a key loaded")
	}
}
