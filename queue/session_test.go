package queue_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/talon-mfc/talon/queue"
)

// TestSessionTokens: a session token verifies with the keyring; any
// change to it, or another region's key, does not.
func TestSessionTokens(t *testing.T) {
	k, _ := queue.NewKeyring("k1", bytes.Repeat([]byte{7}, 32), nil)
	other, _ := queue.NewKeyring("k1", bytes.Repeat([]byte{8}, 32), nil)
	s := queue.Session{Employee: "ivanova", Count: 3, Expires: 1_800_000_000, KeyID: "k1"}
	tok := k.SignSession(s)
	if got, ok := k.VerifySession(tok); !ok || got != s {
		t.Fatalf("%q: %+v %v", tok, got, ok)
	}
	if _, ok := other.VerifySession(tok); ok {
		t.Fatal("another region's key accepted the token")
	}
	for i := len(queue.SessionPrefix); i < len(tok); i++ {
		for _, c := range "AQ_-z" {
			if byte(c) == tok[i] {
				continue
			}
			if got, ok := k.VerifySession(tok[:i] + string(c) + tok[i+1:]); ok && got != s {
				t.Fatalf("an altered token (at %d) says %+v", i, got)
			}
		}
	}
	for _, bad := range []string{"", "s1.", tok[:len(tok)-2], strings.TrimPrefix(tok, "s1."), tok + "=", tok + "\n"} {
		if _, ok := k.VerifySession(bad); ok {
			t.Fatalf("%q accepted", bad)
		}
	}
}
