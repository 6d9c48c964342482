package api

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.uber.org/zap"

	"github.com/signoff/signoff/app"
	"github.com/signoff/signoff/errs"
	"github.com/signoff/signoff/storage"
	"github.com/signoff/signoff/workflows"
)

// Error codes of the approval endpoints.
const (
	CodeAlreadyHandled   = "already_handled"
	CodeApprovalPending  = "approval_pending"
	CodeApprovalRequired = "approval_required"
	CodeRequestOpen      = "request_already_open"
	CodeApprovalDisabled = "approval_disabled"
	CodeNotSubmittable   = "not_submittable"
	CodeCampaignLive     = "campaign_live"
	CodeRetryLater       = "retry_later"
	maxApprovers         = 20
	maxNoteChars         = 2000
)

type submitRequest struct {
	ApproverIDs []string `json:"approver_ids"`
	Note        string   `json:"note"`
}

// validateApprovers checks R-APPR-3: at least one approver, each a user of the account with the approval right.
func (s *Server) validateApprovers(ctx context.Context, acct string, submitter storage.User, ids []string, settings storage.AccountSettings) ([]string, error) {
	if len(ids) == 0 {
		return nil, &fieldError{"approver_ids", "choose at least one approver"}
	}
	if len(ids) > maxApprovers {
		return nil, &fieldError{"approver_ids", fmt.Sprintf("at most %d approvers", maxApprovers)}
	}
	seen := map[string]bool{}
	out := make([]string, 0, len(ids))
	for i, raw := range ids {
		f := fmt.Sprintf("approver_ids[%d]", i)
		id, err := uuid.Parse(raw)
		if err != nil {
			return nil, &fieldError{f, "is not a user id"}
		}
		if seen[id.String()] {
			return nil, &fieldError{f, "is listed twice"}
		}
		seen[id.String()] = true
		u, err := s.Store.User(ctx, acct, id.String())
		if errors.Is(err, storage.ErrNotFound) {
			return nil, &fieldError{f, "no such user in this account"}
		}
		if err != nil {
			return nil, err
		}
		if !u.HasApprovalRight() {
			return nil, &fieldError{f, u.Name + " does not have the approval right"}
		}
		if u.ID == submitter.ID && !settings.AllowSelfApproval {
			return nil, &fieldError{f, "self-approval is turned off for this account; choose someone else"}
		}
		out = append(out, u.ID)
	}
	return out, nil
}

// requestWindow computes when a request times out and when its campaign launches (R-APPR-3, R-APPR-6).
func (s *Server) requestWindow(camp storage.Campaign, now time.Time) (deadline time.Time, launchAt *time.Time, err error) {
	startsNow := camp.StartAt == nil || !camp.StartAt.After(now)
	if camp.Kind == storage.CampaignKindCampaign && startsNow {
		return deadline, nil, &fieldError{"start_at", "immediate launches are not permitted: set start_at in the future, then submit"}
	}
	if camp.EndAt != nil && !camp.EndAt.After(now) {
		return deadline, nil, &fieldError{"end_at", "the campaign has already ended; move end_at into the future"}
	}
	if startsNow {
		deadline = now.Add(s.ImmediateApprovalWindow)
		if camp.EndAt != nil && camp.EndAt.Before(deadline) {
			deadline = *camp.EndAt
		}
		return deadline.UTC(), nil, nil
	}
	if camp.EndAt == nil {
		return deadline, nil, &fieldError{"end_at", "is required to submit: a request times out at the campaign's end date"}
	}
	start := camp.StartAt.UTC()
	return camp.EndAt.UTC(), &start, nil
}

// createApprovalRequest submits a campaign to approvers (R-APPR-2, R-APPR-3): the request row,
// the campaign lock, the event and the notifications commit together, then the workflow starts.
func (s *Server) createApprovalRequest(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	var req submitRequest
	if !bindJSON(c, &req) {
		return
	}
	camp, ok := s.editableCampaign(c, id, "submit")
	if !ok {
		return
	}
	r, ok := s.submit(c, currentUser(c), camp, req)
	if ok {
		c.JSON(http.StatusCreated, r)
	}
}

// keyedRequest finds the request an earlier attempt of this keyed call created (its id derives from
// the Idempotency-Key), so a retry after a crash answers it instead of refusing a second request.
// The request's workflow is started if that attempt died before starting it.
func (s *Server) keyedRequest(c *gin.Context, campaignID string) (storage.ApprovalRequest, bool) {
	if _, keyed := c.Get(ctxIdempotencyKey); !keyed {
		return storage.ApprovalRequest{}, false
	}
	ctx := c.Request.Context()
	r, err := s.Store.ApprovalRequest(ctx, currentUser(c).AccountID, idempotentID(c, "approval-request:"+c.FullPath()))
	if err != nil || r.CampaignID != campaignID {
		return storage.ApprovalRequest{}, false
	}
	if err := app.StartApprovalRequest(ctx, s.Temporal, s.TaskQueue, r); err == nil {
		_ = s.Store.MarkWorkflowStarted(ctx, r.ID)
	}
	return r, true
}

// submit validates and stores a request for camp and starts its workflow; it writes the error answer itself.
func (s *Server) submit(c *gin.Context, u storage.User, camp storage.Campaign, req submitRequest) (storage.ApprovalRequest, bool) {
	ctx := c.Request.Context()
	if r, ok := s.keyedRequest(c, camp.ID); ok {
		return r, true
	}
	if err := checkText("note", req.Note, false, maxNoteChars); respondInvalid(c, err) {
		return storage.ApprovalRequest{}, false
	}
	settings, err := s.Store.Settings(ctx, u.AccountID)
	if err != nil {
		s.fail(c, err)
		return storage.ApprovalRequest{}, false
	}
	if !settings.ApprovalEnabled {
		abort(c, errs.ApprovalDisabled, "approvals are turned off for this account: launch the campaign directly")
		return storage.ApprovalRequest{}, false
	}
	if camp.Mode != storage.CampaignModeActive {
		invalid(c, "mode", "only active launches need approval; test and passive campaigns launch without it")
		return storage.ApprovalRequest{}, false
	}
	if camp.ApprovalStatus == storage.RequestStatusPending {
		abort(c, errs.RequestOpen, "this campaign already has an open approval request; cancel it or change its approvers")
		return storage.ApprovalRequest{}, false
	}
	if !storage.Submittable(camp.Status, camp.Kind, camp.ApprovalStatus) {
		abort(c, errs.NotSubmittable, fmt.Sprintf("a campaign in status %s with approval %s cannot be submitted", camp.Status, camp.ApprovalStatus))
		return storage.ApprovalRequest{}, false
	}
	approvers, err := s.validateApprovers(ctx, u.AccountID, u, req.ApproverIDs, settings)
	if err != nil {
		if !respondInvalid(c, err) {
			s.fail(c, err)
		}
		return storage.ApprovalRequest{}, false
	}
	deadline, launchAt, err := s.requestWindow(camp, time.Now())
	if respondInvalid(c, err) {
		return storage.ApprovalRequest{}, false
	}
	r, err := s.Store.CreateApprovalRequest(ctx, storage.NewApprovalRequest{ID: idempotentID(c, "approval-request:"+c.FullPath()), AccountID: u.AccountID,
		CampaignID: camp.ID, SubmittedBy: u.ID, Note: req.Note, ApproverIDs: approvers, DeadlineAt: deadline, LaunchAt: launchAt})
	if errors.Is(err, storage.ErrRequestOpen) {
		abort(c, errs.RequestOpen, "this campaign already has an open approval request; cancel it or change its approvers")
		return storage.ApprovalRequest{}, false
	}
	if errors.Is(err, storage.ErrNotSubmittable) {
		// A launch or edit committed between the read above and the insert.
		abort(c, errs.NotSubmittable, "the campaign changed while the request was being submitted and can no longer be submitted; reload it")
		return storage.ApprovalRequest{}, false
	}
	if errors.Is(err, storage.ErrConflict) {
		// A retry of a keyed request whose first answer was lost: answer the request it created.
		r, err = s.Store.ApprovalRequest(ctx, u.AccountID, idempotentID(c, "approval-request:"+c.FullPath()))
	}
	if err != nil {
		s.fail(c, err)
		return storage.ApprovalRequest{}, false
	}
	// The request is committed: from here on it is never lost. If the start fails, the worker's
	// sweeper starts the workflow from the row.
	if err := app.StartApprovalRequest(ctx, s.Temporal, s.TaskQueue, r); err != nil {
		logger(c).Error("approval workflow not started; the sweeper will start it", zap.String("request_id", r.ID), zap.Error(err))
	} else if err := s.Store.MarkWorkflowStarted(ctx, r.ID); err != nil {
		logger(c).Warn("mark workflow started", zap.Error(err))
	}
	return r, true
}

// requestAndCampaign loads a request of the caller's account and its campaign.
func (s *Server) requestAndCampaign(c *gin.Context) (storage.ApprovalRequest, storage.Campaign, bool) {
	id, ok := pathID(c, "id")
	if !ok {
		return storage.ApprovalRequest{}, storage.Campaign{}, false
	}
	ctx := c.Request.Context()
	u := currentUser(c)
	r, err := s.Store.ApprovalRequest(ctx, u.AccountID, id)
	if err != nil {
		s.fail(c, err)
		return r, storage.Campaign{}, false
	}
	camp, err := s.Store.CampaignSummary(ctx, u.AccountID, r.CampaignID)
	if err != nil {
		s.fail(c, err)
		return r, camp, false
	}
	return r, camp, true
}

func (s *Server) getApprovalRequest(c *gin.Context) {
	r, _, ok := s.requestAndCampaign(c)
	if ok {
		c.JSON(http.StatusOK, r)
	}
}

type decisionRequest struct {
	Note string `json:"note"`
}

// decide runs approve, reject or cancel as a workflow Update and answers its outcome (R-APPR-4, R-APPR-5).
func (s *Server) decide(update string) gin.HandlerFunc {
	return func(c *gin.Context) {
		var body decisionRequest
		if c.Request.ContentLength != 0 && !bindJSON(c, &body) {
			return
		}
		if err := checkText("note", body.Note, update == workflows.UpdateReject, maxNoteChars); respondInvalid(c, err) {
			return
		}
		id, ok := pathID(c, "id")
		if !ok {
			return
		}
		u := currentUser(c)
		h, err := s.Store.RequestHead(c.Request.Context(), u.AccountID, id)
		if err != nil {
			s.fail(c, err)
			return
		}
		r := h.Request
		switch update {
		case workflows.UpdateApprove, workflows.UpdateReject:
			if !u.HasApprovalRight() {
				abort(c, errs.Forbidden, "you do not have the approval right")
				return
			}
			if update == workflows.UpdateApprove && u.ID == r.SubmittedBy {
				st, err := s.Store.Settings(c.Request.Context(), u.AccountID)
				if err != nil {
					s.fail(c, err)
					return
				}
				if !st.AllowSelfApproval {
					abort(c, errs.Forbidden, "self-approval is turned off for this account")
					return
				}
			}
		case workflows.UpdateCancel:
			if !mayEditCreatedBy(u, h.CampaignCreatedBy) {
				abort(c, errs.Forbidden, "only people who may edit the campaign may cancel its request")
				return
			}
		}
		// Once sent, the decision happens whether or not its client waits: its outcome is awaited a
		// while after the client left, so a keyed retry gets it (issue 12). A keyed retry also sends the
		// same Update id, and Temporal answers the first Update's outcome instead of deciding again.
		ctx, done := outliveClient(c, s.decisionGrace())
		defer done()
		out, err := s.runUpdateID(ctx, r, update, keyedUpdateID(c, update), workflows.DecisionInput{ActorID: u.ID, Note: body.Note})
		if err != nil && ctx.Err() != nil {
			abort(c, errs.ClientClosed, "the request was cancelled")
			return
		}
		if err != nil {
			s.updateFailed(c, err)
			return
		}
		c.JSON(http.StatusOK, out)
	}
}

type approversRequest struct {
	ApproverIDs []string `json:"approver_ids"`
	Note        string   `json:"note"`
}

// changeApprovers replaces a pending request's approvers; only the submitter may (R-APPR-4).
func (s *Server) changeApprovers(c *gin.Context) {
	var body approversRequest
	if !bindJSON(c, &body) {
		return
	}
	r, _, ok := s.requestAndCampaign(c)
	if !ok {
		return
	}
	u := currentUser(c)
	if u.ID != r.SubmittedBy {
		abort(c, errs.Forbidden, "only the submitter may change the approvers")
		return
	}
	if err := checkText("note", body.Note, false, maxNoteChars); respondInvalid(c, err) {
		return
	}
	settings, err := s.Store.Settings(c.Request.Context(), u.AccountID)
	if err != nil {
		s.fail(c, err)
		return
	}
	ids, err := s.validateApprovers(c.Request.Context(), u.AccountID, u, body.ApproverIDs, settings)
	if err != nil {
		if !respondInvalid(c, err) {
			s.fail(c, err)
		}
		return
	}
	out, err := s.runUpdate(c.Request.Context(), r, workflows.UpdateChangeApprovers,
		workflows.ChangeApproversInput{ActorID: u.ID, ApproverIDs: ids, Note: body.Note})
	if err != nil {
		s.updateFailed(c, err)
		return
	}
	c.JSON(http.StatusOK, out)
}

// runUpdate sends an Update to the request's workflow and waits for its outcome.
func (s *Server) runUpdate(ctx context.Context, r storage.ApprovalRequest, name string, arg any) (storage.ApprovalRequest, error) {
	return s.runUpdateID(ctx, r, name, "", arg)
}

// runUpdateID is runUpdate with the Update's id: an Update with the id of one the workflow already
// ran, even one that has closed since, answers that Update's outcome. An empty id is a fresh one.
func (s *Server) runUpdateID(ctx context.Context, r storage.ApprovalRequest, name, updateID string, arg any) (storage.ApprovalRequest, error) {
	h, err := s.Temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		UpdateID:     updateID,
		WorkflowID:   workflows.ApprovalRequestWorkflowID(r.ID),
		UpdateName:   name,
		Args:         []any{arg},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err != nil {
		return storage.ApprovalRequest{}, s.updateNotFound(ctx, r, err)
	}
	var out storage.ApprovalRequest
	if err := h.Get(ctx, &out); err != nil {
		return storage.ApprovalRequest{}, s.updateNotFound(ctx, r, err)
	}
	return out, nil
}

// errWorkflowNotStarted marks a pending request whose workflow the sweeper has yet to start.
var errWorkflowNotStarted = errors.New("workflow not started yet")

// updateNotFound tells a finished workflow (the request was decided: 409) from one not started yet (503).
func (s *Server) updateNotFound(ctx context.Context, r storage.ApprovalRequest, err error) error {
	var nf *serviceerror.NotFound
	if !errors.As(err, &nf) {
		return err
	}
	cur, lerr := s.Store.ApprovalRequest(ctx, r.AccountID, r.ID)
	if lerr == nil && cur.Status == storage.RequestStatusPending {
		return errWorkflowNotStarted
	}
	return errs.New(errs.AlreadyHandled, "the request was already handled")
}

// updateFailed maps an Update's failure to its answer.
func (s *Server) updateFailed(c *gin.Context, err error) {
	var appErr *temporal.ApplicationError
	switch {
	case errs.Is(err, errs.AlreadyHandled):
		abort(c, errs.AlreadyHandled, "this request was already handled by someone else; reload it")
	case errors.As(err, &appErr) && errs.Is(err, errs.Forbidden):
		abort(c, errs.Forbidden, appErr.Message())
	case errs.Is(err, errs.NotFound):
		abort(c, errs.NotFound, "no such resource in this account")
	case errors.Is(err, errWorkflowNotStarted):
		c.Header("Retry-After", "5")
		abort(c, errs.RetryLater, "the request is being set up; retry in a few seconds")
	default:
		s.fail(c, err)
	}
}

func (s *Server) requestHistory(c *gin.Context) {
	r, _, ok := s.requestAndCampaign(c)
	if !ok {
		return
	}
	events, err := s.Store.RequestHistory(c.Request.Context(), r.AccountID, r.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	writeHistory(c, events)
}

func (s *Server) campaignHistory(c *gin.Context) {
	id, ok := s.campaignParam(c)
	if !ok {
		return
	}
	u := currentUser(c)
	events, err := s.Store.CampaignHistory(c.Request.Context(), u.AccountID, id)
	if err != nil {
		s.fail(c, err)
		return
	}
	writeHistory(c, events)
}

// writeHistory answers events as JSON, or CSV with ?format=csv (R-APPR-10).
func writeHistory(c *gin.Context, events []storage.ApprovalEvent) {
	switch c.DefaultQuery("format", "json") {
	case "json":
		c.JSON(http.StatusOK, items(events))
	case "csv":
		c.Header("Content-Type", "text/csv; charset=utf-8")
		c.Header("Content-Disposition", `attachment; filename="approval-history.csv"`)
		c.Status(http.StatusOK)
		w := csv.NewWriter(c.Writer)
		_ = w.Write([]string{"type", "actor", "actor_email", "note", "at", "request_id"})
		for _, e := range events {
			actor, email := "system", ""
			if e.Actor != nil {
				actor, email = e.Actor.Name, e.Actor.Email
			}
			_ = w.Write([]string{e.Type, csvSafe(actor), csvSafe(email), csvSafe(e.Note), e.At.UTC().Format(time.RFC3339), e.RequestID})
		}
		w.Flush()
	default:
		invalid(c, "format", "must be json or csv")
	}
}

// csvSafe keeps a cell from being read as a formula by spreadsheet programs.
func csvSafe(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		return "'" + v
	}
	return v
}

func (s *Server) inbox(c *gin.Context) {
	u := currentUser(c)
	list, err := s.Store.Inbox(c.Request.Context(), u.AccountID, u.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, items(list))
}

func (s *Server) notifications(c *gin.Context) {
	u := currentUser(c)
	list, err := s.Store.Notifications(c.Request.Context(), u.AccountID, u.ID, 200)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, items(list))
}

func (s *Server) outbox(c *gin.Context) {
	if !requireRole(c, storage.RoleAdmin) {
		return
	}
	list, err := s.Store.Outbox(c.Request.Context(), currentUser(c).AccountID, 500)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, items(list))
}

// launch serves external schedulers (R-APPR-8): it launches an approved campaign, or one that needs no
// approval, once per version; a repeat answers the same launch record. Whether it may launch is decided
// by the store inside the launching transaction, so a concurrent submit or edit cannot slip between.
func (s *Server) launch(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	ctx := c.Request.Context()
	u := currentUser(c)
	camp, err := s.Store.CampaignSummaryVisible(ctx, u.AccountID, id)
	if err != nil {
		s.fail(c, err)
		return
	}
	own := camp.CreatedBy == u.ID && u.HasApprovalRight()
	if u.Role != storage.RoleAdmin && !own {
		abort(c, errs.Forbidden, "only admins, and users with the approval right for their own campaigns, may launch")
		return
	}
	l, created, err := s.Store.LaunchCampaign(ctx, storage.LaunchInput{AccountID: u.AccountID, CampaignID: camp.ID, ActorID: &u.ID, Source: "api"})
	switch {
	case errors.Is(err, storage.ErrNotLaunchable):
		abort(c, errs.ApprovalRequired, "this campaign needs an approved request of its current version before it launches "+
			"(a direct launch by its creator counts only when self-approval is allowed)")
		return
	case errors.Is(err, storage.ErrCampaignInError):
		abort(c, errs.NotSubmittable, "a campaign in error cannot launch; fix it and set it ready")
		return
	case err != nil:
		s.fail(c, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	c.JSON(status, gin.H{"launch": l})
}

func (s *Server) launches(c *gin.Context) {
	id, ok := s.campaignParam(c)
	if !ok {
		return
	}
	u := currentUser(c)
	list, err := s.Store.Launches(c.Request.Context(), u.AccountID, id)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, items(list))
}

// signalRequests sends a signal to the workflows of requests; a request whose workflow has ended is skipped.
func (s *Server) signalRequests(ctx context.Context, log *zap.Logger, ids []string, signal string, arg any) {
	for _, id := range ids {
		err := s.Temporal.SignalWorkflow(ctx, workflows.ApprovalRequestWorkflowID(id), "", signal, arg)
		var nf *serviceerror.NotFound
		if err != nil && !errors.As(err, &nf) {
			log.Error("signal approval workflow", zap.String("request_id", id), zap.String("signal", signal), zap.Error(err))
		}
	}
}

// ribbon is the approval banner a viewer sees on a campaign (R-CAMP-1), or nil.
func ribbon(viewer storage.User, camp storage.Campaign, r *storage.ApprovalRequest) *string {
	var text string
	switch camp.ApprovalStatus {
	case storage.RequestStatusPending:
		text = "Approval pending: cancel the request to edit"
		if r != nil {
			for _, a := range r.Approvers {
				if a.UserID == viewer.ID && a.State == storage.ApproverStateAssigned {
					text = "Approval pending for you: approve or reject"
				}
			}
		}
	case storage.RequestStatusRejected:
		text = "Approval rejected"
		if r != nil && r.DecisionNote != "" {
			text += ": " + r.DecisionNote
		}
	case storage.RequestStatusTimedOut:
		text = "Approval timed out: submit again to launch"
	case storage.RequestStatusExpired:
		text = "Approval expired: no approver with the approval right is left; submit again"
	default:
		return nil
	}
	return &text
}
