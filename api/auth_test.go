package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/require"

	"github.com/signoff/signoff/errs"
	"github.com/signoff/signoff/storage"
)

// authPublic lists the /v1 routes that take no user token by design: the operator endpoint (its own
// token, R-AUTH-4) and the no-login review (the share token is the credential, R-REVIEW-1).
var authPublic = []string{"/v1/operator/", "/v1/public/"}

// authRoutes lists every route the router registers under /v1 except authPublic, with each path
// parameter replaced by id, so a route added to the router is covered without editing this test.
func authRoutes(t *testing.T, e *env, id string) []struct{ method, path string } {
	t.Helper()
	engine, ok := e.handler.(*gin.Engine)
	require.True(t, ok, "Handler returns the gin engine")
	var out []struct{ method, path string }
	for _, rt := range engine.Routes() {
		if !strings.HasPrefix(rt.Path, "/v1/") {
			continue
		}
		public := false
		for _, p := range authPublic {
			public = public || strings.HasPrefix(rt.Path, p)
		}
		if public {
			continue
		}
		segs := strings.Split(rt.Path, "/")
		for i, s := range segs {
			if strings.HasPrefix(s, ":") || strings.HasPrefix(s, "*") {
				segs[i] = id
			}
		}
		out = append(out, struct{ method, path string }{rt.Method, strings.Join(segs, "/")})
	}
	return out
}

// TestAuthRequired: every authenticated /v1 endpoint the router registers answers 401 without a
// token, with a bad one, with a malformed header and with the operator token (R-AUTH-1, R-AUTH-4),
// and writes nothing.
func TestAuthRequired(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	camp := e.newCampaign(t, e.A, storage.RoleAdmin, "Target")
	body := map[string]any{"name": "x", "email": "new@a.test", "role": "editor", "items": []any{map[string]any{"first_name": "A", "last_name": "B"}}}

	routes := authRoutes(t, e, camp.ID)
	// 36 when this test was written; a router that lost its /v1 group would leave nothing to check.
	require.GreaterOrEqual(t, len(routes), 36, "authenticated routes found in the router: %v", routes)
	t.Logf("%d authenticated routes", len(routes))
	before := dbState(t, e.pool)
	for _, r := range routes {
		for _, c := range []struct {
			name   string
			header string
		}{
			{"missing", ""},
			{"bad token", "Bearer so_not-a-real-token"},
			{"operator token", "Bearer " + operatorToken},
			{"not bearer", "Basic " + e.A.Tokens[storage.RoleAdmin]},
			{"empty bearer", "Bearer "},
		} {
			var rb any
			if r.method != http.MethodGet && r.method != http.MethodDelete {
				rb = body
			}
			var hdr []string
			if c.header != "" {
				hdr = []string{"Authorization", c.header}
			}
			rec := e.request(t, r.method, r.path, "", rb, hdr...)
			require.Equalf(t, http.StatusUnauthorized, rec.Code, "%s %s with %s: %s", r.method, r.path, c.name, rec.Body.String())
			requireError(t, rec.Code, decodeObject(t, rec), http.StatusUnauthorized, string(errs.Unauthorized))
		}
	}
	requireNoWrites(t, e.pool, before)

	// The scheme is case-insensitive and a valid token works.
	rec := e.request(t, http.MethodGet, "/v1/me", "", nil, "Authorization", "bearer "+e.A.Tokens[storage.RoleCSM])
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, e.A.Users[storage.RoleCSM].ID, decodeObject(t, rec)["id"])
}

// TestMalformedJSON: every endpoint with a body answers 400 malformed_json for bodies that are not
// one JSON object, and writes nothing.
func TestMalformedJSON(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.A.Tokens[storage.RoleAdmin]
	camp := e.newCampaign(t, e.A, storage.RoleAdmin, "Target")
	user := e.A.Users[storage.RoleEditor]

	endpoints := []struct{ method, path, token string }{
		{http.MethodPost, "/v1/operator/accounts", operatorToken},
		{http.MethodPost, "/v1/users", admin},
		{http.MethodPatch, "/v1/users/" + user.ID, admin},
		{http.MethodPatch, "/v1/account/settings", admin},
		{http.MethodPost, "/v1/contacts", admin},
		{http.MethodPost, "/v1/saved-searches", admin},
		{http.MethodPost, "/v1/campaigns", admin},
		{http.MethodPatch, "/v1/campaigns/" + camp.ID, admin},
	}
	bodies := map[string]string{
		"empty":          "",
		"truncated":      `{"name": "x"`,
		"not json":       `name=x`,
		"trailing comma": `{"name": "x",}`,
		"two values":     `{} {}`,
		"trailing junk":  `{} x`,
		"array":          `[{"name": "x"}]`,
		"string":         `"x"`,
	}
	before := dbState(t, e.pool)
	userRow, campRow := rowJSON(t, e.pool, "users", user.ID), rowJSON(t, e.pool, "campaigns", camp.ID)
	for _, ep := range endpoints {
		for name, b := range bodies {
			status, resp := e.do(t, ep.method, ep.path, ep.token, b)
			require.Equalf(t, http.StatusBadRequest, status, "%s %s with %s body: %v", ep.method, ep.path, name, resp)
			requireError(t, status, resp, http.StatusBadRequest, string(errs.MalformedJSON))
		}
	}
	requireNoWrites(t, e.pool, before)
	require.Equal(t, userRow, rowJSON(t, e.pool, "users", user.ID))
	require.Equal(t, campRow, rowJSON(t, e.pool, "campaigns", camp.ID))
}

// TestPayloadTooLarge: every endpoint with a body answers 413 payload_too_large beyond 2 MiB and
// writes nothing.
func TestPayloadTooLarge(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.A.Tokens[storage.RoleAdmin]
	camp := e.newCampaign(t, e.A, storage.RoleAdmin, "Target")
	user := e.A.Users[storage.RoleEditor]
	big := strings.Repeat("x", 2<<20)

	before := dbState(t, e.pool)
	for _, c := range []struct{ method, path, token, body string }{
		{http.MethodPost, "/v1/operator/accounts", operatorToken, `{"name": "` + big + `", "admin_email": "a@b.test"}`},
		{http.MethodPost, "/v1/users", admin, `{"email": "x@a.test", "role": "csm", "name": "` + big + `"}`},
		{http.MethodPatch, "/v1/users/" + user.ID, admin, `{"role": "` + big + `"}`},
		{http.MethodPatch, "/v1/account/settings", admin, `{"on_no_approvers": "` + big + `"}`},
		{http.MethodPost, "/v1/contacts", admin, `{"items": [{"first_name": "` + big + `", "last_name": "B"}]}`},
		{http.MethodPost, "/v1/saved-searches", admin, `{"name": "S", "filters": {"keywords": ["` + big + `"]}}`},
		{http.MethodPost, "/v1/campaigns", admin, `{"name": "C", "content": {"prompts": [{"name": "p", "text": "` + big + `"}]}}`},
		{http.MethodPatch, "/v1/campaigns/" + camp.ID, admin, `{"content": {"prompts": [{"name": "p", "text": "` + big + `"}]}}`},
	} {
		status, body := e.do(t, c.method, c.path, c.token, c.body)
		require.Equalf(t, http.StatusRequestEntityTooLarge, status, "%s %s: %v", c.method, c.path, body)
		requireError(t, status, body, http.StatusRequestEntityTooLarge, string(errs.PayloadTooLarge))
	}
	requireNoWrites(t, e.pool, before)
}

// TestWrongTypesAndUnknownFields: well-formed JSON with a wrongly typed or unknown field is an
// invalid field (422 naming it), not malformed JSON, on every endpoint with a body.
func TestWrongTypesAndUnknownFields(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.A.Tokens[storage.RoleAdmin]
	camp := e.newCampaign(t, e.A, storage.RoleAdmin, "Target")
	user := e.A.Users[storage.RoleEditor]

	cases := []struct {
		method, path, token string
		body                string
		field               string
	}{
		{http.MethodPost, "/v1/operator/accounts", operatorToken, `{"name": 5, "admin_email": "a@b.test"}`, "name"},
		{http.MethodPost, "/v1/operator/accounts", operatorToken, `{"name": "n", "admin_email": "a@b.test", "plan": "gold"}`, "plan"},
		{http.MethodPost, "/v1/users", admin, `{"email": "x@a.test", "name": "X", "role": "editor", "can_approve": "yes"}`, "can_approve"},
		{http.MethodPost, "/v1/users", admin, `{"email": "x@a.test", "name": "X", "role": "editor", "password": "p"}`, "password"},
		{http.MethodPatch, "/v1/users/" + user.ID, admin, `{"active": "no"}`, "active"},
		{http.MethodPatch, "/v1/users/" + user.ID, admin, `{"email": "new@a.test"}`, "email"},
		{http.MethodPatch, "/v1/account/settings", admin, `{"approval_enabled": "off"}`, "approval_enabled"},
		{http.MethodPatch, "/v1/account/settings", admin, `{"colour": "blue"}`, "colour"},
		{http.MethodPost, "/v1/contacts", admin, `{"items": {"first_name": "A"}}`, "items"},
		{http.MethodPost, "/v1/contacts", admin, `{"items": [{"first_name": "A", "last_name": "B", "company_size": "big"}]}`, "items.company_size"},
		{http.MethodPost, "/v1/saved-searches", admin, `{"name": "S", "filters": {"titles": "CTO"}}`, "filters.titles"},
		{http.MethodPost, "/v1/campaigns", admin, `{"name": ["x"]}`, "name"},
		{http.MethodPost, "/v1/campaigns", admin, `{"name": "x", "owner": "me"}`, "owner"},
		{http.MethodPatch, "/v1/campaigns/" + camp.ID, admin, `{"content": {"segments": "all"}}`, "content.segments"},
	}
	before := dbState(t, e.pool)
	for _, c := range cases {
		status, resp := e.do(t, c.method, c.path, c.token, c.body)
		require.Equalf(t, http.StatusUnprocessableEntity, status, "%s %s %s: %v", c.method, c.path, c.body, resp)
		requireInvalid(t, status, resp, c.field)
	}
	requireNoWrites(t, e.pool, before)
}
