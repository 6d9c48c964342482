package api_test

import (
	"context"
	"errors"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/signoff/signoff/storage"
	"github.com/signoff/signoff/testenv"
)

// TestDecisionNotices: one decision transaction (storage.Decide) moves the request and the campaign,
// appends one event and tells exactly the right people, in the app and by email, with the actor's
// and campaign's names and the note written as given (R-APPR-9, R-APPR-10); a repeat is a no-op and
// another decision is refused.
func TestDecisionNotices(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	A := e.A
	sub, app, adm := A.Users[storage.RoleCollaborator], A.Users[storage.RoleApprover], A.Users[storage.RoleAdmin]

	for _, tc := range []struct {
		name       string
		typ        string
		actor      *string
		note       string
		wantStatus string
		to         []string // user ids told
		title      string
		body       string
	}{
		{"approve with a note", storage.EventApproved, &app.ID, "100% ready, ship it", storage.RequestStatusApproved, []string{sub.ID},
			`Approved: Quote "this" campaign`,
			app.Name + ` approved "Quote "this" campaign". It launches at its start time.` + "\n\nNote: 100% ready, ship it"},
		{"reject", storage.EventRejected, &app.ID, "off brand", storage.RequestStatusRejected, []string{sub.ID},
			`Rejected: Quote "this" campaign`, app.Name + ` rejected "Quote "this" campaign".` + "\n\nNote: off brand"},
		{"cancel by the submitter", storage.EventCancelled, &sub.ID, "", storage.RequestStatusCancelled, []string{app.ID, adm.ID},
			`Approval cancelled: Quote "this" campaign`, sub.Name + ` cancelled the approval request for "Quote "this" campaign". The campaign is editable again.`},
		{"cancel by an admin", storage.EventCancelled, &adm.ID, "", storage.RequestStatusCancelled, []string{sub.ID, app.ID},
			`Approval cancelled: Quote "this" campaign`, adm.Name + ` cancelled the approval request for "Quote "this" campaign". The campaign is editable again.`},
		{"time out", storage.EventTimedOut, nil, "nobody decided", storage.RequestStatusTimedOut, []string{sub.ID},
			`Approval timed out: Quote "this" campaign`,
			`Nobody decided on "Quote "this" campaign" before its deadline. Submit it again to launch.` + "\n\nNote: nobody decided"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			camp := e.newCampaign(t, A, storage.RoleCollaborator, `Quote "this" campaign`)
			r, err := e.store.CreateApprovalRequest(ctx, storage.NewApprovalRequest{ID: testenv.NewUUID(), AccountID: A.Account.ID,
				CampaignID: camp.ID, SubmittedBy: sub.ID, ApproverIDs: []string{app.ID, adm.ID}, DeadlineAt: time.Now().Add(time.Hour)})
			require.NoError(t, err)
			d := storage.Decision{RequestID: r.ID, Type: tc.typ, ActorID: tc.actor, Note: tc.note}
			out, err := e.store.Decide(ctx, A.Account.ID, d)
			require.NoError(t, err)
			assert.Equal(t, tc.wantStatus, out.Status)
			assert.Equal(t, tc.actor, out.DecidedBy)
			assert.Len(t, out.Approvers, 2, "the answer lists the approvers")

			var events int
			require.NoError(t, e.pool.QueryRow(ctx, `SELECT count(*) FROM approval_events WHERE request_id = $1 AND dedupe_key = $2`,
				r.ID, r.ID+":decision").Scan(&events))
			assert.Equal(t, 1, events)
			var approval string
			require.NoError(t, e.pool.QueryRow(ctx, `SELECT approval_status FROM campaigns WHERE id = $1`, camp.ID).Scan(&approval))
			assert.Equal(t, tc.wantStatus, approval)

			rows, err := e.pool.Query(ctx, `SELECT n.user_id::text, n.kind, n.title, n.body, o.subject, o.body, o.to_email
				FROM notifications n JOIN outbox_emails o ON o.dedupe_key = n.dedupe_key
				WHERE n.request_id = $1 AND n.kind <> 'approval_requested' ORDER BY n.user_id`, r.ID)
			require.NoError(t, err)
			var told []string
			for rows.Next() {
				var uid, kind, title, body, subject, mailBody, to string
				require.NoError(t, rows.Scan(&uid, &kind, &title, &body, &subject, &mailBody, &to))
				told = append(told, uid)
				assert.Equal(t, "approval_"+tc.wantStatus, kind)
				assert.Equal(t, tc.title, title)
				assert.Equal(t, tc.body, body)
				assert.Equal(t, tc.title, subject)
				assert.Equal(t, tc.body+"\n\n— Signoff", mailBody)
				assert.NotEmpty(t, to)
			}
			require.NoError(t, rows.Err())
			want := append([]string(nil), tc.to...)
			sort.Strings(want)
			assert.Equal(t, want, told, "who is told")

			// The same decision again answers the request as it is and writes nothing more.
			before := dbState(t, e.pool)
			again, err := e.store.Decide(ctx, A.Account.ID, d)
			require.NoError(t, err)
			assert.Equal(t, out.Status, again.Status)
			requireNoWrites(t, e.pool, before)
			// Another decision is refused.
			_, err = e.store.Decide(ctx, A.Account.ID, storage.Decision{RequestID: r.ID, Type: storage.EventCancelled, ActorID: &sub.ID})
			if tc.typ == storage.EventCancelled && *tc.actor == sub.ID {
				require.NoError(t, err, "the same cancel is a retry")
			} else {
				require.True(t, errors.Is(err, storage.ErrAlreadyHandled), "%v", err)
			}
		})
	}

	t.Run("refusals", func(t *testing.T) {
		camp := e.newCampaign(t, A, storage.RoleCollaborator, "Refusals")
		r, err := e.store.CreateApprovalRequest(ctx, storage.NewApprovalRequest{ID: testenv.NewUUID(), AccountID: A.Account.ID,
			CampaignID: camp.ID, SubmittedBy: sub.ID, ApproverIDs: []string{app.ID}, DeadlineAt: time.Now().Add(time.Hour)})
		require.NoError(t, err)
		before := dbState(t, e.pool)
		_, err = e.store.Decide(ctx, A.Account.ID, storage.Decision{RequestID: r.ID, Type: storage.EventApproved, ActorID: &adm.ID})
		assert.ErrorIs(t, err, storage.ErrNotApprover, "an admin who is not an assigned approver")
		_, err = e.store.Decide(ctx, e.B.Account.ID, storage.Decision{RequestID: r.ID, Type: storage.EventApproved, ActorID: &app.ID})
		assert.ErrorIs(t, err, storage.ErrNotFound, "another account's request")
		_, err = e.store.Decide(ctx, A.Account.ID, storage.Decision{RequestID: testenv.NewUUID(), Type: storage.EventApproved, ActorID: &app.ID})
		assert.ErrorIs(t, err, storage.ErrNotFound, "no such request")
		requireNoWrites(t, e.pool, before)
	})
}
