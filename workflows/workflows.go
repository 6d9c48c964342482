// Package workflows holds Signoff's Temporal workflows: orchestration only, deterministic. Names of
// workflows, signals, updates and search attributes are constants here so the use cases and the
// worker agree on them. Workflow inputs, Update arguments and Update results are this package's own
// types: their JSON is what workflow histories record, so they change only with versioning. The
// workflows import activities (the steps they run) and errs (the codes of their errors), nothing
// else of Signoff.
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

// Search attribute names of SPEC §7, all of type Keyword: set when a workflow starts, the status
// upserted as it changes.
const (
	SearchAttrAccountID  = "SignoffAccountId"
	SearchAttrCampaignID = "SignoffCampaignId"
	SearchAttrStatus     = "SignoffStatus"
)

// SearchAttributes lists the search attribute names, for registering them with a namespace.
func SearchAttributes() []string {
	return []string{SearchAttrAccountID, SearchAttrCampaignID, SearchAttrStatus}
}

// Search attribute keys of SPEC §7.
var (
	AccountIDKey  = temporal.NewSearchAttributeKeyKeyword(SearchAttrAccountID)
	CampaignIDKey = temporal.NewSearchAttributeKeyKeyword(SearchAttrCampaignID)
	StatusKey     = temporal.NewSearchAttributeKeyKeyword(SearchAttrStatus)
)
