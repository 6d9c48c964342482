package app

import (
	"context"
	"strings"

	"github.com/signoff/signoff/errs"
	"github.com/signoff/signoff/storage"
)

// SearchFilters select people from the directory (titles, industries, countries, a company size
// range, keywords).
type SearchFilters = storage.SearchFilters

// SavedSearch is a named people-directory query.
type SavedSearch = storage.SavedSearch

// SavedSearchInput is a saved search to create; Filters nil is refused.
type SavedSearchInput struct {
	Name    string
	Filters *SearchFilters
}

// CreateSavedSearch stores a named query of the directory of u's account (drafts.build).
func (a *App) CreateSavedSearch(ctx context.Context, u User, in SavedSearchInput) (SavedSearch, error) {
	if err := requirePermission(u, storage.PermDraftsBuild); err != nil {
		return SavedSearch{}, err
	}
	name := strings.TrimSpace(in.Name)
	if err := checkText("name", name, true, 200); err != nil {
		return SavedSearch{}, err
	}
	if in.Filters == nil {
		return SavedSearch{}, errs.Invalid("filters", "is required (an object with titles, industries, countries, company_size_min, company_size_max, keywords)")
	}
	if err := in.Filters.Validate(); err != nil {
		return SavedSearch{}, storeErr(err)
	}
	ss, err := a.Store.CreateSavedSearch(ctx, u.AccountID, u.ID, name, *in.Filters)
	return ss, storeErr(err)
}

// SavedSearches lists the saved searches of u's account; every user may read them.
func (a *App) SavedSearches(ctx context.Context, u User) ([]SavedSearch, error) {
	list, err := a.Store.SavedSearches(ctx, u.AccountID)
	return list, storeErr(err)
}

// SavedSearch answers saved search id of u's account (404 when there is none).
func (a *App) SavedSearch(ctx context.Context, u User, id string) (SavedSearch, error) {
	ss, err := a.Store.SavedSearch(ctx, u.AccountID, id)
	return ss, storeErr(err)
}

// DeleteSavedSearch removes saved search id of u's account (drafts.build).
func (a *App) DeleteSavedSearch(ctx context.Context, u User, id string) error {
	if err := requirePermission(u, storage.PermDraftsBuild); err != nil {
		return err
	}
	return storeErr(a.Store.DeleteSavedSearch(ctx, u.AccountID, id))
}
