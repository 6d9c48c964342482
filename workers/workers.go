// Package workers builds the Temporal worker: which workflows and activities it registers and with
// which options, plus the sweeper that starts workflows an API crash left unstarted.
package workers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"go.uber.org/zap"

	"github.com/signoff/signoff/activities"
	"github.com/signoff/signoff/storage"
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
		// shorter than the backlog when thousands of timers fire at once: 149 of 200 sampled timer
		// workflows had a task time out that way, redoing work on an overloaded server (BENCHMARKS.md).
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
	r.RegisterActivity(acts)
}

// Sweep repairs what a crash between a database commit and a Temporal call could leave behind,
// reading only the database: it starts the workflow of every pending request whose start was never
// recorded, and repeats the signals for revoked approvers and disabled accounts. It returns how many
// workflows it started or signalled.
func Sweep(ctx context.Context, c client.Client, store *storage.Store, taskQueue string, olderThan time.Duration) (int, error) {
	reqs, err := store.UnstartedRequests(ctx, time.Now().Add(-olderThan))
	if err != nil {
		return 0, err
	}
	n := 0
	for _, r := range reqs {
		if err := workflows.StartApprovalRequest(ctx, c, taskQueue, r); err != nil {
			return n, err
		}
		if err := store.MarkWorkflowStarted(ctx, r.ID); err != nil {
			return n, err
		}
		n++
	}
	drafts, err := store.UnstartedDrafts(ctx, time.Now().Add(-olderThan))
	if err != nil {
		return n, err
	}
	for _, d := range drafts {
		var src activities.DraftSource
		if err := json.Unmarshal(d.Source, &src); err != nil {
			return n, fmt.Errorf("draft %s source: %w", d.ID, err)
		}
		if err := workflows.StartApprovalDraft(ctx, c, taskQueue, workflows.DraftInputFromDraft(d, src)); err != nil {
			return n, err
		}
		if err := store.MarkDraftWorkflowStarted(ctx, d.ID); err != nil {
			return n, err
		}
		n++
	}
	stale, err := store.StaleAssignments(ctx)
	if err != nil {
		return n, err
	}
	for _, a := range stale {
		if err := signal(ctx, c, a.RequestID, workflows.SignalApproverRevoked, workflows.ApproverRevokedSignal{UserID: a.UserID}); err != nil {
			return n, err
		}
		n++
	}
	disabled, err := store.PendingInDisabledAccounts(ctx)
	if err != nil {
		return n, err
	}
	for _, id := range disabled {
		if err := signal(ctx, c, id, workflows.SignalApprovalsDisabled, nil); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

func signal(ctx context.Context, c client.Client, requestID, name string, arg any) error {
	err := c.SignalWorkflow(ctx, workflows.ApprovalRequestWorkflowID(requestID), "", name, arg)
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return nil
	}
	return err
}

// RunSweeper calls Sweep every interval until ctx ends.
func RunSweeper(ctx context.Context, c client.Client, store *storage.Store, taskQueue string, interval time.Duration, log *zap.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		n, err := Sweep(ctx, c, store, taskQueue, interval)
		if err != nil && ctx.Err() == nil {
			log.Warn("sweeper", zap.Error(err))
		} else if n > 0 {
			log.Info("sweeper repaired approval workflows", zap.Int("count", n))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
