package storage_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/signoff/signoff/storage"
	"github.com/signoff/signoff/testenv"
)

// versionState is what a draft's freeze may write: the campaign's versions and its version counter.
type versionState struct {
	Versions []int
	Counter  int
	Drafts   int
}

func readVersionState(t *testing.T, pool *pgxpool.Pool, campaignID string) versionState {
	t.Helper()
	var s versionState
	require.NoError(t, pool.QueryRow(context.Background(), `SELECT
		COALESCE((SELECT array_agg(version ORDER BY version) FROM campaign_versions WHERE campaign_id = $1), '{}'),
		(SELECT version FROM campaigns WHERE id = $1),
		(SELECT count(*) FROM approval_drafts WHERE campaign_id = $1)`, campaignID).Scan(&s.Versions, &s.Counter, &s.Drafts))
	return s
}

// TestCreateDraftFreezesInItsTransaction checks R-VER-7 at the store: creating a draft freezes the
// working copy as a version in the transaction that inserts the draft, so the version exists exactly
// when the draft does. A draft whose insert fails (its contact count refused by the table's CHECK,
// after the freeze ran) leaves no version and no move of the campaign's version counter, even when the
// working copy had changed since the last version; a refused campaign (in error) freezes nothing; an
// unchanged working copy reuses the latest version; a de-duplicated request (R-DRAFT-6) returns the
// in-flight draft with its own version and freezes nothing.
func TestCreateDraftFreezesInItsTransaction(t *testing.T) {
	ctx := context.Background()
	pool := testenv.Database(t)
	store := storage.New(pool)
	tn := testenv.NewTenant(t, store, "Drafts", "drafts.test")
	csm := tn.Users[storage.RoleCSM]
	camp, err := store.CreateCampaign(ctx, tn.Account.ID, csm.ID, storage.NewCampaign{Name: "Spring", Kind: storage.CampaignKindCampaign,
		Mode: storage.CampaignModeActive, Content: testenv.CampaignContent()})
	require.NoError(t, err)
	newDraft := func(count int, key string) storage.NewDraft {
		return storage.NewDraft{AccountID: tn.Account.ID, CampaignID: camp.ID, CreatedBy: csm.ID,
			Source: json.RawMessage(`{"type":"saved_search","saved_search_id":"` + key + `"}`), SourceKey: "saved_search:" + key, ContactCount: count}
	}

	// The insert fails after the freeze: no version, no draft.
	_, _, err = store.CreateDraft(ctx, newDraft(0, testenv.NewUUID()), false)
	require.Error(t, err, "contact_count 0 is refused by the table")
	require.Equal(t, versionState{Versions: []int{}, Counter: 1}, readVersionState(t, pool, camp.ID))

	// A draft that is stored pins the working copy, frozen as version 1 by its creator.
	key := testenv.NewUUID()
	d1, existing, err := store.CreateDraft(ctx, newDraft(5, key), true)
	require.NoError(t, err)
	require.False(t, existing)
	require.NotNil(t, d1.CampaignVersion)
	require.Equal(t, 1, *d1.CampaignVersion)
	require.Equal(t, versionState{Versions: []int{1}, Counter: 1, Drafts: 1}, readVersionState(t, pool, camp.ID))
	v1, err := store.CampaignVersion(ctx, tn.Account.ID, camp.ID, 1)
	require.NoError(t, err)
	c, err := store.Campaign(ctx, tn.Account.ID, camp.ID)
	require.NoError(t, err)
	require.Equal(t, storage.FrozenOf(c).Hash(), v1.ContentHash, "version 1 is the working copy")
	require.Equal(t, &csm.ID, v1.CreatedBy)
	got, err := store.Draft(ctx, tn.Account.ID, d1.ID)
	require.NoError(t, err)
	require.Equal(t, d1.CampaignVersion, got.CampaignVersion, "the draft row keeps its version")

	// An unchanged working copy: the next draft reuses version 1.
	d2, _, err := store.CreateDraft(ctx, newDraft(5, testenv.NewUUID()), false)
	require.NoError(t, err)
	require.Equal(t, 1, *d2.CampaignVersion)
	require.Equal(t, versionState{Versions: []int{1}, Counter: 1, Drafts: 2}, readVersionState(t, pool, camp.ID))

	// The working copy changes: a failed draft still freezes nothing, though its freeze made version 2.
	renamed := "Spring, renamed"
	_, _, err = store.UpdateCampaign(ctx, tn.Account.ID, camp.ID, storage.CampaignPatch{Name: &renamed})
	require.NoError(t, err)
	_, _, err = store.CreateDraft(ctx, newDraft(101, testenv.NewUUID()), false)
	require.Error(t, err, "contact_count 101 is refused by the table")
	require.Equal(t, versionState{Versions: []int{1}, Counter: 1, Drafts: 2}, readVersionState(t, pool, camp.ID))

	// A repeat of the in-flight draft's request answers it, pinned to version 1, and freezes nothing.
	again, existing, err := store.CreateDraft(ctx, newDraft(5, key), true)
	require.NoError(t, err)
	require.True(t, existing)
	require.Equal(t, d1.ID, again.ID)
	require.Equal(t, 1, *again.CampaignVersion)
	require.Equal(t, versionState{Versions: []int{1}, Counter: 1, Drafts: 2}, readVersionState(t, pool, camp.ID))

	// A new draft freezes the edit as version 2.
	d3, _, err := store.CreateDraft(ctx, newDraft(5, testenv.NewUUID()), false)
	require.NoError(t, err)
	require.Equal(t, 2, *d3.CampaignVersion)
	require.Equal(t, versionState{Versions: []int{1, 2}, Counter: 2, Drafts: 3}, readVersionState(t, pool, camp.ID))

	// A campaign in error is refused before anything is frozen, though its working copy (the name of
	// version 1 again) differs from the latest version, version 2.
	_, _, err = store.UpdateCampaign(ctx, tn.Account.ID, camp.ID, storage.CampaignPatch{Name: &camp.Name})
	require.NoError(t, err)
	testenv.Fixtures{Pool: pool}.SetCampaignStatus(t, camp.ID, storage.CampaignStatusError)
	_, _, err = store.CreateDraft(ctx, newDraft(5, testenv.NewUUID()), false)
	require.ErrorIs(t, err, storage.ErrCampaignInError)
	require.Equal(t, versionState{Versions: []int{1, 2}, Counter: 2, Drafts: 3}, readVersionState(t, pool, camp.ID))
}

// TestCopyCampaignForDraftCopiesThePinnedVersion checks the copy step of a build (R-VER-7): it copies
// the version the draft pinned, not the working copy edited since; a draft without a version (created
// before migration 00016) copies the working copy, as builds did then.
func TestCopyCampaignForDraftCopiesThePinnedVersion(t *testing.T) {
	ctx := context.Background()
	pool := testenv.Database(t)
	store := storage.New(pool)
	tn := testenv.NewTenant(t, store, "Copies", "copies.test")
	acct, csm := tn.Account.ID, tn.Users[storage.RoleCSM]
	camp, err := store.CreateCampaign(ctx, acct, csm.ID, storage.NewCampaign{Name: "Spring", Kind: storage.CampaignKindCampaign,
		Mode: storage.CampaignModeActive, Content: testenv.CampaignContent()})
	require.NoError(t, err)
	draft := func() storage.ApprovalDraft {
		d, _, err := store.CreateDraft(ctx, storage.NewDraft{AccountID: acct, CampaignID: camp.ID, CreatedBy: csm.ID,
			Source: json.RawMessage(`{"type":"csv","csv_upload_id":"` + testenv.NewUUID() + `"}`), SourceKey: "csv:" + testenv.NewUUID(),
			ContactCount: 5}, false)
		require.NoError(t, err)
		return d
	}
	pinned, legacy := draft(), draft()
	testenv.Fixtures{Pool: pool}.UnversionDraft(t, legacy.ID)
	v1, err := store.CampaignVersion(ctx, acct, camp.ID, 1)
	require.NoError(t, err)

	// The campaign is edited after both drafts were created, before their copy step.
	name, content := "Spring, edited", testenv.CampaignContent()
	content.Sequences[0].Steps[0].Subject = "An edited subject"
	content.Segments = append(content.Segments, storage.Segment{Name: "Added", Filters: storage.SearchFilters{Countries: []string{"FR"}}})
	edited, _, err := store.UpdateCampaign(ctx, acct, camp.ID, storage.CampaignPatch{Name: &name, Content: &content})
	require.NoError(t, err)

	copyOf := func(d storage.ApprovalDraft) storage.Campaign {
		id, err := store.CopyCampaignForDraft(ctx, acct, d.ID)
		require.NoError(t, err)
		again, err := store.CopyCampaignForDraft(ctx, acct, d.ID)
		require.NoError(t, err)
		require.Equal(t, id, again, "idempotent")
		c, err := store.Campaign(ctx, acct, id)
		require.NoError(t, err)
		_, err = store.VisibleCampaign(ctx, acct, id)
		require.ErrorIs(t, err, storage.ErrNotFound, "the copy is hidden")
		require.Equal(t, storage.CampaignModeTest, c.Mode)
		return c
	}
	asActive := func(c storage.Campaign) string {
		f := storage.FrozenOf(c)
		f.Mode = storage.CampaignModeActive
		return f.Hash()
	}

	c := copyOf(pinned)
	require.Equal(t, v1.ContentHash, asActive(c), "the pinned draft's copy is version 1")
	require.Equal(t, "Spring", c.Name)
	require.Equal(t, "Hi", c.Content.Sequences[0].Steps[0].Subject)
	require.Len(t, c.Content.Segments, 1)
	require.Equal(t, 1, c.Version)

	c = copyOf(legacy)
	require.Equal(t, storage.FrozenOf(edited).Hash(), asActive(c), "a draft without a version copies the working copy")
	require.Equal(t, name, c.Name)
	require.Equal(t, "An edited subject", c.Content.Sequences[0].Steps[0].Subject)
}
