package api_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/signoff/signoff/errs"
	"github.com/signoff/signoff/storage"
	"github.com/signoff/signoff/testenv"
)

// requestChanges is GET /v1/approval-requests/{id}/changes.
type requestChanges struct {
	BaseVersion *int `json:"base_version"`
	Version     int  `json:"version"`
	Changes     []struct {
		Path   string `json:"path"`
		Kind   string `json:"kind"`
		Before any    `json:"before"`
		After  any    `json:"after"`
	} `json:"changes"`
}

func (e *env) changesOf(t *testing.T, reqID, token string) requestChanges {
	t.Helper()
	var out requestChanges
	e.doJSON(t, http.StatusOK, http.MethodGet, "/v1/approval-requests/"+reqID+"/changes", token, nil, &out)
	require.NotNil(t, out.Changes, "changes is a list, [] when there are none")
	return out
}

// changePaths lists the paths and kinds of rc's changes, "kind path".
func changePaths(rc requestChanges) []string {
	out := []string{}
	for _, c := range rc.Changes {
		out = append(out, c.Kind+" "+c.Path)
	}
	return out
}

// inboxCounts maps the request ids of token's inbox to their changes_count.
func (e *env) inboxCounts(t *testing.T, token string) map[string]any {
	t.Helper()
	out := map[string]any{}
	for _, it := range e.listItems(t, "/v1/approvals/inbox", token) {
		require.Contains(t, it, "changes_count", "every inbox item says how many changes it brings")
		out[it["id"].(string)] = it["changes_count"]
	}
	return out
}

// approverMail is the body of the outbox email asking email to decide on request reqID ("" when none).
func (e *env) approverMail(t *testing.T, reqID, email string) string {
	t.Helper()
	for _, m := range e.listItems(t, "/v1/dev/outbox", e.A.Tokens[storage.RoleAdmin]) {
		if m["request_id"] == reqID && m["to"] == email && strings.HasPrefix(m["subject"].(string), "Approval requested: ") {
			return m["body"].(string)
		}
	}
	return ""
}

// TestRequestChanges checks R-VER-6 through the API on the real servers: a first approval has a null
// base and every frozen field added; a second request after an edit of the name and of one email
// paragraph changes exactly those two values against the approved version, with paragraph paths; the
// inbox's changes_count and the approvers' emails (at submission and when approvers change) say how
// many changes there are; the answer for a request never changes once it or a later request is
// approved; any user of the account reads it, another account gets 404.
func TestRequestChanges(t *testing.T) {
	t.Parallel()
	e := newApprovalEnv(t, time.Hour)
	collab, collabTok := e.A.Users[storage.RoleCollaborator], e.A.Tokens[storage.RoleCollaborator]
	approver, approverTok := e.A.Users[storage.RoleApprover], e.A.Tokens[storage.RoleApprover]
	csmTok := e.A.Tokens[storage.RoleCSM]
	camp := e.laterCampaign(t, collab, "Changes")
	require.Equal(t, "Hello there.\n\nBye.", testenv.CampaignContent().Sequences[0].Steps[0].Body)

	// First approval: no base, every frozen field added.
	r1 := e.submit(t, camp.ID, collabTok, approver.ID)
	first := e.changesOf(t, r1.ID, csmTok)
	require.Nil(t, first.BaseVersion)
	require.Equal(t, 1, first.Version)
	require.Equal(t, []string{"added name", "added kind", "added mode", "added start_at", "added end_at", "added content"},
		changePaths(first))
	for _, c := range first.Changes {
		require.Nil(t, c.Before, c.Path)
		require.NotNil(t, c.After, c.Path)
	}
	require.Equal(t, "Changes", first.Changes[0].After)
	require.Equal(t, map[string]any{r1.ID: float64(6)}, e.inboxCounts(t, approverTok))
	require.Contains(t, e.approverMail(t, r1.ID, approver.Email), "Version 1: the first approval of this campaign.")
	status, body := e.act(t, r1.ID, "approve", approverTok, "")
	require.Equal(t, http.StatusOK, status, body)

	// Edit the name and the second paragraph of the email: the approval drops, version 2 is submitted.
	content := *e.storedCampaign(t, e.A.Account.ID, camp.ID).Content
	content.Sequences[0].Steps[0].Body = "Hello there.\n\nSee you soon — à bientôt."
	status, body = e.do(t, http.MethodPatch, "/v1/campaigns/"+camp.ID, collabTok,
		map[string]any{"name": "Changes, renamed", "content": content})
	require.Equal(t, http.StatusOK, status, body)
	r2 := e.submit(t, camp.ID, collabTok, approver.ID)
	require.Equal(t, 2, r2.CampaignVersion)
	second := e.changesOf(t, r2.ID, approverTok)
	require.NotNil(t, second.BaseVersion)
	require.Equal(t, 1, *second.BaseVersion, "the base is the approved version")
	require.Equal(t, 2, second.Version)
	require.Equal(t, []string{"changed name", "changed content.sequences[0].steps[0].body.paragraphs[1]"}, changePaths(second))
	require.Equal(t, "Changes", second.Changes[0].Before)
	require.Equal(t, "Changes, renamed", second.Changes[0].After)
	require.Equal(t, "Bye.", second.Changes[1].Before)
	require.Equal(t, "See you soon — à bientôt.", second.Changes[1].After)
	require.Equal(t, map[string]any{r2.ID: float64(2)}, e.inboxCounts(t, approverTok))
	want := "Version 2: 2 changes since the last approved version (version 1)."
	require.Contains(t, e.approverMail(t, r2.ID, approver.Email), want)

	// An approver added later is told the same.
	added, addedTok := e.userWith(t, e.A.Account.ID, "added-approver@a.test", storage.RoleApprover, false)
	e.doJSON(t, http.StatusOK, http.MethodPut, "/v1/approval-requests/"+r2.ID+"/approvers", collabTok,
		map[string]any{"approver_ids": []string{approver.ID, added.ID}, "note": "one more pair of eyes"}, &storage.ApprovalRequest{})
	require.Contains(t, e.approverMail(t, r2.ID, added.Email), want)
	require.Equal(t, map[string]any{r2.ID: float64(2)}, e.inboxCounts(t, addedTok))

	// Approving it changes neither answer: a request's base is fixed when it is submitted.
	status, body = e.act(t, r2.ID, "approve", addedTok, "")
	require.Equal(t, http.StatusOK, status, body)
	require.Equal(t, second, e.changesOf(t, r2.ID, collabTok))
	require.Equal(t, first, e.changesOf(t, r1.ID, collabTok))

	// An edit undone before the next submission: the same version as the approved one, no changes.
	for _, name := range []string{"Changes, again", "Changes, renamed"} {
		status, body = e.do(t, http.MethodPatch, "/v1/campaigns/"+camp.ID, collabTok, map[string]any{"name": name})
		require.Equal(t, http.StatusOK, status, body)
	}
	r3 := e.submit(t, camp.ID, collabTok, approver.ID)
	require.Equal(t, 2, r3.CampaignVersion, "the working copy equals version 2 again")
	third := e.changesOf(t, r3.ID, approverTok)
	require.Equal(t, 2, *third.BaseVersion)
	require.Empty(t, third.Changes)
	require.Equal(t, map[string]any{r3.ID: float64(0)}, e.inboxCounts(t, approverTok))
	require.Contains(t, e.approverMail(t, r3.ID, approver.Email), "Version 2: no changes since the last approved version (version 2).")

	// Another account's request, an unknown one and a malformed id: 404.
	for _, id := range []string{r2.ID, testenv.NewUUID(), "x"} {
		status, body = e.do(t, http.MethodGet, "/v1/approval-requests/"+id+"/changes", e.B.Tokens[storage.RoleAdmin], nil)
		requireError(t, status, body, http.StatusNotFound, string(errs.NotFound))
	}
	status, body = e.do(t, http.MethodGet, "/v1/approval-requests/"+r2.ID+"/changes", "", nil)
	require.Equal(t, http.StatusUnauthorized, status, body)
}
