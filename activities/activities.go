// Package activities holds the I/O steps of Signoff's workflows. Every activity is idempotent,
// keyed by its workflow and step, so a retry after a crash repeats nothing.
package activities

import (
	"context"
	"encoding/json"

	"go.uber.org/zap"

	"github.com/signoff/signoff/ai"
	"github.com/signoff/signoff/email"
	"github.com/signoff/signoff/sharelink"
	"github.com/signoff/signoff/storage"
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
	// BuildCapacity is how many drafts one account may build at once (SIGNOFF_BUILD_CAPACITY); 0 is unlimited.
	BuildCapacity int
	// Log is the worker's logger.
	Log *zap.Logger
}

// Mailer sends an email; email.SendGrid implements it.
type Mailer interface {
	Send(ctx context.Context, m email.Message) error
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
