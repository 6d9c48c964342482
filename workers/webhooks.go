package workers

import (
	"context"
	"time"

	"go.temporal.io/sdk/client"
	"go.uber.org/zap"

	"github.com/signoff/signoff/storage"
	"github.com/signoff/signoff/workflows"
)

// WebhookDispatcher starts the delivery workflow of every delivery row the outbox holds (R-HOOK-3): at
// once when Postgres announces new rows (LISTEN/NOTIFY), and every Interval as a sweep for safety (a
// notification lost while no connection listened, a start that failed). Each delivery is started once:
// its workflow id is webhook-delivery/{delivery id}, reject-duplicate, so dispatchers of several workers
// may race on a row and only one run exists.
type WebhookDispatcher struct {
	Client    client.Client
	Store     *storage.Store
	TaskQueue string
	Log       *zap.Logger
	// Interval is the safety sweep's period; 0 is 10 s.
	Interval time.Duration
	// Delivery carries the retry timing and timeout of the workflows it starts (zero: the defaults).
	Delivery workflows.WebhookDeliveryInput
}

// dispatchBatch is how many deliveries one pass reads at a time.
const dispatchBatch = 200

// Run dispatches until ctx ends.
func (d *WebhookDispatcher) Run(ctx context.Context) {
	if d.Log == nil {
		d.Log = zap.NewNop()
	}
	interval := d.Interval
	if interval <= 0 {
		interval = 10 * time.Second
	}
	wake := make(chan struct{}, 1)
	notify := func() {
		select {
		case wake <- struct{}{}:
		default:
		}
	}
	go func() { _ = d.Store.WatchWebhookDeliveries(ctx, notify, 5*time.Second) }()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-wake:
		case <-t.C:
		}
		if n, err := d.Pass(ctx); err != nil && ctx.Err() == nil {
			d.Log.Warn("webhook dispatch pass failed; the next pass retries", zap.Error(err), zap.Int("started", n))
		}
	}
}

// Pass starts the workflow of every delivery not started yet and answers how many it started.
func (d *WebhookDispatcher) Pass(ctx context.Context) (int, error) {
	started := 0
	for {
		keys, err := d.Store.UnstartedDeliveries(ctx, dispatchBatch)
		if err != nil {
			return started, err
		}
		for _, k := range keys {
			in := d.Delivery
			in.DeliveryID, in.AccountID = k.ID, k.AccountID
			in.CampaignID = ""
			if k.CampaignID != nil {
				in.CampaignID = *k.CampaignID
			}
			if err := workflows.StartWebhookDelivery(ctx, d.Client, d.TaskQueue, in); err != nil {
				return started, err
			}
			if err := d.Store.MarkDeliveryStarted(ctx, k.ID); err != nil {
				return started, err
			}
			started++
		}
		if len(keys) < dispatchBatch {
			return started, nil
		}
	}
}
