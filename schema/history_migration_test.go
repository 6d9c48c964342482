package schema_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/signoff/signoff/schema"
	"github.com/signoff/signoff/testenv"
)

// TestHistoryEventsGetTheirVersion fills a database at the previous release's schema with requests and
// their events, migrates it, and checks migration 00013's carry-over: every old event gets the
// version its request pinned; the approvers of old submitted and approvers_changed events, which were
// never recorded, stay null rather than be guessed.
func TestHistoryEventsGetTheirVersion(t *testing.T) {
	ctx := context.Background()
	pool := testenv.EmptyDatabase(t)
	v, err := schema.MigrateTo(ctx, pool, lastReleaseVersion)
	require.NoError(t, err)
	require.EqualValues(t, lastReleaseVersion, v)

	// What the previous release wrote: a campaign at version 2 with a request pinned to version 1
	// (rejected) and one pinned to version 2 (approvers changed, then approved).
	_, err = pool.Exec(ctx, `
		INSERT INTO accounts (id, name) VALUES ('a0000000-0000-0000-0000-000000000001', 'Old Co');
		INSERT INTO users (id, account_id, email, name, role) VALUES
		  ('b0000000-0000-0000-0000-000000000001', 'a0000000-0000-0000-0000-000000000001', 'ed@old.test', 'Ed', 'editor'),
		  ('b0000000-0000-0000-0000-000000000002', 'a0000000-0000-0000-0000-000000000001', 'ap@old.test', 'Ap', 'approver');
		INSERT INTO campaigns (id, account_id, created_by, name, kind, mode, version) VALUES
		  ('c0000000-0000-0000-0000-000000000001', 'a0000000-0000-0000-0000-000000000001', 'b0000000-0000-0000-0000-000000000001',
		   'Old campaign', 'journey', 'active', 2);
		INSERT INTO approval_requests (id, account_id, campaign_id, campaign_version, submitted_by, status, deadline_at) VALUES
		  ('d0000000-0000-0000-0000-000000000001', 'a0000000-0000-0000-0000-000000000001', 'c0000000-0000-0000-0000-000000000001',
		   1, 'b0000000-0000-0000-0000-000000000001', 'rejected', now() + interval '1 day'),
		  ('d0000000-0000-0000-0000-000000000002', 'a0000000-0000-0000-0000-000000000001', 'c0000000-0000-0000-0000-000000000001',
		   2, 'b0000000-0000-0000-0000-000000000001', 'approved', now() + interval '1 day');
		INSERT INTO approval_request_approvers (request_id, user_id) VALUES
		  ('d0000000-0000-0000-0000-000000000001', 'b0000000-0000-0000-0000-000000000002'),
		  ('d0000000-0000-0000-0000-000000000002', 'b0000000-0000-0000-0000-000000000002');
		INSERT INTO approval_events (account_id, request_id, campaign_id, type, actor_id, dedupe_key)
		SELECT r.account_id, r.id, r.campaign_id, x.type, 'b0000000-0000-0000-0000-000000000001', r.id || ':' || x.type
		FROM approval_requests r, (VALUES ('submitted'), ('approvers_changed'), ('rejected'), ('approved')) x (type)
		WHERE (r.status = 'rejected' AND x.type IN ('submitted', 'rejected')) OR (r.status = 'approved' AND x.type <> 'rejected')`)
	require.NoError(t, err)

	_, err = schema.Migrate(ctx, pool)
	require.NoError(t, err)

	// Compared with the request's campaign_version as it is after every migration, not the value
	// written above: a migration carrying requests over to frozen versions may renumber them, and the
	// event must follow its request.
	rows, err := pool.Query(ctx, `SELECT e.type, e.version, r.campaign_version, e.approvers IS NULL
		FROM approval_events e JOIN approval_requests r ON r.id = e.request_id ORDER BY e.id`)
	require.NoError(t, err)
	defer rows.Close()
	n := 0
	for rows.Next() {
		var typ string
		var version *int
		var pinned int
		var noApprovers bool
		require.NoError(t, rows.Scan(&typ, &version, &pinned, &noApprovers))
		require.NotNil(t, version, "event %d (%s) has a version after the migration", n, typ)
		require.Equal(t, pinned, *version, "event %d (%s): its request's version", n, typ)
		require.True(t, noApprovers, "event %d (%s): approvers not recorded before 00013 stay null", n, typ)
		n++
	}
	require.NoError(t, rows.Err())
	require.Equal(t, 5, n)
}
