package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.uber.org/zap"

	"github.com/signoff/signoff/errs"
	"github.com/signoff/signoff/storage"
	"github.com/signoff/signoff/workflows"
)

// This file is the one place the use cases reach Temporal: starting workflows, sending Updates and
// Signals. Each function takes and returns the read model's rows and does the mapping to and from the
// workflows' own types. The exported functions are the same starts for the worker's sweeper, which
// repairs from the rows what a failed start left.

// startRequestWorkflow starts the workflow of a committed request of campaign campaignName and
// records that it did. A start that fails is logged, not returned: the request is committed, and the
// worker's sweeper starts the workflow from the row.
func (a *App) startRequestWorkflow(ctx context.Context, r storage.ApprovalRequest, campaignName string) {
	if err := StartApprovalRequest(ctx, a.Temporal, a.TaskQueue, r, campaignName); err != nil {
		a.logger(ctx).Error("approval workflow not started; the sweeper will start it", zap.String("approval_request_id", r.ID), zap.Error(err))
	} else if err := a.Store.MarkWorkflowStarted(ctx, r.ID); err != nil {
		a.logger(ctx).Warn("mark workflow started", zap.Error(err))
	}
}

// startDraftWorkflow starts the build of a committed draft of campaign campaignName from the source it
// was created with and records that it did; as with requests, a failed start is left to the sweeper.
func (a *App) startDraftWorkflow(ctx context.Context, d storage.ApprovalDraft, src workflows.DraftSource, campaignName string) {
	if err := workflows.StartApprovalDraft(ctx, a.Temporal, a.TaskQueue, DraftWorkflowInput(d, src), DraftRunView(d, campaignName)); err != nil {
		a.logger(ctx).Error("draft build not started; the sweeper will start it", zap.String("draft_id", d.ID), zap.Error(err))
	} else if err := a.Store.MarkDraftWorkflowStarted(ctx, d.ID); err != nil {
		a.logger(ctx).Warn("mark draft started", zap.Error(err))
	}
}

// RequestWorkflowInput is the input of the workflow of a stored request: its assigned approvers,
// deadline and start time, the version and content_hash it pinned, which its launch launches, and the
// reminders and escalation it was submitted with (R-ACT-2).
func RequestWorkflowInput(r storage.ApprovalRequest) workflows.ApprovalRequestInput {
	in := workflows.ApprovalRequestInput{RequestID: r.ID, AccountID: r.AccountID, CampaignID: r.CampaignID,
		SubmitterID: r.SubmittedBy, Deadline: r.DeadlineAt, LaunchAt: r.LaunchAt,
		CampaignVersion: r.CampaignVersion, ContentHash: r.ContentHash}
	for _, ap := range r.Approvers {
		if ap.State == storage.ApproverStateAssigned {
			in.ApproverIDs = append(in.ApproverIDs, ap.UserID)
		}
	}
	if rm := r.Reminders; rm.ReminderAfter > 0 || (rm.EscalateAfter > 0 && len(rm.EscalationUserIDs) > 0) {
		in.Reminders = &workflows.Reminders{From: r.CreatedAt, Every: rm.ReminderAfter, EscalateAfter: rm.EscalateAfter,
			EscalateTo: rm.EscalationUserIDs}
	}
	if p := r.Policy; p != nil && len(p.Stages) > 0 {
		in.Policy = &workflows.Policy{}
		for _, st := range p.Stages {
			in.Policy.Stages = append(in.Policy.Stages, workflows.Stage(st))
		}
		for _, rule := range p.Rules {
			in.Policy.Rules = append(in.Policy.Rules, workflows.Rule{AudienceSizeGT: rule.AudienceSizeGT, AddStage: workflows.Stage(rule.AddStage)})
		}
		// A run started again resumes where the request stands.
		in.ResumeStage = r.CurrentStage
		for _, sa := range r.StageApprovals {
			if in.ResumeApprovals == nil {
				in.ResumeApprovals = map[int][]string{}
			}
			in.ResumeApprovals[sa.Stage] = append(in.ResumeApprovals[sa.Stage], sa.UserID)
		}
	}
	return in
}

// StartApprovalRequest starts the workflow of stored request r of campaign campaignName on taskQueue;
// a workflow already started for it is success.
func StartApprovalRequest(ctx context.Context, c client.Client, taskQueue string, r storage.ApprovalRequest, campaignName string) error {
	return workflows.StartApprovalRequest(ctx, c, taskQueue, RequestWorkflowInput(r), RequestRunView(r, campaignName))
}

// RestartApprovalRequest starts a new run of pending request r of campaign campaignName whose workflow
// no longer runs, from the request as the database has it; a run still running is left alone.
func RestartApprovalRequest(ctx context.Context, c client.Client, taskQueue string, r storage.ApprovalRequest, campaignName string) error {
	view := RequestRunView(r, campaignName)
	view.Summary = "Repaired run: " + view.Summary
	return workflows.RestartApprovalRequest(ctx, c, taskQueue, RequestWorkflowInput(r), view)
}

// uiTime is how the Temporal UI's summaries write a time: minutes, UTC.
const uiTime = "2006-01-02 15:04 UTC"

// RequestRunView is what the Temporal UI shows of the workflow of request r of campaign campaignName
// (SPEC §7): a summary naming the campaign, the pinned version, the approvers and the deadline, and
// details with the ids, the start time and the reminders. An empty campaignName shows the
// campaign's id.
func RequestRunView(r storage.ApprovalRequest, campaignName string) workflows.RunView {
	if campaignName == "" {
		campaignName = r.CampaignID
	}
	var names, lines []string
	for _, ap := range r.Approvers {
		if ap.State != storage.ApproverStateAssigned {
			continue
		}
		name := ap.Name
		if name == "" {
			name = ap.UserID
		}
		names = append(names, name)
		lines = append(lines, fmt.Sprintf("- %s (`%s`)", name, ap.UserID))
	}
	approvers := strings.Join(names, ", ")
	if approvers == "" {
		approvers = "none"
	}
	summary := fmt.Sprintf("Approval of %q v%d · approvers: %s · deadline %s", campaignName, r.CampaignVersion, approvers,
		r.DeadlineAt.UTC().Format(uiTime))
	launch := "as soon as approved"
	if r.LaunchAt != nil {
		launch = r.LaunchAt.UTC().Format(time.RFC3339)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "**Campaign** %s (`%s`), version %d, content hash `%s`\n\n", campaignName, r.CampaignID, r.CampaignVersion, r.ContentHash)
	fmt.Fprintf(&b, "**Request** `%s`, submitted by `%s` at %s\n\n", r.ID, r.SubmittedBy, r.CreatedAt.UTC().Format(time.RFC3339))
	fmt.Fprintf(&b, "**Approvers**\n%s\n\n", strings.Join(lines, "\n"))
	fmt.Fprintf(&b, "**Deadline** %s\n\n**Launch** %s\n", r.DeadlineAt.UTC().Format(time.RFC3339), launch)
	if rm := r.Reminders; rm.ReminderAfter > 0 || rm.EscalateAfter > 0 {
		fmt.Fprintf(&b, "\n**Reminders** every %s (at most %d); escalation after %s to %d user(s)\n", rm.ReminderAfter,
			storage.MaxReminders, rm.EscalateAfter, len(rm.EscalationUserIDs))
	}
	return workflows.RunView{Summary: summary, Details: b.String()}
}

// DraftRunView is what the Temporal UI shows of the build of draft d of campaign campaignName (SPEC
// §7): a summary naming the draft, the campaign, the contact count and the review window, and
// details with the ids and the contact source. An empty campaignName shows the campaign's id.
func DraftRunView(d storage.ApprovalDraft, campaignName string) workflows.RunView {
	if campaignName == "" {
		campaignName = d.CampaignID
	}
	version := "working copy"
	if d.CampaignVersion != nil {
		version = fmt.Sprintf("v%d", *d.CampaignVersion)
	}
	summary := fmt.Sprintf("Draft %q of %q %s · %d contacts · review window %d days after ready", d.Name, campaignName, version,
		d.ContactCount, int(workflows.DefaultReviewWindow/(24*time.Hour)))
	var b strings.Builder
	fmt.Fprintf(&b, "**Campaign** %s (`%s`), %s\n\n", campaignName, d.CampaignID, version)
	fmt.Fprintf(&b, "**Draft** %s (`%s`), number %d, created by `%s` at %s\n\n", d.Name, d.ID, d.Number, d.CreatedBy,
		d.CreatedAt.UTC().Format(time.RFC3339))
	fmt.Fprintf(&b, "**Contacts** %d, from `%s`\n", d.ContactCount, string(d.Source))
	return workflows.RunView{Summary: summary, Details: b.String()}
}

// DraftWorkflowInput is the input of the build of a stored draft whose contacts come from src.
func DraftWorkflowInput(d storage.ApprovalDraft, src workflows.DraftSource) workflows.ApprovalDraftInput {
	return workflows.ApprovalDraftInput{DraftID: d.ID, AccountID: d.AccountID, CampaignID: d.CampaignID, Source: src,
		ContactCount: d.ContactCount}
}

// StartApprovalDraft starts the build of stored draft d of campaign campaignName on taskQueue from the
// source the row holds; a build already started is success.
func StartApprovalDraft(ctx context.Context, c client.Client, taskQueue string, d storage.ApprovalDraft, campaignName string) error {
	var src workflows.DraftSource
	if err := json.Unmarshal(d.Source, &src); err != nil {
		return fmt.Errorf("draft %s: source: %w", d.ID, err)
	}
	return workflows.StartApprovalDraft(ctx, c, taskQueue, DraftWorkflowInput(d, src), DraftRunView(d, campaignName))
}

// requestUpdate sends the Update name to the request's workflow and waits for its outcome. updateID
// is the Update's id: one the workflow already ran, even one that has closed since, answers that
// Update's outcome; an empty id is a fresh one.
func (a *App) requestUpdate(ctx context.Context, r storage.ApprovalRequest, name, updateID string, arg any) (storage.ApprovalRequest, error) {
	h, err := a.Temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		UpdateID:     updateID,
		WorkflowID:   workflows.ApprovalRequestWorkflowID(r.ID),
		UpdateName:   name,
		Args:         []any{arg},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	var out workflows.Request
	if err == nil {
		err = h.Get(ctx, &out)
	}
	if err != nil {
		return storage.ApprovalRequest{}, a.updateFailed(ctx, r, err)
	}
	return requestFromWorkflow(out), nil
}

// updateFailed maps the failure of an Update to a request's workflow to its answer. A workflow that
// is gone tells a decided request (409 already_handled) from one the sweeper has not started yet
// (503 retry_later); the workflow's refusals answer already_handled, forbidden (with the workflow's
// reason) or not_found; other failures are returned as they are.
func (a *App) updateFailed(ctx context.Context, r storage.ApprovalRequest, err error) error {
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		cur, lerr := a.Store.ApprovalRequest(ctx, r.AccountID, r.ID)
		if lerr == nil && cur.Status == storage.RequestStatusPending {
			return errs.Wrap(errs.RetryLater, "the request is being set up; retry in a few seconds", err)
		}
		return errs.Wrap(errs.AlreadyHandled, "this request was already handled by someone else; reload it", err)
	}
	e, ok := errs.As(err)
	if !ok {
		return err
	}
	switch e.Code {
	case errs.AlreadyHandled:
		return errs.Wrap(errs.AlreadyHandled, "this request was already handled by someone else; reload it", err)
	case errs.Forbidden:
		return errs.Wrap(errs.Forbidden, e.Message, err)
	case errs.NotFound:
		return errs.Wrap(errs.NotFound, "no such resource in this account", err)
	case errs.AlreadyApproved, errs.StageNotCurrent:
		return errs.Wrap(e.Code, e.Message, err)
	}
	return err
}

// submitReviewUpdate sends the client's submit to the draft's workflow (an Update, so it happens once)
// and answers the draft as the workflow left it. A submit the workflow refuses, or whose workflow has
// ended, is review_submitted; one whose share link no longer opens the draft is not_found.
func (a *App) submitReviewUpdate(ctx context.Context, draftID string, in workflows.SubmitReviewInput) (storage.ApprovalDraft, error) {
	h, err := a.Temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID:   workflows.ApprovalDraftWorkflowID(draftID),
		UpdateName:   workflows.UpdateSubmitReview,
		Args:         []any{in},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	var out workflows.Draft
	if err == nil {
		err = h.Get(ctx, &out)
	}
	var nf *serviceerror.NotFound
	switch {
	case errs.Is(err, errs.AlreadyHandled), errors.As(err, &nf):
		return storage.ApprovalDraft{}, errs.Wrap(errs.ReviewSubmitted, "this review was already submitted or is closed", err)
	case errs.Is(err, errs.NotFound):
		return storage.ApprovalDraft{}, errs.Wrap(errs.NotFound, "this review link does not exist or is no longer valid", err)
	case err != nil:
		return storage.ApprovalDraft{}, err
	}
	return draftFromWorkflow(out), nil
}

// requestFromWorkflow maps an Update's result to the request row the use cases answer.
func requestFromWorkflow(r workflows.Request) storage.ApprovalRequest {
	out := storage.ApprovalRequest{ID: r.ID, AccountID: r.AccountID, CampaignID: r.CampaignID, CampaignVersion: r.CampaignVersion,
		ContentHash: r.ContentHash, SubmittedBy: r.SubmittedBy, Note: r.Note, Status: r.Status, DecidedBy: r.DecidedBy, DecisionNote: r.DecisionNote,
		DecidedAt: r.DecidedAt, DeadlineAt: r.DeadlineAt, LaunchAt: r.LaunchAt, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
		Policy: r.Policy, Stages: r.Stages, CurrentStage: r.CurrentStage, AudienceSize: r.AudienceSize, StageApprovals: r.StageApprovals}
	if r.Approvers != nil {
		out.Approvers = make([]storage.Approver, len(r.Approvers))
		for i, ap := range r.Approvers {
			out.Approvers[i] = storage.Approver(ap)
		}
	}
	return out
}

// draftFromWorkflow maps the submit Update's result to the draft row the use cases answer.
func draftFromWorkflow(d workflows.Draft) storage.ApprovalDraft {
	return storage.ApprovalDraft{ID: d.ID, AccountID: d.AccountID, CampaignID: d.CampaignID, Number: d.Number, Name: d.Name,
		Status: d.Status, Source: d.Source, ContactCount: d.ContactCount, Progress: storage.Progress(d.Progress),
		FailureReason: d.FailureReason, CreatedBy: d.CreatedBy, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt,
		ReadyAt: d.ReadyAt, AIDoneAt: d.AIDoneAt, SubmittedAt: d.SubmittedAt}
}

// signalRequests sends a signal to the workflows of requests; a request whose workflow has ended is
// skipped, and a failure is logged (the sweeper and the workflow's own checks repair it).
func (a *App) signalRequests(ctx context.Context, ids []string, signal string, arg any) {
	for _, id := range ids {
		err := a.Temporal.SignalWorkflow(ctx, workflows.ApprovalRequestWorkflowID(id), "", signal, arg)
		var nf *serviceerror.NotFound
		if err != nil && !errors.As(err, &nf) {
			a.logger(ctx).Error("signal approval workflow", zap.String("approval_request_id", id), zap.String("signal", signal), zap.Error(err))
		}
	}
}

// cancelDeliveries cancels the runs of webhook deliveries whose endpoint is gone, in the background (a
// deleted endpoint may have thousands waiting); a run already ended is skipped, and a run this misses
// still ends cancelled at its next attempt, which finds no endpoint.
func (a *App) cancelDeliveries(ctx context.Context, ids []string) {
	if len(ids) == 0 || a.Temporal == nil {
		return
	}
	ctx, log := context.WithoutCancel(ctx), a.logger(ctx)
	go func() {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		defer cancel()
		for _, id := range ids {
			err := a.Temporal.CancelWorkflow(ctx, workflows.WebhookDeliveryWorkflowID(id), "")
			var nf *serviceerror.NotFound
			if err != nil && !errors.As(err, &nf) {
				log.Warn("cancel webhook delivery of a deleted endpoint", zap.String("delivery_id", id), zap.Error(err))
			}
		}
	}()
}

// Readiness says whether Postgres and Temporal answer: "ok" or "unavailable" for each, with the
// errors for the log.
func (a *App) Readiness(ctx context.Context) (postgres, temporal error) {
	postgres = a.Store.Ping(ctx)
	if a.Temporal == nil {
		return postgres, errors.New("no temporal client")
	}
	_, temporal = a.Temporal.CheckHealth(ctx, &client.CheckHealthRequest{})
	return postgres, temporal
}
