package api_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/signoff/signoff/storage"
	"github.com/signoff/signoff/testenv"
)

// TestDecisionNotices: one decision transaction (storage.Decide) moves the request and the campaign,
// appends one event and tells exactly the right people, in the app and by email (text and HTML), with
// the actor's and campaign's names and the note written as given (R-APPR-9, R-APPR-10): the submitter of
// every outcome, with how to revise and resubmit after a rejection (R-ACT-4); everyone involved of a
// cancel; the other approvers still assigned of a decision someone else took (R-ACT-3). A repeat is a
// no-op and another decision is refused.
func TestDecisionNotices(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	A := e.A
	sub, app, adm := A.Users[storage.RoleCollaborator], A.Users[storage.RoleApprover], A.Users[storage.RoleAdmin]
	type told struct{ kind, title, body string }
	const campaign = `Quote "this" campaign`
	resubmit := func(campID string) string {
		return "\n\nTo revise and resubmit: change the campaign (PATCH /v1/campaigns/" + campID + ") and submit it again " +
			"(POST /v1/campaigns/" + campID + "/approval-requests), or do both in one call: POST /v1/campaigns/" + campID + "/resubmit " +
			`with {"changes": {…}, "approver_ids": […], "note": "…"}.`
	}

	for _, tc := range []struct {
		name       string
		typ        string
		actor      *string
		note       string
		wantStatus string
		told       func(campID string) map[string]told // by user id
	}{
		{"approve with a note", storage.EventApproved, &app.ID, "100% ready, ship it", storage.RequestStatusApproved, func(string) map[string]told {
			return map[string]told{
				sub.ID: {"approval_approved", `Approved: ` + campaign,
					app.Name + ` approved "` + campaign + `". It launches at its start time.` + "\n\nNote: 100% ready, ship it"},
				adm.ID: {"approval_decided", `Approved by ` + app.Name + `: ` + campaign,
					app.Name + ` approved "` + campaign + `", so your decision is no longer needed.` + "\n\nNote: 100% ready, ship it"},
			}
		}},
		{"reject", storage.EventRejected, &app.ID, "off brand", storage.RequestStatusRejected, func(campID string) map[string]told {
			return map[string]told{
				sub.ID: {"approval_rejected", `Rejected: ` + campaign,
					app.Name + ` rejected "` + campaign + `".` + "\n\nNote: off brand" + resubmit(campID)},
				adm.ID: {"approval_decided", `Rejected by ` + app.Name + `: ` + campaign,
					app.Name + ` rejected "` + campaign + `", so your decision is no longer needed.` + "\n\nNote: off brand"},
			}
		}},
		{"cancel by the submitter", storage.EventCancelled, &sub.ID, "", storage.RequestStatusCancelled, func(string) map[string]told {
			n := told{"approval_cancelled", `Approval cancelled: ` + campaign,
				sub.Name + ` cancelled the approval request for "` + campaign + `". The campaign is editable again.`}
			return map[string]told{app.ID: n, adm.ID: n}
		}},
		{"cancel by an admin", storage.EventCancelled, &adm.ID, "", storage.RequestStatusCancelled, func(string) map[string]told {
			n := told{"approval_cancelled", `Approval cancelled: ` + campaign,
				adm.Name + ` cancelled the approval request for "` + campaign + `". The campaign is editable again.`}
			return map[string]told{sub.ID: n, app.ID: n}
		}},
		{"time out", storage.EventTimedOut, nil, "nobody decided", storage.RequestStatusTimedOut, func(string) map[string]told {
			return map[string]told{sub.ID: {"approval_timed_out", `Approval timed out: ` + campaign,
				`Nobody decided on "` + campaign + `" before its deadline. Submit it again to launch.` + "\n\nNote: nobody decided"}}
		}},
		{"auto-approve", storage.EventAutoApproved, nil, "", storage.RequestStatusApproved, func(string) map[string]told {
			other := told{"approval_decided", `Approved automatically: ` + campaign,
				`Approvals were turned off for the account, so "` + campaign + `" was approved automatically; your decision is no longer needed.`}
			return map[string]told{sub.ID: {"approval_approved", `Approved automatically: ` + campaign,
				`Approvals were turned off for the account, so "` + campaign + `" was approved automatically.`}, app.ID: other, adm.ID: other}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			camp := e.newCampaign(t, A, storage.RoleCollaborator, campaign)
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

			rows, err := e.pool.Query(ctx, `SELECT n.user_id::text, n.kind, n.title, n.body, n.link, o.subject, o.body, o.html, o.to_email
				FROM notifications n JOIN outbox_emails o ON o.dedupe_key = n.dedupe_key
				WHERE n.request_id = $1 AND n.kind <> 'approval_requested' ORDER BY n.user_id`, r.ID)
			require.NoError(t, err)
			want := tc.told(camp.ID)
			got := map[string]told{}
			for rows.Next() {
				var uid, kind, title, body, link, subject, mailBody, mailHTML, to string
				require.NoError(t, rows.Scan(&uid, &kind, &title, &body, &link, &subject, &mailBody, &mailHTML, &to))
				got[uid] = told{kind, title, body}
				assert.Equal(t, "/v1/approval-requests/"+r.ID, link)
				assert.Equal(t, title, subject)
				assert.Equal(t, body+"\n\n— Signoff", mailBody)
				requireHTMLPart(t, mailHTML, title, body)
				assert.NotEmpty(t, to)
			}
			require.NoError(t, rows.Err())
			assert.Equal(t, want, got, "who is told what")

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
