// Package workflows holds Signoff's Temporal workflows: orchestration only, deterministic.
// Names of task queues, workflows, signals and updates are constants here so the API and the
// worker agree on them.
package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// deliverEmails hands the new outbox emails of a request or draft to the mailer, as a local activity:
// without SendGrid it returns at once, so it costs no round trip through the server. Delivery that
// keeps failing is given up after 20 attempts; the emails stay in the outbox.
func deliverEmails(ctx workflow.Context, ownerID string) {
	lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: 5 * time.Minute, MaximumAttempts: 20},
	})
	if err := workflow.ExecuteLocalActivity(lctx, acts.DeliverEmails, ownerID).Get(ctx, nil); err != nil {
		workflow.GetLogger(ctx).Error("email delivery gave up; the emails stay in the outbox", "error", err)
	}
}

// Search attribute names of SPEC §7, registered by `make dev` and upserted by the workflows.
const (
	SearchAttrAccountID  = "SignoffAccountId"
	SearchAttrCampaignID = "SignoffCampaignId"
	SearchAttrStatus     = "SignoffStatus"
)
