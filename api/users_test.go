package api_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/signoff/signoff/errs"
	"github.com/signoff/signoff/storage"
)

func TestMe(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, tn := range []tenant{e.A, e.B} {
		for _, role := range roles {
			r := e.request(t, http.MethodGet, "/v1/me", tn.Tokens[role], nil)
			require.Equal(t, http.StatusOK, r.Code)
			require.NotContains(t, r.Body.String(), tn.Tokens[role], "the token is never echoed")
			body := decodeObject(t, r)
			u := tn.Users[role]
			require.Equal(t, u.ID, body["id"])
			require.Equal(t, tn.Account.ID, body["account_id"])
			require.Equal(t, role, body["role"])
			require.Equal(t, u.Email, body["email"])
			require.Equal(t, true, body["active"])
		}
	}
}

func TestListUsers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, role := range roles {
		var out struct {
			Items []storage.User `json:"items"`
		}
		e.doJSON(t, http.StatusOK, http.MethodGet, "/v1/users", e.A.Tokens[role], nil, &out)
		require.Len(t, out.Items, len(roles))
		var ids []string
		for _, u := range out.Items {
			require.Equal(t, e.A.Account.ID, u.AccountID, "only the caller's account")
			ids = append(ids, u.ID)
		}
		var want []string
		for _, r := range roles {
			want = append(want, e.A.Users[r].ID)
		}
		require.ElementsMatch(t, want, ids)
	}
}

func TestCreateUser(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.A.Tokens[storage.RoleAdmin]

	t.Run("happy path, every role", func(t *testing.T) {
		for _, role := range roles {
			email := "new-" + role + "@a.test"
			status, body := e.do(t, http.MethodPost, "/v1/users", admin,
				map[string]any{"email": " " + email + " ", "name": "  New " + role + " ", "role": role})
			require.Equal(t, http.StatusCreated, status, "%v", body)
			require.ElementsMatch(t, []string{"user", "token"}, keys(body))
			u := body["user"].(map[string]any)
			require.Equal(t, email, u["email"])
			require.Equal(t, "New "+role, u["name"])
			require.Equal(t, role, u["role"])
			require.Equal(t, false, u["can_approve"])
			require.Equal(t, true, u["active"])
			require.Equal(t, e.A.Account.ID, u["account_id"])
			_, err := uuid.Parse(u["id"].(string))
			require.NoError(t, err)

			token := body["token"].(string)
			status, me := e.do(t, http.MethodGet, "/v1/me", token, nil)
			require.Equal(t, http.StatusOK, status)
			require.Equal(t, u["id"], me["id"])
			require.Equal(t, role, me["role"])

			requireTokenStoredAsHash(t, e, u["id"].(string), token)
		}
	})

	t.Run("editor with can_approve", func(t *testing.T) {
		status, body := e.do(t, http.MethodPost, "/v1/users", admin,
			map[string]any{"email": "granted@a.test", "name": "Granted", "role": "editor", "can_approve": true})
		require.Equal(t, http.StatusCreated, status, "%v", body)
		require.Equal(t, true, body["user"].(map[string]any)["can_approve"])
	})

	t.Run("the same email in another account is fine", func(t *testing.T) {
		status, body := e.do(t, http.MethodPost, "/v1/users", e.B.Tokens[storage.RoleAdmin],
			map[string]any{"email": e.A.Users[storage.RoleEditor].Email, "name": "Twin", "role": "csm"})
		require.Equal(t, http.StatusCreated, status, "%v", body)
		require.Equal(t, e.B.Account.ID, body["user"].(map[string]any)["account_id"])
	})

	t.Run("other roles are forbidden", func(t *testing.T) {
		before := dbState(t, e.pool)
		for _, role := range roles[1:] {
			status, body := e.do(t, http.MethodPost, "/v1/users", e.A.Tokens[role],
				map[string]any{"email": "sneaky-" + role + "@a.test", "name": "Sneaky", "role": "admin"})
			requireError(t, status, body, http.StatusForbidden, string(errs.Forbidden))
		}
		requireNoWrites(t, e.pool, before)
	})

	t.Run("email taken", func(t *testing.T) {
		before := dbState(t, e.pool)
		for _, email := range []string{e.A.Users[storage.RoleCSM].Email, strings.ToUpper(e.A.Users[storage.RoleCSM].Email)} {
			status, body := e.do(t, http.MethodPost, "/v1/users", admin,
				map[string]any{"email": email, "name": "Dup", "role": "csm"})
			requireError(t, status, body, http.StatusConflict, "email_taken")
		}
		requireNoWrites(t, e.pool, before)
	})

	t.Run("invalid fields", func(t *testing.T) {
		before := dbState(t, e.pool)
		for _, c := range []struct {
			body  map[string]any
			field string
		}{
			{map[string]any{"name": "X", "role": "csm"}, "email"},
			{map[string]any{"email": "nope", "name": "X", "role": "csm"}, "email"},
			{map[string]any{"email": "a@b", "name": "X", "role": "csm"}, "email"},
			{map[string]any{"email": "x@a.test", "role": "csm"}, "name"},
			{map[string]any{"email": "x@a.test", "name": "  ", "role": "csm"}, "name"},
			{map[string]any{"email": "x@a.test", "name": strings.Repeat("n", 201), "role": "csm"}, "name"},
			{map[string]any{"email": "x@a.test", "name": "X"}, "role"},
			{map[string]any{"email": "x@a.test", "name": "X", "role": "owner"}, "role"},
			{map[string]any{"email": "x@a.test", "name": "X", "role": "Admin"}, "role"},
			{map[string]any{"email": "x@a.test", "name": "X", "role": "collaborator", "can_approve": true}, "can_approve"},
			{map[string]any{"email": "x@a.test", "name": "X", "role": "csm", "can_approve": true}, "can_approve"},
			{map[string]any{"email": "x@a.test", "name": "X", "role": "admin", "can_approve": true}, "can_approve"},
			{map[string]any{"email": "x@a.test", "name": "X", "role": "approver", "can_approve": true}, "can_approve"},
		} {
			status, body := e.do(t, http.MethodPost, "/v1/users", admin, c.body)
			requireInvalid(t, status, body, c.field)
		}
		requireNoWrites(t, e.pool, before)
	})
}

func TestUpdateUser(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.A.Tokens[storage.RoleAdmin]
	ctx := context.Background()

	t.Run("role change and can_approve", func(t *testing.T) {
		u, _ := e.newUser(t, e.A.Account.ID, "promote@a.test", storage.RoleCollaborator)
		p := "/v1/users/" + u.ID

		status, body := e.do(t, http.MethodPatch, p, admin, map[string]any{"role": "editor", "can_approve": true})
		require.Equal(t, http.StatusOK, status, "%v", body)
		require.Equal(t, "editor", body["role"])
		require.Equal(t, true, body["can_approve"])
		require.Equal(t, u.ID, body["id"])

		got, err := e.store.User(ctx, e.A.Account.ID, u.ID)
		require.NoError(t, err)
		require.True(t, got.HasApprovalRight())

		status, body = e.do(t, http.MethodPatch, p, admin, map[string]any{"can_approve": false})
		require.Equal(t, http.StatusOK, status, "%v", body)
		require.Equal(t, "editor", body["role"])
		require.Equal(t, false, body["can_approve"])

		status, body = e.do(t, http.MethodPatch, p, admin, map[string]any{"can_approve": true})
		require.Equal(t, http.StatusOK, status, "%v", body)
		require.Equal(t, true, body["can_approve"])

		// Leaving the editor role drops the grant.
		status, body = e.do(t, http.MethodPatch, p, admin, map[string]any{"role": "csm"})
		require.Equal(t, http.StatusOK, status, "%v", body)
		require.Equal(t, "csm", body["role"])
		require.Equal(t, false, body["can_approve"])

		// The list shows the change.
		var out struct {
			Items []storage.User `json:"items"`
		}
		e.doJSON(t, http.StatusOK, http.MethodGet, "/v1/users", admin, nil, &out)
		found := false
		for _, x := range out.Items {
			if x.ID == u.ID {
				found = true
				require.Equal(t, "csm", x.Role)
			}
		}
		require.True(t, found)
	})

	t.Run("deactivation revokes the token", func(t *testing.T) {
		u, tok := e.newUser(t, e.A.Account.ID, "leaver@a.test", storage.RoleApprover)
		status, _ := e.do(t, http.MethodGet, "/v1/me", tok, nil)
		require.Equal(t, http.StatusOK, status)

		status, body := e.do(t, http.MethodPatch, "/v1/users/"+u.ID, admin, map[string]any{"active": false})
		require.Equal(t, http.StatusOK, status, "%v", body)
		require.Equal(t, false, body["active"])

		for _, r := range []struct{ method, path string }{{http.MethodGet, "/v1/me"}, {http.MethodGet, "/v1/campaigns"}, {http.MethodPost, "/v1/campaigns"}} {
			before := dbState(t, e.pool)
			status, body = e.do(t, r.method, r.path, tok, map[string]any{"name": "after leaving"})
			requireError(t, status, body, http.StatusUnauthorized, string(errs.Unauthorized))
			requireNoWrites(t, e.pool, before)
		}

		// Reactivation restores access.
		status, body = e.do(t, http.MethodPatch, "/v1/users/"+u.ID, admin, map[string]any{"active": true})
		require.Equal(t, http.StatusOK, status, "%v", body)
		status, _ = e.do(t, http.MethodGet, "/v1/me", tok, nil)
		require.Equal(t, http.StatusOK, status)
	})

	t.Run("other roles are forbidden", func(t *testing.T) {
		target := e.A.Users[storage.RoleCollaborator]
		before := dbState(t, e.pool)
		for _, role := range roles[1:] {
			status, body := e.do(t, http.MethodPatch, "/v1/users/"+target.ID, e.A.Tokens[role], map[string]any{"role": "admin"})
			requireError(t, status, body, http.StatusForbidden, string(errs.Forbidden))
			// Not even on themselves.
			status, body = e.do(t, http.MethodPatch, "/v1/users/"+e.A.Users[role].ID, e.A.Tokens[role], map[string]any{"role": "admin"})
			requireError(t, status, body, http.StatusForbidden, string(errs.Forbidden))
		}
		requireNoWrites(t, e.pool, before)
	})

	t.Run("another account's user and unknown ids are 404", func(t *testing.T) {
		bUser := e.B.Users[storage.RoleEditor]
		bRow := rowJSON(t, e.pool, "users", bUser.ID)
		before := dbState(t, e.pool)
		for _, id := range []string{bUser.ID, e.B.Users[storage.RoleAdmin].ID, uuid.NewString(), "not-a-uuid", "123"} {
			status, body := e.do(t, http.MethodPatch, "/v1/users/"+id, admin, map[string]any{"role": "approver", "active": false})
			requireError(t, status, body, http.StatusNotFound, string(errs.NotFound))
		}
		requireNoWrites(t, e.pool, before)
		require.Equal(t, bRow, rowJSON(t, e.pool, "users", bUser.ID))
		status, _ := e.do(t, http.MethodGet, "/v1/me", e.B.Tokens[storage.RoleEditor], nil)
		require.Equal(t, http.StatusOK, status)
	})

	t.Run("invalid fields", func(t *testing.T) {
		target := e.A.Users[storage.RoleCollaborator]
		row := rowJSON(t, e.pool, "users", target.ID)
		before := dbState(t, e.pool)
		for _, c := range []struct {
			body  any
			field string
		}{
			{map[string]any{}, "body"},
			{map[string]any{"role": nil}, "body"},
			{map[string]any{"role": "boss"}, "role"},
			{map[string]any{"role": ""}, "role"},
			{map[string]any{"can_approve": true}, "can_approve"}, // a collaborator
			{map[string]any{"role": "csm", "can_approve": true}, "can_approve"},
			{map[string]any{"role": "approver", "can_approve": true}, "can_approve"},
			{map[string]any{"role": "admin", "can_approve": true}, "can_approve"},
			// A valid change next to an invalid one is not applied either.
			{map[string]any{"active": false, "role": "nope"}, "role"},
		} {
			status, body := e.do(t, http.MethodPatch, "/v1/users/"+target.ID, admin, c.body)
			requireInvalid(t, status, body, c.field)
		}
		requireNoWrites(t, e.pool, before)
		require.Equal(t, row, rowJSON(t, e.pool, "users", target.ID))
	})
}

// TestUpdateUserLastAdmin: the only active admin can be neither demoted nor deactivated.
func TestUpdateUserLastAdmin(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.A.Users[storage.RoleAdmin]
	tok := e.A.Tokens[storage.RoleAdmin]

	row := rowJSON(t, e.pool, "users", admin.ID)
	before := dbState(t, e.pool)
	for _, body := range []map[string]any{{"role": "editor"}, {"role": "approver"}, {"active": false}, {"role": "csm", "active": false}} {
		status, resp := e.do(t, http.MethodPatch, "/v1/users/"+admin.ID, tok, body)
		requireError(t, status, resp, http.StatusConflict, "last_admin")
	}
	requireNoWrites(t, e.pool, before)
	require.Equal(t, row, rowJSON(t, e.pool, "users", admin.ID))

	// An inactive second admin does not count.
	second, _ := e.newUser(t, e.A.Account.ID, "second-admin@a.test", storage.RoleAdmin)
	status, resp := e.do(t, http.MethodPatch, "/v1/users/"+second.ID, tok, map[string]any{"active": false})
	require.Equal(t, http.StatusOK, status, "%v", resp)
	status, resp = e.do(t, http.MethodPatch, "/v1/users/"+admin.ID, tok, map[string]any{"role": "editor"})
	requireError(t, status, resp, http.StatusConflict, "last_admin")

	// With a second active admin, the first may step down; then the second is the last one.
	status, resp = e.do(t, http.MethodPatch, "/v1/users/"+second.ID, tok, map[string]any{"active": true})
	require.Equal(t, http.StatusOK, status, "%v", resp)
	status, resp = e.do(t, http.MethodPatch, "/v1/users/"+admin.ID, tok, map[string]any{"role": "editor"})
	require.Equal(t, http.StatusOK, status, "%v", resp)
	require.Equal(t, "editor", resp["role"])
	// The former admin has lost the right to manage users.
	status, resp = e.do(t, http.MethodPatch, "/v1/users/"+second.ID, tok, map[string]any{"role": "editor"})
	requireError(t, status, resp, http.StatusForbidden, string(errs.Forbidden))

	n, err := e.store.CountActiveAdmins(context.Background(), e.A.Account.ID)
	require.NoError(t, err)
	require.Equal(t, 1, n)
}

// TestUpdateUserLastAdminConcurrent: two concurrent demotions of the last two admins must not
// leave the account without an active admin (the invariant updateUser documents).
func TestUpdateUserLastAdminConcurrent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	first := e.A.Users[storage.RoleAdmin]
	tok := e.A.Tokens[storage.RoleAdmin]
	second, secondTok := e.newUser(t, e.A.Account.ID, "second-admin@a.test", storage.RoleAdmin)
	tokenOf := map[string]string{first.ID: tok, second.ID: secondTok}

	for round := 0; round < 50; round++ {
		// Both are admins again: the one still admin promotes the other through the API.
		for _, pair := range [][2]string{{first.ID, second.ID}, {second.ID, first.ID}} {
			u, err := e.store.User(ctx, e.A.Account.ID, pair[0])
			require.NoError(t, err)
			if u.Role != storage.RoleAdmin {
				status, body := e.do(t, http.MethodPatch, "/v1/users/"+pair[0], tokenOf[pair[1]], map[string]any{"role": "admin"})
				require.Equal(t, http.StatusOK, status, "round %d: %v", round, body)
			}
		}

		var wg sync.WaitGroup
		codes := make([]int, 2)
		for i, id := range []string{first.ID, second.ID} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req := newRequest(http.MethodPatch, "/v1/users/"+id, tok, `{"role":"editor"}`)
				codes[i] = serve(e, req).Code
			}()
		}
		wg.Wait()

		n, err := e.store.CountActiveAdmins(ctx, e.A.Account.ID)
		require.NoError(t, err)
		require.Equalf(t, 1, n, "round %d: answers %v left %d active admins", round, codes, n)
		require.Containsf(t, codes, http.StatusOK, "round %d", round)
		require.NotEqualf(t, []int{http.StatusOK, http.StatusOK}, codes, "round %d: both demotions succeeded", round)
	}
}
