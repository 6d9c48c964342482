package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/signoff/signoff/metrics"
	"github.com/signoff/signoff/storage"
	"github.com/signoff/signoff/webhooks"
)

// Outcomes of DeliverWebhook.
const (
	// WebhookDelivered: the receiver answered 2xx.
	WebhookDelivered = "delivered"
	// WebhookRetry: a non-2xx answer, a timeout or a refused connection; the workflow tries again.
	WebhookRetry = "retry"
	// WebhookGone: the receiver answered 410; the endpoint is now disabled.
	WebhookGone = "gone"
	// WebhookCancelled: the endpoint was disabled or deleted, or the delivery was already done.
	WebhookCancelled = "cancelled"
)

// DeliverWebhookInput is one attempt of a delivery.
type DeliverWebhookInput struct {
	DeliveryID string
	// Attempt numbers the attempt from 1; the attempt is recorded once under it.
	Attempt int
	// Timeout bounds the POST; 0 is 10 s (R-HOOK-3).
	Timeout time.Duration
	// RetryIn is when the workflow tries again if this attempt fails, recorded as the attempt's next try;
	// 0 means this is the last attempt.
	RetryIn time.Duration
}

// DeliverWebhookResult says how the attempt ended.
type DeliverWebhookResult struct {
	Outcome    string
	StatusCode int
	Error      string
}

// webhookBody is the JSON a receiver gets (R-HOOK-2).
type webhookBody struct {
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	CreatedAt time.Time       `json:"created_at"`
	AccountID string          `json:"account_id"`
	Data      json.RawMessage `json:"data"`
}

// DeliverWebhook makes one signed POST of a delivery's event to its endpoint and records the attempt
// (R-HOOK-2..4): the body is the same on every attempt, webhook-id is the event id. A 410 disables the
// endpoint; an endpoint disabled or deleted meanwhile ends the delivery cancelled without a POST.
func (a *Activities) DeliverWebhook(ctx context.Context, in DeliverWebhookInput) (DeliverWebhookResult, error) {
	d, err := a.Store.DeliveryForSend(ctx, in.DeliveryID)
	if errors.Is(err, storage.ErrNotFound) {
		return DeliverWebhookResult{Outcome: WebhookCancelled}, nil // the endpoint was deleted with its deliveries
	}
	if err != nil {
		return DeliverWebhookResult{}, err
	}
	if d.Status != storage.DeliveryPending || !d.Enabled {
		if err := a.Store.CancelDelivery(ctx, in.DeliveryID); err != nil {
			return DeliverWebhookResult{}, err
		}
		return DeliverWebhookResult{Outcome: WebhookCancelled}, nil
	}
	if a.Sealer == nil {
		return DeliverWebhookResult{}, errors.New("activities: no SIGNOFF_SECRET_KEY configured to open webhook secrets")
	}
	secret, err := a.Sealer.Open(d.SecretSealed)
	if err != nil {
		return DeliverWebhookResult{}, fmt.Errorf("activities: open webhook secret: %w", err)
	}
	body, err := json.Marshal(webhookBody{ID: d.EventID, Type: d.EventType, CreatedAt: d.CreatedAt.UTC(), AccountID: d.AccountID,
		Data: a.webhookData(ctx, d)})
	if err != nil {
		return DeliverWebhookResult{}, fmt.Errorf("activities: webhook body: %w", err)
	}
	client := a.Webhooks
	if client == nil || in.Timeout > 0 {
		client = webhooks.NewClient(webhooks.Options{AllowPrivate: a.WebhookAllowPrivate, Timeout: in.Timeout})
	}
	res, sendErr := client.Send(ctx, webhooks.Delivery{URL: d.EndpointURL, Secret: secret, ID: d.EventID,
		Timestamp: time.Now(), Body: body})
	out := DeliverWebhookResult{Outcome: WebhookRetry, StatusCode: res.StatusCode}
	rec := storage.AttemptRecord{DeliveryID: in.DeliveryID, Attempt: in.Attempt, Outcome: storage.AttemptFailed, Duration: res.Duration}
	if res.StatusCode != 0 {
		rec.ResponseCode = &res.StatusCode
	}
	switch {
	case sendErr != nil:
		out.Error, rec.Error = sendErr.Error(), sendErr.Error()
	case res.StatusCode >= 200 && res.StatusCode < 300:
		out.Outcome, rec.Outcome = WebhookDelivered, storage.AttemptDelivered
	case res.StatusCode == http.StatusGone:
		out.Outcome, rec.Outcome = WebhookGone, storage.AttemptGone
		rec.Error = "410 Gone: the endpoint is disabled"
	default:
		rec.Error = fmt.Sprintf("the receiver answered %d", res.StatusCode)
		out.Error = rec.Error
	}
	if out.Outcome == WebhookRetry && in.RetryIn > 0 {
		next := time.Now().Add(in.RetryIn).UTC()
		rec.NextTryAt = &next
	}
	if err := a.Store.RecordWebhookAttempt(ctx, rec); err != nil {
		return DeliverWebhookResult{}, err
	}
	a.Metrics.WebhookDelivery(attemptMetric(out.Outcome, in.RetryIn))
	activity.GetLogger(ctx).Info("webhook attempt", "delivery", in.DeliveryID, "attempt", in.Attempt,
		"outcome", out.Outcome, "status", res.StatusCode, "error", out.Error)
	return out, nil
}

// webhookData is the event's data as stored, with a draft's share_url added from its sealed token when
// the draft has one (the GET of a draft answers it).
func (a *Activities) webhookData(ctx context.Context, d storage.DeliveryToSend) json.RawMessage {
	if a.Sealer == nil || !strings.HasPrefix(d.EventType, "approval_draft.") {
		return d.Data
	}
	sealed, err := a.Store.DraftTokenSealed(ctx, d.SubjectID)
	if err != nil || len(sealed) == 0 {
		return d.Data
	}
	tok, err := a.Sealer.Open(sealed)
	if err != nil {
		return d.Data
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(d.Data, &m) != nil {
		return d.Data
	}
	m["share_url"], _ = json.Marshal(a.PublicURL + "/r/" + tok)
	out, err := json.Marshal(m)
	if err != nil {
		return d.Data
	}
	return out
}

// attemptMetric is the signoff_webhook_deliveries_total outcome of a recorded attempt (R-OPS-1):
// delivered; retried when the workflow tries again after retryIn; failed for a 410 or a last attempt.
func attemptMetric(outcome string, retryIn time.Duration) string {
	switch {
	case outcome == WebhookDelivered:
		return metrics.WebhookDelivered
	case outcome == WebhookRetry && retryIn > 0:
		return metrics.WebhookRetried
	default:
		return metrics.WebhookFailed
	}
}
