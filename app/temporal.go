package app

import (
	"context"
	"errors"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.uber.org/zap"

	"github.com/signoff/signoff/activities"
	"github.com/signoff/signoff/errs"
	"github.com/signoff/signoff/storage"
	"github.com/signoff/signoff/workflows"
)

// This file is the one place the use cases reach Temporal: starting workflows, sending Updates and
// Signals. Each function takes and returns the read model's rows and does the mapping to and from the
// workflows' own types.

// startRequestWorkflow starts the workflow of a committed request and records that it did. A start
// that fails is logged, not returned: the request is committed, and the worker's sweeper starts the
// workflow from the row.
func (a *App) startRequestWorkflow(ctx context.Context, r storage.ApprovalRequest) {
	if err := workflows.StartApprovalRequest(ctx, a.Temporal, a.TaskQueue, r); err != nil {
		loggerFrom(ctx).Error("approval workflow not started; the sweeper will start it", zap.String("request_id", r.ID), zap.Error(err))
	} else if err := a.Store.MarkWorkflowStarted(ctx, r.ID); err != nil {
		loggerFrom(ctx).Warn("mark workflow started", zap.Error(err))
	}
}

// startDraftWorkflow starts the build of a committed draft and records that it did; as with
// requests, a failed start is left to the sweeper.
func (a *App) startDraftWorkflow(ctx context.Context, d storage.ApprovalDraft, src activities.DraftSource) {
	if err := workflows.StartApprovalDraft(ctx, a.Temporal, a.TaskQueue, workflows.DraftInputFromDraft(d, src)); err != nil {
		loggerFrom(ctx).Error("draft build not started; the sweeper will start it", zap.String("draft_id", d.ID), zap.Error(err))
	} else if err := a.Store.MarkDraftWorkflowStarted(ctx, d.ID); err != nil {
		loggerFrom(ctx).Warn("mark draft started", zap.Error(err))
	}
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
	var out storage.ApprovalRequest
	if err == nil {
		err = h.Get(ctx, &out)
	}
	if err != nil {
		return storage.ApprovalRequest{}, a.updateFailed(ctx, r, err)
	}
	return out, nil
}

// updateFailed tells a finished workflow (the request was decided: 409 already_handled) from one the
// sweeper has not started yet (503 retry_later); other failures keep their code.
func (a *App) updateFailed(ctx context.Context, r storage.ApprovalRequest, err error) error {
	var nf *serviceerror.NotFound
	if !errors.As(err, &nf) {
		return err
	}
	cur, lerr := a.Store.ApprovalRequest(ctx, r.AccountID, r.ID)
	if lerr == nil && cur.Status == storage.RequestStatusPending {
		return errs.Wrap(errs.RetryLater, "the request is being set up; retry in a few seconds", err)
	}
	return errs.Wrap(errs.AlreadyHandled, "this request was already handled by someone else; reload it", err)
}

// submitReviewUpdate sends the client's submit to the draft's workflow (an Update, so it happens once)
// and answers the draft as the workflow left it.
func (a *App) submitReviewUpdate(ctx context.Context, draftID string, in workflows.SubmitReviewInput) (storage.ApprovalDraft, error) {
	h, err := a.Temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID:   workflows.ApprovalDraftWorkflowID(draftID),
		UpdateName:   workflows.UpdateSubmitReview,
		Args:         []any{in},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	var out storage.ApprovalDraft
	if err == nil {
		err = h.Get(ctx, &out)
	}
	var nf *serviceerror.NotFound
	switch {
	case errs.Is(err, errs.AlreadyHandled), errors.As(err, &nf):
		return storage.ApprovalDraft{}, errs.Wrap(errs.ReviewSubmitted, "this review was already submitted or is closed", err)
	case err != nil:
		return storage.ApprovalDraft{}, err
	}
	return out, nil
}

// signalRequests sends a signal to the workflows of requests; a request whose workflow has ended is
// skipped, and a failure is logged (the sweeper and the workflow's own checks repair it).
func (a *App) signalRequests(ctx context.Context, ids []string, signal string, arg any) {
	for _, id := range ids {
		err := a.Temporal.SignalWorkflow(ctx, workflows.ApprovalRequestWorkflowID(id), "", signal, arg)
		var nf *serviceerror.NotFound
		if err != nil && !errors.As(err, &nf) {
			loggerFrom(ctx).Error("signal approval workflow", zap.String("request_id", id), zap.String("signal", signal), zap.Error(err))
		}
	}
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
