package activities

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/signoff/signoff/changes"
	"github.com/signoff/signoff/email"
	"github.com/signoff/signoff/storage"
)

// Request is an approval request as the activities answer it; its JSON is the read model's and is
// what workflow histories record.
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
	// The approval policy of a request under one (R-POL-1..3); absent for the default, and in
	// histories recorded before policies.
	Policy         *RequestPolicy  `json:"policy,omitempty"`
	Stages         []RequestStage  `json:"run_stages,omitempty"`
	CurrentStage   int             `json:"current_stage,omitempty"`
	AudienceSize   *int            `json:"audience_size,omitempty"`
	StageApprovals []StageApproval `json:"stage_approvals,omitempty"`
}

// Types of a request's approval policy, as the read model holds them.
type (
	// RequestPolicy is the resolved policy a request was submitted under.
	RequestPolicy = storage.RequestPolicy
	// RequestStage is a resolved stage of a request.
	RequestStage = storage.RequestStage
	// StageApproval is an approval counted in a stage.
	StageApproval = storage.StageApproval
)

// Approver is a user assigned to a request, with the state of the assignment.
type Approver struct {
	UserID string `json:"user_id"`
	Name   string `json:"name"`
	Email  string `json:"email"`
	State  string `json:"state"`
}

// requestFromRow maps a stored request to the activities' Request.
func requestFromRow(r storage.ApprovalRequest) Request {
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

// Decision is a terminal transition of a request: Type is one of the decision Event* types; a nil
// ActorID means the system decided.
type Decision struct {
	RequestID string
	Type      string
	ActorID   *string
	Note      string
	// Stage is the stage an approval under a policy completes, the request's last (R-POL-2); nil
	// otherwise, and in histories recorded before policies.
	Stage *int `json:",omitempty"`
}

// DecideInput is a terminal decision on a request of an account.
type DecideInput struct {
	AccountID string
	Decision  Decision
}

// Decide records a decision with the database's pending guard; a retry of the same decision is a no-op.
// It is the decision step of runs that take the path before versionLeanDecision (workflows).
func (a *Activities) Decide(ctx context.Context, in DecideInput) (Request, error) {
	r, err := a.decide(ctx, in)
	if err != nil {
		return Request{}, classify(err)
	}
	a.logDecision(ctx, in.Decision, r.Status)
	return requestFromRow(r), nil
}

// logDecision logs a recorded decision with the request id of the API call that caused it, if any
// (R-OPS-4).
func (a *Activities) logDecision(ctx context.Context, d Decision, status string) {
	a.log(ctx).Info("decision recorded", zap.String("approval_request_id", d.RequestID), zap.String("decision", d.Type),
		zap.String("status", status))
}

// decide records the decision and counts it in signoff_decisions_total when this attempt is the one
// that recorded it: a retried activity, or a replayed workflow that runs the step again, finds the
// decision already recorded and counts nothing.
func (a *Activities) decide(ctx context.Context, in DecideInput) (storage.ApprovalRequest, error) {
	r, recorded, err := a.Store.DecideRecorded(ctx, in.AccountID, storage.Decision(in.Decision))
	if recorded {
		a.Metrics.DecisionRecorded(in.Decision.Type)
	}
	return r, err
}

// DecideResult is a recorded decision and whether its emails still wait in the outbox.
type DecideResult struct {
	Request Request
	// MailPending is true when delivery failed: the workflow retries it (deliverEmails).
	MailPending bool
}

// DecideAndDeliver records a decision as Decide does, then hands its emails to the mailer, if there is
// one, in the same activity: a decision costs one local activity. A failed delivery does not fail the
// decision; it is reported for the workflow to retry.
func (a *Activities) DecideAndDeliver(ctx context.Context, in DecideInput) (DecideResult, error) {
	r, err := a.decide(ctx, in)
	if err != nil {
		return DecideResult{}, classify(err)
	}
	a.logDecision(ctx, in.Decision, r.Status)
	res := DecideResult{Request: requestFromRow(r)}
	if _, err := a.DeliverEmails(ctx, in.Decision.RequestID); err != nil {
		a.log(ctx).Warn("decision emails not delivered yet; the workflow retries", zap.String("approval_request_id", in.Decision.RequestID), zap.Error(err))
		res.MailPending = true
	}
	return res, nil
}

// ChangeApproversInput replaces a request's approvers; ChangeKey is unique per change of the workflow.
type ChangeApproversInput struct {
	AccountID   string
	RequestID   string
	ActorID     string
	ApproverIDs []string
	Note        string
	ChangeKey   string
}

// ChangeApprovers stores the new approver set and notifies the added approvers, once per ChangeKey;
// their emails say how many changes the request brings (R-VER-6) and carry their decision links
// (R-ACT-1); the removed approvers' links stop working.
func (a *Activities) ChangeApprovers(ctx context.Context, in ChangeApproversInput) (Request, error) {
	r, err := a.Store.ChangeApprovers(ctx, in.AccountID, in.RequestID, in.ActorID, in.ApproverIDs, in.Note, in.ChangeKey,
		changes.Count, storage.DecisionLinkBase(a.PublicURL))
	if err != nil {
		return Request{}, classify(err)
	}
	a.log(ctx).Info("approvers changed", zap.String("approval_request_id", in.RequestID), zap.Int("approvers", len(in.ApproverIDs)))
	return requestFromRow(r), nil
}

// ExpireApproverInput names the approver who lost the right.
type ExpireApproverInput struct {
	AccountID string
	RequestID string
	UserID    string
}

// ExpireResult is what is left of a request after one of its approvers expired.
type ExpireResult struct {
	// ValidApprovers counts the assigned approvers who still hold the approval right.
	ValidApprovers int
	// Policy is the account's on_no_approvers setting (OnNoApproversExpire or "hold").
	Policy string
	// Status is the request's status.
	Status string
}

// ExpireApprover marks the assignment expired and says how many valid approvers are left and what the account's policy is.
func (a *Activities) ExpireApprover(ctx context.Context, in ExpireApproverInput) (ExpireResult, error) {
	r, err := a.Store.ExpireApprover(ctx, in.AccountID, in.RequestID, in.UserID)
	return ExpireResult(r), classify(err)
}

// RecordEventInput is one history line, written once per DedupeKey.
type RecordEventInput struct {
	RequestID string
	Type      string
	Note      string
	DedupeKey string
}

// RecordEvent appends an event to the request's history.
func (a *Activities) RecordEvent(ctx context.Context, in RecordEventInput) error {
	return classify(a.Store.RecordEvent(ctx, in.RequestID, in.Type, nil, in.Note, in.DedupeKey))
}

// LaunchInput launches the campaign a request approved: the version and content_hash the request
// pinned (R-VER-2, R-VER-3). Zero CampaignVersion (a workflow started before it carried the pin): the
// request's row says what it pinned.
type LaunchInput struct {
	AccountID       string
	CampaignID      string
	RequestID       string
	CampaignVersion int
	ContentHash     string
}

// LaunchResult says whether the campaign went live; Skipped when its approval no longer covers it.
type LaunchResult struct {
	Launched bool
	Skipped  bool
}

// LaunchApproved sets the version the request pinned live and writes its launch record (idempotent per
// version); when the campaign's approval no longer stands on that version (an edit dropped it, another
// approval replaced it) or the campaign cannot launch, it records launch_skipped, saying why, instead.
func (a *Activities) LaunchApproved(ctx context.Context, in LaunchInput) (LaunchResult, error) {
	_, _, err := a.Store.LaunchCampaign(ctx, storage.LaunchInput{AccountID: in.AccountID, CampaignID: in.CampaignID,
		RequestID: &in.RequestID, Version: in.CampaignVersion, ContentHash: in.ContentHash, Source: "workflow"})
	if err == nil {
		return LaunchResult{Launched: true}, nil
	}
	note := launchSkippedNote(err)
	if note == "" {
		return LaunchResult{}, err
	}
	err = a.Store.RecordEvent(ctx, in.RequestID, storage.EventLaunchSkipped, nil, note, in.RequestID+":launch_skipped:final")
	return LaunchResult{Skipped: true}, classify(err)
}

// launchSkippedNote is the history note of a workflow launch that err refused, "" when err is not a
// refusal (a failure to retry).
func launchSkippedNote(err error) string {
	var pinned *storage.PinnedVersionError
	switch {
	case errors.As(err, &pinned) && pinned.Approved == nil:
		return fmt.Sprintf("not launched: this request approved version %d, but the campaign was edited after the approval "+
			"and no approved version stands now; the new version needs its own approval", pinned.Pinned)
	case errors.As(err, &pinned) && *pinned.Approved != pinned.Pinned:
		return fmt.Sprintf("not launched: this request approved version %d, but the campaign's approved version is now %d, "+
			"which launches with its own request", pinned.Pinned, *pinned.Approved)
	case errors.As(err, &pinned):
		return fmt.Sprintf("not launched: version %d does not hold the content this request approved (content_hash %s, pinned %s)",
			pinned.Pinned, pinned.StoredHash, pinned.PinnedHash)
	case errors.Is(err, storage.ErrNotLaunchable) || errors.Is(err, storage.ErrNotFound):
		return "the approval no longer covers the campaign (it was edited or deleted)"
	case errors.Is(err, storage.ErrCampaignInError):
		return "the campaign is in error at its start time; fix it, set it ready and launch it"
	}
	return ""
}

// DeliverEmails hands the request's undelivered outbox emails to the mailer. Without a mailer
// (no SENDGRID_API_KEY) the outbox is the destination and nothing is sent.
func (a *Activities) DeliverEmails(ctx context.Context, requestID string) (int, error) {
	if a.Mail == nil {
		return 0, nil
	}
	emails, err := a.Store.UnsentEmails(ctx, requestID)
	if err != nil {
		return 0, err
	}
	for i, e := range emails {
		err := a.Mail.Send(ctx, email.Message{ToEmail: e.ToEmail, ToName: e.ToName, Subject: e.Subject, Body: e.Body, HTML: e.HTML})
		if errors.Is(err, email.ErrPermanent) {
			// Sending it again would be refused again: it is marked failed, with the provider's answer.
			a.Log.Error("email refused by provider; marked failed", zap.String("email_id", e.ID), zap.Error(err))
			if err := a.Store.MarkEmailFailed(ctx, e.ID, truncate(err.Error(), maxFailureChars)); err != nil {
				return i, err
			}
			continue
		}
		if err != nil {
			return i, fmt.Errorf("deliver %s: %w", e.ID, err)
		}
		if err := a.Store.MarkEmailSent(ctx, e.ID); err != nil {
			return i, err
		}
	}
	return len(emails), nil
}

// maxFailureChars bounds the provider's answer kept with a refused email.
const maxFailureChars = 1000

// truncate cuts s to at most n bytes, on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// RemindInput is reminder N of Of of a request (R-ACT-2).
type RemindInput struct {
	AccountID string
	RequestID string
	N         int
	Of        int
	// Stage, under a policy, reminds that stage's approvers who have not approved it (R-POL-5); nil
	// reminds every assigned approver.
	Stage *int `json:",omitempty"`
}

// RemindResult says how many approvers a reminder reached and whether its emails still wait in the outbox.
type RemindResult struct {
	Reminded int
	// MailPending is true when delivery failed: the workflow retries it (deliverEmails).
	MailPending bool
}

// RemindApprovers reminds the request's assigned approvers who hold the approval right, in the app and
// by email, and records it in the history, once per reminder; then it hands the emails to the mailer,
// if there is one, in the same activity (as DecideAndDeliver does): a reminder costs one local activity.
func (a *Activities) RemindApprovers(ctx context.Context, in RemindInput) (RemindResult, error) {
	stage := -1
	if in.Stage != nil {
		stage = *in.Stage
	}
	n, err := a.Store.RemindStageApprovers(ctx, in.AccountID, in.RequestID, stage, in.N, in.Of, storage.DecisionLinkBase(a.PublicURL))
	if err != nil {
		return RemindResult{}, classify(err)
	}
	return RemindResult{Reminded: n, MailPending: n > 0 && !a.deliverNow(ctx, in.RequestID)}, nil
}

// EscalateInput adds UserIDs as approvers of a request nobody decided within After (R-ACT-2).
type EscalateInput struct {
	AccountID string
	RequestID string
	UserIDs   []string
	After     time.Duration
	// Stage, under a policy, adds the users to that stage's approvers too, once per stage (R-POL-5).
	Stage *int `json:",omitempty"`
}

// EscalateResult is the request as an escalation left it, and whether its emails still wait in the outbox.
type EscalateResult struct {
	Request Request
	// MailPending is true when delivery failed: the workflow retries it (deliverEmails).
	MailPending bool
}

// Escalate adds the escalation users who hold the approval right to the request's approvers, records
// escalated and asks the added ones to decide, once per request; then it hands the emails to the
// mailer in the same activity.
func (a *Activities) Escalate(ctx context.Context, in EscalateInput) (EscalateResult, error) {
	stage := -1
	if in.Stage != nil {
		stage = *in.Stage
	}
	r, err := a.Store.EscalateStage(ctx, in.AccountID, in.RequestID, stage, in.UserIDs, in.After, changes.Count, storage.DecisionLinkBase(a.PublicURL))
	if err != nil {
		return EscalateResult{}, classify(err)
	}
	return EscalateResult{Request: requestFromRow(r), MailPending: !a.deliverNow(ctx, in.RequestID)}, nil
}

// deliverNow delivers the request's outbox emails and reports whether that worked; a failure is
// logged, for the workflow to retry.
func (a *Activities) deliverNow(ctx context.Context, requestID string) bool {
	if _, err := a.DeliverEmails(ctx, requestID); err != nil {
		a.log(ctx).Warn("emails not delivered yet; the workflow retries", zap.String("approval_request_id", requestID), zap.Error(err))
		return false
	}
	return true
}

// CurrentRequestInput names a request.
type CurrentRequestInput struct {
	AccountID string
	RequestID string
}

// CurrentRequest reads a request as the database has it, for a workflow whose decision the database refused.
func (a *Activities) CurrentRequest(ctx context.Context, in CurrentRequestInput) (Request, error) {
	r, err := a.Store.ApprovalRequest(ctx, in.AccountID, in.RequestID)
	if err != nil {
		return Request{}, classify(err)
	}
	return requestFromRow(r), nil
}
