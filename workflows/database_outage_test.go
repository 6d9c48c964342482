package workflows_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/signoff/signoff/activities"
	"github.com/signoff/signoff/errs"
	"github.com/signoff/signoff/storage"
	"github.com/signoff/signoff/workflows"
)

// A database step of the approval workflow outlives the 30 s budget of its local activity (about
// 15 s of retries) as a regular activity the server retries (step), so an outage does not fail the
// workflow (or the Update) while the request stays pending in the database. These tests take the
// database away for far longer than that budget, in the SDK's time-skipping environment, at every
// step the workflow must complete.
//
// The outage lasts 3 minutes: the test environment caps a retry policy without MaximumAttempts at 10
// attempts (about 4 minutes at these intervals), where the server retries without end.

// outageDB is the fake database of one test: every activity fails, as a real one does when Postgres
// is unreachable, while env time is inside the outage window; otherwise it answers like the store.
type outageDB struct {
	env      *testsuite.TestWorkflowEnvironment
	from, to time.Duration // the outage, as offsets from t0

	mu        sync.Mutex
	status    string   // the request's status
	decisions []string // decision types recorded
	decidedAt time.Duration
	refused   int // calls answered with the outage error
	launches  []time.Duration
	records   []string // dedupe keys of recorded events
	valid     int      // assigned approvers who still hold the approval right
	// alreadyDecided, when set, is a decision another process recorded: Decide refuses every other one.
	alreadyDecided string
}

var errDatabaseDown = errors.New("failed to connect to `host=/tmp/run user=postgres`: dial error: connection refused")

// down reports whether the database is unreachable now, counting the refusal.
func (db *outageDB) down() bool {
	now := db.env.Now().Sub(t0)
	if now >= db.from && now < db.to {
		db.refused++
		return true
	}
	return false
}

func newOutageEnv(t *testing.T, in workflows.ApprovalRequestInput, db *outageDB) *testsuite.TestWorkflowEnvironment {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(tlog.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := suite.NewTestWorkflowEnvironment()
	env.SetStartTime(t0)
	db.env = env
	db.status = storage.RequestStatusPending
	db.valid = len(in.ApproverIDs)
	env.RegisterWorkflowWithOptions(workflows.ApprovalRequest, workflow.RegisterOptions{Name: workflows.ApprovalRequestWorkflowName})
	env.RegisterActivity(a)
	require.NoError(t, env.SetTypedSearchAttributesOnStart(temporal.NewSearchAttributes(
		workflows.AccountIDKey.ValueSet(in.AccountID), workflows.CampaignIDKey.ValueSet(in.CampaignID),
		workflows.StatusKey.ValueSet(storage.RequestStatusPending))))
	env.OnUpsertTypedSearchAttributes(mock.Anything).Return(nil)

	statusOf := map[string]string{storage.EventApproved: storage.RequestStatusApproved, storage.EventAutoApproved: storage.RequestStatusApproved,
		storage.EventRejected: storage.RequestStatusRejected, storage.EventCancelled: storage.RequestStatusCancelled,
		storage.EventTimedOut: storage.RequestStatusTimedOut, storage.EventApproverExpired: storage.RequestStatusExpired}
	env.OnActivity(a.DecideAndDeliver, mock.Anything, mock.Anything).Return(
		func(_ context.Context, d activities.DecideInput) (activities.DecideResult, error) {
			db.mu.Lock()
			defer db.mu.Unlock()
			if db.down() {
				return activities.DecideResult{}, errDatabaseDown
			}
			if db.alreadyDecided != "" && db.alreadyDecided != d.Decision.Type {
				return activities.DecideResult{}, temporal.NewNonRetryableApplicationError("already handled",
					string(errs.AlreadyHandled), storage.ErrAlreadyHandled)
			}
			if db.status == storage.RequestStatusPending {
				db.status = statusOf[d.Decision.Type]
				db.decisions = append(db.decisions, d.Decision.Type)
				db.decidedAt = env.Now().Sub(t0)
			}
			return activities.DecideResult{Request: activities.Request{ID: in.RequestID, Status: db.status}}, nil
		})
	env.OnActivity(a.CurrentRequest, mock.Anything, mock.Anything).Return(
		func(_ context.Context, _ activities.CurrentRequestInput) (activities.Request, error) {
			db.mu.Lock()
			defer db.mu.Unlock()
			if db.down() {
				return activities.Request{}, errDatabaseDown
			}
			status := db.status
			if db.alreadyDecided != "" {
				status = statusOf[db.alreadyDecided]
			}
			return activities.Request{ID: in.RequestID, Status: status}, nil
		})
	env.OnActivity(a.ExpireApprover, mock.Anything, mock.Anything).Return(
		func(_ context.Context, _ activities.ExpireApproverInput) (activities.ExpireResult, error) {
			db.mu.Lock()
			defer db.mu.Unlock()
			if db.down() {
				return activities.ExpireResult{}, errDatabaseDown
			}
			db.valid--
			return activities.ExpireResult{ValidApprovers: db.valid, Policy: "expire", Status: db.status}, nil
		})
	env.OnActivity(a.RecordEvent, mock.Anything, mock.Anything).Return(
		func(_ context.Context, e activities.RecordEventInput) error {
			db.mu.Lock()
			defer db.mu.Unlock()
			if db.down() {
				return errDatabaseDown
			}
			db.records = append(db.records, e.DedupeKey)
			return nil
		})
	env.OnActivity(a.LaunchApproved, mock.Anything, mock.Anything).Return(
		func(_ context.Context, _ activities.LaunchInput) (activities.LaunchResult, error) {
			db.mu.Lock()
			defer db.mu.Unlock()
			if db.down() {
				return activities.LaunchResult{}, errDatabaseDown
			}
			db.launches = append(db.launches, env.Now().Sub(t0))
			return activities.LaunchResult{Launched: true}, nil
		})
	env.OnActivity(a.RecordAudience, mock.Anything, mock.Anything).Return(
		func(_ context.Context, _ activities.AudienceInput) (int, error) {
			db.mu.Lock()
			defer db.mu.Unlock()
			if db.down() {
				return 0, errDatabaseDown
			}
			return 0, nil
		})
	env.OnActivity(a.DeliverEmails, mock.Anything, mock.Anything).Return(0, nil)
	return env
}

// TestRequestSurvivesLongDatabaseOutage: whatever step the database is away for, far longer than the
// 30 s the local activities retry, the workflow waits for it and ends as the database does: never
// failed with the request still pending. A person's decision waits at most until the deadline.
func TestRequestSurvivesLongDatabaseOutage(t *testing.T) {
	const outage = 3 * time.Minute
	deadline := 2 * time.Hour
	for _, tc := range []struct {
		name     string
		from     time.Duration // the outage starts at t0+from and lasts `outage`
		launchAt time.Duration // 0: no start time, launch as soon as approved
		// events, sent at the given offsets: an approve Update, a revocation of both approvers, approvals turned off
		approveAt, revokeAt, disableAt time.Duration
		alreadyDecided                 string // the database holds this decision already

		wantResult    string
		wantDecisions []string
		// wantApprove: the approve Update's outcome, "ok" or "error"
		wantApprove string
		wantRecord  string // a dedupe key that must be recorded
		// wantAfter: the decision (or launch, for a launch outage) is recorded after the outage ends
		// and at most two retry intervals after it
		wantAfterOutage bool
	}{
		{name: "the deadline's timeout", from: deadline - time.Minute,
			wantResult: "timed_out", wantDecisions: []string{storage.EventTimedOut}, wantAfterOutage: true},
		{name: "auto-approval when approvals are turned off", from: time.Hour - time.Minute, disableAt: time.Hour,
			wantResult: "launched", wantDecisions: []string{storage.EventAutoApproved}, wantAfterOutage: true},
		{name: "expiry when no approver holds the right", from: time.Hour - time.Minute, revokeAt: time.Hour,
			wantResult: "expired", wantDecisions: []string{storage.EventApproverExpired}, wantAfterOutage: true},
		{name: "the launch at start_at", from: time.Hour - time.Minute, launchAt: time.Hour, approveAt: 30 * time.Minute,
			wantResult: "launched", wantDecisions: []string{storage.EventApproved}, wantApprove: "ok", wantAfterOutage: true},
		{name: "the launch_skipped record at start_at", from: time.Hour - time.Minute, launchAt: time.Hour,
			wantResult: "timed_out", wantDecisions: []string{storage.EventTimedOut}, wantRecord: "r1:launch_skipped:start"},
		{name: "an approve sent during the outage", from: time.Hour - time.Minute, approveAt: time.Hour,
			wantResult: "launched", wantDecisions: []string{storage.EventApproved}, wantApprove: "ok", wantAfterOutage: true},
		{name: "an approve whose outage outlasts the deadline", from: deadline - 2*time.Minute, approveAt: deadline - 90*time.Second,
			wantResult: "timed_out", wantDecisions: []string{storage.EventTimedOut}, wantApprove: "error", wantAfterOutage: true},
		{name: "adopting the status the database holds", from: deadline - time.Minute, alreadyDecided: storage.EventRejected,
			wantResult: storage.RequestStatusRejected},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := workflows.ApprovalRequestInput{RequestID: "r1", AccountID: "a1", CampaignID: "c1", SubmitterID: "u-sub",
				ApproverIDs: []string{"u-app1", "u-app2"}, Deadline: t0.Add(deadline)}
			if tc.launchAt > 0 {
				at := t0.Add(tc.launchAt)
				in.LaunchAt = &at
			}
			db := &outageDB{from: tc.from, to: tc.from + outage, alreadyDecided: tc.alreadyDecided}
			env := newOutageEnv(t, in, db)

			var approve outcome
			if tc.approveAt > 0 {
				env.RegisterDelayedCallback(func() {
					env.UpdateWorkflow(workflows.UpdateApprove, "approve-1", &testsuite.TestUpdateCallback{
						OnAccept: func() { approve.Accepted = true },
						OnReject: func(err error) { approve.RejectErr = err },
						OnComplete: func(res any, err error) {
							approve.Completed, approve.Result, approve.Err, approve.At = true, res, err, env.Now()
						},
					}, workflows.DecisionInput{ActorID: "u-app1", Note: "ok"})
				}, tc.approveAt)
			}
			if tc.revokeAt > 0 {
				env.RegisterDelayedCallback(func() {
					for _, id := range in.ApproverIDs {
						env.SignalWorkflow(workflows.SignalApproverRevoked, workflows.ApproverRevokedSignal{UserID: id})
					}
				}, tc.revokeAt)
			}
			if tc.disableAt > 0 {
				env.RegisterDelayedCallback(func() { env.SignalWorkflow(workflows.SignalApprovalsDisabled, nil) }, tc.disableAt)
			}

			env.ExecuteWorkflow(workflows.ApprovalRequestWorkflowName, in)
			require.True(t, env.IsWorkflowCompleted(), "workflow did not complete")
			require.NoError(t, env.GetWorkflowError(), "the workflow failed while the database was away; database status %q", db.status)
			var res string
			require.NoError(t, env.GetWorkflowResult(&res))
			assert.Equal(t, tc.wantResult, res)

			db.mu.Lock()
			defer db.mu.Unlock()
			assert.Positive(t, db.refused, "the outage never refused a call: the case tests nothing")
			assert.Equal(t, tc.wantDecisions, db.decisions, "decisions recorded")
			if tc.wantAfterOutage {
				at := db.decidedAt
				if tc.launchAt > 0 && len(db.launches) > 0 {
					at = db.launches[0]
				}
				assert.GreaterOrEqual(t, at, db.to, "recorded before the database came back?")
				assert.LessOrEqual(t, at, db.to+2*time.Minute, "recorded %s after the database came back", at-db.to)
			}
			if tc.wantRecord != "" {
				assert.Contains(t, db.records, tc.wantRecord)
			}
			if res == "launched" {
				assert.Len(t, db.launches, 1, "launches")
			}
			switch tc.wantApprove {
			case "ok":
				require.True(t, approve.Accepted && approve.Completed, "approve: %+v", approve)
				require.NoError(t, approve.Err, "the approve failed although the database came back before the deadline")
				assert.Equal(t, storage.RequestStatusApproved, approve.Result.(workflows.Request).Status)
			case "error":
				require.True(t, approve.Accepted && approve.Completed, "approve: %+v", approve)
				require.Error(t, approve.Err, "the approve should give up at the deadline")
				assert.False(t, approve.At.After(in.Deadline.Add(2*time.Minute)), "the approve gave up at %v, long after the deadline %v",
					approve.At, in.Deadline)
			}
		})
	}
}
