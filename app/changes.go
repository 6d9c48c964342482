package app

import (
	"context"
	"fmt"

	"github.com/signoff/signoff/changes"
	"github.com/signoff/signoff/errs"
	"github.com/signoff/signoff/storage"
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

// InboxCursor is where a page of an approver's inbox ended (R-APPR-11).
type InboxCursor = storage.InboxCursor

// InboxInput asks for an approver's inbox: the whole of it when both fields are nil, or one page.
type InboxInput struct {
	// Limit is the page size, from 1 to MaxPageSize; nil with After set is the default of 20.
	Limit *int
	// After is where the previous page ended; nil asks for the first page.
	After *InboxCursor
}

// InboxPage is the requests of an inbox, the nearest deadline first, and where the next page starts
// (nil on the last page, and when the whole inbox was asked for).
type InboxPage struct {
	Items []InboxItem
	Next  *InboxCursor
}

// Inbox is the pending requests u is an assigned approver of, the nearest deadline first, each with
// its count of changes (R-APPR-11, R-VER-6): all of them, or one page when in asks for a limit or a
// cursor. A page costs what its items cost, whatever the size of the inbox (issue 17).
func (a *App) Inbox(ctx context.Context, u User, in InboxInput) (InboxPage, error) {
	limit := 0
	if in.Limit != nil || in.After != nil {
		limit = defaultPageSize
	}
	if in.Limit != nil {
		if *in.Limit < 1 || *in.Limit > MaxPageSize {
			return InboxPage{}, PageLimitError()
		}
		limit = *in.Limit
	}
	fetch := 0
	if limit > 0 {
		fetch = limit + 1
	}
	list, err := a.Store.Inbox(ctx, u.AccountID, u.ID, in.After, fetch)
	if err != nil {
		return InboxPage{}, storeErr(err)
	}
	var page InboxPage
	if limit > 0 && len(list) > limit {
		list = list[:limit]
		last := list[limit-1]
		page.Next = &InboxCursor{DeadlineAt: last.DeadlineAt, ID: last.ID}
	}
	ids := make([]string, len(list))
	for i, r := range list {
		ids[i] = r.ID
	}
	pairs, err := a.Store.VersionPairs(ctx, u.AccountID, ids)
	if err != nil {
		return InboxPage{}, storeErr(err)
	}
	page.Items = make([]InboxItem, 0, len(list))
	for _, r := range list {
		p, ok := pairs[r.ID]
		if !ok {
			// Requests are never deleted; should one be, it has left the inbox.
			continue
		}
		n, err := changes.Count(p.JSON())
		if err != nil {
			return InboxPage{}, fmt.Errorf("app: changes of request %s: %w", r.ID, err)
		}
		page.Items = append(page.Items, InboxItem{Request: r, ChangesCount: n})
	}
	return page, nil
}
