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
	if _, err := ex.keyring(); err != nil {
		t.Fatalf("example keys: %v", err)
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
