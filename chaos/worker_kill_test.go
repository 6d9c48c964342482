package chaos_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/signoff/signoff/api"
	"github.com/signoff/signoff/app"
	"github.com/signoff/signoff/storage"
	"github.com/signoff/signoff/testenv"
	"github.com/signoff/signoff/workflows"
)

// workerKillPlan is the shape of one run of TestChaosWorkerKill.
type workerKillPlan struct {
	form          string
	drafts        int           // drafts asked for, one campaign each (the idempotency window never merges them)
	contacts      int           // contact_count of each draft
	kills         int           // kill -9 of the worker, each followed by a restart
	killMin       time.Duration // jitter between a restart (and a batch of draft requests) and the next kill
	killMax       time.Duration
	aiDelay       time.Duration // SIGNOFF_AI_LOCAL_DELAY: latency of each of the four AI steps, per lead
	deadline      time.Duration // from the last restart until every draft has ended
	directory     int           // people in the account's directory
	buildCapacity int           // SIGNOFF_BUILD_CAPACITY
}

func workerKillPlanFromEnv(t *testing.T) workerKillPlan {
	p := workerKillPlan{form: "short", drafts: 6, contacts: 10, kills: 3, killMin: 300 * time.Millisecond,
		killMax: 1500 * time.Millisecond, aiDelay: 250 * time.Millisecond, deadline: 90 * time.Second, directory: 2000}
	if chaosFull() {
		p.form, p.drafts, p.contacts, p.kills, p.deadline = "full", 20, 20, 8, 3*time.Minute
	}
	if v := os.Getenv("SIGNOFF_CHAOS_AI_DELAY"); v != "" {
		d, err := time.ParseDuration(v)
		require.NoError(t, err, "SIGNOFF_CHAOS_AI_DELAY")
		p.aiDelay = d
	}
	// Every draft may build at once: a capacity failure would be a legitimate "failed" but would
	// hide what the kills do to the builds.
	p.buildCapacity = 100
	return p
}

// TestChaosWorkerKill is the worker case: kill -9 the worker repeatedly while drafts build
// (a slow local AI provider keeps them busy); once a worker is left running, every draft ends ready
// with its AI pipeline done (none fails: the fixture leaves no build a reason to), with no orphan copy,
// no duplicated lead and no duplicated email.
func TestChaosWorkerKill(t *testing.T) {
	plan := workerKillPlanFromEnv(t)
	t.Logf("form %s: %d drafts of %d contacts, %d kills every %s–%s, AI delay %s per step, deadline %s",
		plan.form, plan.drafts, plan.contacts, plan.kills, plan.killMin, plan.killMax, plan.aiDelay, plan.deadline)
	testStart := time.Now()
	bin := testenv.BuildSignoff(t)

	ctx := context.Background()
	dbURL := testenv.DatabaseURL(t)
	pool, err := storage.Connect(ctx, dbURL)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	store := storage.New(pool)
	fx := newChaosFixture(t, store, "Chaos Inc", plan.directory, plan.drafts, 0)

	key, sealer := testenv.SecretKey(t)
	tc := testenv.Temporal(t)
	queue := testenv.TaskQueue(t)
	srv := &api.Server{App: &app.App{Store: store, Temporal: tc, PublicURL: "http://chaos.test", TaskQueue: queue, Sealer: sealer}, Log: testenv.Logger(t)}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	csm := &apiClient{base: hs.URL, token: fx.csmToken, http: &http.Client{Timeout: 30 * time.Second}}

	sup := superviseWorker(t, bin, queue, tc, map[string]string{
		"DATABASE_URL":           dbURL,
		"TEMPORAL_ADDRESS":       testenv.TemporalAddress(t),
		"SIGNOFF_TASK_QUEUE":     queue,
		"SIGNOFF_SECRET_KEY":     key,
		"SIGNOFF_AI_LOCAL_DELAY": plan.aiDelay.String(),
		"SIGNOFF_SWEEP_INTERVAL": "1s",
		"SIGNOFF_LOG_LEVEL":      "warn",
		"SIGNOFF_BUILD_CAPACITY": fmt.Sprint(plan.buildCapacity),
	})
	// Registered after the supervisor's own cleanup, so it runs first: no build keeps running on the
	// dev server once the test ends.
	var draftIDs []string
	t.Cleanup(func() { terminateDrafts(tc, draftIDs) })

	sup.Start()
	chaosStart := time.Now()

	// The drafts are asked for in K batches, one shortly before each kill, so every kill lands on
	// fresh builds (resolving, copying, importing: local activities and workflow tasks in flight)
	// and on the earlier batches' AI pipelines (PersonaliseLeads in flight).
	for k := 0; k < plan.kills; k++ {
		interval := jitter(plan.killMin, plan.killMax)
		lead := jitter(10*time.Millisecond, min(interval, 300*time.Millisecond))
		time.Sleep(interval - lead)
		for i := k * plan.drafts / plan.kills; i < (k+1)*plan.drafts/plan.kills; i++ {
			status, body := csm.post(t, "/v1/campaigns/"+fx.draftCampaigns[i]+"/approval-drafts", map[string]any{
				"source":        map[string]any{"type": "saved_search", "saved_search_id": fx.search},
				"contact_count": plan.contacts,
			})
			require.Equal(t, http.StatusAccepted, status, "draft %d: %s", i+1, body)
			var d struct {
				ID     string `json:"id"`
				Status string `json:"status"`
			}
			require.NoError(t, json.Unmarshal(body, &d), "%s", body)
			require.Equal(t, storage.DraftStatusProcessing, d.Status, "%s", body)
			draftIDs = append(draftIDs, d.ID)
		}
		time.Sleep(lead)
		stages := draftStages(pool)
		sup.Kill()
		at := time.Since(chaosStart)
		sup.Start()
		t.Logf("kill %d at %s (%s after its batch of requests): drafts %s; restarted in %s", k+1, at.Round(time.Millisecond),
			lead.Round(time.Millisecond), stages, (time.Since(chaosStart) - at).Round(time.Millisecond))
	}
	require.Len(t, draftIDs, plan.drafts)
	lastRestart := time.Now()
	t.Logf("chaos over after %s (%d kills, %d worker starts); waiting for every build to end",
		lastRestart.Sub(chaosStart).Round(time.Millisecond), sup.Kills(), sup.Started())

	// Leave the last worker running until every draft has ended: failed, or ready with its AI done.
	var ended int
	for {
		sup.RequireAlive()
		require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM approval_drafts
			WHERE status = 'failed' OR (status = 'ready' AND ai_done_at IS NOT NULL)`).Scan(&ended))
		if ended == plan.drafts {
			break
		}
		if time.Since(lastRestart) > plan.deadline {
			t.Fatalf("after %s only %d of %d drafts ended; drafts: %s\nworkflows: %s\nlast worker log:\n%s",
				plan.deadline, ended, plan.drafts, draftStages(pool), historySummary(t, tc, draftIDs), sup.CurrentLog())
		}
		time.Sleep(250 * time.Millisecond)
	}
	recovery := time.Since(lastRestart)
	t.Logf("every draft ended %s after the last restart (%s after the first request)",
		recovery.Round(time.Millisecond), time.Since(chaosStart).Round(time.Millisecond))

	checkDraftsAfterChaos(t, pool, plan, fx)
	hist := historySummary(t, tc, draftIDs)
	t.Logf("workflow histories: %s", hist)
	t.Logf("elapsed: %s in all (build, fixture and chaos included)", time.Since(testStart).Round(time.Millisecond))
}

// checkDraftsAfterChaos makes every assertion of the case by counting rows.
func checkDraftsAfterChaos(t *testing.T, pool *pgxpool.Pool, plan workerKillPlan, fx chaosFixture) {
	t.Helper()
	ctx := context.Background()
	count := func(query string, args ...any) int {
		t.Helper()
		var n int
		require.NoError(t, pool.QueryRow(ctx, query, args...).Scan(&n), query)
		return n
	}

	// Every draft ended ready with its AI done. The fixture gives every build what it needs (a
	// directory far larger than any draft, a build capacity above the number of drafts), so a failed
	// build is a crash the product did not recover from, not a legitimate outcome: were failures
	// allowed, a run where every build failed would leave the checks below nothing to check.
	var ready, failed, total int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE status = 'ready' AND ai_done_at IS NOT NULL),
		count(*) FILTER (WHERE status = 'failed'), count(*) FROM approval_drafts`).Scan(&ready, &failed, &total))
	require.Equal(t, plan.drafts, total, "drafts stored")
	logFailureReasons(t, pool)
	assert.Zero(t, failed, "failed builds (reasons above): the fixture leaves no build a reason to fail")
	assert.Equal(t, plan.drafts, ready, "drafts ready with their AI done")
	assert.Zero(t, count(`SELECT count(*) FROM (SELECT campaign_id FROM approval_drafts GROUP BY 1 HAVING count(*) > 1) x`),
		"one draft per campaign")
	assert.Zero(t, count(`SELECT count(*) FROM approval_drafts WHERE status = 'failed'
		AND (failure_reason IS NULL OR btrim(failure_reason) = '')`), "failed drafts have a failure_reason")

	// No orphan copy: every hidden campaign is the copy of a ready draft, failed drafts have none.
	hidden := count(`SELECT count(*) FROM campaigns WHERE hidden`)
	assert.Zero(t, count(`SELECT count(*) FROM campaigns c WHERE hidden
		AND NOT EXISTS (SELECT 1 FROM approval_drafts d WHERE d.copy_campaign_id = c.id)`), "orphan copies (hidden campaigns no draft points to)")
	assert.Zero(t, count(`SELECT count(*) FROM approval_drafts WHERE status = 'failed' AND copy_campaign_id IS NOT NULL`),
		"failed drafts keeping a copy")
	assert.Zero(t, count(`SELECT count(*) FROM approval_drafts WHERE status = 'failed' AND token_hash IS NOT NULL`),
		"failed drafts keeping a share token")
	assert.Zero(t, count(`SELECT count(*) FROM approval_drafts d WHERE d.status = 'ready'
		AND (d.copy_campaign_id IS NULL OR d.snapshot IS NULL OR d.token_hash IS NULL OR d.ready_at IS NULL)`),
		"ready drafts without copy, snapshot, token or ready_at")
	assert.Equal(t, ready, hidden, "one hidden copy per ready draft, none else")
	assert.Zero(t, count(`SELECT count(*) FROM (SELECT copy_campaign_id FROM approval_drafts WHERE copy_campaign_id IS NOT NULL
		GROUP BY 1 HAVING count(*) > 1) x`), "copies shared by two drafts")
	assert.Zero(t, count(`SELECT count(*) FROM campaign_leads l JOIN campaigns c ON c.id = l.campaign_id WHERE NOT c.hidden`),
		"leads on visible campaigns (the fixture has none)")
	assert.Zero(t, count(`SELECT count(*) FROM campaign_leads l
		WHERE NOT EXISTS (SELECT 1 FROM approval_drafts d WHERE d.copy_campaign_id = l.campaign_id AND d.status = 'ready')`),
		"leads not in the copy of a ready draft (failed drafts keep none)")

	// No duplicated lead, each with its AI result attached once, before the draft's AI was done.
	type copyCounts struct {
		draft, copyID                                    string
		want, leads, distinct, withAI, withAIAt, lateAI  int
		snapLeads, snapMissing, snapDistinct, snapExtras int
	}
	rows, err := pool.Query(ctx, `SELECT d.id::text, d.copy_campaign_id::text, d.contact_count,
		(SELECT count(*) FROM campaign_leads l WHERE l.campaign_id = d.copy_campaign_id),
		(SELECT count(DISTINCT source_ref) FROM campaign_leads l WHERE l.campaign_id = d.copy_campaign_id),
		(SELECT count(*) FROM campaign_leads l WHERE l.campaign_id = d.copy_campaign_id AND l.ai IS NOT NULL),
		(SELECT count(*) FROM campaign_leads l WHERE l.campaign_id = d.copy_campaign_id AND l.ai_at IS NOT NULL),
		(SELECT count(*) FROM campaign_leads l WHERE l.campaign_id = d.copy_campaign_id AND l.ai_at > d.ai_done_at),
		jsonb_array_length(d.snapshot->'leads'),
		(SELECT count(*) FROM jsonb_array_elements(d.snapshot->'leads') s
			WHERE NOT EXISTS (SELECT 1 FROM campaign_leads l WHERE l.campaign_id = d.copy_campaign_id AND l.id::text = s->>'id')),
		(SELECT count(DISTINCT s->>'id') FROM jsonb_array_elements(d.snapshot->'leads') s),
		(SELECT count(*) FROM campaign_leads l WHERE l.campaign_id = d.copy_campaign_id
			AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements(d.snapshot->'leads') s WHERE s->>'id' = l.id::text))
		FROM approval_drafts d WHERE d.status = 'ready' ORDER BY d.created_at`)
	require.NoError(t, err)
	var copies []copyCounts
	for rows.Next() {
		var c copyCounts
		require.NoError(t, rows.Scan(&c.draft, &c.copyID, &c.want, &c.leads, &c.distinct, &c.withAI, &c.withAIAt, &c.lateAI,
			&c.snapLeads, &c.snapMissing, &c.snapDistinct, &c.snapExtras))
		copies = append(copies, c)
	}
	require.NoError(t, rows.Err())
	// The checks of each copy below run on every draft, never on an empty list.
	require.Len(t, copies, plan.drafts, "ready drafts whose copy is checked")
	totalLeads := 0
	for _, c := range copies {
		totalLeads += c.leads
		assert.Equalf(t, c.leads, c.distinct, "draft %s: duplicated leads in copy %s (%d leads, %d distinct sources)", c.draft, c.copyID, c.leads, c.distinct)
		assert.LessOrEqualf(t, c.leads, c.want, "draft %s: more leads than contact_count", c.draft)
		// The directory has far more usable people than any draft asks for.
		assert.Equalf(t, c.want, c.leads, "draft %s: leads of its copy", c.draft)
		assert.Equalf(t, c.leads, c.withAI, "draft %s: leads with an AI result", c.draft)
		assert.Equalf(t, c.leads, c.withAIAt, "draft %s: leads with ai_at", c.draft)
		assert.Zerof(t, c.lateAI, "draft %s: AI results attached after ai_done_at", c.draft)
		assert.Equalf(t, c.leads, c.snapLeads, "draft %s: snapshot leads vs leads of the copy", c.draft)
		assert.Equalf(t, c.snapLeads, c.snapDistinct, "draft %s: duplicated leads in the snapshot", c.draft)
		assert.Zerof(t, c.snapMissing, "draft %s: snapshot leads missing from the copy", c.draft)
		assert.Zerof(t, c.snapExtras, "draft %s: leads of the copy missing from the snapshot", c.draft)
	}

	// No duplicated email or notification (dedupe keys are unique by constraint; these are the
	// natural keys a duplicate would share).
	outbox := count(`SELECT count(*) FROM outbox_emails WHERE draft_id IS NOT NULL`)
	notes := count(`SELECT count(*) FROM notifications WHERE draft_id IS NOT NULL`)
	assert.Zero(t, count(`SELECT count(*) FROM (SELECT draft_id, to_email, subject FROM outbox_emails WHERE draft_id IS NOT NULL
		GROUP BY 1, 2, 3 HAVING count(*) > 1) x`), "duplicated draft emails")
	assert.Zero(t, count(`SELECT count(*) FROM (SELECT draft_id, user_id, kind FROM notifications WHERE draft_id IS NOT NULL
		GROUP BY 1, 2, 3 HAVING count(*) > 1) x`), "duplicated draft notifications")
	assert.Zero(t, count(`SELECT count(*) FROM (SELECT to_email, subject, body FROM outbox_emails
		GROUP BY 1, 2, 3 HAVING count(*) > 1) x`), "duplicated emails of any kind")

	t.Logf("counts: drafts %d (ready %d, failed %d), hidden copies %d, leads %d (all with AI: %v), outbox emails %d, notifications %d",
		total, ready, failed, hidden, totalLeads, allAI(copies, func(c copyCounts) bool { return c.withAI == c.leads }), outbox, notes)
}

func allAI[T any](xs []T, ok func(T) bool) bool {
	for _, x := range xs {
		if !ok(x) {
			return false
		}
	}
	return true
}

// logFailureReasons logs each distinct failure reason with its count.
func logFailureReasons(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT coalesce(failure_reason, '(none)'), count(*) FROM approval_drafts
		WHERE status = 'failed' GROUP BY 1 ORDER BY 2 DESC`)
	require.NoError(t, err)
	defer rows.Close()
	for rows.Next() {
		var reason string
		var n int
		require.NoError(t, rows.Scan(&reason, &n))
		t.Logf("failed ×%d: %s", n, reason)
	}
	require.NoError(t, rows.Err())
}

// historySummary reads the build workflows' histories and counts what the kills caused: workflow
// and activity task timeouts, retried activity attempts, and the workflows' statuses.
func historySummary(t *testing.T, tc client.Client, draftIDs []string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wfTaskTimeouts, wfTaskFailures, actTimeouts, actRetries, actFailures int // timeouts and failures: final ones only
	retriedTypes := map[string]int{}
	statuses := map[string]int{}
	for _, id := range draftIDs {
		wid := workflows.ApprovalDraftWorkflowID(id)
		desc, err := tc.DescribeWorkflowExecution(ctx, wid, "")
		if err != nil {
			statuses["unknown"]++
			continue
		}
		statuses[strings.ToLower(strings.TrimPrefix(desc.GetWorkflowExecutionInfo().GetStatus().String(), "WORKFLOW_EXECUTION_STATUS_"))]++
		types := map[int64]string{}
		it := tc.GetWorkflowHistory(ctx, wid, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				break
			}
			switch ev.GetEventType() {
			case enumspb.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT:
				wfTaskTimeouts++
			case enumspb.EVENT_TYPE_WORKFLOW_TASK_FAILED:
				wfTaskFailures++
			case enumspb.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT:
				actTimeouts++
			case enumspb.EVENT_TYPE_ACTIVITY_TASK_FAILED:
				actFailures++
			case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
				types[ev.GetEventId()] = ev.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName()
			case enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED:
				if a := ev.GetActivityTaskStartedEventAttributes(); a.GetAttempt() > 1 {
					actRetries++
					retriedTypes[types[a.GetScheduledEventId()]]++
				}
			}
		}
	}
	var rt []string
	for k, v := range retriedTypes {
		rt = append(rt, fmt.Sprintf("%s=%d", k, v))
	}
	sort.Strings(rt)
	var st []string
	for k, v := range statuses {
		st = append(st, fmt.Sprintf("%s=%d", k, v))
	}
	sort.Strings(st)
	return fmt.Sprintf("statuses %s; workflow task timeouts %d, workflow task failures %d; activities that finally timed out %d or failed %d; retried activity attempts %d %v",
		strings.Join(st, " "), wfTaskTimeouts, wfTaskFailures, actTimeouts, actFailures, actRetries, rt)
}

// terminateDrafts ends the build workflows the test started (a ready draft's waits 90 days for its client).
func terminateDrafts(tc client.Client, draftIDs []string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, id := range draftIDs {
		_ = tc.TerminateWorkflow(ctx, workflows.ApprovalDraftWorkflowID(id), "", "chaos test cleanup")
	}
}
