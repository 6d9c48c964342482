package app

import (
	"context"
	"crypto/sha256"

	"github.com/signoff/signoff/errs"
	"github.com/signoff/signoff/storage"
)

// idempotencyKeyField names the Idempotency-Key in the answers about it.
const idempotencyKeyField = "Idempotency-Key"

// IdempotentRequest is a request carrying an Idempotency-Key: the key, what the request does (its
// method and path) and its body. A retry must repeat all three.
type IdempotentRequest struct {
	Key    string
	Target string
	Body   []byte
}

// IdempotencyClaim is what BeginIdempotent found for a key: either this request now owns the key
// (run it; ClaimID identifies this use of the key), or the key already holds an answer to replay.
type IdempotencyClaim struct {
	// Replay says the key has an answer: Status and Response are to be sent again.
	Replay   bool
	Status   int
	Response []byte
	// ClaimID stays the same when a retry takes over a dead request's claim and changes when the key
	// is claimed again after it expired; it is empty for keys claimed before claim ids existed.
	ClaimID string
}

// BeginIdempotent claims r's key for u, or answers the stored answer to replay. A key whose request is
// still running is idempotency_in_progress (409, retry in a moment); a key used for a different
// request is a validation failure on the key.
func (a *App) BeginIdempotent(ctx context.Context, u User, r IdempotentRequest) (IdempotencyClaim, error) {
	h := sha256.New()
	h.Write([]byte(r.Target + "\n"))
	h.Write(r.Body)
	claim, err := a.Store.BeginIdempotent(ctx, u.ID, r.Key, h.Sum(nil))
	if err != nil {
		return IdempotencyClaim{}, storeErr(err)
	}
	switch claim.State {
	case storage.IdempotencyReplay:
		return IdempotencyClaim{Replay: true, Status: claim.Status, Response: claim.Response}, nil
	case storage.IdempotencyInProgress:
		return IdempotencyClaim{}, errs.New(errs.IdempotencyInProgress, "a request with this Idempotency-Key is still running; retry in a moment")
	case storage.IdempotencyMismatch:
		return IdempotencyClaim{}, errs.Invalid(idempotencyKeyField, "was already used for a different request; use a new key")
	}
	return IdempotencyClaim{ClaimID: claim.ClaimID}, nil
}

// CompleteIdempotent stores the answer of u's claimed key, to be replayed to a retry.
func (a *App) CompleteIdempotent(ctx context.Context, u User, key string, status int, answer []byte) error {
	return storeErr(a.Store.CompleteIdempotent(ctx, u.ID, key, status, answer))
}

// AbandonIdempotent releases u's claimed key whose request did not answer, so a retry runs again at
// once and finds what this attempt did.
func (a *App) AbandonIdempotent(ctx context.Context, u User, key string) error {
	return storeErr(a.Store.AbandonIdempotent(ctx, u.ID, key))
}

// PruneIdempotencyKeys deletes the keys older than their time to live (storage.IdempotencyTTL) and
// answers how many it deleted. Lookups already ignore such keys; pruning keeps the table small.
func (a *App) PruneIdempotencyKeys(ctx context.Context) (int64, error) {
	n, err := a.Store.PruneIdempotencyKeys(ctx, storage.IdempotencyTTL)
	return n, storeErr(err)
}
