package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/signoff/signoff/changes"
	"github.com/signoff/signoff/errs"
	"github.com/signoff/signoff/storage"
	"github.com/signoff/signoff/workflows"
)

// ApprovalRequest is a request to approve one version of a campaign, with its approvers.
type ApprovalRequest = storage.ApprovalRequest

// Approver is a person assigned to decide on a request, and whether they still are.
type Approver = storage.Approver

// Limits of approval requests.
const (
	maxApprovers = 20
	maxNoteChars = 2000
)

// SubmitInput submits campaign CampaignID to approvers.
type SubmitInput struct {
	CampaignID  string
	ApproverIDs []string
	Note        string
	// RequestID is the new request's id: derived from the Idempotency-Key in a keyed call, random
	// otherwise.
	RequestID string
	// Keyed says RequestID derives from an Idempotency-Key: a request of that id an earlier attempt
	// created is answered as it is (its workflow started if that attempt died first) instead of being
	// refused as a second request.
	Keyed bool
}

// Submit submits a campaign u may edit to approvers (R-APPR-2, R-APPR-3): the request row, the
// campaign lock, the event and the notifications commit together, then the request's workflow starts.
func (a *App) Submit(ctx context.Context, u User, in SubmitInput) (ApprovalRequest, error) {
	camp, err := a.editableCampaign(ctx, u, in.CampaignID, "submit")
	if err != nil {
		return ApprovalRequest{}, err
	}
	return a.submit(ctx, u, camp, in)
}

// ResubmitInput cancels the campaign's pending request, applies Changes and submits it again.
type ResubmitInput struct {
	SubmitInput
	// Changes is the edit to apply before submitting; nil submits the campaign as it is.
	Changes *CampaignFields
}

// Resubmit cancels the campaign's pending request (if any), applies the edit and submits it again, in
// one call (R-CAMP-2). Everything is checked before the pending request is cancelled, by the rules
// submit applies to the campaign as the cancel and the edit will leave it: a refused resubmit changes
// nothing.
func (a *App) Resubmit(ctx context.Context, u User, in ResubmitInput) (ApprovalRequest, error) {
	cur, err := a.editableCampaign(ctx, u, in.CampaignID, "resubmit")
	if err != nil {
		return ApprovalRequest{}, err
	}
	if r, ok := a.keyedRequest(ctx, u, cur, in.SubmitInput); ok {
		return r, nil
	}
	var patch *storage.CampaignPatch
	if in.Changes != nil {
		p, err := buildPatch(cur, *in.Changes)
		if err == nil {
			err = a.policyPatch(ctx, u.AccountID, *in.Changes, &p)
		}
		if err != nil {
			return ApprovalRequest{}, err
		}
		patch = &p
	}
	settings, err := a.Store.Settings(ctx, u.AccountID)
	if err != nil {
		return ApprovalRequest{}, storeErr(err)
	}
	next := cur
	if next.ApprovalStatus == storage.RequestStatusPending {
		next.ApprovalStatus = storage.RequestStatusCancelled
	}
	if patch != nil {
		next = edited(next, *patch, settings.JourneyVersionPolicy)
	}
	if _, err := a.checkSubmission(ctx, u, next, in.SubmitInput, settings); err != nil {
		return ApprovalRequest{}, err
	}
	if cur.ApprovalStatus == storage.RequestStatusPending {
		if cur, err = a.cancelPending(ctx, u, cur); err != nil {
			return ApprovalRequest{}, err
		}
	}
	if patch != nil {
		if cur, err = a.applyEdit(ctx, u, cur, *patch); err != nil {
			return ApprovalRequest{}, err
		}
	}
	return a.submit(ctx, u, cur, in.SubmitInput)
}

// cancelPending cancels the pending request of cur, for a resubmit, and answers the campaign as the
// cancel left it.
func (a *App) cancelPending(ctx context.Context, u User, cur Campaign) (Campaign, error) {
	latest, err := a.Store.LatestRequests(ctx, u.AccountID, []string{cur.ID})
	if err != nil {
		return Campaign{}, storeErr(err)
	}
	if r, ok := latest[cur.ID]; ok && r.Status == storage.RequestStatusPending {
		in := DecideInput{RequestID: r.ID, Decision: DecisionCancel, Note: "resubmitted with changes"}
		if _, err := a.decide(ctx, u, r, in); err != nil {
			return Campaign{}, err
		}
	}
	camp, err := a.Store.VisibleCampaign(ctx, u.AccountID, cur.ID)
	return camp, storeErr(err)
}

// submission is what checkSubmission found a submit stores.
type submission struct {
	approvers []string
	deadline  time.Time
	launchAt  *time.Time
	// policy is the resolved approval policy (R-POL-1); nil for the default.
	policy *storage.RequestPolicy
}

// checkSubmission applies every rule of a submission of camp under the account's settings, without
// writing anything: the note, approvals turned on, an active campaign, no open request, a
// submittable state (storage.Submittable), valid approvers and a valid request window.
func (a *App) checkSubmission(ctx context.Context, u User, camp Campaign, in SubmitInput, settings storage.AccountSettings) (submission, error) {
	if err := checkNote("note", in.Note, false); err != nil {
		return submission{}, err
	}
	if !settings.ApprovalEnabled {
		return submission{}, errs.New(errs.ApprovalDisabled, "approvals are turned off for this account: launch the campaign directly")
	}
	if camp.Mode != storage.CampaignModeActive {
		return submission{}, errs.Invalid("mode", "only active launches need approval; test and passive campaigns launch without it")
	}
	if camp.ApprovalStatus == storage.RequestStatusPending {
		return submission{}, requestOpenError()
	}
	if !storage.Submittable(camp.Status, camp.Kind, camp.ApprovalStatus) {
		return submission{}, errs.Newf(errs.NotSubmittable, "a campaign in status %s with approval %s cannot be submitted", camp.Status, camp.ApprovalStatus)
	}
	approvers, err := a.validateApprovers(ctx, u, in.ApproverIDs, settings)
	if err != nil {
		return submission{}, err
	}
	deadline, launchAt, err := a.requestWindow(camp, time.Now())
	if err != nil {
		return submission{}, err
	}
	sub := submission{approvers: approvers, deadline: deadline, launchAt: launchAt}
	p, err := resolvePolicy(camp.ApprovalPolicy, settings.ApprovalPolicy, approvers)
	if err != nil || p == nil {
		return sub, err
	}
	sub.policy = &storage.RequestPolicy{Stages: p.stages, Rules: p.rules}
	sub.approvers = p.approvers()
	if !settings.AllowSelfApproval && slices.Contains(sub.approvers, u.ID) {
		return submission{}, errs.Invalid("approval_policy", "the approval policy names you as an approver and self-approval is turned off for this account")
	}
	return sub, nil
}

// submit checks and stores a request for camp and starts its workflow.
func (a *App) submit(ctx context.Context, u User, camp Campaign, in SubmitInput) (ApprovalRequest, error) {
	if r, ok := a.keyedRequest(ctx, u, camp, in); ok {
		return r, nil
	}
	settings, err := a.Store.Settings(ctx, u.AccountID)
	if err != nil {
		return ApprovalRequest{}, storeErr(err)
	}
	sub, err := a.checkSubmission(ctx, u, camp, in, settings)
	if err != nil {
		return ApprovalRequest{}, err
	}
	// The request keeps the settings as they are now: a later change leaves it as it is (R-ACT-2).
	reminders, err := a.requestReminders(ctx, u, settings)
	if err != nil {
		return ApprovalRequest{}, err
	}
	r, err := a.Store.CreateApprovalRequest(ctx, storage.NewApprovalRequest{ID: in.RequestID, AccountID: u.AccountID,
		CampaignID: camp.ID, SubmittedBy: u.ID, Note: in.Note, ApproverIDs: sub.approvers, DeadlineAt: sub.deadline, LaunchAt: sub.launchAt,
		CountChanges: changes.Count, Reminders: reminders, DecisionLinkBase: storage.DecisionLinkBase(a.PublicURL), Policy: sub.policy})
	switch {
	case errors.Is(err, storage.ErrRequestOpen):
		return ApprovalRequest{}, requestOpenError()
	case errors.Is(err, storage.ErrNotSubmittable):
		// A launch or edit committed between the read above and the insert.
		return ApprovalRequest{}, errs.New(errs.NotSubmittable, "the campaign changed while the request was being submitted and can no longer be submitted; reload it")
	case errors.Is(err, storage.ErrConflict):
		// A retry of a keyed call whose first answer was lost: answer the request it created.
		r, err = a.Store.ApprovalRequest(ctx, u.AccountID, in.RequestID)
	}
	if err != nil {
		return ApprovalRequest{}, storeErr(err)
	}
	// The request is committed: from here on it is never lost. If the start fails, the worker's
	// sweeper starts the workflow from the row.
	a.startRequestWorkflow(ctx, r, camp.Name)
	return r, nil
}

// requestOpenError refuses a second open request of a campaign.
func requestOpenError() error {
	return errs.New(errs.RequestOpen, "this campaign already has an open approval request; cancel it or change its approvers")
}

// keyedRequest finds the request an earlier attempt of this keyed call created for camp, so a
// retry after a crash answers it instead of refusing a second request. The request's workflow is
// started if that attempt died before starting it.
func (a *App) keyedRequest(ctx context.Context, u User, camp Campaign, in SubmitInput) (ApprovalRequest, bool) {
	if !in.Keyed {
		return ApprovalRequest{}, false
	}
	r, err := a.Store.ApprovalRequest(ctx, u.AccountID, in.RequestID)
	if err != nil || r.CampaignID != camp.ID {
		return ApprovalRequest{}, false
	}
	a.startRequestWorkflow(ctx, r, camp.Name)
	return r, true
}

// validateApprovers checks R-APPR-3: at least one approver, each a user of the account with the
// approval right (User.Can, the one check of R-AUTH-5), and not the submitter u unless the account allows self-approval. It answers the
// approvers' ids in their canonical form.
func (a *App) validateApprovers(ctx context.Context, u User, ids []string, settings storage.AccountSettings) ([]string, error) {
	if len(ids) == 0 {
		return nil, errs.Invalid("approver_ids", "choose at least one approver")
	}
	approvers, err := a.usersWithApprovalRight(ctx, u.AccountID, "approver_ids", ids)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(approvers))
	for i, approver := range approvers {
		if approver.ID == u.ID && !settings.AllowSelfApproval {
			return nil, errs.Invalid(fmt.Sprintf("approver_ids[%d]", i), "self-approval is turned off for this account; choose someone else")
		}
		out[i] = approver.ID
	}
	return out, nil
}

// usersWithApprovalRight checks a list of user ids that field names (approver_ids,
// escalation_user_ids): at most maxApprovers, each a distinct user of account accountID who holds the
// approval right (R-AUTH-3). It answers the users in the list's order; a 422 names the first bad entry.
func (a *App) usersWithApprovalRight(ctx context.Context, accountID, field string, ids []string) ([]User, error) {
	if len(ids) > maxApprovers {
		return nil, errs.Invalid(field, fmt.Sprintf("at most %d users", maxApprovers))
	}
	seen := map[string]bool{}
	out := make([]User, 0, len(ids))
	for i, raw := range ids {
		f := fmt.Sprintf("%s[%d]", field, i)
		id, err := uuid.Parse(raw)
		if err != nil {
			return nil, errs.Invalid(f, "is not a user id")
		}
		if seen[id.String()] {
			return nil, errs.Invalid(f, "is listed twice")
		}
		seen[id.String()] = true
		user, err := a.Store.User(ctx, accountID, id.String())
		if errors.Is(err, storage.ErrNotFound) {
			return nil, errs.Invalid(f, "no such user in this account")
		}
		if err != nil {
			return nil, storeErr(err)
		}
		if !user.Can(storage.PermApprovalsApprove) {
			return nil, errs.Invalid(f, fmt.Sprintf("%s does not have the approval right (the permission %s)", user.Name, storage.PermApprovalsApprove))
		}
		out = append(out, user)
	}
	return out, nil
}

// requestReminders resolves the account's reminder and escalation settings for a request u submits
// (R-ACT-2): the escalation users are the listed ones, or the account's admins, who hold the approval
// right now, without u when self-approval is off. With escalation off nothing is read.
func (a *App) requestReminders(ctx context.Context, u User, settings storage.AccountSettings) (storage.RequestReminders, error) {
	out := storage.RequestReminders{ReminderAfter: settings.ReminderAfter, EscalateAfter: settings.EscalateAfter}
	if settings.EscalateAfter == 0 {
		return out, nil
	}
	users, err := a.Store.Users(ctx, u.AccountID)
	if err != nil {
		return storage.RequestReminders{}, storeErr(err)
	}
	byID := make(map[string]User, len(users))
	var admins []string
	for _, user := range users {
		byID[user.ID] = user
		if user.Role == storage.RoleAdmin {
			admins = append(admins, user.ID)
		}
	}
	ids := settings.EscalationUserIDs
	if ids == nil {
		ids = admins
	}
	for _, id := range ids {
		user, ok := byID[id]
		if ok && user.HasApprovalRight() && (user.ID != u.ID || settings.AllowSelfApproval) {
			out.EscalationUserIDs = append(out.EscalationUserIDs, id)
		}
	}
	if len(out.EscalationUserIDs) == 0 {
		out.EscalateAfter = 0 // nobody to escalate to
	}
	return out, nil
}

// requestWindow computes when a request for camp times out and when camp launches (R-APPR-3, R-APPR-6).
func (a *App) requestWindow(camp Campaign, now time.Time) (deadline time.Time, launchAt *time.Time, err error) {
	startsNow := camp.StartAt == nil || !camp.StartAt.After(now)
	if camp.Kind == storage.CampaignKindCampaign && startsNow {
		return deadline, nil, errs.Invalid("start_at", "immediate launches are not permitted: set start_at in the future, then submit")
	}
	if camp.EndAt != nil && !camp.EndAt.After(now) {
		return deadline, nil, errs.Invalid("end_at", "the campaign has already ended; move end_at into the future")
	}
	if startsNow {
		deadline = now.Add(a.ImmediateApprovalWindow)
		if camp.EndAt != nil && camp.EndAt.Before(deadline) {
			deadline = *camp.EndAt
		}
		return deadline.UTC(), nil, nil
	}
	if camp.EndAt == nil {
		return deadline, nil, errs.Invalid("end_at", "is required to submit: a request times out at the campaign's end date")
	}
	start := camp.StartAt.UTC()
	return camp.EndAt.UTC(), &start, nil
}

// ApprovalRequest is request id of u's account; its campaign must exist too.
func (a *App) ApprovalRequest(ctx context.Context, u User, id string) (ApprovalRequest, error) {
	r, err := a.Store.ApprovalRequest(ctx, u.AccountID, id)
	if err != nil {
		return ApprovalRequest{}, storeErr(err)
	}
	if _, err := a.Store.CampaignSummary(ctx, u.AccountID, r.CampaignID); err != nil {
		return ApprovalRequest{}, storeErr(err)
	}
	return r, nil
}

// Decision is what a person decides on a pending request; its value is the name of the workflow
// Update that carries it.
type Decision string

// The decisions on a pending request.
const (
	DecisionApprove Decision = workflows.UpdateApprove
	DecisionReject  Decision = workflows.UpdateReject
	DecisionCancel  Decision = workflows.UpdateCancel
)

// DecideInput is a decision on request RequestID.
type DecideInput struct {
	RequestID string
	Decision  Decision
	// Note is required for a rejection.
	Note string
	// UpdateID is the id of the workflow Update that carries the decision: a keyed retry sends the id
	// its first attempt sent, and the workflow answers that Update's outcome instead of deciding again.
	// Empty is a fresh id.
	UpdateID string
}

// Decide approves, rejects or cancels a pending request as a workflow Update and answers its outcome
// (R-APPR-4, R-APPR-5): approving and rejecting need the approval right (and approving one's own
// request, self-approval allowed); any user of the account may cancel, and the request's history and
// notices name who did.
func (a *App) Decide(ctx context.Context, u User, in DecideInput) (ApprovalRequest, error) {
	if err := checkNote("note", in.Note, in.Decision == DecisionReject); err != nil {
		return ApprovalRequest{}, err
	}
	h, err := a.Store.RequestHead(ctx, u.AccountID, in.RequestID)
	if err != nil {
		return ApprovalRequest{}, storeErr(err)
	}
	return a.decide(ctx, u, h.Request, in)
}

// decide checks that u may take decision in.Decision on r and sends it to r's workflow.
func (a *App) decide(ctx context.Context, u User, r ApprovalRequest, in DecideInput) (ApprovalRequest, error) {
	switch in.Decision {
	case DecisionApprove, DecisionReject:
		if !u.Can(storage.PermApprovalsApprove) {
			return ApprovalRequest{}, errs.Newf(errs.Forbidden, "you do not have the approval right: your role %s does not have the permission %s",
				u.Role, storage.PermApprovalsApprove)
		}
		if in.Decision == DecisionApprove && u.ID == r.SubmittedBy {
			st, err := a.Store.Settings(ctx, u.AccountID)
			if err != nil {
				return ApprovalRequest{}, storeErr(err)
			}
			if !st.AllowSelfApproval {
				return ApprovalRequest{}, errs.New(errs.Forbidden, "self-approval is turned off for this account")
			}
		}
	case DecisionCancel:
		// Any colleague may cancel (R-APPR-4, seed 001): the request belongs to u's account, or
		// RequestHead answered 404.
	default:
		return ApprovalRequest{}, fmt.Errorf("app: unknown decision %q", in.Decision)
	}
	out, err := a.requestUpdate(ctx, r, string(in.Decision), in.UpdateID, workflows.DecisionInput{ActorID: u.ID, Note: in.Note})
	if err == nil && r.Policy != nil {
		// Under a policy the answer shows the stages, which the read model holds (R-POL-2).
		out, err = a.Store.ApprovalRequest(ctx, u.AccountID, r.ID)
		err = storeErr(err)
	}
	return out, err
}

// ChangeApproversInput replaces the approvers of pending request RequestID.
type ChangeApproversInput struct {
	RequestID   string
	ApproverIDs []string
	Note        string
}

// ChangeApprovers replaces a pending request's approvers; only its submitter may (R-APPR-4).
func (a *App) ChangeApprovers(ctx context.Context, u User, in ChangeApproversInput) (ApprovalRequest, error) {
	r, err := a.ApprovalRequest(ctx, u, in.RequestID)
	if err != nil {
		return ApprovalRequest{}, err
	}
	if u.ID != r.SubmittedBy {
		return ApprovalRequest{}, errs.New(errs.Forbidden, "only the submitter may change the approvers")
	}
	if err := checkNote("note", in.Note, false); err != nil {
		return ApprovalRequest{}, err
	}
	settings, err := a.Store.Settings(ctx, u.AccountID)
	if err != nil {
		return ApprovalRequest{}, storeErr(err)
	}
	ids, err := a.validateApprovers(ctx, u, in.ApproverIDs, settings)
	if err != nil {
		return ApprovalRequest{}, err
	}
	out, err := a.requestUpdate(ctx, r, workflows.UpdateChangeApprovers, "",
		workflows.ChangeApproversInput{ActorID: u.ID, ApproverIDs: ids, Note: in.Note})
	return out, err
}
