package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// IdempotencyState is what a request carrying an Idempotency-Key should do.
type IdempotencyState int

// The outcomes of BeginIdempotent.
const (
	// IdempotencyNew: this request owns the key; run it.
	IdempotencyNew IdempotencyState = iota
	// IdempotencyReplay: the key has an answer; send it again.
	IdempotencyReplay
	// IdempotencyInProgress: another request with the key is running.
	IdempotencyInProgress
	// IdempotencyMismatch: the key was used for a different request.
	IdempotencyMismatch
)

// IdempotencyLease is how long a claimed key may stay unanswered before a retry may take it over
// (the request that claimed it died).
const IdempotencyLease = 30 * time.Second

// BeginIdempotent claims key for userID and a request whose hash is hash, or reports the stored answer.
func (s *Store) BeginIdempotent(ctx context.Context, userID, key string, hash []byte) (IdempotencyState, int, []byte, error) {
	tag, err := s.Pool.Exec(ctx, `INSERT INTO idempotency_keys (user_id, key, request_hash) VALUES ($1, $2, $3)
		ON CONFLICT (user_id, key) DO NOTHING`, userID, key, hash)
	if err != nil {
		return 0, 0, nil, fmt.Errorf("storage: idempotency: %w", err)
	}
	if tag.RowsAffected() == 1 {
		return IdempotencyNew, 0, nil, nil
	}
	var stored []byte
	var status *int
	var resp []byte
	var created time.Time
	err = s.Pool.QueryRow(ctx, `SELECT request_hash, status_code, response, created_at FROM idempotency_keys WHERE user_id = $1 AND key = $2`,
		userID, key).Scan(&stored, &status, &resp, &created)
	if errors.Is(err, pgx.ErrNoRows) {
		return s.BeginIdempotent(ctx, userID, key, hash) // abandoned meanwhile: claim it
	}
	if err != nil {
		return 0, 0, nil, fmt.Errorf("storage: idempotency: %w", err)
	}
	switch {
	case !bytes.Equal(stored, hash):
		return IdempotencyMismatch, 0, nil, nil
	case status != nil:
		return IdempotencyReplay, *status, resp, nil
	}
	tag, err = s.Pool.Exec(ctx, `UPDATE idempotency_keys SET created_at = now() WHERE user_id = $1 AND key = $2
		AND status_code IS NULL AND created_at = $3 AND created_at < now() - $4::interval`, userID, key, created, IdempotencyLease.String())
	if err != nil {
		return 0, 0, nil, fmt.Errorf("storage: idempotency: %w", err)
	}
	if tag.RowsAffected() == 1 {
		return IdempotencyNew, 0, nil, nil
	}
	return IdempotencyInProgress, 0, nil, nil
}

// CompleteIdempotent stores the answer of a claimed key.
func (s *Store) CompleteIdempotent(ctx context.Context, userID, key string, status int, body []byte) error {
	if _, err := s.Pool.Exec(ctx, `UPDATE idempotency_keys SET status_code = $3, response = $4, completed_at = now()
		WHERE user_id = $1 AND key = $2`, userID, key, status, body); err != nil {
		return fmt.Errorf("storage: idempotency: %w", err)
	}
	return nil
}

// AbandonIdempotent releases a claimed key whose request failed on the server, so a retry runs again.
func (s *Store) AbandonIdempotent(ctx context.Context, userID, key string) error {
	if _, err := s.Pool.Exec(ctx, `DELETE FROM idempotency_keys WHERE user_id = $1 AND key = $2 AND status_code IS NULL`, userID, key); err != nil {
		return fmt.Errorf("storage: idempotency: %w", err)
	}
	return nil
}
