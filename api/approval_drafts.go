package api

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/signoff/signoff/app"
)

// draftSourceJSON says where a draft's sample contacts come from, as the CSM sends it.
type draftSourceJSON struct {
	Type          string            `json:"type"`
	SavedSearchID string            `json:"saved_search_id,omitempty"`
	CSVUploadID   string            `json:"csv_upload_id,omitempty"`
	Mapping       map[string]string `json:"mapping,omitempty"`
	CampaignID    string            `json:"campaign_id,omitempty"`
}

// createDraftRequest is the body of POST /v1/campaigns/{id}/approval-drafts.
type createDraftRequest struct {
	Source       *draftSourceJSON `json:"source"`
	ContactCount *int             `json:"contact_count"`
}

// toDraftSource maps the request's source to the use case's; nil stays nil.
func toDraftSource(s *draftSourceJSON) *app.DraftSource {
	if s == nil {
		return nil
	}
	return &app.DraftSource{Type: s.Type, SavedSearchID: s.SavedSearchID, CSVUploadID: s.CSVUploadID, Mapping: s.Mapping, CampaignID: s.CampaignID}
}

// progressJSON is how far a draft's build has come.
type progressJSON struct {
	Step  string `json:"step"`
	Done  int    `json:"done"`
	Total int    `json:"total"`
}

// draftJSON is a draft as a CSM sees it: share_url is null until the draft is built (R-DRAFT-8);
// campaign_version is the version it builds from (R-VER-7), null for a draft created before versions.
type draftJSON struct {
	ID              string          `json:"id"`
	AccountID       string          `json:"account_id"`
	CampaignID      string          `json:"campaign_id"`
	CampaignVersion *int            `json:"campaign_version"`
	Number          int             `json:"number"`
	Name            string          `json:"name"`
	Status          string          `json:"status"`
	Source          json.RawMessage `json:"source"`
	ContactCount    int             `json:"contact_count"`
	Progress        progressJSON    `json:"progress"`
	FailureReason   *string         `json:"failure_reason"`
	CreatedBy       string          `json:"created_by"`
	CreatedAt       time.Time       `json:"created_at"`
	UpdatedAt       time.Time       `json:"updated_at"`
	ReadyAt         *time.Time      `json:"ready_at"`
	AIDoneAt        *time.Time      `json:"ai_done_at"`
	SubmittedAt     *time.Time      `json:"submitted_at"`
	ShareURL        *string         `json:"share_url"`
}

// toDraftJSON maps a draft view to its JSON.
func toDraftJSON(v app.DraftView) draftJSON {
	d := v.Draft
	return draftJSON{ID: d.ID, AccountID: d.AccountID, CampaignID: d.CampaignID, CampaignVersion: d.CampaignVersion, Number: d.Number,
		Name: d.Name, Status: d.Status, Source: d.Source, ContactCount: d.ContactCount, Progress: progressJSON{Step: d.Progress.Step, Done: d.Progress.Done, Total: d.Progress.Total},
		FailureReason: d.FailureReason, CreatedBy: d.CreatedBy, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt, ReadyAt: d.ReadyAt,
		AIDoneAt: d.AIDoneAt, SubmittedAt: d.SubmittedAt, ShareURL: v.ShareURL}
}

// draftAnswer is toDraftJSON for an answer: a share link opens the review without login, so an
// answer that shows one is marked as carrying a secret.
func draftAnswer(c *gin.Context, v app.DraftView) draftJSON {
	if v.ShareURL != nil {
		answerHasSecrets(c, "share_url")
	}
	return toDraftJSON(v)
}

// createDraft asks for an approval draft (R-DRAFT-1..6): it answers 202 with the draft processing
// while the build runs, or 200 with the in-flight draft of the same campaign and saved search.
func (s *Server) createDraft(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	var req createDraftRequest
	if !bindJSON(c, &req) {
		return
	}
	in := app.CreateDraftInput{CampaignID: id, Source: toDraftSource(req.Source), ContactCount: req.ContactCount}
	if _, keyed := c.Get(ctxIdempotencyKey); keyed {
		in.DraftID = idempotentID(c, "approval-draft")
	}
	out, err := s.App.CreateDraft(c.Request.Context(), currentUser(c), in)
	if err != nil {
		respondError(c, err)
		return
	}
	status := http.StatusAccepted
	if out.Existing {
		status = http.StatusOK
	}
	c.JSON(status, draftAnswer(c, out.View))
}

func (s *Server) listDrafts(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	list, err := s.App.ListDrafts(c.Request.Context(), currentUser(c), id)
	if err != nil {
		respondError(c, err)
		return
	}
	out := make([]draftJSON, len(list))
	for i, v := range list {
		out[i] = draftAnswer(c, v)
	}
	c.JSON(http.StatusOK, items(out))
}

func (s *Server) getDraft(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	v, err := s.App.GetDraft(c.Request.Context(), currentUser(c), id)
	if err != nil {
		respondError(c, err)
		return
	}
	c.JSON(http.StatusOK, draftAnswer(c, v))
}

// rotateLink issues a new share token; the old URL answers 404 at once (R-DRAFT-11).
func (s *Server) rotateLink(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	v, err := s.App.RotateDraftLink(c.Request.Context(), currentUser(c), id)
	if err != nil {
		respondError(c, err)
		return
	}
	s.reviewWritten(v.Draft.ID) // this process forgets the old token now; others when the change feed tells them
	c.JSON(http.StatusOK, draftAnswer(c, v))
}

// feedbackItemJSON is one piece of the client's feedback (R-DRAFT-12); id is a comment's, absent on
// a verdict.
type feedbackItemJSON struct {
	ID        *string   `json:"id,omitempty"`
	Kind      string    `json:"kind"`
	Target    string    `json:"target"`
	Quote     string    `json:"quote"`
	Comment   string    `json:"comment"`
	Author    string    `json:"author"`
	CreatedAt time.Time `json:"created_at"`
}

func toFeedbackItemJSON(it app.FeedbackItem) feedbackItemJSON {
	return feedbackItemJSON{ID: it.ID, Kind: it.Kind, Target: it.Target, Quote: it.Quote, Comment: it.Comment, Author: it.Author,
		CreatedAt: it.CreatedAt}
}

// toFeedbackJSON maps a list of feedback, keeping nil as nil (JSON null).
func toFeedbackJSON(list []app.FeedbackItem) []feedbackItemJSON {
	if list == nil {
		return nil
	}
	out := make([]feedbackItemJSON, len(list))
	for i, it := range list {
		out[i] = toFeedbackItemJSON(it)
	}
	return out
}

// feedbackPageJSON is a page of the CSM's view of the client's feedback.
type feedbackPageJSON struct {
	InReview   []feedbackItemJSON `json:"in_review"`
	NextCursor *string            `json:"next_cursor"`
	Status     string             `json:"status"`
	Submitted  []feedbackItemJSON `json:"submitted"`
}

// feedbackCursor is the opaque cursor of the feedback pages: where the last item of a page sits.
type feedbackCursor struct {
	At     time.Time `json:"at"`
	Target string    `json:"target"`
	ID     string    `json:"id,omitempty"`
}

func encodeFeedbackCursor(k app.FeedbackKey) string {
	b, _ := json.Marshal(feedbackCursor{At: k.CreatedAt.UTC(), Target: k.Target, ID: k.ID})
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeFeedbackCursor(v string) (app.FeedbackKey, error) {
	b, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil {
		return app.FeedbackKey{}, err
	}
	var cur feedbackCursor
	if err := json.Unmarshal(b, &cur); err != nil {
		return app.FeedbackKey{}, err
	}
	if cur.At.IsZero() {
		return app.FeedbackKey{}, errors.New("no time")
	}
	if cur.ID != "" {
		if _, err := uuid.Parse(cur.ID); err != nil {
			return app.FeedbackKey{}, err
		}
	}
	return app.FeedbackKey{CreatedAt: cur.At, Target: cur.Target, ID: cur.ID}, nil
}

// feedback is the CSM's view of the client's feedback (R-DRAFT-12), a page at a time: ?limit= items
// a page and ?cursor=, the next_cursor of the page before (null on the last page).
func (s *Server) feedback(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	in := app.FeedbackPageInput{DraftID: id}
	if !queryLimit(c, &in.Limit, app.ErrFeedbackLimit) {
		return
	}
	if v := c.Query("cursor"); v != "" {
		k, err := decodeFeedbackCursor(v)
		if err != nil {
			invalid(c, "cursor", "is not a cursor this API returned")
			return
		}
		in.After = &k
	}
	page, err := s.App.DraftFeedback(c.Request.Context(), currentUser(c), in)
	if err != nil {
		respondError(c, err)
		return
	}
	out := feedbackPageJSON{InReview: toFeedbackJSON(page.InReview), Status: page.Status, Submitted: toFeedbackJSON(page.Submitted)}
	if page.Next != nil {
		v := encodeFeedbackCursor(*page.Next)
		out.NextCursor = &v
	}
	c.JSON(http.StatusOK, out)
}
