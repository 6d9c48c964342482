package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/signoff/signoff/app"
	"github.com/signoff/signoff/errs"
)

// versionDetailJSON is a version with its frozen fields; start_at and end_at are null when unset.
type versionDetailJSON struct {
	CampaignID     string              `json:"campaign_id"`
	Version        int                 `json:"version"`
	ContentHash    string              `json:"content_hash"`
	CreatedAt      time.Time           `json:"created_at"`
	CreatedBy      *string             `json:"created_by"`
	ApprovalStatus string              `json:"approval_status"`
	Name           string              `json:"name"`
	Kind           string              `json:"kind"`
	Mode           string              `json:"mode"`
	StartAt        *time.Time          `json:"start_at"`
	EndAt          *time.Time          `json:"end_at"`
	Content        campaignContentJSON `json:"content"`
}

// versionListJSON lists a campaign's versions, newest first.
type versionListJSON struct {
	Items []versionItemJSON `json:"items"`
}

// versionItemJSON is one version in the list, without its content.
type versionItemJSON struct {
	Version        int       `json:"version"`
	ContentHash    string    `json:"content_hash"`
	CreatedAt      time.Time `json:"created_at"`
	CreatedBy      *string   `json:"created_by"`
	ApprovalStatus string    `json:"approval_status"`
}

func toVersionItemJSON(v app.CampaignVersion) versionItemJSON {
	return versionItemJSON{Version: v.Version, ContentHash: v.ContentHash, CreatedAt: v.CreatedAt, CreatedBy: v.CreatedBy,
		ApprovalStatus: v.ApprovalStatus}
}

func toVersionDetailJSON(v app.CampaignVersion) versionDetailJSON {
	return versionDetailJSON{CampaignID: v.CampaignID, Version: v.Version, ContentHash: v.ContentHash, CreatedAt: v.CreatedAt,
		CreatedBy: v.CreatedBy, ApprovalStatus: v.ApprovalStatus, Name: v.Name, Kind: v.Kind, Mode: v.Mode,
		StartAt: v.StartAt, EndAt: v.EndAt, Content: toCampaignContentJSON(v.Content)}
}

// listVersions answers a campaign's versions, newest first (R-VER-1).
func (s *Server) listVersions(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	list, err := s.App.CampaignVersions(c.Request.Context(), currentUser(c), id)
	if err != nil {
		respondError(c, err)
		return
	}
	items := mapEach(list, toVersionItemJSON)
	if items == nil {
		items = []versionItemJSON{}
	}
	c.JSON(http.StatusOK, versionListJSON{Items: items})
}

// getVersion answers one version of a campaign with its full content (R-VER-1).
func (s *Server) getVersion(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	n, err := strconv.Atoi(c.Param("n"))
	if err != nil || n < 1 {
		respondError(c, errs.New(errs.NotFound, "no such version"))
		return
	}
	v, err := s.App.CampaignVersion(c.Request.Context(), currentUser(c), app.CampaignVersionInput{CampaignID: id, Version: n})
	if err != nil {
		respondError(c, err)
		return
	}
	c.JSON(http.StatusOK, toVersionDetailJSON(v))
}

// requestChangesJSON is what a request's pinned version changes against the campaign's last approved
// version (R-VER-6); base_version is null for a first approval.
type requestChangesJSON struct {
	BaseVersion *int         `json:"base_version"`
	Version     int          `json:"version"`
	Changes     []changeJSON `json:"changes"`
}

// changeJSON is one change: before is null for an added value, after for a removed one.
type changeJSON struct {
	Path   string `json:"path"`
	Kind   string `json:"kind"`
	Before any    `json:"before"`
	After  any    `json:"after"`
}

func toRequestChangesJSON(rc app.RequestChanges) requestChangesJSON {
	list := mapEach(rc.Changes, func(ch app.Change) changeJSON {
		return changeJSON{Path: ch.Path, Kind: string(ch.Kind), Before: ch.Before, After: ch.After}
	})
	if list == nil {
		list = []changeJSON{}
	}
	return requestChangesJSON{BaseVersion: rc.BaseVersion, Version: rc.Version, Changes: list}
}

// inboxItemJSON is a request in an approver's inbox with the number of changes it brings (R-APPR-11,
// R-VER-6).
type inboxItemJSON struct {
	approvalRequestJSON
	ChangesCount int `json:"changes_count"`
}

func toInboxItemJSON(it app.InboxItem) inboxItemJSON {
	return inboxItemJSON{approvalRequestJSON: toApprovalRequestJSON(it.Request), ChangesCount: it.ChangesCount}
}

// requestChanges answers what a request's pinned version changes against the campaign's last approved
// version (R-VER-6).
func (s *Server) requestChanges(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	rc, err := s.App.RequestChanges(c.Request.Context(), currentUser(c), id)
	if err != nil {
		respondError(c, err)
		return
	}
	c.JSON(http.StatusOK, toRequestChangesJSON(rc))
}
