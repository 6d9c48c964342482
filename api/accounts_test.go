package api_test

import (
	"context"
	"crypto/sha256"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/signoff/signoff/errs"
	"github.com/signoff/signoff/storage"
)

func TestOperatorCreateAccount(t *testing.T) {
	t.Parallel()
	e := newEnv(t)

	t.Run("happy path", func(t *testing.T) {
		status, body := e.do(t, http.MethodPost, "/v1/operator/accounts", operatorToken,
			map[string]any{"name": "  Globex  ", "admin_email": " boss@globex.test "})
		require.Equal(t, http.StatusCreated, status, "%v", body)
		require.ElementsMatch(t, []string{"account", "admin", "token"}, keys(body))

		acct := body["account"].(map[string]any)
		require.Equal(t, "Globex", acct["name"])
		require.NotEmpty(t, acct["id"])
		mustTime(t, acct["created_at"])

		admin := body["admin"].(map[string]any)
		require.Equal(t, "boss@globex.test", admin["email"])
		require.Equal(t, storage.RoleAdmin, admin["role"])
		require.Equal(t, acct["id"], admin["account_id"])
		require.Equal(t, true, admin["active"])

		token := body["token"].(string)
		require.GreaterOrEqual(t, len(token), 43, "≥ 32 random bytes")

		// The token works on the CSM-facing API and identifies the new admin.
		status, me := e.do(t, http.MethodGet, "/v1/me", token, nil)
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, admin["id"], me["id"])
		require.Equal(t, acct["id"], me["account_id"])

		// Only its SHA-256 is stored.
		requireTokenStoredAsHash(t, e, admin["id"].(string), token)

		// The new account starts with the default settings.
		status, st := e.do(t, http.MethodGet, "/v1/account/settings", token, nil)
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, defaultSettings(), st)
	})

	t.Run("bad operator token", func(t *testing.T) {
		before := dbState(t, e.pool)
		good := map[string]any{"name": "Initech", "admin_email": "a@initech.test"}
		for _, tok := range []string{"", "wrong", operatorToken + "x", operatorToken[:len(operatorToken)-1], e.A.Tokens[storage.RoleAdmin]} {
			status, body := e.do(t, http.MethodPost, "/v1/operator/accounts", tok, good)
			requireError(t, status, body, http.StatusUnauthorized, string(errs.Unauthorized))
		}
		requireNoWrites(t, e.pool, before)
	})

	t.Run("duplicate name", func(t *testing.T) {
		before := dbState(t, e.pool)
		status, body := e.do(t, http.MethodPost, "/v1/operator/accounts", operatorToken,
			map[string]any{"name": e.A.Account.Name, "admin_email": "other@a.test"})
		requireError(t, status, body, http.StatusConflict, "account_exists")
		requireNoWrites(t, e.pool, before)
	})

	t.Run("invalid fields", func(t *testing.T) {
		before := dbState(t, e.pool)
		for _, c := range []struct {
			body  map[string]any
			field string
		}{
			{map[string]any{"name": "", "admin_email": "a@x.test"}, "name"},
			{map[string]any{"name": "   ", "admin_email": "a@x.test"}, "name"},
			{map[string]any{"admin_email": "a@x.test"}, "name"},
			{map[string]any{"name": strings.Repeat("n", 101), "admin_email": "a@x.test"}, "name"},
			{map[string]any{"name": "X"}, "admin_email"},
			{map[string]any{"name": "X", "admin_email": "not-an-email"}, "admin_email"},
			{map[string]any{"name": "X", "admin_email": "a@localhost"}, "admin_email"},
			{map[string]any{"name": "X", "admin_email": "Ana <a@x.test>"}, "admin_email"},
		} {
			status, body := e.do(t, http.MethodPost, "/v1/operator/accounts", operatorToken, c.body)
			requireInvalid(t, status, body, c.field)
		}
		requireNoWrites(t, e.pool, before)
	})

	t.Run("malformed", func(t *testing.T) {
		before := dbState(t, e.pool)
		status, body := e.do(t, http.MethodPost, "/v1/operator/accounts", operatorToken, `{"name": "X", "admin_email": `)
		requireError(t, status, body, http.StatusBadRequest, string(errs.MalformedJSON))
		requireNoWrites(t, e.pool, before)
	})

	t.Run("operator token rejected on /v1", func(t *testing.T) {
		status, body := e.do(t, http.MethodGet, "/v1/me", operatorToken, nil)
		requireError(t, status, body, http.StatusUnauthorized, string(errs.Unauthorized))
	})
}

// TestOperatorEndpointDisabled: without SIGNOFF_OPERATOR_TOKEN the endpoint does not exist (404),
// whatever token is sent.
func TestOperatorEndpointDisabled(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	srv := *e.server
	srv.OperatorToken = ""
	e.handler = srv.Handler()

	before := dbState(t, e.pool)
	for _, tok := range []string{"", operatorToken, e.A.Tokens[storage.RoleAdmin]} {
		status, body := e.do(t, http.MethodPost, "/v1/operator/accounts", tok, map[string]any{"name": "Initech", "admin_email": "a@initech.test"})
		requireError(t, status, body, http.StatusNotFound, string(errs.NotFound))
	}
	requireNoWrites(t, e.pool, before)
}

func defaultSettings() map[string]any {
	return map[string]any{"approval_enabled": true, "allow_self_approval": true,
		"on_no_approvers": "expire", "journey_version_policy": "keep_live",
		"reminder_after": "24h", "escalate_after": "0", "escalation_user_ids": nil}
}

func TestGetSettings(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, role := range roles {
		status, body := e.do(t, http.MethodGet, "/v1/account/settings", e.A.Tokens[role], nil)
		require.Equal(t, http.StatusOK, status, role)
		require.Equal(t, defaultSettings(), body, role)
	}
}

func TestUpdateSettings(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.A.Tokens[storage.RoleAdmin]
	bRow := rowJSON(t, e.pool, "accounts", e.B.Account.ID)

	t.Run("admin changes some fields, the rest stay", func(t *testing.T) {
		status, body := e.do(t, http.MethodPatch, "/v1/account/settings", admin,
			map[string]any{"on_no_approvers": "hold", "allow_self_approval": false})
		require.Equal(t, http.StatusOK, status, "%v", body)
		want := defaultSettings()
		want["allow_self_approval"], want["on_no_approvers"] = false, "hold"
		require.Equal(t, want, body)

		status, body = e.do(t, http.MethodPatch, "/v1/account/settings", admin,
			map[string]any{"approval_enabled": false, "journey_version_policy": "passive"})
		require.Equal(t, http.StatusOK, status, "%v", body)
		want["approval_enabled"], want["journey_version_policy"] = false, "passive"
		require.Equal(t, want, body)

		status, body = e.do(t, http.MethodGet, "/v1/account/settings", e.A.Tokens[storage.RoleCollaborator], nil)
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, want, body)

		st, err := e.store.Settings(context.Background(), e.A.Account.ID)
		require.NoError(t, err)
		require.Equal(t, storage.AccountSettings{ApprovalEnabled: false, AllowSelfApproval: false, OnNoApprovers: "hold", JourneyVersionPolicy: "passive",
			ReminderAfter: 24 * time.Hour}, st)

		// Account B is untouched.
		status, body = e.do(t, http.MethodGet, "/v1/account/settings", e.B.Tokens[storage.RoleAdmin], nil)
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, defaultSettings(), body)
		require.Equal(t, bRow, rowJSON(t, e.pool, "accounts", e.B.Account.ID))
	})

	t.Run("other roles are forbidden", func(t *testing.T) {
		before := dbState(t, e.pool)
		for _, role := range roles[1:] {
			status, body := e.do(t, http.MethodPatch, "/v1/account/settings", e.A.Tokens[role], map[string]any{"approval_enabled": true})
			requireError(t, status, body, http.StatusForbidden, string(errs.Forbidden))
		}
		requireNoWrites(t, e.pool, before)
	})

	t.Run("bad enums", func(t *testing.T) {
		before := dbState(t, e.pool)
		for _, c := range []struct {
			body  map[string]any
			field string
		}{
			{map[string]any{"on_no_approvers": "never"}, "on_no_approvers"},
			{map[string]any{"on_no_approvers": ""}, "on_no_approvers"},
			{map[string]any{"on_no_approvers": "EXPIRE"}, "on_no_approvers"},
			{map[string]any{"journey_version_policy": "pause"}, "journey_version_policy"},
			// A valid field does not sneak through next to an invalid one.
			{map[string]any{"approval_enabled": true, "journey_version_policy": "x"}, "journey_version_policy"},
		} {
			status, body := e.do(t, http.MethodPatch, "/v1/account/settings", admin, c.body)
			requireInvalid(t, status, body, c.field)
		}
		requireNoWrites(t, e.pool, before)
	})
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// requireTokenStoredAsHash checks that userID's token is stored only as its SHA-256 and that the
// raw token appears in no column of any table.
func requireTokenStoredAsHash(t *testing.T, e *env, userID, token string) {
	t.Helper()
	ctx := context.Background()
	var hashes [][]byte
	rows, err := e.pool.Query(ctx, `SELECT token_hash FROM api_tokens WHERE user_id = $1`, userID)
	require.NoError(t, err)
	for rows.Next() {
		var h []byte
		require.NoError(t, rows.Scan(&h))
		hashes = append(hashes, h)
	}
	require.NoError(t, rows.Err())
	sum := sha256.Sum256([]byte(token))
	require.Equal(t, [][]byte{sum[:]}, hashes)

	for _, table := range tables(t, e.pool) {
		var n int
		require.NoError(t, e.pool.QueryRow(ctx,
			`SELECT count(*) FROM `+table+` x WHERE strpos(x::text, $1) > 0 OR strpos(x::text, encode(convert_to($1, 'UTF8'), 'hex')) > 0`,
			token).Scan(&n))
		require.Zerof(t, n, "the raw token appears in table %s", table)
	}
}
