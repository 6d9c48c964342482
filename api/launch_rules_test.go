package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/signoff/signoff/activities"
	"github.com/signoff/signoff/errs"
	"github.com/signoff/signoff/storage"
)

// Tests of the launch rules (R-APPR-2, R-APPR-8): allow_self_approval holds for direct launches,
// and the launch decides inside the transaction that launches.

// TestSelfLaunchNeedsOtherApprovalWhenSelfApprovalOff: with allow_self_approval off, a direct launch by
// the campaign's creator (an approver, or an admin) does not count as an approval: it answers 409
// approval_required and writes nothing, until someone else approves a request. Campaigns that need no
// approval (mode test) still launch, and with the setting on the creator's launch works.
func TestSelfLaunchNeedsOtherApprovalWhenSelfApprovalOff(t *testing.T) {
	t.Parallel()
	e := newApprovalEnv(t, 2*time.Hour)
	A := e.A
	acct := A.Account.ID
	approver, approverTok := A.Users[storage.RoleApprover], A.Tokens[storage.RoleApprover]
	admin, adminTok := A.Users[storage.RoleAdmin], A.Tokens[storage.RoleAdmin]
	launch := func(campID, token string) (int, map[string]any) {
		return e.do(t, http.MethodPost, "/v1/campaigns/"+campID+"/launch", token, nil)
	}
	setSelfApproval := func(on bool) {
		status, body := e.do(t, http.MethodPatch, "/v1/account/settings", adminTok, map[string]any{"allow_self_approval": on})
		require.Equal(t, http.StatusOK, status, body)
		require.Equal(t, on, body["allow_self_approval"])
	}

	// With the setting on (the default) the approver's own campaign launches directly.
	allowed := e.laterCampaign(t, approver, "Own, self-approval on")
	status, body := launch(allowed.ID, approverTok)
	require.Equal(t, http.StatusCreated, status, body)

	setSelfApproval(false)
	own := e.laterCampaign(t, approver, "Own, self-approval off")
	adminOwn := e.laterCampaign(t, admin, "Admin's own, self-approval off")
	testMode := e.campaignAs(t, approver, "Own test send", storage.CampaignKindCampaign, storage.CampaignModeTest, in(time.Hour), in(2*time.Hour))
	before := dbState(t, e.pool)
	status, body = launch(own.ID, approverTok)
	requireError(t, status, body, http.StatusConflict, string(errs.ApprovalRequired))
	status, body = launch(adminOwn.ID, adminTok)
	requireError(t, status, body, http.StatusConflict, string(errs.ApprovalRequired))
	requireNoWrites(t, e.pool, before)
	require.Equal(t, storage.CampaignStatusDraft, e.storedCampaign(t, acct, own.ID).Status)

	// A campaign that needs no approval at all still launches.
	status, body = launch(testMode.ID, approverTok)
	require.Equal(t, http.StatusCreated, status, body)

	// Someone else's approval lets the creator launch; the launch refers to that request.
	r := e.submit(t, own.ID, approverTok, admin.ID)
	status, body = launch(own.ID, approverTok)
	requireError(t, status, body, http.StatusConflict, string(errs.ApprovalRequired))
	status, body = e.act(t, r.ID, "approve", adminTok, "")
	require.Equal(t, http.StatusOK, status, body)
	status, body = launch(own.ID, approverTok)
	require.Contains(t, []int{http.StatusCreated, http.StatusOK}, status, body)
	l := body["launch"].(map[string]any)
	require.Equal(t, r.ID, l["request_id"])
	require.Equal(t, storage.CampaignStatusLive, e.storedCampaign(t, acct, own.ID).Status)

	// Turned on again, the creator's direct launch counts once more.
	setSelfApproval(true)
	status, body = launch(adminOwn.ID, adminTok)
	require.Equal(t, http.StatusCreated, status, body)
}

// raceOutcome is what one round of a launch race answered.
type raceOutcome struct {
	launch, other int
	launchBody    string
}

// raceRound sends the launch and the other request at the same moment and waits for both answers.
func raceRound(e *env, launch, other *http.Request) raceOutcome {
	var wg sync.WaitGroup
	start := make(chan struct{})
	var l, o *httptest.ResponseRecorder
	wg.Add(2)
	go func() { defer wg.Done(); <-start; l = serve(e, launch) }()
	go func() { defer wg.Done(); <-start; o = serve(e, other) }()
	close(start)
	wg.Wait()
	return raceOutcome{launch: l.Code, other: o.Code, launchBody: l.Body.String()}
}

// TestLaunchDecidesInsideItsTransaction races POST …/launch against an edit and against a submit, each
// round on a fresh campaign (R-APPR-8). The decision "needs no approval" must be made on the campaign
// as it is when the launch commits, never on an earlier read:
//   - edit: a test-mode campaign is switched to active while an admin launches it. Either the launch
//     wins (the edit then meets a live campaign, 409 campaign_live) or the edit wins (the launch then
//     needs an approval, 409 approval_required); a launch of an active, unapproved campaign is a failure.
//   - submit: an approver launches their own campaign while submitting it to the admin. Exactly one
//     goes through: no launch of a campaign whose request is pending, and no pending request on a
//     campaign that launched (the submission re-checks the campaign under its row lock).
func TestLaunchDecidesInsideItsTransaction(t *testing.T) {
	t.Parallel()
	const rounds = 40
	e := newEnv(t)
	A := e.A
	acct := A.Account.ID
	ctx := context.Background()
	collab, collabTok := A.Users[storage.RoleCollaborator], A.Tokens[storage.RoleCollaborator]
	approver, approverTok := A.Users[storage.RoleApprover], A.Tokens[storage.RoleApprover]
	admin, adminTok := A.Users[storage.RoleAdmin], A.Tokens[storage.RoleAdmin]

	t.Run("edit", func(t *testing.T) {
		launched, edited := 0, 0
		for i := range rounds {
			c := e.campaignAs(t, collab, fmt.Sprintf("Edit race %d", i), storage.CampaignKindCampaign, storage.CampaignModeTest, in(time.Hour), in(2*time.Hour))
			out := raceRound(e,
				newRequest(http.MethodPost, "/v1/campaigns/"+c.ID+"/launch", adminTok, ""),
				newRequest(http.MethodPatch, "/v1/campaigns/"+c.ID, collabTok, `{"mode":"active"}`))
			stored := e.storedCampaign(t, acct, c.ID)
			switch {
			case out.launch == http.StatusCreated && out.other == http.StatusConflict:
				launched++
				require.Equal(t, storage.CampaignModeTest, stored.Mode)
				require.Equal(t, storage.CampaignStatusLive, stored.Status)
			case out.launch == http.StatusConflict && out.other == http.StatusOK:
				edited++
				require.Equal(t, string(errs.ApprovalRequired), errorCode([]byte(out.launchBody)), out.launchBody)
				require.Equal(t, storage.CampaignModeActive, stored.Mode)
				require.Equal(t, storage.CampaignStatusDraft, stored.Status)
				require.Zero(t, launchCount(t, e, c.ID))
			default:
				require.Failf(t, "an active campaign launched without approval",
					"round %d: launch %d (%s), edit %d; stored mode %s, status %s", i, out.launch, out.launchBody, out.other, stored.Mode, stored.Status)
			}
		}
		t.Logf("edit race: launch first %d, edit first %d", launched, edited)
		var n int
		require.NoError(t, e.pool.QueryRow(ctx, `SELECT count(*) FROM campaigns c JOIN campaign_launches l ON l.campaign_id = c.id
			WHERE c.account_id = $1 AND c.mode = 'active' AND l.request_id IS NULL AND c.created_by = $2`, acct, collab.ID).Scan(&n))
		require.Zero(t, n, "no active campaign of the collaborator may launch without an approved request")
	})

	t.Run("submit", func(t *testing.T) {
		body, err := json.Marshal(submitBody("please", admin.ID))
		require.NoError(t, err)
		launched, submitted, both := 0, 0, 0 // both must stay 0
		for i := range rounds {
			c := e.laterCampaign(t, approver, fmt.Sprintf("Submit race %d", i))
			out := raceRound(e,
				newRequest(http.MethodPost, "/v1/campaigns/"+c.ID+"/launch", approverTok, ""),
				newRequest(http.MethodPost, "/v1/campaigns/"+c.ID+"/approval-requests", approverTok, string(body)))
			switch {
			case out.launch == http.StatusCreated && out.other == http.StatusCreated:
				both++
				require.Failf(t, "a launched campaign got a pending request",
					"round %d: launch and submit both answered 201; the submission must re-check the campaign under its row lock", i)
			case out.launch == http.StatusCreated:
				launched++
				require.Equal(t, http.StatusConflict, out.other, "round %d", i)
				require.Zero(t, pendingCount(t, e, c.ID), "round %d: a launched campaign holds a pending request", i)
			case out.other == http.StatusCreated:
				submitted++
				require.Equal(t, string(errs.ApprovalRequired), errorCode([]byte(out.launchBody)), out.launchBody)
				require.Zero(t, launchCount(t, e, c.ID), "round %d: a campaign with a pending request launched", i)
			default:
				require.Failf(t, "neither went through", "round %d: launch %d (%s), submit %d", i, out.launch, out.launchBody, out.other)
			}
		}
		t.Logf("submit race: launch only %d, submit only %d, launch then submit %d", launched, submitted, both)
	})
}

// pendingCount counts the campaign's pending approval requests.
func pendingCount(t *testing.T, e *env, campaignID string) int {
	t.Helper()
	var n int
	require.NoError(t, e.pool.QueryRow(context.Background(),
		`SELECT count(*) FROM approval_requests WHERE campaign_id = $1 AND status = 'pending'`, campaignID).Scan(&n))
	return n
}

// TestApprovedCampaignInErrorDoesNotLaunch: setting an approved campaign to error keeps its approval
// (status is not a frozen field, R-VER-5), but the workflow does not launch it at its start time: it
// records launch_skipped and writes no launch record, and the campaign stays in error.
func TestApprovedCampaignInErrorDoesNotLaunch(t *testing.T) {
	t.Parallel()
	e := newApprovalEnv(t, 2*time.Hour)
	A := e.A
	acct := A.Account.ID
	editor, editorTok := A.Users[storage.RoleEditor], A.Tokens[storage.RoleEditor]
	approver, approverTok := A.Users[storage.RoleApprover], A.Tokens[storage.RoleApprover]
	camp := e.campaignAs(t, editor, "Approved, then in error", storage.CampaignKindCampaign, storage.CampaignModeActive,
		in(8*time.Second), in(time.Hour))
	r := e.submit(t, camp.ID, editorTok, approver.ID)
	status, body := e.act(t, r.ID, "approve", approverTok, "")
	require.Equal(t, http.StatusOK, status, body)
	status, body = e.do(t, http.MethodPatch, "/v1/campaigns/"+camp.ID, editorTok, map[string]any{"status": "error"})
	require.Equal(t, http.StatusOK, status, body)
	require.Equal(t, storage.RequestStatusApproved, e.storedCampaign(t, acct, camp.ID).ApprovalStatus)

	e.waitEvent(t, r.ID, storage.EventLaunchSkipped, 30*time.Second)
	got := e.storedCampaign(t, acct, camp.ID)
	require.Equal(t, storage.CampaignStatusError, got.Status)
	require.Nil(t, got.LiveVersion)
	require.Empty(t, e.listItems(t, "/v1/campaigns/"+camp.ID+"/launches", editorTok))
}

// TestWorkflowLaunchesOnlyItsPinnedVersion checks R-VER-3 for the workflow's launch, on the real
// database: the launch activity launches the version and content_hash its request pinned, and only
// while that is the campaign's approved version. Request 1 approves version 1; an edit drops that
// approval and the workflow records launch_skipped saying why; request 2 approves version 2. A late
// launch of request 1 (a retry) is refused with a PinnedVersionError naming both versions and writes
// nothing; a pin that is not the request's is refused; request 2's launch launches version 2 with its
// content.
func TestWorkflowLaunchesOnlyItsPinnedVersion(t *testing.T) {
	t.Parallel()
	e := newApprovalEnv(t, 2*time.Hour)
	ctx := context.Background()
	acct := e.A.Account.ID
	collab, collabTok := e.A.Users[storage.RoleCollaborator], e.A.Tokens[storage.RoleCollaborator]
	approver, approverTok := e.A.Users[storage.RoleApprover], e.A.Tokens[storage.RoleApprover]
	acts := &activities.Activities{Store: e.store}
	camp := e.laterCampaign(t, collab, "Pinned")

	r1 := e.submit(t, camp.ID, collabTok, approver.ID)
	status, body := e.act(t, r1.ID, "approve", approverTok, "")
	require.Equal(t, http.StatusOK, status, body)
	second := contentWith("Version 2.")
	status, body = e.do(t, http.MethodPatch, "/v1/campaigns/"+camp.ID, collabTok, map[string]any{"content": second})
	require.Equal(t, http.StatusOK, status, body)
	e.waitEvent(t, r1.ID, storage.EventLaunchSkipped, 15*time.Second)
	r2 := e.submit(t, camp.ID, collabTok, approver.ID)
	require.Equal(t, 2, r2.CampaignVersion)
	status, body = e.act(t, r2.ID, "approve", approverTok, "")
	require.Equal(t, http.StatusOK, status, body)
	require.Equal(t, ptrInt(2), e.storedCampaign(t, acct, camp.ID).ApprovedVersion)

	before := dbState(t, e.pool)
	launch := func(reqID string, version int, hash string) error {
		_, _, err := e.store.LaunchCampaign(ctx, storage.LaunchInput{AccountID: acct, CampaignID: camp.ID, RequestID: &reqID,
			Version: version, ContentHash: hash, Source: "workflow"})
		return err
	}
	err := launch(r1.ID, 1, r1.ContentHash)
	var pinned *storage.PinnedVersionError
	require.ErrorAs(t, err, &pinned)
	require.Equal(t, 1, pinned.Pinned)
	require.Equal(t, ptrInt(2), pinned.Approved)
	require.ErrorIs(t, err, storage.ErrNotLaunchable)
	// The pin must be the request's: request 2 with version 1's hash, or naming version 1, launches nothing.
	require.ErrorIs(t, launch(r2.ID, 2, r1.ContentHash), storage.ErrNotLaunchable)
	require.ErrorIs(t, launch(r2.ID, 1, r1.ContentHash), storage.ErrNotLaunchable)
	requireNoWrites(t, e.pool, before)
	// The activity's retry of request 1's launch skips it; its history holds the one launch_skipped
	// its workflow wrote (a retry's is the same event, written once).
	res, err := acts.LaunchApproved(ctx, activities.LaunchInput{AccountID: acct, CampaignID: camp.ID, RequestID: r1.ID,
		CampaignVersion: 1, ContentHash: r1.ContentHash})
	require.NoError(t, err)
	require.Equal(t, activities.LaunchResult{Skipped: true}, res)
	require.Equal(t, 0, launchCount(t, e, camp.ID))
	require.Nil(t, e.storedCampaign(t, acct, camp.ID).LiveVersion)
	events := e.history(t, "/v1/approval-requests/"+r1.ID+"/history", collabTok)
	require.Equal(t, []string{storage.EventSubmitted, storage.EventApproved, storage.EventLaunchSkipped}, eventTypes(events))
	require.Contains(t, events[2].Note, "this request approved version 1")

	// Request 2's own pin launches version 2.
	res, err = acts.LaunchApproved(ctx, activities.LaunchInput{AccountID: acct, CampaignID: camp.ID, RequestID: r2.ID,
		CampaignVersion: 2, ContentHash: r2.ContentHash})
	require.NoError(t, err)
	require.Equal(t, activities.LaunchResult{Launched: true}, res)
	list := e.campaignLaunches(t, camp.ID, collabTok)
	require.Len(t, list, 1)
	require.Equal(t, 2, list[0].Version)
	require.Equal(t, r2.ContentHash, list[0].ContentHash)
	require.Equal(t, second.Sequences, list[0].Content.Sequences)
	require.Equal(t, &r2.ID, list[0].RequestID)
	c := e.storedCampaign(t, acct, camp.ID)
	require.Equal(t, ptrInt(2), c.LiveVersion)
	require.Equal(t, storage.CampaignStatusLive, c.Status)
}
