package storage

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// SavedSearch is a named people-directory query.
type SavedSearch struct {
	ID        string        `json:"id"`
	Name      string        `json:"name"`
	Filters   SearchFilters `json:"filters"`
	CreatedBy string        `json:"created_by"`
	CreatedAt time.Time     `json:"created_at"`
}

const savedSearchColumns = `id, name, filters, created_by, created_at`

func savedSearchScan(s *SavedSearch) []any {
	return []any{&s.ID, &s.Name, &s.Filters, &s.CreatedBy, &s.CreatedAt}
}

// CreateSavedSearch stores a saved search for account accountID.
func (s *Store) CreateSavedSearch(ctx context.Context, accountID, createdBy, name string, f SearchFilters) (SavedSearch, error) {
	var ss SavedSearch
	err := s.Pool.QueryRow(ctx, `
		INSERT INTO saved_searches (account_id, created_by, name, filters) VALUES ($1, $2, $3, $4)
		RETURNING `+savedSearchColumns, accountID, createdBy, name, f).Scan(savedSearchScan(&ss)...)
	if err != nil {
		return SavedSearch{}, fmt.Errorf("storage: create saved search: %w", err)
	}
	return ss, nil
}

// SavedSearch returns saved search id of account accountID.
func (s *Store) SavedSearch(ctx context.Context, accountID, id string) (SavedSearch, error) {
	var ss SavedSearch
	err := s.Pool.QueryRow(ctx, `SELECT `+savedSearchColumns+` FROM saved_searches WHERE account_id = $1 AND id = $2`,
		accountID, id).Scan(savedSearchScan(&ss)...)
	if err != nil {
		return SavedSearch{}, notFound("storage: saved search", err)
	}
	return ss, nil
}

// SavedSearches lists the saved searches of account accountID, newest first.
func (s *Store) SavedSearches(ctx context.Context, accountID string) ([]SavedSearch, error) {
	rows, err := s.Pool.Query(ctx, `SELECT `+savedSearchColumns+` FROM saved_searches WHERE account_id = $1
		ORDER BY created_at DESC, id DESC`, accountID)
	if err != nil {
		return nil, fmt.Errorf("storage: saved searches: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (SavedSearch, error) {
		var ss SavedSearch
		return ss, r.Scan(savedSearchScan(&ss)...)
	})
	if err != nil {
		return nil, fmt.Errorf("storage: saved searches: %w", err)
	}
	return out, nil
}

// DeleteSavedSearch deletes saved search id of account accountID.
func (s *Store) DeleteSavedSearch(ctx context.Context, accountID, id string) error {
	tag, err := s.Pool.Exec(ctx, `DELETE FROM saved_searches WHERE account_id = $1 AND id = $2`, accountID, id)
	if err != nil {
		return fmt.Errorf("storage: delete saved search: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("storage: delete saved search: %w", ErrNotFound)
	}
	return nil
}
