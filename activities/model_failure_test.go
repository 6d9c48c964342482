package activities

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/signoff/signoff/ai"
)

// TestModelFailureIsNotRetriedByTheActivity: a model call that failed after the provider's own retries
// is permanent for PersonaliseLeads (a model is never asked 4 × 10 times for one call); a run cut
// short by the activity's own cancellation is left to Temporal.
func TestModelFailureIsNotRetriedByTheActivity(t *testing.T) {
	gaveUp := errors.New("ai: openai qualify: giving up after 4 attempts: status 503 Service Unavailable")
	err := modelFailure(context.Background(), gaveUp)
	assert.ErrorIs(t, err, ai.ErrPermanent)
	assert.ErrorIs(t, err, gaveUp, "the provider's error is kept for the log")

	already := errors.Join(ai.ErrPermanent, errors.New("status 400"))
	assert.Same(t, already, modelFailure(context.Background(), already))

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.NotErrorIs(t, modelFailure(ctx, context.Canceled), ai.ErrPermanent, "a cancelled run stays retryable")
}
