package workflows

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/signoff/signoff/activities"
	"github.com/signoff/signoff/errs"
)

// Names of the approval request workflow, its Updates (decisions) and Signals (one-way events).
const (
	ApprovalRequestWorkflowName = "ApprovalRequest"

	UpdateApprove         = "approve"
	UpdateReject          = "reject"
	UpdateCancel          = "cancel"
	UpdateChangeApprovers = "change-approvers"

	SignalApproverRevoked   = "approver-revoked"
	SignalApprovalsDisabled = "approvals-disabled"
	SignalApprovalDropped   = "approval-dropped"
)

// Results of a request's workflow besides the request's final status (rejected, cancelled,
// timed_out, expired): an approved request ends launched or launch_skipped.
const (
	ResultLaunched      = "launched"
	ResultLaunchSkipped = "launch_skipped"
)

// ApprovalRequestWorkflowID is the workflow id of request id (SPEC §7).
func ApprovalRequestWorkflowID(id string) string { return "approval-request/" + id }

// ApprovalRequestInput is everything the workflow needs; the request row already exists.
type ApprovalRequestInput struct {
	RequestID   string
	AccountID   string
	CampaignID  string
	SubmitterID string
	ApproverIDs []string
	// Deadline is when a pending request times out (R-APPR-6).
	Deadline time.Time
	// LaunchAt is the campaign's start_at; nil launches as soon as it is approved.
	LaunchAt *time.Time
	// Repaired marks a run the sweeper started because the request's previous run had closed while
	// the request was still pending (RestartApprovalRequest).
	Repaired bool
	// CampaignVersion and ContentHash are what the request pinned (R-VER-2): the version the launch
	// launches (R-VER-3). Zero in runs started before the input carried them.
	CampaignVersion int
	ContentHash     string
	// Reminders are the reminder and escalation settings the request was submitted under (R-ACT-2);
	// nil when both are off, and in histories recorded before them.
	Reminders *Reminders `json:",omitempty"`
	// Policy is the approval policy the request was submitted under, resolved (R-POL-1); nil for the
	// default, one stage of ApproverIDs with one approval, and in histories recorded before policies.
	// ApproverIDs are then every approver the policy names.
	Policy *Policy `json:",omitempty"`
	// ResumeStage and ResumeApprovals are where a request under a policy stood when the sweeper
	// started this run again (Repaired): its current stage and the approvals counted by stage.
	ResumeStage     int              `json:",omitempty"`
	ResumeApprovals map[int][]string `json:",omitempty"`
}

// DecisionInput is an approve, reject or cancel by ActorID.
type DecisionInput struct {
	ActorID string
	Note    string
}

// ChangeApproversInput replaces the approvers; only the submitter may (R-APPR-4).
type ChangeApproversInput struct {
	ActorID     string
	ApproverIDs []string
	Note        string
}

// ApproverRevokedSignal says UserID lost the approval right (R-APPR-7).
type ApproverRevokedSignal struct {
	UserID string
}

// Request is an approval request as a decision or a change of approvers left it: the result of the
// workflow's Updates. Its JSON is the shape recorded in workflow histories.
type Request struct {
	ID              string     `json:"id"`
	AccountID       string     `json:"account_id"`
	CampaignID      string     `json:"campaign_id"`
	CampaignVersion int        `json:"campaign_version"`
	ContentHash     string     `json:"content_hash"` // the pinned version's content_hash (R-VER-2); empty in histories recorded before it
	SubmittedBy     string     `json:"submitted_by"`
	Note            string     `json:"note"`
	Status          string     `json:"status"`
	DecidedBy       *string    `json:"decided_by"`
	DecisionNote    string     `json:"decision_note"`
	DecidedAt       *time.Time `json:"decided_at"`
	DeadlineAt      time.Time  `json:"deadline_at"`
	LaunchAt        *time.Time `json:"launch_at"`
	Approvers       []Approver `json:"approvers"`
	CreatedAt       time.Time  `json:"created_at"`
	UpdatedAt       time.Time  `json:"updated_at"`
	// The approval policy of a request under one (R-POL-1..3), as the read model holds it; absent
	// for the default, and in histories recorded before policies.
	Policy         *activities.RequestPolicy  `json:"policy,omitempty"`
	Stages         []activities.RequestStage  `json:"run_stages,omitempty"`
	CurrentStage   int                        `json:"current_stage,omitempty"`
	AudienceSize   *int                       `json:"audience_size,omitempty"`
	StageApprovals []activities.StageApproval `json:"stage_approvals,omitempty"`
}

// Approver is a user assigned to a request, with the state of the assignment.
type Approver struct {
	UserID string `json:"user_id"`
	Name   string `json:"name"`
	Email  string `json:"email"`
	State  string `json:"state"`
}

// requestFromActivity maps an activity's request to the Update result.
func requestFromActivity(r activities.Request) Request {
	out := Request{ID: r.ID, AccountID: r.AccountID, CampaignID: r.CampaignID, CampaignVersion: r.CampaignVersion,
		ContentHash: r.ContentHash, SubmittedBy: r.SubmittedBy, Note: r.Note, Status: r.Status, DecidedBy: r.DecidedBy, DecisionNote: r.DecisionNote,
		DecidedAt: r.DecidedAt, DeadlineAt: r.DeadlineAt, LaunchAt: r.LaunchAt, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
		Policy: r.Policy, Stages: r.Stages, CurrentStage: r.CurrentStage, AudienceSize: r.AudienceSize, StageApprovals: r.StageApprovals}
	if r.Approvers != nil {
		out.Approvers = make([]Approver, len(r.Approvers))
		for i, a := range r.Approvers {
			out.Approvers[i] = Approver(a)
		}
	}
	return out
}

// StartApprovalRequest starts the workflow of a stored request (reject-duplicate: a second start of
// the same request is refused, and treated as success here); view is what the Temporal UI shows of it.
func StartApprovalRequest(ctx context.Context, c client.Client, taskQueue string, in ApprovalRequestInput, view RunView) error {
	if err := startRequest(ctx, c, taskQueue, in, view, enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE); err != nil {
		return fmt.Errorf("workflows: start approval request: %w", err)
	}
	return nil
}

// RestartApprovalRequest starts a new run of a pending request whose workflow is no longer running
// (it failed, was terminated, or its history is gone): the sweeper's repair. The new run takes the
// request as the database has it and is marked Repaired; a run still running is left alone (treated
// as success).
func RestartApprovalRequest(ctx context.Context, c client.Client, taskQueue string, in ApprovalRequestInput, view RunView) error {
	in.Repaired = true
	if err := startRequest(ctx, c, taskQueue, in, view, enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE); err != nil {
		return fmt.Errorf("workflows: restart approval request: %w", err)
	}
	return nil
}

// startRequest starts a run of the request's workflow with the search attributes of a pending
// request, view's summary and details and the API call's request id; a run already running is not
// an error.
func startRequest(ctx context.Context, c client.Client, taskQueue string, in ApprovalRequestInput, view RunView,
	reuse enumspb.WorkflowIdReusePolicy) error {
	_, err := c.ExecuteWorkflow(ctx, startOptions(ctx, client.StartWorkflowOptions{
		ID:                       ApprovalRequestWorkflowID(in.RequestID),
		TaskQueue:                taskQueue,
		WorkflowIDReusePolicy:    reuse,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		TypedSearchAttributes: temporal.NewSearchAttributes(AccountIDKey.ValueSet(in.AccountID),
			CampaignIDKey.ValueSet(in.CampaignID), StatusKey.ValueSet(activities.RequestStatusPending)),
	}, view), ApprovalRequestWorkflowName, in)
	if err != nil && !isAlreadyStarted(err) {
		return err
	}
	return nil
}

// ApprovalRequest is the workflow of one approval request: it arbitrates decisions (the first
// valid Update wins, R-APPR-5), enforces the deadline with a durable timer (R-APPR-6), reacts to
// revocations and the account toggle (R-APPR-1, R-APPR-7), and launches at start_at (R-APPR-8).
func ApprovalRequest(ctx workflow.Context, in ApprovalRequestInput) (string, error) {
	w := &approvalRequestImpl{in: in}
	if err := w.setup(ctx); err != nil {
		return "", err
	}
	res, err := w.run(ctx)
	if err != nil {
		return "", err
	}
	w.awaitAudienceCount(ctx) // audience.go
	return res, nil
}

type approvalRequestImpl struct {
	in        ApprovalRequestInput
	status    string
	approvers map[string]bool
	mu        workflow.Mutex
	changes   int

	deadlineDue  bool
	startDue     bool
	skipRecorded bool
	revoked      []string
	disabled     bool
	dropped      bool
	mailPending  bool // the decision's emails may still wait in the outbox
	lean         bool // versionLeanDecision applies
	// recorded is the person's decision the database held when it refused one of this run's
	// (versionAnswerRecorded); see answersRecorded.
	recorded *recordedDecision
	// staged is the stage state of a run under a policy (versionPolicyStages); nil otherwise.
	staged *stagesState
	// unreachable says the stage that just started cannot reach its required approvals.
	unreachable bool
	// timerCtx is the run's timer context, under which each stage's timers run.
	timerCtx workflow.Context
	// audienceCount is the audience count of a run without a policy (versionAudienceCount); nil
	// when there is none.
	audienceCount workflow.Future
}

// recordedDecision is a decision the database recorded that this run never answered: its type, who
// took it, and whether an Update has been answered with it since.
type recordedDecision struct {
	typ, actor string
	answered   bool // an Update claimed it
	done       bool // and its answer is made
}

// answersRecorded reports whether a decision of type typ by actor is the recorded decision no Update
// was answered with yet. That happens when the workflow task that ran the decision's local activity
// was lost (a speculative task the server dropped): the database kept the decision, the Update's
// answer was never kept, and the server delivers the Update again. The first Update asking for the
// same decision by the same person is answered with it (the database answers it as a retry), so a
// race still has exactly one winner instead of none (R-APPR-5).
func (w *approvalRequestImpl) answersRecorded(typ, actor string) bool {
	return w.recorded != nil && !w.recorded.answered && w.recorded.typ == typ && w.recorded.actor == actor
}

var acts *activities.Activities // method values name the activities; never called directly

func (w *approvalRequestImpl) setup(ctx workflow.Context) error {
	// Before any handler: an Update that arrives with the start runs as soon as its handler is set.
	w.lean = workflow.GetVersion(ctx, versionLeanDecision, workflow.DefaultVersion, 1) == 1
	w.setupStages(ctx) // stages.go
	w.status = activities.RequestStatusPending
	w.mu = workflow.NewMutex(ctx)
	w.approvers = map[string]bool{}
	for _, id := range w.in.ApproverIDs {
		w.approvers[id] = true
	}
	decision := func(typ string) func(workflow.Context, DecisionInput) (Request, error) {
		return func(ctx workflow.Context, d DecisionInput) (Request, error) {
			if err := w.mu.Lock(ctx); err != nil {
				return Request{}, err
			}
			defer w.mu.Unlock()
			actor := d.ActorID
			dec := activities.Decision{RequestID: w.in.RequestID, Type: typ, ActorID: &actor, Note: d.Note}
			if w.answersRecorded(typ, actor) {
				w.recorded.answered = true
				defer func() { w.recorded.done = true }()
				return w.answerRecordedLocked(ctx, dec)
			}
			if w.staged != nil && typ == activities.EventApproved {
				return w.approveStagedLocked(ctx, d)
			}
			if w.staged != nil && typ == activities.EventRejected {
				// Any approver of the current stage rejects the request at once (R-POL-2).
				if err := w.awaitAudience(ctx); err != nil {
					return Request{}, err
				}
				if err := w.validatePending(); err != nil {
					return Request{}, err
				}
				if err := w.validateStageAction(actor, false); err != nil {
					return Request{}, err
				}
			}
			// A person's decision retries through an outage until the request's deadline at most.
			return w.decideLocked(ctx, dec, w.in.Deadline)
		}
	}
	for _, u := range []struct {
		name     string
		typ      string
		validate func(workflow.Context, DecisionInput) error
	}{
		{UpdateApprove, activities.EventApproved, func(ctx workflow.Context, d DecisionInput) error {
			if w.answersRecorded(activities.EventApproved, d.ActorID) {
				return nil
			}
			if err := w.validateApproverAction(ctx, d); err != nil || w.staged == nil || !w.staged.audienceKnown {
				return err
			}
			return w.validateStageAction(d.ActorID, true)
		}},
		{UpdateReject, activities.EventRejected, func(ctx workflow.Context, d DecisionInput) error {
			if d.Note == "" {
				return errs.Temporal(errs.New(errs.Forbidden, "a rejection needs a note"))
			}
			if w.answersRecorded(activities.EventRejected, d.ActorID) {
				return nil
			}
			if err := w.validateApproverAction(ctx, d); err != nil || w.staged == nil || !w.staged.audienceKnown {
				return err
			}
			return w.validateStageAction(d.ActorID, false)
		}},
		{UpdateCancel, activities.EventCancelled, func(_ workflow.Context, d DecisionInput) error {
			if w.answersRecorded(activities.EventCancelled, d.ActorID) {
				return nil
			}
			return w.validatePending()
		}},
	} {
		if err := workflow.SetUpdateHandlerWithOptions(ctx, u.name, decision(u.typ),
			workflow.UpdateHandlerOptions{Validator: u.validate}); err != nil {
			return err
		}
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateChangeApprovers, w.changeApprovers,
		workflow.UpdateHandlerOptions{Validator: w.validateChangeApprovers}); err != nil {
		return err
	}
	if err := workflow.SetQueryHandler(ctx, QueryState, w.state); err != nil {
		return err
	}
	workflow.Go(ctx, func(ctx workflow.Context) {
		ch := workflow.GetSignalChannel(ctx, SignalApproverRevoked)
		for {
			var s ApproverRevokedSignal
			ch.Receive(ctx, &s)
			delete(w.approvers, s.UserID) // they can no longer act, even before the expiry is recorded
			w.revoked = append(w.revoked, s.UserID)
		}
	})
	workflow.Go(ctx, func(ctx workflow.Context) {
		workflow.GetSignalChannel(ctx, SignalApprovalsDisabled).Receive(ctx, nil)
		w.disabled = true
	})
	workflow.Go(ctx, func(ctx workflow.Context) {
		workflow.GetSignalChannel(ctx, SignalApprovalDropped).Receive(ctx, nil)
		w.dropped = true
	})
	return nil
}

// state answers the state query (QueryState).
func (w *approvalRequestImpl) state() (RequestState, error) {
	approvers := make([]string, 0, len(w.approvers))
	for id := range w.approvers {
		approvers = append(approvers, id)
	}
	slices.Sort(approvers)
	current, stages := w.stageState()
	return RequestState{Status: w.status, Approvers: approvers, Deadline: w.in.Deadline, LaunchAt: w.in.LaunchAt,
		CampaignVersion: w.in.CampaignVersion, DeadlineDue: w.deadlineDue, StartDue: w.startDue, ApproverChanges: w.changes,
		ApprovalsDisabled: w.disabled, ApprovalDropped: w.dropped, Repaired: w.in.Repaired,
		CurrentStage: current, Stages: stages}, nil
}

func (w *approvalRequestImpl) validatePending() error {
	if w.status != activities.RequestStatusPending {
		return errs.Temporal(errs.New(errs.AlreadyHandled, "the request is already "+w.status))
	}
	return nil
}

func (w *approvalRequestImpl) validateApproverAction(ctx workflow.Context, d DecisionInput) error {
	if err := w.validatePending(); err != nil {
		return err
	}
	// When many deadlines fall due together their timers can fire late; an approval or rejection
	// that comes after the deadline is refused all the same (R-APPR-6).
	if !workflow.Now(ctx).Before(w.in.Deadline) {
		return errs.Temporal(errs.New(errs.AlreadyHandled, "the request's deadline has passed; it is timing out"))
	}
	if !w.approvers[d.ActorID] {
		return errs.Temporal(errs.New(errs.Forbidden, "you are not an assigned approver of this request"))
	}
	return nil
}

func (w *approvalRequestImpl) validateChangeApprovers(_ workflow.Context, c ChangeApproversInput) error {
	if err := w.validatePending(); err != nil {
		return err
	}
	if c.ActorID != w.in.SubmitterID {
		return errs.Temporal(errs.New(errs.Forbidden, "only the submitter may change approvers"))
	}
	if w.staged != nil {
		return errs.Temporal(errs.New(errs.Forbidden, "this request's approvers come from its approval policy: cancel it and resubmit to change them"))
	}
	if len(c.ApproverIDs) == 0 {
		return errs.Temporal(errs.New(errs.Forbidden, "at least one approver is required"))
	}
	return nil
}

// nonRetryableTypes are the application errors a retry cannot cure: the request's steps give up on them at once.
var nonRetryableTypes = []string{string(errs.AlreadyHandled), string(errs.Forbidden), string(errs.NotFound),
	string(errs.StageNotCurrent), string(errs.AlreadyApproved)}

// activityCtx runs the request's database steps as local activities: they are short transactions,
// and running them in the worker (no round trip through the server) is what keeps a decision's
// answer close to a bare Update's. A local activity's retries end within 30 s (its StartToClose is
// also its ScheduleToClose: about 15 s of backoff); a longer outage is handed to durableCtx by step.
func activityCtx(ctx workflow.Context) workflow.Context {
	return workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        500 * time.Millisecond,
			BackoffCoefficient:     2,
			MaximumInterval:        30 * time.Second,
			NonRetryableErrorTypes: nonRetryableTypes,
		},
	})
}

// durableRetryInterval caps the backoff of a step retried by the server: once the database is back,
// a waiting step runs within about this long.
const durableRetryInterval = time.Minute

// durableCtx runs a step as a regular activity that the server retries until it succeeds (no
// MaximumAttempts), or until bound has passed (zero: no bound). The retries add no history events,
// however long the outage lasts.
func durableCtx(ctx workflow.Context, bound time.Duration) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		ScheduleToCloseTimeout: bound,
		StartToCloseTimeout:    30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        time.Second,
			BackoffCoefficient:     2,
			MaximumInterval:        durableRetryInterval,
			NonRetryableErrorTypes: nonRetryableTypes,
		},
	})
}

// step runs one database step of the request and stores its result in out. It runs as a local
// activity (the fast path); when that gives up with an error a retry may cure (the database was
// unreachable for longer than the local budget), the same step runs again as a regular activity that
// the server retries until it succeeds (versionDurableSteps). until bounds that second phase: the
// request's deadline for a person's decision or change, after which the deadline itself decides;
// zero for the steps the workflow must complete (the timeout, auto-approval, expiry, launch), which
// retry for as long as it takes, so that a request never ends its workflow failed while its row is
// pending.
func (w *approvalRequestImpl) step(ctx workflow.Context, until time.Time, activity, in, out any) error {
	err := workflow.ExecuteLocalActivity(activityCtx(ctx), activity, in).Get(ctx, out)
	if err == nil || !retryable(err) {
		return err
	}
	var bound time.Duration
	if !until.IsZero() {
		if bound = until.Sub(workflow.Now(ctx)); bound <= 0 {
			return err
		}
	}
	if workflow.GetVersion(ctx, versionDurableSteps, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return err
	}
	workflow.GetLogger(ctx).Warn("a database step outlasted its local retries; the server retries it until it succeeds",
		"error", err, "bound", bound)
	return workflow.ExecuteActivity(durableCtx(ctx, bound), activity, in).Get(ctx, out)
}

// retryable reports whether another attempt of a failed step may succeed: anything but a
// non-retryable application error or a cancellation.
func retryable(err error) bool {
	if temporal.IsCanceledError(err) {
		return false
	}
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return !appErr.NonRetryable() && !slices.Contains(nonRetryableTypes, appErr.Type())
	}
	return true
}

// Change ids of the approval workflow (workflow.GetVersion), so histories recorded before a change
// replay as they ran.
const (
	// versionLeanDecision: a decision's local activity also delivers its emails (the separate delivery
	// runs only when that failed), and a decision leaves the timers alone: an approved request
	// launches when the start timer it already holds fires, and timers still pending when the
	// workflow ends are dropped with it.
	versionLeanDecision = "lean-decision"
	// versionDurableSteps: a database step whose local activity gave up with a retryable error runs
	// again as a regular activity, retried by the server (step); before it, the step's error ended
	// the Update or failed the workflow.
	versionDurableSteps = "durable-steps"
	// versionPinnedLaunch: the launch carries the version and content_hash the request pinned
	// (ApprovalRequestInput.CampaignVersion, ContentHash), and launches that version only while it is
	// the campaign's approved one; before it, the launch's input named the request alone.
	versionPinnedLaunch = "pinned-launch"
	// versionReminders: a request submitted with reminders or escalation on holds their timers
	// (reminders.go); before it, a run had only the deadline and start timers.
	versionReminders = "reminders"
	// versionAnswerRecorded: when the database refuses a decision because it holds a person's decision
	// the run never answered, the run upserts the status it adopts and answers that decision to the
	// first Update asking for it again (answersRecorded); before it, every such Update was refused.
	versionAnswerRecorded = "answer-recorded-decision"
)

// Summaries of the request's timers, what the Temporal UI shows for each (SPEC §7); the reminders'
// are "reminder N of M" and the escalation's "escalation" (reminders.go). A summary is metadata of
// the timer's command, not the command itself: histories recorded before them replay unchanged.
const (
	TimerDeadline       = "deadline"
	TimerLaunch         = "launch at start_at"
	TimerRecordedAnswer = "wait for the recorded decision's update"
)

// recordedAnswerGrace is how long a run that is about to end waits for the Update of a recorded
// decision no Update was answered with (answersRecorded).
const recordedAnswerGrace = 30 * time.Second

// recordedTypes are the decision types a person takes, by the request status each leaves.
var recordedTypes = map[string]string{activities.RequestStatusApproved: activities.EventApproved,
	activities.RequestStatusRejected: activities.EventRejected, activities.RequestStatusCancelled: activities.EventCancelled}

// decideLocked records a terminal decision, retrying through a database outage until until (zero:
// until it succeeds; see step); the caller holds w.mu.
func (w *approvalRequestImpl) decideLocked(ctx workflow.Context, d activities.Decision, until time.Time) (Request, error) {
	if err := w.validatePending(); err != nil {
		return Request{}, err
	}
	in := activities.DecideInput{AccountID: w.in.AccountID, Decision: d}
	var out activities.Request
	var err error
	if !w.lean {
		w.mailPending = true
		err = w.step(ctx, until, acts.Decide, in, &out)
	} else {
		var res activities.DecideResult
		err = w.step(ctx, until, acts.DecideAndDeliver, in, &res)
		out, w.mailPending = res.Request, res.MailPending
	}
	if errs.Is(err, errs.AlreadyHandled) {
		// The database decided otherwise (the second guard): adopt its status.
		var cur activities.Request
		if lerr := w.step(ctx, until, acts.CurrentRequest, activities.CurrentRequestInput{
			AccountID: w.in.AccountID, RequestID: w.in.RequestID}, &cur); lerr != nil {
			return Request{}, lerr
		}
		w.status = cur.Status
		w.mailPending = true // whoever decided may have left emails
		if typ := recordedTypes[cur.Status]; typ != "" && cur.DecidedBy != nil && w.recorded == nil &&
			workflow.GetVersion(ctx, versionAnswerRecorded, workflow.DefaultVersion, 1) == 1 {
			w.recorded = &recordedDecision{typ: typ, actor: *cur.DecidedBy}
			w.setStatusAttr(ctx, cur.Status)
		}
		return Request{}, err
	}
	if err != nil {
		return Request{}, err
	}
	w.status = out.Status
	w.setStatusAttr(ctx, out.Status)
	return requestFromActivity(out), nil
}

// answerRecordedLocked answers decision d, the recorded decision no Update was answered with
// (answersRecorded): the database answers it as a retry of the decision it holds, with the request
// as that decision left it, and delivers its emails. The caller holds w.mu.
func (w *approvalRequestImpl) answerRecordedLocked(ctx workflow.Context, d activities.Decision) (Request, error) {
	var res activities.DecideResult
	err := w.step(ctx, w.in.Deadline, acts.DecideAndDeliver, activities.DecideInput{AccountID: w.in.AccountID, Decision: d}, &res)
	if err != nil {
		return Request{}, err
	}
	w.mailPending = w.mailPending && res.MailPending
	return requestFromActivity(res.Request), nil
}

func (w *approvalRequestImpl) changeApprovers(ctx workflow.Context, c ChangeApproversInput) (Request, error) {
	if err := w.mu.Lock(ctx); err != nil {
		return Request{}, err
	}
	defer w.mu.Unlock()
	if err := w.validatePending(); err != nil {
		return Request{}, err
	}
	w.changes++
	changeKey := fmt.Sprintf("%s:approvers_changed:%d", w.in.RequestID, w.changes)
	if w.in.Repaired {
		// The counter starts again in a repaired run: the run id keeps its keys apart from the earlier run's.
		changeKey = fmt.Sprintf("%s:approvers_changed:%s:%d", w.in.RequestID, workflow.GetInfo(ctx).WorkflowExecution.RunID, w.changes)
	}
	var out activities.Request
	err := w.step(ctx, w.in.Deadline, acts.ChangeApprovers, activities.ChangeApproversInput{
		AccountID: w.in.AccountID, RequestID: w.in.RequestID, ActorID: c.ActorID, ApproverIDs: c.ApproverIDs,
		Note: c.Note, ChangeKey: changeKey,
	}, &out)
	if err != nil {
		return Request{}, err
	}
	w.approvers = map[string]bool{}
	for _, a := range out.Approvers {
		if a.State == activities.ApproverStateAssigned {
			w.approvers[a.UserID] = true
		}
	}
	w.deliver(ctx)
	return requestFromActivity(out), nil
}

func (w *approvalRequestImpl) setStatusAttr(ctx workflow.Context, status string) {
	if err := workflow.UpsertTypedSearchAttributes(ctx, StatusKey.ValueSet(status)); err != nil {
		workflow.GetLogger(ctx).Warn("upsert search attribute", "error", err)
	}
}

// deliver hands the request's new outbox emails to the mailer (a no-op without SendGrid).
func (w *approvalRequestImpl) deliver(ctx workflow.Context) { deliverEmails(ctx, w.in.RequestID) }

func (w *approvalRequestImpl) run(ctx workflow.Context) (string, error) {
	logger := workflow.GetLogger(ctx)
	w.deliver(ctx)

	timerCtx, cancelTimers := workflow.WithCancel(ctx)
	if !w.lean {
		defer cancelTimers()
	}
	now := workflow.Now(ctx)
	workflow.Go(timerCtx, func(ctx workflow.Context) {
		if workflow.NewTimerWithOptions(ctx, nonNegative(w.in.Deadline.Sub(now)),
			workflow.TimerOptions{Summary: TimerDeadline}).Get(ctx, nil) == nil {
			w.deadlineDue = true
		}
	})
	startTimer := w.in.LaunchAt != nil && w.in.LaunchAt.After(now) && w.in.LaunchAt.Before(w.in.Deadline)
	if startTimer {
		workflow.Go(timerCtx, func(ctx workflow.Context) {
			if workflow.NewTimerWithOptions(ctx, w.in.LaunchAt.Sub(now),
				workflow.TimerOptions{Summary: TimerLaunch}).Get(ctx, nil) == nil {
				w.startDue = true
			}
		})
	}
	w.timerCtx = timerCtx
	if w.staged == nil {
		w.startReminders(timerCtx) // reminders.go
		w.startAudienceCount(ctx)  // audience.go
	} else {
		if err := w.countAudience(ctx); err != nil {
			return "", err
		}
		from := workflow.Now(ctx)
		if w.in.Reminders != nil && w.in.ResumeStage == 0 {
			from = w.in.Reminders.From
		}
		w.resumeStages()
		w.startStageTimers(ctx, from)
	}

	for w.status == activities.RequestStatusPending {
		if err := workflow.Await(ctx, func() bool {
			return w.status != activities.RequestStatusPending || w.deadlineDue || w.disabled || len(w.revoked) > 0 ||
				(w.startDue && !w.skipRecorded) || w.unreachable
		}); err != nil {
			return "", err
		}
		if err := w.mu.Lock(ctx); err != nil {
			return "", err
		}
		err := w.handleEventLocked(ctx)
		w.mu.Unlock()
		if err != nil {
			if errs.Is(err, errs.AlreadyHandled) && w.status != activities.RequestStatusPending {
				continue // decided elsewhere; decideLocked adopted the database's status
			}
			return "", err
		}
	}
	if !w.lean {
		cancelTimers()
	}
	if w.recorded != nil && !w.recorded.answered &&
		(w.status != activities.RequestStatusApproved || w.in.LaunchAt == nil || !w.in.LaunchAt.After(workflow.Now(ctx))) {
		// The run is about to end with a recorded decision no Update was answered with: its Update is
		// delivered again soon; wait a while for it, so it is answered (answersRecorded) rather than
		// refused for a run that has ended.
		if _, err := workflow.AwaitWithOptions(ctx, workflow.AwaitOptions{Timeout: recordedAnswerGrace,
			TimerOptions: workflow.TimerOptions{Summary: TimerRecordedAnswer}}, func() bool { return w.recorded.done }); err != nil {
			return "", err
		}
	}
	if w.mailPending {
		w.deliver(ctx)
	}
	if w.status != activities.RequestStatusApproved {
		return w.status, nil
	}

	// Approved: launch at start_at, unless an edit drops the approval first (R-CAMP-3).
	launchAt := w.in.LaunchAt
	switch {
	case launchAt == nil || !launchAt.After(workflow.Now(ctx)):
		// The start time has come (or there is none): launch now.
	case w.lean && startTimer:
		// The start timer set while pending fires at start_at.
		if err := workflow.Await(ctx, func() bool { return w.startDue || w.dropped }); err != nil {
			return "", err
		}
	default:
		waitCtx, cancelWait := workflow.WithCancel(ctx)
		timerDone := false
		workflow.Go(waitCtx, func(ctx workflow.Context) {
			if workflow.NewTimerWithOptions(ctx, launchAt.Sub(workflow.Now(ctx)),
				workflow.TimerOptions{Summary: TimerLaunch}).Get(ctx, nil) == nil {
				timerDone = true
			}
		})
		err := workflow.Await(ctx, func() bool { return timerDone || w.dropped })
		if !w.lean {
			cancelWait()
		}
		if err != nil {
			return "", err
		}
	}
	launch := activities.LaunchInput{AccountID: w.in.AccountID, CampaignID: w.in.CampaignID, RequestID: w.in.RequestID}
	if workflow.GetVersion(ctx, versionPinnedLaunch, workflow.DefaultVersion, 1) == 1 {
		launch.CampaignVersion, launch.ContentHash = w.in.CampaignVersion, w.in.ContentHash
	}
	var res activities.LaunchResult
	if err := w.step(ctx, time.Time{}, acts.LaunchApproved, launch, &res); err != nil {
		return "", err
	}
	final := ResultLaunched
	if res.Skipped {
		final = ResultLaunchSkipped
	}
	w.setStatusAttr(ctx, final)
	logger.Info("approval request finished", "result", final)
	return final, nil
}

// handleEventLocked reacts to the one-way events and timers; the caller holds w.mu.
func (w *approvalRequestImpl) handleEventLocked(ctx workflow.Context) error {
	if w.status != activities.RequestStatusPending {
		return nil
	}
	switch {
	case w.disabled:
		_, err := w.decideLocked(ctx, activities.Decision{RequestID: w.in.RequestID, Type: activities.EventAutoApproved,
			Note: "approvals were turned off for the account"}, time.Time{})
		return err
	case w.deadlineDue:
		_, err := w.decideLocked(ctx, activities.Decision{RequestID: w.in.RequestID, Type: activities.EventTimedOut,
			Note: "nobody decided before the deadline"}, time.Time{})
		return err
	case len(w.revoked) > 0:
		uid := w.revoked[0]
		w.revoked = w.revoked[1:]
		delete(w.approvers, uid)
		var res activities.ExpireResult
		if err := w.step(ctx, time.Time{}, acts.ExpireApprover, activities.ExpireApproverInput{
			AccountID: w.in.AccountID, RequestID: w.in.RequestID, UserID: uid}, &res); err != nil {
			return err
		}
		if w.staged != nil {
			w.staged.onNoApprovers = res.Policy
			if !w.stageReachable() && res.Policy == activities.OnNoApproversExpire {
				return w.expireUnreachableLocked(ctx)
			}
			return nil
		}
		if res.ValidApprovers == 0 && res.Policy == activities.OnNoApproversExpire {
			_, err := w.decideLocked(ctx, activities.Decision{RequestID: w.in.RequestID, Type: activities.EventApproverExpired,
				Note: "no assigned approver holds the approval right any more; the request expired"}, time.Time{})
			return err
		}
	case w.unreachable:
		// A stage that started without enough approvers who may act (R-APPR-7 per stage).
		w.unreachable = false
		if w.staged.onNoApprovers == activities.OnNoApproversExpire {
			return w.expireUnreachableLocked(ctx)
		}
	case w.startDue && !w.skipRecorded:
		w.skipRecorded = true
		return w.step(ctx, time.Time{}, acts.RecordEvent, activities.RecordEventInput{
			RequestID: w.in.RequestID, Type: activities.EventLaunchSkipped,
			Note:      "the start time came while the request was still pending; it stays pending until its deadline",
			DedupeKey: w.in.RequestID + ":launch_skipped:start",
		}, nil)
	}
	return nil
}

func nonNegative(d time.Duration) time.Duration {
	if d < 0 {
		return 0
	}
	return d
}

func isAlreadyStarted(err error) bool {
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	return errors.As(err, &started)
}

// expireUnreachableLocked ends a request under a policy whose current stage can no longer reach its
// required approvals, under on_no_approvers expire; the caller holds w.mu.
func (w *approvalRequestImpl) expireUnreachableLocked(ctx workflow.Context) error {
	st := w.currentStage()
	_, err := w.decideLocked(ctx, activities.Decision{RequestID: w.in.RequestID, Type: activities.EventApproverExpired,
		Note: fmt.Sprintf("stage %d of %d (%s) can no longer reach its %d required approvals; the request expired",
			w.staged.current+1, len(w.staged.stages), st.Name, st.Required)}, time.Time{})
	return err
}
