package api_test

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/signoff/signoff/storage"
	"github.com/signoff/signoff/testenv"
)

// versionItem is one entry of GET /v1/campaigns/{id}/versions.
type versionItem struct {
	Version        int       `json:"version"`
	ContentHash    string    `json:"content_hash"`
	CreatedAt      time.Time `json:"created_at"`
	CreatedBy      *string   `json:"created_by"`
	ApprovalStatus string    `json:"approval_status"`
}

// versionDetail is GET /v1/campaigns/{id}/versions/{n}.
type versionDetail struct {
	versionItem
	CampaignID string                  `json:"campaign_id"`
	Name       string                  `json:"name"`
	Kind       string                  `json:"kind"`
	Mode       string                  `json:"mode"`
	StartAt    *time.Time              `json:"start_at"`
	EndAt      *time.Time              `json:"end_at"`
	Content    storage.CampaignContent `json:"content"`
}

func (e *env) versions(t *testing.T, campID, token string) []versionItem {
	t.Helper()
	var out struct {
		Items []versionItem `json:"items"`
	}
	e.doJSON(t, http.StatusOK, http.MethodGet, "/v1/campaigns/"+campID+"/versions", token, nil, &out)
	require.NotNil(t, out.Items, "lists are {\"items\":[…]}")
	return out.Items
}

func (e *env) version(t *testing.T, campID string, n int, token string) versionDetail {
	t.Helper()
	var out versionDetail
	e.doJSON(t, http.StatusOK, http.MethodGet, "/v1/campaigns/"+campID+"/versions/"+strconv.Itoa(n), token, nil, &out)
	return out
}

func versionNumbers(list []versionItem) []int {
	out := []int{}
	for _, v := range list {
		out = append(out, v.Version)
	}
	return out
}

// TestSubmissionFreezesVersions checks R-VER-1 and R-VER-2 through the API: a submission freezes the
// working copy as version 1 and the request pins its number and hash; a second submission of the
// unchanged campaign reuses it; a submission after an edit freezes version 2 while version 1 keeps its
// content; approving the request approves exactly its version (approved_version). Any user of the
// account reads the versions; another account's user, an unknown version and a bad number get 404.
func TestSubmissionFreezesVersions(t *testing.T) {
	t.Parallel()
	e := newApprovalEnv(t, time.Hour)
	collab, collabTok := e.A.Users[storage.RoleCollaborator], e.A.Tokens[storage.RoleCollaborator]
	approver, approverTok := e.A.Users[storage.RoleApprover], e.A.Tokens[storage.RoleApprover]
	camp := e.laterCampaign(t, collab, "Versioned")
	require.Empty(t, e.versions(t, camp.ID, collabTok), "nothing is frozen before a submission")
	v := e.viewCampaign(t, camp.ID, collabTok)
	require.Nil(t, v.ApprovedVersion)
	require.Nil(t, v.LiveVersion)

	r1 := e.submit(t, camp.ID, collabTok, approver.ID)
	hash1 := storage.FrozenOf(e.storedCampaign(t, e.A.Account.ID, camp.ID)).Hash()
	require.Equal(t, 1, r1.CampaignVersion)
	require.Equal(t, hash1, r1.ContentHash, "the request pins the hash of the working copy")
	list := e.versions(t, camp.ID, collabTok)
	require.Len(t, list, 1)
	require.Equal(t, hash1, list[0].ContentHash)
	require.Equal(t, &collab.ID, list[0].CreatedBy)
	require.Equal(t, storage.RequestStatusPending, list[0].ApprovalStatus)
	got := e.version(t, camp.ID, 1, approverTok)
	require.Equal(t, "Versioned", got.Name)
	require.Equal(t, camp.ID, got.CampaignID)
	require.Equal(t, hash1, got.ContentHash)
	require.Equal(t, *e.storedCampaign(t, e.A.Account.ID, camp.ID).Content, got.Content)
	require.True(t, camp.StartAt.Equal(*got.StartAt))

	// Unchanged: the same version again.
	status, body := e.act(t, r1.ID, "cancel", collabTok, "")
	require.Equal(t, http.StatusOK, status, body)
	r2 := e.submit(t, camp.ID, collabTok, approver.ID)
	require.Equal(t, 1, r2.CampaignVersion)
	require.Equal(t, hash1, r2.ContentHash)
	require.Equal(t, []int{1}, versionNumbers(e.versions(t, camp.ID, collabTok)))

	// Changed: a new version; the old one keeps what it froze.
	status, body = e.act(t, r2.ID, "cancel", collabTok, "")
	require.Equal(t, http.StatusOK, status, body)
	status, body = e.do(t, http.MethodPatch, "/v1/campaigns/"+camp.ID, collabTok, map[string]any{"name": "Versioned, renamed"})
	require.Equal(t, http.StatusOK, status, body)
	r3 := e.submit(t, camp.ID, collabTok, approver.ID)
	require.Equal(t, 2, r3.CampaignVersion)
	require.NotEqual(t, hash1, r3.ContentHash)
	list = e.versions(t, camp.ID, e.A.Tokens[storage.RoleCSM])
	require.Equal(t, []int{2, 1}, versionNumbers(list), "newest first")
	require.Equal(t, r3.ContentHash, list[0].ContentHash)
	require.Equal(t, storage.RequestStatusCancelled, list[1].ApprovalStatus)
	require.Equal(t, "Versioned", e.version(t, camp.ID, 1, collabTok).Name)
	require.Equal(t, "Versioned, renamed", e.version(t, camp.ID, 2, collabTok).Name)

	// Approval approves the pinned version.
	status, body = e.act(t, r3.ID, "approve", approverTok, "")
	require.Equal(t, http.StatusOK, status, body)
	require.Equal(t, r3.ContentHash, body["content_hash"], "the decision's answer names the pinned hash")
	v = e.viewCampaign(t, camp.ID, collabTok)
	require.Equal(t, storage.RequestStatusApproved, v.ApprovalStatus)
	require.NotNil(t, v.ApprovedVersion)
	require.Equal(t, 2, *v.ApprovedVersion)
	require.Nil(t, v.LiveVersion)
	require.Equal(t, storage.RequestStatusApproved, e.versions(t, camp.ID, collabTok)[0].ApprovalStatus)
	var req map[string]any
	e.doJSON(t, http.StatusOK, http.MethodGet, "/v1/approval-requests/"+r3.ID, approverTok, nil, &req)
	require.EqualValues(t, 2, req["campaign_version"])
	require.Equal(t, r3.ContentHash, req["content_hash"])

	for _, path := range []string{"/versions/3", "/versions/0", "/versions/x"} {
		status, body = e.do(t, http.MethodGet, "/v1/campaigns/"+camp.ID+path, collabTok, nil)
		requireError(t, status, body, http.StatusNotFound, "not_found")
	}
	for _, path := range []string{"/versions", "/versions/1"} {
		status, body = e.do(t, http.MethodGet, "/v1/campaigns/"+camp.ID+path, e.B.Tokens[storage.RoleAdmin], nil)
		requireError(t, status, body, http.StatusNotFound, "not_found")
	}
}

// TestDirectLaunchFreezesVersion checks that a launch without an approval (a test campaign, R-APPR-8)
// launches the working copy frozen as a version, and that the campaign shows it as live_version.
func TestDirectLaunchFreezesVersion(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin, adminTok := e.A.Users[storage.RoleAdmin], e.A.Tokens[storage.RoleAdmin]
	camp := e.campaignAs(t, admin, "Test send", storage.CampaignKindCampaign, storage.CampaignModeTest, in(time.Hour), in(2*time.Hour))
	status, body := e.do(t, http.MethodPost, "/v1/campaigns/"+camp.ID+"/launch", adminTok, nil)
	require.Equal(t, http.StatusCreated, status, body)
	list := e.versions(t, camp.ID, e.A.Tokens[storage.RoleCollaborator])
	require.Len(t, list, 1)
	require.Equal(t, 1, list[0].Version)
	require.Equal(t, &admin.ID, list[0].CreatedBy)
	require.Equal(t, storage.FrozenOf(e.storedCampaign(t, e.A.Account.ID, camp.ID)).Hash(), list[0].ContentHash)
	require.Equal(t, "none", list[0].ApprovalStatus)
	v := e.viewCampaign(t, camp.ID, adminTok)
	require.NotNil(t, v.LiveVersion)
	require.Equal(t, 1, *v.LiveVersion)
	require.Equal(t, 1, v.Version)

	// The repeat launches nothing new and freezes nothing new.
	status, body = e.do(t, http.MethodPost, "/v1/campaigns/"+camp.ID+"/launch", adminTok, nil)
	require.Equal(t, http.StatusOK, status, body)
	require.Len(t, e.versions(t, camp.ID, adminTok), 1)
}

// TestUnchangedEditKeepsApproval checks R-VER-5: a PATCH that writes the frozen fields as they are
// keeps an approval (status scheduled, approved_version), and one that changes a frozen field drops it
// (R-CAMP-3).
func TestUnchangedEditKeepsApproval(t *testing.T) {
	t.Parallel()
	e := newApprovalEnv(t, time.Hour)
	collab, collabTok := e.A.Users[storage.RoleCollaborator], e.A.Tokens[storage.RoleCollaborator]
	approver, approverTok := e.A.Users[storage.RoleApprover], e.A.Tokens[storage.RoleApprover]
	camp := e.laterCampaign(t, collab, "Keep me")
	r := e.submit(t, camp.ID, collabTok, approver.ID)
	status, body := e.act(t, r.ID, "approve", approverTok, "")
	require.Equal(t, http.StatusOK, status, body)
	require.Equal(t, storage.CampaignStatusScheduled, e.viewCampaign(t, camp.ID, collabTok).Status)

	same := map[string]any{"name": camp.Name, "kind": camp.Kind, "mode": camp.Mode, "start_at": camp.StartAt.In(time.FixedZone("x", 3600)),
		"end_at": camp.EndAt, "content": testenv.CampaignContent()}
	status, body = e.do(t, http.MethodPatch, "/v1/campaigns/"+camp.ID, collabTok, same)
	require.Equal(t, http.StatusOK, status, body)
	v := e.viewCampaign(t, camp.ID, collabTok)
	require.Equal(t, storage.RequestStatusApproved, v.ApprovalStatus, "an edit that changes nothing keeps the approval")
	require.Equal(t, storage.CampaignStatusScheduled, v.Status)
	require.NotNil(t, v.ApprovedVersion)
	require.Equal(t, 1, *v.ApprovedVersion)
	require.Equal(t, storage.RequestStatusApproved, e.storedRequest(t, e.A.Account.ID, r.ID).Status)

	content := testenv.CampaignContent()
	content.Sequences[0].Steps[0].Body += " Changed."
	status, body = e.do(t, http.MethodPatch, "/v1/campaigns/"+camp.ID, collabTok, map[string]any{"content": content})
	require.Equal(t, http.StatusOK, status, body)
	v = e.viewCampaign(t, camp.ID, collabTok)
	require.Equal(t, "none", v.ApprovalStatus, "a change to a frozen field drops the approval")
	require.Equal(t, storage.CampaignStatusReady, v.Status)
	require.Nil(t, v.ApprovedVersion)
}
