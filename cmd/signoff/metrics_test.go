package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/signoff/signoff/demodata"
	"github.com/signoff/signoff/sharelink"
	"github.com/signoff/signoff/storage"
	"github.com/signoff/signoff/testenv"
	"github.com/signoff/signoff/workflows"
)

// TestMetricsOfAPIAndWorker runs the real `signoff api` and `signoff worker`, each with its own
// SIGNOFF_METRICS_ADDR, and checks R-OPS-1 on what they serve there: after a submit and an approve
// the worker's signoff_decisions_total{type="approved"} went up by exactly one, the API's latency
// histogram has the approve route under its template (no id), both carry the Temporal SDK's metrics
// and Go's runtime, and signoff_approval_requests_pending follows the database; a draft build counts
// signoff_draft_builds_total{outcome="ready"} and observes signoff_draft_build_seconds; the webhook
// counter is registered; /healthz answers 200; /readyz answers 200, then 503 while a process drains
// after SIGTERM, before it stops.
func TestMetricsOfAPIAndWorker(t *testing.T) {
	bin := testenv.BuildSignoff(t)
	dbURL := testenv.DatabaseURL(t)
	ctx := context.Background()
	pool, err := storage.Connect(ctx, dbURL)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	store := storage.New(pool)
	tc := testenv.Temporal(t)
	tn := testenv.NewTenant(t, store, "Metrics", "metrics.test")

	shared := map[string]string{"SIGNOFF_SECRET_KEY": sharelink.NewKey(), "SIGNOFF_TASK_QUEUE": testenv.TaskQueue(t),
		"SIGNOFF_DRAIN_DELAY": "3s"}
	workerMetrics, apiMetrics := testenv.FreeAddr(t), testenv.FreeAddr(t)
	workerOut := &syncBuffer{}
	worker := testenv.StartProcess(t, testenv.Command{Bin: bin, Args: []string{"worker"},
		Env: apiEnv(t, dbURL, with(shared, "SIGNOFF_METRICS_ADDR", workerMetrics)), Stdout: workerOut, Stderr: workerOut})
	waitReady(t, workerMetrics, worker, workerOut)
	api := startAPI(t, bin, apiEnv(t, dbURL, with(shared, "SIGNOFF_METRICS_ADDR", apiMetrics)))
	defer api.stop()
	for _, addr := range []string{workerMetrics, apiMetrics} {
		status, _ := get(t, "http://"+addr+"/healthz")
		require.Equal(t, http.StatusOK, status, "/healthz of %s", addr)
		status, body := get(t, "http://"+addr+"/readyz")
		require.Equal(t, http.StatusOK, status, "/readyz of %s: %s", addr, body)
	}
	approvedBefore := scrape(t, workerMetrics).value(`signoff_decisions_total{type="approved"}`)

	// A submit and an approve through the API.
	status, body := apiCall(t, api, http.MethodPost, "/v1/campaigns", tn.Tokens[storage.RoleAdmin], map[string]any{
		"name": "Measured journey", "kind": storage.CampaignKindJourney, "mode": storage.CampaignModeActive,
		"end_at": time.Now().Add(30 * 24 * time.Hour).UTC().Format(time.RFC3339),
	})
	require.Equal(t, http.StatusCreated, status, "%s", body)
	var camp struct {
		ID string `json:"id"`
	}
	require.NoError(t, json.Unmarshal(body, &camp), "%s", body)
	status, body = apiCall(t, api, http.MethodPost, "/v1/campaigns/"+camp.ID+"/approval-requests", tn.Tokens[storage.RoleAdmin],
		map[string]any{"approver_ids": []string{tn.Users[storage.RoleApprover].ID}})
	require.Equal(t, http.StatusCreated, status, "%s", body)
	var req struct {
		ID string `json:"id"`
	}
	require.NoError(t, json.Unmarshal(body, &req), "%s", body)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = tc.TerminateWorkflow(ctx, workflows.ApprovalRequestWorkflowID(req.ID), "", "test cleanup")
	})
	// The gauge is read from Postgres, so the API process sees the request the database holds.
	require.Equal(t, 1.0, scrape(t, apiMetrics).value("signoff_approval_requests_pending"), "pending after the submit")

	status, body = apiCall(t, api, http.MethodPost, "/v1/approval-requests/"+req.ID+"/approve", tn.Tokens[storage.RoleApprover],
		map[string]any{"note": "ok"})
	require.Equal(t, http.StatusOK, status, "%s", body)

	w := scrape(t, workerMetrics)
	require.Equal(t, approvedBefore+1, w.value(`signoff_decisions_total{type="approved"}`),
		"the worker counts the one decision it recorded")
	require.Positive(t, w.sum("temporal_workflow_task_execution_latency_seconds_count"), "the SDK's workflow task latency")
	require.Positive(t, w.sum("temporal_local_activity_execution_latency_seconds_count"),
		"the SDK's latency of the local activity that recorded the decision")
	require.Positive(t, w.value("go_goroutines"), "Go runtime metrics")
	require.True(t, w.has("signoff_webhook_deliveries_total"), "the webhook counter is registered")
	require.True(t, w.has("signoff_approval_requests_pending"), "the worker reports the gauge too")

	a := scrape(t, apiMetrics)
	approveRoute := `route="/v1/approval-requests/:id/approve",status="200"`
	require.Equal(t, 1.0, a.value(`signoff_http_request_duration_seconds_count{method="POST",`+approveRoute+`}`),
		"one approve in the latency histogram, under the route template")
	require.Equal(t, 1.0, a.value(`signoff_http_request_duration_seconds_bucket{method="POST",`+approveRoute+`,le="+Inf"}`))
	require.Equal(t, 1.0, a.value(`signoff_http_requests_total{method="POST",`+approveRoute+`}`))
	require.Positive(t, a.sum("temporal_request_total"), "the API's Temporal client reports the SDK's metrics")
	require.Positive(t, a.value("go_goroutines"))
	for _, line := range a.lines {
		require.NotContains(t, line, req.ID, "no id in a label")
	}
	require.Eventually(t, func() bool { return scrape(t, apiMetrics).value("signoff_approval_requests_pending") == 0 },
		15*time.Second, 250*time.Millisecond, "the gauge follows the database once its short cache expires")

	// A draft build.
	_, err = store.InsertContacts(ctx, tn.Account.ID, demodata.Contacts(40))
	require.NoError(t, err)
	search, err := store.CreateSavedSearch(ctx, tn.Account.ID, tn.Users[storage.RoleCSM].ID, "Everyone", storage.SearchFilters{})
	require.NoError(t, err)
	draftCamp, err := store.CreateCampaign(ctx, tn.Account.ID, tn.Users[storage.RoleCSM].ID, storage.NewCampaign{
		Name: "Measured draft", Kind: storage.CampaignKindCampaign, Mode: storage.CampaignModeActive, Content: testenv.CampaignContent()})
	require.NoError(t, err)
	buildsBefore, secondsBefore := w.value(`signoff_draft_builds_total{outcome="ready"}`), w.value("signoff_draft_build_seconds_count")
	status, body = apiCall(t, api, http.MethodPost, "/v1/campaigns/"+draftCamp.ID+"/approval-drafts", tn.Tokens[storage.RoleCSM],
		map[string]any{"source": map[string]any{"type": "saved_search", "saved_search_id": search.ID}, "contact_count": 5})
	require.Equal(t, http.StatusAccepted, status, "%s", body)
	var draft struct {
		ID string `json:"id"`
	}
	require.NoError(t, json.Unmarshal(body, &draft), "%s", body)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = tc.TerminateWorkflow(ctx, workflows.ApprovalDraftWorkflowID(draft.ID), "", "test cleanup")
	})
	require.Eventually(t, func() bool {
		d, err := store.Draft(ctx, tn.Account.ID, draft.ID)
		require.NoError(t, err)
		require.NotEqual(t, storage.DraftStatusFailed, d.Status, "the build failed")
		return d.Status == storage.DraftStatusReady
	}, time.Minute, 200*time.Millisecond, "the draft is built")
	w = scrape(t, workerMetrics)
	require.Equal(t, buildsBefore+1, w.value(`signoff_draft_builds_total{outcome="ready"}`))
	require.Equal(t, secondsBefore+1, w.value("signoff_draft_build_seconds_count"))
	require.Positive(t, w.value("signoff_draft_build_seconds_sum"))

	// SIGTERM: /readyz answers 503 while the worker drains, before it stops.
	require.NoError(t, syscall.Kill(worker.Pid(), syscall.SIGTERM))
	sawDraining := false
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline) && !worker.Exited(); {
		if status, _ := get(t, "http://"+workerMetrics+"/readyz"); status == http.StatusServiceUnavailable {
			sawDraining = true
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	require.True(t, sawDraining, "/readyz never answered 503 while the worker drained; its output:\n%s", workerOut.String())
	status, _ = get(t, "http://"+workerMetrics+"/healthz")
	require.Equal(t, http.StatusOK, status, "the process still runs while it drains")
	select {
	case <-worker.Done():
		require.NoError(t, worker.Err(), "the worker exits cleanly after draining; its output:\n%s", workerOut.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("the worker did not stop within 30s of SIGTERM; its output:\n%s", workerOut.String())
	}
}

// with answers a copy of vars with key set to value.
func with(vars map[string]string, key, value string) map[string]string {
	out := map[string]string{key: value}
	for k, v := range vars {
		if k != key {
			out[k] = v
		}
	}
	return out
}

// get sends a GET and answers the status (0 when nothing answered) and body.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// samples is one scrape of /metrics: every sample line, and the values by series as the text
// format writes them (labels sorted by name, a histogram's le last).
type samples struct {
	lines  []string
	values map[string]float64
}

var sampleRe = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{.*\})?) (\S+)$`)

// scrape reads /metrics at addr.
func scrape(t *testing.T, addr string) samples {
	t.Helper()
	status, body := get(t, "http://"+addr+"/metrics")
	require.Equal(t, http.StatusOK, status, "/metrics of %s: %s", addr, body)
	s := samples{values: map[string]float64{}}
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		m := sampleRe.FindStringSubmatch(line)
		require.NotNil(t, m, "not a sample line: %q", line)
		v, err := strconv.ParseFloat(m[2], 64)
		require.NoError(t, err, line)
		s.lines = append(s.lines, line)
		s.values[m[1]] = v
	}
	return s
}

// value is the value of one series; an absent series is 0.
func (s samples) value(series string) float64 { return s.values[series] }

// sum adds up every series of metric name, whatever its labels.
func (s samples) sum(name string) float64 {
	var n float64
	for k, v := range s.values {
		if k == name || strings.HasPrefix(k, name+"{") {
			n += v
		}
	}
	return n
}

// has reports whether the scrape has a sample of metric name.
func (s samples) has(name string) bool {
	for k := range s.values {
		if k == name || strings.HasPrefix(k, name+"{") {
			return true
		}
	}
	return false
}
