package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/signoff/signoff/errs"
	"github.com/signoff/signoff/storage"
)

// Per-section verdicts (R-POL-4): an approver may answer a pending request per section (audience,
// copy, schedule) instead of all at once, in one call or several. The verdicts are stored first,
// per (request, approver, section), under the lock of the approver's assignment; then the approver's
// verdicts so far decide: any change_request rejects the request with the notes, all three approved
// approve it, through the API's own decide (the same approve and reject Updates, validators, 409s,
// notifications, history and webhooks). Otherwise the request stays pending.
//
// A section answered before may be answered again while the request is pending: the last answer
// wins. An approver corrects a verdict before the others are in, as they would edit a note; once the
// request is decided the verdicts are frozen (409 already_handled).
//
// Crashes and races: the approval's Update id is derived from the request and the approver, so two
// calls of one approver that both see the three sections approved (or a retry after a crash between
// the write and the Update) send one Update and get its one outcome: one approval. A rejection's
// Update id also names the call. When the workflow definitely refuses the decision (someone decided
// first, the deadline passed, the approver was removed, the workflow is not started yet) the call
// takes back the verdicts it wrote, so stored verdicts never disagree with a decision that was
// refused; when its outcome is unknown (a timeout) they stay, and the approver's retry, or next
// call, sends the same decision again.

// SectionAnswer is an approver's verdict on one section: approved or change_request, and a note
// (required for a change_request).
type SectionAnswer struct {
	Verdict string
	Note    string
}

// SectionReview is one approver's verdict on one section of a request.
type SectionReview = storage.SectionReview

// ReviewInput is a per-section review of request RequestID.
type ReviewInput struct {
	RequestID string
	// Sections maps a section (audience, copy, schedule) to its answer; at least one.
	Sections map[string]SectionAnswer
	// CallID names the call, for the id of the rejection's Update: a keyed retry sends the id its
	// first attempt sent. Empty is a fresh id.
	CallID string
}

// Review records u's per-section verdicts on a pending request and, when they decide it, rejects or
// approves it as u through decide (R-POL-4). It answers the request with every approver's verdicts.
// Who may post is who may approve: the approval right, assigned, the request pending, and not one's
// own request with self-approval off (unless the call requests changes, which rejects).
func (a *App) Review(ctx context.Context, u User, in ReviewInput) (ApprovalRequest, error) {
	verdicts, err := checkSections(in.Sections)
	if err != nil {
		return ApprovalRequest{}, err
	}
	h, err := a.Store.RequestHead(ctx, u.AccountID, in.RequestID)
	if err != nil {
		return ApprovalRequest{}, storeErr(err)
	}
	return a.review(ctx, u, h.Request, verdicts, in.CallID)
}

// checkSections validates the sections of a review and answers them as verdicts in section order; a
// 422 names the field (sections, sections.copy, sections.copy.verdict, sections.copy.note).
func checkSections(sections map[string]SectionAnswer) ([]storage.SectionVerdict, error) {
	if len(sections) == 0 {
		return nil, errs.Invalid("sections", "answer at least one section: audience, copy or schedule")
	}
	keys := make([]string, 0, len(sections))
	for k := range sections {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !slices.Contains(storage.Sections, k) {
			field := "sections." + k
			if len(k) > 100 {
				field = "sections" // a name this long is no section: name the object rather than echo it
			}
			return nil, errs.Invalid(field, "is not a section: the sections are audience, copy and schedule")
		}
	}
	var out []storage.SectionVerdict
	for _, name := range storage.Sections {
		s, ok := sections[name]
		if !ok {
			continue
		}
		field := "sections." + name
		if s.Verdict != storage.VerdictApproved && s.Verdict != storage.VerdictChangeRequest {
			return nil, errs.Invalid(field+".verdict", "must be approved or change_request")
		}
		if err := checkNote(field+".note", s.Note, s.Verdict == storage.VerdictChangeRequest); err != nil {
			if s.Verdict == storage.VerdictChangeRequest && strings.TrimSpace(s.Note) == "" {
				return nil, errs.Invalid(field+".note", "is required for a change_request: say what should change")
			}
			return nil, err
		}
		out = append(out, storage.SectionVerdict{Section: name, Verdict: s.Verdict, Note: s.Note})
	}
	return out, nil
}

// review checks that u may review r, records the verdicts and takes the decision they make.
func (a *App) review(ctx context.Context, u User, r ApprovalRequest, verdicts []storage.SectionVerdict, callID string) (ApprovalRequest, error) {
	if !u.Can(storage.PermApprovalsApprove) {
		return ApprovalRequest{}, errs.Newf(errs.Forbidden, "you do not have the approval right: your role %s does not have the permission %s",
			u.Role, storage.PermApprovalsApprove)
	}
	requestsChanges := slices.ContainsFunc(verdicts, func(v storage.SectionVerdict) bool { return v.Verdict == storage.VerdictChangeRequest })
	if u.ID == r.SubmittedBy && !requestsChanges {
		st, err := a.Store.Settings(ctx, u.AccountID)
		if err != nil {
			return ApprovalRequest{}, storeErr(err)
		}
		if !st.AllowSelfApproval {
			return ApprovalRequest{}, errs.New(errs.Forbidden, "self-approval is turned off for this account")
		}
	}
	if r.Status == storage.RequestStatusPending && !time.Now().Before(r.DeadlineAt) {
		return ApprovalRequest{}, errs.New(errs.AlreadyHandled, "the request's deadline has passed; it is timing out")
	}
	if callID == "" {
		callID = uuid.NewString()
	}
	rec, err := a.Store.RecordSectionReviews(ctx, u.AccountID, r.ID, u.ID, callID, verdicts)
	switch {
	case errors.Is(err, storage.ErrAlreadyHandled):
		return ApprovalRequest{}, errs.Wrap(errs.AlreadyHandled, "this request was already handled by someone else; reload it", err)
	case errors.Is(err, storage.ErrNotApprover):
		return ApprovalRequest{}, errs.Wrap(errs.Forbidden, "you are not an assigned approver of this request", err)
	case err != nil:
		return ApprovalRequest{}, storeErr(err)
	}
	d, ok := sectionDecision(rec.Mine)
	if !ok {
		return a.ApprovalRequestWithReviews(ctx, u, r.ID)
	}
	d.RequestID = r.ID
	if d.Decision == DecisionApprove {
		d.UpdateID = "review-approve:" + r.ID + ":" + u.ID
	} else {
		d.UpdateID = "review-reject:" + r.ID + ":" + u.ID + ":" + callID
	}
	out, err := a.decide(ctx, u, r, d)
	if err != nil {
		if e, ok := errs.As(err); ok && slices.Contains([]errs.Code{errs.AlreadyHandled, errs.Forbidden, errs.NotFound, errs.RetryLater}, e.Code) {
			// Refused: nothing was decided, so the verdicts of this call go too.
			if uerr := a.Store.UndoSectionReviews(context.WithoutCancel(ctx), r.ID, u.ID, callID, rec.Previous); uerr != nil {
				return ApprovalRequest{}, fmt.Errorf("app: review refused (%w), and its verdicts not taken back: %w", err, uerr)
			}
		}
		return ApprovalRequest{}, err
	}
	out.SectionReviews, err = a.Store.SectionReviews(ctx, u.AccountID, r.ID)
	return out, storeErr(err)
}

// sectionDecision is the decision an approver's verdicts so far make (in section order): any
// change_request rejects, with the notes of the sections that request changes ("copy: …", one line
// each); all three approved approve, with a note that says so and the sections' notes. False: no
// decision yet.
func sectionDecision(mine []SectionReview) (DecideInput, bool) {
	var changes, notes []string
	approved := 0
	for _, s := range mine {
		switch {
		case s.Verdict == storage.VerdictChangeRequest:
			changes = append(changes, s.Section+": "+s.Note)
		case s.Note != "":
			notes = append(notes, s.Section+": "+s.Note)
			approved++
		default:
			approved++
		}
	}
	if len(changes) > 0 {
		return DecideInput{Decision: DecisionReject, Note: strings.Join(changes, "\n")}, true
	}
	if approved < len(storage.Sections) {
		return DecideInput{}, false
	}
	note := "approved audience, copy and schedule"
	if len(notes) > 0 {
		note += "\n" + strings.Join(notes, "\n")
	}
	return DecideInput{Decision: DecisionApprove, Note: note}, true
}

// ApprovalRequestWithReviews is ApprovalRequest with every approver's per-section verdicts
// (R-POL-4): the request as GET /v1/approval-requests/{id} shows it.
func (a *App) ApprovalRequestWithReviews(ctx context.Context, u User, id string) (ApprovalRequest, error) {
	r, err := a.ApprovalRequest(ctx, u, id)
	if err != nil {
		return ApprovalRequest{}, err
	}
	r.SectionReviews, err = a.Store.SectionReviews(ctx, u.AccountID, id)
	return r, storeErr(err)
}
