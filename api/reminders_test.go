package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/signoff/signoff/errs"
	"github.com/signoff/signoff/storage"
	"github.com/signoff/signoff/testenv"
)

// TestReminderSettings checks the settings of R-ACT-2: reminder_after (default 24h), escalate_after
// (default 0) and escalation_user_ids (default null: the account's admins) are read by everyone and
// changed by admins; durations are written back in one form; bad durations and escalation users who
// do not hold the approval right (or are not users of the account) are refused with 422 naming the
// field, and nothing changes.
func TestReminderSettings(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	acct := e.A.Account.ID
	admin := e.A.Tokens[storage.RoleAdmin]
	approver := e.A.Users[storage.RoleApprover]
	editorApprover, _ := e.userWith(t, acct, "editor-approver@a.test", storage.RoleEditor, true)

	status, body := e.do(t, http.MethodGet, "/v1/account/settings", e.A.Tokens[storage.RoleCollaborator], nil)
	require.Equal(t, http.StatusOK, status, "%v", body)
	require.Equal(t, "24h", body["reminder_after"])
	require.Equal(t, "0", body["escalate_after"])
	require.Nil(t, body["escalation_user_ids"])

	t.Run("valid changes", func(t *testing.T) {
		for _, c := range []struct {
			in, want string
		}{{"90m", "1h30m"}, {"1h30m", "1h30m"}, {"36h", "36h"}, {"45s", "45s"}, {"0", "0"}, {"0s", "0"}, {" 2h ", "2h"}, {"24h", "24h"}} {
			status, body := e.do(t, http.MethodPatch, "/v1/account/settings", admin, map[string]any{"reminder_after": c.in, "escalate_after": c.in})
			require.Equal(t, http.StatusOK, status, "%s: %v", c.in, body)
			require.Equal(t, c.want, body["reminder_after"], c.in)
			require.Equal(t, c.want, body["escalate_after"], c.in)
		}
		status, body := e.do(t, http.MethodPatch, "/v1/account/settings", admin,
			map[string]any{"escalation_user_ids": []string{approver.ID, strings.ToUpper(editorApprover.ID)}})
		require.Equal(t, http.StatusOK, status, "%v", body)
		require.Equal(t, []any{approver.ID, editorApprover.ID}, body["escalation_user_ids"], "ids in their canonical form")
		st, err := e.store.Settings(context.Background(), acct)
		require.NoError(t, err)
		require.Equal(t, 24*time.Hour, st.ReminderAfter)
		require.Equal(t, 24*time.Hour, st.EscalateAfter)
		require.Equal(t, []string{approver.ID, editorApprover.ID}, st.EscalationUserIDs)
		// Another field leaves them alone; an empty list is the default again.
		status, body = e.do(t, http.MethodPatch, "/v1/account/settings", admin, map[string]any{"allow_self_approval": true})
		require.Equal(t, http.StatusOK, status, "%v", body)
		require.Equal(t, []any{approver.ID, editorApprover.ID}, body["escalation_user_ids"])
		status, body = e.do(t, http.MethodPatch, "/v1/account/settings", admin, map[string]any{"escalation_user_ids": []string{}})
		require.Equal(t, http.StatusOK, status, "%v", body)
		require.Nil(t, body["escalation_user_ids"], "the default: the admins")
	})

	t.Run("bad input is 422 and changes nothing", func(t *testing.T) {
		collab := e.A.Users[storage.RoleCollaborator]
		plainEditor := e.A.Users[storage.RoleEditor]
		inactive, _ := e.userWith(t, acct, "gone@a.test", storage.RoleApprover, false)
		status, body := e.do(t, http.MethodPatch, "/v1/users/"+inactive.ID, admin, map[string]any{"active": false})
		require.Equal(t, http.StatusOK, status, "%v", body)
		before := dbState(t, e.pool)
		for _, c := range []struct {
			body    map[string]any
			field   string
			message string
		}{
			{map[string]any{"reminder_after": "1 day"}, "reminder_after", `is not a duration`},
			{map[string]any{"reminder_after": "24"}, "reminder_after", `is not a duration`},
			{map[string]any{"reminder_after": ""}, "reminder_after", `is not a duration`},
			{map[string]any{"reminder_after": "-1h"}, "reminder_after", "must not be negative"},
			{map[string]any{"reminder_after": "500ms"}, "reminder_after", "at least 1s"},
			{map[string]any{"reminder_after": "9000h"}, "reminder_after", "at most"},
			{map[string]any{"escalate_after": "soon"}, "escalate_after", `is not a duration`},
			// A valid field does not sneak through next to an invalid one.
			{map[string]any{"reminder_after": "2h", "on_no_approvers": "hold", "escalate_after": "x"}, "escalate_after", "is not a duration"},
			{map[string]any{"escalate_after": "2h", "escalation_user_ids": []string{approver.ID, collab.ID}}, "escalation_user_ids[1]", "does not have the approval right"},
			{map[string]any{"escalation_user_ids": []string{plainEditor.ID}}, "escalation_user_ids[0]", "does not have the approval right"},
			{map[string]any{"escalation_user_ids": []string{inactive.ID}}, "escalation_user_ids[0]", "does not have the approval right"},
			{map[string]any{"escalation_user_ids": []string{e.B.Users[storage.RoleAdmin].ID}}, "escalation_user_ids[0]", "no such user in this account"},
			{map[string]any{"escalation_user_ids": []string{testenv.NewUUID()}}, "escalation_user_ids[0]", "no such user in this account"},
			{map[string]any{"escalation_user_ids": []string{"nope"}}, "escalation_user_ids[0]", "is not a user id"},
			{map[string]any{"escalation_user_ids": []string{approver.ID, approver.ID}}, "escalation_user_ids[1]", "is listed twice"},
		} {
			status, body := e.do(t, http.MethodPatch, "/v1/account/settings", admin, c.body)
			got := requireInvalid(t, status, body, c.field)
			require.Contains(t, got["message"], c.message, "%v", c.body)
		}
		status, body = e.do(t, http.MethodPatch, "/v1/account/settings", admin, map[string]any{"reminder_after": 3600})
		requireInvalid(t, status, body, "reminder_after") // a number is not a duration string
		status, body = e.do(t, http.MethodPatch, "/v1/account/settings", e.A.Tokens[storage.RoleApprover], map[string]any{"reminder_after": "1h"})
		requireError(t, status, body, http.StatusForbidden, string(errs.Forbidden))
		requireNoWrites(t, e.pool, before)
	})
}

// TestRemindersTakenAtSubmission checks R-ACT-2 end to end, with the worker and real durable timers: a
// request keeps the reminder and escalation settings of its submission. Submitted with reminders every
// 2s and no escalation, it is reminded three times (not a fourth) although the account turns
// reminders off and escalation on right after; a request submitted after that change is escalated
// once to the escalation user and never reminded. Reminders reach the approvers still assigned, in the
// app and by email, never before their time; the escalation user, added as an approver, is told and
// can decide.
func TestRemindersTakenAtSubmission(t *testing.T) {
	t.Parallel()
	e := newApprovalEnv(t, 2*time.Hour)
	ctx := context.Background()
	acct := e.A.Account.ID
	admin := e.A.Tokens[storage.RoleAdmin]
	collab, collabTok := e.A.Users[storage.RoleCollaborator], e.A.Tokens[storage.RoleCollaborator]
	approver, approverTok := e.A.Users[storage.RoleApprover], e.A.Tokens[storage.RoleApprover]
	escalateTo, escalateTok := e.userWith(t, acct, "escalation@a.test", storage.RoleApprover, false)

	const every = 2 * time.Second
	status, body := e.do(t, http.MethodPatch, "/v1/account/settings", admin, map[string]any{"reminder_after": "2s", "escalate_after": "0"})
	require.Equal(t, http.StatusOK, status, "%v", body)
	reminded := e.submit(t, e.laterCampaign(t, collab, "Reminded").ID, collabTok, approver.ID)

	status, body = e.do(t, http.MethodPatch, "/v1/account/settings", admin,
		map[string]any{"reminder_after": "0", "escalate_after": "1s", "escalation_user_ids": []string{escalateTo.ID}})
	require.Equal(t, http.StatusOK, status, "%v", body)
	escalated := e.submit(t, e.laterCampaign(t, collab, "Escalated").ID, collabTok, approver.ID)

	// The first request: three reminders, at 2s, 4s and 6s after its submission at the earliest.
	e.waitEvent(t, escalated.ID, storage.EventEscalated, 20*time.Second)
	eventually(t, 30*time.Second, func() bool { return eventCount(t, e, reminded.ID, storage.EventReminded) == 3 },
		func() string {
			return "reminded events: " + strings.Join(eventTypes(e.history(t, "/v1/approval-requests/"+reminded.ID+"/history", collabTok)), ",")
		})
	time.Sleep(every + time.Second) // a fourth would come 2s after the third
	events := e.history(t, "/v1/approval-requests/"+reminded.ID+"/history", collabTok)
	require.Equal(t, []string{storage.EventSubmitted, storage.EventReminded, storage.EventReminded, storage.EventReminded}, eventTypes(events))
	for i, ev := range events[1:] {
		require.Nil(t, ev.Actor, "the system reminds")
		require.False(t, ev.At.Before(reminded.CreatedAt.Add(time.Duration(i+1)*every)), "reminder %d at %v, submitted at %v", i+1, ev.At, reminded.CreatedAt)
		require.Equal(t, "reminder "+string(rune('1'+i))+" of 3 to "+approver.Name, ev.Note)
	}
	notes := e.notificationsFor(t, approverTok, reminded.ID, "approval_reminder")
	require.Len(t, notes, 3)
	require.Equal(t, "Reminder: approval requested: Reminded", notes[0]["title"])
	require.Contains(t, notes[0]["body"], "Reminder 3 of 3: "+collab.Name+` asks you to approve "Reminded" before it launches.`)
	require.Contains(t, notes[2]["body"], "Reminder 1 of 3")
	require.Contains(t, notes[0]["body"], "the request times out at ")
	require.Equal(t, "/v1/approval-requests/"+reminded.ID, notes[0]["link"])
	var mails int
	require.NoError(t, e.pool.QueryRow(ctx, `SELECT count(*) FROM outbox_emails WHERE request_id = $1 AND to_email = $2
		AND subject = 'Reminder: approval requested: Reminded' AND html LIKE '<!DOCTYPE html>%'`, reminded.ID, approver.Email).Scan(&mails))
	require.Equal(t, 3, mails, "the reminders go by email too, text and HTML")
	require.Zero(t, eventCount(t, e, reminded.ID, storage.EventEscalated), "submitted with escalation off")
	require.Empty(t, e.notificationsFor(t, escalateTok, reminded.ID, ""))

	// The second request: escalated once, never reminded.
	require.Equal(t, 1, eventCount(t, e, escalated.ID, storage.EventEscalated))
	require.Zero(t, eventCount(t, e, escalated.ID, storage.EventReminded), "submitted with reminders off")
	events = e.history(t, "/v1/approval-requests/"+escalated.ID+"/history", collabTok)
	require.Equal(t, []string{storage.EventSubmitted, storage.EventEscalated}, eventTypes(events))
	require.Nil(t, events[1].Actor)
	require.Len(t, events[1].Approvers, 2, "the escalated event lists the approvers it left: %v", events[1].Approvers)
	require.False(t, events[1].At.Before(escalated.CreatedAt.Add(time.Second)))
	r := e.storedRequest(t, acct, escalated.ID)
	require.True(t, hasApprover(r, approver.ID, storage.ApproverStateAssigned), "escalation keeps the approvers: %v", r.Approvers)
	require.True(t, hasApprover(r, escalateTo.ID, storage.ApproverStateAssigned), "and adds the escalation user: %v", r.Approvers)
	asked := e.notificationsFor(t, escalateTok, escalated.ID, "approval_requested")
	require.Len(t, asked, 1)
	require.True(t, strings.HasPrefix(asked[0]["body"].(string), "Nobody decided within 1s, so this request was escalated to you."), "%v", asked[0]["body"])
	require.Equal(t, []string{escalated.ID}, e.inboxIDs(t, escalateTok))
	require.Len(t, e.notificationsFor(t, approverTok, escalated.ID, "approval_requested"), 1, "the approver is not asked again")
	status, body = e.act(t, escalated.ID, "approve", escalateTok, "escalated and approved")
	require.Equal(t, http.StatusOK, status, "%v", body)
	require.Equal(t, storage.RequestStatusApproved, body["status"])
	require.Len(t, e.notificationsFor(t, approverTok, escalated.ID, "approval_decided"), 1, "the first approver is told")
}

// TestRemindAndEscalateSteps checks the two database steps of R-ACT-2 with the store: a reminder
// reaches only the approvers still assigned who hold the approval right, is recorded once per number
// and not at all for a decided request; an escalation adds, once, the escalation users who hold the
// right now, and asks only them.
func TestRemindAndEscalateSteps(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	acct := e.A.Account.ID
	sub := e.A.Users[storage.RoleCollaborator]
	stays, _ := e.userWith(t, acct, "stays@a.test", storage.RoleApprover, false)
	removed, _ := e.userWith(t, acct, "removed@a.test", storage.RoleApprover, false)
	lost, _ := e.userWith(t, acct, "lost@a.test", storage.RoleApprover, false)
	camp := e.newCampaign(t, e.A, storage.RoleCollaborator, "Steps")
	r, err := e.store.CreateApprovalRequest(ctx, storage.NewApprovalRequest{ID: testenv.NewUUID(), AccountID: acct, CampaignID: camp.ID,
		SubmittedBy: sub.ID, ApproverIDs: []string{stays.ID, removed.ID, lost.ID}, DeadlineAt: time.Now().Add(time.Hour)})
	require.NoError(t, err)
	_, err = e.store.ChangeApprovers(ctx, acct, r.ID, sub.ID, []string{stays.ID, lost.ID}, "", r.ID+":change:1", nil, "")
	require.NoError(t, err)
	collaborator := storage.RoleCollaborator
	_, _, err = e.store.UpdateUser(ctx, acct, lost.ID, storage.UserPatch{Role: &collaborator})
	require.NoError(t, err)

	told := func(key string) []string {
		rows, err := e.pool.Query(ctx, `SELECT user_id::text FROM notifications WHERE dedupe_key LIKE $1 || ':%' ORDER BY user_id`, key)
		require.NoError(t, err)
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
		return ids
	}
	n, err := e.store.RemindApprovers(ctx, acct, r.ID, 1, 3, "")
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Equal(t, []string{stays.ID}, told(r.ID+":reminded:1"), "only the assigned approver with the right")
	before := dbState(t, e.pool)
	n, err = e.store.RemindApprovers(ctx, acct, r.ID, 1, 3, "")
	require.NoError(t, err)
	require.Zero(t, n, "the same reminder again")
	requireNoWrites(t, e.pool, before)
	n, err = e.store.RemindApprovers(ctx, e.B.Account.ID, r.ID, 2, 3, "")
	require.NoError(t, err)
	require.Zero(t, n, "another account's request: nobody is reminded")
	requireNoWrites(t, e.pool, before)

	admin2, _ := e.userWith(t, acct, "admin2@a.test", storage.RoleAdmin, false)
	out, err := e.store.Escalate(ctx, acct, r.ID, []string{admin2.ID, lost.ID, stays.ID}, 36*time.Hour, nil, "")
	require.NoError(t, err)
	require.True(t, hasApprover(out, admin2.ID, storage.ApproverStateAssigned))
	require.True(t, hasApprover(out, stays.ID, storage.ApproverStateAssigned))
	require.True(t, hasApprover(out, lost.ID, storage.ApproverStateAssigned), "escalation does not expire anyone; the workflow does")
	require.Equal(t, []string{admin2.ID}, told(r.ID+":escalated"), "only the added approver is asked")
	before = dbState(t, e.pool)
	again, err := e.store.Escalate(ctx, acct, r.ID, []string{e.A.Users[storage.RoleAdmin].ID}, 36*time.Hour, nil, "")
	require.NoError(t, err)
	require.Equal(t, out.Approvers, again.Approvers, "once per request")
	requireNoWrites(t, e.pool, before)
	require.Equal(t, 1, eventCount(t, e, r.ID, storage.EventEscalated))

	_, err = e.store.Decide(ctx, acct, storage.Decision{RequestID: r.ID, Type: storage.EventCancelled, ActorID: &sub.ID})
	require.NoError(t, err)
	before = dbState(t, e.pool)
	n, err = e.store.RemindApprovers(ctx, acct, r.ID, 2, 3, "")
	require.NoError(t, err)
	require.Zero(t, n, "a decided request reminds nobody")
	requireNoWrites(t, e.pool, before)
	require.Equal(t, 1, eventCount(t, e, r.ID, storage.EventReminded))
}
