package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/signoff/signoff/app"
	"github.com/signoff/signoff/errs"
	"github.com/signoff/signoff/sharelink"
	"github.com/signoff/signoff/storage"
	"github.com/signoff/signoff/workflows"
)

// Draft limits (R-DRAFT-2).
const (
	defaultContactCount = 20
	maxContactCount     = 100
	CodeCampaignError   = "campaign_error"
	CodeDraftNotReady   = "draft_not_ready"
)

type createDraftRequest struct {
	Source       *workflows.DraftSource `json:"source"`
	ContactCount *int                   `json:"contact_count"`
}

// draftView is a draft as a CSM sees it: share_url is null until the draft is built (R-DRAFT-8).
type draftView struct {
	storage.ApprovalDraft
	ShareURL *string `json:"share_url"`
}

func (s *Server) draftView(c *gin.Context, d storage.ApprovalDraft) draftView {
	v := draftView{ApprovalDraft: d}
	if d.Status == storage.DraftStatusProcessing || d.Status == storage.DraftStatusFailed || d.TokenSealed == nil {
		return v
	}
	if s.Sealer == nil {
		logger(c).Error("no SIGNOFF_SECRET_KEY: cannot show share links")
		return v
	}
	tok, err := s.Sealer.Open(d.TokenSealed)
	if err != nil {
		logger(c).Error("open share token", zap.String("draft_id", d.ID), zap.Error(err))
		return v
	}
	u := s.PublicURL + "/r/" + tok
	v.ShareURL = &u
	answerHasSecrets(c, "share_url") // the link opens the review without login
	return v
}

// validateSource checks the source belongs to the caller's account (422 otherwise, R-DRAFT-3) and
// returns its idempotency key and a normalised copy.
func (s *Server) validateSource(c *gin.Context, acct string, campaignID string, src *workflows.DraftSource) (string, bool) {
	ctx := c.Request.Context()
	if src == nil {
		invalid(c, "source", "is required: {\"type\":\"saved_search\",\"saved_search_id\":…}, {\"type\":\"csv\",\"csv_upload_id\":…,\"mapping\":{…}} or {\"type\":\"campaign_leads\",\"campaign_id\":…}")
		return "", false
	}
	foreign := func(field string) (string, bool) {
		invalid(c, field, "no such source in this account")
		return "", false
	}
	switch src.Type {
	case workflows.SourceSavedSearch:
		id, err := uuid.Parse(src.SavedSearchID)
		if err != nil {
			return foreign("source.saved_search_id")
		}
		ss, err := s.Store.SavedSearch(ctx, acct, id.String())
		if isNotFound(err) {
			return foreign("source.saved_search_id")
		}
		if err != nil {
			s.fail(c, err)
			return "", false
		}
		*src = workflows.DraftSource{Type: src.Type, SavedSearchID: ss.ID}
		return "saved_search:" + ss.ID, true
	case workflows.SourceCSV:
		id, err := uuid.Parse(src.CSVUploadID)
		if err != nil {
			return foreign("source.csv_upload_id")
		}
		up, err := s.Store.CSVUpload(ctx, acct, id.String())
		if isNotFound(err) {
			return foreign("source.csv_upload_id")
		}
		if err != nil {
			s.fail(c, err)
			return "", false
		}
		mapping := src.Mapping
		if len(mapping) == 0 {
			mapping = autoMapping(up.Columns)
		}
		if err := checkMapping(mapping, up.Columns); err != nil {
			fe := err.(*fieldError)
			invalid(c, "source."+fe.Field, fe.Message)
			return "", false
		}
		*src = workflows.DraftSource{Type: src.Type, CSVUploadID: up.ID, Mapping: mapping}
		return "csv:" + up.ID, true
	case workflows.SourceCampaignLeads:
		id, err := uuid.Parse(src.CampaignID)
		if err != nil {
			return foreign("source.campaign_id")
		}
		camp, err := s.Store.VisibleCampaign(ctx, acct, id.String())
		if isNotFound(err) {
			return foreign("source.campaign_id")
		}
		if err != nil {
			s.fail(c, err)
			return "", false
		}
		*src = workflows.DraftSource{Type: src.Type, CampaignID: camp.ID}
		return "campaign_leads:" + camp.ID, true
	}
	invalid(c, "source.type", "must be one of saved_search, csv, campaign_leads")
	return "", false
}

// createDraft asks for an approval draft (R-DRAFT-1..6): it answers 202 with the draft processing
// while the build runs, or 200 with the in-flight draft of the same campaign and saved search.
func (s *Server) createDraft(c *gin.Context) {
	if !requireRole(c, storage.RoleCSM, storage.RoleAdmin) {
		return
	}
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	var req createDraftRequest
	if !bindJSON(c, &req) {
		return
	}
	count := defaultContactCount
	if req.ContactCount != nil {
		count = *req.ContactCount
		if count < 1 || count > maxContactCount {
			invalid(c, "contact_count", fmt.Sprintf("must be a whole number from 1 to %d (got %d)", maxContactCount, count))
			return
		}
	}
	ctx := c.Request.Context()
	u := currentUser(c)
	camp, err := s.Store.CampaignSummaryVisible(ctx, u.AccountID, id)
	if err != nil {
		s.fail(c, err)
		return
	}
	if camp.ArchivedAt != nil {
		abortArchived(c)
		return
	}
	if camp.Status == storage.CampaignStatusError {
		abort(c, errs.CampaignError, "the campaign is in error: drafts need a campaign that is at least draft; fix it first")
		return
	}
	key, ok := s.validateSource(c, u.AccountID, camp.ID, req.Source)
	if !ok {
		return
	}
	srcJSON, _ := json.Marshal(req.Source)
	var draftID string
	if _, keyed := c.Get(ctxIdempotencyKey); keyed {
		draftID = idempotentID(c, "approval-draft")
	}
	d, existing, err := s.Store.CreateDraft(ctx, storage.NewDraft{ID: draftID, AccountID: u.AccountID, CampaignID: camp.ID, CreatedBy: u.ID,
		Source: srcJSON, SourceKey: key, ContactCount: count}, req.Source.Type == workflows.SourceSavedSearch)
	if errors.Is(err, storage.ErrCampaignInError) {
		abort(c, errs.CampaignError, "the campaign is in error: drafts need a campaign that is at least draft; fix it first")
		return
	}
	if errors.Is(err, storage.ErrCampaignArchived) {
		abortArchived(c)
		return
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	if existing {
		c.JSON(http.StatusOK, s.draftView(c, d))
		return
	}
	// The draft is committed; if the start fails the worker's sweeper starts the build from the row.
	if err := workflows.StartApprovalDraft(ctx, s.Temporal, s.TaskQueue, app.DraftWorkflowInput(d, *req.Source)); err != nil {
		logger(c).Error("draft build not started; the sweeper will start it", zap.String("draft_id", d.ID), zap.Error(err))
	} else if err := s.Store.MarkDraftWorkflowStarted(ctx, d.ID); err != nil {
		logger(c).Warn("mark draft started", zap.Error(err))
	}
	c.JSON(http.StatusAccepted, s.draftView(c, d))
}

func (s *Server) listDrafts(c *gin.Context) {
	if !requireRole(c, storage.RoleCSM, storage.RoleAdmin) {
		return
	}
	id, ok := s.campaignParam(c)
	if !ok {
		return
	}
	u := currentUser(c)
	list, err := s.Store.Drafts(c.Request.Context(), u.AccountID, id)
	if err != nil {
		s.fail(c, err)
		return
	}
	out := make([]draftView, len(list))
	for i, d := range list {
		out[i] = s.draftView(c, d)
	}
	c.JSON(http.StatusOK, items(out))
}

// draftParam admits CSMs and admins and loads the path's draft of their account, answering errors itself.
func (s *Server) draftParam(c *gin.Context) (storage.ApprovalDraft, bool) {
	if !requireRole(c, storage.RoleCSM, storage.RoleAdmin) {
		return storage.ApprovalDraft{}, false
	}
	id, ok := pathID(c, "id")
	if !ok {
		return storage.ApprovalDraft{}, false
	}
	d, err := s.Store.Draft(c.Request.Context(), currentUser(c).AccountID, id)
	if err != nil {
		s.fail(c, err)
		return storage.ApprovalDraft{}, false
	}
	return d, true
}

func (s *Server) getDraft(c *gin.Context) {
	if d, ok := s.draftParam(c); ok {
		c.JSON(http.StatusOK, s.draftView(c, d))
	}
}

// rotateLink issues a new share token; the old URL answers 404 at once (R-DRAFT-11).
func (s *Server) rotateLink(c *gin.Context) {
	if !requireRole(c, storage.RoleAdmin) {
		return
	}
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	if s.Sealer == nil {
		s.fail(c, errors.New("no SIGNOFF_SECRET_KEY configured"))
		return
	}
	tok, hash := sharelink.NewToken()
	d, err := s.Store.RotateDraftToken(c.Request.Context(), currentUser(c).AccountID, id, hash, s.Sealer.Seal(tok))
	if errors.Is(err, storage.ErrDraftNotReady) {
		abort(c, errs.DraftNotReady, "the draft has no link yet: it is still building or it failed")
		return
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	s.reviewWritten(d) // this process forgets the old token now; others when the change feed tells them
	c.JSON(http.StatusOK, s.draftView(c, d))
}
