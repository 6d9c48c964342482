package workflows_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
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

// The tests below drive the approval request workflow in the SDK's time-skipping test environment,
// with every activity mocked. The mocks record what they were asked and when (env.Now()), so each
// test can assert the requirement it covers (SPEC §6 R-APPR-*, §7).

var a *activities.Activities // method values name the mocked activities

var t0 = time.Date(2030, 3, 4, 9, 0, 0, 0, time.UTC)

// The version and content_hash the harness's request pinned (R-VER-2).
const (
	pinnedVersion = 3
	pinnedHash    = "5f0c7a2e9b1d4c6a8e3f2b7d9c1a4e6f8b0d2c4a6e8f1b3d5c7a9e0f2b4d6c8a"
)

type decideCall struct {
	Type  string
	Actor *string
	Note  string
	At    time.Time
	Stage *int // the stage an approval under a policy completes (R-POL-2)
}

type recordCall struct {
	In activities.RecordEventInput
	At time.Time
}

type expireCall struct {
	UserID string
	At     time.Time
}

type changeCall struct {
	In activities.ChangeApproversInput
	At time.Time
}

type remindCall struct {
	In activities.RemindInput
	At time.Time
}

type audienceCall struct {
	In activities.AudienceInput
	At time.Time
}

type escalateCall struct {
	In activities.EscalateInput
	At time.Time
}

// outcome is what the test environment reported about one Update.
type outcome struct {
	Name      string
	Accepted  bool
	RejectErr error
	Completed bool
	Result    any
	Err       error
	At        time.Time
}

// succeeded says the Update was accepted and completed without error.
func (o *outcome) succeeded() bool { return o.Accepted && o.Completed && o.Err == nil }

// failure is the Update's rejection or completion error, whichever there is.
func (o *outcome) failure() error {
	if o.RejectErr != nil {
		return o.RejectErr
	}
	return o.Err
}

type harness struct {
	t     *testing.T
	env   *testsuite.TestWorkflowEnvironment
	start time.Time
	in    workflows.ApprovalRequestInput

	mu          sync.Mutex
	decides     []decideCall
	launches    []time.Time
	launchIns   []activities.LaunchInput
	records     []recordCall
	expires     []expireCall
	changes     []changeCall
	reminds     []remindCall
	escalations []escalateCall
	audiences   []audienceCall // RecordAudience calls (R-POL-3)
	delivers    int
	statusAttrs []string
	updates     []*outcome
	assigned    []string // the approvers the fake database holds as assigned

	// Hooks a test may set before run.
	decideErr    func(n int, in activities.DecideInput) error // n counts Decide calls from 1
	expireResult func(in activities.ExpireApproverInput) activities.ExpireResult
	launchResult activities.LaunchResult
	dbStatus     string  // what CurrentRequest answers; "" means pending
	dbDecidedBy  *string // who CurrentRequest says decided
	mailPending  bool    // what DecideAndDeliver answers: the decision's emails were not delivered
	// audience answers RecordAudience's call n (from 1); nil counts 0 contacts.
	audience func(n int, in activities.AudienceInput) (int, error)
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	// Activity errors are part of several scenarios; keep the SDK's log out of the test output.
	suite.SetLogger(tlog.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := suite.NewTestWorkflowEnvironment()
	env.SetStartTime(t0)
	launchAt := t0.Add(24 * time.Hour)
	h := &harness{t: t, env: env, start: env.Now(),
		in: workflows.ApprovalRequestInput{RequestID: "r1", AccountID: "a1", CampaignID: "c1", SubmitterID: "u-sub",
			ApproverIDs: []string{"u-app1", "u-app2"}, Deadline: t0.Add(48 * time.Hour), LaunchAt: &launchAt,
			CampaignVersion: pinnedVersion, ContentHash: pinnedHash}}
	require.True(t, h.start.Equal(t0), "start time %v", h.start)

	env.RegisterWorkflowWithOptions(workflows.ApprovalRequest, workflow.RegisterOptions{Name: workflows.ApprovalRequestWorkflowName})
	env.RegisterActivity(a)
	require.NoError(t, env.SetTypedSearchAttributesOnStart(temporal.NewSearchAttributes(
		workflows.AccountIDKey.ValueSet("a1"), workflows.CampaignIDKey.ValueSet("c1"), workflows.StatusKey.ValueSet(storage.RequestStatusPending))))

	decide := func(_ context.Context, in activities.DecideInput) (activities.Request, error) {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.decides = append(h.decides, decideCall{Type: in.Decision.Type, Actor: in.Decision.ActorID, Note: in.Decision.Note, At: env.Now(),
			Stage: in.Decision.Stage})
		if h.decideErr != nil {
			if err := h.decideErr(len(h.decides), in); err != nil {
				return activities.Request{}, err
			}
		}
		status := map[string]string{storage.EventApproved: storage.RequestStatusApproved, storage.EventAutoApproved: storage.RequestStatusApproved,
			storage.EventRejected: storage.RequestStatusRejected, storage.EventCancelled: storage.RequestStatusCancelled,
			storage.EventTimedOut: storage.RequestStatusTimedOut, storage.EventApproverExpired: storage.RequestStatusExpired}[in.Decision.Type]
		if status == "" {
			return activities.Request{}, temporal.NewNonRetryableApplicationError("unknown decision "+in.Decision.Type, "Bad", nil)
		}
		return activities.Request{ID: in.Decision.RequestID, AccountID: in.AccountID, CampaignID: "c1", Status: status,
			DecidedBy: in.Decision.ActorID, DecisionNote: in.Decision.Note}, nil
	}
	env.OnActivity(a.Decide, mock.Anything, mock.Anything).Return(decide) // histories recorded before DecideAndDeliver
	env.OnActivity(a.DecideAndDeliver, mock.Anything, mock.Anything).Return(
		func(ctx context.Context, in activities.DecideInput) (activities.DecideResult, error) {
			r, err := decide(ctx, in)
			if err != nil {
				return activities.DecideResult{}, err
			}
			h.mu.Lock()
			defer h.mu.Unlock()
			return activities.DecideResult{Request: r, MailPending: h.mailPending}, nil
		})
	env.OnActivity(a.ChangeApprovers, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.ChangeApproversInput) (activities.Request, error) {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.changes = append(h.changes, changeCall{In: in, At: env.Now()})
			keep := map[string]bool{}
			var approvers []activities.Approver
			for _, id := range in.ApproverIDs {
				keep[id] = true
				approvers = append(approvers, activities.Approver{UserID: id, State: storage.ApproverStateAssigned})
			}
			for _, id := range h.assigned {
				if !keep[id] {
					approvers = append(approvers, activities.Approver{UserID: id, State: storage.ApproverStateRemoved})
				}
			}
			h.assigned = append([]string(nil), in.ApproverIDs...)
			return activities.Request{ID: in.RequestID, AccountID: in.AccountID, CampaignID: "c1",
				Status: storage.RequestStatusPending, Approvers: approvers}, nil
		})
	env.OnActivity(a.ExpireApprover, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.ExpireApproverInput) (activities.ExpireResult, error) {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.expires = append(h.expires, expireCall{UserID: in.UserID, At: env.Now()})
			if h.expireResult == nil {
				return activities.ExpireResult{ValidApprovers: 1, Policy: "expire", Status: storage.RequestStatusPending}, nil
			}
			return h.expireResult(in), nil
		})
	env.OnActivity(a.RecordEvent, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.RecordEventInput) error {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.records = append(h.records, recordCall{In: in, At: env.Now()})
			return nil
		})
	env.OnActivity(a.LaunchApproved, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.LaunchInput) (activities.LaunchResult, error) {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.launches = append(h.launches, env.Now())
			h.launchIns = append(h.launchIns, in)
			return h.launchResult, nil
		})
	env.OnActivity(a.CurrentRequest, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.CurrentRequestInput) (activities.Request, error) {
			h.mu.Lock()
			defer h.mu.Unlock()
			status := h.dbStatus
			if status == "" {
				status = storage.RequestStatusPending
			}
			return activities.Request{ID: in.RequestID, AccountID: in.AccountID, CampaignID: "c1", Status: status, DecidedBy: h.dbDecidedBy}, nil
		})
	env.OnActivity(a.RemindApprovers, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.RemindInput) (activities.RemindResult, error) {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.reminds = append(h.reminds, remindCall{In: in, At: env.Now()})
			return activities.RemindResult{Reminded: len(h.assigned), MailPending: h.mailPending}, nil
		})
	env.OnActivity(a.Escalate, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.EscalateInput) (activities.EscalateResult, error) {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.escalations = append(h.escalations, escalateCall{In: in, At: env.Now()})
			approvers := []activities.Approver{}
			for _, id := range h.assigned {
				approvers = append(approvers, activities.Approver{UserID: id, State: storage.ApproverStateAssigned})
			}
			for _, id := range in.UserIDs {
				if !slices.Contains(h.assigned, id) {
					h.assigned = append(h.assigned, id)
					approvers = append(approvers, activities.Approver{UserID: id, State: storage.ApproverStateAssigned})
				}
			}
			return activities.EscalateResult{Request: activities.Request{ID: in.RequestID, AccountID: in.AccountID, CampaignID: "c1",
				Status: storage.RequestStatusPending, Approvers: approvers}, MailPending: h.mailPending}, nil
		})
	env.OnActivity(a.RecordAudience, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.AudienceInput) (int, error) {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.audiences = append(h.audiences, audienceCall{In: in, At: env.Now()})
			if h.audience == nil {
				return 0, nil
			}
			return h.audience(len(h.audiences), in)
		})
	env.OnActivity(a.DeliverEmails, mock.Anything, mock.Anything).Return(
		func(_ context.Context, requestID string) (int, error) {
			h.mu.Lock()
			defer h.mu.Unlock()
			assert.Equal(t, "r1", requestID)
			h.delivers++
			return 0, nil
		})
	env.OnUpsertTypedSearchAttributes(mock.Anything).Return(nil).Run(func(args mock.Arguments) {
		sa, ok := args.Get(0).(temporal.SearchAttributes)
		if !assert.True(t, ok, "UpsertTypedSearchAttributes got %T", args.Get(0)) {
			return
		}
		if v, ok := sa.GetKeyword(workflows.StatusKey); ok {
			h.mu.Lock()
			h.statusAttrs = append(h.statusAttrs, v)
			h.mu.Unlock()
		}
	})
	h.launchResult = activities.LaunchResult{Launched: true}
	h.assigned = append([]string(nil), h.in.ApproverIDs...)
	return h
}

// at schedules fn at start+d (env time).
func (h *harness) at(d time.Duration, fn func()) { h.env.RegisterDelayedCallback(fn, d) }

// update sends an Update now (call it from a callback) and returns its outcome, filled in as the
// environment reports it.
func (h *harness) update(name, id string, arg any) *outcome {
	o := &outcome{Name: name}
	h.mu.Lock()
	h.updates = append(h.updates, o)
	h.mu.Unlock()
	h.env.UpdateWorkflow(name, id, &testsuite.TestUpdateCallback{
		OnAccept: func() { o.Accepted = true },
		OnReject: func(err error) { o.RejectErr = err; o.At = h.env.Now() },
		OnComplete: func(res any, err error) {
			o.Completed, o.Result, o.Err, o.At = true, res, err, h.env.Now()
		},
	}, arg)
	return o
}

func (h *harness) decision(name, id, actor, note string) *outcome {
	return h.update(name, id, workflows.DecisionInput{ActorID: actor, Note: note})
}

// run executes the workflow to its end and returns its result.
func (h *harness) run() (string, error) {
	h.env.ExecuteWorkflow(workflows.ApprovalRequestWorkflowName, h.in)
	require.True(h.t, h.env.IsWorkflowCompleted(), "workflow did not complete")
	if err := h.env.GetWorkflowError(); err != nil {
		return "", err
	}
	var res string
	require.NoError(h.t, h.env.GetWorkflowResult(&res))
	return res, nil
}

// mustRun runs the workflow and requires it to succeed with want, and the SignoffStatus search
// attribute to end as want (§7: operators filter on it), whatever path ended the request.
func (h *harness) mustRun(want string) {
	h.t.Helper()
	require.NotEmpty(h.t, want, "mustRun needs the expected result")
	res, err := h.run()
	require.NoError(h.t, err)
	assert.Equal(h.t, want, res)
	h.mu.Lock()
	defer h.mu.Unlock()
	require.NotEmpty(h.t, h.statusAttrs, "the workflow ended %q without upserting SignoffStatus", want)
	assert.Equal(h.t, want, h.statusAttrs[len(h.statusAttrs)-1], "last SignoffStatus upsert; all: %v", h.statusAttrs)
}

func (h *harness) decideCalls() []decideCall {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]decideCall(nil), h.decides...)
}

// launchInputs are the inputs LaunchApproved was called with.
func (h *harness) launchInputs() []activities.LaunchInput {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]activities.LaunchInput(nil), h.launchIns...)
}

func (h *harness) launchCalls() []time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]time.Time(nil), h.launches...)
}

func (h *harness) recordCalls() []recordCall {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]recordCall(nil), h.records...)
}

// requireOneDecision asserts exactly one Decide call, of type typ by actor (nil: the system), at start+after.
func (h *harness) requireOneDecision(typ string, actor *string, after time.Duration) decideCall {
	h.t.Helper()
	ds := h.decideCalls()
	require.Len(h.t, ds, 1, "Decide calls: %+v", ds)
	d := ds[0]
	assert.Equal(h.t, typ, d.Type)
	if actor == nil {
		assert.Nil(h.t, d.Actor, "decision actor should be the system (nil)")
	} else if assert.NotNil(h.t, d.Actor) {
		assert.Equal(h.t, *actor, *d.Actor)
	}
	assertAt(h.t, h.start.Add(after), d.At, "Decide(%s)", typ)
	return d
}

func (h *harness) requireLaunchedAt(after time.Duration) {
	h.t.Helper()
	ls := h.launchCalls()
	require.Len(h.t, ls, 1, "LaunchApproved calls")
	assertAt(h.t, h.start.Add(after), ls[0], "LaunchApproved")
	assert.Equal(h.t, []activities.LaunchInput{{AccountID: "a1", CampaignID: "c1", RequestID: "r1",
		CampaignVersion: h.in.CampaignVersion, ContentHash: h.in.ContentHash}}, h.launchInputs(), "the launch carries the pin")
}

// assertAt asserts an env time equals want (the time-skipping clock is exact; a second of slack
// absorbs any sub-second advance while activities run).
func assertAt(t *testing.T, want, got time.Time, what string, args ...any) {
	t.Helper()
	diff := got.Sub(want)
	if diff < -time.Second || diff > time.Second {
		t.Errorf("%s at %v (start%+v), want %v (start%+v)", fmt.Sprintf(what, args...), got, got.Sub(t0), want, want.Sub(t0))
	}
}

func errType(err error) string {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return appErr.Type()
	}
	return ""
}

func ptr(s string) *string { return &s }

// R-APPR-4, R-APPR-8: an assigned approver approves; the campaign launches at start_at, not before.
func TestApprove_LaunchesAtStartAt(t *testing.T) {
	h := newHarness(t)
	var o *outcome
	h.at(time.Minute, func() { o = h.decision(workflows.UpdateApprove, "approve-1", "u-app1", "ok") })
	h.at(24*time.Hour-time.Second, func() {
		assert.Empty(t, h.launchCalls(), "launched before start_at")
	})
	h.mustRun("launched")

	require.NotNil(t, o)
	assert.True(t, o.succeeded(), "approve: %+v", o)
	_, ok := o.Result.(workflows.Request)
	require.True(t, ok, "update result %T", o.Result)
	// The approver's answer comes with the decision, not with the launch a day later.
	assertAt(t, h.start.Add(time.Minute), o.At, "approve answered")
	d := h.requireOneDecision(storage.EventApproved, ptr("u-app1"), time.Minute)
	assert.Equal(t, "ok", d.Note)
	h.requireLaunchedAt(24 * time.Hour)
	assert.Empty(t, h.recordCalls(), "no launch_skipped for an approved request")
	assert.Contains(t, h.statusAttrs, storage.RequestStatusApproved)
}

// R-VER-3: the launch carries the version and content_hash the request pinned, whoever approved it
// and whenever it launches, so the store launches that version and nothing else; a run started before
// the input carried the pin launches with none, and the store reads the pin from the request's row.
func TestLaunchCarriesPinnedVersion(t *testing.T) {
	want := activities.LaunchInput{AccountID: "a1", CampaignID: "c1", RequestID: "r1",
		CampaignVersion: pinnedVersion, ContentHash: pinnedHash}
	for _, tc := range []struct {
		name   string
		adjust func(h *harness)
		want   activities.LaunchInput
	}{
		{"launch at start_at", func(*harness) {}, want},
		{"launch at once", func(h *harness) { h.in.LaunchAt, h.in.Deadline = nil, t0.Add(2*time.Hour) }, want},
		{"launch when the approval is dropped", func(h *harness) {
			h.launchResult = activities.LaunchResult{Skipped: true}
			h.at(time.Hour, func() { h.env.SignalWorkflow(workflows.SignalApprovalDropped, nil) })
		}, want},
		{"input without the pin", func(h *harness) { h.in.CampaignVersion, h.in.ContentHash = 0, "" },
			activities.LaunchInput{AccountID: "a1", CampaignID: "c1", RequestID: "r1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			tc.adjust(h)
			h.at(time.Minute, func() { h.decision(workflows.UpdateApprove, "approve-1", "u-app1", "ok") })
			res, err := h.run()
			require.NoError(t, err)
			assert.Contains(t, []string{workflows.ResultLaunched, workflows.ResultLaunchSkipped}, res)
			assert.Equal(t, []activities.LaunchInput{tc.want}, h.launchInputs())
		})
	}
}

// R-APPR-9: a decision's emails go out from the decision's own local activity; the separate delivery
// (with its retries) runs only when that delivery failed. The submission's delivery always runs.
func TestDecisionDelivery(t *testing.T) {
	for _, tc := range []struct {
		name        string
		mailPending bool
		delivers    int
	}{
		{"delivered with the decision", false, 1},
		{"delivery failed: retried by deliverEmails", true, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.mailPending = tc.mailPending
			h.at(time.Minute, func() { h.decision(workflows.UpdateReject, "reject-1", "u-app1", "no") })
			h.mustRun(storage.RequestStatusRejected)
			h.requireOneDecision(storage.EventRejected, ptr("u-app1"), time.Minute)
			h.mu.Lock()
			defer h.mu.Unlock()
			assert.Equal(t, tc.delivers, h.delivers, "DeliverEmails calls")
		})
	}
}

// R-APPR-4: a rejection needs a note; a rejected request never launches.
func TestReject(t *testing.T) {
	t.Run("with note", func(t *testing.T) {
		h := newHarness(t)
		var o *outcome
		h.at(time.Minute, func() { o = h.decision(workflows.UpdateReject, "reject-1", "u-app2", "not on brand") })
		h.mustRun(storage.RequestStatusRejected)
		assert.True(t, o.succeeded(), "reject: %+v", o)
		d := h.requireOneDecision(storage.EventRejected, ptr("u-app2"), time.Minute)
		assert.Equal(t, "not on brand", d.Note)
		assert.Empty(t, h.launchCalls(), "a rejected request must not launch")
	})
	t.Run("empty note is rejected by the validator", func(t *testing.T) {
		h := newHarness(t)
		var o *outcome
		h.at(time.Minute, func() { o = h.decision(workflows.UpdateReject, "reject-1", "u-app2", "") })
		h.mustRun(storage.RequestStatusTimedOut)
		assert.False(t, o.Accepted, "an empty-note rejection must not be accepted: %+v", o)
		require.Error(t, o.RejectErr)
		assert.Equal(t, string(errs.Forbidden), errType(o.RejectErr))
		// The only decision is the deadline's.
		h.requireOneDecision(storage.EventTimedOut, nil, 48*time.Hour)
		assert.Empty(t, h.launchCalls())
	})
}

// R-APPR-4: a cancel ends the request; anyone who may edit cancels (the API checks who).
func TestCancel(t *testing.T) {
	h := newHarness(t)
	var o *outcome
	h.at(time.Hour, func() { o = h.decision(workflows.UpdateCancel, "cancel-1", "u-sub", "changed my mind") })
	h.mustRun(storage.RequestStatusCancelled)
	assert.True(t, o.succeeded(), "cancel: %+v", o)
	h.requireOneDecision(storage.EventCancelled, ptr("u-sub"), time.Hour)
	assert.Empty(t, h.launchCalls())
}

// R-APPR-4: only an assigned approver approves or rejects.
func TestDecision_ByNonApproverIsRejected(t *testing.T) {
	for _, tc := range []struct{ update, note string }{
		{workflows.UpdateApprove, "ok"},
		{workflows.UpdateReject, "no"},
	} {
		t.Run(tc.update, func(t *testing.T) {
			h := newHarness(t)
			var bySub, byStranger *outcome
			h.at(time.Minute, func() {
				bySub = h.decision(tc.update, "u1", "u-sub", tc.note)
				byStranger = h.decision(tc.update, "u2", "u-other", tc.note)
			})
			h.mustRun(storage.RequestStatusTimedOut)
			for _, o := range []*outcome{bySub, byStranger} {
				assert.False(t, o.Accepted, "%+v", o)
				assert.Equal(t, string(errs.Forbidden), errType(o.RejectErr), "%+v", o)
			}
			h.requireOneDecision(storage.EventTimedOut, nil, 48*time.Hour)
		})
	}
}

// R-APPR-4: only the submitter changes approvers; the new set replaces the old one at once.
func TestChangeApprovers(t *testing.T) {
	h := newHarness(t)
	var byOther, empty, change1, oldApprover, change2, removedAgain, approveNew *outcome
	h.at(time.Minute, func() {
		byOther = h.update(workflows.UpdateChangeApprovers, "ch-0", workflows.ChangeApproversInput{ActorID: "u-app1", ApproverIDs: []string{"u-app1"}})
		empty = h.update(workflows.UpdateChangeApprovers, "ch-00", workflows.ChangeApproversInput{ActorID: "u-sub"})
		change1 = h.update(workflows.UpdateChangeApprovers, "ch-1", workflows.ChangeApproversInput{ActorID: "u-sub", ApproverIDs: []string{"u-new"}, Note: "n1"})
	})
	h.at(2*time.Minute, func() { oldApprover = h.decision(workflows.UpdateApprove, "ap-old", "u-app1", "ok") })
	h.at(3*time.Minute, func() {
		change2 = h.update(workflows.UpdateChangeApprovers, "ch-2", workflows.ChangeApproversInput{ActorID: "u-sub", ApproverIDs: []string{"u-new", "u-app2"}})
	})
	h.at(4*time.Minute, func() { removedAgain = h.decision(workflows.UpdateApprove, "ap-old2", "u-app1", "ok") })
	h.at(5*time.Minute, func() { approveNew = h.decision(workflows.UpdateApprove, "ap-new", "u-new", "ok") })
	h.mustRun("launched")

	assert.False(t, byOther.Accepted)
	assert.Equal(t, string(errs.Forbidden), errType(byOther.RejectErr), "change by a non-submitter: %+v", byOther)
	assert.False(t, empty.Accepted)
	assert.Equal(t, string(errs.Forbidden), errType(empty.RejectErr), "change to no approvers: %+v", empty)
	assert.True(t, change1.succeeded(), "change 1: %+v", change1)
	assert.True(t, change2.succeeded(), "change 2: %+v", change2)
	assert.False(t, oldApprover.Accepted, "a removed approver approved: %+v", oldApprover)
	assert.Equal(t, string(errs.Forbidden), errType(oldApprover.RejectErr))
	assert.False(t, removedAgain.Accepted, "a removed approver approved: %+v", removedAgain)
	assert.True(t, approveNew.succeeded(), "approve by the new approver: %+v", approveNew)

	h.mu.Lock()
	changes := append([]changeCall(nil), h.changes...)
	h.mu.Unlock()
	require.Len(t, changes, 2)
	assert.Equal(t, []string{"u-new"}, changes[0].In.ApproverIDs)
	assert.Equal(t, "u-sub", changes[0].In.ActorID)
	assert.Equal(t, "n1", changes[0].In.Note)
	assert.Equal(t, "r1", changes[0].In.RequestID)
	assert.Equal(t, "a1", changes[0].In.AccountID)
	assert.NotEmpty(t, changes[0].In.ChangeKey)
	assert.NotEqual(t, changes[0].In.ChangeKey, changes[1].In.ChangeKey, "each change needs its own idempotency key")
	h.requireOneDecision(storage.EventApproved, ptr("u-new"), 5*time.Minute)
	h.requireLaunchedAt(24 * time.Hour)
}

// R-APPR-6: a request nobody decides times out at its deadline (the campaign's end_at).
func TestTimeoutAtDeadline(t *testing.T) {
	h := newHarness(t)
	h.mustRun(storage.RequestStatusTimedOut)
	d := h.requireOneDecision(storage.EventTimedOut, nil, 48*time.Hour)
	assert.NotEmpty(t, d.Note)
	assert.Empty(t, h.launchCalls())
}

// R-APPR-6: a campaign starting "now" has a deadline of now+2h (computed by the API) and no start time.
func TestImmediateWindow(t *testing.T) {
	t.Run("times out after two hours", func(t *testing.T) {
		h := newHarness(t)
		h.in.Deadline, h.in.LaunchAt = t0.Add(2*time.Hour), nil
		h.mustRun(storage.RequestStatusTimedOut)
		h.requireOneDecision(storage.EventTimedOut, nil, 2*time.Hour)
		assert.Empty(t, h.recordCalls(), "no start time, so no launch_skipped")
		assert.Empty(t, h.launchCalls())
	})
	t.Run("approval launches at once", func(t *testing.T) {
		h := newHarness(t)
		h.in.Deadline, h.in.LaunchAt = t0.Add(2*time.Hour), nil
		h.at(10*time.Minute, func() { h.decision(workflows.UpdateApprove, "ap", "u-app2", "") })
		h.mustRun("launched")
		h.requireOneDecision(storage.EventApproved, ptr("u-app2"), 10*time.Minute)
		h.requireLaunchedAt(10 * time.Minute)
	})
}

// R-APPR-6: a request still pending at start_at does not launch; it stays pending until its deadline.
func TestPendingAtStartAt(t *testing.T) {
	h := newHarness(t)
	var late *outcome
	h.at(24*time.Hour+time.Minute, func() {
		assert.Empty(t, h.decideCalls(), "no decision at start_at")
		// Still pending: an invalid approver is told forbidden, not already_handled.
		late = h.decision(workflows.UpdateApprove, "ap-stranger", "u-other", "")
	})
	h.mustRun(storage.RequestStatusTimedOut)

	rs := h.recordCalls()
	require.Len(t, rs, 1, "RecordEvent calls: %+v", rs)
	assert.Equal(t, storage.EventLaunchSkipped, rs[0].In.Type)
	assert.Equal(t, "r1", rs[0].In.RequestID)
	assert.NotEmpty(t, rs[0].In.DedupeKey)
	assertAt(t, t0.Add(24*time.Hour), rs[0].At, "launch_skipped")
	assert.Empty(t, h.launchCalls(), "a pending request must not launch at start_at")
	assert.Equal(t, string(errs.Forbidden), errType(late.RejectErr), "request should still be pending: %+v", late)
	h.requireOneDecision(storage.EventTimedOut, nil, 48*time.Hour)
}

// R-APPR-6, R-APPR-8: approved after start_at (but before the deadline) launches right away.
func TestApprovalAfterStartAt(t *testing.T) {
	h := newHarness(t)
	h.at(25*time.Hour, func() { h.decision(workflows.UpdateApprove, "ap", "u-app1", "") })
	h.mustRun("launched")
	rs := h.recordCalls()
	require.Len(t, rs, 1)
	assert.Equal(t, storage.EventLaunchSkipped, rs[0].In.Type)
	h.requireOneDecision(storage.EventApproved, ptr("u-app1"), 25*time.Hour)
	h.requireLaunchedAt(25 * time.Hour)
}

// R-APPR-7, policy expire: a revoked approver can no longer act; with no valid approver left the request expires.
func TestRevocation_PolicyExpire(t *testing.T) {
	h := newHarness(t)
	h.expireResult = func(in activities.ExpireApproverInput) activities.ExpireResult {
		assert.Equal(t, activities.ExpireApproverInput{AccountID: "a1", RequestID: "r1", UserID: in.UserID}, in)
		if in.UserID == "u-app1" {
			return activities.ExpireResult{ValidApprovers: 1, Policy: "expire", Status: storage.RequestStatusPending}
		}
		return activities.ExpireResult{ValidApprovers: 0, Policy: "expire", Status: storage.RequestStatusPending}
	}
	var revoked *outcome
	h.at(time.Hour, func() {
		h.env.SignalWorkflow(workflows.SignalApproverRevoked, workflows.ApproverRevokedSignal{UserID: "u-app1"})
	})
	h.at(2*time.Hour, func() {
		assert.Empty(t, h.decideCalls(), "one approver left: still pending")
		revoked = h.decision(workflows.UpdateApprove, "ap-revoked", "u-app1", "")
	})
	h.at(3*time.Hour, func() {
		h.env.SignalWorkflow(workflows.SignalApproverRevoked, workflows.ApproverRevokedSignal{UserID: "u-app2"})
	})
	h.mustRun(storage.RequestStatusExpired)

	assert.False(t, revoked.Accepted, "a revoked approver approved: %+v", revoked)
	assert.Equal(t, string(errs.Forbidden), errType(revoked.RejectErr))
	h.mu.Lock()
	expires := append([]expireCall(nil), h.expires...)
	h.mu.Unlock()
	require.Len(t, expires, 2)
	assert.Equal(t, "u-app1", expires[0].UserID)
	assertAt(t, t0.Add(time.Hour), expires[0].At, "ExpireApprover(u-app1)")
	assert.Equal(t, "u-app2", expires[1].UserID)
	h.requireOneDecision(storage.EventApproverExpired, nil, 3*time.Hour)
	assert.Empty(t, h.launchCalls())
}

// R-APPR-7, policy hold: with no valid approver the request stays pending until its deadline
// (or a cancel / change of approvers).
func TestRevocation_PolicyHold(t *testing.T) {
	h := newHarness(t)
	h.expireResult = func(in activities.ExpireApproverInput) activities.ExpireResult {
		return activities.ExpireResult{ValidApprovers: 0, Policy: "hold", Status: storage.RequestStatusPending}
	}
	var approve *outcome
	h.at(time.Hour, func() {
		h.env.SignalWorkflow(workflows.SignalApproverRevoked, workflows.ApproverRevokedSignal{UserID: "u-app1"})
		h.env.SignalWorkflow(workflows.SignalApproverRevoked, workflows.ApproverRevokedSignal{UserID: "u-app2"})
	})
	h.at(2*time.Hour, func() { approve = h.decision(workflows.UpdateApprove, "ap", "u-app2", "") })
	h.mustRun(storage.RequestStatusTimedOut)
	h.mu.Lock()
	assert.Len(t, h.expires, 2)
	h.mu.Unlock()
	assert.Equal(t, string(errs.Forbidden), errType(approve.RejectErr), "revoked approver: %+v", approve)
	h.requireOneDecision(storage.EventTimedOut, nil, 48*time.Hour)
}

// R-APPR-7, policy hold, then the submitter assigns a new approver who approves.
func TestRevocation_PolicyHoldThenChangeApprovers(t *testing.T) {
	h := newHarness(t)
	h.expireResult = func(activities.ExpireApproverInput) activities.ExpireResult {
		return activities.ExpireResult{ValidApprovers: 0, Policy: "hold", Status: storage.RequestStatusPending}
	}
	var change, approve *outcome
	h.at(time.Hour, func() {
		h.env.SignalWorkflow(workflows.SignalApproverRevoked, workflows.ApproverRevokedSignal{UserID: "u-app1"})
		h.env.SignalWorkflow(workflows.SignalApproverRevoked, workflows.ApproverRevokedSignal{UserID: "u-app2"})
	})
	h.at(2*time.Hour, func() {
		change = h.update(workflows.UpdateChangeApprovers, "ch", workflows.ChangeApproversInput{ActorID: "u-sub", ApproverIDs: []string{"u-new"}})
	})
	h.at(3*time.Hour, func() { approve = h.decision(workflows.UpdateApprove, "ap", "u-new", "") })
	h.mustRun("launched")
	assert.True(t, change.succeeded(), "%+v", change)
	assert.True(t, approve.succeeded(), "%+v", approve)
	h.requireOneDecision(storage.EventApproved, ptr("u-new"), 3*time.Hour)
	h.requireLaunchedAt(24 * time.Hour)
}

// R-APPR-7: an approver who lost the right "can no longer act", even while the workflow is busy.
// Here the revocation signal arrives while a change-approvers Update holds the workflow's mutex
// (its activity is running), and the revoked approver's approve arrives right after. The workflow
// should refuse it (validator, or at least before calling Decide for the revoked user).
func TestRevocation_WhileAnUpdateHoldsTheMutex(t *testing.T) {
	h := newHarness(t)
	var change, approve *outcome
	h.at(time.Minute, func() {
		change = h.update(workflows.UpdateChangeApprovers, "ch", workflows.ChangeApproversInput{ActorID: "u-sub", ApproverIDs: []string{"u-app1", "u-new"}})
		h.env.SignalWorkflow(workflows.SignalApproverRevoked, workflows.ApproverRevokedSignal{UserID: "u-app1"})
		approve = h.decision(workflows.UpdateApprove, "ap", "u-app1", "")
	})
	res, err := h.run()
	require.NoError(t, err)
	assert.True(t, change.succeeded(), "%+v", change)
	for _, d := range h.decideCalls() {
		if d.Actor != nil && *d.Actor == "u-app1" {
			t.Errorf("Decide(%s) was called for u-app1 after u-app1's revocation was signalled (workflow result %q, "+
				"update %+v); only the database's right check would stop it", d.Type, res, approve)
		}
	}
	assert.False(t, approve.succeeded(), "a revoked approver approved: %+v", approve)
}

// R-APPR-1: turning approvals off approves pending requests automatically, as the system.
func TestApprovalsDisabled(t *testing.T) {
	h := newHarness(t)
	var after *outcome
	h.at(time.Hour, func() { h.env.SignalWorkflow(workflows.SignalApprovalsDisabled, nil) })
	h.at(2*time.Hour, func() { after = h.decision(workflows.UpdateCancel, "cancel", "u-sub", "") })
	h.mustRun("launched")
	h.requireOneDecision(storage.EventAutoApproved, nil, time.Hour)
	h.requireLaunchedAt(24 * time.Hour)
	assert.Equal(t, string(errs.AlreadyHandled), errType(after.failure()), "cancel after auto-approval: %+v", after)
}

// R-CAMP-3 / R-APPR-8: an edit that drops the approval wakes the workflow, which runs LaunchApproved
// at once; the activity records launch_skipped when the approval no longer covers the campaign.
func TestApprovalDropped(t *testing.T) {
	for _, tc := range []struct {
		name   string
		res    activities.LaunchResult
		result string
	}{
		{"activity skips", activities.LaunchResult{Skipped: true}, "launch_skipped"},
		{"activity launches", activities.LaunchResult{Launched: true}, "launched"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.launchResult = tc.res
			h.at(time.Minute, func() { h.decision(workflows.UpdateApprove, "ap", "u-app1", "") })
			h.at(time.Hour, func() { h.env.SignalWorkflow(workflows.SignalApprovalDropped, nil) })
			h.mustRun(tc.result)
			h.requireOneDecision(storage.EventApproved, ptr("u-app1"), time.Minute)
			h.requireLaunchedAt(time.Hour)
		})
	}
}

// R-APPR-5: of concurrent decisions exactly one wins; the others answer AlreadyHandled; Decide runs once.
func TestConcurrentDecisions(t *testing.T) {
	type action struct{ update, actor, note string }
	approve1 := action{workflows.UpdateApprove, "u-app1", ""}
	for _, tc := range []struct {
		name          string
		first, second action
		immediate     bool // LaunchAt nil: the workflow ends right after the decision
		winType       string
		result        string
	}{
		{"approve then cancel", approve1, action{workflows.UpdateCancel, "u-sub", ""}, false, storage.EventApproved, "launched"},
		{"approve then reject", approve1, action{workflows.UpdateReject, "u-app2", "no"}, false, storage.EventApproved, "launched"},
		{"approve then approve", approve1, action{workflows.UpdateApprove, "u-app2", ""}, false, storage.EventApproved, "launched"},
		{"cancel then approve, immediate", action{workflows.UpdateCancel, "u-sub", ""}, approve1, true, storage.EventCancelled, storage.RequestStatusCancelled},
		{"reject then approve, immediate", action{workflows.UpdateReject, "u-app2", "no"}, approve1, true, storage.EventRejected, storage.RequestStatusRejected},
		{"approve then cancel, immediate", approve1, action{workflows.UpdateCancel, "u-sub", ""}, true, storage.EventApproved, "launched"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			if tc.immediate {
				h.in.Deadline, h.in.LaunchAt = t0.Add(2*time.Hour), nil
			}
			var first, second, third *outcome
			h.at(time.Minute, func() {
				first = h.decision(tc.first.update, "u1", tc.first.actor, tc.first.note)
				second = h.decision(tc.second.update, "u2", tc.second.actor, tc.second.note)
			})
			if !tc.immediate {
				h.at(time.Hour, func() { third = h.decision(workflows.UpdateCancel, "u3", "u-sub", "") })
			}
			h.mustRun(tc.result)

			wins := 0
			for _, o := range []*outcome{first, second} {
				if o.succeeded() {
					wins++
					continue
				}
				// The loser must have an answer (rejected, or completed with an error), never none.
				assert.True(t, o.RejectErr != nil || o.Completed, "loser got no answer: %+v", o)
				assert.Equal(t, string(errs.AlreadyHandled), errType(o.failure()), "loser: %+v", o)
			}
			assert.Equal(t, 1, wins, "first %+v, second %+v", first, second)
			assert.True(t, first.succeeded(), "the first update should win")
			h.requireOneDecision(tc.winType, ptr(tc.first.actor), time.Minute)
			if third != nil {
				assert.False(t, third.Accepted, "%+v", third)
				assert.Equal(t, string(errs.AlreadyHandled), errType(third.RejectErr), "update after the decision: %+v", third)
			}
		})
	}
}

// A decision arriving at the very instant of the deadline: whichever is handled first wins, the
// other loses cleanly, and the outcome is consistent (one Decide, result matching it).
func TestDecisionAtDeadline(t *testing.T) {
	h := newHarness(t)
	h.in.Deadline, h.in.LaunchAt = t0.Add(2*time.Hour), nil
	var o *outcome
	// At the deadline instant the approval is refused whichever comes first, the timer or the
	// Update: the validator refuses decisions at or after the deadline even while the timer's
	// outcome is not recorded yet (timers fire late when many fall due together).
	h.at(2*time.Hour, func() { o = h.decision(workflows.UpdateApprove, "ap", "u-app1", "") })
	res, err := h.run()
	require.NoError(t, err)
	assert.Equal(t, storage.RequestStatusTimedOut, res)
	h.requireOneDecision(storage.EventTimedOut, nil, 2*time.Hour)
	require.NotNil(t, o)
	assert.False(t, o.succeeded(), "%+v", o)
	assert.Equal(t, string(errs.AlreadyHandled), errType(o.failure()), "%+v", o)
	assert.Empty(t, h.launchCalls())
}

// R-APPR-5, §7 second line of defence: the database guard refuses the decision (AlreadyHandled).
// The update fails with that type; the workflow's own status is unchanged (still pending), so it
// goes on waiting, and here a later decision (the deadline) succeeds.
func TestDecideAlreadyHandledByDatabase_UpdateFails(t *testing.T) {
	h := newHarness(t)
	h.decideErr = func(n int, _ activities.DecideInput) error {
		if n == 1 {
			return temporal.NewNonRetryableApplicationError("the request was already handled", string(errs.AlreadyHandled), nil)
		}
		return nil
	}
	var o, retry *outcome
	h.at(time.Minute, func() { o = h.decision(workflows.UpdateApprove, "ap", "u-app1", "") })
	h.at(time.Hour, func() { retry = h.decision(workflows.UpdateApprove, "ap-2", "u-app2", "") })
	h.mustRun("launched")
	assert.True(t, o.Accepted, "the validator sees a pending request: %+v", o)
	assert.Error(t, o.Err)
	assert.Equal(t, string(errs.AlreadyHandled), errType(o.Err), "%+v", o)
	assert.True(t, retry.succeeded(), "the workflow stayed pending after the refused decision: %+v", retry)
	ds := h.decideCalls()
	require.Len(t, ds, 2)
	h.requireLaunchedAt(24 * time.Hour)
}

// A refusal typed "AlreadyHandled", as activities of earlier workers typed it, is the same refusal:
// the workflow adopts the database's status (here still pending) and goes on waiting.
func TestDecideAlreadyHandledByDatabase_LegacyErrorType(t *testing.T) {
	h := newHarness(t)
	h.decideErr = func(n int, _ activities.DecideInput) error {
		if n == 1 {
			return temporal.NewNonRetryableApplicationError("the request was already handled", "AlreadyHandled", nil)
		}
		return nil
	}
	var o, retry *outcome
	h.at(time.Minute, func() { o = h.decision(workflows.UpdateApprove, "ap", "u-app1", "") })
	h.at(time.Hour, func() { retry = h.decision(workflows.UpdateApprove, "ap-2", "u-app2", "") })
	h.mustRun("launched")
	assert.True(t, errs.Is(o.Err, errs.AlreadyHandled), "%+v", o)
	assert.True(t, retry.succeeded(), "the workflow stayed pending after the refused decision: %+v", retry)
	require.Len(t, h.decideCalls(), 2)
}

// When the database says the request is already decided but the workflow believes it pending (its
// Decide was refused by the guard), every event the main loop handles (deadline, approvals
// disabled, last approver expired) gets AlreadyHandled too. The loop must not retry the same event
// forever: the workflow should end (or at least stop calling Decide) instead of livelocking.
func TestDecideAlreadyHandledByDatabase_EventLoopDoesNotSpin(t *testing.T) {
	for _, tc := range []struct {
		name    string
		trigger func(h *harness)
		expire  bool
	}{
		{"deadline", func(*harness) {}, false},
		{"approvals disabled", func(h *harness) {
			h.at(time.Hour, func() { h.env.SignalWorkflow(workflows.SignalApprovalsDisabled, nil) })
		}, false},
		{"last approver expired", func(h *harness) {
			h.at(time.Hour, func() {
				h.env.SignalWorkflow(workflows.SignalApproverRevoked, workflows.ApproverRevokedSignal{UserID: "u-app1"})
			})
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const limit = 25
			h := newHarness(t)
			h.dbStatus = storage.RequestStatusCancelled // the database holds another decision
			h.in.Deadline, h.in.LaunchAt = t0.Add(2*time.Hour), nil
			if tc.expire {
				h.expireResult = func(activities.ExpireApproverInput) activities.ExpireResult {
					return activities.ExpireResult{ValidApprovers: 0, Policy: "expire", Status: storage.RequestStatusApproved}
				}
			}
			h.decideErr = func(n int, _ activities.DecideInput) error {
				if n >= limit { // break the loop so the test ends
					return temporal.NewNonRetryableApplicationError("test: too many Decide calls", "TestLoopBreaker", nil)
				}
				return temporal.NewNonRetryableApplicationError("the request was already handled", string(errs.AlreadyHandled), nil)
			}
			tc.trigger(h)
			_, err := h.run()
			ds := h.decideCalls()
			assert.LessOrEqual(t, len(ds), 2,
				"Decide was called %d times (the test stops it at %d) after the database answered AlreadyHandled: "+
					"the event loop retries the same event forever (hot loop); workflow error: %v", len(ds), limit, err)
			if n := len(ds); n > 2 {
				assert.Equal(t, ds[n-2].At, ds[n-1].At, "the repeated calls happen at one instant (no backoff)")
				t.Logf("last Decide call: %+v at start%+v", ds[n-1].Type, ds[n-1].At.Sub(t0))
			}
		})
	}
}

// R-APPR-5: a decision the database recorded in a workflow task that was lost (the server dropped the
// speculative task after the decision's local activity ran, so its Update's answer was never kept).
// Another approver's rejection is refused by the database and the run adopts the recorded approval;
// when the lost Update comes again, it is answered with the recorded decision, once: a duplicate
// and any other decision are refused. Exactly one Update wins.
func TestDecisionRecordedByALostTask_AnsweredOnce(t *testing.T) {
	h := newHarness(t)
	h.dbStatus, h.dbDecidedBy = storage.RequestStatusApproved, ptr("u-app1")
	h.decideErr = func(_ int, in activities.DecideInput) error {
		if in.Decision.Type != storage.EventApproved || *in.Decision.ActorID != "u-app1" {
			return temporal.NewNonRetryableApplicationError("the request was already handled", string(errs.AlreadyHandled), nil)
		}
		return nil // the database answers the decision it holds as a retry
	}
	var rejected, lost, duplicate, other *outcome
	h.at(time.Minute, func() { rejected = h.decision(workflows.UpdateReject, "reject", "u-app2", "no") })
	h.at(2*time.Minute, func() { lost = h.decision(workflows.UpdateApprove, "lost", "u-app1", "ok") })
	h.at(3*time.Minute, func() {
		duplicate = h.decision(workflows.UpdateApprove, "duplicate", "u-app1", "ok")
		other = h.decision(workflows.UpdateApprove, "other", "u-app2", "")
	})
	h.mustRun("launched")
	assert.Equal(t, string(errs.AlreadyHandled), errType(rejected.failure()), "%+v", rejected)
	require.True(t, lost.succeeded(), "the lost Update is answered with the recorded decision: %+v", lost)
	res, ok := lost.Result.(workflows.Request)
	if assert.True(t, ok, "%T", lost.Result) {
		assert.Equal(t, storage.RequestStatusApproved, res.Status)
	}
	assert.Equal(t, string(errs.AlreadyHandled), errType(duplicate.failure()), "a duplicate is refused: %+v", duplicate)
	assert.Equal(t, string(errs.AlreadyHandled), errType(other.failure()), "%+v", other)
	ds := h.decideCalls()
	require.Len(t, ds, 2, "the refused rejection, then the recorded approval answered: %+v", ds)
	assert.Equal(t, storage.EventRejected, ds[0].Type)
	assert.Equal(t, storage.EventApproved, ds[1].Type)
	h.mu.Lock()
	assert.Contains(t, h.statusAttrs, storage.RequestStatusApproved, "the adopted status is upserted")
	h.mu.Unlock()
	h.requireLaunchedAt(24 * time.Hour)
}

// The same for a rejection, after which the run ends: it waits a while for the lost Update, answers
// it when it comes, and ends rejected; when it never comes, the run ends after the grace.
func TestDecisionRecordedByALostTask_RunWaitsBeforeEnding(t *testing.T) {
	for _, comes := range []bool{true, false} {
		t.Run(fmt.Sprintf("update comes again: %v", comes), func(t *testing.T) {
			h := newHarness(t)
			h.dbStatus, h.dbDecidedBy = storage.RequestStatusRejected, ptr("u-app2")
			h.decideErr = func(_ int, in activities.DecideInput) error {
				if in.Decision.Type != storage.EventRejected || *in.Decision.ActorID != "u-app2" {
					return temporal.NewNonRetryableApplicationError("the request was already handled", string(errs.AlreadyHandled), nil)
				}
				return nil
			}
			var refused, lost *outcome
			h.at(time.Minute, func() { refused = h.decision(workflows.UpdateApprove, "approve", "u-app1", "") })
			if comes {
				h.at(time.Minute+5*time.Second, func() { lost = h.decision(workflows.UpdateReject, "lost", "u-app2", "no") })
			}
			h.mustRun(storage.RequestStatusRejected)
			assert.Equal(t, string(errs.AlreadyHandled), errType(refused.failure()), "%+v", refused)
			end := h.env.Now().Sub(h.start)
			if comes {
				require.True(t, lost.succeeded(), "%+v", lost)
				assertAt(t, h.start.Add(time.Minute+5*time.Second), h.start.Add(end), "the run's end")
			} else {
				assertAt(t, h.start.Add(time.Minute+30*time.Second), h.start.Add(end), "the run's end")
			}
			assert.Empty(t, h.launchCalls())
		})
	}
}
