package api_test

import (
	"context"
	"encoding/base64"
	"encoding/csv"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/signoff/signoff/errs"
	"github.com/signoff/signoff/storage"
	"github.com/signoff/signoff/workers"
	"github.com/signoff/signoff/workflows"
)

// Integration tests of internal approval requests (SPEC §6): the API over HTTP, a real
// worker running the approval workflow on the Temporal dev server, and the database checked after
// every step.

// TestApprovalFullFlow walks one request from submission to launch (R-APPR-3, 4, 8, 9, 10, 11, R-CAMP-1).
func TestApprovalFullFlow(t *testing.T) {
	t.Parallel()
	e := newApprovalEnv(t, 2*time.Hour)
	acct := e.A.Account.ID
	collab, approver := e.A.Users[storage.RoleCollaborator], e.A.Users[storage.RoleApprover]
	collabTok, approverTok, adminTok := e.A.Tokens[storage.RoleCollaborator], e.A.Tokens[storage.RoleApprover], e.A.Tokens[storage.RoleAdmin]

	// The collaborator creates the campaign over HTTP. It starts in launchMargin: the approval
	// must come before start_at (scheduled, no ribbon), and the test waits for the launch at start_at.
	start, end := in(launchMargin), in(time.Hour)
	var camp campaignView
	e.doJSON(t, http.StatusCreated, http.MethodPost, "/v1/campaigns", collabTok, map[string]any{
		"name": "Spring launch", "kind": "campaign", "mode": "active", "start_at": start, "end_at": end,
	}, &camp)
	require.Equal(t, storage.CampaignStatusDraft, camp.Status)
	require.Equal(t, "none", camp.ApprovalStatus)

	// Submission: 201, pending, the campaign locked, the workflow started.
	var r storage.ApprovalRequest
	e.doJSON(t, http.StatusCreated, http.MethodPost, "/v1/campaigns/"+camp.ID+"/approval-requests", collabTok,
		map[string]any{"approver_ids": []string{approver.ID}, "note": "Ready for review"}, &r)
	require.Equal(t, storage.RequestStatusPending, r.Status)
	require.Equal(t, collab.ID, r.SubmittedBy)
	require.Equal(t, "Ready for review", r.Note)
	require.Len(t, r.Approvers, 1)
	require.True(t, hasApprover(r, approver.ID, storage.ApproverStateAssigned))
	require.NotNil(t, r.LaunchAt)
	require.True(t, start.Equal(*r.LaunchAt), "launch_at is start_at")
	require.True(t, end.Equal(r.DeadlineAt), "the deadline of a later campaign is its end_at")
	require.Equal(t, storage.RequestStatusPending, e.storedCampaign(t, acct, camp.ID).ApprovalStatus)
	var started *time.Time
	require.NoError(t, e.pool.QueryRow(context.Background(),
		`SELECT workflow_started_at FROM approval_requests WHERE id = $1`, r.ID).Scan(&started))
	require.NotNil(t, started, "the API records that it started the workflow")

	var got storage.ApprovalRequest
	e.doJSON(t, http.StatusOK, http.MethodGet, "/v1/approval-requests/"+r.ID, approverTok, nil, &got)
	require.Equal(t, r.ID, got.ID)
	require.Equal(t, storage.RequestStatusPending, got.Status)

	// Inbox (R-APPR-11): the approver's, not the submitter's.
	require.Equal(t, []string{r.ID}, e.inboxIDs(t, approverTok))
	require.Empty(t, e.inboxIDs(t, collabTok))
	require.Empty(t, e.inboxIDs(t, adminTok), "the admin is not assigned")

	// Ribbons (R-CAMP-1) differ per viewer.
	require.Contains(t, ribbonText(e.viewCampaign(t, camp.ID, approverTok)), "pending for you")
	for _, tok := range []string{collabTok, adminTok} {
		rb := ribbonText(e.viewCampaign(t, camp.ID, tok))
		require.Contains(t, rb, "cancel the request to edit")
		require.NotContains(t, rb, "for you")
	}
	var page struct {
		Items []campaignView `json:"items"`
	}
	e.doJSON(t, http.StatusOK, http.MethodGet, "/v1/campaigns", approverTok, nil, &page)
	require.Len(t, page.Items, 1)
	require.Contains(t, ribbonText(page.Items[0]), "pending for you", "the list carries the ribbon too")

	// Approval.
	var approved storage.ApprovalRequest
	e.doJSON(t, http.StatusOK, http.MethodPost, "/v1/approval-requests/"+r.ID+"/approve", approverTok,
		map[string]any{"note": "LGTM"}, &approved)
	require.Equal(t, storage.RequestStatusApproved, approved.Status)
	require.NotNil(t, approved.DecidedBy)
	require.Equal(t, approver.ID, *approved.DecidedBy)
	require.Equal(t, "LGTM", approved.DecisionNote)
	c := e.storedCampaign(t, acct, camp.ID)
	require.Equal(t, storage.RequestStatusApproved, c.ApprovalStatus)
	ribbon := e.viewCampaign(t, camp.ID, collabTok).Ribbon
	checkedAt := time.Now()
	require.Truef(t, checkedAt.Before(*start), "the approval was checked %s after start_at: this machine needs more than "+
		"launchMargin (%s) from creating the campaign to approving it", checkedAt.Sub(*start), launchMargin)
	require.Equal(t, storage.CampaignStatusScheduled, c.Status, "approval schedules the campaign")
	require.Nil(t, ribbon, "no ribbon once approved")
	require.Empty(t, e.inboxIDs(t, approverTok), "a decided request leaves the inbox")

	// At start_at the workflow launches the campaign (R-APPR-8).
	eventually(t, time.Until(*start)+15*time.Second, func() bool {
		return e.storedCampaign(t, acct, camp.ID).Status == storage.CampaignStatusLive
	}, func() string { return "campaign not live: " + e.storedCampaign(t, acct, camp.ID).Status })
	require.Equal(t, 1, launchCount(t, e, camp.ID))
	var launch storage.Launch
	require.NoError(t, e.pool.QueryRow(context.Background(), `SELECT id, request_id, source, version FROM campaign_launches
		WHERE campaign_id = $1`, camp.ID).Scan(&launch.ID, &launch.RequestID, &launch.Source, &launch.Version))
	require.NotNil(t, launch.RequestID)
	require.Equal(t, r.ID, *launch.RequestID)
	require.Equal(t, "workflow", launch.Source)
	launches := e.listItems(t, "/v1/campaigns/"+camp.ID+"/launches", adminTok)
	require.Len(t, launches, 1)
	require.Equal(t, launch.ID, launches[0]["id"])
	e.waitEvent(t, r.ID, storage.EventLaunched, 5*time.Second)

	// History (R-APPR-10), JSON: submitted, approved, launched, with actor and time.
	events := e.history(t, "/v1/approval-requests/"+r.ID+"/history", collabTok)
	require.Equal(t, []string{storage.EventSubmitted, storage.EventApproved, storage.EventLaunched}, eventTypes(events))
	byType := map[string]storage.ApprovalEvent{}
	for i, ev := range events {
		byType[ev.Type] = ev
		require.False(t, ev.At.IsZero())
		require.Equal(t, r.ID, ev.RequestID)
		require.NotNil(t, ev.Version, "every event names its version (R-VER-8): %s", ev.Type)
		require.Equal(t, r.CampaignVersion, *ev.Version, "the version the request pinned: %s", ev.Type)
		if i > 0 {
			require.False(t, ev.At.Before(events[i-1].At), "events are in order")
		}
	}
	require.NotNil(t, byType[storage.EventSubmitted].Actor)
	require.Equal(t, collab.ID, byType[storage.EventSubmitted].Actor.ID)
	require.Equal(t, collab.Email, byType[storage.EventSubmitted].Actor.Email)
	require.Equal(t, "Ready for review", byType[storage.EventSubmitted].Note)
	require.Equal(t, []storage.Actor{{ID: approver.ID, Name: approver.Name, Email: approver.Email}},
		byType[storage.EventSubmitted].Approvers, "submitted names its approvers (R-VER-8)")
	require.Nil(t, byType[storage.EventLaunched].Approvers)
	require.NotNil(t, byType[storage.EventApproved].Actor)
	require.Equal(t, approver.ID, byType[storage.EventApproved].Actor.ID)
	require.Equal(t, "LGTM", byType[storage.EventApproved].Note)
	require.Nil(t, byType[storage.EventLaunched].Actor, "the workflow launches: the system's action")
	require.Equal(t, events, e.history(t, "/v1/campaigns/"+camp.ID+"/approval-history", approverTok),
		"the campaign's history holds the same events")

	// History as CSV.
	for _, path := range []string{"/v1/approval-requests/" + r.ID + "/history", "/v1/campaigns/" + camp.ID + "/approval-history"} {
		rec := e.request(t, http.MethodGet, path+"?format=csv", adminTok, nil)
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		require.True(t, strings.HasPrefix(rec.Header().Get("Content-Type"), "text/csv"), rec.Header().Get("Content-Type"))
		rows, err := csv.NewReader(strings.NewReader(rec.Body.String())).ReadAll()
		require.NoError(t, err)
		require.Len(t, rows, len(events)+1, "a header row and one row per event")
		require.Equal(t, []string{"type", "actor", "actor_email", "note", "at", "request_id", "version", "approvers"}, rows[0])
		for i, ev := range events {
			row := rows[i+1]
			require.Equal(t, ev.Type, row[0])
			if ev.Actor == nil {
				require.Equal(t, "system", row[1])
			} else {
				require.Equal(t, ev.Actor.Name, row[1])
				require.Equal(t, ev.Actor.Email, row[2])
			}
			at, err := time.Parse(time.RFC3339, row[4])
			require.NoError(t, err)
			require.WithinDuration(t, ev.At, at, time.Second)
			require.Equal(t, r.ID, row[5])
			require.Equal(t, strconv.Itoa(r.CampaignVersion), row[6])
			if ev.Type == storage.EventSubmitted {
				require.Equal(t, approver.Name+" <"+approver.Email+">", row[7])
			} else {
				require.Empty(t, row[7])
			}
		}
	}
	status, body := e.do(t, http.MethodGet, "/v1/approval-requests/"+r.ID+"/history?format=xml", adminTok, nil)
	requireInvalid(t, status, body, "format")

	// Notifications (R-APPR-9): the approver on submission, the submitter on approval.
	requested := e.notificationsFor(t, approverTok, r.ID, "")
	require.Len(t, requested, 1, "the approver: %v", requested)
	require.Equal(t, "approval_requested", requested[0]["kind"])
	decided := e.notificationsFor(t, collabTok, r.ID, "")
	require.Len(t, decided, 1, "the submitter: %v", decided)
	require.Equal(t, "approval_approved", decided[0]["kind"])
	require.Empty(t, e.notificationsFor(t, adminTok, r.ID, ""), "the admin is not involved")

	// The email outbox holds the same two messages; only admins may read it.
	outbox := e.listItems(t, "/v1/dev/outbox", adminTok)
	var mine []map[string]any
	for _, m := range outbox {
		if m["request_id"] == r.ID {
			mine = append(mine, m)
		}
	}
	require.Len(t, mine, 2, "outbox: %v", outbox)
	subjects := map[string]string{}
	for _, m := range mine {
		subjects[m["to"].(string)] = m["subject"].(string)
	}
	require.Equal(t, map[string]string{
		approver.Email: "Approval requested: Spring launch",
		collab.Email:   "Approved: Spring launch",
	}, subjects)
	for _, role := range roles[1:] {
		status, body := e.do(t, http.MethodGet, "/v1/dev/outbox", e.A.Tokens[role], nil)
		requireError(t, status, body, http.StatusForbidden, string(errs.Forbidden))
	}
}

// TestApprovalSubmitValidation checks every refusal of R-APPR-2 and R-APPR-3; none writes anything.
func TestApprovalSubmitValidation(t *testing.T) {
	t.Parallel()
	e := newApprovalEnv(t, 2*time.Hour)
	A := e.A
	collabTok := A.Tokens[storage.RoleCollaborator]
	approver := A.Users[storage.RoleApprover]
	camp := e.laterCampaign(t, A.Users[storage.RoleCollaborator], "Validated")

	// refuse submits and requires the error answer (field for a 422) and that nothing was written.
	refuse := func(t *testing.T, campID, token string, body any, wantStatus int, wantCode, field string) {
		t.Helper()
		before := dbState(t, e.pool)
		status, answer := e.do(t, http.MethodPost, "/v1/campaigns/"+campID+"/approval-requests", token, body)
		if wantStatus == http.StatusUnprocessableEntity {
			requireInvalid(t, status, answer, field)
		} else {
			requireError(t, status, answer, wantStatus, wantCode)
		}
		requireNoWrites(t, e.pool, before)
	}
	const unprocessable = http.StatusUnprocessableEntity

	t.Run("no approvers", func(t *testing.T) {
		refuse(t, camp.ID, collabTok, submitBody("x"), unprocessable, "", "approver_ids")
		refuse(t, camp.ID, collabTok, map[string]any{"note": "x"}, unprocessable, "", "approver_ids")
	})
	t.Run("approvers without the approval right", func(t *testing.T) {
		for _, role := range []string{storage.RoleCollaborator, storage.RoleCSM, storage.RoleEditor} {
			require.False(t, A.Users[role].CanApprove)
			refuse(t, camp.ID, collabTok, submitBody("x", A.Users[role].ID), unprocessable, "", "approver_ids[0]")
		}
		refuse(t, camp.ID, collabTok, submitBody("x", approver.ID, A.Users[storage.RoleCSM].ID), unprocessable, "", "approver_ids[1]")
		inactive, _ := e.userWith(t, A.Account.ID, "gone@a.test", storage.RoleApprover, false)
		f := false
		_, _, err := e.store.UpdateUser(context.Background(), A.Account.ID, inactive.ID, storage.UserPatch{Active: &f})
		require.NoError(t, err)
		refuse(t, camp.ID, collabTok, submitBody("x", inactive.ID), unprocessable, "", "approver_ids[0]")
	})
	t.Run("approvers of another account or unknown", func(t *testing.T) {
		refuse(t, camp.ID, collabTok, submitBody("x", e.B.Users[storage.RoleApprover].ID), unprocessable, "", "approver_ids[0]")
		refuse(t, camp.ID, collabTok, submitBody("x", e.B.Users[storage.RoleAdmin].ID), unprocessable, "", "approver_ids[0]")
		refuse(t, camp.ID, collabTok, submitBody("x", uuid.NewString()), unprocessable, "", "approver_ids[0]")
		refuse(t, camp.ID, collabTok, submitBody("x", "not-a-uuid"), unprocessable, "", "approver_ids[0]")
		refuse(t, camp.ID, collabTok, submitBody("x", approver.ID, approver.ID), unprocessable, "", "approver_ids[1]")
	})
	t.Run("immediate campaign", func(t *testing.T) {
		now := e.campaignAs(t, A.Users[storage.RoleCollaborator], "Now", storage.CampaignKindCampaign, storage.CampaignModeActive, nil, in(time.Hour))
		refuse(t, now.ID, collabTok, submitBody("x", approver.ID), unprocessable, "", "start_at")
		past := e.campaignAs(t, A.Users[storage.RoleCollaborator], "Past", storage.CampaignKindCampaign, storage.CampaignModeActive, in(-time.Minute), in(time.Hour))
		refuse(t, past.ID, collabTok, submitBody("x", approver.ID), unprocessable, "", "start_at")
		noEnd := e.campaignAs(t, A.Users[storage.RoleCollaborator], "No end", storage.CampaignKindCampaign, storage.CampaignModeActive, in(time.Hour), nil)
		refuse(t, noEnd.ID, collabTok, submitBody("x", approver.ID), unprocessable, "", "end_at")
	})
	t.Run("test and passive need no approval", func(t *testing.T) {
		for _, mode := range []string{storage.CampaignModeTest, storage.CampaignModePassive} {
			c := e.campaignAs(t, A.Users[storage.RoleCollaborator], "Mode "+mode, storage.CampaignKindCampaign, mode, in(time.Hour), in(2*time.Hour))
			refuse(t, c.ID, collabTok, submitBody("x", approver.ID), unprocessable, "", "mode")
		}
	})
	t.Run("another account's campaign", func(t *testing.T) {
		bCamp := e.laterCampaign(t, e.B.Users[storage.RoleCollaborator], "B's")
		for _, role := range roles {
			refuse(t, bCamp.ID, A.Tokens[role], submitBody("x", approver.ID), http.StatusNotFound, string(errs.NotFound), "")
		}
		refuse(t, uuid.NewString(), collabTok, submitBody("x", approver.ID), http.StatusNotFound, string(errs.NotFound), "")
	})
	t.Run("not an editor of the campaign", func(t *testing.T) {
		refuse(t, camp.ID, A.Tokens[storage.RoleApprover], submitBody("x", approver.ID), http.StatusForbidden, string(errs.Forbidden), "")
		_, other := e.newUser(t, A.Account.ID, "collaborator-2@a.test", storage.RoleCollaborator)
		refuse(t, camp.ID, other, submitBody("x", approver.ID), http.StatusForbidden, string(errs.Forbidden), "")
	})
	t.Run("bad note", func(t *testing.T) {
		refuse(t, camp.ID, collabTok, submitBody(strings.Repeat("n", 2001), approver.ID), unprocessable, "", "note")
	})
	t.Run("one open request per campaign", func(t *testing.T) {
		r := e.submit(t, camp.ID, collabTok, approver.ID)
		refuse(t, camp.ID, collabTok, submitBody("again", approver.ID), http.StatusConflict, string(errs.RequestOpen), "")
		refuse(t, camp.ID, A.Tokens[storage.RoleAdmin], submitBody("again", approver.ID), http.StatusConflict, string(errs.RequestOpen), "")
		var n int
		require.NoError(t, e.pool.QueryRow(context.Background(),
			`SELECT count(*) FROM approval_requests WHERE campaign_id = $1`, camp.ID).Scan(&n))
		require.Equal(t, 1, n)
		require.Equal(t, storage.RequestStatusPending, e.storedRequest(t, A.Account.ID, r.ID).Status)
	})
	t.Run("concurrent submissions: one wins", func(t *testing.T) {
		c := e.laterCampaign(t, A.Users[storage.RoleCollaborator], "Raced submit")
		const n = 6
		codes := make([]int, n)
		answered := make([]string, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rec := serve(e, newRequest(http.MethodPost, "/v1/campaigns/"+c.ID+"/approval-requests", collabTok,
					fmt.Sprintf(`{"approver_ids":[%q]}`, approver.ID)))
				codes[i], answered[i] = rec.Code, errorCode(rec.Body.Bytes())
			}()
		}
		wg.Wait()
		created := 0
		for i := range n {
			if codes[i] == http.StatusCreated {
				created++
				continue
			}
			require.Equal(t, http.StatusConflict, codes[i])
			require.Equal(t, string(errs.RequestOpen), answered[i])
		}
		require.Equal(t, 1, created, "codes: %v", codes)
		var rows int
		require.NoError(t, e.pool.QueryRow(context.Background(),
			`SELECT count(*) FROM approval_requests WHERE campaign_id = $1`, c.ID).Scan(&rows))
		require.Equal(t, 1, rows)
	})
	// Last: it changes the account's settings.
	t.Run("approvals turned off", func(t *testing.T) {
		status, body := e.do(t, http.MethodPatch, "/v1/account/settings", A.Tokens[storage.RoleAdmin], map[string]any{"approval_enabled": false})
		require.Equal(t, http.StatusOK, status, body)
		// The requests still pending above are approved automatically (R-APPR-1); let that finish first.
		eventually(t, 10*time.Second, func() bool { return countPending(t, e) == 0 },
			func() string { return fmt.Sprintf("%d requests still pending", countPending(t, e)) })
		c := e.laterCampaign(t, A.Users[storage.RoleCollaborator], "Off")
		refuse(t, c.ID, collabTok, submitBody("x", approver.ID), http.StatusConflict, string(errs.ApprovalDisabled), "")
	})
}

// TestApprovalEditLockAndResubmit checks R-CAMP-2: nobody edits a campaign while its request is
// pending, and resubmit cancels, edits and submits in one call.
func TestApprovalEditLockAndResubmit(t *testing.T) {
	t.Parallel()
	e := newApprovalEnv(t, 2*time.Hour)
	A := e.A
	acct := A.Account.ID
	collabTok, approver := A.Tokens[storage.RoleCollaborator], A.Users[storage.RoleApprover]

	t.Run("every role is locked out, admins too", func(t *testing.T) {
		camp := e.laterCampaign(t, A.Users[storage.RoleCollaborator], "Locked")
		r := e.submit(t, camp.ID, collabTok, approver.ID)
		row, state := campaignState(t, e, acct, camp.ID)
		before := dbState(t, e.pool)
		for _, role := range []string{storage.RoleAdmin, storage.RoleEditor, storage.RoleCSM, storage.RoleCollaborator} {
			tok := A.Tokens[role]
			for _, patch := range []map[string]any{
				{"name": "Edited by " + role},
				{"status": "ready"},
				{"start_at": in(3 * time.Hour), "end_at": in(4 * time.Hour)},
				{"content": otherContent()},
			} {
				status, body := e.do(t, http.MethodPatch, "/v1/campaigns/"+camp.ID, tok, patch)
				requireError(t, status, body, http.StatusConflict, string(errs.ApprovalPending))
			}
			status, body := e.do(t, http.MethodDelete, "/v1/campaigns/"+camp.ID, tok, nil)
			requireError(t, status, body, http.StatusConflict, string(errs.ApprovalPending))
		}
		requireNoWrites(t, e.pool, before)
		requireCampaignUnchanged(t, e, acct, camp.ID, row, state)

		// Cancelling unlocks it.
		status, body := e.act(t, r.ID, "cancel", collabTok, "")
		require.Equal(t, http.StatusOK, status, body)
		require.Equal(t, storage.RequestStatusCancelled, body["status"])
		require.Equal(t, storage.RequestStatusCancelled, e.storedCampaign(t, acct, camp.ID).ApprovalStatus)
		require.Equal(t, 1, eventCount(t, e, r.ID, storage.EventCancelled))
		status, body = e.do(t, http.MethodPatch, "/v1/campaigns/"+camp.ID, A.Tokens[storage.RoleAdmin], map[string]any{"name": "Edited after cancel"})
		require.Equal(t, http.StatusOK, status, body)
		require.Equal(t, "Edited after cancel", e.storedCampaign(t, acct, camp.ID).Name)
		// The approver was told of the cancellation (R-APPR-9: everyone involved).
		require.Len(t, e.notificationsFor(t, A.Tokens[storage.RoleApprover], r.ID, "approval_cancelled"), 1)
		require.Empty(t, e.notificationsFor(t, collabTok, r.ID, "approval_cancelled"), "the actor is not told of their own cancel")
	})

	t.Run("resubmit while pending", func(t *testing.T) {
		camp := e.laterCampaign(t, A.Users[storage.RoleCollaborator], "Resubmitted")
		old := e.submit(t, camp.ID, collabTok, approver.ID)
		approver2, approver2Tok := e.userWith(t, acct, "approver-2@a.test", storage.RoleApprover, false)
		var r storage.ApprovalRequest
		e.doJSON(t, http.StatusCreated, http.MethodPost, "/v1/campaigns/"+camp.ID+"/resubmit", collabTok, map[string]any{
			"changes":      map[string]any{"name": "Resubmitted v2", "content": otherContent()},
			"approver_ids": []string{approver2.ID},
			"note":         "fixed the copy",
		}, &r)
		require.Equal(t, storage.RequestStatusPending, r.Status)
		require.NotEqual(t, old.ID, r.ID)
		require.True(t, hasApprover(r, approver2.ID, storage.ApproverStateAssigned))
		require.Equal(t, storage.RequestStatusCancelled, e.storedRequest(t, acct, old.ID).Status)
		require.Equal(t, 1, eventCount(t, e, old.ID, storage.EventCancelled))
		c := e.storedCampaign(t, acct, camp.ID)
		require.Equal(t, "Resubmitted v2", c.Name)
		require.Equal(t, "US", c.Content.Segments[0].Name, "the content change is applied")
		require.Equal(t, storage.RequestStatusPending, c.ApprovalStatus)
		require.Equal(t, []string{r.ID}, e.inboxIDs(t, approver2Tok))
		require.Empty(t, e.inboxIDs(t, A.Tokens[storage.RoleApprover]))
		// The new request's workflow runs: its approver can approve it.
		status, body := e.act(t, r.ID, "approve", approver2Tok, "")
		require.Equal(t, http.StatusOK, status, body)
		require.Equal(t, storage.RequestStatusApproved, e.storedCampaign(t, acct, camp.ID).ApprovalStatus)
		// The campaign's history spans both requests.
		events := e.history(t, "/v1/campaigns/"+camp.ID+"/approval-history", collabTok)
		require.Equal(t, []string{storage.EventSubmitted, storage.EventCancelled, storage.EventSubmitted, storage.EventApproved}, eventTypes(events))
		require.Equal(t, []string{old.ID, old.ID, r.ID, r.ID}, []string{events[0].RequestID, events[1].RequestID, events[2].RequestID, events[3].RequestID})
		require.Equal(t, "resubmitted with changes", events[1].Note)
	})

	t.Run("resubmit by a non-editor", func(t *testing.T) {
		camp := e.laterCampaign(t, A.Users[storage.RoleCollaborator], "Not theirs")
		e.submit(t, camp.ID, collabTok, approver.ID)
		before := dbState(t, e.pool)
		status, body := e.do(t, http.MethodPost, "/v1/campaigns/"+camp.ID+"/resubmit", A.Tokens[storage.RoleApprover],
			map[string]any{"changes": map[string]any{"name": "Mine"}, "approver_ids": []string{approver.ID}})
		requireError(t, status, body, http.StatusForbidden, string(errs.Forbidden))
		status, body = e.do(t, http.MethodPost, "/v1/campaigns/"+camp.ID+"/resubmit", collabTok,
			map[string]any{"changes": map[string]any{"name": "No approvers"}, "approver_ids": []string{}})
		requireInvalid(t, status, body, "approver_ids")
		requireNoWrites(t, e.pool, before)
	})

	// SPEC §10: bad input changes nothing. A resubmit whose changes or approvers are refused must
	// leave the pending request in place.
	t.Run("resubmit with invalid changes changes nothing", func(t *testing.T) {
		camp := e.laterCampaign(t, A.Users[storage.RoleCollaborator], "Bad changes")
		r := e.submit(t, camp.ID, collabTok, approver.ID)
		before := dbState(t, e.pool)
		status, body := e.do(t, http.MethodPost, "/v1/campaigns/"+camp.ID+"/resubmit", collabTok,
			map[string]any{"changes": map[string]any{"name": ""}, "approver_ids": []string{approver.ID}})
		requireInvalid(t, status, body, "name")
		require.Equal(t, storage.RequestStatusPending, e.storedRequest(t, acct, r.ID).Status, "the refused resubmit cancelled the request")
		requireNoWrites(t, e.pool, before)
	})
	t.Run("resubmit with invalid approvers changes nothing", func(t *testing.T) {
		camp := e.laterCampaign(t, A.Users[storage.RoleCollaborator], "Bad approvers")
		r := e.submit(t, camp.ID, collabTok, approver.ID)
		before := dbState(t, e.pool)
		status, body := e.do(t, http.MethodPost, "/v1/campaigns/"+camp.ID+"/resubmit", collabTok,
			map[string]any{"changes": map[string]any{"name": "Renamed"}, "approver_ids": []string{A.Users[storage.RoleCSM].ID}})
		requireInvalid(t, status, body, "approver_ids[0]")
		require.Equal(t, storage.RequestStatusPending, e.storedRequest(t, acct, r.ID).Status, "the refused resubmit cancelled the request")
		requireNoWrites(t, e.pool, before)
	})
}

// TestApprovalDroppedByEditLaunchSkipped checks R-CAMP-3: editing an approved campaign before launch
// drops the approval, and its workflow records launch_skipped instead of launching.
func TestApprovalDroppedByEditLaunchSkipped(t *testing.T) {
	t.Parallel()
	e := newApprovalEnv(t, 2*time.Hour)
	acct := e.A.Account.ID
	collabTok, approverTok := e.A.Tokens[storage.RoleCollaborator], e.A.Tokens[storage.RoleApprover]
	camp := e.campaignAs(t, e.A.Users[storage.RoleCollaborator], "Far out", storage.CampaignKindCampaign, storage.CampaignModeActive,
		in(30*24*time.Hour), in(60*24*time.Hour))
	r := e.submit(t, camp.ID, collabTok, e.A.Users[storage.RoleApprover].ID)
	status, body := e.act(t, r.ID, "approve", approverTok, "")
	require.Equal(t, http.StatusOK, status, body)
	c := e.storedCampaign(t, acct, camp.ID)
	require.Equal(t, storage.CampaignStatusScheduled, c.Status)
	require.Equal(t, storage.RequestStatusApproved, c.ApprovalStatus)

	var v campaignView
	e.doJSON(t, http.StatusOK, http.MethodPatch, "/v1/campaigns/"+camp.ID, collabTok, map[string]any{"name": "Far out, edited"}, &v)
	require.Equal(t, "none", v.ApprovalStatus)
	require.Equal(t, storage.CampaignStatusReady, v.Status)
	c = e.storedCampaign(t, acct, camp.ID)
	require.Equal(t, "none", c.ApprovalStatus)
	require.Equal(t, storage.CampaignStatusReady, c.Status)

	// The workflow wakes on the approval-dropped signal and skips the launch.
	e.waitEvent(t, r.ID, storage.EventLaunchSkipped, 15*time.Second)
	events := e.history(t, "/v1/approval-requests/"+r.ID+"/history", collabTok)
	require.Equal(t, []string{storage.EventSubmitted, storage.EventApproved, storage.EventLaunchSkipped}, eventTypes(events))
	require.Nil(t, events[2].Actor)
	require.Equal(t, "not launched: this request approved version 1, but the campaign was edited after the approval and no "+
		"approved version stands now; the new version needs its own approval", events[2].Note, "the history says why (R-VER-3)")
	require.Equal(t, 0, launchCount(t, e, camp.ID))
	c = e.storedCampaign(t, acct, camp.ID)
	require.Equal(t, storage.CampaignStatusReady, c.Status)
	require.Equal(t, "none", c.ApprovalStatus)
	require.Equal(t, storage.RequestStatusApproved, e.storedRequest(t, acct, r.ID).Status, "the request itself stays approved")

	// The campaign needs a new approval: launching it now is refused.
	status, body = e.do(t, http.MethodPost, "/v1/campaigns/"+camp.ID+"/launch", e.A.Tokens[storage.RoleAdmin], nil)
	requireError(t, status, body, http.StatusConflict, string(errs.ApprovalRequired))
	require.Equal(t, 0, launchCount(t, e, camp.ID))
	// And it may be submitted again.
	r2 := e.submit(t, camp.ID, collabTok, e.A.Users[storage.RoleApprover].ID)
	require.NotEqual(t, r.ID, r2.ID)
}

// TestApprovalRaces fires approve, reject and cancel at once on 100 requests (R-APPR-5): exactly one
// wins each time, the others answer 409 already_handled, and no request holds two decisions.
func TestApprovalRaces(t *testing.T) {
	t.Parallel()
	e := newApprovalEnv(t, 2*time.Hour)
	A := e.A
	acct := A.Account.ID
	approverID, adminID := A.Users[storage.RoleApprover].ID, A.Users[storage.RoleAdmin].ID
	tokens := map[string]string{"approve": A.Tokens[storage.RoleApprover], "reject": A.Tokens[storage.RoleAdmin], "cancel": A.Tokens[storage.RoleCollaborator]}
	bodies := map[string]string{"approve": `{"note":"ok"}`, "reject": `{"note":"no, rewrite the intro"}`, "cancel": ``}
	actions := []string{"approve", "reject", "cancel"}
	winnerStatus := map[string]string{"approve": storage.RequestStatusApproved, "reject": storage.RequestStatusRejected, "cancel": storage.RequestStatusCancelled}

	const n, concurrency = 100, 8
	type result struct {
		reqID, campID string
		codes         map[string]int
		errCodes      map[string]string
		err           string
	}
	results := make([]result, n)
	startAll := time.Now()
	raceRounds(n, concurrency, func(i int) {
		res := &results[i]
		r, err := e.submitRace(i, "Race", approverID, adminID)
		if err != nil {
			res.err = err.Error()
			return
		}
		res.reqID, res.campID = r.ID, r.CampaignID
		// Rotate which request is sent first, so every action gets its chances to win.
		order, reqs := make([]string, len(actions)), make([]*http.Request, len(actions))
		for k := range actions {
			order[k] = actions[(i+k)%len(actions)]
			reqs[k] = newRequest(http.MethodPost, "/v1/approval-requests/"+r.ID+"/"+order[k], tokens[order[k]], bodies[order[k]])
		}
		codes, errCodes := fireTogether(e, reqs)
		res.codes, res.errCodes = map[string]int{}, map[string]string{}
		for k, action := range order {
			res.codes[action], res.errCodes[action] = codes[k], errCodes[k]
		}
	})
	elapsed := time.Since(startAll)
	t.Logf("%d requests, 3 concurrent decisions each, %d at a time: %s", n, concurrency, elapsed)

	wins := map[string]int{}
	for i, res := range results {
		require.Empty(t, res.err, "request %d", i)
		winner := ""
		for _, action := range actions {
			switch res.codes[action] {
			case http.StatusOK:
				require.Empty(t, winner, "request %s: two winners, %s and %s: %v", res.reqID, winner, action, res.codes)
				winner = action
			case http.StatusConflict:
				require.Equal(t, string(errs.AlreadyHandled), res.errCodes[action], "request %s, %s", res.reqID, action)
			default:
				require.Failf(t, "unexpected answer", "request %s, %s: %d %s (all: %v)", res.reqID, action,
					res.codes[action], res.errCodes[action], res.codes)
			}
		}
		require.NotEmpty(t, winner, "request %s: nobody won: %v", res.reqID, res.codes)
		wins[winner]++

		// The database agrees with the winner and holds exactly one decision.
		r := e.storedRequest(t, acct, res.reqID)
		require.Equal(t, winnerStatus[winner], r.Status, "request %s", res.reqID)
		var decisions int
		var decisionType string
		require.NoError(t, e.pool.QueryRow(context.Background(),
			`SELECT count(*), max(type) FROM approval_events WHERE dedupe_key = $1`, res.reqID+":decision").Scan(&decisions, &decisionType))
		require.Equal(t, 1, decisions, "request %s", res.reqID)
		require.Equal(t, map[string]string{"approve": storage.EventApproved, "reject": storage.EventRejected, "cancel": storage.EventCancelled}[winner], decisionType)
		var decisionEvents int
		require.NoError(t, e.pool.QueryRow(context.Background(), `SELECT count(*) FROM approval_events WHERE request_id = $1
			AND type IN ('approved', 'rejected', 'cancelled', 'timed_out', 'auto_approved')`, res.reqID).Scan(&decisionEvents))
		require.Equal(t, 1, decisionEvents, "request %s", res.reqID)
		c := e.storedCampaign(t, acct, res.campID)
		require.Equal(t, winnerStatus[winner], c.ApprovalStatus, "campaign of request %s", res.reqID)
		if winner == "approve" {
			require.Equal(t, storage.CampaignStatusScheduled, c.Status)
		} else {
			require.Equal(t, storage.CampaignStatusDraft, c.Status)
		}
	}
	t.Logf("winners: %v", wins)
	require.Zero(t, countPending(t, e), "no request is left pending")
}

func countPending(t *testing.T, e *env) int {
	t.Helper()
	var n int
	require.NoError(t, e.pool.QueryRow(context.Background(), `SELECT count(*) FROM approval_requests WHERE status = 'pending'`).Scan(&n))
	return n
}

// TestApprovalTimeouts lets real durable timers fire (R-APPR-6).
func TestApprovalTimeouts(t *testing.T) {
	t.Parallel()
	e := newApprovalEnv(t, 3*time.Second)
	acct := e.A.Account.ID
	collab, collabTok := e.A.Users[storage.RoleCollaborator], e.A.Tokens[storage.RoleCollaborator]
	approverID := e.A.Users[storage.RoleApprover].ID

	t.Run("journey starting now times out after the immediate window", func(t *testing.T) {
		t.Parallel()
		camp := e.campaignAs(t, collab, "Journey now", storage.CampaignKindJourney, storage.CampaignModeActive, nil, in(time.Hour))
		submitted := time.Now()
		r := e.submit(t, camp.ID, collabTok, approverID)
		answered := time.Now()
		require.Nil(t, r.LaunchAt)
		// The handler read the clock between submitted and answered; Postgres keeps microseconds.
		lo, hi := submitted.Add(3*time.Second-time.Microsecond), answered.Add(3*time.Second+time.Microsecond)
		require.Truef(t, !r.DeadlineAt.Before(lo) && !r.DeadlineAt.After(hi), "deadline %s, want the window after the submission: %s to %s",
			r.DeadlineAt, lo, hi)
		r = e.waitStatus(t, acct, r.ID, storage.RequestStatusTimedOut, 12*time.Second)
		t.Logf("timed out %s after submission", time.Since(submitted).Round(100*time.Millisecond))
		require.GreaterOrEqual(t, time.Since(submitted), 2*time.Second, "not before the deadline")
		require.Nil(t, r.DecidedBy)
		c := e.storedCampaign(t, acct, camp.ID)
		require.Equal(t, storage.RequestStatusTimedOut, c.ApprovalStatus)
		require.Contains(t, ribbonText(e.viewCampaign(t, camp.ID, collabTok)), "timed out")
		events := e.history(t, "/v1/approval-requests/"+r.ID+"/history", collabTok)
		require.Equal(t, []string{storage.EventSubmitted, storage.EventTimedOut}, eventTypes(events))
		require.Nil(t, events[1].Actor, "a timeout is the system's action")
		require.Len(t, e.notificationsFor(t, collabTok, r.ID, "approval_timed_out"), 1, "the submitter is told")
		require.Equal(t, 0, launchCount(t, e, camp.ID))
		status, body := e.act(t, r.ID, "approve", e.A.Tokens[storage.RoleApprover], "")
		requireError(t, status, body, http.StatusConflict, string(errs.AlreadyHandled))
		// The campaign is editable again.
		status, body = e.do(t, http.MethodPatch, "/v1/campaigns/"+camp.ID, collabTok, map[string]any{"name": "Journey again"})
		require.Equal(t, http.StatusOK, status, body)
	})

	t.Run("campaign pending at start_at skips the launch, then times out at end_at", func(t *testing.T) {
		t.Parallel()
		// start_at is far enough ahead to still be ahead when the submission is handled, and end_at far
		// enough after it to read the request between the two.
		camp := e.campaignAs(t, collab, "Short window", storage.CampaignKindCampaign, storage.CampaignModeActive,
			in(launchMargin/2), in(launchMargin))
		r := e.submit(t, camp.ID, collabTok, approverID)
		e.waitEvent(t, r.ID, storage.EventLaunchSkipped, time.Until(*camp.StartAt)+15*time.Second)
		pending := e.storedRequest(t, acct, r.ID).Status
		readAt := time.Now()
		require.Truef(t, readAt.Before(*camp.EndAt), "the request was read %s after its deadline: this machine needs more "+
			"than %s between start_at and end_at", readAt.Sub(*camp.EndAt), launchMargin/2)
		require.Equal(t, storage.RequestStatusPending, pending, "a request pending at start_at stays pending")
		require.Equal(t, storage.CampaignStatusDraft, e.storedCampaign(t, acct, camp.ID).Status, "and does not launch")
		timedOut := e.waitStatus(t, acct, r.ID, storage.RequestStatusTimedOut, time.Until(*camp.EndAt)+15*time.Second)
		require.NotNil(t, timedOut.DecidedAt)
		require.Falsef(t, timedOut.DecidedAt.Before(*camp.EndAt), "timed out at %s, before its deadline %s", timedOut.DecidedAt, camp.EndAt)
		events := e.history(t, "/v1/campaigns/"+camp.ID+"/approval-history", collabTok)
		require.Equal(t, []string{storage.EventSubmitted, storage.EventLaunchSkipped, storage.EventTimedOut}, eventTypes(events))
		require.Equal(t, 0, launchCount(t, e, camp.ID))
		c := e.storedCampaign(t, acct, camp.ID)
		require.Equal(t, storage.RequestStatusTimedOut, c.ApprovalStatus)
		require.NotEqual(t, storage.CampaignStatusLive, c.Status)
		require.Len(t, e.notificationsFor(t, collabTok, r.ID, "approval_timed_out"), 1)
	})
}

// TestApprovalRevocation checks R-APPR-7 with the default policy (expire): losing the approval right
// by role change, can_approve off or deactivation expires the request when no approver is left.
func TestApprovalRevocation(t *testing.T) {
	t.Parallel()
	e := newApprovalEnv(t, 2*time.Hour)
	acct := e.A.Account.ID
	adminTok := e.A.Tokens[storage.RoleAdmin]
	collab, collabTok := e.A.Users[storage.RoleCollaborator], e.A.Tokens[storage.RoleCollaborator]

	for _, tc := range []struct {
		name       string
		role       string
		canApprove bool
		patch      map[string]any
		// afterStatus is what the ex-approver's approve answers: 403 while they can sign in, 401 once deactivated.
		afterStatus int
	}{
		{"role change to collaborator", storage.RoleApprover, false, map[string]any{"role": "collaborator"}, http.StatusForbidden},
		{"editor loses can_approve", storage.RoleEditor, true, map[string]any{"can_approve": false}, http.StatusForbidden},
		{"editor demoted to csm", storage.RoleEditor, true, map[string]any{"role": "csm"}, http.StatusForbidden},
		{"deactivation", storage.RoleApprover, false, map[string]any{"active": false}, http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			slug := strings.ReplaceAll(tc.name, " ", "-")
			ex, exTok := e.userWith(t, acct, slug+"@a.test", tc.role, tc.canApprove)
			camp := e.laterCampaign(t, collab, "Revoked "+tc.name)
			r := e.submit(t, camp.ID, collabTok, ex.ID)
			require.Equal(t, []string{r.ID}, e.inboxIDs(t, exTok))

			revokedAt := time.Now()
			status, body := e.do(t, http.MethodPatch, "/v1/users/"+ex.ID, adminTok, tc.patch)
			require.Equal(t, http.StatusOK, status, body)
			r = e.waitStatus(t, acct, r.ID, storage.RequestStatusExpired, 10*time.Second)
			t.Logf("expired %s after the revocation", time.Since(revokedAt).Round(10*time.Millisecond))
			require.True(t, hasApprover(r, ex.ID, storage.ApproverStateExpired), "approvers: %v", r.Approvers)
			require.Equal(t, storage.RequestStatusExpired, e.storedCampaign(t, acct, camp.ID).ApprovalStatus)
			require.Contains(t, ribbonText(e.viewCampaign(t, camp.ID, collabTok)), "expired")
			// History: the lost assignment (actor: the ex-approver), then the request's expiry (the system).
			events := e.history(t, "/v1/approval-requests/"+r.ID+"/history", collabTok)
			require.Equal(t, []string{storage.EventSubmitted, storage.EventApproverExpired, storage.EventApproverExpired}, eventTypes(events))
			require.NotNil(t, events[1].Actor)
			require.Equal(t, ex.ID, events[1].Actor.ID)
			require.Nil(t, events[2].Actor)
			require.Nil(t, r.DecidedBy)
			require.Len(t, e.notificationsFor(t, collabTok, r.ID, "approval_expired"), 1, "the submitter is told")

			// The ex-approver can no longer act.
			status, body = e.act(t, r.ID, "approve", exTok, "")
			requireError(t, status, body, tc.afterStatus, map[int]string{http.StatusForbidden: string(errs.Forbidden), http.StatusUnauthorized: string(errs.Unauthorized)}[tc.afterStatus])
			// The campaign is editable again.
			status, body = e.do(t, http.MethodPatch, "/v1/campaigns/"+camp.ID, collabTok, map[string]any{"name": "Editable again " + tc.name})
			require.Equal(t, http.StatusOK, status, body)
		})
	}

	t.Run("another approver is left: the request stays pending", func(t *testing.T) {
		t.Parallel()
		ex, exTok := e.userWith(t, acct, "leaving@a.test", storage.RoleApprover, false)
		stays, staysTok := e.userWith(t, acct, "staying@a.test", storage.RoleApprover, false)
		camp := e.laterCampaign(t, collab, "Two approvers")
		r := e.submit(t, camp.ID, collabTok, ex.ID, stays.ID)
		status, body := e.do(t, http.MethodPatch, "/v1/users/"+ex.ID, adminTok, map[string]any{"role": "collaborator"})
		require.Equal(t, http.StatusOK, status, body)
		e.waitEvent(t, r.ID, storage.EventApproverExpired, 10*time.Second)
		r = e.storedRequest(t, acct, r.ID)
		require.Equal(t, storage.RequestStatusPending, r.Status)
		require.True(t, hasApprover(r, ex.ID, storage.ApproverStateExpired))
		require.True(t, hasApprover(r, stays.ID, storage.ApproverStateAssigned))
		require.Empty(t, e.inboxIDs(t, exTok))
		status, body = e.act(t, r.ID, "approve", exTok, "")
		requireError(t, status, body, http.StatusForbidden, string(errs.Forbidden))
		status, body = e.act(t, r.ID, "approve", staysTok, "")
		require.Equal(t, http.StatusOK, status, body)
		require.Equal(t, storage.RequestStatusApproved, body["status"])
	})
}

// TestApprovalRevocationHold checks on_no_approvers=hold: the request waits for new approvers.
func TestApprovalRevocationHold(t *testing.T) {
	t.Parallel()
	e := newApprovalEnv(t, 2*time.Hour)
	acct := e.A.Account.ID
	adminTok := e.A.Tokens[storage.RoleAdmin]
	collab, collabTok := e.A.Users[storage.RoleCollaborator], e.A.Tokens[storage.RoleCollaborator]
	status, body := e.do(t, http.MethodPatch, "/v1/account/settings", adminTok, map[string]any{"on_no_approvers": "hold"})
	require.Equal(t, http.StatusOK, status, body)
	require.Equal(t, "hold", body["on_no_approvers"])

	ex, exTok := e.userWith(t, acct, "held@a.test", storage.RoleApprover, false)
	camp := e.laterCampaign(t, collab, "Held")
	r := e.submit(t, camp.ID, collabTok, ex.ID)
	status, body = e.do(t, http.MethodPatch, "/v1/users/"+ex.ID, adminTok, map[string]any{"role": "collaborator"})
	require.Equal(t, http.StatusOK, status, body)
	e.waitEvent(t, r.ID, storage.EventApproverExpired, 10*time.Second)

	r = e.storedRequest(t, acct, r.ID)
	require.Equal(t, storage.RequestStatusPending, r.Status, "hold: the request stays pending")
	require.True(t, hasApprover(r, ex.ID, storage.ApproverStateExpired))
	require.Equal(t, storage.RequestStatusPending, e.storedCampaign(t, acct, camp.ID).ApprovalStatus)
	types := eventTypes(e.history(t, "/v1/campaigns/"+camp.ID+"/approval-history", collabTok))
	require.Equal(t, []string{storage.EventSubmitted, storage.EventApproverExpired}, types)
	status, body = e.act(t, r.ID, "approve", exTok, "")
	requireError(t, status, body, http.StatusForbidden, string(errs.Forbidden))
	status, body = e.do(t, http.MethodPatch, "/v1/campaigns/"+camp.ID, collabTok, map[string]any{"name": "Still locked"})
	requireError(t, status, body, http.StatusConflict, string(errs.ApprovalPending))

	// The submitter assigns a new approver, who approves.
	newApprover, newTok := e.userWith(t, acct, "new-approver@a.test", storage.RoleApprover, false)
	var changed storage.ApprovalRequest
	e.doJSON(t, http.StatusOK, http.MethodPut, "/v1/approval-requests/"+r.ID+"/approvers", collabTok,
		map[string]any{"approver_ids": []string{newApprover.ID}, "note": "replacing the old approver"}, &changed)
	require.Equal(t, storage.RequestStatusPending, changed.Status)
	require.True(t, hasApprover(changed, newApprover.ID, storage.ApproverStateAssigned))
	require.Equal(t, []string{r.ID}, e.inboxIDs(t, newTok))
	status, body = e.act(t, r.ID, "approve", newTok, "")
	require.Equal(t, http.StatusOK, status, body)
	require.Equal(t, storage.RequestStatusApproved, body["status"])
	require.Equal(t, []string{storage.EventSubmitted, storage.EventApproverExpired, storage.EventApproversChanged, storage.EventApproved},
		eventTypes(e.history(t, "/v1/approval-requests/"+r.ID+"/history", collabTok)))
}

// TestApprovalDisabledAutoApproves checks R-APPR-1: turning approvals off approves every pending
// request as the system's action.
func TestApprovalDisabledAutoApproves(t *testing.T) {
	t.Parallel()
	e := newApprovalEnv(t, 2*time.Hour)
	acct := e.A.Account.ID
	adminTok := e.A.Tokens[storage.RoleAdmin]
	approverID := e.A.Users[storage.RoleApprover].ID
	type sub struct {
		tok  string
		camp storage.Campaign
		req  storage.ApprovalRequest
	}
	var subs []sub
	for _, role := range []string{storage.RoleCollaborator, storage.RoleEditor} {
		c := e.laterCampaign(t, e.A.Users[role], "Auto "+role)
		subs = append(subs, sub{tok: e.A.Tokens[role], camp: c, req: e.submit(t, c.ID, e.A.Tokens[role], approverID)})
	}
	// A request of the other account is not touched.
	bCamp := e.laterCampaign(t, e.B.Users[storage.RoleCollaborator], "B stays")
	bReq := e.submit(t, bCamp.ID, e.B.Tokens[storage.RoleCollaborator], e.B.Users[storage.RoleApprover].ID)

	status, body := e.do(t, http.MethodPatch, "/v1/account/settings", adminTok, map[string]any{"approval_enabled": false})
	require.Equal(t, http.StatusOK, status, body)
	require.Equal(t, false, body["approval_enabled"])
	for _, s := range subs {
		r := e.waitStatus(t, acct, s.req.ID, storage.RequestStatusApproved, 10*time.Second)
		require.Nil(t, r.DecidedBy, "the system decided")
		events := e.history(t, "/v1/approval-requests/"+s.req.ID+"/history", s.tok)
		require.Equal(t, []string{storage.EventSubmitted, storage.EventAutoApproved}, eventTypes(events))
		require.Nil(t, events[1].Actor, "auto_approved is the system's action")
		c := e.storedCampaign(t, acct, s.camp.ID)
		require.Equal(t, storage.RequestStatusApproved, c.ApprovalStatus)
		require.Equal(t, storage.CampaignStatusScheduled, c.Status)
		require.Len(t, e.notificationsFor(t, s.tok, s.req.ID, "approval_approved"), 1)
	}
	require.Equal(t, storage.RequestStatusPending, e.storedRequest(t, e.B.Account.ID, bReq.ID).Status)
	require.Equal(t, 1, countPending(t, e))

	// With approvals off nothing is submitted, and active campaigns launch directly.
	c := e.laterCampaign(t, e.A.Users[storage.RoleCollaborator], "Direct")
	before := dbState(t, e.pool)
	status, body = e.do(t, http.MethodPost, "/v1/campaigns/"+c.ID+"/approval-requests", e.A.Tokens[storage.RoleCollaborator], submitBody("x", approverID))
	requireError(t, status, body, http.StatusConflict, string(errs.ApprovalDisabled))
	requireNoWrites(t, e.pool, before)
	status, body = e.do(t, http.MethodPost, "/v1/campaigns/"+c.ID+"/launch", adminTok, nil)
	require.Equal(t, http.StatusCreated, status, body)
	require.Equal(t, 1, launchCount(t, e, c.ID))
}

// TestLaunchGating checks POST /v1/campaigns/{id}/launch (R-APPR-2, R-APPR-8).
func TestLaunchGating(t *testing.T) {
	t.Parallel()
	e := newApprovalEnv(t, 2*time.Hour)
	A := e.A
	acct := A.Account.ID
	collab, collabTok := A.Users[storage.RoleCollaborator], A.Tokens[storage.RoleCollaborator]
	approver, approverTok := A.Users[storage.RoleApprover], A.Tokens[storage.RoleApprover]
	adminTok := A.Tokens[storage.RoleAdmin]
	launch := func(t *testing.T, campID, token string) (int, map[string]any) {
		t.Helper()
		return e.do(t, http.MethodPost, "/v1/campaigns/"+campID+"/launch", token, nil)
	}
	refused := func(t *testing.T, campID, token string, status int, code string) {
		t.Helper()
		before := dbState(t, e.pool)
		got, body := launch(t, campID, token)
		requireError(t, got, body, status, code)
		requireNoWrites(t, e.pool, before)
	}
	launchID := func(t *testing.T, body map[string]any) string {
		t.Helper()
		l, ok := body["launch"].(map[string]any)
		require.True(t, ok, "answer: %v", body)
		return l["id"].(string)
	}

	t.Run("unapproved active campaign", func(t *testing.T) {
		c := e.laterCampaign(t, collab, "Unapproved")
		refused(t, c.ID, adminTok, http.StatusConflict, string(errs.ApprovalRequired))
		refused(t, c.ID, collabTok, http.StatusForbidden, string(errs.Forbidden))
		for _, role := range []string{storage.RoleEditor, storage.RoleCSM, storage.RoleApprover} {
			refused(t, c.ID, A.Tokens[role], http.StatusForbidden, string(errs.Forbidden))
		}
	})
	t.Run("test mode needs no approval and is idempotent", func(t *testing.T) {
		c := e.campaignAs(t, collab, "Test mode", storage.CampaignKindCampaign, storage.CampaignModeTest, nil, nil)
		status, body := launch(t, c.ID, adminTok)
		require.Equal(t, http.StatusCreated, status, body)
		first := launchID(t, body)
		status, body = launch(t, c.ID, adminTok)
		require.Equal(t, http.StatusOK, status, body)
		require.Equal(t, first, launchID(t, body))
		require.Equal(t, 1, launchCount(t, e, c.ID))
		require.Equal(t, storage.CampaignStatusLive, e.storedCampaign(t, acct, c.ID).Status)
		ls := e.listItems(t, "/v1/campaigns/"+c.ID+"/launches", collabTok)
		require.Len(t, ls, 1)
		require.Equal(t, first, ls[0]["id"])
		require.Equal(t, "api", ls[0]["source"])
	})
	t.Run("passive mode needs no approval", func(t *testing.T) {
		c := e.campaignAs(t, collab, "Passive", storage.CampaignKindCampaign, storage.CampaignModePassive, nil, nil)
		status, body := launch(t, c.ID, adminTok)
		require.Equal(t, http.StatusCreated, status, body)
		refused(t, c.ID, collabTok, http.StatusForbidden, string(errs.Forbidden))
	})
	t.Run("a user with the approval right launches their own campaign", func(t *testing.T) {
		c := e.laterCampaign(t, approver, "Approver's own")
		status, body := launch(t, c.ID, approverTok)
		require.Equal(t, http.StatusCreated, status, body)
		require.Equal(t, 1, launchCount(t, e, c.ID))
		require.Equal(t, storage.CampaignStatusLive, e.storedCampaign(t, acct, c.ID).Status)
		// But not somebody else's.
		other := e.laterCampaign(t, A.Users[storage.RoleAdmin], "Admin's")
		refused(t, other.ID, approverTok, http.StatusForbidden, string(errs.Forbidden))
	})
	t.Run("approved campaign", func(t *testing.T) {
		c := e.laterCampaign(t, collab, "Approved")
		r := e.submit(t, c.ID, collabTok, approver.ID)
		status, body := e.act(t, r.ID, "approve", approverTok, "")
		require.Equal(t, http.StatusOK, status, body)
		status, body = launch(t, c.ID, adminTok)
		require.Equal(t, http.StatusCreated, status, body)
		l := body["launch"].(map[string]any)
		require.Equal(t, r.ID, l["request_id"])
		status, body = launch(t, c.ID, adminTok)
		require.Equal(t, http.StatusOK, status, body)
		require.Equal(t, l["id"], launchID(t, body))
		require.Equal(t, 1, launchCount(t, e, c.ID))
		require.Equal(t, storage.CampaignStatusLive, e.storedCampaign(t, acct, c.ID).Status)
		require.Equal(t, []string{storage.EventSubmitted, storage.EventApproved, storage.EventLaunched},
			eventTypes(e.history(t, "/v1/approval-requests/"+r.ID+"/history", collabTok)))
	})
	t.Run("approval pending", func(t *testing.T) {
		c := e.laterCampaign(t, collab, "Pending")
		e.submit(t, c.ID, collabTok, approver.ID)
		refused(t, c.ID, adminTok, http.StatusConflict, string(errs.ApprovalRequired))
		own := e.laterCampaign(t, approver, "Own, pending")
		e.submit(t, own.ID, approverTok, A.Users[storage.RoleAdmin].ID)
		refused(t, own.ID, approverTok, http.StatusConflict, string(errs.ApprovalRequired))
	})
	// R-CAMP-4 with R-APPR-8: an edit of a live journey makes a new version that needs its own
	// approval before it launches, also through the scheduler's endpoint.
	liveJourneyV2 := func(t *testing.T, name string) storage.Campaign {
		t.Helper()
		j := e.campaignAs(t, collab, name, storage.CampaignKindJourney, storage.CampaignModeActive, nil, in(24*time.Hour))
		r := e.submit(t, j.ID, collabTok, approver.ID)
		require.Nil(t, r.LaunchAt, "a journey starting now launches on approval")
		status, body := e.act(t, r.ID, "approve", approverTok, "")
		require.Equal(t, http.StatusOK, status, body)
		eventually(t, 15*time.Second, func() bool { return e.storedCampaign(t, acct, j.ID).Status == storage.CampaignStatusLive },
			func() string { return "journey not live: " + e.storedCampaign(t, acct, j.ID).Status })
		require.Equal(t, 1, launchCount(t, e, j.ID))
		e.waitEvent(t, r.ID, storage.EventLaunched, 5*time.Second)

		var v campaignView
		e.doJSON(t, http.StatusOK, http.MethodPatch, "/v1/campaigns/"+j.ID, collabTok, map[string]any{"content": otherContent()}, &v)
		require.Equal(t, 2, v.Version)
		require.Equal(t, "none", v.ApprovalStatus)
		require.Equal(t, storage.CampaignStatusLive, v.Status, "keep_live: the old version stays live")
		return v.Campaign
	}
	t.Run("unapproved new version of a live journey", func(t *testing.T) {
		j := liveJourneyV2(t, "Live journey, v2 unapproved")
		refused(t, j.ID, adminTok, http.StatusConflict, string(errs.ApprovalRequired))
		require.Equal(t, 1, launchCount(t, e, j.ID), "version 2 must not launch without approval")
	})
	t.Run("approved new version of a live journey", func(t *testing.T) {
		j := liveJourneyV2(t, "Live journey, v2 approved")
		r2 := e.submit(t, j.ID, collabTok, approver.ID)
		status, body := e.act(t, r2.ID, "approve", approverTok, "")
		require.Equal(t, http.StatusOK, status, body)
		require.Equal(t, storage.CampaignStatusLive, e.storedCampaign(t, acct, j.ID).Status)
		eventually(t, 15*time.Second, func() bool { return launchCount(t, e, j.ID) == 2 },
			func() string { return "version 2 not launched" })
		var version int
		var reqID *string
		require.NoError(t, e.pool.QueryRow(context.Background(), `SELECT version, request_id FROM campaign_launches
			WHERE campaign_id = $1 ORDER BY launched_at DESC LIMIT 1`, j.ID).Scan(&version, &reqID))
		require.Equal(t, 2, version)
		require.NotNil(t, reqID)
		require.Equal(t, r2.ID, *reqID)
		e.waitEvent(t, r2.ID, storage.EventLaunched, 5*time.Second)
	})
	t.Run("rejected campaign", func(t *testing.T) {
		c := e.laterCampaign(t, collab, "Rejected")
		r := e.submit(t, c.ID, collabTok, approver.ID)
		status, body := e.act(t, r.ID, "reject", approverTok, "not yet")
		require.Equal(t, http.StatusOK, status, body)
		refused(t, c.ID, adminTok, http.StatusConflict, string(errs.ApprovalRequired))
	})
}

// TestApprovalSelfApproval checks R-APPR-2 and the allow_self_approval setting.
func TestApprovalSelfApproval(t *testing.T) {
	t.Parallel()
	e := newApprovalEnv(t, 2*time.Hour)
	acct := e.A.Account.ID
	approver, approverTok := e.A.Users[storage.RoleApprover], e.A.Tokens[storage.RoleApprover]

	// Allowed by default.
	c1 := e.laterCampaign(t, approver, "Self, allowed")
	r1 := e.submit(t, c1.ID, approverTok, approver.ID)
	status, body := e.act(t, r1.ID, "approve", approverTok, "")
	require.Equal(t, http.StatusOK, status, body)
	require.Equal(t, storage.RequestStatusApproved, body["status"])

	// A request listing its submitter, then the setting turned off.
	c2 := e.laterCampaign(t, approver, "Self, then forbidden")
	r2 := e.submit(t, c2.ID, approverTok, approver.ID)
	status, body = e.do(t, http.MethodPatch, "/v1/account/settings", e.A.Tokens[storage.RoleAdmin], map[string]any{"allow_self_approval": false})
	require.Equal(t, http.StatusOK, status, body)
	require.Equal(t, false, body["allow_self_approval"])

	c3 := e.laterCampaign(t, approver, "Self, refused")
	before := dbState(t, e.pool)
	status, body = e.act(t, r2.ID, "approve", approverTok, "")
	requireError(t, status, body, http.StatusForbidden, string(errs.Forbidden))
	status, body = e.do(t, http.MethodPost, "/v1/campaigns/"+c3.ID+"/approval-requests", approverTok, submitBody("x", approver.ID))
	requireInvalid(t, status, body, "approver_ids[0]")
	status, body = e.do(t, http.MethodPost, "/v1/campaigns/"+c3.ID+"/approval-requests", approverTok,
		submitBody("x", e.A.Users[storage.RoleAdmin].ID, approver.ID))
	requireInvalid(t, status, body, "approver_ids[1]")
	requireNoWrites(t, e.pool, before)
	require.Equal(t, storage.RequestStatusPending, e.storedRequest(t, acct, r2.ID).Status)

	// Someone else may approve it; a direct launch of the submitter's own campaign is a self-approval
	// too, so it needs someone else's approval (TestSelfLaunchNeedsOtherApprovalWhenSelfApprovalOff).
	r3 := e.submit(t, c3.ID, approverTok, e.A.Users[storage.RoleAdmin].ID)
	status, body = e.act(t, r3.ID, "approve", e.A.Tokens[storage.RoleAdmin], "")
	require.Equal(t, http.StatusOK, status, body)
	direct := e.laterCampaign(t, approver, "Direct launch")
	status, body = e.do(t, http.MethodPost, "/v1/campaigns/"+direct.ID+"/launch", approverTok, nil)
	requireError(t, status, body, http.StatusConflict, string(errs.ApprovalRequired))
}

// TestApprovalChangeApprovers checks PUT /v1/approval-requests/{id}/approvers (R-APPR-4).
func TestApprovalChangeApprovers(t *testing.T) {
	t.Parallel()
	e := newApprovalEnv(t, 2*time.Hour)
	acct := e.A.Account.ID
	collabTok := e.A.Tokens[storage.RoleCollaborator]
	oldApprover, oldTok := e.A.Users[storage.RoleApprover], e.A.Tokens[storage.RoleApprover]
	newApprover, newTok := e.userWith(t, acct, "approver-new@a.test", storage.RoleApprover, false)
	camp := e.laterCampaign(t, e.A.Users[storage.RoleCollaborator], "Reassigned")
	r := e.submit(t, camp.ID, collabTok, oldApprover.ID)
	path := "/v1/approval-requests/" + r.ID + "/approvers"

	before := dbState(t, e.pool)
	for _, role := range []string{storage.RoleAdmin, storage.RoleEditor, storage.RoleCSM, storage.RoleApprover} {
		status, body := e.do(t, http.MethodPut, path, e.A.Tokens[role], map[string]any{"approver_ids": []string{newApprover.ID}})
		requireError(t, status, body, http.StatusForbidden, string(errs.Forbidden))
	}
	status, body := e.do(t, http.MethodPut, path, collabTok, map[string]any{"approver_ids": []string{}})
	requireInvalid(t, status, body, "approver_ids")
	status, body = e.do(t, http.MethodPut, path, collabTok, map[string]any{"approver_ids": []string{e.A.Users[storage.RoleCSM].ID}})
	requireInvalid(t, status, body, "approver_ids[0]")
	requireNoWrites(t, e.pool, before)

	var changed storage.ApprovalRequest
	e.doJSON(t, http.StatusOK, http.MethodPut, path, collabTok, map[string]any{"approver_ids": []string{newApprover.ID}, "note": "out of office"}, &changed)
	require.Equal(t, storage.RequestStatusPending, changed.Status)
	require.True(t, hasApprover(changed, newApprover.ID, storage.ApproverStateAssigned))
	require.True(t, hasApprover(changed, oldApprover.ID, storage.ApproverStateRemoved))
	require.Equal(t, []string{r.ID}, e.inboxIDs(t, newTok))
	require.Empty(t, e.inboxIDs(t, oldTok))
	require.Len(t, e.notificationsFor(t, newTok, r.ID, "approval_requested"), 1, "the new approver is told")
	require.Contains(t, ribbonText(e.viewCampaign(t, camp.ID, newTok)), "pending for you")
	require.NotContains(t, ribbonText(e.viewCampaign(t, camp.ID, oldTok)), "for you")

	before = dbState(t, e.pool)
	status, body = e.act(t, r.ID, "approve", oldTok, "")
	requireError(t, status, body, http.StatusForbidden, string(errs.Forbidden))
	status, body = e.act(t, r.ID, "reject", oldTok, "no")
	requireError(t, status, body, http.StatusForbidden, string(errs.Forbidden))
	requireNoWrites(t, e.pool, before)

	status, body = e.act(t, r.ID, "approve", newTok, "")
	require.Equal(t, http.StatusOK, status, body)
	events := e.history(t, "/v1/approval-requests/"+r.ID+"/history", collabTok)
	require.Equal(t, []string{storage.EventSubmitted, storage.EventApproversChanged, storage.EventApproved}, eventTypes(events))
	require.Equal(t, e.A.Users[storage.RoleCollaborator].ID, events[1].Actor.ID)
	require.Equal(t, "out of office", events[1].Note)
	require.Equal(t, newApprover.ID, events[2].Actor.ID)

	// A decided request's approvers cannot change.
	status, body = e.do(t, http.MethodPut, path, collabTok, map[string]any{"approver_ids": []string{oldApprover.ID}})
	requireError(t, status, body, http.StatusConflict, string(errs.AlreadyHandled))
}

// TestApprovalRejectRibbonAndNotification checks a rejection: the note is required, the ribbon
// shows it and the submitter is told (R-APPR-4, R-APPR-9, R-CAMP-1).
func TestApprovalRejectRibbonAndNotification(t *testing.T) {
	t.Parallel()
	e := newApprovalEnv(t, 2*time.Hour)
	acct := e.A.Account.ID
	collabTok, approverTok := e.A.Tokens[storage.RoleCollaborator], e.A.Tokens[storage.RoleApprover]
	camp := e.laterCampaign(t, e.A.Users[storage.RoleCollaborator], "To be rejected")
	r := e.submit(t, camp.ID, collabTok, e.A.Users[storage.RoleApprover].ID)

	before := dbState(t, e.pool)
	status, body := e.act(t, r.ID, "reject", approverTok, "")
	requireInvalid(t, status, body, "note")
	status, body = e.act(t, r.ID, "reject", e.A.Tokens[storage.RoleCSM], "no right")
	requireError(t, status, body, http.StatusForbidden, string(errs.Forbidden))
	status, body = e.act(t, r.ID, "approve", e.A.Tokens[storage.RoleEditor], "")
	requireError(t, status, body, http.StatusForbidden, string(errs.Forbidden))
	// (Any colleague may cancel, R-APPR-4: TestCancelByColleague.)
	// An admin holds the approval right but is not assigned to this request.
	status, body = e.act(t, r.ID, "approve", e.A.Tokens[storage.RoleAdmin], "")
	requireError(t, status, body, http.StatusForbidden, string(errs.Forbidden))
	requireNoWrites(t, e.pool, before)

	status, body = e.act(t, r.ID, "reject", approverTok, "Subject line is misleading")
	require.Equal(t, http.StatusOK, status, body)
	require.Equal(t, storage.RequestStatusRejected, body["status"])
	require.Equal(t, "Subject line is misleading", body["decision_note"])
	require.Equal(t, storage.RequestStatusRejected, e.storedCampaign(t, acct, camp.ID).ApprovalStatus)
	rb := ribbonText(e.viewCampaign(t, camp.ID, collabTok))
	require.Contains(t, rb, "rejected")
	require.Contains(t, rb, "Subject line is misleading")
	ns := e.notificationsFor(t, collabTok, r.ID, "approval_rejected")
	require.Len(t, ns, 1)
	require.Contains(t, ns[0]["body"], "Subject line is misleading")
	status, body = e.act(t, r.ID, "cancel", collabTok, "")
	requireError(t, status, body, http.StatusConflict, string(errs.AlreadyHandled))
	status, body = e.act(t, r.ID, "reject", approverTok, "again")
	requireError(t, status, body, http.StatusConflict, string(errs.AlreadyHandled))
	require.Equal(t, 1, eventCount(t, e, r.ID, storage.EventRejected))

	// CSV cells that a spreadsheet would read as a formula are defused.
	camp2 := e.laterCampaign(t, e.A.Users[storage.RoleCollaborator], "Formula")
	r2 := e.submit(t, camp2.ID, collabTok, e.A.Users[storage.RoleApprover].ID)
	status, body = e.act(t, r2.ID, "reject", approverTok, `=HYPERLINK("http://evil.example")`)
	require.Equal(t, http.StatusOK, status, body)
	rec := e.request(t, http.MethodGet, "/v1/approval-requests/"+r2.ID+"/history?format=csv", collabTok, nil)
	require.Equal(t, http.StatusOK, rec.Code)
	rows, err := csv.NewReader(strings.NewReader(rec.Body.String())).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 3)
	require.Equal(t, storage.EventRejected, rows[2][0])
	require.Equal(t, `'=HYPERLINK("http://evil.example")`, rows[2][3])

	// A rejected campaign is editable and may be submitted again.
	status, body = e.do(t, http.MethodPatch, "/v1/campaigns/"+camp.ID, collabTok, map[string]any{"name": "Fixed subject"})
	require.Equal(t, http.StatusOK, status, body)
	e.submit(t, camp.ID, collabTok, e.A.Users[storage.RoleApprover].ID)
}

// TestApprovalSweep checks the sweeper starts the workflow of a request whose start was lost.
func TestApprovalSweep(t *testing.T) {
	t.Parallel()
	e := newApprovalEnv(t, 2*time.Hour)
	ctx := context.Background()
	acct := e.A.Account.ID
	camp := e.laterCampaign(t, e.A.Users[storage.RoleCollaborator], "Swept")
	r, err := e.store.CreateApprovalRequest(ctx, storage.NewApprovalRequest{ID: uuid.NewString(), AccountID: acct,
		CampaignID: camp.ID, SubmittedBy: e.A.Users[storage.RoleCollaborator].ID, ApproverIDs: []string{e.A.Users[storage.RoleApprover].ID},
		DeadlineAt: *camp.EndAt, LaunchAt: camp.StartAt})
	require.NoError(t, err)
	approverTok := e.A.Tokens[storage.RoleApprover]

	// Before the sweep there is no workflow: the API asks to retry.
	before := dbState(t, e.pool)
	rec := e.request(t, http.MethodPost, "/v1/approval-requests/"+r.ID+"/approve", approverTok, nil)
	require.Equal(t, http.StatusServiceUnavailable, rec.Code, rec.Body.String())
	require.Equal(t, string(errs.RetryLater), errorCode(rec.Body.Bytes()))
	require.NotEmpty(t, rec.Header().Get("Retry-After"))
	requireNoWrites(t, e.pool, before)

	n, err := workers.Sweep(ctx, e.server.App.Temporal, e.store, e.server.App.TaskQueue, 0)
	require.NoError(t, err)
	require.GreaterOrEqual(t, n, 1)
	desc, err := e.server.App.Temporal.DescribeWorkflowExecution(ctx, workflows.ApprovalRequestWorkflowID(r.ID), "")
	require.NoError(t, err)
	require.Equal(t, e.server.App.TaskQueue, desc.GetExecutionConfig().GetTaskQueue().GetName())
	var started *time.Time
	require.NoError(t, e.pool.QueryRow(ctx, `SELECT workflow_started_at FROM approval_requests WHERE id = $1`, r.ID).Scan(&started))
	require.NotNil(t, started)

	n, err = workers.Sweep(ctx, e.server.App.Temporal, e.store, e.server.App.TaskQueue, 0)
	require.NoError(t, err)
	require.Zero(t, n, "a second sweep starts nothing")

	status, body := e.act(t, r.ID, "approve", approverTok, "")
	require.Equal(t, http.StatusOK, status, body)
	require.Equal(t, storage.RequestStatusApproved, body["status"])
	require.Equal(t, storage.CampaignStatusScheduled, e.storedCampaign(t, acct, camp.ID).Status)
}

// TestApprovalTenantIsolation checks R-AUTH-2 on every approval route: another account's ids answer 404.
func TestApprovalTenantIsolation(t *testing.T) {
	t.Parallel()
	e := newApprovalEnv(t, 2*time.Hour)
	camp := e.laterCampaign(t, e.A.Users[storage.RoleCollaborator], "A's")
	r := e.submit(t, camp.ID, e.A.Tokens[storage.RoleCollaborator], e.A.Users[storage.RoleApprover].ID)
	approved := e.laterCampaign(t, e.A.Users[storage.RoleCollaborator], "A's approved")
	ra := e.submit(t, approved.ID, e.A.Tokens[storage.RoleCollaborator], e.A.Users[storage.RoleApprover].ID)
	status, body := e.act(t, ra.ID, "approve", e.A.Tokens[storage.RoleApprover], "")
	require.Equal(t, http.StatusOK, status, body)

	routes := func(reqID, campID string) []struct {
		method, path string
		body         any
	} {
		return []struct {
			method, path string
			body         any
		}{
			{http.MethodGet, "/v1/approval-requests/" + reqID, nil},
			{http.MethodPost, "/v1/approval-requests/" + reqID + "/approve", map[string]any{"note": "x"}},
			{http.MethodPost, "/v1/approval-requests/" + reqID + "/reject", map[string]any{"note": "x"}},
			{http.MethodPost, "/v1/approval-requests/" + reqID + "/cancel", nil},
			{http.MethodPut, "/v1/approval-requests/" + reqID + "/approvers", map[string]any{"approver_ids": []string{e.B.Users[storage.RoleApprover].ID}}},
			{http.MethodGet, "/v1/approval-requests/" + reqID + "/history", nil},
			{http.MethodGet, "/v1/approval-requests/" + reqID + "/history?format=csv", nil},
			{http.MethodGet, "/v1/campaigns/" + campID + "/approval-history", nil},
			{http.MethodPost, "/v1/campaigns/" + campID + "/approval-requests", map[string]any{"approver_ids": []string{e.B.Users[storage.RoleApprover].ID}}},
			{http.MethodPost, "/v1/campaigns/" + campID + "/resubmit", map[string]any{"approver_ids": []string{e.B.Users[storage.RoleApprover].ID}}},
			{http.MethodPost, "/v1/campaigns/" + campID + "/launch", nil},
			{http.MethodGet, "/v1/campaigns/" + campID + "/launches", nil},
		}
	}
	before := dbState(t, e.pool)
	for _, ids := range [][2]string{{r.ID, camp.ID}, {ra.ID, approved.ID}, {uuid.NewString(), uuid.NewString()}, {"nope", "nope"}} {
		for _, rt := range routes(ids[0], ids[1]) {
			for _, role := range roles {
				status, body := e.do(t, rt.method, rt.path, e.B.Tokens[role], rt.body)
				require.Equalf(t, http.StatusNotFound, status, "B %s: %s %s: %v", role, rt.method, rt.path, body)
				requireError(t, status, body, http.StatusNotFound, string(errs.NotFound))
			}
		}
	}
	requireNoWrites(t, e.pool, before)
	for _, role := range roles {
		require.Empty(t, e.inboxIDs(t, e.B.Tokens[role]))
		require.Empty(t, e.listItems(t, "/v1/notifications", e.B.Tokens[role]))
	}
	require.Empty(t, e.listItems(t, "/v1/dev/outbox", e.B.Tokens[storage.RoleAdmin]))
	require.Equal(t, storage.RequestStatusPending, e.storedRequest(t, e.A.Account.ID, r.ID).Status)
}

// TestApprovalInboxOrder checks R-APPR-11: the inbox lists the caller's pending requests, the
// nearest deadline first, and drops decided ones.
func TestApprovalInboxOrder(t *testing.T) {
	t.Parallel()
	e := newApprovalEnv(t, 2*time.Hour)
	collab, collabTok := e.A.Users[storage.RoleCollaborator], e.A.Tokens[storage.RoleCollaborator]
	approverID, approverTok := e.A.Users[storage.RoleApprover].ID, e.A.Tokens[storage.RoleApprover]
	var ids []string
	for _, end := range []time.Duration{5 * time.Hour, 3 * time.Hour, 4 * time.Hour} {
		c := e.campaignAs(t, collab, "Ends in "+end.String(), storage.CampaignKindCampaign, storage.CampaignModeActive, in(time.Hour), in(end))
		ids = append(ids, e.submit(t, c.ID, collabTok, approverID).ID)
	}
	// Somebody else's request is not in this approver's inbox.
	other, _ := e.userWith(t, e.A.Account.ID, "other-approver@a.test", storage.RoleApprover, false)
	c := e.laterCampaign(t, collab, "Other approver's")
	e.submit(t, c.ID, collabTok, other.ID)

	require.Equal(t, []string{ids[1], ids[2], ids[0]}, e.inboxIDs(t, approverTok))
	status, body := e.act(t, ids[2], "cancel", collabTok, "")
	require.Equal(t, http.StatusOK, status, body)
	require.Equal(t, []string{ids[1], ids[0]}, e.inboxIDs(t, approverTok))
	status, body = e.act(t, ids[1], "approve", approverTok, "")
	require.Equal(t, http.StatusOK, status, body)
	require.Equal(t, []string{ids[0]}, e.inboxIDs(t, approverTok))
}

// TestApprovalInboxPages checks R-APPR-11's paging (issue 17): without limit or cursor the inbox is
// whole (next_cursor null); with ?limit= pages walk the same order, each next_cursor leading to the
// next page and null on the last; a bad limit or cursor answers 422 with the field.
func TestApprovalInboxPages(t *testing.T) {
	t.Parallel()
	e := newApprovalEnv(t, 2*time.Hour)
	collab, collabTok := e.A.Users[storage.RoleCollaborator], e.A.Tokens[storage.RoleCollaborator]
	approverID, approverTok := e.A.Users[storage.RoleApprover].ID, e.A.Tokens[storage.RoleApprover]
	for _, end := range []time.Duration{5 * time.Hour, 3 * time.Hour, 4 * time.Hour, 6 * time.Hour, 7 * time.Hour} {
		c := e.campaignAs(t, collab, "Pages "+end.String(), storage.CampaignKindCampaign, storage.CampaignModeActive, in(time.Hour), in(end))
		e.submit(t, c.ID, collabTok, approverID)
	}
	type page struct {
		Items      []map[string]any `json:"items"`
		NextCursor *string          `json:"next_cursor"`
	}
	// Each request's audience count (R-POL-3) writes its row shortly after the submission: let the
	// counts land so that the pages and the whole inbox read the same rows.
	settleAudienceCounts(t, e.pool)
	var whole page
	e.doJSON(t, http.StatusOK, http.MethodGet, "/v1/approvals/inbox", approverTok, nil, &whole)
	require.Len(t, whole.Items, 5)
	require.Nil(t, whole.NextCursor, "the whole inbox has no next page")
	for _, limit := range []int{1, 2, 5, 100} {
		var walked []map[string]any
		p := fmt.Sprintf("/v1/approvals/inbox?limit=%d", limit)
		for calls := 0; ; calls++ {
			require.Less(t, calls, 6, "the walk ends")
			var pg page
			e.doJSON(t, http.StatusOK, http.MethodGet, p, approverTok, nil, &pg)
			require.LessOrEqual(t, len(pg.Items), limit)
			walked = append(walked, pg.Items...)
			if pg.NextCursor == nil {
				break
			}
			require.Len(t, pg.Items, limit, "only the last page is short")
			p = fmt.Sprintf("/v1/approvals/inbox?limit=%d&cursor=%s", limit, url.QueryEscape(*pg.NextCursor))
		}
		require.Equal(t, whole.Items, walked, "pages of %d are the whole inbox, in order", limit)
	}
	// A cursor alone pages by 20.
	var first, rest page
	e.doJSON(t, http.StatusOK, http.MethodGet, "/v1/approvals/inbox?limit=2", approverTok, nil, &first)
	e.doJSON(t, http.StatusOK, http.MethodGet, "/v1/approvals/inbox?cursor="+url.QueryEscape(*first.NextCursor), approverTok, nil, &rest)
	require.Equal(t, whole.Items[2:], rest.Items)
	require.Nil(t, rest.NextCursor)
	for _, q := range []string{"limit=0", "limit=-1", "limit=101", "limit=abc", "limit=1.5"} {
		status, body := e.do(t, http.MethodGet, "/v1/approvals/inbox?"+q, approverTok, nil)
		requireInvalid(t, status, body, "limit")
	}
	for _, cur := range []string{"x", "bm90LWEtY3Vyc29y", url.QueryEscape(base64.RawURLEncoding.EncodeToString([]byte("2026-01-01T00:00:00Z|not-a-uuid")))} {
		status, body := e.do(t, http.MethodGet, "/v1/approvals/inbox?limit=2&cursor="+cur, approverTok, nil)
		requireInvalid(t, status, body, "cursor")
	}
}
