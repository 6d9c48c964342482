package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/signoff/signoff/errs"
	"github.com/signoff/signoff/sharelink"
	"github.com/signoff/signoff/storage"
	"github.com/signoff/signoff/workflows"
)

// ApprovalDraft is a client approval draft as the read model holds it.
type ApprovalDraft = storage.ApprovalDraft

// DraftProgress is how far a draft's build has come.
type DraftProgress = storage.Progress

// FeedbackItem is one piece of a client's feedback on a draft: a verdict, a note or a line comment.
type FeedbackItem = storage.FeedbackItem

// FeedbackKey is where a feedback item sits in the order feedback is listed.
type FeedbackKey = storage.FeedbackKey

// Draft limits (R-DRAFT-2).
const (
	defaultContactCount = 20
	maxContactCount     = 100
)

// MaxFeedbackPage is the most feedback items one page of DraftFeedback holds, and the page size when
// none is asked for; it holds every item of all but the largest drafts (R-DRAFT-12).
const MaxFeedbackPage = 1000

// ErrFeedbackLimit refuses a feedback page size that is not a whole number from 1 to MaxFeedbackPage.
var ErrFeedbackLimit = errs.Invalid("limit", fmt.Sprintf("must be a whole number from 1 to %d", MaxFeedbackPage))

// campaignErrorMessage refuses a draft of a campaign in error.
const campaignErrorMessage = "the campaign is in error: drafts need a campaign that is at least draft; fix it first"

// DraftSource says where a draft's sample contacts come from: a saved search, an uploaded CSV (with
// an optional field → column mapping) or another campaign's leads.
type DraftSource struct {
	Type          string
	SavedSearchID string
	CSVUploadID   string
	Mapping       map[string]string
	CampaignID    string
}

// CreateDraftInput asks for a draft of a campaign.
type CreateDraftInput struct {
	CampaignID string
	// DraftID is the id to create the draft under when the request is keyed (Idempotency-Key), so a
	// repeat finds the first draft; empty lets the store choose one.
	DraftID string
	// Source is required; ContactCount defaults to 20.
	Source       *DraftSource
	ContactCount *int
}

// DraftView is a draft as a CSM sees it: ShareURL is nil until the draft is built (R-DRAFT-8).
type DraftView struct {
	Draft    ApprovalDraft
	ShareURL *string
}

// CreatedDraft is the outcome of CreateDraft: Existing is true when an in-flight draft of the same
// campaign and source (or of the same Idempotency-Key) was answered instead of a new build.
type CreatedDraft struct {
	View     DraftView
	Existing bool
}

// mayManageDrafts refuses (403) anyone without drafts.build (CSMs and admins), who handle drafts.
func mayManageDrafts(u User) error { return requirePermission(u, storage.PermDraftsBuild) }

// CreateDraft asks for an approval draft (R-DRAFT-1..6): it commits a processing draft and starts its
// build, or answers the in-flight draft of the same campaign and saved search.
func (a *App) CreateDraft(ctx context.Context, u User, in CreateDraftInput) (CreatedDraft, error) {
	if err := mayManageDrafts(u); err != nil {
		return CreatedDraft{}, err
	}
	count := defaultContactCount
	if in.ContactCount != nil {
		count = *in.ContactCount
		if count < 1 || count > maxContactCount {
			return CreatedDraft{}, errs.Invalid("contact_count", fmt.Sprintf("must be a whole number from 1 to %d (got %d)", maxContactCount, count))
		}
	}
	camp, err := a.visibleCampaign(ctx, u, in.CampaignID)
	if err != nil {
		return CreatedDraft{}, err
	}
	if camp.ArchivedAt != nil {
		return CreatedDraft{}, errs.New(errs.CampaignArchived, archivedMessage)
	}
	if camp.Status == storage.CampaignStatusError {
		return CreatedDraft{}, errs.New(errs.CampaignError, campaignErrorMessage)
	}
	src, key, err := a.validateSource(ctx, u.AccountID, in.Source)
	if err != nil {
		return CreatedDraft{}, err
	}
	srcJSON, err := json.Marshal(src)
	if err != nil {
		return CreatedDraft{}, err
	}
	d, existing, err := a.Store.CreateDraft(ctx, storage.NewDraft{ID: in.DraftID, AccountID: u.AccountID, CampaignID: camp.ID,
		CreatedBy: u.ID, Source: srcJSON, SourceKey: key, ContactCount: count}, src.Type == workflows.SourceSavedSearch)
	if errors.Is(err, storage.ErrCampaignInError) {
		return CreatedDraft{}, errs.Wrap(errs.CampaignError, campaignErrorMessage, err)
	}
	if err != nil {
		return CreatedDraft{}, storeErr(err)
	}
	if !existing {
		a.startDraftWorkflow(ctx, d, src, camp.Name)
	}
	return CreatedDraft{View: a.draftView(ctx, d), Existing: existing}, nil
}

// validateSource checks the source belongs to the caller's account (422 otherwise, R-DRAFT-3) and
// returns a normalised copy and its idempotency key.
func (a *App) validateSource(ctx context.Context, acct string, src *DraftSource) (workflows.DraftSource, string, error) {
	if src == nil {
		return workflows.DraftSource{}, "", errs.Invalid("source", "is required: {\"type\":\"saved_search\",\"saved_search_id\":…}, "+
			"{\"type\":\"csv\",\"csv_upload_id\":…,\"mapping\":{…}} or {\"type\":\"campaign_leads\",\"campaign_id\":…}")
	}
	// load reads the source named by id, telling a foreign or unknown one (422 on field) from a failure.
	load := func(field, id string, read func(id string) (string, error)) (string, error) {
		uid, err := uuid.Parse(id)
		if err != nil {
			return "", errs.Invalid(field, "no such source in this account")
		}
		got, err := read(uid.String())
		if errors.Is(err, storage.ErrNotFound) {
			return "", errs.Invalid(field, "no such source in this account")
		}
		return got, storeErr(err)
	}
	switch src.Type {
	case workflows.SourceSavedSearch:
		id, err := load("source.saved_search_id", src.SavedSearchID, func(id string) (string, error) {
			ss, err := a.Store.SavedSearch(ctx, acct, id)
			return ss.ID, err
		})
		if err != nil {
			return workflows.DraftSource{}, "", err
		}
		return workflows.DraftSource{Type: src.Type, SavedSearchID: id}, "saved_search:" + id, nil
	case workflows.SourceCSV:
		var columns []string
		id, err := load("source.csv_upload_id", src.CSVUploadID, func(id string) (string, error) {
			up, err := a.Store.CSVUpload(ctx, acct, id)
			columns = up.Columns
			return up.ID, err
		})
		if err != nil {
			return workflows.DraftSource{}, "", err
		}
		mapping := src.Mapping
		if len(mapping) == 0 {
			mapping = autoMapping(columns)
		}
		if err := checkMapping(mapping, columns); err != nil {
			return workflows.DraftSource{}, "", underField("source.", err)
		}
		return workflows.DraftSource{Type: src.Type, CSVUploadID: id, Mapping: mapping}, "csv:" + id, nil
	case workflows.SourceCampaignLeads:
		id, err := load("source.campaign_id", src.CampaignID, func(id string) (string, error) {
			camp, err := a.Store.VisibleCampaign(ctx, acct, id)
			return camp.ID, err
		})
		if err != nil {
			return workflows.DraftSource{}, "", err
		}
		return workflows.DraftSource{Type: src.Type, CampaignID: id}, "campaign_leads:" + id, nil
	}
	return workflows.DraftSource{}, "", errs.Invalid("source.type", "must be one of saved_search, csv, campaign_leads")
}

// underField names a validation error's field as a member of prefix (such as "source.").
func underField(prefix string, err error) error {
	e, ok := errs.As(err)
	if !ok || e.Code != errs.Validation {
		return err
	}
	return errs.Invalid(prefix+e.Field, strings.TrimPrefix(e.Message, e.Field+": "))
}

// ListDrafts lists the drafts of a campaign of u's account, newest first.
func (a *App) ListDrafts(ctx context.Context, u User, campaignID string) ([]DraftView, error) {
	if err := mayManageDrafts(u); err != nil {
		return nil, err
	}
	if _, err := a.visibleCampaign(ctx, u, campaignID); err != nil {
		return nil, err
	}
	list, err := a.Store.Drafts(ctx, u.AccountID, campaignID)
	if err != nil {
		return nil, storeErr(err)
	}
	out := make([]DraftView, len(list))
	for i, d := range list {
		out[i] = a.draftView(ctx, d)
	}
	return out, nil
}

// GetDraft answers draft id of u's account.
func (a *App) GetDraft(ctx context.Context, u User, id string) (DraftView, error) {
	d, err := a.managedDraft(ctx, u, id)
	if err != nil {
		return DraftView{}, err
	}
	return a.draftView(ctx, d), nil
}

// managedDraft admits holders of drafts.build and loads draft id of their account.
func (a *App) managedDraft(ctx context.Context, u User, id string) (ApprovalDraft, error) {
	if err := mayManageDrafts(u); err != nil {
		return ApprovalDraft{}, err
	}
	d, err := a.Store.Draft(ctx, u.AccountID, id)
	return d, storeErr(err)
}

// RotateDraftLink issues a new share token for draft id; the old link opens nothing from then on
// (R-DRAFT-11). It needs users.manage (admins): revoking an outsider's access is access management.
func (a *App) RotateDraftLink(ctx context.Context, u User, id string) (DraftView, error) {
	if err := requirePermission(u, storage.PermUsersManage); err != nil {
		return DraftView{}, err
	}
	if a.Sealer == nil {
		return DraftView{}, errors.New("no SIGNOFF_SECRET_KEY configured")
	}
	tok, hash := sharelink.NewToken()
	d, err := a.Store.RotateDraftToken(ctx, u.AccountID, id, hash, a.Sealer.Seal(tok))
	if errors.Is(err, storage.ErrDraftNotReady) {
		return DraftView{}, errs.Wrap(errs.DraftNotReady, "the draft has no link yet: it is still building or it failed", err)
	}
	if err != nil {
		return DraftView{}, storeErr(err)
	}
	return a.draftView(ctx, d), nil
}

// draftView adds the share link to a built draft, opening its sealed token; a draft still building
// or failed has none, and neither has any draft when no Sealer is configured (that is logged).
func (a *App) draftView(ctx context.Context, d ApprovalDraft) DraftView {
	v := DraftView{Draft: d}
	if d.Status == storage.DraftStatusProcessing || d.Status == storage.DraftStatusFailed || d.TokenSealed == nil {
		return v
	}
	if a.Sealer == nil {
		a.logger(ctx).Error("no SIGNOFF_SECRET_KEY: cannot show share links")
		return v
	}
	tok, err := a.Sealer.Open(d.TokenSealed)
	if err != nil {
		a.logger(ctx).Error("open share token", zap.String("draft_id", d.ID), zap.Error(err))
		return v
	}
	u := a.PublicURL + "/r/" + tok
	v.ShareURL = &u
	return v
}

// FeedbackPageInput asks for one page of a draft's feedback: Limit items (nil for MaxFeedbackPage)
// after the item at After (nil for the first page).
type FeedbackPageInput struct {
	DraftID string
	Limit   *int
	After   *FeedbackKey
}

// FeedbackPage is one page of the client's feedback as the CSM sees it (R-DRAFT-12): the items saved
// so far are InReview until the client submits, Submitted after; Next is where the next page starts,
// nil on the last page.
type FeedbackPage struct {
	Status    string
	InReview  []FeedbackItem
	Submitted []FeedbackItem
	Next      *FeedbackKey
}

// DraftFeedback answers a page of the client's feedback on a draft of u's account.
func (a *App) DraftFeedback(ctx context.Context, u User, in FeedbackPageInput) (FeedbackPage, error) {
	d, err := a.managedDraft(ctx, u, in.DraftID)
	if err != nil {
		return FeedbackPage{}, err
	}
	limit := MaxFeedbackPage
	if in.Limit != nil {
		if *in.Limit < 1 || *in.Limit > MaxFeedbackPage {
			return FeedbackPage{}, ErrFeedbackLimit
		}
		limit = *in.Limit
	}
	items, more, err := a.Store.DraftFeedbackPage(ctx, d.ID, in.After, limit)
	if err != nil {
		return FeedbackPage{}, storeErr(err)
	}
	if items == nil {
		items = []FeedbackItem{}
	}
	page := FeedbackPage{Status: d.Status, InReview: items, Submitted: []FeedbackItem{}}
	if more {
		k := items[len(items)-1].Key()
		page.Next = &k
	}
	if d.SubmittedAt != nil {
		page.InReview, page.Submitted = []FeedbackItem{}, items
	}
	return page, nil
}
