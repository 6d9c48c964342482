package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/signoff/signoff/activities"
	"github.com/signoff/signoff/ai"
	"github.com/signoff/signoff/demodata"
	"github.com/signoff/signoff/sharelink"
	"github.com/signoff/signoff/storage"
	"github.com/signoff/signoff/testenv"
	"github.com/signoff/signoff/testenv/testworker"
)

// Helpers of the client review tests; their names start with "review", the area they serve. They drive
// the API over HTTP with a real worker on the server's task queue and read the database to check what
// was stored.

// reviewTimeout bounds every wait for a build, its AI pipeline or a submit.
const reviewTimeout = 45 * time.Second

// reviewLeadCount is how many leads every draft of these tests samples.
const reviewLeadCount = 5

// reviewEnv is newEnv with a share-link sealer, a real worker, a people directory for tenant A and a
// saved search of A that matches enough usable people.
type reviewEnv struct {
	*env
	sealer *sharelink.Sealer
	search storage.SavedSearch
	csm    string // A's CSM token: every draft of these tests is asked for by A's CSM
	admin  string // A's admin token
}

// newReviewEnv builds the fixture and starts the worker.
func newReviewEnv(t *testing.T) *reviewEnv {
	t.Helper()
	e := newEnv(t)
	e.server.App.Sealer = testenv.Sealer(t)
	re := &reviewEnv{env: e, sealer: e.server.App.Sealer, csm: e.A.Tokens[storage.RoleCSM], admin: e.A.Tokens[storage.RoleAdmin]}
	ctx := context.Background()
	_, err := e.store.InsertContacts(ctx, e.A.Account.ID, demodata.Contacts(300))
	require.NoError(t, err)
	_, err = e.store.InsertContacts(ctx, e.B.Account.ID, demodata.Contacts(40))
	require.NoError(t, err)
	re.search, err = e.store.CreateSavedSearch(ctx, e.A.Account.ID, e.A.Users[storage.RoleCSM].ID, "Software people",
		storage.SearchFilters{Industries: []string{"Software"}})
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(draftUsableMatches(t, e, e.A.Account.ID, re.search.Filters)), reviewLeadCount,
		"the fixture's saved search must match enough usable people")

	testworker.Start(t, testenv.Temporal(t), e.server.App.TaskQueue, &activities.Activities{Store: e.store,
		Sealer: re.sealer, AI: ai.NewPipeline(&ai.Local{}, nil), BuildCapacity: 10}, testworker.Options{})
	return re
}

// reviewDraft is a built draft ready for its client, with AI results on every lead.
type reviewDraft struct {
	ID         string
	CampaignID string
	CopyID     string
	Name       string
	Token      string
	ShareURL   string
	Snapshot   storage.Snapshot
}

// reviewCampaign creates a campaign of tenant A with the demo fintech content (three emails of
// several paragraphs), created by A's CSM.
func (re *reviewEnv) reviewCampaign(t *testing.T, name string) storage.Campaign {
	t.Helper()
	nc := demodata.Campaigns(time.Now())[0]
	nc.Name = name
	c, err := re.store.CreateCampaign(context.Background(), re.A.Account.ID, re.A.Users[storage.RoleCSM].ID, nc)
	require.NoError(t, err)
	return c
}

// reviewDrafts asks for n drafts, each of its own new campaign, and waits until every one is ready
// with its AI pipeline done.
func (re *reviewEnv) reviewDrafts(t *testing.T, n int) []reviewDraft {
	t.Helper()
	camps := make([]string, n)
	for i := range n {
		camps[i] = re.reviewCampaign(t, fmt.Sprintf("Review campaign %d %s", i+1, testenv.NewName(""))).ID
	}
	return re.reviewDraftsOf(t, camps...)
}

// reviewDraftsOf asks for one draft of each campaign (of tenant A) and waits until every one is ready
// with its AI pipeline done.
func (re *reviewEnv) reviewDraftsOf(t *testing.T, camps ...string) []reviewDraft {
	t.Helper()
	n := len(camps)
	ids := make([]string, n)
	for i, c := range camps {
		var d draftJSON
		re.doJSON(t, http.StatusAccepted, http.MethodPost, "/v1/campaigns/"+c+"/approval-drafts", re.csm,
			map[string]any{"source": map[string]any{"type": "saved_search", "saved_search_id": re.search.ID},
				"contact_count": reviewLeadCount}, &d)
		require.Equal(t, storage.DraftStatusProcessing, d.Status)
		ids[i] = d.ID
	}
	out := make([]reviewDraft, n)
	for i, id := range ids {
		d := re.reviewWaitDraft(t, id, "ready with AI done", func(d draftJSON) bool {
			return d.Status == storage.DraftStatusFailed || (d.Status == storage.DraftStatusReady && d.AIDoneAt != nil)
		})
		require.Equal(t, storage.DraftStatusReady, d.Status, "draft %s failed: %v", id, d.FailureReason)
		require.NotNil(t, d.ShareURL, "a ready draft has a share_url")
		rd := reviewDraft{ID: id, CampaignID: camps[i], Name: d.Name, ShareURL: *d.ShareURL, Token: reviewTokenOf(t, *d.ShareURL)}
		stored, err := re.store.Draft(context.Background(), re.A.Account.ID, id)
		require.NoError(t, err)
		require.NotNil(t, stored.CopyCampaignID, "a ready draft has its copy")
		rd.CopyID = *stored.CopyCampaignID
		raw, err := re.store.DraftSnapshot(context.Background(), id)
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(raw, &rd.Snapshot))
		require.Len(t, rd.Snapshot.Leads, reviewLeadCount)
		out[i] = rd
	}
	return out
}

// reviewReadyDraft asks for one draft and waits until it is ready with its AI pipeline done.
func (re *reviewEnv) reviewReadyDraft(t *testing.T) reviewDraft {
	t.Helper()
	return re.reviewDrafts(t, 1)[0]
}

// reviewTokenOf returns the share token of a share URL: its last path segment.
func reviewTokenOf(t *testing.T, shareURL string) string {
	t.Helper()
	u, err := url.Parse(shareURL)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(u.Path, "/r/"), "share URL %s is not …/r/{token}", shareURL)
	tok := strings.TrimPrefix(u.Path, "/r/")
	require.NotEmpty(t, tok)
	require.NotContains(t, tok, "/")
	return tok
}

// reviewGetDraft reads a draft as A's CSM.
func (re *reviewEnv) reviewGetDraft(t *testing.T, id string) draftJSON {
	t.Helper()
	var d draftJSON
	re.doJSON(t, http.StatusOK, http.MethodGet, "/v1/approval-drafts/"+id, re.csm, nil, &d)
	return d
}

// reviewWaitDraft polls the draft as A's CSM until done holds and returns the last answer.
func (re *reviewEnv) reviewWaitDraft(t *testing.T, id, what string, done func(draftJSON) bool) draftJSON {
	t.Helper()
	var (
		mu   sync.Mutex
		last draftJSON
		body string
	)
	ok := pollUntil(reviewTimeout, 25*time.Millisecond, func() bool {
		rec := serve(re.env, newRequest(http.MethodGet, "/v1/approval-drafts/"+id, re.csm, ""))
		mu.Lock()
		defer mu.Unlock()
		body = rec.Body.String()
		var d draftJSON
		if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &d) != nil {
			return false
		}
		last = d
		return done(d)
	})
	mu.Lock()
	defer mu.Unlock()
	require.True(t, ok, "draft %s: not %s within %s; last answer: %s", id, what, reviewTimeout, body)
	return last
}

// reviewPath is the public API path of token plus suffix.
func reviewPath(token, suffix string) string { return "/v1/public/reviews/" + token + suffix }

// reviewView is the public JSON of a draft under review.
type reviewView struct {
	Status      string     `json:"status"`
	Name        string     `json:"name"`
	SubmittedAt *time.Time `json:"submitted_at"`
	Campaign    struct {
		Name string `json:"name"`
	} `json:"campaign"`
	Audience struct {
		Description string                    `json:"description"`
		Segments    []storage.SnapshotSegment `json:"segments"`
	} `json:"audience"`
	Leads []struct {
		storage.SnapshotLead
		AI json.RawMessage `json:"ai"`
	} `json:"leads"`
	Emails   []storage.SnapshotEmail `json:"emails"`
	Feedback []reviewItem            `json:"feedback"`
}

// reviewItem is one feedback item as the review and the CSM's feedback endpoint answer it.
type reviewItem struct {
	ID        *string   `json:"id"`
	Kind      string    `json:"kind"`
	Target    string    `json:"target"`
	Quote     string    `json:"quote"`
	Comment   string    `json:"comment"`
	Author    string    `json:"author"`
	CreatedAt time.Time `json:"created_at"`
}

// reviewFeedback is GET /v1/approval-drafts/{id}/feedback.
type reviewFeedback struct {
	Status    string       `json:"status"`
	InReview  []reviewItem `json:"in_review"`
	Submitted []reviewItem `json:"submitted"`
}

// reviewGet reads the public review of token, requiring 200.
func (re *reviewEnv) reviewGet(t *testing.T, token string) reviewView {
	t.Helper()
	var v reviewView
	re.doJSON(t, http.StatusOK, http.MethodGet, reviewPath(token, ""), "", nil, &v)
	return v
}

// reviewCSMFeedback reads the CSM's view of a draft's feedback, requiring 200 and the R-DRAFT-12 shape.
func (re *reviewEnv) reviewCSMFeedback(t *testing.T, draftID string) reviewFeedback {
	t.Helper()
	rec := re.request(t, http.MethodGet, "/v1/approval-drafts/"+draftID+"/feedback", re.csm, nil)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	raw := decodeObject(t, rec)
	for _, k := range []string{"status", "in_review", "submitted"} {
		require.Contains(t, raw, k, "feedback answers {status, in_review, submitted}: %s", rec.Body.String())
	}
	require.IsType(t, []any{}, raw["in_review"], "in_review is a list: %s", rec.Body.String())
	require.IsType(t, []any{}, raw["submitted"], "submitted is a list: %s", rec.Body.String())
	for _, list := range []any{raw["in_review"], raw["submitted"]} {
		for _, it := range list.([]any) {
			m := it.(map[string]any)
			for _, k := range []string{"kind", "target", "quote", "comment", "author", "created_at"} {
				require.Contains(t, m, k, "every feedback item has %s: %v", k, m)
			}
		}
	}
	var f reviewFeedback
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &f))
	return f
}

// reviewFind returns the item of list with kind and target, or nil.
func reviewFind(list []reviewItem, kind, target string) *reviewItem {
	for i := range list {
		if list[i].Kind == kind && list[i].Target == target {
			return &list[i]
		}
	}
	return nil
}

// reviewCounts counts the feedback rows of a draft.
func reviewCounts(t *testing.T, e *env, draftID string) (items, comments int) {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, e.pool.QueryRow(ctx, `SELECT count(*) FROM review_items WHERE draft_id = $1`, draftID).Scan(&items))
	require.NoError(t, e.pool.QueryRow(ctx, `SELECT count(*) FROM review_comments WHERE draft_id = $1`, draftID).Scan(&comments))
	return items, comments
}

// reviewParagraph returns the text of paragraph id of the snapshot.
func reviewParagraph(t *testing.T, snap storage.Snapshot, id string) string {
	t.Helper()
	for _, e := range snap.Emails {
		for _, p := range e.Paragraphs {
			if p.ID == id {
				return p.Text
			}
		}
	}
	require.FailNow(t, "no paragraph "+id+" in the snapshot")
	return ""
}

// reviewQuote is a substring of the fintech campaign's paragraph e1-p2 that no other paragraph holds.
const reviewQuote = "the month-end close is where the hours disappear"

// reviewSend sends one request to handler h (any goroutine) with a JSON body (string as is), from remote address addr.
func reviewSend(h http.Handler, method, path, body, addr string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if addr != "" {
		req.RemoteAddr = addr
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// reviewErrorBody decodes an error answer and drops what legitimately differs between two answers
// (a request id, should one be in the body).
func reviewErrorBody(t *testing.T, rec *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &m), rec.Body.String())
	delete(m, "request_id")
	if e, ok := m["error"].(map[string]any); ok {
		delete(e, "request_id")
	}
	return m
}
