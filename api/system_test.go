package api_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/signoff/signoff/api"
	"github.com/signoff/signoff/app"
	"github.com/signoff/signoff/errs"
	"github.com/signoff/signoff/metrics"
	"github.com/signoff/signoff/storage"
	"github.com/signoff/signoff/testenv"
)

func TestHealthz(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	status, body := e.do(t, http.MethodGet, "/healthz", "", nil)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "ok", body["status"])
}

func TestReadyz(t *testing.T) {
	t.Parallel()
	e := newEnv(t)

	t.Run("both up", func(t *testing.T) {
		status, body := e.do(t, http.MethodGet, "/readyz", "", nil)
		require.Equal(t, http.StatusOK, status, "%v", body)
		require.Equal(t, "ready", body["status"])
		require.Equal(t, map[string]any{"postgres": "ok", "temporal": "ok"}, body["checks"])
	})

	t.Run("draining", func(t *testing.T) {
		m, err := metrics.New(nil)
		require.NoError(t, err)
		srv := e.serverWith(func(*app.App) {})
		srv.Metrics = m
		h := srv.Handler()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		m.SetDraining()
		rec = httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
		body := decodeObject(t, rec)
		requireError(t, rec.Code, body, http.StatusServiceUnavailable, string(errs.NotReady))
		require.Equal(t, "draining", body["status"])
		// Both answers were observed under the route template.
		rec = httptest.NewRecorder()
		m.Handler(nil).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		require.Contains(t, rec.Body.String(), `signoff_http_requests_total{method="GET",route="/readyz",status="200"} 1`)
		require.Contains(t, rec.Body.String(), `signoff_http_requests_total{method="GET",route="/readyz",status="503"} 1`)
	})

	t.Run("no temporal client", func(t *testing.T) {
		srv := e.serverWith(func(a *app.App) { a.Temporal = nil })
		h := srv.Handler()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
		body := decodeObject(t, rec)
		requireError(t, rec.Code, body, http.StatusServiceUnavailable, string(errs.NotReady))
		checks := body["checks"].(map[string]any)
		require.Equal(t, "ok", checks["postgres"])
		require.NotEqual(t, "ok", checks["temporal"])
		require.NotEmpty(t, rec.Header().Get(api.RequestIDHeader))
	})

	t.Run("postgres pool closed", func(t *testing.T) {
		pool, err := storage.Connect(context.Background(), testenv.DatabaseURL(t))
		require.NoError(t, err)
		pool.Close()
		srv := e.serverWith(func(a *app.App) { a.Store = storage.New(pool) })
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
		body := decodeObject(t, rec)
		requireError(t, rec.Code, body, http.StatusServiceUnavailable, string(errs.NotReady))
		checks := body["checks"].(map[string]any)
		require.NotEqual(t, "ok", checks["postgres"])
		require.Equal(t, "ok", checks["temporal"])
	})
}

func TestOpenAPIDocument(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rec := e.request(t, http.MethodGet, "/openapi.yaml", "", nil)
	require.Equal(t, http.StatusOK, rec.Code)
	require.Contains(t, rec.Header().Get("Content-Type"), "yaml")
}

func TestRequestID(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.A.Tokens[storage.RoleAdmin]

	// Every answer carries one, success or error, matched route or not (e.request checks presence).
	for _, c := range []struct{ method, path, token string }{
		{http.MethodGet, "/healthz", ""},
		{http.MethodGet, "/v1/me", tok},
		{http.MethodGet, "/v1/me", ""},
		{http.MethodGet, "/nowhere", ""},
		{http.MethodPut, "/healthz", ""},
	} {
		e.request(t, c.method, c.path, c.token, nil)
	}

	// Distinct requests get distinct ids.
	a := e.request(t, http.MethodGet, "/healthz", "", nil).Header().Get(api.RequestIDHeader)
	b := e.request(t, http.MethodGet, "/healthz", "", nil).Header().Get(api.RequestIDHeader)
	require.NotEqual(t, a, b)

	// A well-formed incoming id is echoed; a malformed one is replaced.
	got := e.request(t, http.MethodGet, "/healthz", "", nil, api.RequestIDHeader, "trace-123.abc_X").Header().Get(api.RequestIDHeader)
	require.Equal(t, "trace-123.abc_X", got)
	got = e.request(t, http.MethodGet, "/healthz", "", nil, api.RequestIDHeader, "bad id\twith spaces").Header().Get(api.RequestIDHeader)
	require.NotEqual(t, "bad id\twith spaces", got)
	require.NotEmpty(t, got)
}

func TestUnknownRouteAndMethod(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.A.Tokens[storage.RoleAdmin]

	for _, p := range []string{"/nowhere", "/v1/nowhere", "/v1/campaigns/x/y/z"} {
		status, body := e.do(t, http.MethodGet, p, tok, nil)
		requireError(t, status, body, http.StatusNotFound, string(errs.NotFound))
	}

	for _, c := range []struct{ method, path string }{
		{http.MethodPost, "/healthz"},
		{http.MethodPut, "/v1/me"},
		{http.MethodDelete, "/v1/users"},
		{http.MethodPut, "/v1/campaigns"},
		{http.MethodGet, "/v1/operator/accounts"},
		{http.MethodPost, "/v1/account/settings"},
	} {
		before := dbState(t, e.pool)
		status, body := e.do(t, c.method, c.path, tok, map[string]any{"name": "x"})
		requireError(t, status, body, http.StatusMethodNotAllowed, string(errs.MethodNotAllowed))
		requireNoWrites(t, e.pool, before)
	}
}
