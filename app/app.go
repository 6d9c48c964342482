// Package app is Signoff's use-case layer: every operation a person or a scheduler can ask for
// (submit, resubmit, decide, change approvers, launch, create a draft, rotate its link, write a
// review…) is one method of App taking a typed input and the acting user, returning a typed result or
// an *errs.Error. The rules live here once; api binds and answers HTTP around it, workflows and
// storage do the orchestration and the reads and writes underneath.
//
// It is one package with a file per area, not a package per area, because the areas share their
// rules: submitting is checked the same way by submit, resubmit and the draft flow; who may edit a
// campaign decides edits, submissions, cancellations and drafts alike.
package app

import (
	"time"

	"go.temporal.io/sdk/client"
	"go.uber.org/zap"

	"github.com/signoff/signoff/sharelink"
	"github.com/signoff/signoff/storage"
)

// App holds what the use cases need. Build one per process and share it.
type App struct {
	// Store is the Postgres read model.
	Store *storage.Store
	// Temporal starts and drives workflows.
	Temporal client.Client
	// TaskQueue is where the workflows the use cases start run.
	TaskQueue string
	// Log is the logger of use cases run outside a request (the sweeper, background jobs); a request's
	// own logger, with its request id, comes in its context (WithLogger).
	Log *zap.Logger
	// PublicURL prefixes share links.
	PublicURL string
	// Sealer opens share tokens so a CSM can copy the link again; nil hides share links.
	Sealer *sharelink.Sealer
	// CSVMaxBytes bounds CSV uploads (SIGNOFF_CSV_MAX_BYTES); 0 means 1 MiB.
	CSVMaxBytes int64
	// WebhookAllowPrivate (SIGNOFF_WEBHOOK_ALLOW_PRIVATE) accepts http endpoint URLs and private
	// addresses (R-HOOK-5): for development and tests.
	WebhookAllowPrivate bool
	// ImmediateApprovalWindow is how long a request for a campaign starting now stays open (R-APPR-6).
	ImmediateApprovalWindow time.Duration
}

// User is an authenticated person of an account: who acts in every use case.
type User = storage.User
