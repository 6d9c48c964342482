package api_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/signoff/signoff/errs"
	"github.com/signoff/signoff/storage"
	"github.com/signoff/signoff/testenv"
)

// launchRecord is a launch record as the API answers it (R-VER-3).
type launchRecord struct {
	ID          string                  `json:"id"`
	CampaignID  string                  `json:"campaign_id"`
	Version     int                     `json:"version"`
	RequestID   *string                 `json:"request_id"`
	Source      string                  `json:"source"`
	LaunchedAt  time.Time               `json:"launched_at"`
	ContentHash string                  `json:"content_hash"`
	Content     storage.CampaignContent `json:"content"`
}

// launchPage is a page of GET /v1/launches.
type launchPage struct {
	Items      []launchRecord `json:"items"`
	NextCursor *string        `json:"next_cursor"`
}

func (e *env) campaignLaunches(t *testing.T, campID, token string) []launchRecord {
	t.Helper()
	var out struct {
		Items []launchRecord `json:"items"`
	}
	e.doJSON(t, http.StatusOK, http.MethodGet, "/v1/campaigns/"+campID+"/launches", token, nil, &out)
	require.NotNil(t, out.Items)
	return out.Items
}

func (e *env) launchFeed(t *testing.T, query, token string) launchPage {
	t.Helper()
	var out launchPage
	e.doJSON(t, http.StatusOK, http.MethodGet, "/v1/launches"+query, token, nil, &out)
	require.NotNil(t, out.Items, "the feed is {\"items\":[…],\"next_cursor\":…}")
	return out
}

// editContent changes the working copy of live journey campID so that it differs from what launched.
func (e *env) editContent(t *testing.T, campID, token string) storage.CampaignContent {
	t.Helper()
	content := testenv.CampaignContent()
	content.Sequences[0].Steps[0].Body += " Edited after the launch."
	status, body := e.do(t, http.MethodPatch, "/v1/campaigns/"+campID, token, map[string]any{"content": content})
	require.Equal(t, http.StatusOK, status, body)
	return content
}

// TestLaunchRecordsCarryContent checks R-VER-3: the launch record of a direct launch (in POST …/launch's
// answer, the campaign's launches and the feed) and of a workflow launch carries the launched version's
// content_hash and content, and keeps them when the working copy is edited after the launch.
func TestLaunchRecordsCarryContent(t *testing.T) {
	t.Parallel()
	e := newApprovalEnv(t, 2*time.Hour)
	acct := e.A.Account.ID
	admin, adminTok := e.A.Users[storage.RoleAdmin], e.A.Tokens[storage.RoleAdmin]
	collab, collabTok := e.A.Users[storage.RoleCollaborator], e.A.Tokens[storage.RoleCollaborator]
	approver, approverTok := e.A.Users[storage.RoleApprover], e.A.Tokens[storage.RoleApprover]
	// launched is what the fixture content reads back as through the API (empty lists as []).
	var launched storage.CampaignContent

	t.Run("direct launch", func(t *testing.T) {
		camp := e.campaignAs(t, admin, "Direct journey", storage.CampaignKindJourney, storage.CampaignModeTest, in(time.Hour), in(2*time.Hour))
		var answer struct {
			Launch launchRecord `json:"launch"`
		}
		e.doJSON(t, http.StatusCreated, http.MethodPost, "/v1/campaigns/"+camp.ID+"/launch", adminTok, nil, &answer)
		v := e.version(t, camp.ID, 1, adminTok)
		launched = v.Content
		require.Equal(t, testenv.CampaignContent().Sequences, launched.Sequences)
		require.Equal(t, 1, answer.Launch.Version)
		require.Equal(t, v.ContentHash, answer.Launch.ContentHash)
		require.Equal(t, storage.FrozenOf(e.storedCampaign(t, acct, camp.ID)).Hash(), answer.Launch.ContentHash)
		require.Equal(t, launched, answer.Launch.Content)

		edited := e.editContent(t, camp.ID, adminTok)
		require.NotEqual(t, launched.Sequences, edited.Sequences)
		require.Equal(t, edited.Sequences, e.storedCampaign(t, acct, camp.ID).Content.Sequences, "the working copy changed")
		list := e.campaignLaunches(t, camp.ID, collabTok)
		require.Len(t, list, 1)
		require.Equal(t, answer.Launch.ID, list[0].ID)
		require.Equal(t, v.ContentHash, list[0].ContentHash)
		require.Equal(t, launched, list[0].Content, "the record keeps the launched content")
		feed := e.launchFeed(t, "", adminTok)
		require.Len(t, feed.Items, 1)
		require.Equal(t, answer.Launch.ID, feed.Items[0].ID)
		require.Equal(t, v.ContentHash, feed.Items[0].ContentHash)
		require.Equal(t, launched, feed.Items[0].Content)

		// Launching the edited working copy freezes and launches version 2; version 1's record is unchanged.
		var answer2 struct {
			Launch launchRecord `json:"launch"`
		}
		e.doJSON(t, http.StatusCreated, http.MethodPost, "/v1/campaigns/"+camp.ID+"/launch", adminTok, nil, &answer2)
		require.Equal(t, 2, answer2.Launch.Version)
		require.Equal(t, e.version(t, camp.ID, 2, adminTok).ContentHash, answer2.Launch.ContentHash)
		require.Equal(t, edited.Sequences, answer2.Launch.Content.Sequences)
		list = e.campaignLaunches(t, camp.ID, collabTok)
		require.Len(t, list, 2)
		require.Equal(t, []int{2, 1}, []int{list[0].Version, list[1].Version}, "newest first")
		require.Equal(t, launched, list[1].Content)
		require.Equal(t, v.ContentHash, list[1].ContentHash)
	})

	t.Run("workflow launch", func(t *testing.T) {
		start := in(launchMargin)
		camp := e.campaignAs(t, collab, "Workflow journey", storage.CampaignKindJourney, storage.CampaignModeActive, start, in(2*time.Hour))
		r := e.submit(t, camp.ID, collabTok, approver.ID)
		status, body := e.act(t, r.ID, "approve", approverTok, "")
		require.Equal(t, http.StatusOK, status, body)
		eventually(t, time.Until(*start)+15*time.Second, func() bool {
			return e.storedCampaign(t, acct, camp.ID).Status == storage.CampaignStatusLive
		}, func() string { return "campaign not live: " + e.storedCampaign(t, acct, camp.ID).Status })

		e.editContent(t, camp.ID, collabTok)
		list := e.campaignLaunches(t, camp.ID, collabTok)
		require.Len(t, list, 1)
		require.Equal(t, "workflow", list[0].Source)
		require.Equal(t, r.CampaignVersion, list[0].Version)
		require.Equal(t, r.ContentHash, list[0].ContentHash, "the request's content_hash")
		require.Equal(t, e.version(t, camp.ID, r.CampaignVersion, collabTok).ContentHash, list[0].ContentHash)
		require.Equal(t, launched, list[0].Content, "the approved content, not the edited working copy")
		feed := e.launchFeed(t, "", adminTok)
		require.Len(t, feed.Items, 3)
		require.Equal(t, list[0].ID, feed.Items[2].ID, "oldest first")
		require.Equal(t, r.ContentHash, feed.Items[2].ContentHash)
		require.Equal(t, launched, feed.Items[2].Content)
		require.Nil(t, feed.NextCursor)
	})
}

// TestLaunchFeed checks the account's launch feed (R-VER-3): oldest first, keyset-paged with a stable
// opaque cursor, only the caller's account, admins only, and 422 for a bad limit or cursor.
func TestLaunchFeed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin, adminTok := e.A.Users[storage.RoleAdmin], e.A.Tokens[storage.RoleAdmin]
	var ids []string
	for _, name := range []string{"First", "Second", "Third"} {
		camp := e.campaignAs(t, admin, name, storage.CampaignKindCampaign, storage.CampaignModeTest, in(time.Hour), in(2*time.Hour))
		var answer struct {
			Launch launchRecord `json:"launch"`
		}
		e.doJSON(t, http.StatusCreated, http.MethodPost, "/v1/campaigns/"+camp.ID+"/launch", adminTok, nil, &answer)
		ids = append(ids, answer.Launch.ID)
	}

	all := e.launchFeed(t, "", adminTok)
	require.Len(t, all.Items, 3)
	require.Nil(t, all.NextCursor)
	for i, l := range all.Items {
		require.Equal(t, ids[i], l.ID, "oldest first")
		require.Len(t, l.ContentHash, 64)
		require.Equal(t, testenv.CampaignContent().Sequences, l.Content.Sequences)
	}

	first := e.launchFeed(t, "?limit=2", adminTok)
	require.Equal(t, ids[:2], []string{first.Items[0].ID, first.Items[1].ID})
	require.NotNil(t, first.NextCursor)
	again := e.launchFeed(t, "?limit=2", adminTok)
	require.Equal(t, first.NextCursor, again.NextCursor, "the cursor is stable")
	second := e.launchFeed(t, "?limit=2&after="+url.QueryEscape(*first.NextCursor), adminTok)
	require.Len(t, second.Items, 1)
	require.Equal(t, ids[2], second.Items[0].ID)
	require.Nil(t, second.NextCursor, "null at the end")

	// A poller that reached the end sees only what launched since.
	camp := e.campaignAs(t, admin, "Fourth", storage.CampaignKindCampaign, storage.CampaignModeTest, in(time.Hour), in(2*time.Hour))
	status, body := e.do(t, http.MethodPost, "/v1/campaigns/"+camp.ID+"/launch", adminTok, nil)
	require.Equal(t, http.StatusCreated, status, body)
	last := e.launchFeed(t, "?limit=2&after="+url.QueryEscape(*first.NextCursor), adminTok)
	require.Len(t, last.Items, 2)
	require.Equal(t, ids[2], last.Items[0].ID)
	require.Equal(t, camp.ID, last.Items[1].CampaignID)

	// A cursor of the feed before migration 00015 named the last launch seen (launched_at|id): it
	// resumes after that launch, in the caller's account only.
	legacy := func(l launchRecord) string {
		return base64.RawURLEncoding.EncodeToString([]byte(l.LaunchedAt.UTC().Format(time.RFC3339Nano) + "|" + l.ID))
	}
	resumed := e.launchFeed(t, "?after="+url.QueryEscape(legacy(first.Items[1])), adminTok)
	require.Len(t, resumed.Items, 2)
	require.Equal(t, ids[2], resumed.Items[0].ID)
	require.Equal(t, camp.ID, resumed.Items[1].CampaignID)
	status, body = e.do(t, http.MethodGet, "/v1/launches?after="+url.QueryEscape(legacy(first.Items[1])), e.B.Tokens[storage.RoleAdmin], nil)
	requireInvalid(t, status, body, "after")

	// Tenancy: another account's admin sees none of them.
	other := e.launchFeed(t, "", e.B.Tokens[storage.RoleAdmin])
	require.Empty(t, other.Items)
	require.Nil(t, other.NextCursor)
	other = e.launchFeed(t, "?after="+url.QueryEscape(*first.NextCursor), e.B.Tokens[storage.RoleAdmin])
	require.Empty(t, other.Items)

	// Admins only.
	for role, tok := range e.A.Tokens {
		if role == storage.RoleAdmin {
			continue
		}
		status, body := e.do(t, http.MethodGet, "/v1/launches", tok, nil)
		requireError(t, status, body, http.StatusForbidden, string(errs.Forbidden))
	}

	// Bad limit or cursor: 422 naming the field.
	for _, q := range []string{"?limit=0", "?limit=501", "?limit=-1", "?limit=x", "?limit=2.5"} {
		status, body := e.do(t, http.MethodGet, "/v1/launches"+q, adminTok, nil)
		requireInvalid(t, status, body, "limit")
	}
	for _, q := range []string{"?after=x", "?after=bm90IGEgY3Vyc29y", "?after=" + url.QueryEscape(*first.NextCursor) + "x"} {
		status, body := e.do(t, http.MethodGet, "/v1/launches"+q, adminTok, nil)
		requireInvalid(t, status, body, "after")
	}
	require.Len(t, e.launchFeed(t, "?limit=500", adminTok).Items, 4)
}

// TestLaunchFeedCommitOrder checks that the feed's cursor follows commit order (R-VER-3), so that a
// poller never skips a launch that commits late. A launch transaction is held open by a second
// connection while two later launches of the account are asked for, and a poller walks the feed a
// record at a time; then the held launch is let go, and the poller, resuming from its last cursor, must
// get it. With the cursor on launched_at (the transaction's start time) the later launches committed
// first, the poller's cursor passed the held launch's earlier launched_at, and it was never served.
//   - held before its record: the second connection holds a key-share lock on the campaign row, which
//     the launch's first statement locks for update. The later launches commit meanwhile and are
//     served; the held one is served after them, in the order of commits.
//   - held after its record: the launch (of an approved campaign, so that it writes a launched event
//     after its record) waits for the second connection, which holds the event's dedupe key. The later
//     launches wait to take their feed numbers until it commits: nothing is served meanwhile, and the
//     held launch is served first.
func TestLaunchFeedCommitOrder(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		// hold makes the launch of campaign campID, approved by request reqID, wait for tx; decoy is
		// another submitted request of the account, whose rows hold no lock the launch needs.
		hold            func(t *testing.T, tx pgx.Tx, campID, reqID string, decoy storage.ApprovalRequest)
		servedWhileHeld int
		heldAt          int // the held launch's place in the feed
	}{
		{"held before its record", func(t *testing.T, tx pgx.Tx, campID, _ string, _ storage.ApprovalRequest) {
			_, err := tx.Exec(context.Background(), `SELECT 1 FROM campaigns WHERE id = $1 FOR KEY SHARE`, campID)
			require.NoError(t, err)
		}, 2, 2},
		{"held after its record", func(t *testing.T, tx pgx.Tx, _, reqID string, decoy storage.ApprovalRequest) {
			_, err := tx.Exec(context.Background(), `INSERT INTO approval_events (account_id, request_id, campaign_id, type, note, dedupe_key, version)
				VALUES ($1, $2, $3, 'launched', 'the test holds this key', $4 || ':launched', $5)`,
				decoy.AccountID, decoy.ID, decoy.CampaignID, reqID, decoy.CampaignVersion)
			require.NoError(t, err)
		}, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newApprovalEnv(t, 2*time.Hour)
			ctx := context.Background()
			admin, adminTok := e.A.Users[storage.RoleAdmin], e.A.Tokens[storage.RoleAdmin]
			collab, collabTok := e.A.Users[storage.RoleCollaborator], e.A.Tokens[storage.RoleCollaborator]
			approver, approverTok := e.A.Users[storage.RoleApprover], e.A.Tokens[storage.RoleApprover]

			held := e.laterCampaign(t, collab, "Held open")
			r := e.submit(t, held.ID, collabTok, approver.ID)
			status, body := e.act(t, r.ID, "approve", approverTok, "")
			require.Equal(t, http.StatusOK, status, body)
			decoy := e.submit(t, e.laterCampaign(t, collab, "Decoy").ID, collabTok, approver.ID)
			later := []storage.Campaign{
				e.campaignAs(t, admin, "Later 1", storage.CampaignKindCampaign, storage.CampaignModeTest, in(time.Hour), in(2*time.Hour)),
				e.campaignAs(t, admin, "Later 2", storage.CampaignKindCampaign, storage.CampaignModeTest, in(time.Hour), in(2*time.Hour)),
			}

			// The requests' audience counts (R-POL-3) write their rows after the submission: let them
			// land first, so the only transaction that waits for the test's connection is the launch.
			settleAudienceCounts(t, e.pool)

			// The second connection, outside the server's pool.
			conn, err := pgx.ConnectConfig(ctx, e.pool.Config().ConnConfig.Copy())
			require.NoError(t, err)
			defer conn.Close(ctx)
			blocker, err := conn.Begin(ctx)
			require.NoError(t, err)
			defer func() { _ = blocker.Rollback(ctx) }()
			tc.hold(t, blocker, held.ID, r.ID, decoy)

			// waiting counts the transactions of the test's database that wait for another one.
			waiting := func() int {
				var n int
				require.NoError(t, e.pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
					WHERE datname = current_database() AND cardinality(pg_blocking_pids(pid)) > 0`).Scan(&n))
				return n
			}
			answers := make([]*httptest.ResponseRecorder, 1+len(later))
			done := make([]atomic.Bool, len(answers))
			var wg sync.WaitGroup
			launch := func(i int, campID string) {
				req := newRequest(http.MethodPost, "/v1/campaigns/"+campID+"/launch", adminTok, "")
				wg.Add(1)
				go func() {
					defer wg.Done()
					answers[i] = serve(e, req)
					done[i].Store(true)
				}()
			}
			launch(0, held.ID)
			eventually(t, 15*time.Second, func() bool { return waiting() == 1 },
				func() string { return "the held launch does not wait for the test's connection" })
			for i, c := range later {
				launch(i+1, c.ID)
				// It either goes through or waits (for the held launch).
				eventually(t, 15*time.Second, func() bool { return done[i+1].Load() || waiting() == i+2 },
					func() string { return "a later launch neither answered nor waits" })
			}

			// The poller walks the feed a record at a time and keeps the last cursor it was given.
			cursor := ""
			seen := map[string]bool{}
			poll := func() {
				t.Helper()
				for {
					q := "?limit=1"
					if cursor != "" {
						q += "&after=" + url.QueryEscape(cursor)
					}
					page := e.launchFeed(t, q, adminTok)
					for _, l := range page.Items {
						seen[l.ID] = true
					}
					if page.NextCursor == nil {
						return
					}
					cursor = *page.NextCursor
				}
			}
			poll()
			servedWhileHeld := len(seen)

			require.NoError(t, blocker.Rollback(ctx))
			wg.Wait()
			records := make([]launchRecord, len(answers))
			for i, a := range answers {
				require.Equal(t, http.StatusCreated, a.Code, a.Body.String())
				var answer struct {
					Launch launchRecord `json:"launch"`
				}
				require.NoError(t, json.Unmarshal(a.Body.Bytes(), &answer))
				records[i] = answer.Launch
			}
			for _, l := range records[1:] {
				require.True(t, records[0].LaunchedAt.Before(l.LaunchedAt), "the held launch started first: its launched_at is the earliest")
			}
			poll()
			require.True(t, seen[records[0].ID], "the held launch, which started first and committed last, was skipped")
			for _, l := range records {
				require.True(t, seen[l.ID], "launch %s never served", l.ID)
			}
			require.Equal(t, tc.servedWhileHeld, servedWhileHeld, "launches served while the held one was open")
			all := e.launchFeed(t, "", adminTok)
			require.Len(t, all.Items, 3)
			require.Equal(t, records[0].ID, all.Items[tc.heldAt].ID, "the feed is in commit order")
			e.waitEvent(t, r.ID, storage.EventLaunched, 5*time.Second)
		})
	}
}
