package chaos_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.uber.org/zap"

	"github.com/signoff/signoff/activities"
	"github.com/signoff/signoff/ai"
	"github.com/signoff/signoff/api"
	"github.com/signoff/signoff/app"
	"github.com/signoff/signoff/demodata"
	"github.com/signoff/signoff/localenv"
	"github.com/signoff/signoff/logging"
	"github.com/signoff/signoff/schema"
	"github.com/signoff/signoff/storage"
	"github.com/signoff/signoff/testenv"
	"github.com/signoff/signoff/testenv/testworker"
	"github.com/signoff/signoff/workflows"
)

// The restart cases: restart Postgres while drafts build and decisions are made, and restart
// the Temporal dev server (SQLite persistence) while requests are pending. Both run on a Postgres
// cluster or a Temporal dev server of their own: the ones `make test` provides are shared by every
// package running in parallel and are never restarted.

// restartPostgresPlan is the shape of one run of TestChaosPostgresRestart.
type restartPostgresPlan struct {
	form      string
	drafts    int           // one campaign each
	contacts  int           // contact_count of each draft
	requests  int           // approval requests, one campaign each, approved during/after the outage
	restarts  int           // quick restarts (pg_ctl restart) while the builds run
	outage    time.Duration // a stop → start outage during which the approves are sent
	aiDelay   time.Duration // latency of each AI step per lead
	directory int
	deadline  time.Duration // from the end of the chaos until every draft has ended and every approve answered
}

func restartPostgresPlanFromEnv() restartPostgresPlan {
	p := restartPostgresPlan{form: "short", drafts: 6, contacts: 20, requests: 6, restarts: 1, outage: 1500 * time.Millisecond,
		aiDelay: 20 * time.Millisecond, directory: 500, deadline: 40 * time.Second}
	if chaosFull() {
		p.form, p.drafts, p.requests, p.restarts, p.outage, p.deadline = "full", 12, 12, 3, 3*time.Second, 2*time.Minute
	}
	return p
}

// TestChaosPostgresRestart is "restart Postgres during builds and decisions: everything
// recovers without manual steps". Drafts build and approval requests wait on a Postgres cluster of
// the test's own; it is restarted while the builds run, then stopped for a while during which the
// approves are sent (the API answers 5xx, the client retries), then started again. Every draft ends
// ready with its AI done (none fails), every approve ends 200 with one decision event,
// /readyz answers 503 during the outage and 200 after, and nothing is orphaned or duplicated.
func TestChaosPostgresRestart(t *testing.T) {
	plan := restartPostgresPlanFromEnv()
	t.Logf("form %s: %d drafts of %d contacts, %d approval requests, %d quick restarts + one %s outage, AI delay %s",
		plan.form, plan.drafts, plan.contacts, plan.requests, plan.restarts, plan.outage, plan.aiDelay)
	testStart := time.Now()
	ctx := context.Background()
	log := testenv.Logger(t)

	pgc := restartOwnPostgres(t, log)
	pool, err := storage.Connect(ctx, pgc.url())
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	_, err = schema.Migrate(ctx, pool)
	require.NoError(t, err)
	store := storage.New(pool)
	t.Logf("own postgres ready in %s", time.Since(testStart).Round(time.Millisecond))

	sealer := testenv.Sealer(t)
	tc := testenv.Temporal(t)
	queue := testenv.TaskQueue(t)
	fx := newChaosFixture(t, store, "Restart Inc", plan.directory, plan.drafts, plan.requests)

	srv := &api.Server{App: &app.App{Store: store, Temporal: tc, PublicURL: "http://chaos.test", TaskQueue: queue, Sealer: sealer, ImmediateApprovalWindow: 2 * time.Hour}, Log: log}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	wctx, stopWatch := context.WithCancel(context.Background())
	t.Cleanup(stopWatch)
	go func() { _ = srv.WatchReviews(wctx) }()
	csm := &apiClient{base: hs.URL, token: fx.csmToken}
	approver := &apiClient{base: hs.URL, token: fx.approverToken}
	anon := &apiClient{base: hs.URL}

	var draftIDs, requestIDs []string
	// Cleanups run last-in first-out: the worker stops first, then the workflows are terminated.
	t.Cleanup(func() { terminateDrafts(tc, draftIDs); restartTerminateRequests(tc, requestIDs) })
	testworker.Start(t, tc, queue, &activities.Activities{Store: store, Log: log.Named("worker"), Sealer: sealer,
		AI: ai.NewPipeline(&ai.Local{Delay: plan.aiDelay}, nil), BuildCapacity: 100}, testworker.Options{SweepEvery: time.Second})

	status, body := anon.do(http.MethodGet, "/readyz", nil)
	require.Equal(t, http.StatusOK, status, "readyz before the chaos: %s", body)

	// The approval requests first (they wait for the approver), then the drafts (they build).
	for i, campID := range fx.requestCampaigns {
		status, body := csm.do(http.MethodPost, "/v1/campaigns/"+campID+"/approval-requests",
			map[string]any{"approver_ids": []string{fx.approverID}, "note": fmt.Sprintf("chaos request %d", i+1)})
		require.Equal(t, http.StatusCreated, status, "request %d: %s", i+1, body)
		var r storage.ApprovalRequest
		require.NoError(t, json.Unmarshal(body, &r), "%s", body)
		require.Equal(t, storage.RequestStatusPending, r.Status)
		requestIDs = append(requestIDs, r.ID)
	}
	chaosStart := time.Now()
	for i, campID := range fx.draftCampaigns {
		status, body := csm.do(http.MethodPost, "/v1/campaigns/"+campID+"/approval-drafts", map[string]any{
			"source":        map[string]any{"type": "saved_search", "saved_search_id": fx.search},
			"contact_count": plan.contacts,
		})
		require.Equal(t, http.StatusAccepted, status, "draft %d: %s", i+1, body)
		var d struct {
			ID string `json:"id"`
		}
		require.NoError(t, json.Unmarshal(body, &d), "%s", body)
		draftIDs = append(draftIDs, d.ID)
	}
	t.Logf("submitted %d requests and %d drafts", len(requestIDs), len(draftIDs))

	// /readyz is polled through the whole chaos: it must answer 503 while Postgres is down.
	readyz := restartWatchReadyz(anon)

	// Quick restarts while the builds run.
	for k := 0; k < plan.restarts; k++ {
		time.Sleep(jitter(100*time.Millisecond, 400*time.Millisecond))
		stages := draftStages(pool)
		took := pgc.restart(t, log)
		t.Logf("restart %d at %s: drafts %s; stop+start took %s", k+1, time.Since(chaosStart).Round(time.Millisecond),
			stages, took.Round(time.Millisecond))
	}

	// A longer outage, during which every approve is sent; each retries until it gets an answer other than 5xx.
	time.Sleep(jitter(100*time.Millisecond, 300*time.Millisecond))
	stages := draftStages(pool)
	pgc.stop(t)
	downAt := time.Now()
	t.Logf("postgres stopped at %s: drafts %s", downAt.Sub(chaosStart).Round(time.Millisecond), stages)
	approves := make([]restartApprove, len(requestIDs))
	var wg sync.WaitGroup
	approveDeadline := time.Now().Add(plan.outage + plan.deadline)
	for i, id := range requestIDs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			approves[i] = approver.retryUntilAnswered(http.MethodPost, "/v1/approval-requests/"+id+"/approve",
				map[string]any{"note": "ok"}, approveDeadline)
		}()
	}
	time.Sleep(plan.outage)
	status, body = anon.do(http.MethodGet, "/readyz", nil)
	assert.Equal(t, http.StatusServiceUnavailable, status, "readyz while postgres is stopped: %s", body)
	took := pgc.start(t, log)
	upAt := time.Now()
	t.Logf("postgres started again after an outage of %s (start took %s)", upAt.Sub(downAt).Round(time.Millisecond), took.Round(time.Millisecond))

	// /readyz answers 200 again.
	for {
		status, body = anon.do(http.MethodGet, "/readyz", nil)
		if status == http.StatusOK {
			break
		}
		if time.Since(upAt) > 30*time.Second {
			t.Fatalf("readyz still answers %d 30s after postgres came back: %s", status, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	readyAgain := time.Since(upAt)
	readyzCounts := readyz.stop()
	t.Logf("readyz 200 again %s after the restart; during the chaos it answered %s", readyAgain.Round(time.Millisecond), readyzCounts)
	assert.Positive(t, readyz.unavailable.Load(), "readyz never answered 503 during the restarts")

	// Every approve answered.
	wg.Wait()
	var maxTries int
	var lastApprove time.Duration
	for i, a := range approves {
		assert.Equalf(t, http.StatusOK, a.status, "approve %d (request %s) after %d tries (%v): %s", i+1, requestIDs[i], a.tries, a.seen, a.body)
		maxTries = max(maxTries, a.tries)
		lastApprove = max(lastApprove, a.at.Sub(upAt))
	}
	t.Logf("approves: %d sent, answers of their tries %v; last 200 %s after postgres came back (max %d tries)",
		len(approves), restartMergeSeen(approves), lastApprove.Round(time.Millisecond), maxTries)

	// Every draft ends: failed, or ready with its AI done.
	for {
		var ended int
		require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM approval_drafts
			WHERE status = 'failed' OR (status = 'ready' AND ai_done_at IS NOT NULL)`).Scan(&ended))
		if ended == plan.drafts {
			break
		}
		if time.Since(upAt) > plan.deadline {
			t.Fatalf("%s after postgres came back only %d of %d drafts ended; drafts: %s\nworkflows: %s",
				plan.deadline, ended, plan.drafts, draftStages(pool), historySummary(t, tc, draftIDs))
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("every draft ended %s after postgres came back (%s after the first draft)",
		time.Since(upAt).Round(time.Millisecond), time.Since(chaosStart).Round(time.Millisecond))

	checkDraftsAfterChaos(t, pool, workerKillPlan{drafts: plan.drafts}, fx)
	restartCheckApproved(t, pool, requestIDs)
	// The API's review change feed lost its connection with each restart and came back by itself.
	assert.Eventually(t, srv.ReviewsWatched, 10*time.Second, 10*time.Millisecond, "review change feed not heard after the restarts")
	t.Logf("workflow histories of the drafts: %s", historySummary(t, tc, draftIDs))
	t.Logf("elapsed: %s in all", time.Since(testStart).Round(time.Millisecond))
}

// restartRepollWait bounds how long the worker may take to poll again once the Temporal server is
// back: the SDK retries a failed poll with a backoff of at most a few seconds, so a minute is
// generous on a loaded machine and still fails a worker that never reconnects.
const restartRepollWait = time.Minute

// restartTemporalPlan is the shape of one run of TestChaosTemporalRestart.
type restartTemporalPlan struct {
	form     string
	journeys int           // journeys starting now, their requests time out after window
	window   time.Duration // the API's ImmediateApprovalWindow
	rounds   []string      // "kill" or "stop", each followed by a start on the same SQLite file
	down     time.Duration // how long the server stays down
}

func restartTemporalPlanFromEnv() restartTemporalPlan {
	p := restartTemporalPlan{form: "short", journeys: 3, window: 8 * time.Second, rounds: []string{"kill"}, down: 2 * time.Second}
	if chaosFull() {
		p.form, p.journeys, p.window, p.rounds = "full", 6, 15*time.Second, []string{"stop", "kill"}
	}
	return p
}

// TestChaosTemporalRestart is "restart the Temporal dev server (SQLite file persistence)
// while requests are pending: they survive and their timers still fire". The test runs its own dev
// server on a SQLite file, submits requests that time out a few seconds later and one that waits for
// an approve, kills (or stops) the server and starts it again on the same file and port; the requests
// still exist, their deadline timers fire, and an approve sent after the restart is answered 200.
func TestChaosTemporalRestart(t *testing.T) {
	plan := restartTemporalPlanFromEnv()
	t.Logf("form %s: %d journeys with a %s window + 1 campaign approved later; rounds %v, down %s each",
		plan.form, plan.journeys, plan.window, plan.rounds, plan.down)
	testStart := time.Now()
	ctx := context.Background()
	log := testenv.Logger(t)

	tmp := testenv.ReachableTempDir(t, "signoff-chaos-temporal-")
	addr := testenv.FreeAddrWithOffsets(t, 1000, 2000)
	topts := localenv.TemporalOptions{CLI: testenv.TemporalCLI(t), Address: addr, DBFile: filepath.Join(tmp, "temporal.db"),
		Headless: true, LogFile: filepath.Join(tmp, "temporal.log")}
	srvT, err := localenv.StartTemporal(ctx, topts, log)
	require.NoError(t, err, "start own temporal dev server")
	t.Cleanup(func() { srvT.Stop() }) // srvT is replaced on each restart; the last one is stopped
	t.Logf("own temporal dev server at %s in %s", addr, time.Since(testStart).Round(time.Millisecond))

	pool := testenv.Database(t)
	store := storage.New(pool)
	tc, err := client.Dial(client.Options{HostPort: addr,
		Logger: logging.NewTemporalLogger(log.Named("temporal").WithOptions(zap.IncreaseLevel(zap.ErrorLevel)))})
	require.NoError(t, err)
	t.Cleanup(tc.Close)
	queue := testenv.TaskQueue(t)
	sealer := testenv.Sealer(t)
	acts := &activities.Activities{Store: store, Log: log.Named("worker"), Sealer: sealer,
		AI: ai.NewPipeline(&ai.Local{}, nil), BuildCapacity: 100}
	testworker.Start(t, tc, queue, acts, testworker.Options{SweepEvery: time.Second})

	fx := newChaosFixture(t, store, "Restart Inc", 0, 0, 0)
	srv := &api.Server{App: &app.App{Store: store, Temporal: tc, PublicURL: "http://chaos.test", TaskQueue: queue, Sealer: sealer, ImmediateApprovalWindow: plan.window}, Log: log}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	csm := &apiClient{base: hs.URL, token: fx.csmToken}
	approver := &apiClient{base: hs.URL, token: fx.approverToken}
	anon := &apiClient{base: hs.URL}

	// Journeys that start now (their requests time out after the window) and one campaign that starts
	// in 30 minutes and ends in an hour (its request stays open for the approve after the restart).
	now := time.Now()
	var journeyCamps []string
	for i := 0; i < plan.journeys; i++ {
		nc := demodata.Campaigns(now)[1]
		nc.Name = fmt.Sprintf("%s #%02d", nc.Name, i+1)
		c, err := store.CreateCampaign(ctx, fx.accountID, fx.adminID, nc)
		require.NoError(t, err)
		journeyCamps = append(journeyCamps, c.ID)
	}
	later := demodata.Campaigns(now)[0]
	later.Name += " (approved later)"
	start, end := now.Add(30*time.Minute), now.Add(time.Hour)
	later.StartAt, later.EndAt = &start, &end
	laterCamp, err := store.CreateCampaign(ctx, fx.accountID, fx.adminID, later)
	require.NoError(t, err)

	submit := func(campID, note string) storage.ApprovalRequest {
		t.Helper()
		status, body := csm.do(http.MethodPost, "/v1/campaigns/"+campID+"/approval-requests",
			map[string]any{"approver_ids": []string{fx.approverID}, "note": note})
		require.Equal(t, http.StatusCreated, status, "%s: %s", note, body)
		var r storage.ApprovalRequest
		require.NoError(t, json.Unmarshal(body, &r), "%s", body)
		require.Equal(t, storage.RequestStatusPending, r.Status)
		return r
	}
	var journeyReqs []storage.ApprovalRequest
	for i, id := range journeyCamps {
		journeyReqs = append(journeyReqs, submit(id, fmt.Sprintf("journey %d", i+1)))
	}
	laterReq := submit(laterCamp.ID, "approved later")
	allIDs := []string{laterReq.ID}
	for _, r := range journeyReqs {
		allIDs = append(allIDs, r.ID)
	}
	t.Cleanup(func() { restartTerminateRequests(tc, allIDs) }) // runs before the worker and the server stop
	lastDeadline := journeyReqs[len(journeyReqs)-1].DeadlineAt
	t.Logf("submitted %d journey requests (deadlines in %s) and 1 later request (deadline in %s)", len(journeyReqs),
		time.Until(journeyReqs[0].DeadlineAt).Round(time.Millisecond), time.Until(laterReq.DeadlineAt).Round(time.Second))
	for _, id := range allIDs {
		restartRequireRunning(t, tc, id, "before the restart")
	}

	for k, how := range plan.rounds {
		before := time.Now()
		switch how {
		case "kill":
			srvT.Kill()
		default:
			srvT.Stop()
		}
		downFor := time.Since(before)
		require.False(t, localenv.Answers(addr), "temporal still answers after %s", how)
		status, body := anon.do(http.MethodGet, "/readyz", nil)
		assert.Equal(t, http.StatusServiceUnavailable, status, "readyz while temporal is down: %s", body)
		time.Sleep(plan.down)
		up := time.Now()
		srvT, err = localenv.StartTemporal(ctx, topts, log)
		require.NoError(t, err, "start temporal again on the same SQLite file (round %d); its log:\n%s", k+1, testenv.TailFile(topts.LogFile, 4000))
		t.Logf("round %d: %s took %s, down %s, start again took %s", k+1, how, downFor.Round(time.Millisecond),
			plan.down, time.Since(up).Round(time.Millisecond))

		// The SDK client reconnects and the same worker polls again by itself: nothing restarts it.
		pollStart := time.Now()
		for !testenv.Polling(tc, queue, "") {
			if time.Since(pollStart) > restartRepollWait {
				t.Fatalf("round %d: the worker did not poll task queue %s again within %s of the server's start "+
					"(the worker must reconnect by itself); temporal log:\n%s", k+1, queue, restartRepollWait, testenv.TailFile(topts.LogFile, 4000))
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Logf("round %d: the worker polls both task queues again %s after the start", k+1, time.Since(pollStart).Round(time.Millisecond))

		// The pending requests still exist.
		for _, id := range allIDs {
			st := restartWorkflowStatus(t, tc, id)
			t.Logf("round %d: request %s workflow %s", k+1, id, st)
		}
		status, body = anon.do(http.MethodGet, "/readyz", nil)
		assert.Equal(t, http.StatusOK, status, "readyz after the restart: %s", body)
	}
	restartedAt := time.Now()
	if time.Now().Before(journeyReqs[0].DeadlineAt) {
		t.Logf("the restarts ended %s before the first deadline: the timers fire on the restarted server",
			time.Until(journeyReqs[0].DeadlineAt).Round(time.Millisecond))
	} else {
		t.Logf("the restarts ended %s after the first deadline: the timers came due while the server was down",
			time.Since(journeyReqs[0].DeadlineAt).Round(time.Millisecond))
	}

	// An approve sent after the restart is answered 200 and schedules the campaign.
	a := approver.retryUntilAnswered(http.MethodPost, "/v1/approval-requests/"+laterReq.ID+"/approve",
		map[string]any{"note": "approved after the restart"}, time.Now().Add(30*time.Second))
	require.Equal(t, http.StatusOK, a.status, "approve after the restart, %d tries (%v): %s", a.tries, a.seen, a.body)
	t.Logf("approve after the restart: 200 after %d tries (%v), %s after the restart", a.tries, a.seen, a.at.Sub(restartedAt).Round(time.Millisecond))
	camp, err := store.Campaign(ctx, fx.accountID, laterCamp.ID)
	require.NoError(t, err)
	assert.Equal(t, storage.CampaignStatusScheduled, camp.Status, "campaign approved after the restart")
	assert.Equal(t, storage.RequestStatusApproved, camp.ApprovalStatus)

	// Every journey request times out within 30s of its deadline.
	for {
		var timedOut int
		require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM approval_requests WHERE id = ANY($1::uuid[]) AND status = 'timed_out'`,
			restartIDs(journeyReqs)).Scan(&timedOut))
		if timedOut == len(journeyReqs) {
			break
		}
		if time.Since(lastDeadline) > 30*time.Second {
			var states []string
			for _, r := range journeyReqs {
				cur, err := store.ApprovalRequest(ctx, fx.accountID, r.ID)
				require.NoError(t, err)
				states = append(states, fmt.Sprintf("%s=%s (workflow %s)", r.ID, cur.Status, restartWorkflowStatus(t, tc, r.ID)))
			}
			t.Fatalf("30s after the last deadline only %d of %d journey requests timed out: %s\ntemporal log:\n%s",
				timedOut, len(journeyReqs), strings.Join(states, ", "), testenv.TailFile(topts.LogFile, 4000))
		}
		time.Sleep(200 * time.Millisecond)
	}
	var lateBy time.Duration
	for _, r := range journeyReqs {
		cur, err := store.ApprovalRequest(ctx, fx.accountID, r.ID)
		require.NoError(t, err)
		require.NotNil(t, cur.DecidedAt)
		lateBy = max(lateBy, cur.DecidedAt.Sub(r.DeadlineAt))
		assert.Falsef(t, cur.DecidedAt.Before(r.DeadlineAt), "request %s timed out before its deadline", r.ID)
	}
	t.Logf("every journey request timed out, at most %s after its deadline", lateBy.Round(time.Millisecond))

	// Exactly one decision event each.
	var decisions, dupes int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM approval_events WHERE request_id = ANY($1::uuid[])
		AND type IN ('approved','rejected','cancelled','timed_out','approver_expired','auto_approved')`, allIDs).Scan(&decisions))
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM (SELECT request_id FROM approval_events WHERE request_id = ANY($1::uuid[])
		AND type IN ('approved','rejected','cancelled','timed_out','approver_expired','auto_approved') GROUP BY 1 HAVING count(*) > 1) x`,
		allIDs).Scan(&dupes))
	assert.Equal(t, len(allIDs), decisions, "one decision event per request")
	assert.Zero(t, dupes, "requests with more than one decision event")
	t.Logf("counts: %d requests (%d timed out, 1 approved), %d decision events", len(allIDs), len(journeyReqs), decisions)
	t.Logf("elapsed: %s in all", time.Since(testStart).Round(time.Millisecond))
}

// restartPostgresCluster is the test's own Postgres cluster, which it restarts and stops.
type restartPostgresCluster struct {
	opts localenv.PostgresOptions
	mu   sync.Mutex
	pg   *localenv.Postgres
}

func (c *restartPostgresCluster) url() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pg.URL
}

// restartOwnPostgres starts a throwaway cluster under a fresh directory the postgres user can reach.
func restartOwnPostgres(t *testing.T, log *zap.Logger) *restartPostgresCluster {
	t.Helper()
	dir := testenv.ReachableTempDir(t, "signoff-chaos-pg-")
	c := &restartPostgresCluster{opts: localenv.PostgresOptions{Dir: dir, Database: "signoff"}}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pg, err := localenv.StartPostgres(ctx, c.opts, log)
	require.NoError(t, err, "start own postgres")
	c.pg = pg
	t.Cleanup(func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := c.pg.Stop(ctx); err != nil {
			t.Logf("stop own postgres: %v", err)
		}
	})
	return c
}

// restart restarts the cluster with `pg_ctl restart` (fast mode: open sessions are cut) and answers
// how long it took.
func (c *restartPostgresCluster) restart(t *testing.T, _ *zap.Logger) time.Duration {
	t.Helper()
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c.mu.Lock()
	pg := c.pg
	c.mu.Unlock()
	require.NoError(t, pg.Restart(ctx), "restart own postgres")
	return time.Since(start)
}

// stop shuts the cluster down until start.
func (c *restartPostgresCluster) stop(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.NoError(t, c.pg.Stop(ctx), "stop own postgres")
}

// start starts the stopped cluster again from its directory and answers how long it took.
func (c *restartPostgresCluster) start(t *testing.T, log *zap.Logger) time.Duration {
	t.Helper()
	begin := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pg, err := localenv.StartPostgres(ctx, c.opts, log)
	require.NoError(t, err, "start own postgres again; its log:\n%s", testenv.TailFile(filepath.Join(c.opts.Dir, "postgres.log"), 4000))
	c.mu.Lock()
	c.pg = pg
	c.mu.Unlock()
	require.Equal(t, pg.URL, c.url())
	return time.Since(begin)
}

// restartApprove is the outcome of an approve retried through an outage.
type restartApprove struct {
	status int
	body   []byte
	tries  int
	seen   map[int]int // answers of every try, by status
	at     time.Time   // when the final answer came
}

// retryUntilAnswered repeats a request while it answers 5xx (or no answer) until deadline.
func (c *apiClient) retryUntilAnswered(method, path string, body any, deadline time.Time) restartApprove {
	a := restartApprove{seen: map[int]int{}}
	for {
		a.status, a.body = c.do(method, path, body)
		a.tries++
		a.seen[a.status]++
		a.at = time.Now()
		if (a.status != 0 && a.status < 500) || time.Now().After(deadline) {
			return a
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func restartMergeSeen(as []restartApprove) map[int]int {
	out := map[int]int{}
	for _, a := range as {
		for k, v := range a.seen {
			out[k] += v
		}
	}
	return out
}

// restartReadyzWatch polls /readyz until stopped, counting its answers.
type restartReadyzWatch struct {
	ok, unavailable, other atomic.Int64
	stopCh, done           chan struct{}
}

func restartWatchReadyz(c *apiClient) *restartReadyzWatch {
	w := &restartReadyzWatch{stopCh: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for {
			switch status, _ := c.do(http.MethodGet, "/readyz", nil); status {
			case http.StatusOK:
				w.ok.Add(1)
			case http.StatusServiceUnavailable:
				w.unavailable.Add(1)
			default:
				w.other.Add(1)
			}
			select {
			case <-w.stopCh:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	return w
}

func (w *restartReadyzWatch) stop() string {
	close(w.stopCh)
	<-w.done
	return fmt.Sprintf("200×%d 503×%d other×%d", w.ok.Load(), w.unavailable.Load(), w.other.Load())
}

// restartCheckApproved checks that every request is approved, its campaign scheduled, with exactly
// one decision event.
func restartCheckApproved(t *testing.T, pool *pgxpool.Pool, ids []string) {
	t.Helper()
	ctx := context.Background()
	var approved, scheduled, decisions, once int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM approval_requests WHERE id = ANY($1::uuid[]) AND status = 'approved'`,
		ids).Scan(&approved))
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM campaigns c JOIN approval_requests r ON r.campaign_id = c.id
		WHERE r.id = ANY($1::uuid[]) AND c.status = 'scheduled' AND c.approval_status = 'approved'`, ids).Scan(&scheduled))
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM approval_events WHERE request_id = ANY($1::uuid[])
		AND type IN ('approved','rejected','cancelled','timed_out','approver_expired','auto_approved')`, ids).Scan(&decisions))
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM (SELECT request_id FROM approval_events WHERE request_id = ANY($1::uuid[])
		AND type = 'approved' GROUP BY 1 HAVING count(*) = 1) x`, ids).Scan(&once))
	assert.Equal(t, len(ids), approved, "requests approved in the database")
	assert.Equal(t, len(ids), scheduled, "campaigns scheduled by their approval")
	assert.Equal(t, len(ids), decisions, "decision events (exactly one per request)")
	assert.Equal(t, len(ids), once, "requests with exactly one approved event")
	t.Logf("counts: requests %d, approved %d, campaigns scheduled %d, decision events %d", len(ids), approved, scheduled, decisions)
}

// restartWorkflowStatus describes a request's workflow (retrying while the server settles) and
// fails the test when it does not exist.
func restartWorkflowStatus(t *testing.T, tc client.Client, requestID string) string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		desc, err := tc.DescribeWorkflowExecution(ctx, workflows.ApprovalRequestWorkflowID(requestID), "")
		cancel()
		if err == nil {
			return strings.ToLower(strings.TrimPrefix(desc.GetWorkflowExecutionInfo().GetStatus().String(), "WORKFLOW_EXECUTION_STATUS_"))
		}
		if time.Now().After(deadline) {
			t.Fatalf("the workflow of request %s does not exist after the restart: %v", requestID, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func restartRequireRunning(t *testing.T, tc client.Client, requestID, when string) {
	t.Helper()
	require.Equal(t, "running", restartWorkflowStatus(t, tc, requestID), "workflow of request %s %s", requestID, when)
}

func restartIDs(rs []storage.ApprovalRequest) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}

// restartTerminateRequests ends the request workflows the test started (an approved one waits for its launch).
func restartTerminateRequests(tc client.Client, ids []string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, id := range ids {
		_ = tc.TerminateWorkflow(ctx, workflows.ApprovalRequestWorkflowID(id), "", "chaos test cleanup")
	}
}
