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

// How the draft build treats errors that retrying cannot cure and how long it retries the AI step,
// in the SDK's time-skipping test environment with every activity mocked, so the budgets are
// measured in workflow time, not on this machine's clock.

// budgetActs names the mocked activities by method value.
var budgetActs *activities.Activities

// budgetRun is one build with its mocked steps' calls.
type budgetRun struct {
	mu          sync.Mutex
	calls       map[string]int
	personalise []time.Time // the start of each PersonaliseLeads attempt, in workflow time
	failed      []activities.FailDraftInput
}

// budgetBuild runs a build of 5 leads (one AI batch) whose ResolveContacts answers resolveErr (nil:
// the leads) and whose PersonaliseLeads always answers persErr, and returns the workflow's result.
func budgetBuild(t *testing.T, resolveErr, persErr error) (*budgetRun, string) {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(tlog.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := suite.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(workflows.ApprovalDraft, workflow.RegisterOptions{Name: workflows.ApprovalDraftWorkflowName})
	env.RegisterActivity(budgetActs)
	require.NoError(t, env.SetTypedSearchAttributesOnStart(temporal.NewSearchAttributes(
		workflows.AccountIDKey.ValueSet("a1"), workflows.CampaignIDKey.ValueSet("c1"),
		workflows.StatusKey.ValueSet(storage.DraftStatusProcessing))))
	env.OnUpsertTypedSearchAttributes(mock.Anything).Return(nil)
	r := &budgetRun{calls: map[string]int{}}
	count := func(name string) {
		r.mu.Lock()
		r.calls[name]++
		r.mu.Unlock()
	}
	leadIDs := []string{"l1", "l2", "l3", "l4", "l5"}
	env.OnActivity(budgetActs.CheckBuildCapacity, mock.Anything, mock.Anything).Return(
		func(context.Context, activities.DraftInput) error { count("CheckBuildCapacity"); return nil })
	env.OnActivity(budgetActs.ResolveContacts, mock.Anything, mock.Anything).Return(
		func(context.Context, activities.ResolveInput) ([]activities.Lead, error) {
			count("ResolveContacts")
			if resolveErr != nil {
				return nil, resolveErr
			}
			return []activities.Lead{{FirstName: "Ada", LastName: "Lovelace", CompanyName: "Engines"}}, nil
		})
	env.OnActivity(budgetActs.CopyCampaign, mock.Anything, mock.Anything).Return(
		func(context.Context, activities.DraftInput) (string, error) {
			count("CopyCampaign")
			return "copy-1", nil
		})
	env.OnActivity(budgetActs.ImportLeads, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.ImportInput) (int, error) {
			count("ImportLeads")
			return len(in.Leads), nil
		})
	env.OnActivity(budgetActs.FreezeSnapshot, mock.Anything, mock.Anything).Return(
		func(context.Context, activities.FreezeInput) ([]string, error) {
			count("FreezeSnapshot")
			return leadIDs, nil
		})
	env.OnActivity(budgetActs.DeleteCopy, mock.Anything, mock.Anything).Return(
		func(context.Context, activities.DraftInput) error { count("DeleteCopy"); return nil })
	env.OnActivity(budgetActs.MarkDraftFailed, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.FailDraftInput) error {
			r.mu.Lock()
			r.failed = append(r.failed, in)
			r.mu.Unlock()
			return nil
		})
	env.OnActivity(budgetActs.MarkDraftAIDone, mock.Anything, mock.Anything).Return(
		func(context.Context, string) error { count("MarkDraftAIDone"); return nil })
	env.OnActivity(budgetActs.PersonaliseLeads, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.PersonaliseInput) (int, error) {
			r.mu.Lock()
			r.personalise = append(r.personalise, env.Now())
			r.mu.Unlock()
			if persErr != nil {
				return 0, persErr
			}
			return len(in.LeadIDs), nil
		})
	env.ExecuteWorkflow(workflows.ApprovalDraftWorkflowName, workflows.ApprovalDraftInput{DraftID: "d1", AccountID: "a1",
		CampaignID: "c1", Source: workflows.DraftSource{Type: workflows.SourceSavedSearch, SavedSearchID: "s1"},
		ContactCount: len(leadIDs), ReviewWindow: time.Hour})
	require.True(t, env.IsWorkflowCompleted())
	res, failure := draftOutcome(t, env)
	if res == storage.DraftStatusFailed {
		r.mu.Lock()
		defer r.mu.Unlock()
		require.Len(t, r.failed, 1, "MarkDraftFailed calls")
		require.Equal(t, r.failed[0].Reason, failure, "the run fails with the reason the draft records")
	}
	return r, res
}

// TestNonRetryableBuildErrorFailsAtOnce: a step error marked non-retryable that is not one of
// the build's own build_failed reasons (a not_found, or any other type) ends the build after one
// attempt, with a reason that says what went wrong and what to do, not "failed unexpectedly".
func TestNonRetryableBuildErrorFailsAtOnce(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want []string // what the reason must say
	}{
		{"not found", temporal.NewNonRetryableApplicationError("not found", string(errs.NotFound), nil),
			[]string{"was deleted while it ran", "Create a new draft"}},
		{"another type", temporal.NewNonRetryableApplicationError(`value "3000000000" is out of range for type integer`, "DataError", nil),
			[]string{`value "3000000000" is out of range for type integer`, "create a new draft"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, res := budgetBuild(t, tc.err, nil)
			assert.Equal(t, storage.DraftStatusFailed, res)
			assert.Equal(t, 1, r.calls["ResolveContacts"], "a non-retryable error is not retried")
			assert.Zero(t, r.calls["CopyCampaign"])
			require.Len(t, r.failed, 1)
			for _, w := range tc.want {
				assert.Contains(t, r.failed[0].Reason, w)
			}
			assert.NotContains(t, r.failed[0].Reason, "unexpectedly")
		})
	}
	// A transient error is still retried (and, here, succeeds on no attempt: it fails after ten minutes).
	r, res := budgetBuild(t, errors.New("dial tcp 127.0.0.1:5432: connect: connection refused"), nil)
	assert.Equal(t, storage.DraftStatusFailed, res)
	assert.Greater(t, r.calls["ResolveContacts"], 1, "a transient error is retried")
}

// TestAIStepRetryBudget: the model is never asked 4 × 10 times. A model call that failed after
// the provider's own retries reaches the workflow as AIPermanent (PersonaliseLeads, tested in
// activities) and is not retried; a failure a retry may cure without asking the model again (the
// database away) is retried with backoff until the batch budget runs out, so a Postgres restart
// during the AI step costs no lead its result. Either way the draft stays ready and the AI step ends.
func TestAIStepRetryBudget(t *testing.T) {
	r, res := budgetBuild(t, nil, temporal.NewNonRetryableApplicationError(
		"ai: openai qualify: giving up after 4 attempts: status 503 Service Unavailable", "AIPermanent", nil))
	assert.Equal(t, "review_window_closed", res, "the draft was ready and waited for its client")
	assert.Empty(t, r.failed, "a failing AI step does not fail the draft")
	assert.Equal(t, 1, r.calls["MarkDraftAIDone"], "the AI step ends")
	assert.Len(t, r.personalise, 1, "a model call the provider gave up on is not retried")

	r, _ = budgetBuild(t, nil, errors.New("storage: lead: dial tcp 127.0.0.1:5432: connect: connection refused"))
	assert.Equal(t, 1, r.calls["MarkDraftAIDone"], "the AI step ends once the budget is spent")
	// The SDK's test environment stops an unlimited retry policy after 10 attempts; a real server goes on
	// until the batch budget (aiBatchBudget) runs out.
	require.GreaterOrEqual(t, len(r.personalise), 10, "a database error is retried, not given up after 3 attempts")
	for i := 1; i < len(r.personalise); i++ {
		assert.True(t, r.personalise[i].After(r.personalise[i-1]), "with backoff: %v", r.personalise)
	}
	span := r.personalise[len(r.personalise)-1].Sub(r.personalise[0])
	assert.LessOrEqual(t, span, 20*time.Minute, "and never beyond it")
}
