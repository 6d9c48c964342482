package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/signoff/signoff/errs"
	"github.com/signoff/signoff/storage"
	"github.com/signoff/signoff/workflows"
)

// Campaign is a campaign: its header and, when read one at a time, its content.
type Campaign = storage.Campaign

// CampaignContent is what a campaign holds besides its header: segments, prompts, AI settings,
// sequences and tracking links.
type CampaignContent = storage.CampaignContent

// Segment is a named set of directory filters of a campaign.
type Segment = storage.Segment

// Prompt is a named AI prompt of a campaign.
type Prompt = storage.Prompt

// AIModelConfig is the provider and model one AI step of a campaign uses.
type AIModelConfig = storage.AIModelConfig

// Sequence is a named series of emails of a campaign.
type Sequence = storage.Sequence

// SequenceStep is one email of a sequence.
type SequenceStep = storage.SequenceStep

// TrackingLink is a link a campaign tracks.
type TrackingLink = storage.TrackingLink

// CampaignCursor marks the last campaign of a page; the next page starts after it.
type CampaignCursor = storage.Cursor

// Limits on campaign content and on pages of campaigns.
const (
	maxSegments      = 50
	maxPrompts       = 50
	maxSequences     = 20
	maxSequenceSteps = 50
	maxTrackingLinks = 100
	maxBodyChars     = 20000
	defaultPageSize  = 20
	// MaxPageSize is the most campaigns one page holds.
	MaxPageSize = 100
)

// aiSteps are the four AI pipeline steps of SPEC §8; aiProviders the providers.
var (
	aiSteps     = []string{"qualify", "segment", "personalise", "rewrite"}
	aiProviders = []string{"local", "openai"}
)

// CampaignFields are the fields a person writes on a campaign, on creation and on edit. A nil field is
// left as it is (on creation: its default); a date is changed only when its Set flag is true, and a
// Set date that is nil is cleared.
type CampaignFields struct {
	Name       *string
	Kind       *string
	Mode       *string
	SetStartAt bool
	StartAt    *time.Time
	SetEndAt   bool
	EndAt      *time.Time
	Status     *string
	Content    *CampaignContent
	// SetApprovalPolicy says whether ApprovalPolicy, the campaign's override of the account's policy
	// as the client wrote it (null: none), changes (R-POL-1).
	SetApprovalPolicy bool
	ApprovalPolicy    json.RawMessage
}

// CampaignView is a campaign as one viewer sees it, with the approval ribbon meant for them (R-CAMP-1).
type CampaignView struct {
	Campaign
	// Ribbon is the approval banner, or nil when there is none.
	Ribbon *string
}

// CreateCampaignInput is a new campaign.
type CreateCampaignInput struct {
	// ID is the campaign's id: derived from the Idempotency-Key in a keyed call, so a retry finds the
	// campaign its first attempt created.
	ID string
	CampaignFields
}

// CreateCampaign creates a draft campaign in u's account, created by u (campaigns.create: every
// built-in role). A retry of a keyed call whose first answer was lost answers the campaign it created.
func (a *App) CreateCampaign(ctx context.Context, u User, in CreateCampaignInput) (CampaignView, error) {
	if err := requirePermission(u, storage.PermCampaignsCreate); err != nil {
		return CampaignView{}, err
	}
	nc := storage.NewCampaign{ID: in.ID, Kind: storage.CampaignKindCampaign, Mode: storage.CampaignModeActive, StartAt: in.StartAt, EndAt: in.EndAt}
	if in.Name != nil {
		nc.Name = strings.TrimSpace(*in.Name)
	}
	if in.Kind != nil {
		nc.Kind = *in.Kind
	}
	if in.Mode != nil {
		nc.Mode = *in.Mode
	}
	if in.Content != nil {
		nc.Content = *in.Content
	}
	nc.Content = normalizedContent(nc.Content)
	err := checkText("name", nc.Name, true, 200)
	if err == nil && in.Status != nil {
		err = errs.Invalid("status", "a new campaign always starts as draft")
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
		err = validateContent(nc.Content)
	}
	if err == nil && in.SetApprovalPolicy {
		nc.ApprovalPolicy, err = a.ParseApprovalPolicy(ctx, u.AccountID, in.ApprovalPolicy)
	}
	if err != nil {
		return CampaignView{}, err
	}
	camp, err := a.Store.CreateCampaign(ctx, u.AccountID, u.ID, nc)
	if errors.Is(err, storage.ErrConflict) {
		camp, err = a.Store.VisibleCampaign(ctx, u.AccountID, nc.ID)
	}
	if err != nil {
		return CampaignView{}, storeErr(err)
	}
	return CampaignView{Campaign: camp}, nil
}

// Campaign is campaign id of u's account with its content and u's ribbon; archived campaigns too.
func (a *App) Campaign(ctx context.Context, u User, id string) (CampaignView, error) {
	camp, err := a.Store.VisibleCampaign(ctx, u.AccountID, id)
	if err != nil {
		return CampaignView{}, storeErr(err)
	}
	return a.view(ctx, u, camp)
}

// ListCampaignsInput asks for one page of campaigns.
type ListCampaignsInput struct {
	// Limit is the page size, from 1 to MaxPageSize; nil is the default of 20.
	Limit *int
	// After is where the previous page ended; nil asks for the first page.
	After *CampaignCursor
}

// CampaignPage is one page of campaigns, newest first.
type CampaignPage struct {
	Items []CampaignView
	// Next is where the next page starts, or nil on the last page.
	Next *CampaignCursor
}

// PageLimitError refuses a page size that is not a whole number from 1 to MaxPageSize.
func PageLimitError() error {
	return errs.Invalid("limit", fmt.Sprintf("must be a whole number from 1 to %d", MaxPageSize))
}

// Campaigns pages through the campaigns of u's account, newest first, archived ones left out.
func (a *App) Campaigns(ctx context.Context, u User, in ListCampaignsInput) (CampaignPage, error) {
	limit := defaultPageSize
	if in.Limit != nil {
		if *in.Limit < 1 || *in.Limit > MaxPageSize {
			return CampaignPage{}, PageLimitError()
		}
		limit = *in.Limit
	}
	list, err := a.Store.Campaigns(ctx, u.AccountID, in.After, limit+1)
	if err != nil {
		return CampaignPage{}, storeErr(err)
	}
	var page CampaignPage
	if len(list) > limit {
		list = list[:limit]
		last := list[limit-1]
		page.Next = &CampaignCursor{CreatedAt: last.CreatedAt, ID: last.ID}
	}
	page.Items, err = a.views(ctx, u, list)
	return page, err
}

// UpdateCampaignInput is an edit of campaign ID.
type UpdateCampaignInput struct {
	ID string
	CampaignFields
}

// UpdateCampaign edits a campaign u may edit (SPEC §3). A campaign waiting for approval is locked
// (R-CAMP-2); an edit that voids an approval tells the waiting workflow (R-CAMP-3).
func (a *App) UpdateCampaign(ctx context.Context, u User, in UpdateCampaignInput) (CampaignView, error) {
	cur, err := a.editableCampaign(ctx, u, in.ID, "edit")
	if err != nil {
		return CampaignView{}, err
	}
	if cur.ApprovalStatus == storage.RequestStatusPending {
		return CampaignView{}, pendingError()
	}
	p, err := buildPatch(cur, in.CampaignFields)
	if err == nil {
		err = a.policyPatch(ctx, u.AccountID, in.CampaignFields, &p)
	}
	if err != nil {
		return CampaignView{}, err
	}
	camp, err := a.applyEdit(ctx, u, cur, p)
	if err != nil {
		return CampaignView{}, err
	}
	return a.view(ctx, u, camp)
}

// DeleteCampaign deletes a campaign u may edit, or archives it when it ever had an approval request or
// a launch: its history is append-only (R-APPR-10), so it stays readable by id and leaves the lists.
// Deleting an archived campaign again changes nothing.
func (a *App) DeleteCampaign(ctx context.Context, u User, id string) error {
	cur, err := a.campaignOfEditor(ctx, u, id, "delete")
	if err != nil {
		return err
	}
	err = a.Store.DeleteCampaign(ctx, u.AccountID, cur.ID)
	switch {
	case errors.Is(err, storage.ErrApprovalPending):
		return pendingError()
	case errors.Is(err, storage.ErrCampaignLaunched):
		return errs.New(errs.CampaignLaunched, "a scheduled or live campaign cannot be deleted")
	case errors.Is(err, storage.ErrHasDrafts):
		return errs.New(errs.CampaignHasDrafts, "this campaign has approval drafts, which are kept as a permanent record; it cannot be deleted")
	}
	return storeErr(err)
}

// campaignExists refuses (404) unless campaign id is visible in u's account, archived ones included.
func (a *App) campaignExists(ctx context.Context, u User, id string) error {
	_, err := a.visibleCampaign(ctx, u, id)
	return err
}

// pendingError refuses an edit of a campaign waiting for approval.
func pendingError() error {
	return errs.New(errs.ApprovalPending, "this campaign is waiting for approval and cannot be edited: cancel the request first (or use POST /v1/campaigns/{id}/resubmit)")
}

// view is campaign camp as u sees it.
func (a *App) view(ctx context.Context, u User, camp Campaign) (CampaignView, error) {
	v, err := a.views(ctx, u, []Campaign{camp})
	if err != nil {
		return CampaignView{}, err
	}
	return v[0], nil
}

// views adds viewer's ribbon to campaigns, reading the latest request of each in one query.
func (a *App) views(ctx context.Context, viewer User, list []Campaign) ([]CampaignView, error) {
	ids := make([]string, len(list))
	for i, c := range list {
		ids[i] = c.ID
	}
	latest, err := a.Store.LatestRequests(ctx, viewer.AccountID, ids)
	if err != nil {
		return nil, storeErr(err)
	}
	out := make([]CampaignView, len(list))
	for i, c := range list {
		var r *storage.ApprovalRequest
		if lr, ok := latest[c.ID]; ok {
			r = &lr
		}
		out[i] = CampaignView{Campaign: c, Ribbon: ribbon(viewer, c, r)}
	}
	return out, nil
}

// ribbon is the approval banner viewer sees on camp, whose latest request is r (R-CAMP-1), or nil.
func ribbon(viewer User, camp Campaign, r *storage.ApprovalRequest) *string {
	var text string
	switch camp.ApprovalStatus {
	case storage.RequestStatusPending:
		text = "Approval pending: cancel the request to edit"
		if r != nil {
			for _, ap := range r.Approvers {
				if ap.UserID == viewer.ID && ap.State == storage.ApproverStateAssigned {
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

// buildPatch validates the edit f of cur and returns the patch to store.
func buildPatch(cur Campaign, f CampaignFields) (storage.CampaignPatch, error) {
	p := storage.CampaignPatch{Kind: f.Kind, Mode: f.Mode, Status: f.Status,
		SetStartAt: f.SetStartAt, StartAt: f.StartAt, SetEndAt: f.SetEndAt, EndAt: f.EndAt}
	var err error
	if f.Name != nil {
		name := strings.TrimSpace(*f.Name)
		p.Name = &name
		err = checkText("name", name, true, 200)
	}
	if err == nil && f.Kind != nil {
		err = oneOf("kind", *f.Kind, storage.CampaignKindCampaign, storage.CampaignKindJourney)
	}
	if err == nil && f.Mode != nil {
		err = oneOf("mode", *f.Mode, storage.CampaignModeActive, storage.CampaignModePassive, storage.CampaignModeTest)
	}
	if err == nil && f.Status != nil {
		err = oneOf("status", *f.Status, storage.CampaignStatusDraft, storage.CampaignStatusReady, storage.CampaignStatusError)
	}
	if err == nil {
		next := p.Apply(cur)
		err = checkWindow(next.StartAt, next.EndAt)
	}
	if err == nil && f.Content != nil {
		content := normalizedContent(*f.Content)
		p.Content = &content
		err = validateContent(content)
	}
	return p, err
}

// edited is cur as storing the edit p leaves it: the edit's effect on its status and approval
// (storage.EditEffectOn; only a change to a frozen field has one, R-VER-5), then p's own fields. An
// edit the store would refuse leaves cur as it is.
func edited(cur Campaign, p storage.CampaignPatch, policy string) Campaign {
	changes := cur.Content == nil || storage.ChangesFrozen(cur, p)
	if eff, err := storage.EditEffectOn(cur.Status, cur.Kind, cur.ApprovalStatus, policy, changes); err == nil {
		cur.Status, cur.ApprovalStatus = eff.Status, eff.ApprovalStatus
	}
	return p.Apply(cur)
}

// applyEdit stores the validated patch p of cur. The database re-checks the edit lock (R-CAMP-2); an
// edit that voids an approval tells the waiting workflow (R-CAMP-3).
func (a *App) applyEdit(ctx context.Context, u User, cur Campaign, p storage.CampaignPatch) (Campaign, error) {
	camp, outcome, err := a.Store.UpdateCampaign(ctx, u.AccountID, cur.ID, p)
	switch {
	case errors.Is(err, storage.ErrApprovalPending):
		return Campaign{}, pendingError()
	case errors.Is(err, storage.ErrCampaignLive):
		return Campaign{}, errs.New(errs.CampaignLive, "a live campaign cannot be edited; only journeys take new versions while live")
	case err != nil:
		return Campaign{}, storeErr(err)
	}
	if outcome.DroppedApproval {
		if latest, err := a.Store.LatestRequests(ctx, u.AccountID, []string{camp.ID}); err == nil {
			if r, ok := latest[camp.ID]; ok {
				a.signalRequests(ctx, []string{r.ID}, workflows.SignalApprovalDropped, nil)
			}
		}
	}
	return camp, nil
}

// checkWindow refuses an end before the start.
func checkWindow(start, end *time.Time) error {
	if start != nil && end != nil && !end.After(*start) {
		return errs.Invalid("end_at", "must be after start_at")
	}
	return nil
}

// normalizedContent is c with absent lists made empty, so reads and writes agree.
func normalizedContent(c CampaignContent) CampaignContent {
	if c.Segments == nil {
		c.Segments = []Segment{}
	}
	if c.Prompts == nil {
		c.Prompts = []Prompt{}
	}
	if c.AIModelConfigs == nil {
		c.AIModelConfigs = []AIModelConfig{}
	}
	if c.Sequences == nil {
		c.Sequences = []Sequence{}
	}
	if c.TrackingLinks == nil {
		c.TrackingLinks = []TrackingLink{}
	}
	return c
}

// validateContent checks a campaign's content, naming the first bad field.
func validateContent(c CampaignContent) error {
	if len(c.Segments) > maxSegments {
		return errs.Invalid("content.segments", fmt.Sprintf("at most %d segments", maxSegments))
	}
	for i, s := range c.Segments {
		if err := checkText(fmt.Sprintf("content.segments[%d].name", i), s.Name, true, 200); err != nil {
			return err
		}
		if err := s.Filters.Validate(); err != nil {
			var fe *storage.FilterError
			if !errors.As(err, &fe) {
				return err
			}
			return errs.Invalid(fmt.Sprintf("content.segments[%d].%s", i, fe.Field), fe.Message)
		}
	}
	if len(c.Prompts) > maxPrompts {
		return errs.Invalid("content.prompts", fmt.Sprintf("at most %d prompts", maxPrompts))
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
			return errs.Invalid(f("step"), "each step may be configured once")
		}
		seen[m.Step] = true
		if err := oneOf(f("provider"), m.Provider, aiProviders...); err != nil {
			return err
		}
		if err := checkText(f("model"), m.Model, true, 100); err != nil {
			return err
		}
		if m.Temperature < 0 || m.Temperature > 2 {
			return errs.Invalid(f("temperature"), "must be between 0 and 2")
		}
	}
	if len(c.Sequences) > maxSequences {
		return errs.Invalid("content.sequences", fmt.Sprintf("at most %d sequences", maxSequences))
	}
	for i, seq := range c.Sequences {
		if err := checkText(fmt.Sprintf("content.sequences[%d].name", i), seq.Name, true, 200); err != nil {
			return err
		}
		if len(seq.Steps) == 0 || len(seq.Steps) > maxSequenceSteps {
			return errs.Invalid(fmt.Sprintf("content.sequences[%d].steps", i), fmt.Sprintf("must hold 1 to %d steps", maxSequenceSteps))
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
				return errs.Invalid(f("delay_days"), "must be between 0 and 365")
			}
		}
	}
	if len(c.TrackingLinks) > maxTrackingLinks {
		return errs.Invalid("content.tracking_links", fmt.Sprintf("at most %d links", maxTrackingLinks))
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

// policyPatch validates the approval policy of an edit f, when it has one, and sets it on p.
func (a *App) policyPatch(ctx context.Context, accountID string, f CampaignFields, p *storage.CampaignPatch) error {
	if !f.SetApprovalPolicy {
		return nil
	}
	pol, err := a.ParseApprovalPolicy(ctx, accountID, f.ApprovalPolicy)
	if err != nil {
		return err
	}
	p.SetApprovalPolicy, p.ApprovalPolicy = true, pol
	return nil
}
