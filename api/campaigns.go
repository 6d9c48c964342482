package api

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/signoff/signoff/errs"
	"github.com/signoff/signoff/storage"
	"github.com/signoff/signoff/workflows"
)

// Limits on campaign content.
const (
	maxSegments      = 50
	maxPrompts       = 50
	maxSequences     = 20
	maxSequenceSteps = 50
	maxTrackingLinks = 100
	maxBodyChars     = 20000
	defaultPageSize  = 20
	maxPageSize      = 100
)

// aiSteps are the four AI pipeline steps of SPEC §8; aiProviders the providers.
var (
	aiSteps     = []string{"qualify", "segment", "personalise", "rewrite"}
	aiProviders = []string{"local", "openai"}
)

type campaignRequest struct {
	Name    *string                  `json:"name"`
	Kind    *string                  `json:"kind"`
	Mode    *string                  `json:"mode"`
	StartAt Optional[time.Time]      `json:"start_at"`
	EndAt   Optional[time.Time]      `json:"end_at"`
	Status  *string                  `json:"status"`
	Content *storage.CampaignContent `json:"content"`
}

func validateContent(c *storage.CampaignContent) error {
	if len(c.Segments) > maxSegments {
		return &fieldError{"content.segments", fmt.Sprintf("at most %d segments", maxSegments)}
	}
	for i, s := range c.Segments {
		if err := checkText(fmt.Sprintf("content.segments[%d].name", i), s.Name, true, 200); err != nil {
			return err
		}
		if err := s.Filters.Validate(); err != nil {
			fe := err.(*storage.FilterError)
			return &fieldError{fmt.Sprintf("content.segments[%d].%s", i, fe.Field), fe.Message}
		}
	}
	if len(c.Prompts) > maxPrompts {
		return &fieldError{"content.prompts", fmt.Sprintf("at most %d prompts", maxPrompts)}
	}
	for i, p := range c.Prompts {
		if err := checkText(fmt.Sprintf("content.prompts[%d].name", i), p.Name, true, 200); err != nil {
			return err
		}
		if err := checkText(fmt.Sprintf("content.prompts[%d].text", i), p.Text, true, maxBodyChars); err != nil {
			return err
		}
	}
	seen := map[string]bool{}
	for i, m := range c.AIModelConfigs {
		f := func(n string) string { return fmt.Sprintf("content.ai_model_configs[%d].%s", i, n) }
		if err := oneOf(f("step"), m.Step, aiSteps...); err != nil {
			return err
		}
		if seen[m.Step] {
			return &fieldError{f("step"), "each step may be configured once"}
		}
		seen[m.Step] = true
		if err := oneOf(f("provider"), m.Provider, aiProviders...); err != nil {
			return err
		}
		if err := checkText(f("model"), m.Model, true, 100); err != nil {
			return err
		}
		if m.Temperature < 0 || m.Temperature > 2 {
			return &fieldError{f("temperature"), "must be between 0 and 2"}
		}
	}
	if len(c.Sequences) > maxSequences {
		return &fieldError{"content.sequences", fmt.Sprintf("at most %d sequences", maxSequences)}
	}
	for i, seq := range c.Sequences {
		if err := checkText(fmt.Sprintf("content.sequences[%d].name", i), seq.Name, true, 200); err != nil {
			return err
		}
		if len(seq.Steps) == 0 || len(seq.Steps) > maxSequenceSteps {
			return &fieldError{fmt.Sprintf("content.sequences[%d].steps", i), fmt.Sprintf("must hold 1 to %d steps", maxSequenceSteps)}
		}
		for j, st := range seq.Steps {
			f := func(n string) string { return fmt.Sprintf("content.sequences[%d].steps[%d].%s", i, j, n) }
			if err := checkText(f("subject"), st.Subject, true, 300); err != nil {
				return err
			}
			if err := checkText(f("body"), st.Body, true, maxBodyChars); err != nil {
				return err
			}
			if st.DelayDays < 0 || st.DelayDays > 365 {
				return &fieldError{f("delay_days"), "must be between 0 and 365"}
			}
		}
	}
	if len(c.TrackingLinks) > maxTrackingLinks {
		return &fieldError{"content.tracking_links", fmt.Sprintf("at most %d links", maxTrackingLinks)}
	}
	for i, l := range c.TrackingLinks {
		if err := checkURL(fmt.Sprintf("content.tracking_links[%d].url", i), l.URL); err != nil {
			return err
		}
		if err := checkText(fmt.Sprintf("content.tracking_links[%d].label", i), l.Label, false, 200); err != nil {
			return err
		}
	}
	return nil
}

// normalizeContent turns absent lists into empty ones so reads and writes agree.
func normalizeContent(c *storage.CampaignContent) {
	if c.Segments == nil {
		c.Segments = []storage.Segment{}
	}
	if c.Prompts == nil {
		c.Prompts = []storage.Prompt{}
	}
	if c.AIModelConfigs == nil {
		c.AIModelConfigs = []storage.AIModelConfig{}
	}
	if c.Sequences == nil {
		c.Sequences = []storage.Sequence{}
	}
	if c.TrackingLinks == nil {
		c.TrackingLinks = []storage.TrackingLink{}
	}
}

func checkWindow(start, end *time.Time) error {
	if start != nil && end != nil && !end.After(*start) {
		return &fieldError{"end_at", "must be after start_at"}
	}
	return nil
}

func (s *Server) createCampaign(c *gin.Context) {
	var req campaignRequest
	if !bindJSON(c, &req) {
		return
	}
	nc := storage.NewCampaign{Kind: storage.CampaignKindCampaign, Mode: storage.CampaignModeActive, StartAt: req.StartAt.Value, EndAt: req.EndAt.Value}
	if req.Name != nil {
		nc.Name = strings.TrimSpace(*req.Name)
	}
	if req.Kind != nil {
		nc.Kind = *req.Kind
	}
	if req.Mode != nil {
		nc.Mode = *req.Mode
	}
	if req.Content != nil {
		nc.Content = *req.Content
	}
	normalizeContent(&nc.Content)
	err := checkText("name", nc.Name, true, 200)
	if err == nil && req.Status != nil {
		err = &fieldError{"status", "a new campaign always starts as draft"}
	}
	if err == nil {
		err = oneOf("kind", nc.Kind, storage.CampaignKindCampaign, storage.CampaignKindJourney)
	}
	if err == nil {
		err = oneOf("mode", nc.Mode, storage.CampaignModeActive, storage.CampaignModePassive, storage.CampaignModeTest)
	}
	if err == nil {
		err = checkWindow(nc.StartAt, nc.EndAt)
	}
	if err == nil {
		err = validateContent(&nc.Content)
	}
	if respondInvalid(c, err) {
		return
	}
	u := currentUser(c)
	nc.ID = idempotentID(c, "campaign")
	camp, err := s.Store.CreateCampaign(c.Request.Context(), u.AccountID, u.ID, nc)
	if errors.Is(err, storage.ErrConflict) {
		// A retry of a keyed request whose first answer was lost: answer the campaign it created.
		camp, err = s.Store.VisibleCampaign(c.Request.Context(), u.AccountID, nc.ID)
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, campaignView{Campaign: camp})
}

func (s *Server) getCampaign(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	camp, err := s.Store.VisibleCampaign(c.Request.Context(), currentUser(c).AccountID, id)
	if err != nil {
		s.fail(c, err)
		return
	}
	if v, ok := s.view(c, camp); ok {
		c.JSON(http.StatusOK, v)
	}
}

// listCampaigns pages through the account's campaigns, newest first, with an opaque cursor.
func (s *Server) listCampaigns(c *gin.Context) {
	limit := defaultPageSize
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPageSize {
			invalid(c, "limit", fmt.Sprintf("must be a whole number from 1 to %d", maxPageSize))
			return
		}
		limit = n
	}
	var after *storage.Cursor
	if v := c.Query("cursor"); v != "" {
		cur, err := decodeCursor(v)
		if err != nil {
			invalid(c, "cursor", "is not a cursor this API returned")
			return
		}
		after = &cur
	}
	list, err := s.Store.Campaigns(c.Request.Context(), currentUser(c).AccountID, after, limit+1)
	if err != nil {
		s.fail(c, err)
		return
	}
	var next *string
	if len(list) > limit {
		list = list[:limit]
		last := list[limit-1]
		v := encodeCursor(storage.Cursor{CreatedAt: last.CreatedAt, ID: last.ID})
		next = &v
	}
	views, err := s.views(c.Request.Context(), currentUser(c), list)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"items": views, "next_cursor": next})
}

func encodeCursor(cur storage.Cursor) string {
	return base64.RawURLEncoding.EncodeToString([]byte(cur.CreatedAt.UTC().Format(time.RFC3339Nano) + "|" + cur.ID))
}

func decodeCursor(v string) (storage.Cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil {
		return storage.Cursor{}, err
	}
	ts, id, ok := strings.Cut(string(b), "|")
	if !ok {
		return storage.Cursor{}, fmt.Errorf("no separator")
	}
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return storage.Cursor{}, err
	}
	if _, err := uuid.Parse(id); err != nil {
		return storage.Cursor{}, err
	}
	return storage.Cursor{CreatedAt: t, ID: id}, nil
}

// campaignView is a campaign as a viewer sees it, with the approval ribbon (R-CAMP-1).
type campaignView struct {
	storage.Campaign
	Ribbon *string `json:"ribbon"`
}

// views adds each viewer's ribbon to campaigns, reading the latest request of each in one query.
func (s *Server) views(ctx context.Context, viewer storage.User, list []storage.Campaign) ([]campaignView, error) {
	ids := make([]string, len(list))
	for i, c := range list {
		ids[i] = c.ID
	}
	latest, err := s.Store.LatestRequests(ctx, viewer.AccountID, ids)
	if err != nil {
		return nil, err
	}
	out := make([]campaignView, len(list))
	for i, c := range list {
		var r *storage.ApprovalRequest
		if lr, ok := latest[c.ID]; ok {
			r = &lr
		}
		out[i] = campaignView{Campaign: c, Ribbon: ribbon(viewer, c, r)}
	}
	return out, nil
}

func (s *Server) view(c *gin.Context, camp storage.Campaign) (campaignView, bool) {
	v, err := s.views(c.Request.Context(), currentUser(c), []storage.Campaign{camp})
	if err != nil {
		s.fail(c, err)
		return campaignView{}, false
	}
	return v[0], true
}

// abortArchived answers 409 campaign_archived.
func abortArchived(c *gin.Context) {
	abort(c, errs.CampaignArchived, "this campaign was deleted and is archived with its approval history: "+
		"it can be read but not changed, submitted or launched; create a new campaign instead")
}

// editableCampaign loads the campaign id of the caller's account (header only, one query) and
// answers 403 unless the caller may edit it (SPEC §3), and 409 when it is archived; verb completes
// "may … it" in that answer.
func (s *Server) editableCampaign(c *gin.Context, id, verb string) (storage.Campaign, bool) {
	camp, ok := s.campaignOfEditor(c, id, verb)
	if ok && camp.ArchivedAt != nil {
		abortArchived(c)
		return storage.Campaign{}, false
	}
	return camp, ok
}

// campaignOfEditor is editableCampaign that admits archived campaigns too.
func (s *Server) campaignOfEditor(c *gin.Context, id, verb string) (storage.Campaign, bool) {
	u := currentUser(c)
	camp, err := s.Store.CampaignSummaryVisible(c.Request.Context(), u.AccountID, id)
	if err != nil {
		s.fail(c, err)
		return storage.Campaign{}, false
	}
	if !mayEdit(u, camp) {
		abort(c, errs.Forbidden, "only admins, editors, CSMs and the campaign's creator may "+verb+" it")
		return storage.Campaign{}, false
	}
	return camp, true
}

// campaignParam reads the campaign id of the path and checks the campaign is visible in the caller's
// account, answering 404 otherwise.
func (s *Server) campaignParam(c *gin.Context) (string, bool) {
	id, ok := pathID(c, "id")
	if !ok {
		return "", false
	}
	if _, err := s.Store.CampaignSummaryVisible(c.Request.Context(), currentUser(c).AccountID, id); err != nil {
		s.fail(c, err)
		return "", false
	}
	return id, true
}

// mayEdit reports whether u is an "editor of" campaign c (SPEC §3): admins, editors and CSMs of
// its account, and the user who created it.
func mayEdit(u storage.User, c storage.Campaign) bool { return mayEditCreatedBy(u, c.CreatedBy) }

// mayEditCreatedBy is mayEdit for a campaign created by createdBy.
func mayEditCreatedBy(u storage.User, createdBy string) bool {
	switch u.Role {
	case storage.RoleAdmin, storage.RoleEditor, storage.RoleCSM:
		return true
	}
	return createdBy == u.ID
}

func (s *Server) updateCampaign(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	var req campaignRequest
	if !bindJSON(c, &req) {
		return
	}
	cur, ok := s.editableCampaign(c, id, "edit")
	if !ok {
		return
	}
	if cur.ApprovalStatus == storage.RequestStatusPending {
		abortPending(c)
		return
	}
	camp, ok := s.applyEdit(c, cur, req)
	if !ok {
		return
	}
	if v, ok := s.view(c, camp); ok {
		c.JSON(http.StatusOK, v)
	}
}

func abortPending(c *gin.Context) {
	abort(c, errs.ApprovalPending, "this campaign is waiting for approval and cannot be edited: cancel the request first (or use POST /v1/campaigns/{id}/resubmit)")
}

// buildPatch validates req against cur and returns the patch to store.
func buildPatch(cur storage.Campaign, req campaignRequest) (storage.CampaignPatch, error) {
	p := storage.CampaignPatch{Kind: req.Kind, Mode: req.Mode, Status: req.Status, Content: req.Content,
		SetStartAt: req.StartAt.Set, StartAt: req.StartAt.Value, SetEndAt: req.EndAt.Set, EndAt: req.EndAt.Value}
	var verr error
	if req.Name != nil {
		name := strings.TrimSpace(*req.Name)
		p.Name = &name
		verr = checkText("name", name, true, 200)
	}
	if verr == nil && req.Kind != nil {
		verr = oneOf("kind", *req.Kind, storage.CampaignKindCampaign, storage.CampaignKindJourney)
	}
	if verr == nil && req.Mode != nil {
		verr = oneOf("mode", *req.Mode, storage.CampaignModeActive, storage.CampaignModePassive, storage.CampaignModeTest)
	}
	if verr == nil && req.Status != nil {
		verr = oneOf("status", *req.Status, storage.CampaignStatusDraft, storage.CampaignStatusReady, storage.CampaignStatusError)
	}
	if verr == nil {
		verr = checkWindow(patched(cur, p).StartAt, patched(cur, p).EndAt)
	}
	if verr == nil && req.Content != nil {
		normalizeContent(req.Content)
		verr = validateContent(req.Content)
	}
	return p, verr
}

// patched is cur as it would be after p, for checks made before storing.
func patched(cur storage.Campaign, p storage.CampaignPatch) storage.Campaign {
	out := cur
	if p.Name != nil {
		out.Name = *p.Name
	}
	if p.Kind != nil {
		out.Kind = *p.Kind
	}
	if p.Mode != nil {
		out.Mode = *p.Mode
	}
	if p.SetStartAt {
		out.StartAt = p.StartAt
	}
	if p.SetEndAt {
		out.EndAt = p.EndAt
	}
	if p.Status != nil {
		out.Status = *p.Status
	}
	return out
}

// applyEdit validates req against cur and stores it, answering errors itself. The database re-checks
// the edit lock (R-CAMP-2); an edit that voids an approval tells the waiting workflow (R-CAMP-3).
func (s *Server) applyEdit(c *gin.Context, cur storage.Campaign, req campaignRequest) (storage.Campaign, bool) {
	ctx := c.Request.Context()
	u := currentUser(c)
	p, verr := buildPatch(cur, req)
	if respondInvalid(c, verr) {
		return storage.Campaign{}, false
	}
	camp, outcome, err := s.Store.UpdateCampaign(ctx, u.AccountID, cur.ID, p)
	switch {
	case errors.Is(err, storage.ErrApprovalPending):
		abortPending(c)
		return storage.Campaign{}, false
	case errors.Is(err, storage.ErrCampaignLive):
		abort(c, errs.CampaignLive, "a live campaign cannot be edited; only journeys take new versions while live")
		return storage.Campaign{}, false
	case errors.Is(err, storage.ErrCampaignArchived):
		abortArchived(c)
		return storage.Campaign{}, false
	case err != nil:
		s.fail(c, err)
		return storage.Campaign{}, false
	}
	if outcome.DroppedApproval {
		if latest, err := s.Store.LatestRequests(ctx, u.AccountID, []string{camp.ID}); err == nil {
			if r, ok := latest[camp.ID]; ok {
				s.signalRequests(ctx, logger(c), []string{r.ID}, workflows.SignalApprovalDropped, nil)
			}
		}
	}
	return camp, true
}

type resubmitRequest struct {
	Changes     *campaignRequest `json:"changes"`
	ApproverIDs []string         `json:"approver_ids"`
	Note        string           `json:"note"`
}

// resubmit cancels the campaign's pending request (if any), applies the edit and submits it again,
// in one call (R-CAMP-2).
func (s *Server) resubmit(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	var req resubmitRequest
	if !bindJSON(c, &req) {
		return
	}
	ctx := c.Request.Context()
	u := currentUser(c)
	cur, ok := s.editableCampaign(c, id, "resubmit")
	if !ok {
		return
	}
	if r, ok := s.keyedRequest(c, cur.ID); ok {
		c.JSON(http.StatusCreated, r)
		return
	}
	// Everything is validated before the pending request is cancelled: a refused resubmit changes nothing.
	next := cur
	if req.Changes != nil {
		p, err := buildPatch(cur, *req.Changes)
		if respondInvalid(c, err) {
			return
		}
		next = patched(cur, p)
	}
	if err := checkText("note", req.Note, false, maxNoteChars); respondInvalid(c, err) {
		return
	}
	settings, err := s.Store.Settings(ctx, u.AccountID)
	if err != nil {
		s.fail(c, err)
		return
	}
	if _, err := s.validateApprovers(ctx, u.AccountID, u, req.ApproverIDs, settings); err != nil {
		if !respondInvalid(c, err) {
			s.fail(c, err)
		}
		return
	}
	if !settings.ApprovalEnabled {
		abort(c, errs.ApprovalDisabled, "approvals are turned off for this account: launch the campaign directly")
		return
	}
	if next.Mode != storage.CampaignModeActive {
		invalid(c, "mode", "only active launches need approval; test and passive campaigns launch without it")
		return
	}
	if next.Status != storage.CampaignStatusDraft && next.Status != storage.CampaignStatusReady && next.Status != storage.CampaignStatusScheduled &&
		!(next.Status == storage.CampaignStatusLive && next.Kind == storage.CampaignKindJourney) {
		abort(c, errs.NotSubmittable, fmt.Sprintf("a campaign in status %s cannot be submitted", next.Status))
		return
	}
	if _, _, err := s.requestWindow(next, time.Now()); respondInvalid(c, err) {
		return
	}
	if cur.ApprovalStatus == storage.RequestStatusPending {
		latest, err := s.Store.LatestRequests(ctx, u.AccountID, []string{cur.ID})
		if err != nil {
			s.fail(c, err)
			return
		}
		if r, ok := latest[cur.ID]; ok && r.Status == storage.RequestStatusPending {
			if _, err := s.runUpdate(ctx, r, workflows.UpdateCancel, workflows.DecisionInput{ActorID: u.ID, Note: "resubmitted with changes"}); err != nil {
				s.updateFailed(c, err)
				return
			}
		}
		if cur, err = s.Store.VisibleCampaign(ctx, u.AccountID, id); err != nil {
			s.fail(c, err)
			return
		}
	}
	if req.Changes != nil {
		if cur, ok = s.applyEdit(c, cur, *req.Changes); !ok {
			return
		}
	}
	r, ok := s.submit(c, u, cur, submitRequest{ApproverIDs: req.ApproverIDs, Note: req.Note})
	if ok {
		c.JSON(http.StatusCreated, r)
	}
}

// deleteCampaign deletes a campaign, or archives it when it ever had an approval request or a launch:
// its history is append-only (R-APPR-10), so it stays readable by id and leaves the lists. Both answer
// 204; deleting an archived campaign again changes nothing.
func (s *Server) deleteCampaign(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	ctx := c.Request.Context()
	u := currentUser(c)
	cur, ok := s.campaignOfEditor(c, id, "delete")
	if !ok {
		return
	}
	err := s.Store.DeleteCampaign(ctx, u.AccountID, cur.ID)
	switch {
	case errors.Is(err, storage.ErrApprovalPending):
		abortPending(c)
	case errors.Is(err, storage.ErrCampaignLaunched):
		abort(c, errs.CampaignLaunched, "a scheduled or live campaign cannot be deleted")
	case errors.Is(err, storage.ErrHasDrafts):
		abort(c, errs.CampaignHasDrafts, "this campaign has approval drafts, which are kept as a permanent record; it cannot be deleted")
	case err != nil:
		s.fail(c, err)
	default:
		c.Status(http.StatusNoContent)
	}
}
