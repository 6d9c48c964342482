package activities

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/signoff/signoff/metrics"
)

// TestAttemptMetric checks how a recorded webhook attempt counts in signoff_webhook_deliveries_total
// (R-OPS-1): a 2xx is delivered, a failure the workflow retries is retried, a 410 and the last
// attempt's failure are failed.
func TestAttemptMetric(t *testing.T) {
	for _, tc := range []struct {
		outcome string
		retryIn time.Duration
		want    string
	}{
		{WebhookDelivered, 30 * time.Second, metrics.WebhookDelivered},
		{WebhookDelivered, 0, metrics.WebhookDelivered},
		{WebhookRetry, 30 * time.Second, metrics.WebhookRetried},
		{WebhookRetry, 0, metrics.WebhookFailed},
		{WebhookGone, time.Hour, metrics.WebhookFailed},
	} {
		assert.Equal(t, tc.want, attemptMetric(tc.outcome, tc.retryIn), "%s, retry in %s", tc.outcome, tc.retryIn)
	}
}
