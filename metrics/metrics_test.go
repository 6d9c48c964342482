package metrics_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/signoff/signoff/metrics"
	"github.com/signoff/signoff/storage"
)

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	b, _ := io.ReadAll(rec.Body)
	return rec.Code, string(b)
}

// TestHealthAndReadiness: /healthz is 200 while the process runs; /readyz is 200 while its
// dependencies answer, 503 when one does not, and 503 from SetDraining on (R-OPS-1).
func TestHealthAndReadiness(t *testing.T) {
	m, err := metrics.New(nil)
	require.NoError(t, err)
	var down atomic.Bool
	h := m.Handler(func(context.Context) error {
		if down.Load() {
			return errors.New("postgres is down")
		}
		return nil
	})
	status, _ := get(t, h, "/healthz")
	require.Equal(t, http.StatusOK, status)
	status, body := get(t, h, "/readyz")
	require.Equal(t, http.StatusOK, status, body)

	down.Store(true)
	status, body = get(t, h, "/readyz")
	require.Equal(t, http.StatusServiceUnavailable, status, body)
	require.NotContains(t, body, "postgres is down", "the error goes to no one who asks")
	down.Store(false)

	m.SetDraining()
	status, body = get(t, h, "/readyz")
	require.Equal(t, http.StatusServiceUnavailable, status, body)
	require.Contains(t, body, "draining")
	status, _ = get(t, h, "/healthz")
	require.Equal(t, http.StatusOK, status, "a draining process is alive")
}

// TestSignoffMetricsAreExported: every metric R-OPS-1 names is on /metrics, the counters with their
// known labels at zero, alongside Go's runtime metrics.
func TestSignoffMetricsAreExported(t *testing.T) {
	m, err := metrics.New(nil)
	require.NoError(t, err)
	require.NoError(t, m.RegisterPending(func(context.Context) (int64, error) { return 7, nil }, time.Second))
	m.ObserveHTTP("/v1/approval-requests/:id/approve", http.MethodPost, http.StatusOK, 30*time.Millisecond)
	m.DecisionRecorded(storage.EventApproved)
	m.DraftBuilt(metrics.DraftReady, 2*time.Second)
	m.WebhookDelivery(metrics.WebhookDelivered)
	_, body := get(t, m.Handler(nil), "/metrics")
	for _, want := range []string{
		`signoff_http_requests_total{method="POST",route="/v1/approval-requests/:id/approve",status="200"} 1`,
		`signoff_http_request_duration_seconds_count{method="POST",route="/v1/approval-requests/:id/approve",status="200"} 1`,
		`signoff_approval_requests_pending 7`,
		`signoff_decisions_total{type="approved"} 1`,
		`signoff_decisions_total{type="rejected"} 0`,
		`signoff_draft_builds_total{outcome="ready"} 1`,
		`signoff_draft_builds_total{outcome="failed"} 0`,
		`signoff_draft_build_seconds_sum 2`,
		`signoff_draft_build_seconds_count 1`,
		`signoff_webhook_deliveries_total{outcome="delivered"} 1`,
		`signoff_webhook_deliveries_total{outcome="failed"} 0`,
	} {
		require.Contains(t, body, want+"\n")
	}
	require.Contains(t, body, "\ngo_goroutines ", "Go's runtime metrics")
}

// TestDecisionTypesAreStorages: the type labels are the decision events storage records.
func TestDecisionTypesAreStorages(t *testing.T) {
	require.ElementsMatch(t, []string{storage.EventApproved, storage.EventRejected, storage.EventCancelled,
		storage.EventTimedOut, storage.EventApproverExpired, storage.EventAutoApproved}, metrics.DecisionTypes)
}

// TestPendingIsCachedBriefly: scrapes within maxAge cost one query; a later scrape queries again; a
// failed query fails the scrape instead of exporting a stale or zero count.
func TestPendingIsCachedBriefly(t *testing.T) {
	m, err := metrics.New(nil)
	require.NoError(t, err)
	var queries atomic.Int64
	var fail atomic.Bool
	require.NoError(t, m.RegisterPending(func(context.Context) (int64, error) {
		if fail.Load() {
			return 0, errors.New("postgres is down")
		}
		return queries.Add(1), nil
	}, 200*time.Millisecond))
	h := m.Handler(nil)
	for range 3 {
		_, body := get(t, h, "/metrics")
		require.Contains(t, body, "signoff_approval_requests_pending 1\n")
	}
	require.Equal(t, int64(1), queries.Load())
	time.Sleep(250 * time.Millisecond)
	_, body := get(t, h, "/metrics")
	require.Contains(t, body, "signoff_approval_requests_pending 2\n")

	time.Sleep(250 * time.Millisecond)
	fail.Store(true)
	status, body := get(t, h, "/metrics")
	require.Equal(t, http.StatusInternalServerError, status, body)
	require.False(t, strings.Contains(body, "signoff_approval_requests_pending 2\n"))
}

// TestNilMetricsRecordNothing: code running without metrics (tests, tools) calls the same methods.
func TestNilMetricsRecordNothing(t *testing.T) {
	var m *metrics.Metrics
	m.ObserveHTTP("/x", http.MethodGet, 200, time.Millisecond)
	m.DecisionRecorded(storage.EventApproved)
	m.DraftBuilt(metrics.DraftReady, time.Second)
	m.WebhookDelivery(metrics.WebhookFailed)
	m.SetDraining()
	require.False(t, m.Draining())
	require.NotNil(t, m.TemporalHandler())
	require.NoError(t, m.RegisterPending(nil, time.Second))
	require.NoError(t, m.Close(context.Background()))
}
