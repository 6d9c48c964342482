package storage_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/signoff/signoff/storage"
	"github.com/signoff/signoff/testenv"
)

// The webhook outbox (R-HOOK-3) in storage: every state change R-HOOK-1 names writes its event, with one
// delivery per enabled endpoint subscribed to it, in the change's own transaction, whatever store
// function makes the change; a rolled-back change leaves no event.

// hookEvents lists the account's webhook events as "type subject", oldest first.
func hookEvents(t *testing.T, store *storage.Store, accountID string) []string {
	t.Helper()
	rows, err := store.Pool.Query(context.Background(), `SELECT type || ' ' || subject_id FROM webhook_events WHERE account_id = $1 ORDER BY seq`, accountID)
	require.NoError(t, err)
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	return out
}

func TestWebhookOutboxEveryStateChange(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := storage.New(testenv.Database(t))
	tn := testenv.NewTenant(t, store, "Hooks", "hooks.test")
	acct, admin, collab, approver := tn.Account.ID, tn.Users[storage.RoleAdmin], tn.Users[storage.RoleCollaborator], tn.Users[storage.RoleApprover]
	all, err := store.CreateWebhookEndpoint(ctx, storage.NewWebhookEndpoint{AccountID: acct, URL: "https://a.example/hook",
		Events: storage.WebhookEventTypes, SecretSealed: []byte("s"), CreatedBy: admin.ID})
	require.NoError(t, err)
	launchesOnly, err := store.CreateWebhookEndpoint(ctx, storage.NewWebhookEndpoint{AccountID: acct, URL: "https://b.example/hook",
		Events: []string{"campaign.launched"}, SecretSealed: []byte("s"), CreatedBy: admin.ID})
	require.NoError(t, err)
	// Another account's endpoint never gets this account's events.
	other := testenv.NewTenant(t, store, "Other", "other.test")
	_, err = store.CreateWebhookEndpoint(ctx, storage.NewWebhookEndpoint{AccountID: other.Account.ID, URL: "https://c.example/hook",
		Events: storage.WebhookEventTypes, SecretSealed: []byte("s"), CreatedBy: other.Users[storage.RoleAdmin].ID})
	require.NoError(t, err)

	request := func(name string) storage.ApprovalRequest {
		start, end := time.Now().Add(time.Hour), time.Now().Add(2*time.Hour)
		c, err := store.CreateCampaign(ctx, acct, collab.ID, storage.NewCampaign{Name: name, Kind: storage.CampaignKindCampaign,
			Mode: storage.CampaignModeActive, StartAt: &start, EndAt: &end, Content: testenv.CampaignContent()})
		require.NoError(t, err)
		r, err := store.CreateApprovalRequest(ctx, storage.NewApprovalRequest{ID: testenv.NewUUID(), AccountID: acct, CampaignID: c.ID,
			SubmittedBy: collab.ID, ApproverIDs: []string{approver.ID}, DeadlineAt: end, LaunchAt: &start})
		require.NoError(t, err)
		return r
	}
	var want []string
	decide := func(typ string, actor *string) storage.ApprovalRequest {
		r := request("Decided " + typ)
		_, err := store.Decide(ctx, acct, storage.Decision{RequestID: r.ID, Type: typ, ActorID: actor, Note: "n"})
		require.NoError(t, err)
		return r
	}
	approved := decide(storage.EventApproved, &approver.ID)
	want = append(want, "approval_request.submitted "+approved.ID, "approval_request.approved "+approved.ID)
	for typ, hook := range map[string]string{storage.EventRejected: "rejected", storage.EventCancelled: "cancelled",
		storage.EventTimedOut: "timed_out", storage.EventAutoApproved: "auto_approved", storage.EventApproverExpired: "expired"} {
		var actor *string
		if typ == storage.EventRejected || typ == storage.EventCancelled {
			actor = &approver.ID
		}
		r := decide(typ, actor)
		want = append(want, "approval_request.submitted "+r.ID, "approval_request."+hook+" "+r.ID)
	}
	// An approver's own expiry (approver_expired under its own key) is not the request's expiry.
	two := request("Two approvers")
	want = append(want, "approval_request.submitted "+two.ID)
	_, err = store.ExpireApprover(ctx, acct, two.ID, approver.ID)
	require.NoError(t, err)
	// The workflow's launch, and its skipped launch.
	l, created, err := store.LaunchCampaign(ctx, storage.LaunchInput{AccountID: acct, CampaignID: approved.CampaignID, RequestID: &approved.ID,
		Version: approved.CampaignVersion, ContentHash: approved.ContentHash, Source: "workflow"})
	require.NoError(t, err)
	require.True(t, created)
	want = append(want, "campaign.launched "+approved.CampaignID)
	require.NoError(t, store.RecordEvent(ctx, two.ID, storage.EventLaunchSkipped, nil, "", two.ID+":launch_skipped"))
	want = append(want, "campaign.launch_skipped "+two.ID)

	// Drafts: ready, then failed.
	d := testenv.Fixtures{Pool: store.Pool}.StuckDraft(t, acct, approved.CampaignID, admin.ID)
	_, _, err = store.MarkDraftReady(ctx, d, map[string]any{}, []byte("hash-"+d), []byte("sealed"), 3)
	require.NoError(t, err)
	_, err = store.MarkDraftFailed(ctx, d, "no contacts")
	require.NoError(t, err)
	want = append(want, "approval_draft.ready "+d, "approval_draft.failed "+d)

	// A change rolled back writes nothing.
	err = pgx.BeginFunc(ctx, store.Pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO approval_events (account_id, request_id, campaign_id, type, dedupe_key)
			VALUES ($1, $2, $3, 'cancelled', 'rolled-back')`, acct, two.ID, two.CampaignID); err != nil {
			return err
		}
		return errors.New("roll back")
	})
	require.EqualError(t, err, "roll back")

	got := hookEvents(t, store, acct)
	require.ElementsMatch(t, want, got)
	var launchData map[string]any
	require.NoError(t, store.Pool.QueryRow(ctx, `SELECT data FROM webhook_events WHERE type = 'campaign.launched'`).Scan(&launchData))
	require.Equal(t, l.ID, launchData["id"])
	require.Equal(t, l.ContentHash, launchData["content_hash"])

	// One delivery per subscribed enabled endpoint, none to the other account's.
	var toAll, toLaunches, total int
	require.NoError(t, store.Pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE endpoint_id = $1), count(*) FILTER (WHERE endpoint_id = $2), count(*)
		FROM webhook_deliveries`, all.ID, launchesOnly.ID).Scan(&toAll, &toLaunches, &total))
	require.Equal(t, len(want), toAll)
	require.Equal(t, 1, toLaunches)
	require.Equal(t, len(want)+1, total)

	// A disabled endpoint gets no later event.
	require.NoError(t, store.RecordWebhookAttempt(ctx, storage.AttemptRecord{DeliveryID: firstDelivery(t, store, all.ID), Attempt: 1,
		Outcome: storage.AttemptGone, ResponseCode: ptr(410)}))
	e, err := store.WebhookEndpoint(ctx, acct, all.ID)
	require.NoError(t, err)
	require.False(t, e.Enabled)
	request("After the 410")
	require.NoError(t, store.Pool.QueryRow(ctx, `SELECT count(*) FROM webhook_deliveries WHERE endpoint_id = $1`, all.ID).Scan(&toAll))
	require.Equal(t, len(want), toAll, "nothing more for the disabled endpoint")
}

func firstDelivery(t *testing.T, store *storage.Store, endpointID string) string {
	t.Helper()
	var id string
	require.NoError(t, store.Pool.QueryRow(context.Background(), `SELECT id FROM webhook_deliveries WHERE endpoint_id = $1
		ORDER BY created_at LIMIT 1`, endpointID).Scan(&id))
	return id
}

func ptr[T any](v T) *T { return &v }
