package chaos_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/signoff/signoff/activities"
	"github.com/signoff/signoff/api"
	"github.com/signoff/signoff/app"
	"github.com/signoff/signoff/demodata"
	"github.com/signoff/signoff/errs"
	"github.com/signoff/signoff/schema"
	"github.com/signoff/signoff/storage"
	"github.com/signoff/signoff/testenv"
	"github.com/signoff/signoff/testenv/testworker"
	"github.com/signoff/signoff/workflows"
)

// The outage case: Postgres stays down far longer than a local activity retries (about 15 s of its
// 30 s budget) while a burst of deadlines falls due, approvals are turned off, approvers lose the
// right and approvers approve. A step caught by the outage must not fail its workflow and leave the
// request pending for good: afterwards every request must be terminal in Postgres and in Temporal,
// the two must agree, and no request may hold two decisions.

// outagePlan is the shape of one run of TestChaosPostgresOutage.
type outagePlan struct {
	form     string
	perGroup int           // requests of each of the four groups
	outage   time.Duration // how long Postgres stays down
	lead     time.Duration // from the stop to the first deadline of the deadline group
	recovery time.Duration // from Postgres back up until every request must be terminal
}

func outagePlanFromEnv() outagePlan {
	p := outagePlan{form: "short", perGroup: 3, outage: 40 * time.Second, lead: 5 * time.Second, recovery: 2 * time.Minute}
	if chaosFull() {
		p.form, p.perGroup, p.outage, p.recovery = "full", 10, 60*time.Second, 3*time.Minute
	}
	return p
}

// The four groups of requests, by what happens to them during the outage.
const (
	outageDeadline = "deadline"      // its deadline falls due: timed_out
	outageAuto     = "auto-approval" // its account turns approvals off: approved (auto_approved)
	outageExpiry   = "expiry"        // its only approver loses the right, policy expire: expired
	outageApprove  = "approve"       // its approver approves through the API: approved
)

// outageWant is the status each group must end with, in the database and in its decision event.
var outageWant = map[string]struct{ status, event string }{
	outageDeadline: {storage.RequestStatusTimedOut, storage.EventTimedOut},
	outageAuto:     {storage.RequestStatusApproved, storage.EventAutoApproved},
	outageExpiry:   {storage.RequestStatusExpired, storage.EventApproverExpired},
	outageApprove:  {storage.RequestStatusApproved, storage.EventApproved},
}

type outageRequest struct {
	id, group, campaignID string
	deadline              time.Time
}

// TestChaosPostgresOutage is the outage case: Postgres down across a burst of deadlines,
// approvals and expiries (make chaos runs it with a 60 s outage; make test with a 40 s one).
func TestChaosPostgresOutage(t *testing.T) {
	plan := outagePlanFromEnv()
	t.Logf("form %s: %d requests in each of 4 groups (%s, %s, %s, %s), Postgres down %s",
		plan.form, plan.perGroup, outageDeadline, outageAuto, outageExpiry, outageApprove, plan.outage)
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
	tc := testenv.Temporal(t)
	queue := testenv.TaskQueue(t)

	newAccount := func(name string) chaosFixture { return newChaosFixture(t, store, name, 0, 0, 0) }
	// The deadline and approve groups share an account; the auto-approval and expiry groups each have
	// their own (turning approvals off, or losing the only approver, touches every request of one).
	mainAcct, autoAcct, expiryAcct := newAccount("Outage Main"), newAccount("Outage Auto"), newAccount("Outage Expiry")

	sealer := testenv.Sealer(t)
	srv := &api.Server{App: &app.App{Store: store, Temporal: tc, PublicURL: "http://chaos.test", TaskQueue: queue, Sealer: sealer, ImmediateApprovalWindow: 2 * time.Hour}, Log: log.Named("api")}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	approver := &apiClient{base: hs.URL, token: mainAcct.approverToken}

	var reqs []*outageRequest
	// Registered before the worker: runs after it stopped. Every request should have ended by then.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, r := range reqs {
			_ = tc.TerminateWorkflow(ctx, workflows.ApprovalRequestWorkflowID(r.id), "", "chaos test over")
		}
	})

	// The worker and its sweeper, as `signoff worker` runs them; the sweeper's log is also kept, to
	// count the workflows it had to start again.
	sweepCore, sweepLogs := observer.New(zapcore.InfoLevel)
	testworker.Start(t, tc, queue, &activities.Activities{Store: store, Log: log.Named("worker")}, testworker.Options{
		SweepEvery: time.Second, SweepLog: zap.New(zapcore.NewTee(log.Core(), sweepCore)).Named("sweeper")})

	// submit stores a request for a new journey (no start time: an approved one launches at once) and
	// starts its workflow, as the API does.
	submit := func(acct chaosFixture, group string, i int, deadline time.Time) *outageRequest {
		t.Helper()
		nc := demodata.Campaigns(time.Now())[1]
		nc.Name = fmt.Sprintf("%s — %s #%02d", nc.Name, group, i+1)
		c, err := store.CreateCampaign(ctx, acct.accountID, acct.adminID, nc)
		require.NoError(t, err)
		r, err := store.CreateApprovalRequest(ctx, storage.NewApprovalRequest{ID: testenv.NewUUID(), AccountID: acct.accountID,
			CampaignID: c.ID, SubmittedBy: acct.adminID, ApproverIDs: []string{acct.approverID}, DeadlineAt: deadline})
		require.NoError(t, err)
		require.NoError(t, app.StartApprovalRequest(ctx, tc, queue, r, c.Name))
		require.NoError(t, store.MarkWorkflowStarted(ctx, r.ID))
		or := &outageRequest{id: r.ID, group: group, campaignID: c.ID, deadline: r.DeadlineAt}
		reqs = append(reqs, or)
		return or
	}
	later := time.Now().Add(time.Hour)
	for i := 0; i < plan.perGroup; i++ {
		submit(autoAcct, outageAuto, i, later)
		submit(expiryAcct, outageExpiry, i, later)
		submit(mainAcct, outageApprove, i, later)
	}
	// The deadline group last, just before the stop: its deadlines fall from lead after the stop to
	// 20 s before the end of the outage (so that each decision outlasts its local retries).
	groupStart := time.Now()
	span := plan.outage - plan.lead - 20*time.Second
	for i := 0; i < plan.perGroup; i++ {
		submit(mainAcct, outageDeadline, i, groupStart.Add(plan.lead+span*time.Duration(i)/time.Duration(max(plan.perGroup-1, 1))))
	}
	// What the API commits before it signals: approvals turned off, the approver's right withdrawn.
	settings, err := store.Settings(ctx, autoAcct.accountID)
	require.NoError(t, err)
	settings.ApprovalEnabled = false
	_, err = store.UpdateSettings(ctx, autoAcct.accountID, settings)
	require.NoError(t, err)
	inactive := false
	_, _, err = store.UpdateUser(ctx, expiryAcct.accountID, expiryAcct.approverID, storage.UserPatch{Active: &inactive})
	require.NoError(t, err)
	t.Logf("%d requests submitted in %s", len(reqs), time.Since(testStart).Round(time.Millisecond))

	// The approves start now, racing the stop: some reach the workflow first, the rest are retried
	// by the client until the API answers something other than a 5xx.
	var wg sync.WaitGroup
	approves := map[string]*restartApprove{}
	answerBy := time.Now().Add(plan.outage + plan.recovery)
	for _, r := range reqs {
		if r.group != outageApprove {
			continue
		}
		a := &restartApprove{}
		approves[r.id] = a
		wg.Add(1)
		go func() {
			defer wg.Done()
			*a = approver.retryUntilAnswered(http.MethodPost, "/v1/approval-requests/"+r.id+"/approve", map[string]any{"note": "ok"}, answerBy)
		}()
	}

	pgc.stop(t)
	downAt := time.Now()
	t.Logf("postgres stopped %s after the deadline group was submitted", downAt.Sub(groupStart).Round(time.Millisecond))
	// The API's signals, sent after its commits, while the database is down.
	for _, r := range reqs {
		var err error
		switch r.group {
		case outageAuto:
			err = tc.SignalWorkflow(ctx, workflows.ApprovalRequestWorkflowID(r.id), "", workflows.SignalApprovalsDisabled, nil)
		case outageExpiry:
			err = tc.SignalWorkflow(ctx, workflows.ApprovalRequestWorkflowID(r.id), "", workflows.SignalApproverRevoked,
				workflows.ApproverRevokedSignal{UserID: expiryAcct.approverID})
		}
		require.NoError(t, err, "signal request %s (%s)", r.id, r.group)
	}
	time.Sleep(time.Until(downAt.Add(plan.outage)))
	pgc.start(t, log)
	upAt := time.Now()
	t.Logf("postgres started again after an outage of %s", upAt.Sub(downAt).Round(time.Millisecond))
	for _, r := range reqs {
		if r.group == outageDeadline {
			assert.Truef(t, r.deadline.After(downAt) && r.deadline.Before(upAt.Add(-15*time.Second)),
				"request %s: deadline %s after the stop, outside the outage (%s): the case did not test what it claims",
				r.id, r.deadline.Sub(downAt).Round(time.Millisecond), upAt.Sub(downAt).Round(time.Millisecond))
		}
	}

	// Every request terminal in Postgres.
	ids := make([]string, len(reqs))
	for i, r := range reqs {
		ids[i] = r.id
	}
	for {
		var pending int
		require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM approval_requests WHERE id = ANY($1::uuid[]) AND status = 'pending'`,
			ids).Scan(&pending))
		if pending == 0 {
			break
		}
		if time.Since(upAt) > plan.recovery {
			t.Fatalf("%s after postgres came back %d of %d requests are still pending:\n%s", plan.recovery, pending, len(reqs),
				outageStates(ctx, store, tc, reqs))
		}
		time.Sleep(200 * time.Millisecond)
	}
	settled := time.Since(upAt)
	t.Logf("every request terminal in postgres %s after it came back", settled.Round(time.Millisecond))

	wg.Wait()
	approveSeen := map[int]int{}
	for id, a := range approves {
		for k, v := range a.seen {
			approveSeen[k] += v
		}
		// 409 already_handled: the client gave up on an approve whose Update went on through the
		// outage and recorded it; the request's final state is checked below like every other.
		ok := a.status == http.StatusOK || (a.status == http.StatusConflict && strings.Contains(string(a.body), string(errs.AlreadyHandled)))
		assert.Truef(t, ok, "approve of request %s: %d after %d tries (%v): %s", id, a.status, a.tries, a.seen, a.body)
	}
	t.Logf("approves: %d sent, answers of all their tries %v", len(approves), approveSeen)

	// Every workflow closed in Temporal, agreeing with Postgres.
	accountOf := map[string]string{outageDeadline: mainAcct.accountID, outageApprove: mainAcct.accountID, outageAuto: autoAcct.accountID, outageExpiry: expiryAcct.accountID}
	results := map[string]int{}
	var durableSteps, durableRequests int
	recorded := false
	for _, r := range reqs {
		wid := workflows.ApprovalRequestWorkflowID(r.id)
		gctx, cancel := context.WithTimeout(ctx, time.Minute)
		var res string
		err := tc.GetWorkflow(gctx, wid, "").Get(gctx, &res)
		cancel()
		require.NoError(t, err, "workflow of request %s (%s) did not complete", r.id, r.group)
		desc, err := tc.DescribeWorkflowExecution(ctx, wid, "")
		require.NoError(t, err)
		info := desc.GetWorkflowExecutionInfo()
		assert.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED, info.GetStatus(), "workflow of request %s (%s)", r.id, r.group)
		attr := outageStatusAttr(info.GetSearchAttributes().GetIndexedFields())
		assert.Equal(t, res, attr, "request %s: SignoffStatus %q, workflow result %q", r.id, attr, res)

		cur, err := store.ApprovalRequest(ctx, accountOf[r.group], r.id)
		require.NoError(t, err)
		want := outageWant[r.group]
		assert.Equal(t, want.status, cur.Status, "request %s (%s) in postgres", r.id, r.group)
		if want.status == storage.RequestStatusApproved {
			assert.Contains(t, []string{"launched", "launch_skipped"}, res, "request %s (%s): approved in postgres, workflow result", r.id, r.group)
		} else {
			assert.Equal(t, want.status, res, "request %s (%s): workflow result against postgres", r.id, r.group)
		}
		results[r.group+"/"+res]++

		// The history replays against the current code (the durable steps are deterministic), and one
		// of the deadline group's is kept for workflows/testdata when SIGNOFF_RECORD_HISTORY names it.
		hist, n := outageHistory(t, ctx, tc, wid)
		durableSteps += n
		if n > 0 {
			durableRequests++
		}
		b, err := protojson.Marshal(hist)
		require.NoError(t, err)
		path := filepath.Join(t.TempDir(), "history.json")
		if dir := os.Getenv("SIGNOFF_RECORD_HISTORY"); dir != "" && r.group == outageDeadline && n > 0 && !recorded {
			path, recorded = filepath.Join(dir, "approval_request_durable_step.json"), true
			t.Logf("recorded the history of request %s in %s", r.id, path)
		}
		require.NoError(t, os.WriteFile(path, b, 0o644))
		replayer := worker.NewWorkflowReplayer()
		replayer.RegisterWorkflowWithOptions(workflows.ApprovalRequest, workflow.RegisterOptions{Name: workflows.ApprovalRequestWorkflowName})
		require.NoError(t, replayer.ReplayWorkflowHistoryFromJSONFile(nil, path), "replay the history of request %s (%s)", r.id, r.group)
	}

	// One decision per request, of the group's type; the campaign agrees; launches match results.
	var dupes, launchMismatch, campaignMismatch int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM (SELECT request_id FROM approval_events
		WHERE request_id = ANY($1::uuid[]) AND type IN ('approved','rejected','cancelled','timed_out','approver_expired','auto_approved')
		  AND dedupe_key NOT LIKE '%:approver_expired:%' GROUP BY 1 HAVING count(*) > 1) x`, ids).Scan(&dupes))
	rows, err := pool.Query(ctx, `SELECT r.id, e.type FROM approval_requests r
		LEFT JOIN approval_events e ON e.request_id = r.id AND e.dedupe_key = r.id || ':decision' WHERE r.id = ANY($1::uuid[])`, ids)
	require.NoError(t, err)
	decisionOf := map[string]*string{}
	for rows.Next() {
		var id string
		var typ *string
		require.NoError(t, rows.Scan(&id, &typ))
		decisionOf[id] = typ
	}
	require.NoError(t, rows.Err())
	for _, r := range reqs {
		typ := decisionOf[r.id]
		if assert.NotNil(t, typ, "request %s (%s) has no decision event", r.id, r.group) {
			assert.Equal(t, outageWant[r.group].event, *typ, "decision event of request %s (%s)", r.id, r.group)
		}
	}
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM approval_requests r JOIN campaigns c ON c.id = r.campaign_id
		WHERE r.id = ANY($1::uuid[]) AND c.approval_status <> r.status`, ids).Scan(&campaignMismatch))
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM approval_requests r
		WHERE r.id = ANY($1::uuid[]) AND r.status = 'approved'
		  AND (SELECT count(*) FROM campaign_launches l WHERE l.request_id = r.id)
		    + (SELECT count(*) FROM approval_events e WHERE e.request_id = r.id AND e.type = 'launch_skipped') <> 1`, ids).Scan(&launchMismatch))
	assert.Zero(t, dupes, "requests with more than one decision")
	assert.Zero(t, campaignMismatch, "campaigns whose approval status differs from their request's")
	assert.Zero(t, launchMismatch, "approved requests without exactly one launch (or launch_skipped)")

	// The outage reached the steps (some had to be retried by the server), and no workflow ended
	// early (the sweeper started none again: the workflows rode the outage out by themselves).
	restarts := sweepLogs.FilterMessageSnippet("no longer running").Len()
	assert.Positive(t, durableRequests, "no step outlasted its local retries: the outage tested nothing")
	assert.Zero(t, restarts, "workflows the sweeper had to start again (they ended while their request was pending)")

	var summary []string
	for k, v := range results {
		summary = append(summary, fmt.Sprintf("%s=%d", k, v))
	}
	sort.Strings(summary)
	t.Logf("counts: %d requests, all terminal in postgres %s after it came back; results %s; "+
		"%d requests with steps retried by the server (%d activities); duplicate decisions %d; sweeper restarts %d",
		len(reqs), settled.Round(time.Millisecond), strings.Join(summary, " "), durableRequests, durableSteps, dupes, restarts)
	t.Logf("elapsed: %s in all", time.Since(testStart).Round(time.Millisecond))
}

// outageHistory is a workflow's history, with the number of regular activities it scheduled: the
// steps that outlasted their local retries and went on under the server's retries. The audience
// count of a request without a policy (R-POL-3) is a regular activity from the start: not counted.
func outageHistory(t *testing.T, ctx context.Context, tc client.Client, workflowID string) (*historypb.History, int) {
	t.Helper()
	it := tc.GetWorkflowHistory(ctx, workflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	h := &historypb.History{}
	n := 0
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(t, err)
		h.Events = append(h.Events, ev)
		if ev.GetEventType() == enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED &&
			ev.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName() != "RecordAudience" {
			n++
		}
	}
	return h, n
}

// outageStates describes each pending request and its workflow, for a failure message.
func outageStates(ctx context.Context, store *storage.Store, tc client.Client, reqs []*outageRequest) string {
	var b strings.Builder
	for _, r := range reqs {
		var status string
		if err := store.Pool.QueryRow(ctx, `SELECT status FROM approval_requests WHERE id = $1`, r.id).Scan(&status); err != nil {
			status = err.Error()
		}
		if status != storage.RequestStatusPending {
			continue
		}
		wf := "?"
		if desc, err := tc.DescribeWorkflowExecution(ctx, workflows.ApprovalRequestWorkflowID(r.id), ""); err == nil {
			wf = desc.GetWorkflowExecutionInfo().GetStatus().String()
			if p := desc.GetPendingActivities(); len(p) > 0 {
				wf += fmt.Sprintf(" (activity %s attempt %d: %s)", p[0].GetActivityType().GetName(), p[0].GetAttempt(),
					p[0].GetLastFailure().GetMessage())
			}
		} else {
			wf = err.Error()
		}
		fmt.Fprintf(&b, "  %s (%s): %s, workflow %s\n", r.id, r.group, status, wf)
	}
	return b.String()
}
