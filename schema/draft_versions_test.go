package schema_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/signoff/signoff/demodata"
	"github.com/signoff/signoff/schema"
	"github.com/signoff/signoff/storage"
	"github.com/signoff/signoff/testenv"
)

// beforeDraftVersions is the schema before migration 00016 (drafts pin a campaign version, R-VER-7).
const beforeDraftVersions = 15

// TestDraftsBeforeVersionsKeepNoVersion fills a database at the schema before 00016 with a campaign that
// has a version and two drafts of it (one built, one still processing), migrates it, and checks the
// carry-over chosen for 00016: the old drafts keep campaign_version null (they were built, or will be,
// from the working copy of their copy step, which no version records), the processing one still copies
// the working copy, a draft created after the migration pins a version, and the pin is a foreign key.
func TestDraftsBeforeVersionsKeepNoVersion(t *testing.T) {
	ctx := context.Background()
	pool := testenv.EmptyDatabase(t)
	v, err := schema.MigrateTo(ctx, pool, beforeDraftVersions)
	require.NoError(t, err)
	require.LessOrEqual(t, v, int64(beforeDraftVersions))

	o := oldRelease{t: t, pool: pool}
	acct, csm := uuid.NewString(), uuid.NewString()
	o.exec(`INSERT INTO accounts (id, name) VALUES ($1, 'Before draft versions')`, acct)
	o.exec(`INSERT INTO users (id, account_id, email, name, role) VALUES ($1, $2, 'csm@old.test', 'Old CSM', 'csm')`, csm, acct)
	fintech := demodata.Campaigns(time.Now())[0]
	camp := o.campaign(acct, csm, fintech, "draft", "none", 1, nil)
	// The campaign's version 1, as a submission of that schema froze it.
	store := storage.New(pool)
	working, err := store.Campaign(ctx, acct, camp)
	require.NoError(t, err)
	f := storage.FrozenOf(working)
	content, err := json.Marshal(f.Content)
	require.NoError(t, err)
	o.exec(`INSERT INTO campaign_versions (campaign_id, version, content_hash, name, kind, mode, start_at, end_at, content, created_by)
		VALUES ($1, 1, $2, $3, $4, $5, $6, $7, $8, $9)`, camp, f.Hash(), f.Name, f.Kind, f.Mode, f.StartAt, f.EndAt, content, csm)
	copyID := o.campaign(acct, csm, fintech, "ready", "none", 1, nil)
	o.exec(`UPDATE campaigns SET hidden = true, mode = 'test' WHERE id = $1`, copyID)
	built, building := uuid.NewString(), uuid.NewString()
	o.exec(`INSERT INTO approval_drafts (id, account_id, campaign_id, number, status, source, source_key, contact_count, created_by,
		copy_campaign_id, snapshot, ready_at) VALUES ($1, $2, $3, 1, 'ready', '{"type":"csv"}', 'csv:1', 5, $4, $5, '{}', now())`,
		built, acct, camp, csm, copyID)
	o.exec(`INSERT INTO approval_drafts (id, account_id, campaign_id, number, status, source, source_key, contact_count, created_by)
		VALUES ($1, $2, $3, 2, 'processing', '{"type":"csv"}', 'csv:2', 5, $4)`, building, acct, camp, csm)

	v, err = schema.Migrate(ctx, pool)
	require.NoError(t, err)
	require.GreaterOrEqual(t, v, int64(16))

	for _, id := range []string{built, building} {
		d, err := store.Draft(ctx, acct, id)
		require.NoError(t, err)
		require.Nil(t, d.CampaignVersion, "draft %d keeps no version", d.Number)
	}

	// The draft still building copies the working copy when its copy step runs, edited meanwhile.
	renamed := "Edited after the migration"
	_, _, err = store.UpdateCampaign(ctx, acct, camp, storage.CampaignPatch{Name: &renamed})
	require.NoError(t, err)
	id, err := store.CopyCampaignForDraft(ctx, acct, building)
	require.NoError(t, err)
	c, err := store.Campaign(ctx, acct, id)
	require.NoError(t, err)
	require.Equal(t, renamed, c.Name)

	// A draft created now pins the working copy, frozen as version 2.
	d, _, err := store.CreateDraft(ctx, storage.NewDraft{AccountID: acct, CampaignID: camp, CreatedBy: csm,
		Source: json.RawMessage(`{"type":"csv"}`), SourceKey: "csv:3", ContactCount: 5}, false)
	require.NoError(t, err)
	require.Equal(t, 3, d.Number)
	require.NotNil(t, d.CampaignVersion)
	require.Equal(t, 2, *d.CampaignVersion)

	// The pin is a foreign key to the campaign's versions.
	_, err = pool.Exec(ctx, `UPDATE approval_drafts SET campaign_version = 9 WHERE id = $1`, d.ID)
	var pgErr *pgconn.PgError
	require.True(t, errors.As(err, &pgErr), "want a foreign key violation, got %v", err)
	require.Equal(t, "23503", pgErr.Code)
}
