package api_test

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/signoff/signoff/storage"
)

// TestDecisionPageBrowser walks an approver through the decision link in Chromium (R-ACT-1): the link
// taken from the outbox email opens the page; it reads the campaign, the schedule and the changes
// since the last approval, on a desktop and on a phone; a rejection without a note is refused with
// the form kept; the approval goes through and the page shows it; the other approver's link, opened
// afterwards, says who decided and when. axe-core (WCAG 2.1 AA, best practices) finds nothing on any
// of them. Screenshots of each state go to testenv.OutputDir.
func TestDecisionPageBrowser(t *testing.T) {
	t.Parallel()
	de := newDecisionEnv(t)
	b := newReviewBrowser(t)
	collab, collabTok := de.A.Users[storage.RoleCollaborator], de.A.Tokens[storage.RoleCollaborator]
	a, other := de.A.Users[storage.RoleApprover], de.A.Users[storage.RoleAdmin]
	camp := de.laterCampaign(t, collab, "Spring launch")
	subject, paragraph := de.approvedBase(t, camp, collabTok, a, de.A.Tokens[storage.RoleApprover])
	const note = "New subject line and a rewritten second paragraph, as discussed on Monday."
	r := de.submitWithNote(t, camp.ID, collabTok, note, a.ID, other.ID)
	link := de.linkOf(t, r.ID, a)

	// The link from the email opens the page.
	resp := reviewRun(t, b, "open the link from the email", chromedp.NavigateResponse(link))
	require.Equal(t, int64(http.StatusOK), resp.Status)
	b.do(t, "wait for the form", chromedp.WaitVisible(chromedp.CSS("#decision-form")))
	assert.Contains(t, reviewRun(t, b, "title", chromedp.Title()), camp.Name)
	assert.Equal(t, camp.Name, reviewRun(t, b, "read the name", chromedp.Text(chromedp.CSS("h1"))))
	assert.Equal(t, note, reviewRun(t, b, "read the submitter's note", chromedp.Text(chromedp.CSS("#submitter-note"))))
	assert.Contains(t, reviewRun(t, b, "read the start", chromedp.Text(chromedp.CSS("#start"))), camp.StartAt.UTC().Format("2 Jan 2006, 15:04 UTC"))
	assert.Contains(t, reviewRun(t, b, "read the end", chromedp.Text(chromedp.CSS("#end"))), camp.EndAt.UTC().Format("2 Jan 2006, 15:04 UTC"))
	assert.Contains(t, reviewRun(t, b, "read who else decides", chromedp.Text(chromedp.CSS("#others"))), other.Name)
	changes := reviewRun(t, b, "read the changes", chromedp.Text(chromedp.CSS("#changes")))
	assert.Contains(t, changes, "2 changes since version 1")
	assert.Contains(t, changes, subject)
	assert.Contains(t, changes, paragraph)
	assert.Equal(t, 2, reviewEval[int](t, b, `document.querySelectorAll("#changes li.change").length`))
	assert.Contains(t, reviewRun(t, b, "read the content", chromedp.Text(chromedp.CSS("#content"))), paragraph)
	assert.Zero(t, reviewEval[int](t, b, `document.scripts.length`), "the page runs no script")
	b.fullShot(t, "01-open.png")
	b.requireAxeClean(t, "the open page at 1280 px")

	// A phone: nothing wider than the screen.
	b.do(t, "phone viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulatePortrait, chromedp.EmulateScale(2)))
	overflow := b.sidewaysOverflow(t)
	assert.Empty(t, overflow, "at 390×844 the page must not scroll sideways")
	b.do(t, "scroll to the top", chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 0)`))
	b.shot(t, "02-phone.png", "")
	b.requireAxeClean(t, "the open page at 390 px")
	b.do(t, "desktop viewport", chromedp.EmulateViewport(1280, 900))

	// Reject without a note: refused, the form shown again with the reason, the note field in focus.
	b.do(t, "scroll to the decision", chromedp.ScrollIntoView(chromedp.CSS("#decide")))
	reviewRun(t, b, "reject without a note", chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(chromedp.CSS("#reject"))))
	b.do(t, "wait for the reason", chromedp.WaitVisible(chromedp.CSS("#message")))
	assert.Contains(t, reviewRun(t, b, "read the reason", chromedp.Text(chromedp.CSS("#message"))), "A rejection needs a note")
	assert.Equal(t, link, reviewRun(t, b, "read the address", chromedp.Location()), "the page is still the link's")
	assert.Equal(t, "note", reviewEval[string](t, b, `document.activeElement && document.activeElement.id`), "the note field has the focus")
	assert.Equal(t, 1, reviewEval[int](t, b, `document.querySelectorAll("#decision-form").length`), "the form is kept")
	assert.Equal(t, storage.RequestStatusPending, de.storedRequest(t, de.A.Account.ID, r.ID).Status, "nothing was decided")
	b.do(t, "scroll to the top", chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 0)`))
	b.shot(t, "03-reject-without-note.png", "")
	b.requireAxeClean(t, "the refused rejection")

	// Approve with a note, from the page shown again: the decision is made and the page shows it.
	const approval = "Approved: the new subject reads well."
	b.do(t, "type a note", chromedp.SendKeys(chromedp.CSS("#note"), approval))
	reviewRun(t, b, "approve", chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(chromedp.CSS("#approve"))))
	b.do(t, "wait for the outcome", chromedp.WaitVisible(chromedp.CSS("#outcome")))
	outcome := reviewRun(t, b, "read the outcome", chromedp.Text(chromedp.CSS("#outcome")))
	assert.Contains(t, outcome, "You approved this request")
	assert.Contains(t, outcome, approval)
	assert.Equal(t, link, reviewRun(t, b, "read the address", chromedp.Location()), "Post/Redirect/Get: back on the link")
	assert.Zero(t, reviewEval[int](t, b, `document.querySelectorAll("form").length`), "no form once decided")
	got := de.storedRequest(t, de.A.Account.ID, r.ID)
	require.Equal(t, storage.RequestStatusApproved, got.Status)
	require.Equal(t, a.ID, *got.DecidedBy)
	require.Equal(t, approval, got.DecisionNote)
	b.shot(t, "04-approved.png", "")

	// The other approver's link, opened afterwards, says who decided and when.
	otherLink := de.linkOf(t, r.ID, other)
	resp = reviewRun(t, b, "open the other approver's link", chromedp.NavigateResponse(otherLink))
	require.Equal(t, int64(http.StatusOK), resp.Status)
	b.do(t, "wait for the outcome", chromedp.WaitVisible(chromedp.CSS("#outcome")))
	decidedBy := reviewRun(t, b, "read who decided", chromedp.Text(chromedp.CSS("#decided-by")))
	assert.Equal(t, a.Name+" approved this request on "+got.DecidedAt.UTC().Format("Mon 2 Jan 2006, 15:04 UTC")+".", decidedBy)
	assert.Zero(t, reviewEval[int](t, b, `document.querySelectorAll("form").length`))
	b.shot(t, "05-other-approver.png", "")
	b.requireAxeClean(t, "the outcome")

	b.requireQuietBut422(t)
}

// requireQuietBut422 checks that the page opened no dialog and logged no console error (a CSP
// violation would show), except Chromium's line about a refused form's 422.
func (b *reviewBrowser) requireQuietBut422(t *testing.T) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	assert.Empty(t, b.dialogs)
	for _, e := range b.errors {
		assert.Contains(t, e, "status of 422", "a console error of the page: %s", e)
	}
}

// fullShot saves a PNG screenshot of the whole page.
func (b *reviewBrowser) fullShot(t *testing.T, name string) {
	t.Helper()
	buf := reviewRun(t, b, "screenshot "+name, chromedp.FullScreenshot(100))
	require.NotEmpty(t, buf)
	require.NoError(t, os.WriteFile(filepath.Join(b.out, name), buf, 0o644))
}

// TestDecisionPageSectionsBrowser walks an approver through the per-section form of the decision page
// in Chromium (R-POL-4): two sections approved, the page shows them after the redirect and keeps them
// checked; a change request without a note is refused with the note field in focus; with the note the
// request is rejected and the page shows the outcome and the answers. axe-core finds nothing.
func TestDecisionPageSectionsBrowser(t *testing.T) {
	t.Parallel()
	de := newDecisionEnv(t)
	b := newReviewBrowser(t)
	collab, collabTok := de.A.Users[storage.RoleCollaborator], de.A.Tokens[storage.RoleCollaborator]
	a := de.A.Users[storage.RoleApprover]
	r := de.submit(t, de.laterCampaign(t, collab, "Sections in the browser").ID, collabTok, a.ID)
	link := de.linkOf(t, r.ID, a)

	resp := reviewRun(t, b, "open the link", chromedp.NavigateResponse(link))
	require.Equal(t, int64(http.StatusOK), resp.Status)
	b.do(t, "wait for the section form", chromedp.WaitVisible(chromedp.CSS("#sections-form")))
	b.do(t, "approve the audience", chromedp.Click(chromedp.CSS("#section_audience_approved")))
	b.do(t, "approve the copy", chromedp.Click(chromedp.CSS("#section_copy_approved")))
	b.do(t, "note on the copy", chromedp.SendKeys(chromedp.CSS("#section_copy_note"), "Reads well."))
	reviewRun(t, b, "send two sections", chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(chromedp.CSS("#send-sections"))))
	b.do(t, "wait for the page", chromedp.WaitVisible(chromedp.CSS("#sections-form")))
	assert.Equal(t, link, reviewRun(t, b, "read the address", chromedp.Location()), "Post/Redirect/Get: back on the link")
	assert.Contains(t, reviewRun(t, b, "read the audience", chromedp.Text(chromedp.CSS("#section-audience legend"))), "you approved it")
	assert.Contains(t, reviewRun(t, b, "read the copy", chromedp.Text(chromedp.CSS("#section-copy legend"))), "you approved it")
	assert.True(t, reviewEval[bool](t, b, `document.getElementById("section_copy_approved").checked`), "the answers so far stay checked")
	assert.Equal(t, storage.RequestStatusPending, de.storedRequest(t, de.A.Account.ID, r.ID).Status)
	b.fullShot(t, "sections-01-two-approved.png")
	b.requireAxeClean(t, "the page with two sections approved")

	// A change request on the schedule without a note: refused, the note field in focus.
	b.do(t, "scroll to the sections", chromedp.ScrollIntoView(chromedp.CSS("#by-section")))
	b.do(t, "request changes to the schedule", chromedp.Click(chromedp.CSS("#section_schedule_change_request")))
	reviewRun(t, b, "send without a note", chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(chromedp.CSS("#send-sections"))))
	b.do(t, "wait for the reason", chromedp.WaitVisible(chromedp.CSS("#message")))
	assert.Contains(t, reviewRun(t, b, "read the reason", chromedp.Text(chromedp.CSS("#message"))), "Schedule: is required for a change_request")
	assert.Equal(t, "section_schedule_note", reviewEval[string](t, b, `document.activeElement && document.activeElement.id`))
	assert.True(t, reviewEval[bool](t, b, `document.getElementById("section_schedule_change_request").checked`), "the form is kept")
	assert.Equal(t, storage.RequestStatusPending, de.storedRequest(t, de.A.Account.ID, r.ID).Status, "nothing was decided")
	b.requireAxeClean(t, "the refused change request")

	b.do(t, "type the note", chromedp.SendKeys(chromedp.CSS("#section_schedule_note"), "Start after the holidays."))
	reviewRun(t, b, "send the change request", chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(chromedp.CSS("#send-sections"))))
	b.do(t, "wait for the outcome", chromedp.WaitVisible(chromedp.CSS("#outcome")))
	outcome := reviewRun(t, b, "read the outcome", chromedp.Text(chromedp.CSS("#outcome")))
	assert.Contains(t, outcome, "You rejected this request")
	assert.Contains(t, outcome, "schedule: Start after the holidays.")
	answers := reviewRun(t, b, "read the answers", chromedp.Text(chromedp.CSS("#section-answers")))
	assert.Contains(t, answers, "Audience: approved")
	assert.Contains(t, answers, "Schedule: changes requested")
	assert.Zero(t, reviewEval[int](t, b, `document.querySelectorAll("form").length`), "no form once decided")
	got := de.storedRequest(t, de.A.Account.ID, r.ID)
	require.Equal(t, storage.RequestStatusRejected, got.Status)
	require.Equal(t, "schedule: Start after the holidays.", got.DecisionNote)
	b.fullShot(t, "sections-02-rejected.png")
	b.requireAxeClean(t, "the outcome of the section review")
	b.requireQuietBut422(t)
}
