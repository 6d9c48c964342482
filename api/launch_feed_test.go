package api_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

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
