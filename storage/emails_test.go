package storage_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/signoff/signoff/storage"
	"github.com/signoff/signoff/testenv"
)

// TestDecisionEmailHTML checks that the HTML part Decide writes in SQL (from emailHTML's templates and
// the names it reads) is exactly the page emailHTML writes for the same title and body, with names and
// a note full of characters HTML and format() treat specially (R-ACT-4).
func TestDecisionEmailHTML(t *testing.T) {
	ctx := context.Background()
	pool := testenv.Database(t)
	store := storage.New(pool)
	tn := testenv.NewTenant(t, store, "HTML Co", "html.test")
	sub := tn.Users[storage.RoleCollaborator]
	approver, _ := testenv.NewUser(t, store, tn.Account.ID, storage.NewUser{Email: "ob@html.test",
		Name: `O'Brien & "Sons" <b>%s %1$s`, Role: storage.RoleApprover})
	other := tn.Users[storage.RoleAdmin]

	for _, typ := range []string{storage.EventRejected, storage.EventApproved, storage.EventCancelled} {
		t.Run(typ, func(t *testing.T) {
			camp, err := store.CreateCampaign(ctx, tn.Account.ID, sub.ID, storage.NewCampaign{Name: `Q1 <i>&</i> "50%" 'off' %2$s`,
				Kind: storage.CampaignKindCampaign, Mode: storage.CampaignModeActive, Content: testenv.CampaignContent()})
			require.NoError(t, err)
			r, err := store.CreateApprovalRequest(ctx, storage.NewApprovalRequest{ID: testenv.NewUUID(), AccountID: tn.Account.ID,
				CampaignID: camp.ID, SubmittedBy: sub.ID, ApproverIDs: []string{approver.ID, other.ID}, DeadlineAt: time.Now().Add(time.Hour)})
			require.NoError(t, err)
			_, err = store.Decide(ctx, tn.Account.ID, storage.Decision{RequestID: r.ID, Type: typ, ActorID: &approver.ID,
				Note: "100% <sure> & \"done\"\nsecond line"})
			require.NoError(t, err)

			rows, err := pool.Query(ctx, `SELECT n.title, n.body, o.html FROM notifications n JOIN outbox_emails o ON o.dedupe_key = n.dedupe_key
				WHERE n.request_id = $1 AND n.kind <> 'approval_requested'`, r.ID)
			require.NoError(t, err)
			defer rows.Close()
			n := 0
			for rows.Next() {
				var title, body, html string
				require.NoError(t, rows.Scan(&title, &body, &html))
				require.Contains(t, title, camp.Name, "the title names the campaign as it is")
				require.Equal(t, storage.EmailHTML(title, body), html, "the HTML part of %q", title)
				n++
			}
			require.NoError(t, rows.Err())
			require.GreaterOrEqual(t, n, 1)
		})
	}
}
