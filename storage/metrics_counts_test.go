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
