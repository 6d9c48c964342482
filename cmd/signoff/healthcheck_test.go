package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/signoff/signoff/activities"
	"github.com/signoff/signoff/config"
	"github.com/signoff/signoff/testenv"
	"github.com/signoff/signoff/testenv/testworker"
)

// TestHealthcheckAPI: `signoff healthcheck api` (the compose file's API healthcheck) succeeds when
// /healthz at SIGNOFF_HTTP_ADDR answers 200, also when the API listens on 0.0.0.0, and fails otherwise.
func TestHealthcheckAPI(t *testing.T) {
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		w.WriteHeader(status)
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	ctx := context.Background()
	require.NoError(t, runHealthcheck(ctx, config.Config{HTTPAddr: addr}, "api"))
	require.NoError(t, runHealthcheck(ctx, config.Config{HTTPAddr: strings.Replace(addr, "127.0.0.1", "0.0.0.0", 1)}, "api"))
	status = http.StatusServiceUnavailable
	require.ErrorContains(t, runHealthcheck(ctx, config.Config{HTTPAddr: addr}, "api"), "503")
	srv.Close()
	require.Error(t, runHealthcheck(ctx, config.Config{HTTPAddr: addr}, "api"), "nothing listens")
	require.Error(t, runHealthcheck(ctx, config.Config{HTTPAddr: addr}, "nonsense"))
}

// TestHealthcheckWorker: `signoff healthcheck worker` succeeds once a worker of this host polls the
// task queue, and fails for a queue nobody polls.
func TestHealthcheckWorker(t *testing.T) {
	ctx := context.Background()
	queue := testenv.TaskQueue(t)
	cfg := config.Config{TemporalAddress: testenv.TemporalAddress(t), TemporalNamespace: "default", TemporalCompression: "auto", TaskQueue: queue}
	require.ErrorContains(t, runHealthcheck(ctx, cfg, "worker"), "no worker of host")
	testworker.Start(t, testenv.Temporal(t), queue, &activities.Activities{}, testworker.Options{})
	require.Eventually(t, func() bool { return runHealthcheck(ctx, cfg, "worker") == nil }, 20*time.Second, 200*time.Millisecond)
}
