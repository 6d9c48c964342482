package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/require"

	"github.com/signoff/signoff/storage"
)

// isolationSkip lists the routes that are not tenant-scoped by design: health, the OpenAPI document,
// the operator endpoint, the no-login review (whose credential is the share token, tested in the
// review tests) and the approver's decision page (whose credential is the link's token, tested in the
// decision link tests).
var isolationSkip = []string{"/healthz", "/readyz", "/openapi.yaml", "/v1/operator/", "/r/", "/review-assets/", "/v1/public/", "/a/"}

// isolationBodies are valid bodies for the routes that validate their body before looking the id up,
// so the test reaches the lookup.
func isolationBodies(approverID string) map[string]any {
	return map[string]any{
		"PATCH /v1/users/:id":                      map[string]any{"role": "editor"},
		"PATCH /v1/campaigns/:id":                  map[string]any{"name": "Renamed"},
		"POST /v1/campaigns/:id/approval-requests": map[string]any{"approver_ids": []string{approverID}},
		"POST /v1/campaigns/:id/resubmit":          map[string]any{"approver_ids": []string{approverID}},
		"POST /v1/campaigns/:id/approval-drafts":   map[string]any{"source": map[string]any{"type": "saved_search", "saved_search_id": "00000000-0000-0000-0000-000000000000"}},
		"POST /v1/approval-requests/:id/reject":    map[string]any{"note": "no"},
		"POST /v1/approval-requests/:id/review":    map[string]any{"sections": map[string]any{"copy": map[string]any{"verdict": "approved"}}},
		"PUT /v1/approval-requests/:id/approvers":  map[string]any{"approver_ids": []string{approverID}},
		"PATCH /v1/roles/:id":                      map[string]any{"name": "Stolen"},
	}
}

// TestTenantIsolationEveryRoute calls every route the router registers with another account's ids
// (R-AUTH-2): an id-taking route answers 404 exactly as for an unknown id and changes nothing, and a
// list never carries the other account's ids. A new route is covered automatically; one whose id
// kind this test does not know fails it until it is added here.
func TestTenantIsolationEveryRoute(t *testing.T) {
	t.Parallel()
	de := newDraftEnv(t)
	draftStartWorker(t, de, draftWorkerOpts{})
	e := de.env
	// Account A holds one of everything.
	approver := e.A.Users[storage.RoleApprover]
	camp := e.laterCampaign(t, e.A.Users[storage.RoleCollaborator], "A's submitted campaign")
	req := e.submit(t, camp.ID, e.A.Tokens[storage.RoleCollaborator], approver.ID)
	d := draftCreate(t, e, de.camp.ID, de.csm, map[string]any{"source": draftSearchSource(de.search.ID), "contact_count": 3})
	draftWaitAIDone(t, e, d.ID, de.csm)
	role, err := e.store.CreateRole(t.Context(), e.A.Account.ID, "A's custom role", []string{storage.PermApprovalsApprove})
	require.NoError(t, err)
	var notificationID string
	require.NoError(t, e.pool.QueryRow(context.Background(), `SELECT id FROM notifications WHERE request_id = $1 LIMIT 1`, req.ID).Scan(&notificationID))
	hook := newProbeWebhook(t, e.store, e.A.Account.ID, e.A.Users[storage.RoleAdmin].ID)
	delivery := newProbeDelivery(t, e.pool, hook)
	ids := map[string]string{
		"/v1/webhooks/:id":          hook.ID,
		"/v1/roles/:id":             role.ID,
		"/v1/notifications/:id":     notificationID,
		"/v1/users/:id":             e.A.Users[storage.RoleEditor].ID,
		"/v1/campaigns/:id":         camp.ID,
		"/v1/saved-searches/:id":    de.search.ID,
		"/v1/approval-requests/:id": req.ID,
		"/v1/approval-drafts/:id":   d.ID,
	}
	secrets := []string{e.A.Account.ID, camp.ID, de.camp.ID, de.search.ID, req.ID, d.ID, role.ID, notificationID, hook.ID, delivery}
	for _, u := range e.A.Users {
		secrets = append(secrets, u.ID)
	}
	bBodies := isolationBodies(e.B.Users[storage.RoleApprover].ID)

	engine, ok := e.handler.(*gin.Engine)
	require.True(t, ok, "Handler returns the gin engine")
	covered := 0
	for _, rt := range engine.Routes() {
		skip := false
		for _, p := range isolationSkip {
			if strings.HasPrefix(rt.Path, p) {
				skip = true
			}
		}
		if skip {
			continue
		}
		t.Run(rt.Method+" "+rt.Path, func(t *testing.T) {
			path := rt.Path
			if strings.Contains(path, ":") {
				var id string
				for prefix, v := range ids {
					if strings.HasPrefix(path, prefix) {
						id = v
					}
				}
				require.NotEmptyf(t, id, "route %s %s takes an id of a kind this test does not know: add it to ids", rt.Method, rt.Path)
				path = strings.Replace(path, ":id", id, 1)
				// Version 1 of A's campaign exists: its submission froze it.
				path = strings.Replace(path, ":n", "1", 1)
				// A's delivery, on A's endpoint.
				path = strings.Replace(path, ":delivery_id", delivery, 1)
				require.NotContains(t, path, ":", "route %s has another parameter: teach this test about it", rt.Path)
			}
			before := dbState(t, e.pool)
			var body any
			if b, ok := bBodies[rt.Method+" "+rt.Path]; ok {
				body = b
			} else if rt.Method != http.MethodGet && rt.Method != http.MethodDelete {
				body = map[string]any{}
			}
			rec := e.request(t, rt.Method, path, e.B.Tokens[storage.RoleAdmin], body)
			for _, s := range secrets {
				require.NotContains(t, rec.Body.String(), s, "B's answer carries A's id %s", s)
			}
			if strings.Contains(rt.Path, ":id") {
				require.Equalf(t, http.StatusNotFound, rec.Code, "A's id through B's admin: %s", rec.Body.String())
				require.Contains(t, rec.Body.String(), `"code":"not_found"`)
				// Nothing changed: the answer is a plain 404.
				requireNoWrites(t, e.pool, before)
			}
			covered++
		})
	}
	require.Greater(t, covered, 20, "the router's tenant-scoped routes were all exercised")
}
