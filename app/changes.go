package app

import (
	"context"
	"fmt"

	"github.com/signoff/signoff/changes"
	"github.com/signoff/signoff/errs"
)

// Change is one difference between two versions of a campaign (R-VER-6): its path, its kind
// ("added", "removed" or "changed") and the values before and after.
type Change = changes.Change

// RequestChanges is what an approval request changes against the campaign's last approved version
// (R-VER-6): BaseVersion is that version, nil for a first approval (then every frozen field is added);
// Version is the version the request pins.
type RequestChanges struct {
	BaseVersion *int
	Version     int
	Changes     []Change
}

// RequestChanges answers the changes of request id of u's account; any user of the account may read
// them. The base is the version approved by the campaign's latest approved request submitted before
// this one (storage.VersionPair), so the answer for a request never changes.
func (a *App) RequestChanges(ctx context.Context, u User, id string) (RequestChanges, error) {
	pairs, err := a.Store.VersionPairs(ctx, u.AccountID, []string{id})
	if err != nil {
		return RequestChanges{}, storeErr(err)
	}
	p, ok := pairs[id]
	if !ok {
		return RequestChanges{}, errs.New(errs.NotFound, "no such approval request")
	}
	list, err := changes.BetweenJSON(p.JSON())
	if err != nil {
		return RequestChanges{}, fmt.Errorf("app: changes of request %s: %w", id, err)
	}
	return RequestChanges{BaseVersion: p.BaseVersion, Version: p.Version, Changes: list}, nil
}

// InboxItem is a pending request in an approver's inbox with the number of changes it brings against
// the campaign's last approved version (R-APPR-11, R-VER-6).
type InboxItem struct {
	Request      ApprovalRequest
	ChangesCount int
}

// Inbox is the pending requests u is an assigned approver of, the nearest deadline first, each with
// its count of changes (R-APPR-11, R-VER-6).
func (a *App) Inbox(ctx context.Context, u User) ([]InboxItem, error) {
	list, err := a.Store.Inbox(ctx, u.AccountID, u.ID)
	if err != nil {
		return nil, storeErr(err)
	}
	ids := make([]string, len(list))
	for i, r := range list {
		ids[i] = r.ID
	}
	pairs, err := a.Store.VersionPairs(ctx, u.AccountID, ids)
	if err != nil {
		return nil, storeErr(err)
	}
	out := make([]InboxItem, 0, len(list))
	for _, r := range list {
		p, ok := pairs[r.ID]
		if !ok {
			// Requests are never deleted; should one be, it has left the inbox.
			continue
		}
		n, err := changes.Count(p.JSON())
		if err != nil {
			return nil, fmt.Errorf("app: changes of request %s: %w", r.ID, err)
		}
		out = append(out, InboxItem{Request: r, ChangesCount: n})
	}
	return out, nil
}
