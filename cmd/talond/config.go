package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	_ "embed"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/talon-mfc/talon/api"
	"github.com/talon-mfc/talon/notify"
	"github.com/talon-mfc/talon/queue"
	"github.com/talon-mfc/talon/scheduler"
)

//go:embed demo.yaml
var demoYAML []byte

// Config is talond's configuration file.
type Config struct {
	Node struct {
		ID        string `yaml:"id"`
		DataDir   string `yaml:"data_dir"`
		HTTPAddr  string `yaml:"http_addr"`
		RaftAddr  string `yaml:"raft_addr"` // Raft and node-to-node RPC
		Advertise string `yaml:"advertise"` // the raft address other nodes dial (default raft_addr)
		Bootstrap bool   `yaml:"bootstrap"` // a single-node cluster (same as bootstrap_expect: 1)
		// BootstrapExpect: form a new cluster once this many nodes, listed
		// in join, answer (every first node gets the same value and list).
		BootstrapExpect int      `yaml:"bootstrap_expect"`
		Join            []string `yaml:"join"` // other nodes' raft addresses
		// TLSDir holds the node's certificate of the region CA for the
		// Raft/RPC port (talonctl ca, talonctl cert): ca.crt, node.crt, node.key.
		TLSDir string `yaml:"tls_dir"`
		// RaftPlaintext leaves the Raft/RPC port without TLS: a single-node
		// demo on loopback only.
		RaftPlaintext bool `yaml:"raft_plaintext"`
		// Snapshot tuning (see cluster.Config); zero keeps the defaults.
		SnapshotThreshold uint64        `yaml:"snapshot_threshold"`
		TrailingLogs      uint64        `yaml:"trailing_logs"`
		SnapshotInterval  time.Duration `yaml:"snapshot_interval"`
	} `yaml:"node"`
	Auth struct {
		Tokens []struct {
			Token   string   `yaml:"token"`
			Role    api.Role `yaml:"role"`
			Name    string   `yaml:"name"`
			Offices []string `yaml:"offices"` // none: every office
		} `yaml:"tokens"`
		// Open serves without tokens on an address other than loopback:
		// demos in a container only.
		Open bool `yaml:"open"`
		// Limits override the write budgets per token by role
		// (api.DefaultLimits), region-wide.
		Limits map[api.Role]api.Limit `yaml:"limits"`
	} `yaml:"auth"`
	QRKeys struct {
		Active string  `yaml:"active"`
		Keys   []qrKey `yaml:"keys"`
	} `yaml:"qr_keys"`
	// Notifications: webhooks created at the first start (later changes:
	// talonctl subscribe).
	Notifications []struct {
		ID         string   `yaml:"id"`
		URL        string   `yaml:"url"`
		Kinds      []string `yaml:"kinds"`
		Offices    []string `yaml:"offices"`
		Secret     string   `yaml:"secret"`
		SecretFile string   `yaml:"secret_file"`
	} `yaml:"notifications"`
	// WebhookAllow lists the loopback, link-local or private networks
	// webhooks may reach (CIDR): a gateway on the region's own network.
	WebhookAllow []string `yaml:"webhook_allow"`
	// AllowedOrigins are other sites whose pages may open the screens' feed
	// (the node's own pages always may), such as "https://portal.example".
	AllowedOrigins []string `yaml:"allowed_origins"`
	// Policy is the calling policy: talon (default) or fcfs (first come,
	// first served; see SIMULATION.md for how they compare).
	Policy     string        `yaml:"policy"`
	Region     *queue.Region `yaml:"region"`
	RegionFile string        `yaml:"region_file"`
}

type qrKey struct {
	ID       string `yaml:"id"`
	Seed     string `yaml:"seed"`
	SeedFile string `yaml:"seed_file"`
	Public   string `yaml:"public"`
}

// loadConfig reads the file at path, or the embedded demo when path is "".
func loadConfig(path string) (*Config, error) {
	data := demoYAML
	if path != "" {
		var err error
		if data, err = os.ReadFile(path); err != nil {
			return nil, err
		}
	}
	var c Config
	if err := decodeStrict(data, &c); err != nil {
		return nil, fmt.Errorf("config %s: %w", orDemo(path), err)
	}
	if c.RegionFile != "" {
		rd, err := os.ReadFile(c.RegionFile)
		if err != nil {
			return nil, err
		}
		c.Region = new(queue.Region)
		if err := decodeStrict(rd, c.Region); err != nil {
			return nil, fmt.Errorf("region %s: %w", c.RegionFile, err)
		}
	}
	if c.Region == nil {
		return nil, fmt.Errorf("config %s: no region", orDemo(path))
	}
	if c.Policy != "" && c.Policy != "talon" && c.Policy != "fcfs" {
		return nil, fmt.Errorf("config %s: policy must be talon or fcfs, not %q", orDemo(path), c.Policy)
	}
	if err := c.Region.Validate(); err != nil {
		return nil, fmt.Errorf("config %s: region: %w", orDemo(path), err)
	}
	for role, l := range c.Auth.Limits {
		if _, ok := api.DefaultLimits[role]; !ok || l.PerMinute <= 0 || l.Burst < 1 {
			return nil, fmt.Errorf("config: auth.limits.%s: a role with writes, a positive per_minute and a burst of at least 1", role)
		}
	}
	for _, t := range c.Auth.Tokens {
		switch t.Role {
		case api.RoleAdmin, api.RoleOperator, api.RoleKiosk, api.RoleDisplay, api.RolePortal:
		default:
			return nil, fmt.Errorf("config: token %q has unknown role %q", t.Name, t.Role)
		}
		if len(t.Token) < 16 {
			return nil, fmt.Errorf("config: token %q is shorter than 16 characters", t.Name)
		}
		if t.Role == api.RoleAdmin && len(t.Offices) > 0 {
			return nil, fmt.Errorf("config: token %q: an admin token acts on the whole region (backup, region, membership) and cannot be bound to offices", t.Name)
		}
		for _, o := range t.Offices {
			if !slices.ContainsFunc(c.Region.Offices, func(oc queue.OfficeConfig) bool { return oc.ID == o }) {
				return nil, fmt.Errorf("config: token %q names unknown office %q", t.Name, o)
			}
		}
	}
	return &c, nil
}

// exampleSeed is the talon signing key of the example configuration and
// of the benchmarks: bytes 0 to 31, known to everyone.
const exampleSeed = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

// exampleSecrets says which published secret the configuration uses: a
// token still reading CHANGE-ME, or the example's talon signing key ("" if
// none).
func (c *Config) exampleSecrets(keys *queue.Keyring) string {
	for _, t := range c.Auth.Tokens {
		if strings.Contains(strings.ToUpper(t.Token), "CHANGE-ME") {
			return fmt.Sprintf("token %q is the example's", t.Name)
		}
	}
	seed, _ := base64.StdEncoding.DecodeString(exampleSeed)
	public := ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
	for id, k := range keys.PublicKeys() {
		if k.Equal(public) && id == keys.Active() {
			return fmt.Sprintf("talon signing key %q is the example's", id)
		}
	}
	return ""
}

// decodeStrict decodes YAML into v, refusing keys v has no place for, and
// says so in words: "line 3: unknown key htp_addr".
func decodeStrict(data []byte, v any) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	err := dec.Decode(v)
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return err
	}
	msgs := make([]string, len(te.Errors))
	for i, e := range te.Errors {
		msgs[i] = unknownField.ReplaceAllString(e, "unknown key $1")
	}
	return errors.New(strings.Join(msgs, "; "))
}

var unknownField = regexp.MustCompile(`field (\S+) not found in type .*`)

func orDemo(path string) string {
	if path == "" {
		return "(embedded demo)"
	}
	return path
}

// limits are the write budgets per role: the defaults, and the configured
// ones over them.
func (c *Config) limits() map[api.Role]api.Limit {
	m := maps.Clone(api.DefaultLimits)
	maps.Copy(m, c.Auth.Limits)
	return m
}

func (c *Config) tokens() map[string]api.Grant {
	m := map[string]api.Grant{}
	for _, t := range c.Auth.Tokens {
		m[t.Token] = api.Grant{Role: t.Role, Offices: t.Offices, Name: t.Name}
	}
	return m
}

// webhookTargets are where webhooks may go.
func (c *Config) webhookTargets() (notify.Targets, error) {
	var t notify.Targets
	for _, s := range c.WebhookAllow {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return t, fmt.Errorf("config: webhook_allow: %w", err)
		}
		t.Allow = append(t.Allow, p)
	}
	return t, nil
}

// subscriptions are the configured webhooks, secrets read; each must point
// where targets allows.
func (c *Config) subscriptions(targets notify.Targets) ([]queue.Subscription, error) {
	var out []queue.Subscription
	for _, n := range c.Notifications {
		secret := n.Secret
		if n.SecretFile != "" {
			b, err := os.ReadFile(n.SecretFile)
			if err != nil {
				return nil, err
			}
			secret = strings.TrimSpace(string(b))
		}
		if err := targets.Check(n.URL); err != nil {
			return nil, fmt.Errorf("config: notification %q: %w", n.ID, err)
		}
		out = append(out, queue.Subscription{ID: n.ID, URL: n.URL, Kinds: n.Kinds, Offices: n.Offices, Secret: secret})
	}
	return out, nil
}

// keyring builds the QR keyring; with no keys configured it uses (and on
// first start makes) a key in the data folder.
func (c *Config) keyring() (*queue.Keyring, error) {
	if len(c.QRKeys.Keys) == 0 {
		seed, err := localSeed(filepath.Join(c.Node.DataDir, "qr-key.seed"))
		if err != nil {
			return nil, err
		}
		return queue.NewKeyring("local", seed, nil)
	}
	var seed []byte
	others := map[string]ed25519.PublicKey{}
	for _, k := range c.QRKeys.Keys {
		switch {
		case k.ID == c.QRKeys.Active:
			s := k.Seed
			if k.SeedFile != "" {
				b, err := os.ReadFile(k.SeedFile)
				if err != nil {
					return nil, err
				}
				s = string(b)
			}
			var err error
			if seed, err = base64.StdEncoding.DecodeString(strings.TrimSpace(s)); err != nil {
				return nil, fmt.Errorf("qr key %s: seed is not base64", k.ID)
			}
		case k.Public != "":
			p, err := base64.StdEncoding.DecodeString(k.Public)
			if err != nil || len(p) != ed25519.PublicKeySize {
				return nil, fmt.Errorf("qr key %s: public key is not 32 bytes of base64", k.ID)
			}
			others[k.ID] = p
		}
	}
	return queue.NewKeyring(c.QRKeys.Active, seed, others)
}

func localSeed(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		seed := make([]byte, ed25519.SeedSize)
		rand.Read(seed)
		if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
			return nil, err
		}
		if err := os.WriteFile(path, []byte(base64.StdEncoding.EncodeToString(seed)+"\n"), 0o600); err != nil {
			return nil, err
		}
		return seed, nil
	}
	if err != nil {
		return nil, err
	}
	return base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
}

// policy is the configured calling policy.
func (c *Config) policy() queue.Policy {
	if c.Policy == "fcfs" {
		return scheduler.FCFS{}
	}
	return scheduler.Default{}
}

// loopback reports whether addr (host:port) listens on loopback only.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
