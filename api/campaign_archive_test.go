package api_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/signoff/signoff/errs"
	"github.com/signoff/signoff/storage"
)

// Deleting a campaign never erases its audit trail (R-APPR-10).

// archiveCounts counts the rows of a campaign's approval history: requests, their approvers, events and
// launch records.
func archiveCounts(t *testing.T, e *env, campID string) [4]int {
	t.Helper()
	var n [4]int
	require.NoError(t, e.pool.QueryRow(context.Background(), `SELECT
		(SELECT count(*) FROM approval_requests WHERE campaign_id = $1),
		(SELECT count(*) FROM approval_request_approvers a JOIN approval_requests r ON r.id = a.request_id WHERE r.campaign_id = $1),
		(SELECT count(*) FROM approval_events WHERE campaign_id = $1),
		(SELECT count(*) FROM campaign_launches WHERE campaign_id = $1)`, campID).Scan(&n[0], &n[1], &n[2], &n[3]))
	return n
}

// listedIDs lists the ids of every campaign GET /v1/campaigns answers to token, all pages.
func listedIDs(t *testing.T, e *env, token string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	path := "/v1/campaigns?limit=100"
	for {
		var page struct {
			Items      []map[string]any `json:"items"`
			NextCursor *string          `json:"next_cursor"`
		}
		e.doJSON(t, http.StatusOK, http.MethodGet, path, token, nil, &page)
		for _, it := range page.Items {
			out[it["id"].(string)] = true
		}
		if page.NextCursor == nil {
			return out
		}
		path = "/v1/campaigns?limit=100&cursor=" + *page.NextCursor
	}
}

// TestDeleteCampaignWithRequestArchives: a campaign that ever had an approval request is archived, not
// deleted. DELETE answers 204; the campaign leaves the list but GET by id still answers it with
// archived_at; its history, requests and launches stay readable and every history row is kept; edits,
// submissions, resubmissions and launches answer 409 campaign_archived and write nothing; a second
// DELETE changes nothing; and the database refuses to delete the row outright.
func TestDeleteCampaignWithRequestArchives(t *testing.T) {
	t.Parallel()
	e := newApprovalEnv(t, 2*time.Hour)
	A := e.A
	acct := A.Account.ID
	collab, collabTok := A.Users[storage.RoleCollaborator], A.Tokens[storage.RoleCollaborator]
	approver, approverTok := A.Users[storage.RoleApprover], A.Tokens[storage.RoleApprover]
	adminTok := A.Tokens[storage.RoleAdmin]
	ctx := context.Background()

	camp := e.laterCampaign(t, collab, "Rejected, then deleted")
	r := e.submit(t, camp.ID, collabTok, approver.ID)
	status, body := e.act(t, r.ID, "reject", approverTok, "not this quarter")
	require.Equal(t, http.StatusOK, status, body)
	require.Equal(t, storage.RequestStatusRejected, body["status"])
	historyBefore := e.history(t, "/v1/campaigns/"+camp.ID+"/approval-history", collabTok)
	require.Equal(t, []string{storage.EventSubmitted, storage.EventRejected}, eventTypes(historyBefore))
	countsBefore := archiveCounts(t, e, camp.ID)
	require.Equal(t, [4]int{1, 1, 2, 0}, countsBefore)
	require.True(t, listedIDs(t, e, collabTok)[camp.ID])

	rec := e.request(t, http.MethodDelete, "/v1/campaigns/"+camp.ID, collabTok, nil)
	require.Equal(t, http.StatusNoContent, rec.Code, rec.Body.String())
	require.Empty(t, rec.Body.String())

	// Still readable by id, with archived_at; gone from the list (every role's view).
	var v struct {
		ID         string                   `json:"id"`
		ArchivedAt *time.Time               `json:"archived_at"`
		Content    *storage.CampaignContent `json:"content"`
	}
	e.doJSON(t, http.StatusOK, http.MethodGet, "/v1/campaigns/"+camp.ID, collabTok, nil, &v)
	require.Equal(t, camp.ID, v.ID)
	require.NotNil(t, v.ArchivedAt, "an archived campaign shows archived_at")
	require.WithinDuration(t, time.Now(), *v.ArchivedAt, time.Minute)
	require.NotNil(t, v.Content)
	require.Len(t, v.Content.Sequences, 1, "its content is kept")
	for _, role := range roles {
		require.False(t, listedIDs(t, e, A.Tokens[role])[camp.ID], "%s still lists the archived campaign", role)
	}

	// Its history is intact and readable.
	require.Equal(t, countsBefore, archiveCounts(t, e, camp.ID), "no history row may be lost")
	require.Equal(t, historyBefore, e.history(t, "/v1/campaigns/"+camp.ID+"/approval-history", collabTok))
	require.Equal(t, historyBefore, e.history(t, "/v1/approval-requests/"+r.ID+"/history", collabTok))
	csv := e.request(t, http.MethodGet, "/v1/campaigns/"+camp.ID+"/approval-history?format=csv", collabTok, nil)
	require.Equal(t, http.StatusOK, csv.Code, csv.Body.String())
	require.Contains(t, csv.Body.String(), "not this quarter")
	var got storage.ApprovalRequest
	e.doJSON(t, http.StatusOK, http.MethodGet, "/v1/approval-requests/"+r.ID, collabTok, nil, &got)
	require.Equal(t, storage.RequestStatusRejected, got.Status)
	require.Empty(t, e.listItems(t, "/v1/campaigns/"+camp.ID+"/launches", adminTok))

	// Closed to every change: edit, submit, resubmit, launch, a new approval draft. A second DELETE
	// changes nothing.
	search := e.newSavedSearch(t, A, "Archive draft source")
	before := dbState(t, e.pool)
	for _, c := range []struct {
		method, path, token string
		body                any
	}{
		{http.MethodPatch, "/v1/campaigns/" + camp.ID, collabTok, map[string]any{"name": "Renamed"}},
		{http.MethodPatch, "/v1/campaigns/" + camp.ID, adminTok, map[string]any{"status": "ready"}},
		{http.MethodPost, "/v1/campaigns/" + camp.ID + "/approval-requests", collabTok, submitBody("again", approver.ID)},
		{http.MethodPost, "/v1/campaigns/" + camp.ID + "/resubmit", collabTok, map[string]any{"approver_ids": []string{approver.ID}, "note": "again"}},
		{http.MethodPost, "/v1/campaigns/" + camp.ID + "/launch", adminTok, nil},
		{http.MethodPost, "/v1/campaigns/" + camp.ID + "/approval-drafts", A.Tokens[storage.RoleCSM],
			map[string]any{"source": map[string]any{"type": "saved_search", "saved_search_id": search.ID}}},
	} {
		status, body := e.do(t, c.method, c.path, c.token, c.body)
		requireError(t, status, body, http.StatusConflict, string(errs.CampaignArchived))
	}
	rec = e.request(t, http.MethodDelete, "/v1/campaigns/"+camp.ID, adminTok, nil)
	require.Equal(t, http.StatusNoContent, rec.Code, rec.Body.String())
	requireNoWrites(t, e.pool, before)

	// The store's own guards, below the API's: an edit, a launch, and a submission that read the
	// campaign before the archive committed (the database trigger) are all refused.
	renamed := "Renamed"
	_, _, err := e.store.UpdateCampaign(ctx, acct, camp.ID, storage.CampaignPatch{Name: &renamed})
	require.ErrorIs(t, err, storage.ErrCampaignArchived)
	adminID := A.Users[storage.RoleAdmin].ID
	_, _, err = e.store.LaunchCampaign(ctx, storage.LaunchInput{AccountID: acct, CampaignID: camp.ID, ActorID: &adminID, Source: "api"})
	require.ErrorIs(t, err, storage.ErrCampaignArchived)
	_, err = e.store.CreateApprovalRequest(ctx, storage.NewApprovalRequest{ID: uuid.NewString(), AccountID: acct, CampaignID: camp.ID,
		SubmittedBy: collab.ID, ApproverIDs: []string{approver.ID}, DeadlineAt: *in(2 * time.Hour), LaunchAt: in(time.Hour)})
	require.Error(t, err)
	require.True(t, storage.IsCampaignArchived(err), "want the archived refusal, got %v", err)
	requireNoWrites(t, e.pool, before)

	// The foreign keys restrict: the row cannot be deleted behind the API's back either.
	_, err = e.pool.Exec(ctx, `DELETE FROM campaigns WHERE id = $1`, camp.ID)
	var pgErr *pgconn.PgError
	require.True(t, errors.As(err, &pgErr), "want a foreign key violation, got %v", err)
	require.Equal(t, "23503", pgErr.Code, "want a foreign key violation, got %v", err)
	_, err = e.pool.Exec(ctx, `DELETE FROM approval_requests WHERE id = $1`, r.ID)
	require.True(t, errors.As(err, &pgErr), "want a foreign key violation, got %v", err)
	require.Equal(t, "23503", pgErr.Code)
	requireNoWrites(t, e.pool, before)

	t.Run("a launched campaign without a request is archived too", func(t *testing.T) {
		c := e.campaignAs(t, collab, "Test send", storage.CampaignKindCampaign, storage.CampaignModeTest, in(time.Hour), in(2*time.Hour))
		status, body := e.do(t, http.MethodPost, "/v1/campaigns/"+c.ID+"/launch", adminTok, nil)
		require.Equal(t, http.StatusCreated, status, body)
		e.fx.SetCampaignStatus(t, c.ID, "ended")

		rec := e.request(t, http.MethodDelete, "/v1/campaigns/"+c.ID, collabTok, nil)
		require.Equal(t, http.StatusNoContent, rec.Code, rec.Body.String())
		require.NotNil(t, e.viewCampaign(t, c.ID, collabTok).ArchivedAt)
		require.Equal(t, 1, launchCount(t, e, c.ID))
		require.Len(t, e.listItems(t, "/v1/campaigns/"+c.ID+"/launches", adminTok), 1)
		require.False(t, listedIDs(t, e, collabTok)[c.ID])
	})

	t.Run("a pending request still blocks the delete", func(t *testing.T) {
		c := e.laterCampaign(t, collab, "Pending")
		e.submit(t, c.ID, collabTok, approver.ID)
		before := dbState(t, e.pool)
		status, body := e.do(t, http.MethodDelete, "/v1/campaigns/"+c.ID, collabTok, nil)
		requireError(t, status, body, http.StatusConflict, string(errs.ApprovalPending))
		requireNoWrites(t, e.pool, before)
		require.Nil(t, e.viewCampaign(t, c.ID, collabTok).ArchivedAt)
	})
}

// TestDeleteCampaignWithoutRequestDeletes: a campaign that never had a request nor a launch is still
// deleted outright, content and all, and a second DELETE answers 404.
func TestDeleteCampaignWithoutRequestDeletes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	tok := e.A.Tokens[storage.RoleCollaborator]
	c := e.newCampaign(t, e.A, storage.RoleCollaborator, "Never submitted")
	require.True(t, listedIDs(t, e, tok)[c.ID])

	rec := e.request(t, http.MethodDelete, "/v1/campaigns/"+c.ID, tok, nil)
	require.Equal(t, http.StatusNoContent, rec.Code, rec.Body.String())

	status, body := e.do(t, http.MethodGet, "/v1/campaigns/"+c.ID, tok, nil)
	requireError(t, status, body, http.StatusNotFound, string(errs.NotFound))
	require.False(t, listedIDs(t, e, tok)[c.ID])
	var n int
	require.NoError(t, e.pool.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM campaigns WHERE id = $1) + (SELECT count(*) FROM campaign_segments WHERE campaign_id = $1) +
		(SELECT count(*) FROM campaign_prompts WHERE campaign_id = $1) + (SELECT count(*) FROM campaign_sequences WHERE campaign_id = $1)`,
		c.ID).Scan(&n))
	require.Zero(t, n, "the campaign and its content are gone, not archived")

	status, body = e.do(t, http.MethodDelete, "/v1/campaigns/"+c.ID, tok, nil)
	requireError(t, status, body, http.StatusNotFound, string(errs.NotFound))
}
