package workflows_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/signoff/signoff/activities"
	"github.com/signoff/signoff/errs"
	"github.com/signoff/signoff/storage"
	"github.com/signoff/signoff/workflows"
)

// The tests below cover R-POL-3 for a request without an approval policy: its audience is counted
// by an activity at submission and recorded on the request (RecordAudience), off the decision path.
// A request under a policy is covered in stages_test.go (TestStages_RuleAddsAStage).

func (h *harness) audienceCalls() []audienceCall {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]audienceCall(nil), h.audiences...)
}

// errCountFailed is what a count answers while the database cannot count (a retryable error).
var errCountFailed = errors.New("storage: audience size: canceling statement due to statement timeout")

// R-POL-3: a default request (no policy) counts its audience once, at submission, with the request's
// account and id; the approval and the launch go on as before.
func TestAudience_DefaultRequestRecordsTheSize(t *testing.T) {
	h := newHarness(t)
	require.Nil(t, h.in.Policy, "the harness's request is a default one")
	h.audience = func(int, activities.AudienceInput) (int, error) { return 42, nil }
	var approve *outcome
	h.at(time.Minute, func() { approve = h.decision(workflows.UpdateApprove, "a1", "u-app1", "ok") })
	h.mustRun(workflows.ResultLaunched)

	calls := h.audienceCalls()
	require.Len(t, calls, 1, "the audience is counted once")
	assert.Equal(t, activities.AudienceInput{AccountID: "a1", RequestID: "r1"}, calls[0].In)
	assertAt(t, h.start, calls[0].At, "RecordAudience")
	require.True(t, approve.succeeded(), "%+v", approve)
	approver := "u-app1"
	h.requireOneDecision(storage.EventApproved, &approver, time.Minute)
	h.requireLaunchedAt(24 * time.Hour)
}

// R-POL-3: the count does not delay the decision path. While the count keeps failing (and is
// retried), an approval is answered at once and an immediate launch launches at once; the run waits
// for the count only before it ends, so the size is still recorded.
func TestAudience_DecisionDoesNotWaitForTheCount(t *testing.T) {
	h := newHarness(t)
	h.in.LaunchAt = nil // launch as soon as approved
	const countWorksFrom = 100 * time.Second
	h.audience = func(int, activities.AudienceInput) (int, error) {
		if h.env.Now().Before(h.start.Add(countWorksFrom)) {
			return 0, errCountFailed
		}
		return 42, nil
	}
	var approve *outcome
	h.at(30*time.Second, func() { approve = h.decision(workflows.UpdateApprove, "a1", "u-app1", "ok") })
	h.mustRun(workflows.ResultLaunched)

	require.True(t, approve.succeeded(), "%+v", approve)
	assertAt(t, h.start.Add(30*time.Second), approve.At, "the approval's answer")
	h.requireLaunchedAt(30 * time.Second)
	calls := h.audienceCalls()
	require.Greater(t, len(calls), 1, "the failing count was retried")
	last := calls[len(calls)-1].At
	assert.False(t, last.Before(h.start.Add(countWorksFrom)), "the last count, at %v, is the one that worked", last.Sub(h.start))
	assert.False(t, h.env.Now().Before(last), "the run ended at %v, before the count at %v", h.env.Now().Sub(h.start), last.Sub(h.start))
}

// R-POL-3: a count that fails after its retries, or at once with an error no retry cures, leaves the
// request working: it is approved and launched, and the run ends well (audience_size stays null,
// since RecordAudience records nothing when it fails).
func TestAudience_CountThatFailsLeavesTheRequestWorking(t *testing.T) {
	for _, tc := range []struct {
		name     string
		err      error
		maxCalls int
	}{
		{name: "retryable", err: errCountFailed, maxCalls: 20},
		{name: "not found", err: temporal.NewNonRetryableApplicationError("approval request not found", string(errs.NotFound), nil), maxCalls: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.in.LaunchAt = nil
			h.audience = func(int, activities.AudienceInput) (int, error) { return 0, tc.err }
			var approve *outcome
			h.at(time.Minute, func() { approve = h.decision(workflows.UpdateApprove, "a1", "u-app1", "ok") })
			h.mustRun(workflows.ResultLaunched)

			require.True(t, approve.succeeded(), "%+v", approve)
			assertAt(t, h.start.Add(time.Minute), approve.At, "the approval's answer")
			h.requireLaunchedAt(time.Minute)
			calls := h.audienceCalls()
			require.NotEmpty(t, calls)
			assert.LessOrEqual(t, len(calls), tc.maxCalls, "count attempts")
			if tc.maxCalls > 1 {
				assert.Greater(t, len(calls), 1, "a retryable failure is retried")
			}
			assert.False(t, calls[len(calls)-1].At.After(h.start.Add(10*time.Minute)), "the count gives up within its budget")
		})
	}
}
