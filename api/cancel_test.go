package api_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/signoff/signoff/errs"
	"github.com/signoff/signoff/storage"
)

// TestCancelByColleague: any user of the account cancels a pending request (R-APPR-4 as amended; seed
// 001: another collaborator cancels and resubmits to another approver). The history names who
// cancelled; the submitter and the approvers are told, in the app and by email; the colleague edits
// and submits to a different approver. Changing the approvers stays the submitter's.
func TestCancelByColleague(t *testing.T) {
	t.Parallel()
	e := newApprovalEnv(t, 2*time.Hour)
	acct := e.A.Account.ID
	admin := e.A.Tokens[storage.RoleAdmin]
	sub, subTok := e.A.Users[storage.RoleCollaborator], e.A.Tokens[storage.RoleCollaborator]
	first, firstTok := e.A.Users[storage.RoleApprover], e.A.Tokens[storage.RoleApprover]
	second, secondTok := e.userWith(t, acct, "second-approver@a.test", storage.RoleApprover, false)
	// The colleague who takes over: an editor, who may edit any campaign of the account.
	mate, mateTok := e.userWith(t, acct, "mate@a.test", storage.RoleEditor, false)

	camp := e.laterCampaign(t, sub, "Taken over")
	r := e.submit(t, camp.ID, subTok, first.ID)

	// Changing the approvers stays the submitter's.
	before := dbState(t, e.pool)
	status, body := e.do(t, http.MethodPut, "/v1/approval-requests/"+r.ID+"/approvers", mateTok, map[string]any{"approver_ids": []string{second.ID}})
	requireError(t, status, body, http.StatusForbidden, string(errs.Forbidden))
	// Another account's user does not find the request.
	status, body = e.act(t, r.ID, "cancel", e.B.Tokens[storage.RoleAdmin], "")
	requireError(t, status, body, http.StatusNotFound, string(errs.NotFound))
	requireNoWrites(t, e.pool, before)

	status, body = e.act(t, r.ID, "cancel", mateTok, "the submitter is away; the launch is close")
	require.Equal(t, http.StatusOK, status, body)
	require.Equal(t, storage.RequestStatusCancelled, body["status"])
	require.Equal(t, mate.ID, body["decided_by"])
	require.Equal(t, storage.RequestStatusCancelled, e.storedCampaign(t, acct, camp.ID).ApprovalStatus)

	// The history names who cancelled.
	events := e.history(t, "/v1/approval-requests/"+r.ID+"/history", subTok)
	require.Equal(t, []string{storage.EventSubmitted, storage.EventCancelled}, eventTypes(events))
	require.NotNil(t, events[1].Actor)
	require.Equal(t, mate.ID, events[1].Actor.ID)
	require.Equal(t, mate.Name, events[1].Actor.Name)
	require.Equal(t, "the submitter is away; the launch is close", events[1].Note)

	// The submitter and the first approver are told who cancelled, in the app and by email; the
	// colleague is not told of their own cancel.
	for _, tok := range []string{subTok, firstTok} {
		ns := e.notificationsFor(t, tok, r.ID, "approval_cancelled")
		require.Len(t, ns, 1)
		require.Equal(t, "Approval cancelled: Taken over", ns[0]["title"])
		require.Contains(t, ns[0]["body"], mate.Name+` cancelled the approval request for "Taken over"`)
	}
	require.Empty(t, e.notificationsFor(t, mateTok, r.ID, "approval_cancelled"))
	mails := map[string]string{}
	for _, m := range e.listItems(t, "/v1/dev/outbox", admin) {
		if m["request_id"] == r.ID && strings.HasPrefix(m["subject"].(string), "Approval cancelled") {
			mails[m["to"].(string)] = m["body"].(string)
		}
	}
	require.Len(t, mails, 2, "outbox: %v", mails)
	for _, to := range []string{sub.Email, first.Email} {
		require.Contains(t, mails[to], mate.Name+" cancelled the approval request", "email to %s", to)
	}

	// The colleague edits and submits to a different approver.
	status, body = e.do(t, http.MethodPatch, "/v1/campaigns/"+camp.ID, mateTok, map[string]any{"name": "Taken over v2"})
	require.Equal(t, http.StatusOK, status, body)
	r2 := e.submit(t, camp.ID, mateTok, second.ID)
	require.Equal(t, mate.ID, r2.SubmittedBy)
	require.Equal(t, []string{r2.ID}, e.inboxIDs(t, secondTok))
	require.Empty(t, e.inboxIDs(t, firstTok))
	status, body = e.act(t, r2.ID, "approve", secondTok, "")
	require.Equal(t, http.StatusOK, status, body)
	require.Equal(t, []string{storage.EventSubmitted, storage.EventCancelled, storage.EventSubmitted, storage.EventApproved},
		eventTypes(e.history(t, "/v1/campaigns/"+camp.ID+"/approval-history", subTok)))

	t.Run("a colleague who may not edit the campaign still cancels", func(t *testing.T) {
		other, otherTok := e.userWith(t, acct, "other-collab@a.test", storage.RoleCollaborator, false)
		camp := e.laterCampaign(t, sub, "Cancelled by a collaborator")
		r := e.submit(t, camp.ID, subTok, first.ID)
		status, body := e.act(t, r.ID, "cancel", otherTok, "")
		require.Equal(t, http.StatusOK, status, body)
		require.Equal(t, other.ID, body["decided_by"])
		require.Len(t, e.notificationsFor(t, subTok, r.ID, "approval_cancelled"), 1)
		require.Len(t, e.notificationsFor(t, firstTok, r.ID, "approval_cancelled"), 1)
		// Editing stays with the campaign's editors (SPEC §3).
		status, body = e.do(t, http.MethodPatch, "/v1/campaigns/"+camp.ID, otherTok, map[string]any{"name": "Mine now"})
		requireError(t, status, body, http.StatusForbidden, string(errs.Forbidden))
		// A second cancel is already handled.
		status, body = e.act(t, r.ID, "cancel", e.A.Tokens[storage.RoleCSM], "")
		requireError(t, status, body, http.StatusConflict, string(errs.AlreadyHandled))
	})
}
