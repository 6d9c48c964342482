package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/accessibility"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/signoff/signoff/storage"
	"github.com/signoff/signoff/testenv"
)

// Accessibility tests of the client review page: axe-core (installed by testenv from the npm registry)
// runs in the page, every button's accessible name (as Chromium computes it) must be unique, and a
// whole review is driven with the keyboard alone.

// axeTags are the rule sets the page must pass: WCAG 2.1 A and AA, and axe's best practices.
var axeTags = []string{"wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"}

// axeViolations injects axe-core into the current page (once per page load) and returns its violations,
// one line each: rule, impact, and the elements it found.
func (b *reviewBrowser) axeViolations(t *testing.T, what string) []string {
	t.Helper()
	src := testenv.AxeCore(t)
	if !reviewEval[bool](t, b, `typeof window.axe === "object"`) {
		b.do(t, "inject axe-core", chromedp.Evaluate[chromedp.Void](src))
	}
	tags, _ := json.Marshal(axeTags)
	ctx, cancel := context.WithTimeout(b.ctx, 2*time.Minute)
	defer cancel()
	out, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](fmt.Sprintf(`axe.run(document, {runOnly: {type: "tag", values: %s}})
		.then(r => r.violations.map(v => v.id + " (" + v.impact + "): " + v.help + " — " +
			v.nodes.map(n => n.target.join(" ") + " " + n.failureSummary).join(" | ")))`, tags), chromedp.EvalAwaitPromise))
	if err != nil {
		b.failShot(t, "axe "+what)
		t.Fatalf("browser: axe on %s: %v", what, err)
	}
	return out
}

// requireAxeClean fails when axe finds any violation in the current page.
func (b *reviewBrowser) requireAxeClean(t *testing.T, what string) {
	t.Helper()
	v := b.axeViolations(t, what)
	if len(v) > 0 {
		b.failShot(t, "axe "+what)
	}
	assert.Empty(t, v, "axe-core %s violations on %s", testenv.AxeCoreVersion, what)
}

// buttonNames returns the accessible name of every button of the page, as Chromium's accessibility tree
// computes it (what a screen reader lists).
func (b *reviewBrowser) buttonNames(t *testing.T) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, reviewStepTimeout)
	defer cancel()
	tree, err := chromedp.Call(ctx, accessibility.GetFullAXTree, accessibility.GetFullAXTreeParams{})
	require.NoError(t, err, "read the accessibility tree")
	var names []string
	for _, n := range tree.Nodes {
		if n.Ignored || n.Role == nil || n.Name == nil {
			continue
		}
		var role, name string
		_ = json.Unmarshal(n.Role.Value, &role)
		_ = json.Unmarshal(n.Name.Value, &name)
		if role == "button" {
			names = append(names, name)
		}
	}
	return names
}

// requireUniqueButtonNames fails when two buttons of the page share an accessible name.
func (b *reviewBrowser) requireUniqueButtonNames(t *testing.T, what string) {
	t.Helper()
	names := b.buttonNames(t)
	require.NotEmpty(t, names)
	seen := map[string]int{}
	for _, n := range names {
		seen[n]++
	}
	var dup []string
	for n, c := range seen {
		if c > 1 || n == "" {
			dup = append(dup, fmt.Sprintf("%q ×%d", n, c))
		}
	}
	assert.Empty(t, dup, "%s: every button's accessible name is unique (of %d buttons)", what, len(names))
}

// focused describes the focused element: its tag, class and the attributes that identify it.
func (b *reviewBrowser) focused(t *testing.T) string {
	t.Helper()
	return reviewEval[string](t, b, `(() => { const e = document.activeElement; if (!e) { return "none"; }
		return e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + (e.className ? "." + e.className : "") +
			(e.name ? "[name=" + e.name + "]" : "") + (e.getAttribute("aria-label") ? " " + e.getAttribute("aria-label") : ""); })()`)
}

// isFocused reports whether the focused element matches the CSS selector sel.
func (b *reviewBrowser) isFocused(t *testing.T, sel string) bool {
	t.Helper()
	return reviewEval[bool](t, b, fmt.Sprintf(`!!document.activeElement && document.activeElement.matches(%s)`, reviewJS(sel)))
}

// tabTo presses Tab (Shift+Tab when back) until the element matching sel has focus.
func (b *reviewBrowser) tabTo(t *testing.T, sel string, back bool) {
	t.Helper()
	var opts []chromedp.KeyOption
	if back {
		opts = append(opts, chromedp.KeyModifiers(chromedp.ModifierShift))
	}
	for range 600 {
		if b.isFocused(t, sel) {
			return
		}
		b.do(t, "press Tab", chromedp.KeyEvent(kb.Tab, opts...))
	}
	b.failShot(t, "tab to "+sel)
	t.Fatalf("Tab never reached %s (focus is on %s)", sel, b.focused(t))
}

// key presses keys (typed text or a kb constant) into the focused element.
func (b *reviewBrowser) key(t *testing.T, what, keys string) {
	t.Helper()
	b.do(t, what, chromedp.KeyEvent(keys))
}

// forgetErrors drops the console errors that contain match (ones the test caused on purpose, such as the
// browser's log line of a refused request) and returns how many there were.
func (b *reviewBrowser) forgetErrors(match string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	kept, n := b.errors[:0], 0
	for _, e := range b.errors {
		if strings.Contains(e, match) {
			n++
			continue
		}
		kept = append(kept, e)
	}
	b.errors = kept
	return n
}

// pollTrue waits until the JavaScript expression is true.
func (b *reviewBrowser) pollTrue(t *testing.T, what, expr string) {
	t.Helper()
	b.do(t, what, chromedp.Poll[chromedp.Void](expr,
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(20*time.Second)))
}

// TestReviewBrowserAxe runs axe-core (WCAG 2.1 AA and best practices) in the review page at desktop and
// phone widths, with the comment forms closed and open, and on the 404 page; it fails on any violation,
// and on two buttons that share an accessible name.
func TestReviewBrowserAxe(t *testing.T) {
	t.Parallel()
	re := newReviewEnv(t)
	srv := reviewServer(t, re)
	b := newReviewBrowser(t)
	d := re.reviewReadyDraft(t)

	b.do(t, "open the share link", chromedp.Navigate(d.ShareURL))
	b.loaded(t)
	assert.Zero(t, reviewEval[int](t, b, `document.querySelectorAll(".para[tabindex], p[tabindex]").length`),
		"paragraphs are not tab stops")
	b.requireAxeClean(t, "the page at 1280 px")
	b.requireUniqueButtonNames(t, "the page")
	groups := reviewEval[[]string](t, b, `Array.from(document.querySelectorAll(".verdict")).map(g => g.getAttribute("aria-label"))`)
	require.NotEmpty(t, groups)
	seen := map[string]bool{}
	for _, g := range groups {
		assert.NotEqual(t, "Your verdict", g, "a verdict group is named after its item")
		assert.False(t, seen[g], "verdict group name %q is unique", g)
		seen[g] = true
	}
	legend := reviewRun(t, b, "read the placeholder legend", chromedp.Text(chromedp.CSS("#emails .legend")))
	assert.Contains(t, legend, "{{first_name}}")
	assert.Contains(t, legend, d.Snapshot.Leads[0].FirstName, "the legend fills the placeholder for a sample lead")
	assert.Positive(t, reviewEval[int](t, b, `document.querySelectorAll("#emails .para .token").length`),
		"placeholders in the copy show as tokens")

	// Every kind of comment form open at once: a note, a line comment and a change request's reason.
	b.selectInParagraph(t, "e1-p2", reviewQuote)
	b.do(t, "open the forms",
		chromedp.Click(chromedp.CSS(`button.add-line[data-pid="e1-p2"]`)),
		chromedp.Click(chromedp.CSS(`button.add-note[data-pid="e1-p3"]`)),
		chromedp.Click(chromedp.CSS(`button.add-line[data-pid="e2-p1"]`)),
		chromedp.Click(chromedp.CSS(`.verdict[data-target="audience"] button.change`)),
		chromedp.WaitVisible(chromedp.CSS(`.verdict[data-target="audience"] form.comment-form`)))
	require.Equal(t, 4, reviewEval[int](t, b, `document.querySelectorAll("form.comment-form").length`))
	b.requireAxeClean(t, "the page at 1280 px with comment forms open")
	b.requireUniqueButtonNames(t, "the page with comment forms open")

	b.do(t, "phone viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulatePortrait, chromedp.EmulateScale(2)))
	b.requireAxeClean(t, "the page at 390 px with comment forms open")
	b.do(t, "reload at 390 px", chromedp.Reload())
	b.loaded(t)
	b.requireAxeClean(t, "the page at 390 px")

	notFound := srv.URL + "/r/" + strings.Repeat("x", len(d.Token))
	resp, err := http.Get(notFound)
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	b.do(t, "open a link that does not exist", chromedp.Navigate(notFound))
	b.requireAxeClean(t, "the 404 page at 390 px")
	assert.Equal(t, "rgb(255, 255, 255)", reviewEval[string](t, b, `getComputedStyle(document.querySelector(".stage")).backgroundColor`),
		"the 404 page uses the review's stylesheet")
	b.do(t, "desktop viewport", chromedp.EmulateViewport(1280, 900))
	b.requireAxeClean(t, "the 404 page at 1280 px")
	assert.Equal(t, 1, b.forgetErrors("status of 404"), "the browser logs the 404 of the unknown link, once")
	b.requireClean(t)
}

// TestReviewBrowserKeyboard drives one full review with the keyboard alone (Tab, Shift+Tab, Enter,
// Escape and typing): the reviewer's name, an approval, a change request whose form is first dismissed
// with Escape, a line comment with a typed quote (after an error the form shows in the page), a note
// cancelled, and the submit. Focus returns to the button that opened each form, and the live region
// announces each save.
func TestReviewBrowserKeyboard(t *testing.T) {
	t.Parallel()
	re := newReviewEnv(t)
	reviewServer(t, re)
	b := newReviewBrowser(t)
	d := re.reviewReadyDraft(t)
	const name = "Kim Keyboard"
	const leadComment = "Wrong seniority for this campaign."
	const comment = "Say how many hours, with a source."
	lead := d.Snapshot.Leads[1].ID
	approve := `.verdict[data-target="audience"] button.approve`
	change := fmt.Sprintf(`.verdict[data-target=%q] button.change`, lead)
	announced := func(want string) {
		t.Helper()
		b.pollTrue(t, "announce "+want, fmt.Sprintf(`document.getElementById("announce").textContent.includes(%s)`, reviewJS(want)))
	}

	b.do(t, "open the share link", chromedp.Navigate(d.ShareURL))
	b.loaded(t)
	b.do(t, "start from the top", chromedp.Evaluate[chromedp.Void](`document.activeElement && document.activeElement.blur()`))

	// The name, then the audience approved with Enter.
	b.tabTo(t, "#reviewer-name", false)
	b.key(t, "type the name", name)
	b.tabTo(t, approve, false)
	b.key(t, "press Enter on Approve", kb.Enter)
	b.pollTrue(t, "the audience is approved", fmt.Sprintf(`document.querySelector(%s).getAttribute("aria-pressed") === "true"`, reviewJS(approve)))
	announced("Approved the audience as a whole")

	// A change request on a lead: Escape dismisses the form and focus goes back to the button; the
	// second time the reason is typed and saved with Tab and Enter.
	b.tabTo(t, change, false)
	b.key(t, "press Enter on Request changes", kb.Enter)
	b.pollTrue(t, "the reason has focus", `document.activeElement.matches("form.comment-form textarea[name=comment]")`)
	b.key(t, "type a reason", "draft")
	b.key(t, "press Escape", kb.Escape)
	assert.Zero(t, reviewEval[int](t, b, `document.querySelectorAll("form.comment-form").length`), "Escape closes the form")
	assert.True(t, b.isFocused(t, change), "focus is back on the button that opened the form, not on %s", b.focused(t))
	b.key(t, "press Enter on Request changes again", kb.Enter)
	b.pollTrue(t, "the reason has focus", `document.activeElement.matches("form.comment-form textarea[name=comment]")`)
	b.key(t, "type the reason", leadComment)
	b.tabTo(t, "form.comment-form button[type=submit]", false)
	b.key(t, "press Enter on Save", kb.Enter)
	b.waitListed(t, lead, leadComment)
	b.pollTrue(t, "focus back on Request changes", fmt.Sprintf(`document.activeElement.matches(%s)`, reviewJS(change)))
	announced("Changes requested on lead 2")

	// A line comment with nothing selected: the reviewer types the quote. A quote that is not in the
	// paragraph is refused with an error shown in the form, announced (role=alert), never an alert box.
	addLine := `button.add-line[data-pid="e1-p2"]`
	form := `.para-block[data-pid="e1-p2"] form.comment-form`
	b.tabTo(t, addLine, false)
	b.key(t, "press Enter on Comment on selected text", kb.Enter)
	b.pollTrue(t, "the quote field has focus", `document.activeElement.matches("form.comment-form textarea[name=quote]")`)
	described := reviewEval[string](t, b, `(() => { const q = document.activeElement;
		const h = document.getElementById(q.getAttribute("aria-describedby") || "-"); return h ? h.textContent : ""; })()`)
	assert.Contains(t, described, "type the words", "the quote field tells a keyboard user to type the quote")
	b.key(t, "type a quote that is not in the paragraph", "words nobody wrote")
	b.key(t, "Tab to the comment", kb.Tab)
	require.True(t, b.isFocused(t, form+" textarea[name=comment]"), "focus on %s", b.focused(t))
	b.key(t, "type the comment", comment)
	b.key(t, "Tab to Save", kb.Tab)
	b.key(t, "press Enter on Save", kb.Enter)
	b.pollTrue(t, "the form shows the error", fmt.Sprintf(`document.querySelector(%s).textContent.includes("quote")`, reviewJS(form+" .error")))
	assert.Equal(t, "alert", reviewEval[string](t, b, fmt.Sprintf(`document.querySelector(%s).getAttribute("role")`, reviewJS(form+" .error"))))
	b.tabTo(t, form+" textarea[name=quote]", true)
	b.do(t, "select the typed quote", chromedp.KeyEvent("a", chromedp.KeyModifiers(chromedp.ModifierCtrl)))
	b.key(t, "type the quote", reviewQuote)
	b.tabTo(t, form+" button[type=submit]", false)
	b.key(t, "press Enter on Save", kb.Enter)
	b.waitListed(t, "e1-p2", comment)
	b.pollTrue(t, "focus back on Comment on selected text", fmt.Sprintf(`document.activeElement.matches(%s)`, reviewJS(addLine)))
	announced("Comment saved")

	// A note opened and cancelled with Enter on Cancel: nothing saved, focus back on its button.
	addNote := `button.add-note[data-pid="e2-p1"]`
	b.tabTo(t, addNote, false)
	b.key(t, "press Enter on Add a note", kb.Enter)
	b.pollTrue(t, "the note has focus", `document.activeElement.matches("form.comment-form textarea[name=comment]")`)
	b.tabTo(t, `.para-block[data-pid="e2-p1"] form.comment-form button.cancel`, false)
	b.key(t, "press Enter on Cancel", kb.Enter)
	assert.Zero(t, reviewEval[int](t, b, `document.querySelectorAll("form.comment-form").length`), "Cancel closes the form")
	assert.True(t, b.isFocused(t, addNote), "focus is back on Add a note, not on %s", b.focused(t))
	assert.Zero(t, reviewEval[int](t, b, `document.querySelectorAll('ul.feedback[data-for="e2-p1"] li').length`))

	// Submit with Enter, confirming the dialog.
	b.tabTo(t, "#submit-review", false)
	reviewRun(t, b, "press Enter on Submit and wait for the reload", chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.KeyEvent(kb.Enter)))
	b.do(t, "wait for the outcome", chromedp.WaitVisible(chromedp.CSS("#outcome")))
	assert.Equal(t, 1, b.forgetErrors("status of 422"), "the browser logs the refused quote, once")
	b.requireClean(t, "confirm: Submit your review? The team is notified and this page becomes read-only.")

	f := re.reviewCSMFeedback(t, d.ID)
	assert.Equal(t, storage.DraftStatusNotApproved, f.Status)
	require.Len(t, f.Submitted, 3, "submitted: %+v", f.Submitted)
	appr := reviewFind(f.Submitted, storage.FeedbackApproved, "audience")
	require.NotNil(t, appr, "submitted: %+v", f.Submitted)
	assert.Equal(t, name, appr.Author)
	cr := reviewFind(f.Submitted, storage.FeedbackChangeRequest, lead)
	require.NotNil(t, cr, "submitted: %+v", f.Submitted)
	assert.Equal(t, leadComment, cr.Comment, "the reason typed before Escape was not saved")
	lc := reviewFind(f.Submitted, storage.FeedbackLineComment, "e1-p2")
	require.NotNil(t, lc, "submitted: %+v", f.Submitted)
	assert.Equal(t, reviewQuote, lc.Quote, "the typed quote")
	assert.Equal(t, comment, lc.Comment)
}
