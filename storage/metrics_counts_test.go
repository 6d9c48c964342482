package storage_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/signoff/signoff/storage"
	"github.com/signoff/signoff/testenv"
)

// TestDecideRecordedOnce: the first Decide of a request says it recorded the decision, a retry of
// the same decision answers the request but says it recorded nothing, and the pending count follows
// the database; so signoff_decisions_total counts a decision once and the gauge is honest (R-OPS-1).
func TestDecideRecordedOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := storage.New(testenv.Database(t))
	tn := testenv.NewTenant(t, store, "Counts", "counts.test")
	collab, a := tn.Users[storage.RoleCollaborator], tn.Users[storage.RoleApprover]
	start, end := time.Now().Add(time.Hour), time.Now().Add(2*time.Hour)
	c, err := store.CreateCampaign(ctx, tn.Account.ID, collab.ID, storage.NewCampaign{Name: "Counted", Kind: storage.CampaignKindCampaign,
		Mode: storage.CampaignModeActive, StartAt: &start, EndAt: &end, Content: testenv.CampaignContent()})
	require.NoError(t, err)
	n, err := store.CountPendingRequests(ctx)
	require.NoError(t, err)
	require.Zero(t, n)
	r, err := store.CreateApprovalRequest(ctx, storage.NewApprovalRequest{ID: testenv.NewUUID(), AccountID: tn.Account.ID, CampaignID: c.ID,
		SubmittedBy: collab.ID, ApproverIDs: []string{a.ID}, DeadlineAt: end, LaunchAt: &start})
	require.NoError(t, err)
	n, err = store.CountPendingRequests(ctx)
	require.NoError(t, err)
	require.Equal(t, int64(1), n)

	d := storage.Decision{RequestID: r.ID, Type: storage.EventApproved, ActorID: &a.ID, Note: "ok"}
	got, recorded, err := store.DecideRecorded(ctx, tn.Account.ID, d)
	require.NoError(t, err)
	require.True(t, recorded, "the first decision is recorded by this call")
	require.Equal(t, storage.RequestStatusApproved, got.Status)
	got, recorded, err = store.DecideRecorded(ctx, tn.Account.ID, d)
	require.NoError(t, err, "a retry of the same decision answers the request")
	require.False(t, recorded, "a retry records nothing")
	require.Equal(t, storage.RequestStatusApproved, got.Status)
	_, recorded, err = store.DecideRecorded(ctx, tn.Account.ID, storage.Decision{RequestID: r.ID, Type: storage.EventRejected, ActorID: &a.ID})
	require.ErrorIs(t, err, storage.ErrAlreadyHandled)
	require.False(t, recorded)
	n, err = store.CountPendingRequests(ctx)
	require.NoError(t, err)
	require.Zero(t, n)
}

// TestDraftBuildEndsOnce: MarkDraftReady and MarkDraftFailed say whether this call ended the build,
// so signoff_draft_builds_total counts each outcome once; a ready build answers how long it took
// since the draft was asked for (R-OPS-1).
func TestDraftBuildEndsOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testenv.Database(t)
	store := storage.New(pool)
	fx := testenv.Fixtures{Pool: pool}
	tn := testenv.NewTenant(t, store, "Builds", "builds.test")
	csm := tn.Users[storage.RoleCSM]
	c, err := store.CreateCampaign(ctx, tn.Account.ID, csm.ID, storage.NewCampaign{Name: "Built", Kind: storage.CampaignKindCampaign,
		Mode: storage.CampaignModeActive, Content: testenv.CampaignContent()})
	require.NoError(t, err)

	ready := fx.StuckDraft(t, tn.Account.ID, c.ID, csm.ID) // asked for a minute ago
	took, made, err := store.MarkDraftReady(ctx, ready, map[string]any{"leads": []any{}}, []byte("hash-1"), []byte("sealed-1"), 0)
	require.NoError(t, err)
	require.True(t, made)
	require.InDelta(t, time.Minute.Seconds(), took.Seconds(), 5, "ready_at - created_at")
	_, made, err = store.MarkDraftReady(ctx, ready, map[string]any{"leads": []any{}}, []byte("hash-2"), []byte("sealed-2"), 0)
	require.NoError(t, err)
	require.False(t, made, "a retry keeps the first snapshot and counts nothing")

	failed := fx.StuckDraft(t, tn.Account.ID, c.ID, csm.ID)
	ended, err := store.MarkDraftFailed(ctx, failed, "no contacts")
	require.NoError(t, err)
	require.True(t, ended)
	ended, err = store.MarkDraftFailed(ctx, failed, "no contacts")
	require.NoError(t, err)
	require.False(t, ended, "a retry counts nothing")
}
