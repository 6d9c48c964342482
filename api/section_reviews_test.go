package api_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/signoff/signoff/errs"
	"github.com/signoff/signoff/storage"
	"github.com/signoff/signoff/workers"
)

// Tests of per-section verdicts (R-POL-4): POST /v1/approval-requests/{id}/review over HTTP, with a
// real worker running the approval workflow, and the database checked after every step.

// sectionReview is a section verdict as the request's JSON shows it.
type sectionReview struct {
	UserID  string    `json:"user_id"`
	Section string    `json:"section"`
	Verdict string    `json:"verdict"`
	Note    string    `json:"note"`
	At      time.Time `json:"at"`
}

// reviewedRequest is a request as the review answers it.
type reviewedRequest struct {
	storage.ApprovalRequest
	SectionReviews []sectionReview `json:"section_reviews"`
}

// sections is a review body: each pair is a section and its verdict, with a note after a colon
// ("copy=change_request:Too long").
func sections(pairs ...string) map[string]any {
	out := map[string]any{}
	for _, p := range pairs {
		name, rest, _ := strings.Cut(p, "=")
		verdict, note, _ := strings.Cut(rest, ":")
		s := map[string]any{"verdict": verdict}
		if note != "" {
			s["note"] = note
		}
		out[name] = s
	}
	return map[string]any{"sections": out}
}

// review posts a review of request id as token and answers the status and the JSON object.
func (e *env) review(t *testing.T, id, token string, body any) (int, map[string]any) {
	t.Helper()
	return e.do(t, http.MethodPost, "/v1/approval-requests/"+id+"/review", token, body)
}

// reviewOK posts a review that must succeed and answers the request.
func (e *env) reviewOK(t *testing.T, id, token string, body any) reviewedRequest {
	t.Helper()
	var out reviewedRequest
	e.doJSON(t, http.StatusOK, http.MethodPost, "/v1/approval-requests/"+id+"/review", token, body, &out)
	return out
}

// reviewAs is a review body and the token that posts it.
type reviewAs struct {
	token string
	body  map[string]any
}

// requireReviewsTooLate posts reviews of decided request id: every one answers 409 already_handled,
// and none writes anything.
func (e *env) requireReviewsTooLate(t *testing.T, id string, reviews ...reviewAs) {
	t.Helper()
	before := dbState(t, e.pool)
	for _, r := range reviews {
		status, body := e.review(t, id, r.token, r.body)
		requireError(t, status, body, http.StatusConflict, string(errs.AlreadyHandled))
	}
	requireNoWrites(t, e.pool, before)
}

// verdictsOf lists a user's verdicts as "section=verdict" in the order given.
func verdictsOf(list []sectionReview, userID string) map[string]string {
	out := map[string]string{}
	for _, s := range list {
		if s.UserID == userID {
			out[s.Section] = s.Verdict
		}
	}
	return out
}

// TestSectionReviewValidation: bad bodies answer 422 naming the field or 400, callers who may not
// approve get what approve gives them, and none of it writes anything.
func TestSectionReviewValidation(t *testing.T) {
	t.Parallel()
	e := newApprovalEnv(t, 2*time.Hour)
	collab := e.A.Users[storage.RoleCollaborator]
	collabTok, approverTok := e.A.Tokens[storage.RoleCollaborator], e.A.Tokens[storage.RoleApprover]
	camp := e.laterCampaign(t, collab, "Sections validated")
	r := e.submit(t, camp.ID, collabTok, e.A.Users[storage.RoleApprover].ID)
	path := "/v1/approval-requests/" + r.ID + "/review"

	before := dbState(t, e.pool)
	long := strings.Repeat("x", 2001)
	for _, tc := range []struct {
		name  string
		body  any
		field string
	}{
		{"no sections", map[string]any{}, "sections"},
		{"empty sections", map[string]any{"sections": map[string]any{}}, "sections"},
		{"null sections", map[string]any{"sections": nil}, "sections"},
		{"sections not an object", map[string]any{"sections": []string{"copy"}}, "sections"},
		{"unknown section", sections("audience=approved", "body=approved"), "sections.body"},
		{"unknown verdict", sections("copy=maybe"), "sections.copy.verdict"},
		{"no verdict", map[string]any{"sections": map[string]any{"schedule": map[string]any{"note": "fine"}}}, "sections.schedule.verdict"},
		{"change request without a note", sections("copy=change_request"), "sections.copy.note"},
		{"change request with a blank note", sections("copy=change_request:   "), "sections.copy.note"},
		{"note too long", sections("audience=approved:" + long), "sections.audience.note"},
		{"change request note too long", sections("audience=approved", "schedule=change_request:"+long), "sections.schedule.note"},
		{"bad section after a good one", sections("audience=approved", "copy=change_request:fix", "schedule=no"), "sections.schedule.verdict"},
		{"unknown field of a section", map[string]any{"sections": map[string]any{"copy": map[string]any{"verdict": "approved", "why": "x"}}}, "why"},
		{"unknown top-level field", map[string]any{"sections": map[string]any{"copy": map[string]any{"verdict": "approved"}}, "verdict": "approved"}, "verdict"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := e.review(t, r.ID, approverTok, tc.body)
			requireInvalid(t, status, body, tc.field)
		})
	}
	for _, raw := range []string{`{"sections":`, `not json`, ``, `null`, `[]`, `{"sections":{}} {}`} {
		rec := serve(e, newRequest(http.MethodPost, path, approverTok, raw))
		requireError(t, rec.Code, decodeObject(t, rec), http.StatusBadRequest, string(errs.MalformedJSON))
	}

	// Who may not approve may not review either, with approve's answers.
	all := sections("audience=approved", "copy=approved", "schedule=approved")
	for _, role := range []string{storage.RoleCSM, storage.RoleEditor, storage.RoleCollaborator} {
		status, body := e.review(t, r.ID, e.A.Tokens[role], all)
		requireError(t, status, body, http.StatusForbidden, string(errs.Forbidden))
		astatus, abody := e.act(t, r.ID, "approve", e.A.Tokens[role], "")
		requireError(t, astatus, abody, status, string(errs.Forbidden))
	}
	// An admin holds the approval right but is not assigned to this request.
	status, body := e.review(t, r.ID, e.A.Tokens[storage.RoleAdmin], sections("copy=change_request:no"))
	requireError(t, status, body, http.StatusForbidden, string(errs.Forbidden))
	status, body = e.act(t, r.ID, "approve", e.A.Tokens[storage.RoleAdmin], "")
	requireError(t, status, body, http.StatusForbidden, string(errs.Forbidden))
	// Another account's user, and an unknown request: 404.
	status, body = e.review(t, r.ID, e.B.Tokens[storage.RoleApprover], all)
	requireError(t, status, body, http.StatusNotFound, string(errs.NotFound))
	status, body = e.review(t, "6f1c1d7e-4a43-4f7e-9a5a-2b1f0b8f9c11", approverTok, all)
	requireError(t, status, body, http.StatusNotFound, string(errs.NotFound))
	requireNoWrites(t, e.pool, before)

	var got reviewedRequest
	e.doJSON(t, http.StatusOK, http.MethodGet, "/v1/approval-requests/"+r.ID, collabTok, nil, &got)
	require.Equal(t, storage.RequestStatusPending, got.Status)
	require.NotNil(t, got.SectionReviews, "GET shows section_reviews, empty before any")
	require.Empty(t, got.SectionReviews)
}

// TestSectionReviewChangeRequestRejects: a change request on copy rejects the request at once with
// the note, in the answer, the history and the submitter's notification; the verdicts are recorded;
// a later review answers 409 already_handled and changes nothing.
func TestSectionReviewChangeRequestRejects(t *testing.T) {
	t.Parallel()
	e := newApprovalEnv(t, 2*time.Hour)
	acct := e.A.Account.ID
	collab, approver := e.A.Users[storage.RoleCollaborator], e.A.Users[storage.RoleApprover]
	collabTok, approverTok := e.A.Tokens[storage.RoleCollaborator], e.A.Tokens[storage.RoleApprover]
	camp := e.laterCampaign(t, collab, "Copy sent back")
	r := e.submit(t, camp.ID, collabTok, approver.ID, e.A.Users[storage.RoleAdmin].ID)

	got := e.reviewOK(t, r.ID, approverTok, sections("audience=approved:Right people", "copy=change_request:The subject promises too much"))
	require.Equal(t, storage.RequestStatusRejected, got.Status)
	require.NotNil(t, got.DecidedBy)
	require.Equal(t, approver.ID, *got.DecidedBy)
	require.Equal(t, "copy: The subject promises too much", got.DecisionNote)
	require.Equal(t, map[string]string{"audience": "approved", "copy": "change_request"}, verdictsOf(got.SectionReviews, approver.ID))
	for _, s := range got.SectionReviews {
		require.False(t, s.At.IsZero())
		if s.Section == "copy" {
			require.Equal(t, "The subject promises too much", s.Note)
		}
	}

	require.Equal(t, storage.RequestStatusRejected, e.storedRequest(t, acct, r.ID).Status)
	require.Equal(t, storage.RequestStatusRejected, e.storedCampaign(t, acct, camp.ID).ApprovalStatus)
	events := e.history(t, "/v1/approval-requests/"+r.ID+"/history", collabTok)
	require.Equal(t, []string{storage.EventSubmitted, storage.EventRejected}, eventTypes(events))
	require.Equal(t, "copy: The subject promises too much", events[1].Note)
	require.NotNil(t, events[1].Actor)
	require.Equal(t, approver.ID, events[1].Actor.ID)
	ns := e.notificationsFor(t, collabTok, r.ID, "approval_rejected")
	require.Len(t, ns, 1)
	require.Contains(t, ns[0]["body"], "copy: The subject promises too much")

	// Several change requests: their notes in section order.
	camp2 := e.laterCampaign(t, collab, "Everything sent back")
	r2 := e.submit(t, camp2.ID, collabTok, approver.ID)
	got = e.reviewOK(t, r2.ID, approverTok, sections("schedule=change_request:Start on Monday", "audience=change_request:Drop the CTOs",
		"copy=approved"))
	require.Equal(t, storage.RequestStatusRejected, got.Status)
	require.Equal(t, "audience: Drop the CTOs\nschedule: Start on Monday", got.DecisionNote)

	// Decided: another review, by either approver, is 409 and writes nothing.
	e.requireReviewsTooLate(t, r.ID, reviewAs{approverTok, sections("copy=approved")},
		reviewAs{e.A.Tokens[storage.RoleAdmin], sections("audience=approved", "copy=approved", "schedule=approved")})
	require.Equal(t, 1, eventCount(t, e, r.ID, storage.EventRejected))
}

// TestSectionReviewThreeApprovalsCountAsOne: three sections approved in three calls are one approval
// by that approver, the request approved (one of N); before the third, the request stays pending and
// the answer, and GET, show the verdicts so far; a section answered again keeps the last answer.
func TestSectionReviewThreeApprovalsCountAsOne(t *testing.T) {
	t.Parallel()
	e := newApprovalEnv(t, 2*time.Hour)
	acct := e.A.Account.ID
	collab, approver, admin := e.A.Users[storage.RoleCollaborator], e.A.Users[storage.RoleApprover], e.A.Users[storage.RoleAdmin]
	collabTok, approverTok, adminTok := e.A.Tokens[storage.RoleCollaborator], e.A.Tokens[storage.RoleApprover], e.A.Tokens[storage.RoleAdmin]
	camp := e.laterCampaign(t, collab, "Approved in parts")
	r := e.submit(t, camp.ID, collabTok, approver.ID, admin.ID)

	got := e.reviewOK(t, r.ID, approverTok, sections("audience=approved"))
	require.Equal(t, storage.RequestStatusPending, got.Status)
	require.Equal(t, map[string]string{"audience": "approved"}, verdictsOf(got.SectionReviews, approver.ID))

	// A change request the approver takes back before sending it would reject; here copy is first
	// approved with a note, then answered again: the last answer wins.
	got = e.reviewOK(t, r.ID, approverTok, sections("copy=approved:first look"))
	require.Equal(t, storage.RequestStatusPending, got.Status)
	got = e.reviewOK(t, r.ID, approverTok, sections("copy=approved:Tone is right"))
	require.Equal(t, storage.RequestStatusPending, got.Status)
	require.Equal(t, map[string]string{"audience": "approved", "copy": "approved"}, verdictsOf(got.SectionReviews, approver.ID))
	require.Len(t, got.SectionReviews, 2)

	// The other approver's partial verdicts are theirs: they do not complete this approver's.
	got = e.reviewOK(t, r.ID, adminTok, sections("schedule=approved"))
	require.Equal(t, storage.RequestStatusPending, got.Status)
	require.Len(t, got.SectionReviews, 3)

	// Users of the account see everyone's verdicts on GET.
	var seen reviewedRequest
	e.doJSON(t, http.StatusOK, http.MethodGet, "/v1/approval-requests/"+r.ID, collabTok, nil, &seen)
	require.Equal(t, storage.RequestStatusPending, seen.Status)
	require.Equal(t, map[string]string{"audience": "approved", "copy": "approved"}, verdictsOf(seen.SectionReviews, approver.ID))
	require.Equal(t, map[string]string{"schedule": "approved"}, verdictsOf(seen.SectionReviews, admin.ID))
	for _, s := range seen.SectionReviews {
		if s.UserID == approver.ID && s.Section == "copy" {
			require.Equal(t, "Tone is right", s.Note)
		}
	}
	require.Equal(t, 0, eventCount(t, e, r.ID, storage.EventApproved))

	got = e.reviewOK(t, r.ID, approverTok, sections("schedule=approved"))
	require.Equal(t, storage.RequestStatusApproved, got.Status)
	require.NotNil(t, got.DecidedBy)
	require.Equal(t, approver.ID, *got.DecidedBy)
	require.Equal(t, "approved audience, copy and schedule\ncopy: Tone is right", got.DecisionNote)
	require.Equal(t, map[string]string{"audience": "approved", "copy": "approved", "schedule": "approved"},
		verdictsOf(got.SectionReviews, approver.ID))

	require.Equal(t, storage.RequestStatusApproved, e.storedRequest(t, acct, r.ID).Status)
	require.Equal(t, storage.RequestStatusApproved, e.storedCampaign(t, acct, camp.ID).ApprovalStatus)
	events := e.history(t, "/v1/approval-requests/"+r.ID+"/history", collabTok)
	require.Equal(t, []string{storage.EventSubmitted, storage.EventApproved}, eventTypes(events))
	require.Equal(t, approver.ID, events[1].Actor.ID)
	require.Equal(t, "approved audience, copy and schedule\ncopy: Tone is right", events[1].Note)
	require.Len(t, e.notificationsFor(t, collabTok, r.ID, "approval_approved"), 1)

	// Decided: the other approver's section post is 409 and changes nothing, as is a late change request.
	e.requireReviewsTooLate(t, r.ID, reviewAs{adminTok, sections("audience=approved", "copy=approved")},
		reviewAs{approverTok, sections("copy=change_request:too late")})
	require.Equal(t, 1, eventCount(t, e, r.ID, storage.EventApproved))
}

// TestSectionReviewConcurrentCompletion: two calls of one approver at once that together complete
// the sections end in exactly one approval, whether they split the sections (both answer 200: the
// first pending, the second approved) or both send all three (one approves; the other is 200 with
// that approval or 409 already_handled when it came after it).
func TestSectionReviewConcurrentCompletion(t *testing.T) {
	t.Parallel()
	e := newApprovalEnv(t, 2*time.Hour)
	acct := e.A.Account.ID
	collab, approver := e.A.Users[storage.RoleCollaborator], e.A.Users[storage.RoleApprover]
	collabTok, approverTok := e.A.Tokens[storage.RoleCollaborator], e.A.Tokens[storage.RoleApprover]

	const rounds = 6
	for i := range rounds {
		camp := e.laterCampaign(t, collab, "Concurrent "+strings.Repeat("I", i+1))
		r := e.submit(t, camp.ID, collabTok, approver.ID, e.A.Users[storage.RoleAdmin].ID)
		bodies := []map[string]any{sections("copy=approved"), sections("schedule=approved")}
		if i%2 == 1 {
			all := sections("audience=approved", "copy=approved", "schedule=approved")
			bodies = []map[string]any{all, all}
		} else {
			e.reviewOK(t, r.ID, approverTok, sections("audience=approved"))
		}
		statuses := make([]string, len(bodies))
		codes := make([]int, len(bodies))
		gate := make(chan struct{})
		var wg sync.WaitGroup
		for j, b := range bodies {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-gate
				rec := e.request(t, http.MethodPost, "/v1/approval-requests/"+r.ID+"/review", approverTok, b)
				codes[j] = rec.Code
				if rec.Code == http.StatusOK {
					statuses[j], _ = decodeObject(t, rec)["status"].(string)
				} else {
					statuses[j] = errorCode(rec.Body.Bytes())
				}
			}()
		}
		close(gate)
		wg.Wait()
		require.Contains(t, statuses, storage.RequestStatusApproved, "round %d: one answer shows the approval: %v %v", i, codes, statuses)
		for j := range codes {
			if i%2 == 0 {
				// Split sections: the call that came first leaves the request pending, the other approves.
				require.Equal(t, http.StatusOK, codes[j], "round %d: %v", i, statuses)
				continue
			}
			// Both send all three: the second to take the approver's lock either finds the approval
			// made (409, as any later decision) or joins it (the same Update id: its one outcome).
			if codes[j] != http.StatusOK {
				require.Equal(t, http.StatusConflict, codes[j], "round %d: %v", i, statuses)
				require.Equal(t, string(errs.AlreadyHandled), statuses[j], "round %d", i)
			}
		}
		require.Equal(t, storage.RequestStatusApproved, e.storedRequest(t, acct, r.ID).Status, "round %d", i)
		require.Equal(t, 1, eventCount(t, e, r.ID, storage.EventApproved), "round %d: exactly one approval", i)
		var n int
		require.NoError(t, e.pool.QueryRow(context.Background(),
			`SELECT count(*) FROM approval_section_reviews WHERE request_id = $1 AND user_id = $2 AND verdict = 'approved'`,
			r.ID, approver.ID).Scan(&n))
		require.Equal(t, 3, n, "round %d: the three verdicts are stored", i)
	}
}

// TestSectionReviewRefusedDecisionTakesVerdictsBack: when the workflow refuses the decision the
// verdicts make (here: its workflow is not started yet, 503 retry_later), the call's verdicts are
// taken back and the ones it replaced put back, so nothing changed; the retry, once the workflow
// runs, approves once.
func TestSectionReviewRefusedDecisionTakesVerdictsBack(t *testing.T) {
	t.Parallel()
	e := newApprovalEnv(t, 2*time.Hour)
	ctx := context.Background()
	acct := e.A.Account.ID
	collab, approver := e.A.Users[storage.RoleCollaborator], e.A.Users[storage.RoleApprover]
	approverTok := e.A.Tokens[storage.RoleApprover]
	camp := e.laterCampaign(t, collab, "Not started yet")
	r, err := e.store.CreateApprovalRequest(ctx, storage.NewApprovalRequest{ID: uuid.NewString(), AccountID: acct,
		CampaignID: camp.ID, SubmittedBy: collab.ID, ApproverIDs: []string{approver.ID}, DeadlineAt: *camp.EndAt, LaunchAt: camp.StartAt})
	require.NoError(t, err)

	// Partial verdicts need no workflow: they are stored.
	got := e.reviewOK(t, r.ID, approverTok, sections("audience=approved", "copy=approved:first"))
	require.Equal(t, storage.RequestStatusPending, got.Status)
	require.Len(t, got.SectionReviews, 2)

	before := dbState(t, e.pool)
	status, body := e.review(t, r.ID, approverTok, sections("copy=approved:second", "schedule=approved"))
	requireError(t, status, body, http.StatusServiceUnavailable, string(errs.RetryLater))
	requireNoWrites(t, e.pool, before)
	status, body = e.review(t, r.ID, approverTok, sections("schedule=change_request:Later, please"))
	requireError(t, status, body, http.StatusServiceUnavailable, string(errs.RetryLater))
	requireNoWrites(t, e.pool, before)

	n, err := workers.Sweep(ctx, e.server.App.Temporal, e.store, e.server.App.TaskQueue, 0)
	require.NoError(t, err)
	require.GreaterOrEqual(t, n, 1)
	got = e.reviewOK(t, r.ID, approverTok, sections("copy=approved:second", "schedule=approved"))
	require.Equal(t, storage.RequestStatusApproved, got.Status)
	require.Equal(t, "approved audience, copy and schedule\ncopy: second", got.DecisionNote)
	require.Equal(t, 1, eventCount(t, e, r.ID, storage.EventApproved))
}

// TestSectionReviewSelfApproval: with self-approval turned off after the submitter was made an
// approver of their own request, their section verdicts that could only approve are refused as
// approve is (403, nothing written); a change request, which rejects, goes through as reject does.
func TestSectionReviewSelfApproval(t *testing.T) {
	t.Parallel()
	e := newApprovalEnv(t, 2*time.Hour)
	approver, approverTok := e.A.Users[storage.RoleApprover], e.A.Tokens[storage.RoleApprover]
	c := e.laterCampaign(t, approver, "Self review")
	r := e.submit(t, c.ID, approverTok, approver.ID)
	status, body := e.do(t, http.MethodPatch, "/v1/account/settings", e.A.Tokens[storage.RoleAdmin], map[string]any{"allow_self_approval": false})
	require.Equal(t, http.StatusOK, status, body)

	before := dbState(t, e.pool)
	status, body = e.review(t, r.ID, approverTok, sections("audience=approved"))
	requireError(t, status, body, http.StatusForbidden, string(errs.Forbidden))
	status, body = e.act(t, r.ID, "approve", approverTok, "")
	requireError(t, status, body, http.StatusForbidden, string(errs.Forbidden))
	requireNoWrites(t, e.pool, before)

	got := e.reviewOK(t, r.ID, approverTok, sections("audience=approved", "schedule=change_request:Wrong week"))
	require.Equal(t, storage.RequestStatusRejected, got.Status)
	require.Equal(t, "schedule: Wrong week", got.DecisionNote)
}
