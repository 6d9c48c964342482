package api_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/signoff/signoff/errs"
	"github.com/signoff/signoff/storage"
)

// Tests of roles as permission sets (R-AUTH-5): the permission every route needs, the roles API, a
// custom role with approval access, and the approval right following the permissions (R-APPR-7).

// Rules of routePermissions besides a permission.
const (
	anyUser   = "" // any user of the account
	submitter = "the request's submitter (no permission opens it)"
)

// routePermissions is the permission every authenticated route needs. Some routes also admit a user
// by relation: the campaign's creator where campaigns.edit_any is asked for (SPEC §3's editors of it),
// the creator holding approvals.approve for a launch; approve and reject also need the user assigned
// to the request.
var routePermissions = map[string]string{
	"GET /v1/me":                                              anyUser,
	"GET /v1/users":                                           anyUser,
	"POST /v1/users":                                          storage.PermUsersManage,
	"PATCH /v1/users/:id":                                     storage.PermUsersManage,
	"GET /v1/roles":                                           anyUser,
	"POST /v1/roles":                                          storage.PermUsersManage,
	"PATCH /v1/roles/:id":                                     storage.PermUsersManage,
	"DELETE /v1/roles/:id":                                    storage.PermUsersManage,
	"GET /v1/account/settings":                                anyUser,
	"PATCH /v1/account/settings":                              storage.PermSettingsManage,
	"POST /v1/contacts":                                       storage.PermDraftsBuild,
	"GET /v1/saved-searches":                                  anyUser,
	"POST /v1/saved-searches":                                 storage.PermDraftsBuild,
	"GET /v1/saved-searches/:id":                              anyUser,
	"DELETE /v1/saved-searches/:id":                           storage.PermDraftsBuild,
	"GET /v1/campaigns":                                       anyUser,
	"POST /v1/campaigns":                                      storage.PermCampaignsCreate,
	"GET /v1/campaigns/:id":                                   anyUser,
	"PATCH /v1/campaigns/:id":                                 storage.PermCampaignsEditAny, // or its creator
	"DELETE /v1/campaigns/:id":                                storage.PermCampaignsEditAny, // or its creator
	"POST /v1/campaigns/:id/approval-requests":                storage.PermCampaignsEditAny, // or its creator
	"POST /v1/campaigns/:id/resubmit":                         storage.PermCampaignsEditAny, // or its creator
	"GET /v1/campaigns/:id/approval-history":                  anyUser,
	"POST /v1/campaigns/:id/launch":                           storage.PermCampaignsLaunch, // or its creator holding approvals.approve
	"GET /v1/campaigns/:id/launches":                          anyUser,
	"GET /v1/launches":                                        storage.PermCampaignsLaunch,
	"GET /v1/campaigns/:id/versions":                          anyUser,
	"GET /v1/campaigns/:id/versions/:n":                       anyUser,
	"GET /v1/approval-requests/:id":                           anyUser,
	"POST /v1/approval-requests/:id/approve":                  storage.PermApprovalsApprove, // and assigned
	"POST /v1/approval-requests/:id/reject":                   storage.PermApprovalsApprove, // and assigned
	"POST /v1/approval-requests/:id/cancel":                   anyUser,
	"POST /v1/approval-requests/:id/review":                   storage.PermApprovalsApprove, // and assigned (R-POL-4)
	"PUT /v1/approval-requests/:id/approvers":                 submitter,
	"GET /v1/approval-requests/:id/history":                   anyUser,
	"GET /v1/approval-requests/:id/changes":                   anyUser,
	"GET /v1/approvals/inbox":                                 anyUser,
	"POST /v1/csv-uploads":                                    storage.PermDraftsBuild,
	"POST /v1/campaigns/:id/approval-drafts":                  storage.PermDraftsBuild,
	"GET /v1/campaigns/:id/approval-drafts":                   storage.PermDraftsBuild,
	"GET /v1/approval-drafts/:id":                             storage.PermDraftsBuild,
	"POST /v1/approval-drafts/:id/rotate-link":                storage.PermUsersManage,
	"GET /v1/approval-drafts/:id/feedback":                    storage.PermDraftsBuild,
	"GET /v1/notifications":                                   anyUser,
	"POST /v1/notifications/:id/read":                         anyUser,
	"POST /v1/notifications/read-all":                         anyUser,
	"GET /v1/dev/outbox":                                      storage.PermSettingsManage,
	"GET /v1/webhooks":                                        storage.PermSettingsManage,
	"POST /v1/webhooks":                                       storage.PermSettingsManage,
	"GET /v1/webhooks/:id":                                    storage.PermSettingsManage,
	"DELETE /v1/webhooks/:id":                                 storage.PermSettingsManage,
	"GET /v1/webhooks/:id/deliveries":                         storage.PermSettingsManage,
	"POST /v1/webhooks/:id/deliveries/:delivery_id/redeliver": storage.PermSettingsManage,
}

// roleUser creates, through the API as tenant A's admin, a custom role called name with perms and a
// user holding it, and answers the user (with its role's permissions) as a caller.
func roleUser(t *testing.T, e *env, name string, perms []string) caller {
	t.Helper()
	admin := e.A.Tokens[storage.RoleAdmin]
	if perms == nil {
		perms = []string{}
	}
	var role map[string]any
	e.doJSON(t, http.StatusCreated, http.MethodPost, "/v1/roles", admin, map[string]any{"name": name, "permissions": perms}, &role)
	slug := strings.NewReplacer(" ", "-", ".", "-", "_", "-").Replace(strings.ToLower(name))
	var created struct {
		Token string         `json:"token"`
		User  map[string]any `json:"user"`
	}
	e.doJSON(t, http.StatusCreated, http.MethodPost, "/v1/users", admin,
		map[string]any{"email": slug + "@a.test", "name": name + " user", "role": name}, &created)
	u, err := e.store.User(t.Context(), e.A.Account.ID, created.User["id"].(string))
	require.NoError(t, err)
	return caller{name: name, user: u, token: created.Token}
}

// TestRoutePermissions: every route the router has is listed with the permission it needs (a route
// without an entry fails), and each entry is what the code asks: a user whose custom role has every
// permission but that one gets 403, a user whose role has only that one succeeds; a route for any
// user succeeds for a role without permissions; the submitter's route refuses a role with them all.
func TestRoutePermissions(t *testing.T) {
	t.Parallel()
	m := newMatrixEnv(t)
	probes := routeProbes(m)
	routes := userRoutes(t, m.env)
	for _, rt := range routes {
		require.Containsf(t, routePermissions, rt, "route %s has no permission in routePermissions: name the one it needs", rt)
	}
	require.Len(t, routePermissions, len(routes), "routePermissions lists routes the router does not have")

	only, without := map[string]caller{}, map[string]caller{}
	used := map[string]bool{}
	for _, p := range storage.AllPermissions {
		only[p] = roleUser(t, m.env, "Only "+p, []string{p})
		without[p] = roleUser(t, m.env, "All but "+p, slices.DeleteFunc(slices.Clone(storage.AllPermissions), func(q string) bool { return q == p }))
	}
	nothing := roleUser(t, m.env, "Nothing", nil)
	everything := roleUser(t, m.env, "Everything", storage.AllPermissions)

	for _, rt := range routes {
		switch p := routePermissions[rt]; p {
		case anyUser:
			require.Truef(t, allowed(t, rt, nothing, probes[rt](t, m, nothing)), "%s: a role without permissions is refused", rt)
		case submitter:
			require.Falsef(t, allowed(t, rt, everything, probes[rt](t, m, everything)), "%s: a role with every permission is let in", rt)
		default:
			used[p] = true
			require.Falsef(t, allowed(t, rt, without[p], probes[rt](t, m, without[p])), "%s: allowed without %s", rt, p)
			require.Truef(t, allowed(t, rt, only[p], probes[rt](t, m, only[p])), "%s: refused with %s alone", rt, p)
		}
	}
	for _, p := range storage.AllPermissions {
		require.Truef(t, used[p], "no route needs the permission %s", p)
	}
}

// roleItem is a role as the API answers it.
type roleItem struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Builtin     bool     `json:"builtin"`
	Permissions []string `json:"permissions"`
}

// listRoles answers GET /v1/roles as token.
func (e *env) listRoles(t *testing.T, token string) []roleItem {
	t.Helper()
	var out struct {
		Items []roleItem `json:"items"`
	}
	e.doJSON(t, http.StatusOK, http.MethodGet, "/v1/roles", token, nil, &out)
	return out.Items
}

// builtinRoles are the built-in permission sets of docs/roles.md.
var builtinRoles = []roleItem{
	{Name: "admin", Builtin: true, Permissions: []string{"campaigns.create", "campaigns.edit_any", "campaigns.launch", "drafts.build",
		"approvals.approve", "users.manage", "settings.manage"}},
	{Name: "editor", Builtin: true, Permissions: []string{"campaigns.create", "campaigns.edit_any"}},
	{Name: "collaborator", Builtin: true, Permissions: []string{"campaigns.create"}},
	{Name: "approver", Builtin: true, Permissions: []string{"campaigns.create", "approvals.approve"}},
	{Name: "csm", Builtin: true, Permissions: []string{"campaigns.create", "campaigns.edit_any", "drafts.build"}},
}

// withoutIDs drops the ids of roles, to compare them with builtinRoles.
func withoutIDs(rs []roleItem) []roleItem {
	out := slices.Clone(rs)
	for i := range out {
		out[i].ID = ""
	}
	return out
}

// TestRolesAPI: every account has the five built-in roles as permission sets, which every user reads
// and nobody changes; admins create, rename, re-permission and delete custom roles; bad input answers
// 422 or 409 with a clear message and writes nothing; roles are per account (R-AUTH-5, R-AUTH-2).
func TestRolesAPI(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin, collab := e.A.Tokens[storage.RoleAdmin], e.A.Tokens[storage.RoleCollaborator]

	for _, role := range roles {
		require.Equal(t, builtinRoles, withoutIDs(e.listRoles(t, e.A.Tokens[role])), "GET /v1/roles as %s", role)
	}
	require.Equal(t, builtinRoles, withoutIDs(e.listRoles(t, e.B.Tokens[storage.RoleCSM])), "account B has its own built-in roles")
	builtin := map[string]string{}
	for _, r := range e.listRoles(t, admin) {
		builtin[r.Name] = r.ID
	}

	// Create: permissions come back in the canonical order.
	var lead roleItem
	e.doJSON(t, http.StatusCreated, http.MethodPost, "/v1/roles", admin,
		map[string]any{"name": "  Campaign lead ", "permissions": []string{"drafts.build", "campaigns.create", "campaigns.edit_any"}}, &lead)
	require.Equal(t, roleItem{ID: lead.ID, Name: "Campaign lead", Permissions: []string{"campaigns.create", "campaigns.edit_any", "drafts.build"}}, lead)
	require.Equal(t, append(slices.Clone(builtinRoles), roleItem{Name: "Campaign lead", Permissions: lead.Permissions}),
		withoutIDs(e.listRoles(t, collab)), "built-in roles first, then the custom ones")
	var viewer roleItem
	e.doJSON(t, http.StatusCreated, http.MethodPost, "/v1/roles", admin, map[string]any{"name": "Viewer", "permissions": []string{}}, &viewer)
	require.Equal(t, []string{}, viewer.Permissions)

	t.Run("bad input writes nothing", func(t *testing.T) {
		before := dbState(t, e.pool)
		for _, c := range []struct {
			method, path string
			body         map[string]any
			status       int
			code, field  string
			message      string
		}{
			{http.MethodPost, "/v1/roles", map[string]any{"name": "X", "permissions": []string{"campaigns.create", "campaigns.delete"}},
				422, string(errs.Validation), "permissions[1]", `"campaigns.delete" is not a permission; the permissions are campaigns.create, campaigns.edit_any`},
			{http.MethodPost, "/v1/roles", map[string]any{"name": "X", "permissions": []string{"users.manage", "users.manage"}},
				422, string(errs.Validation), "permissions[1]", "users.manage is listed twice"},
			{http.MethodPost, "/v1/roles", map[string]any{"name": "X"}, 422, string(errs.Validation), "permissions", "is required"},
			{http.MethodPost, "/v1/roles", map[string]any{"name": "  ", "permissions": []string{}}, 422, string(errs.Validation), "name", "is required"},
			{http.MethodPost, "/v1/roles", map[string]any{"name": strings.Repeat("n", 61), "permissions": []string{}}, 422, string(errs.Validation), "name", "at most 60"},
			{http.MethodPost, "/v1/roles", map[string]any{"name": "campaign LEAD", "permissions": []string{}},
				409, string(errs.RoleNameTaken), "", `the account already has a role named "campaign LEAD"`},
			{http.MethodPost, "/v1/roles", map[string]any{"name": "Admin", "permissions": []string{}},
				409, string(errs.RoleNameTaken), "", `already has a role named "Admin"`},
			{http.MethodPatch, "/v1/roles/" + viewer.ID, map[string]any{"name": "Campaign Lead"},
				409, string(errs.RoleNameTaken), "", "already has a role"},
			{http.MethodPatch, "/v1/roles/" + viewer.ID, map[string]any{"permissions": []string{"launch"}},
				422, string(errs.Validation), "permissions[0]", `"launch" is not a permission`},
			{http.MethodPatch, "/v1/roles/" + viewer.ID, map[string]any{}, 422, string(errs.Validation), "body", "at least one of name, permissions"},
			{http.MethodPatch, "/v1/roles/" + builtin["editor"], map[string]any{"name": "Writer"},
				409, string(errs.RoleBuiltin), "", "built-in roles cannot be renamed, re-permissioned or deleted"},
			{http.MethodPatch, "/v1/roles/" + builtin["collaborator"], map[string]any{"permissions": []string{"campaigns.create", "campaigns.edit_any"}},
				409, string(errs.RoleBuiltin), "", "create a custom role"},
			{http.MethodDelete, "/v1/roles/" + builtin["csm"], nil, 409, string(errs.RoleBuiltin), "", "built-in roles cannot be"},
			{http.MethodPatch, "/v1/roles/" + testUUID, map[string]any{"name": "Ghost"}, 404, string(errs.NotFound), "", ""},
			{http.MethodDelete, "/v1/roles/" + testUUID, nil, 404, string(errs.NotFound), "", ""},
		} {
			status, body := e.do(t, c.method, c.path, admin, c.body)
			errObj := requireError(t, status, body, c.status, c.code)
			if c.field != "" {
				require.Equal(t, c.field, errObj["field"], "%s %s: %v", c.method, c.path, body)
			}
			require.Contains(t, errObj["message"], c.message, "%s %s", c.method, c.path)
		}
		// Only users.manage defines roles.
		for _, role := range roles[1:] {
			status, body := e.do(t, http.MethodPost, "/v1/roles", e.A.Tokens[role], map[string]any{"name": "Mine", "permissions": []string{}})
			errObj := requireError(t, status, body, http.StatusForbidden, string(errs.Forbidden))
			require.Contains(t, errObj["message"], "this needs the permission users.manage, which your role "+role+" does not have")
		}
		// Another account's role is not found, and its name is no role here.
		status, body := e.do(t, http.MethodPatch, "/v1/roles/"+lead.ID, e.B.Tokens[storage.RoleAdmin], map[string]any{"name": "Stolen"})
		requireError(t, status, body, http.StatusNotFound, string(errs.NotFound))
		status, body = e.do(t, http.MethodDelete, "/v1/roles/"+lead.ID, e.B.Tokens[storage.RoleAdmin], nil)
		requireError(t, status, body, http.StatusNotFound, string(errs.NotFound))
		status, body = e.do(t, http.MethodPatch, "/v1/users/"+e.B.Users[storage.RoleCSM].ID, e.B.Tokens[storage.RoleAdmin], map[string]any{"role": "Campaign lead"})
		errObj := requireInvalid(t, status, body, "role")
		require.Contains(t, errObj["message"], "no such role in this account; GET /v1/roles lists")
		status, body = e.do(t, http.MethodPost, "/v1/users", admin, map[string]any{"email": "x@a.test", "name": "X", "role": "campaign lead"})
		requireInvalid(t, status, body, "role")
		requireNoWrites(t, e.pool, before)
	})

	t.Run("users hold custom roles by name; a held role is not deleted", func(t *testing.T) {
		var created struct {
			User map[string]any `json:"user"`
		}
		e.doJSON(t, http.StatusCreated, http.MethodPost, "/v1/users", admin,
			map[string]any{"email": "lead@a.test", "name": "Lee Lead", "role": "Campaign lead"}, &created)
		require.Equal(t, "Campaign lead", created.User["role"])
		require.Equal(t, []any{"campaigns.create", "campaigns.edit_any", "drafts.build"}, created.User["permissions"])
		id := created.User["id"].(string)

		// A rename reaches the user; a new permission set too.
		var renamed roleItem
		e.doJSON(t, http.StatusOK, http.MethodPatch, "/v1/roles/"+lead.ID, admin,
			map[string]any{"name": "Team lead", "permissions": []string{"campaigns.edit_any", "campaigns.create"}}, &renamed)
		require.Equal(t, roleItem{ID: lead.ID, Name: "Team lead", Permissions: []string{"campaigns.create", "campaigns.edit_any"}}, renamed)
		u := e.storedUser(t, id)
		require.Equal(t, "Team lead", u.Role)
		require.Equal(t, []string{"campaigns.create", "campaigns.edit_any"}, u.Permissions())

		// Deleting it while held: 409, also while the only holder is deactivated.
		before := dbState(t, e.pool)
		status, body := e.do(t, http.MethodDelete, "/v1/roles/"+lead.ID, admin, nil)
		errObj := requireError(t, status, body, http.StatusConflict, string(errs.RoleInUse))
		require.Contains(t, errObj["message"], "1 user holds this role")
		requireNoWrites(t, e.pool, before)
		status, body = e.do(t, http.MethodPatch, "/v1/users/"+id, admin, map[string]any{"active": false})
		require.Equal(t, http.StatusOK, status, body)
		require.Equal(t, []any{}, body["permissions"], "a deactivated user holds nothing")
		status, body = e.do(t, http.MethodDelete, "/v1/roles/"+lead.ID, admin, nil)
		requireError(t, status, body, http.StatusConflict, string(errs.RoleInUse))

		// Moved to a built-in role, the user no longer holds it: it can go.
		status, body = e.do(t, http.MethodPatch, "/v1/users/"+id, admin, map[string]any{"role": "csm"})
		require.Equal(t, http.StatusOK, status, body)
		status, body = e.do(t, http.MethodDelete, "/v1/roles/"+lead.ID, admin, nil)
		require.Equal(t, http.StatusNoContent, status, body)
		require.Equal(t, append(slices.Clone(builtinRoles), roleItem{Name: "Viewer", Permissions: []string{}}), withoutIDs(e.listRoles(t, admin)))
		status, body = e.do(t, http.MethodPatch, "/v1/users/"+id, admin, map[string]any{"role": "Team lead"})
		requireInvalid(t, status, body, "role")
	})
}

// testUUID is a well-formed id that names nothing.
const testUUID = "00000000-0000-4000-8000-000000000000"

// storedUser reads a user of tenant A from the database.
func (e *env) storedUser(t *testing.T, id string) storage.User {
	t.Helper()
	u, err := e.store.User(t.Context(), e.A.Account.ID, id)
	require.NoError(t, err)
	return u
}

// TestCustomApproverRole: a custom role with approvals.approve and campaigns.create (seed 002's "custom
// roles with approver access"): its user is named approver, approves, creates campaigns, and manages
// no users; losing approvals.approve (the role edited, the user moved to a role without it) expires
// their pending assignments at once under both on_no_approvers policies, and they can no longer be
// named; a role held by users is not deleted (R-AUTH-5, R-APPR-3, R-APPR-7).
func TestCustomApproverRole(t *testing.T) {
	t.Parallel()
	e := newApprovalEnv(t, 2*time.Hour)
	acct := e.A.Account.ID
	admin := e.A.Tokens[storage.RoleAdmin]
	collab, collabTok := e.A.Users[storage.RoleCollaborator], e.A.Tokens[storage.RoleCollaborator]
	perms := []string{"approvals.approve", "campaigns.create"}

	rev := roleUser(t, e, "Reviewer", perms)
	var me map[string]any
	e.doJSON(t, http.StatusOK, http.MethodGet, "/v1/me", rev.token, nil, &me)
	require.Equal(t, "Reviewer", me["role"])
	require.Equal(t, []any{"campaigns.create", "approvals.approve"}, me["permissions"])
	require.Equal(t, false, me["can_approve"], "the right comes from the role, not the editor's grant")

	// Named approver, approves.
	camp := e.laterCampaign(t, collab, "Reviewed campaign")
	r := e.submit(t, camp.ID, collabTok, rev.user.ID)
	require.Equal(t, []string{r.ID}, e.inboxIDs(t, rev.token))
	status, body := e.act(t, r.ID, "approve", rev.token, "looks right")
	require.Equal(t, http.StatusOK, status, body)
	require.Equal(t, storage.RequestStatusApproved, body["status"])
	require.Equal(t, rev.user.ID, body["decided_by"])

	// Creates campaigns, manages no users and no roles.
	status, body = e.do(t, http.MethodPost, "/v1/campaigns", rev.token, map[string]any{"name": "Reviewer's own"})
	require.Equal(t, http.StatusCreated, status, body)
	notTheirs := e.laterCampaign(t, collab, "Not the reviewer's")
	before := dbState(t, e.pool)
	for _, c := range []struct {
		method, path string
		body         map[string]any
	}{
		{http.MethodPost, "/v1/users", map[string]any{"email": "friend@a.test", "name": "Friend", "role": "admin"}},
		{http.MethodPatch, "/v1/users/" + rev.user.ID, map[string]any{"role": "admin"}},
		{http.MethodPatch, "/v1/users/" + collab.ID, map[string]any{"active": false}},
		{http.MethodPost, "/v1/roles", map[string]any{"name": "Everything", "permissions": storage.AllPermissions}},
		{http.MethodPatch, "/v1/account/settings", map[string]any{"allow_self_approval": false}},
	} {
		status, body := e.do(t, c.method, c.path, rev.token, c.body)
		errObj := requireError(t, status, body, http.StatusForbidden, string(errs.Forbidden))
		require.Contains(t, errObj["message"], "which your role Reviewer does not have")
	}
	// Cannot edit a campaign of someone else (no campaigns.edit_any).
	status, body = e.do(t, http.MethodPatch, "/v1/campaigns/"+notTheirs.ID, rev.token, map[string]any{"name": "x"})
	requireError(t, status, body, http.StatusForbidden, string(errs.Forbidden))
	requireNoWrites(t, e.pool, before)

	// Dropping approvals.approve from the role expires its users' assignments, under both policies.
	for _, policy := range []string{"expire", "hold"} {
		t.Run("role loses approvals.approve, on_no_approvers "+policy, func(t *testing.T) {
			status, body := e.do(t, http.MethodPatch, "/v1/account/settings", admin, map[string]any{"on_no_approvers": policy})
			require.Equal(t, http.StatusOK, status, body)
			u := roleUser(t, e, "Approver "+policy, perms)
			var role roleItem
			for _, ro := range e.listRoles(t, admin) {
				if ro.Name == "Approver "+policy {
					role = ro
				}
			}
			camp := e.laterCampaign(t, collab, "Dropped "+policy)
			r := e.submit(t, camp.ID, collabTok, u.user.ID)

			status, body = e.do(t, http.MethodPatch, "/v1/roles/"+role.ID, admin, map[string]any{"permissions": []string{"campaigns.create"}})
			require.Equal(t, http.StatusOK, status, body)
			e.waitEvent(t, r.ID, storage.EventApproverExpired, 10*time.Second)
			if policy == "expire" {
				r = e.waitStatus(t, acct, r.ID, storage.RequestStatusExpired, 10*time.Second)
				require.Len(t, e.notificationsFor(t, collabTok, r.ID, "approval_expired"), 1, "the submitter is told")
			} else {
				r = e.storedRequest(t, acct, r.ID)
				require.Equal(t, storage.RequestStatusPending, r.Status, "hold: the request waits for new approvers")
			}
			require.True(t, hasApprover(r, u.user.ID, storage.ApproverStateExpired), "approvers: %v", r.Approvers)
			events := e.history(t, "/v1/approval-requests/"+r.ID+"/history", collabTok)
			require.Equal(t, storage.EventApproverExpired, events[1].Type)
			require.Equal(t, u.user.ID, events[1].Actor.ID)
			require.Empty(t, e.inboxIDs(t, u.token))

			// They can no longer act, nor be named: the validation asks the same permission.
			status, body = e.act(t, r.ID, "approve", u.token, "")
			errObj := requireError(t, status, body, http.StatusForbidden, string(errs.Forbidden))
			require.Contains(t, errObj["message"], "approvals.approve")
			other := e.laterCampaign(t, collab, "Named after the drop "+policy)
			status, body = e.do(t, http.MethodPost, "/v1/campaigns/"+other.ID+"/approval-requests", collabTok, submitBody("", u.user.ID))
			errObj = requireInvalid(t, status, body, "approver_ids[0]")
			require.Contains(t, errObj["message"], "does not have the approval right (the permission approvals.approve)")
		})
	}

	t.Run("user moved to a role without approvals.approve", func(t *testing.T) {
		status, body := e.do(t, http.MethodPatch, "/v1/account/settings", admin, map[string]any{"on_no_approvers": "expire"})
		require.Equal(t, http.StatusOK, status, body)
		u := roleUser(t, e, "Moved approver", perms)
		camp := e.laterCampaign(t, collab, "Moved")
		r := e.submit(t, camp.ID, collabTok, u.user.ID)
		status, body = e.do(t, http.MethodPatch, "/v1/users/"+u.user.ID, admin, map[string]any{"role": "Viewer without rights"})
		requireInvalid(t, status, body, "role")
		status, body = e.do(t, http.MethodPatch, "/v1/users/"+u.user.ID, admin, map[string]any{"role": "collaborator"})
		require.Equal(t, http.StatusOK, status, body)
		r = e.waitStatus(t, acct, r.ID, storage.RequestStatusExpired, 10*time.Second)
		require.True(t, hasApprover(r, u.user.ID, storage.ApproverStateExpired))
	})

	t.Run("a held role is not deleted", func(t *testing.T) {
		var role roleItem
		for _, ro := range e.listRoles(t, admin) {
			if ro.Name == "Reviewer" {
				role = ro
			}
		}
		before := dbState(t, e.pool)
		status, body := e.do(t, http.MethodDelete, "/v1/roles/"+role.ID, admin, nil)
		errObj := requireError(t, status, body, http.StatusConflict, string(errs.RoleInUse))
		require.Contains(t, errObj["message"], "1 user holds this role")
		requireNoWrites(t, e.pool, before)
		// The reviewer still approves.
		camp := e.laterCampaign(t, collab, "Still reviewed")
		r := e.submit(t, camp.ID, collabTok, rev.user.ID)
		status, body = e.act(t, r.ID, "approve", rev.token, "")
		require.Equal(t, http.StatusOK, status, body)
	})
}
