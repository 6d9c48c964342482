package app

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/signoff/signoff/changes"
	"github.com/signoff/signoff/errs"
	"github.com/signoff/signoff/storage"
)

// The decision link of R-ACT-1: every email asking an approver to decide carries
// {SIGNOFF_PUBLIC_URL}/a/{token}, a page that needs no login, where that approver reads the campaign
// and approves or rejects it. The rules of the page live here: which links work, what they show, the
// form token (CSRF) that guards the decision, and the decision itself, which is the API's own
// (decide, the same workflow Update), acting as the link's approver.
//
// A link works while its approver still holds the assignment and the approval right: it is dead once
// the approver is removed or expires (the link is also revoked in storage then), or loses the right.
// While the request is pending the page has the form. Once it is approved or rejected, the link shows
// who decided and when, for DecisionLinkOutcomeWindow after the decision (an approver opening an
// old email, and the decider after the redirect, see the outcome); after that the link is used up.
// A cancelled, timed out or expired request ends its links at once. Unknown, dead and used-up links
// all answer the same not_found.

// DecisionLinkOutcomeWindow is how long after a decision the request's links still show its outcome;
// after it they answer not_found like unknown links.
const DecisionLinkOutcomeWindow = 7 * 24 * time.Hour

// decisionCSRFMaxAge is how long a decision form may be sent after it was loaded; an older one is
// refused and the page must be opened again.
const decisionCSRFMaxAge = 12 * time.Hour

// decisionCSRFPurpose keys the form tokens' MAC apart from every other use of the secret.
const decisionCSRFPurpose = "decision-link-csrf/v1"

// DecisionLinkState is what a working link shows.
type DecisionLinkState string

// The states of a working link.
const (
	// DecisionLinkOpen: the request is pending; the page has the form.
	DecisionLinkOpen DecisionLinkState = "open"
	// DecisionLinkDecided: the request was approved or rejected; the page shows by whom and when.
	DecisionLinkDecided DecisionLinkState = "decided"
)

// DecisionLinkView is what a decision link's page shows.
type DecisionLinkView struct {
	State DecisionLinkState
	// ApproverID and ApproverName are the approver the link acts as.
	ApproverID   string
	ApproverName string
	Request      ApprovalRequest
	// Campaign is the version the request pins (from campaign_versions, never the working copy).
	Campaign    storage.FrozenFields
	Version     int
	BaseVersion *int
	// Changes are the pinned version's changes against the last approved version (R-VER-6).
	Changes       []Change
	SubmitterName string
	// Others are the other approvers still assigned: who else may decide.
	Others []Approver
	// DeciderName is who decided; "" when the system did (approvals turned off).
	DeciderName  string
	DecidedByYou bool
	// ValidUntil is when the view may change by the passing of time alone (the deadline of an open
	// request, the end of a decided one's outcome window): a copy must not be kept past it.
	ValidUntil time.Time
	// Sections are the link's approver's per-section verdicts so far (R-POL-4), in section order.
	Sections []SectionReview
}

// HashDecisionToken is the hash a decision link is stored and looked up by.
func HashDecisionToken(token string) []byte { return storage.HashDecisionToken(token) }

// decisionLinkNotFound is the one answer of every link that opens nothing.
func decisionLinkNotFound(err error) *errs.Error {
	return errs.Wrap(errs.NotFound, "this link does not exist or is no longer valid", err)
}

// wellFormedDecisionToken reports whether token can be a link's token (43 characters of URL-safe
// base64), so that anything else is refused without a database read.
func wellFormedDecisionToken(token string) bool {
	if len(token) != base64.RawURLEncoding.EncodedLen(32) {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(token)
	return err == nil
}

// loadDecisionLink reads the link of token and applies the liveness rule: a dead link is not_found.
func (a *App) loadDecisionLink(ctx context.Context, token string, now time.Time) (storage.DecisionLink, DecisionLinkState, error) {
	if !wellFormedDecisionToken(token) {
		return storage.DecisionLink{}, "", decisionLinkNotFound(nil)
	}
	l, err := a.Store.DecisionLink(ctx, HashDecisionToken(token))
	if errors.Is(err, storage.ErrNotFound) {
		return l, "", decisionLinkNotFound(err)
	}
	if err != nil {
		return l, "", storeErr(err)
	}
	st, ok := decisionLinkState(l, now)
	if !ok {
		return l, "", decisionLinkNotFound(nil)
	}
	return l, st, nil
}

// decisionLinkState is the liveness rule of a link (see the top of this file): what it shows, or
// false when it is dead.
func decisionLinkState(l storage.DecisionLink, now time.Time) (DecisionLinkState, bool) {
	if l.RevokedAt != nil || l.AssignmentState != storage.ApproverStateAssigned || !l.Approver.HasApprovalRight() {
		return "", false
	}
	switch l.Request.Status {
	case storage.RequestStatusPending:
		return DecisionLinkOpen, true
	case storage.RequestStatusApproved, storage.RequestStatusRejected:
		if l.Request.DecidedAt != nil && now.Before(l.Request.DecidedAt.Add(DecisionLinkOutcomeWindow)) {
			return DecisionLinkDecided, true
		}
	}
	return "", false
}

// DecisionLinkPage answers what the link of token shows (R-ACT-1); a link that opens nothing is
// not_found. It reads and never writes: mail scanners open links.
func (a *App) DecisionLinkPage(ctx context.Context, token string) (DecisionLinkView, error) {
	now := time.Now()
	l, st, err := a.loadDecisionLink(ctx, token, now)
	if err != nil {
		return DecisionLinkView{}, err
	}
	return a.decisionLinkView(ctx, l, st)
}

// decisionLinkView builds the page of link l in state st: the pinned version and its changes.
func (a *App) decisionLinkView(ctx context.Context, l storage.DecisionLink, st DecisionLinkState) (DecisionLinkView, error) {
	r := l.Request
	pairs, err := a.Store.VersionPairs(ctx, r.AccountID, []string{r.ID})
	if err != nil {
		return DecisionLinkView{}, storeErr(err)
	}
	p, ok := pairs[r.ID]
	if !ok {
		return DecisionLinkView{}, fmt.Errorf("app: decision link: request %s has no pinned version", r.ID)
	}
	list, err := changes.BetweenJSON(p.JSON())
	if err != nil {
		return DecisionLinkView{}, fmt.Errorf("app: changes of request %s: %w", r.ID, err)
	}
	v := DecisionLinkView{State: st, ApproverID: l.Approver.ID, ApproverName: l.Approver.Name, Request: r,
		Campaign: p.Pinned, Version: p.Version, BaseVersion: p.BaseVersion, Changes: list, SubmitterName: l.SubmitterName}
	reviews, err := a.Store.SectionReviews(ctx, r.AccountID, r.ID)
	if err != nil {
		return DecisionLinkView{}, storeErr(err)
	}
	for _, s := range reviews {
		if s.UserID == l.Approver.ID {
			v.Sections = append(v.Sections, s)
		}
	}
	slices.SortFunc(v.Sections, func(x, y SectionReview) int {
		return slices.Index(storage.Sections, x.Section) - slices.Index(storage.Sections, y.Section)
	})
	for _, ap := range r.Approvers {
		if ap.State == storage.ApproverStateAssigned && ap.UserID != l.Approver.ID {
			v.Others = append(v.Others, ap)
		}
	}
	switch st {
	case DecisionLinkOpen:
		v.ValidUntil = r.DeadlineAt
	case DecisionLinkDecided:
		if l.DeciderName != nil {
			v.DeciderName = *l.DeciderName
		}
		v.DecidedByYou = r.DecidedBy != nil && *r.DecidedBy == l.Approver.ID
		v.ValidUntil = r.DecidedAt.Add(DecisionLinkOutcomeWindow)
	}
	return v, nil
}

// DecisionCSRF answers a fresh form token for the page of the link whose hash is linkHash: the
// time it was issued and a random nonce, signed (Sealer.MAC) together with the link, so it is good
// for that link only and for decisionCSRFMaxAge. It needs the server's secret (SIGNOFF_SECRET_KEY).
func (a *App) DecisionCSRF(linkHash []byte) (string, error) {
	if a.Sealer == nil {
		return "", errors.New("app: decision links need SIGNOFF_SECRET_KEY to sign their forms")
	}
	var msg [8 + 16]byte
	binary.BigEndian.PutUint64(msg[:8], uint64(time.Now().Unix()))
	if _, err := rand.Read(msg[8:]); err != nil {
		return "", fmt.Errorf("app: csrf nonce: %w", err)
	}
	mac := a.Sealer.MAC(decisionCSRFPurpose, append(append([]byte{}, linkHash...), msg[:]...))
	return base64.RawURLEncoding.EncodeToString(append(msg[:], mac...)), nil
}

// checkDecisionCSRF refuses a form token that was not issued for the link whose hash is linkHash
// (forged, or taken from another link's page), or that is too old (errs.Forbidden).
func (a *App) checkDecisionCSRF(linkHash []byte, csrf string, now time.Time) error {
	if a.Sealer == nil {
		return errors.New("app: decision links need SIGNOFF_SECRET_KEY to check their forms")
	}
	raw, err := base64.RawURLEncoding.DecodeString(csrf)
	if err != nil || len(raw) != 8+16+sha256.Size {
		return errs.New(errs.Forbidden, "this form was not issued by this page; open the link from your email again")
	}
	msg, mac := raw[:24], raw[24:]
	if !hmac.Equal(mac, a.Sealer.MAC(decisionCSRFPurpose, append(append([]byte{}, linkHash...), msg...))) {
		return errs.New(errs.Forbidden, "this form was not issued by this page; open the link from your email again")
	}
	issued := time.Unix(int64(binary.BigEndian.Uint64(msg[:8])), 0)
	if now.Sub(issued) > decisionCSRFMaxAge || issued.Sub(now) > time.Minute {
		return errs.New(errs.Forbidden, "this page was opened too long ago; open the link from your email again")
	}
	return nil
}

// LinkDecisionInput is what a decision page's forms post: the link's token (from the path), the
// action ("approve", "reject", or "sections" for a per-section review), the note, the sections'
// answers (for "sections") and the form token.
type LinkDecisionInput struct {
	Token    string
	Action   string
	Note     string
	Sections map[string]SectionAnswer
	CSRF     string
}

// LinkActionSections is the action of the decision page's per-section form (R-POL-4).
const LinkActionSections = "sections"

// ReviewSections are the sections of a per-section review, in order: audience, copy, schedule.
var ReviewSections = storage.Sections

// DecideByLink takes the decision of a decision page's form (R-ACT-1) as the link's approver, through
// the API's own use case and workflow Update (decide), and records that the link was used. Its errors:
// not_found for a link that opens nothing; forbidden for a form token that is forged, from another
// link's page, too old, or replayed (the one that already decided through the link), and for a
// decision the approver may not take (self-approval turned off); validation_failed for a missing
// action or a rejection without a note; already_handled when the request was decided first, by
// someone else or through another form. Except for not_found and a refused form token, the view of
// the page as it now is comes with the error, for the page to show again with the message. The
// per-section form (action sections, R-POL-4) records the approver's verdicts through review, which
// decides when they do (its 422s name sections.<name>.verdict or .note); verdicts that leave the
// request pending do not use up the form.
func (a *App) DecideByLink(ctx context.Context, in LinkDecisionInput) (DecisionLinkView, error) {
	now := time.Now()
	l, st, err := a.loadDecisionLink(ctx, in.Token, now)
	if err != nil {
		return DecisionLinkView{}, err
	}
	hash := HashDecisionToken(in.Token)
	if err := a.checkDecisionCSRF(hash, in.CSRF, now); err != nil {
		return DecisionLinkView{}, err
	}
	csrfHash := sha256.Sum256([]byte(in.CSRF))
	if l.UsedCSRFHash != nil && bytes.Equal(l.UsedCSRFHash, csrfHash[:]) {
		return DecisionLinkView{}, errs.New(errs.Forbidden, "this form was already sent; open the link from your email again to see the outcome")
	}
	v, err := a.decisionLinkView(ctx, l, st)
	if err != nil {
		return DecisionLinkView{}, err
	}
	if st == DecisionLinkDecided {
		return v, errs.New(errs.AlreadyHandled, "this request was already decided")
	}
	decided, err := a.decideAsLink(ctx, l, in)
	if err == nil && !decided {
		return v, nil // verdicts on some sections: the request is still pending, and the link not used
	}
	if err == nil {
		if merr := a.Store.MarkDecisionLinkUsed(ctx, l.ID, csrfHash[:]); merr != nil {
			// The decision is recorded; only the replay guard of this one form is missing.
			a.logger(ctx).Warn("decision link not marked used", zap.Error(merr))
		}
		return v, nil
	}
	if !errs.Is(err, errs.AlreadyHandled) && !errs.Is(err, errs.Forbidden) {
		return v, err
	}
	// Refused by the workflow: someone decided first, or the approver was removed meanwhile. The page
	// shows the link as it is now.
	l, st, lerr := a.loadDecisionLink(ctx, in.Token, time.Now())
	if lerr != nil {
		return DecisionLinkView{}, lerr
	}
	if v, lerr = a.decisionLinkView(ctx, l, st); lerr != nil {
		return DecisionLinkView{}, lerr
	}
	return v, err
}

// decideAsLink takes the form's decision as the link's approver: a per-section review (review), or
// approve or reject (decide). It answers whether the request was decided: a review may leave it
// pending.
func (a *App) decideAsLink(ctx context.Context, l storage.DecisionLink, in LinkDecisionInput) (bool, error) {
	if in.Action == LinkActionSections {
		verdicts, err := checkSections(in.Sections)
		if err != nil {
			return false, err
		}
		r, err := a.review(ctx, l.Approver, l.Request, verdicts, "")
		return err == nil && r.Status != storage.RequestStatusPending, err
	}
	d, err := linkDecision(in)
	if err != nil {
		return false, err
	}
	_, err = a.decide(ctx, l.Approver, l.Request, DecideInput{RequestID: l.Request.ID, Decision: d, Note: in.Note})
	return err == nil, err
}

// linkDecision checks the form's action and note: approve, or reject with a note (R-APPR-4).
func linkDecision(in LinkDecisionInput) (Decision, error) {
	var d Decision
	switch in.Action {
	case "approve":
		d = DecisionApprove
	case "reject":
		d = DecisionReject
	default:
		return "", errs.Invalid("action", "choose Approve or Reject")
	}
	if d == DecisionReject && strings.TrimSpace(in.Note) == "" {
		return "", errs.Invalid("note", "a rejection needs a note: say what should change")
	}
	if err := checkNote("note", in.Note, false); err != nil {
		return "", err
	}
	return d, nil
}

// EmailParagraphs splits an email body into the paragraphs the changes compare (R-VER-6), for pages
// that show a version's emails.
func EmailParagraphs(body string) []string { return changes.Paragraphs(body) }

// DescribeFilters says in a line what a segment's filters select: "titles CTO, VP Sales; countries
// DE; company size 10–500"; "" for no filter.
func DescribeFilters(f storage.SearchFilters) string {
	var parts []string
	for _, l := range []struct {
		name string
		vals []string
	}{{"titles", f.Titles}, {"industries", f.Industries}, {"countries", f.Countries}, {"keywords", f.Keywords}} {
		if len(l.vals) > 0 {
			parts = append(parts, l.name+" "+strings.Join(l.vals, ", "))
		}
	}
	switch {
	case f.CompanySizeMin != nil && f.CompanySizeMax != nil:
		parts = append(parts, fmt.Sprintf("company size %d–%d", *f.CompanySizeMin, *f.CompanySizeMax))
	case f.CompanySizeMin != nil:
		parts = append(parts, fmt.Sprintf("company size from %d", *f.CompanySizeMin))
	case f.CompanySizeMax != nil:
		parts = append(parts, fmt.Sprintf("company size up to %d", *f.CompanySizeMax))
	}
	return strings.Join(parts, "; ")
}
