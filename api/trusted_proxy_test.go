package api_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/signoff/signoff/api"
	"github.com/signoff/signoff/app"
	"github.com/signoff/signoff/sharelink"
)

// TestRateLimitPerClientBehindTrustedProxy: behind a load balancer named in TrustedProxies
// (SIGNOFF_TRUSTED_PROXIES) every client gets its own per-address bucket, keyed by the right-most
// address of X-Forwarded-For that is not a trusted proxy; from any other peer, and in any other
// header, a forwarded address is ignored (R-REVIEW-7). The per-address bucket holds one request and
// refills once in about 30 years, so no answer depends on the clock.
func TestRateLimitPerClientBehindTrustedProxy(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const proxy, otherProxy = "10.0.0.1:5000", "10.0.0.2:5000"
	newHandler := func(trusted ...string) http.Handler {
		return (&api.Server{App: &app.App{Store: e.store, Temporal: e.server.App.Temporal, PublicURL: e.server.App.PublicURL, TaskQueue: e.server.App.TaskQueue}, Log: e.server.Log, TrustedProxies: trusted, ReviewTokenRate: 1e6, ReviewTokenBurst: 1e6, ReviewIPRate: 1e-9, ReviewIPBurst: 1}).Handler()
	}
	// send asks for an unknown review token (a fresh one each time, so only the address is limited)
	// from peer, with the header pairs given; it answers the status.
	send := func(h http.Handler, peer string, headers ...string) int {
		tok, _ := sharelink.NewToken()
		req := httptest.NewRequest(http.MethodGet, reviewPath(tok, ""), nil)
		req.RemoteAddr = peer
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	const (
		passed  = http.StatusNotFound // through the limiter to the token lookup
		limited = http.StatusTooManyRequests
	)
	type step struct {
		what    string
		peer    string
		headers []string
		want    int
	}
	cases := []struct {
		name    string
		trusted []string
		steps   []step
	}{
		{"two clients behind one trusted proxy get two buckets", []string{"10.0.0.0/8"}, []step{
			{"client 1", proxy, []string{"X-Forwarded-For", "203.0.113.1"}, passed},
			{"client 2, same proxy", proxy, []string{"X-Forwarded-For", "203.0.113.2"}, passed},
			{"client 1 again", proxy, []string{"X-Forwarded-For", "203.0.113.1"}, limited},
			{"client 1 through another trusted proxy", otherProxy, []string{"X-Forwarded-For", "203.0.113.1"}, limited},
			{"client 2 again", proxy, []string{"X-Forwarded-For", "203.0.113.2"}, limited},
			{"client 3 through two trusted hops", proxy, []string{"X-Forwarded-For", "203.0.113.3, 10.0.0.9"}, passed},
			{"client 3 through one hop", otherProxy, []string{"X-Forwarded-For", "203.0.113.3"}, limited},
		}},
		{"a client cannot forge its way past the proxy's entry", []string{"10.0.0.1"}, []step{
			{"client", proxy, []string{"X-Forwarded-For", "203.0.113.20"}, passed},
			// The client sent its own X-Forwarded-For; the proxy appended the real peer. The
			// right-most untrusted address is the client's.
			{"client with a forged first entry", proxy, []string{"X-Forwarded-For", "198.51.100.99, 203.0.113.20"}, limited},
		}},
		{"an untrusted peer's X-Forwarded-For is ignored", []string{"10.0.0.0/8"}, []step{
			{"untrusted peer", "198.51.100.7:4000", []string{"X-Forwarded-For", "203.0.113.30"}, passed},
			{"same peer, other forwarded address", "198.51.100.7:4000", []string{"X-Forwarded-For", "203.0.113.31"}, limited},
			{"the forwarded address itself was never charged", "203.0.113.30:4000", nil, passed},
		}},
		{"no trusted proxies: the peer is the client", nil, []step{
			{"proxy, client 1", proxy, []string{"X-Forwarded-For", "203.0.113.40"}, passed},
			{"proxy, client 2 shares the proxy's bucket", proxy, []string{"X-Forwarded-For", "203.0.113.41"}, limited},
		}},
		{"only X-Forwarded-For is read", []string{"10.0.0.0/8"}, []step{
			{"X-Real-IP from the proxy", proxy, []string{"X-Real-IP", "203.0.113.50"}, passed},
			{"another X-Real-IP: still the proxy's bucket", proxy, []string{"X-Real-IP", "203.0.113.51"}, limited},
			{"the X-Real-IP address was never charged", proxy, []string{"X-Forwarded-For", "203.0.113.50"}, passed},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHandler(tc.trusted...)
			for i, s := range tc.steps {
				require.Equal(t, s.want, send(h, s.peer, s.headers...), "step %d: %s", i+1, s.what)
			}
		})
	}
}
