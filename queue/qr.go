package queue

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/binary"
	"strings"
)

// Talon is what the QR code on a talon says: which booking, at which office,
// for which slot, signed with which key.
type Talon struct {
	Booking uint64
	Office  string
	Start   int64
	KeyID   string
}

const talonVersion = 1

// talonContext separates talon signatures from any other use of the key.
var talonContext = []byte("talon-qr-v1\x00")

// Keyring signs talons with one active Ed25519 key and verifies talons signed
// with any key it knows, so keys can be rotated while old talons stay valid.
// Ed25519 signatures are deterministic: the same talon always gets the same
// token.
type Keyring struct {
	active string
	priv   ed25519.PrivateKey
	pub    map[string]ed25519.PublicKey
}

// NewKeyring makes a keyring that signs with key active (its 32-byte seed)
// and also accepts the public keys in others.
func NewKeyring(active string, seed []byte, others map[string]ed25519.PublicKey) (*Keyring, error) {
	if active == "" || len(active) > 16 || len(seed) != ed25519.SeedSize {
		return nil, errf(CodeInvalidConfig, "a talon key needs an id of 1..16 bytes and a 32-byte seed")
	}
	k := &Keyring{active: active, priv: ed25519.NewKeyFromSeed(seed), pub: map[string]ed25519.PublicKey{}}
	for id, p := range others {
		k.pub[id] = p
	}
	k.pub[active] = k.priv.Public().(ed25519.PublicKey)
	return k, nil
}

// PublicKeys are the keys a kiosk needs to check talons offline.
func (k *Keyring) PublicKeys() map[string]ed25519.PublicKey { return k.pub }

// Active is the id of the key that signs new talons.
func (k *Keyring) Active() string { return k.active }

// Sign returns the compact token for t: base64url of version, key id,
// booking, office, slot start and the signature.
func (k *Keyring) Sign(t Talon) string {
	msg := []byte{talonVersion, byte(len(k.active))}
	msg = append(msg, k.active...)
	msg = binary.AppendUvarint(msg, t.Booking)
	msg = append(msg, byte(len(t.Office)))
	msg = append(msg, t.Office...)
	msg = binary.AppendVarint(msg, t.Start)
	msg = append(msg, ed25519.Sign(k.priv, append(append([]byte{}, talonContext...), msg...))...)
	return base64.RawURLEncoding.EncodeToString(msg)
}

// Verify checks a token's signature and returns the talon it carries. A
// forged, altered, truncated or foreign-key token is an invalid_qr error.
func (k *Keyring) Verify(token string) (Talon, error) {
	bad := func(why string) (Talon, error) { return Talon{}, errf(CodeInvalidQR, "not a valid talon: %s", why) }
	if len(token) > 512 {
		return bad("too long")
	}
	// One spelling per token: strict base64url, no padding, no line breaks
	// (which the decoder would skip), no stray bits.
	if strings.ContainsAny(token, "\r\n=") {
		return bad("malformed")
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(token)
	if err != nil || len(raw) < 2+ed25519.SignatureSize {
		return bad("malformed")
	}
	msg, sig := raw[:len(raw)-ed25519.SignatureSize], raw[len(raw)-ed25519.SignatureSize:]
	if msg[0] != talonVersion {
		return bad("unknown version")
	}
	var t Talon
	rest := msg[1:]
	field := func() ([]byte, bool) {
		if len(rest) < 1 || len(rest) < 1+int(rest[0]) {
			return nil, false
		}
		f := rest[1 : 1+int(rest[0])]
		rest = rest[1+int(rest[0]):]
		return f, true
	}
	kid, ok := field()
	if !ok {
		return bad("malformed")
	}
	t.KeyID = string(kid)
	pub := k.pub[t.KeyID]
	if pub == nil {
		return bad("unknown key")
	}
	if !ed25519.Verify(pub, append(append([]byte{}, talonContext...), msg...), sig) {
		return bad("signature does not match")
	}
	var n int
	if t.Booking, n = binary.Uvarint(rest); n <= 0 {
		return bad("malformed")
	}
	rest = rest[n:]
	office, ok := field()
	if !ok {
		return bad("malformed")
	}
	t.Office = string(office)
	if t.Start, n = binary.Varint(rest); n <= 0 || n != len(rest) {
		return bad("malformed")
	}
	return t, nil
}
