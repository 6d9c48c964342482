package workflows_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/workflow"

	"github.com/signoff/signoff/errs"
	"github.com/signoff/signoff/storage"
	"github.com/signoff/signoff/workflows"
)

// The tests below cover R-ACT-2 in the time-skipping environment: reminders and escalation are
// durable timers of the request's workflow, counted from the submission, taken from the workflow's
// input (the settings at submission), never after the deadline nor after a decision.

// withReminders sets the harness's request to be submitted at t0+from (negative: before this run)
// with the settings given, its deadline at t0+deadline and no start time unless launchAt > 0.
func (h *harness) withReminders(from, every, escalateAfter time.Duration, escalateTo []string, deadline, launchAt time.Duration) {
	h.in.Reminders = &workflows.Reminders{From: t0.Add(from), Every: every, EscalateAfter: escalateAfter, EscalateTo: escalateTo}
	h.in.Deadline = t0.Add(deadline)
	h.in.LaunchAt = nil
	if launchAt > 0 {
		at := t0.Add(launchAt)
		h.in.LaunchAt = &at
	}
}

func (h *harness) remindCalls() []remindCall {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]remindCall(nil), h.reminds...)
}

func (h *harness) escalateCalls() []escalateCall {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]escalateCall(nil), h.escalations...)
}

// requireReminders asserts the reminders sent: reminder numbers[i] of of at t0+at[i], each for request r1.
func (h *harness) requireReminders(of int, numbers []int, at ...time.Duration) {
	h.t.Helper()
	calls := h.remindCalls()
	require.Len(h.t, calls, len(at), "RemindApprovers calls: %+v", calls)
	for i, c := range calls {
		assert.Equal(h.t, "r1", c.In.RequestID)
		assert.Equal(h.t, "a1", c.In.AccountID)
		assert.Equal(h.t, numbers[i], c.In.N, "reminder %d's number", i)
		assert.Equal(h.t, of, c.In.Of, "reminder %d: of how many", i)
		assertAt(h.t, t0.Add(at[i]), c.At, "reminder %d", numbers[i])
	}
}

// R-ACT-2: reminder_after 24h with a deadline five days out: reminders at 24h, 48h and 72h, and no
// fourth at 96h (at most 3); the request then times out as before. Each reminder is one local
// activity, which delivers its own emails: the workflow delivers only what that left in the outbox.
func TestReminders_AtMostThree(t *testing.T) {
	for _, mailPending := range []bool{false, true} {
		h := newHarness(t)
		h.mailPending = mailPending
		h.withReminders(0, 24*time.Hour, 0, nil, 120*time.Hour, 0)
		h.mustRun(storage.RequestStatusTimedOut)
		h.requireReminders(3, []int{1, 2, 3}, 24*time.Hour, 48*time.Hour, 72*time.Hour)
		h.requireOneDecision(storage.EventTimedOut, nil, 120*time.Hour)
		assert.Empty(t, h.escalateCalls(), "escalation is off")
		h.mu.Lock()
		if mailPending {
			assert.Equal(t, 1+3+1, h.delivers, "the submission's emails, then what each reminder and the timeout left")
		} else {
			assert.Equal(t, 1, h.delivers, "the submission's emails; each reminder delivered its own")
		}
		h.mu.Unlock()
	}
}

// R-ACT-2: never after the deadline: only the reminders due strictly before it are sent, and their
// count is what the summaries say ("reminder 1 of 1").
func TestReminders_NeverAfterTheDeadline(t *testing.T) {
	for _, tc := range []struct {
		name     string
		every    time.Duration
		deadline time.Duration
		at       []time.Duration
	}{
		{"the second would fall after it", 30 * time.Hour, 48 * time.Hour, []time.Duration{30 * time.Hour}},
		{"the second would fall on it", 24 * time.Hour, 48 * time.Hour, []time.Duration{24 * time.Hour}},
		{"the first would fall after it", 72 * time.Hour, 48 * time.Hour, nil},
		{"two before it", 20 * time.Hour, 48 * time.Hour, []time.Duration{20 * time.Hour, 40 * time.Hour}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.withReminders(0, tc.every, 0, nil, tc.deadline, 0)
			h.mustRun(storage.RequestStatusTimedOut)
			numbers := make([]int, len(tc.at))
			for i := range numbers {
				numbers[i] = i + 1
			}
			h.requireReminders(len(tc.at), numbers, tc.at...)
			for _, c := range h.remindCalls() {
				assert.True(t, c.At.Before(t0.Add(tc.deadline)), "a reminder at %v, not before the deadline", c.At)
			}
			h.requireOneDecision(storage.EventTimedOut, nil, tc.deadline)
		})
	}
}

// R-ACT-2: a decided request reminds nobody: approved at 30h, it waits for its start time (100h) with
// its next reminder timer still set, which fires at 48h and reminds nobody.
func TestReminders_StopWhenDecided(t *testing.T) {
	h := newHarness(t)
	h.withReminders(0, 24*time.Hour, 0, nil, 120*time.Hour, 100*time.Hour)
	var o *outcome
	h.at(30*time.Hour, func() { o = h.decision(workflows.UpdateApprove, "ap", "u-app1", "ok") })
	h.mustRun(workflows.ResultLaunched)
	assert.True(t, o.succeeded(), "approve: %+v", o)
	h.requireReminders(3, []int{1}, 24*time.Hour)
	h.requireLaunchedAt(100 * time.Hour)
}

// R-ACT-2: reminders count from the submission: a run the sweeper restarts 30h after it (Repaired)
// sends the last reminder that fell due before it started (the first, due 6h before) at once, in case
// the run before did not (the step does nothing when it did), and the next ones 48h and 72h after the
// submission, numbered as they were.
func TestReminders_CountFromSubmission(t *testing.T) {
	h := newHarness(t)
	h.withReminders(-30*time.Hour, 24*time.Hour, 0, nil, 100*time.Hour, 0)
	h.in.Repaired = true
	h.mustRun(storage.RequestStatusTimedOut)
	h.requireReminders(3, []int{1, 2, 3}, 0, 18*time.Hour, 42*time.Hour)
}

// R-ACT-2: of several reminders that fell due before the run started (restarted 60h after the
// submission), only the last is sent, at once: never two together.
func TestReminders_LateRunSendsOnlyTheLastDue(t *testing.T) {
	h := newHarness(t)
	h.withReminders(-60*time.Hour, 24*time.Hour, 0, nil, 100*time.Hour, 0)
	h.in.Repaired = true
	h.mustRun(storage.RequestStatusTimedOut)
	h.requireReminders(3, []int{2, 3}, 0, 12*time.Hour)
}

// R-ACT-2: escalation adds the escalation users as approvers once, at escalate_after: before it they
// cannot act, after it they can; the reminders go on meanwhile; the escalation's emails are delivered.
func TestEscalation_AddsTheApproversOnce(t *testing.T) {
	h := newHarness(t)
	h.withReminders(0, 24*time.Hour, 36*time.Hour, []string{"u-esc1", "u-esc2"}, 120*time.Hour, 100*time.Hour)
	var early, late *outcome
	h.at(30*time.Hour, func() { early = h.decision(workflows.UpdateApprove, "ap-early", "u-esc1", "ok") })
	h.at(50*time.Hour, func() { late = h.decision(workflows.UpdateApprove, "ap-late", "u-esc2", "ok") })
	h.mustRun(workflows.ResultLaunched)

	assert.False(t, early.Accepted, "an escalation user approved before the escalation: %+v", early)
	assert.Equal(t, string(errs.Forbidden), errType(early.RejectErr))
	assert.True(t, late.succeeded(), "an escalation user approves after it: %+v", late)
	calls := h.escalateCalls()
	require.Len(t, calls, 1, "escalations: %+v", calls)
	assertAt(t, t0.Add(36*time.Hour), calls[0].At, "escalation")
	assert.Equal(t, []string{"u-esc1", "u-esc2"}, calls[0].In.UserIDs)
	assert.Equal(t, 36*time.Hour, calls[0].In.After)
	assert.Equal(t, "r1", calls[0].In.RequestID)
	h.requireReminders(3, []int{1, 2}, 24*time.Hour, 48*time.Hour)
	h.requireOneDecision(storage.EventApproved, ptr("u-esc2"), 50*time.Hour)
	h.mu.Lock()
	defer h.mu.Unlock()
	assert.Equal(t, 1, h.delivers, "the submission's emails; the reminders and the escalation delivered their own")
}

// R-ACT-2: no escalation at or after the deadline, nor after a decision, nor with nobody to escalate to.
func TestEscalation_NotWhenDecidedOrTooLate(t *testing.T) {
	t.Run("after the deadline", func(t *testing.T) {
		h := newHarness(t)
		h.withReminders(0, 0, 50*time.Hour, []string{"u-esc1"}, 48*time.Hour, 0)
		h.mustRun(storage.RequestStatusTimedOut)
		assert.Empty(t, h.escalateCalls())
	})
	t.Run("decided first", func(t *testing.T) {
		h := newHarness(t)
		h.withReminders(0, 0, 36*time.Hour, []string{"u-esc1"}, 120*time.Hour, 100*time.Hour)
		h.at(10*time.Hour, func() { h.decision(workflows.UpdateReject, "rej", "u-app1", "no") })
		h.mustRun(storage.RequestStatusRejected)
		assert.Empty(t, h.escalateCalls())
	})
	t.Run("approved first, waiting for the start", func(t *testing.T) {
		h := newHarness(t)
		h.withReminders(0, 0, 36*time.Hour, []string{"u-esc1"}, 120*time.Hour, 100*time.Hour)
		h.at(10*time.Hour, func() { h.decision(workflows.UpdateApprove, "ap", "u-app1", "ok") })
		h.mustRun(workflows.ResultLaunched)
		assert.Empty(t, h.escalateCalls())
	})
	t.Run("nobody to escalate to", func(t *testing.T) {
		h := newHarness(t)
		h.withReminders(0, 0, 36*time.Hour, nil, 120*time.Hour, 0)
		h.mustRun(storage.RequestStatusTimedOut)
		assert.Empty(t, h.escalateCalls())
	})
}

// R-ACT-2: the workflow acts on the settings its input carries, those of the submission: a request
// submitted with both off holds no reminder or escalation timer, whatever the account says later.
func TestReminders_OffInTheInput(t *testing.T) {
	h := newHarness(t)
	h.in.Deadline = t0.Add(200 * time.Hour)
	h.in.LaunchAt = nil
	h.mustRun(storage.RequestStatusTimedOut)
	assert.Empty(t, h.remindCalls())
	assert.Empty(t, h.escalateCalls())
}

// A run that began before versionReminders (its history has no marker: GetVersion answers the
// default) keeps its old shape: no reminder or escalation timer, even with settings in its input.
func TestReminders_RunsBeforeTheChangeKeepTheirShape(t *testing.T) {
	h := newHarness(t)
	h.withReminders(0, 24*time.Hour, 36*time.Hour, []string{"u-esc1"}, 120*time.Hour, 0)
	h.env.OnGetVersion("reminders", workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
	h.mustRun(storage.RequestStatusTimedOut)
	assert.Empty(t, h.remindCalls())
	assert.Empty(t, h.escalateCalls())
	h.requireOneDecision(storage.EventTimedOut, nil, 120*time.Hour)
}
