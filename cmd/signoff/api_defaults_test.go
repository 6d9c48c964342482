package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/signoff/signoff/sharelink"
	"github.com/signoff/signoff/storage"
	"github.com/signoff/signoff/testenv"
	"github.com/signoff/signoff/workflows"
)

// TestAPICommandDefaults runs the real `signoff api` twice on one database, configured only by what
// an operator sets: R-AUTH-4 (SIGNOFF_BOOTSTRAP_TOKEN makes sure account "default" has an admin with
// that token, idempotently across starts) and R-APPR-6's default window (without
// SIGNOFF_IMMEDIATE_APPROVAL_WINDOW a request for a journey starting now times out after 2 hours).
func TestAPICommandDefaults(t *testing.T) {
	bin := testenv.BuildSignoff(t)
	dbURL := testenv.DatabaseURL(t)
	bootstrapToken := "so_bootstrap-" + strings.Repeat("k", 40)
	env := apiEnv(t, dbURL, map[string]string{
		"SIGNOFF_BOOTSTRAP_TOKEN": bootstrapToken,
		"SIGNOFF_SECRET_KEY":      sharelink.NewKey(),
	})
	ctx := context.Background()
	pool, err := storage.Connect(ctx, dbURL) // the processes' database, for counting rows
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	tc := testenv.Temporal(t)
	count := func(query string, args ...any) int {
		t.Helper()
		var n int
		require.NoError(t, pool.QueryRow(ctx, query, args...).Scan(&n), query)
		return n
	}

	var me struct {
		ID        string `json:"id"`
		AccountID string `json:"account_id"`
		Role      string `json:"role"`
		Active    bool   `json:"active"`
	}
	first := startAPI(t, bin, env)
	status, body := apiCall(t, first, http.MethodGet, "/v1/me", bootstrapToken, nil)
	require.Equal(t, http.StatusOK, status, "the bootstrap token signs in: %s", body)
	require.NoError(t, json.Unmarshal(body, &me), "%s", body)
	require.Equal(t, storage.RoleAdmin, me.Role, "%s", body)
	require.True(t, me.Active)
	require.Equal(t, 1, count(`SELECT count(*) FROM accounts WHERE name = 'default' AND id = $1`, me.AccountID),
		"the bootstrap admin belongs to account \"default\"")
	first.stop()

	// A second start on the same database changes nothing: one account "default", one admin, same user.
	second := startAPI(t, bin, env)
	defer second.stop()
	status, body = apiCall(t, second, http.MethodGet, "/v1/me", bootstrapToken, nil)
	require.Equal(t, http.StatusOK, status, "%s", body)
	var again struct {
		ID string `json:"id"`
	}
	require.NoError(t, json.Unmarshal(body, &again), "%s", body)
	require.Equal(t, me.ID, again.ID, "the same admin after a restart")
	require.Equal(t, 1, count(`SELECT count(*) FROM accounts WHERE name = 'default'`), "accounts named default")
	require.Equal(t, 1, count(`SELECT count(*) FROM users WHERE account_id = $1 AND role = 'admin'`, me.AccountID),
		"admins of account default")

	// R-APPR-6: the immediate window defaults to 2h.
	status, body = apiCall(t, second, http.MethodPost, "/v1/users", bootstrapToken,
		map[string]any{"email": "approver@default.test", "name": "Default Approver", "role": storage.RoleApprover})
	require.Equal(t, http.StatusCreated, status, "%s", body)
	var created struct {
		User struct {
			ID string `json:"id"`
		} `json:"user"`
	}
	require.NoError(t, json.Unmarshal(body, &created), "%s", body)
	status, body = apiCall(t, second, http.MethodPost, "/v1/campaigns", bootstrapToken, map[string]any{
		"name": "Journey starting now", "kind": storage.CampaignKindJourney, "mode": storage.CampaignModeActive,
		"end_at": time.Now().Add(30 * 24 * time.Hour).UTC().Format(time.RFC3339),
	})
	require.Equal(t, http.StatusCreated, status, "%s", body)
	var camp struct {
		ID string `json:"id"`
	}
	require.NoError(t, json.Unmarshal(body, &camp), "%s", body)
	before := time.Now()
	status, body = apiCall(t, second, http.MethodPost, "/v1/campaigns/"+camp.ID+"/approval-requests", bootstrapToken,
		map[string]any{"approver_ids": []string{created.User.ID}})
	after := time.Now()
	require.Equal(t, http.StatusCreated, status, "%s", body)
	var r storage.ApprovalRequest
	require.NoError(t, json.Unmarshal(body, &r), "%s", body)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = tc.TerminateWorkflow(ctx, workflows.ApprovalRequestWorkflowID(r.ID), "", "test cleanup")
	})
	require.Nil(t, r.LaunchAt, "a journey starting now launches on approval")
	// The handler read the clock between before and after; Postgres keeps microseconds.
	lo, hi := before.Add(2*time.Hour).Add(-time.Microsecond), after.Add(2*time.Hour).Add(time.Microsecond)
	require.Truef(t, !r.DeadlineAt.Before(lo) && !r.DeadlineAt.After(hi),
		"deadline_at %s is not 2h after the submission (between %s and %s)", r.DeadlineAt, lo, hi)
}

// apiEnv is the environment of a `signoff api` process on the test servers (testenv.ChildEnv): the
// database dbURL, the test's Temporal and a task queue of its own, plus vars.
func apiEnv(t *testing.T, dbURL string, vars map[string]string) []string {
	t.Helper()
	all := map[string]string{"DATABASE_URL": dbURL, "TEMPORAL_ADDRESS": testenv.TemporalAddress(t),
		"SIGNOFF_TASK_QUEUE": testenv.TaskQueue(t), "SIGNOFF_LOG_LEVEL": "warn"}
	for k, v := range vars {
		all[k] = v
	}
	return testenv.ChildEnv(all)
}

// apiRun is a running `signoff api`.
type apiRun struct {
	addr   string
	stderr *syncBuffer
	stop   func()
}

// startAPI starts `signoff api` on a free address with env and waits until /readyz answers 200.
func startAPI(t *testing.T, bin string, env []string) apiRun {
	t.Helper()
	addr := testenv.FreeAddr(t)
	out := &syncBuffer{}
	p := testenv.StartProcess(t, testenv.Command{Bin: bin, Args: []string{"api"},
		Env: append(append([]string(nil), env...), "SIGNOFF_HTTP_ADDR="+addr), Stdout: out, Stderr: out})
	waitReady(t, addr, p, out)
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		require.NoError(t, p.Interrupt(30*time.Second), "signoff api must exit cleanly on Ctrl-C; its output:\n%s", out.String())
	}
	return apiRun{addr: addr, stderr: out, stop: stop}
}

// apiCall sends one request with an optional JSON body and answers the status and body.
func apiCall(t *testing.T, run apiRun, method, path, token string, body any) (int, []byte) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(t, err)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, "http://"+run.addr+path, r)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err, "%s %s", method, path)
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, out
}
