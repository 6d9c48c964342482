package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/signoff/signoff/api"
	"github.com/signoff/signoff/app"
	"github.com/signoff/signoff/errs"
	"github.com/signoff/signoff/sharelink"
	"github.com/signoff/signoff/storage"
	"github.com/signoff/signoff/testenv"
)

// Tests of the review cache (R-REVIEW-3): every API process keeps review answers in memory while it
// hears Postgres's change feed, and a change made anywhere (another process, or straight in the
// database) reaches every process's readers.

// reviewFeedWait bounds every wait on the change feed (a change reaching another process, a
// reconnect). It is a correctness bound, not a speed target: how long each change took is logged,
// and a busy machine must not fail the test.
const reviewFeedWait = 30 * time.Second

// reviewSecondServer builds a second API server on re's database, as another process would run it
// (its own pool, store and review cache), with review rate limits too high to matter, and starts its
// change feed.
func reviewSecondServer(t *testing.T, re *reviewEnv) (*api.Server, http.Handler) {
	t.Helper()
	pool, err := storage.Connect(context.Background(), re.pool.Config().ConnString())
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	s := re.server
	srv := &api.Server{App: &app.App{Store: storage.New(pool), Temporal: s.App.Temporal, PublicURL: s.App.PublicURL, TaskQueue: s.App.TaskQueue, Sealer: s.App.Sealer}, Log: s.Log, OperatorToken: s.OperatorToken, ReviewTokenRate: 1e6, ReviewTokenBurst: 1e6, ReviewIPRate: 1e6, ReviewIPBurst: 1e6}
	h := srv.Handler()
	watchReviews(t, srv)
	return srv, h
}

// reviewFetch reads token's public review through h without a *testing.T (safe inside Eventually):
// the status code, the view when it is 200, and the raw body.
func reviewFetch(h http.Handler, token string) (int, reviewView, string) {
	rec := reviewSend(h, http.MethodGet, reviewPath(token, ""), "", "")
	var v reviewView
	if rec.Code == http.StatusOK && json.Unmarshal(rec.Body.Bytes(), &v) != nil {
		return 0, v, rec.Body.String()
	}
	return rec.Code, v, rec.Body.String()
}

// reviewMustFetch reads token's public review through h, requiring 200.
func reviewMustFetch(t *testing.T, h http.Handler, token string) reviewView {
	t.Helper()
	code, v, body := reviewFetch(h, token)
	require.Equal(t, http.StatusOK, code, body)
	return v
}

// reviewAwait polls token's review through h until ok holds, failing after limit with the last answer;
// it logs and returns how long it took.
func reviewAwait(t *testing.T, h http.Handler, token, what string, limit time.Duration, ok func(code int, v reviewView) bool) time.Duration {
	t.Helper()
	var (
		mu   sync.Mutex
		last string
	)
	start := time.Now()
	if !assert.Eventually(t, func() bool {
		code, v, body := reviewFetch(h, token)
		mu.Lock()
		last = fmt.Sprintf("%d %s", code, body)
		mu.Unlock()
		return ok(code, v)
	}, limit, 5*time.Millisecond, what) {
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("%s: not within %s; last answer: %s", what, limit, last)
	}
	took := time.Since(start)
	t.Logf("%s: %s", what, took.Round(time.Millisecond))
	return took
}

// reviewRequireCached proves h answers token's review of draft draftID from its cache: it reads the
// review twice, renumbers the draft (testenv.Fixtures.RenumberDraft) and requires h to still show the
// old name. It returns
// the name a fresh load now shows, so a later read showing it proves the kept answer was dropped.
func reviewRequireCached(t *testing.T, re *reviewEnv, h http.Handler, draftID, token string) string {
	t.Helper()
	before := reviewMustFetch(t, h, token)
	require.Equal(t, before, reviewMustFetch(t, h, token))
	renamed := fmt.Sprintf("Draft %d", re.fx.RenumberDraft(t, draftID))
	require.NotEqual(t, renamed, before.Name)
	require.Equal(t, before.Name, reviewMustFetch(t, h, token).Name, "the review is answered from the cache")
	return renamed
}

// reviewHasComment reports whether list holds the comment with id and text.
func reviewHasComment(list []reviewItem, id, text string) bool {
	for _, it := range list {
		if it.ID != nil && *it.ID == id {
			return it.Comment == text
		}
	}
	return false
}

// reviewWrite sends a public review write through h and decodes the answer (nil for an empty body).
func reviewWrite(t *testing.T, h http.Handler, method, token, suffix string, body any) (int, map[string]any) {
	t.Helper()
	raw, err := json.Marshal(body)
	require.NoError(t, err)
	if body == nil {
		raw = nil
	}
	rec := reviewSend(h, method, reviewPath(token, suffix), string(raw), "")
	if rec.Body.Len() == 0 {
		return rec.Code, nil
	}
	var m map[string]any
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &m), rec.Body.String())
	return rec.Code, m
}

// TestReviewCacheAcrossProcesses: two API processes on one database. A write through A (comment,
// verdict, rotation, submit) reaches B's cached review within reviewFeedWait.
func TestReviewCacheAcrossProcesses(t *testing.T) {
	t.Parallel()
	re := newReviewEnv(t)
	d := re.reviewReadyDraft(t)
	_, b := reviewSecondServer(t, re)
	a := re.handler

	t.Run("comment through A", func(t *testing.T) {
		name := reviewRequireCached(t, re, b, d.ID, d.Token)
		code, c := reviewWrite(t, a, http.MethodPost, d.Token, "/comments",
			map[string]any{"target": "e1-p1", "kind": "note", "comment": "Seen on B?"})
		require.Equal(t, http.StatusCreated, code, c)
		id, _ := c["id"].(string)
		require.NotEmpty(t, id)
		reviewAwait(t, b, d.Token, "B shows A's comment", reviewFeedWait, func(code int, v reviewView) bool {
			return code == http.StatusOK && v.Name == name && reviewHasComment(v.Feedback, id, "Seen on B?")
		})
	})

	t.Run("verdict through A", func(t *testing.T) {
		name := reviewRequireCached(t, re, b, d.ID, d.Token)
		code, body := reviewWrite(t, a, http.MethodPut, d.Token, "/items/audience",
			map[string]any{"verdict": "change_request", "comment": "Too broad"})
		require.Equal(t, http.StatusOK, code, body)
		reviewAwait(t, b, d.Token, "B shows A's verdict", reviewFeedWait, func(code int, v reviewView) bool {
			it := reviewFind(v.Feedback, storage.FeedbackChangeRequest, "audience")
			return code == http.StatusOK && v.Name == name && it != nil && it.Comment == "Too broad"
		})
	})

	newToken := ""
	t.Run("rotation through A", func(t *testing.T) {
		reviewRequireCached(t, re, b, d.ID, d.Token)
		random, _ := sharelink.NewToken()
		want := reviewErrorBody(t, reviewSend(b, http.MethodGet, reviewPath(random, ""), "", ""))
		wantPage := reviewSend(b, http.MethodGet, "/r/"+random, "", "")
		require.Equal(t, http.StatusNotFound, wantPage.Code)

		var rotated draftJSON
		re.doJSON(t, http.StatusOK, http.MethodPost, "/v1/approval-drafts/"+d.ID+"/rotate-link", re.admin, nil, &rotated)
		require.NotNil(t, rotated.ShareURL)
		newToken = reviewTokenOf(t, *rotated.ShareURL)
		require.NotEqual(t, d.Token, newToken)

		reviewAwait(t, b, d.Token, "B refuses the rotated token", reviewFeedWait, func(code int, _ reviewView) bool {
			return code == http.StatusNotFound
		})
		old := reviewSend(b, http.MethodGet, reviewPath(d.Token, ""), "", "")
		require.Equal(t, http.StatusNotFound, old.Code)
		assert.Equal(t, want, reviewErrorBody(t, old), "the rotated token's 404 is a random token's")
		oldPage := reviewSend(b, http.MethodGet, "/r/"+d.Token, "", "")
		require.Equal(t, http.StatusNotFound, oldPage.Code)
		assert.Equal(t, wantPage.Body.String(), oldPage.Body.String(), "the rotated token's page 404 is a random token's")
		code, body := reviewWrite(t, b, http.MethodPost, d.Token, "/comments", map[string]any{"target": "e1-p1", "kind": "note", "comment": "old"})
		require.Equal(t, http.StatusNotFound, code, body)

		v := reviewMustFetch(t, b, newToken)
		assert.Equal(t, storage.DraftStatusReady, v.Status)
		assert.NotNil(t, reviewFind(v.Feedback, storage.FeedbackChangeRequest, "audience"), "the feedback stays with the draft")
		require.Equal(t, http.StatusOK, reviewSend(b, http.MethodGet, "/r/"+newToken, "", "").Code)
	})
	require.NotEmpty(t, newToken, "the rotation step failed")

	t.Run("submit through A", func(t *testing.T) {
		reviewRequireCached(t, re, b, d.ID, newToken)
		page := reviewSend(b, http.MethodGet, "/r/"+newToken, "", "")
		require.Equal(t, http.StatusOK, page.Code)
		require.Contains(t, page.Body.String(), `data-closed="false"`)

		code, body := reviewWrite(t, a, http.MethodPost, newToken, "/submit", map[string]any{"author": "Ana"})
		require.Equal(t, http.StatusOK, code, body)
		require.Equal(t, storage.DraftStatusNotApproved, body["status"])
		reviewAwait(t, b, newToken, "B shows the submitted review", reviewFeedWait, func(code int, v reviewView) bool {
			return code == http.StatusOK && v.Status == storage.DraftStatusNotApproved && v.SubmittedAt != nil
		})
		page = reviewSend(b, http.MethodGet, "/r/"+newToken, "", "")
		require.Equal(t, http.StatusOK, page.Code)
		assert.Contains(t, page.Body.String(), `data-closed="true"`, "B's page is closed")

		items, comments := reviewCounts(t, re.env, d.ID)
		for _, w := range []struct {
			method, suffix string
			body           any
		}{
			{http.MethodPost, "/comments", map[string]any{"target": "e1-p1", "kind": "note", "comment": "late"}},
			{http.MethodPut, "/items/e1", map[string]any{"verdict": "approved"}},
			{http.MethodDelete, "/comments/" + re.reviewAnyCommentID(t, d.ID), nil},
			{http.MethodPost, "/submit", nil},
		} {
			code, body := reviewWrite(t, b, w.method, newToken, w.suffix, w.body)
			requireError(t, code, body, http.StatusConflict, string(errs.ReviewSubmitted))
		}
		gotItems, gotComments := reviewCounts(t, re.env, d.ID)
		assert.Equal(t, items, gotItems, "no verdict written after the submit")
		assert.Equal(t, comments, gotComments, "no comment written or deleted after the submit")
	})
}

// reviewAnyCommentID returns the id of one comment of the draft.
func (re *reviewEnv) reviewAnyCommentID(t *testing.T, draftID string) string {
	t.Helper()
	var id string
	require.NoError(t, re.pool.QueryRow(context.Background(),
		`SELECT id::text FROM review_comments WHERE draft_id = $1 LIMIT 1`, draftID).Scan(&id))
	return id
}

// TestReviewReadYourWrites: in one process, a read right after a write shows it, with no wait, though
// the read before it filled the cache.
func TestReviewReadYourWrites(t *testing.T) {
	t.Parallel()
	re := newReviewEnv(t)
	d := re.reviewReadyDraft(t)
	_, h := reviewSecondServer(t, re)
	reviewRequireCached(t, re, h, d.ID, d.Token)

	comments := map[string]string{} // id → text of the comments the review must show
	var order []string              // their ids, oldest first
	var item *reviewItem            // the verdict on e1 the review must show
	for i := range 50 {
		reviewMustFetch(t, h, d.Token) // fills the cache
		text := fmt.Sprintf("read your writes %d", i)
		var op string
		switch i % 3 {
		case 0:
			op = "add comment"
			code, body := reviewWrite(t, h, http.MethodPost, d.Token, "/comments", map[string]any{"target": "e2-p1", "kind": "note", "comment": text})
			require.Equal(t, http.StatusCreated, code, body)
			id := body["id"].(string)
			comments[id] = text
			order = append(order, id)
		case 1:
			op = "delete comment"
			id := order[0]
			order = order[1:]
			code, body := reviewWrite(t, h, http.MethodDelete, d.Token, "/comments/"+id, nil)
			require.Equal(t, http.StatusNoContent, code, body)
			delete(comments, id)
		case 2:
			op = "put verdict"
			verdict := []string{storage.FeedbackApproved, storage.FeedbackChangeRequest}[i%2]
			code, body := reviewWrite(t, h, http.MethodPut, d.Token, "/items/e1", map[string]any{"verdict": verdict, "comment": text})
			require.Equal(t, http.StatusOK, code, body)
			item = &reviewItem{Kind: verdict, Target: "e1", Comment: text}
		}
		v := reviewMustFetch(t, h, d.Token) // immediately: no wait for the change feed
		got := map[string]string{}
		var gotItem *reviewItem
		for _, it := range v.Feedback {
			if it.ID != nil {
				got[*it.ID] = it.Comment
			} else if it.Target == "e1" {
				gotItem = &reviewItem{Kind: it.Kind, Target: it.Target, Comment: it.Comment}
			}
		}
		require.Equal(t, comments, got, "step %d (%s): the comments right after the write", i, op)
		require.Equal(t, item, gotItem, "step %d (%s): the verdict right after the write", i, op)
	}
	require.Len(t, comments, 0, "as many comments deleted as added")
}

// reviewDBWrite is a change written straight to the database, as another process would.
type reviewDBWrite struct {
	name  string
	sql   string
	args  func() []any
	shown func(code int, v reviewView) bool // the API answer shows the change
}

// TestReviewCacheSeesDatabaseWrites: changes written straight to the database reach the cached review
// through the triggers and the change feed.
func TestReviewCacheSeesDatabaseWrites(t *testing.T) {
	t.Parallel()
	re := newReviewEnv(t)
	d := re.reviewReadyDraft(t)
	srv, h := reviewSecondServer(t, re)
	ctx := context.Background()
	newToken, newHash := sharelink.NewToken()
	token := d.Token
	cases := []reviewDBWrite{
		{"comment inserted", `INSERT INTO review_comments (draft_id, target, kind, comment) VALUES ($1, 'e1-p1', 'note', 'from elsewhere')`,
			func() []any { return []any{d.ID} }, func(code int, v reviewView) bool {
				it := reviewFind(v.Feedback, storage.FeedbackNote, "e1-p1")
				return code == http.StatusOK && it != nil && it.Comment == "from elsewhere"
			}},
		{"comment edited", `UPDATE review_comments SET comment = 'edited elsewhere' WHERE draft_id = $1`,
			func() []any { return []any{d.ID} }, func(code int, v reviewView) bool {
				it := reviewFind(v.Feedback, storage.FeedbackNote, "e1-p1")
				return code == http.StatusOK && it != nil && it.Comment == "edited elsewhere"
			}},
		{"item inserted", `INSERT INTO review_items (draft_id, target, verdict, comment) VALUES ($1, 'leads', 'change_request', 'who?')`,
			func() []any { return []any{d.ID} }, func(code int, v reviewView) bool {
				it := reviewFind(v.Feedback, storage.FeedbackChangeRequest, "leads")
				return code == http.StatusOK && it != nil && it.Comment == "who?"
			}},
		{"item updated", `UPDATE review_items SET verdict = 'approved', comment = '' WHERE draft_id = $1 AND target = 'leads'`,
			func() []any { return []any{d.ID} }, func(code int, v reviewView) bool {
				return code == http.StatusOK && reviewFind(v.Feedback, storage.FeedbackApproved, "leads") != nil &&
					reviewFind(v.Feedback, storage.FeedbackChangeRequest, "leads") == nil
			}},
		{"comment deleted", `DELETE FROM review_comments WHERE draft_id = $1`,
			func() []any { return []any{d.ID} }, func(code int, v reviewView) bool {
				return code == http.StatusOK && reviewFind(v.Feedback, storage.FeedbackNote, "e1-p1") == nil
			}},
		{"item deleted", `DELETE FROM review_items WHERE draft_id = $1`,
			func() []any { return []any{d.ID} }, func(code int, v reviewView) bool {
				return code == http.StatusOK && len(v.Feedback) == 0
			}},
		{"token replaced", `UPDATE approval_drafts SET token_hash = $2 WHERE id = $1`,
			func() []any { return []any{d.ID, newHash} }, func(code int, _ reviewView) bool {
				return code == http.StatusNotFound
			}},
		{"submitted", `UPDATE approval_drafts SET status = 'approved', submitted_at = now() WHERE id = $1`,
			func() []any { return []any{d.ID} }, func(code int, v reviewView) bool {
				return code == http.StatusOK && v.Status == storage.DraftStatusApproved && v.SubmittedAt != nil
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			name := reviewRequireCached(t, re, h, d.ID, token)
			_, err := re.pool.Exec(ctx, tc.sql, tc.args()...)
			require.NoError(t, err)
			reviewAwait(t, h, token, tc.name, reviewFeedWait, func(code int, v reviewView) bool {
				return tc.shown(code, v) && (code != http.StatusOK || v.Name == name)
			})
			if tc.name == "token replaced" {
				v := reviewMustFetch(t, h, newToken)
				assert.Equal(t, name, v.Name, "the new token opens the draft")
				token = newToken
			}
		})
	}
	code, body := reviewWrite(t, h, http.MethodPost, token, "/comments", map[string]any{"target": "e1-p1", "kind": "note", "comment": "late"})
	requireError(t, code, body, http.StatusConflict, string(errs.ReviewSubmitted))
	require.True(t, srv.ReviewsWatched())
}

// reviewListeners returns the backends listening for review changes on pool's database (the test's
// own database: other tests' listeners are on theirs); safe inside Eventually.
func reviewListeners(pool *pgxpool.Pool) ([]int32, error) {
	rows, err := pool.Query(context.Background(), `SELECT pid FROM pg_stat_activity
		WHERE datname = current_database() AND query LIKE 'LISTEN%' AND pid <> pg_backend_pid() ORDER BY pid`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int32])
}

// reviewListenerCount counts the backends listening for review changes on pool's database.
func reviewListenerCount(t *testing.T, pool *pgxpool.Pool) int {
	t.Helper()
	pids, err := reviewListeners(pool)
	require.NoError(t, err)
	return len(pids)
}

// reviewKillListeners terminates every listening backend of the test's database and returns how many.
func reviewKillListeners(t *testing.T, re *reviewEnv) int {
	t.Helper()
	var n int
	require.NoError(t, re.pool.QueryRow(context.Background(), `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))
		FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%' AND pid <> pg_backend_pid()`).Scan(&n))
	return n
}

// TestReviewCacheFeedLoss: when the listening connection dies, reads go to the database (a change
// written meanwhile shows at once), the feed comes back by itself, and nothing kept from before is
// answered after it.
func TestReviewCacheFeedLoss(t *testing.T) {
	t.Parallel()
	re := newReviewEnv(t)
	d := re.reviewReadyDraft(t)
	srv, h := reviewSecondServer(t, re)
	ctx := context.Background()
	var db string
	require.NoError(t, re.pool.QueryRow(ctx, `SELECT current_database()`).Scan(&db))
	require.Regexp(t, `^signoff_test_`, db, "the test's private database")
	// A database cannot refuse connections from a session of its own: switch from the base database.
	base := os.Getenv(testenv.EnvDatabaseURL)
	require.NotEmpty(t, base, testenv.EnvDatabaseURL)
	admin, err := pgx.Connect(ctx, base)
	require.NoError(t, err)
	t.Cleanup(func() { _ = admin.Close(context.Background()) })
	var adminDB string
	require.NoError(t, admin.QueryRow(ctx, `SELECT current_database()`).Scan(&adminDB))
	require.NotEqual(t, db, adminDB)
	allow := func(t *testing.T, on bool) {
		_, err := admin.Exec(ctx, fmt.Sprintf(`ALTER DATABASE %s ALLOW_CONNECTIONS %t`, pgx.Identifier{db}.Sanitize(), on))
		require.NoError(t, err)
	}
	// Two listeners: the fixture's server and srv.
	require.Equal(t, 2, reviewListenerCount(t, re.pool))
	insertNote := func(text string) {
		_, err := re.pool.Exec(ctx, `INSERT INTO review_comments (draft_id, target, kind, comment) VALUES ($1, 'e2-p1', 'note', $2)`, d.ID, text)
		require.NoError(t, err)
	}
	hasNote := func(v reviewView, text string) bool {
		for _, it := range v.Feedback {
			if it.Kind == storage.FeedbackNote && it.Comment == text {
				return true
			}
		}
		return false
	}

	t.Run("feed down", func(t *testing.T) {
		name := reviewRequireCached(t, re, h, d.ID, d.Token)
		// Keep the feed down while the test writes: no new connection to the database (the pools keep
		// theirs), so the listeners cannot come back until allowed again.
		allow(t, false)
		t.Cleanup(func() { allow(t, true) })
		require.Equal(t, 2, reviewKillListeners(t, re))
		require.Eventually(t, func() bool { return !srv.ReviewsWatched() }, reviewFeedWait, 5*time.Millisecond,
			"the server notices the feed is lost")
		v := reviewMustFetch(t, h, d.Token)
		assert.Equal(t, name, v.Name, "what was kept is forgotten when the feed is lost")
		for i := range 5 {
			text := fmt.Sprintf("while the feed is down %d", i)
			reviewMustFetch(t, h, d.Token) // would fill the cache, were it heard
			insertNote(text)               // announced to no one
			require.True(t, hasNote(reviewMustFetch(t, h, d.Token), text), "write %d: read at once from the database", i)
		}
		// Not needed for correctness: lets the listeners' first reconnects be refused, so the backoff is exercised.
		time.Sleep(300 * time.Millisecond)
		require.False(t, srv.ReviewsWatched(), "the feed stayed down while connections were refused")
		require.True(t, hasNote(reviewMustFetch(t, h, d.Token), "while the feed is down 4"))
		allow(t, true)
		took := time.Now()
		require.Eventually(t, srv.ReviewsWatched, reviewFeedWait, 10*time.Millisecond, "the feed comes back by itself")
		t.Logf("feed back %s after connections were allowed again", time.Since(took).Round(time.Millisecond))
		require.Eventually(t, func() bool { pids, err := reviewListeners(re.pool); return err == nil && len(pids) == 2 },
			reviewFeedWait, 10*time.Millisecond, "both servers listen again")
		v = reviewMustFetch(t, h, d.Token)
		for i := range 5 {
			assert.True(t, hasNote(v, fmt.Sprintf("while the feed is down %d", i)), "after the feed is back")
		}
		// And the cache works again: a change written elsewhere arrives through the feed.
		reviewRequireCached(t, re, h, d.ID, d.Token)
		insertNote("after the feed is back")
		reviewAwait(t, h, d.Token, "a change after the feed is back", reviewFeedWait, func(code int, v reviewView) bool {
			return code == http.StatusOK && hasNote(v, "after the feed is back")
		})
	})

	t.Run("quick reconnect", func(t *testing.T) {
		old, err := reviewListeners(re.pool)
		require.NoError(t, err)
		require.Len(t, old, 2)
		name := reviewRequireCached(t, re, h, d.ID, d.Token)
		require.Equal(t, 2, reviewKillListeners(t, re))
		insertNote("while reconnecting") // heard or not, depending on when the feed is back
		require.Eventually(t, func() bool {
			now, err := reviewListeners(re.pool)
			return err == nil && len(now) == 2 && now[0] != old[0] && now[0] != old[1] && now[1] != old[0] && now[1] != old[1] && srv.ReviewsWatched()
		}, reviewFeedWait, 5*time.Millisecond, "both listeners come back by themselves")
		// Nothing read in between, so the kept answer is gone: the unannounced rename shows at once.
		v := reviewMustFetch(t, h, d.Token)
		assert.Equal(t, name, v.Name, "the cache was emptied while the feed was lost")
		assert.True(t, hasNote(v, "while reconnecting"))
		reviewRequireCached(t, re, h, d.ID, d.Token)
		insertNote("after reconnecting")
		reviewAwait(t, h, d.Token, "a change after the reconnect", reviewFeedWait, func(code int, v reviewView) bool {
			return code == http.StatusOK && hasNote(v, "after reconnecting")
		})
	})
}

// reviewCommentCall is one kind of AddReviewComment call of the group commit test.
type reviewCommentCall struct {
	name    string
	draft   reviewDraft
	hash    []byte
	wantErr error // nil: the comment is written
}

// TestReviewCommentGroupCommit: concurrent comments are written together; each caller gets its own
// row, and callers whose draft is not open to their token get their own refusal and write nothing.
func TestReviewCommentGroupCommit(t *testing.T) {
	t.Parallel()
	re := newReviewEnv(t)
	drafts := re.reviewDrafts(t, 3)
	open1, open2, submitted := drafts[0], drafts[1], drafts[2]
	ctx := context.Background()
	code, body := reviewWrite(t, re.handler, http.MethodPost, submitted.Token, "/submit", nil)
	require.Equal(t, http.StatusOK, code, body)
	wrong, _ := sharelink.NewToken()
	kinds := []reviewCommentCall{
		{"open draft 1", open1, sharelink.Hash(open1.Token), nil},
		{"open draft 2", open2, sharelink.Hash(open2.Token), nil},
		{"submitted draft", submitted, sharelink.Hash(submitted.Token), storage.ErrReviewClosed},
		{"wrong token", open1, sharelink.Hash(wrong), storage.ErrNotFound},
	}

	const n = 300
	type result struct {
		call   reviewCommentCall
		target string
		text   string
		it     storage.FeedbackItem
		err    error
	}
	results := make([]result, n)
	var wg sync.WaitGroup
	gun := make(chan struct{})
	for i := range n {
		results[i] = result{call: kinds[i%len(kinds)], target: fmt.Sprintf("e%d-p1", 1+i%3), text: fmt.Sprintf("group commit %d", i)}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := &results[i]
			<-gun
			cctx, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			r.it, r.err = re.store.AddReviewComment(cctx, r.call.draft.ID, r.call.hash,
				storage.ReviewComment{Target: r.target, Kind: storage.FeedbackNote, Comment: r.text, Author: "Group"})
		}()
	}
	close(gun)
	wg.Wait()

	type row struct {
		draft, target, comment string
		at                     time.Time
	}
	rows := map[string]row{}
	dbRows, err := re.pool.Query(ctx, `SELECT id::text, draft_id::text, target, comment, created_at FROM review_comments`)
	require.NoError(t, err)
	for dbRows.Next() {
		var id string
		var r row
		require.NoError(t, dbRows.Scan(&id, &r.draft, &r.target, &r.comment, &r.at))
		rows[id] = r
	}
	require.NoError(t, dbRows.Err())

	ids := map[string]int{}
	times := map[int64]int{} // created_at (Unix µs) → accepted calls
	written := 0
	for i, r := range results {
		if r.call.wantErr != nil {
			require.Error(t, r.err, "call %d (%s)", i, r.call.name)
			require.ErrorIs(t, r.err, r.call.wantErr, "call %d (%s)", i, r.call.name)
			continue
		}
		require.NoError(t, r.err, "call %d (%s)", i, r.call.name)
		require.NotNil(t, r.it.ID, "call %d", i)
		id := *r.it.ID
		prev, dup := ids[id]
		require.False(t, dup, "calls %d and %d got the same id %s", prev, i, id)
		ids[id] = i
		require.False(t, r.it.CreatedAt.IsZero(), "call %d has a created_at", i)
		times[r.it.CreatedAt.UnixMicro()]++
		assert.Equal(t, storage.FeedbackNote, r.it.Kind)
		assert.Equal(t, r.target, r.it.Target)
		assert.Equal(t, r.text, r.it.Comment)
		got, ok := rows[id]
		require.True(t, ok, "call %d (%s): its row %s exists", i, r.call.name, id)
		assert.Equal(t, r.call.draft.ID, got.draft, "call %d: draft_id", i)
		assert.Equal(t, r.target, got.target, "call %d: target", i)
		assert.Equal(t, r.text, got.comment, "call %d: comment", i)
		assert.True(t, r.it.CreatedAt.Equal(got.at), "call %d: created_at %s answered, %s stored", i, r.it.CreatedAt, got.at)
		written++
	}
	require.Equal(t, n/2, written)
	require.Len(t, rows, written, "exactly the accepted comments were written, nothing for the refused ones")
	t.Logf("%d comments written with %d distinct created_at values", written, len(times))
	assert.Len(t, times, written, "every accepted comment has its own created_at")

	t.Run("over HTTP", func(t *testing.T) {
		const m = 64
		codes, bodies := make([]int, m), make([]string, m)
		gun := make(chan struct{})
		var wg sync.WaitGroup
		for i := range m {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-gun
				rec := reviewSend(re.handler, http.MethodPost, reviewPath(open2.Token, "/comments"),
					fmt.Sprintf(`{"target":"e3-p1","kind":"note","comment":"http %d"}`, i), "")
				codes[i], bodies[i] = rec.Code, rec.Body.String()
			}()
		}
		close(gun)
		wg.Wait()
		got := map[string]string{}
		for i := range m {
			require.Equal(t, http.StatusCreated, codes[i], bodies[i])
			var it reviewItem
			require.NoError(t, json.Unmarshal([]byte(bodies[i]), &it), bodies[i])
			require.NotNil(t, it.ID, bodies[i])
			_, dup := got[*it.ID]
			require.False(t, dup, "id %s answered twice", *it.ID)
			got[*it.ID] = it.Comment
			assert.Equal(t, fmt.Sprintf("http %d", i), it.Comment)
		}
		f := re.reviewCSMFeedback(t, open2.ID)
		seen := map[string]string{}
		for _, it := range f.InReview {
			if it.ID != nil {
				seen[*it.ID] = it.Comment
			}
		}
		for id, text := range got {
			assert.Equal(t, text, seen[id], "comment %s is in the CSM's feedback", id)
		}
		v := reviewMustFetch(t, re.handler, open2.Token)
		inReview := 0
		for _, it := range v.Feedback {
			if it.ID != nil && got[*it.ID] != "" {
				inReview++
			}
		}
		assert.Equal(t, m, inReview, "the review shows every comment at once")
	})
}

// TestReviewCommentGroupCommitBadRow: a comment the database refuses (here a kind its CHECK rejects,
// which the API would never send) fails only its own caller, not the others written with it.
func TestReviewCommentGroupCommitBadRow(t *testing.T) {
	t.Parallel()
	re := newReviewEnv(t)
	d := re.reviewDrafts(t, 1)[0]
	hash := sharelink.Hash(d.Token)
	const n = 41
	failures := make([]error, n)
	var wg sync.WaitGroup
	gun := make(chan struct{})
	for i := range n {
		kind := storage.FeedbackNote
		if i == n/2 {
			kind = "bogus"
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gun
			_, failures[i] = re.store.AddReviewComment(context.Background(), d.ID, hash,
				storage.ReviewComment{Target: "e1-p1", Kind: kind, Comment: fmt.Sprintf("row %d", i)})
		}()
	}
	close(gun)
	wg.Wait()
	for i, err := range failures {
		if i == n/2 {
			require.Error(t, err, "the bad row is refused")
			continue
		}
		require.NoError(t, err, "row %d", i)
	}
	var stored, bad int
	require.NoError(t, re.pool.QueryRow(context.Background(), `SELECT count(*), count(*) FILTER (WHERE kind = 'bogus')
		FROM review_comments WHERE draft_id = $1`, d.ID).Scan(&stored, &bad))
	assert.Equal(t, n-1, stored, "every good row stored once")
	assert.Zero(t, bad)
}
