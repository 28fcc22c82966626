package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestConfigs(t *testing.T) {
	demo, err := loadConfig("")
	if err != nil {
		t.Fatalf("embedded demo: %v", err)
	}
	if len(demo.Region.Offices) < 4 || len(demo.Auth.Tokens) != 0 || demo.Node.HTTPAddr != "127.0.0.1:8080" {
		t.Fatalf("demo %+v", demo.Node)
	}
	ex, err := loadConfig("../../deploy/talond.example.yaml")
	if err != nil {
		t.Fatalf("example: %v", err)
	}
	if len(ex.tokens()) != 5 {
		t.Fatalf("example tokens %v", ex.tokens())
	}
	keys, err := ex.keyring()
	if err != nil {
		t.Fatalf("example keys: %v", err)
	}
	if why := ex.exampleSecrets(keys); !strings.Contains(why, "example") {
		t.Fatalf("the example's published secrets pass: %q", why)
	}
	if why := demo.exampleSecrets(keys); why == "" {
		t.Fatal("the example's signing key passes")
	}
	p := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(p, []byte("region: {name: r}\nnode:\n  id: x\n  htp_addr: 127.0.0.1:1\n"), 0o600)
	if _, err := loadConfig(p); err == nil || !strings.Contains(err.Error(), "line 4: unknown key htp_addr") || strings.Contains(err.Error(), "struct") {
		t.Fatalf("a misspelt key: %v", err)
	}
	for name, text := range map[string]string{
		"unknown field":  "node: {idd: x}\nregion: {name: r}",
		"bad role":       "auth: {tokens: [{token: 0123456789abcdefgh, role: king}]}\nregion: {name: r}",
		"short token":    "auth: {tokens: [{token: short, role: admin}]}\nregion: {name: r}",
		"foreign office": "auth: {tokens: [{token: 0123456789abcdefgh, role: kiosk, offices: [zz]}]}\nregion: {name: r}",
		"bad timezone":   "region: {offices: [{id: a, timezone: Mars/Base}]}",
		"no region":      "node: {id: x}",
	} {
		p := filepath.Join(t.TempDir(), "c.yaml")
		os.WriteFile(p, []byte(text), 0o600)
		if _, err := loadConfig(p); err == nil {
			t.Errorf("%s: accepted", name)
		} else if strings.Contains(err.Error(), "panic") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestLocalQRKeyPersists(t *testing.T) {
	c := &Config{}
	c.Node.DataDir = t.TempDir()
	a, err := c.keyring()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := c.keyring()
	if string(a.PublicKeys()["local"]) != string(b.PublicKeys()["local"]) {
		t.Fatal("the generated QR key changed between starts: old talons would be rejected")
	}
}
