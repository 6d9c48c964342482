package api_test

import (
	"context"
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/signoff/signoff/errs"
	"github.com/signoff/signoff/storage"
	"github.com/signoff/signoff/testenv"
)

// requireHTMLPart checks the HTML part of an email written for title and body (R-ACT-4): a whole page
// whose title and heading are the title and whose paragraphs are the body's, escaped, line breaks kept.
func requireHTMLPart(t *testing.T, page, title, body string) {
	t.Helper()
	require.True(t, strings.HasPrefix(page, "<!DOCTYPE html>"), "the HTML part is a page: %.80s", page)
	require.Contains(t, page, "<title>"+html.EscapeString(title)+"</title>")
	require.Contains(t, page, ">"+html.EscapeString(title)+"</h1>")
	for _, p := range strings.Split(body, "\n\n") {
		if m := actionLine.FindStringSubmatch(p); m != nil && strings.Contains(page, `<a href="`+html.EscapeString(m[2])+`"`) {
			// An action of the text part ("label: link") is a button of the HTML part.
			require.Regexp(t, regexp.QuoteMeta(`<a href="`+html.EscapeString(m[2])+`"`)+`[^>]*>`+regexp.QuoteMeta(html.EscapeString(m[1]))+`</a>`, page)
			continue
		}
		require.Contains(t, page, ">"+strings.ReplaceAll(html.EscapeString(p), "\n", "<br>")+"</p>", "paragraph %q", p)
	}
	require.Contains(t, page, "— Signoff")
}

// actionLine is an action of an email's text part: "label: link".
var actionLine = regexp.MustCompile(`^([^\n]+): (https?://\S+)$`)

// me answers GET /v1/me as token.
func (e *env) me(t *testing.T, token string) map[string]any {
	t.Helper()
	status, body := e.do(t, http.MethodGet, "/v1/me", token, nil)
	require.Equal(t, http.StatusOK, status, "%v", body)
	return body
}

// TestNotificationsReadState checks R-ACT-3: notifications carry link (the API path of their subject)
// and read_at; ?unread=true lists the unread ones, newest first; POST …/read marks one read (once: a
// repeat keeps the first read_at); POST /v1/notifications/read-all marks the rest; GET /v1/me counts
// the unread. Nobody reads or marks another user's notifications, in the same account or another.
func TestNotificationsReadState(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	A := e.A
	sub := A.Users[storage.RoleCollaborator]
	approver, tok := A.Users[storage.RoleApprover], A.Tokens[storage.RoleApprover]

	require.Equal(t, float64(0), e.me(t, tok)["unread"])
	var requests []string
	for i := range 3 {
		camp := e.newCampaign(t, A, storage.RoleCollaborator, "Notified "+string(rune('A'+i)))
		r, err := e.store.CreateApprovalRequest(ctx, storage.NewApprovalRequest{ID: testenv.NewUUID(), AccountID: A.Account.ID,
			CampaignID: camp.ID, SubmittedBy: sub.ID, ApproverIDs: []string{approver.ID}, DeadlineAt: time.Now().Add(time.Hour)})
		require.NoError(t, err)
		requests = append(requests, r.ID)
	}
	me := e.me(t, tok)
	require.Equal(t, float64(3), me["unread"])
	require.Equal(t, approver.ID, me["id"], "GET /v1/me still answers the user")
	require.Equal(t, approver.Email, me["email"])

	all := e.listItems(t, "/v1/notifications", tok)
	require.Len(t, all, 3)
	for i, n := range all {
		// Newest first: the last request's notice comes first.
		reqID := requests[len(requests)-1-i]
		require.Equal(t, reqID, n["request_id"])
		require.Equal(t, "/v1/approval-requests/"+reqID, n["link"], "the link is the API path of the subject")
		require.Nil(t, n["read_at"])
		// The link leads somewhere: the request, as its approver may read it.
		status, body := e.do(t, http.MethodGet, n["link"].(string), tok, nil)
		require.Equal(t, http.StatusOK, status, "%v", body)
		require.Equal(t, reqID, body["id"])
	}
	require.Len(t, e.listItems(t, "/v1/notifications?unread=true", tok), 3)
	require.Len(t, e.listItems(t, "/v1/notifications?unread=false", tok), 3, "unread=false lists them all")

	// Mark the middle one read.
	id := all[1]["id"].(string)
	status, body := e.do(t, http.MethodPost, "/v1/notifications/"+id+"/read", tok, nil)
	require.Equal(t, http.StatusOK, status, "%v", body)
	require.Equal(t, id, body["id"])
	readAt := mustTime(t, body["read_at"])
	require.WithinDuration(t, time.Now(), readAt, time.Minute)
	require.Equal(t, all[1]["link"], body["link"])
	unread := e.listItems(t, "/v1/notifications?unread=true", tok)
	require.Len(t, unread, 2)
	require.Equal(t, all[0]["id"], unread[0]["id"])
	require.Equal(t, all[2]["id"], unread[1]["id"])
	require.Equal(t, float64(2), e.me(t, tok)["unread"])
	for _, n := range e.listItems(t, "/v1/notifications", tok) {
		if n["id"] == id {
			require.Equal(t, readAt, mustTime(t, n["read_at"]), "the list shows read_at")
		}
	}
	// Again: the same answer, the first read_at kept.
	status, body = e.do(t, http.MethodPost, "/v1/notifications/"+id+"/read", tok, nil)
	require.Equal(t, http.StatusOK, status, "%v", body)
	require.Equal(t, readAt, mustTime(t, body["read_at"]))

	// Another user's notification, an unknown id and a malformed one are 404 and change nothing.
	before := dbState(t, e.pool)
	for _, c := range []struct{ id, token string }{
		{all[0]["id"].(string), A.Tokens[storage.RoleAdmin]},
		{all[0]["id"].(string), e.B.Tokens[storage.RoleApprover]},
		{testenv.NewUUID(), tok},
		{"not-a-uuid", tok},
	} {
		status, body := e.do(t, http.MethodPost, "/v1/notifications/"+c.id+"/read", c.token, nil)
		requireError(t, status, body, http.StatusNotFound, string(errs.NotFound))
	}
	status, body = e.do(t, http.MethodGet, "/v1/notifications?unread=maybe", tok, nil)
	requireInvalid(t, status, body, "unread")
	// read-all by someone else marks only their own (none here).
	status, body = e.do(t, http.MethodPost, "/v1/notifications/read-all", e.B.Tokens[storage.RoleApprover], nil)
	require.Equal(t, http.StatusOK, status, "%v", body)
	require.Equal(t, float64(0), body["marked"])
	requireNoWrites(t, e.pool, before)

	// read-all marks the two unread ones and leaves the first read_at alone.
	status, body = e.do(t, http.MethodPost, "/v1/notifications/read-all", tok, nil)
	require.Equal(t, http.StatusOK, status, "%v", body)
	require.Equal(t, float64(2), body["marked"])
	require.Empty(t, e.listItems(t, "/v1/notifications?unread=true", tok))
	require.Equal(t, float64(0), e.me(t, tok)["unread"])
	for _, n := range e.listItems(t, "/v1/notifications", tok) {
		require.NotNil(t, n["read_at"], "notification %v", n["id"])
		if n["id"] == id {
			require.Equal(t, readAt, mustTime(t, n["read_at"]))
		}
	}
	status, body = e.do(t, http.MethodPost, "/v1/notifications/read-all", tok, nil)
	require.Equal(t, http.StatusOK, status, "%v", body)
	require.Equal(t, float64(0), body["marked"], "nothing left to mark")

	// The submitter's notifications are their own: still unread.
	require.Equal(t, float64(0), e.me(t, A.Tokens[storage.RoleCollaborator])["unread"], "the submitter was told nothing yet")
	_, err := e.store.Decide(ctx, A.Account.ID, storage.Decision{RequestID: requests[0], Type: storage.EventApproved, ActorID: &approver.ID})
	require.NoError(t, err)
	require.Equal(t, float64(1), e.me(t, A.Tokens[storage.RoleCollaborator])["unread"])
	subUnread := e.listItems(t, "/v1/notifications?unread=true", A.Tokens[storage.RoleCollaborator])
	require.Len(t, subUnread, 1)
	require.Equal(t, "/v1/approval-requests/"+requests[0], subUnread[0]["link"])
}

// TestApproverExpiredNotices checks the notices of R-ACT-3 when an approver loses the right (R-APPR-7),
// end to end with the worker: the submitter is told whether approvers who can decide remain; under
// hold with none left, that they should change the approvers; under expire with none left, the
// expiry's own notice tells them (and no second one).
func TestApproverExpiredNotices(t *testing.T) {
	t.Parallel()
	e := newApprovalEnv(t, 2*time.Hour)
	acct := e.A.Account.ID
	adminTok := e.A.Tokens[storage.RoleAdmin]
	collab, collabTok := e.A.Users[storage.RoleCollaborator], e.A.Tokens[storage.RoleCollaborator]
	revoke := func(userID string) {
		status, body := e.do(t, http.MethodPatch, "/v1/users/"+userID, adminTok, map[string]any{"role": "collaborator"})
		require.Equal(t, http.StatusOK, status, "%v", body)
	}

	// Another approver remains.
	ex, _ := e.userWith(t, acct, "leaves@a.test", storage.RoleApprover, false)
	stays, _ := e.userWith(t, acct, "stays@a.test", storage.RoleApprover, false)
	camp := e.laterCampaign(t, collab, "One of two leaves")
	r := e.submit(t, camp.ID, collabTok, ex.ID, stays.ID)
	revoke(ex.ID)
	e.waitEvent(t, r.ID, storage.EventApproverExpired, 10*time.Second)
	var notices []map[string]any
	eventually(t, 10*time.Second, func() bool {
		notices = e.notificationsFor(t, collabTok, r.ID, "approver_expired")
		return len(notices) == 1
	}, func() string { return "no approver_expired notice" })
	require.Equal(t, "Approver expired: One of two leaves", notices[0]["title"])
	require.Equal(t, ex.Name+` lost the approval right, so they can no longer decide on "One of two leaves". 1 other approver still can.`, notices[0]["body"])
	require.Equal(t, "/v1/approval-requests/"+r.ID, notices[0]["link"])
	require.Nil(t, notices[0]["read_at"])
	require.Equal(t, storage.RequestStatusPending, e.storedRequest(t, acct, r.ID).Status)
	var mails int
	require.NoError(t, e.pool.QueryRow(context.Background(), `SELECT count(*) FROM outbox_emails
		WHERE request_id = $1 AND to_email = $2 AND subject = 'Approver expired: One of two leaves' AND html <> ''`, r.ID, collab.Email).Scan(&mails))
	require.Equal(t, 1, mails, "and by email, in text and HTML")

	// Expire policy, none left: the expiry tells the submitter, once.
	ex2, _ := e.userWith(t, acct, "alone@a.test", storage.RoleApprover, false)
	camp = e.laterCampaign(t, collab, "The only one leaves")
	r = e.submit(t, camp.ID, collabTok, ex2.ID)
	revoke(ex2.ID)
	e.waitStatus(t, acct, r.ID, storage.RequestStatusExpired, 10*time.Second)
	require.Len(t, e.notificationsFor(t, collabTok, r.ID, "approval_expired"), 1)
	require.Empty(t, e.notificationsFor(t, collabTok, r.ID, "approver_expired"), "the expiry's notice says it all")

	// Hold policy, none left: change the approvers.
	status, body := e.do(t, http.MethodPatch, "/v1/account/settings", adminTok, map[string]any{"on_no_approvers": "hold"})
	require.Equal(t, http.StatusOK, status, "%v", body)
	ex3, _ := e.userWith(t, acct, "held@a.test", storage.RoleApprover, false)
	camp = e.laterCampaign(t, collab, "Held")
	r = e.submit(t, camp.ID, collabTok, ex3.ID)
	revoke(ex3.ID)
	eventually(t, 10*time.Second, func() bool {
		notices = e.notificationsFor(t, collabTok, r.ID, "approver_expired")
		return len(notices) == 1
	}, func() string { return "no approver_expired notice under hold" })
	require.Equal(t, ex3.Name+` lost the approval right, so they can no longer decide on "Held". No assigned approver who can decide is left. `+
		`The account holds such requests: it stays pending until you change its approvers (PUT /v1/approval-requests/`+r.ID+`/approvers) or cancel it.`,
		notices[0]["body"])
	require.Equal(t, storage.RequestStatusPending, e.storedRequest(t, acct, r.ID).Status)
}

// TestApproversToldOfAnotherDecision checks, end to end, that the approvers of a request are told when
// someone else decides it or it is cancelled (R-ACT-3), and the one who acted is not.
func TestApproversToldOfAnotherDecision(t *testing.T) {
	t.Parallel()
	e := newApprovalEnv(t, 2*time.Hour)
	acct := e.A.Account.ID
	collab, collabTok := e.A.Users[storage.RoleCollaborator], e.A.Tokens[storage.RoleCollaborator]
	first, firstTok := e.userWith(t, acct, "first@a.test", storage.RoleApprover, false)
	second, secondTok := e.userWith(t, acct, "second@a.test", storage.RoleApprover, false)

	camp := e.laterCampaign(t, collab, "Decided by one")
	r := e.submit(t, camp.ID, collabTok, first.ID, second.ID)
	status, body := e.act(t, r.ID, "reject", firstTok, "not yet")
	require.Equal(t, http.StatusOK, status, "%v", body)
	told := e.notificationsFor(t, secondTok, r.ID, "approval_decided")
	require.Len(t, told, 1)
	require.Equal(t, "Rejected by "+first.Name+": Decided by one", told[0]["title"])
	require.Empty(t, e.notificationsFor(t, firstTok, r.ID, "approval_decided"), "the one who decided is not told")
	rejected := e.notificationsFor(t, collabTok, r.ID, "approval_rejected")
	require.Len(t, rejected, 1)
	require.Contains(t, rejected[0]["body"], "POST /v1/campaigns/"+camp.ID+"/resubmit", "the rejection says how to resubmit")

	camp = e.laterCampaign(t, collab, "Cancelled")
	r = e.submit(t, camp.ID, collabTok, first.ID, second.ID)
	status, body = e.act(t, r.ID, "cancel", collabTok, "")
	require.Equal(t, http.StatusOK, status, "%v", body)
	for _, tok := range []string{firstTok, secondTok} {
		n := e.notificationsFor(t, tok, r.ID, "approval_cancelled")
		require.Len(t, n, 1)
		assert.Equal(t, "/v1/approval-requests/"+r.ID, n[0]["link"])
	}
}
