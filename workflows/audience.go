package workflows

import (
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/signoff/signoff/activities"
)

// versionAudienceCount: a request without a policy counts its audience too (R-POL-3), as a regular
// activity started with the run that no decision waits for; the run waits for it only before it
// ends. Before it, only a request under a policy counted its audience (countAudience), and a default
// request's audience_size stayed null.
const versionAudienceCount = "audience-count"

// audienceCountBudget bounds the count of a request without a policy, retries included: a count
// that has not succeeded by then is given up, and the request's audience_size stays null.
const audienceCountBudget = 10 * time.Minute

// startAudienceCount starts counting the audience of a request without a policy (R-POL-3). Nothing
// of the request depends on the count: decisions, timers and the launch go on while it runs, and a
// count that fails leaves only audience_size null. A run under a policy counts in countAudience.
func (w *approvalRequestImpl) startAudienceCount(ctx workflow.Context) {
	if workflow.GetVersion(ctx, versionAudienceCount, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return
	}
	actx := durableCtx(ctx, audienceCountBudget)
	w.audienceCount = workflow.ExecuteActivity(actx, acts.RecordAudience,
		activities.AudienceInput{AccountID: w.in.AccountID, RequestID: w.in.RequestID})
}

// awaitAudienceCount waits, before the run ends, for the count startAudienceCount started, so that
// a request decided and launched at once still records its audience; a count that gave up is logged.
func (w *approvalRequestImpl) awaitAudienceCount(ctx workflow.Context) {
	if w.audienceCount == nil {
		return
	}
	var n int
	if err := w.audienceCount.Get(ctx, &n); err != nil {
		workflow.GetLogger(ctx).Warn("the audience count gave up; the request's audience_size stays null", "error", err)
	}
}
