// Package activities holds the I/O steps of Signoff's workflows. Every activity is idempotent,
// keyed by its workflow and step, so a retry after a crash repeats nothing.
package activities

import (
	"go.uber.org/zap"

	"github.com/signoff/signoff/storage"
)

// Activities holds the dependencies every activity uses.
type Activities struct {
	// Store is the Postgres read model.
	Store *storage.Store
	// Log is the worker's logger.
	Log *zap.Logger
}
