package webhooks_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/signoff/signoff/webhooks"
)

// TestSignatureIsStandardWebhooks checks R-HOOK-2: the signature is v1, and the base64 HMAC-SHA256 of
// "<id>.<timestamp>.<body>" keyed by the bytes of the whsec_ secret, computed here independently.
func TestSignatureIsStandardWebhooks(t *testing.T) {
	secret, err := webhooks.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil || len(key) != 32 || !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("secret %q: want whsec_ and base64 of 32 bytes (%v)", secret, err)
	}
	body := []byte(`{"id":"e1","type":"campaign.launched"}`)
	got, err := webhooks.Sign(secret, "msg_1", 1700000000, body)
	if err != nil {
		t.Fatal(err)
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte("msg_1.1700000000." + string(body)))
	if want := "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil)); got != want {
		t.Fatalf("signature %q, want %q", got, want)
	}
	if !webhooks.Verify(secret, "msg_1", 1700000000, body, "v1,bogus "+got) {
		t.Fatal("Verify refused a valid signature among several")
	}
	if webhooks.Verify(secret, "msg_1", 1700000001, body, got) {
		t.Fatal("Verify accepted a signature of another timestamp")
	}
}

// TestCheckURL checks the registration rules of R-HOOK-5.
func TestCheckURL(t *testing.T) {
	for _, c := range []struct {
		url     string
		private bool
		ok      bool
	}{
		{"https://hooks.example.com/x", false, true},
		{"http://hooks.example.com/x", false, false},
		{"http://127.0.0.1:9000/x", true, true},
		{"https://127.0.0.1/x", false, false},
		{"https://169.254.169.254/latest", false, false},
		{"https://[::1]/x", false, false},
		{"https://10.1.2.3/x", false, false},
		{"ftp://example.com/x", true, false},
		{"https://user:pw@example.com/x", false, false},
		{"/relative", false, false},
	} {
		if err := webhooks.CheckURL(c.url, c.private); (err == nil) != c.ok {
			t.Errorf("CheckURL(%q, %v) = %v, want ok %v", c.url, c.private, err, c.ok)
		}
	}
}

// TestGuardRefusesPrivateAddresses checks R-HOOK-5 at connect time: with private addresses not allowed,
// loopback by address, the link-local metadata address, and a name that resolves to loopback are
// refused by the dialer, after resolution, and the receiver never sees a request.
func TestGuardRefusesPrivateAddresses(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { hits.Add(1) }))
	defer srv.Close()
	port := srv.URL[strings.LastIndex(srv.URL, ":")+1:]
	c := webhooks.NewClient(webhooks.Options{Timeout: 2 * time.Second})
	for _, u := range []string{
		"https://127.0.0.1:" + port + "/hook",
		"https://localhost:" + port + "/hook", // a name resolving to a private address: checked after resolution
		"https://169.254.169.254/latest/meta-data",
	} {
		_, err := c.Send(context.Background(), webhooks.Delivery{URL: u, Secret: "whsec_AAAA", ID: "e", Timestamp: time.Now(), Body: []byte("{}")})
		if !errors.Is(err, webhooks.ErrRefusedAddress) {
			t.Errorf("%s: error %v, want the guard's refusal", u, err)
		}
	}
	if _, err := c.Send(context.Background(), webhooks.Delivery{URL: "http://127.0.0.1:" + port, Secret: "whsec_AAAA", ID: "e", Body: []byte("{}")}); err == nil {
		t.Error("http URL accepted with private addresses not allowed")
	}
	if hits.Load() != 0 {
		t.Fatalf("the receiver got %d requests", hits.Load())
	}
	for _, a := range []string{"127.0.0.1", "::1", "10.0.0.1", "172.16.0.1", "192.168.1.1", "169.254.169.254", "fe80::1", "fc00::1", "100.64.0.1", "0.0.0.0", "::ffff:127.0.0.1"} {
		if !webhooks.Refused(netip.MustParseAddr(a)) {
			t.Errorf("%s not refused", a)
		}
	}
	if webhooks.Refused(netip.MustParseAddr("93.184.216.34")) {
		t.Error("a public address refused")
	}
}

// TestNoRedirectsBoundedReadTimeout checks the rest of R-HOOK-5 and the 10 s bound of R-HOOK-3 (shortened):
// a redirect (here to a private address) is not followed, an answer is read up to 64 KiB, a slow receiver
// times out, and the headers carry the id, timestamp and a valid signature.
func TestNoRedirectsBoundedReadTimeout(t *testing.T) {
	var target atomic.Int32
	inner := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { target.Add(1) }))
	defer inner.Close()
	secret, _ := webhooks.NewSecret()
	var sigOK atomic.Bool
	outer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ts, _ := strconv.ParseInt(r.Header.Get("webhook-timestamp"), 10, 64)
		sigOK.Store(r.Header.Get("webhook-id") == "evt" && webhooks.Verify(secret, "evt", ts, body, r.Header.Get("webhook-signature")))
		switch r.URL.Path {
		case "/redirect":
			http.Redirect(w, r, inner.URL+"/private", http.StatusFound)
		case "/big":
			_, _ = w.Write([]byte(strings.Repeat("x", 200<<10)))
		case "/slow":
			time.Sleep(1500 * time.Millisecond)
		}
	}))
	defer outer.Close()
	c := webhooks.NewClient(webhooks.Options{AllowPrivate: true, Timeout: time.Second})
	send := func(path string) (webhooks.Result, error) {
		return c.Send(context.Background(), webhooks.Delivery{URL: outer.URL + path, Secret: secret, ID: "evt", Timestamp: time.Now(), Body: []byte(`{"a":1}`)})
	}
	res, err := send("/redirect")
	if err != nil || res.StatusCode != http.StatusFound || target.Load() != 0 {
		t.Fatalf("redirect: %+v %v, target hit %d times; want the 302 itself, not followed", res.StatusCode, err, target.Load())
	}
	if !sigOK.Load() {
		t.Fatal("the receiver could not verify the signature")
	}
	if res, err = send("/big"); err != nil || len(res.Body) != webhooks.MaxAnswerBytes {
		t.Fatalf("big answer: %d bytes read, %v; want %d", len(res.Body), err, webhooks.MaxAnswerBytes)
	}
	start := time.Now()
	if _, err = send("/slow"); err == nil || time.Since(start) > 1400*time.Millisecond {
		t.Fatalf("slow receiver: %v after %v; want a timeout after about 1s", err, time.Since(start))
	}
}
