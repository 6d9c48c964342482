// Package webhooks signs and sends webhook deliveries (SPEC §6c): secrets and signatures as the
// Standard Webhooks 1.0 specification defines them (R-HOOK-2), and an HTTP client that refuses
// loopback, private and link-local addresses at connect time, after name resolution, follows no
// redirects and reads at most 64 KiB of an answer (R-HOOK-5).
package webhooks

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// SecretPrefix starts every endpoint secret: whsec_ then the base64 of 32 random bytes.
const SecretPrefix = "whsec_"

// MaxAnswerBytes is how much of a receiver's answer is read (R-HOOK-5).
const MaxAnswerBytes = 64 << 10

// DefaultTimeout bounds one attempt: connect, send and read the answer (R-HOOK-3).
const DefaultTimeout = 10 * time.Second

// ErrRefusedAddress is the error of a connection to an address the guard refuses.
var ErrRefusedAddress = errors.New("webhooks: address refused")

// NewSecret returns a new endpoint secret, whsec_ and the base64 of 32 random bytes.
func NewSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("webhooks: secret: %w", err)
	}
	return SecretPrefix + base64.StdEncoding.EncodeToString(b), nil
}

// secretKey is the HMAC key of a secret: the bytes its base64 part encodes.
func secretKey(secret string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, SecretPrefix))
	if err != nil {
		return nil, fmt.Errorf("webhooks: secret is not whsec_ and base64: %w", err)
	}
	return key, nil
}

// Sign returns the webhook-signature header value of a delivery: "v1," and the base64 HMAC-SHA256, keyed by
// the secret, of "<id>.<timestamp>.<body>".
func Sign(secret, id string, timestamp int64, body []byte) (string, error) {
	key, err := secretKey(secret)
	if err != nil {
		return "", err
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + strconv.FormatInt(timestamp, 10) + "."))
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil)), nil
}

// Verify reports whether header (one or more space-separated signatures) holds a valid v1 signature of
// the delivery, as a receiver checks it.
func Verify(secret, id string, timestamp int64, body []byte, header string) bool {
	want, err := Sign(secret, id, timestamp, body)
	if err != nil {
		return false
	}
	for _, sig := range strings.Fields(header) {
		if hmac.Equal([]byte(sig), []byte(want)) {
			return true
		}
	}
	return false
}

// CheckURL checks an endpoint URL when it is registered: https, or http when allowPrivate; a host; no
// user info; and, unless allowPrivate, not a literal address the guard refuses. Names are checked at
// connect time, after resolution.
func CheckURL(raw string, allowPrivate bool) error {
	u, err := checkShape(raw, allowPrivate)
	if err != nil {
		return err
	}
	if addr, err := netip.ParseAddr(u.Hostname()); err == nil && !allowPrivate && Refused(addr) {
		return errors.New("url must not point at a loopback, private or link-local address")
	}
	return nil
}

// checkShape checks the scheme, host, user info and fragment of an endpoint URL.
func checkShape(raw string, allowPrivate bool) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Hostname() == "" {
		return nil, errors.New("url must be an absolute URL with a host, such as https://example.com/hooks")
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && allowPrivate:
	default:
		return nil, errors.New("url must use https")
	}
	if u.User != nil {
		return nil, errors.New("url must not carry a user name or password")
	}
	if u.Fragment != "" {
		return nil, errors.New("url must not have a fragment")
	}
	return u, nil
}

// cgnat is the shared address space of RFC 6598, private in all but name.
var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// Refused reports whether the guard refuses a connection to addr: loopback, private (RFC 1918, RFC 4193,
// RFC 6598), link-local (which holds the cloud metadata address 169.254.169.254), unspecified or multicast.
func Refused(addr netip.Addr) bool {
	addr = addr.Unmap()
	return !addr.IsValid() || addr.IsLoopback() || addr.IsPrivate() || addr.IsLinkLocalUnicast() ||
		addr.IsLinkLocalMulticast() || addr.IsInterfaceLocalMulticast() || addr.IsMulticast() ||
		addr.IsUnspecified() || cgnat.Contains(addr)
}

// Options configure a Client.
type Options struct {
	// AllowPrivate (SIGNOFF_WEBHOOK_ALLOW_PRIVATE) lets deliveries reach loopback, private and link-local
	// addresses and http URLs: for development and tests, off in production.
	AllowPrivate bool
	// Timeout bounds one attempt; zero is DefaultTimeout.
	Timeout time.Duration
}

// Client sends deliveries through the guard.
type Client struct {
	http *http.Client
	opts Options
}

// NewClient returns a client with its own transport: no proxy (a proxy would connect for it, past the
// guard), the guard in the dialer, no redirects.
func NewClient(opts Options) *Client {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	dialer := &net.Dialer{Timeout: opts.Timeout, Control: func(network, address string, _ syscall.RawConn) error {
		if opts.AllowPrivate {
			return nil
		}
		ap, err := netip.ParseAddrPort(address)
		if err != nil || Refused(ap.Addr()) {
			return fmt.Errorf("%w: %s is loopback, private or link-local", ErrRefusedAddress, address)
		}
		return nil
	}}
	tr := &http.Transport{Proxy: nil, DialContext: dialer.DialContext, ForceAttemptHTTP2: true,
		TLSHandshakeTimeout: opts.Timeout, MaxIdleConnsPerHost: 4, IdleConnTimeout: 90 * time.Second}
	return &Client{opts: opts, http: &http.Client{Transport: tr, Timeout: opts.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// Delivery is one signed POST.
type Delivery struct {
	URL       string
	Secret    string
	ID        string // webhook-id: the event id, the same on every retry
	Timestamp time.Time
	Body      []byte
}

// Result is a receiver's answer: its status code (0 when none came) and up to MaxAnswerBytes of its body.
type Result struct {
	StatusCode int
	Body       []byte
	Duration   time.Duration
}

// Send POSTs d signed (R-HOOK-2). A connection refused by the guard, a timeout or a transport failure is
// an error; any answer, 2xx or not, is a Result.
func (c *Client) Send(ctx context.Context, d Delivery) (Result, error) {
	start := time.Now()
	// The address itself is the dialer's to check, after resolution.
	if _, err := checkShape(d.URL, c.opts.AllowPrivate); err != nil {
		return Result{}, fmt.Errorf("webhooks: %w", err)
	}
	ts := d.Timestamp.Unix()
	sig, err := Sign(d.Secret, d.ID, ts, d.Body)
	if err != nil {
		return Result{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL, bytes.NewReader(d.Body))
	if err != nil {
		return Result{}, fmt.Errorf("webhooks: request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Signoff-Webhooks/1")
	req.Header.Set("webhook-id", d.ID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("webhook-signature", sig)
	resp, err := c.http.Do(req)
	if err != nil {
		return Result{Duration: time.Since(start)}, fmt.Errorf("webhooks: post: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxAnswerBytes))
	res := Result{StatusCode: resp.StatusCode, Body: body, Duration: time.Since(start)}
	if err != nil {
		return res, fmt.Errorf("webhooks: read answer: %w", err)
	}
	return res, nil
}
