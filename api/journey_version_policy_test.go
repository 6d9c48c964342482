package api_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/signoff/signoff/errs"
	"github.com/signoff/signoff/storage"
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
