package workflows_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/interceptor"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/signoff/signoff/activities"
	"github.com/signoff/signoff/errs"
	"github.com/signoff/signoff/storage"
	"github.com/signoff/signoff/workflows"
)

// The tests below drive the approval draft build workflow (SPEC §4 R-DRAFT-7, R-DRAFT-9, R-DRAFT-10;
// §7) in the SDK's time-skipping test environment with every activity mocked. The mocks record each
// call with a global sequence number and the env time, so a test can assert order, retries,
// compensations and concurrency.

// Names of the mocked build steps, as recorded.
const (
	stepCapacity    = "CheckBuildCapacity"
	stepResolve     = "ResolveContacts"
	stepCopy        = "CopyCampaign"
	stepDeleteCopy  = "DeleteCopy"
	stepImport      = "ImportLeads"
	stepFreeze      = "FreezeSnapshot"
	stepPersonalise = "PersonaliseLeads"
	stepMarkFailed  = "MarkDraftFailed"
	stepMarkAIDone  = "MarkDraftAIDone"
)

const (
	draftCopyID       = "copy-1"
	draftReviewWindow = time.Hour
	draftLeadCount    = 20
	draftBatchSize    = 5 // SPEC R-DRAFT-7: batch threshold 1 → small batches; the workflow uses 5
)

var draftT0 = time.Date(2030, 6, 3, 8, 0, 0, 0, time.UTC)

// draftCall is one recorded activity call.
type draftCall struct {
	Name string
	Seq  int // global order of starts and ends
	At   time.Time
	Err  error
}

// personaliseCall is one PersonaliseLeads attempt.
type personaliseCall struct {
	LeadIDs  []string
	StartSeq int
	EndSeq   int
	Err      error
}

type draftHarness struct {
	t       *testing.T
	failure string // the failure message of a run that ended Failed
	env     *testsuite.TestWorkflowEnvironment
	in      workflows.ApprovalDraftInput

	mu          sync.Mutex
	seq         int
	calls       []draftCall // build steps, compensations and the final marks (not PersonaliseLeads)
	counts      map[string]int
	resolveIns  []activities.ResolveInput
	copyIns     []activities.DraftInput
	capacityIns []activities.DraftInput
	deleteIns   []activities.DraftInput
	importIns   []activities.ImportInput
	freezeIns   []activities.FreezeInput
	failIns     []activities.FailDraftInput
	aiDoneIns   []string
	personalise []*personaliseCall
	persIns     []activities.PersonaliseInput
	statusAttrs []string
	inFlight    int
	maxInFlight int

	// Hooks a test may set before run.
	stepErr        map[string]func(n int) error // n counts calls of that step from 1
	personaliseErr func(in activities.PersonaliseInput, n int) error
	// barrier: when > 0, each first attempt of PersonaliseLeads waits (real time, bounded) until
	// that many batches have started, proving they run at once.
	barrier         int
	barrierStarted  int
	barrierCh       chan struct{}
	barrierTimeouts int
	persDelay       time.Duration // real-time delay inside PersonaliseLeads
	onImport        func()        // called inside ImportLeads
}

var draftLeadIDs = func() []string {
	ids := make([]string, draftLeadCount)
	for i := range ids {
		ids[i] = fmt.Sprintf("lead-%02d", i+1)
	}
	return ids
}()

func draftResolvedLeads() []activities.Lead {
	out := make([]activities.Lead, draftLeadCount)
	for i := range out {
		out[i] = activities.Lead{SourceRef: fmt.Sprintf("contact:%d", i+1), FirstName: fmt.Sprintf("First%d", i+1),
			LastName: "Last", Email: fmt.Sprintf("p%d@example.com", i+1), CompanyName: "Acme", Domain: "acme.example"}
	}
	return out
}

func newDraftHarness(t *testing.T) *draftHarness {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(tlog.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := suite.NewTestWorkflowEnvironment()
	env.SetStartTime(draftT0)
	h := &draftHarness{t: t, env: env, counts: map[string]int{}, stepErr: map[string]func(int) error{},
		barrierCh: make(chan struct{}),
		in: workflows.ApprovalDraftInput{DraftID: "d1", AccountID: "a1", CampaignID: "c1",
			Source:       workflows.DraftSource{Type: workflows.SourceSavedSearch, SavedSearchID: "s1"},
			ContactCount: draftLeadCount, ReviewWindow: draftReviewWindow}}

	env.RegisterWorkflowWithOptions(workflows.ApprovalDraft, workflow.RegisterOptions{Name: workflows.ApprovalDraftWorkflowName})
	env.RegisterActivity(a)
	require.NoError(t, env.SetTypedSearchAttributesOnStart(temporal.NewSearchAttributes(
		workflows.AccountIDKey.ValueSet("a1"), workflows.CampaignIDKey.ValueSet("c1"),
		workflows.StatusKey.ValueSet(storage.DraftStatusProcessing))))

	env.OnActivity(a.CheckBuildCapacity, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.DraftInput) error {
			h.mu.Lock()
			h.capacityIns = append(h.capacityIns, in)
			h.mu.Unlock()
			return h.step(stepCapacity)
		})
	env.OnActivity(a.ResolveContacts, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.ResolveInput) ([]activities.Lead, error) {
			h.mu.Lock()
			h.resolveIns = append(h.resolveIns, in)
			h.mu.Unlock()
			if err := h.step(stepResolve); err != nil {
				return nil, err
			}
			return draftResolvedLeads(), nil
		})
	env.OnActivity(a.CopyCampaign, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.DraftInput) (string, error) {
			h.mu.Lock()
			h.copyIns = append(h.copyIns, in)
			h.mu.Unlock()
			if err := h.step(stepCopy); err != nil {
				return "", err
			}
			return draftCopyID, nil
		})
	env.OnActivity(a.ImportLeads, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.ImportInput) (int, error) {
			h.mu.Lock()
			h.importIns = append(h.importIns, in)
			hook := h.onImport
			h.mu.Unlock()
			// The call is recorded before the hook runs: a hook that cancels the workflow lets it end
			// (and the test read the counts) before this goroutine would get further.
			err := h.step(stepImport)
			if hook != nil {
				hook()
			}
			if err != nil {
				return 0, err
			}
			return len(in.Leads), nil
		})
	env.OnActivity(a.FreezeSnapshot, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.FreezeInput) ([]string, error) {
			h.mu.Lock()
			h.freezeIns = append(h.freezeIns, in)
			h.mu.Unlock()
			if err := h.step(stepFreeze); err != nil {
				return nil, err
			}
			return append([]string(nil), draftLeadIDs...), nil
		})
	env.OnActivity(a.DeleteCopy, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.DraftInput) error {
			h.mu.Lock()
			h.deleteIns = append(h.deleteIns, in)
			h.mu.Unlock()
			return h.step(stepDeleteCopy)
		})
	env.OnActivity(a.MarkDraftFailed, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.FailDraftInput) error {
			h.mu.Lock()
			h.failIns = append(h.failIns, in)
			h.mu.Unlock()
			return h.step(stepMarkFailed)
		})
	env.OnActivity(a.MarkDraftAIDone, mock.Anything, mock.Anything).Return(
		func(_ context.Context, draftID string) error {
			h.mu.Lock()
			h.aiDoneIns = append(h.aiDoneIns, draftID)
			h.mu.Unlock()
			return h.step(stepMarkAIDone)
		})
	env.OnActivity(a.PersonaliseLeads, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.PersonaliseInput) (int, error) {
			return h.personaliseMock(in)
		})
	env.OnUpsertTypedSearchAttributes(mock.Anything).Return(nil).Run(func(args mock.Arguments) {
		sa, ok := args.Get(0).(temporal.SearchAttributes)
		if !ok {
			return
		}
		if v, ok := sa.GetKeyword(workflows.StatusKey); ok {
			h.mu.Lock()
			h.statusAttrs = append(h.statusAttrs, v)
			h.mu.Unlock()
		}
	})
	return h
}

// step records a call of a non-AI step and returns the error its hook injects, if any.
func (h *draftHarness) step(name string) error {
	h.mu.Lock()
	h.counts[name]++
	n := h.counts[name]
	hook := h.stepErr[name]
	h.mu.Unlock()
	var err error
	if hook != nil {
		err = hook(n)
	}
	h.mu.Lock()
	h.seq++
	h.calls = append(h.calls, draftCall{Name: name, Seq: h.seq, At: h.env.Now(), Err: err})
	h.mu.Unlock()
	return err
}

func (h *draftHarness) personaliseMock(in activities.PersonaliseInput) (int, error) {
	h.mu.Lock()
	h.seq++
	pc := &personaliseCall{LeadIDs: append([]string(nil), in.LeadIDs...), StartSeq: h.seq}
	h.personalise = append(h.personalise, pc)
	h.persIns = append(h.persIns, in)
	n := 0
	for _, c := range h.personalise {
		if len(c.LeadIDs) > 0 && len(pc.LeadIDs) > 0 && c.LeadIDs[0] == pc.LeadIDs[0] {
			n++
		}
	}
	h.inFlight++
	h.maxInFlight = max(h.maxInFlight, h.inFlight)
	wait := false
	if h.barrier > 0 && h.barrierStarted < h.barrier {
		h.barrierStarted++
		wait = true
		if h.barrierStarted == h.barrier {
			close(h.barrierCh)
		}
	}
	hook, delay := h.personaliseErr, h.persDelay
	h.mu.Unlock()

	if wait {
		select {
		// Bounded below the batches' 15 s heartbeat timeout; a sequential pipeline waits it out once
		// per batch and fails, a concurrent one never waits.
		case <-h.barrierCh:
		case <-time.After(10 * time.Second):
			h.mu.Lock()
			h.barrierTimeouts++
			h.mu.Unlock()
		}
	}
	if delay > 0 {
		time.Sleep(delay)
	}
	var err error
	if hook != nil {
		err = hook(in, n)
	}
	h.mu.Lock()
	h.inFlight--
	h.seq++
	pc.EndSeq, pc.Err = h.seq, err
	h.mu.Unlock()
	if err != nil {
		return 0, err
	}
	return len(in.LeadIDs), nil
}

// serverRetries makes the test environment retry like the server: the SDK's test environment caps a
// retry policy without MaximumAttempts at 10 attempts, while the server retries until the
// schedule-to-close timeout. The interceptor only lifts that cap (to a number the ten minutes never
// reach); every other option of the workflow's retry policy is kept.
func (h *draftHarness) serverRetries() {
	h.env.SetWorkerOptions(worker.Options{Interceptors: []interceptor.WorkerInterceptor{&unlimitedAttempts{}}})
}

type unlimitedAttempts struct {
	interceptor.WorkerInterceptorBase
}

func (*unlimitedAttempts) InterceptWorkflow(_ workflow.Context, next interceptor.WorkflowInboundInterceptor) interceptor.WorkflowInboundInterceptor {
	return &unlimitedAttemptsInbound{WorkflowInboundInterceptorBase: interceptor.WorkflowInboundInterceptorBase{Next: next}}
}

type unlimitedAttemptsInbound struct {
	interceptor.WorkflowInboundInterceptorBase
}

func (i *unlimitedAttemptsInbound) Init(outbound interceptor.WorkflowOutboundInterceptor) error {
	return i.Next.Init(&unlimitedAttemptsOutbound{WorkflowOutboundInterceptorBase: interceptor.WorkflowOutboundInterceptorBase{Next: outbound}})
}

type unlimitedAttemptsOutbound struct {
	interceptor.WorkflowOutboundInterceptorBase
}

func (o *unlimitedAttemptsOutbound) ExecuteActivity(ctx workflow.Context, activityType string, args ...any) workflow.Future {
	opts := workflow.GetActivityOptions(ctx)
	if opts.RetryPolicy != nil && opts.RetryPolicy.MaximumAttempts == 0 {
		rp := *opts.RetryPolicy
		rp.MaximumAttempts = 1_000_000
		opts.RetryPolicy = &rp
		ctx = workflow.WithActivityOptions(ctx, opts)
	}
	return o.Next.ExecuteActivity(ctx, activityType, args...)
}

// run executes the workflow to its end and returns its result.
func (h *draftHarness) run() string {
	h.t.Helper()
	h.env.ExecuteWorkflow(workflows.ApprovalDraftWorkflowName, h.in)
	require.True(h.t, h.env.IsWorkflowCompleted(), "workflow did not complete")
	res, failure := draftOutcome(h.t, h.env)
	h.failure = failure
	return res
}

// draftOutcome is how a draft's run ended: its result, or "failed" and the failure message of a run
// that ended Failed with a build_failed error (SPEC §7: a failed build fails its workflow with the
// human reason). Any other workflow error fails the test.
func draftOutcome(t *testing.T, env *testsuite.TestWorkflowEnvironment) (string, string) {
	t.Helper()
	if err := env.GetWorkflowError(); err != nil {
		var appErr *temporal.ApplicationError
		require.ErrorAs(t, err, &appErr, "a draft's run fails only with the build's failure")
		require.Equal(t, string(errs.BuildFailed), appErr.Type(), "failure type")
		require.True(t, appErr.NonRetryable(), "a failed build is not retried")
		return storage.DraftStatusFailed, appErr.Message()
	}
	var res string
	require.NoError(t, env.GetWorkflowResult(&res))
	return res, ""
}

// callNames lists the recorded non-AI calls in order.
func (h *draftHarness) callNames() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]string, len(h.calls))
	for i, c := range h.calls {
		out[i] = c.Name
	}
	return out
}

// callsOf returns the recorded calls of one step.
func (h *draftHarness) callsOf(name string) []draftCall {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []draftCall
	for _, c := range h.calls {
		if c.Name == name {
			out = append(out, c)
		}
	}
	return out
}

func (h *draftHarness) count(name string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	if name == stepPersonalise {
		return len(h.personalise)
	}
	return h.counts[name]
}

func (h *draftHarness) statuses() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.statusAttrs...)
}

// dedupSteps collapses consecutive repeats (retries) of the same step.
func dedupSteps(names []string) []string {
	var out []string
	for _, n := range names {
		if len(out) == 0 || out[len(out)-1] != n {
			out = append(out, n)
		}
	}
	return out
}

func buildFailedErr(reason string) error {
	return temporal.NewNonRetryableApplicationError(reason, string(errs.BuildFailed), nil)
}

// requireFailedDraft asserts the common end of a failed build: MarkDraftFailed once with reason
// (want == "" accepts any non-empty reason), SignoffStatus failed, no AI pipeline.
func (h *draftHarness) requireFailedDraft(res, wantReason string) activities.FailDraftInput {
	h.t.Helper()
	assert.Equal(h.t, storage.DraftStatusFailed, res, "workflow result")
	h.mu.Lock()
	fails := append([]activities.FailDraftInput(nil), h.failIns...)
	h.mu.Unlock()
	require.Len(h.t, fails, 1, "MarkDraftFailed calls")
	assert.Equal(h.t, "d1", fails[0].DraftID)
	assert.Equal(h.t, fails[0].Reason, h.failure, "the run fails with the reason the draft records")
	if wantReason != "" {
		assert.Equal(h.t, wantReason, fails[0].Reason, "failure reason")
	} else {
		assert.NotEmpty(h.t, strings.TrimSpace(fails[0].Reason), "failure reason")
	}
	assert.Zero(h.t, h.count(stepPersonalise), "PersonaliseLeads must not run on a failed build")
	assert.Zero(h.t, h.count(stepMarkAIDone), "MarkDraftAIDone must not run on a failed build")
	st := h.statuses()
	if assert.NotEmpty(h.t, st, "SignoffStatus upserts") {
		assert.Equal(h.t, storage.DraftStatusFailed, st[len(st)-1], "last SignoffStatus; all: %v", st)
	}
	assert.NotContains(h.t, st, storage.DraftStatusReady, "a failed build never shows ready")
	return fails[0]
}

// requireDeleteAfter asserts DeleteCopy ran exactly once, for the draft, after the call of step
// that failed and before MarkDraftFailed.
func (h *draftHarness) requireDeleteAfter(failedStep string) {
	h.t.Helper()
	dels := h.callsOf(stepDeleteCopy)
	require.Len(h.t, dels, 1, "DeleteCopy calls; all calls: %v", h.callNames())
	failed := h.callsOf(failedStep)
	require.NotEmpty(h.t, failed)
	last := failed[len(failed)-1]
	require.Error(h.t, last.Err, "the last %s call should be the failing one", failedStep)
	assert.Greater(h.t, dels[0].Seq, last.Seq, "DeleteCopy must run after %s failed", failedStep)
	if marks := h.callsOf(stepMarkFailed); assert.Len(h.t, marks, 1) {
		assert.Less(h.t, dels[0].Seq, marks[0].Seq, "the rollback runs before the draft is marked failed")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	assert.Equal(h.t, activities.DraftInput{AccountID: "a1", DraftID: "d1"}, h.deleteIns[0])
}

// R-DRAFT-7, R-DRAFT-10, §7: the steps run in order with the right inputs; the AI pipeline runs on
// every lead exactly once in batches of at most 5 that all start at once; the draft shows ready.
func TestApprovalDraft_HappyPath(t *testing.T) {
	h := newDraftHarness(t)
	h.barrier = (draftLeadCount + draftBatchSize - 1) / draftBatchSize
	res := h.run()

	assert.Equal(t, "review_window_closed", res)
	assert.WithinDuration(t, draftT0.Add(draftReviewWindow), h.env.Now(), time.Second, "the run ends when the review window closes")

	assert.Equal(t, []string{stepCapacity, stepResolve, stepCopy, stepImport, stepFreeze, stepMarkAIDone}, h.callNames())
	assert.Zero(t, h.count(stepDeleteCopy), "no compensation on success")
	assert.Zero(t, h.count(stepMarkFailed), "no MarkDraftFailed on success")

	h.mu.Lock()
	defer h.mu.Unlock()
	require.Len(t, h.capacityIns, 1)
	assert.Equal(t, activities.DraftInput{AccountID: "a1", DraftID: "d1"}, h.capacityIns[0])
	require.Len(t, h.resolveIns, 1)
	assert.Equal(t, activities.ResolveInput{AccountID: "a1", DraftID: "d1", Count: draftLeadCount,
		Source: activities.ContactSource{Type: activities.SourceSavedSearch, SavedSearchID: "s1"}}, h.resolveIns[0])
	require.Len(t, h.copyIns, 1)
	assert.Equal(t, activities.DraftInput{AccountID: "a1", DraftID: "d1"}, h.copyIns[0])
	require.Len(t, h.importIns, 1)
	assert.Equal(t, "a1", h.importIns[0].AccountID)
	assert.Equal(t, "d1", h.importIns[0].DraftID)
	assert.Equal(t, draftCopyID, h.importIns[0].CopyID, "ImportLeads imports into the copy")
	imported := append([]activities.Lead(nil), h.importIns[0].Leads...)
	for i := range imported {
		imported[i].AI = nil // a nil json.RawMessage comes back as "null" through the data converter
	}
	assert.Equal(t, draftResolvedLeads(), imported, "ImportLeads gets the resolved leads")
	require.Len(t, h.freezeIns, 1)
	assert.Equal(t, activities.FreezeInput{AccountID: "a1", DraftID: "d1", CopyID: draftCopyID}, h.freezeIns[0])

	// The AI pipeline: every lead id from FreezeSnapshot exactly once, batches of at most 5.
	seen := map[string]int{}
	for i, in := range h.persIns {
		assert.Equal(t, "a1", in.AccountID)
		assert.Equal(t, "d1", in.DraftID)
		assert.Equal(t, draftCopyID, in.CopyID, "personalise works on the copy's leads")
		assert.NotEmpty(t, in.LeadIDs, "batch %d is empty", i)
		assert.LessOrEqual(t, len(in.LeadIDs), draftBatchSize, "batch %d: %v", i, in.LeadIDs)
		for _, id := range in.LeadIDs {
			seen[id]++
		}
	}
	assert.Len(t, h.persIns, h.barrier, "number of batches")
	var got []string
	for id, n := range seen {
		assert.Equal(t, 1, n, "lead %s personalised %d times", id, n)
		got = append(got, id)
	}
	sort.Strings(got)
	assert.Equal(t, draftLeadIDs, got, "every lead is personalised")

	// Concurrency: all batches started before any finished.
	assert.Zero(t, h.barrierTimeouts, "some batches did not run at once")
	maxStart, minEnd := 0, int(^uint(0)>>1)
	for _, c := range h.personalise {
		maxStart, minEnd = max(maxStart, c.StartSeq), min(minEnd, c.EndSeq)
	}
	assert.Less(t, maxStart, minEnd, "every batch starts before any finishes")
	assert.Equal(t, h.barrier, h.maxInFlight, "batches in flight at once")

	// MarkDraftAIDone after every batch finished.
	require.Len(t, h.aiDoneIns, 1)
	assert.Equal(t, "d1", h.aiDoneIns[0])
	for _, c := range h.calls {
		if c.Name == stepMarkAIDone {
			for _, p := range h.personalise {
				assert.Greater(t, c.Seq, p.EndSeq, "MarkDraftAIDone runs after every batch")
			}
		}
	}
	// The draft shows ready in the Temporal UI (and is never shown failed).
	assert.Equal(t, []string{storage.DraftStatusReady}, h.statusAttrs)
}

// AIConcurrency bounds how many batches personalise at once.
func TestApprovalDraft_AIConcurrencyBound(t *testing.T) {
	for _, limit := range []int{1, 2} {
		t.Run(fmt.Sprintf("limit=%d", limit), func(t *testing.T) {
			h := newDraftHarness(t)
			h.in.AIConcurrency = limit
			h.persDelay = 20 * time.Millisecond
			res := h.run()
			assert.Equal(t, "review_window_closed", res)
			h.mu.Lock()
			defer h.mu.Unlock()
			assert.LessOrEqual(t, h.maxInFlight, limit, "batches in flight at once")
			var all []string
			for _, in := range h.persIns {
				all = append(all, in.LeadIDs...)
			}
			sort.Strings(all)
			assert.Equal(t, draftLeadIDs, all, "every lead exactly once")
			assert.Equal(t, []string{"d1"}, h.aiDoneIns)
		})
	}
}

// R-DRAFT-9, §7: a failure at each step runs exactly the compensations of the steps that ran (the copy
// is removed once a copy may exist), then ends the draft failed with the step's reason.
func TestApprovalDraft_FailureAtEachStep_Compensates(t *testing.T) {
	order := []string{stepCapacity, stepResolve, stepCopy, stepImport, stepFreeze}
	cases := []struct {
		step       string
		wantDelete bool
	}{
		{stepCapacity, false},
		{stepResolve, false},
		{stepCopy, true}, // the outcome of a failed copy is unknown; DeleteCopy is idempotent
		{stepImport, true},
		{stepFreeze, true},
	}
	for i, tc := range cases {
		t.Run(tc.step, func(t *testing.T) {
			h := newDraftHarness(t)
			reason := fmt.Sprintf("Step %s failed in a way a CSM can act on.", tc.step)
			h.stepErr[tc.step] = func(int) error { return buildFailedErr(reason) }
			res := h.run()

			h.requireFailedDraft(res, reason)
			names := h.callNames()
			want := append([]string(nil), order[:i+1]...)
			if tc.wantDelete {
				want = append(want, stepDeleteCopy)
			}
			want = append(want, stepMarkFailed)
			assert.Equal(t, want, names, "calls in order")
			assert.Equal(t, 1, h.count(tc.step), "a build_failed error is not retried")
			if tc.wantDelete {
				h.requireDeleteAfter(tc.step)
			} else {
				assert.Zero(t, h.count(stepDeleteCopy), "nothing to roll back before the copy step")
			}
		})
	}
}

// R-DRAFT-9: invalid saved-search filters fail the build and are not retried.
func TestApprovalDraft_InvalidFilterNotRetried(t *testing.T) {
	h := newDraftHarness(t)
	reason := `The saved search "EU CFOs" has invalid filters (unknown country "XX"). Correct the saved search and create a new draft.`
	h.stepErr[stepResolve] = func(int) error { return buildFailedErr(reason) }
	res := h.run()

	assert.Equal(t, 1, h.count(stepResolve), "ResolveContacts calls")
	h.requireFailedDraft(res, reason)
	assert.Zero(t, h.count(stepCopy))
	assert.Zero(t, h.count(stepDeleteCopy))
}

// §7: a transient error is retried with backoff, and the build then succeeds.
func TestApprovalDraft_TransientErrorRetried(t *testing.T) {
	h := newDraftHarness(t)
	h.stepErr[stepResolve] = func(n int) error {
		if n <= 2 {
			return errors.New("dial tcp 127.0.0.1:5432: connect: connection refused")
		}
		return nil
	}
	res := h.run()

	assert.Equal(t, "review_window_closed", res)
	resolves := h.callsOf(stepResolve)
	require.Len(t, resolves, 3, "ResolveContacts calls")
	assert.True(t, resolves[1].At.After(resolves[0].At), "retries back off (%v, %v)", resolves[0].At, resolves[1].At)
	assert.Equal(t, []string{stepCapacity, stepResolve, stepCopy, stepImport, stepFreeze, stepMarkAIDone}, dedupSteps(h.callNames()))
	assert.Zero(t, h.count(stepMarkFailed))
	assert.Zero(t, h.count(stepDeleteCopy))
	assert.Equal(t, []string{storage.DraftStatusReady}, h.statuses())
	assert.Equal(t, 4, h.count(stepPersonalise), "the AI pipeline runs after the retried build")
}

// R-DRAFT-9: build capacity reached fails the draft with the capacity reason; nothing else runs.
func TestApprovalDraft_CapacityRefusal(t *testing.T) {
	h := newDraftHarness(t)
	reason := "Build capacity reached: 5 drafts are already building for this account. Retry in a few minutes."
	h.stepErr[stepCapacity] = func(int) error { return buildFailedErr(reason) }
	res := h.run()

	h.requireFailedDraft(res, reason)
	assert.Equal(t, 1, h.count(stepCapacity))
	assert.Zero(t, h.count(stepResolve), "ResolveContacts must not run")
	assert.Zero(t, h.count(stepCopy))
	assert.Zero(t, h.count(stepDeleteCopy))
	assert.Equal(t, []string{stepCapacity, stepMarkFailed}, h.callNames())
}

// R-DRAFT-9, §7: an unexpected error that keeps happening is retried for ten minutes, then the
// draft fails with a generic readable reason (never the raw error) and the copy is rolled back if
// the copy step ran.
func TestApprovalDraft_PersistentErrorFailsAfterTenMinutes(t *testing.T) {
	const raw = "dial tcp 10.0.0.7:5432: i/o timeout"
	cases := []struct {
		step       string
		wantDelete bool
	}{
		{stepResolve, false},
		{stepImport, true},
	}
	for _, tc := range cases {
		t.Run(tc.step, func(t *testing.T) {
			h := newDraftHarness(t)
			h.serverRetries()
			h.stepErr[tc.step] = func(int) error { return errors.New(raw) }
			res := h.run()

			fail := h.requireFailedDraft(res, "")
			assert.NotContains(t, fail.Reason, raw, "the reason is for people, not the raw error")
			assert.Greater(t, h.count(tc.step), 2, "the error was retried")
			calls := h.callsOf(tc.step)
			elapsed := calls[len(calls)-1].At.Sub(calls[0].At)
			assert.Greater(t, elapsed, 9*time.Minute, "retried until the ten minutes were nearly up")
			assert.LessOrEqual(t, elapsed, 10*time.Minute, "within the schedule-to-close timeout")
			marks := h.callsOf(stepMarkFailed)
			require.Len(t, marks, 1)
			assert.LessOrEqual(t, marks[0].At.Sub(calls[0].At), 10*time.Minute+time.Second, "the draft fails once the ten minutes are up")
			if tc.wantDelete {
				h.requireDeleteAfter(tc.step)
			} else {
				assert.Zero(t, h.count(stepDeleteCopy))
			}
		})
	}
}

// R-DRAFT-10: a batch whose AI pipeline fails does not fail the draft; the other leads keep their
// results and the pipeline still ends with MarkDraftAIDone.
func TestApprovalDraft_PersonaliseBatchFailureDoesNotFailDraft(t *testing.T) {
	cases := []struct {
		name string
		err  error
	}{
		{"permanent", temporal.NewNonRetryableApplicationError("model not found", "AIPermanent", nil)},
		{"transient", errors.New("provider answered 503")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newDraftHarness(t)
			h.personaliseErr = func(in activities.PersonaliseInput, _ int) error {
				for _, id := range in.LeadIDs {
					if id == "lead-01" {
						return tc.err
					}
				}
				return nil
			}
			res := h.run()

			assert.Equal(t, "review_window_closed", res)
			assert.Zero(t, h.count(stepMarkFailed), "MarkDraftFailed")
			assert.Zero(t, h.count(stepDeleteCopy), "a ready draft is not rolled back")
			assert.Equal(t, []string{storage.DraftStatusReady}, h.statuses())
			aiDones := h.callsOf(stepMarkAIDone)
			require.Len(t, aiDones, 1, "MarkDraftAIDone still runs")

			h.mu.Lock()
			defer h.mu.Unlock()
			failing, ok := 0, map[string]bool{}
			for _, p := range h.personalise {
				if p.Err != nil {
					failing++
					continue
				}
				for _, id := range p.LeadIDs {
					ok[id] = true
				}
			}
			assert.Len(t, ok, draftLeadCount-draftBatchSize, "the other batches succeed")
			if tc.name == "permanent" {
				assert.Equal(t, 1, failing, "a permanent AI error is not retried")
			} else {
				assert.Greater(t, failing, 1, "a transient AI error is retried")
				assert.LessOrEqual(t, failing, 10, "bounded retries")
			}
			for _, p := range h.personalise {
				assert.Greater(t, aiDones[0].Seq, p.EndSeq, "MarkDraftAIDone after every batch attempt")
			}
		})
	}
}

// §7: compensations run on a disconnected context, so a cancelled build still removes its copy and
// records the failure.
func TestApprovalDraft_CancelledBuildStillCompensates(t *testing.T) {
	h := newDraftHarness(t)
	h.onImport = func() { h.env.CancelWorkflow() }
	res := h.run()

	assert.Equal(t, storage.DraftStatusFailed, res)
	require.Equal(t, 1, h.count(stepDeleteCopy), "DeleteCopy runs despite the cancellation; calls: %v", h.callNames())
	h.requireFailedDraft(res, "")
	assert.Equal(t, 1, h.count(stepImport))
	assert.Zero(t, h.count(stepFreeze), "the build stops at the cancellation")
}

// R-DRAFT-9: a compensation that keeps failing is given up after its own ten minutes, and the
// draft is still marked failed with the reason of the step that failed.
func TestApprovalDraft_CompensationFailureStillMarksFailed(t *testing.T) {
	h := newDraftHarness(t)
	h.serverRetries()
	reason := "The import produced zero usable leads. Broaden the source or upload a CSV with complete data."
	h.stepErr[stepImport] = func(int) error { return buildFailedErr(reason) }
	h.stepErr[stepDeleteCopy] = func(int) error { return errors.New("connection reset by peer") }
	res := h.run()

	h.requireFailedDraft(res, reason)
	assert.Greater(t, h.count(stepDeleteCopy), 1, "the compensation is retried")
	names := dedupSteps(h.callNames())
	assert.Equal(t, []string{stepCapacity, stepResolve, stepCopy, stepImport, stepDeleteCopy, stepMarkFailed}, names)
}
