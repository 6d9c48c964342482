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

// IdempotencyTTL is how long a key lives after its claim: a key older than this is ignored on
// lookup (its next use runs as new) and removed by PruneIdempotencyKeys.
const IdempotencyTTL = 24 * time.Hour

// IdempotencyClaim is what BeginIdempotent found for a key.
type IdempotencyClaim struct {
	// State says what the request should do.
	State IdempotencyState
	// Status and Response are the stored answer of a replay.
	Status   int
	Response []byte
	// ClaimID identifies this use of the key (IdempotencyNew); it stays the same when a retry takes
	// over a dead request's claim and changes when the key is claimed again after it expired. It is
	// empty for keys claimed before claim ids existed.
	ClaimID string
}

// BeginIdempotent claims key for userID and a request whose hash is hash, or reports the stored
// answer. A key older than IdempotencyTTL counts as unused.
func (s *Store) BeginIdempotent(ctx context.Context, userID, key string, hash []byte) (IdempotencyClaim, error) {
	var claim *string
	err := s.Pool.QueryRow(ctx, `INSERT INTO idempotency_keys AS k (user_id, key, request_hash) VALUES ($1, $2, $3)
		ON CONFLICT (user_id, key) DO UPDATE SET request_hash = EXCLUDED.request_hash, status_code = NULL, response = NULL,
			created_at = now(), completed_at = NULL, claim_id = gen_random_uuid()
		WHERE k.created_at < now() - $4 * interval '1 second'
		RETURNING claim_id::text`, userID, key, hash, IdempotencyTTL.Seconds()).Scan(&claim)
	switch {
	case err == nil:
		return IdempotencyClaim{State: IdempotencyNew, ClaimID: claimID(claim)}, nil
	case !errors.Is(err, pgx.ErrNoRows):
		return IdempotencyClaim{}, fmt.Errorf("storage: idempotency: %w", err)
	}
	var stored []byte
	var status *int
	var resp []byte
	var created time.Time
	err = s.Pool.QueryRow(ctx, `SELECT request_hash, status_code, response, created_at, claim_id::text FROM idempotency_keys
		WHERE user_id = $1 AND key = $2`, userID, key).Scan(&stored, &status, &resp, &created, &claim)
	if errors.Is(err, pgx.ErrNoRows) {
		return s.BeginIdempotent(ctx, userID, key, hash) // abandoned or pruned meanwhile: claim it
	}
	if err != nil {
		return IdempotencyClaim{}, fmt.Errorf("storage: idempotency: %w", err)
	}
	switch {
	case !bytes.Equal(stored, hash):
		return IdempotencyClaim{State: IdempotencyMismatch}, nil
	case status != nil:
		return IdempotencyClaim{State: IdempotencyReplay, Status: *status, Response: resp}, nil
	}
	// Unanswered: a retry takes over the claim of a request that died, keeping its claim id so it
	// finds what that request created.
	tag, err := s.Pool.Exec(ctx, `UPDATE idempotency_keys SET created_at = now() WHERE user_id = $1 AND key = $2
		AND status_code IS NULL AND created_at = $3 AND created_at < now() - $4::interval`, userID, key, created, IdempotencyLease.String())
	if err != nil {
		return IdempotencyClaim{}, fmt.Errorf("storage: idempotency: %w", err)
	}
	if tag.RowsAffected() == 1 {
		return IdempotencyClaim{State: IdempotencyNew, ClaimID: claimID(claim)}, nil
	}
	return IdempotencyClaim{State: IdempotencyInProgress}, nil
}

// CompleteIdempotent stores the answer of a claimed key.
func (s *Store) CompleteIdempotent(ctx context.Context, userID, key string, status int, body []byte) error {
	if _, err := s.Pool.Exec(ctx, `UPDATE idempotency_keys SET status_code = $3, response = $4, completed_at = now()
		WHERE user_id = $1 AND key = $2`, userID, key, status, body); err != nil {
		return fmt.Errorf("storage: idempotency: %w", err)
	}
	return nil
}

// AbandonIdempotent releases a claimed key whose request did not answer (it failed on the server or
// its client left), so a retry runs again at once. The key keeps its claim: the retry derives the
// same ids and finds whatever the abandoned attempt did. Only a retry of the same request may take
// it over; the lease is merely ended early (which brings the key's expiry forward by as much).
func (s *Store) AbandonIdempotent(ctx context.Context, userID, key string) error {
	if _, err := s.Pool.Exec(ctx, `UPDATE idempotency_keys SET created_at = LEAST(created_at, now() - $3 * interval '1 second')
		WHERE user_id = $1 AND key = $2 AND status_code IS NULL`, userID, key, (IdempotencyLease + time.Second).Seconds()); err != nil {
		return fmt.Errorf("storage: idempotency: %w", err)
	}
	return nil
}

// PruneIdempotencyKeys deletes the keys claimed more than olderThan ago, in batches so no statement
// holds many locks, and returns how many it deleted.
func (s *Store) PruneIdempotencyKeys(ctx context.Context, olderThan time.Duration) (int64, error) {
	const batch = 1000
	var total int64
	for {
		tag, err := s.Pool.Exec(ctx, `DELETE FROM idempotency_keys WHERE (user_id, key) IN (
			SELECT user_id, key FROM idempotency_keys WHERE created_at < now() - $1 * interval '1 second' LIMIT $2)`,
			olderThan.Seconds(), batch)
		if err != nil {
			return total, fmt.Errorf("storage: prune idempotency keys: %w", err)
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < batch {
			return total, nil
		}
	}
}

func claimID(id *string) string {
	if id == nil {
		return ""
	}
	return *id
}
