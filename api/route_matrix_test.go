package api_test

import (
	"bytes"
	"context"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/require"

	"github.com/signoff/signoff/errs"
	"github.com/signoff/signoff/storage"
	"github.com/signoff/signoff/testenv"
)

// The route × role matrix: every authenticated route, called by a user of every built-in role (and
// an editor granted can_approve, and the collaborator who created the campaign), answers either a
// success or 403. The expected matrix was recorded from the code as it was before roles became
// permission sets (R-AUTH-5) and must keep holding after.

// caller is who calls a route in the matrix.
type caller struct {
	name  string
	user  storage.User
	token string
}

// Columns of the matrix.
const (
	colAdmin      = "admin"
	colEditor     = "editor"
	colEditorCA   = "editor+can_approve"
	colCollab     = "collaborator"
	colApprover   = "approver"
	colCSM        = "csm"
	colCreator    = "creator" // the collaborator who created the campaign and submitted its request
	matrixColumns = 7
)

// matrixCols lists the columns in order.
var matrixCols = []string{colAdmin, colEditor, colEditorCA, colCollab, colApprover, colCSM, colCreator}

// Who is allowed, as recorded before R-AUTH-5.
var (
	everyone    = matrixCols
	adminsOnly  = []string{colAdmin}
	draftPeople = []string{colAdmin, colCSM}
	// campaignEditors are SPEC §3's "editors of it": admins, editors and CSMs, and the creator.
	campaignEditors = []string{colAdmin, colEditor, colEditorCA, colCSM, colCreator}
	// approvalRight holds the approval right of R-AUTH-3 (the probe assigns them to the request).
	approvalRight = []string{colAdmin, colEditorCA, colApprover}
	submitterOnly = []string{colCreator}
)

// routeMatrix is who may call each route (anyone else gets 403).
var routeMatrix = map[string][]string{
	"GET /v1/me":                                              everyone,
	"GET /v1/users":                                           everyone,
	"POST /v1/users":                                          adminsOnly,
	"PATCH /v1/users/:id":                                     adminsOnly,
	"GET /v1/roles":                                           everyone,   // added with R-AUTH-5
	"POST /v1/roles":                                          adminsOnly, // added with R-AUTH-5
	"PATCH /v1/roles/:id":                                     adminsOnly, // added with R-AUTH-5
	"DELETE /v1/roles/:id":                                    adminsOnly, // added with R-AUTH-5
	"GET /v1/account/settings":                                everyone,
	"PATCH /v1/account/settings":                              adminsOnly,
	"POST /v1/contacts":                                       draftPeople,
	"GET /v1/saved-searches":                                  everyone,
	"POST /v1/saved-searches":                                 draftPeople,
	"GET /v1/saved-searches/:id":                              everyone,
	"DELETE /v1/saved-searches/:id":                           draftPeople,
	"GET /v1/campaigns":                                       everyone,
	"POST /v1/campaigns":                                      everyone,
	"GET /v1/campaigns/:id":                                   everyone,
	"PATCH /v1/campaigns/:id":                                 campaignEditors,
	"DELETE /v1/campaigns/:id":                                campaignEditors,
	"POST /v1/campaigns/:id/approval-requests":                campaignEditors,
	"POST /v1/campaigns/:id/resubmit":                         campaignEditors,
	"GET /v1/campaigns/:id/approval-history":                  everyone,
	"POST /v1/campaigns/:id/launch":                           adminsOnly, // the creator lacks the approval right here
	"GET /v1/campaigns/:id/launches":                          everyone,
	"GET /v1/launches":                                        adminsOnly,
	"GET /v1/campaigns/:id/versions":                          everyone,
	"GET /v1/campaigns/:id/versions/:n":                       everyone,
	"GET /v1/approval-requests/:id":                           everyone,
	"POST /v1/approval-requests/:id/approve":                  approvalRight,
	"POST /v1/approval-requests/:id/reject":                   approvalRight,
	"POST /v1/approval-requests/:id/cancel":                   everyone, // campaignEditors before R-APPR-4 was amended: any colleague cancels
	"POST /v1/approval-requests/:id/review":                   approvalRight,
	"PUT /v1/approval-requests/:id/approvers":                 submitterOnly,
	"GET /v1/approval-requests/:id/history":                   everyone,
	"GET /v1/approval-requests/:id/changes":                   everyone,
	"GET /v1/approvals/inbox":                                 everyone,
	"POST /v1/csv-uploads":                                    draftPeople,
	"POST /v1/campaigns/:id/approval-drafts":                  draftPeople,
	"GET /v1/campaigns/:id/approval-drafts":                   draftPeople,
	"GET /v1/approval-drafts/:id":                             draftPeople,
	"POST /v1/approval-drafts/:id/rotate-link":                adminsOnly,
	"GET /v1/approval-drafts/:id/feedback":                    draftPeople,
	"GET /v1/notifications":                                   everyone,
	"POST /v1/notifications/:id/read":                         everyone, // the caller's own notification
	"POST /v1/notifications/read-all":                         everyone,
	"GET /v1/dev/outbox":                                      adminsOnly,
	"GET /v1/webhooks":                                        adminsOnly,
	"POST /v1/webhooks":                                       adminsOnly,
	"GET /v1/webhooks/:id":                                    adminsOnly,
	"DELETE /v1/webhooks/:id":                                 adminsOnly,
	"GET /v1/webhooks/:id/deliveries":                         adminsOnly,
	"POST /v1/webhooks/:id/deliveries/:delivery_id/redeliver": adminsOnly,
}

// matrixEnv is the fixture the probes share: a worker running the approval workflows, the callers,
// and the rows read-only probes look at.
type matrixEnv struct {
	*env
	callers  []caller
	owner    caller       // the creator column: makes the campaigns and requests the probes act on
	approver storage.User // assigned to every request a probe makes
	target   storage.User // the user PATCH /v1/users/{id} changes
	camp     storage.Campaign
	req      storage.ApprovalRequest
	search   storage.SavedSearch
	draft    string
	n        int
}

// newMatrixEnv builds the matrix fixture in tenant A.
func newMatrixEnv(t *testing.T) *matrixEnv {
	t.Helper()
	e := newApprovalEnv(t, 2*time.Hour)
	e.server.App.Sealer = testenv.Sealer(t)
	A := e.A
	acct := A.Account.ID
	m := &matrixEnv{env: e}
	editorCA, editorCATok := e.userWith(t, acct, "editor-ca@a.test", storage.RoleEditor, true)
	owner, ownerTok := e.userWith(t, acct, "owner@a.test", storage.RoleCollaborator, false)
	m.owner = caller{colCreator, owner, ownerTok}
	m.callers = []caller{
		{colAdmin, A.Users[storage.RoleAdmin], A.Tokens[storage.RoleAdmin]},
		{colEditor, A.Users[storage.RoleEditor], A.Tokens[storage.RoleEditor]},
		{colEditorCA, editorCA, editorCATok},
		{colCollab, A.Users[storage.RoleCollaborator], A.Tokens[storage.RoleCollaborator]},
		{colApprover, A.Users[storage.RoleApprover], A.Tokens[storage.RoleApprover]},
		{colCSM, A.Users[storage.RoleCSM], A.Tokens[storage.RoleCSM]},
		m.owner,
	}
	m.approver, _ = e.userWith(t, acct, "matrix-approver@a.test", storage.RoleApprover, false)
	m.target, _ = e.userWith(t, acct, "target@a.test", storage.RoleCollaborator, false)
	m.camp = e.laterCampaign(t, owner, "Matrix campaign")
	m.req = e.submit(t, m.camp.ID, ownerTok, m.approver.ID)
	m.search = e.newSavedSearch(t, A, "Matrix search")
	m.draft = e.fx.StuckDraft(t, acct, m.camp.ID, A.Users[storage.RoleCSM].ID)
	return m
}

// next is a number no earlier probe used, for unique names and emails.
func (m *matrixEnv) next() int { m.n++; return m.n }

// pending is a fresh pending request on a fresh campaign of the owner, assigned to the matrix approver
// and to c when c holds the approval right.
func (m *matrixEnv) pending(t *testing.T, c caller) storage.ApprovalRequest {
	t.Helper()
	camp := m.laterCampaign(t, m.owner.user, fmt.Sprintf("Pending %d", m.next()))
	ids := []string{m.approver.ID}
	if c.user.HasApprovalRight() && c.user.ID != m.owner.user.ID {
		ids = append(ids, c.user.ID)
	}
	return m.submit(t, camp.ID, m.owner.token, ids...)
}

// customRole is a fresh custom role of tenant A with perms, made through the store.
func (m *matrixEnv) customRole(t *testing.T, perms ...string) storage.Role {
	t.Helper()
	if perms == nil {
		perms = []string{}
	}
	r, err := m.store.CreateRole(context.Background(), m.A.Account.ID, fmt.Sprintf("Custom %d", m.next()), perms)
	require.NoError(t, err)
	return r
}

// routeProbe calls one route as c, on fixtures made fresh where the call changes them, with a request
// that succeeds when c may call it.
type routeProbe func(t *testing.T, m *matrixEnv, c caller) *httptest.ResponseRecorder

// call is a probe of a fixed path and body.
func call(method, path string, body any) routeProbe {
	return func(t *testing.T, m *matrixEnv, c caller) *httptest.ResponseRecorder {
		return m.request(t, method, path, c.token, body)
	}
}

// onFresh is a probe whose path needs a fresh fixture id.
func onFresh(method string, fresh func(t *testing.T, m *matrixEnv, c caller) (path string, body any)) routeProbe {
	return func(t *testing.T, m *matrixEnv, c caller) *httptest.ResponseRecorder {
		path, body := fresh(t, m, c)
		return m.request(t, method, path, c.token, body)
	}
}

// freshCampaign is a fresh campaign of the owner, starting in an hour.
func (m *matrixEnv) freshCampaign(t *testing.T) storage.Campaign {
	return m.laterCampaign(t, m.owner.user, fmt.Sprintf("Fresh %d", m.next()))
}

// routeProbes calls every authenticated route; its keys are the routes as the router names them.
func routeProbes(m *matrixEnv) map[string]routeProbe {
	camp, req := "/v1/campaigns/"+m.camp.ID, "/v1/approval-requests/"+m.req.ID
	return map[string]routeProbe{
		"GET /v1/me":    call(http.MethodGet, "/v1/me", nil),
		"GET /v1/users": call(http.MethodGet, "/v1/users", nil),
		"POST /v1/users": onFresh(http.MethodPost, func(t *testing.T, m *matrixEnv, c caller) (string, any) {
			return "/v1/users", map[string]any{"email": fmt.Sprintf("new-%d@a.test", m.next()), "name": "New", "role": "csm"}
		}),
		"PATCH /v1/users/:id": call(http.MethodPatch, "/v1/users/"+m.target.ID, map[string]any{"active": true}),
		"GET /v1/roles":       call(http.MethodGet, "/v1/roles", nil),
		"POST /v1/roles": onFresh(http.MethodPost, func(t *testing.T, m *matrixEnv, c caller) (string, any) {
			return "/v1/roles", map[string]any{"name": fmt.Sprintf("Role %d", m.next()), "permissions": []string{"campaigns.create"}}
		}),
		"PATCH /v1/roles/:id": onFresh(http.MethodPatch, func(t *testing.T, m *matrixEnv, c caller) (string, any) {
			return "/v1/roles/" + m.customRole(t, "approvals.approve").ID, map[string]any{"name": fmt.Sprintf("Renamed %d", m.next()), "permissions": []string{}}
		}),
		"DELETE /v1/roles/:id": onFresh(http.MethodDelete, func(t *testing.T, m *matrixEnv, c caller) (string, any) {
			return "/v1/roles/" + m.customRole(t).ID, nil
		}),
		"GET /v1/account/settings":   call(http.MethodGet, "/v1/account/settings", nil),
		"PATCH /v1/account/settings": call(http.MethodPatch, "/v1/account/settings", map[string]any{"allow_self_approval": true}),
		"POST /v1/contacts": onFresh(http.MethodPost, func(t *testing.T, m *matrixEnv, c caller) (string, any) {
			return "/v1/contacts", map[string]any{"items": []any{map[string]any{"first_name": "Ada", "last_name": "Lovelace",
				"email": fmt.Sprintf("ada-%d@c.test", m.next()), "company_name": "Engines"}}}
		}),
		"GET /v1/saved-searches": call(http.MethodGet, "/v1/saved-searches", nil),
		"POST /v1/saved-searches": onFresh(http.MethodPost, func(t *testing.T, m *matrixEnv, c caller) (string, any) {
			return "/v1/saved-searches", map[string]any{"name": fmt.Sprintf("Search %d", m.next()), "filters": map[string]any{"titles": []string{"CTO"}}}
		}),
		"GET /v1/saved-searches/:id": call(http.MethodGet, "/v1/saved-searches/"+m.search.ID, nil),
		"DELETE /v1/saved-searches/:id": onFresh(http.MethodDelete, func(t *testing.T, m *matrixEnv, c caller) (string, any) {
			return "/v1/saved-searches/" + m.newSavedSearch(t, m.A, fmt.Sprintf("Doomed %d", m.next())).ID, nil
		}),
		"GET /v1/campaigns":     call(http.MethodGet, "/v1/campaigns", nil),
		"POST /v1/campaigns":    call(http.MethodPost, "/v1/campaigns", map[string]any{"name": "Created", "kind": "campaign", "mode": "active"}),
		"GET /v1/campaigns/:id": call(http.MethodGet, camp, nil),
		"PATCH /v1/campaigns/:id": onFresh(http.MethodPatch, func(t *testing.T, m *matrixEnv, c caller) (string, any) {
			return "/v1/campaigns/" + m.freshCampaign(t).ID, map[string]any{"name": "Renamed"}
		}),
		"DELETE /v1/campaigns/:id": onFresh(http.MethodDelete, func(t *testing.T, m *matrixEnv, c caller) (string, any) {
			return "/v1/campaigns/" + m.freshCampaign(t).ID, nil
		}),
		"POST /v1/campaigns/:id/approval-requests": onFresh(http.MethodPost, func(t *testing.T, m *matrixEnv, c caller) (string, any) {
			return "/v1/campaigns/" + m.freshCampaign(t).ID + "/approval-requests", submitBody("please", m.approver.ID)
		}),
		"POST /v1/campaigns/:id/resubmit": onFresh(http.MethodPost, func(t *testing.T, m *matrixEnv, c caller) (string, any) {
			r := m.pending(t, c)
			return "/v1/campaigns/" + r.CampaignID + "/resubmit", map[string]any{"changes": map[string]any{"name": "Resubmitted"},
				"approver_ids": []string{m.approver.ID}}
		}),
		"GET /v1/campaigns/:id/approval-history": call(http.MethodGet, camp+"/approval-history", nil),
		"POST /v1/campaigns/:id/launch": onFresh(http.MethodPost, func(t *testing.T, m *matrixEnv, c caller) (string, any) {
			test := m.campaignAs(t, m.owner.user, fmt.Sprintf("Test mode %d", m.next()), storage.CampaignKindCampaign,
				storage.CampaignModeTest, nil, nil)
			return "/v1/campaigns/" + test.ID + "/launch", nil
		}),
		"GET /v1/campaigns/:id/launches":    call(http.MethodGet, camp+"/launches", nil),
		"GET /v1/launches":                  call(http.MethodGet, "/v1/launches", nil),
		"GET /v1/campaigns/:id/versions":    call(http.MethodGet, camp+"/versions", nil),
		"GET /v1/campaigns/:id/versions/:n": call(http.MethodGet, camp+"/versions/1", nil),
		"GET /v1/approval-requests/:id":     call(http.MethodGet, req, nil),
		"POST /v1/approval-requests/:id/approve": onFresh(http.MethodPost, func(t *testing.T, m *matrixEnv, c caller) (string, any) {
			return "/v1/approval-requests/" + m.pending(t, c).ID + "/approve", nil
		}),
		"POST /v1/approval-requests/:id/reject": onFresh(http.MethodPost, func(t *testing.T, m *matrixEnv, c caller) (string, any) {
			return "/v1/approval-requests/" + m.pending(t, c).ID + "/reject", map[string]any{"note": "no"}
		}),
		"POST /v1/approval-requests/:id/cancel": onFresh(http.MethodPost, func(t *testing.T, m *matrixEnv, c caller) (string, any) {
			return "/v1/approval-requests/" + m.pending(t, c).ID + "/cancel", nil
		}),
		"POST /v1/approval-requests/:id/review": onFresh(http.MethodPost, func(t *testing.T, m *matrixEnv, c caller) (string, any) {
			return "/v1/approval-requests/" + m.pending(t, c).ID + "/review", map[string]any{"sections": map[string]any{
				"audience": map[string]any{"verdict": "approved"}, "copy": map[string]any{"verdict": "approved"},
				"schedule": map[string]any{"verdict": "approved"}}}
		}),
		"PUT /v1/approval-requests/:id/approvers": onFresh(http.MethodPut, func(t *testing.T, m *matrixEnv, c caller) (string, any) {
			return "/v1/approval-requests/" + m.pending(t, c).ID + "/approvers", map[string]any{"approver_ids": []string{m.approver.ID}}
		}),
		"GET /v1/approval-requests/:id/history": call(http.MethodGet, req+"/history", nil),
		"GET /v1/approval-requests/:id/changes": call(http.MethodGet, req+"/changes", nil),
		"GET /v1/approvals/inbox":               call(http.MethodGet, "/v1/approvals/inbox", nil),
		"POST /v1/csv-uploads": func(t *testing.T, m *matrixEnv, c caller) *httptest.ResponseRecorder {
			var buf bytes.Buffer
			mw := multipart.NewWriter(&buf)
			fw, err := mw.CreateFormFile("file", "people.csv")
			require.NoError(t, err)
			_, err = fw.Write(draftCSV("First Name,Last Name,Email,Company Name,Title", draftCSVPeople(2)...))
			require.NoError(t, err)
			require.NoError(t, mw.Close())
			return m.request(t, http.MethodPost, "/v1/csv-uploads", c.token, buf.Bytes(), "Content-Type", mw.FormDataContentType())
		},
		"POST /v1/campaigns/:id/approval-drafts": onFresh(http.MethodPost, func(t *testing.T, m *matrixEnv, c caller) (string, any) {
			return "/v1/campaigns/" + m.freshCampaign(t).ID + "/approval-drafts", map[string]any{
				"source": map[string]any{"type": "saved_search", "saved_search_id": m.search.ID}, "contact_count": 5}
		}),
		"GET /v1/campaigns/:id/approval-drafts": call(http.MethodGet, camp+"/approval-drafts", nil),
		"GET /v1/approval-drafts/:id":           call(http.MethodGet, "/v1/approval-drafts/"+m.draft, nil),
		"POST /v1/approval-drafts/:id/rotate-link": onFresh(http.MethodPost, func(t *testing.T, m *matrixEnv, c caller) (string, any) {
			d := m.fx.StuckDraft(t, m.A.Account.ID, m.camp.ID, m.A.Users[storage.RoleCSM].ID)
			tok, hash := storage.NewToken()
			m.fx.DraftToken(t, d, storage.DraftStatusReady, hash, m.server.App.Sealer.Seal(tok))
			return "/v1/approval-drafts/" + d + "/rotate-link", nil
		}),
		"GET /v1/approval-drafts/:id/feedback": call(http.MethodGet, "/v1/approval-drafts/"+m.draft+"/feedback", nil),
		"GET /v1/notifications":                call(http.MethodGet, "/v1/notifications", nil),
		"POST /v1/notifications/:id/read": onFresh(http.MethodPost, func(t *testing.T, m *matrixEnv, c caller) (string, any) {
			var id string
			require.NoError(t, m.pool.QueryRow(t.Context(), `INSERT INTO notifications (account_id, user_id, kind, title, body, dedupe_key)
				VALUES ($1, $2, 'probe', 'Probe', 'A notification of the caller', gen_random_uuid()::text) RETURNING id`,
				c.user.AccountID, c.user.ID).Scan(&id))
			return "/v1/notifications/" + id + "/read", nil
		}),
		"POST /v1/notifications/read-all": call(http.MethodPost, "/v1/notifications/read-all", nil),
		"GET /v1/dev/outbox":              call(http.MethodGet, "/v1/dev/outbox", nil),
		"GET /v1/webhooks":                call(http.MethodGet, "/v1/webhooks", nil),
		"POST /v1/webhooks": call(http.MethodPost, "/v1/webhooks", map[string]any{"url": probeWebhookURL,
			"events": []string{"campaign.launched"}}),
		"GET /v1/webhooks/:id": onFresh(http.MethodGet, func(t *testing.T, m *matrixEnv, c caller) (string, any) {
			return "/v1/webhooks/" + newProbeWebhook(t, m.store, m.A.Account.ID, m.owner.user.ID).ID, nil
		}),
		"DELETE /v1/webhooks/:id": onFresh(http.MethodDelete, func(t *testing.T, m *matrixEnv, c caller) (string, any) {
			return "/v1/webhooks/" + newProbeWebhook(t, m.store, m.A.Account.ID, m.owner.user.ID).ID, nil
		}),
		"GET /v1/webhooks/:id/deliveries": onFresh(http.MethodGet, func(t *testing.T, m *matrixEnv, c caller) (string, any) {
			return "/v1/webhooks/" + newProbeWebhook(t, m.store, m.A.Account.ID, m.owner.user.ID).ID + "/deliveries", nil
		}),
		"POST /v1/webhooks/:id/deliveries/:delivery_id/redeliver": onFresh(http.MethodPost, func(t *testing.T, m *matrixEnv, c caller) (string, any) {
			e := newProbeWebhook(t, m.store, m.A.Account.ID, m.owner.user.ID)
			return "/v1/webhooks/" + e.ID + "/deliveries/" + newProbeDelivery(t, m.pool, e) + "/redeliver", nil
		}),
	}
}

// userRoutes lists the routes of the router that a user's token opens (everything under /v1 but
// the operator and public review endpoints), as "METHOD /path/:param".
func userRoutes(t *testing.T, e *env) []string {
	t.Helper()
	engine, ok := e.handler.(*gin.Engine)
	require.True(t, ok, "Handler returns the gin engine")
	var out []string
	for _, rt := range engine.Routes() {
		if !strings.HasPrefix(rt.Path, "/v1/") || slices.ContainsFunc(authPublic, func(p string) bool { return strings.HasPrefix(rt.Path, p) }) {
			continue
		}
		out = append(out, rt.Method+" "+rt.Path)
	}
	sort.Strings(out)
	return out
}

// allowed reports whether an answer is a success (true) or 403 forbidden (false); anything else
// fails the test, since then the probe did not test the route's rule.
func allowed(t *testing.T, route string, c caller, rec *httptest.ResponseRecorder) bool {
	t.Helper()
	if rec.Code >= 200 && rec.Code < 300 {
		return true
	}
	require.Equalf(t, http.StatusForbidden, rec.Code, "%s as %s: the probe must answer a success or 403: %s", route, c.name, rec.Body.String())
	require.Equal(t, string(errs.Forbidden), errorCode(rec.Body.Bytes()), rec.Body.String())
	return false
}

// TestRouteRoleMatrix: every authenticated route, as a user of every built-in role, answers a success
// or 403 exactly as routeMatrix records; a route the router has and the matrix does not fails it.
func TestRouteRoleMatrix(t *testing.T) {
	t.Parallel()
	m := newMatrixEnv(t)
	probes := routeProbes(m)
	routes := userRoutes(t, m.env)
	for _, rt := range routes {
		require.Containsf(t, routeMatrix, rt, "route %s is not in routeMatrix: record who may call it", rt)
		require.Containsf(t, probes, rt, "route %s has no probe", rt)
	}
	require.Len(t, routeMatrix, len(routes), "routeMatrix lists routes the router does not have")
	require.Len(t, m.callers, matrixColumns)

	var diffs []string
	for _, rt := range routes {
		var got []string
		for _, c := range m.callers {
			if allowed(t, rt, c, probes[rt](t, m, c)) {
				got = append(got, c.name)
			}
		}
		if !slices.Equal(got, routeMatrix[rt]) {
			diffs = append(diffs, fmt.Sprintf("%s: allowed %v, recorded %v", rt, got, routeMatrix[rt]))
		}
	}
	require.Empty(t, diffs, "the route × role matrix changed")
}
