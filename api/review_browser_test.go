package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/signoff/signoff/demodata"
	"github.com/signoff/signoff/storage"
	"github.com/signoff/signoff/testenv"
)

// Browser tests of the client review page (R-REVIEW-1): Debian's Chromium, driven by chromedp,
// against the real API served over HTTP, with a real worker behind it. Screenshots of each stage go
// to testenv.OutputDir (the path is in the test log).

// reviewStepTimeout bounds one browser step.
const reviewStepTimeout = 30 * time.Second

// reviewBrowser is one headless Chromium tab with what the page said on the way: its dialogs and its
// console errors.
type reviewBrowser struct {
	ctx context.Context
	out string // screenshot folder

	mu      sync.Mutex
	dialogs []string // "type: message"
	errors  []string // console errors and uncaught exceptions
	done    bool     // the test ended: log nothing more
}

// newReviewBrowser starts Chromium with a fresh profile; it is closed when t ends.
func newReviewBrowser(t *testing.T) *reviewBrowser {
	t.Helper()
	path := testenv.Chromium(t)
	b := &reviewBrowser{out: testenv.OutputDir(t)}
	profile, err := os.MkdirTemp("", "signoff-chromium-profile-")
	require.NoError(t, err)
	// Registered first, so it runs last: after the browser has exited.
	t.Cleanup(func() { _ = os.RemoveAll(profile) })
	logf := func(format string, args ...any) {
		b.mu.Lock()
		defer b.mu.Unlock()
		if !b.done {
			t.Logf("chromedp: "+format, args...)
		}
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("mute-audio", true),
		chromedp.Flag("disable-features", "Translate,MediaRouter,OptimizationHints"),
	)
	ctx, cancelCtx := chromedp.NewContext(allocCtx, chromedp.WithLogf(logf), chromedp.WithErrorf(logf))
	t.Cleanup(func() {
		cancelCtx()
		cancelAlloc()
		b.mu.Lock()
		b.done = true
		b.mu.Unlock()
	})
	// The first run starts the browser; it must not carry a timeout (that would end the browser).
	done := make(chan error, 1)
	go func() { done <- chromedp.Do(ctx) }()
	select {
	case err := <-done:
		require.NoError(t, err, "start Chromium %s", path)
	case <-time.After(time.Minute):
		t.Fatalf("Chromium %s did not start within a minute", path)
	}
	b.ctx = ctx

	// Accept every dialog (the submit confirmation) and record it; an alert is how the page shows an error.
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.dialogs = append(b.dialogs, string(ev.Type)+": "+ev.Message)
			b.mu.Unlock()
			_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		}
	}()
	console := chromedp.Console(ctx)
	go func() {
		for m, err := range console {
			if err != nil {
				return
			}
			if m.Type != chromedp.ConsoleError && !m.IsException() {
				continue
			}
			b.mu.Lock()
			b.errors = append(b.errors, fmt.Sprintf("%s %s:%d %s", m.Type, m.URL, m.Line+1, m.Text))
			b.mu.Unlock()
		}
	}()
	return b
}

// do runs actions with the step timeout; on failure it saves a screenshot of the page and fails.
func (b *reviewBrowser) do(t *testing.T, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, reviewStepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.failShot(t, what)
		t.Fatalf("browser: %s: %v", what, err)
	}
}

// reviewRun runs one action of b with the step timeout and returns its value; on failure it fails t.
func reviewRun[T any](t *testing.T, b *reviewBrowser, what string, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, reviewStepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.failShot(t, what)
		t.Fatalf("browser: %s: %v", what, err)
	}
	return v
}

// failShot saves what the page looked like when a step failed.
func (b *reviewBrowser) failShot(t *testing.T, what string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	if buf, err := chromedp.Run(ctx, chromedp.CaptureScreenshot()); err == nil {
		name := filepath.Join(b.out, "failed-"+strings.NewReplacer(" ", "-", "/", "-").Replace(what)+".png")
		if os.WriteFile(name, buf, 0o644) == nil {
			t.Logf("screenshot of the failure: %s", name)
		}
	}
}

// shot saves a PNG screenshot: of the element sel, or of the viewport when sel is "".
func (b *reviewBrowser) shot(t *testing.T, name, sel string) {
	t.Helper()
	var buf []byte
	if sel == "" {
		buf = reviewRun(t, b, "screenshot "+name, chromedp.CaptureScreenshot())
	} else {
		buf = reviewRun(t, b, "screenshot "+name, chromedp.Screenshot(chromedp.CSS(sel)))
	}
	require.NotEmpty(t, buf)
	require.NoError(t, os.WriteFile(filepath.Join(b.out, name), buf, 0o644))
}

// reviewJS is s as a JavaScript string literal.
func reviewJS(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// loaded waits until the page's script has loaded the saved feedback (the summary is no longer "Loading…").
func (b *reviewBrowser) loaded(t *testing.T) {
	t.Helper()
	b.do(t, "wait for the page's script", chromedp.Poll[chromedp.Void](
		`document.readyState === "complete" && (!document.getElementById("summary") ||
			!document.getElementById("summary").textContent.includes("Loading"))`,
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(20*time.Second)))
}

// eval evaluates a JavaScript expression in the page.
func reviewEval[T any](t *testing.T, b *reviewBrowser, expr string) T {
	t.Helper()
	return reviewRun(t, b, "evaluate "+expr, chromedp.Evaluate[T](expr))
}

// sidewaysOverflow lists what makes the page scroll sideways: the page when it is wider than the
// viewport, and every element that ends past its right edge. Empty: nothing does.
func (b *reviewBrowser) sidewaysOverflow(t *testing.T) []string {
	t.Helper()
	return reviewEval[[]string](t, b, `(() => {
		const w = document.documentElement.clientWidth, out = [];
		if (document.documentElement.scrollWidth > w) { out.push("page scrollWidth " + document.documentElement.scrollWidth + " > " + w); }
		document.querySelectorAll("body *").forEach(el => {
			const r = el.getBoundingClientRect();
			if (r.width > 0 && r.right > w + 1) { out.push(el.tagName.toLowerCase() + "." + el.className + " ends at " + Math.round(r.right)); }
		});
		return out;
	})()`)
}

// selectInParagraph selects quote inside paragraph pid with a DOM Range, as a reader's mouse would, and
// returns what the browser reports as the selected text.
func (b *reviewBrowser) selectInParagraph(t *testing.T, pid, quote string) string {
	t.Helper()
	return reviewEval[string](t, b, fmt.Sprintf(`(() => {
		const p = document.getElementById(%q), q = %s;
		const node = p.firstChild;
		const i = node.textContent.indexOf(q);
		if (i < 0) { return "NOT FOUND in " + JSON.stringify(node.textContent); }
		const r = document.createRange();
		r.setStart(node, i);
		r.setEnd(node, i + q.length);
		const sel = window.getSelection();
		sel.removeAllRanges();
		sel.addRange(r);
		return sel.toString();
	})()`, pid, reviewJS(quote)))
}

// lineComment selects quote in paragraph pid, presses its "Comment on selected text" button, checks the
// form's quoted text, types comment and saves.
func (b *reviewBrowser) lineComment(t *testing.T, pid, quote, comment string) {
	t.Helper()
	b.selectInParagraph(t, pid, quote)
	form := fmt.Sprintf(`.para-block[data-pid=%q] form.comment-form`, pid)
	b.do(t, "open the line comment form of "+pid,
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`button.add-line[data-pid=%q]`, pid))),
		chromedp.WaitVisible(chromedp.CSS(form+` textarea[name="comment"]`)))
	got := reviewRun(t, b, "read the quoted text", chromedp.Value(chromedp.CSS(form+` [name="quote"]`)))
	require.Equal(t, quote, got, "the form quotes the selected text")
	b.do(t, "type and save the comment",
		chromedp.SendKeys(chromedp.CSS(form+` textarea[name="comment"]`), comment),
		chromedp.Click(chromedp.CSS(form+` button[type="submit"]`)))
}

// waitListed waits until the feedback list of target shows text; it fails at once when the comment
// form of target shows an error instead.
func (b *reviewBrowser) waitListed(t *testing.T, target, text string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
	defer cancel()
	got, err := chromedp.Run(ctx, chromedp.Poll[string](fmt.Sprintf(`(() => {
		const ul = document.querySelector('ul.feedback[data-for=%q]');
		if (ul && ul.textContent.includes(%s)) { return "listed"; }
		const e = document.querySelector('[data-pid=%q] .comment-form .error');
		return e && e.textContent ? "the form says: " + e.textContent : "";
	})()`, target, reviewJS(text), target),
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(15*time.Second)))
	if err != nil || got != "listed" {
		b.failShot(t, "listed "+target)
		t.Fatalf("the comment %q never showed under %s: %v %s", text, target, err, got)
	}
}

// requireClean fails when the page raised a dialog other than the expected ones or logged an error.
func (b *reviewBrowser) requireClean(t *testing.T, wantDialogs ...string) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	assert.Equal(t, append([]string{}, wantDialogs...), append([]string{}, b.dialogs...), "dialogs the page opened (an alert is an error shown to the reviewer)")
	assert.Empty(t, b.errors, "console errors and exceptions of the page (a CSP violation shows here)")
}

// reviewServer serves the env's API over HTTP and makes share links point at it.
func reviewServer(t *testing.T, re *reviewEnv) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(re.handler)
	re.server.App.PublicURL = "http://" + srv.Listener.Addr().String()
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

// TestReviewBrowser walks a client through the share link in Chromium: approve the audience, comment on
// selected words of a paragraph, reload (everything is still there), check the phone layout and the
// keyboard, submit, and find it all in the CSM's feedback.
func TestReviewBrowser(t *testing.T) {
	t.Parallel()
	re := newReviewEnv(t)
	srv := reviewServer(t, re)
	b := newReviewBrowser(t)
	d := re.reviewReadyDraft(t)
	require.Equal(t, srv.URL+"/r/"+d.Token, d.ShareURL, "the share link points at SIGNOFF_PUBLIC_URL")
	require.Contains(t, reviewParagraph(t, d.Snapshot, "e1-p2"), reviewQuote)
	const name = "Dana Client"
	const comment = "Too dramatic for a first email."
	const leadComment = "Not a decision maker."
	approve := `.verdict[data-target="audience"] button.approve`

	// Stage 1: the audience. The reviewer names themself and approves it.
	b.do(t, "open the share link", chromedp.Navigate(d.ShareURL))
	b.loaded(t)
	title := reviewRun(t, b, "title", chromedp.Title())
	camp, err := re.store.Campaign(context.Background(), re.A.Account.ID, d.CampaignID)
	require.NoError(t, err)
	assert.Contains(t, title, camp.Name)
	b.shot(t, "01-audience.png", "#audience")
	b.do(t, "type the reviewer's name", chromedp.SendKeys(chromedp.CSS("#reviewer-name"), name))
	b.do(t, "approve the audience",
		chromedp.Click(chromedp.CSS(approve)),
		chromedp.WaitVisible(chromedp.CSS(approve+`[aria-pressed="true"]`)))

	// Stage 2: the leads, each with what the AI made of them.
	leads := reviewEval[int](t, b, `document.querySelectorAll("#leads article.lead").length`)
	assert.Equal(t, reviewLeadCount, leads)
	assert.Equal(t, reviewLeadCount, reviewEval[int](t, b, `document.querySelectorAll("#leads article.lead dl.ai").length`),
		"every lead shows its AI result")
	// A change request on one lead, with its reason.
	lead := d.Snapshot.Leads[0].ID
	change := fmt.Sprintf(`.verdict[data-target=%q] button.change`, lead)
	leadForm := fmt.Sprintf(`.verdict[data-target=%q] form.comment-form`, lead)
	b.do(t, "request changes on a lead",
		chromedp.Click(chromedp.CSS(change)),
		chromedp.WaitVisible(chromedp.CSS(leadForm+` textarea[name="comment"]`)),
		chromedp.SendKeys(chromedp.CSS(leadForm+` textarea[name="comment"]`), leadComment),
		chromedp.Click(chromedp.CSS(leadForm+` button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(change+`[aria-pressed="true"]`)))
	b.waitListed(t, lead, leadComment)
	b.shot(t, "02-leads.png", "#leads")

	// Stage 3: the copy. A comment on exactly the selected words of paragraph e1-p2.
	sel := b.selectInParagraph(t, "e1-p2", reviewQuote)
	require.Equal(t, reviewQuote, sel, "the browser selected the quote")
	b.lineComment(t, "e1-p2", reviewQuote, comment)
	b.waitListed(t, "e1-p2", comment)
	b.shot(t, "03-emails.png", "#emails")

	// A note can be taken back: add one, then delete it.
	const note = "Maybe drop this paragraph."
	noteForm := `.para-block[data-pid="e2-p2"] form.comment-form`
	b.do(t, "add a note",
		chromedp.Click(chromedp.CSS(`button.add-note[data-pid="e2-p2"]`)),
		chromedp.WaitVisible(chromedp.CSS(noteForm+` textarea[name="comment"]`)),
		chromedp.SendKeys(chromedp.CSS(noteForm+` textarea[name="comment"]`), note),
		chromedp.Click(chromedp.CSS(noteForm+` button[type="submit"]`)))
	b.waitListed(t, "e2-p2", note)
	require.NotNil(t, reviewFind(re.reviewCSMFeedback(t, d.ID).InReview, storage.FeedbackNote, "e2-p2"), "the CSM sees the note at once")
	b.do(t, "delete the note",
		chromedp.Click(chromedp.CSS(`ul.feedback[data-for="e2-p2"] button.link`)),
		chromedp.WaitNotPresent(chromedp.CSS(`ul.feedback[data-for="e2-p2"] li`)))

	// R-REVIEW-5: the CSM sees the saved feedback before the client submits.
	f := re.reviewCSMFeedback(t, d.ID)
	assert.Equal(t, storage.DraftStatusReady, f.Status)
	assert.Len(t, f.InReview, 3, "in review: %+v", f.InReview)
	assert.Empty(t, f.Submitted)

	// Everything was saved: a reload shows the approval, the comment and the name again.
	b.do(t, "reload", chromedp.Reload())
	b.loaded(t)
	pressed := reviewRun(t, b, "read aria-pressed", chromedp.AttributeValue(chromedp.CSS(approve), "aria-pressed"))
	assert.Equal(t, "true", pressed.Value, "the audience approval survives a reload")
	listed := reviewRun(t, b, "read the comments of e1-p2", chromedp.Text(chromedp.CSS(`ul.feedback[data-for="e1-p2"]`)))
	assert.Contains(t, listed, comment)
	assert.Contains(t, listed, reviewQuote)
	assert.Contains(t, listed, name)
	assert.Equal(t, name, reviewRun(t, b, "read the name", chromedp.Value(chromedp.CSS("#reviewer-name"))),
		"the page remembers the reviewer's name")
	summary := reviewRun(t, b, "read the summary", chromedp.Text(chromedp.CSS("#summary")))
	assert.Contains(t, summary, "not approved", "the summary warns that a comment means not approved")

	// A phone: nothing wider than the screen.
	b.do(t, "phone viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulatePortrait, chromedp.EmulateScale(2)))
	b.loaded(t)
	overflow := b.sidewaysOverflow(t)
	assert.Empty(t, overflow, "at 390×844 the page must not scroll sideways")
	b.do(t, "scroll to the top", chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 0)`))
	b.shot(t, "04-phone.png", "")
	b.do(t, "desktop viewport", chromedp.EmulateViewport(1280, 900))

	// The keyboard: every control is a real <button> that Tab reaches.
	notButtons := reviewEval[int](t, b, `document.querySelectorAll('[role="button"]:not(button), a:not([href]), [onclick]').length`)
	assert.Zero(t, notButtons, "controls are <button> elements")
	unreachable := reviewEval[[]string](t, b, `Array.from(document.querySelectorAll("button")).
		filter(x => x.tabIndex < 0 || x.getAttribute("tabindex") === "-1" || x.disabled).map(x => x.outerHTML)`)
	assert.Empty(t, unreachable, "no button is taken out of the tab order")
	buttons := reviewEval[int](t, b, `(() => {
		window.__focused = new Set();
		document.querySelectorAll("button").forEach((x, i) => { x.dataset.kbd = String(i); });
		document.addEventListener("focusin", e => { if (e.target.dataset && e.target.dataset.kbd) { window.__focused.add(e.target.dataset.kbd); } });
		if (document.activeElement) { document.activeElement.blur(); }
		window.scrollTo(0, 0);
		return document.querySelectorAll("button").length;
	})()`)
	require.Greater(t, buttons, 20)
	focusables := reviewEval[int](t, b, `document.querySelectorAll("a[href], button, input, textarea, [tabindex]").length`)
	tabs := make([]chromedp.Action[chromedp.Void], 0, focusables+5)
	for range focusables + 5 {
		tabs = append(tabs, chromedp.KeyEvent(kb.Tab))
	}
	b.do(t, "tab through the page", tabs...)
	missed := reviewEval[[]string](t, b, `Array.from(document.querySelectorAll("button")).
		filter(x => !window.__focused.has(x.dataset.kbd)).map(x => x.outerHTML)`)
	assert.Empty(t, missed, "Tab reaches every button")

	// Submit, confirming the dialog; the page reloads read-only with the outcome.
	b.do(t, "scroll to submit", chromedp.ScrollIntoView(chromedp.CSS("#submit-review")))
	reviewRun(t, b, "submit and wait for the reload", chromedp.WaitEvent(page.LoadEventFired, nil,
		chromedp.Click(chromedp.CSS("#submit-review"))))
	b.do(t, "wait for the outcome", chromedp.WaitVisible(chromedp.CSS("#outcome")))
	b.loaded(t)
	outcome := reviewRun(t, b, "read the outcome", chromedp.Text(chromedp.CSS("#outcome")))
	assert.Contains(t, outcome, "Changes requested")
	assert.Zero(t, reviewEval[int](t, b, `document.querySelectorAll(".verdict, #submit-review, .para-actions").length`),
		"the submitted review is read-only")
	b.waitListed(t, "e1-p2", comment)
	b.do(t, "scroll to the top", chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 0)`))
	b.shot(t, "05-submitted.png", "")
	b.requireClean(t, "confirm: Submit your review? The team is notified and this page becomes read-only.")

	// The CSM sees exactly what the reviewer did.
	f = re.reviewCSMFeedback(t, d.ID)
	assert.Equal(t, storage.DraftStatusNotApproved, f.Status)
	assert.Empty(t, f.InReview)
	require.Len(t, f.Submitted, 3, "submitted: %+v", f.Submitted)
	cr := reviewFind(f.Submitted, storage.FeedbackChangeRequest, lead)
	require.NotNil(t, cr, "submitted: %+v", f.Submitted)
	assert.Equal(t, leadComment, cr.Comment)
	assert.Equal(t, name, cr.Author)
	appr := reviewFind(f.Submitted, storage.FeedbackApproved, "audience")
	require.NotNil(t, appr, "submitted: %+v", f.Submitted)
	assert.Equal(t, name, appr.Author)
	lc := reviewFind(f.Submitted, storage.FeedbackLineComment, "e1-p2")
	require.NotNil(t, lc, "submitted: %+v", f.Submitted)
	assert.Equal(t, reviewQuote, lc.Quote, "the quote is exactly the selected text")
	assert.Equal(t, comment, lc.Comment)
	assert.Equal(t, name, lc.Author)
	assert.Equal(t, storage.DraftStatusNotApproved, re.reviewGetDraft(t, d.ID).Status)
}

// TestReviewBrowserLineBreak: an email paragraph with a line break in it (a sign-off such as
// "Best,\nSam") reads as written, and a comment on words selected across the break is saved with
// exactly those words.
func TestReviewBrowserLineBreak(t *testing.T) {
	t.Parallel()
	re := newReviewEnv(t)
	reviewServer(t, re)
	b := newReviewBrowser(t)
	nc := demodata.Campaigns(time.Now())[0]
	nc.Name = "Line break campaign"
	nc.Content.Sequences[0].Steps[0].Body += "\n\nBest regards,\nSam Okafor\nLedgerline"
	c, err := re.store.CreateCampaign(context.Background(), re.A.Account.ID, re.A.Users[storage.RoleCSM].ID, nc)
	require.NoError(t, err)
	d := re.reviewDraftsOf(t, c.ID)[0]
	const pid = "e1-p5"
	text := reviewParagraph(t, d.Snapshot, pid)
	require.Equal(t, "Best regards,\nSam Okafor\nLedgerline", text, "the snapshot keeps the line breaks of a paragraph")

	b.do(t, "open the share link", chromedp.Navigate(d.ShareURL))
	b.loaded(t)
	b.do(t, "scroll to the paragraph", chromedp.ScrollIntoView(chromedp.CSS("#"+pid)))
	b.shot(t, "01-signature.png", fmt.Sprintf(`.para-block[data-pid=%q]`, pid))
	shown := reviewEval[string](t, b, fmt.Sprintf(`document.getElementById(%q).innerText`, pid))
	assert.Equal(t, text, shown, "the reviewer reads the paragraph as it will be sent, line breaks included")

	const quote = "regards,\nSam"
	const comment = "Sign with the full team name."
	sel := b.selectInParagraph(t, pid, quote)
	t.Logf("selected %q across the line break; the browser reports the selection as %q", quote, sel)
	form := fmt.Sprintf(`.para-block[data-pid=%q] form.comment-form`, pid)
	b.do(t, "open the line comment form",
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`button.add-line[data-pid=%q]`, pid))),
		chromedp.WaitVisible(chromedp.CSS(form+` textarea[name="comment"]`)))
	formQuote := reviewRun(t, b, "read the quoted text", chromedp.Value(chromedp.CSS(form+` [name="quote"]`)))
	assert.Equal(t, quote, formQuote, "the form keeps the selected words exactly, line break included")
	b.do(t, "type and save the comment",
		chromedp.SendKeys(chromedp.CSS(form+` textarea[name="comment"]`), comment),
		chromedp.Click(chromedp.CSS(form+` button[type="submit"]`)))
	b.waitListed(t, pid, comment)
	b.requireClean(t)
	f := re.reviewCSMFeedback(t, d.ID)
	lc := reviewFind(f.InReview, storage.FeedbackLineComment, pid)
	require.NotNil(t, lc, "in review: %+v", f.InReview)
	assert.Contains(t, text, lc.Quote)
	assert.Equal(t, comment, lc.Comment)
}

// TestReviewBrowserEscapes: text that looks like HTML, in the campaign and in a reviewer's comment, shows
// as text and never runs.
func TestReviewBrowserEscapes(t *testing.T) {
	t.Parallel()
	re := newReviewEnv(t)
	reviewServer(t, re)
	b := newReviewBrowser(t)
	nc := demodata.Campaigns(time.Now())[0]
	nc.Name = `<i>Q1</i> "push" & <script>alert("name")</script>`
	const para = `Try <b>this</b> & <img src=x onerror="alert('para')"> <script>alert("para")</script> now.`
	nc.Content.Sequences[0].Steps[0].Subject = `Hi <u>{{first_name}}</u>`
	nc.Content.Sequences[0].Steps[0].Body += "\n\n" + para
	c, err := re.store.CreateCampaign(context.Background(), re.A.Account.ID, re.A.Users[storage.RoleCSM].ID, nc)
	require.NoError(t, err)
	d := re.reviewDraftsOf(t, c.ID)[0]
	require.Equal(t, para, reviewParagraph(t, d.Snapshot, "e1-p5"))
	const evil = `<img src=x onerror="alert('comment')"><b>bold</b>`
	var it reviewItem
	re.doJSON(t, 201, "POST", reviewPath(d.Token, "/comments"), "",
		map[string]any{"target": "e1-p5", "kind": "line_comment", "quote": "<b>this</b>", "comment": evil, "author": "<i>Eve</i>"}, &it)

	b.do(t, "open the share link", chromedp.Navigate(d.ShareURL))
	b.loaded(t)
	b.waitListed(t, "e1-p5", evil)
	b.do(t, "scroll to the paragraph", chromedp.ScrollIntoView(chromedp.CSS("#e1-p5")))
	b.shot(t, "01-escaped.png", `.para-block[data-pid="e1-p5"]`)
	assert.Equal(t, nc.Name, reviewEval[string](t, b, `document.querySelector("h1").textContent`))
	assert.Equal(t, para, reviewEval[string](t, b, `document.getElementById("e1-p5").textContent`))
	assert.Contains(t, reviewEval[string](t, b, `document.querySelector("article.email .subject").textContent`), "Hi <u>{{first_name}}</u>")
	assert.Contains(t, reviewEval[string](t, b, `document.querySelector('ul.feedback[data-for="e1-p5"]').textContent`), "<i>Eve</i>")
	injected := reviewEval[[]string](t, b, `Array.from(document.querySelectorAll("img, b, u, i, main script, body > script:not([src])")).map(x => x.outerHTML)`)
	assert.Empty(t, injected, "no element comes from the campaign's text or a comment")
	assert.Equal(t, 1, reviewEval[int](t, b, `document.scripts.length`), "the page runs its own script only")
	b.requireClean(t)
}
