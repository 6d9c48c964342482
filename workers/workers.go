// Package workers builds the Temporal worker: which workflows and activities it registers and with
// which options, plus the sweeper that repairs, row by row, what a crash or an outage left between
// the database and Temporal (sweeper.go).
package workers

import (
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/signoff/signoff/activities"
	"github.com/signoff/signoff/workflows"
)

// New returns a worker on taskQueue with Signoff's workflows and acts registered.
func New(c client.Client, taskQueue string, acts *activities.Activities) worker.Worker {
	w := worker.New(c, taskQueue, worker.Options{
		// Let in-flight activities finish on shutdown before the process exits.
		WorkerStopTimeout: 15 * time.Second,
		// Many timers can come due at once (every request of a campaign ending at midnight): more
		// workflow-task pollers let the worker take their tasks in parallel.
		MaxConcurrentWorkflowTaskPollers: 64,
		// A workflow task waits on this worker's sticky queue up to this long before the server moves
		// it to the shared queue (and the worker must replay the history). The default 5 s is
		// shorter than the backlog when thousands of timers fire at once, and a task that times out
		// on the sticky queue is replayed in full, redoing work on a server that is already loaded.
		// A worker that stops cleanly hands its sticky tasks back at once; only after a hard crash
		// do tasks already queued for it wait this long.
		StickyScheduleToStartTimeout: 30 * time.Second,
	})
	Register(w, acts)
	return w
}

// Register adds every workflow and activity to r (a worker, or a replayer in tests).
func Register(r worker.Registry, acts *activities.Activities) {
	r.RegisterWorkflowWithOptions(workflows.ApprovalRequest, workflow.RegisterOptions{Name: workflows.ApprovalRequestWorkflowName})
	r.RegisterWorkflowWithOptions(workflows.ApprovalDraft, workflow.RegisterOptions{Name: workflows.ApprovalDraftWorkflowName})
	r.RegisterWorkflowWithOptions(workflows.WebhookDelivery, workflow.RegisterOptions{Name: workflows.WebhookDeliveryWorkflowName})
	r.RegisterActivity(acts)
}
