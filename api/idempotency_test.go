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

// TestIdempotencyKey checks that a creating POST retried with the same Idempotency-Key does its
// work once and answers the first answer, including after a crash between the commit and
// storing the answer.
func TestIdempotencyKey(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok, collab := e.A.Tokens[storage.RoleCollaborator], e.A.Users[storage.RoleCollaborator].ID
	body := map[string]any{"name": "Keyed", "kind": "campaign", "mode": "test"}
	keyed := func(key string, b any) (int, map[string]any, http.Header) {
		rec := e.request(t, http.MethodPost, "/v1/campaigns", tok, b, api.IdempotencyKeyHeader, key)
		return rec.Code, decodeObject(t, rec), rec.Header()
	}
	count := func(name string) int {
		var n int
		require.NoError(t, e.pool.QueryRow(context.Background(), `SELECT count(*) FROM campaigns WHERE name = $1`, name).Scan(&n))
		return n
	}

	s1, b1, h1 := keyed("key-1", body)
	require.Equal(t, http.StatusCreated, s1, "%v", b1)
	require.Empty(t, h1.Get("Idempotent-Replayed"))
	s2, b2, h2 := keyed("key-1", body)
	require.Equal(t, http.StatusCreated, s2)
	require.Equal(t, "true", h2.Get("Idempotent-Replayed"))
	require.Equal(t, b1["id"], b2["id"], "the retry answers the first campaign")
	require.Equal(t, 1, count("Keyed"))

	// The same key with another body is refused and changes nothing.
	s3, b3, _ := keyed("key-1", map[string]any{"name": "Other", "kind": "campaign", "mode": "test"})
	requireInvalid(t, s3, b3, api.IdempotencyKeyHeader)
	require.Zero(t, count("Other"))

	// Another user may use the same key for their own request.
	rec := e.request(t, http.MethodPost, "/v1/campaigns", e.A.Tokens[storage.RoleEditor], body, api.IdempotencyKeyHeader, "key-1")
	require.Equal(t, http.StatusCreated, rec.Code)
	require.Equal(t, 2, count("Keyed"))

	// Without a key, every POST creates.
	require.Equal(t, http.StatusCreated, e.request(t, http.MethodPost, "/v1/campaigns", tok, map[string]any{"name": "Plain"}).Code)
	require.Equal(t, http.StatusCreated, e.request(t, http.MethodPost, "/v1/campaigns", tok, map[string]any{"name": "Plain"}).Code)
	require.Equal(t, 2, count("Plain"))

	// A bad key is refused.
	rec = e.request(t, http.MethodPost, "/v1/campaigns", tok, body, api.IdempotencyKeyHeader, "bad key with spaces")
	require.Equal(t, http.StatusUnprocessableEntity, rec.Code)

	// A crash after the commit but before the answer was stored: the key is still claimed (and its
	// lease has run out), the campaign exists. The retry answers that campaign and creates no other.
	s4, b4, _ := keyed("key-crash", map[string]any{"name": "Crashed"})
	require.Equal(t, http.StatusCreated, s4)
	e.fx.UnanswerIdempotencyKey(t, collab, "key-crash", time.Minute)
	s5, b5, h5 := keyed("key-crash", map[string]any{"name": "Crashed"})
	require.Equal(t, http.StatusCreated, s5, "%v", b5)
	require.Empty(t, h5.Get("Idempotent-Replayed"), "the request ran again")
	require.Equal(t, b4["id"], b5["id"], "and found the campaign its first run created")
	require.Equal(t, 1, count("Crashed"))

	// A key still claimed within its lease: the retry is told to wait.
	e.fx.UnanswerIdempotencyKey(t, collab, "key-crash", 0)
	s6, b6, h6 := keyed("key-crash", map[string]any{"name": "Crashed"})
	requireError(t, s6, b6, http.StatusConflict, "idempotency_in_progress")
	require.Equal(t, "1", h6.Get("Retry-After"))
}
