package schema_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/signoff/signoff/schema"
	"github.com/signoff/signoff/testenv"
)

// beforeReminders is the schema version before migration 00018 (reminders, notification links, HTML
// emails): up to 00017 where those exist.
const beforeReminders = 17

// TestRemindersMigrationCarriesRowsOver fills a database at the schema before 00018 and checks the
// carry-over: every notification gets the link of its subject; every outbox email an HTML part made
// from its text (escaped, paragraphs and line breaks kept) and no failure; requests submitted before
// reminders existed keep none (their workflows run as they were started); accounts take the defaults
// (reminders after 24h, no escalation, escalation to the admins); the history accepts the new types.
func TestRemindersMigrationCarriesRowsOver(t *testing.T) {
	ctx := context.Background()
	pool := testenv.EmptyDatabase(t)
	_, err := schema.MigrateTo(ctx, pool, beforeReminders)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `
		INSERT INTO accounts (id, name) VALUES ('a0000000-0000-0000-0000-000000000001', 'Old Co');
		INSERT INTO users (id, account_id, email, name, role) VALUES
		  ('b0000000-0000-0000-0000-000000000001', 'a0000000-0000-0000-0000-000000000001', 'ed@old.test', 'Ed', 'editor'),
		  ('b0000000-0000-0000-0000-000000000002', 'a0000000-0000-0000-0000-000000000001', 'ap@old.test', 'Ap', 'approver');
		INSERT INTO campaigns (id, account_id, created_by, name, kind, mode) VALUES
		  ('c0000000-0000-0000-0000-000000000001', 'a0000000-0000-0000-0000-000000000001', 'b0000000-0000-0000-0000-000000000001',
		   'Old campaign', 'journey', 'active');
		INSERT INTO campaign_versions (campaign_id, version, content_hash, name, kind, mode, content) VALUES
		  ('c0000000-0000-0000-0000-000000000001', 1, repeat('a', 64), 'Old campaign', 'journey', 'active', '{}');
		INSERT INTO approval_requests (id, account_id, campaign_id, campaign_version, content_hash, submitted_by, deadline_at) VALUES
		  ('d0000000-0000-0000-0000-000000000001', 'a0000000-0000-0000-0000-000000000001', 'c0000000-0000-0000-0000-000000000001',
		   1, repeat('a', 64), 'b0000000-0000-0000-0000-000000000001', now() + interval '1 day');
		INSERT INTO notifications (account_id, user_id, kind, title, request_id, campaign_id, dedupe_key) VALUES
		  ('a0000000-0000-0000-0000-000000000001', 'b0000000-0000-0000-0000-000000000002', 'approval_requested', 'Approval requested',
		   'd0000000-0000-0000-0000-000000000001', 'c0000000-0000-0000-0000-000000000001', 'n1');
		INSERT INTO notifications (account_id, user_id, kind, title, campaign_id, dedupe_key) VALUES
		  ('a0000000-0000-0000-0000-000000000001', 'b0000000-0000-0000-0000-000000000001', 'other', 'About a campaign',
		   'c0000000-0000-0000-0000-000000000001', 'n2');
		INSERT INTO notifications (account_id, user_id, kind, title, dedupe_key) VALUES
		  ('a0000000-0000-0000-0000-000000000001', 'b0000000-0000-0000-0000-000000000001', 'other', 'About nothing', 'n3');
		INSERT INTO outbox_emails (account_id, to_email, subject, body, request_id, dedupe_key) VALUES
		  ('a0000000-0000-0000-0000-000000000001', 'ap@old.test', 'Approval requested',
		   E'Ed asks you to approve "Old <campaign>" & more.\n\nNote: it''s fine\nreally\n\n— Signoff',
		   'd0000000-0000-0000-0000-000000000001', 'n1');`)
	require.NoError(t, err)

	_, err = schema.Migrate(ctx, pool)
	require.NoError(t, err)

	links := map[string]string{}
	rows, err := pool.Query(ctx, `SELECT dedupe_key, link FROM notifications`)
	require.NoError(t, err)
	for rows.Next() {
		var k, l string
		require.NoError(t, rows.Scan(&k, &l))
		links[k] = l
	}
	require.NoError(t, rows.Err())
	require.Equal(t, map[string]string{"n1": "/v1/approval-requests/d0000000-0000-0000-0000-000000000001",
		"n2": "/v1/campaigns/c0000000-0000-0000-0000-000000000001", "n3": ""}, links)

	var html, failure string
	var failed *time.Time
	require.NoError(t, pool.QueryRow(ctx, `SELECT html, failure, failed_at FROM outbox_emails WHERE dedupe_key = 'n1'`).Scan(&html, &failure, &failed))
	require.Equal(t, `<!DOCTYPE html><html><body><p>Ed asks you to approve &#34;Old &lt;campaign&gt;&#34; &amp; more.</p>`+
		`<p>Note: it&#39;s fine<br>really</p><p>— Signoff</p></body></html>`, html)
	require.Empty(t, failure)
	require.Nil(t, failed)

	var reminder, escalate time.Duration
	var ids []string
	require.NoError(t, pool.QueryRow(ctx, `SELECT reminder_after, escalate_after, escalation_user_ids FROM approval_requests`).Scan(&reminder, &escalate, &ids))
	require.Zero(t, reminder, "requests submitted before reminders have none")
	require.Zero(t, escalate)
	require.Empty(t, ids)
	var accountIDs []string
	require.NoError(t, pool.QueryRow(ctx, `SELECT reminder_after, escalate_after, escalation_user_ids FROM accounts`).Scan(&reminder, &escalate, &accountIDs))
	require.Equal(t, 24*time.Hour, reminder)
	require.Zero(t, escalate)
	require.Nil(t, accountIDs, "null: the admins")

	_, err = pool.Exec(ctx, `INSERT INTO approval_events (account_id, request_id, campaign_id, type, dedupe_key)
		VALUES ('a0000000-0000-0000-0000-000000000001', 'd0000000-0000-0000-0000-000000000001', 'c0000000-0000-0000-0000-000000000001', 'reminded', 'e1'),
		       ('a0000000-0000-0000-0000-000000000001', 'd0000000-0000-0000-0000-000000000001', 'c0000000-0000-0000-0000-000000000001', 'escalated', 'e2')`)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `INSERT INTO approval_events (account_id, request_id, campaign_id, type, dedupe_key)
		VALUES ('a0000000-0000-0000-0000-000000000001', 'd0000000-0000-0000-0000-000000000001', 'c0000000-0000-0000-0000-000000000001', 'nudged', 'e3')`)
	require.Error(t, err, "the history's types are still checked")
}
