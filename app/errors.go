package app

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/signoff/signoff/errs"
	"github.com/signoff/signoff/storage"
)

// storeErr turns what the store answered into the error a use case returns: the store's sentinels
// become their codes, an unreachable database is unavailable (retry), a cancelled request
// client_closed, and anything else stays as it is (an internal error the API logs). It is the one
// place storage errors meet codes; a use case that wants a more precise message checks the sentinel
// itself first.
func storeErr(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := errs.As(err); ok {
		return err
	}
	var connErr *pgconn.ConnectError
	var ferr *storage.FilterError
	switch {
	case errors.As(err, &ferr):
		return &errs.Error{Code: errs.Validation, Message: ferr.Field + ": " + ferr.Message, Field: ferr.Field, Err: err}
	case errors.Is(err, storage.ErrNotFound):
		return errs.Wrap(errs.NotFound, "no such resource in this account", err)
	case errors.Is(err, context.Canceled):
		return errs.Wrap(errs.ClientClosed, "the request was cancelled", err)
	case errors.As(err, &connErr):
		return errs.Wrap(errs.Unavailable, "the database is not reachable right now; retry in a moment", err)
	case storage.IsCampaignArchived(err):
		return errs.Wrap(errs.CampaignArchived, archivedMessage, err)
	}
	return err
}

// archivedMessage answers any edit, submission or launch of an archived campaign.
const archivedMessage = "this campaign was deleted and is archived with its approval history: " +
	"it can be read but not changed, submitted or launched; create a new campaign instead"
