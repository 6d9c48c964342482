package storage

import (
	"context"
	"fmt"
	"time"
)

// CSVUpload is an uploaded file of sample contacts: its header and rows, stored as parsed.
type CSVUpload struct {
	ID        string     `json:"id"`
	Filename  string     `json:"filename"`
	Columns   []string   `json:"columns"`
	Rows      [][]string `json:"-"`
	RowCount  int        `json:"row_count"`
	CreatedBy string     `json:"created_by"`
	CreatedAt time.Time  `json:"created_at"`
}

// CreateCSVUpload stores a parsed CSV file for account accountID.
func (s *Store) CreateCSVUpload(ctx context.Context, accountID, createdBy, filename string, columns []string, rows [][]string) (CSVUpload, error) {
	u := CSVUpload{Filename: filename, Columns: columns, Rows: rows, RowCount: len(rows), CreatedBy: createdBy}
	err := s.Pool.QueryRow(ctx, `INSERT INTO csv_uploads (account_id, created_by, filename, columns, rows, row_count)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING id, created_at`, accountID, createdBy, filename, columns, rows, len(rows)).
		Scan(&u.ID, &u.CreatedAt)
	if err != nil {
		return CSVUpload{}, fmt.Errorf("storage: create csv upload: %w", err)
	}
	return u, nil
}

// CSVUpload returns upload id of account accountID with its rows.
func (s *Store) CSVUpload(ctx context.Context, accountID, id string) (CSVUpload, error) {
	var u CSVUpload
	err := s.Pool.QueryRow(ctx, `SELECT id, filename, columns, rows, row_count, created_by, created_at
		FROM csv_uploads WHERE account_id = $1 AND id = $2`, accountID, id).
		Scan(&u.ID, &u.Filename, &u.Columns, &u.Rows, &u.RowCount, &u.CreatedBy, &u.CreatedAt)
	if err != nil {
		return CSVUpload{}, notFound("storage: csv upload", err)
	}
	return u, nil
}
