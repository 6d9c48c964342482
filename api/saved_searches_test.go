package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/signoff/signoff/errs"
	"github.com/signoff/signoff/storage"
	"github.com/signoff/signoff/testenv"
)

func fullFilters() map[string]any {
	return map[string]any{
		"titles": []any{"CTO", "VP Engineering"}, "industries": []any{"Software"}, "countries": []any{"DE", "FR"},
		"company_size_min": float64(50), "company_size_max": float64(500), "keywords": []any{"cloud"},
	}
}

func TestCreateSavedSearch(t *testing.T) {
	t.Parallel()
	e := newEnv(t)

	t.Run("admin and csm create", func(t *testing.T) {
		for _, role := range []string{storage.RoleAdmin, storage.RoleCSM} {
			status, body := e.do(t, http.MethodPost, "/v1/saved-searches", e.A.Tokens[role],
				map[string]any{"name": "  CTOs in Europe ", "filters": fullFilters()})
			require.Equal(t, http.StatusCreated, status, "%v", body)
			require.Equal(t, "CTOs in Europe", body["name"])
			require.Equal(t, fullFilters(), body["filters"])
			require.Equal(t, e.A.Users[role].ID, body["created_by"])
			_, err := uuid.Parse(body["id"].(string))
			require.NoError(t, err)
			mustTime(t, body["created_at"])

			status, got := e.do(t, http.MethodGet, "/v1/saved-searches/"+body["id"].(string), e.A.Tokens[role], nil)
			require.Equal(t, http.StatusOK, status)
			require.Equal(t, body, got)
		}
	})

	t.Run("empty filters object is allowed", func(t *testing.T) {
		status, body := e.do(t, http.MethodPost, "/v1/saved-searches", e.A.Tokens[storage.RoleCSM],
			map[string]any{"name": "Everyone", "filters": map[string]any{}})
		require.Equal(t, http.StatusCreated, status, "%v", body)
	})

	t.Run("other roles are forbidden", func(t *testing.T) {
		before := dbState(t, e.pool)
		for _, role := range []string{storage.RoleEditor, storage.RoleCollaborator, storage.RoleApprover} {
			status, body := e.do(t, http.MethodPost, "/v1/saved-searches", e.A.Tokens[role],
				map[string]any{"name": "Nope", "filters": fullFilters()})
			requireError(t, status, body, http.StatusForbidden, string(errs.Forbidden))
		}
		requireNoWrites(t, e.pool, before)
	})

	t.Run("invalid", func(t *testing.T) {
		with := func(k string, v any) map[string]any {
			f := fullFilters()
			f[k] = v
			return f
		}
		many := make([]any, 51)
		for i := range many {
			many[i] = "t"
		}
		cases := []struct {
			name  string
			body  map[string]any
			field string
		}{
			{"missing filters", map[string]any{"name": "S"}, "filters"},
			{"null filters", map[string]any{"name": "S", "filters": nil}, "filters"},
			{"missing name", map[string]any{"filters": fullFilters()}, "name"},
			{"blank name", map[string]any{"name": "   ", "filters": fullFilters()}, "name"},
			{"long name", map[string]any{"name": strings.Repeat("n", 201), "filters": fullFilters()}, "name"},
			{"min > max", map[string]any{"name": "S", "filters": with("company_size_min", 501)}, "filters.company_size_max"},
			{"negative min", map[string]any{"name": "S", "filters": with("company_size_min", -1)}, "filters.company_size_min"},
			{"negative max", map[string]any{"name": "S", "filters": map[string]any{"company_size_max": -5}}, "filters.company_size_max"},
			{"empty title", map[string]any{"name": "S", "filters": with("titles", []any{"CTO", " "})}, "filters.titles[1]"},
			{"long keyword", map[string]any{"name": "S", "filters": with("keywords", []any{strings.Repeat("k", 201)})}, "filters.keywords[0]"},
			{"too many countries", map[string]any{"name": "S", "filters": with("countries", many)}, "filters.countries"},
		}
		before := dbState(t, e.pool)
		for _, c := range cases {
			status, body := e.do(t, http.MethodPost, "/v1/saved-searches", e.A.Tokens[storage.RoleAdmin], c.body)
			require.Equalf(t, http.StatusUnprocessableEntity, status, "%s: %v", c.name, body)
			requireInvalid(t, status, body, c.field)
		}

		// An unknown filter key is refused and named.
		status, body := e.do(t, http.MethodPost, "/v1/saved-searches", e.A.Tokens[storage.RoleAdmin],
			map[string]any{"name": "S", "filters": with("seniority", []any{"senior"})})
		errObj := requireError(t, status, body, http.StatusUnprocessableEntity, string(errs.Validation))
		require.Contains(t, errObj["message"], "seniority")
		require.Contains(t, errObj["field"], "seniority")
		requireNoWrites(t, e.pool, before)
	})
}

func TestListSavedSearches(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a1 := e.newSavedSearch(t, e.A, "first")
	a2 := e.newSavedSearch(t, e.A, "second")
	e.newSavedSearch(t, e.B, "b only")

	for _, role := range roles {
		var out struct {
			Items []storage.SavedSearch `json:"items"`
		}
		e.doJSON(t, http.StatusOK, http.MethodGet, "/v1/saved-searches", e.A.Tokens[role], nil, &out)
		require.Len(t, out.Items, 2)
		require.Equal(t, []string{a2.ID, a1.ID}, []string{out.Items[0].ID, out.Items[1].ID}, "newest first")
		require.Equal(t, a1.Filters, out.Items[1].Filters)
	}

	// An account without any answers an empty list, not null.
	other := testenv.NewTenant(t, e.store, "Account C", "c.test")
	rec := e.request(t, http.MethodGet, "/v1/saved-searches", other.Tokens[storage.RoleCSM], nil)
	require.Equal(t, http.StatusOK, rec.Code)
	require.JSONEq(t, `{"items":[]}`, rec.Body.String())
}

func TestGetSavedSearch(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.newSavedSearch(t, e.A, "mine")
	b := e.newSavedSearch(t, e.B, "theirs")

	for _, role := range roles {
		var got storage.SavedSearch
		e.doJSON(t, http.StatusOK, http.MethodGet, "/v1/saved-searches/"+a.ID, e.A.Tokens[role], nil, &got)
		require.Equal(t, a.ID, got.ID)
		require.Equal(t, "mine", got.Name)
		require.Equal(t, a.Filters, got.Filters)
	}
	for _, id := range []string{b.ID, uuid.NewString(), "not-a-uuid"} {
		status, body := e.do(t, http.MethodGet, "/v1/saved-searches/"+id, e.A.Tokens[storage.RoleAdmin], nil)
		requireError(t, status, body, http.StatusNotFound, string(errs.NotFound))
	}
}

func TestDeleteSavedSearch(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.newSavedSearch(t, e.B, "theirs")

	t.Run("admin and csm delete", func(t *testing.T) {
		for _, role := range []string{storage.RoleAdmin, storage.RoleCSM} {
			ss := e.newSavedSearch(t, e.A, "to delete by "+role)
			n := countRows(t, e.pool, "saved_searches")
			rec := e.request(t, http.MethodDelete, "/v1/saved-searches/"+ss.ID, e.A.Tokens[role], nil)
			require.Equal(t, http.StatusNoContent, rec.Code, rec.Body.String())
			require.Empty(t, rec.Body.String())
			require.Equal(t, n-1, countRows(t, e.pool, "saved_searches"))

			status, body := e.do(t, http.MethodGet, "/v1/saved-searches/"+ss.ID, e.A.Tokens[role], nil)
			requireError(t, status, body, http.StatusNotFound, string(errs.NotFound))
			// Deleting again is a 404.
			status, body = e.do(t, http.MethodDelete, "/v1/saved-searches/"+ss.ID, e.A.Tokens[role], nil)
			requireError(t, status, body, http.StatusNotFound, string(errs.NotFound))
		}
	})

	t.Run("other roles are forbidden", func(t *testing.T) {
		ss := e.newSavedSearch(t, e.A, "keep")
		before := dbState(t, e.pool)
		for _, role := range []string{storage.RoleEditor, storage.RoleCollaborator, storage.RoleApprover} {
			status, body := e.do(t, http.MethodDelete, "/v1/saved-searches/"+ss.ID, e.A.Tokens[role], nil)
			requireError(t, status, body, http.StatusForbidden, string(errs.Forbidden))
		}
		requireNoWrites(t, e.pool, before)
	})

	t.Run("another account's and unknown ids", func(t *testing.T) {
		before := dbState(t, e.pool)
		for _, id := range []string{b.ID, uuid.NewString(), "not-a-uuid"} {
			status, body := e.do(t, http.MethodDelete, "/v1/saved-searches/"+id, e.A.Tokens[storage.RoleAdmin], nil)
			requireError(t, status, body, http.StatusNotFound, string(errs.NotFound))
		}
		requireNoWrites(t, e.pool, before)
		status, got := e.do(t, http.MethodGet, "/v1/saved-searches/"+b.ID, e.B.Tokens[storage.RoleCSM], nil)
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, "theirs", got["name"])
	})
}
