package api

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/signoff/signoff/app"
)

// campaignRequest is the body of a campaign's creation or edit: an absent field is left as it is.
type campaignRequest struct {
	Name    *string              `json:"name"`
	Kind    *string              `json:"kind"`
	Mode    *string              `json:"mode"`
	StartAt Optional[time.Time]  `json:"start_at"`
	EndAt   Optional[time.Time]  `json:"end_at"`
	Status  *string              `json:"status"`
	Content *campaignContentJSON `json:"content"`
	// ApprovalPolicy overrides the account's approval policy (R-POL-1); null goes back to the account's.
	ApprovalPolicy Optional[json.RawMessage] `json:"approval_policy"`
}

// fields maps the body to the use cases' input.
func (r campaignRequest) fields() app.CampaignFields {
	f := app.CampaignFields{Name: r.Name, Kind: r.Kind, Mode: r.Mode, Status: r.Status,
		SetStartAt: r.StartAt.Set, StartAt: r.StartAt.Value, SetEndAt: r.EndAt.Set, EndAt: r.EndAt.Value,
		SetApprovalPolicy: r.ApprovalPolicy.Set, ApprovalPolicy: rawOrNull(r.ApprovalPolicy)}
	if r.Content != nil {
		c := r.Content.toApp()
		f.Content = &c
	}
	return f
}

// campaignJSON is a campaign as the API answers it, with the viewer's approval ribbon (R-CAMP-1).
type campaignJSON struct {
	ID              string               `json:"id"`
	AccountID       string               `json:"account_id"`
	CreatedBy       string               `json:"created_by"`
	Name            string               `json:"name"`
	Kind            string               `json:"kind"`
	Mode            string               `json:"mode"`
	StartAt         *time.Time           `json:"start_at"`
	EndAt           *time.Time           `json:"end_at"`
	Status          string               `json:"status"`
	ApprovalStatus  string               `json:"approval_status"`
	Version         int                  `json:"version"`
	ApprovedVersion *int                 `json:"approved_version"` // approved by the current approval, or nil (R-VER-2)
	LiveVersion     *int                 `json:"live_version"`     // launched and live, or nil (R-VER-2)
	CreatedAt       time.Time            `json:"created_at"`
	UpdatedAt       time.Time            `json:"updated_at"`
	ArchivedAt      *time.Time           `json:"archived_at"`
	Content         *campaignContentJSON `json:"content,omitempty"`
	Ribbon          *string              `json:"ribbon"`
	// ApprovalPolicy is the campaign's override of the account's approval policy; null uses the account's.
	ApprovalPolicy *approvalPolicyJSON `json:"approval_policy"`
}

func toCampaignJSON(v app.CampaignView) campaignJSON {
	out := campaignJSON{ID: v.ID, AccountID: v.AccountID, CreatedBy: v.CreatedBy, Name: v.Name, Kind: v.Kind, Mode: v.Mode,
		StartAt: v.StartAt, EndAt: v.EndAt, Status: v.Status, ApprovalStatus: v.ApprovalStatus, Version: v.Version,
		ApprovedVersion: v.ApprovedVersion, LiveVersion: v.LiveVersion, CreatedAt: v.CreatedAt, UpdatedAt: v.UpdatedAt, ArchivedAt: v.ArchivedAt, Ribbon: v.Ribbon,
		ApprovalPolicy: toApprovalPolicyJSON(v.ApprovalPolicy)}
	if v.Content != nil {
		c := toCampaignContentJSON(*v.Content)
		out.Content = &c
	}
	return out
}

// campaignContentJSON is a campaign's content, in requests and answers alike.
type campaignContentJSON struct {
	Segments       []segmentJSON       `json:"segments"`
	Prompts        []promptJSON        `json:"prompts"`
	AIModelConfigs []aiModelConfigJSON `json:"ai_model_configs"`
	Sequences      []sequenceJSON      `json:"sequences"`
	TrackingLinks  []trackingLinkJSON  `json:"tracking_links"`
}

type segmentJSON struct {
	Name    string            `json:"name"`
	Filters searchFiltersJSON `json:"filters"`
}

type promptJSON struct {
	Name string `json:"name"`
	Text string `json:"text"`
}

type aiModelConfigJSON struct {
	Step        string  `json:"step"`
	Provider    string  `json:"provider"`
	Model       string  `json:"model"`
	Temperature float64 `json:"temperature"`
}

type sequenceJSON struct {
	Name  string             `json:"name"`
	Steps []sequenceStepJSON `json:"steps"`
}

type sequenceStepJSON struct {
	Subject   string `json:"subject"`
	Body      string `json:"body"`
	DelayDays int    `json:"delay_days"`
}

type trackingLinkJSON struct {
	URL   string `json:"url"`
	Label string `json:"label"`
}

// mapEach maps every element of in with f; nil stays nil, so an absent list answers null as before.
func mapEach[T, U any](in []T, f func(T) U) []U {
	if in == nil {
		return nil
	}
	out := make([]U, len(in))
	for i, v := range in {
		out[i] = f(v)
	}
	return out
}

func toCampaignContentJSON(c app.CampaignContent) campaignContentJSON {
	return campaignContentJSON{
		Segments: mapEach(c.Segments, func(s app.Segment) segmentJSON {
			f := s.Filters
			return segmentJSON{Name: s.Name, Filters: toSearchFiltersJSON(f)}
		}),
		Prompts: mapEach(c.Prompts, func(p app.Prompt) promptJSON { return promptJSON{Name: p.Name, Text: p.Text} }),
		AIModelConfigs: mapEach(c.AIModelConfigs, func(m app.AIModelConfig) aiModelConfigJSON {
			return aiModelConfigJSON{Step: m.Step, Provider: m.Provider, Model: m.Model, Temperature: m.Temperature}
		}),
		Sequences: mapEach(c.Sequences, func(s app.Sequence) sequenceJSON {
			return sequenceJSON{Name: s.Name, Steps: mapEach(s.Steps, func(st app.SequenceStep) sequenceStepJSON {
				return sequenceStepJSON{Subject: st.Subject, Body: st.Body, DelayDays: st.DelayDays}
			})}
		}),
		TrackingLinks: mapEach(c.TrackingLinks, func(l app.TrackingLink) trackingLinkJSON { return trackingLinkJSON{URL: l.URL, Label: l.Label} }),
	}
}

func (c campaignContentJSON) toApp() app.CampaignContent {
	return app.CampaignContent{
		Segments: mapEach(c.Segments, func(s segmentJSON) app.Segment {
			return app.Segment{Name: s.Name, Filters: s.Filters.toApp()}
		}),
		Prompts: mapEach(c.Prompts, func(p promptJSON) app.Prompt { return app.Prompt{Name: p.Name, Text: p.Text} }),
		AIModelConfigs: mapEach(c.AIModelConfigs, func(m aiModelConfigJSON) app.AIModelConfig {
			return app.AIModelConfig{Step: m.Step, Provider: m.Provider, Model: m.Model, Temperature: m.Temperature}
		}),
		Sequences: mapEach(c.Sequences, func(s sequenceJSON) app.Sequence {
			return app.Sequence{Name: s.Name, Steps: mapEach(s.Steps, func(st sequenceStepJSON) app.SequenceStep {
				return app.SequenceStep{Subject: st.Subject, Body: st.Body, DelayDays: st.DelayDays}
			})}
		}),
		TrackingLinks: mapEach(c.TrackingLinks, func(l trackingLinkJSON) app.TrackingLink { return app.TrackingLink{URL: l.URL, Label: l.Label} }),
	}
}

// campaignPageJSON is a page of campaigns with the cursor of the next one.
type campaignPageJSON struct {
	Items      []campaignJSON `json:"items"`
	NextCursor *string        `json:"next_cursor"`
}

func (s *Server) createCampaign(c *gin.Context) {
	var req campaignRequest
	if !bindJSON(c, &req) {
		return
	}
	v, err := s.App.CreateCampaign(c.Request.Context(), currentUser(c),
		app.CreateCampaignInput{ID: idempotentID(c, "campaign"), CampaignFields: req.fields()})
	if err != nil {
		respondError(c, err)
		return
	}
	c.JSON(http.StatusCreated, toCampaignJSON(v))
}

func (s *Server) getCampaign(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	v, err := s.App.Campaign(c.Request.Context(), currentUser(c), id)
	if err != nil {
		respondError(c, err)
		return
	}
	c.JSON(http.StatusOK, toCampaignJSON(v))
}

// listCampaigns pages through the account's campaigns, newest first, with an opaque cursor.
func (s *Server) listCampaigns(c *gin.Context) {
	var in app.ListCampaignsInput
	if !queryLimit(c, &in.Limit, app.PageLimitError()) {
		return
	}
	if v := c.Query("cursor"); v != "" {
		cur, err := decodeCursor(v)
		if err != nil {
			invalid(c, "cursor", "is not a cursor this API returned")
			return
		}
		in.After = &cur
	}
	page, err := s.App.Campaigns(c.Request.Context(), currentUser(c), in)
	if err != nil {
		respondError(c, err)
		return
	}
	out := campaignPageJSON{Items: mapEach(page.Items, toCampaignJSON)}
	if page.Next != nil {
		next := encodeCursor(*page.Next)
		out.NextCursor = &next
	}
	c.JSON(http.StatusOK, out)
}

func encodeCursor(cur app.CampaignCursor) string {
	return encodeKeyCursor(cur.CreatedAt, cur.ID)
}

func decodeCursor(v string) (app.CampaignCursor, error) {
	t, id, err := decodeKeyCursor(v)
	return app.CampaignCursor{CreatedAt: t, ID: id}, err
}

// encodeKeyCursor makes the opaque cursor of a keyset position: a time and the id of the last row read.
func encodeKeyCursor(t time.Time, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(t.UTC().Format(time.RFC3339Nano) + "|" + id))
}

// decodeKeyCursor reads a cursor encodeKeyCursor made, refusing anything else.
func decodeKeyCursor(v string) (time.Time, string, error) {
	b, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil {
		return time.Time{}, "", err
	}
	ts, id, ok := strings.Cut(string(b), "|")
	if !ok {
		return time.Time{}, "", fmt.Errorf("no separator")
	}
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return time.Time{}, "", err
	}
	if _, err := uuid.Parse(id); err != nil {
		return time.Time{}, "", err
	}
	return t, id, nil
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
	v, err := s.App.UpdateCampaign(c.Request.Context(), currentUser(c), app.UpdateCampaignInput{ID: id, CampaignFields: req.fields()})
	if err != nil {
		respondError(c, err)
		return
	}
	c.JSON(http.StatusOK, toCampaignJSON(v))
}

// resubmitRequest is the body of a resubmit: the edit to apply, then the submission.
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
	in := app.ResubmitInput{SubmitInput: submitInput(c, id, req.ApproverIDs, req.Note)}
	if req.Changes != nil {
		f := req.Changes.fields()
		in.Changes = &f
	}
	r, err := s.App.Resubmit(c.Request.Context(), currentUser(c), in)
	if err != nil {
		respondError(c, err)
		return
	}
	c.JSON(http.StatusCreated, toApprovalRequestJSON(r))
}

// deleteCampaign deletes a campaign, or archives it when it has an approval history (R-APPR-10); both
// answer 204, and deleting an archived campaign again changes nothing.
func (s *Server) deleteCampaign(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	if err := s.App.DeleteCampaign(c.Request.Context(), currentUser(c), id); err != nil {
		respondError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
