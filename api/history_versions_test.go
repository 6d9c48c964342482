package api_test

import (
	"context"
	"encoding/csv"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/signoff/signoff/storage"
	"github.com/signoff/signoff/testenv"
)

// TestHistoryVersionsAndApprovers checks R-VER-8 on the real servers: every history event carries the
// version its request pinned; submitted and approvers_changed carry the approvers of that moment, names
// and emails included, which a later rename or change of approvers does not touch; the CSV has the
// version and approvers columns, defused like every other cell.
func TestHistoryVersionsAndApprovers(t *testing.T) {
	t.Parallel()
	e := newApprovalEnv(t, 2*time.Hour)
	ctx := context.Background()
	acct := e.A.Account.ID
	collab, collabTok := e.A.Users[storage.RoleCollaborator], e.A.Tokens[storage.RoleCollaborator]
	adminTok := e.A.Tokens[storage.RoleAdmin]
	ana, _ := namedApprover(t, e, acct, "ana@a.test", "Ana Alvarez")
	bo, _ := namedApprover(t, e, acct, "bo@a.test", "=Bo Formula")
	cy, cyTok := namedApprover(t, e, acct, "cy@a.test", "Cy Chen")
	actor := func(u storage.User) storage.Actor { return storage.Actor{ID: u.ID, Name: u.Name, Email: u.Email} }

	// Request 1: submitted to Ana and Bo, then changed to Bo and Cy, then cancelled.
	camp := e.laterCampaign(t, collab, "Versioned history")
	r1 := e.submit(t, camp.ID, collabTok, bo.ID, ana.ID)
	status, body := e.do(t, http.MethodPut, "/v1/approval-requests/"+r1.ID+"/approvers", collabTok,
		map[string]any{"approver_ids": []string{cy.ID, bo.ID}, "note": "Ana is away"})
	require.Equal(t, http.StatusOK, status, body)
	status, body = e.act(t, r1.ID, "cancel", collabTok, "")
	require.Equal(t, http.StatusOK, status, body)
	// Request 2 of the same campaign: submitted to Cy, approved by Cy.
	r2 := e.submit(t, camp.ID, collabTok, cy.ID)
	status, body = e.act(t, r2.ID, "approve", cyTok, "")
	require.Equal(t, http.StatusOK, status, body)

	path := "/v1/campaigns/" + camp.ID + "/approval-history"
	events := e.history(t, path, collabTok)
	require.Equal(t, []string{storage.EventSubmitted, storage.EventApproversChanged, storage.EventCancelled,
		storage.EventSubmitted, storage.EventApproved}, eventTypes(events))
	pinned := map[string]int{
		r1.ID: e.storedRequest(t, acct, r1.ID).CampaignVersion,
		r2.ID: e.storedRequest(t, acct, r2.ID).CampaignVersion,
	}
	for i, ev := range events {
		require.NotNil(t, ev.Version, "event %d (%s) has a version", i, ev.Type)
		require.Equal(t, pinned[ev.RequestID], *ev.Version, "event %d (%s): the version its request pinned", i, ev.Type)
	}
	// Approvers: those of the moment, ordered by email; only on submitted and approvers_changed.
	wantApprovers := [][]storage.Actor{{actor(ana), actor(bo)}, {actor(bo), actor(cy)}, nil, {actor(cy)}, nil}
	for i, ev := range events {
		require.Equal(t, wantApprovers[i], ev.Approvers, "event %d (%s): approvers", i, ev.Type)
	}
	// The JSON names both keys on every event: null where there is nothing to say.
	for i, raw := range e.listItems(t, path, collabTok) {
		require.Contains(t, raw, "version")
		require.Contains(t, raw, "approvers")
		if wantApprovers[i] == nil {
			require.Nil(t, raw["approvers"], "event %d: approvers is null", i)
		}
	}
	require.Equal(t, events[:3], e.history(t, "/v1/approval-requests/"+r1.ID+"/history", collabTok),
		"the request's history is the campaign's, restricted to it")

	// CSV: the old columns, then version and approvers ("Name <email>; …", defused as a whole cell).
	rec := e.request(t, http.MethodGet, path+"?format=csv", adminTok, nil)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	rows, err := csv.NewReader(strings.NewReader(rec.Body.String())).ReadAll()
	require.NoError(t, err)
	require.Equal(t, []string{"type", "actor", "actor_email", "note", "at", "request_id", "version", "approvers"}, rows[0])
	require.Len(t, rows, len(events)+1)
	wantCells := []string{
		"Ana Alvarez <ana@a.test>; =Bo Formula <bo@a.test>",
		"'=Bo Formula <bo@a.test>; Cy Chen <cy@a.test>", // a cell starting with "=" is defused
		"",
		"Cy Chen <cy@a.test>",
		"",
	}
	for i, ev := range events {
		row := rows[i+1]
		require.Len(t, row, 8)
		require.Equal(t, ev.Type, row[0])
		require.Equal(t, ev.RequestID, row[5])
		require.Equal(t, strconv.Itoa(*ev.Version), row[6], "row %d: version", i+1)
		require.Equal(t, wantCells[i], row[7], "row %d: approvers", i+1)
	}

	// A later rename of an approver (there is no rename in the API: PATCH /v1/users changes role,
	// can_approve and active only) and a change of email leave the history as it was.
	_, err = e.pool.Exec(ctx, `UPDATE users SET name = 'Ana Renamed', email = 'ana.new@a.test' WHERE id = $1`, ana.ID)
	require.NoError(t, err)
	_, err = e.pool.Exec(ctx, `UPDATE users SET name = 'Bo Renamed' WHERE id = $1`, bo.ID)
	require.NoError(t, err)
	require.Equal(t, events, e.history(t, path, collabTok), "the history keeps the names and emails of the moment")
	after := e.request(t, http.MethodGet, path+"?format=csv", adminTok, nil)
	require.Equal(t, rec.Body.String(), after.Body.String(), "the CSV too")
	// The request itself shows the approvers as they are now: the history is what differs.
	require.True(t, hasApproverNamed(e.storedRequest(t, acct, r1.ID), ana.ID, "Ana Renamed"))
}

// namedApprover creates an approver of accountID with email and name, and answers it with its token.
func namedApprover(t *testing.T, e *env, accountID, email, name string) (storage.User, string) {
	t.Helper()
	return testenv.NewUser(t, e.store, accountID, storage.NewUser{Email: email, Name: name, Role: storage.RoleApprover})
}

// hasApproverNamed reports whether r lists userID under name.
func hasApproverNamed(r storage.ApprovalRequest, userID, name string) bool {
	for _, a := range r.Approvers {
		if a.UserID == userID && a.Name == name {
			return true
		}
	}
	return false
}
