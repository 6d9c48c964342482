package api_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/signoff/signoff/activities"
	"github.com/signoff/signoff/app"
	"github.com/signoff/signoff/storage"
	"github.com/signoff/signoff/testenv"
)

// Tests of the approver's decision link and page (R-ACT-1), over HTTP against a real worker. The
// browser walk-through is TestDecisionPageBrowser.

// TestDecisionLinkInEveryApproverEmail: every email asking an approver to decide carries a link of
// their own, {SIGNOFF_PUBLIC_URL}/a/{token} with 32 random bytes, at submission, when approvers are
// added and at resubmission; links are stored only as hashes.
func TestDecisionLinkInEveryApproverEmail(t *testing.T) {
	t.Parallel()
	de := newDecisionEnv(t)
	collab, collabTok := de.A.Users[storage.RoleCollaborator], de.A.Tokens[storage.RoleCollaborator]
	a, b := de.A.Users[storage.RoleApprover], de.A.Users[storage.RoleAdmin]
	camp := de.laterCampaign(t, collab, "Links everywhere")
	r := de.submitWithNote(t, camp.ID, collabTok, "Please look at the new copy.", a.ID, b.ID)

	linkA, linkB := de.linkOf(t, r.ID, a), de.linkOf(t, r.ID, b)
	require.NotEqual(t, linkA, linkB, "each approver has a link of their own")
	for _, l := range []string{linkA, linkB} {
		raw, err := base64.RawURLEncoding.DecodeString(tokenOf(l))
		require.NoError(t, err)
		require.Len(t, raw, 32)
	}
	require.Equal(t, 2, de.decisionLinkRows(t, r.ID))
	var stored string
	require.NoError(t, de.pool.QueryRow(context.Background(), `SELECT string_agg(row_to_json(l)::text, ' ') FROM decision_links l`).Scan(&stored))
	require.NotContains(t, stored, tokenOf(linkA), "links are stored hashed")
	require.NotContains(t, stored, tokenOf(linkB), "links are stored hashed")

	// An approver added later gets a link in their email; the ones already asked get no new email.
	c, _ := de.userWith(t, de.A.Account.ID, "carol@a.test", storage.RoleApprover, false)
	var changed storage.ApprovalRequest
	de.doJSON(t, http.StatusOK, http.MethodPut, "/v1/approval-requests/"+r.ID+"/approvers", collabTok,
		map[string]any{"approver_ids": []string{a.ID, b.ID, c.ID}}, &changed)
	linkC := de.linkOf(t, r.ID, c)
	require.Equal(t, http.StatusOK, de.get(t, linkC).Status, "the added approver's link opens the page")
	require.Equal(t, linkA, de.linkOf(t, r.ID, a))

	// A reminder is an email to the approvers too (R-ACT-2): each carries a new link of its own, and
	// the links of the first emails keep working.
	acts := &activities.Activities{Store: de.store, PublicURL: de.server.App.PublicURL, Log: zap.NewNop()}
	reminded, err := acts.RemindApprovers(context.Background(), activities.RemindInput{AccountID: de.A.Account.ID, RequestID: r.ID, N: 1, Of: 3})
	require.NoError(t, err)
	require.Equal(t, 3, reminded.Reminded)
	for _, u := range []storage.User{a, b, c} {
		var body string
		require.NoError(t, de.pool.QueryRow(context.Background(), `SELECT body FROM outbox_emails
			WHERE request_id = $1 AND to_email = $2 AND dedupe_key LIKE '%:reminded:1:%'`, r.ID, u.Email).Scan(&body))
		link := linkPattern.FindString(body)
		require.NotEmpty(t, link, "the reminder to %s carries a decision link:\n%s", u.Email, body)
		require.NotContains(t, []string{linkA, linkB, linkC}, link)
		require.Equal(t, http.StatusOK, de.get(t, link).Status, "the reminder's link opens the page")
	}
	require.Equal(t, http.StatusOK, de.get(t, linkA).Status, "the first link still works")

	// A resubmission is a new request: new emails, new links; the old ones are dead.
	var r2 storage.ApprovalRequest
	de.doJSON(t, http.StatusCreated, http.MethodPost, "/v1/campaigns/"+camp.ID+"/resubmit", collabTok,
		map[string]any{"approver_ids": []string{a.ID}, "note": "Second try."}, &r2)
	require.NotEqual(t, r.ID, r2.ID)
	link2 := de.linkOf(t, r2.ID, a)
	require.NotEqual(t, linkA, link2)
	require.Equal(t, http.StatusOK, de.get(t, link2).Status)
	require.Equal(t, http.StatusNotFound, de.get(t, linkA).Status, "the cancelled request's link is dead")
}

// TestDecisionLinkGetChangesNothing: a mail scanner (a plain client, no cookies) opening links changes
// nothing anywhere; the page shows the request, the campaign and who else decides, with the review
// page's headers and no internal ids.
func TestDecisionLinkGetChangesNothing(t *testing.T) {
	t.Parallel()
	de := newDecisionEnv(t)
	collab, collabTok := de.A.Users[storage.RoleCollaborator], de.A.Tokens[storage.RoleCollaborator]
	a, b := de.A.Users[storage.RoleApprover], de.A.Users[storage.RoleAdmin]
	camp := de.laterCampaign(t, collab, "Scanner <safe> & sound")
	r := de.submitWithNote(t, camp.ID, collabTok, "Launch copy for <Q3>.", a.ID, b.ID)
	link := de.linkOf(t, r.ID, a)
	de.waitEvent(t, r.ID, storage.EventSubmitted, 10*time.Second)
	time.Sleep(200 * time.Millisecond) // the workflow's first steps are done: nothing else writes now

	before := dbState(t, de.pool)
	var first pageAnswer
	for i := range 5 {
		p := de.get(t, link)
		require.Equal(t, http.StatusOK, p.Status, p.Body)
		if i == 0 {
			first = p
		}
		head, err := de.client.Head(link)
		require.NoError(t, err)
		head.Body.Close()
		require.NotEqual(t, http.StatusOK, head.StatusCode, "HEAD is not a route")
	}
	requireNoWrites(t, de.pool, before)
	stored := de.storedRequest(t, de.A.Account.ID, r.ID)
	require.Equal(t, storage.RequestStatusPending, stored.Status)
	require.Equal(t, 1, eventCount(t, de.env, r.ID, ""), "only the submission is in the history")

	h := first.Header
	assert.Equal(t, "no-referrer", h.Get("Referrer-Policy"))
	assert.Contains(t, h.Get("X-Robots-Tag"), "noindex")
	assert.Contains(t, h.Get("Content-Security-Policy"), "script-src 'self'")
	assert.Contains(t, h.Get("Content-Security-Policy"), "form-action 'self'")
	assert.NotContains(t, h.Get("Content-Security-Policy"), "unsafe-inline")
	assert.Equal(t, "DENY", h.Get("X-Frame-Options"))
	assert.Equal(t, "no-store", h.Get("Cache-Control"))
	assert.Contains(t, h.Get("Content-Type"), "text/html")
	assert.Empty(t, h.Values("Set-Cookie"), "the page sets no cookie")

	body := html.UnescapeString(first.Body)
	assert.Contains(t, body, "Scanner <safe> & sound", "the campaign's name")
	assert.Contains(t, first.Body, "Scanner &lt;safe&gt; &amp; sound", "escaped")
	assert.Contains(t, body, "Launch copy for <Q3>.", "the submitter's note")
	assert.Contains(t, body, collab.Name, "who asks")
	assert.Contains(t, body, b.Name, "who else may decide")
	assert.Contains(t, body, camp.StartAt.UTC().Format("Mon 2 Jan 2006, 15:04 UTC"), "the schedule's start")
	assert.Contains(t, body, camp.EndAt.UTC().Format("Mon 2 Jan 2006, 15:04 UTC"), "the schedule's end")
	assert.Contains(t, body, "first approval of this campaign", "the changes: a first approval")
	assert.Contains(t, body, "Hello there.", "the pinned version's email copy")
	assert.NotContains(t, first.Body, "<script", "the page runs no script")
	for _, id := range []string{r.ID, camp.ID, a.ID, b.ID, collab.ID, de.A.Account.ID} {
		assert.NotContains(t, first.Body, id, "no internal id on the page")
	}
}

// TestDecisionLinkApproveShowsChangesAndOutcome: the page shows the pinned version's changes against
// the last approved version; approving through it is the API's decision (history, status), answered
// 303 to the page, which then shows the outcome, as the other approver's link does; a replay of the
// form is refused and changes nothing.
func TestDecisionLinkApproveShowsChangesAndOutcome(t *testing.T) {
	t.Parallel()
	de := newDecisionEnv(t)
	collab, collabTok := de.A.Users[storage.RoleCollaborator], de.A.Tokens[storage.RoleCollaborator]
	a, b := de.A.Users[storage.RoleApprover], de.A.Users[storage.RoleAdmin]
	camp := de.laterCampaign(t, collab, "Second version")
	subject, paragraph := de.approvedBase(t, camp, collabTok, a, de.A.Tokens[storage.RoleApprover])
	r := de.submitWithNote(t, camp.ID, collabTok, "New subject and paragraph.", a.ID, b.ID)
	linkA, linkB := de.linkOf(t, r.ID, a), de.linkOf(t, r.ID, b)

	page, csrf := de.openPage(t, linkA)
	body := html.UnescapeString(page.Body)
	assert.Contains(t, body, "2 changes since version 1")
	assert.Contains(t, body, "Sequence 1 › email 1 › subject")
	assert.Contains(t, body, "Sequence 1 › email 1 › body › paragraph 2")
	assert.Contains(t, body, subject)
	assert.Contains(t, body, paragraph)
	assert.Contains(t, body, "Bye.", "the paragraph before the change")
	assert.Contains(t, body, "version 2")

	ans := de.post(t, linkA, "approve", "Ship it.", csrf)
	require.Equal(t, http.StatusSeeOther, ans.Status, ans.Body)
	require.Equal(t, "/a/"+tokenOf(linkA), ans.Header.Get("Location"), "Post/Redirect/Get to the page")
	got := de.storedRequest(t, de.A.Account.ID, r.ID)
	require.Equal(t, storage.RequestStatusApproved, got.Status)
	require.NotNil(t, got.DecidedBy)
	require.Equal(t, a.ID, *got.DecidedBy, "decided as the link's approver")
	require.Equal(t, "Ship it.", got.DecisionNote)
	events := de.history(t, "/v1/approval-requests/"+r.ID+"/history", collabTok)
	require.Equal(t, []string{storage.EventSubmitted, storage.EventApproved}, eventTypes(events))
	require.Equal(t, a.ID, events[1].Actor.ID)

	after := de.get(t, linkA)
	require.Equal(t, http.StatusOK, after.Status)
	assert.Contains(t, after.Body, "You approved this request")
	assert.NotContains(t, after.Body, `name="csrf"`, "no form once decided")
	other := de.get(t, linkB)
	require.Equal(t, http.StatusOK, other.Status)
	assert.Contains(t, html.UnescapeString(other.Body), a.Name+" approved this request on "+got.DecidedAt.UTC().Format("Mon 2 Jan 2006, 15:04 UTC"))

	// The same form again: refused, nothing changes.
	before := dbState(t, de.pool)
	replay := de.post(t, linkA, "reject", "Changed my mind.", csrf)
	require.Equal(t, http.StatusForbidden, replay.Status, replay.Body)
	assert.Contains(t, replay.Body, "already sent")
	requireNoWrites(t, de.pool, before)
}

// TestDecisionLinkForgedFormRefused: a form token that is missing, made up, altered, or taken from
// another link's page is refused with 403 and changes nothing.
func TestDecisionLinkForgedFormRefused(t *testing.T) {
	t.Parallel()
	de := newDecisionEnv(t)
	collab, collabTok := de.A.Users[storage.RoleCollaborator], de.A.Tokens[storage.RoleCollaborator]
	a, b := de.A.Users[storage.RoleApprover], de.A.Users[storage.RoleAdmin]
	r := de.submit(t, de.laterCampaign(t, collab, "Forged").ID, collabTok, a.ID, b.ID)
	linkA, linkB := de.linkOf(t, r.ID, a), de.linkOf(t, r.ID, b)
	_, csrfA := de.openPage(t, linkA)
	_, csrfB := de.openPage(t, linkB)
	de.waitEvent(t, r.ID, storage.EventSubmitted, 10*time.Second)
	time.Sleep(200 * time.Millisecond)

	random := make([]byte, 56)
	_, _ = rand.Read(random)
	altered := []byte(csrfA)
	altered[len(altered)/2] ^= 1
	before := dbState(t, de.pool)
	for name, csrf := range map[string]string{
		"missing":              "",
		"made up":              base64.RawURLEncoding.EncodeToString(random),
		"altered":              string(altered),
		"another link's page":  csrfB,
		"not base64":           "<script>",
		"the token of the URL": tokenOf(linkA),
	} {
		ans := de.post(t, linkA, "approve", "", csrf)
		require.Equal(t, http.StatusForbidden, ans.Status, "%s: %s", name, ans.Body)
		assert.Contains(t, ans.Body, "Nothing was decided", name)
	}
	requireNoWrites(t, de.pool, before)
	require.Equal(t, storage.RequestStatusPending, de.storedRequest(t, de.A.Account.ID, r.ID).Status)

	// The real one works.
	require.Equal(t, http.StatusSeeOther, de.post(t, linkA, "approve", "", csrfA).Status)
}

// TestDecisionLinkDeadLinksAnswerOne404: unknown and malformed tokens, the link of an approver removed
// from the request, of a cancelled request, of an approver who lost the approval right, and of a
// request decided more than the outcome window ago all answer the same 404 page, to GET and POST.
func TestDecisionLinkDeadLinksAnswerOne404(t *testing.T) {
	t.Parallel()
	de := newDecisionEnv(t)
	collab, collabTok := de.A.Users[storage.RoleCollaborator], de.A.Tokens[storage.RoleCollaborator]
	a, b := de.A.Users[storage.RoleApprover], de.A.Users[storage.RoleAdmin]
	base := de.server.App.PublicURL + "/a/"
	unknown, _ := storage.NewDecisionToken()
	want := de.get(t, base+unknown)
	require.Equal(t, http.StatusNotFound, want.Status)
	require.Contains(t, want.Body, "This link is not available")
	assert.Equal(t, "no-referrer", want.Header.Get("Referrer-Policy"))
	assert.Contains(t, want.Header.Get("Content-Security-Policy"), "default-src 'none'")

	// Removed from the request (PUT approvers): dead at once; the kept approver's link still works.
	r1 := de.submit(t, de.laterCampaign(t, collab, "Removed").ID, collabTok, a.ID, b.ID)
	linkA1, linkB1 := de.linkOf(t, r1.ID, a), de.linkOf(t, r1.ID, b)
	_, csrfB1 := de.openPage(t, linkB1)
	var changed storage.ApprovalRequest
	de.doJSON(t, http.StatusOK, http.MethodPut, "/v1/approval-requests/"+r1.ID+"/approvers", collabTok,
		map[string]any{"approver_ids": []string{a.ID}}, &changed)
	_, csrfA1 := de.openPage(t, linkA1)
	dead := map[string]pageAnswer{"removed approver": de.get(t, linkB1)}
	removedPost := de.post(t, linkB1, "approve", "", csrfB1)

	// Cancelled: every link of the request is dead.
	status, body := de.act(t, r1.ID, "cancel", collabTok, "")
	require.Equal(t, http.StatusOK, status, "%v", body)
	dead["cancelled request"] = de.get(t, linkA1)
	cancelledPost := de.post(t, linkA1, "approve", "", csrfA1)

	// The approver lost the approval right: dead at once, before the workflow expires the assignment.
	c, _ := de.userWith(t, de.A.Account.ID, "carol@a.test", storage.RoleApprover, false)
	r2 := de.submit(t, de.laterCampaign(t, collab, "Lost right").ID, collabTok, a.ID, c.ID)
	linkC := de.linkOf(t, r2.ID, c)
	require.Equal(t, http.StatusOK, de.get(t, linkC).Status)
	status, body = de.do(t, http.MethodPatch, "/v1/users/"+c.ID, de.A.Tokens[storage.RoleAdmin], map[string]any{"role": storage.RoleCollaborator})
	require.Equal(t, http.StatusOK, status, "%v", body)
	// The page kept in memory goes when the change feed tells of the user's change (or the expiry of
	// the assignment that follows it): at once on a quiet machine, a moment later on a busy one.
	var lost pageAnswer
	eventually(t, 10*time.Second, func() bool {
		lost = de.get(t, linkC)
		return lost.Status == http.StatusNotFound
	}, func() string { return "the link of an approver without the right still answers " + lost.Body })
	dead["approver without the right"] = lost

	// Decided longer ago than the outcome window: used up.
	linkA2 := de.linkOf(t, r2.ID, a)
	status, body = de.act(t, r2.ID, "approve", de.A.Tokens[storage.RoleApprover], "")
	require.Equal(t, http.StatusOK, status, "%v", body)
	// (Not opened before the fixture: a page kept in memory would show until its own time is up.)
	de.fx.AgeDecision(t, r2.ID, 8*24*time.Hour)
	dead["decided 8 days ago"] = de.get(t, linkA2)

	dead["malformed token"] = de.get(t, base+"not-a-token")
	dead["unknown token"] = de.get(t, base+unknown)
	dead["removed approver, POST"] = removedPost
	dead["cancelled request, POST"] = cancelledPost
	for name, p := range dead {
		assert.Equal(t, http.StatusNotFound, p.Status, name)
		assert.Equal(t, want.Body, p.Body, "%s: the same page as an unknown link", name)
		assert.Equal(t, want.Header.Get("Content-Type"), p.Header.Get("Content-Type"), name)
	}
}

// TestDecisionLinkRejectNeedsNote: a rejection without a note, a missing action, a note too long and
// a note that is not text (NUL, invalid UTF-8, a control character) are refused with 422 and the page again, the message shown and what was typed kept; nothing
// changes. Then a rejection with a note goes through.
func TestDecisionLinkRejectNeedsNote(t *testing.T) {
	t.Parallel()
	de := newDecisionEnv(t)
	collab, collabTok := de.A.Users[storage.RoleCollaborator], de.A.Tokens[storage.RoleCollaborator]
	a := de.A.Users[storage.RoleApprover]
	r := de.submit(t, de.laterCampaign(t, collab, "Needs a note").ID, collabTok, a.ID)
	link := de.linkOf(t, r.ID, a)
	_, csrf := de.openPage(t, link)
	de.waitEvent(t, r.ID, storage.EventSubmitted, 10*time.Second)
	time.Sleep(200 * time.Millisecond)

	before := dbState(t, de.pool)
	long := strings.Repeat("é", 2001)
	for _, c := range []struct{ name, action, note, message, kept string }{
		{"reject without a note", "reject", "", "A rejection needs a note", ""},
		{"reject with blanks", "reject", "   \n ", "A rejection needs a note", "   \n "},
		{"no action", "", "Looks fine <b>really</b>", "Choose Approve or Reject", "Looks fine &lt;b&gt;really&lt;/b&gt;"},
		{"a note too long", "approve", long, "at most 2000 characters", long},
		{"NUL in a note", "reject", "Fix\x00it", "Must not contain NUL characters", "Fix\uFFFDit"},
		{"invalid UTF-8 in a note", "approve", "Fine \xff here", "Must be valid UTF-8", "Fine \uFFFD here"},
		{"control character in a note", "reject", "Fix\x07it", "Must not contain control characters (found U+0007)", "Fix\x07it"},
	} {
		ans := de.post(t, link, c.action, c.note, csrf)
		require.Equal(t, http.StatusUnprocessableEntity, ans.Status, "%s: %s", c.name, ans.Body)
		assert.Contains(t, html.UnescapeString(ans.Body), c.message, c.name)
		assert.Contains(t, ans.Body, `role="alert"`, c.name)
		assert.Regexp(t, `<textarea id="note"[^>]*>`+regexp.QuoteMeta(c.kept)+`</textarea>`, ans.Body, "%s: the note is kept", c.name)
		csrf = csrfOf(t, pageAnswer{Body: ans.Body}) // the page shown again carries a fresh form
	}
	requireNoWrites(t, de.pool, before)

	ans := de.post(t, link, "reject", "The subject line is off-brand.", csrf)
	require.Equal(t, http.StatusSeeOther, ans.Status, ans.Body)
	got := de.storedRequest(t, de.A.Account.ID, r.ID)
	require.Equal(t, storage.RequestStatusRejected, got.Status)
	require.Equal(t, "The subject line is off-brand.", got.DecisionNote)
	outcome := de.get(t, link)
	assert.Contains(t, outcome.Body, "You rejected this request")
	assert.Contains(t, outcome.Body, "The subject line is off-brand.")
}

// TestDecisionLinkLateClick: a click on a page loaded before someone else decided answers 409 with who
// decided and when (not the not-found page), and changes nothing.
func TestDecisionLinkLateClick(t *testing.T) {
	t.Parallel()
	de := newDecisionEnv(t)
	collab, collabTok := de.A.Users[storage.RoleCollaborator], de.A.Tokens[storage.RoleCollaborator]
	a, b := de.A.Users[storage.RoleApprover], de.A.Users[storage.RoleAdmin]
	r := de.submit(t, de.laterCampaign(t, collab, "Late").ID, collabTok, a.ID, b.ID)
	link := de.linkOf(t, r.ID, a)
	_, csrf := de.openPage(t, link)
	status, body := de.act(t, r.ID, "reject", de.A.Tokens[storage.RoleAdmin], "Not this quarter.")
	require.Equal(t, http.StatusOK, status, "%v", body)
	decided := de.storedRequest(t, de.A.Account.ID, r.ID)

	before := dbState(t, de.pool)
	ans := de.post(t, link, "approve", "", csrf)
	require.Equal(t, http.StatusConflict, ans.Status, ans.Body)
	text := html.UnescapeString(ans.Body)
	assert.Contains(t, text, "Too late")
	assert.Contains(t, text, b.Name+" rejected this request on "+decided.DecidedAt.UTC().Format("Mon 2 Jan 2006, 15:04 UTC"))
	assert.Contains(t, text, "Not this quarter.")
	assert.NotContains(t, text, `name="csrf"`)
	requireNoWrites(t, de.pool, before)
	require.Equal(t, 1, eventCount(t, de.env, r.ID, storage.EventRejected))
	require.Zero(t, eventCount(t, de.env, r.ID, storage.EventApproved))
}

// TestDecisionLinkRace: 100 approve and reject clicks at once on one request with two approvers, half
// through the decision pages' forms and half through the API, over HTTP: exactly one wins, every
// other is told the request was already handled, and the request holds one decision.
func TestDecisionLinkRace(t *testing.T) {
	t.Parallel()
	de := newDecisionEnv(t)
	collab, collabTok := de.A.Users[storage.RoleCollaborator], de.A.Tokens[storage.RoleCollaborator]
	a, b := de.A.Users[storage.RoleApprover], de.A.Users[storage.RoleAdmin]
	r := de.submit(t, de.laterCampaign(t, collab, "Race").ID, collabTok, a.ID, b.ID)
	links := map[string]string{a.ID: de.linkOf(t, r.ID, a), b.ID: de.linkOf(t, r.ID, b)}
	tokens := map[string]string{a.ID: de.A.Tokens[storage.RoleApprover], b.ID: de.A.Tokens[storage.RoleAdmin]}
	approvers := []string{a.ID, b.ID}
	const clicks = 100
	// Every page click comes from a page of its own (its own form token), as from separate tabs.
	csrfs := make([]string, clicks)
	for i := 0; i < clicks; i += 2 {
		_, csrfs[i] = de.openPage(t, links[approvers[(i/2)%2]])
	}

	type result struct {
		via, who, action string
		status           int
		body             string
	}
	results := make([]result, clicks)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range clicks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			who := approvers[(i/2)%2]
			action := []string{"approve", "reject"}[(i/4)%2]
			<-start
			res := result{who: who, action: action}
			if i%2 == 0 {
				res.via = "page"
				resp, err := de.client.PostForm(links[who], map[string][]string{"action": {action}, "note": {"race " + action}, "csrf": {csrfs[i]}})
				if err == nil {
					p := readAnswerNoT(resp)
					res.status, res.body = p.Status, p.Body
				} else {
					res.body = err.Error()
				}
			} else {
				res.via = "api"
				req, _ := http.NewRequest(http.MethodPost, de.srv.URL+"/v1/approval-requests/"+r.ID+"/"+action, strings.NewReader(`{"note":"race `+action+`"}`))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+tokens[who])
				resp, err := de.client.Do(req)
				if err == nil {
					p := readAnswerNoT(resp)
					res.status, res.body = p.Status, p.Body
				} else {
					res.body = err.Error()
				}
			}
			results[i] = res
		}()
	}
	close(start)
	wg.Wait()

	var winners []result
	for _, res := range results {
		switch {
		case res.via == "page" && res.status == http.StatusSeeOther, res.via == "api" && res.status == http.StatusOK:
			winners = append(winners, res)
		case res.via == "page":
			assert.Equal(t, http.StatusConflict, res.status, "a losing page click: %s", res.body)
			assert.Contains(t, res.body, "Too late", "a losing page click is told the request was decided")
		default:
			assert.Equal(t, http.StatusConflict, res.status, "a losing API call: %s", res.body)
			assert.Equal(t, "already_handled", errorCode([]byte(res.body)))
		}
	}
	if len(winners) != 1 { // what the workflow saw, to tell why
		it := testenv.Temporal(t).GetWorkflowHistory(context.Background(), "approval-request/"+r.ID, "", false, 0)
		for it.HasNext() {
			ev, err := it.Next()
			require.NoError(t, err)
			t.Logf("history %d %s %v", ev.EventId, ev.EventType, ev.Attributes)
		}
	}
	require.Len(t, winners, 1, "exactly one click wins")
	w := winners[0]
	got := de.storedRequest(t, de.A.Account.ID, r.ID)
	want := map[string]string{"approve": storage.RequestStatusApproved, "reject": storage.RequestStatusRejected}[w.action]
	require.Equal(t, want, got.Status)
	require.Equal(t, w.who, *got.DecidedBy)
	var decisions int
	require.NoError(t, de.pool.QueryRow(context.Background(), `SELECT count(*) FROM approval_events WHERE request_id = $1
		AND type IN ('approved', 'rejected', 'cancelled')`, r.ID).Scan(&decisions))
	require.Equal(t, 1, decisions, "one decision recorded")
	t.Logf("winner: %s via %s (%s)", w.action, w.via, map[string]string{a.ID: "approver A", b.ID: "approver B"}[w.who])
}

// readAnswerNoT reads an answer from any goroutine.
func readAnswerNoT(resp *http.Response) pageAnswer {
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return pageAnswer{Status: resp.StatusCode, Header: resp.Header, Body: string(b)}
}

// TestDecisionPageCacheFollowsTheFeed: a page kept by one API process is dropped when another process
// records a decision (the change feed), so the link shows the outcome there too; a page is kept only
// while the feed is heard.
func TestDecisionPageCacheFollowsTheFeed(t *testing.T) {
	t.Parallel()
	de := newDecisionEnv(t)
	collab, collabTok := de.A.Users[storage.RoleCollaborator], de.A.Tokens[storage.RoleCollaborator]
	a, b := de.A.Users[storage.RoleApprover], de.A.Users[storage.RoleAdmin]
	r := de.submit(t, de.laterCampaign(t, collab, "Two processes").ID, collabTok, a.ID, b.ID)
	path := "/a/" + tokenOf(de.linkOf(t, r.ID, a))

	// A second API process on the same database, with its own memory and its own feed.
	other := de.serverWith(func(*app.App) {})
	h := other.Handler()
	watchReviews(t, other)
	get := func() pageAnswer {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return pageAnswer{Status: rec.Code, Header: rec.Header(), Body: rec.Body.String()}
	}
	first, second := get(), get()
	require.Equal(t, http.StatusOK, first.Status, first.Body)
	require.NotEqual(t, csrfOf(t, first), csrfOf(t, second), "a kept page is served with a fresh form token")
	require.Equal(t, strings.ReplaceAll(first.Body, csrfOf(t, first), ""), strings.ReplaceAll(second.Body, csrfOf(t, second), ""))

	status, body := de.act(t, r.ID, "approve", de.A.Tokens[storage.RoleAdmin], "")
	require.Equal(t, http.StatusOK, status, "%v", body)
	var last pageAnswer
	eventually(t, 10*time.Second, func() bool {
		last = get()
		return strings.Contains(html.UnescapeString(last.Body), b.Name+" approved this request")
	}, func() string { return "the other process still shows: " + last.Body })
}
