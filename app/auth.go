package app

import (
	"context"
	"errors"

	"github.com/signoff/signoff/errs"
	"github.com/signoff/signoff/storage"
)

// Authenticate resolves a bearer token to the active user holding it (R-AUTH-1); an unknown token, or
// one of a deactivated user, is unauthorized.
func (a *App) Authenticate(ctx context.Context, token string) (User, error) {
	if token == "" {
		return User{}, errs.New(errs.Unauthorized, "the token is not valid")
	}
	u, err := a.Store.UserByTokenHash(ctx, storage.HashToken(token))
	if errors.Is(err, storage.ErrNotFound) {
		return User{}, errs.Wrap(errs.Unauthorized, "the token is not valid", err)
	}
	if err != nil {
		return User{}, storeErr(err)
	}
	return u, nil
}
