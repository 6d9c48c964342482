package workers_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"

	"github.com/signoff/signoff/activities"
	"github.com/signoff/signoff/sharelink"
	"github.com/signoff/signoff/storage"
	"github.com/signoff/signoff/testenv"
	"github.com/signoff/signoff/webhooks"
	"github.com/signoff/signoff/workers"
	"github.com/signoff/signoff/workflows"
)

// A burst of events is started at the dispatcher's rate and delivered on the webhook task queue by the
// webhook worker alone (issue 16: a burst must not take the capacity decisions need on the main queue):
// no worker polls the main queue here, yet every delivery reaches the receiver, and starting 12 of
// them at 4 per second takes at least the 2 s the token bucket allows. Each run's summary names its
// event type and endpoint.
func TestWebhookBurstPacedOnItsOwnQueue(t *testing.T) {
	f := newSweepFixture(t)
	ctx := context.Background()
	key, err := sharelink.ParseKey(sharelink.NewKey())
	require.NoError(t, err)
	sealer, err := sharelink.NewSealer(key)
	require.NoError(t, err)

	var mu sync.Mutex
	got := map[string]bool{}
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got[r.Header.Get("webhook-id")] = true
		mu.Unlock()
	}))
	defer rc.Close()
	secret, err := webhooks.NewSecret()
	require.NoError(t, err)
	const typ = "campaign.launch_skipped"
	_, err = f.store.CreateWebhookEndpoint(ctx, storage.NewWebhookEndpoint{AccountID: f.accountID, URL: rc.URL,
		Events: []string{typ}, SecretSealed: sealer.Seal(secret), CreatedBy: f.adminID})
	require.NoError(t, err)
	camp := f.campaign("Burst")
	const burst = 12
	_, err = f.store.Pool.Exec(ctx, `SELECT webhook_emit($1, $2, $3, gen_random_uuid(), '{"burst":true}'::jsonb)
		FROM generate_series(1, $4)`, f.accountID, typ, camp.ID, burst)
	require.NoError(t, err)
	keys, err := f.store.UnstartedDeliveries(ctx, 100)
	require.NoError(t, err)
	require.Len(t, keys, burst)

	acts := &activities.Activities{Store: f.store, Log: testenv.Logger(t), Sealer: sealer, WebhookAllowPrivate: true,
		Webhooks: webhooks.NewClient(webhooks.Options{AllowPrivate: true})}
	hw := workers.NewWebhookWorker(f.tc, f.queue, acts, 0)
	require.NoError(t, hw.Start())
	defer hw.Stop()
	d := &workers.WebhookDispatcher{Client: f.tc, Store: f.store, TaskQueue: workflows.WebhookTaskQueue(f.queue), Rate: 4}
	dctx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := time.Now()
	go d.Run(dctx)
	require.Eventually(t, func() bool {
		left, err := f.store.UnstartedDeliveries(ctx, 100)
		return err == nil && len(left) == 0
	}, 30*time.Second, 10*time.Millisecond, "the dispatcher never started every delivery")
	took := time.Since(start)
	require.GreaterOrEqualf(t, took, 1900*time.Millisecond, "12 starts at 4 per second (a bucket of 4) took %s", took)

	for _, k := range keys {
		run := f.tc.GetWorkflow(ctx, workflows.WebhookDeliveryWorkflowID(k.ID), "")
		var result string
		require.NoError(t, run.Get(ctx, &result))
		require.Equal(t, workflows.WebhookResultDelivered, result)
		desc, err := f.tc.DescribeWorkflowExecution(ctx, workflows.WebhookDeliveryWorkflowID(k.ID), "")
		require.NoError(t, err)
		require.Equal(t, workflows.WebhookTaskQueue(f.queue), desc.GetExecutionConfig().GetTaskQueue().GetName())
		// The Temporal UI names the event and the endpoint (SPEC §7).
		var summary string
		require.NoError(t, converter.GetDefaultDataConverter().FromPayload(desc.GetExecutionConfig().GetUserMetadata().GetSummary(), &summary))
		require.Equal(t, typ+" → "+strings.TrimPrefix(rc.URL, "http://"), summary)
	}
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, got, burst, "every event reached the receiver once")
}
