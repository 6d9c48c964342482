package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/signoff/signoff/api"
	"github.com/signoff/signoff/app"
	"github.com/signoff/signoff/errs"
	"github.com/signoff/signoff/storage"
	"github.com/signoff/signoff/testenv"
)

// reviewFillComments stores n notes on paragraph e1-p1 of draft id, an hour old, as earlier writes would have.
func reviewFillComments(t *testing.T, re *reviewEnv, id string, n int) {
	t.Helper()
	re.fx.Notes(t, id, "e1-p1", "note", n, time.Now().Add(-time.Hour), time.Millisecond)
}

// TestCommentsPerDraftCapped: a draft holds at most storage.MaxCommentsPerDraft comments; a comment
// beyond answers 409 too_many_comments and stores nothing, also when comments race through two API
// processes (two stores, each with its own group commit); deleting one makes room for one.
func TestCommentsPerDraftCapped(t *testing.T) {
	t.Parallel()
	re := newReviewEnv(t)
	drafts := re.reviewDrafts(t, 2)
	d, other := drafts[0], drafts[1]
	const room = 10
	reviewFillComments(t, re, d.ID, storage.MaxCommentsPerDraft-room)
	reviewFillComments(t, re, other.ID, storage.MaxCommentsPerDraft-room)

	// A second API process: its own store, so its comments go through another batcher.
	s := re.server
	second := (&api.Server{App: &app.App{Store: storage.New(re.pool), Temporal: s.App.Temporal, PublicURL: s.App.PublicURL, TaskQueue: s.App.TaskQueue, Sealer: s.App.Sealer}, Log: s.Log}).Handler()
	const tries = 3 * room
	codes := make([]int, 2*tries)
	bodies := make([]string, 2*tries)
	var wg sync.WaitGroup
	for i := range 2 * tries {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h, tok := re.handler, d.Token
			if i%2 == 1 {
				h = second
			}
			if i >= tries {
				tok = other.Token
			}
			rec := reviewSend(h, http.MethodPost, reviewPath(tok, "/comments"),
				fmt.Sprintf(`{"target":"e1-p2","kind":"note","comment":"race %d"}`, i), fmt.Sprintf("192.0.2.%d:4000", i%200+1))
			codes[i], bodies[i] = rec.Code, rec.Body.String()
		}()
	}
	wg.Wait()
	for _, dr := range []struct {
		name  string
		id    string
		codes []int
		body  []string
	}{{"draft", d.ID, codes[:tries], bodies[:tries]}, {"other draft", other.ID, codes[tries:], bodies[tries:]}} {
		created, full := 0, 0
		for i, c := range dr.codes {
			switch c {
			case http.StatusCreated:
				created++
			case http.StatusConflict:
				full++
				assert.Contains(t, dr.body[i], `"code":"`+string(errs.TooManyComments)+`"`)
			default:
				t.Errorf("%s: comment %d answered %d: %s", dr.name, i, c, dr.body[i])
			}
		}
		assert.Equal(t, room, created, "%s: exactly the room left is taken", dr.name)
		assert.Equal(t, tries-room, full, "%s: every other comment is refused", dr.name)
		_, n := reviewCounts(t, re.env, dr.id)
		assert.Equal(t, storage.MaxCommentsPerDraft, n, "%s: the draft holds the most it takes", dr.name)
	}

	// Full: refused with a clear error, nothing stored; a verdict on an item is still taken.
	before := dbState(t, re.pool)
	status, body := re.do(t, http.MethodPost, reviewPath(d.Token, "/comments"), "", map[string]any{
		"target": "e1-p2", "kind": "line_comment", "quote": reviewQuote, "comment": "one more"})
	errObj := requireError(t, status, body, http.StatusConflict, string(errs.TooManyComments))
	assert.Contains(t, errObj["message"], fmt.Sprint(storage.MaxCommentsPerDraft))
	requireNoWrites(t, re.pool, before)
	status, body = re.do(t, http.MethodPut, reviewPath(d.Token, "/items/audience"), "", map[string]any{"verdict": "approved"})
	require.Equal(t, http.StatusOK, status, "%v", body)

	// Deleting one makes room for exactly one.
	var victim string
	require.NoError(t, re.pool.QueryRow(context.Background(),
		`SELECT id::text FROM review_comments WHERE draft_id = $1 ORDER BY created_at LIMIT 1`, d.ID).Scan(&victim))
	rec := re.request(t, http.MethodDelete, reviewPath(d.Token, "/comments/"+victim), "", nil)
	require.Equal(t, http.StatusNoContent, rec.Code, rec.Body.String())
	status, body = re.do(t, http.MethodPost, reviewPath(d.Token, "/comments"), "", map[string]any{
		"target": "e1-p2", "kind": "note", "comment": "in the freed place"})
	require.Equal(t, http.StatusCreated, status, "%v", body)
	status, body = re.do(t, http.MethodPost, reviewPath(d.Token, "/comments"), "", map[string]any{
		"target": "e1-p2", "kind": "note", "comment": "and no more"})
	requireError(t, status, body, http.StatusConflict, string(errs.TooManyComments))
	_, n := reviewCounts(t, re.env, d.ID)
	assert.Equal(t, storage.MaxCommentsPerDraft, n)

	// A store may be told otherwise (the benchmark writes far more to one draft): a lower limit
	// refuses sooner, no limit takes every comment.
	for _, tc := range []struct {
		max    int
		status int
	}{{storage.MaxCommentsPerDraft - 1, http.StatusConflict}, {storage.MaxCommentsPerDraft + 1, http.StatusCreated},
		{storage.MaxCommentsPerDraft + 1, http.StatusConflict}, {-1, http.StatusCreated}} {
		st := storage.New(re.pool)
		st.SetMaxComments(tc.max)
		h := (&api.Server{App: &app.App{Store: st, Temporal: s.App.Temporal, PublicURL: s.App.PublicURL, TaskQueue: s.App.TaskQueue}, Log: s.Log}).Handler()
		rec := reviewSend(h, http.MethodPost, reviewPath(d.Token, "/comments"), `{"target":"e1-p2","kind":"note","comment":"x"}`, "")
		require.Equal(t, tc.status, rec.Code, "limit %d: %s", tc.max, rec.Body.String())
	}
	_, n = reviewCounts(t, re.env, d.ID)
	assert.Equal(t, storage.MaxCommentsPerDraft+2, n)
}

// reviewFeedbackPage is one page of GET /v1/approval-drafts/{id}/feedback.
type reviewFeedbackPage struct {
	reviewFeedback
	NextCursor *string `json:"next_cursor"`
}

// reviewFeedbackPages reads every page of a draft's feedback at limit items a page and returns the
// pages.
func (re *reviewEnv) reviewFeedbackPages(t *testing.T, draftID string, limit int) []reviewFeedbackPage {
	t.Helper()
	var pages []reviewFeedbackPage
	p := fmt.Sprintf("/v1/approval-drafts/%s/feedback?limit=%d", draftID, limit)
	for range 1000 {
		rec := re.request(t, http.MethodGet, p, re.csm, nil)
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		raw := decodeObject(t, rec)
		for _, k := range []string{"status", "in_review", "submitted", "next_cursor"} {
			require.Contains(t, raw, k, "every page is {status, in_review, submitted, next_cursor}: %s", rec.Body.String())
		}
		var page reviewFeedbackPage
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &page))
		pages = append(pages, page)
		if page.NextCursor == nil {
			return pages
		}
		p = fmt.Sprintf("/v1/approval-drafts/%s/feedback?limit=%d&cursor=%s", draftID, limit, url.QueryEscape(*page.NextCursor))
	}
	require.FailNow(t, "the pages never end")
	return nil
}

// TestFeedbackPaginates: the CSM's feedback keeps the R-DRAFT-12 shape and is read a page at a time
// with ?limit= and ?cursor= (next_cursor, null on the last page). The pages together are the whole
// list, in order, each item once, also when items share a time; before submit they fill in_review,
// after it submitted. Bad paging parameters answer 422 naming them.
func TestFeedbackPaginates(t *testing.T) {
	t.Parallel()
	re := newReviewEnv(t)
	d := re.reviewReadyDraft(t)

	// Feedback through the API, then rows sharing one time (a verdict and comments on one target,
	// verdicts on several), which only the target and the comment id tell apart.
	for _, target := range []string{"audience", "leads", "e1", "e1-p1"} {
		status, body := re.do(t, http.MethodPut, reviewPath(d.Token, "/items/"+target), "", map[string]any{"verdict": "approved"})
		require.Equal(t, http.StatusOK, status, "%v", body)
	}
	for i := range 5 {
		status, body := re.do(t, http.MethodPost, reviewPath(d.Token, "/comments"), "", map[string]any{
			"target": "e1-p2", "kind": "note", "comment": fmt.Sprintf("note %d", i)})
		require.Equal(t, http.StatusCreated, status, "%v", body)
	}
	tied := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	re.fx.Verdict(t, d.ID, "emails", "change_request", tied)
	re.fx.Verdict(t, d.ID, "e2", "approved", tied)
	re.fx.Verdict(t, d.ID, "e1-p3", "approved", tied)
	re.fx.Notes(t, d.ID, "e1-p3", "tied", 4, tied, 0)
	const total = 4 + 5 + 3 + 4

	all := re.reviewCSMFeedback(t, d.ID)
	require.Len(t, all.InReview, total, "the default page holds all of today's feedback")
	require.Empty(t, all.Submitted)
	for i := 1; i < len(all.InReview); i++ {
		a, b := all.InReview[i-1], all.InReview[i]
		assert.False(t, b.CreatedAt.Before(a.CreatedAt), "item %d: in the order given", i)
	}

	check := func(t *testing.T, limit int, submitted bool) {
		pages := re.reviewFeedbackPages(t, d.ID, limit)
		require.Len(t, pages, (total+limit-1)/limit, "limit %d: pages", limit)
		var got []reviewItem
		for i, p := range pages {
			list, empty := p.InReview, p.Submitted
			if submitted {
				list, empty = p.Submitted, p.InReview
			}
			assert.Empty(t, empty, "page %d", i+1)
			if i < len(pages)-1 {
				assert.Len(t, list, limit, "page %d is full", i+1)
				assert.NotNil(t, p.NextCursor, "page %d", i+1)
			}
			got = append(got, list...)
		}
		want := all.InReview
		require.Len(t, got, len(want), "limit %d: every item once", limit)
		for i := range want {
			assert.Equal(t, want[i].Kind, got[i].Kind, "limit %d, item %d", limit, i)
			assert.Equal(t, want[i].Target, got[i].Target, "limit %d, item %d", limit, i)
			assert.Equal(t, want[i].Comment, got[i].Comment, "limit %d, item %d", limit, i)
			assert.Equal(t, want[i].ID, got[i].ID, "limit %d, item %d", limit, i)
			assert.True(t, want[i].CreatedAt.Equal(got[i].CreatedAt), "limit %d, item %d", limit, i)
		}
	}
	for _, limit := range []int{1, 2, 3, 7, total, total + 1} {
		t.Run(fmt.Sprintf("limit %d", limit), func(t *testing.T) { check(t, limit, false) })
	}

	for _, bad := range []struct{ query, field string }{
		{"limit=0", "limit"}, {"limit=-1", "limit"}, {"limit=1001", "limit"}, {"limit=ten", "limit"},
		{"cursor=not-a-cursor", "cursor"}, {"cursor=" + url.QueryEscape("eyJhdCI6IjIwMzAifQ"), "cursor"},
		{"cursor=eyJhdCI6IjIwMzAtMDEtMDFUMDA6MDA6MDBaIiwidGFyZ2V0IjoieCIsImlkIjoibm90LWEtdXVpZCJ9", "cursor"},
	} {
		status, body := re.do(t, http.MethodGet, "/v1/approval-drafts/"+d.ID+"/feedback?"+bad.query, re.csm, nil)
		requireInvalid(t, status, body, bad.field)
	}
	status, body := re.do(t, http.MethodGet, "/v1/approval-drafts/"+testenv.NewUUID()+"/feedback?limit=2", re.csm, nil)
	requireError(t, status, body, http.StatusNotFound, string(errs.NotFound))

	status, body = re.do(t, http.MethodPost, reviewPath(d.Token, "/submit"), "", map[string]any{})
	require.Equal(t, http.StatusOK, status, "%v", body)
	t.Run("after submit", func(t *testing.T) { check(t, 4, true) })
}
