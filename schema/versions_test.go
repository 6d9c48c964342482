package schema_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/signoff/signoff/demodata"
	"github.com/signoff/signoff/schema"
	"github.com/signoff/signoff/storage"
	"github.com/signoff/signoff/testenv"
)

// lastReleaseVersion is the schema of the release before versions (migration 00010).
const lastReleaseVersion = 10

// oldRelease inserts what the release before versions stored, with its SQL at schema 00010.
type oldRelease struct {
	t    *testing.T
	pool *pgxpool.Pool
}

func (o oldRelease) exec(sql string, args ...any) {
	o.t.Helper()
	_, err := o.pool.Exec(context.Background(), sql, args...)
	require.NoError(o.t, err, sql)
}

// campaign inserts campaign nc of account acct with its content, in the given state.
func (o oldRelease) campaign(acct, by string, nc storage.NewCampaign, status, approval string, version int, live *int) string {
	o.t.Helper()
	id := uuid.NewString()
	o.exec(`INSERT INTO campaigns (id, account_id, created_by, name, kind, mode, start_at, end_at, status, approval_status, version, live_version)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		id, acct, by, nc.Name, nc.Kind, nc.Mode, nc.StartAt, nc.EndAt, status, approval, version, live)
	c := nc.Content
	for i, s := range c.Segments {
		filters, err := json.Marshal(s.Filters)
		require.NoError(o.t, err)
		o.exec(`INSERT INTO campaign_segments (campaign_id, position, name, filters) VALUES ($1, $2, $3, $4)`, id, i, s.Name, filters)
	}
	for i, p := range c.Prompts {
		o.exec(`INSERT INTO campaign_prompts (campaign_id, position, name, text) VALUES ($1, $2, $3, $4)`, id, i, p.Name, p.Text)
	}
	for _, m := range c.AIModelConfigs {
		o.exec(`INSERT INTO campaign_ai_model_configs (campaign_id, step, provider, model, temperature) VALUES ($1, $2, $3, $4, $5)`,
			id, m.Step, m.Provider, m.Model, m.Temperature)
	}
	for i, l := range c.TrackingLinks {
		o.exec(`INSERT INTO campaign_tracking_links (campaign_id, position, url, label) VALUES ($1, $2, $3, $4)`, id, i, l.URL, l.Label)
	}
	for i, seq := range c.Sequences {
		seqID := uuid.NewString()
		o.exec(`INSERT INTO campaign_sequences (id, campaign_id, position, name) VALUES ($1, $2, $3, $4)`, seqID, id, i, seq.Name)
		for j, st := range seq.Steps {
			o.exec(`INSERT INTO campaign_sequence_steps (sequence_id, position, subject, body, delay_days) VALUES ($1, $2, $3, $4, $5)`,
				seqID, j, st.Subject, st.Body, st.DelayDays)
		}
	}
	return id
}

// request inserts a request of campaign camp for version, with approver assigned, in status.
func (o oldRelease) request(acct, camp, by, approver string, version int, status string) string {
	o.t.Helper()
	id := uuid.NewString()
	o.exec(`INSERT INTO approval_requests (id, account_id, campaign_id, campaign_version, submitted_by, status, deadline_at, workflow_started_at,
		decided_by, decided_at) VALUES ($1, $2, $3, $4, $5, $6, now() + interval '1 day', now(),
		CASE WHEN $6 <> 'pending' THEN $7::uuid END, CASE WHEN $6 <> 'pending' THEN now() END)`,
		id, acct, camp, version, by, status, approver)
	o.exec(`INSERT INTO approval_request_approvers (request_id, user_id) VALUES ($1, $2)`, id, approver)
	o.exec(`INSERT INTO approval_events (account_id, request_id, campaign_id, type, actor_id, dedupe_key) VALUES ($1, $2, $3, 'submitted', $4, $5)`,
		acct, id, camp, by, id+":submitted")
	return id
}

// TestMigrationCarriesRequestsAndLaunchesOverToVersions migrates a database of the release before
// versions (schema 00010, filled with the demo campaigns in the states that release produced: approved,
// a live journey edited into version 2 after its launch, a direct launch without a request, and a draft)
// to the latest schema, and checks that every request and launch points at a real version whose hash
// is the one the application computes from the working copy, that requests pin it, that the approved
// campaign shows its approved version, and that the next submission reuses the carried-over version.
func TestMigrationCarriesRequestsAndLaunchesOverToVersions(t *testing.T) {
	ctx := context.Background()
	pool := testenv.EmptyDatabase(t)
	v, err := schema.MigrateTo(ctx, pool, lastReleaseVersion)
	require.NoError(t, err)
	require.EqualValues(t, lastReleaseVersion, v)

	o := oldRelease{t: t, pool: pool}
	acct, admin, collab, approver := uuid.NewString(), uuid.NewString(), uuid.NewString(), uuid.NewString()
	o.exec(`INSERT INTO accounts (id, name) VALUES ($1, 'Old release')`, acct)
	for id, role := range map[string]string{admin: "admin", collab: "collaborator", approver: "approver"} {
		o.exec(`INSERT INTO users (id, account_id, email, name, role) VALUES ($1, $2, $3, $4, $5)`, id, acct, role+"@old.test", "Old "+role, role)
	}
	demo := demodata.Campaigns(time.Now())
	fintech, journey := demo[0], demo[1]
	one := 1

	approved := o.campaign(acct, collab, fintech, "scheduled", "approved", 1, nil)
	approvedReq := o.request(acct, approved, collab, approver, 1, "approved")

	// A journey approved and launched as version 1, then edited while live (keep_live): version 2 is its
	// working copy, and its request was rejected.
	live := o.campaign(acct, collab, journey, "live", "rejected", 2, &one)
	liveReq := o.request(acct, live, collab, approver, 1, "approved")
	o.request(acct, live, collab, approver, 2, "rejected")
	o.exec(`INSERT INTO campaign_launches (account_id, campaign_id, version, request_id, launched_by, source) VALUES ($1, $2, 1, $3, NULL, 'workflow')`,
		acct, live, liveReq)

	testSend := fintech
	testSend.Name, testSend.Mode = "Test send", storage.CampaignModeTest
	direct := o.campaign(acct, admin, testSend, "live", "none", 1, &one)
	o.exec(`INSERT INTO campaign_launches (account_id, campaign_id, version, launched_by, source) VALUES ($1, $2, 1, $3, 'api')`, acct, direct, admin)

	draft := o.campaign(acct, collab, journey, "draft", "none", 1, nil)

	v, err = schema.Migrate(ctx, pool)
	require.NoError(t, err)
	require.GreaterOrEqual(t, v, int64(12), "migrated past the carry-over (00012) at least")

	var orphans int
	require.NoError(t, pool.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM approval_requests r WHERE NOT EXISTS (SELECT 1 FROM campaign_versions v
		   WHERE v.campaign_id = r.campaign_id AND v.version = r.campaign_version AND v.content_hash = r.content_hash))
		+ (SELECT count(*) FROM campaign_launches l WHERE NOT EXISTS (SELECT 1 FROM campaign_versions v
		   WHERE v.campaign_id = l.campaign_id AND v.version = l.version))`).Scan(&orphans))
	require.Zero(t, orphans, "every request and launch points at a real version, and each request pins its hash")

	store := storage.New(pool)
	wantVersions := map[string][]int{approved: {1}, live: {2, 1}, direct: {1}, draft: nil}
	for id, want := range wantVersions {
		c, err := store.Campaign(ctx, acct, id)
		require.NoError(t, err)
		list, err := store.CampaignVersions(ctx, acct, id)
		require.NoError(t, err)
		var got []int
		for _, v := range list {
			got = append(got, v.Version)
			// The hash the Go migration wrote is the application's hash of the working copy.
			require.Equal(t, storage.FrozenOf(c).Hash(), v.ContentHash, "%s version %d", c.Name, v.Version)
			full, err := store.CampaignVersion(ctx, acct, id, v.Version)
			require.NoError(t, err)
			require.Equal(t, *c.Content, full.Content)
			require.Equal(t, c.Name, full.Name)
		}
		require.Equal(t, want, got, c.Name)
	}

	c, err := store.Campaign(ctx, acct, approved)
	require.NoError(t, err)
	require.Equal(t, &one, c.ApprovedVersion, "the approved campaign shows its approved version")
	r, err := store.ApprovalRequest(ctx, acct, approvedReq)
	require.NoError(t, err)
	require.Len(t, r.ContentHash, 64)
	c, err = store.Campaign(ctx, acct, live)
	require.NoError(t, err)
	require.Nil(t, c.ApprovedVersion)
	require.Equal(t, &one, c.LiveVersion)

	// The journey's working copy is unchanged since the migration: its next submission reuses version 2.
	next, err := store.CreateApprovalRequest(ctx, storage.NewApprovalRequest{ID: uuid.NewString(), AccountID: acct, CampaignID: live,
		SubmittedBy: collab, ApproverIDs: []string{approver}, DeadlineAt: time.Now().Add(time.Hour)})
	require.NoError(t, err)
	require.Equal(t, 2, next.CampaignVersion)
	list, err := store.CampaignVersions(ctx, acct, live)
	require.NoError(t, err)
	require.Len(t, list, 2, "no new version for an unchanged working copy")

	// The pins are foreign keys now (feed_seq, required since 00015, is given so that the key is what fails).
	_, err = pool.Exec(ctx, `INSERT INTO campaign_launches (account_id, campaign_id, version, source, feed_seq) VALUES ($1, $2, 9, 'api', 99)`, acct, draft)
	var pgErr *pgconn.PgError
	require.True(t, errors.As(err, &pgErr), "want a foreign key violation, got %v", err)
	require.Equal(t, "23503", pgErr.Code)
}

// TestCampaignVersionsAreImmutable checks that the database refuses to change or delete a version
// (R-VER-1), whether by UPDATE, DELETE, TRUNCATE or by deleting its campaign.
func TestCampaignVersionsAreImmutable(t *testing.T) {
	ctx := context.Background()
	pool := testenv.Database(t)
	store := storage.New(pool)
	tn := testenv.NewTenant(t, store, "Immutable", "immutable.test")
	user := tn.Users[storage.RoleAdmin]
	camp, err := store.CreateCampaign(ctx, tn.Account.ID, user.ID, storage.NewCampaign{Name: "Frozen", Kind: storage.CampaignKindCampaign,
		Mode: storage.CampaignModeTest, Content: testenv.CampaignContent()})
	require.NoError(t, err)
	// A direct launch of a test campaign freezes version 1.
	_, _, err = store.LaunchCampaign(ctx, storage.LaunchInput{AccountID: tn.Account.ID, CampaignID: camp.ID, ActorID: &user.ID, Source: "api"})
	require.NoError(t, err)
	before, err := store.CampaignVersion(ctx, tn.Account.ID, camp.ID, 1)
	require.NoError(t, err)

	for _, sql := range []string{
		`UPDATE campaign_versions SET name = 'Changed' WHERE campaign_id = $1`,
		`UPDATE campaign_versions SET content = '{}' WHERE campaign_id = $1`,
		`DELETE FROM campaign_versions WHERE campaign_id = $1`,
	} {
		_, err := pool.Exec(ctx, sql, camp.ID)
		var pgErr *pgconn.PgError
		require.True(t, errors.As(err, &pgErr), "%s: want the trigger's refusal, got %v", sql, err)
		require.Equal(t, "campaign_versions_immutable", pgErr.ConstraintName, sql)
	}
	_, err = pool.Exec(ctx, `TRUNCATE campaign_versions CASCADE`)
	var pgErr *pgconn.PgError
	require.True(t, errors.As(err, &pgErr), "TRUNCATE: want the trigger's refusal, got %v", err)
	require.Equal(t, "campaign_versions_immutable", pgErr.ConstraintName)

	// Nor does it go with its campaign: a campaign with versions is archived, never deleted.
	_, err = pool.Exec(ctx, `DELETE FROM campaigns WHERE id = $1`, camp.ID)
	require.True(t, errors.As(err, &pgErr), "want a foreign key violation, got %v", err)
	require.Equal(t, "23503", pgErr.Code)

	after, err := store.CampaignVersion(ctx, tn.Account.ID, camp.ID, 1)
	require.NoError(t, err)
	require.Equal(t, before, after)

	// A campaign never submitted nor launched has no version and is still deleted outright.
	other, err := store.CreateCampaign(ctx, tn.Account.ID, user.ID, storage.NewCampaign{Name: "Scratch", Kind: storage.CampaignKindCampaign,
		Mode: storage.CampaignModeActive, Content: testenv.CampaignContent()})
	require.NoError(t, err)
	require.NoError(t, store.DeleteCampaign(ctx, tn.Account.ID, other.ID))
	_, err = store.Campaign(ctx, tn.Account.ID, other.ID)
	require.ErrorIs(t, err, storage.ErrNotFound)
}
