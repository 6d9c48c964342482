package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/signoff/signoff/app"
)

// notificationJSON is an in-app notification as the API answers it (R-APPR-9, R-ACT-3).
type notificationJSON struct {
	ID         string     `json:"id"`
	Kind       string     `json:"kind"`
	Title      string     `json:"title"`
	Body       string     `json:"body"`
	CampaignID *string    `json:"campaign_id"`
	RequestID  *string    `json:"request_id"`
	DraftID    *string    `json:"draft_id"`
	Link       string     `json:"link"`
	ReadAt     *time.Time `json:"read_at"`
	CreatedAt  time.Time  `json:"created_at"`
}

func toNotificationJSON(n app.Notification) notificationJSON {
	return notificationJSON{ID: n.ID, Kind: n.Kind, Title: n.Title, Body: n.Body, CampaignID: n.CampaignID,
		RequestID: n.RequestID, DraftID: n.DraftID, Link: n.Link, ReadAt: n.ReadAt, CreatedAt: n.CreatedAt}
}

// notifications lists the caller's notifications, newest first; ?unread=true only the unread ones.
func (s *Server) notifications(c *gin.Context) {
	unreadOnly := false
	if v := c.Query("unread"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			invalid(c, "unread", "must be true or false")
			return
		}
		unreadOnly = b
	}
	list, err := s.App.Notifications(c.Request.Context(), currentUser(c), unreadOnly)
	if err != nil {
		respondError(c, err)
		return
	}
	c.JSON(http.StatusOK, items(mapEach(list, toNotificationJSON)))
}

// readNotification marks one of the caller's notifications read and answers it.
func (s *Server) readNotification(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	n, err := s.App.MarkNotificationRead(c.Request.Context(), currentUser(c), id)
	if err != nil {
		respondError(c, err)
		return
	}
	c.JSON(http.StatusOK, toNotificationJSON(n))
}

// readAllAnswer says how many notifications read-all marked read.
type readAllAnswer struct {
	Marked int64 `json:"marked"`
}

// readAllNotifications marks every unread notification of the caller read.
func (s *Server) readAllNotifications(c *gin.Context) {
	n, err := s.App.MarkAllNotificationsRead(c.Request.Context(), currentUser(c))
	if err != nil {
		respondError(c, err)
		return
	}
	c.JSON(http.StatusOK, readAllAnswer{Marked: n})
}

// meJSON is the caller with the number of their unread notifications.
type meJSON struct {
	userJSON
	Unread int `json:"unread"`
}

// me answers the caller and their unread notification count (R-ACT-3).
func (s *Server) me(c *gin.Context) {
	me, err := s.App.Me(c.Request.Context(), currentUser(c))
	if err != nil {
		respondError(c, err)
		return
	}
	c.JSON(http.StatusOK, meJSON{userJSON: toUserJSON(me.User), Unread: me.Unread})
}
