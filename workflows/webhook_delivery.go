package workflows

import (
	"context"
	"fmt"
	"net/url"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/signoff/signoff/activities"
)

// WebhookDeliveryWorkflowName is the registered name of the delivery workflow.
const WebhookDeliveryWorkflowName = "WebhookDelivery"

// WebhookDeliveryWorkflowID is the workflow id of delivery id.
func WebhookDeliveryWorkflowID(id string) string { return "webhook-delivery/" + id }

// WebhookTaskQueue is the task queue the delivery workflows of the worker polling queue run on: a queue
// of their own, so that a burst of deliveries waits there, at the pace the webhook worker allows, and
// never ahead of a decision on the main queue.
func WebhookTaskQueue(queue string) string { return queue + "-webhooks" }

// Results of a delivery workflow; failed means the retries ran out.
const (
	WebhookResultDelivered = activities.WebhookDelivered
	WebhookResultGone      = activities.WebhookGone
	WebhookResultCancelled = activities.WebhookCancelled
	WebhookResultFailed    = "failed"
)

// Defaults of the delivery's retries (R-HOOK-3): 30 s, doubling, at most an hour apart, for 24 h.
const (
	defaultWebhookFirstRetry = 30 * time.Second
	defaultWebhookMaxRetry   = time.Hour
	defaultWebhookRetryFor   = 24 * time.Hour
)

// WebhookDeliveryInput is one delivery of an event to an endpoint. The retry timing and the timeout are
// inputs so tests and operators can shorten them; zero values are the defaults.
type WebhookDeliveryInput struct {
	DeliveryID string
	AccountID  string
	CampaignID string
	// FirstRetry is the wait after the first failed attempt, doubled after each next one up to MaxRetry.
	FirstRetry time.Duration
	MaxRetry   time.Duration
	// RetryFor is how long after the first attempt the delivery keeps trying (24 h).
	RetryFor time.Duration
	// Timeout bounds one POST (10 s).
	Timeout time.Duration
}

// WebhookStateQuery is the query that answers a delivery's WebhookDeliveryState (SPEC §7's state query).
const WebhookStateQuery = "state"

// WebhookDeliveryState is what the state query answers.
type WebhookDeliveryState struct {
	Attempts int
	Outcome  string
	Next     time.Time
}

// StartWebhookDelivery starts the workflow of a stored delivery with the account and campaign search
// attributes and a static summary naming the event type and the endpoint (what an operator looks for in
// the Temporal UI). The id is reject-duplicate, so a delivery is started once however many dispatchers
// see it: a second start is a no-op.
func StartWebhookDelivery(ctx context.Context, c client.Client, taskQueue string, in WebhookDeliveryInput, eventType, endpointURL string) error {
	attrs := []temporal.SearchAttributeUpdate{AccountIDKey.ValueSet(in.AccountID), StatusKey.ValueSet("pending")}
	if in.CampaignID != "" {
		attrs = append(attrs, CampaignIDKey.ValueSet(in.CampaignID))
	}
	_, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       WebhookDeliveryWorkflowID(in.DeliveryID),
		TaskQueue:                taskQueue,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		TypedSearchAttributes:    temporal.NewSearchAttributes(attrs...),
		StaticSummary:            webhookSummary(eventType, endpointURL),
		StaticDetails:            fmt.Sprintf("delivery %s\nevent %s\nendpoint %s", in.DeliveryID, eventType, endpointURL),
	}, WebhookDeliveryWorkflowName, in)
	if err != nil && !isAlreadyStarted(err) {
		return fmt.Errorf("workflows: start webhook delivery: %w", err)
	}
	return nil
}

// webhookSummary is a delivery's one-line summary: the event type and the endpoint's host.
func webhookSummary(eventType, endpointURL string) string {
	host := endpointURL
	if u, err := url.Parse(endpointURL); err == nil && u.Host != "" {
		host = u.Host
	}
	return eventType + " → " + host
}

// WebhookDelivery delivers one event to one endpoint (R-HOOK-3): an attempt, and after a failure
// (non-2xx, timeout, refused connection) a durable timer with backoff before the next, for 24 h. It is a
// loop of single attempts rather than one activity under a 24 h retry policy so that each attempt is
// recorded with its next try as the workflow will actually take it, a 410 or a deleted endpoint ends it
// between attempts, and the waits show in the history as timers named for their attempt.
func WebhookDelivery(ctx workflow.Context, in WebhookDeliveryInput) (string, error) {
	if in.FirstRetry <= 0 {
		in.FirstRetry = defaultWebhookFirstRetry
	}
	if in.MaxRetry <= 0 {
		in.MaxRetry = defaultWebhookMaxRetry
	}
	if in.RetryFor <= 0 {
		in.RetryFor = defaultWebhookRetryFor
	}
	state := WebhookDeliveryState{}
	if err := workflow.SetQueryHandler(ctx, WebhookStateQuery, func() (WebhookDeliveryState, error) { return state, nil }); err != nil {
		return "", err
	}
	timeout := in.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: timeout + 30*time.Second,
		// Retries of the step itself (the database or the worker failing), not of the receiver's answers.
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: time.Minute, MaximumAttempts: 5},
	})
	start := workflow.Now(ctx)
	wait := in.FirstRetry
	for attempt := 1; ; attempt++ {
		retryIn := wait
		if workflow.Now(ctx).Add(wait).Sub(start) > in.RetryFor {
			retryIn = 0
		}
		var res activities.DeliverWebhookResult
		err := workflow.ExecuteActivity(actx, acts.DeliverWebhook, activities.DeliverWebhookInput{
			DeliveryID: in.DeliveryID, Attempt: attempt, Timeout: in.Timeout, RetryIn: retryIn}).Get(ctx, &res)
		state.Attempts = attempt
		if err != nil {
			workflow.GetLogger(ctx).Error("webhook attempt could not run", "attempt", attempt, "error", err)
			res.Outcome = activities.WebhookRetry
		}
		if res.Outcome != activities.WebhookRetry {
			return finishDelivery(ctx, &state, res.Outcome)
		}
		if retryIn == 0 {
			return finishDelivery(ctx, &state, WebhookResultFailed)
		}
		state.Next = workflow.Now(ctx).Add(retryIn)
		if err := workflow.NewTimerWithOptions(ctx, retryIn, workflow.TimerOptions{Summary: fmt.Sprintf("retry %d", attempt)}).Get(ctx, nil); err != nil {
			return "", err
		}
		wait = min(2*wait, in.MaxRetry)
	}
}

// finishDelivery records the outcome in the state and the status search attribute.
func finishDelivery(ctx workflow.Context, state *WebhookDeliveryState, outcome string) (string, error) {
	state.Outcome, state.Next = outcome, time.Time{}
	if err := workflow.UpsertTypedSearchAttributes(ctx, StatusKey.ValueSet(outcome)); err != nil {
		return "", err
	}
	return outcome, nil
}
