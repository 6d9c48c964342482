package chaos_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/signoff/signoff/activities"
	"github.com/signoff/signoff/ai"
	"github.com/signoff/signoff/storage"
	"github.com/signoff/signoff/testenv"
	"github.com/signoff/signoff/testenv/testworker"
	"github.com/signoff/signoff/workers"
	"github.com/signoff/signoff/workflows"
)

// apiKillPlan is the shape of one run of TestChaosAPIKill.
type apiKillPlan struct {
	form      string
	ops       int           // logical client operations, each with its own Idempotency-Keys
	submitPct int           // share (in %) of operations that also submit their campaign for approval
	kills     int           // kill -9 of the API, each followed by a restart on the same port
	killMin   time.Duration // jitter between a restart (healthy again) and the next kill
	killMax   time.Duration
	burst     time.Duration // each batch of operations starts within this window before its kill
	deadline  time.Duration // per operation: retries stop after it
	// ageLeases: right after each kill (before the restart) the test moves the claim time of every
	// unanswered Idempotency-Key back by the lease, as if the 30 s lease had run out for the requests
	// of the dead process. The short form does it to stay well under a minute; the full form waits
	// the real lease.
	ageLeases bool
}

func apiKillPlanFromEnv() apiKillPlan {
	p := apiKillPlan{form: "short", ops: 40, submitPct: 40, kills: 2, killMin: 100 * time.Millisecond,
		killMax: 800 * time.Millisecond, deadline: 60 * time.Second, ageLeases: true}
	if chaosFull() {
		p.form, p.ops, p.kills, p.deadline, p.ageLeases = "full", 200, 6, 90*time.Second, false
	}
	p.burst = 80 * time.Millisecond
	return p
}

// TestChaosAPIKill is the API case: kill -9 the API while requests are in flight. Every request
// that got a 2xx is fully applied, and clients retrying with the same Idempotency-Key (and body) on
// connection errors, 5xx and 409 idempotency_in_progress end with exactly one of everything.
func TestChaosAPIKill(t *testing.T) {
	plan := apiKillPlanFromEnv()
	t.Logf("form %s: %d operations (%d%% also submit), %d kills every %s–%s after a restart, each batch of ops started within %s before its kill, lease aged by the test: %v",
		plan.form, plan.ops, plan.submitPct, plan.kills, plan.killMin, plan.killMax, plan.burst, plan.ageLeases)
	testStart := time.Now()
	bin := testenv.BuildSignoff(t)

	ctx := context.Background()
	dbURL := testenv.DatabaseURL(t)
	pool, err := storage.Connect(ctx, dbURL)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	store := storage.New(pool)
	fx := newChaosFixture(t, store, "API Chaos Inc", 0, 0, 0)

	key, sealer := testenv.SecretKey(t)
	tc := testenv.Temporal(t)
	queue := testenv.TaskQueue(t)

	// The worker runs in-process: only the API is killed here.
	testworker.Start(t, tc, queue, &activities.Activities{Store: store, Log: testenv.Logger(t).Named("activities"),
		Sealer: sealer, AI: ai.NewPipeline(&ai.Local{}, nil)}, testworker.Options{})

	addr := testenv.FreeAddr(t)
	sup := superviseAPI(t, bin, addr, map[string]string{
		"DATABASE_URL":       dbURL,
		"TEMPORAL_ADDRESS":   testenv.TemporalAddress(t),
		"SIGNOFF_HTTP_ADDR":  addr,
		"SIGNOFF_SECRET_KEY": key,
		"SIGNOFF_TASK_QUEUE": queue,
		"SIGNOFF_LOG_LEVEL":  "warn",
	})
	// Registered after the supervisor's and the worker's cleanups, so it runs before them.
	results := make([]*apiKillOp, plan.ops)
	t.Cleanup(func() { apiKillTerminate(tc, results) })

	sup.Start()
	base := "http://" + addr
	httpc := &http.Client{Timeout: 10 * time.Second}

	chaosStart := time.Now()
	var wg sync.WaitGroup
	var started, finished atomic.Int64
	launch := func(op *apiKillOp, delay time.Duration) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(delay)
			started.Add(1)
			defer finished.Add(1)
			op.run(base, fx, httpc, plan.deadline)
		}()
	}
	for i := range plan.ops {
		results[i] = &apiKillOp{
			index: i,
			name:  fmt.Sprintf("API chaos %03d %s", i+1, uuid.NewString()[:8]),
			// Roughly submitPct of the operations submit, spread evenly over the indices.
			submit:    (i*plan.submitPct)/100 != ((i+1)*plan.submitPct)/100,
			createKey: uuid.NewString(),
			submitKey: uuid.NewString(),
		}
	}

	// The operations start in K batches, each spread over the last moments before a kill, so every
	// kill lands on requests in flight (claimed keys, open transactions, Temporal starts).
	for k := range plan.kills {
		interval := jitter(plan.killMin, plan.killMax)
		window := min(interval, plan.burst)
		time.Sleep(interval - window)
		for i := k * plan.ops / plan.kills; i < (k+1)*plan.ops/plan.kills; i++ {
			launch(results[i], jitter(0, window))
		}
		time.Sleep(window)
		inFlight := apiKillInFlight.Load()
		at := time.Since(chaosStart)
		sup.Kill()
		aged := int64(0)
		if plan.ageLeases {
			aged = testenv.Fixtures{Pool: pool}.AgeUnansweredIdempotencyKeys(t, storage.IdempotencyLease)
		}
		down := time.Now()
		sup.Start()
		t.Logf("kill %d at %s: %d ops started, %d done, %d HTTP requests in flight; %d unanswered keys aged; healthy again in %s",
			k+1, at.Round(time.Millisecond), started.Load(), finished.Load(), inFlight, aged, time.Since(down).Round(time.Millisecond))
	}
	lastRestart := time.Since(chaosStart)

	// Let the clients finish against the last API process, failing loudly if it dies on its own.
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for waiting := true; waiting; {
		select {
		case <-done:
			waiting = false
		case <-time.After(250 * time.Millisecond):
			sup.RequireAlive()
		}
	}
	elapsed := time.Since(chaosStart)

	var retries, conflicts, replays, submits int
	var failed []string
	for _, op := range results {
		retries += op.retries
		conflicts += op.inProgress
		replays += op.replays
		if op.submit {
			submits++
		}
		if op.err != "" {
			failed = append(failed, fmt.Sprintf("op %d (%q, submit %v): %s", op.index+1, op.name, op.submit, op.err))
		}
	}
	t.Logf("%d ops (%d with a submit) done in %s (last restart at %s): %d retries, %d answered 409 idempotency_in_progress, %d replayed answers, %d kills, %d API starts",
		plan.ops, submits, elapsed.Round(time.Millisecond), lastRestart.Round(time.Millisecond), retries, conflicts, replays, sup.Kills(), sup.Started())
	if len(failed) > 0 {
		t.Errorf("%d of %d operations never got a 2xx:\n%s\nlast API log:\n%s", len(failed), plan.ops, strings.Join(failed, "\n"), sup.CurrentLog())
	}

	// The in-process worker runs no sweeper: sweep once, as the worker process would, then check.
	n, err := workers.Sweep(ctx, tc, store, queue, 0)
	require.NoError(t, err)
	t.Logf("the sweep started or signalled %d workflows", n)

	apiKillCheck(t, pool, tc, fx, results)
	apiKillCheckKeys(t, pool, base, fx, httpc, results, plan.deadline)
	t.Logf("elapsed: %s in all (build, fixture and chaos included)", time.Since(testStart).Round(time.Millisecond))
}

// apiKillOp is one logical client operation: create a campaign, and maybe submit it for approval.
type apiKillOp struct {
	index     int
	name      string
	submit    bool
	createKey string
	submitKey string
	createdAt time.Time // when the campaign's body was built (start_at/end_at derive from it)

	campaignID string
	requestID  string
	err        string // why the operation never got its 2xx
	retries    int
	inProgress int
	replays    int
}

func (op *apiKillOp) campaignBody() map[string]any {
	return map[string]any{
		"name": op.name, "kind": storage.CampaignKindCampaign, "mode": storage.CampaignModeActive,
		"start_at": op.createdAt.Add(time.Hour).UTC().Format(time.RFC3339),
		"end_at":   op.createdAt.Add(24 * time.Hour).UTC().Format(time.RFC3339),
	}
}

func (op *apiKillOp) submitBody(fx chaosFixture) map[string]any {
	return map[string]any{"approver_ids": []string{fx.approverID}, "note": "chaos " + op.name}
}

// run performs the operation, retrying each step with the same key and body until a 2xx or the deadline.
func (op *apiKillOp) run(base string, fx chaosFixture, hc *http.Client, deadline time.Duration) {
	op.createdAt = time.Now()
	until := time.Now().Add(deadline)
	var camp struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}
	if !op.call(base, "/v1/campaigns", op.createKey, op.campaignBody(), fx.collabToken, hc, until, &camp) {
		return
	}
	if camp.ID == "" || camp.Name != op.name {
		op.err = fmt.Sprintf("create answered campaign %q named %q", camp.ID, camp.Name)
		return
	}
	op.campaignID = camp.ID
	if !op.submit {
		return
	}
	var req struct {
		ID         string `json:"id"`
		CampaignID string `json:"campaign_id"`
	}
	if !op.call(base, "/v1/campaigns/"+camp.ID+"/approval-requests", op.submitKey, op.submitBody(fx), fx.collabToken, hc, until, &req) {
		return
	}
	if req.ID == "" || req.CampaignID != camp.ID {
		op.err = fmt.Sprintf("submit answered request %q of campaign %q (want campaign %s)", req.ID, req.CampaignID, camp.ID)
		return
	}
	op.requestID = req.ID
}

// call POSTs body with the key until a 2xx (decoded into out) or until; it records why in op.err otherwise.
func (op *apiKillOp) call(base, path, key string, body any, token string, hc *http.Client, until time.Time, out any) bool {
	status, answer, hdr, err := apiKillPost(hc, base+path, key, token, body)
	for attempt := 1; ; attempt++ {
		var code string
		if err == nil {
			var e struct {
				Error struct {
					Code string `json:"code"`
				} `json:"error"`
			}
			_ = json.Unmarshal(answer, &e)
			code = e.Error.Code
		}
		switch {
		case err == nil && status >= 200 && status < 300:
			if hdr.Get("Idempotent-Replayed") == "true" {
				op.replays++
			}
			if jerr := json.Unmarshal(answer, out); jerr != nil {
				op.err = fmt.Sprintf("POST %s answered %d with %q: %v", path, status, answer, jerr)
				return false
			}
			return true
		case err == nil && status < 500 && !(status == http.StatusConflict && code == "idempotency_in_progress"):
			op.err = fmt.Sprintf("POST %s (attempt %d) answered %d: %s", path, attempt, status, answer)
			return false
		}
		if time.Now().After(until) {
			op.err = fmt.Sprintf("POST %s: no 2xx after %d attempts; last: status %d, error %v, answer %s", path, attempt, status, err, answer)
			return false
		}
		wait := jitter(20*time.Millisecond, 150*time.Millisecond)
		if err == nil && status == http.StatusConflict {
			op.inProgress++
			if s, perr := strconv.Atoi(hdr.Get("Retry-After")); perr == nil {
				wait = max(wait, time.Duration(s)*time.Second)
			}
		}
		time.Sleep(wait)
		op.retries++
		status, answer, hdr, err = apiKillPost(hc, base+path, key, token, body)
	}
}

// apiKillInFlight counts the client requests not answered yet.
var apiKillInFlight atomic.Int64

// apiKillPost sends one keyed POST; it answers the status, the body and the headers.
func apiKillPost(hc *http.Client, url, key, token string, body any) (int, []byte, http.Header, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return 0, nil, nil, err
	}
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", key)
	apiKillInFlight.Add(1)
	defer apiKillInFlight.Add(-1)
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, nil, err
	}
	return resp.StatusCode, out, resp.Header, nil
}

// apiKillCheck makes the row-counting assertions of the case.
func apiKillCheck(t *testing.T, pool *pgxpool.Pool, tc client.Client, fx chaosFixture, ops []*apiKillOp) {
	t.Helper()
	ctx := context.Background()

	// Each operation's campaign exists exactly once under its name, and is the one its 2xx answered.
	names := map[string]int{}
	ids := map[string]string{}
	rows, err := pool.Query(ctx, `SELECT name, id::text FROM campaigns WHERE account_id = $1`, fx.accountID)
	require.NoError(t, err)
	for rows.Next() {
		var name, id string
		require.NoError(t, rows.Scan(&name, &id))
		names[name]++
		ids[name] = id
	}
	require.NoError(t, rows.Err())
	assert.Len(t, names, len(ops), "campaign names stored (one per operation, nothing else)")
	var dups []string
	for _, op := range ops {
		switch n := names[op.name]; {
		case n != 1:
			dups = append(dups, fmt.Sprintf("%q ×%d", op.name, n))
		case op.campaignID != "" && ids[op.name] != op.campaignID:
			t.Errorf("op %d: 2xx answered campaign %s but %q is stored as %s", op.index+1, op.campaignID, op.name, ids[op.name])
		}
	}
	sort.Strings(dups)
	assert.Empty(t, dups, "campaign names not stored exactly once")

	// Each submitted campaign has exactly one approval request, the one answered, pending with its
	// workflow running; campaigns not submitted have none.
	type reqRow struct {
		id, status     string
		workflowMarked bool
	}
	reqs := map[string][]reqRow{}
	rows, err = pool.Query(ctx, `SELECT campaign_id::text, id::text, status, workflow_started_at IS NOT NULL
		FROM approval_requests WHERE account_id = $1`, fx.accountID)
	require.NoError(t, err)
	for rows.Next() {
		var camp string
		var r reqRow
		require.NoError(t, rows.Scan(&camp, &r.id, &r.status, &r.workflowMarked))
		reqs[camp] = append(reqs[camp], r)
	}
	require.NoError(t, rows.Err())
	var checked, running int
	for _, op := range ops {
		camp := ids[op.name]
		got := reqs[camp]
		if !op.submit {
			assert.Empty(t, got, "op %d: a campaign never submitted has approval requests", op.index+1)
			continue
		}
		if op.requestID == "" {
			// The operation failed (reported above); its campaign may still hold a request.
			want := uuid.NewSHA1(uuid.NameSpaceURL, []byte("signoff:approval-request:/v1/campaigns/:id/approval-requests:"+fx.collabID+":"+op.submitKey)).String()
			var stored []string
			for _, r := range got {
				stored = append(stored, r.id+" ("+r.status+")")
			}
			t.Logf("op %d (no 2xx for its submit): campaign %s holds approval requests %v; the id derived from its key is %s",
				op.index+1, camp, stored, want)
			continue
		}
		if !assert.Len(t, got, 1, "op %d: approval requests of campaign %s", op.index+1, camp) {
			continue
		}
		r := got[0]
		checked++
		assert.Equal(t, op.requestID, r.id, "op %d: the stored request is the one answered", op.index+1)
		assert.Equal(t, storage.RequestStatusPending, r.status, "op %d: request %s status", op.index+1, r.id)
		assert.True(t, r.workflowMarked, "op %d: request %s has no workflow_started_at after the sweep", op.index+1, r.id)
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		desc, err := tc.DescribeWorkflowExecution(dctx, workflows.ApprovalRequestWorkflowID(r.id), "")
		cancel()
		if !assert.NoError(t, err, "op %d: workflow of request %s", op.index+1, r.id) {
			continue
		}
		st := desc.GetWorkflowExecutionInfo().GetStatus()
		if assert.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, st, "op %d: workflow of request %s", op.index+1, r.id) {
			running++
		}
	}
	var total int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM approval_requests WHERE account_id = $1`, fx.accountID).Scan(&total))
	t.Logf("%d campaigns stored for %d operations; %d approval requests stored, %d checked pending with a running workflow",
		len(names), len(ops), total, running)
	assert.Equal(t, checked, running, "requests whose workflow runs")
}

// apiKillCheckKeys checks the Idempotency-Keys of the operations that succeeded: each is stored,
// answered, or (when the process died between sending the 2xx and storing it) still claimed;
// a claim older than the lease is retried and must answer the same resource.
func apiKillCheckKeys(t *testing.T, pool *pgxpool.Pool, base string, fx chaosFixture, hc *http.Client, ops []*apiKillOp, deadline time.Duration) {
	t.Helper()
	ctx := context.Background()
	type keyRow struct {
		answered bool
		stale    bool
	}
	keys := map[string]keyRow{}
	rows, err := pool.Query(ctx, `SELECT key, status_code IS NOT NULL, created_at < now() - $2::interval
		FROM idempotency_keys WHERE user_id = $1`, fx.collabID, storage.IdempotencyLease.String())
	require.NoError(t, err)
	for rows.Next() {
		var k string
		var r keyRow
		require.NoError(t, rows.Scan(&k, &r.answered, &r.stale))
		keys[k] = r
	}
	require.NoError(t, rows.Err())
	var answered, claimed, stale int
	check := func(op *apiKillOp, key, path string, body any, wantID string) {
		r, ok := keys[key]
		if !assert.True(t, ok, "op %d: key %s of a 2xx answer is not stored", op.index+1, key) {
			return
		}
		switch {
		case r.answered:
			answered++
			return
		case !r.stale:
			claimed++
			return
		}
		stale++
		// A claim the dead process left: a retry must take it over and answer the same resource.
		var out struct {
			ID string `json:"id"`
		}
		retry := &apiKillOp{index: op.index}
		if assert.True(t, retry.call(base, path, key, body, fx.collabToken, hc, time.Now().Add(deadline), &out),
			"op %d: retry of a stale key: %s", op.index+1, retry.err) {
			assert.Equal(t, wantID, out.ID, "op %d: a retry of the stale key %s answers another resource", op.index+1, key)
		}
	}
	for _, op := range ops {
		if op.campaignID != "" {
			check(op, op.createKey, "/v1/campaigns", op.campaignBody(), op.campaignID)
		}
		if op.requestID != "" {
			check(op, op.submitKey, "/v1/campaigns/"+op.campaignID+"/approval-requests", op.submitBody(fx), op.requestID)
		}
	}
	t.Logf("keys of 2xx answers: %d answered, %d still claimed within the lease (the process died before storing the answer), %d stale claims retried",
		answered, claimed, stale)
}

// apiKillTerminate ends the approval workflows the case started, so none outlives the test.
func apiKillTerminate(tc client.Client, ops []*apiKillOp) {
	for _, op := range ops {
		if op == nil || op.requestID == "" {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = tc.TerminateWorkflow(ctx, workflows.ApprovalRequestWorkflowID(op.requestID), "", "chaos test over")
		cancel()
	}
}
