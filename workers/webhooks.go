package workers

import (
	"context"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"github.com/signoff/signoff/activities"

	"github.com/signoff/signoff/storage"
	"github.com/signoff/signoff/workflows"
)

// WebhookDispatcher starts the delivery workflow of every delivery row the outbox holds (R-HOOK-3): at
// once when Postgres announces new rows (LISTEN/NOTIFY), and every Interval as a sweep for safety (a
// notification lost while no connection listened, a start that failed). Each delivery is started once:
// its workflow id is webhook-delivery/{delivery id}, reject-duplicate, so dispatchers of several workers
// may race on a row and only one run exists.
type WebhookDispatcher struct {
	Client client.Client
	Store  *storage.Store
	// TaskQueue is where the deliveries run: workflows.WebhookTaskQueue of the worker's queue, which
	// NewWebhookWorker polls.
	TaskQueue string
	Log       *zap.Logger
	// Rate is how many deliveries per second it starts at most (0: as fast as it can), so that a burst
	// of events is started at the pace the webhook worker delivers it.
	Rate float64
	// Interval is the safety sweep's period; 0 is 10 s.
	Interval time.Duration
	// Delivery carries the retry timing and timeout of the workflows it starts (zero: the defaults).
	Delivery workflows.WebhookDeliveryInput

	limit *rate.Limiter
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
	if d.Rate > 0 {
		d.limit = rate.NewLimiter(rate.Limit(d.Rate), max(1, int(d.Rate)))
	}
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
			if d.limit != nil {
				if err := d.limit.Wait(ctx); err != nil {
					return started, err
				}
			}
			in := d.Delivery
			in.DeliveryID, in.AccountID = k.ID, k.AccountID
			in.CampaignID = ""
			if k.CampaignID != nil {
				in.CampaignID = *k.CampaignID
			}
			if err := workflows.StartWebhookDelivery(ctx, d.Client, d.TaskQueue, in, k.EventType, k.EndpointURL); err != nil {
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

// NewWebhookWorker returns the worker of the deliveries: it polls workflows.WebhookTaskQueue(queue) and
// lets the server start at most perSecond delivery attempts per second on it, counted across every
// worker of the queue (0: no limit). A burst of events then queues there instead of taking, on the
// server and in the worker, the capacity that decisions on the main queue need (issue 16's burst).
func NewWebhookWorker(c client.Client, queue string, acts *activities.Activities, perSecond float64) worker.Worker {
	w := worker.New(c, workflows.WebhookTaskQueue(queue), worker.Options{
		WorkerStopTimeout:                  15 * time.Second,
		TaskQueueActivitiesPerSecond:       perSecond,
		MaxConcurrentActivityExecutionSize: 50,
		MaxConcurrentWorkflowTaskPollers:   4,
		MaxConcurrentActivityTaskPollers:   4,
	})
	w.RegisterWorkflowWithOptions(workflows.WebhookDelivery, workflow.RegisterOptions{Name: workflows.WebhookDeliveryWorkflowName})
	w.RegisterActivity(acts)
	return w
}
