package api_test

import (
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/signoff/signoff/storage"
)

// probeWebhookURL never resolves (RFC 6761), so nothing is sent if a delivery of a probe's endpoint starts.
const probeWebhookURL = "https://receiver.invalid/hook"

// newProbeWebhook stores an endpoint of the account subscribed to every event, with a placeholder sealed secret.
func newProbeWebhook(t *testing.T, store *storage.Store, accountID, userID string) storage.WebhookEndpoint {
	t.Helper()
	e, err := store.CreateWebhookEndpoint(t.Context(), storage.NewWebhookEndpoint{AccountID: accountID, URL: probeWebhookURL,
		Events: []string{"campaign.launched"}, SecretSealed: []byte("sealed"), CreatedBy: userID})
	require.NoError(t, err)
	return e
}

// newProbeDelivery stores an event and a delivery of it to endpoint e, marked started so no dispatcher sends it.
func newProbeDelivery(t *testing.T, pool *pgxpool.Pool, e storage.WebhookEndpoint) string {
	t.Helper()
	var id string
	require.NoError(t, pool.QueryRow(t.Context(), `WITH ev AS (
			INSERT INTO webhook_events (account_id, type, subject_id, data) VALUES ($1, 'campaign.launched', gen_random_uuid(), '{}')
			RETURNING id)
		INSERT INTO webhook_deliveries (account_id, event_id, endpoint_id, workflow_started_at)
		SELECT $1, ev.id, $2, now() FROM ev RETURNING id`, e.AccountID, e.ID).Scan(&id))
	return id
}
