package workflows_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"

	"github.com/signoff/signoff/activities"
	"github.com/signoff/signoff/errs"
	"github.com/signoff/signoff/storage"
	"github.com/signoff/signoff/workflows"
)

// The tests below cover approval policies (R-POL-2, R-POL-3, R-POL-5) in the time-skipping
// environment: stages in order, N-of-M counting, rules on the audience size, rejection, revocation,
// reminders per stage, the deadline and approvals turned off in the middle of a stage.

// policyDB is the fake database of the stage approvals: the unique key (request, stage, user) is
// the second guard, as in Postgres.
type policyDB struct {
	mu        sync.Mutex
	approvals map[string]bool // "stage/user"
	count     map[int]int
	calls     []activities.ApproveStageInput
	audience  int
	counted   int
}

// withPolicy gives the harness's request policy p and an audience of audience contacts, and mocks
// the policy's activities over a fake database.
func (h *harness) withPolicy(p workflows.Policy, audience int) *policyDB {
	db := &policyDB{approvals: map[string]bool{}, count: map[int]int{}, audience: audience}
	h.in.Policy = &p
	seen := map[string]bool{}
	h.in.ApproverIDs = nil
	for _, st := range append(append([]workflows.Stage{}, p.Stages...), ruleStages(p)...) {
		for _, id := range st.ApproverIDs {
			if !seen[id] {
				seen[id] = true
				h.in.ApproverIDs = append(h.in.ApproverIDs, id)
			}
		}
	}
	h.assigned = append([]string(nil), h.in.ApproverIDs...)
	h.env.OnActivity(a.ApproveStage, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.ApproveStageInput) (activities.ApproveStageResult, error) {
			db.mu.Lock()
			defer db.mu.Unlock()
			db.calls = append(db.calls, in)
			key := fmt.Sprintf("%d/%s", in.Stage, in.UserID)
			if !db.approvals[key] {
				db.approvals[key] = true
				db.count[in.Stage]++
			}
			return activities.ApproveStageResult{Status: storage.RequestStatusPending, StageDone: db.count[in.Stage] >= in.Required}, nil
		})
	h.audience = func(int, activities.AudienceInput) (int, error) {
		db.mu.Lock()
		defer db.mu.Unlock()
		db.counted++
		return db.audience, nil
	}
	return db
}

func ruleStages(p workflows.Policy) []workflows.Stage {
	var out []workflows.Stage
	for _, r := range p.Rules {
		out = append(out, r.AddStage)
	}
	return out
}

func (db *policyDB) stageCalls() []activities.ApproveStageInput {
	db.mu.Lock()
	defer db.mu.Unlock()
	return append([]activities.ApproveStageInput(nil), db.calls...)
}

// state answers the workflow's state query.
func (h *harness) state() workflows.RequestState {
	v, err := h.env.QueryWorkflow(workflows.QueryState)
	require.NoError(h.t, err)
	var st workflows.RequestState
	require.NoError(h.t, v.Get(&st))
	return st
}

// requireApprovedInStage asserts one decision, approved by actor at start+after, completing stage.
func (h *harness) requireApprovedInStage(actor string, stage int, after time.Duration) {
	h.t.Helper()
	d := h.requireOneDecision(storage.EventApproved, &actor, after)
	if assert.NotNil(h.t, d.Stage, "the approval names the stage it completes") {
		assert.Equal(h.t, stage, *d.Stage)
	}
}

var threeApprovers = []string{"u-a", "u-b", "u-c"}

// R-POL-2, R-POL-5: 2 of 3. The first approval is counted in the stage (the request stays pending),
// the same person's second approval is refused (already_approved), the second person's approval
// completes the stage and approves the request; the third approver is too late.
func TestStages_TwoOfThree(t *testing.T) {
	h := newHarness(t)
	db := h.withPolicy(workflows.Policy{Stages: []workflows.Stage{{Name: "marketing", ApproverIDs: threeApprovers, Required: 2}}}, 10)
	var first, again, second, third *outcome
	h.at(time.Minute, func() { first = h.decision(workflows.UpdateApprove, "a1", "u-a", "") })
	h.at(2*time.Minute, func() {
		st := h.state()
		require.Len(t, st.Stages, 1)
		assert.Equal(t, []string{"u-a"}, st.Stages[0].Approvals)
		assert.False(t, st.Stages[0].Done)
		again = h.decision(workflows.UpdateApprove, "a2", "u-a", "")
	})
	h.at(3*time.Minute, func() { second = h.decision(workflows.UpdateApprove, "a3", "u-b", "fine") })
	h.at(4*time.Minute, func() { third = h.decision(workflows.UpdateApprove, "a4", "u-c", "") })
	h.mustRun("launched")

	assert.True(t, first.succeeded(), "%+v", first)
	assert.Equal(t, storage.RequestStatusPending, first.Result.(workflows.Request).Status, "one approval of two: still pending")
	assert.Equal(t, string(errs.AlreadyApproved), errType(again.failure()), "a second approval by the same person: %+v", again)
	assert.True(t, second.succeeded(), "%+v", second)
	assert.Equal(t, storage.RequestStatusApproved, second.Result.(workflows.Request).Status)
	assert.Equal(t, string(errs.AlreadyHandled), errType(third.failure()), "%+v", third)
	assert.Equal(t, []activities.ApproveStageInput{{AccountID: "a1", RequestID: "r1", Stage: 0, UserID: "u-a", Required: 2}}, db.stageCalls(),
		"only the approval that does not complete the stage is counted alone; the completing one is the decision")
	h.requireApprovedInStage("u-b", 0, 3*time.Minute)
	h.requireLaunchedAt(24 * time.Hour)
}

// R-POL-1/2: required "all" of 2 (resolved to 2 at submission): one approval is not enough.
func TestStages_AllOfTwo(t *testing.T) {
	h := newHarness(t)
	db := h.withPolicy(workflows.Policy{Stages: []workflows.Stage{{Name: "legal", ApproverIDs: []string{"u-a", "u-b"}, Required: 2}}}, 10)
	h.at(time.Minute, func() { h.decision(workflows.UpdateApprove, "a1", "u-b", "") })
	h.at(time.Hour, func() {
		assert.Empty(t, h.decideCalls(), "one of two approved: no decision")
		h.decision(workflows.UpdateApprove, "a2", "u-a", "")
	})
	h.mustRun("launched")
	require.Len(t, db.stageCalls(), 1)
	h.requireApprovedInStage("u-a", 0, time.Hour)
}

// R-POL-2: two stages in order. Stage 2's approver cannot act during stage 1 (stage_not_current),
// stage 1's approver cannot act in stage 2, and the request is approved when stage 2 is done.
func TestStages_TwoStagesInOrder(t *testing.T) {
	h := newHarness(t)
	db := h.withPolicy(workflows.Policy{Stages: []workflows.Stage{
		{Name: "marketing", ApproverIDs: []string{"u-a"}, Required: 1},
		{Name: "legal", ApproverIDs: []string{"u-b"}, Required: 1}}}, 10)
	var early, s1, late, s2 *outcome
	h.at(time.Minute, func() { early = h.decision(workflows.UpdateApprove, "e", "u-b", "") })
	h.at(2*time.Minute, func() { s1 = h.decision(workflows.UpdateApprove, "s1", "u-a", "") })
	h.at(3*time.Minute, func() {
		assert.Equal(t, 1, h.state().CurrentStage, "stage 1 done: the request waits for stage 2")
		late = h.decision(workflows.UpdateApprove, "l", "u-a", "")
	})
	h.at(4*time.Minute, func() { s2 = h.decision(workflows.UpdateApprove, "s2", "u-b", "") })
	h.mustRun("launched")
	assert.Equal(t, string(errs.StageNotCurrent), errType(early.failure()), "%+v", early)
	assert.True(t, s1.succeeded(), "%+v", s1)
	assert.Equal(t, string(errs.StageNotCurrent), errType(late.failure()), "%+v", late)
	assert.True(t, s2.succeeded(), "%+v", s2)
	assert.Equal(t, []activities.ApproveStageInput{{AccountID: "a1", RequestID: "r1", Stage: 0, UserID: "u-a", Required: 1}}, db.stageCalls())
	h.requireApprovedInStage("u-b", 1, 4*time.Minute)
}

// R-POL-3: a rule adds a stage when the audience is larger than its threshold, and only then. The
// audience is counted once, by an activity, at the start.
func TestStages_RuleAddsAStage(t *testing.T) {
	for _, tc := range []struct {
		audience int
		stages   int
	}{{audience: 5000, stages: 2}, {audience: 1000, stages: 1}} {
		t.Run(fmt.Sprint(tc.audience), func(t *testing.T) {
			h := newHarness(t)
			db := h.withPolicy(workflows.Policy{
				Stages: []workflows.Stage{{Name: "marketing", ApproverIDs: []string{"u-a"}, Required: 1}},
				Rules:  []workflows.Rule{{AudienceSizeGT: 1000, AddStage: workflows.Stage{Name: "exec", ApproverIDs: []string{"u-c"}, Required: 1}}},
			}, tc.audience)
			h.at(time.Minute, func() {
				assert.Len(t, h.state().Stages, tc.stages)
				h.decision(workflows.UpdateApprove, "s1", "u-a", "")
			})
			h.at(2*time.Minute, func() { h.decision(workflows.UpdateApprove, "s2", "u-c", "") })
			h.mustRun("launched")
			assert.Equal(t, 1, db.counted, "the audience is counted once")
			if tc.stages == 2 {
				require.Len(t, db.stageCalls(), 1)
				h.requireApprovedInStage("u-c", 1, 2*time.Minute)
			} else {
				assert.Empty(t, db.stageCalls())
				h.requireApprovedInStage("u-a", 0, time.Minute)
			}
		})
	}
}

// R-POL-2: a rejection in stage 2 rejects the request at once; stage 1's approvals do not help.
func TestStages_RejectionInStageTwo(t *testing.T) {
	h := newHarness(t)
	h.withPolicy(workflows.Policy{Stages: []workflows.Stage{
		{Name: "marketing", ApproverIDs: []string{"u-a"}, Required: 1},
		{Name: "legal", ApproverIDs: []string{"u-b", "u-c"}, Required: 2}}}, 10)
	var rej *outcome
	h.at(time.Minute, func() { h.decision(workflows.UpdateApprove, "s1", "u-a", "") })
	h.at(2*time.Minute, func() { h.decision(workflows.UpdateApprove, "s2a", "u-b", "") })
	h.at(3*time.Minute, func() { rej = h.decision(workflows.UpdateReject, "r", "u-c", "the copy is off") })
	h.mustRun(storage.RequestStatusRejected)
	assert.True(t, rej.succeeded(), "%+v", rej)
	h.requireOneDecision(storage.EventRejected, ptr("u-c"), 3*time.Minute)
	assert.Empty(t, h.launchCalls())
}

// R-APPR-7 per stage (R-POL-5): in a 2-of-3 stage with one approval, the first revocation leaves the
// stage reachable, the second does not: under expire the request expires, under hold it stays
// pending until its deadline.
func TestStages_RevocationMakesTheStageUnreachable(t *testing.T) {
	for _, policy := range []string{"expire", "hold"} {
		t.Run(policy, func(t *testing.T) {
			h := newHarness(t)
			h.withPolicy(workflows.Policy{Stages: []workflows.Stage{{Name: "marketing", ApproverIDs: threeApprovers, Required: 2}}}, 10)
			h.expireResult = func(in activities.ExpireApproverInput) activities.ExpireResult {
				return activities.ExpireResult{ValidApprovers: 2, Policy: policy, Status: storage.RequestStatusPending}
			}
			h.at(time.Minute, func() { h.decision(workflows.UpdateApprove, "a", "u-a", "") })
			h.at(time.Hour, func() {
				h.env.SignalWorkflow(workflows.SignalApproverRevoked, workflows.ApproverRevokedSignal{UserID: "u-b"})
			})
			h.at(2*time.Hour, func() {
				assert.Empty(t, h.decideCalls(), "u-a approved and u-c may still: reachable")
				h.env.SignalWorkflow(workflows.SignalApproverRevoked, workflows.ApproverRevokedSignal{UserID: "u-c"})
			})
			if policy == "expire" {
				h.mustRun(storage.RequestStatusExpired)
				d := h.requireOneDecision(storage.EventApproverExpired, nil, 2*time.Hour)
				assert.Contains(t, d.Note, "can no longer reach its 2 required approvals")
			} else {
				h.mustRun(storage.RequestStatusTimedOut)
				h.requireOneDecision(storage.EventTimedOut, nil, 48*time.Hour)
			}
		})
	}
}

// R-POL-5: reminders per stage. Stage 1's approvers are reminded from the submission; when stage 1
// is done its timers stop and stage 2's count from the stage's start, for stage 2.
func TestStages_RemindersPerStage(t *testing.T) {
	h := newHarness(t)
	h.withReminders(0, 24*time.Hour, 0, nil, 120*time.Hour, 0)
	h.withPolicy(workflows.Policy{Stages: []workflows.Stage{
		{Name: "marketing", ApproverIDs: []string{"u-a"}, Required: 1},
		{Name: "legal", ApproverIDs: []string{"u-b"}, Required: 1}}}, 10)
	h.at(30*time.Hour, func() { h.decision(workflows.UpdateApprove, "s1", "u-a", "") })
	h.mustRun(storage.RequestStatusTimedOut)
	calls := h.remindCalls()
	require.Len(t, calls, 4, "%+v", calls)
	for i, want := range []struct {
		stage, n, of int
		at           time.Duration
	}{{0, 1, 3, 24 * time.Hour}, {1, 1, 3, 54 * time.Hour}, {1, 2, 3, 78 * time.Hour}, {1, 3, 3, 102 * time.Hour}} {
		if assert.NotNil(t, calls[i].In.Stage, "reminder %d names its stage", i) {
			assert.Equal(t, want.stage, *calls[i].In.Stage, "reminder %d's stage", i)
		}
		assert.Equal(t, want.n, calls[i].In.N)
		assert.Equal(t, want.of, calls[i].In.Of)
		assertAt(t, t0.Add(want.at), calls[i].At, "reminder %d", i)
	}
}

// R-APPR-6 under a policy: the deadline in the middle of stage 2 times the request out.
func TestStages_DeadlineInStageTwo(t *testing.T) {
	h := newHarness(t)
	h.withPolicy(workflows.Policy{Stages: []workflows.Stage{
		{Name: "marketing", ApproverIDs: []string{"u-a"}, Required: 1},
		{Name: "legal", ApproverIDs: threeApprovers, Required: 2}}}, 10)
	h.at(time.Hour, func() { h.decision(workflows.UpdateApprove, "s1", "u-a", "") })
	h.at(2*time.Hour, func() {
		h.decision(workflows.UpdateApprove, "s2", "u-b", "")
		assert.Equal(t, 1, h.state().CurrentStage)
	})
	h.mustRun(storage.RequestStatusTimedOut)
	h.requireOneDecision(storage.EventTimedOut, nil, 48*time.Hour)
}

// R-APPR-1 under a policy: approvals turned off in the middle of a stage approve the request.
func TestStages_ApprovalsTurnedOffMidStage(t *testing.T) {
	h := newHarness(t)
	h.withPolicy(workflows.Policy{Stages: []workflows.Stage{{Name: "marketing", ApproverIDs: threeApprovers, Required: 2}}}, 10)
	h.at(time.Minute, func() { h.decision(workflows.UpdateApprove, "a", "u-a", "") })
	h.at(time.Hour, func() { h.env.SignalWorkflow(workflows.SignalApprovalsDisabled, nil) })
	h.mustRun("launched")
	d := h.requireOneDecision(storage.EventAutoApproved, nil, time.Hour)
	assert.Nil(t, d.Stage)
}

// R-POL-5: escalation per stage. Stage 1 is done before its escalation falls due, so it never
// escalates; stage 2 escalates escalate_after after it started, for stage 2, and the escalation user
// may then approve stage 2.
func TestStages_EscalationPerStage(t *testing.T) {
	h := newHarness(t)
	h.withReminders(0, 0, 10*time.Hour, []string{"u-esc"}, 120*time.Hour, 0)
	h.withPolicy(workflows.Policy{Stages: []workflows.Stage{
		{Name: "marketing", ApproverIDs: []string{"u-a"}, Required: 1},
		{Name: "legal", ApproverIDs: []string{"u-b"}, Required: 1}}}, 10)
	var early, esc *outcome
	h.at(5*time.Hour, func() { h.decision(workflows.UpdateApprove, "s1", "u-a", "") })
	h.at(6*time.Hour, func() { early = h.decision(workflows.UpdateApprove, "e", "u-esc", "") })
	h.at(16*time.Hour, func() { esc = h.decision(workflows.UpdateApprove, "s2", "u-esc", "") })
	h.mustRun("launched")
	assert.Equal(t, string(errs.Forbidden), errType(early.failure()), "not an approver before the escalation: %+v", early)
	assert.True(t, esc.succeeded(), "%+v", esc)
	calls := h.escalateCalls()
	require.Len(t, calls, 1, "%+v", calls)
	if assert.NotNil(t, calls[0].In.Stage) {
		assert.Equal(t, 1, *calls[0].In.Stage)
	}
	assertAt(t, t0.Add(15*time.Hour), calls[0].At, "stage 2's escalation")
	h.requireApprovedInStage("u-esc", 1, 16*time.Hour)
}

// R-POL-2: a run the sweeper starts again resumes where the request stood: in stage 2, with stage 2's
// approval counted, the next approval of stage 2 approves the request.
func TestStages_RepairedRunResumes(t *testing.T) {
	h := newHarness(t)
	h.withPolicy(workflows.Policy{Stages: []workflows.Stage{
		{Name: "marketing", ApproverIDs: []string{"u-a"}, Required: 1},
		{Name: "legal", ApproverIDs: threeApprovers, Required: 2}}}, 10)
	h.in.Repaired, h.in.ResumeStage, h.in.ResumeApprovals = true, 1, map[int][]string{0: {"u-a"}, 1: {"u-b"}}
	var again *outcome
	h.at(time.Minute, func() {
		assert.Equal(t, 1, h.state().CurrentStage)
		again = h.decision(workflows.UpdateApprove, "b", "u-b", "")
	})
	h.at(2*time.Minute, func() { h.decision(workflows.UpdateApprove, "c", "u-c", "") })
	h.mustRun("launched")
	assert.Equal(t, string(errs.AlreadyApproved), errType(again.failure()))
	h.requireApprovedInStage("u-c", 1, 2*time.Minute)
}
