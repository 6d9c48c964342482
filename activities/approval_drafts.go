package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.uber.org/zap"

	"github.com/signoff/signoff/ai"
	"github.com/signoff/signoff/errs"
	"github.com/signoff/signoff/metrics"
	"github.com/signoff/signoff/sharelink"
	"github.com/signoff/signoff/storage"
)

// Source types of R-DRAFT-1: where ResolveContacts reads a draft's sample contacts.
const (
	SourceSavedSearch   = "saved_search"
	SourceCSV           = "csv"
	SourceCampaignLeads = "campaign_leads"
)

// ContactSource says where a draft's sample contacts come from; its JSON is the one a draft row
// stores.
type ContactSource struct {
	Type          string            `json:"type"`
	SavedSearchID string            `json:"saved_search_id,omitempty"`
	CSVUploadID   string            `json:"csv_upload_id,omitempty"`
	Mapping       map[string]string `json:"mapping,omitempty"`
	CampaignID    string            `json:"campaign_id,omitempty"`
}

// Lead is a sample contact as the build passes it from ResolveContacts to ImportLeads; its JSON is the
// read model's.
type Lead struct {
	ID          string          `json:"id"`
	CampaignID  string          `json:"campaign_id"`
	Position    int             `json:"position"`
	SourceRef   string          `json:"source_ref,omitempty"`
	FirstName   string          `json:"first_name"`
	LastName    string          `json:"last_name"`
	Email       string          `json:"email"`
	Title       string          `json:"title"`
	CompanyName string          `json:"company_name"`
	Domain      string          `json:"domain"`
	Industry    string          `json:"industry"`
	Country     string          `json:"country"`
	CompanySize *int            `json:"company_size"`
	AI          json.RawMessage `json:"ai"`
	AIAt        *time.Time      `json:"ai_at"`
}

// Draft is an approval draft as SubmitReview answers it; its JSON is the read model's.
type Draft struct {
	ID            string          `json:"id"`
	AccountID     string          `json:"account_id"`
	CampaignID    string          `json:"campaign_id"`
	Number        int             `json:"number"`
	Name          string          `json:"name"`
	Status        string          `json:"status"`
	Source        json.RawMessage `json:"source"`
	ContactCount  int             `json:"contact_count"`
	Progress      Progress        `json:"progress"`
	FailureReason *string         `json:"failure_reason"`
	CreatedBy     string          `json:"created_by"`
	CreatedAt     time.Time       `json:"created_at"`
	UpdatedAt     time.Time       `json:"updated_at"`
	ReadyAt       *time.Time      `json:"ready_at"`
	AIDoneAt      *time.Time      `json:"ai_done_at"`
	SubmittedAt   *time.Time      `json:"submitted_at"`
}

// Progress is how far a draft's build has come.
type Progress struct {
	Step  string `json:"step"`
	Done  int    `json:"done"`
	Total int    `json:"total"`
}

// draftFromRow maps a stored draft to the activities' Draft.
func draftFromRow(d storage.ApprovalDraft) Draft {
	return Draft{ID: d.ID, AccountID: d.AccountID, CampaignID: d.CampaignID, Number: d.Number, Name: d.Name, Status: d.Status,
		Source: d.Source, ContactCount: d.ContactCount, Progress: Progress(d.Progress), FailureReason: d.FailureReason,
		CreatedBy: d.CreatedBy, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt, ReadyAt: d.ReadyAt, AIDoneAt: d.AIDoneAt,
		SubmittedAt: d.SubmittedAt}
}

// buildFailed is a non-retryable failure with a reason a CSM can act on.
func buildFailed(format string, a ...any) error {
	return errs.Temporal(errs.Newf(errs.BuildFailed, format, a...))
}

// permanentSQLStates are the SQLSTATE classes of Postgres errors no retry cures: the data itself is
// refused (22 data exception, such as an integer out of range or a NUL byte; 23 integrity constraint
// violation; 54 program limit exceeded) or the statement is wrong (42).
var permanentSQLStates = []string{"22", "23", "42", "54"}

// buildStepError makes the error of a build step that no retry can cure non-retryable, with a reason a
// CSM can act on (R-DRAFT-9, SPEC §7: bad input is non-retryable), so the build fails at once instead
// of retrying for ten minutes; anything else (Postgres unreachable, a timeout) stays retryable. doing
// names the step, as in "resolving the contacts".
func buildStepError(doing string, err error) error {
	var appErr *temporal.ApplicationError
	var pgErr *pgconn.PgError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &appErr):
		return err
	case errors.Is(err, storage.ErrNotFound):
		return buildFailed("Something the build needed (the campaign, its copy or the contact source) was deleted while %s. Create a new draft.", doing)
	case errors.As(err, &pgErr) && slices.Contains(permanentSQLStates, pgErr.SQLState()[:min(2, len(pgErr.SQLState()))]):
		what := pgErr.Message
		if pgErr.Detail != "" {
			what += " (" + strings.TrimSuffix(pgErr.Detail, ".") + ")"
		}
		return buildFailed("The database refused the contact data while %s: %s. Correct the contact source (the saved search's filters, "+
			"the CSV's values or the source campaign's leads) and create a new draft.", doing, what)
	}
	return err
}

// DraftInput names a draft of an account.
type DraftInput struct {
	AccountID string
	DraftID   string
}

// CheckBuildCapacity fails fast when the account already has BuildCapacity drafts building.
func (a *Activities) CheckBuildCapacity(ctx context.Context, in DraftInput) error {
	n, err := a.Store.CountProcessingDrafts(ctx, in.AccountID, in.DraftID)
	if err != nil {
		return buildStepError("checking the build capacity", err)
	}
	if a.BuildCapacity > 0 && n >= a.BuildCapacity {
		return buildFailed("Build capacity reached: %d drafts are already building for this account. Retry in a few minutes.", n)
	}
	return nil
}

// ResolveInput is what ResolveContacts resolves.
type ResolveInput struct {
	AccountID string
	DraftID   string
	Source    ContactSource
	Count     int
}

// resolvePageSize is how many directory rows one keyset page reads.
const resolvePageSize = 200

// ResolveContacts picks up to Count usable people from the source: it pages through a saved search
// (keyset pagination, a heartbeat per page), reads CSV rows through the mapping, or samples another
// campaign's leads. People without a first and last name plus a company name or domain are skipped.
func (a *Activities) ResolveContacts(ctx context.Context, in ResolveInput) (_ []Lead, err error) {
	defer func() { err = buildStepError("resolving the contacts", err) }()
	_ = a.Store.SetDraftProgress(ctx, in.DraftID, storage.Progress{Step: "resolving", Total: in.Count})
	var out []storage.Lead
	seen := 0
	take := func(l storage.Lead) {
		seen++
		if len(out) < in.Count && usable(l) {
			out = append(out, l)
		}
	}
	switch in.Source.Type {
	case SourceSavedSearch:
		ss, err := a.Store.SavedSearch(ctx, in.AccountID, in.Source.SavedSearchID)
		if errors.Is(err, storage.ErrNotFound) {
			return nil, buildFailed("The saved search no longer exists. Choose another and create a new draft.")
		}
		if err != nil {
			return nil, err
		}
		if verr := ss.Filters.Validate(); verr != nil {
			return nil, buildFailed("The saved search %q has invalid filters (%v). Correct the saved search and create a new draft.", ss.Name, verr)
		}
		after := "" // a retry starts over: resolving is cheap, and the sample stays the same
		for len(out) < in.Count {
			page, err := a.Store.SearchContacts(ctx, in.AccountID, ss.Filters, after, resolvePageSize)
			if err != nil {
				return nil, err
			}
			for _, c := range page {
				take(storage.Lead{SourceRef: "contact:" + c.ID, FirstName: c.FirstName, LastName: c.LastName, Email: c.Email,
					Title: c.Title, CompanyName: c.CompanyName, Domain: c.Domain, Industry: c.Industry, Country: c.Country,
					CompanySize: c.CompanySize})
			}
			if len(page) < resolvePageSize {
				break
			}
			after = page[len(page)-1].ID
			activity.RecordHeartbeat(ctx, after)
		}
	case SourceCSV:
		up, err := a.Store.CSVUpload(ctx, in.AccountID, in.Source.CSVUploadID)
		if errors.Is(err, storage.ErrNotFound) {
			return nil, buildFailed("The CSV upload no longer exists. Upload the file again and create a new draft.")
		}
		if err != nil {
			return nil, err
		}
		idx := map[string]int{}
		for i, c := range up.Columns {
			idx[c] = i
		}
		get := func(row []string, field string) string {
			col, ok := in.Source.Mapping[field]
			if !ok {
				return ""
			}
			i, ok := idx[col]
			if !ok || i >= len(row) {
				return ""
			}
			return strings.TrimSpace(row[i])
		}
		for i, row := range up.Rows {
			l := storage.Lead{SourceRef: "csv:" + strconv.Itoa(i), FirstName: get(row, "first_name"), LastName: get(row, "last_name"),
				Email: get(row, "email"), Title: get(row, "title"), CompanyName: get(row, "company_name"),
				Domain: strings.ToLower(get(row, "domain")), Industry: get(row, "industry"), Country: get(row, "country")}
			// A size the leads' integer column cannot hold is no size, as text that is no number is.
			if n, err := strconv.Atoi(get(row, "company_size")); err == nil && n >= 0 && n <= storage.MaxCompanySize {
				l.CompanySize = &n
			}
			take(l)
		}
	case SourceCampaignLeads:
		src, err := a.Store.VisibleCampaign(ctx, in.AccountID, in.Source.CampaignID)
		if errors.Is(err, storage.ErrNotFound) {
			return nil, buildFailed("The source campaign no longer exists. Choose another source and create a new draft.")
		}
		if err != nil {
			return nil, err
		}
		leads, err := a.Store.Leads(ctx, in.AccountID, src.ID)
		if err != nil {
			return nil, err
		}
		for _, l := range leads {
			l.SourceRef = "lead:" + l.ID
			l.ID, l.AI, l.AIAt = "", nil, nil
			take(l)
		}
	default:
		return nil, buildFailed("Unknown contact source %q.", in.Source.Type)
	}
	switch {
	case seen == 0:
		return nil, buildFailed("The contact source returned no contacts. Broaden the saved search or use another source, then create a new draft.")
	case len(out) == 0:
		return nil, buildFailed("None of the %d contacts found has the required data (first and last name plus a company name or domain). Adjust the source and create a new draft.", seen)
	}
	leads := make([]Lead, len(out))
	for i, l := range out {
		leads[i] = Lead(l)
	}
	return leads, nil
}

func usable(l storage.Lead) bool {
	return strings.TrimSpace(l.FirstName) != "" && strings.TrimSpace(l.LastName) != "" &&
		(strings.TrimSpace(l.CompanyName) != "" || strings.TrimSpace(l.Domain) != "")
}

// CopyCampaign deep-copies the draft's campaign into a hidden copy (one transaction, idempotent).
func (a *Activities) CopyCampaign(ctx context.Context, in DraftInput) (string, error) {
	_ = a.Store.SetDraftProgress(ctx, in.DraftID, storage.Progress{Step: "copying"})
	id, err := a.Store.CopyCampaignForDraft(ctx, in.AccountID, in.DraftID)
	if errors.Is(err, storage.ErrNotFound) {
		return "", buildFailed("The campaign was deleted while the draft was building.")
	}
	return id, buildStepError("copying the campaign", err)
}

// DeleteCopy removes the draft's copy with its leads: the compensation of CopyCampaign and ImportLeads.
func (a *Activities) DeleteCopy(ctx context.Context, in DraftInput) error {
	return a.Store.DeleteDraftCopy(ctx, in.DraftID)
}

// ImportInput is the resolved sample to import into the copy.
type ImportInput struct {
	AccountID string
	DraftID   string
	CopyID    string
	Leads     []Lead
}

// importBatch is how many leads one statement batch imports between heartbeats.
const importBatch = 25

// ImportLeads imports the sample into the copy in batches, heartbeating and reporting progress; a
// retry imports nothing twice (leads are keyed by their source).
func (a *Activities) ImportLeads(ctx context.Context, in ImportInput) (int, error) {
	total := len(in.Leads)
	n := 0
	for i := 0; i < total; i += importBatch {
		batch := make([]storage.Lead, 0, importBatch)
		for j, l := range in.Leads[i:min(i+importBatch, total)] {
			l.Position = i + j
			batch = append(batch, storage.Lead(l))
		}
		var err error
		if n, err = a.Store.ImportLeads(ctx, in.AccountID, in.CopyID, batch); err != nil {
			return 0, buildStepError("importing the leads", err)
		}
		activity.RecordHeartbeat(ctx, i+len(batch))
		_ = a.Store.SetDraftProgress(ctx, in.DraftID, storage.Progress{Step: "importing", Done: i + len(batch), Total: total})
	}
	if n == 0 {
		return 0, buildFailed("The import produced zero usable leads. Broaden the source or upload a CSV with complete data.")
	}
	return n, nil
}

// FreezeInput names the draft and its copy.
type FreezeInput struct {
	AccountID string
	DraftID   string
	CopyID    string
}

// FreezeSnapshot freezes what the client reviews from the copy and its leads, makes the share token and
// sets the draft ready; it returns the lead ids for the AI pipeline. A retry keeps the first snapshot.
func (a *Activities) FreezeSnapshot(ctx context.Context, in FreezeInput) (ids []string, err error) {
	defer func() { err = buildStepError("freezing the snapshot", err) }()
	if a.Sealer == nil {
		return nil, buildFailed("The worker cannot make share links: it has no SIGNOFF_SECRET_KEY. Ask an administrator to set it, then create a new draft.")
	}
	d, err := a.Store.Draft(ctx, in.AccountID, in.DraftID)
	if err != nil {
		return nil, err
	}
	camp, err := a.Store.Campaign(ctx, in.AccountID, in.CopyID)
	if err != nil {
		return nil, err
	}
	leads, err := a.Store.Leads(ctx, in.AccountID, in.CopyID)
	if err != nil {
		return nil, err
	}
	ids = make([]string, len(leads))
	for i, l := range leads {
		ids[i] = l.ID
	}
	if d.Status != storage.DraftStatusProcessing {
		return ids, nil // already frozen by an earlier attempt
	}
	snap := storage.Snapshot{Campaign: storage.SnapshotCampaign{Name: camp.Name, Kind: camp.Kind},
		Audience: storage.SnapshotAudience{Description: a.audienceDescription(ctx, in.AccountID, d)},
		Leads:    []storage.SnapshotLead{}, Emails: storage.BuildEmails(camp.Content.Sequences), FrozenAt: time.Now().UTC()}
	snap.Audience.Segments = []storage.SnapshotSegment{}
	for i, s := range camp.Content.Segments {
		snap.Audience.Segments = append(snap.Audience.Segments, storage.SnapshotSegment{ID: fmt.Sprintf("segment-%d", i+1),
			Name: s.Name, Description: s.Filters.Describe(), Filters: s.Filters})
	}
	for _, l := range leads {
		snap.Leads = append(snap.Leads, storage.SnapshotLead{ID: l.ID, FirstName: l.FirstName, LastName: l.LastName, Title: l.Title,
			CompanyName: l.CompanyName, Domain: l.Domain, Industry: l.Industry, Country: l.Country, CompanySize: l.CompanySize})
	}
	token, hash := sharelink.NewToken()
	took, made, err := a.Store.MarkDraftReady(ctx, in.DraftID, snap, hash, a.Sealer.Seal(token), len(leads))
	if err != nil {
		return nil, err
	}
	if made {
		a.Metrics.DraftBuilt(metrics.DraftReady, took)
	}
	return ids, nil
}

func (a *Activities) audienceDescription(ctx context.Context, accountID string, d storage.ApprovalDraft) string {
	var src ContactSource
	if err := json.Unmarshal(d.Source, &src); err != nil {
		a.Log.Warn("draft source unreadable; the audience is described without it", zap.String("draft_id", d.ID), zap.Error(err))
	}
	switch src.Type {
	case SourceSavedSearch:
		if ss, err := a.Store.SavedSearch(ctx, accountID, src.SavedSearchID); err == nil {
			return storage.SavedSearchAudience(d.ContactCount, ss.Filters)
		}
	case SourceCSV:
		return fmt.Sprintf("Sample of %d contacts from an uploaded list.", d.ContactCount)
	case SourceCampaignLeads:
		return fmt.Sprintf("Sample of %d leads from another campaign.", d.ContactCount)
	}
	return fmt.Sprintf("Sample of %d contacts.", d.ContactCount)
}

// PersonaliseInput is a batch of leads to run the AI pipeline on.
type PersonaliseInput struct {
	AccountID string
	DraftID   string
	CopyID    string
	LeadIDs   []string
}

// PersonaliseLeads runs qualify, segment, personalise and rewrite on each lead of the batch
// concurrently and attaches each result once (a lead that has one is skipped). A permanent provider
// error is not retried.
func (a *Activities) PersonaliseLeads(ctx context.Context, in PersonaliseInput) (int, error) {
	camp, err := a.Store.Campaign(ctx, in.AccountID, in.CopyID)
	if err != nil {
		return 0, classify(err)
	}
	models, aic := aiContext(camp)
	// Heartbeat while the batch runs: a real model can take longer than the heartbeat timeout.
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				activity.RecordHeartbeat(ctx)
			}
		}
	}()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	done := 0
	for _, id := range in.LeadIDs {
		wg.Add(1)
		go func(id string) {
			defer wg.Done()
			err := a.personalise(ctx, in.AccountID, id, models, aic)
			mu.Lock()
			defer mu.Unlock()
			if err != nil && firstErr == nil {
				firstErr = err
			}
			if err == nil {
				done++
			}
		}(id)
	}
	wg.Wait()
	if n, err := a.Store.CountLeadsWithAI(ctx, in.CopyID); err == nil {
		_ = a.Store.SetDraftProgress(ctx, in.DraftID, storage.Progress{Step: "personalising", Done: n, Total: a.leadTotal(ctx, in)})
	}
	if firstErr != nil {
		if errors.Is(firstErr, ai.ErrPermanent) {
			return done, temporal.NewNonRetryableApplicationError(firstErr.Error(), AIPermanent, firstErr)
		}
		return done, firstErr
	}
	return done, nil
}

func (a *Activities) leadTotal(ctx context.Context, in PersonaliseInput) int {
	d, err := a.Store.Draft(ctx, in.AccountID, in.DraftID)
	if err != nil {
		return 0
	}
	return d.Progress.Total
}

func (a *Activities) personalise(ctx context.Context, accountID, leadID string, models map[string]ai.Model, c ai.Campaign) error {
	l, err := a.Store.Lead(ctx, accountID, leadID)
	if err != nil {
		return err
	}
	if l.AI != nil {
		return nil
	}
	res, err := a.AI.Run(ctx, models, c, ai.Lead{FirstName: l.FirstName, LastName: l.LastName, Title: l.Title,
		CompanyName: l.CompanyName, Domain: l.Domain, Industry: l.Industry, Country: l.Country, CompanySize: l.CompanySize})
	if err != nil {
		return modelFailure(ctx, err)
	}
	if _, err := a.Store.AttachAI(ctx, leadID, res); err != nil {
		return err
	}
	a.Log.Debug("lead personalised", zap.String("lead_id", leadID))
	return nil
}

// modelFailure is the error of a pipeline run that failed. The provider already retried what a retry
// may cure (ai.DefaultMaxAttempts, Retry-After), so the failure is permanent for the activity: asking
// the model again on the activity's retries would multiply its calls. Only a cancelled or timed-out
// activity stays as it is, for Temporal to decide.
func modelFailure(ctx context.Context, err error) error {
	if ctx.Err() != nil || errors.Is(err, ai.ErrPermanent) {
		return err
	}
	return fmt.Errorf("%w: %w", ai.ErrPermanent, err)
}

// aiContext turns a campaign's content into what the pipeline reads.
func aiContext(c storage.Campaign) (map[string]ai.Model, ai.Campaign) {
	models := map[string]ai.Model{}
	out := ai.Campaign{Name: c.Name, Prompts: map[string]string{}}
	if c.Content == nil {
		return models, out
	}
	for _, m := range c.Content.AIModelConfigs {
		models[m.Step] = ai.Model{Provider: m.Provider, Model: m.Model, Temperature: m.Temperature}
	}
	for _, p := range c.Content.Prompts {
		out.Prompts[p.Name] = p.Text
	}
	for _, s := range c.Content.Segments {
		out.Segments = append(out.Segments, ai.SegmentDef{Name: s.Name, Titles: s.Filters.Titles, Industries: s.Filters.Industries, Countries: s.Filters.Countries})
	}
	step := 0
	for _, seq := range c.Content.Sequences {
		for _, st := range seq.Steps {
			step++
			out.Emails = append(out.Emails, ai.EmailStep{Step: step, Subject: st.Subject, Body: st.Body})
		}
	}
	return models, out
}

// FailDraftInput ends a build as failed.
type FailDraftInput struct {
	DraftID string
	Reason  string
}

// MarkDraftFailed records a failed build with its reason.
func (a *Activities) MarkDraftFailed(ctx context.Context, in FailDraftInput) error {
	ended, err := a.Store.MarkDraftFailed(ctx, in.DraftID, in.Reason)
	if ended {
		a.Metrics.DraftBuilt(metrics.DraftFailed, 0)
	}
	return err
}

// MarkDraftAIDone records that every lead has its AI result.
func (a *Activities) MarkDraftAIDone(ctx context.Context, draftID string) error {
	return a.Store.MarkDraftAIDone(ctx, draftID)
}

// SubmitReviewInput is the client's submit of a draft.
type SubmitReviewInput struct {
	DraftID string
	Author  string
	// TokenHash is the hash of the share token the submit came through; nil skips the token check.
	TokenHash []byte
}

// SubmitReview records approved or not_approved once and notifies the CSM; a retry answers the first
// outcome. A submitted review is errs.AlreadyHandled; a token that no longer opens the draft is
// errs.NotFound.
func (a *Activities) SubmitReview(ctx context.Context, in SubmitReviewInput) (Draft, error) {
	d, err := a.Store.SubmitReview(ctx, in.DraftID, in.TokenHash, in.Author)
	if errors.Is(err, storage.ErrReviewClosed) {
		return Draft{}, errs.Temporal(errs.Wrap(errs.AlreadyHandled, "the review is closed", err))
	}
	if err != nil {
		return Draft{}, classify(err)
	}
	a.log(ctx).Info("review submitted", zap.String("draft_id", in.DraftID), zap.String("status", d.Status))
	return draftFromRow(d), nil
}
