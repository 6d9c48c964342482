package storage_test

import (
	"context"
	"fmt"
	"strings"
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

// TestReminderEmail checks the notice and email RemindApprovers writes in SQL (R-ACT-2, R-ACT-4): the
// text names the submitter, the campaign and the deadline as Go writes it, the HTML part is exactly
// emailHTML's page for the same title and body, and the event names whom it reminded. With a link
// base, each approver's email carries a new decision link of their own (R-ACT-1), stored hashed: the
// text's "label: link" line and the HTML's button, as notify writes them.
func TestReminderEmail(t *testing.T) {
	ctx := context.Background()
	pool := testenv.Database(t)
	store := storage.New(pool)
	tn := testenv.NewTenant(t, store, "Remind Co", "remind.test")
	sub, _ := testenv.NewUser(t, store, tn.Account.ID, storage.NewUser{Email: "sub@remind.test", Name: `Sue "50%" <S>`, Role: storage.RoleCollaborator})
	approver := tn.Users[storage.RoleApprover]
	admin := tn.Users[storage.RoleAdmin]
	camp, err := store.CreateCampaign(ctx, tn.Account.ID, sub.ID, storage.NewCampaign{Name: `Q2 & <co> %1$s`,
		Kind: storage.CampaignKindCampaign, Mode: storage.CampaignModeActive, Content: testenv.CampaignContent()})
	require.NoError(t, err)
	deadline := time.Date(2031, 3, 4, 17, 5, 0, 0, time.UTC)
	r, err := store.CreateApprovalRequest(ctx, storage.NewApprovalRequest{ID: testenv.NewUUID(), AccountID: tn.Account.ID,
		CampaignID: camp.ID, SubmittedBy: sub.ID, ApproverIDs: []string{approver.ID, admin.ID}, DeadlineAt: deadline})
	require.NoError(t, err)
	links := func() int {
		var n int
		require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM decision_links WHERE request_id = $1`, r.ID).Scan(&n))
		return n
	}

	for _, tc := range []struct {
		n        int
		linkBase string
	}{{1, ""}, {2, "https://signoff.example/a/"}} {
		before := links()
		got, err := store.RemindApprovers(ctx, tn.Account.ID, r.ID, tc.n, 3, tc.linkBase)
		require.NoError(t, err)
		require.Equal(t, 2, got)
		for _, u := range []storage.User{approver, admin} {
			var title, body, subject, text, html, to string
			require.NoError(t, pool.QueryRow(ctx, `SELECT n.title, n.body, o.subject, o.body, o.html, o.to_email FROM notifications n
				JOIN outbox_emails o ON o.dedupe_key = n.dedupe_key WHERE n.request_id = $1 AND n.kind = 'approval_reminder'
				AND n.user_id = $2 AND n.dedupe_key LIKE '%:reminded:' || $3 || ':%'`, r.ID, u.ID, fmt.Sprint(tc.n)).
				Scan(&title, &body, &subject, &text, &html, &to))
			require.Equal(t, "Reminder: approval requested: "+camp.Name, title)
			require.Equal(t, fmt.Sprintf("Reminder %d of 3: ", tc.n)+sub.Name+` asks you to approve "`+camp.Name+`" before it launches.`+
				"\n\nUnless someone decides, the request times out at "+deadline.Format("Mon 2 Jan 2006 15:04 MST")+".", body)
			require.Equal(t, title, subject)
			require.Equal(t, u.Email, to)
			if tc.linkBase == "" {
				require.Equal(t, body+"\n\n— Signoff", text)
				require.Equal(t, storage.EmailHTML(title, body), html)
				continue
			}
			prefix := body + "\n\n" + storage.DecisionLinkLabel + ": " + tc.linkBase
			require.True(t, strings.HasPrefix(text, prefix) && strings.HasSuffix(text, "\n\n— Signoff"), "text part: %q", text)
			token := strings.TrimSuffix(strings.TrimPrefix(text, prefix), "\n\n— Signoff")
			require.Regexp(t, `^[A-Za-z0-9_-]{43}$`, token, "32 random bytes, base64url")
			require.Equal(t, storage.EmailHTMLWithLink(title, body, tc.linkBase+token), html)
			l, err := store.DecisionLink(ctx, storage.HashDecisionToken(token))
			require.NoError(t, err, "the link is stored by its hash")
			require.Equal(t, r.ID, l.Request.ID)
			require.Equal(t, u.ID, l.Approver.ID, "bound to the approver it was sent to")
		}
		require.Equal(t, before+map[bool]int{true: 2, false: 0}[tc.linkBase != ""], links(), "one new link per reminded approver")
	}

	var note string
	require.NoError(t, pool.QueryRow(ctx, `SELECT note FROM approval_events WHERE request_id = $1 AND type = 'reminded' AND dedupe_key LIKE '%:2'`,
		r.ID).Scan(&note))
	require.Equal(t, "reminder 2 of 3 to "+admin.Name+", "+approver.Name, note)

	// Sent again, the reminder writes nothing, no link either.
	before := links()
	got, err := store.RemindApprovers(ctx, tn.Account.ID, r.ID, 2, 3, "https://signoff.example/a/")
	require.NoError(t, err)
	require.Zero(t, got)
	require.Equal(t, before, links())
}
