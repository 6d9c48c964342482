// Package testworker starts the real Signoff worker (workers.New: every workflow and activity, the
// production options) inside a test. It is apart from testenv because it imports activities, whose
// own tests import testenv.
package testworker

import (
	"context"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.uber.org/zap"

	"github.com/signoff/signoff/activities"
	"github.com/signoff/signoff/testenv"
	"github.com/signoff/signoff/workers"
	"github.com/signoff/signoff/workflows"
)

// Options are the optional parts of a test's worker.
type Options struct {
	// Register, when set, runs after the real workflows and activities are registered and before the
	// worker starts (to replace an activity and inject a failure).
	Register func(w worker.Worker)
	// SweepEvery, when positive, also runs the sweeper at that interval, as `signoff worker` does.
	SweepEvery time.Duration
	// SweepLog is the sweeper's logger; nil means acts.Log named "sweeper".
	SweepLog *zap.Logger
	// Webhooks, when set, also runs the webhook dispatcher, as `signoff worker` does, starting
	// deliveries with this input's retry timing and timeout (zero values: the production ones).
	Webhooks *workflows.WebhookDeliveryInput
}

// Start starts a worker on queue of tc with acts (a nil acts.Log becomes the test's logger) and
// answers a function that stops it (and its sweeper); calling it again does nothing, and it runs
// when t ends.
func Start(t testing.TB, tc client.Client, queue string, acts *activities.Activities, o Options) (stop func()) {
	t.Helper()
	if acts.Log == nil {
		acts.Log = testenv.Logger(t)
	}
	w := workers.New(tc, queue, acts)
	if o.Register != nil {
		o.Register(w)
	}
	if err := w.Start(); err != nil {
		t.Fatalf("testworker: start the worker on %s: %v", queue, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	if o.SweepEvery > 0 {
		log := o.SweepLog
		if log == nil {
			log = acts.Log.Named("sweeper")
		}
		go func() {
			defer close(done)
			workers.RunSweeper(ctx, tc, acts.Store, queue, o.SweepEvery, log)
		}()
	} else {
		close(done)
	}
	dispatched := make(chan struct{})
	var hw worker.Worker
	if o.Webhooks != nil {
		hw = workers.NewWebhookWorker(tc, queue, acts, 0)
		if err := hw.Start(); err != nil {
			w.Stop()
			t.Fatalf("testworker: start the webhook worker on %s: %v", workflows.WebhookTaskQueue(queue), err)
		}
		d := &workers.WebhookDispatcher{Client: tc, Store: acts.Store, TaskQueue: workflows.WebhookTaskQueue(queue),
			Log: acts.Log.Named("webhooks"), Interval: time.Second, Delivery: *o.Webhooks}
		go func() {
			defer close(dispatched)
			d.Run(ctx)
		}()
	} else {
		close(dispatched)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			<-done
			<-dispatched
			if hw != nil {
				hw.Stop()
			}
			w.Stop()
		})
	}
	t.Cleanup(stop)
	return stop
}
