package api_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/signoff/signoff/api"
	"github.com/signoff/signoff/app"
	"github.com/signoff/signoff/errs"
	"github.com/signoff/signoff/storage"
	"github.com/signoff/signoff/testenv"
)

// Tests at the edge of the API: what /readyz tells strangers, trailing
// slashes, and the review assets folder.

// TestReadyzHidesErrorDetail: when Postgres and Temporal do not answer, /readyz (open to anyone) says
// which dependency failed with the word "unavailable" and nothing of the underlying error (addresses,
// driver messages); the error itself is logged.
func TestReadyzHidesErrorDetail(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	port := strconv.Itoa(testenv.FreePort(t)) // nothing listens there
	pool, err := pgxpool.New(context.Background(), "postgres://signoff@127.0.0.1:"+port+"/nowhere?connect_timeout=2")
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	temporal, err := client.NewLazyClient(client.Options{HostPort: "127.0.0.1:" + port})
	require.NoError(t, err)
	t.Cleanup(temporal.Close)
	core, logs := observer.New(zapcore.DebugLevel)

	srv := e.serverWith(func(a *app.App) { a.Store, a.Temporal = storage.New(pool), temporal })
	srv.Log = zap.New(core)
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))

	body := decodeObject(t, rec)
	requireError(t, rec.Code, body, http.StatusServiceUnavailable, string(errs.NotReady))
	require.Equal(t, map[string]any{"postgres": "unavailable", "temporal": "unavailable"}, body["checks"])
	raw := rec.Body.String()
	for _, leak := range []string{port, "127.0.0.1", "dial", "refused", "connect", "nowhere", "signoff@"} {
		require.NotContains(t, raw, leak, "the answer must not reveal the error")
	}

	// The operator finds the detail in the log, with the request id of the answer.
	for _, dep := range []string{"postgres", "temporal"} {
		found := logs.FilterMessageSnippet(dep).FilterField(zap.String("request_id", rec.Header().Get(api.RequestIDHeader))).All()
		require.NotEmpty(t, found, "the %s failure is logged", dep)
		var detail string
		for _, f := range found[0].Context {
			if f.Key == "error" {
				detail = f.Interface.(error).Error()
			}
		}
		if dep == "postgres" {
			require.Contains(t, detail, port, "the log keeps the driver's error")
		} else {
			require.NotEmpty(t, detail, "the log keeps the client's error")
		}
	}

	// Healthy, it still answers "ok" for each.
	status, ok := e.do(t, http.MethodGet, "/readyz", "", nil)
	require.Equal(t, http.StatusOK, status, ok)
	require.Equal(t, map[string]any{"postgres": "ok", "temporal": "ok"}, ok["checks"])
}

// TestTrailingSlashIsJSON404: a known path with a trailing slash added is not an endpoint. It answers
// the JSON 404 of every unknown path, with no redirect and no HTML, whatever the method, and changes
// nothing.
func TestTrailingSlashIsJSON404(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.A.Tokens[storage.RoleAdmin]
	c := e.newCampaign(t, e.A, storage.RoleAdmin, "Slash")
	before := dbState(t, e.pool)
	for _, r := range []struct{ method, path string }{
		{http.MethodGet, "/healthz/"},
		{http.MethodGet, "/readyz/"},
		{http.MethodGet, "/openapi.yaml/"},
		{http.MethodGet, "/v1/me/"},
		{http.MethodGet, "/v1/campaigns/"},
		{http.MethodPost, "/v1/campaigns/"},
		{http.MethodGet, "/v1/campaigns/" + c.ID + "/"},
		{http.MethodPatch, "/v1/campaigns/" + c.ID + "/"},
		{http.MethodDelete, "/v1/campaigns/" + c.ID + "/"},
		{http.MethodGet, "/v1/campaigns/" + c.ID + "/launches/"},
		{http.MethodGet, "/V1/ME"},
		{http.MethodGet, "/v1//me"},
	} {
		rec := e.request(t, r.method, r.path, tok, map[string]any{"name": "x"})
		require.Empty(t, rec.Header().Get("Location"), "%s %s redirects", r.method, r.path)
		require.NotContains(t, rec.Body.String(), "<a href", "%s %s", r.method, r.path)
		requireError(t, rec.Code, decodeObject(t, rec), http.StatusNotFound, string(errs.NotFound))
	}
	requireNoWrites(t, e.pool, before)
}

// TestReviewAssetsDoNotList: the review page's assets are served one file at a time; the folder itself,
// with or without a trailing slash or dot segments, answers a JSON 404 and lists nothing.
func TestReviewAssetsDoNotList(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, f := range []string{"review.css", "review.js"} {
		rec := e.request(t, http.MethodGet, "/review-assets/"+f, "", nil)
		require.Equal(t, http.StatusOK, rec.Code, f)
		require.NotEmpty(t, rec.Body.String(), f)
	}
	for _, p := range []string{"/review-assets/", "/review-assets", "/review-assets/.", "/review-assets/./",
		"/review-assets/review.css/", "/review-assets/nothing.js", "/review-assets/../review-assets/"} {
		rec := e.request(t, http.MethodGet, p, "", nil)
		require.Empty(t, rec.Header().Get("Location"), "%s redirects", p)
		require.False(t, strings.Contains(rec.Body.String(), "review.css") || strings.Contains(rec.Body.String(), "review.js"),
			"%s lists the folder: %s", p, rec.Body.String())
		requireError(t, rec.Code, decodeObject(t, rec), http.StatusNotFound, string(errs.NotFound))
	}
}
