package api_test

import (
	"bytes"
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/signoff/signoff/api"
	"github.com/signoff/signoff/storage"
)

// storedAnswer is the answer kept for a user's Idempotency-Key (nil when none is stored).
func storedAnswer(t *testing.T, e *env, userID, key string) []byte {
	t.Helper()
	var resp []byte
	err := e.pool.QueryRow(context.Background(), `SELECT response FROM idempotency_keys WHERE user_id = $1 AND key = $2`,
		userID, key).Scan(&resp)
	if err != nil {
		require.ErrorContains(t, err, "no rows")
		return nil
	}
	return resp
}

// TestIdempotentReplayHidesToken checks that a keyed POST /v1/users keeps no token in the stored
// answer and that its replay answers the same user without the token: the token is shown once
// (R-AUTH-1).
func TestIdempotentReplayHidesToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.A.Tokens[storage.RoleAdmin]
	body := map[string]any{"email": "keyed@a.test", "name": "Keyed User", "role": storage.RoleCollaborator}

	rec := e.request(t, http.MethodPost, "/v1/users", admin, body, api.IdempotencyKeyHeader, "user-key")
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	first := decodeObject(t, rec)
	token, _ := first["token"].(string)
	require.NotEmpty(t, token, "the first answer shows the token")
	user := first["user"].(map[string]any)

	stored := storedAnswer(t, e, e.A.Users[storage.RoleAdmin].ID, "user-key")
	require.NotNil(t, stored, "the answer is kept for replays")
	require.False(t, bytes.Contains(stored, []byte(token)), "the stored answer holds the token: %s", stored)

	rec = e.request(t, http.MethodPost, "/v1/users", admin, body, api.IdempotencyKeyHeader, "user-key")
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	require.Equal(t, "true", rec.Header().Get("Idempotent-Replayed"))
	require.NotContains(t, rec.Body.String(), token, "the replay shows the token again")
	replay := decodeObject(t, rec)
	require.Contains(t, replay, "token")
	require.Nil(t, replay["token"], "the replay answers the user with a null token")
	require.Equal(t, user["id"], replay["user"].(map[string]any)["id"], "the replay answers the same user")

	// The token shown once still works.
	require.Equal(t, http.StatusOK, e.request(t, http.MethodGet, "/v1/me", token, nil).Code)
}

// TestIdempotentReplayHidesShareURL checks the same for a keyed rotate-link: the new share link is
// in the first answer only; the stored answer and its replay have share_url null, and GET shows the
// current link (R-DRAFT-11).
func TestIdempotentReplayHidesShareURL(t *testing.T) {
	t.Parallel()
	re := newReviewEnv(t)
	d := re.reviewReadyDraft(t)
	path := "/v1/approval-drafts/" + d.ID + "/rotate-link"

	rec := re.request(t, http.MethodPost, path, re.admin, nil, api.IdempotencyKeyHeader, "rotate-key")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	link, _ := decodeObject(t, rec)["share_url"].(string)
	require.NotEmpty(t, link, "the first answer shows the new link")
	require.NotEqual(t, d.ShareURL, link)
	tok := reviewTokenOf(t, link)

	stored := storedAnswer(t, re.env, re.A.Users[storage.RoleAdmin].ID, "rotate-key")
	require.NotNil(t, stored, "the answer is kept for replays")
	require.False(t, bytes.Contains(stored, []byte(tok)), "the stored answer holds the share token: %s", stored)

	rec = re.request(t, http.MethodPost, path, re.admin, nil, api.IdempotencyKeyHeader, "rotate-key")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Equal(t, "true", rec.Header().Get("Idempotent-Replayed"))
	require.NotContains(t, rec.Body.String(), tok, "the replay shows the share token again")
	replay := decodeObject(t, rec)
	require.Contains(t, replay, "share_url")
	require.Nil(t, replay["share_url"], "the replay answers the draft with a null share_url")
	require.Equal(t, d.ID, replay["id"])

	// The replay rotated nothing: the link of the first answer is the current one.
	require.Equal(t, link, *re.reviewGetDraft(t, d.ID).ShareURL)
}

// TestTokenAnswersAreNotCached checks that every answer carrying a bearer token or a share link says
// Cache-Control: no-store.
func TestTokenAnswersAreNotCached(t *testing.T) {
	t.Parallel()
	re := newReviewEnv(t)
	d := re.reviewReadyDraft(t)
	admin := re.admin
	cases := []struct {
		name, method, path, token string
		body                      any
		want                      int
	}{
		{"create user", http.MethodPost, "/v1/users", admin,
			map[string]any{"email": "cached@a.test", "name": "Cached", "role": storage.RoleEditor}, http.StatusCreated},
		{"create account", http.MethodPost, "/v1/operator/accounts", operatorToken,
			map[string]any{"name": "Cache Co", "admin_email": "admin@cache.test"}, http.StatusCreated},
		{"rotate link", http.MethodPost, "/v1/approval-drafts/" + d.ID + "/rotate-link", admin, nil, http.StatusOK},
		{"get draft", http.MethodGet, "/v1/approval-drafts/" + d.ID, re.csm, nil, http.StatusOK},
		{"list drafts", http.MethodGet, "/v1/campaigns/" + d.CampaignID + "/approval-drafts", re.csm, nil, http.StatusOK},
	}
	for _, tc := range cases {
		rec := re.request(t, tc.method, tc.path, tc.token, tc.body)
		require.Equal(t, tc.want, rec.Code, "%s: %s", tc.name, rec.Body.String())
		require.Equal(t, "no-store", rec.Header().Get("Cache-Control"), "%s carries a secret and must not be cached", tc.name)
	}
}
