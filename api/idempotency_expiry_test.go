package api_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/signoff/signoff/api"
	"github.com/signoff/signoff/storage"
)

// TestIdempotencyKeysExpireAndArePruned checks that an Idempotency-Key lives a day: past that it is
// ignored (the same key runs as a new request and creates anew, even with another body) and the
// API's pruning deletes it, leaving younger keys alone.
func TestIdempotencyKeysExpireAndArePruned(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	collab := e.A.Users[storage.RoleCollaborator]
	tok := e.A.Tokens[storage.RoleCollaborator]
	post := func(key, name string) (int, map[string]any, http.Header) {
		rec := e.request(t, http.MethodPost, "/v1/campaigns", tok, map[string]any{"name": name}, api.IdempotencyKeyHeader, key)
		return rec.Code, decodeObject(t, rec), rec.Header()
	}
	age := func(key string, by time.Duration) { e.fx.AgeIdempotencyKey(t, collab.ID, key, by) }
	keyExists := func(key string) bool {
		var n int
		require.NoError(t, e.pool.QueryRow(ctx, `SELECT count(*) FROM idempotency_keys WHERE user_id = $1 AND key = $2`,
			collab.ID, key).Scan(&n))
		return n == 1
	}

	code, first, _ := post("day-key", "Monday")
	require.Equal(t, http.StatusCreated, code, "%v", first)

	// Within the day, the key still answers its first answer.
	age("day-key", storage.IdempotencyTTL-time.Minute)
	code, again, h := post("day-key", "Monday")
	require.Equal(t, http.StatusCreated, code)
	require.Equal(t, "true", h.Get("Idempotent-Replayed"))
	require.Equal(t, first["id"], again["id"])

	// Past the day, the key is forgotten: another body is a new request, not a mismatch, and it
	// creates its own campaign rather than answering the one the key's first use created.
	age("day-key", 2*time.Minute)
	code, next, h := post("day-key", "Tuesday")
	require.Equal(t, http.StatusCreated, code, "%v", next)
	require.Empty(t, h.Get("Idempotent-Replayed"))
	require.NotEqual(t, first["id"], next["id"])
	require.Equal(t, "Tuesday", next["name"])
	code, replay, h := post("day-key", "Tuesday")
	require.Equal(t, http.StatusCreated, code)
	require.Equal(t, "true", h.Get("Idempotent-Replayed"), "the new use of the key answers its own first answer")
	require.Equal(t, next["id"], replay["id"])

	// Pruning deletes keys older than a day and keeps the others.
	code, _, _ = post("young-key", "Wednesday")
	require.Equal(t, http.StatusCreated, code)
	age("day-key", storage.IdempotencyTTL+time.Minute)
	pctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); e.server.PruneIdempotencyKeys(pctx, time.Hour) }()
	require.Eventually(t, func() bool { return !keyExists("day-key") }, 30*time.Second, 20*time.Millisecond,
		"the expired key is pruned")
	stop()
	<-done
	require.True(t, keyExists("young-key"), "a key younger than a day is kept")
}
