package api_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/signoff/signoff/errs"
	"github.com/signoff/signoff/storage"
	"github.com/signoff/signoff/testenv"
)

// TestJourneyVersionPolicyPassive checks R-CAMP-4 with `journey_version_policy: passive`: editing a
// live journey creates a new version that needs its own approval, and the old version is set passive
// at once (no longer live, and nothing of it may be launched again); the new version goes live only
// once approved. (keep_live is TestLaunchGating's "unapproved new version of a live journey".)
func TestJourneyVersionPolicyPassive(t *testing.T) {
	t.Parallel()
	e := newApprovalEnv(t, 2*time.Hour)
	acct := e.A.Account.ID
	collab, collabTok := e.A.Users[storage.RoleCollaborator], e.A.Tokens[storage.RoleCollaborator]
	approver, approverTok := e.A.Users[storage.RoleApprover], e.A.Tokens[storage.RoleApprover]
	adminTok := e.A.Tokens[storage.RoleAdmin]

	status, body := e.do(t, http.MethodPatch, "/v1/account/settings", adminTok, map[string]any{"journey_version_policy": "passive"})
	require.Equal(t, http.StatusOK, status, body)
	require.Equal(t, "passive", body["journey_version_policy"])

	// Version 1 goes live through its approval.
	j := e.campaignAs(t, collab, "Passive policy journey", storage.CampaignKindJourney, storage.CampaignModeActive, nil, in(24*time.Hour))
	r1 := e.submit(t, j.ID, collabTok, approver.ID)
	status, body = e.act(t, r1.ID, "approve", approverTok, "")
	require.Equal(t, http.StatusOK, status, body)
	eventually(t, 15*time.Second, func() bool { return e.storedCampaign(t, acct, j.ID).Status == storage.CampaignStatusLive },
		func() string { return "journey not live: " + e.storedCampaign(t, acct, j.ID).Status })
	require.Equal(t, 1, launchCount(t, e, j.ID))
	require.Equal(t, 1, journeyLiveVersion(t, e, j.ID), "version 1 is the live one")

	// The edit makes version 2, unapproved; the old version is passive at once.
	var v campaignView
	e.doJSON(t, http.StatusOK, http.MethodPatch, "/v1/campaigns/"+j.ID, collabTok, map[string]any{"content": otherContent()}, &v)
	require.Equal(t, 2, v.Version)
	require.Equal(t, "none", v.ApprovalStatus, "the new version needs its own approval")
	require.NotEqual(t, storage.CampaignStatusLive, v.Status, "passive: the old version stops at once")
	c := e.storedCampaign(t, acct, j.ID)
	require.Equal(t, 2, c.Version)
	require.NotEqual(t, storage.CampaignStatusLive, c.Status)
	require.Zero(t, journeyLiveVersion(t, e, j.ID), "no version is live")

	// Version 2 launches only with its approval.
	before := dbState(t, e.pool)
	status, body = e.do(t, http.MethodPost, "/v1/campaigns/"+j.ID+"/launch", adminTok, nil)
	requireError(t, status, body, http.StatusConflict, string(errs.ApprovalRequired))
	requireNoWrites(t, e.pool, before)
	require.Equal(t, 1, launchCount(t, e, j.ID), "version 2 must not launch without approval")

	r2 := e.submit(t, j.ID, collabTok, approver.ID)
	status, body = e.act(t, r2.ID, "approve", approverTok, "")
	require.Equal(t, http.StatusOK, status, body)
	eventually(t, 15*time.Second, func() bool { return launchCount(t, e, j.ID) == 2 },
		func() string { return "version 2 not launched" })
	eventually(t, 15*time.Second, func() bool { return e.storedCampaign(t, acct, j.ID).Status == storage.CampaignStatusLive },
		func() string { return "version 2 not live: " + e.storedCampaign(t, acct, j.ID).Status })
	require.Equal(t, 2, journeyLiveVersion(t, e, j.ID), "version 2 is the live one")
	var version int
	require.NoError(t, e.pool.QueryRow(context.Background(), `SELECT version FROM campaign_launches
		WHERE campaign_id = $1 AND request_id = $2`, j.ID, r2.ID).Scan(&version))
	require.Equal(t, 2, version)
}

// journeyLiveVersion is the version of campaign id that is live, 0 when none is.
func journeyLiveVersion(t *testing.T, e *env, id string) int {
	t.Helper()
	var v *int
	require.NoError(t, e.pool.QueryRow(context.Background(), `SELECT live_version FROM campaigns WHERE id = $1`, id).Scan(&v))
	if v == nil {
		return 0
	}
	return *v
}

// contentWith is the fixture content with line added as a last paragraph of its first email: a change
// of a frozen field.
func contentWith(line string) storage.CampaignContent {
	c := testenv.CampaignContent()
	c.Sequences[0].Steps[0].Body += "\n\n" + line
	return c
}

// resubmit answers POST /v1/campaigns/{id}/resubmit as token, without changes, to approverIDs (R-CAMP-2).
func (e *env) resubmit(t *testing.T, campID, token string, approverIDs ...string) storage.ApprovalRequest {
	t.Helper()
	var r storage.ApprovalRequest
	e.doJSON(t, http.StatusCreated, http.MethodPost, "/v1/campaigns/"+campID+"/resubmit", token,
		submitBody("the new version, please", approverIDs...), &r)
	require.Equal(t, storage.RequestStatusPending, r.Status)
	return r
}

// TestJourneyVersionPolicyEndToEnd checks R-VER-4 (with R-VER-3 and R-CAMP-4) on the real servers under
// both journey_version_policy values. A journey is approved and its workflow launches version 1. An
// edit of a frozen field while it is live leaves the launch feed and the launch record with the
// approved content (content_hash and content of version 1, not the edit); live_version stays 1 under
// keep_live and is null at once under passive; POST …/launch refuses the unapproved edit. The edit,
// resubmitted and approved, is launched by the workflow as version 2: a new record with version 2's
// content appears in the feed after the first, which is unchanged, and live_version moves to 2. A third
// version, approved to start later, is launched by the scheduler's POST …/launch (idempotent) while
// its workflow waits. At every step every record of the feed holds the content_hash and content of an
// approved version: the sending system never gets unapproved content.
func TestJourneyVersionPolicyEndToEnd(t *testing.T) {
	t.Parallel()
	for _, policy := range []string{"keep_live", "passive"} {
		t.Run(policy, func(t *testing.T) {
			t.Parallel()
			e := newApprovalEnv(t, 2*time.Hour)
			collab, collabTok := e.A.Users[storage.RoleCollaborator], e.A.Tokens[storage.RoleCollaborator]
			approver, approverTok := e.A.Users[storage.RoleApprover], e.A.Tokens[storage.RoleApprover]
			adminTok := e.A.Tokens[storage.RoleAdmin]
			keepLive := policy == "keep_live"
			status, body := e.do(t, http.MethodPatch, "/v1/account/settings", adminTok, map[string]any{"journey_version_policy": policy})
			require.Equal(t, http.StatusOK, status, body)
			require.Equal(t, policy, body["journey_version_policy"])

			j := e.campaignAs(t, collab, "Journey, "+policy, storage.CampaignKindJourney, storage.CampaignModeActive, nil, in(24*time.Hour))
			// approved holds the content of every approved version by content_hash: all the feed may carry.
			approved := map[string]storage.CampaignContent{}
			approve := func(t *testing.T, r storage.ApprovalRequest) {
				t.Helper()
				status, body := e.act(t, r.ID, "approve", approverTok, "")
				require.Equal(t, http.StatusOK, status, body)
				v := e.version(t, j.ID, r.CampaignVersion, collabTok)
				require.Equal(t, r.ContentHash, v.ContentHash, "the request pins its version's hash")
				approved[v.ContentHash] = v.Content
			}
			// feed reads the whole feed, requires the records ids in that order, each with an approved
			// version's hash and that version's content, and returns them.
			feed := func(t *testing.T, ids ...string) []launchRecord {
				t.Helper()
				page := e.launchFeed(t, "?limit=500", adminTok)
				got := []string{}
				for _, l := range page.Items {
					got = append(got, l.ID)
					content, ok := approved[l.ContentHash]
					require.True(t, ok, "launch %s (version %d) carries content_hash %s, which no approval approved", l.ID, l.Version, l.ContentHash)
					require.Equal(t, content, l.Content, "launch %s: the approved version's content", l.ID)
				}
				require.Equal(t, ids, got, "the feed's records, oldest first")
				return page.Items
			}
			liveVersion := func(t *testing.T) *int {
				t.Helper()
				v := e.viewCampaign(t, j.ID, collabTok)
				return v.LiveVersion
			}
			edit := func(t *testing.T, fields map[string]any, version int) campaignView {
				t.Helper()
				before := liveVersion(t)
				var v campaignView
				e.doJSON(t, http.StatusOK, http.MethodPatch, "/v1/campaigns/"+j.ID, collabTok, fields, &v)
				require.Equal(t, version, v.Version, "the edit of a live journey is the next version (R-CAMP-4)")
				require.Equal(t, "none", v.ApprovalStatus, "it needs its own approval")
				require.Nil(t, v.ApprovedVersion)
				if keepLive {
					require.Equal(t, storage.CampaignStatusLive, v.Status, "keep_live: the approved version stays live")
					require.Equal(t, before, v.LiveVersion, "keep_live: live_version untouched")
				} else {
					require.NotEqual(t, storage.CampaignStatusLive, v.Status, "passive: the live version stops at once")
					require.Nil(t, v.LiveVersion, "passive: live_version null at once")
				}
				return v
			}

			// Version 1: approved, launched by the workflow.
			r1 := e.submit(t, j.ID, collabTok, approver.ID)
			require.Equal(t, 1, r1.CampaignVersion)
			approve(t, r1)
			e.waitEvent(t, r1.ID, storage.EventLaunched, 15*time.Second)
			l1 := feed(t, launchID(t, e, j.ID, 1))[0]
			require.Equal(t, 1, l1.Version)
			require.Equal(t, r1.ContentHash, l1.ContentHash)
			require.Equal(t, "workflow", l1.Source)
			require.Equal(t, &r1.ID, l1.RequestID)
			require.Equal(t, ptrInt(1), liveVersion(t))

			// The edit: frozen content changed while live.
			second := contentWith("A second version, not yet approved.")
			v := edit(t, map[string]any{"content": second}, 2)
			require.Equal(t, second.Sequences, v.Content.Sequences, "the working copy is the edit")
			edited := storage.FrozenOf(e.storedCampaign(t, e.A.Account.ID, j.ID)).Hash()
			require.NotContains(t, approved, edited)
			got := feed(t, l1.ID)
			require.Equal(t, l1, got[0], "the launch record is untouched")
			require.NotEqual(t, second.Sequences, got[0].Content.Sequences)
			require.Equal(t, []launchRecord{l1}, e.campaignLaunches(t, j.ID, collabTok))
			before := dbState(t, e.pool)
			status, body = e.do(t, http.MethodPost, "/v1/campaigns/"+j.ID+"/launch", adminTok, nil)
			requireError(t, status, body, http.StatusConflict, string(errs.ApprovalRequired))
			requireNoWrites(t, e.pool, before)

			// Resubmitted and approved: the workflow launches version 2.
			r2 := e.resubmit(t, j.ID, collabTok, approver.ID)
			require.Equal(t, 2, r2.CampaignVersion)
			require.Equal(t, edited, r2.ContentHash, "the request pins the edit")
			feed(t, l1.ID)
			approve(t, r2)
			e.waitEvent(t, r2.ID, storage.EventLaunched, 15*time.Second)
			got = feed(t, l1.ID, launchID(t, e, j.ID, 2))
			require.Equal(t, l1, got[0], "the first record is unchanged")
			l2 := got[1]
			require.Equal(t, 2, l2.Version)
			require.Equal(t, r2.ContentHash, l2.ContentHash)
			require.Equal(t, second.Sequences, l2.Content.Sequences, "the new record holds the new version's content")
			require.Equal(t, "workflow", l2.Source)
			require.Equal(t, &r2.ID, l2.RequestID)
			require.Equal(t, ptrInt(2), liveVersion(t), "live_version moves once the new version launched")
			require.Equal(t, storage.CampaignStatusLive, e.storedCampaign(t, e.A.Account.ID, j.ID).Status)
			// A poller that had read the first record gets the second next.
			page := e.launchFeed(t, "?limit=1", adminTok)
			require.Equal(t, []launchRecord{l1}, page.Items)
			require.NotNil(t, page.NextCursor)
			page = e.launchFeed(t, "?limit=1&after="+url.QueryEscape(*page.NextCursor), adminTok)
			require.Equal(t, []launchRecord{l2}, page.Items)

			// Version 3 starts in an hour: approved, its workflow waits, and the scheduler launches it.
			third := contentWith("A third version, launched by the scheduler.")
			edit(t, map[string]any{"content": third, "start_at": in(time.Hour)}, 3)
			feed(t, l1.ID, l2.ID)
			r3 := e.submit(t, j.ID, collabTok, approver.ID)
			require.Equal(t, 3, r3.CampaignVersion)
			require.NotNil(t, r3.LaunchAt, "the workflow waits for start_at")
			approve(t, r3)
			c := e.storedCampaign(t, e.A.Account.ID, j.ID)
			require.Equal(t, ptrInt(3), c.ApprovedVersion)
			if keepLive {
				require.Equal(t, ptrInt(2), c.LiveVersion, "keep_live: version 2 stays live until version 3 launches")
				require.Equal(t, storage.CampaignStatusLive, c.Status)
			} else {
				require.Nil(t, c.LiveVersion)
				require.Equal(t, storage.CampaignStatusScheduled, c.Status)
			}
			feed(t, l1.ID, l2.ID)
			var answer struct {
				Launch launchRecord `json:"launch"`
			}
			e.doJSON(t, http.StatusCreated, http.MethodPost, "/v1/campaigns/"+j.ID+"/launch", adminTok, nil, &answer)
			l3 := answer.Launch
			require.Equal(t, 3, l3.Version)
			require.Equal(t, r3.ContentHash, l3.ContentHash)
			require.Equal(t, third.Sequences, l3.Content.Sequences)
			require.Equal(t, "api", l3.Source)
			require.Equal(t, &r3.ID, l3.RequestID)
			e.doJSON(t, http.StatusOK, http.MethodPost, "/v1/campaigns/"+j.ID+"/launch", adminTok, nil, &answer)
			require.Equal(t, l3.ID, answer.Launch.ID, "idempotent")
			require.Equal(t, []launchRecord{l1, l2, l3}, feed(t, l1.ID, l2.ID, l3.ID))
			require.Equal(t, ptrInt(3), liveVersion(t))
			require.Equal(t, storage.CampaignStatusLive, e.storedCampaign(t, e.A.Account.ID, j.ID).Status)
			e.waitEvent(t, r3.ID, storage.EventLaunched, 5*time.Second)
		})
	}
}

// launchID is the id of the launch record of version of campaign campID.
func launchID(t *testing.T, e *env, campID string, version int) string {
	t.Helper()
	var id string
	require.NoError(t, e.pool.QueryRow(context.Background(), `SELECT id FROM campaign_launches
		WHERE campaign_id = $1 AND version = $2`, campID, version).Scan(&id))
	return id
}

func ptrInt(n int) *int { return &n }
