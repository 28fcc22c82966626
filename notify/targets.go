package notify

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// Targets says where webhooks may go. A webhook carries applicants' phones,
// signed: it must not be pointed at the node itself, a cloud metadata
// endpoint or the private network behind the node. Loopback, link-local,
// private (RFC 1918, fc00::/7), carrier-grade NAT, unspecified and multicast
// addresses are refused unless a prefix of Allow holds them: an SMS gateway
// on the region's own network is allowed by name.
type Targets struct {
	Allow []netip.Prefix
}

// ErrTarget is a webhook address Targets refuses.
var ErrTarget = errors.New("webhook target refused")

var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// Permits reports whether a webhook may connect to ip.
func (t Targets) Permits(ip netip.Addr) bool {
	ip = ip.Unmap()
	for _, p := range t.Allow {
		if p.Contains(ip) {
			return true
		}
	}
	return !(ip.IsLoopback() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || ip.IsPrivate() ||
		ip.IsUnspecified() || ip.IsMulticast() || ip.IsInterfaceLocalMulticast() || cgnat.Contains(ip) || !ip.IsValid())
}

// Check refuses a webhook URL that is not http(s) or names a refused
// address (a name is checked again at every connection, after DNS).
func (t Targets) Check(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Hostname() == "" {
		return fmt.Errorf("%w: the URL must be http:// or https:// with a host", ErrTarget)
	}
	host := strings.ToLower(u.Hostname())
	if ip, err := netip.ParseAddr(host); err == nil && !t.Permits(ip) || host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return fmt.Errorf("%w: %s is a loopback, link-local or private address (allow it in webhook_allow)", ErrTarget, host)
	}
	return nil
}

// Client is an HTTP client for webhooks: it connects only to addresses
// Targets permits, as resolved at connection time (no DNS rebinding), follows
// no redirect (a 3xx is a failed attempt) and uses no proxy from the
// environment.
func (t Targets) Client(timeout time.Duration) *http.Client {
	dialer := &net.Dialer{Timeout: timeout, Control: func(_, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil || !t.Permits(ap.Addr()) {
			return fmt.Errorf("%w: %s", ErrTarget, address)
		}
		return nil
	}}
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			DialContext:         dialer.DialContext,
			TLSHandshakeTimeout: timeout, MaxIdleConnsPerHost: 4, IdleConnTimeout: time.Minute,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
