package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/signoff/signoff/errs"
	"github.com/signoff/signoff/sharelink"
	"github.com/signoff/signoff/storage"
	"github.com/signoff/signoff/workflows"
)

// Snapshot is the frozen content of a draft a client reviews (R-DRAFT-10).
type Snapshot = storage.Snapshot

// SnapshotCampaign is the campaign's name and kind in a snapshot.
type SnapshotCampaign = storage.SnapshotCampaign

// SnapshotAudience is the audience of a snapshot: its description and segments.
type SnapshotAudience = storage.SnapshotAudience

// SnapshotSegment is one audience segment of a snapshot.
type SnapshotSegment = storage.SnapshotSegment

// SnapshotLead is one sample lead of a snapshot.
type SnapshotLead = storage.SnapshotLead

// SnapshotEmail is one email of a snapshot's sequence, split into paragraphs.
type SnapshotEmail = storage.SnapshotEmail

// Paragraph is one paragraph of a snapshot's email, the smallest thing a client comments on.
type Paragraph = storage.Paragraph

// Limits on what a reviewer writes (R-REVIEW-4).
const (
	MaxReviewComment = 2000
	MaxReviewQuote   = 1000
	MaxReviewAuthor  = 100
)

// reviewSections are the three stages of the review page, each a target of a verdict.
var reviewSections = []string{"audience", "leads", "emails"}

// HashShareToken is the hash a share token is stored and looked up by; the token itself is never kept.
func HashShareToken(token string) []byte { return sharelink.Hash(token) }

// reviewNotFound is the one answer of every token that opens nothing: unknown, rotated, or of a draft
// not built yet (R-REVIEW-2).
func reviewNotFound(err error) *errs.Error {
	return errs.Wrap(errs.NotFound, "this review link does not exist or is no longer valid", err)
}

// reviewClosed refuses a write to a submitted review.
func reviewClosed(err error) *errs.Error {
	return errs.Wrap(errs.ReviewSubmitted, "this review was already submitted; nothing more can be changed", err)
}

// ReviewDraft resolves a share token's hash to the draft it opens; a token that opens nothing is
// errs.NotFound (R-REVIEW-2).
func (a *App) ReviewDraft(ctx context.Context, tokenHash []byte) (ApprovalDraft, error) {
	d, err := a.Store.DraftByTokenHash(ctx, tokenHash)
	if errors.Is(err, storage.ErrNotFound) {
		return ApprovalDraft{}, reviewNotFound(err)
	}
	return d, storeErr(err)
}

// FrozenReview is what never changes in a draft's review once it is built: the snapshot as the
// client sees it, the targets it lets a reviewer write to and, once the AI pipeline is done for every
// lead, their AI results. A caller may keep it per draft and pass it back to ReadReview and the writes.
type FrozenReview struct {
	snap    Snapshot
	targets reviewTargets
	ai      map[string]json.RawMessage // nil until the draft's AI pipeline is done
}

// Snapshot is the frozen snapshot, its audience as the client sees it.
func (f *FrozenReview) Snapshot() Snapshot { return f.snap }

// NewFrozenReview indexes snap for a review: what a verdict or a comment may target.
func NewFrozenReview(snap Snapshot) *FrozenReview {
	return &FrozenReview{snap: snap, targets: newReviewTargets(snap)}
}

// FrozenReview loads the frozen part of draft id's review.
func (a *App) FrozenReview(ctx context.Context, draftID string) (*FrozenReview, error) {
	raw, err := a.Store.DraftSnapshot(ctx, draftID)
	if err != nil {
		return nil, storeErr(err)
	}
	var snap Snapshot
	if err := json.Unmarshal(raw, &snap); err != nil {
		return nil, fmt.Errorf("app: draft %s snapshot: %w", draftID, err)
	}
	snap.Audience = snap.Audience.ForClient()
	return NewFrozenReview(snap), nil
}

// frozenOf is f, or the draft's frozen review loaded when f is nil.
func (a *App) frozenOf(ctx context.Context, draftID string, f *FrozenReview) (*FrozenReview, error) {
	if f != nil {
		return f, nil
	}
	return a.FrozenReview(ctx, draftID)
}

// Review is the public read of a draft under review (R-REVIEW-3): the draft, its frozen snapshot
// with each lead's AI result, and the saved feedback.
type Review struct {
	Draft    ApprovalDraft
	Snapshot Snapshot
	Leads    []ReviewLead
	Feedback []FeedbackItem // never nil
}

// ReviewLead is a snapshot lead with its AI result (JSON null while pending).
type ReviewLead struct {
	Lead SnapshotLead
	AI   json.RawMessage
}

// ReadReview answers the review of draft d. frozen is what an earlier read answered for d, or nil to
// load it; the frozen review returned is the one to keep (it holds the AI results once they are all
// attached).
func (a *App) ReadReview(ctx context.Context, d ApprovalDraft, frozen *FrozenReview) (Review, *FrozenReview, error) {
	f, err := a.frozenOf(ctx, d.ID, frozen)
	if err != nil {
		return Review{}, nil, err
	}
	ai := f.ai
	if ai == nil {
		if ai, err = a.leadsAI(ctx, d); err != nil {
			return Review{}, nil, err
		}
		if d.AIDoneAt != nil {
			f = &FrozenReview{snap: f.snap, targets: f.targets, ai: ai}
		}
	}
	r := Review{Draft: d, Snapshot: f.snap, Leads: make([]ReviewLead, len(f.snap.Leads))}
	for i, l := range f.snap.Leads {
		r.Leads[i] = ReviewLead{Lead: l, AI: ai[l.ID]}
		if r.Leads[i].AI == nil {
			r.Leads[i].AI = json.RawMessage("null")
		}
	}
	if r.Feedback, err = a.ReviewFeedback(ctx, d); err != nil {
		return Review{}, nil, err
	}
	return r, f, nil
}

// leadsAI returns each lead's AI result by lead id.
func (a *App) leadsAI(ctx context.Context, d ApprovalDraft) (map[string]json.RawMessage, error) {
	ai := map[string]json.RawMessage{}
	if d.CopyCampaignID == nil {
		return ai, nil
	}
	leads, err := a.Store.Leads(ctx, d.AccountID, *d.CopyCampaignID)
	if err != nil {
		return nil, storeErr(err)
	}
	for _, l := range leads {
		ai[l.ID] = l.AI
	}
	return ai, nil
}

// ReviewFeedback answers the saved feedback of draft d (never nil).
func (a *App) ReviewFeedback(ctx context.Context, d ApprovalDraft) ([]FeedbackItem, error) {
	fb, err := a.Store.DraftFeedback(ctx, d.ID)
	if err != nil {
		return nil, storeErr(err)
	}
	if fb == nil {
		fb = []FeedbackItem{}
	}
	return fb, nil
}

// Reviewer is who writes to a review: whoever holds a share token, known by the token's hash and the
// draft it opened (ReviewDraft). Frozen is the draft's frozen review when the caller keeps it, else nil.
type Reviewer struct {
	Draft     ApprovalDraft
	TokenHash []byte
	Frozen    *FrozenReview
}

// ReviewItemInput is a verdict (approved, change_request, or nil to clear it) and an optional comment
// on a section, segment, lead, email or paragraph of the snapshot.
type ReviewItemInput struct {
	Target  string
	Verdict *string
	Comment string
	Author  string
}

// ReviewCommentInput is a note or a line comment on a paragraph; a line comment quotes text of it.
type ReviewCommentInput struct {
	Target  string
	Quote   string
	Comment string
	Kind    string
	Author  string
}

// PutReviewItem records a verdict (and optional comment) on one target of the snapshot (R-REVIEW-4).
func (a *App) PutReviewItem(ctx context.Context, r Reviewer, in ReviewItemInput) error {
	f, err := a.frozenOf(ctx, r.Draft.ID, r.Frozen)
	if err != nil {
		return err
	}
	if err := f.CheckItem(in); err != nil {
		return err
	}
	if r.Draft.SubmittedAt != nil {
		return reviewClosed(nil)
	}
	err = a.Store.PutReviewItem(ctx, r.Draft.ID, r.TokenHash, in.Target, in.Verdict, in.Comment, in.Author)
	return reviewWriteErr(err)
}

// AddReviewComment stores a note or a line comment on a paragraph of the snapshot (R-REVIEW-4).
func (a *App) AddReviewComment(ctx context.Context, r Reviewer, in ReviewCommentInput) (FeedbackItem, error) {
	f, err := a.frozenOf(ctx, r.Draft.ID, r.Frozen)
	if err != nil {
		return FeedbackItem{}, err
	}
	if err := f.CheckComment(in); err != nil {
		return FeedbackItem{}, err
	}
	if r.Draft.SubmittedAt != nil {
		return FeedbackItem{}, reviewClosed(nil)
	}
	it, err := a.Store.AddReviewComment(ctx, r.Draft.ID, r.TokenHash, storage.ReviewComment{Target: in.Target, Kind: in.Kind,
		Quote: in.Quote, Comment: in.Comment, Author: in.Author})
	if errors.Is(err, storage.ErrTooManyComments) {
		return FeedbackItem{}, errs.Wrap(errs.TooManyComments, fmt.Sprintf(
			"this draft already holds %d comments, the most it takes; delete one to add another", a.Store.MaxComments()), err)
	}
	return it, reviewWriteErr(err)
}

// reviewWriteErr answers a write the store refused: review_submitted once submitted, the token's 404
// when the token no longer opens the draft.
func reviewWriteErr(err error) error {
	switch {
	case errors.Is(err, storage.ErrReviewClosed):
		return reviewClosed(err)
	case errors.Is(err, storage.ErrNotFound):
		return reviewNotFound(err)
	}
	return storeErr(err)
}

// DeleteReviewComment removes one of the draft's comments; an id that is no comment of this draft
// answers 404.
func (a *App) DeleteReviewComment(ctx context.Context, r Reviewer, commentID string) error {
	id, err := uuid.Parse(commentID)
	if err != nil {
		return errs.New(errs.NotFound, "no such comment on this draft")
	}
	if r.Draft.SubmittedAt != nil {
		return reviewClosed(nil)
	}
	err = a.Store.DeleteReviewComment(ctx, r.Draft.ID, r.TokenHash, id.String())
	switch {
	case errors.Is(err, storage.ErrReviewClosed):
		return reviewClosed(err)
	case errors.Is(err, storage.ErrNotFound):
		return errs.Wrap(errs.NotFound, "no such comment on this draft", err)
	}
	return storeErr(err)
}

// SubmitReviewInput closes a review, signed by Author (optional).
type SubmitReviewInput struct {
	Author string
}

// SubmittedReview is a review's state once submitted.
type SubmittedReview struct {
	Status      string
	SubmittedAt *time.Time
}

// SubmitReview closes the review through the draft workflow (R-REVIEW-6): it happens once; a second
// submit is review_submitted. The workflow checks the token's hash, so a link rotated between the
// lookup and the write answers the token's 404 and submits nothing (R-DRAFT-11).
func (a *App) SubmitReview(ctx context.Context, r Reviewer, in SubmitReviewInput) (SubmittedReview, error) {
	if err := checkReviewText("author", in.Author, false, MaxReviewAuthor); err != nil {
		return SubmittedReview{}, err
	}
	if r.Draft.SubmittedAt != nil {
		return SubmittedReview{}, reviewClosed(nil)
	}
	out, err := a.submitReviewUpdate(ctx, r.Draft.ID, workflows.SubmitReviewInput{Author: in.Author, TokenHash: r.TokenHash})
	if errs.Is(err, errs.NotFound) {
		return SubmittedReview{}, reviewNotFound(err)
	}
	if err != nil {
		return SubmittedReview{}, err
	}
	return SubmittedReview{Status: out.Status, SubmittedAt: out.SubmittedAt}, nil
}

// reviewTargets indexes what a frozen snapshot lets a reviewer target: sections, segments, leads,
// emails and paragraphs (with their text, for quote checks).
type reviewTargets struct {
	items      map[string]bool
	paragraphs map[string]string
}

func newReviewTargets(snap Snapshot) reviewTargets {
	t := reviewTargets{items: map[string]bool{}, paragraphs: map[string]string{}}
	for _, s := range reviewSections {
		t.items[s] = true
	}
	for _, s := range snap.Audience.Segments {
		t.items[s.ID] = true
	}
	for _, l := range snap.Leads {
		t.items[l.ID] = true
	}
	for _, e := range snap.Emails {
		t.items[EmailTarget(e.Step)] = true
		for _, p := range e.Paragraphs {
			t.items[p.ID] = true
			t.paragraphs[p.ID] = p.Text
		}
	}
	return t
}

// EmailTarget is the target id of the email at step of the sequence.
func EmailTarget(step int) string { return "e" + strconv.Itoa(step) }

// CheckItem validates a verdict on the frozen snapshot: the target is part of it, the verdict is
// approved or change_request, and the texts are within their limits.
func (f *FrozenReview) CheckItem(in ReviewItemInput) error {
	if !f.targets.items[in.Target] {
		return errs.Invalid("target", "is not part of this draft")
	}
	if in.Verdict != nil {
		if err := oneOf("verdict", *in.Verdict, storage.FeedbackApproved, storage.FeedbackChangeRequest); err != nil {
			return err
		}
	}
	if err := checkReviewText("comment", in.Comment, false, MaxReviewComment); err != nil {
		return err
	}
	return checkReviewText("author", in.Author, false, MaxReviewAuthor)
}

// CheckComment validates a note or line comment on the frozen snapshot: the target is a paragraph,
// and a quote (required for line comments) is text of that paragraph.
func (f *FrozenReview) CheckComment(in ReviewCommentInput) error {
	text, ok := f.targets.paragraphs[in.Target]
	if !ok {
		return errs.Invalid("target", "is not a paragraph of this draft")
	}
	if err := oneOf("kind", in.Kind, storage.FeedbackNote, storage.FeedbackLineComment); err != nil {
		return err
	}
	if err := checkReviewText("comment", in.Comment, true, MaxReviewComment); err != nil {
		return err
	}
	if err := checkReviewText("quote", in.Quote, in.Kind == storage.FeedbackLineComment, MaxReviewQuote); err != nil {
		return err
	}
	if in.Quote != "" && !strings.Contains(text, in.Quote) {
		return errs.Invalid("quote", "is not text of that paragraph")
	}
	return checkReviewText("author", in.Author, false, MaxReviewAuthor)
}

// checkReviewText is checkText for what a reviewer writes, which must also be NUL-free text.
func checkReviewText(field, v string, required bool, max int) error {
	if !utf8.ValidString(v) || strings.ContainsRune(v, 0) {
		return errs.Invalid(field, "must be valid text")
	}
	return checkText(field, v, required, max)
}

// ReviewFeed hears the review change feed: Listening with true once changes are heard, false with the
// reason when the feed is lost; ReviewChanged with the id of a draft whose review changed.
type ReviewFeed interface {
	Listening(on bool, err error)
	ReviewChanged(draftID string)
}

// DecisionLinkFeed is a ReviewFeed that also hears of changes to decision pages (R-ACT-1):
// DecisionLinksChanged with 'r:<request id>' when a request's status, approvers or links changed,
// 'u:<user id>' when a user's name or approval right did.
type DecisionLinkFeed interface {
	ReviewFeed
	DecisionLinksChanged(payload string)
}

// WatchReviews follows Postgres's feed of review changes until ctx ends, telling feed; after a loss it
// reconnects, waiting at most retryMax between tries. A feed that is also a DecisionLinkFeed hears the
// changes to decision pages on the same connection.
func (a *App) WatchReviews(ctx context.Context, feed ReviewFeed, retryMax time.Duration) error {
	return a.Store.WatchReviewChanges(ctx, feed, retryMax)
}
