// Package activities holds the I/O steps of Signoff's workflows. Every activity is idempotent,
// keyed by its workflow and step, so a retry after a crash repeats nothing. Activities read and
// write storage rows and answer the workflows with this package's own input and result types, whose
// JSON is what workflow histories record.
package activities

import (
	"context"
	"errors"

	"go.uber.org/zap"

	"github.com/signoff/signoff/ai"
	"github.com/signoff/signoff/email"
	"github.com/signoff/signoff/errs"
	"github.com/signoff/signoff/metrics"
	"github.com/signoff/signoff/sharelink"
	"github.com/signoff/signoff/storage"
	"github.com/signoff/signoff/webhooks"
)

// Activities holds the dependencies every activity uses.
type Activities struct {
	// Store is the Postgres read model.
	Store *storage.Store
	// Mail delivers outbox emails; nil leaves them in the outbox (listed by GET /v1/dev/outbox).
	Mail Mailer
	// AI runs the four pipeline steps on a lead.
	AI *ai.Pipeline
	// Sealer encrypts share tokens at rest (SIGNOFF_SECRET_KEY).
	Sealer *sharelink.Sealer
	// PublicURL (SIGNOFF_PUBLIC_URL) prefixes the decision links in the emails of approvers added to a
	// request (R-ACT-1).
	PublicURL string
	// BuildCapacity is how many drafts one account may build at once (SIGNOFF_BUILD_CAPACITY); 0 is unlimited.
	BuildCapacity int
	// Webhooks sends webhook deliveries through the address guard (R-HOOK-5); nil builds one per attempt.
	Webhooks *webhooks.Client
	// WebhookAllowPrivate (SIGNOFF_WEBHOOK_ALLOW_PRIVATE) lets deliveries reach http URLs and private
	// addresses: for development and tests.
	WebhookAllowPrivate bool
	// Log is the worker's logger.
	Log *zap.Logger
	// Metrics counts the decisions and draft builds the activities record (R-OPS-1); nil counts nothing.
	Metrics *metrics.Metrics
}

// Mailer sends an email; email.SendGrid implements it.
type Mailer interface {
	Send(ctx context.Context, m email.Message) error
}

// Statuses of approval requests, the request statuses the workflow compares its steps' results with.
const (
	RequestStatusPending   = storage.RequestStatusPending
	RequestStatusApproved  = storage.RequestStatusApproved
	RequestStatusRejected  = storage.RequestStatusRejected
	RequestStatusCancelled = storage.RequestStatusCancelled
)

// Statuses of approval drafts that the build workflow sets and reports.
const (
	DraftStatusProcessing = storage.DraftStatusProcessing
	DraftStatusReady      = storage.DraftStatusReady
	DraftStatusFailed     = storage.DraftStatusFailed
)

// MaxReminders is how many times at most a request reminds its approvers (R-ACT-2).
const MaxReminders = storage.MaxReminders

// ApproverStateAssigned is the state of an approver who may decide a request.
const ApproverStateAssigned = storage.ApproverStateAssigned

// Event types of a request's history that the workflow writes: the decision types of Decide and
// DecideAndDeliver, and the skipped launch of RecordEvent.
const (
	EventApproved        = storage.EventApproved
	EventRejected        = storage.EventRejected
	EventCancelled       = storage.EventCancelled
	EventTimedOut        = storage.EventTimedOut
	EventApproverExpired = storage.EventApproverExpired
	EventAutoApproved    = storage.EventAutoApproved
	EventLaunchSkipped   = storage.EventLaunchSkipped
)

// OnNoApproversExpire is the account policy (ExpireResult.Policy) under which a request whose last
// valid approver lost the right expires.
const OnNoApproversExpire = "expire"

// AIPermanent is the Temporal error type of a model call that failed after the provider's own
// retries: the AI step does not retry it. It stays inside the worker and is never answered.
const AIPermanent = "AIPermanent"

// classify turns the store's sentinel errors into non-retryable Temporal errors carrying their codes;
// anything else (Postgres down, a timeout) stays retryable.
func classify(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, storage.ErrAlreadyHandled):
		return errs.Temporal(errs.Wrap(errs.AlreadyHandled, "the request was already handled", err))
	case errors.Is(err, storage.ErrNotApprover):
		return errs.Temporal(errs.Wrap(errs.Forbidden, "you are not (or no longer) an approver of this request", err))
	case errors.Is(err, storage.ErrNotFound):
		return errs.Temporal(errs.Wrap(errs.NotFound, "not found", err))
	case errors.Is(err, storage.ErrStageNotCurrent):
		return errs.Temporal(errs.Wrap(errs.StageNotCurrent, "the request no longer waits for this stage", err))
	}
	return err
}
