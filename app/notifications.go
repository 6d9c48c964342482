package app

import (
	"context"

	"github.com/signoff/signoff/storage"
)

// Notification is an in-app notice to one user, with the API path of its subject and whether it was
// read (R-ACT-3).
type Notification = storage.Notification

// maxNotifications bounds the notification list.
const maxNotifications = 200

// Notifications is u's latest notifications, newest first; only the unread ones when unreadOnly.
func (a *App) Notifications(ctx context.Context, u User, unreadOnly bool) ([]Notification, error) {
	list, err := a.Store.Notifications(ctx, u.AccountID, u.ID, unreadOnly, maxNotifications)
	return list, storeErr(err)
}

// MarkNotificationRead marks u's notification id read and answers it; a notification read before keeps
// the time it was first read, and anyone else's is not found.
func (a *App) MarkNotificationRead(ctx context.Context, u User, id string) (Notification, error) {
	n, err := a.Store.MarkNotificationRead(ctx, u.AccountID, u.ID, id)
	return n, storeErr(err)
}

// MarkAllNotificationsRead marks every unread notification of u read and answers how many it marked.
func (a *App) MarkAllNotificationsRead(ctx context.Context, u User) (int64, error) {
	n, err := a.Store.MarkAllNotificationsRead(ctx, u.AccountID, u.ID)
	return n, storeErr(err)
}

// Me is the calling user with the number of their unread notifications.
type Me struct {
	User   User
	Unread int
}

// Me answers u with their unread notification count (GET /v1/me).
func (a *App) Me(ctx context.Context, u User) (Me, error) {
	n, err := a.Store.UnreadNotifications(ctx, u.AccountID, u.ID)
	if err != nil {
		return Me{}, storeErr(err)
	}
	return Me{User: u, Unread: n}, nil
}
