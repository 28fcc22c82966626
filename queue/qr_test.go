package queue_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/talon-mfc/talon/queue"
)

func keyring(t *testing.T, id string, seedByte byte, others map[string]ed25519.PublicKey) *queue.Keyring {
	k, err := queue.NewKeyring(id, bytes.Repeat([]byte{seedByte}, 32), others)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestTalonToken(t *testing.T) {
	k := keyring(t, "k1", 1, nil)
	talon := queue.Talon{Booking: 123456, Office: "brn-lenina", Start: at("2026-11-24 10:00"), KeyID: "k1"}
	tok := k.Sign(talon)
	if len(tok) > 140 {
		t.Fatalf("token too long for a small QR: %d", len(tok))
	}
	got, err := k.Verify(tok)
	if err != nil || got != talon {
		t.Fatalf("round trip %+v %v", got, err)
	}
	if k.Sign(talon) != tok {
		t.Fatal("signing is not deterministic")
	}

	// Rotation: a new keyring that still knows k1 accepts old talons.
	rotated := keyring(t, "k2", 2, map[string]ed25519.PublicKey{"k1": k.PublicKeys()["k1"]})
	if _, err := rotated.Verify(tok); err != nil {
		t.Fatalf("rotated keyring rejects an old talon: %v", err)
	}

	raw, _ := base64.RawURLEncoding.DecodeString(tok)
	flip := func(i int) string {
		b := append([]byte{}, raw...)
		b[i] ^= 1
		return base64.RawURLEncoding.EncodeToString(b)
	}
	foreign := keyring(t, "k1", 9, nil).Sign(talon) // same key id, another key
	unknownKey := keyring(t, "k9", 1, nil).Sign(talon)
	// Other spellings of the same bytes, which a lenient decoder accepts.
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	short := k.Sign(queue.Talon{Booking: 123456, Office: "brn-lenin", Start: talon.Start, KeyID: "k1"}) // one byte less: 2 or 4 spare bits
	if len(short)%4 == 0 {
		t.Fatal("the token has no spare bits to test with")
	}
	last := strings.IndexByte(alphabet, short[len(short)-1])
	for name, bad := range map[string]string{
		"line break":        tok[:20] + "\n" + tok[20:],
		"carriage return":   tok[:20] + "\r\n" + tok[20:],
		"stray bits":        short[:len(short)-1] + string(alphabet[last^1]),
		"padding":           tok + "=",
		"altered booking":   flip(5),
		"altered signature": flip(len(raw) - 1),
		"altered version":   flip(0),
		"foreign key":       foreign,
		"unknown key id":    unknownKey,
		"truncated":         tok[:len(tok)-4],
		"empty":             "",
		"not base64":        "ПРИВЕТ!!",
		"huge":              string(bytes.Repeat([]byte("A"), 4096)),
	} {
		if _, err := k.Verify(bad); err == nil {
			t.Errorf("%s: accepted", name)
		} else if e, ok := err.(*queue.Error); !ok || e.Code != queue.CodeInvalidQR {
			t.Errorf("%s: error %v, want invalid_qr", name, err)
		}
	}
}

func FuzzVerify(f *testing.F) {
	k, _ := queue.NewKeyring("k1", bytes.Repeat([]byte{1}, 32), nil)
	f.Add(k.Sign(queue.Talon{Booking: 1, Office: "x", Start: 1}))
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		if tl, err := k.Verify(s); err == nil && k.Sign(tl) != s {
			t.Fatalf("accepted a token it would not issue: %q", s)
		}
	})
}
