package workflows

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/signoff/signoff/activities"
	"github.com/signoff/signoff/errs"
)

// Names of the draft build workflow and of its client-decision Update.
const (
	ApprovalDraftWorkflowName = "ApprovalDraft"
	UpdateSubmitReview        = "submit-review"
)

// ResultReviewWindowClosed is the result of a draft's workflow whose client did not submit within the
// review window; a build ends otherwise with the draft's status (failed, approved, not_approved).
const ResultReviewWindowClosed = "review_window_closed"

// Source types of R-DRAFT-1 (DraftSource.Type).
const (
	SourceSavedSearch   = activities.SourceSavedSearch
	SourceCSV           = activities.SourceCSV
	SourceCampaignLeads = activities.SourceCampaignLeads
)

// DraftSource says where a draft's sample contacts come from: a saved search, a CSV upload read
// through a column mapping, or another campaign's leads. Its JSON is the one a draft row stores.
type DraftSource struct {
	Type          string            `json:"type"`
	SavedSearchID string            `json:"saved_search_id,omitempty"`
	CSVUploadID   string            `json:"csv_upload_id,omitempty"`
	Mapping       map[string]string `json:"mapping,omitempty"`
	CampaignID    string            `json:"campaign_id,omitempty"`
}

// contactSource maps the source to the input of the ResolveContacts activity.
func (s DraftSource) contactSource() activities.ContactSource {
	return activities.ContactSource(s)
}

// Draft is an approval draft as the client's submit left it: the result of the submit Update. Its
// JSON is the shape recorded in workflow histories.
type Draft struct {
	ID            string          `json:"id"`
	AccountID     string          `json:"account_id"`
	CampaignID    string          `json:"campaign_id"`
	Number        int             `json:"number"`
	Name          string          `json:"name"`
	Status        string          `json:"status"`
	Source        json.RawMessage `json:"source"`
	ContactCount  int             `json:"contact_count"`
	Progress      Progress        `json:"progress"`
	FailureReason *string         `json:"failure_reason"`
	CreatedBy     string          `json:"created_by"`
	CreatedAt     time.Time       `json:"created_at"`
	UpdatedAt     time.Time       `json:"updated_at"`
	ReadyAt       *time.Time      `json:"ready_at"`
	AIDoneAt      *time.Time      `json:"ai_done_at"`
	SubmittedAt   *time.Time      `json:"submitted_at"`
}

// Progress is how far a draft's build has come.
type Progress struct {
	Step  string `json:"step"`
	Done  int    `json:"done"`
	Total int    `json:"total"`
}

// draftFromActivity maps an activity's draft to the Update result.
func draftFromActivity(d activities.Draft) Draft {
	return Draft{ID: d.ID, AccountID: d.AccountID, CampaignID: d.CampaignID, Number: d.Number, Name: d.Name, Status: d.Status,
		Source: d.Source, ContactCount: d.ContactCount, Progress: Progress(d.Progress), FailureReason: d.FailureReason,
		CreatedBy: d.CreatedBy, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt, ReadyAt: d.ReadyAt, AIDoneAt: d.AIDoneAt,
		SubmittedAt: d.SubmittedAt}
}

// SubmitReviewInput is the client's final submit (R-REVIEW-6).
type SubmitReviewInput struct {
	Author string
	// TokenHash is the hash of the share token the submit came through: like every review write, the
	// submit is refused once that token no longer opens the draft (a rotated link).
	TokenHash []byte
}

// ApprovalDraftWorkflowID is the workflow id of draft id (SPEC §7).
func ApprovalDraftWorkflowID(id string) string { return "approval-draft/" + id }

// ApprovalDraftInput is what a build needs; the draft row already exists in status processing.
type ApprovalDraftInput struct {
	DraftID      string
	AccountID    string
	CampaignID   string
	Source       DraftSource
	ContactCount int
	// AIConcurrency bounds how many lead batches personalise at once; 0 means the default.
	AIConcurrency int
	// ReviewWindow is how long the workflow waits for the client's submit; 0 means 90 days.
	ReviewWindow time.Duration
}

// Defaults of the build.
const (
	minAIBatch           = 5
	defaultAIConcurrency = 10
)

// DefaultReviewWindow is how long a draft waits for its client's submit when its input names no window.
const DefaultReviewWindow = 90 * 24 * time.Hour

// StartApprovalDraft starts the build of a stored draft (reject-duplicate; a second start is a no-op);
// view is what the Temporal UI shows of it.
func StartApprovalDraft(ctx context.Context, c client.Client, taskQueue string, in ApprovalDraftInput, view RunView) error {
	_, err := c.ExecuteWorkflow(ctx, startOptions(ctx, client.StartWorkflowOptions{
		ID:                       ApprovalDraftWorkflowID(in.DraftID),
		TaskQueue:                taskQueue,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			AccountIDKey.ValueSet(in.AccountID), CampaignIDKey.ValueSet(in.CampaignID), StatusKey.ValueSet(activities.DraftStatusProcessing)),
	}, view), ApprovalDraftWorkflowName, in)
	if err != nil && !isAlreadyStarted(err) {
		return fmt.Errorf("workflows: start approval draft: %w", err)
	}
	return nil
}

// ApprovalDraft builds a client approval draft (R-DRAFT-7): resolve contacts → deep-copy the campaign →
// import the leads → freeze the snapshot (ready) → run the AI pipeline on every lead. A failure before
// ready runs the compensations of the steps that ran, on a disconnected context, marks the draft
// failed with a reason (R-DRAFT-9) and ends the run Failed with that reason as its failure message
// (an ApplicationError of type build_failed; versionFailedBuildFails). After the build it stays open
// for the client's decision.
func ApprovalDraft(ctx workflow.Context, in ApprovalDraftInput) (string, error) {
	w := &approvalDraftImpl{in: in}
	if err := w.setup(ctx); err != nil {
		return "", err
	}
	return w.run(ctx)
}

type approvalDraftImpl struct {
	in         ApprovalDraftInput
	status     string
	step       string
	reason     string
	submitted  bool
	submitting bool
	copyID     string
	leadIDs    []string
}

// Change ids of the draft workflow (workflow.GetVersion), so histories recorded before a change
// replay as they ran.
const (
	// versionFailedBuildFails: a failed build ends its run Failed with the reason as the failure
	// message; before it, the run completed with the result "failed".
	versionFailedBuildFails = "failed-build-fails"
)

// Steps of a build, as the state query names them (DraftState.Step).
const (
	stepCheckCapacity  = "check_capacity"
	stepResolve        = "resolve_contacts"
	stepCopy           = "copy_campaign"
	stepImport         = "import_leads"
	stepFreeze         = "freeze_snapshot"
	stepPersonalise    = "personalise"
	stepAwaitingClient = "awaiting_client"
	stepDone           = "done"
)

// TimerReviewWindow is the summary of the timer that closes a draft's review window.
const TimerReviewWindow = "review window"

// state answers the state query (QueryState).
func (w *approvalDraftImpl) state() (DraftState, error) {
	return DraftState{Status: w.status, Step: w.step, ContactCount: w.in.ContactCount, Leads: len(w.leadIDs),
		CopyCampaignID: w.copyID, FailureReason: w.reason, Submitted: w.submitted}, nil
}

func (w *approvalDraftImpl) setup(ctx workflow.Context) error {
	w.status = activities.DraftStatusProcessing
	if w.in.AIConcurrency <= 0 {
		w.in.AIConcurrency = defaultAIConcurrency
	}
	if w.in.ReviewWindow <= 0 {
		w.in.ReviewWindow = DefaultReviewWindow
	}
	if err := workflow.SetQueryHandler(ctx, QueryState, w.state); err != nil {
		return err
	}
	return workflow.SetUpdateHandlerWithOptions(ctx, UpdateSubmitReview, w.submitReview,
		workflow.UpdateHandlerOptions{Validator: w.validateSubmit})
}

// validateSubmit lets one submit through, and only once the draft is ready (R-REVIEW-6).
func (w *approvalDraftImpl) validateSubmit(_ workflow.Context, _ SubmitReviewInput) error {
	if w.submitted || w.submitting || w.status != activities.DraftStatusReady {
		return errs.Temporal(errs.New(errs.AlreadyHandled, "the review was already submitted or cannot be submitted now"))
	}
	return nil
}

// submitReview records the client's decision and notifies the CSM.
func (w *approvalDraftImpl) submitReview(ctx workflow.Context, in SubmitReviewInput) (Draft, error) {
	if err := w.validateSubmit(ctx, in); err != nil {
		return Draft{}, err
	}
	w.submitting = true
	defer func() { w.submitting = false }()
	var out activities.Draft
	if err := workflow.ExecuteLocalActivity(buildCtx(ctx), acts.SubmitReview, activities.SubmitReviewInput{
		DraftID: w.in.DraftID, Author: in.Author, TokenHash: in.TokenHash}).Get(ctx, &out); err != nil {
		return Draft{}, err
	}
	w.submitted = true
	w.setStatus(ctx, out.Status)
	deliverEmails(ctx, w.in.DraftID)
	return draftFromActivity(out), nil
}

// buildCtx runs the build's short database steps as local activities, in the worker without a
// round trip through the server, retried with backoff for up to ten minutes (Postgres restarts
// included); build_failed and not_found errors are never retried.
func buildCtx(ctx workflow.Context) workflow.Context {
	return workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		StartToCloseTimeout:    time.Minute,
		ScheduleToCloseTimeout: 10 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        200 * time.Millisecond,
			BackoffCoefficient:     2,
			MaximumInterval:        10 * time.Second,
			NonRetryableErrorTypes: []string{string(errs.BuildFailed), string(errs.NotFound)},
		},
	})
}

func (w *approvalDraftImpl) run(ctx workflow.Context) (string, error) {
	if err := w.build(ctx); err != nil {
		reason := failureReason(err)
		dctx, cancel := workflow.NewDisconnectedContext(ctx)
		defer cancel()
		if ferr := workflow.ExecuteLocalActivity(buildCtx(dctx), acts.MarkDraftFailed,
			activities.FailDraftInput{DraftID: w.in.DraftID, Reason: reason}).Get(dctx, nil); ferr != nil {
			return "", ferr
		}
		w.setStatus(ctx, activities.DraftStatusFailed)
		w.step, w.reason = stepDone, reason
		workflow.GetLogger(ctx).Info("draft build failed", "reason", reason)
		if workflow.GetVersion(dctx, versionFailedBuildFails, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
			return activities.DraftStatusFailed, nil
		}
		return "", errs.Temporal(errs.New(errs.BuildFailed, reason))
	}
	w.setStatus(ctx, activities.DraftStatusReady)
	w.step = stepPersonalise
	w.personalise(ctx)

	// The draft now waits for its client (the review adds the submit Update); an operator sees which
	// drafts are awaiting their client in the Temporal UI.
	w.step = stepAwaitingClient
	ok, err := workflow.AwaitWithOptions(ctx, workflow.AwaitOptions{Timeout: w.in.ReviewWindow,
		TimerOptions: workflow.TimerOptions{Summary: TimerReviewWindow}}, func() bool { return w.submitted })
	if err != nil {
		return "", err
	}
	w.step = stepDone
	if !ok {
		return ResultReviewWindowClosed, nil
	}
	// Let the submit handler finish (its email delivery) before the run completes.
	if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
		return "", err
	}
	return w.status, nil
}

// build runs the steps up to ready as a saga, all as local activities: a build is at most 100
// contacts, every step is one short, idempotent database transaction, and running them in the worker
// (no dispatch through the server between steps) is what brings Ask → ready near the floor of a
// no-op workflow. A worker that dies mid-step leaves the workflow task to time out; the restarted
// worker runs the step again from its start. The build is a saga: each step that creates something adds its
// compensation, and a failure runs them, newest first, on a disconnected context.
func (w *approvalDraftImpl) build(ctx workflow.Context) (err error) {
	var compensations []func(workflow.Context) error
	defer func() {
		if err == nil {
			return
		}
		dctx, cancel := workflow.NewDisconnectedContext(ctx)
		defer cancel()
		for i := len(compensations) - 1; i >= 0; i-- {
			if cerr := compensations[i](dctx); cerr != nil {
				workflow.GetLogger(ctx).Error("compensation failed", "error", cerr)
			}
		}
	}()
	lctx := buildCtx(ctx)
	d := activities.DraftInput{AccountID: w.in.AccountID, DraftID: w.in.DraftID}
	w.step = stepCheckCapacity
	if err = workflow.ExecuteLocalActivity(lctx, acts.CheckBuildCapacity, d).Get(ctx, nil); err != nil {
		return err
	}
	var leads []activities.Lead
	w.step = stepResolve
	if err = workflow.ExecuteLocalActivity(lctx, acts.ResolveContacts, activities.ResolveInput{AccountID: w.in.AccountID,
		DraftID: w.in.DraftID, Source: w.in.Source.contactSource(), Count: w.in.ContactCount}).Get(ctx, &leads); err != nil {
		return err
	}
	// The copy is compensated even if CopyCampaign's outcome is unknown: DeleteCopy is idempotent.
	compensations = append(compensations, func(ctx workflow.Context) error {
		return workflow.ExecuteLocalActivity(buildCtx(ctx), acts.DeleteCopy, d).Get(ctx, nil)
	})
	var copyID string
	w.step = stepCopy
	if err = workflow.ExecuteLocalActivity(lctx, acts.CopyCampaign, d).Get(ctx, &copyID); err != nil {
		return err
	}
	w.copyID = copyID
	w.step = stepImport
	if err = workflow.ExecuteLocalActivity(lctx, acts.ImportLeads, activities.ImportInput{AccountID: w.in.AccountID,
		DraftID: w.in.DraftID, CopyID: copyID, Leads: leads}).Get(ctx, nil); err != nil {
		return err
	}
	w.step = stepFreeze
	return workflow.ExecuteLocalActivity(lctx, acts.FreezeSnapshot, activities.FreezeInput{AccountID: w.in.AccountID,
		DraftID: w.in.DraftID, CopyID: copyID}).Get(ctx, &w.leadIDs)
}

// The AI step's retry budget. The OpenAI-compatible provider retries each model call itself
// (ai.DefaultMaxAttempts, with backoff and Retry-After), and PersonaliseLeads reports a model call that
// still failed as AIPermanent, which is not retried here: a model is asked at most 4 times per lead,
// never 4 × the activity's attempts. What the activity does retry is what a retry may cure without
// asking the model again: the database away (a restart, an outage), a worker crash. Those are retried
// until aiBatchBudget runs out, with backoff up to 30 s.
var aiRetryPolicy = &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2,
	MaximumInterval: 30 * time.Second, NonRetryableErrorTypes: []string{activities.AIPermanent}}

// aiBatchBudget bounds one AI batch from its first schedule to its last attempt's end.
const aiBatchBudget = 20 * time.Minute

// personalise runs the AI pipeline on every lead with batch threshold 1: the leads are split into
// small batches that all start at once (at most AIConcurrency of them), each running its leads
// concurrently.
func (w *approvalDraftImpl) personalise(ctx workflow.Context) {
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 5 * time.Minute,
		// The batch's whole budget, retries included: a draft is ready before this starts, and leads
		// whose pipeline never finishes keep no AI result rather than hold the build open.
		ScheduleToCloseTimeout: aiBatchBudget,
		HeartbeatTimeout:       15 * time.Second, // it heartbeats every 5 s; a dead worker's batch is retried after 15 s
		RetryPolicy:            aiRetryPolicy,
	})
	sem := workflow.NewSemaphore(ctx, int64(w.in.AIConcurrency))
	wg := workflow.NewWaitGroup(ctx)
	// Batches of at least five leads, growing so that every batch can start at once.
	size := max(minAIBatch, (len(w.leadIDs)+w.in.AIConcurrency-1)/w.in.AIConcurrency)
	for i := 0; i < len(w.leadIDs); i += size {
		batch := w.leadIDs[i:min(i+size, len(w.leadIDs))]
		if err := sem.Acquire(ctx, 1); err != nil {
			break
		}
		o := workflow.GetActivityOptions(actx)
		o.Summary = fmt.Sprintf("personalise leads %d-%d of %d", i+1, i+len(batch), len(w.leadIDs))
		bctx := workflow.WithActivityOptions(ctx, o)
		wg.Add(1)
		workflow.Go(ctx, func(ctx workflow.Context) {
			defer wg.Done()
			defer sem.Release(1)
			if err := workflow.ExecuteActivity(bctx, acts.PersonaliseLeads, activities.PersonaliseInput{AccountID: w.in.AccountID,
				DraftID: w.in.DraftID, CopyID: w.copyID, LeadIDs: batch}).Get(ctx, nil); err != nil {
				workflow.GetLogger(ctx).Error("personalising a batch failed; those leads keep no AI result", "error", err)
			}
		})
	}
	wg.Wait(ctx)
	if err := workflow.ExecuteLocalActivity(buildCtx(ctx), acts.MarkDraftAIDone, w.in.DraftID).Get(ctx, nil); err != nil {
		workflow.GetLogger(ctx).Error("mark AI done", "error", err)
	}
}

func (w *approvalDraftImpl) setStatus(ctx workflow.Context, status string) {
	w.status = status
	if err := workflow.UpsertTypedSearchAttributes(ctx, StatusKey.ValueSet(status)); err != nil {
		workflow.GetLogger(ctx).Warn("upsert search attribute", "error", err)
	}
}

// failureReason is the human-readable reason of a failed build: a build_failed error's message is
// written for a CSM; any other non-retryable error (which ended the build at once) is described by
// what it says.
func failureReason(err error) string {
	if e, ok := errs.As(err); ok && e.Code == errs.BuildFailed {
		return e.Message
	}
	if errs.Is(err, errs.NotFound) {
		return "Something the build needed (the campaign, its copy or the contact source) was deleted while it ran. Create a new draft."
	}
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) && appErr.NonRetryable() && appErr.Message() != "" {
		return fmt.Sprintf("The build stopped: %s. Correct the contact source or the campaign and create a new draft; if it fails again, contact support.",
			strings.TrimSuffix(appErr.Message(), "."))
	}
	var timeoutErr *temporal.TimeoutError
	if errors.As(err, &timeoutErr) {
		return "The build timed out (a step kept failing for ten minutes). Create a new draft; if it fails again, contact support."
	}
	return "The build failed unexpectedly. Create a new draft; if it fails again, contact support."
}
