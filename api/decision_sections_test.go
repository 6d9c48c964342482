package api_test

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/signoff/signoff/storage"
)

// postSections posts the decision page's per-section form: values are section_<name> and
// section_<name>_note fields.
func (de *decisionEnv) postSections(t *testing.T, link, csrf string, values map[string]string) pageAnswer {
	t.Helper()
	form := url.Values{"action": {"sections"}, "csrf": {csrf}}
	for k, v := range values {
		form.Set(k, v)
	}
	resp, err := de.client.PostForm(link, form)
	require.NoError(t, err)
	return readAnswer(t, resp)
}

// TestDecisionLinkSectionReview: the decision page has a per-section form (R-POL-4) under the same
// form token rules; a change request without a note, and a note that is not text (NUL, invalid
// UTF-8, a control character) or too long, are refused with the page again and nothing written; verdicts on some sections answer 303 to the page, which shows them and keeps the request
// pending (a GET changing nothing); the last section approved approves the request once, and the
// page shows the outcome and the answers. A change request on copy rejects with its note.
func TestDecisionLinkSectionReview(t *testing.T) {
	t.Parallel()
	de := newDecisionEnv(t)
	acct := de.A.Account.ID
	collab, collabTok := de.A.Users[storage.RoleCollaborator], de.A.Tokens[storage.RoleCollaborator]
	a, other := de.A.Users[storage.RoleApprover], de.A.Users[storage.RoleAdmin]
	r := de.submit(t, de.laterCampaign(t, collab, "Sections by link").ID, collabTok, a.ID, other.ID)
	link := de.linkOf(t, r.ID, a)
	page, csrf := de.openPage(t, link)
	require.Contains(t, page.Body, `id="sections-form"`)
	require.Len(t, csrfPattern.FindAllString(page.Body, -1), 2, "both forms carry the form token")
	for _, name := range []string{"audience", "copy", "schedule"} {
		assert.Contains(t, page.Body, `id="section-`+name+`"`)
		assert.Contains(t, page.Body, `name="section_`+name+`" value="change_request"`)
	}
	de.waitEvent(t, r.ID, storage.EventSubmitted, 10*time.Second)
	time.Sleep(200 * time.Millisecond)

	// Refused: a change request without a note, an unknown verdict, nothing answered.
	before := dbState(t, de.pool)
	for _, c := range []struct {
		name    string
		values  map[string]string
		message string
	}{
		{"change request without a note", map[string]string{"section_audience": "approved", "section_copy": "change_request"},
			"Copy: is required for a change_request"},
		{"unknown verdict", map[string]string{"section_schedule": "maybe"}, "Schedule: must be approved or change_request"},
		{"nothing answered", map[string]string{}, "Answer at least one section"},
		{"NUL in a note", map[string]string{"section_copy": "change_request", "section_copy_note": "Cut\x00this"},
			"Copy: must not contain NUL characters"},
		{"invalid UTF-8 in a note", map[string]string{"section_audience": "approved", "section_audience_note": "Fine \xff here"},
			"Audience: must be valid UTF-8"},
		{"control character in a note", map[string]string{"section_schedule": "change_request", "section_schedule_note": "Later\x1b[2J"},
			"Schedule: must not contain control characters (found U+001B)"},
		{"a note too long", map[string]string{"section_copy": "approved", "section_copy_note": strings.Repeat("é", 2001)},
			"Copy: must be at most 2000 characters"},
	} {
		ans := de.postSections(t, link, csrf, c.values)
		require.Equal(t, http.StatusUnprocessableEntity, ans.Status, "%s: %s", c.name, ans.Body)
		assert.Contains(t, html.UnescapeString(ans.Body), c.message, c.name)
		assert.Contains(t, ans.Body, `role="alert"`, c.name)
		csrf = csrfOf(t, pageAnswer{Body: ans.Body})
	}
	ans := de.postSections(t, link, csrf, map[string]string{"section_copy": "change_request", "section_copy_note": ""})
	assert.Regexp(t, `<textarea id="section_copy_note"[^>]*aria-invalid="true"`, ans.Body, "the note of copy is marked")
	csrf = csrfOf(t, pageAnswer{Body: ans.Body})
	requireNoWrites(t, de.pool, before)

	// Two sections approved: 303 to the page, which shows them; the request is still pending.
	ans = de.postSections(t, link, csrf, map[string]string{"section_audience": "approved", "section_copy": "approved",
		"section_copy_note": "Subject reads well"})
	require.Equal(t, http.StatusSeeOther, ans.Status, ans.Body)
	require.Equal(t, storage.RequestStatusPending, de.storedRequest(t, acct, r.ID).Status)
	before = dbState(t, de.pool)
	page, csrf = de.openPage(t, link)
	requireNoWrites(t, de.pool, before)
	assert.Regexp(t, `id="section-audience" data-verdict="approved">\s*<legend>Audience <span class="so-far">· you approved it`, page.Body)
	assert.Regexp(t, `id="section_copy_approved" checked`, page.Body, "the answers so far are kept in the form")
	assert.Contains(t, page.Body, `>Subject reads well</textarea>`)
	assert.NotContains(t, page.Body, `id="section-schedule" data-verdict`)
	var seen reviewedRequest
	de.doJSON(t, http.StatusOK, http.MethodGet, "/v1/approval-requests/"+r.ID, collabTok, nil, &seen)
	require.Equal(t, map[string]string{"audience": "approved", "copy": "approved"}, verdictsOf(seen.SectionReviews, a.ID))

	// The last section: the request is approved once, by the link's approver.
	ans = de.postSections(t, link, csrf, map[string]string{"section_schedule": "approved"})
	require.Equal(t, http.StatusSeeOther, ans.Status, ans.Body)
	got := de.storedRequest(t, acct, r.ID)
	require.Equal(t, storage.RequestStatusApproved, got.Status)
	require.Equal(t, a.ID, *got.DecidedBy)
	require.Equal(t, "approved audience, copy and schedule\ncopy: Subject reads well", got.DecisionNote)
	require.Equal(t, 1, eventCount(t, de.env, r.ID, storage.EventApproved))
	outcome := de.get(t, link)
	require.Equal(t, http.StatusOK, outcome.Status)
	text := html.UnescapeString(outcome.Body)
	assert.Contains(t, text, "You approved this request")
	assert.Contains(t, text, "approved audience, copy and schedule")
	assert.Regexp(t, regexp.MustCompile(`id="section-answers">.*Audience</strong>: approved.*Copy</strong>: approved — <span class="para">Subject reads well</span>.*Schedule</strong>: approved`), text)
	assert.NotContains(t, outcome.Body, `name="csrf"`)
	replay := de.postSections(t, link, csrf, map[string]string{"section_schedule": "approved"})
	require.Equal(t, http.StatusForbidden, replay.Status, "the form that decided is used up: %s", replay.Body)

	// A change request on copy rejects with its note.
	r2 := de.submit(t, de.laterCampaign(t, collab, "Copy sent back by link").ID, collabTok, a.ID)
	link2 := de.linkOf(t, r2.ID, a)
	_, csrf2 := de.openPage(t, link2)
	ans = de.postSections(t, link2, csrf2, map[string]string{"section_audience": "approved",
		"section_copy": "change_request", "section_copy_note": "The second paragraph overpromises."})
	require.Equal(t, http.StatusSeeOther, ans.Status, ans.Body)
	got = de.storedRequest(t, acct, r2.ID)
	require.Equal(t, storage.RequestStatusRejected, got.Status)
	require.Equal(t, "copy: The second paragraph overpromises.", got.DecisionNote)
	text = html.UnescapeString(de.get(t, link2).Body)
	assert.Contains(t, text, "You rejected this request")
	assert.Contains(t, text, "copy: The second paragraph overpromises.")
	assert.True(t, strings.Contains(text, "Copy</strong>: changes requested"), "the answers are shown")
}
