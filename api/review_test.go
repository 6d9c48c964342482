package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/signoff/signoff/api"
	"github.com/signoff/signoff/app"
	"github.com/signoff/signoff/errs"
	"github.com/signoff/signoff/sharelink"
	"github.com/signoff/signoff/storage"
	"github.com/signoff/signoff/testenv"
)

// Tests of the client review (SPEC §5, R-DRAFT-11, R-DRAFT-12): the public page and JSON API a
// client reaches with the share link, and the CSM's view of the feedback.

// reviewRequireHeaders checks the privacy and framing headers of R-REVIEW-7 on one answer.
func reviewRequireHeaders(t *testing.T, what string, h http.Header) {
	t.Helper()
	assert.Equal(t, "no-referrer", h.Get("Referrer-Policy"), "%s: Referrer-Policy", what)
	assert.Contains(t, h.Get("X-Robots-Tag"), "noindex", "%s: X-Robots-Tag", what)
	csp := h.Get("Content-Security-Policy")
	assert.Contains(t, csp, "frame-ancestors 'none'", "%s: the page must not be framed", what)
	assert.NotContains(t, csp, "unsafe-inline", "%s: no inline code", what)
	assert.NotContains(t, csp, "unsafe-eval", "%s: no eval", what)
	assert.NotContains(t, csp, "*", "%s: no wildcard source", what)
}

// reviewInternalIDs lists every internal id of the database that a client must never see: accounts,
// users, campaigns (the copies included), saved searches, contacts and drafts, of both tenants.
func reviewInternalIDs(t *testing.T, e *env) []string {
	t.Helper()
	rows, err := e.pool.Query(context.Background(), `
		SELECT id::text FROM accounts UNION ALL SELECT id::text FROM users UNION ALL SELECT id::text FROM campaigns
		UNION ALL SELECT id::text FROM saved_searches UNION ALL SELECT id::text FROM contacts
		UNION ALL SELECT id::text FROM approval_drafts`)
	require.NoError(t, err)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.Greater(t, len(ids), 300)
	return ids
}

// reviewForbiddenKeys are JSON keys that would expose internal ids.
var reviewForbiddenKeys = map[string]bool{"account_id": true, "campaign_id": true, "copy_campaign_id": true,
	"created_by": true, "user_id": true, "saved_search_id": true, "source_ref": true, "contact_id": true, "token_hash": true}

// reviewScanKeys fails for every forbidden key anywhere in a decoded JSON value.
func reviewScanKeys(t *testing.T, path string, v any) {
	t.Helper()
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			assert.False(t, reviewForbiddenKeys[k], "the review exposes %s.%s", path, k)
			reviewScanKeys(t, path+"."+k, val)
		}
	case []any:
		for i, val := range x {
			reviewScanKeys(t, fmt.Sprintf("%s[%d]", path, i), val)
		}
	}
}

// TestReviewSnapshotAPI: GET /v1/public/reviews/{token} answers the frozen snapshot with AI results,
// empty feedback and status ready, never an internal id; page and API send the R-REVIEW-7 headers.
func TestReviewSnapshotAPI(t *testing.T) {
	t.Parallel()
	re := newReviewEnv(t)
	d := re.reviewReadyDraft(t)

	require.Len(t, d.Token, 43, "the token is 32 random bytes, URL-safe base64 (R-REVIEW-1)")
	require.Equal(t, re.server.App.PublicURL+"/r/"+d.Token, d.ShareURL)

	rec := re.request(t, http.MethodGet, reviewPath(d.Token, ""), "", nil)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	reviewRequireHeaders(t, "GET review", rec.Header())
	var raw map[string]any
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &raw))
	for _, k := range []string{"campaign", "audience", "leads", "emails", "feedback", "status"} {
		require.Contains(t, raw, k, "R-REVIEW-3: the review has %s", k)
	}
	fb, ok := raw["feedback"].([]any)
	require.True(t, ok, "feedback is a list, not null: %v", raw["feedback"])
	require.Empty(t, fb)

	var v reviewView
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &v))
	assert.Equal(t, storage.DraftStatusReady, v.Status)
	assert.Nil(t, v.SubmittedAt)
	assert.Equal(t, d.Name, v.Name)
	camp, err := re.store.Campaign(context.Background(), re.A.Account.ID, d.CampaignID)
	require.NoError(t, err)
	assert.Equal(t, camp.Name, v.Campaign.Name)
	assert.NotEmpty(t, v.Audience.Description)
	require.Len(t, v.Audience.Segments, 2, "the demo campaign has two segments")
	for i, s := range v.Audience.Segments {
		assert.Equal(t, fmt.Sprintf("segment-%d", i+1), s.ID)
		assert.NotEmpty(t, s.Name)
		assert.NotEmpty(t, s.Description)
	}
	require.Len(t, v.Leads, reviewLeadCount)
	snapLeads := map[string]bool{}
	for _, l := range d.Snapshot.Leads {
		snapLeads[l.ID] = true
	}
	stored := map[string]string{}
	rows, err := re.pool.Query(context.Background(), `SELECT id::text, ai::text FROM campaign_leads WHERE campaign_id = $1 AND ai IS NOT NULL`, d.CopyID)
	require.NoError(t, err)
	for rows.Next() {
		var id, ai string
		require.NoError(t, rows.Scan(&id, &ai))
		stored[id] = ai
	}
	require.NoError(t, rows.Err())
	for _, l := range v.Leads {
		assert.True(t, snapLeads[l.ID], "lead %s is a lead of the snapshot", l.ID)
		if want, ok := stored[l.ID]; assert.True(t, ok, "lead %s has a stored AI result", l.ID) {
			assert.JSONEq(t, want, string(l.AI), "lead %s shows its own AI result", l.ID)
		}
		assert.NotEmpty(t, l.FirstName)
		assert.NotEqual(t, "null", string(l.AI), "lead %s: ai must be set once the AI pipeline is done", l.ID)
		var ai map[string]any
		require.NoError(t, json.Unmarshal(l.AI, &ai), "lead %s: ai is an object: %s", l.ID, l.AI)
		assert.NotEmpty(t, ai)
	}
	require.Len(t, v.Emails, 3, "the demo sequence has three emails")
	for i, em := range v.Emails {
		assert.Equal(t, i+1, em.Step)
		assert.NotEmpty(t, em.Subject)
		require.GreaterOrEqual(t, len(em.Paragraphs), 3, "email %d is split into paragraphs", em.Step)
		for j, p := range em.Paragraphs {
			assert.Equal(t, fmt.Sprintf("e%d-p%d", em.Step, j+1), p.ID)
			assert.NotEmpty(t, p.Text)
		}
	}
	assert.Contains(t, v.Emails[0].Paragraphs[1].Text, reviewQuote)
	assert.Equal(t, d.Snapshot.Emails, v.Emails, "the emails are the frozen snapshot's")

	// No internal id, as a key or as a value, in the API or the page (R-REVIEW-7).
	reviewScanKeys(t, "$", raw)
	page := re.request(t, http.MethodGet, "/r/"+d.Token, "", nil)
	require.Equal(t, http.StatusOK, page.Code, page.Body.String())
	ids := reviewInternalIDs(t, re.env)
	for _, id := range ids {
		assert.NotContains(t, rec.Body.String(), id, "the review API reveals an internal id")
		assert.NotContains(t, page.Body.String(), id, "the review page reveals an internal id")
	}

	// The page: HTML, the same headers, the three stages, and nothing inline that the CSP would block.
	reviewRequireHeaders(t, "GET page", page.Header())
	assert.Contains(t, page.Header().Get("Content-Type"), "text/html")
	html := page.Body.String()
	for _, s := range []string{`id="audience"`, `id="leads"`, `id="emails"`, `id="e1-p2"`, `id="submit-review"`,
		`src="/review-assets/review.js"`} {
		assert.Contains(t, html, s)
	}
	assert.Contains(t, html, reviewHTMLEscape(camp.Name))
	assert.NotContains(t, html, "<script>", "no inline script: the CSP forbids it")
	assert.NotContains(t, html, " style=", "no inline style: the CSP forbids it")
	assert.NotContains(t, html, " onclick=", "no inline handlers: the CSP forbids them")

	// The page's assets carry the headers too.
	for _, p := range []string{"/review-assets/review.js", "/review-assets/review.css"} {
		a := re.request(t, http.MethodGet, p, "", nil)
		require.Equal(t, http.StatusOK, a.Code, p)
		reviewRequireHeaders(t, p, a.Header())
	}
	// And so do the error answers.
	nf := re.request(t, http.MethodGet, reviewPath("nope", ""), "", nil)
	require.Equal(t, http.StatusNotFound, nf.Code)
	reviewRequireHeaders(t, "404 API", nf.Header())
	nfPage := re.request(t, http.MethodGet, "/r/nope", "", nil)
	require.Equal(t, http.StatusNotFound, nfPage.Code)
	reviewRequireHeaders(t, "404 page", nfPage.Header())
	bad := re.request(t, http.MethodPut, reviewPath(d.Token, "/items/nope"), "", map[string]any{"verdict": "approved"})
	require.Equal(t, http.StatusUnprocessableEntity, bad.Code)
	reviewRequireHeaders(t, "422 API", bad.Header())
}

// reviewHTMLEscape escapes s the way html/template does text (enough for the names used here).
func reviewHTMLEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;").Replace(s)
}

// reviewBadWrite is one write R-REVIEW-4 refuses.
type reviewBadWrite struct {
	name   string
	method string
	path   string // after /v1/public/reviews/{token}
	body   any    // string: sent as is
	status int
	field  string // the 422's field; "" for a 400
}

// TestReviewWritesValidated: every write is checked against the frozen snapshot; a bad one answers 422
// validation_failed (400 for malformed JSON) and stores nothing (R-REVIEW-4).
func TestReviewWritesValidated(t *testing.T) {
	t.Parallel()
	re := newReviewEnv(t)
	d := re.reviewReadyDraft(t)
	lead := d.Snapshot.Leads[0].ID
	p2 := reviewParagraph(t, d.Snapshot, "e1-p2")
	p3 := reviewParagraph(t, d.Snapshot, "e1-p3")
	otherQuote := "Ledgerline matches every payout"
	require.Contains(t, p3, otherQuote)
	require.NotContains(t, p2, otherQuote)
	require.Contains(t, p2, reviewQuote)
	long := func(n int) string { return strings.Repeat("é", n) }
	note := func(target, quote, comment, kind, author string) map[string]any {
		return map[string]any{"target": target, "quote": quote, "comment": comment, "kind": kind, "author": author}
	}
	u422 := http.StatusUnprocessableEntity
	cases := []reviewBadWrite{
		// PUT items/{target}
		{"item unknown target", "PUT", "/items/nope", map[string]any{"verdict": "approved"}, u422, "target"},
		{"item unknown email", "PUT", "/items/e9", map[string]any{"verdict": "approved"}, u422, "target"},
		{"item unknown paragraph", "PUT", "/items/e1-p99", map[string]any{"verdict": "approved"}, u422, "target"},
		{"item unknown segment", "PUT", "/items/segment-9", map[string]any{"verdict": "approved"}, u422, "target"},
		{"item unknown lead", "PUT", "/items/" + testenv.NewUUID(), map[string]any{"verdict": "approved"}, u422, "target"},
		{"item section in capitals", "PUT", "/items/Audience", map[string]any{"verdict": "approved"}, u422, "target"},
		{"item bad verdict", "PUT", "/items/audience", map[string]any{"verdict": "maybe"}, u422, "verdict"},
		{"item verdict in capitals", "PUT", "/items/audience", map[string]any{"verdict": "APPROVED"}, u422, "verdict"},
		{"item verdict is a comment kind", "PUT", "/items/audience", map[string]any{"verdict": "note"}, u422, "verdict"},
		{"item verdict wrong type", "PUT", "/items/audience", `{"verdict":5}`, u422, "verdict"},
		{"item comment too long", "PUT", "/items/audience", map[string]any{"verdict": "change_request", "comment": long(2001)}, u422, "comment"},
		{"item author too long", "PUT", "/items/audience", map[string]any{"verdict": "approved", "author": long(101)}, u422, "author"},
		{"item comment with NUL", "PUT", "/items/audience", `{"verdict":"change_request","comment":"a\u0000b"}`, u422, "comment"},
		{"item comment wrong type", "PUT", "/items/audience", `{"verdict":"approved","comment":123}`, u422, "comment"},
		{"item author wrong type", "PUT", "/items/audience", `{"verdict":"approved","author":["x"]}`, u422, "author"},
		{"item unknown field", "PUT", "/items/audience", `{"verdict":"approved","rating":5}`, u422, "rating"},
		{"item malformed JSON", "PUT", "/items/audience", `{"verdict":`, http.StatusBadRequest, ""},
		{"item not an object", "PUT", "/items/audience", `["approved"]`, http.StatusBadRequest, ""},
		{"item two values", "PUT", "/items/audience", `{"verdict":"approved"}{}`, http.StatusBadRequest, ""},
		// POST comments
		{"comment unknown target", "POST", "/comments", note("nope", "", "hi", "note", ""), u422, "target"},
		{"comment unknown paragraph", "POST", "/comments", note("e1-p99", "", "hi", "note", ""), u422, "target"},
		{"comment on a section", "POST", "/comments", note("audience", "", "hi", "note", ""), u422, "target"},
		{"comment on a segment", "POST", "/comments", note("segment-1", "", "hi", "note", ""), u422, "target"},
		{"comment on a lead", "POST", "/comments", note(lead, "", "hi", "note", ""), u422, "target"},
		{"comment on an email", "POST", "/comments", note("e1", "", "hi", "note", ""), u422, "target"},
		{"comment without target", "POST", "/comments", map[string]any{"comment": "hi", "kind": "note"}, u422, "target"},
		{"quote not in the paragraph", "POST", "/comments", note("e1-p2", "not in the text", "hi", "line_comment", ""), u422, "quote"},
		{"quote from another paragraph", "POST", "/comments", note("e1-p2", otherQuote, "hi", "line_comment", ""), u422, "quote"},
		{"quote in other case", "POST", "/comments", note("e1-p2", strings.ToUpper(reviewQuote), "hi", "line_comment", ""), u422, "quote"},
		{"note with a foreign quote", "POST", "/comments", note("e1-p2", otherQuote, "hi", "note", ""), u422, "quote"},
		{"quote too long", "POST", "/comments", note("e1-p2", long(1001), "hi", "line_comment", ""), u422, "quote"},
		{"line comment without quote", "POST", "/comments", note("e1-p2", "", "hi", "line_comment", ""), u422, "quote"},
		{"empty comment", "POST", "/comments", note("e1-p2", "", "", "note", ""), u422, "comment"},
		{"blank comment", "POST", "/comments", note("e1-p2", "", " \n\t ", "note", ""), u422, "comment"},
		{"comment too long", "POST", "/comments", note("e1-p2", "", long(2001), "note", ""), u422, "comment"},
		{"comment author too long", "POST", "/comments", note("e1-p2", "", "hi", "note", long(101)), u422, "author"},
		{"comment with NUL", "POST", "/comments", `{"target":"e1-p2","kind":"note","comment":"\u0000"}`, u422, "comment"},
		{"bad kind", "POST", "/comments", note("e1-p2", "", "hi", "approved", ""), u422, "kind"},
		{"no kind", "POST", "/comments", note("e1-p2", "", "hi", "", ""), u422, "kind"},
		{"comment unknown field", "POST", "/comments", `{"target":"e1-p2","kind":"note","comment":"hi","verdict":"approved"}`, u422, "verdict"},
		{"target wrong type", "POST", "/comments", `{"target":2,"kind":"note","comment":"hi"}`, u422, "target"},
		{"comment wrong type", "POST", "/comments", `{"target":"e1-p2","kind":"note","comment":true}`, u422, "comment"},
		{"quote wrong type", "POST", "/comments", `{"target":"e1-p2","kind":"line_comment","comment":"hi","quote":{}}`, u422, "quote"},
		{"comment malformed JSON", "POST", "/comments", `{"target":"e1-p2",`, http.StatusBadRequest, ""},
		{"comment empty body", "POST", "/comments", ``, http.StatusBadRequest, ""},
		// POST submit
		{"submit author too long", "POST", "/submit", map[string]any{"author": long(101)}, u422, "author"},
		{"submit unknown field", "POST", "/submit", `{"author":"Ana","verdict":"approved"}`, u422, "verdict"},
		{"submit author wrong type", "POST", "/submit", `{"author":7}`, u422, "author"},
		{"submit malformed JSON", "POST", "/submit", `{"author"`, http.StatusBadRequest, ""},
	}
	before := dbState(t, re.pool)
	for _, tc := range cases {
		rec := re.request(t, tc.method, reviewPath(d.Token, tc.path), "", tc.body)
		body := decodeObject(t, rec)
		if tc.status == http.StatusBadRequest {
			requireError(t, rec.Code, body, http.StatusBadRequest, string(errs.MalformedJSON))
		} else {
			errObj := requireError(t, rec.Code, body, tc.status, string(errs.Validation))
			assert.Equal(t, tc.field, errObj["field"], "%s: the 422 names the field: %v", tc.name, body)
		}
		reviewRequireHeaders(t, tc.name, rec.Header())
		requireNoWrites(t, re.pool, before)
	}
	items, comments := reviewCounts(t, re.env, d.ID)
	require.Zero(t, items, "a refused write stores no review item")
	require.Zero(t, comments, "a refused write stores no comment")
	require.Equal(t, storage.DraftStatusReady, re.reviewGetDraft(t, d.ID).Status, "a refused submit leaves the draft ready")
	require.Empty(t, re.reviewCSMFeedback(t, d.ID).InReview)

	// The limits are inclusive and count characters, not bytes.
	var it map[string]any
	re.doJSON(t, http.StatusOK, http.MethodPut, reviewPath(d.Token, "/items/audience"), "",
		map[string]any{"verdict": "change_request", "comment": long(2000), "author": long(100)}, &it)
	re.doJSON(t, http.StatusCreated, http.MethodPost, reviewPath(d.Token, "/comments"), "",
		note("e1-p2", reviewQuote, long(2000), "line_comment", long(100)), &it)
	require.LessOrEqual(t, len([]rune(p2)), 1000)
	re.doJSON(t, http.StatusCreated, http.MethodPost, reviewPath(d.Token, "/comments"), "",
		note("e1-p2", p2, "the whole paragraph", "line_comment", ""), &it)
	items, comments = reviewCounts(t, re.env, d.ID)
	assert.Equal(t, 1, items)
	assert.GreaterOrEqual(t, comments, 1)
}

// TestReviewFeedbackAndSubmit: saved items show to the CSM at once (R-REVIEW-5); comments can be
// deleted, only on their own draft; submitting with a change request or a comment ends not_approved,
// once (R-REVIEW-6): later writes and submits answer 409 and change nothing; the CSM is notified.
func TestReviewFeedbackAndSubmit(t *testing.T) {
	t.Parallel()
	re := newReviewEnv(t)
	drafts := re.reviewDrafts(t, 2)
	d, other := drafts[0], drafts[1]
	lead := d.Snapshot.Leads[1].ID
	start := time.Now().Add(-time.Minute)

	// A verdict on a section and a line comment on a paragraph.
	var put map[string]any
	re.doJSON(t, http.StatusOK, http.MethodPut, reviewPath(d.Token, "/items/audience"), "",
		map[string]any{"verdict": "approved", "author": "Ana Client"}, &put)
	assert.Equal(t, "audience", put["target"])
	assert.Equal(t, "approved", put["verdict"])
	var line reviewItem
	re.doJSON(t, http.StatusCreated, http.MethodPost, reviewPath(d.Token, "/comments"), "", map[string]any{
		"target": "e1-p2", "kind": "line_comment", "quote": reviewQuote, "comment": "Too dramatic.", "author": "Ana Client"}, &line)
	require.NotNil(t, line.ID, "a stored comment answers its id")
	assert.Equal(t, storage.FeedbackLineComment, line.Kind)
	assert.Equal(t, reviewQuote, line.Quote)

	// R-REVIEW-5: the CSM sees them at once, before any submit.
	f := re.reviewCSMFeedback(t, d.ID)
	assert.Equal(t, storage.DraftStatusReady, f.Status)
	require.Empty(t, f.Submitted, "nothing is submitted yet")
	require.Len(t, f.InReview, 2, "in_review: %+v", f.InReview)
	appr := reviewFind(f.InReview, storage.FeedbackApproved, "audience")
	require.NotNil(t, appr, "the approval shows: %+v", f.InReview)
	assert.Equal(t, "Ana Client", appr.Author)
	assert.Equal(t, "", appr.Comment)
	assert.Equal(t, "", appr.Quote)
	assert.WithinRange(t, appr.CreatedAt, start, time.Now().Add(time.Minute))
	lc := reviewFind(f.InReview, storage.FeedbackLineComment, "e1-p2")
	require.NotNil(t, lc, "the line comment shows: %+v", f.InReview)
	assert.Equal(t, reviewQuote, lc.Quote)
	assert.Equal(t, "Too dramatic.", lc.Comment)
	assert.Equal(t, "Ana Client", lc.Author)
	assert.WithinRange(t, lc.CreatedAt, start, time.Now().Add(time.Minute))
	assert.Len(t, re.reviewGet(t, d.Token).Feedback, 2, "the review page sees its saved feedback")

	// A verdict is one per target: a second PUT replaces it, a null verdict without comment clears it.
	re.doJSON(t, http.StatusOK, http.MethodPut, reviewPath(d.Token, "/items/"+lead), "",
		map[string]any{"verdict": "approved", "author": "Ana Client"}, &put)
	re.doJSON(t, http.StatusOK, http.MethodPut, reviewPath(d.Token, "/items/"+lead), "",
		map[string]any{"verdict": "change_request", "comment": "Wrong seniority.", "author": "Ana Client"}, &put)
	f = re.reviewCSMFeedback(t, d.ID)
	require.Len(t, f.InReview, 3)
	cr := reviewFind(f.InReview, storage.FeedbackChangeRequest, lead)
	require.NotNil(t, cr, "the change request replaced the approval: %+v", f.InReview)
	assert.Equal(t, "Wrong seniority.", cr.Comment)
	assert.Nil(t, reviewFind(f.InReview, storage.FeedbackApproved, lead))
	re.doJSON(t, http.StatusOK, http.MethodPut, reviewPath(d.Token, "/items/"+lead), "",
		map[string]any{"verdict": nil, "comment": ""}, &put)
	assert.Nil(t, put["verdict"])
	require.Len(t, re.reviewCSMFeedback(t, d.ID).InReview, 2, "a null verdict without comment clears the item")
	re.doJSON(t, http.StatusOK, http.MethodPut, reviewPath(d.Token, "/items/"+lead), "",
		map[string]any{"verdict": "change_request", "comment": "Wrong seniority.", "author": "Ana Client"}, &put)

	// Delete: a note of this draft goes; a second delete, a malformed id and another draft's comment are 404.
	var n reviewItem
	re.doJSON(t, http.StatusCreated, http.MethodPost, reviewPath(d.Token, "/comments"), "", map[string]any{
		"target": "e2-p1", "kind": "note", "comment": "Say hello properly."}, &n)
	require.NotNil(t, n.ID)
	require.Len(t, re.reviewCSMFeedback(t, d.ID).InReview, 4)
	rec := re.request(t, http.MethodDelete, reviewPath(d.Token, "/comments/"+*n.ID), "", nil)
	require.Equal(t, http.StatusNoContent, rec.Code, rec.Body.String())
	require.Len(t, re.reviewCSMFeedback(t, d.ID).InReview, 3, "the deleted note is gone")
	code, body := re.do(t, http.MethodDelete, reviewPath(d.Token, "/comments/"+*n.ID), "", nil)
	requireError(t, code, body, http.StatusNotFound, string(errs.NotFound))
	code, body = re.do(t, http.MethodDelete, reviewPath(d.Token, "/comments/not-a-uuid"), "", nil)
	requireError(t, code, body, http.StatusNotFound, string(errs.NotFound))
	var foreign reviewItem
	re.doJSON(t, http.StatusCreated, http.MethodPost, reviewPath(other.Token, "/comments"), "", map[string]any{
		"target": "e1-p1", "kind": "note", "comment": "Another draft's note."}, &foreign)
	before := dbState(t, re.pool)
	code, body = re.do(t, http.MethodDelete, reviewPath(d.Token, "/comments/"+*foreign.ID), "", nil)
	requireError(t, code, body, http.StatusNotFound, string(errs.NotFound))
	requireNoWrites(t, re.pool, before)
	of := re.reviewCSMFeedback(t, other.ID)
	require.Len(t, of.InReview, 1, "each draft sees only its own feedback")
	assert.Equal(t, "Another draft's note.", of.InReview[0].Comment)

	// The CSM's feedback is the CSM's and admin's, of their own account only.
	code, body = re.do(t, http.MethodGet, "/v1/approval-drafts/"+d.ID+"/feedback", re.A.Tokens[storage.RoleAdmin], nil)
	require.Equal(t, http.StatusOK, code, "%v", body)
	code, body = re.do(t, http.MethodGet, "/v1/approval-drafts/"+d.ID+"/feedback", re.A.Tokens[storage.RoleEditor], nil)
	requireError(t, code, body, http.StatusForbidden, string(errs.Forbidden))
	code, body = re.do(t, http.MethodGet, "/v1/approval-drafts/"+d.ID+"/feedback", re.B.Tokens[storage.RoleCSM], nil)
	requireError(t, code, body, http.StatusNotFound, string(errs.NotFound))

	// Submit: a change request and a comment make it not_approved.
	var sub map[string]any
	re.doJSON(t, http.StatusOK, http.MethodPost, reviewPath(d.Token, "/submit"), "", map[string]any{"author": "Ana Client"}, &sub)
	assert.Equal(t, storage.DraftStatusNotApproved, sub["status"])
	assert.NotNil(t, sub["submitted_at"])
	dj := re.reviewGetDraft(t, d.ID)
	assert.Equal(t, storage.DraftStatusNotApproved, dj.Status)
	require.NotNil(t, dj.SubmittedAt)

	// Once: a second submit and every later write answer 409 review_submitted and change nothing.
	before = dbState(t, re.pool)
	after := []struct {
		method, path string
		body         any
	}{
		{http.MethodPost, "/submit", map[string]any{"author": "Ana Client"}},
		{http.MethodPost, "/submit", nil},
		{http.MethodPut, "/items/emails", map[string]any{"verdict": "approved"}},
		{http.MethodPut, "/items/" + lead, map[string]any{"verdict": nil, "comment": ""}},
		{http.MethodPost, "/comments", map[string]any{"target": "e1-p1", "kind": "note", "comment": "One more thing."}},
		{http.MethodDelete, "/comments/" + *line.ID, nil},
	}
	for _, w := range after {
		code, body := re.do(t, w.method, reviewPath(d.Token, w.path), "", w.body)
		requireError(t, code, body, http.StatusConflict, string(errs.ReviewSubmitted))
		requireNoWrites(t, re.pool, before)
	}

	// The CSM now sees the items as submitted.
	f = re.reviewCSMFeedback(t, d.ID)
	assert.Equal(t, storage.DraftStatusNotApproved, f.Status)
	assert.Empty(t, f.InReview, "after submit nothing is in review")
	require.Len(t, f.Submitted, 3, "submitted: %+v", f.Submitted)
	assert.NotNil(t, reviewFind(f.Submitted, storage.FeedbackApproved, "audience"))
	assert.NotNil(t, reviewFind(f.Submitted, storage.FeedbackChangeRequest, lead))
	got := reviewFind(f.Submitted, storage.FeedbackLineComment, "e1-p2")
	require.NotNil(t, got)
	assert.Equal(t, reviewQuote, got.Quote)
	assert.Len(t, re.reviewCSMFeedback(t, other.ID).Submitted, 0, "the other draft is still in review")

	// The client's view is closed and read-only.
	v := re.reviewGet(t, d.Token)
	assert.Equal(t, storage.DraftStatusNotApproved, v.Status)
	assert.NotNil(t, v.SubmittedAt)
	assert.Len(t, v.Feedback, 3)
	page := re.request(t, http.MethodGet, "/r/"+d.Token, "", nil)
	require.Equal(t, http.StatusOK, page.Code)
	assert.Contains(t, page.Body.String(), "Changes requested")
	assert.NotContains(t, page.Body.String(), `id="submit-review"`)
	assert.NotContains(t, page.Body.String(), `class="verdict"`)

	// The CSM who asked for the draft is notified in the app and by email, once.
	camp, err := re.store.Campaign(context.Background(), re.A.Account.ID, d.CampaignID)
	require.NoError(t, err)
	notice := reviewRequireNotified(t, re, d, camp.Name, "draft_not_approved")
	assert.Contains(t, notice["body"], "Ana Client", "the notification names the reviewer")
}

// reviewRequireNotified requires exactly one notification of kind about draft d for A's CSM (who asked
// for it), and one outbox email to the CSM about it.
func reviewRequireNotified(t *testing.T, re *reviewEnv, d reviewDraft, campaignName, kind string) map[string]any {
	t.Helper()
	var found []map[string]any
	for _, n := range re.listItems(t, "/v1/notifications", re.csm) {
		if n["draft_id"] == d.ID {
			found = append(found, n)
		}
	}
	require.Len(t, found, 1, "one notification about the submit for the CSM: %v", found)
	assert.Equal(t, kind, found[0]["kind"])
	assert.Equal(t, d.CampaignID, found[0]["campaign_id"])
	assert.Contains(t, found[0]["title"], campaignName)
	var emails []map[string]any
	for _, m := range re.listItems(t, "/v1/dev/outbox", re.admin) {
		if s, _ := m["subject"].(string); strings.Contains(s, campaignName) {
			emails = append(emails, m)
		}
	}
	require.Len(t, emails, 1, "one email about the submit: %v", emails)
	assert.Equal(t, re.A.Users[storage.RoleCSM].Email, emails[0]["to"])
	if kind == "draft_approved" {
		assert.Contains(t, emails[0]["subject"], "approved")
		assert.NotContains(t, emails[0]["subject"], "not approved")
	} else {
		assert.Contains(t, emails[0]["subject"], "not approved")
	}
	var n int
	require.NoError(t, re.pool.QueryRow(context.Background(), `SELECT count(*) FROM outbox_emails WHERE draft_id = $1`, d.ID).Scan(&n))
	assert.Equal(t, 1, n, "exactly one email per submit")
	return found[0]
}

// TestReviewSubmitOutcome: approved exactly when there is no change request and no comment (R-REVIEW-6).
func TestReviewSubmitOutcome(t *testing.T) {
	t.Parallel()
	re := newReviewEnv(t)
	type step struct {
		method, path string
		body         map[string]any
		status       int
	}
	cases := []struct {
		name  string
		steps func(d reviewDraft) []step
		want  string
	}{
		{"no feedback", func(reviewDraft) []step { return nil }, storage.DraftStatusApproved},
		{"approvals only", func(d reviewDraft) []step {
			return []step{
				{"PUT", "/items/audience", map[string]any{"verdict": "approved"}, 200},
				{"PUT", "/items/leads", map[string]any{"verdict": "approved"}, 200},
				{"PUT", "/items/" + d.Snapshot.Leads[0].ID, map[string]any{"verdict": "approved"}, 200},
				{"PUT", "/items/e1-p1", map[string]any{"verdict": "approved"}, 200},
				{"PUT", "/items/emails", map[string]any{"verdict": "approved", "author": "Bo"}, 200},
			}
		}, storage.DraftStatusApproved},
		{"a change request without comment", func(reviewDraft) []step {
			return []step{
				{"PUT", "/items/audience", map[string]any{"verdict": "approved"}, 200},
				{"PUT", "/items/segment-1", map[string]any{"verdict": "change_request"}, 200},
			}
		}, storage.DraftStatusNotApproved},
		{"a note", func(reviewDraft) []step {
			return []step{{"POST", "/comments", map[string]any{"target": "e3-p2", "kind": "note", "comment": "Fine, but shorter."}, 201}}
		}, storage.DraftStatusNotApproved},
		{"an approval with a comment", func(reviewDraft) []step {
			return []step{{"PUT", "/items/e2", map[string]any{"verdict": "approved", "comment": "Nice, one typo."}, 200}}
		}, storage.DraftStatusNotApproved},
		{"a comment without verdict", func(reviewDraft) []step {
			return []step{{"PUT", "/items/leads", map[string]any{"verdict": nil, "comment": "Who are these people?"}, 200}}
		}, storage.DraftStatusNotApproved},
	}
	drafts := re.reviewDrafts(t, len(cases)+1)
	for i, tc := range cases {
		d := drafts[i]
		for _, s := range tc.steps(d) {
			rec := re.request(t, s.method, reviewPath(d.Token, s.path), "", s.body)
			require.Equal(t, s.status, rec.Code, "%s: %s %s: %s", tc.name, s.method, s.path, rec.Body.String())
		}
		var sub map[string]any
		re.doJSON(t, http.StatusOK, http.MethodPost, reviewPath(d.Token, "/submit"), "", nil, &sub)
		assert.Equal(t, tc.want, sub["status"], tc.name)
		assert.Equal(t, tc.want, re.reviewGetDraft(t, d.ID).Status, tc.name)
		f := re.reviewCSMFeedback(t, d.ID)
		assert.Equal(t, tc.want, f.Status, tc.name)
		assert.Empty(t, f.InReview, tc.name)
		camp, err := re.store.Campaign(context.Background(), re.A.Account.ID, d.CampaignID)
		require.NoError(t, err)
		reviewRequireNotified(t, re, d, camp.Name, "draft_"+tc.want)
		code, body := re.do(t, http.MethodPost, reviewPath(d.Token, "/submit"), "", nil)
		requireError(t, code, body, http.StatusConflict, string(errs.ReviewSubmitted))
	}
	// A comment deleted before submit is no comment.
	t.Run("deleted comment", func(t *testing.T) {
		d := drafts[len(cases)]
		var c reviewItem
		re.doJSON(t, http.StatusCreated, http.MethodPost, reviewPath(d.Token, "/comments"), "",
			map[string]any{"target": "e1-p3", "kind": "line_comment", "quote": "Ledgerline", "comment": "Name?"}, &c)
		require.Equal(t, http.StatusNoContent, re.request(t, http.MethodDelete, reviewPath(d.Token, "/comments/"+*c.ID), "", nil).Code)
		var sub map[string]any
		re.doJSON(t, http.StatusOK, http.MethodPost, reviewPath(d.Token, "/submit"), "", map[string]any{}, &sub)
		assert.Equal(t, storage.DraftStatusApproved, sub["status"])
	})
}

// TestReviewConcurrentSubmit: five submits at once: exactly one wins, the others answer 409, and the
// CSM is notified once.
func TestReviewConcurrentSubmit(t *testing.T) {
	t.Parallel()
	re := newReviewEnv(t)
	drafts := re.reviewDrafts(t, 2)
	d := drafts[0]
	const n = 5
	codes := make([]int, n)
	bodies := make([]string, n)
	var wg sync.WaitGroup
	startGun := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-startGun
			rec := reviewSend(re.handler, http.MethodPost, reviewPath(d.Token, "/submit"), fmt.Sprintf(`{"author":"Reviewer %d"}`, i), "")
			codes[i], bodies[i] = rec.Code, rec.Body.String()
		}()
	}
	close(startGun)
	wg.Wait()
	ok := 0
	for i := range n {
		switch codes[i] {
		case http.StatusOK:
			ok++
		case http.StatusConflict:
			assert.Equal(t, string(errs.ReviewSubmitted), errorCode([]byte(bodies[i])), bodies[i])
		default:
			t.Errorf("submit %d answered %d: %s", i, codes[i], bodies[i])
		}
	}
	require.Equal(t, 1, ok, "exactly one submit wins: %v %v", codes, bodies)
	assert.Equal(t, storage.DraftStatusApproved, re.reviewGetDraft(t, d.ID).Status)
	camp, err := re.store.Campaign(context.Background(), re.A.Account.ID, d.CampaignID)
	require.NoError(t, err)
	reviewRequireNotified(t, re, d, camp.Name, "draft_approved")

	// Writes racing a submit: each one is either part of the submitted review (2xx) or refused with 409,
	// and the outcome counts exactly the writes that got in.
	t.Run("writes racing the submit", func(t *testing.T) {
		d := drafts[1]
		type result struct {
			code int
			body string
		}
		// Six writers keep writing until the review closes on them; the submit starts among them.
		const writers = 6
		var (
			mu      sync.Mutex
			results []result
			subCode int
			subBody string
			wg      sync.WaitGroup
		)
		gun := make(chan struct{})
		deadline := time.Now().Add(20 * time.Second)
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-gun
				for i := 0; time.Now().Before(deadline); i++ {
					var rec *httptest.ResponseRecorder
					if w%3 == 2 {
						target := d.Snapshot.Leads[i%len(d.Snapshot.Leads)].ID
						rec = reviewSend(re.handler, http.MethodPut, reviewPath(d.Token, "/items/"+target),
							fmt.Sprintf(`{"verdict":"change_request","comment":"race %d-%d"}`, w, i), "")
					} else {
						rec = reviewSend(re.handler, http.MethodPost, reviewPath(d.Token, "/comments"),
							fmt.Sprintf(`{"target":"e%d-p1","kind":"note","comment":"race %d-%d"}`, 1+w%3, w, i), "")
					}
					mu.Lock()
					results = append(results, result{rec.Code, rec.Body.String()})
					mu.Unlock()
					if rec.Code == http.StatusConflict {
						return
					}
				}
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gun
			time.Sleep(20 * time.Millisecond)
			rec := reviewSend(re.handler, http.MethodPost, reviewPath(d.Token, "/submit"), "", "")
			mu.Lock()
			subCode, subBody = rec.Code, rec.Body.String()
			mu.Unlock()
		}()
		close(gun)
		wg.Wait()
		require.Equal(t, http.StatusOK, subCode, subBody)
		in := 0
		for i, r := range results {
			switch r.code {
			case http.StatusOK, http.StatusCreated:
				in++
			case http.StatusConflict:
				assert.Equal(t, string(errs.ReviewSubmitted), errorCode([]byte(r.body)), r.body)
			default:
				t.Errorf("write %d answered %d: %s", i, r.code, r.body)
			}
		}
		f := re.reviewCSMFeedback(t, d.ID)
		assert.Empty(t, f.InReview)
		items, comments := reviewCounts(t, re.env, d.ID)
		assert.Len(t, f.Submitted, items+comments, "the submitted review is everything stored")
		accepted := 0
		for i, r := range results {
			if r.code != http.StatusCreated {
				continue
			}
			accepted++
			var it reviewItem
			require.NoError(t, json.Unmarshal([]byte(r.body), &it))
			found := false
			for _, s := range f.Submitted {
				found = found || (s.ID != nil && *s.ID == *it.ID)
			}
			assert.True(t, found, "comment %d was accepted, so it is part of the submitted review", i)
		}
		assert.Equal(t, accepted, comments, "every stored comment was answered 201")
		want := storage.DraftStatusApproved
		if in > 0 {
			want = storage.DraftStatusNotApproved
		}
		assert.Equal(t, want, f.Status, "%d writes got in before the submit", in)
		assert.Equal(t, writers, len(results)-in, "each writer stops at its first 409")
		t.Logf("%d of %d racing writes got in before the submit", in, len(results))
	})
}

// TestReviewTokens404: unknown, other-length, rotated and not-yet-ready tokens answer the same 404,
// for the page and for the JSON API (R-REVIEW-2); after rotation the new token works (R-DRAFT-11).
func TestReviewTokens404(t *testing.T) {
	t.Parallel()
	re := newReviewEnv(t)
	d := re.reviewReadyDraft(t)
	ctx := context.Background()

	// A processing and a failed draft, each with a token hash (as a build would set it only when ready).
	tokenOf := func(status string) string {
		nd, _, err := re.store.CreateDraft(ctx, storage.NewDraft{AccountID: re.A.Account.ID, CampaignID: d.CampaignID,
			CreatedBy: re.A.Users[storage.RoleCSM].ID, Source: json.RawMessage(`{"type":"csv","csv_upload_id":"` + testenv.NewUUID() + `"}`),
			SourceKey: "csv:" + testenv.NewUUID(), ContactCount: 5}, false)
		require.NoError(t, err)
		tok, hash := sharelink.NewToken()
		re.fx.DraftToken(t, nd.ID, status, hash, re.sealer.Seal(tok))
		return tok
	}
	processing := tokenOf(storage.DraftStatusProcessing)
	failed := tokenOf(storage.DraftStatusFailed)

	// Rotation: the old token stops working at once, the new one works.
	var rotated draftJSON
	re.doJSON(t, http.StatusOK, http.MethodPost, "/v1/approval-drafts/"+d.ID+"/rotate-link", re.admin, nil, &rotated)
	require.NotNil(t, rotated.ShareURL)
	newToken := reviewTokenOf(t, *rotated.ShareURL)
	require.NotEqual(t, d.Token, newToken)
	require.Len(t, newToken, 43)
	v := re.reviewGet(t, newToken)
	assert.Equal(t, storage.DraftStatusReady, v.Status)
	require.Equal(t, http.StatusOK, re.request(t, http.MethodGet, "/r/"+newToken, "", nil).Code)
	assert.Equal(t, *rotated.ShareURL, *re.reviewGetDraft(t, d.ID).ShareURL, "the CSM copies the new link")
	code, body := re.do(t, http.MethodPost, "/v1/approval-drafts/"+d.ID+"/rotate-link", re.csm, nil)
	requireError(t, code, body, http.StatusForbidden, string(errs.Forbidden))

	random, _ := sharelink.NewToken()
	tokens := map[string]string{
		"random 43 characters":   random,
		"short":                  "abc",
		"one character longer":   newToken + "A",
		"one character shorter":  newToken[:42],
		"very long":              strings.Repeat("x", 400),
		"rotated":                d.Token,
		"processing draft":       processing,
		"failed draft":           failed,
		"hex of the right hash":  fmt.Sprintf("%x", sharelink.Hash(newToken)),
		"new token in uppercase": strings.ToUpper(newToken),
	}
	want := reviewErrorBody(t, re.request(t, http.MethodGet, reviewPath(random, ""), "", nil))
	wantPage := re.request(t, http.MethodGet, "/r/"+random, "", nil)
	require.Equal(t, http.StatusNotFound, wantPage.Code)
	before := dbState(t, re.pool)
	for name, tok := range tokens {
		page := re.request(t, http.MethodGet, "/r/"+tok, "", nil)
		assert.Equal(t, http.StatusNotFound, page.Code, "%s: page", name)
		assert.Equal(t, wantPage.Body.String(), page.Body.String(), "%s: the page 404 is the same for every bad token", name)
		assert.Equal(t, wantPage.Header().Get("Content-Type"), page.Header().Get("Content-Type"), name)
		reviewRequireHeaders(t, name+": page 404", page.Header())
		for _, w := range []struct {
			method, path string
			body         any
		}{
			{http.MethodGet, "", nil},
			{http.MethodPut, "/items/audience", map[string]any{"verdict": "approved"}},
			{http.MethodPost, "/comments", map[string]any{"target": "e1-p1", "kind": "note", "comment": "hi"}},
			{http.MethodDelete, "/comments/" + testenv.NewUUID(), nil},
			{http.MethodPost, "/submit", nil},
		} {
			rec := re.request(t, w.method, reviewPath(tok, w.path), "", w.body)
			assert.Equal(t, http.StatusNotFound, rec.Code, "%s: %s %s", name, w.method, w.path)
			assert.Equal(t, want, reviewErrorBody(t, rec), "%s: %s %s: the API 404 is the same for every bad token", name, w.method, w.path)
			reviewRequireHeaders(t, name+": API 404", rec.Header())
		}
	}
	requireNoWrites(t, re.pool, before)
}

// TestReviewRateLimit: the page and API are limited per token and per client address (R-REVIEW-7).
// The budgets are counted with a rate of one request an hour, so no request of the test gets a
// token back however slow the machine; only the refill case uses a rate it can wait for.
func TestReviewRateLimit(t *testing.T) {
	t.Parallel()
	re := newReviewEnv(t)
	d := re.reviewReadyDraft(t)
	const hourly = 1.0 / 3600 // one request an hour: a spent budget stays spent for the whole test
	limited := func(tokenRate float64, tokenBurst int, ipRate float64, ipBurst int) http.Handler {
		s := re.server
		return (&api.Server{App: &app.App{Store: s.App.Store, Temporal: s.App.Temporal, PublicURL: s.App.PublicURL, TaskQueue: s.App.TaskQueue, Sealer: s.App.Sealer}, Log: s.Log, OperatorToken: s.OperatorToken, ReviewTokenRate: tokenRate, ReviewTokenBurst: tokenBurst, ReviewIPRate: ipRate, ReviewIPBurst: ipBurst}).Handler()
	}
	// require429 checks a refusal and answers its Retry-After, which must be the whole seconds until
	// the next request is let through at rate per second: at least 1, at most 1/rate rounded up.
	require429 := func(t *testing.T, what string, rec *httptest.ResponseRecorder, rate float64) int {
		t.Helper()
		res := rec.Result()
		defer res.Body.Close()
		var body struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		require.Equal(t, http.StatusTooManyRequests, res.StatusCode, what)
		require.NoError(t, json.NewDecoder(res.Body).Decode(&body), what)
		assert.Equal(t, string(errs.RateLimited), body.Error.Code, what)
		assert.NotEmpty(t, body.Error.Message, what)
		ra, err := strconv.Atoi(res.Header.Get("Retry-After"))
		require.NoError(t, err, "%s: Retry-After is whole seconds: %q", what, res.Header.Get("Retry-After"))
		refill := int(math.Ceil(1 / rate))
		assert.GreaterOrEqual(t, ra, 1, what)
		assert.LessOrEqual(t, ra, refill+1, "%s: at %g requests a second the next one is at most %d s away", what, rate, refill)
		reviewRequireHeaders(t, what, res.Header)
		return ra
	}

	t.Run("per token", func(t *testing.T) {
		h := limited(hourly, 3, 0, 0)
		const addr = "192.0.2.10:4000"
		// The page and the API share the token's budget.
		paths := []string{"/r/" + d.Token, reviewPath(d.Token, ""), reviewPath(d.Token, "")}
		for i, p := range paths {
			rec := reviewSend(h, http.MethodGet, p, "", addr)
			require.Equal(t, http.StatusOK, rec.Code, "request %d (%s): %s", i+1, p, rec.Body.String())
		}
		ra := require429(t, "4th request, API", reviewSend(h, http.MethodGet, reviewPath(d.Token, ""), "", addr), hourly)
		assert.Greater(t, ra, 1800, "the budget is spent: the next request is most of an hour away")
		require429(t, "5th request, page", reviewSend(h, http.MethodGet, "/r/"+d.Token, "", addr), hourly)
		before := dbState(t, re.pool)
		require429(t, "a limited write", reviewSend(h, http.MethodPost, reviewPath(d.Token, "/comments"),
			`{"target":"e1-p1","kind":"note","comment":"hi"}`, addr), hourly)
		requireNoWrites(t, re.pool, before)
		// Another address does not lift the token's limit.
		require429(t, "same token, other address", reviewSend(h, http.MethodGet, reviewPath(d.Token, ""), "", "198.51.100.20:4000"), hourly)
		// Another token is not limited by this one's budget.
		other, _ := sharelink.NewToken()
		assert.Equal(t, http.StatusNotFound, reviewSend(h, http.MethodGet, reviewPath(other, ""), "", addr).Code)
	})

	t.Run("refill", func(t *testing.T) {
		// One request every four seconds: the second of two requests sent one after the other is
		// refused unless they are four seconds apart, and the Retry-After is waited out for real.
		const quarter = 0.25
		h := limited(quarter, 1, 0, 0)
		const addr = "192.0.2.12:4000"
		path := reviewPath(d.Token, "")
		first := time.Now()
		require.Equal(t, http.StatusOK, reviewSend(h, http.MethodGet, path, "", addr).Code, "the first request")
		rec := reviewSend(h, http.MethodGet, path, "", addr)
		require.NotEqualf(t, http.StatusOK, rec.Code, "a second request %s after the first was let through at one every 4 s",
			time.Since(first).Round(time.Millisecond))
		wait := require429(t, "the second request at once", rec, quarter)
		time.Sleep(time.Duration(wait) * time.Second)
		assert.Equal(t, http.StatusOK, reviewSend(h, http.MethodGet, path, "", addr).Code, "a token is back after Retry-After")
	})

	t.Run("per address", func(t *testing.T) {
		h := limited(hourly, 3, hourly, 5)
		const addr = "192.0.2.11:4000"
		other, _ := sharelink.NewToken()
		want := []int{200, 200, 200, 404, 404}
		toks := []string{d.Token, d.Token, d.Token, other, other}
		for i := range want {
			rec := reviewSend(h, http.MethodGet, reviewPath(toks[i], ""), "", addr)
			require.Equal(t, want[i], rec.Code, "request %d: %s", i+1, rec.Body.String())
		}
		// The 6th request from the address is refused although the second token has budget left.
		require429(t, "6th request from one address", reviewSend(h, http.MethodGet, reviewPath(other, ""), "", addr), hourly)
		third, _ := sharelink.NewToken()
		require429(t, "a fresh token from the same address", reviewSend(h, http.MethodGet, "/r/"+third, "", addr), hourly)
		// A forged forwarding header does not give a new address: only the connection counts.
		require429(t, "same address", reviewSend(h, http.MethodGet, reviewPath(third, ""), "", addr), hourly)
		fwd := newRequest(http.MethodGet, reviewPath(third, ""), "", "")
		fwd.RemoteAddr = addr
		fwd.Header.Set("X-Forwarded-For", "203.0.113.99")
		fwd.Header.Set("X-Real-IP", "203.0.113.99")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, fwd)
		require429(t, "forged X-Forwarded-For", rec, hourly)
		// Another address still gets through.
		assert.Equal(t, http.StatusNotFound, reviewSend(h, http.MethodGet, reviewPath(third, ""), "", "198.51.100.21:4000").Code)
	})
}
